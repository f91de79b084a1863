// Row-wise softmax of a row-major rows x cols float32 matrix; x and out are device
// pointers.
//
// One block per row: its threads stride along the row together, so every load is
// coalesced, and the row maximum and the row sum are block reductions (warp shuffles,
// then one value per warp through shared memory). The exponentials are written once and
// rescaled in place by the thread that wrote them.
#include <cstdint>
#include <cuda_runtime.h>
#include <math_constants.h>

namespace {

constexpr int THREADS = 256;
constexpr int WARPS = THREADS / 32;

__device__ float warp_max(float v)
{
    for (int off = 16; off > 0; off >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
    }
    return v;
}

__device__ float warp_sum(float v)
{
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, off);
    }
    return v;
}

// The maximum (is_max) or the sum of v over the block, returned to every thread.
__device__ float block_reduce(float v, bool is_max, float *smem)
{
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    v = is_max ? warp_max(v) : warp_sum(v);
    if (lane == 0) {
        smem[warp] = v;
    }
    __syncthreads();
    if (warp == 0) {
        const float neutral = is_max ? -CUDART_INF_F : 0.0f;
        float w = lane < WARPS ? smem[lane] : neutral;
        w = is_max ? warp_max(w) : warp_sum(w);
        if (lane == 0) {
            smem[0] = w;
        }
    }
    __syncthreads();
    const float result = smem[0];
    __syncthreads();  // smem is reused by the next reduction
    return result;
}

__global__ void softmax_rows(const float *__restrict__ x, float *__restrict__ out, int64_t cols)
{
    __shared__ float smem[WARPS];
    const float *xr = x + (int64_t)blockIdx.x * cols;
    float *o = out + (int64_t)blockIdx.x * cols;
    float mx = -CUDART_INF_F;
    for (int64_t c = threadIdx.x; c < cols; c += THREADS) {
        mx = fmaxf(mx, xr[c]);
    }
    mx = block_reduce(mx, true, smem);
    float sum = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += THREADS) {
        const float e = expf(xr[c] - mx);
        o[c] = e;
        sum += e;
    }
    sum = block_reduce(sum, false, smem);
    const float inv = 1.0f / sum;
    for (int64_t c = threadIdx.x; c < cols; c += THREADS) {
        o[c] *= inv;
    }
}

}  // namespace

extern "C" void softmax(const float *x, float *out, int64_t rows, int64_t cols)
{
    if (rows <= 0 || cols <= 0) {
        return;
    }
    softmax_rows<<<(unsigned)rows, THREADS>>>(x, out, cols);
}
