// Histogram of a uint8 vector into 256 uint32 bins; x and out are device pointers. One
// thread per byte, each adding one to its bin in global memory.
#include <cstdint>
#include <cuda_runtime.h>

__global__ void histogram_naive(const uint8_t *__restrict__ x, uint32_t *__restrict__ out,
                                int64_t n)
{
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        atomicAdd(&out[x[i]], 1u);
    }
}

extern "C" void histogram(const uint8_t *x, uint32_t *out, int64_t n)
{
    cudaMemsetAsync(out, 0, 256 * sizeof(uint32_t), 0);
    if (n <= 0) {
        return;
    }
    const int threads = 256;
    histogram_naive<<<(unsigned)((n + threads - 1) / threads), threads>>>(x, out, n);
}
