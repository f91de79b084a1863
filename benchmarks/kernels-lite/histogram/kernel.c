#include <stdint.h>

/* Histogram of a byte vector: out[v] = the number of i with x[i] == v, for all 256 v. */
void histogram(const uint8_t *restrict x, uint32_t *restrict out, int64_t n)
{
    for (int v = 0; v < 256; v++) {
        out[v] = 0;
    }
    for (int64_t i = 0; i < n; i++) {
        out[x[i]]++;
    }
}
