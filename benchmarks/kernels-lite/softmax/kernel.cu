// Row-wise softmax of a row-major rows x cols float32 matrix; x and out are device
// pointers. One thread per row.
#include <cstdint>
#include <cuda_runtime.h>

__global__ void softmax_naive(const float *__restrict__ x, float *__restrict__ out,
                              int64_t rows, int64_t cols)
{
    const int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) {
        return;
    }
    const float *xr = x + r * cols;
    float *o = out + r * cols;
    float mx = xr[0];
    for (int64_t c = 1; c < cols; c++) {
        mx = fmaxf(mx, xr[c]);
    }
    double sum = 0.0;
    for (int64_t c = 0; c < cols; c++) {
        sum += expf(xr[c] - mx);
    }
    for (int64_t c = 0; c < cols; c++) {
        o[c] = (float)(expf(xr[c] - mx) / sum);
    }
}

extern "C" void softmax(const float *x, float *out, int64_t rows, int64_t cols)
{
    if (rows <= 0 || cols <= 0) {
        return;
    }
    const int threads = 128;
    softmax_naive<<<(unsigned)((rows + threads - 1) / threads), threads>>>(x, out, rows, cols);
}
