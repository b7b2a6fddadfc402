/* context.c: the context owns the thread pool, sized once at creation. */
#include <stdlib.h>

#include "internal.h"
#include "net.h"

wt_status wt_context_create(const wt_context_desc* desc, wt_context** out) {
    if (!out) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_context_create: out is NULL");
    *out = NULL;
    wt_context_desc d = desc ? *desc : (wt_context_desc){0};
    if (d.n_threads < 0 || d.n_threads > 64)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_context_create: n_threads is %d, expected 0..64",
                       d.n_threads);
    wt_context* ctx = (wt_context*)calloc(1, sizeof *ctx);
    if (!ctx) return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_context_create: out of memory");
    ctx->pool = wt_pool_create(d.n_threads < 1 ? 1 : d.n_threads);
    if (!ctx->pool) {
        free(ctx);
        return wt_fail(WT_ERR_THREADS, "wt_context_create: could not start %d threads", d.n_threads);
    }
    ctx->n_threads = wt_pool_threads(ctx->pool);
    ctx->seed = d.seed;
    *out = ctx;
    return WT_OK;
}

void wt_context_destroy(wt_context* ctx) {
    if (!ctx) return;
    wt_pool_destroy(ctx->pool);
    free(ctx);
}

int wt_context_threads(const wt_context* ctx) { return ctx ? ctx->n_threads : 0; }
