// C (m x n) = A (m x k) * B (k x n), row-major float32; a, b and c are device pointers.
// One thread per element of C.
#include <cstdint>
#include <cuda_runtime.h>

__global__ void matmul_naive(const float *__restrict__ a, const float *__restrict__ b,
                             float *__restrict__ c, int64_t m, int64_t n, int64_t k)
{
    const int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const int64_t i = (int64_t)blockIdx.y * blockDim.y + threadIdx.y;
    if (i >= m || j >= n) {
        return;
    }
    float acc = 0.0f;
    for (int64_t p = 0; p < k; p++) {
        acc += a[i * k + p] * b[p * n + j];
    }
    c[i * n + j] = acc;
}

extern "C" void matmul(const float *a, const float *b, float *c, int64_t m, int64_t n,
                       int64_t k)
{
    if (m <= 0 || n <= 0) {
        return;
    }
    const dim3 block(16, 16);
    const dim3 grid((unsigned)((n + 15) / 16), (unsigned)((m + 15) / 16));
    matmul_naive<<<grid, block>>>(a, b, c, m, n, k);
}
