/* test_image.c: the image input path (src/image.c): decoding real photos and generated PNG/JPEG,
 * hostile inputs (truncated, bit-flipped, random, oversized, a zlib bomb, a small mutation fuzz),
 * EXIF orientation, RGBA frames, and resize/crop/scale against plain reference loops that follow
 * webtune.h's text (the bilinear one materialises the resized image, then slices it, as a TF.js
 * pipeline would).
 *
 * The photos come from ${WT_SHARED_DIR}/datasets/flowers (environment variable, else the
 * compile-time WT_SHARED_DIR). Under Emscripten the test reads them through NODERAWFS. */
#include <dirent.h>
#include <limits.h>

#include "webtune.h"
#include "wt_test.h"
#include "wt_test_files.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#endif
#if defined(__has_include)
#if __has_include(<stb/stb_image_write.h>)
#include <stb/stb_image_write.h>
#else /* Emscripten does not search /usr/include; see src/image_stb.c */
#include "/usr/include/stb/stb_image_write.h"
#endif
#else
#include <stb/stb_image_write.h>
#endif
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

static int cmp_str(const void* a, const void* b) {
    return strcmp(*(const char* const*)a, *(const char* const*)b);
}

/* Sorted names of the *.jpg files in dir; returns the count (-1 if the folder is missing). */
static int list_jpegs(const char* dir, char*** names_out) {
    DIR* d = opendir(dir);
    if (!d) return -1;
    char** names = NULL;
    int n = 0, cap = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".jpg") != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, (size_t)cap * sizeof *names);
            if (!names) { fprintf(stderr, "test: out of memory\n"); exit(2); }
        }
        names[n] = malloc(l + 1);
        memcpy(names[n], e->d_name, l + 1);
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    *names_out = names;
    return n;
}

static wt_image make_image(int w, int h) {
    wt_image img = {w, h, 3, malloc((size_t)w * (size_t)h * 3)};
    if (!img.pixels) { fprintf(stderr, "test: out of memory\n"); exit(2); }
    return img;
}

static wt_image random_image(wt_rng* r, int w, int h) {
    wt_image img = make_image(w, h);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) img.pixels[i] = (uint8_t)(wt_rng_u32(r) >> 24);
    return img;
}

static uint8_t px(const wt_image* img, int x, int y, int c) {
    return img->pixels[((size_t)y * img->width + x) * 3 + c];
}

/* ------------------------------------------------------------------------------------------- */
/* In-memory PNG writer (stb_image_write) and hand-made PNGs for header tests                  */

typedef struct membuf { uint8_t* data; size_t len, cap; } membuf;

static void membuf_write(void* ctx, void* data, int size) {
    membuf* m = ctx;
    if (m->len + (size_t)size > m->cap) {
        m->cap = (m->len + (size_t)size) * 2;
        m->data = realloc(m->data, m->cap);
        if (!m->data) { fprintf(stderr, "test: out of memory\n"); exit(2); }
    }
    memcpy(m->data + m->len, data, (size_t)size);
    m->len += (size_t)size;
}

static uint32_t crc32_png(const uint8_t* p, size_t n, uint32_t crc) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void png_chunk(membuf* m, const char* type, const uint8_t* data, uint32_t n) {
    uint8_t hdr[8];
    put32(hdr, n);
    memcpy(hdr + 4, type, 4);
    membuf_write(m, hdr, 8);
    if (n) membuf_write(m, (void*)data, (int)n);
    uint32_t crc = crc32_png((const uint8_t*)type, 4, 0);
    crc = crc32_png(data, n, crc);
    uint8_t c[4];
    put32(c, crc);
    membuf_write(m, c, 4);
}

/* An 8-bit RGB PNG whose IHDR says w x h and whose IDAT holds `zlib` (any bytes). */
static membuf png_with_header(uint32_t w, uint32_t h, const uint8_t* zlib, uint32_t zlen) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    membuf m = {0};
    membuf_write(&m, (void*)sig, 8);
    uint8_t ihdr[13] = {0};
    put32(ihdr, w);
    put32(ihdr + 4, h);
    ihdr[8] = 8; /* bit depth */
    ihdr[9] = 2; /* RGB */
    png_chunk(&m, "IHDR", ihdr, 13);
    png_chunk(&m, "IDAT", zlib, zlen);
    png_chunk(&m, "IEND", NULL, 0);
    return m;
}

/* ------------------------------------------------------------------------------------------- */
/* Decoding                                                                                      */

