/* fuzz_image.c: libFuzzer target for the image input path (src/image.c, src/image_stb.c with
 * Debian's stb_image).
 *
 * Input layout (docs/fuzzing.md): byte 0 is a control byte, the rest the image bytes.
 *   control bit 0: filter (0 bilinear, 1 area); bit 1: crop (0 centre, 1 none); bit 2: tensor
 *   scaling (0 the MobileNet default, 1 scale 1/255); bits 3..7 pick a second output size.
 * 1. wt_image_decode of the image bytes; on success the image is resized to 32x32 with
 *    wt_image_resize_u8 and wt_image_to_tensor, and to the second size.
 * 2. wt_image_from_rgba over the same bytes as a small raw frame (width, height and stride from
 *    the first bytes), resized the same way.
 * Oracles: a failed call leaves a zeroed image and returns a documented status; a decoded image is
 * within the limits; every tensor value is finite and, with the default scaling, in [-1, 1]. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "webtune.h"

static void check_zeroed(const wt_image* img) {
    FUZZ_CHECK(img->width == 0 && img->height == 0 && img->channels == 0 && img->pixels == NULL,
               "a failed call left a non-zeroed image");
}

static void resize_to(const wt_image* img, uint8_t ctl, int out_h, int out_w) {
    wt_preprocess p = { .out_h = out_h, .out_w = out_w };
    p.filter = (ctl & 1) ? WT_RESIZE_AREA : WT_RESIZE_BILINEAR;
    p.crop = (ctl & 2) ? WT_CROP_NONE : WT_CROP_CENTER;
    int mobilenet = !(ctl & 4);
    if (!mobilenet) p.scale = 1.0f / 255.0f;
    size_t n = (size_t)out_h * (size_t)out_w * 3;
    uint8_t* u8 = (uint8_t*)malloc(n);
    float* f32 = (float*)malloc(n * sizeof(float));
    if (!u8 || !f32) abort();
    wt_status st = wt_image_resize_u8(img, &p, u8, n);
    FUZZ_CHECK(st == WT_OK, "wt_image_resize_u8 to %dx%d: %s", out_h, out_w, wt_status_name(st));
    st = wt_image_to_tensor(img, &p, f32, n);
    FUZZ_CHECK(st == WT_OK, "wt_image_to_tensor to %dx%d: %s", out_h, out_w, wt_status_name(st));
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(isfinite(f32[i]), "tensor value %zu is not finite", i);
        if (mobilenet) FUZZ_CHECK(f32[i] >= -1.0f && f32[i] <= 1.0f, "tensor value %zu = %g outside [-1, 1]", i, f32[i]);
        else FUZZ_CHECK(f32[i] >= 0.0f && f32[i] <= 1.00001f, "tensor value %zu = %g outside [0, 1]", i, f32[i]);
    }
    /* too small an output buffer is refused, not overrun */
    st = wt_image_resize_u8(img, &p, u8, n - 1);
    FUZZ_CHECK(st == WT_ERR_SHAPE, "a short output buffer gave %s", wt_status_name(st));
    free(u8);
    free(f32);
}

static void resize_all(const wt_image* img, uint8_t ctl) {
    resize_to(img, ctl, 32, 32);
    int sel = ctl >> 3; /* 0..31 */
    resize_to(img, ctl, 1 + (sel & 7) * 9, 1 + (sel >> 3) * 13);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    uint8_t ctl = data[0];
    size_t n = size - 1;
    /* the image bytes in a buffer of exactly their size (ASan sees a read past the end) */
    uint8_t* bytes = (uint8_t*)malloc(n ? n : 1);
    if (!bytes) abort();
    memcpy(bytes, data + 1, n);

    wt_image img;
    wt_status st = wt_image_decode(bytes, n, &img);
    FUZZ_LOG("wt_image_decode", st);
    if (st == WT_OK) {
        FUZZ_CHECK(img.channels == 3 && img.pixels != NULL, "decoded image has %d channels", img.channels);
        FUZZ_CHECK(img.width >= 1 && img.height >= 1 && img.width <= WT_IMAGE_MAX_SIDE &&
                       img.height <= WT_IMAGE_MAX_SIDE &&
                       (int64_t)img.width * img.height <= (int64_t)WT_IMAGE_MAX_PIXELS,
                   "decoded image %dx%d is outside the limits", img.width, img.height);
        resize_all(&img, ctl);
        wt_image_free(&img);
        check_zeroed(&img);
    } else {
        check_zeroed(&img);
        FUZZ_CHECK(st == WT_ERR_CORRUPT || st == WT_ERR_UNSUPPORTED || st == WT_ERR_SHAPE ||
                       st == WT_ERR_OUT_OF_MEMORY || (st == WT_ERR_INVALID_ARGUMENT && n == 0),
                   "wt_image_decode: unexpected status %s", wt_status_name(st));
    }

    /* the same bytes as a raw RGBA frame */
    if (n >= 3) {
        int w = 1 + bytes[0] % 24, h = 1 + bytes[1] % 24;
        int stride = (bytes[2] & 0x80) ? 0 : w * 4 + (bytes[2] & 7);
        st = wt_image_from_rgba(bytes, n, w, h, stride, &img);
        size_t row = (size_t)w * 4, step = stride ? (size_t)stride : row;
        int fits = n >= step * (size_t)(h - 1) + row;
        if (fits) {
            FUZZ_CHECK(st == WT_OK, "wt_image_from_rgba %dx%d stride %d over %zu bytes: %s", w, h, stride, n,
                       wt_status_name(st));
            FUZZ_CHECK(img.width == w && img.height == h && img.channels == 3, "wrong frame size");
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int c = 0; c < 3; c++)
                        FUZZ_CHECK(img.pixels[((size_t)y * w + x) * 3 + c] == bytes[(size_t)y * step + 4 * (size_t)x + c],
                                   "pixel (%d, %d) channel %d differs from the frame", x, y, c);
            resize_all(&img, ctl);
            wt_image_free(&img);
        } else {
            FUZZ_CHECK(st == WT_ERR_SHAPE, "a frame larger than its buffer gave %s", wt_status_name(st));
            check_zeroed(&img);
        }
    }
    free(bytes);
    return 0;
}
