#include <stdint.h>

/*
 * Valid 2-D convolution. As in the 1-D case, the naive loop is one dependent chain of
 * adds per output; here, for a block of up to BLOCK outputs of one row, each filter tap
 * (a, b) adds f * x[i + a][j + b ...] to all of them at once, a loop with independent
 * iterations that runs 8 lanes wide, with the accumulators in L1. Output rows are shared
 * out among threads. Each output still sums its products in the naive order (a, then b).
 */

enum { BLOCK = 512 };

void conv2d(const float *restrict x, const float *restrict f, float *restrict out, int64_t h,
            int64_t w, int64_t kh, int64_t kw)
{
    const int64_t oh = h - kh + 1;
    const int64_t ow = w - kw + 1;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < oh; i++) {
        for (int64_t j0 = 0; j0 < ow; j0 += BLOCK) {
            const int64_t len = ow - j0 < BLOCK ? ow - j0 : BLOCK;
            float acc[BLOCK];
            for (int64_t t = 0; t < len; t++) {
                acc[t] = 0.0f;
            }
            for (int64_t a = 0; a < kh; a++) {
                const float *restrict xrow = x + (i + a) * w + j0;
                for (int64_t b = 0; b < kw; b++) {
                    const float fab = f[(kh - 1 - a) * kw + kw - 1 - b];
                    const float *restrict xs = xrow + b;
#pragma omp simd
                    for (int64_t t = 0; t < len; t++) {
                        acc[t] += xs[t] * fab;
                    }
                }
            }
            for (int64_t t = 0; t < len; t++) {
                out[i * ow + j0 + t] = acc[t];
            }
        }
    }
}
