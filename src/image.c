/* image.c: the image input path. Decode (stb_image, compiled in image_stb.c) with EXIF orientation,
 * RGBA -> RGB, and resize + crop + scale to a model input. webtune.h specifies the arithmetic
 * exactly (a test compares it with TensorFlow.js); this file is the reference implementation of
 * that text, written as the plain loops the formulas describe.
 *
 * Size arithmetic: every image is checked against WT_IMAGE_MAX_SIDE / WT_IMAGE_MAX_PIXELS before
 * any product of its sizes is formed, so w*h*4 < 2^28 fits any size_t; sizes that come from the
 * caller unchecked (buffer lengths, strides, output counts) go through the saturating helpers. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The documented float32 arithmetic ("v*scale + offset", TF.js's bilinear formula) must not be
 * fused into multiply-adds, which round once instead of twice. wasm and baseline x86-64 have no
 * FMA; this keeps it so when someone builds for a target that has one. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && defined(__FP_FAST_FMA)
#pragma GCC optimize("fp-contract=off")
#endif

/* image_stb.c (declared identically there). */
int wt_stb_info(const uint8_t* bytes, int len, int* w, int* h, int* comp);
uint8_t* wt_stb_load_rgb(const uint8_t* bytes, int len, size_t alloc_limit, int* w, int* h,
                         int* over_budget);
const char* wt_stb_failure_reason(void);

/* ------------------------------------------------------------------------------------------- */
/* Sizes                                                                                         */

/* a*b, or SIZE_MAX if it overflows (SIZE_MAX is never a size we can allocate or that fits). */
static size_t mul_sat(size_t a, size_t b) {
    if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
    return a * b;
}

static size_t add_sat(size_t a, size_t b) { return b > SIZE_MAX - a ? SIZE_MAX : a + b; }

static wt_status check_size(const char* fn, const char* what, int w, int h) {
    if (w < 1 || h < 1)
        return wt_fail(WT_ERR_SHAPE, "%s: %s size %dx%d is empty", fn, what, w, h);
    if (w > WT_IMAGE_MAX_SIDE || h > WT_IMAGE_MAX_SIDE)
        return wt_fail(WT_ERR_SHAPE, "%s: %s size %dx%d has a side over the limit of %d pixels", fn,
                       what, w, h, WT_IMAGE_MAX_SIDE);
    if ((int64_t)w * (int64_t)h > (int64_t)WT_IMAGE_MAX_PIXELS)
        return wt_fail(WT_ERR_SHAPE, "%s: %s size %dx%d is over the limit of %d pixels", fn, what,
                       w, h, WT_IMAGE_MAX_PIXELS);
    return WT_OK;
}