static uint64_t fnv1a(uint64_t h, const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void test_decode_daisy(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/datasets/flowers/train/daisy", wt_test_shared_dir());
    char** names = NULL;
    int n = list_jpegs(dir, &names);
    CHECK(n == 40, "%s: found %d JPEGs, expected 40 (set WT_SHARED_DIR)", dir, n);
    uint64_t hash = 1469598103934665603ULL;
    float* t = wt_test_alloc(224 * 224 * 3);
    for (int i = 0; i < n; i++) {
        char path[4352];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t len = 0;
        uint8_t* bytes = wt_test_read_file(path, &len);
        CHECK(bytes != NULL, "cannot read %s", path);
        if (!bytes) { free(names[i]); continue; }
        wt_image img;
        wt_status st = wt_image_decode(bytes, len, &img);
        CHECK(st == WT_OK, "%s: %s %s", names[i], wt_status_name(st), wt_last_error());
        if (st == WT_OK) {
            CHECK(img.width >= 100 && img.width <= 1000 && img.height >= 100 &&
                      img.height <= 1000 && img.channels == 3,
                  "%s: implausible size %dx%dx%d", names[i], img.width, img.height, img.channels);
            size_t count = (size_t)img.width * img.height * 3;
            uint8_t lo = 255, hi = 0;
            double sum = 0.0;
            for (size_t k = 0; k < count; k++) {
                if (img.pixels[k] < lo) lo = img.pixels[k];
                if (img.pixels[k] > hi) hi = img.pixels[k];
                sum += img.pixels[k];
            }
            CHECK(hi - lo > 100 && sum / (double)count > 10.0 && sum / (double)count < 245.0,
                  "%s: pixels look constant or blank (min %d max %d)", names[i], lo, hi);
            hash = fnv1a(hash, img.pixels, count);
            /* Both filters to a MobileNet input: finite, inside [-1, 1]. */
            for (int f = 0; f < 2; f++) {
                wt_preprocess p = {.out_h = 224, .out_w = 224, .filter = (wt_resize_filter)f};
                st = wt_image_to_tensor(&img, &p, t, 224 * 224 * 3);
                CHECK(st == WT_OK, "%s: to_tensor %s", names[i], wt_last_error());
                int bad = 0;
                for (size_t k = 0; k < 224 * 224 * 3; k++) bad += !(t[k] >= -1.0f && t[k] <= 1.0f);
                CHECK(bad == 0, "%s: %d tensor values outside [-1, 1]", names[i], bad);
            }
        }
        wt_image_free(&img);
        CHECK(img.pixels == NULL && img.width == 0, "wt_image_free zeroes the image");
        free(bytes);
        free(names[i]);
    }
    free(names);
    free(t);
    /* Native and wasm must print the same value (stb's SIMD and scalar JPEG paths agree bit for
     * bit). */
    printf("daisy: %d photos decoded, pixel hash %016llx\n", n, (unsigned long long)hash);
}

static void test_png_roundtrip(void) {
    wt_rng r = {11};
    const int w = 37, h = 23;
    for (int comp = 1; comp <= 4; comp++) {
        uint8_t* src = malloc((size_t)w * h * comp);
        for (int i = 0; i < w * h * comp; i++) src[i] = (uint8_t)(wt_rng_u32(&r) >> 24);
        int len = 0;
        uint8_t* png = stbi_write_png_to_mem(src, w * comp, w, h, comp, &len);
        CHECK(png != NULL && len > 8, "stb_image_write made no PNG");
        wt_image img;
        wt_status st = wt_image_decode(png, (size_t)len, &img);
        CHECK(st == WT_OK, "PNG comp %d: %s", comp, wt_last_error());
        if (st == WT_OK) {
            CHECK(img.width == w && img.height == h && img.channels == 3, "PNG size");
            int bad = 0;
            for (int i = 0; i < w * h; i++) {
                for (int c = 0; c < 3; c++) {
                    /* grey (1, 2) -> R = G = B; alpha (2, 4) dropped */
                    uint8_t want = comp <= 2 ? src[i * comp] : src[i * comp + c];
                    bad += img.pixels[i * 3 + c] != want;
                }
            }
            CHECK(bad == 0, "PNG comp %d: %d values differ after a round trip", comp, bad);
        }
        wt_image_free(&img);
        STBIW_FREE(png);
        free(src);
    }
}

/* An Adam7-interlaced PNG of w x h pixels, colour type 2 (RGB) or 6 (RGBA), bit depth 8 or 16,
 * sample value f(x, y, c) (16-bit: f*256 + (x & 1): decoding must keep the high byte). */
static uint16_t sample(int x, int y, int c) { return (uint16_t)((x * 3 + y * 5 + c * 70) & 255); }

static membuf interlaced_png(int w, int h, int colour, int depth) {
    static const int adam7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                    {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
    int comps = colour == 6 ? 4 : 3, bps = depth / 8;
    membuf raw = {0};
    for (int pass = 0; pass < 7; pass++) {
        int x0 = adam7[pass][0], y0 = adam7[pass][1], dx = adam7[pass][2], dy = adam7[pass][3];
        int pw = (w - x0 + dx - 1) / dx, ph = (h - y0 + dy - 1) / dy;
        if (pw <= 0 || ph <= 0) continue;
        for (int j = 0; j < ph; j++) {
            uint8_t filter = 0;
            membuf_write(&raw, &filter, 1);
            for (int i = 0; i < pw; i++)
                for (int c = 0; c < comps; c++) {
                    int x = x0 + i * dx, y = y0 + j * dy;
                    uint16_t v = sample(x, y, c);
                    uint8_t b[2] = {(uint8_t)v, (uint8_t)(x & 1)};
                    membuf_write(&raw, b, bps);
                }
        }
    }
    int zlen = 0;
    uint8_t* z = stbi_zlib_compress(raw.data, (int)raw.len, &zlen, 5);
    membuf m = png_with_header((uint32_t)w, (uint32_t)h, z, (uint32_t)zlen);
    m.data[8 + 8 + 8] = (uint8_t)depth;    /* IHDR bit depth */
    m.data[8 + 8 + 9] = (uint8_t)colour;   /* colour type */
    m.data[8 + 8 + 12] = 1;                /* interlace: Adam7 */
    uint32_t crc = crc32_png(m.data + 12, 17, 0); /* "IHDR" + 13 data bytes */
    put32(m.data + 8 + 8 + 13, crc);
    STBIW_FREE(z);
    free(raw.data);
    return m;
}

static void test_png_interlaced(void) {
    const int shapes[][2] = {{301, 203}, {1, 1}, {7, 3}};
    for (size_t k = 0; k < 3; k++)
        for (int colour = 2; colour <= 6; colour += 4)
            for (int depth = 8; depth <= 16; depth += 8) {
                int w = shapes[k][0], h = shapes[k][1];
                membuf m = interlaced_png(w, h, colour, depth);
                wt_image img;
                wt_status st = wt_image_decode(m.data, m.len, &img);
                CHECK(st == WT_OK, "interlaced %dx%d colour %d depth %d: %s", w, h, colour, depth,
                      wt_last_error());
                if (st == WT_OK) {
                    int bad = img.width != w || img.height != h;
                    for (int y = 0; y < h && !bad; y++)
                        for (int x = 0; x < w; x++)
                            for (int c = 0; c < 3; c++) bad += px(&img, x, y, c) != sample(x, y, c);
                    CHECK(bad == 0, "interlaced %dx%d colour %d depth %d: %d values differ", w, h,
                          colour, depth, bad);
                }
                wt_image_free(&img);
                free(m.data);
            }
}

static int status_is(wt_status got, wt_status want, const char* what) {
    int ok = got == want && wt_last_error()[0] != '\0';
    CHECK(ok, "%s: got %s, expected %s (message \"%s\")", what, wt_status_name(got),
          wt_status_name(want), wt_last_error());
    return ok;
}

/* Decodes bytes expecting failure `want`; *out must come back zeroed. */
static void expect_decode_fail(const uint8_t* bytes, size_t len, wt_status want, const char* what) {
    wt_image img = {7, 7, 3, NULL};
    wt_clear_error();
    wt_status st = wt_image_decode(bytes, len, &img);
    status_is(st, want, what);
    CHECK(img.pixels == NULL && img.width == 0 && img.height == 0, "%s: out not zeroed", what);
    if (st == WT_OK) wt_image_free(&img);
}

/* Offset of the first header segment with marker m (or, if m2 != 0, m2) in a JPEG; 0 if none. */
static size_t find_marker(const uint8_t* b, size_t n, uint8_t m, uint8_t m2) {
    size_t pos = 2;
    while (pos + 4 <= n && b[pos] == 0xFF && b[pos + 1] != 0xDA) {
        uint8_t x = b[pos + 1];
        if (x == m || (m2 && x == m2)) return pos;
        pos += 2 + ((size_t)b[pos + 2] << 8 | b[pos + 3]);
    }
    return 0;
}

static size_t find_sof(const uint8_t* b, size_t n) {
    size_t p = find_marker(b, n, 0xC0, 0xC2);
    return p ? p : find_marker(b, n, 0xC1, 0);
}

/* A 320x224 baseline JPEG from the flowers set (the tests never copy photos into the repo). */
static uint8_t* read_daisy(size_t* len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/datasets/flowers/train/daisy/10391248763_1d16681106_n.jpg",
             wt_test_shared_dir());
    uint8_t* jpg = wt_test_read_file(path, len);
    CHECK(jpg != NULL, "cannot read %s", path);
    return jpg;
}

static void test_decode_errors(void) {
    wt_rng r = {23};
    wt_image img;
    status_is(wt_image_decode(NULL, 10, &img), WT_ERR_INVALID_ARGUMENT, "NULL bytes");
    uint8_t one = 0xFF;
    status_is(wt_image_decode(&one, 0, &img), WT_ERR_INVALID_ARGUMENT, "len 0");
    status_is(wt_image_decode(&one, 1, NULL), WT_ERR_INVALID_ARGUMENT, "NULL out");
    expect_decode_fail(&one, 1, WT_ERR_CORRUPT, "1-byte file 0xFF (a JPEG's first byte)");
    uint8_t x = 'x';
    expect_decode_fail(&x, 1, WT_ERR_UNSUPPORTED, "1-byte file 'x'");
    CHECK(strstr(wt_last_error(), "not a JPEG or PNG") != NULL, "message: %s", wt_last_error());
    static const uint8_t gif[] = "GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    expect_decode_fail(gif, sizeof gif - 1, WT_ERR_UNSUPPORTED, "GIF");

    uint8_t rnd[4096];
    for (int trial = 0; trial < 20; trial++) {
        for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (uint8_t)(wt_rng_u32(&r) >> 24);
        if (rnd[0] == 0xFF || rnd[0] == 0x89) rnd[0] = 0;
        expect_decode_fail(rnd, sizeof rnd, WT_ERR_UNSUPPORTED, "random bytes");
        rnd[0] = 0xFF; rnd[1] = 0xD8; rnd[2] = 0xFF;
        expect_decode_fail(rnd, sizeof rnd, WT_ERR_CORRUPT, "JPEG magic + random bytes");
        memcpy(rnd, "\x89PNG\r\n\x1a\n", 8);
        expect_decode_fail(rnd, sizeof rnd, WT_ERR_CORRUPT, "PNG magic + random bytes");
    }

    /* A real photo, damaged. */
    size_t len = 0;
    uint8_t* jpg = read_daisy(&len);
    if (jpg) {
        expect_decode_fail(jpg, len / 2, WT_ERR_CORRUPT, "truncated JPEG (first half)");
        CHECK(strstr(wt_last_error(), "JPEG") != NULL, "message names the format: %s",
              wt_last_error());
        expect_decode_fail(jpg, 100, WT_ERR_CORRUPT, "JPEG cut inside its header");
        uint8_t* bad = malloc(len);
        memcpy(bad, jpg, len);
        bad[1] ^= 0x02; /* SOI D8 -> DA: no longer a JPEG */
        expect_decode_fail(bad, len, WT_ERR_UNSUPPORTED, "bit-flipped SOI marker");
        size_t sof = find_sof(jpg, len);
        CHECK(sof != 0, "no SOF in the daisy photo");
        if (sof) {
            memcpy(bad, jpg, len);
            bad[sof + 4] ^= 0x01; /* sample precision 8 -> 9 */
            expect_decode_fail(bad, len, WT_ERR_CORRUPT, "bit-flipped SOF precision");
            memcpy(bad, jpg, len);
            bad[sof + 9] = 0; /* component count 0 */
            expect_decode_fail(bad, len, WT_ERR_CORRUPT, "SOF with no components");
            memcpy(bad, jpg, len);
            bad[sof + 5] = 0x80; /* height 32768+: over the side limit */
            expect_decode_fail(bad, len, WT_ERR_SHAPE, "JPEG header 32768+ pixels tall");
        }
        /* A Huffman table whose 16 code counts sum past 256: stb 2.27 would write past its
         * table (UBSan reports it); webtune refuses it first. Also after the first scan. */
        size_t dht = find_marker(jpg, len, 0xC4, 0);
        CHECK(dht != 0, "no DHT in the daisy photo");
        if (dht) {
            memcpy(bad, jpg, len);
            for (int i = 0; i < 16; i++) bad[dht + 5 + i] = 0x20;
            expect_decode_fail(bad, len, WT_ERR_CORRUPT, "DHT with 512 codes");
            CHECK(strstr(wt_last_error(), "Huffman") != NULL, "DHT message: %s", wt_last_error());
        }
        free(bad);
        free(jpg);
    }

    /* PNG headers claiming huge images: refused from the header, before any allocation. */
    static const uint8_t tiny_zlib[] = {0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01};
    const uint32_t dims[][2] = {{100000, 100000}, {20000, 16}, {16, 16385}, {10000, 10000},
                                {16384, 16384}, {0x7fffffff, 1}, {0, 10}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        membuf m = png_with_header(dims[i][0], dims[i][1], tiny_zlib, sizeof tiny_zlib);
        char what[64];
        snprintf(what, sizeof what, "PNG header %ux%u", dims[i][0], dims[i][1]);
        expect_decode_fail(m.data, m.len, dims[i][0] == 0 ? WT_ERR_CORRUPT : WT_ERR_SHAPE, what);
        free(m.data);
    }

    /* A zlib bomb: a 16x16 PNG whose IDAT inflates to 4 MiB. The decoder may not allocate more
     * than a 16x16 image needs. */
    {
        size_t big = (size_t)4 << 20;
        uint8_t* zeros = calloc(big, 1);
        int zlen = 0;
        uint8_t* z = stbi_zlib_compress(zeros, (int)big, &zlen, 5);
        membuf m = png_with_header(16, 16, z, (uint32_t)zlen);
        expect_decode_fail(m.data, m.len, WT_ERR_CORRUPT, "PNG zlib bomb");
        CHECK(strstr(wt_last_error(), "larger than") != NULL, "bomb message: %s", wt_last_error());
        free(m.data);
        STBIW_FREE(z);
        free(zeros);
    }
}

/* Random byte changes and cuts in a small JPEG and PNG: decode returns a status, never crashes
 * or leaks (ASan); a success is a sane image. The SOF/IHDR size bytes are left alone so that no
 * mutant asks for a legitimately huge image (that path is tested above). */
static void fuzz_one(const uint8_t* good, size_t len, size_t keep_lo, size_t keep_hi, wt_rng* r,
                     int trials, const char* what) {
    uint8_t* buf = malloc(len);
    int n_ok = 0, bad_status = 0;
    for (int t = 0; t < trials; t++) {
        memcpy(buf, good, len);
        size_t n = len;
        int edits = 1 + (int)(wt_rng_u32(r) % 8);
        for (int e = 0; e < edits; e++) {
            /* half the edits in the first 700 bytes (headers, tables) */
            size_t span = (wt_rng_u32(r) & 1) && len > 700 ? 700 : len;
            size_t pos = 8 + wt_rng_u32(r) % (uint32_t)(span - 8); /* keep the magic */
            if (pos >= keep_lo && pos < keep_hi) continue;
            buf[pos] = (uint8_t)(wt_rng_u32(r) >> 24);
        }
        if (wt_rng_u32(r) % 4 == 0) n = 8 + wt_rng_u32(r) % (uint32_t)(len - 8);
        wt_image img;
        wt_status st = wt_image_decode(buf, n, &img);
        if (st == WT_OK) {
            n_ok++;
            CHECK(img.pixels && img.width > 0 && img.height > 0 && img.channels == 3,
                  "%s: OK with a broken image", what);
            wt_image_free(&img);
        } else if (st != WT_ERR_CORRUPT && st != WT_ERR_SHAPE) {
            bad_status++;
            fprintf(stderr, "%s: mutant %d: %s %s\n", what, t, wt_status_name(st), wt_last_error());
        }
    }
    CHECK(bad_status == 0, "%s: %d mutants gave an unexpected status", what, bad_status);
    printf("fuzz %s: %d mutants, %d still decode\n", what, trials, n_ok);
    free(buf);
}

static void test_decode_fuzz(void) {
    wt_rng r = {31};
    size_t len = 0;
    uint8_t* jpg = read_daisy(&len);
    if (jpg) {
        size_t sof = find_sof(jpg, len);
        CHECK(sof != 0, "daisy photo has no SOF");
        fuzz_one(jpg, len, sof + 5, sof + 9, &r, 300, "JPEG");
        free(jpg);
    }
    wt_image src = make_image(48, 32);
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 48; x++) {
            uint8_t* p = src.pixels + ((size_t)y * 48 + x) * 3;
            p[0] = (uint8_t)(x * 5); p[1] = (uint8_t)(y * 7); p[2] = (uint8_t)((x ^ y) * 9);
        }
    int plen = 0;
    uint8_t* png = stbi_write_png_to_mem(src.pixels, 48 * 3, 48, 32, 3, &plen);
    fuzz_one(png, (size_t)plen, 16, 24, &r, 400, "PNG");
    STBIW_FREE(png);
    free(src.pixels);
}

