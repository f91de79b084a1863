#include <stdint.h>

/*
 * Valid 1-D convolution. The naive loop is one dependent chain of adds per output. Here
 * the loops are exchanged for a block of BLOCK outputs: for each tap j, every output in
 * the block gets x[i + j] * w[k - 1 - j] added, a loop over i with no dependence between
 * iterations that runs 8 lanes wide. The block's accumulators (1 KiB) and the x segment
 * it reads stay in L1 across all k taps. Blocks are shared out among threads. Each output
 * still sums its k products in the order j = 0, 1, ..., k-1.
 */

enum { BLOCK = 256 };

void conv1d(const float *restrict x, const float *restrict w, float *restrict out, int64_t n,
            int64_t k)
{
    const int64_t m = n - k + 1;
    const int64_t blocks = (m + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static)
    for (int64_t bl = 0; bl < blocks; bl++) {
        const int64_t i0 = bl * BLOCK;
        const int64_t len = m - i0 < BLOCK ? m - i0 : BLOCK;
        float acc[BLOCK];
        for (int64_t t = 0; t < len; t++) {
            acc[t] = 0.0f;
        }
        for (int64_t j = 0; j < k; j++) {
            const float wj = w[k - 1 - j];
            const float *restrict xs = x + i0 + j;
#pragma omp simd
            for (int64_t t = 0; t < len; t++) {
                acc[t] += xs[t] * wj;
            }
        }
        for (int64_t t = 0; t < len; t++) {
            out[i0 + t] = acc[t];
        }
    }
}
