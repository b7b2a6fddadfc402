/* test_threadpool.c: the worker pool's one primitive, wt_parallel_for.
 *   - pools of 1..4 threads, many (range, grain) pairs (range 0, range < threads, grain 0,
 *     grain > range, primes): every index visited exactly once; the chunks tile [0, range) in
 *     contiguous, grain-aligned pieces, min(ceil(range/grain), threads) of them, each on its own
 *     thread, and the split is the same on every call;
 *   - all threads of a pool really run at once (a rendezvous inside the loop body);
 *   - thousands of back-to-back calls, with pauses that let workers fall asleep and slow chunks
 *     that make the caller sleep, all complete (no lost wake-ups);
 *   - pools created and destroyed repeatedly, with and without work in between; NULL and
 *     single-thread pools run serially.
 * Natively an alarm() turns a hang into a failure. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#if !defined(__EMSCRIPTEN__) && defined(__unix__)
#include <unistd.h>
#define WT_HAVE_ALARM 1
#endif

#include "threadpool.h"
#include "wt_test.h"

enum { MAX_THREADS = 4, MAX_CALLS = 64 };

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- coverage and chunk shape -------------------------------------------------------------- */

typedef struct chunk { size_t begin, end; pthread_t thread; } chunk;

typedef struct visit_ctx {
    atomic_int* visits;
    size_t range;
    atomic_int calls;
    atomic_int bad_bounds;
    chunk chunks[MAX_CALLS];
} visit_ctx;

static void visit_fn(void* p, size_t begin, size_t end) {
    visit_ctx* c = (visit_ctx*)p;
    int slot = atomic_fetch_add(&c->calls, 1);
    if (slot < MAX_CALLS) {
        c->chunks[slot].begin = begin;
        c->chunks[slot].end = end;
        c->chunks[slot].thread = pthread_self();
    }
    if (!(begin < end && end <= c->range)) {
        atomic_fetch_add(&c->bad_bounds, 1);
        return;
    }
    for (size_t i = begin; i < end; i++) atomic_fetch_add_explicit(&c->visits[i], 1, memory_order_relaxed);
}

static int cmp_chunk(const void* a, const void* b) {
    const chunk* x = (const chunk*)a;
    const chunk* y = (const chunk*)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Runs one loop and checks it; returns the number of chunks (sorted into out) or -1. */
static int run_and_check(wt_pool* pool, int threads, size_t range, size_t grain, chunk* out) {
    static visit_ctx c;
    atomic_int* visits = (atomic_int*)calloc(range ? range : 1, sizeof(atomic_int));
    for (size_t i = 0; i < range; i++) atomic_init(&visits[i], 0);
    c.visits = visits;
    c.range = range;
    atomic_store(&c.calls, 0);
    atomic_store(&c.bad_bounds, 0);
    wt_parallel_for(pool, range, grain, visit_fn, &c);

    const int calls = atomic_load(&c.calls);
    size_t wrong = 0;
    for (size_t i = 0; i < range; i++) wrong += atomic_load(&visits[i]) != 1;
    free(visits);
    CHECK(wrong == 0, "threads=%d range=%zu grain=%zu: %zu indices not visited exactly once", threads, range,
          grain, wrong);
    CHECK(atomic_load(&c.bad_bounds) == 0, "threads=%d range=%zu grain=%zu: empty or out-of-range chunk",
          threads, range, grain);
    const size_t g = grain ? grain : 1;
    const size_t units = (range + g - 1) / g;
    const size_t want_calls = units < (size_t)threads ? units : (size_t)threads;
    CHECK((size_t)calls == want_calls, "threads=%d range=%zu grain=%zu: %d chunks, want %zu", threads, range,
          grain, calls, want_calls);
    if (calls > MAX_CALLS || calls > threads) return -1;

    memcpy(out, c.chunks, (size_t)calls * sizeof(chunk));
    qsort(out, (size_t)calls, sizeof(chunk), cmp_chunk);
    int tiled = 1, aligned = 1, distinct = 1, caller = 0;
    size_t at = 0, smallest = (size_t)-1, largest = 0;
    for (int k = 0; k < calls; k++) {
        if (out[k].begin != at) tiled = 0;
        at = out[k].end;
        if (out[k].begin % g != 0) aligned = 0;
        if (out[k].end != range && (out[k].end - out[k].begin) % g != 0) aligned = 0;
        if (out[k].end != range) {
            size_t sz = out[k].end - out[k].begin;
            if (sz < smallest) smallest = sz;
            if (sz > largest) largest = sz;
        }
        for (int j = 0; j < k; j++)
            if (pthread_equal(out[j].thread, out[k].thread)) distinct = 0;
        if (pthread_equal(out[k].thread, pthread_self())) caller = 1;
    }
    if (calls > 0) {
        CHECK(tiled && at == range, "threads=%d range=%zu grain=%zu: chunks do not tile the range", threads,
              range, grain);
        CHECK(aligned, "threads=%d range=%zu grain=%zu: chunk not a multiple of the grain", threads, range, grain);
        CHECK(largest == 0 || largest - smallest <= g, "threads=%d range=%zu grain=%zu: unbalanced %zu..%zu",
              threads, range, grain, smallest, largest);
        CHECK(distinct, "threads=%d range=%zu grain=%zu: two chunks ran on one thread", threads, range, grain);
        CHECK(caller, "threads=%d range=%zu grain=%zu: the caller ran no chunk", threads, range, grain);
    }
    return calls;
}

static void test_coverage(wt_pool* pool, int threads) {
    static const size_t ranges[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 100, 1000, 1023, 4099, 65537};
    static const size_t grains[] = {0, 1, 2, 3, 4, 5, 7, 16, 64, 1000, 4096, 100000};
    chunk first[MAX_CALLS], again[MAX_CALLS];
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++)
        for (size_t g = 0; g < sizeof grains / sizeof grains[0]; g++) {
            int n1 = run_and_check(pool, threads, ranges[r], grains[g], first);
            int n2 = run_and_check(pool, threads, ranges[r], grains[g], again);
            int same = n1 == n2;
            for (int k = 0; same && k < n1; k++)
                same = first[k].begin == again[k].begin && first[k].end == again[k].end;
            CHECK(same, "threads=%d range=%zu grain=%zu: the split changed between calls", threads, ranges[r],
                  grains[g]);
        }
}