/* ------------------------------------------------------------------------------------------- */
/* EXIF orientation                                                                              */

/* Reference transforms, written as whole-image operations (not webtune's per-pixel table). */
static wt_image mirror_h(wt_image a) {
    wt_image b = make_image(a.width, a.height);
    for (int y = 0; y < a.height; y++)
        for (int x = 0; x < a.width; x++)
            memcpy(b.pixels + ((size_t)y * b.width + x) * 3,
                   a.pixels + ((size_t)y * a.width + (a.width - 1 - x)) * 3, 3);
    free(a.pixels);
    return b;
}

/* Rotates 90 degrees clockwise: the left column, read bottom to top, becomes the top row. */
static wt_image rotate_cw(wt_image a) {
    wt_image b = make_image(a.height, a.width);
    for (int y = 0; y < a.height; y++)
        for (int x = 0; x < a.width; x++)
            memcpy(b.pixels + ((size_t)x * b.width + (a.height - 1 - y)) * 3,
                   a.pixels + ((size_t)y * a.width + x) * 3, 3);
    free(a.pixels);
    return b;
}

static wt_image upright(wt_image a, int o) {
    switch (o) {
    case 2: return mirror_h(a);
    case 3: return rotate_cw(rotate_cw(a));
    case 4: return rotate_cw(rotate_cw(mirror_h(a)));              /* mirror vertical */
    case 5: return rotate_cw(rotate_cw(rotate_cw(mirror_h(a)))); /* transpose */
    case 6: return rotate_cw(a);
    case 7: return rotate_cw(mirror_h(a));                         /* transverse */
    case 8: return rotate_cw(rotate_cw(rotate_cw(a)));
    default: return a;
    }
}

