#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
#endif

/*
 * Inclusive prefix sum in parallel, in one pass over the parts of x with a decoupled
 * look-back (the single-pass scheme GPU scans use). The kernel is memory bound, so the aim
 * is to read x from memory once and write out once while several cores share the work.
 *
 * x is cut into at most MAX_PARTS parts of at least MIN_PART elements. Threads take parts
 * in order from a shared counter. For its part p a thread first sums the part (which
 * brings it into cache) and publishes that sum; then it walks back over parts p-1, p-2, ...
 * adding their published sums until it meets one that has published the sum of everything
 * up to its end, which gives p's starting offset; it publishes p's own running total, and
 * scans p from cache. No barrier is involved, so a thread that is slow or descheduled only
 * holds up the parts just after its own, and only until it has summed its part. While it
 * scans, it prefetches the part two ahead (one line per 8 elements), so reading x from
 * memory overlaps with writing out instead of waiting for the next part's sum pass.
 *
 * A thread alone (OMP_NUM_THREADS=1) runs the plain running sum instead, for which the
 * look-back would only add a second pass over each part.
 *
 * Results are written with non-temporal stores where the target has them: they go
 * straight to memory instead of first reading each output line into the cache, which
 * saves a third of the memory traffic. Integer adds are exact, so the result does not
 * depend on the number of threads or the order they run in.
 */

enum { MAX_PARTS = 4096, MIN_PART = 4096 };

enum { EMPTY = 0, OWN_SUM = 1, RUNNING_TOTAL = 2 };

static inline void put(int64_t *p, int64_t v)
{
#if defined(__x86_64__) && defined(__SSE2__)
    _mm_stream_si64((long long *)p, v);
#else
    *p = v;
#endif
}

static inline void spin_pause(void)
{
#if defined(__x86_64__) && defined(__SSE2__)
    _mm_pause();
#endif
}

void prefix_scan(const int64_t *restrict x, int64_t *restrict out, int64_t n)
{
    int64_t part = (n + MAX_PARTS - 1) / MAX_PARTS;
    part = part < MIN_PART ? MIN_PART : part;
    const int64_t parts = (n + part - 1) / part;
    const int64_t ahead = 2 * part;
    /* state[p] says which of p's values is published: own_sum[p] (the sum of part p) or
       total[p] (the sum of parts 0..p). Each is written before state[p] is raised. */
    _Atomic int state[MAX_PARTS];
    int64_t own_sum[MAX_PARTS];
    int64_t total[MAX_PARTS];
    for (int64_t p = 0; p < parts; p++) {
        atomic_init(&state[p], EMPTY);
    }
    _Atomic int64_t next;
    atomic_init(&next, 0);
#pragma omp parallel
    {
        if (omp_get_num_threads() == 1) {
            int64_t acc = 0;
            for (int64_t i = 0; i < n; i++) {
                acc += x[i];
                put(out + i, acc);
            }
        } else {
            for (;;) {
                const int64_t p = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
                if (p >= parts) {
                    break;
                }
                const int64_t lo = p * part;
                const int64_t hi = lo + part < n ? lo + part : n;
                int64_t own = 0;
                for (int64_t i = lo; i < hi; i++) {
                    own += x[i];
                }
                int64_t before = 0;
                if (p > 0) {
                    own_sum[p] = own;
                    atomic_store_explicit(&state[p], OWN_SUM, memory_order_release);
                    /* Parts are handed out in order, so every q < p belongs to a thread that is
                       already at work on it and never waits on a later part. */
                    for (int64_t q = p - 1;; q--) {
                        int st;
                        while ((st = atomic_load_explicit(&state[q], memory_order_acquire)) ==
                               EMPTY) {
                            spin_pause();
                        }
                        if (st == RUNNING_TOTAL) {
                            before += total[q];
                            break;
                        }
                        before += own_sum[q];
                    }
                }
                total[p] = before + own;
                atomic_store_explicit(&state[p], RUNNING_TOTAL, memory_order_release);
                int64_t acc = before;
                for (int64_t i = lo; i < hi; i++) {
                    if ((i & 7) == 0 && i + ahead < n) {
                        __builtin_prefetch(x + i + ahead, 0, 1);
                    }
                    acc += x[i];
                    put(out + i, acc);
                }
            }
        }
#if defined(__x86_64__) && defined(__SSE2__)
        /* Non-temporal stores are weakly ordered: drain them before the threads join. */
        _mm_sfence();
#endif
    }
}
