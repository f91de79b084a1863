// Histogram of a uint8 vector into 256 uint32 bins; x and out are device pointers.
//
// Global atomics on 256 addresses serialise badly, all the more when one value dominates.
// Here each warp counts into its own 256-bin histogram in shared memory (so contention is
// only among the 32 lanes of one warp), blocks stride over the vector with coalesced
// loads, and each block finally adds its summed counts into out, one global atomic per
// non-zero bin.
#include <cstdint>
#include <cuda_runtime.h>

namespace {

constexpr int THREADS = 256;
constexpr int WARPS = THREADS / 32;
constexpr int64_t MAX_BLOCKS = 1024;

__global__ void histogram_shared(const uint8_t *__restrict__ x, uint32_t *__restrict__ out,
                                 int64_t n)
{
    __shared__ uint32_t h[WARPS][256];
    for (int v = threadIdx.x; v < WARPS * 256; v += THREADS) {
        h[v / 256][v % 256] = 0;
    }
    __syncthreads();
    uint32_t *mine = h[threadIdx.x >> 5];
    const int64_t stride = (int64_t)gridDim.x * THREADS;
    for (int64_t i = (int64_t)blockIdx.x * THREADS + threadIdx.x; i < n; i += stride) {
        atomicAdd(&mine[x[i]], 1u);
    }
    __syncthreads();
    for (int v = threadIdx.x; v < 256; v += THREADS) {
        uint32_t c = 0;
        for (int w = 0; w < WARPS; w++) {
            c += h[w][v];
        }
        if (c != 0) {
            atomicAdd(&out[v], c);
        }
    }
}

}  // namespace

extern "C" void histogram(const uint8_t *x, uint32_t *out, int64_t n)
{
    cudaMemsetAsync(out, 0, 256 * sizeof(uint32_t), 0);
    if (n <= 0) {
        return;
    }
    int64_t blocks = (n + THREADS * 16 - 1) / (THREADS * 16);
    blocks = blocks > MAX_BLOCKS ? MAX_BLOCKS : blocks;
    histogram_shared<<<(unsigned)blocks, THREADS>>>(x, out, n);
}