/* A JPEG with an APP1 Exif segment (TIFF, given byte order) holding orientation o. */
static membuf jpeg_with_orientation(const membuf* jpg, int o, int little, int truncate_ifd) {
    uint8_t tiff[8 + 2 + 12 + 4];
    memset(tiff, 0, sizeof tiff);
    #define W16(p, v) (little ? ((p)[0] = (uint8_t)(v), (p)[1] = (uint8_t)((v) >> 8)) \
                              : ((p)[0] = (uint8_t)((v) >> 8), (p)[1] = (uint8_t)(v)))
    #define W32(p, v) (little ? (W16(p, (v) & 0xffff), W16((p) + 2, (v) >> 16)) \
                              : (W16(p, (v) >> 16), W16((p) + 2, (v) & 0xffff)))
    tiff[0] = tiff[1] = little ? 'I' : 'M';
    W16(tiff + 2, 42);
    W32(tiff + 4, 8);
    W16(tiff + 8, 1);                  /* one entry */
    W16(tiff + 10, 0x0112);            /* orientation */
    W16(tiff + 12, 3);                 /* SHORT */
    W32(tiff + 14, 1);                 /* count */
    W16(tiff + 18, (unsigned)o);       /* value */
    #undef W16
    #undef W32
    size_t tlen = truncate_ifd ? 14 : sizeof tiff;
    size_t seg = 2 + 6 + tlen;
    membuf m = {0};
    membuf_write(&m, jpg->data, 2); /* SOI */
    uint8_t app1[4] = {0xFF, 0xE1, (uint8_t)(seg >> 8), (uint8_t)seg};
    membuf_write(&m, app1, 4);
    membuf_write(&m, "Exif\0\0", 6);
    membuf_write(&m, tiff, (int)tlen);
    membuf_write(&m, jpg->data + 2, (int)(jpg->len - 2));
    return m;
}

