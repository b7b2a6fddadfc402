/* wt_test_files.h: the shared test data beside the repository, for the C tests that read it.
 *   wt_test_shared_dir()        ${WT_SHARED_DIR} from the environment (Node's, under Emscripten),
 *                               else the compile-time WT_SHARED_DIR
 *   wt_test_read_file(path, &n) the whole file, NUL-terminated (n excludes the NUL), or NULL */
#ifndef WT_TEST_FILES_H
#define WT_TEST_FILES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef WT_SHARED_DIR
#define WT_SHARED_DIR "../shared"
#endif

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
/* the C library's getenv sees Emscripten's own environment, not the Node process's */
EM_JS(char*, wt_test_node_getenv, (const char* name), {
    var v = typeof process == "object" && process.env ? process.env[UTF8ToString(name)] : undefined;
    if (!v) return 0;
    var n = lengthBytesUTF8(v) + 1;
    var p = _malloc(n);
    stringToUTF8(v, p, n);
    return p;
});
#endif

static inline const char* wt_test_shared_dir(void) {
    static const char* dir;
    if (!dir) {
#ifdef __EMSCRIPTEN__
        const char* d = wt_test_node_getenv("WT_SHARED_DIR");
#else
        const char* d = getenv("WT_SHARED_DIR");
#endif
        dir = d && d[0] ? d : WT_SHARED_DIR;
    }
    return dir;
}

/* Reads in growing chunks, so it also works where the size is not known up front. */
static inline uint8_t* wt_test_read_file(const char* path, size_t* len) {
    *len = 0;
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t* buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 1 >= cap) { /* room for the NUL too */
            cap = cap ? cap * 2 : 65536;
            uint8_t* b = (uint8_t*)realloc(buf, cap);
            if (!b) { free(buf); fclose(f); return NULL; }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

#endif
