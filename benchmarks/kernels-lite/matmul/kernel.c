#include <stdint.h>

/* C (m x n) = A (m x k) * B (k x n); all matrices row-major float32. */
void matmul(const float *restrict a, const float *restrict b, float *restrict c, int64_t m,
            int64_t n, int64_t k)
{
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int64_t p = 0; p < k; p++) {
                acc += a[i * k + p] * b[p * n + j];
            }
            c[i * n + j] = acc;
        }
    }
}