void wt_image_free(wt_image* img) {
    if (!img) return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

/* ------------------------------------------------------------------------------------------- */
/* Decoding                                                                                      */

static const uint8_t jpeg_magic[3] = {0xFF, 0xD8, 0xFF};
static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

/* 2: bytes start with the magic; 1: bytes are a proper prefix of it (too short); 0: neither. */
static int magic_match(const uint8_t* bytes, size_t len, const uint8_t* magic, size_t n) {
    size_t k = len < n ? len : n;
    if (memcmp(bytes, magic, k) != 0) return 0;
    return len >= n ? 2 : 1;
}

static unsigned rd16(const uint8_t* p, int little) {
    return little ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[0] << 8 | (unsigned)p[1];
}

static uint32_t rd32(const uint8_t* p, int little) {
    return little ? (uint32_t)rd16(p, 1) | (uint32_t)rd16(p + 2, 1) << 16
                  : (uint32_t)rd16(p, 0) << 16 | (uint32_t)rd16(p + 2, 0);
}

/* Orientation tag (0x0112) of IFD0 in a TIFF header of n bytes; 1 if absent or unreadable. */
static int tiff_orientation(const uint8_t* t, size_t n) {
    if (n < 8) return 1;
    int little;
    if (t[0] == 'I' && t[1] == 'I') little = 1;
    else if (t[0] == 'M' && t[1] == 'M') little = 0;
    else return 1;
    if (rd16(t + 2, little) != 42) return 1;
    uint32_t ifd = rd32(t + 4, little);
    if (ifd > n || n - ifd < 2) return 1;
    unsigned entries = rd16(t + ifd, little);
    for (unsigned k = 0; k < entries; k++) {
        size_t e = (size_t)ifd + 2 + (size_t)k * 12; /* n < 64 KiB: no overflow */
        if (e > n || n - e < 12) return 1;
        if (rd16(t + e, little) != 0x0112) continue;
        unsigned type = rd16(t + e + 2, little);
        uint32_t count = rd32(t + e + 4, little);
        if (type != 3 /* SHORT */ || count < 1) return 1;
        unsigned v = rd16(t + e + 8, little); /* a single SHORT sits in the value field's start */
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

/* Byte i of the file, 0 past its end (as stb's reader returns). */
static unsigned byte_at(const uint8_t* b, size_t n, size_t i) { return i < n ? b[i] : 0; }

/* Whether stb can safely read the DHT segment whose length field is at b[at]: stb_image 2.27
 * (Debian's) builds each Huffman table before checking that its 16 code counts sum to at most
 * 256, writing past the table when they do not (fixed upstream in 2.28). The walk reads exactly
 * what stb reads, tables past the segment's end included. */
static int dht_is_safe(const uint8_t* b, size_t n, size_t at) {
    long remaining = (long)rd16(b + at, 0) - 2; /* at + 2 <= n is checked by the caller */
    size_t p = at + 2;
    while (remaining > 0) {
        unsigned q = byte_at(b, n, p);
        if ((q >> 4) > 1 || (q & 15) > 3) return 1; /* stb stops here with "bad DHT header" */
        unsigned codes = 0;
        for (size_t i = 1; i <= 16; i++) codes += byte_at(b, n, p + i);
        if (codes > 256) return 0;
        p += 17 + codes;
        remaining -= 17 + (long)codes;
        if (p > n) return 1; /* the rest reads as zeros: empty tables */
    }
    return 1;
}

/* What image.c reads from a JPEG's marker segments: the frame size (SOFn) and EXIF orientation
 * (first APP1 "Exif" segment) from the headers before the first scan, and whether every Huffman
 * table segment (before, between and after scans) is safe for stb. Entropy-coded data is skipped
 * to the next marker; bytes where a marker should be are skipped to the next 0xFF, as stb itself
 * resynchronises, so the walk meets every marker stb could act on. Every offset is bounds-checked;
 * a malformed EXIF block is ignored (orientation 1), never an error. */
typedef struct jpeg_header {
    int has_size;
    uint32_t width, height;
    int orientation; /* 1..8, 1 when absent */
    int unsafe_dht;  /* a Huffman table with more than 256 codes */
    unsigned dqt_used, dqt_defined; /* quantisation tables 0..3 (bit t): the frame's, the file's */
} jpeg_header;

static jpeg_header jpeg_scan_header(const uint8_t* b, size_t n) {
    jpeg_header jh = {0, 0, 0, 1, 0, 0, 0};
    int seen_exif = 0, in_headers = 1;
    size_t pos = 2; /* after SOI */
    while (pos < n && n - pos >= 2) {
        if (b[pos] != 0xFF) { pos++; continue; } /* junk: resynchronise on the next 0xFF */
        unsigned m = b[pos + 1];
        if (m == 0xFF) { pos++; continue; } /* fill byte */
        if (m == 0xD9) break;                /* end of image */
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { pos += 2; continue; }
        if (n - pos < 4) break;
        if (m == 0xC4 && !dht_is_safe(b, n, pos + 2)) {
            jh.unsafe_dht = 1;
            break;
        }
        size_t seg = rd16(b + pos + 2, 0); /* counts its own two length bytes */
        if (seg < 2 || seg > n - pos - 2) break;
        const uint8_t* d = b + pos + 4;
        size_t dn = seg - 2;
        int sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (in_headers && sof && !jh.has_size && dn >= 5) {
            jh.has_size = 1;
            jh.height = rd16(d + 1, 0);
            jh.width = rd16(d + 3, 0);
            /* components: id, sampling, quantisation table (stb rejects a table id over 3) */
            for (size_t k = 0; dn >= 6 && k < d[5] && 6 + 3 * k + 3 <= dn; k++)
                if (d[6 + 3 * k + 2] <= 3) jh.dqt_used |= 1u << d[6 + 3 * k + 2];
        }
        if (m == 0xDB) { /* DQT: (precision << 4 | table id, 64 values of 1 or 2 bytes)... */
            for (size_t q = 0; q < dn;) {
                size_t bytes = 1 + 64 * ((d[q] >> 4) ? 2 : 1);
                if (dn - q < bytes) break;
                if ((d[q] & 15) <= 3) jh.dqt_defined |= 1u << (d[q] & 15);
                q += bytes;
            }
        }
        if (in_headers && m == 0xE1 && !seen_exif && dn >= 6 && memcmp(d, "Exif\0\0", 6) == 0) {
            seen_exif = 1;
            jh.orientation = tiff_orientation(d + 6, dn - 6);
        }
        pos += 2 + seg;
        if (m == 0xDA) { /* a scan: skip its entropy-coded data to the next real marker */
            in_headers = 0;
            while (pos < n && n - pos >= 2) {
                unsigned next = b[pos + 1];
                int restart = next >= 0xD0 && next <= 0xD7;
                if (b[pos] == 0xFF && next != 0x00 && next != 0xFF && !restart) break;
                pos++;
            }
        }
    }
    return jh;
}

/* Declared size of a PNG (its IHDR, which must come first); 0 if the bytes are too short. */
static int png_header_size(const uint8_t* b, size_t n, uint32_t* w, uint32_t* h) {
    if (n < 24 || memcmp(b + 12, "IHDR", 4) != 0) return 0;
    *w = rd32(b + 16, 0);
    *h = rd32(b + 20, 0);
    return 1;
}

/* Returns a new w x h RGB buffer holding src (sw x sh) turned upright per EXIF orientation o
 * (2..8); *w, *h get the new size (sides swap for 5..8). NULL if out of memory. For each output
 * pixel (x, y) the source pixel is:
 *   2 mirror horizontal (sw-1-x, y)          3 rotate 180    (sw-1-x, sh-1-y)
 *   4 mirror vertical   (x, sh-1-y)          5 transpose     (y, x)
 *   6 rotate 90 cw      (y, sh-1-x)          7 transverse    (sw-1-y, sh-1-x)
 *   8 rotate 90 ccw     (sw-1-y, x) */
static uint8_t* orient_rgb(const uint8_t* src, int sw, int sh, int o, int* w, int* h) {
    int ow = o >= 5 ? sh : sw, oh = o >= 5 ? sw : sh;
    uint8_t* dst = malloc((size_t)sw * (size_t)sh * 3);
    if (!dst) return NULL;
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = sw - 1 - x; sy = y; break;
            case 3: sx = sw - 1 - x; sy = sh - 1 - y; break;
            case 4: sx = x; sy = sh - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = sh - 1 - x; break;
            case 7: sx = sw - 1 - y; sy = sh - 1 - x; break;
            case 8: sx = sw - 1 - y; sy = x; break;
            default: sx = x; sy = y; break;
            }
            memcpy(dst + ((size_t)y * (size_t)ow + (size_t)x) * 3,
                   src + ((size_t)sy * (size_t)sw + (size_t)sx) * 3, 3);
        }
    }
    *w = ow;
    *h = oh;
    return dst;
}

