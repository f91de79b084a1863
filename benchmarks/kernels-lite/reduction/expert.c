#include <stdint.h>

/*
 * Sum of a float32 vector. The naive double running sum is one chain of dependent adds
 * (one element per add latency, about 4 cycles). Here each block of BLOCK elements is
 * summed in float with `omp simd reduction`, i.e. in 8 vector lanes (16 with two
 * accumulators), each lane summing at most BLOCK/8 terms, which float does accurately;
 * the block sums are added in double. The vector is cut into CHUNKS pieces independent of
 * the number of threads and their sums are added in a fixed order, so the result is the
 * same bits on every call and any thread count.
 */

enum { BLOCK = 4096, CHUNKS = 256 };

void reduction(const float *restrict x, float *restrict out, int64_t n)
{
    double part[CHUNKS];
    const int64_t per = (n + CHUNKS - 1) / CHUNKS;
#pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < CHUNKS; ch++) {
        const int64_t lo = ch * per < n ? ch * per : n;
        const int64_t hi = lo + per < n ? lo + per : n;
        double acc = 0.0;
        for (int64_t b = lo; b < hi; b += BLOCK) {
            const int64_t e = b + BLOCK < hi ? b + BLOCK : hi;
            float s = 0.0f;
#pragma omp simd reduction(+ : s)
            for (int64_t i = b; i < e; i++) {
                s += x[i];
            }
            acc += s;
        }
        part[ch] = acc;
    }
    double total = 0.0;
    for (int ch = 0; ch < CHUNKS; ch++) {
        total += part[ch];
    }
    out[0] = (float)total;
}
