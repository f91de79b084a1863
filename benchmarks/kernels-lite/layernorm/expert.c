#include <math.h>
#include <stdint.h>

/*
 * Layer normalisation, rows shared out among threads. The naive loop's double sums are
 * chains of dependent adds the compiler may not reorder; `omp simd reduction` lets it keep
 * several partial sums in vector registers instead. The row sum stays in double: an error
 * in the mean shifts every output of the row, which matters for outputs near zero. The
 * squared deviations are summed in float (their errors only scale the outputs), about the
 * mean in a second pass over the row, which is in L1/L2 by then, so there is no
 * cancellation from E[x^2] - E[x]^2. The per-element divide and square root become one
 * multiply by 1/sqrt(var + eps).
 */
void layernorm(const float *restrict x, const float *restrict gamma, const float *restrict beta,
               float *restrict out, int64_t rows, int64_t cols, float eps)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * cols;
        float *restrict o = out + r * cols;
        double sum = 0.0;
#pragma omp simd reduction(+ : sum)
        for (int64_t c = 0; c < cols; c++) {
            sum += xr[c];
        }
        const float mean = (float)(sum / (double)cols);
        float sq = 0.0f;
#pragma omp simd reduction(+ : sq)
        for (int64_t c = 0; c < cols; c++) {
            const float d = xr[c] - mean;
            sq += d * d;
        }
        const float rstd = 1.0f / sqrtf(sq / (float)cols + eps);
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) {
            o[c] = (xr[c] - mean) * rstd * gamma[c] + beta[c];
        }
    }
}
