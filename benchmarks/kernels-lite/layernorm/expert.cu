// Layer normalisation of each row of a row-major rows x cols float32 matrix:
// out = (x - mean) / sqrt(var + eps) * gamma + beta (biased variance). x, gamma, beta and
// out are device pointers.
//
// One block per row: its threads stride along the row together (coalesced loads), and the
// sum and the sum of squared deviations are block reductions (warp shuffles, then one value
// per warp through shared memory). The variance is taken about the mean in a second pass,
// which finds the row in L1/L2.
#include <cstdint>
#include <cuda_runtime.h>

namespace {

constexpr int THREADS = 256;
constexpr int WARPS = THREADS / 32;

__device__ float warp_sum(float v)
{
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, off);
    }
    return v;
}

// The sum of v over the block, returned to every thread.
__device__ float block_sum(float v, float *smem)
{
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    v = warp_sum(v);
    if (lane == 0) {
        smem[warp] = v;
    }
    __syncthreads();
    if (warp == 0) {
        float w = lane < WARPS ? smem[lane] : 0.0f;
        w = warp_sum(w);
        if (lane == 0) {
            smem[0] = w;
        }
    }
    __syncthreads();
    const float result = smem[0];
    __syncthreads();  // smem is reused by the next reduction
    return result;
}

__global__ void layernorm_rows(const float *__restrict__ x, const float *__restrict__ gamma,
                               const float *__restrict__ beta, float *__restrict__ out,
                               int64_t cols, float eps)
{
    __shared__ float smem[WARPS];
    const float *xr = x + (int64_t)blockIdx.x * cols;
    float *o = out + (int64_t)blockIdx.x * cols;
    float s = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += THREADS) {
        s += xr[c];
    }
    const float mean = block_sum(s, smem) / (float)cols;
    float sq = 0.0f;
    for (int64_t c = threadIdx.x; c < cols; c += THREADS) {
        const float d = xr[c] - mean;
        sq += d * d;
    }
    const float rstd = rsqrtf(block_sum(sq, smem) / (float)cols + eps);
    for (int64_t c = threadIdx.x; c < cols; c += THREADS) {
        o[c] = (xr[c] - mean) * rstd * gamma[c] + beta[c];
    }
}

}  // namespace

extern "C" void layernorm(const float *x, const float *gamma, const float *beta, float *out,
                          int64_t rows, int64_t cols, float eps)
{
    if (rows <= 0 || cols <= 0) {
        return;
    }
    layernorm_rows<<<(unsigned)rows, THREADS>>>(x, gamma, beta, out, cols, eps);
}
