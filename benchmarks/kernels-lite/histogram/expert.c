#include <stdint.h>
#include <string.h>

/*
 * Histogram of a byte vector. In the naive loop, two nearby equal bytes make the second
 * increment wait for the first one's store (about 5 cycles through store-to-load
 * forwarding), and a third of this data is one background value. Here each thread counts
 * into four sub-histograms on its stack, byte k of every 8 going to sub-histogram k % 4,
 * so equal neighbours mostly land in different counters; the bytes are read 8 at a time
 * as one 64-bit load. Blocks of the vector are shared out among threads, and each
 * thread adds its counts into out with atomic adds at the end.
 */

enum { BLOCK = 65536 };

void histogram(const uint8_t *restrict x, uint32_t *restrict out, int64_t n)
{
    for (int v = 0; v < 256; v++) {
        out[v] = 0;
    }
    const int64_t blocks = (n + BLOCK - 1) / BLOCK;
#pragma omp parallel
    {
        uint32_t h[4][256];
        memset(h, 0, sizeof h);
#pragma omp for schedule(static)
        for (int64_t b = 0; b < blocks; b++) {
            const int64_t lo = b * BLOCK;
            const int64_t hi = lo + BLOCK < n ? lo + BLOCK : n;
            int64_t i = lo;
            for (; i + 8 <= hi; i += 8) {
                uint64_t w;
                memcpy(&w, x + i, sizeof w);
                h[0][w & 0xff]++;
                h[1][(w >> 8) & 0xff]++;
                h[2][(w >> 16) & 0xff]++;
                h[3][(w >> 24) & 0xff]++;
                h[0][(w >> 32) & 0xff]++;
                h[1][(w >> 40) & 0xff]++;
                h[2][(w >> 48) & 0xff]++;
                h[3][w >> 56]++;
            }
            for (; i < hi; i++) {
                h[0][x[i]]++;
            }
        }
        for (int v = 0; v < 256; v++) {
            const uint32_t c = h[0][v] + h[1][v] + h[2][v] + h[3][v];
            if (c != 0) {
#pragma omp atomic
                out[v] += c;
            }
        }
    }
}
