/* image_stb.c: the one translation unit that compiles stb_image (public domain, Sean Barrett),
 * from Debian's libstb-dev, restricted to JPEG and PNG from memory. Its symbols are static, so a
 * program that links webtune and its own copy of stb_image gets no duplicate definitions; image.c
 * reaches it only through the three wt_stb_* functions below. stb's own warnings are silenced
 * here, for this file only.
 *
 * Every allocation stb makes goes through wt_stb_malloc/realloc, which refuse any single block
 * larger than the budget image.c sets from the header's dimensions. That bounds memory by what the
 * declared size needs, so a small file cannot make the decoder allocate gigabytes (a PNG whose
 * zlib stream inflates far past the pixel count of its IHDR, for example).
 *
 * The build compiles this file with -fwrapv (CMakeLists.txt, scripts/fuzz.sh): stb_image 2.27
 * multiplies and adds signed ints from corrupt JPEG data without overflow checks (DC prediction
 * times the quantiser, found by tests/fuzz/fuzz_image.c; upstream 2.28 rejects those files), which
 * is undefined behaviour without it and defined wrapping (garbage pixels of a corrupt file) with it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Prototypes (also declared, identically, in image.c). */
int wt_stb_info(const uint8_t* bytes, int len, int* w, int* h, int* comp);
uint8_t* wt_stb_load_rgb(const uint8_t* bytes, int len, size_t alloc_limit, int* w, int* h,
                         int* over_budget);
const char* wt_stb_failure_reason(void);

static _Thread_local size_t wt_stb_limit = (size_t)-1; /* per decode, set by wt_stb_load_rgb */
static _Thread_local int wt_stb_over;                   /* a request exceeded the limit */

/* Zeroed: stb_image 2.27 mallocs its JPEG decoder state without clearing it, so a table the file
 * never defines (a quantisation table, found by tests/fuzz/fuzz_image.c) would be read from
 * whatever the heap held before: pixels that depend on, and reveal, earlier heap contents. image.c
 * rejects the undefined quantisation tables it can see; zeroing covers every other such read. */
static void* wt_stb_malloc(size_t size) {
    if (size > wt_stb_limit) {
        wt_stb_over = 1;
        return NULL;
    }
    return calloc(1, size ? size : 1);
}

static void* wt_stb_realloc(void* p, size_t size) {
    if (size > wt_stb_limit) {
        wt_stb_over = 1;
        return NULL; /* stb keeps (and later frees) p */
    }
    return realloc(p, size);
}

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_MAX_DIMENSIONS 16384 /* = WT_IMAGE_MAX_SIDE; image.c checks the header first anyway */
#define STBI_MALLOC(sz) wt_stb_malloc(sz)
#define STBI_REALLOC(p, sz) wt_stb_realloc(p, sz)
#define STBI_FREE(p) free(p)

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wconversion"
#endif

/* Debian installs the header at /usr/include/stb/. Emscripten's sysroot does not search
 * /usr/include, so without an include directory for it (see the report to the build's owner)
 * fall back to the absolute path; stb itself only includes standard headers, which then come from
 * the right (Emscripten's) libc. */
#if defined(__has_include)
#if __has_include(<stb/stb_image.h>)
#include <stb/stb_image.h>
#elif __has_include("/usr/include/stb/stb_image.h")
#include "/usr/include/stb/stb_image.h"
#else
#error "stb_image.h not found: install libstb-dev"
#endif
#else
#include <stb/stb_image.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
/* GCC reports static functions that stb declares but (with only JPEG and PNG) never defines at
 * the end of the file, outside the push/pop above; this file defines no static function of its
 * own after this point, so nothing of ours is hidden by it. */
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

int wt_stb_info(const uint8_t* bytes, int len, int* w, int* h, int* comp) {
    return stbi_info_from_memory(bytes, len, w, h, comp);
}

/* Decodes to 3-channel RGB. The result is malloc()ed (free() it). *over_budget is set when the
 * failure came from a block larger than alloc_limit. */
uint8_t* wt_stb_load_rgb(const uint8_t* bytes, int len, size_t alloc_limit, int* w, int* h,
                         int* over_budget) {
    int comp = 0;
    wt_stb_limit = alloc_limit;
    wt_stb_over = 0;
    uint8_t* pixels = stbi_load_from_memory(bytes, len, w, h, &comp, 3);
    *over_budget = wt_stb_over;
    wt_stb_limit = (size_t)-1;
    wt_stb_over = 0;
    return pixels;
}

const char* wt_stb_failure_reason(void) {
    const char* reason = stbi_failure_reason();
    return reason ? reason : "unknown error";
}
