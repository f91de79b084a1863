#include <stdint.h>
#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
#endif

/*
 * Inclusive prefix sum: out[i] = x[0] + x[1] + ... + x[i], one thread, one pass.
 *
 * The running sum is a chain of dependent adds, one cycle per element, which is faster
 * than memory can feed it: the kernel is bound by memory traffic, not by the chain. A
 * plain store first reads each output line into the cache (a read for ownership), so a
 * plain loop moves three bytes for every two it needs (read x, read out, write out).
 * Here the outputs go out with non-temporal (streaming) stores, four or two sums at a
 * time, which write whole lines straight to memory: a third less traffic, and the
 * caches keep x instead of out. The leading elements up to the first 32-byte boundary of
 * out and the tail are done with plain stores; the fence at the end orders the streamed
 * stores before the caller reads out.
 *
 * Threads are not used on purpose: a parallel scan needs a second pass over x (or its
 * parts in cache) and synchronisation between threads, and on a machine whose cores are
 * shared it is held up by the slowest thread, while one streaming thread already draws
 * most of the bandwidth a core can get. Integer adds are exact, so any order gives the
 * same result.
 */
void prefix_scan(const int64_t *restrict x, int64_t *restrict out, int64_t n)
{
    int64_t sum = 0;
    int64_t i = 0;
#if defined(__x86_64__) && (defined(__AVX__) || defined(__SSE2__))
    for (; i < n && ((uintptr_t)(out + i) & 31) != 0; i++) {
        sum += x[i];
        out[i] = sum;
    }
#if defined(__AVX__)
    for (; i + 4 <= n; i += 4) {
        const int64_t a = sum + x[i];
        const int64_t b = a + x[i + 1];
        const int64_t c = b + x[i + 2];
        const int64_t d = c + x[i + 3];
        _mm256_stream_si256((__m256i *)(void *)(out + i), _mm256_set_epi64x(d, c, b, a));
        sum = d;
    }
#else
    for (; i + 2 <= n; i += 2) {
        const int64_t a = sum + x[i];
        const int64_t b = a + x[i + 1];
        _mm_stream_si128((__m128i *)(void *)(out + i), _mm_set_epi64x(b, a));
        sum = b;
    }
#endif
#endif
    for (; i < n; i++) {
        sum += x[i];
        out[i] = sum;
    }
#if defined(__x86_64__) && defined(__SSE2__)
    _mm_sfence();
#endif
}
