/* threadpool.h: a fixed pool of worker threads (pthreads; Web Workers under Emscripten).
 * Threads are created once, in wt_pool_create; ops only hand work to them. The calling thread
 * takes part in every parallel loop, so a pool of n threads has n-1 workers. A NULL pool runs
 * everything serially on the caller. */
#ifndef WT_THREADPOOL_H
#define WT_THREADPOOL_H

#include <stddef.h>

typedef struct wt_pool wt_pool;

/* fn processes items [begin, end) of a parallel loop. */
typedef void (*wt_range_fn)(void* ctx, size_t begin, size_t end);

/* Returns NULL if threads cannot be started. n_threads <= 1 gives a pool that runs serially. */
wt_pool* wt_pool_create(int n_threads);
void wt_pool_destroy(wt_pool* pool);
int wt_pool_threads(const wt_pool* pool); /* 1 for NULL */

/* Runs fn over [0, range) split into contiguous chunks, one per thread, each a multiple of `grain`
 * items except the last, and returns when all are done. The split depends only on range, grain
 * and the thread count; kernels make each output depend on one chunk only, so results do not
 * depend on the number of threads. Not reentrant: fn must not call wt_parallel_for. */
void wt_parallel_for(wt_pool* pool, size_t range, size_t grain, wt_range_fn fn, void* ctx);

/* Scaling model, for benchmarks (tests/bench/scaling.mjs): between begin(n) and end, every
 * parallel loop that a serial pool (1 thread or NULL) runs is run as the n chunks an n-thread pool
 * would hand out, one after the other, each timed. Then a step timed on 1 thread, T1, would take
 * about T1 - loop_seconds + critical_seconds on n free cores (ignoring fork/join costs and memory
 * bandwidth), and T1 - loop_seconds - serial_loop_seconds of T1 is code outside any loop. Not
 * thread-safe: one model at a time, from the thread that runs the loops. */
typedef struct wt_pool_model_stats {
    double loop_seconds;        /* loops that split: all chunks */
    double critical_seconds;    /* loops that split: the longest chunk of each */
    double serial_loop_seconds; /* loops too small to split (range <= grain) */
    long loops, serial_loops;
} wt_pool_model_stats;
void wt_pool_model_begin(int n_threads);
void wt_pool_model_end(wt_pool_model_stats* stats);

#endif /* WT_THREADPOOL_H */
