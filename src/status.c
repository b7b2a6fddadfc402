/* status.c: status names and the per-thread last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static _Thread_local char last_error[512];

const char* wt_status_name(wt_status status) {
    switch (status) {
    case WT_OK: return "WT_OK";
    case WT_ERR_INVALID_ARGUMENT: return "WT_ERR_INVALID_ARGUMENT";
    case WT_ERR_SHAPE: return "WT_ERR_SHAPE";
    case WT_ERR_OUT_OF_MEMORY: return "WT_ERR_OUT_OF_MEMORY";
    case WT_ERR_NOT_FINITE: return "WT_ERR_NOT_FINITE";
    case WT_ERR_STATE: return "WT_ERR_STATE";
    case WT_ERR_NOT_FOUND: return "WT_ERR_NOT_FOUND";
    case WT_ERR_UNSUPPORTED: return "WT_ERR_UNSUPPORTED";
    case WT_ERR_CORRUPT: return "WT_ERR_CORRUPT";
    case WT_ERR_IO: return "WT_ERR_IO";
    case WT_ERR_THREADS: return "WT_ERR_THREADS";
    case WT_ERR_ABORTED: return "WT_ERR_ABORTED";
    }
    return "WT_ERR_UNKNOWN";
}

const char* wt_last_error(void) { return last_error; }

void wt_clear_error(void) { last_error[0] = '\0'; }

wt_status wt_fail(wt_status status, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, args);
    va_end(args);
    return status;
}

void wt_assert_failed(const char* expr, const char* file, int line) {
    /* An internal invariant broke: continuing would compute garbage. This is the one place
     * webtune stops the process, and only for its own bugs, never for user input. */
    fprintf(stderr, "webtune internal error: %s at %s:%d\n", expr, file, line);
    abort();
}