/* ---- real concurrency ---------------------------------------------------------------------- */

typedef struct meet_ctx { atomic_int arrived; int threads; atomic_int timed_out; } meet_ctx;

static void meet_fn(void* p, size_t begin, size_t end) {
    (void)begin;
    (void)end;
    meet_ctx* c = (meet_ctx*)p;
    atomic_fetch_add(&c->arrived, 1);
    const double deadline = now_seconds() + 20.0;
    while (atomic_load(&c->arrived) < c->threads) {
        if (now_seconds() > deadline) {
            atomic_store(&c->timed_out, 1);
            return;
        }
        sched_yield();
    }
}

static void test_concurrency(wt_pool* pool, int threads) {
    for (int rep = 0; rep < 5; rep++) {
        meet_ctx c;
        atomic_init(&c.arrived, 0);
        atomic_init(&c.timed_out, 0);
        c.threads = threads;
        wt_parallel_for(pool, (size_t)threads, 1, meet_fn, &c);
        CHECK(!atomic_load(&c.timed_out) && atomic_load(&c.arrived) == threads,
              "threads=%d: chunks did not all run at once (%d arrived)", threads, atomic_load(&c.arrived));
        if (rep == 2) sleep_ms(20); /* let the workers fall asleep on the condition variable */
    }
}

/* ---- back-to-back calls -------------------------------------------------------------------- */

typedef struct count_ctx { atomic_int* hits; int slow_us; } count_ctx;

static void count_fn(void* p, size_t begin, size_t end) {
    count_ctx* c = (count_ctx*)p;
    if (c->slow_us && begin != 0) { /* a worker's chunk is slow: the caller has to wait for it */
        struct timespec ts = {0, (long)c->slow_us * 1000L};
        nanosleep(&ts, NULL);
    }
    for (size_t i = begin; i < end; i++) atomic_fetch_add_explicit(&c->hits[i], 1, memory_order_relaxed);
}