/* Copy of a PNG without its zero-length IDAT chunks (see wt_image_decode), or NULL when it has
 * none (or, with *oom set, when out of memory). The walk follows stb: a chunk is acted on once its
 * 8-byte header is there, even if its data or CRC is cut off; it stops at IEND or at a chunk that
 * runs past the end, and what follows is copied as it is. */
static uint8_t* png_without_empty_idat(const uint8_t* b, size_t n, size_t* out_len, int* oom) {
    size_t pos = 8, empty = 0;
    while (n - pos >= 8) {
        uint32_t clen = rd32(b + pos, 0);
        if (clen == 0 && memcmp(b + pos + 4, "IDAT", 4) == 0) empty++;
        if (memcmp(b + pos + 4, "IEND", 4) == 0 || (uint64_t)clen + 12 > n - pos) break;
        pos += 12 + (size_t)clen;
    }
    if (!empty) return NULL;
    uint8_t* out = malloc(n);
    if (!out) {
        *oom = 1;
        return NULL;
    }
    memcpy(out, b, 8);
    size_t o = 8;
    pos = 8;
    while (n - pos >= 8) {
        uint32_t clen = rd32(b + pos, 0);
        int cut = (uint64_t)clen + 12 > n - pos; /* data or CRC missing: the rest of the file */
        int last = cut || memcmp(b + pos + 4, "IEND", 4) == 0;
        size_t chunk = cut ? n - pos : 12 + (size_t)clen;
        if (!(clen == 0 && memcmp(b + pos + 4, "IDAT", 4) == 0)) {
            memcpy(out + o, b + pos, chunk);
            o += chunk;
        }
        pos += chunk;
        if (last) break;
    }
    memcpy(out + o, b + pos, n - pos); /* what follows IEND, or a few bytes too short for a chunk */
    *out_len = o + (n - pos);
    return out;
}

