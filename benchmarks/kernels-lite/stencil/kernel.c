#include <stdint.h>

/* One Jacobi step of the 5-point Laplace stencil on a row-major rows x cols grid: each
   interior point becomes the mean of its four neighbours; points on the first and last
   row and column are copied unchanged. */
void stencil(const float *restrict x, float *restrict out, int64_t rows, int64_t cols)
{
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < cols; j++) {
            if (i == 0 || i == rows - 1 || j == 0 || j == cols - 1) {
                out[i * cols + j] = x[i * cols + j];
            } else {
                out[i * cols + j] = 0.25f * (x[(i - 1) * cols + j] + x[(i + 1) * cols + j] +
                                             x[i * cols + j - 1] + x[i * cols + j + 1]);
            }
        }
    }
}