static void test_exif_orientation(void) {
    /* The same JPEG data with an EXIF orientation spliced in must decode to exactly the plain
     * decode, turned by the reference transforms. (stb_image_write's JPEG encoder trips UBSan, so
     * the test uses a real photo.) */
    size_t len = 0;
    uint8_t* bytes = read_daisy(&len);
    if (!bytes) return;
    membuf jpg = {bytes, len, len};
    wt_image plain;
    CHECK(wt_image_decode(bytes, len, &plain) == WT_OK, "%s", wt_last_error());
    for (int o = 1; o <= 8; o++) {
        for (int little = 0; little <= 1; little++) {
            membuf m = jpeg_with_orientation(&jpg, o, little, 0);
            wt_image img;
            wt_status st = wt_image_decode(m.data, m.len, &img);
            CHECK(st == WT_OK, "orientation %d: %s", o, wt_last_error());
            wt_image copy = make_image(plain.width, plain.height);
            memcpy(copy.pixels, plain.pixels, (size_t)plain.width * plain.height * 3);
            wt_image want = upright(copy, o);
            if (st == WT_OK) {
                size_t n = (size_t)want.width * want.height * 3;
                int same = img.width == want.width && img.height == want.height &&
                           memcmp(img.pixels, want.pixels, n) == 0;
                CHECK(same, "orientation %d (%s): %dx%d, expected %dx%d or pixels differ", o,
                      little ? "II" : "MM", img.width, img.height, want.width, want.height);
            }
            wt_image_free(&img);
            free(want.pixels);
            free(m.data);
        }
    }
    /* A broken EXIF block is ignored: the picture still decodes, unrotated. */
    membuf m = jpeg_with_orientation(&jpg, 6, 1, 1);
    wt_image img;
    CHECK(wt_image_decode(m.data, m.len, &img) == WT_OK && img.width == plain.width &&
              img.height == plain.height,
          "truncated EXIF: %s", wt_last_error());
    wt_image_free(&img);
    free(m.data);
    wt_image_free(&plain);
    free(bytes);
}

/* ------------------------------------------------------------------------------------------- */
/* RGBA frames                                                                                   */

static void test_from_rgba(void) {
    /* 3x2 with a 16-byte stride (4 bytes of padding per row). */
    uint8_t frame[16 + 12];
    for (int i = 0; i < (int)sizeof frame; i++) frame[i] = (uint8_t)(i * 7 + 1);
    wt_image img;
    wt_status st = wt_image_from_rgba(frame, sizeof frame, 3, 2, 16, &img);
    CHECK(st == WT_OK, "from_rgba: %s", wt_last_error());
    if (st == WT_OK) {
        CHECK(img.width == 3 && img.height == 2 && img.channels == 3, "from_rgba size");
        int bad = 0;
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++)
                for (int c = 0; c < 3; c++) bad += px(&img, x, y, c) != frame[y * 16 + x * 4 + c];
        CHECK(bad == 0, "from_rgba: %d values differ (alpha must be dropped)", bad);
    }
    wt_image_free(&img);
    st = wt_image_from_rgba(frame, 24, 3, 2, 0, &img); /* stride 0 = width*4 */
    CHECK(st == WT_OK && px(&img, 0, 1, 0) == frame[12] && px(&img, 2, 1, 2) == frame[22],
          "from_rgba stride 0: %s", wt_last_error());
    wt_image_free(&img);

    status_is(wt_image_from_rgba(NULL, 24, 3, 2, 0, &img), WT_ERR_INVALID_ARGUMENT, "NULL rgba");
    status_is(wt_image_from_rgba(frame, 24, 3, 2, 0, NULL), WT_ERR_INVALID_ARGUMENT, "NULL out");
    status_is(wt_image_from_rgba(frame, 24, 3, 2, -12, &img), WT_ERR_INVALID_ARGUMENT,
              "negative stride");
    status_is(wt_image_from_rgba(frame, 24, 3, 2, 11, &img), WT_ERR_SHAPE, "stride < width*4");
    status_is(wt_image_from_rgba(frame, 23, 3, 2, 0, &img), WT_ERR_SHAPE, "buffer too small");
    status_is(wt_image_from_rgba(frame, 27, 3, 2, 16, &img), WT_ERR_SHAPE, "strided too small");
    status_is(wt_image_from_rgba(frame, 24, 0, 2, 0, &img), WT_ERR_SHAPE, "width 0");
    status_is(wt_image_from_rgba(frame, 24, 3, -1, 0, &img), WT_ERR_SHAPE, "height -1");
    status_is(wt_image_from_rgba(frame, SIZE_MAX, 100000, 100000, 0, &img), WT_ERR_SHAPE,
              "100000x100000 frame");
    status_is(wt_image_from_rgba(frame, sizeof frame, 16, 16384, INT_MAX, &img), WT_ERR_SHAPE,
              "stride*height (overflows 32 bits) over the buffer");
    CHECK(img.pixels == NULL && img.width == 0, "from_rgba failure leaves out zeroed");
}

/* ------------------------------------------------------------------------------------------- */
/* Resize, crop, scale                                                                           */

/* The documented crop geometry, computed the way a JS caller would (Math.round in doubles). */
static void ref_geometry(int W, int H, int ow, int oh, wt_crop crop, int* rw, int* rh, int* x0,
                         int* y0) {
    if (crop == WT_CROP_NONE) { *rw = ow; *rh = oh; *x0 = *y0 = 0; return; }
    if ((double)W / H >= (double)ow / oh) {
        *rh = oh;
        *rw = (int)floor((double)W * oh / H + 0.5);
    } else {
        *rw = ow;
        *rh = (int)floor((double)H * ow / W + 0.5);
    }
    *x0 = (*rw - ow) / 2;
    *y0 = (*rh - oh) / 2;
}

/* tfjs-backend-cpu's resizeBilinear (halfPixelCenters = true) on a whole image, into floats. */
static float* ref_bilinear_full(const wt_image* img, int nh, int nw) {
    float* out = wt_test_alloc((size_t)nh * nw * 3);
    double ry = (double)img->height / nh, rx = (double)img->width / nw;
    for (int r = 0; r < nh; r++) {
        double fr = ry * (r + 0.5) - 0.5;
        int r0 = (int)fmax(0.0, floor(fr));
        double rf = fr - r0;
        int r1 = (int)fmin(img->height - 1, ceil(fr));
        for (int k = 0; k < nw; k++) {
            double fc = rx * (k + 0.5) - 0.5;
            int c0 = (int)fmax(0.0, floor(fc));
            double cf = fc - c0;
            int c1 = (int)fmin(img->width - 1, ceil(fc));
            for (int d = 0; d < 3; d++) {
                double tl = px(img, c0, r0, d), tr = px(img, c1, r0, d);
                double bl = px(img, c0, r1, d), br = px(img, c1, r1, d);
                double top = tl + (tr - tl) * cf, bot = bl + (br - bl) * cf;
                out[((size_t)r * nw + k) * 3 + d] = (float)(top + (bot - top) * rf);
            }
        }
    }
    return out;
}