/* stb's reason for the last failure, printable ASCII only: stb puts a bad chunk's raw type
 * bytes in it, which would make the message invalid UTF-8 for the JS side. */
static void stb_reason(char* buf, size_t n) {
    size_t k = 0;
    for (const char* r = wt_stb_failure_reason(); *r && k + 1 < n; r++, k++)
        buf[k] = *r >= 0x20 && *r < 0x7f ? *r : '?';
    buf[k] = '\0';
    if (k == 0) snprintf(buf, n, "stb_image gave no reason");
}

/* Decodes bytes with stb_image into a new RGB buffer, within a memory budget from the header's
 * size. On failure nothing is allocated. */
static wt_status stb_decode(const char* fn, const char* format, const uint8_t* bytes, size_t len,
                            uint8_t** out, int* out_w, int* out_h) {
    int w = 0, h = 0, comp = 0;
    char reason[128];
    if (!wt_stb_info(bytes, (int)len, &w, &h, &comp)) {
        stb_reason(reason, sizeof reason);
        return wt_fail(WT_ERR_CORRUPT, "%s: corrupt %s header: %s", fn, format, reason);
    }
    wt_status st = check_size(fn, format, w, h); /* the same size, as stb read it */
    if (st != WT_OK) return st;

    /* Largest single block the decoder needs for a w x h image (see image_stb.c): 16-bit RGBA
     * (8 bytes a pixel) with JPEG MCU padding, doubled because stb's inflate grows its buffer by
     * doubling past its first guess (which interlaced PNGs slightly exceed), plus the compressed
     * data it gathers (at most twice the input). */
    size_t limit = mul_sat(mul_sat((size_t)w + 32, (size_t)h + 32), 16);
    limit = add_sat(add_sat(limit, mul_sat(len, 2)), 65536);

    int dw = 0, dh = 0, over = 0;
    uint8_t* pixels = wt_stb_load_rgb(bytes, (int)len, limit, &dw, &dh, &over);
    if (!pixels) {
        stb_reason(reason, sizeof reason);
        if (over)
            return wt_fail(WT_ERR_CORRUPT, "%s: %s data is larger than its %dx%d header declares",
                           fn, format, w, h);
        if (strcmp(reason, "outofmem") == 0)
            return wt_fail(WT_ERR_OUT_OF_MEMORY, "%s: out of memory decoding a %dx%d %s", fn, w, h,
                           format);
        return wt_fail(WT_ERR_CORRUPT, "%s: corrupt or truncated %s: %s", fn, format, reason);
    }
    if (dw != w || dh != h) { /* stb reads the same header twice; never expected */
        free(pixels);
        return wt_fail(WT_ERR_CORRUPT, "%s: %s decoded as %dx%d, header says %dx%d", fn, format, dw,
                       dh, w, h);
    }
    *out = pixels;
    *out_w = w;
    *out_h = h;
    return WT_OK;
}

