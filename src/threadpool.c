/* threadpool.c: fixed worker pool with one parallel-for primitive.
 * A job is published by bumping a generation counter; workers spin briefly (ops come in quick
 * succession during a training step) and then sleep on a condition variable. The caller runs chunk
 * 0 itself and waits for the rest. Built without threads (WT_NO_THREADS) every loop runs serially. */
#include "threadpool.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef WT_NO_THREADS
#include <pthread.h>
#include <stdatomic.h>
#endif

/* Chunk t of n over [0, range): contiguous, in whole multiples of grain, sizes differing by at most
 * one grain. Depends only on (range, grain, t, n). */
static void chunk_bounds(size_t range, size_t grain, int t, int n, size_t* begin, size_t* end) {
    if (grain == 0) grain = 1;
    size_t units = (range + grain - 1) / grain;
    size_t per = units / (size_t)n, rem = units % (size_t)n;
    size_t ut = (size_t)t;
    size_t first = ut * per + (ut < rem ? ut : rem);
    size_t count = per + (ut < rem ? 1 : 0);
    size_t b = first * grain, e = (first + count) * grain;
    *begin = b < range ? b : range;
    *end = e < range ? e : range;
}

/* The scaling model (threadpool.h). Benchmarks only; one model at a time, from one thread. */
static struct {
    int n;
    wt_pool_model_stats s;
} model;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void wt_pool_model_begin(int n_threads) {
    memset(&model, 0, sizeof model);
    model.n = n_threads > 1 ? n_threads : 0;
}

void wt_pool_model_end(wt_pool_model_stats* stats) {
    if (stats) *stats = model.s;
    model.n = 0;
}

/* A serial loop, run as the model's chunks when a model is on. */
static void run_serial(size_t range, size_t grain, wt_range_fn fn, void* ctx) {
    if (!model.n) {
        fn(ctx, 0, range);
        return;
    }
    if (range <= (grain ? grain : 1)) {
        double t = now_seconds();
        fn(ctx, 0, range);
        model.s.serial_loop_seconds += now_seconds() - t;
        model.s.serial_loops++;
        return;
    }
    double longest = 0.0;
    for (int k = 0; k < model.n; k++) {
        size_t b, e;
        chunk_bounds(range, grain, k, model.n, &b, &e);
        double t = now_seconds();
        if (b < e) fn(ctx, b, e);
        t = now_seconds() - t;
        model.s.loop_seconds += t;
        if (t > longest) longest = t;
    }
    model.s.critical_seconds += longest;
    model.s.loops++;
}

#ifdef WT_NO_THREADS

struct wt_pool { int n; };

wt_pool* wt_pool_create(int n_threads) {
    (void)n_threads;
    wt_pool* pool = (wt_pool*)calloc(1, sizeof *pool);
    if (pool) pool->n = 1;
    return pool;
}
void wt_pool_destroy(wt_pool* pool) { free(pool); }
int wt_pool_threads(const wt_pool* pool) { (void)pool; return model.n ? model.n : 1; }
void wt_parallel_for(wt_pool* pool, size_t range, size_t grain, wt_range_fn fn, void* ctx) {
    (void)pool;
    if (range) run_serial(range, grain, fn, ctx);
}

#else

enum { SPIN_ITERATIONS = 20000 };

typedef struct worker_arg { struct wt_pool* pool; int index; } worker_arg;

struct wt_pool {
    int n; /* threads including the caller */
    pthread_t* threads;
    worker_arg* args;
    pthread_mutex_t mutex;
    pthread_cond_t start_cv, done_cv;
    atomic_uint generation;
    atomic_int pending;
    atomic_int stop;
    /* current job, written before generation is bumped */
    wt_range_fn fn;
    void* ctx;
    size_t range, grain;
};

static void run_chunk(struct wt_pool* pool, int t) {
    size_t b, e;
    chunk_bounds(pool->range, pool->grain, t, pool->n, &b, &e);
    if (b < e) pool->fn(pool->ctx, b, e);
}

static void* worker_main(void* p) {
    worker_arg* arg = (worker_arg*)p;
    struct wt_pool* pool = arg->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned gen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        for (int i = 0; i < SPIN_ITERATIONS && gen == seen && !atomic_load(&pool->stop); i++)
            gen = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (gen == seen) {
            pthread_mutex_lock(&pool->mutex);
            while ((gen = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->start_cv, &pool->mutex);
            pthread_mutex_unlock(&pool->mutex);
        }
        if (atomic_load(&pool->stop)) break;
        seen = gen;
        run_chunk(pool, arg->index);
        if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool->mutex);
            pthread_cond_signal(&pool->done_cv);
            pthread_mutex_unlock(&pool->mutex);
        }
    }
    return NULL;
}

wt_pool* wt_pool_create(int n_threads) {
    struct wt_pool* pool = (struct wt_pool*)calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->n = n_threads < 1 ? 1 : n_threads;
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->start_cv, NULL);
    pthread_cond_init(&pool->done_cv, NULL);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->stop, 0);
    if (pool->n == 1) return pool;
    pool->threads = (pthread_t*)calloc((size_t)pool->n, sizeof(pthread_t));
    pool->args = (worker_arg*)calloc((size_t)pool->n, sizeof(worker_arg));
    if (!pool->threads || !pool->args) { free(pool->threads); free(pool->args); free(pool); return NULL; }
    for (int t = 1; t < pool->n; t++) {
        pool->args[t].pool = pool;
        pool->args[t].index = t;
        if (pthread_create(&pool->threads[t], NULL, worker_main, &pool->args[t]) != 0) {
            pool->n = t; /* shut down the ones that started */
            wt_pool_destroy(pool);
            return NULL;
        }
    }
    return pool;
}

void wt_pool_destroy(wt_pool* pool) {
    if (!pool) return;
    if (pool->n > 1) {
        pthread_mutex_lock(&pool->mutex);
        atomic_store(&pool->stop, 1);
        pthread_cond_broadcast(&pool->start_cv);
        pthread_mutex_unlock(&pool->mutex);
        for (int t = 1; t < pool->n; t++) pthread_join(pool->threads[t], NULL);
    }
    pthread_mutex_destroy(&pool->mutex);
    pthread_cond_destroy(&pool->start_cv);
    pthread_cond_destroy(&pool->done_cv);
    free(pool->threads);
    free(pool->args);
    free(pool);
}

/* Under a scaling model a serial pool reports the modelled count, so kernels plan as they would. */
int wt_pool_threads(const wt_pool* pool) {
    int n = pool ? pool->n : 1;
    return n == 1 && model.n ? model.n : n;
}

void wt_parallel_for(wt_pool* pool, size_t range, size_t grain, wt_range_fn fn, void* ctx) {
    if (range == 0) return;
    if (!pool || pool->n == 1) {
        run_serial(range, grain, fn, ctx);
        return;
    }
    if (range <= (grain ? grain : 1)) {
        fn(ctx, 0, range);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    pool->range = range;
    pool->grain = grain;
    atomic_store_explicit(&pool->pending, pool->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&pool->mutex);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->start_cv);
    pthread_mutex_unlock(&pool->mutex);
    run_chunk(pool, 0);
    for (int i = 0; i < SPIN_ITERATIONS && atomic_load_explicit(&pool->pending, memory_order_acquire) > 0; i++) {
    }
    if (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&pool->mutex);
        while (atomic_load(&pool->pending) > 0) pthread_cond_wait(&pool->done_cv, &pool->mutex);
        pthread_mutex_unlock(&pool->mutex);
    }
}

#endif /* WT_NO_THREADS */
