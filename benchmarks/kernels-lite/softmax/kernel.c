#include <math.h>
#include <stdint.h>

/* Row-wise softmax of a row-major rows x cols float32 matrix (cols >= 1). */
void softmax(const float *restrict x, float *restrict out, int64_t rows, int64_t cols)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *o = out + r * cols;
        /* Subtracting the row maximum keeps expf from overflowing. */
        float mx = xr[0];
        for (int64_t c = 1; c < cols; c++) {
            if (xr[c] > mx) {
                mx = xr[c];
            }
        }
        double sum = 0.0;
        for (int64_t c = 0; c < cols; c++) {
            sum += expf(xr[c] - mx);
        }
        for (int64_t c = 0; c < cols; c++) {
            o[c] = (float)(expf(xr[c] - mx) / sum);
        }
    }
}
