#include <stdint.h>
#include <string.h>

/*
 * C (m x n) = A (m x k) * B (k x n), row-major float32.
 *
 * Threads share out MC x NC blocks of C. Inside a block, k is cut into KC-long slices;
 * for each slice a KC x NR strip of B is copied into a contiguous 16 KiB buffer (B's own
 * rows are n floats apart, which for power-of-two n maps a strip onto a few L1 sets), and
 * every MR x NR micro-tile of C down that strip is computed with its accumulators in
 * vector registers, so each B vector loaded feeds MR multiply-adds. Each element still
 * sums its k products in the order p = 0, 1, ..., k-1, as the naive loop does.
 */

enum { MR = 6, NR = 16, MC = 48, KC = 256, NC = 256 };

static inline int64_t min64(int64_t x, int64_t y) { return x < y ? x : y; }

/* Eight floats as one value: GCC and Clang lower it to one AVX register (or two SSE
   registers), so the tile below is written directly in vector registers. */
typedef float v8f __attribute__((vector_size(32)));

static inline v8f load8(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void store8(float *p, v8f v) { memcpy(p, &v, sizeof v); }

/* A full MR x NR tile at (i, j) over p in [p0, p1), its accumulators in registers;
   bpack holds rows p0..p1-1 of B's columns j..j+NR-1, NR floats per row. */
static inline void tile_full(const float *restrict a, const float *restrict bpack,
                             float *restrict c, int64_t n, int64_t k, int64_t i, int64_t j,
                             int64_t p0, int64_t p1)
{
    v8f acc[MR][2];
    for (int r = 0; r < MR; r++) {
        if (p0 == 0) {
            acc[r][0] = (v8f){0};
            acc[r][1] = (v8f){0};
        } else {
            acc[r][0] = load8(c + (i + r) * n + j);
            acc[r][1] = load8(c + (i + r) * n + j + 8);
        }
    }
    for (int64_t p = p0; p < p1; p++) {
        const v8f b0 = load8(bpack + (p - p0) * NR);
        const v8f b1 = load8(bpack + (p - p0) * NR + 8);
        for (int r = 0; r < MR; r++) {
            const float ar = a[(i + r) * k + p];
            acc[r][0] += ar * b0;
            acc[r][1] += ar * b1;
        }
    }
    for (int r = 0; r < MR; r++) {
        store8(c + (i + r) * n + j, acc[r][0]);
        store8(c + (i + r) * n + j + 8, acc[r][1]);
    }
}

/* An edge tile of mr <= MR rows and nr <= NR columns. */
static inline void tile_edge(const float *restrict a, const float *restrict b,
                             float *restrict c, int64_t n, int64_t k, int64_t i, int64_t j,
                             int64_t mr, int64_t nr, int64_t p0, int64_t p1)
{
    for (int64_t r = 0; r < mr; r++) {
        float *restrict cr = c + (i + r) * n + j;
        float acc[NR];
        for (int64_t t = 0; t < nr; t++) {
            acc[t] = p0 == 0 ? 0.0f : cr[t];
        }
        for (int64_t p = p0; p < p1; p++) {
            const float ar = a[(i + r) * k + p];
            const float *restrict bp = b + p * n + j;
            for (int64_t t = 0; t < nr; t++) {
                acc[t] += ar * bp[t];
            }
        }
        for (int64_t t = 0; t < nr; t++) {
            cr[t] = acc[t];
        }
    }
}

void matmul(const float *restrict a, const float *restrict b, float *restrict c, int64_t m,
            int64_t n, int64_t k)
{
    if (k == 0) {
        for (int64_t x = 0; x < m * n; x++) {
            c[x] = 0.0f;
        }
        return;
    }
    const int64_t row_blocks = (m + MC - 1) / MC;
    const int64_t col_blocks = (n + NC - 1) / NC;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t ib = 0; ib < row_blocks; ib++) {
        for (int64_t jb = 0; jb < col_blocks; jb++) {
            const int64_t i0 = ib * MC;
            const int64_t i1 = min64(i0 + MC, m);
            const int64_t j0 = jb * NC;
            const int64_t j1 = min64(j0 + NC, n);
            for (int64_t p0 = 0; p0 < k; p0 += KC) {
                const int64_t p1 = min64(p0 + KC, k);
                for (int64_t j = j0; j < j1; j += NR) {
                    const int64_t nr = min64(NR, j1 - j);
                    float bpack[KC * NR];
                    if (nr == NR) {
                        for (int64_t p = p0; p < p1; p++) {
                            memcpy(bpack + (p - p0) * NR, b + p * n + j, NR * sizeof(float));
                        }
                    }
                    for (int64_t i = i0; i < i1; i += MR) {
                        const int64_t mr = min64(MR, i1 - i);
                        if (mr == MR && nr == NR) {
                            tile_full(a, bpack, c, n, k, i, j, p0, p1);
                        } else {
                            tile_edge(a, b, c, n, k, i, j, mr, nr, p0, p1);
                        }
                    }
                }
            }
        }
    }
}
