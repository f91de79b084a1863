#include <math.h>
#include <stdint.h>

/* Layer normalisation of each row of a row-major rows x cols float32 matrix:
   out = (x - mean) / sqrt(var + eps) * gamma + beta, with the biased variance. */
void layernorm(const float *restrict x, const float *restrict gamma, const float *restrict beta,
               float *restrict out, int64_t rows, int64_t cols, float eps)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *o = out + r * cols;
        double mean = 0.0;
        for (int64_t c = 0; c < cols; c++) {
            mean += xr[c];
        }
        mean /= (double)cols;
        double var = 0.0;
        for (int64_t c = 0; c < cols; c++) {
            const double d = xr[c] - mean;
            var += d * d;
        }
        var /= (double)cols;
        for (int64_t c = 0; c < cols; c++) {
            o[c] = (float)((xr[c] - mean) / sqrt(var + eps)) * gamma[c] + beta[c];
        }
    }
}