/* Area average over a whole image: 2-D loop over every source pixel with its overlap area. */
static float* ref_area_full(const wt_image* img, int nh, int nw) {
    float* out = wt_test_alloc((size_t)nh * nw * 3);
    const int W = img->width, H = img->height;
    for (int r = 0; r < nh; r++) {
        double ya = (double)r * H / nh, yb = (double)(r + 1) * H / nh;
        for (int k = 0; k < nw; k++) {
            double xa = (double)k * W / nw, xb = (double)(k + 1) * W / nw;
            double acc[3] = {0, 0, 0}, area = 0;
            for (int y = 0; y < H; y++) {
                double wy = fmin(y + 1, yb) - fmax(y, ya);
                if (wy <= 0) continue;
                for (int x = 0; x < W; x++) {
                    double wx = fmin(x + 1, xb) - fmax(x, xa);
                    if (wx <= 0) continue;
                    area += wy * wx;
                    for (int d = 0; d < 3; d++) acc[d] += wy * wx * px(img, x, y, d);
                }
            }
            for (int d = 0; d < 3; d++) out[((size_t)r * nw + k) * 3 + d] = (float)(acc[d] / area);
        }
    }
    return out;
}

/* Reference preprocessing: resize the whole image to rh x rw, then slice; scale 1, offset 0 is
 * requested by the callers so values stay in pixel units. */
static float* ref_preprocess(const wt_image* img, const wt_preprocess* p) {
    int rw, rh, x0, y0;
    ref_geometry(img->width, img->height, p->out_w, p->out_h, p->crop, &rw, &rh, &x0, &y0);
    float* full = p->filter == WT_RESIZE_AREA ? ref_area_full(img, rh, rw)
                                              : ref_bilinear_full(img, rh, rw);
    float* out = wt_test_alloc((size_t)p->out_h * p->out_w * 3);
    for (int y = 0; y < p->out_h; y++)
        memcpy(out + (size_t)y * p->out_w * 3, full + ((size_t)(y0 + y) * rw + x0) * 3,
               (size_t)p->out_w * 3 * sizeof(float));
    free(full);
    return out;
}

static float* run_tensor(const wt_image* img, const wt_preprocess* p) {
    size_t n = (size_t)p->out_h * p->out_w * 3;
    float* out = wt_test_alloc(n);
    wt_status st = wt_image_to_tensor(img, p, out, n);
    CHECK(st == WT_OK, "to_tensor %dx%d -> %dx%d: %s", img->width, img->height, p->out_w,
          p->out_h, wt_last_error());
    return out;
}

static void test_resize_constant_and_identity(void) {
    wt_image img = make_image(37, 23);
    for (int i = 0; i < 37 * 23; i++) {
        img.pixels[3 * i] = 10; img.pixels[3 * i + 1] = 200; img.pixels[3 * i + 2] = 77;
    }
    const int sizes[][2] = {{5, 7}, {64, 64}, {23, 37}, {100, 13}, {1, 1}, {224, 224}};
    for (int f = 0; f < 2; f++)
        for (int c = 0; c < 2; c++)
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                wt_preprocess p = {sizes[s][0], sizes[s][1], (wt_resize_filter)f, (wt_crop)c,
                                   1.0f, 0.0f};
                float* t = run_tensor(&img, &p);
                size_t n = (size_t)p.out_h * p.out_w;
                uint8_t* u = malloc(n * 3);
                CHECK(wt_image_resize_u8(&img, &p, u, n * 3) == WT_OK, "resize_u8 %s",
                      wt_last_error());
                int bad = 0;
                for (size_t i = 0; i < n; i++) {
                    bad += t[3 * i] != 10.0f || t[3 * i + 1] != 200.0f || t[3 * i + 2] != 77.0f;
                    bad += u[3 * i] != 10 || u[3 * i + 1] != 200 || u[3 * i + 2] != 77;
                }
                CHECK(bad == 0, "constant image not constant: filter %d crop %d size %dx%d", f, c,
                      p.out_w, p.out_h);
                free(u);
                free(t);
            }
    free(img.pixels);

    /* Same size: every filter and crop is the identity. */
    wt_rng r = {5};
    img = random_image(&r, 13, 9);
    for (int f = 0; f < 2; f++)
        for (int c = 0; c < 2; c++) {
            wt_preprocess p = {9, 13, (wt_resize_filter)f, (wt_crop)c, 1.0f, 0.0f};
            float* t = run_tensor(&img, &p);
            int bad = 0;
            for (int i = 0; i < 13 * 9 * 3; i++) bad += t[i] != (float)img.pixels[i];
            CHECK(bad == 0, "same-size resize (filter %d crop %d) is not the identity", f, c);
            free(t);
        }
    free(img.pixels);
}

static uint8_t round_half_even(float v) {
    float fl = floorf(v);
    int i = (int)fl;
    if (v - fl > 0.5f || (v - fl == 0.5f && (i % 2))) i++;
    return (uint8_t)(i < 0 ? 0 : i > 255 ? 255 : i);
}

static void test_area_exact(void) {
    wt_rng r = {7};
    for (int k = 2; k <= 3; k++) {
        wt_image img = random_image(&r, 4 * k, 3 * k);
        wt_preprocess p = {3, 4, WT_RESIZE_AREA, WT_CROP_NONE, 1.0f, 0.0f};
        float* t = run_tensor(&img, &p);
        uint8_t u[4 * 3 * 3];
        CHECK(wt_image_resize_u8(&img, &p, u, sizeof u) == WT_OK, "%s", wt_last_error());
        int bad_f = 0, bad_u = 0, ties = 0;
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 4; x++)
                for (int c = 0; c < 3; c++) {
                    int sum = 0;
                    for (int dy = 0; dy < k; dy++)
                        for (int dx = 0; dx < k; dx++) sum += px(&img, k * x + dx, k * y + dy, c);
                    float want = (float)((double)sum / (k * k));
                    size_t i = ((size_t)y * 4 + x) * 3 + c;
                    bad_f += t[i] != want;
                    bad_u += u[i] != round_half_even(want);
                    ties += k == 2 && sum % 4 == 2;
                }
        CHECK(bad_f == 0, "area %dx downscale is not the exact %dx%d block mean (%d values)", k, k,
              k, bad_f);
        CHECK(bad_u == 0, "area %dx downscale u8 rounding (%d values, %d ties)", k, bad_u, ties);
        free(t);
        free(img.pixels);
    }
}

