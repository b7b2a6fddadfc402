/* internal.h: helpers shared by the core's .c files (not part of the public API). */
#ifndef WT_INTERNAL_H
#define WT_INTERNAL_H

#include "webtune.h"

/* Records a formatted message as the calling thread's last error and returns `status`, so a
 * failing call reads: return wt_fail(WT_ERR_SHAPE, "dense: input has %d channels, expected %d", a, b); */
wt_status wt_fail(wt_status status, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Internal invariant check: a broken one is a webtune bug, never a user error. */
#define WT_ASSERT(cond)                                                                     \
    do {                                                                                    \
        if (!(cond)) wt_assert_failed(#cond, __FILE__, __LINE__);                           \
    } while (0)
void wt_assert_failed(const char* expr, const char* file, int line);

/* Layers that read a second node (desc.input2) besides desc.input. */
static inline int wt_layer_has_input2(wt_layer_type t) { return t == WT_LAYER_ADD || t == WT_LAYER_CONCAT; }

#endif /* WT_INTERNAL_H */
