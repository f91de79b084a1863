#include <stdint.h>

/* Valid convolution of x (n) with w (k), n >= k >= 1: out has n - k + 1 elements and
   out[i] = sum over j of x[i + j] * w[k - 1 - j]. */
void conv1d(const float *restrict x, const float *restrict w, float *restrict out, int64_t n,
            int64_t k)
{
    for (int64_t i = 0; i + k <= n; i++) {
        float acc = 0.0f;
        for (int64_t j = 0; j < k; j++) {
            acc += x[i + j] * w[k - 1 - j];
        }
        out[i] = acc;
    }
}
