#include <stdint.h>

/* Inclusive prefix sum: out[i] = x[0] + x[1] + ... + x[i]. */
void prefix_scan(const int64_t *restrict x, int64_t *restrict out, int64_t n)
{
    int64_t sum = 0;
    for (int64_t i = 0; i < n; i++) {
        sum += x[i];
        out[i] = sum;
    }
}
