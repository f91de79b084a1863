// out[0] = the sum of x[0 .. n-1], float32; x and out are device pointers. One block: each
// thread sums a strided share in double, and thread 0 adds up the threads' sums.
#include <cstdint>
#include <cuda_runtime.h>

namespace {

constexpr int THREADS = 256;

__global__ void reduction_naive(const float *__restrict__ x, float *__restrict__ out, int64_t n)
{
    __shared__ double part[THREADS];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += THREADS) {
        s += x[i];
    }
    part[threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double total = 0.0;
        for (int t = 0; t < THREADS; t++) {
            total += part[t];
        }
        out[0] = (float)total;
    }
}

}  // namespace

extern "C" void reduction(const float *x, float *out, int64_t n)
{
    reduction_naive<<<1, THREADS>>>(x, out, n);
}
