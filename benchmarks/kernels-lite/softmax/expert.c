#include <math.h>
#include <stdint.h>
#include <string.h>

/*
 * Row-wise softmax, rows shared out among threads. The library expf is a call the
 * compiler cannot vectorise (without -ffast-math), so exp is computed inline: with
 * x = n*ln2 + r, |r| <= ln2/2, exp(x) = 2^n * P(r), where P is a degree-6 polynomial
 * (Cephes' expf coefficients, relative error about 1e-7) and 2^n is built directly in the
 * exponent bits. Every step is plain arithmetic, so the loops run 8 lanes wide. The
 * exponentials are written to out once and rescaled in place, instead of computed twice.
 */

static inline float exp_nonpositive(float x)
{
    /* x = x - max(x) <= 0. Below -87, exp(x) < 1.7e-38, nothing next to the row sum
       (>= 1), so |x| is clamped to 87 to keep 2^n a normal float. The clamp compares bit
       patterns, whose integer order is the numeric order for non-negative floats: an
       integer min vectorises, where a float select does not under the default
       -ftrapping-math. */
    float mag = -x;
    const float limit = 87.0f;
    int32_t mag_bits, limit_bits;
    memcpy(&mag_bits, &mag, sizeof mag);
    memcpy(&limit_bits, &limit, sizeof limit);
    mag_bits = mag_bits < limit_bits ? mag_bits : limit_bits;
    memcpy(&mag, &mag_bits, sizeof mag);
    x = -mag;
    /* Round x / ln2 to the nearest integer: adding 1.5 * 2^23 pushes the fraction out. */
    const float shifter = 12582912.0f;
    const float t = x * 1.44269504088896341f + shifter;
    const float n = t - shifter;
    /* r = x - n*ln2 in two steps, so that the product's rounding error stays small. */
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

void softmax(const float *restrict x, float *restrict out, int64_t rows, int64_t cols)
{
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * cols;
        float *restrict o = out + r * cols;
        float mx = xr[0];
#pragma omp simd reduction(max : mx)
        for (int64_t c = 0; c < cols; c++) {
            mx = xr[c] > mx ? xr[c] : mx;
        }
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t c = 0; c < cols; c++) {
            const float e = exp_nonpositive(xr[c] - mx);
            o[c] = e;
            sum += e;
        }
        const float inv = 1.0f / sum;
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) {
            o[c] *= inv;
        }
    }
}
