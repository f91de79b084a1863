// out[0] = the sum of x[0 .. n-1], float32; x and out are device pointers.
//
// Two passes. The first runs enough blocks to fill the GPU: each thread sums a grid-strided
// share in double (consecutive threads read consecutive floats, so loads coalesce), the
// block reduces its threads' sums with warp shuffles and writes one double. The second, a
// single block, reduces those partial sums the same way. The grid size depends only on n,
// so the summation order, and the result, is the same on every call. The partial sums
// live in a buffer from the stream-ordered allocator, freed after the second pass.
#include <cstdint>
#include <cuda_runtime.h>

namespace {

constexpr int THREADS = 256;
constexpr int WARPS = THREADS / 32;
constexpr int64_t MAX_BLOCKS = 1024;

__device__ double warp_sum(double v)
{
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, off);
    }
    return v;
}

// The sum of v over the block, valid in thread 0.
__device__ double block_sum(double v)
{
    __shared__ double smem[WARPS];
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    v = warp_sum(v);
    if (lane == 0) {
        smem[warp] = v;
    }
    __syncthreads();
    double total = 0.0;
    if (warp == 0) {
        total = warp_sum(lane < WARPS ? smem[lane] : 0.0);
    }
    return total;
}

__global__ void partial_sums(const float *__restrict__ x, double *__restrict__ part, int64_t n)
{
    const int64_t stride = (int64_t)gridDim.x * THREADS;
    double s = 0.0;
    for (int64_t i = (int64_t)blockIdx.x * THREADS + threadIdx.x; i < n; i += stride) {
        s += x[i];
    }
    s = block_sum(s);
    if (threadIdx.x == 0) {
        part[blockIdx.x] = s;
    }
}

__global__ void final_sum(const double *__restrict__ part, float *__restrict__ out, int blocks)
{
    double s = 0.0;
    for (int i = threadIdx.x; i < blocks; i += THREADS) {
        s += part[i];
    }
    s = block_sum(s);
    if (threadIdx.x == 0) {
        out[0] = (float)s;
    }
}

}  // namespace

extern "C" void reduction(const float *x, float *out, int64_t n)
{
    int64_t blocks = (n + THREADS * 8 - 1) / (THREADS * 8);
    blocks = blocks < 1 ? 1 : (blocks > MAX_BLOCKS ? MAX_BLOCKS : blocks);
    double *part = nullptr;
    if (cudaMallocAsync(&part, (size_t)blocks * sizeof(double), 0) != cudaSuccess) {
        return;
    }
    partial_sums<<<(unsigned)blocks, THREADS>>>(x, part, n);
    final_sum<<<1, THREADS>>>(part, out, (int)blocks);
    cudaFreeAsync(part, 0);
}