static void test_back_to_back(wt_pool* pool, int threads) {
    enum { RANGE = 64, CALLS = 6000 };
    atomic_int hits[RANGE];
    for (int i = 0; i < RANGE; i++) atomic_init(&hits[i], 0);
    count_ctx c = {hits, 0};
    int expected[RANGE] = {0};
    const double t0 = now_seconds();
    for (int k = 0; k < CALLS; k++) {
        /* vary the shape: tiny (maybe serial), one item per thread, the whole range */
        const size_t range = k % 3 == 0 ? 1 : k % 3 == 1 ? (size_t)threads : RANGE;
        const size_t grain = k % 5 == 0 ? 0 : 1;
        c.slow_us = (k % 500 == 7) ? 2000 : 0;
        wt_parallel_for(pool, range, grain, count_fn, &c);
        for (size_t i = 0; i < range; i++) expected[i]++;
        if (k % 1000 == 999) sleep_ms(5); /* idle workers go to sleep; the next call must wake them */
    }
    int wrong = 0;
    for (int i = 0; i < RANGE; i++) wrong += atomic_load(&hits[i]) != expected[i];
    CHECK(wrong == 0, "threads=%d: %d indices with a wrong count after %d calls", threads, wrong, CALLS);
    printf("  %d threads: %d back-to-back calls in %.3f s\n", threads, CALLS, now_seconds() - t0);
}

/* Calls spaced by delays swept across the workers' spin-then-sleep transition, so a call often
 * lands while a worker is between "no new job" and "asleep": the classic lost wake-up window. */
static void spin_us(double us) {
    const double until = now_seconds() + us * 1e-6;
    while (now_seconds() < until) {
    }
}

static void test_staggered(wt_pool* pool, int threads) {
    enum { RANGE = 16, CALLS = 3000 };
    atomic_int hits[RANGE];
    for (int i = 0; i < RANGE; i++) atomic_init(&hits[i], 0);
    count_ctx c = {hits, 0};
    for (int k = 0; k < CALLS; k++) {
        spin_us((double)((k * 37) % 400)); /* 0 .. 400 us, in a scrambled order */
        wt_parallel_for(pool, RANGE, 1, count_fn, &c);
    }
    int wrong = 0;
    for (int i = 0; i < RANGE; i++) wrong += atomic_load(&hits[i]) != CALLS;
    CHECK(wrong == 0, "threads=%d: %d indices with a wrong count after staggered calls", threads, wrong);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void test_lifecycle(void) {
    CHECK(wt_pool_threads(NULL) == 1, "NULL pool threads");
    wt_pool_destroy(NULL);
    for (int n = -2; n <= 1; n++) {
        wt_pool* p = wt_pool_create(n);
        CHECK(p != NULL && wt_pool_threads(p) == 1, "wt_pool_create(%d)", n);
        chunk out[MAX_CALLS];
        CHECK(run_and_check(p, 1, 1000, 7, out) == 1, "serial pool ran more than one chunk");
        wt_pool_destroy(p);
    }
    chunk out[MAX_CALLS];
    CHECK(run_and_check(NULL, 1, 1000, 7, out) == 1, "NULL pool ran more than one chunk");
    CHECK(run_and_check(NULL, 1, 0, 7, out) == 0, "NULL pool ran an empty range");

    int ok = 1;
    for (int rep = 0; rep < 40; rep++) {
        const int n = 2 + rep % 3;
        wt_pool* p = wt_pool_create(n);
        if (!p || wt_pool_threads(p) != n) {
            ok = 0;
            wt_pool_destroy(p);
            continue;
        }
        if (rep % 4 == 1) { /* one loop in between */
            chunk o[MAX_CALLS];
            if (run_and_check(p, n, 100, 1, o) != n) ok = 0;
        } else if (rep % 4 == 2) { /* let the workers reach their sleep first */
            sleep_ms(2);
        }
        wt_pool_destroy(p); /* rep % 4 == 0, 3: immediately, workers possibly not started yet */
    }
    CHECK(ok, "repeated create/destroy failed");
}

int main(void) {
#ifdef WT_HAVE_ALARM
    alarm(600); /* a lost wake-up would hang: make it a failure */
#endif
    test_lifecycle();
    for (int threads = 1; threads <= MAX_THREADS; threads++) {
        wt_pool* pool = wt_pool_create(threads);
        CHECK(pool != NULL, "wt_pool_create(%d) failed", threads);
        if (!pool) continue;
        CHECK(wt_pool_threads(pool) == threads, "wt_pool_threads = %d, want %d", wt_pool_threads(pool), threads);
        test_coverage(pool, threads);
        test_concurrency(pool, threads);
        test_back_to_back(pool, threads);
        test_staggered(pool, threads);
        wt_pool_destroy(pool);
    }
    test_lifecycle();
    return wt_test_summary();
}
