#include <stdint.h>

/* Valid 2-D convolution of the row-major image x (h x w) with the filter f (kh x kw),
   h >= kh >= 1 and w >= kw >= 1: out is (h - kh + 1) x (w - kw + 1) and
   out[i][j] = sum over a, b of x[i + a][j + b] * f[kh - 1 - a][kw - 1 - b]. */
void conv2d(const float *restrict x, const float *restrict f, float *restrict out, int64_t h,
            int64_t w, int64_t kh, int64_t kw)
{
    const int64_t oh = h - kh + 1;
    const int64_t ow = w - kw + 1;
    for (int64_t i = 0; i < oh; i++) {
        for (int64_t j = 0; j < ow; j++) {
            float acc = 0.0f;
            for (int64_t a = 0; a < kh; a++) {
                for (int64_t b = 0; b < kw; b++) {
                    acc += x[(i + a) * w + j + b] * f[(kh - 1 - a) * kw + kw - 1 - b];
                }
            }
            out[i * ow + j] = acc;
        }
    }
}
