#include <stdint.h>

/* out[0] = x[0] + x[1] + ... + x[n-1]. The sum is kept in double: a float running sum of
   millions of terms loses the small ones once it is large. */
void reduction(const float *restrict x, float *restrict out, int64_t n)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        sum += x[i];
    }
    out[0] = (float)sum;
}
