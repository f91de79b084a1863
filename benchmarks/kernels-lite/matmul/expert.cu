// C (m x n) = A (m x k) * B (k x n), row-major float32; a, b and c are device pointers.
//
// Shared-memory tiling: a block computes a TILE x TILE tile of C. For each TILE-wide slice
// of k it loads the matching TILE x TILE tiles of A and B into shared memory once (every
// global load coalesced along a row), and each of its TILE x ROWS threads then computes
// TILE / ROWS elements of one column of the C tile from shared memory, reusing each B
// value from a register. Parts of tiles outside A or B are loaded as zeros, so edge
// tiles need no other special case.
#include <cstdint>
#include <cuda_runtime.h>

namespace {

constexpr int TILE = 32;
constexpr int ROWS = 8;
constexpr int PER_THREAD = TILE / ROWS;

__global__ void matmul_tiled(const float *__restrict__ a, const float *__restrict__ b,
                             float *__restrict__ c, int64_t m, int64_t n, int64_t k)
{
    __shared__ float as[TILE][TILE + 1];
    __shared__ float bs[TILE][TILE];
    const int tx = threadIdx.x;
    const int ty = threadIdx.y;
    const int64_t row0 = (int64_t)blockIdx.y * TILE;
    const int64_t col = (int64_t)blockIdx.x * TILE + tx;
    float acc[PER_THREAD];
    for (int r = 0; r < PER_THREAD; r++) {
        acc[r] = 0.0f;
    }
    for (int64_t p0 = 0; p0 < k; p0 += TILE) {
        for (int r = ty; r < TILE; r += ROWS) {
            const int64_t ai = row0 + r;
            const int64_t ap = p0 + tx;
            as[r][tx] = (ai < m && ap < k) ? a[ai * k + ap] : 0.0f;
            const int64_t bp = p0 + r;
            bs[r][tx] = (bp < k && col < n) ? b[bp * n + col] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int p = 0; p < TILE; p++) {
            const float bv = bs[p][tx];
#pragma unroll
            for (int r = 0; r < PER_THREAD; r++) {
                acc[r] += as[ty + r * ROWS][p] * bv;
            }
        }
        __syncthreads();
    }
    for (int r = 0; r < PER_THREAD; r++) {
        const int64_t i = row0 + ty + r * ROWS;
        if (i < m && col < n) {
            c[i * n + col] = acc[r];
        }
    }
}

}  // namespace

extern "C" void matmul(const float *a, const float *b, float *c, int64_t m, int64_t n,
                       int64_t k)
{
    if (m <= 0 || n <= 0) {
        return;
    }
    const dim3 block(TILE, ROWS);
    const dim3 grid((unsigned)((n + TILE - 1) / TILE), (unsigned)((m + TILE - 1) / TILE));
    matmul_tiled<<<grid, block>>>(a, b, c, m, n, k);
}