wt_status wt_image_decode(const uint8_t* bytes, size_t len, wt_image* out) {
    static const char fn[] = "wt_image_decode";
    if (out) memset(out, 0, sizeof *out);
    if (!out) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    if (!bytes) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: bytes is NULL", fn);
    if (len == 0) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: bytes is empty (len 0)", fn);

    int jpeg = magic_match(bytes, len, jpeg_magic, sizeof jpeg_magic);
    int png = magic_match(bytes, len, png_magic, sizeof png_magic);
    if (jpeg != 2 && png != 2) {
        if (jpeg == 1 || png == 1)
            return wt_fail(WT_ERR_CORRUPT, "%s: truncated %s (%zu bytes)", fn,
                           jpeg == 1 ? "JPEG" : "PNG", len);
        return wt_fail(WT_ERR_UNSUPPORTED, "%s: not a JPEG or PNG image", fn);
    }
    const char* format = jpeg == 2 ? "JPEG" : "PNG";
    if (len > (size_t)INT_MAX)
        return wt_fail(WT_ERR_UNSUPPORTED,
                       "%s: %s of %zu bytes: files over 2 GiB are not supported", fn, format, len);

    /* The header alone: the declared size is checked before any pixel memory exists. Our own
     * reading of it first (stb reports an oversized header only as "unknown image type"), then
     * stb's full header check. */
    jpeg_header jh = {0, 0, 0, 1, 0, 0, 0};
    uint32_t hw = 0, hh = 0;
    int has_size;
    if (jpeg == 2) {
        jh = jpeg_scan_header(bytes, len);
        if (jh.unsafe_dht)
            return wt_fail(WT_ERR_CORRUPT,
                           "%s: corrupt JPEG: a Huffman table has more than 256 codes", fn);
        /* stb would read a table the file never defines from uninitialised memory (libjpeg
         * rejects such a file too) */
        unsigned undefined = jh.dqt_used & ~jh.dqt_defined;
        if (undefined) {
            int t = 0;
            while (!(undefined & (1u << t))) t++;
            return wt_fail(WT_ERR_CORRUPT,
                           "%s: corrupt JPEG: the frame uses quantization table %d, which the file "
                           "never defines", fn, t);
        }
        has_size = jh.has_size;
        hw = jh.width;
        hh = jh.height;
    } else {
        has_size = png_header_size(bytes, len, &hw, &hh);
    }
    if (has_size && hw > 0 && hh > 0 &&
        (hw > WT_IMAGE_MAX_SIDE || hh > WT_IMAGE_MAX_SIDE ||
         (uint64_t)hw * hh > (uint64_t)WT_IMAGE_MAX_PIXELS))
        return wt_fail(WT_ERR_SHAPE, "%s: %s header declares %" PRIu32 "x%" PRIu32
                       " pixels, over the limit of %d per side and %d in all", fn, format, hw, hh,
                       WT_IMAGE_MAX_SIDE, WT_IMAGE_MAX_PIXELS);
    /* stb_image 2.27 copies a zero-length IDAT chunk that comes before any IDAT data to NULL + 0
     * (undefined behaviour, found by tests/fuzz/fuzz_image.c). Such a chunk carries nothing and
     * stb checks no CRC, so a copy without the empty IDAT chunks decodes to the same image. */
    uint8_t* cleaned = NULL;
    const uint8_t* src = bytes;
    size_t src_len = len;
    if (png == 2) {
        int oom = 0;
        cleaned = png_without_empty_idat(bytes, len, &src_len, &oom);
        if (oom) return wt_fail(WT_ERR_OUT_OF_MEMORY, "%s: out of memory for a %zu-byte PNG", fn, len);
        if (cleaned) src = cleaned;
        else src_len = len;
    }
    int w = 0, h = 0;
    uint8_t* pixels = NULL;
    wt_status st = stb_decode(fn, format, src, src_len, &pixels, &w, &h);
    free(cleaned);
    if (st != WT_OK) return st;
    int dw = 0, dh = 0;

    if (jpeg == 2) {
        int o = jh.orientation;
        if (o != 1) {
            uint8_t* upright = orient_rgb(pixels, w, h, o, &dw, &dh);
            free(pixels);
            if (!upright)
                return wt_fail(WT_ERR_OUT_OF_MEMORY, "%s: out of memory orienting a %dx%d image",
                               fn, w, h);
            pixels = upright;
            w = dw;
            h = dh;
        }
    }

    out->width = w;
    out->height = h;
    out->channels = 3;
    out->pixels = pixels;
    return WT_OK;
}