static void test_bilinear_gradient(void) {
    /* Columns 10, 50, 90, 130 on three identical rows; doubled in width and height. */
    wt_image img = make_image(4, 3);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 4; x++)
            for (int c = 0; c < 3; c++)
                img.pixels[(y * 4 + x) * 3 + c] = (uint8_t)(10 + 40 * x + c);
    wt_preprocess p = {6, 8, WT_RESIZE_BILINEAR, WT_CROP_NONE, 1.0f, 0.0f};
    float* t = run_tensor(&img, &p);
    int bad = 0;
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 8; x++)
            for (int c = 0; c < 3; c++) {
                /* source x = (x + 0.5)/2 - 0.5, clamped to [0, 3]: linear inside, flat at edges */
                double sx = fmin(3.0, fmax(0.0, (x + 0.5) / 2.0 - 0.5));
                float want = (float)(10 + c + 40.0 * sx);
                bad += t[((size_t)y * 8 + x) * 3 + c] != want;
            }
    CHECK(bad == 0, "bilinear upscale of a gradient is not linear (%d values)", bad);
    CHECK(t[3 * 1] == 20.0f && t[3 * 6] == 120.0f && t[0] == 10.0f && t[3 * 7] == 130.0f,
          "gradient values %g %g %g %g", t[0], t[3], t[18], t[21]);
    free(t);
    free(img.pixels);
}

static void test_center_crop(void) {
    /* Wide 30x10 -> 10x10: no scaling (the short side already fits), columns 10..19 survive. Tall
     * 10x30 likewise rows 10..19; 31x10: (31-10)/2 = 10 rounds down. */
    const int cases[][2] = {{30, 10}, {10, 30}, {31, 10}};
    for (int k = 0; k < 3; k++) {
        int W = cases[k][0], H = cases[k][1];
        wt_image img = make_image(W, H);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint8_t* q = img.pixels + ((size_t)y * W + x) * 3;
                q[0] = (uint8_t)(x * 8); q[1] = (uint8_t)(y * 8); q[2] = 1;
            }
        int x0 = W > H ? (W - H) / 2 : 0, y0 = H > W ? (H - W) / 2 : 0;
        for (int f = 0; f < 2; f++) {
            wt_preprocess p = {10, 10, (wt_resize_filter)f, WT_CROP_CENTER, 1.0f, 0.0f};
            float* t = run_tensor(&img, &p);
            int bad = 0;
            for (int y = 0; y < 10; y++)
                for (int x = 0; x < 10; x++)
                    for (int c = 0; c < 3; c++)
                        bad += t[((size_t)y * 10 + x) * 3 + c] !=
                               (float)px(&img, x0 + x, y0 + y, c);
            CHECK(bad == 0, "centre crop of %dx%d (filter %d) is not the middle (%d values)", W, H,
                  f, bad);
            free(t);
        }
        free(img.pixels);
    }
    /* 60x20 -> 10x10: halve to 30x10, keep columns 10..19: 2x2 means of source columns 20..39. */
    wt_rng r = {3};
    wt_image img = random_image(&r, 60, 20);
    wt_preprocess p = {10, 10, WT_RESIZE_AREA, WT_CROP_CENTER, 1.0f, 0.0f};
    float* t = run_tensor(&img, &p);
    int bad = 0;
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 10; x++)
            for (int c = 0; c < 3; c++) {
                int s = px(&img, 20 + 2 * x, 2 * y, c) + px(&img, 21 + 2 * x, 2 * y, c) +
                        px(&img, 20 + 2 * x, 2 * y + 1, c) + px(&img, 21 + 2 * x, 2 * y + 1, c);
                bad += t[((size_t)y * 10 + x) * 3 + c] != (float)s / 4.0f;
            }
    CHECK(bad == 0, "scaled centre crop picks the wrong middle (%d values)", bad);
    free(t);
    free(img.pixels);
}

/* Random sizes against the reference: bilinear bit-exact (same formula, same order), area within
 * rounding (a different summation order). */
static void test_resize_vs_reference(void) {
    wt_rng r = {99};
    double worst_area = 0.0;
    int bilinear_mismatch = 0;
    for (int trial = 0; trial < 300; trial++) {
        int W = 1 + (int)(wt_rng_u32(&r) % 40), H = 1 + (int)(wt_rng_u32(&r) % 40);
        if (trial % 10 == 0) { /* a few larger ones */
            W = 1 + (int)(wt_rng_u32(&r) % 300);
            H = 1 + (int)(wt_rng_u32(&r) % 300);
        }
        wt_image img = random_image(&r, W, H);
        wt_preprocess p = {1 + (int)(wt_rng_u32(&r) % 30), 1 + (int)(wt_rng_u32(&r) % 30),
                           (wt_resize_filter)(wt_rng_u32(&r) % 2), (wt_crop)(wt_rng_u32(&r) % 2),
                           1.0f, 0.0f};
        float* got = run_tensor(&img, &p);
        float* want = ref_preprocess(&img, &p);
        size_t n = (size_t)p.out_h * p.out_w * 3;
        if (p.filter == WT_RESIZE_BILINEAR) {
            if (!wt_bit_equal(got, want, n)) {
                bilinear_mismatch++;
                fprintf(stderr, "bilinear %dx%d -> %dx%d crop %d differs from the reference\n", W,
                        H, p.out_w, p.out_h, (int)p.crop);
            }
        } else {
            double e = wt_max_rel_err(got, want, n, 1.0);
            if (e > worst_area) worst_area = e;
        }
        free(got);
        free(want);
        free(img.pixels);
    }
    CHECK(bilinear_mismatch == 0, "%d bilinear resizes differ from the TF.js formula",
          bilinear_mismatch);
    CHECK(worst_area < 1e-5, "area resize differs from the reference by %g", worst_area);
}