wt_status wt_image_from_rgba(const uint8_t* rgba, size_t len, int width, int height,
                             int stride_bytes, wt_image* out) {
    static const char fn[] = "wt_image_from_rgba";
    if (out) memset(out, 0, sizeof *out);
    if (!out) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    if (!rgba) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: rgba is NULL", fn);
    if (stride_bytes < 0)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: negative stride %d", fn, stride_bytes);
    wt_status st = check_size(fn, "image", width, height);
    if (st != WT_OK) return st;

    size_t row = (size_t)width * 4;
    size_t stride = stride_bytes == 0 ? row : (size_t)stride_bytes;
    if (stride < row)
        return wt_fail(WT_ERR_SHAPE, "%s: stride %zu bytes is less than width*4 = %zu", fn, stride,
                       row);
    size_t need = add_sat(mul_sat(stride, (size_t)height - 1), row);
    if (len < need)
        return wt_fail(WT_ERR_SHAPE, "%s: %dx%d frame with stride %zu needs %zu bytes, got %zu", fn,
                       width, height, stride, need, len);

    uint8_t* pixels = malloc((size_t)width * (size_t)height * 3);
    if (!pixels)
        return wt_fail(WT_ERR_OUT_OF_MEMORY, "%s: out of memory for a %dx%d image", fn, width,
                       height);
    for (int y = 0; y < height; y++) {
        const uint8_t* s = rgba + (size_t)y * stride;
        uint8_t* d = pixels + (size_t)y * (size_t)width * 3;
        for (int x = 0; x < width; x++) {
            d[3 * x + 0] = s[4 * x + 0];
            d[3 * x + 1] = s[4 * x + 1];
            d[3 * x + 2] = s[4 * x + 2];
        }
    }
    out->width = width;
    out->height = height;
    out->channels = 3;
    out->pixels = pixels;
    return WT_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* Resize, crop, scale                                                                           */

/* Output pixel (y, x) is pixel (y0 + y, x0 + x) of the source resized to rh x rw. */
typedef struct geometry {
    int64_t rw, rh, x0, y0;
} geometry;

static geometry plan_geometry(int W, int H, int out_w, int out_h, wt_crop crop) {
    geometry g = {out_w, out_h, 0, 0};
    if (crop == WT_CROP_CENTER) {
        /* Sides are <= 2^14, so every product here is < 2^30 and exact. */
        int64_t a = (int64_t)W * out_h, b = (int64_t)H * out_w;
        if (a >= b) {
            g.rh = out_h;
            g.rw = (2 * a + H) / (2 * (int64_t)H); /* round(W*out_h/H), halves up */
        } else {
            g.rw = out_w;
            g.rh = (2 * b + W) / (2 * (int64_t)W);
        }
        g.x0 = (g.rw - out_w) / 2;
        g.y0 = (g.rh - out_h) / 2;
    }
    return g;
}

/* Where values go: float32 scaled (to_tensor) or uint8 rounded (resize_u8). */
typedef struct sink {
    float* f32;
    uint8_t* u8;
    int mobilenet; /* scale == offset == 0: v/127.5f - 1 */
    float scale, offset;
} sink;

/* Nearest integer to f, ties to even, clamped to [0, 255]. */
static uint8_t round_u8(float f) {
    if (!(f > 0.0f)) return 0; /* also NaN, never expected */
    if (f >= 255.0f) return 255;
    float fl = floorf(f);
    float d = f - fl; /* exact below 256 */
    int i = (int)fl;
    if (d > 0.5f || (d == 0.5f && (i & 1))) i++;
    return (uint8_t)i;
}

static inline float scale_value(float v, int mobilenet, float scale, float offset) {
    return mobilenet ? v / 127.5f - 1.0f : v * scale + offset;
}

static void emit(const sink* s, size_t i, const double v[3]) {
    for (int c = 0; c < 3; c++) {
        float f = (float)v[c];
        if (s->f32) s->f32[i + (size_t)c] = scale_value(f, s->mobilenet, s->scale, s->offset);
        else s->u8[i + (size_t)c] = round_u8(f);
    }
}

/* Source sample position along one axis for resized index r (TF.js's formula, see webtune.h). */
static void bilinear_axis(double ratio, int64_t r, int n, int* lo, int* hi, double* frac) {
    double src = ratio * ((double)r + 0.5) - 0.5;
    double fl = floor(src);
    int l = fl < 0.0 ? 0 : (int)fl;
    double ce = ceil(src);
    int h = ce > (double)(n - 1) ? n - 1 : (int)ce;
    if (h < 0) h = 0; /* ceil of a value in (-1, 0) is -0.0: already 0; kept for clarity */
    *lo = l;
    *hi = h;
    *frac = src - (double)l;
}

static void resize_bilinear(const wt_image* img, int out_w, int out_h, const geometry* g,
                            const sink* s) {
    const int W = img->width, H = img->height;
    const size_t row = (size_t)W * 3;
    const double ry = (double)H / (double)g->rh, rx = (double)W / (double)g->rw;
    for (int y = 0; y < out_h; y++) {
        int ylo, yhi;
        double fy;
        bilinear_axis(ry, g->y0 + y, H, &ylo, &yhi, &fy);
        const uint8_t* top_row = img->pixels + (size_t)ylo * row;
        const uint8_t* bot_row = img->pixels + (size_t)yhi * row;
        for (int x = 0; x < out_w; x++) {
            int xlo, xhi;
            double fx;
            bilinear_axis(rx, g->x0 + x, W, &xlo, &xhi, &fx);
            double v[3];
            for (int c = 0; c < 3; c++) {
                double tl = top_row[3 * xlo + c], tr = top_row[3 * xhi + c];
                double bl = bot_row[3 * xlo + c], br = bot_row[3 * xhi + c];
                double top = tl + (tr - tl) * fx;
                double bot = bl + (br - bl) * fx;
                v[c] = top + (bot - top) * fy;
            }
            emit(s, ((size_t)y * (size_t)out_w + (size_t)x) * 3, v);
        }
    }
}

/* Box [r*n/rn, (r+1)*n/rn) of resized index r along an axis of n source pixels: the source range
 * [*first, *end) it overlaps and its two ends. */
static void area_axis(int64_t r, int64_t rn, int n, double* b0, double* b1, int* first, int* end) {
    *b0 = (double)r * (double)n / (double)rn; /* r*n < 2^53: exact product, one rounding */
    *b1 = (double)(r + 1) * (double)n / (double)rn;
    int f = (int)floor(*b0), e = (int)ceil(*b1);
    if (f < 0) f = 0;
    if (e > n) e = n;
    if (e <= f) e = f + 1; /* b0 < b1 <= n, so f < n: never empty, never past the edge */
    *first = f;
    *end = e;
}

/* Overlap of source pixel [i, i+1) with the box [b0, b1). */
static double overlap(int i, double b0, double b1) {
    double lo = (double)i > b0 ? (double)i : b0;
    double hi = (double)(i + 1) < b1 ? (double)(i + 1) : b1;
    return hi > lo ? hi - lo : 0.0;
}

static void resize_area(const wt_image* img, int out_w, int out_h, const geometry* g,
                        const sink* s) {
    const int W = img->width, H = img->height;
    const size_t row = (size_t)W * 3;
    for (int y = 0; y < out_h; y++) {
        double y0, y1;
        int iy0, iy1;
        area_axis(g->y0 + y, g->rh, H, &y0, &y1, &iy0, &iy1);
        for (int x = 0; x < out_w; x++) {
            double x0, x1;
            int ix0, ix1;
            area_axis(g->x0 + x, g->rw, W, &x0, &x1, &ix0, &ix1);
            double acc[3] = {0.0, 0.0, 0.0}, wy_sum = 0.0, wx_sum = 0.0;
            for (int ix = ix0; ix < ix1; ix++) wx_sum += overlap(ix, x0, x1);
            for (int iy = iy0; iy < iy1; iy++) {
                double wy = overlap(iy, y0, y1);
                if (wy == 0.0) continue;
                wy_sum += wy;
                const uint8_t* p = img->pixels + (size_t)iy * row;
                double racc[3] = {0.0, 0.0, 0.0};
                for (int ix = ix0; ix < ix1; ix++) {
                    double wx = overlap(ix, x0, x1);
                    racc[0] += wx * p[3 * ix + 0];
                    racc[1] += wx * p[3 * ix + 1];
                    racc[2] += wx * p[3 * ix + 2];
                }
                acc[0] += wy * racc[0];
                acc[1] += wy * racc[1];
                acc[2] += wy * racc[2];
            }
            double norm = wy_sum * wx_sum; /* the box's area: > 0 */
            double v[3] = {acc[0] / norm, acc[1] / norm, acc[2] / norm};
            emit(s, ((size_t)y * (size_t)out_w + (size_t)x) * 3, v);
        }
    }
}

/* Checks what wt_image_to_tensor and wt_image_resize_u8 share; *needed = out_h*out_w*3. */
static wt_status check_resize(const char* fn, const wt_image* img, const wt_preprocess* p,
                              const void* out, size_t out_count, size_t* needed) {
    if (!img) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: img is NULL", fn);
    if (!p) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: preprocess is NULL", fn);
    if (!out) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    wt_status st = check_size(fn, "image", img->width, img->height);
    if (st != WT_OK) return st;
    if (img->channels != 3)
        return wt_fail(WT_ERR_UNSUPPORTED, "%s: image has %d channels; only RGB (3) is supported",
                       fn, img->channels);
    if (!img->pixels) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: img->pixels is NULL", fn);
    if (p->filter != WT_RESIZE_BILINEAR && p->filter != WT_RESIZE_AREA)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: unknown resize filter %d", fn, (int)p->filter);
    if (p->crop != WT_CROP_CENTER && p->crop != WT_CROP_NONE)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: unknown crop %d", fn, (int)p->crop);
    st = check_size(fn, "output", p->out_w, p->out_h);
    if (st != WT_OK) return st;
    *needed = (size_t)p->out_w * (size_t)p->out_h * 3; /* < 2^28 after check_size */
    if (out_count < *needed)
        return wt_fail(WT_ERR_SHAPE, "%s: out holds %zu values, a %dx%dx3 output needs %zu", fn,
                       out_count, p->out_h, p->out_w, *needed);
    return WT_OK;
}

static void resample(const wt_image* img, const wt_preprocess* p, const sink* s) {
    geometry g = plan_geometry(img->width, img->height, p->out_w, p->out_h, p->crop);
    if (p->filter == WT_RESIZE_AREA) resize_area(img, p->out_w, p->out_h, &g, s);
    else resize_bilinear(img, p->out_w, p->out_h, &g, s);
}

wt_status wt_image_to_tensor(const wt_image* img, const wt_preprocess* p, float* out,
                             size_t out_count) {
    static const char fn[] = "wt_image_to_tensor";
    size_t needed;
    wt_status st = check_resize(fn, img, p, out, out_count, &needed);
    if (st != WT_OK) return st;
    if (!isfinite(p->scale) || !isfinite(p->offset))
        return wt_fail(WT_ERR_NOT_FINITE, "%s: scale %g and offset %g must be finite", fn,
                       (double)p->scale, (double)p->offset);
    sink s = {out, NULL, p->scale == 0.0f && p->offset == 0.0f, p->scale, p->offset};
    resample(img, p, &s);
    return WT_OK;
}

wt_status wt_image_resize_u8(const wt_image* img, const wt_preprocess* p, uint8_t* out,
                             size_t out_count) {
    static const char fn[] = "wt_image_resize_u8";
    size_t needed;
    wt_status st = check_resize(fn, img, p, out, out_count, &needed);
    if (st != WT_OK) return st;
    sink s = {NULL, out, 0, 0.0f, 0.0f};
    resample(img, p, &s);
    return WT_OK;
}

wt_status wt_pixels_to_tensor(const uint8_t* src, size_t count, float scale, float offset,
                              float* out) {
    static const char fn[] = "wt_pixels_to_tensor";
    if (count > 0 && (!src || !out))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, !src ? "src" : "out");
    if (!isfinite(scale) || !isfinite(offset))
        return wt_fail(WT_ERR_NOT_FINITE, "%s: scale %g and offset %g must be finite", fn,
                       (double)scale, (double)offset);
    int mobilenet = scale == 0.0f && offset == 0.0f;
    float lut[256]; /* the same expression as wt_image_to_tensor, once per byte value */
    for (int v = 0; v < 256; v++) lut[v] = scale_value((float)v, mobilenet, scale, offset);
    for (size_t i = 0; i < count; i++) out[i] = lut[src[i]];
    return WT_OK;
}