static void test_scaling(void) {
    wt_image img = make_image(2, 1);
    img.pixels[0] = 0; img.pixels[1] = 255; img.pixels[2] = 128;
    img.pixels[3] = 255; img.pixels[4] = 0; img.pixels[5] = 127;
    wt_preprocess p = {1, 2, WT_RESIZE_BILINEAR, WT_CROP_NONE, 0.0f, 0.0f}; /* MobileNet */
    float t[6];
    CHECK(wt_image_to_tensor(&img, &p, t, 6) == WT_OK, "%s", wt_last_error());
    CHECK(t[0] == -1.0f && t[1] == 1.0f && t[3] == 1.0f && t[4] == -1.0f,
          "0 -> -1 and 255 -> +1: got %g %g %g %g", t[0], t[1], t[3], t[4]);
    CHECK(t[2] == 128.0f / 127.5f - 1.0f && t[5] == 127.0f / 127.5f - 1.0f, "128 -> %g, 127 -> %g",
          t[2], t[5]);
    p.scale = 1.0f / 255.0f;
    CHECK(wt_image_to_tensor(&img, &p, t, 6) == WT_OK && t[0] == 0.0f && t[1] == 1.0f,
          "scale 1/255: %g %g", t[0], t[1]);
    p.scale = 2.0f; p.offset = -3.0f;
    CHECK(wt_image_to_tensor(&img, &p, t, 6) == WT_OK && t[0] == -3.0f && t[1] == 507.0f,
          "scale 2 offset -3: %g %g", t[0], t[1]);
    free(img.pixels);

    uint8_t all[256];
    float f[256];
    for (int v = 0; v < 256; v++) all[v] = (uint8_t)v;
    CHECK(wt_pixels_to_tensor(all, 256, 0.0f, 0.0f, f) == WT_OK, "%s", wt_last_error());
    int bad = 0;
    for (int v = 0; v < 256; v++) bad += f[v] != (float)v / 127.5f - 1.0f;
    CHECK(bad == 0 && f[0] == -1.0f && f[255] == 1.0f, "pixels_to_tensor default (%d bad)", bad);
    CHECK(wt_pixels_to_tensor(all, 256, 1.0f / 255.0f, 0.0f, f) == WT_OK && f[0] == 0.0f &&
              f[255] == 1.0f && f[51] == 51.0f * (1.0f / 255.0f),
          "pixels_to_tensor 1/255");
    CHECK(wt_pixels_to_tensor(NULL, 0, 0.0f, 0.0f, NULL) == WT_OK, "count 0 with NULL pointers");

    /* uint8 storage then pixels_to_tensor stays within half a step of the float path. */
    wt_rng r = {17};
    wt_image photo = random_image(&r, 50, 41);
    wt_preprocess q = {17, 23, WT_RESIZE_BILINEAR, WT_CROP_CENTER, 0.0f, 0.0f};
    size_t n = 17 * 23 * 3;
    float* direct = run_tensor(&photo, &q);
    uint8_t* u = malloc(n);
    float* via_u8 = wt_test_alloc(n);
    CHECK(wt_image_resize_u8(&photo, &q, u, n) == WT_OK, "%s", wt_last_error());
    CHECK(wt_pixels_to_tensor(u, n, 0.0f, 0.0f, via_u8) == WT_OK, "%s", wt_last_error());
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)direct[i] - via_u8[i]));
    CHECK(worst <= 0.5 / 127.5 + 1e-6, "u8 path differs from the float path by %g", worst);
    free(direct);
    free(u);
    free(via_u8);
    free(photo.pixels);
}

static void test_resize_errors(void) {
    wt_rng r = {1};
    wt_image img = random_image(&r, 8, 8);
    wt_preprocess p = {4, 4, WT_RESIZE_BILINEAR, WT_CROP_CENTER, 0.0f, 0.0f};
    float t[4 * 4 * 3];
    uint8_t u[4 * 4 * 3];
    status_is(wt_image_to_tensor(NULL, &p, t, 48), WT_ERR_INVALID_ARGUMENT, "NULL image");
    status_is(wt_image_to_tensor(&img, NULL, t, 48), WT_ERR_INVALID_ARGUMENT, "NULL preprocess");
    status_is(wt_image_to_tensor(&img, &p, NULL, 48), WT_ERR_INVALID_ARGUMENT, "NULL out");
    status_is(wt_image_resize_u8(&img, &p, NULL, 48), WT_ERR_INVALID_ARGUMENT, "NULL u8 out");
    status_is(wt_image_to_tensor(&img, &p, t, 47), WT_ERR_SHAPE, "out_count too small");
    status_is(wt_image_resize_u8(&img, &p, u, 47), WT_ERR_SHAPE, "u8 out_count too small");
    CHECK(wt_image_to_tensor(&img, &p, t, 48) == WT_OK, "exact out_count: %s", wt_last_error());

    wt_image empty = {0, 8, 3, img.pixels};
    status_is(wt_image_to_tensor(&empty, &p, t, 48), WT_ERR_SHAPE, "zero-width image");
    wt_image zeroed = {0};
    status_is(wt_image_to_tensor(&zeroed, &p, t, 48), WT_ERR_SHAPE, "zeroed image");
    wt_image rgba = {8, 8, 4, img.pixels};
    status_is(wt_image_to_tensor(&rgba, &p, t, 48), WT_ERR_UNSUPPORTED, "4-channel image");
    wt_image nopix = {8, 8, 3, NULL};
    status_is(wt_image_to_tensor(&nopix, &p, t, 48), WT_ERR_INVALID_ARGUMENT, "NULL pixels");
    wt_image huge = {100000, 100000, 3, img.pixels};
    status_is(wt_image_to_tensor(&huge, &p, t, 48), WT_ERR_SHAPE, "100000x100000 image");

    wt_preprocess q = p;
    q.out_h = 0;
    status_is(wt_image_to_tensor(&img, &q, t, 48), WT_ERR_SHAPE, "out_h 0");
    q = p; q.out_w = -3;
    status_is(wt_image_to_tensor(&img, &q, t, 48), WT_ERR_SHAPE, "out_w negative");
    q = p; q.out_w = 20000;
    status_is(wt_image_to_tensor(&img, &q, t, 48), WT_ERR_SHAPE, "out_w 20000");
    q = p; q.filter = (wt_resize_filter)7;
    status_is(wt_image_to_tensor(&img, &q, t, 48), WT_ERR_INVALID_ARGUMENT, "unknown filter");
    q = p; q.crop = (wt_crop)-1;
    status_is(wt_image_resize_u8(&img, &q, u, 48), WT_ERR_INVALID_ARGUMENT, "unknown crop");
    q = p; q.scale = NAN;
    status_is(wt_image_to_tensor(&img, &q, t, 48), WT_ERR_NOT_FINITE, "NaN scale");
    q = p; q.offset = INFINITY;
    status_is(wt_image_to_tensor(&img, &q, t, 48), WT_ERR_NOT_FINITE, "infinite offset");
    status_is(wt_pixels_to_tensor(u, 4, NAN, 0.0f, t), WT_ERR_NOT_FINITE, "pixels NaN scale");
    status_is(wt_pixels_to_tensor(NULL, 4, 0.0f, 0.0f, t), WT_ERR_INVALID_ARGUMENT, "pixels NULL");
    status_is(wt_pixels_to_tensor(u, 4, 0.0f, 0.0f, NULL), WT_ERR_INVALID_ARGUMENT, "out NULL");
    wt_image_free(NULL);
    wt_image none = {0};
    wt_image_free(&none);
    free(img.pixels);
}

int main(void) {
    printf("test_image: WT_SHARED_DIR=%s\n", wt_test_shared_dir());
    test_decode_daisy();
    test_png_roundtrip();
    test_png_interlaced();
    test_decode_errors();
    test_decode_fuzz();
    test_exif_orientation();
    test_from_rgba();
    test_resize_constant_and_identity();
    test_area_exact();
    test_bilinear_gradient();
    test_center_crop();
    test_resize_vs_reference();
    test_scaling();
    test_resize_errors();
    return wt_test_summary();
}
