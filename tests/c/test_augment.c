/* test_augment.c: wt_augment_image (src/augment.c) against the contract in webtune.h: the zero
 * value is an exact copy; the result is a pure function of (seed, index); a flip is an exact
 * mirror, drawn about half the time; small rotations and crops keep a smooth image close; colour
 * jitter stays within its factor range, keeps grey grey and a flat image flat; a real photo goes
 * through typical strengths (under ASan in the sanitizer build); argument errors. Prints the time
 * per 224x224 augmentation (not asserted).
 *
 * The photo comes from ${WT_SHARED_DIR}/datasets/flowers (environment variable, else the
 * compile-time WT_SHARED_DIR); the test skips that part if the folder is missing. */
#include <time.h>

#include "webtune.h"
#include "wt_test.h"
#include "wt_test_files.h"

static uint8_t* xmalloc(size_t n) {
    uint8_t* p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "test: out of memory\n"); exit(2); }
    return p;
}

static uint8_t* random_image(wt_rng* r, int w, int h) {
    uint8_t* p = xmalloc((size_t)w * h * 3);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) p[i] = (uint8_t)(wt_rng_u32(r) >> 24);
    return p;
}

/* A smooth image: red follows x, green follows y, blue both. */
static uint8_t* gradient_image(int w, int h) {
    uint8_t* p = xmalloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t* q = p + ((size_t)y * w + x) * 3;
            q[0] = (uint8_t)(x * 255 / (w - 1));
            q[1] = (uint8_t)(y * 255 / (h - 1));
            q[2] = (uint8_t)((x + y) * 255 / (w + h - 2));
        }
    return p;
}

static void mirror(const uint8_t* src, int w, int h, uint8_t* dst) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(dst + ((size_t)y * w + x) * 3, src + ((size_t)y * w + (w - 1 - x)) * 3, 3);
}

static double mean_value(const uint8_t* p, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += p[i];
    return s / (double)n;
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

/* ------------------------------------------------------------------------------------------- */

static void test_zero_is_copy(void) {
    wt_rng r = {11};
    const int sizes[][2] = {{1, 1}, {1, 7}, {5, 1}, {13, 17}, {224, 224}};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        int w = sizes[t][0], h = sizes[t][1];
        size_t n = (size_t)w * h * 3;
        uint8_t* src = random_image(&r, w, h);
        uint8_t* dst = xmalloc(n);
        memset(dst, 0xAB, n);
        wt_augment zero = {0};
        for (uint64_t idx = 0; idx < 4; idx++) {
            wt_status st = wt_augment_image(src, h, w, &zero, 7, idx, dst);
            CHECK(st == WT_OK, "zero augment %dx%d: status %d", w, h, (int)st);
            CHECK(memcmp(src, dst, n) == 0, "zero augment %dx%d index %d is not a copy", w, h, (int)idx);
        }
        /* crop_scale_min >= 1 is off, and with flip and rotation off it is the identity too;
         * crop_aspect alone does nothing. */
        wt_augment one = {.crop_scale_min = 1.0f, .crop_aspect = 0.5f};
        wt_augment big = {.crop_scale_min = 3.0f};
        memset(dst, 0, n);
        CHECK(wt_augment_image(src, h, w, &one, 7, 3, dst) == WT_OK, "crop 1");
        CHECK(memcmp(src, dst, n) == 0, "crop_scale_min = 1 is not the identity (%dx%d)", w, h);
        memset(dst, 0, n);
        CHECK(wt_augment_image(src, h, w, &big, 7, 3, dst) == WT_OK, "crop 3");
        CHECK(memcmp(src, dst, n) == 0, "crop_scale_min = 3 is not the identity (%dx%d)", w, h);
        free(src);
        free(dst);
    }
}

static void test_determinism(void) {
    wt_rng r = {12};
    const int w = 64, h = 48;
    size_t n = (size_t)w * h * 3;
    uint8_t* src = random_image(&r, w, h);
    uint8_t *a = xmalloc(n), *b = xmalloc(n), *c = xmalloc(n), *d = xmalloc(n);
    wt_augment aug = {.crop_scale_min = 0.6f, .crop_aspect = 0.33f, .flip = 1, .rotation_deg = 15.0f,
                      .brightness = 0.3f, .contrast = 0.3f, .saturation = 0.3f};
    int differ_index = 0, differ_seed = 0;
    for (uint64_t idx = 0; idx < 16; idx++) {
        memset(a, 0, n);
        memset(b, 0xFF, n);
        CHECK(wt_augment_image(src, h, w, &aug, 42, idx, a) == WT_OK, "augment a");
        CHECK(wt_augment_image(src, h, w, &aug, 42, idx, b) == WT_OK, "augment b");
        CHECK(memcmp(a, b, n) == 0, "same (seed, index %d) gave different bytes", (int)idx);
        CHECK(wt_augment_image(src, h, w, &aug, 42, idx + 1, c) == WT_OK, "augment c");
        CHECK(wt_augment_image(src, h, w, &aug, 43, idx, d) == WT_OK, "augment d");
        differ_index += memcmp(a, c, n) != 0;
        differ_seed += memcmp(a, d, n) != 0;
    }
    CHECK(differ_index == 16, "consecutive indices gave identical bytes (%d/16 differ)", differ_index);
    CHECK(differ_seed == 16, "different seeds gave identical bytes (%d/16 differ)", differ_seed);
    /* Each transform alone also varies with the index. */
    const wt_augment single[] = {{.crop_scale_min = 0.5f}, {.rotation_deg = 10.0f}, {.brightness = 0.2f},
                                 {.contrast = 0.5f},       {.saturation = 0.5f}};
    for (size_t t = 0; t < sizeof single / sizeof single[0]; t++) {
        CHECK(wt_augment_image(src, h, w, &single[t], 5, 0, a) == WT_OK, "single %d", (int)t);
        CHECK(wt_augment_image(src, h, w, &single[t], 5, 1, b) == WT_OK, "single %d", (int)t);
        CHECK(memcmp(a, b, n) != 0, "transform %d alone: indices 0 and 1 gave the same bytes", (int)t);
    }
    /* Turning on colour jitter does not change the geometry's draws: with brightness 0 < s the
     * result is the geometry-only result scaled, so a black pixel stays black where it was. */
    memset(src, 0, n);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w / 2; x++) memset(src + ((size_t)y * w + x) * 3, 200, 3);
    wt_augment geo = {.crop_scale_min = 0.5f, .flip = 1, .rotation_deg = 20.0f};
    wt_augment geo_b = geo;
    geo_b.brightness = 0.2f;
    for (uint64_t idx = 0; idx < 8; idx++) {
        CHECK(wt_augment_image(src, h, w, &geo, 9, idx, a) == WT_OK, "geo");
        CHECK(wt_augment_image(src, h, w, &geo_b, 9, idx, b) == WT_OK, "geo_b");
        int same_zeros = 1;
        for (size_t i = 0; i < n; i++) same_zeros &= (a[i] == 0) == (b[i] == 0);
        CHECK(same_zeros, "index %d: adding brightness moved the geometry", (int)idx);
    }
    free(src);
    free(a);
    free(b);
    free(c);
    free(d);
}

static void test_flip(void) {
    wt_rng r = {13};
    const int w = 37, h = 23; /* odd width: the middle column stays */
    size_t n = (size_t)w * h * 3;
    uint8_t* src = random_image(&r, w, h);
    uint8_t *mir = xmalloc(n), *dst = xmalloc(n);
    mirror(src, w, h, mir);
    wt_augment aug = {.flip = 1};
    int flipped = 0, same = 0, neither = 0;
    for (uint64_t idx = 0; idx < 64; idx++) {
        memset(dst, 0x5A, n);
        CHECK(wt_augment_image(src, h, w, &aug, 1234, idx, dst) == WT_OK, "flip");
        if (memcmp(dst, mir, n) == 0) flipped++;
        else if (memcmp(dst, src, n) == 0) same++;
        else neither++;
    }
    CHECK(neither == 0, "%d of 64 flip-only outputs are neither the image nor its mirror", neither);
    CHECK(flipped >= 16 && same >= 16, "flips %d, unflipped %d of 64: not about half", flipped, same);
    printf("flip: %d of 64 flipped\n", flipped);
    /* Width 1: the mirror is the image itself. */
    uint8_t col[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, out[9];
    for (uint64_t idx = 0; idx < 8; idx++) {
        CHECK(wt_augment_image(col, 3, 1, &aug, 1, idx, out) == WT_OK, "flip width 1");
        CHECK(memcmp(col, out, 9) == 0, "flip of a 1-pixel-wide image changed it");
    }
    free(src);
    free(mir);
    free(dst);
}

static void test_rotation(void) {
    const int w = 225, h = 225; /* odd: a true centre pixel */
    size_t n = (size_t)w * h * 3;
    uint8_t* src = gradient_image(w, h);
    uint8_t* dst = xmalloc(n);
    wt_augment aug = {.rotation_deg = 5.0f};
    int changed = 0;
    for (uint64_t idx = 0; idx < 16; idx++) {
        CHECK(wt_augment_image(src, h, w, &aug, 77, idx, dst) == WT_OK, "rotation");
        changed += memcmp(src, dst, n) != 0;
        size_t centre = ((size_t)(h / 2) * w + w / 2) * 3;
        for (int c = 0; c < 3; c++)
            CHECK(abs((int)dst[centre + c] - (int)src[centre + c]) <= 1, "index %d: centre channel %d %d -> %d",
                  (int)idx, c, src[centre + c], dst[centre + c]);
        /* Near the centre a 5-degree turn moves a pixel at distance d by about 0.087 d. */
        int worst = 0;
        for (int y = h / 2 - 10; y <= h / 2 + 10; y++)
            for (int x = w / 2 - 10; x <= w / 2 + 10; x++)
                for (int c = 0; c < 3; c++) {
                    size_t i = ((size_t)y * w + x) * 3 + c;
                    int e = abs((int)dst[i] - (int)src[i]);
                    if (e > worst) worst = e;
                }
        CHECK(worst <= 3, "index %d: rotation by <= 5 degrees moved the centre region by %d", (int)idx, worst);
    }
    CHECK(changed >= 15, "rotation changed only %d of 16 images", changed);
    /* A flat image stays flat whatever the rotation (clamped edges: no black corners). */
    memset(src, 90, n);
    wt_augment big = {.rotation_deg = 180.0f, .crop_scale_min = 0.3f, .crop_aspect = 1.0f, .flip = 1};
    for (uint64_t idx = 0; idx < 8; idx++) {
        CHECK(wt_augment_image(src, h, w, &big, 3, idx, dst) == WT_OK, "rotation 180");
        int flat = 1;
        for (size_t i = 0; i < n; i++) flat &= dst[i] == 90;
        CHECK(flat, "index %d: a flat image did not stay flat under crop + rotation", (int)idx);
    }
    /* A rotation of exactly 180 degrees (drawn from [-180, 180]) is not guaranteed, but any angle
     * keeps values within the source's range on the gradient. Absurd angles still work. */
    free(src);
    src = gradient_image(w, h);
    wt_augment huge = {.rotation_deg = 1e30f, .crop_aspect = 1e30f, .crop_scale_min = 1e-30f};
    CHECK(wt_augment_image(src, h, w, &huge, 3, 0, dst) == WT_OK, "huge strengths");
    free(src);
    free(dst);
}

static void test_crop(void) {
    const int w = 96, h = 64;
    size_t n = (size_t)w * h * 3;
    uint8_t* src = gradient_image(w, h);
    uint8_t* dst = xmalloc(n);
    /* A crop zooms in: the red channel (x ramp) keeps increasing left to right along a row, and
     * the covered range of red shrinks. */
    wt_augment aug = {.crop_scale_min = 0.5f, .crop_aspect = 0.3f};
    int changed = 0, zoomed = 0;
    for (uint64_t idx = 0; idx < 16; idx++) {
        CHECK(wt_augment_image(src, h, w, &aug, 8, idx, dst) == WT_OK, "crop");
        changed += memcmp(src, dst, n) != 0;
        int mono = 1;
        for (int y = 0; y < h; y++)
            for (int x = 1; x < w; x++) {
                size_t i = ((size_t)y * w + x) * 3;
                mono &= dst[i] >= dst[i - 3];     /* red along x */
            }
        for (int y = 1; y < h; y++)
            for (int x = 0; x < w; x++) {
                size_t i = ((size_t)y * w + x) * 3 + 1;
                mono &= dst[i] >= dst[i - (size_t)w * 3]; /* green along y */
            }
        CHECK(mono, "index %d: the crop is not monotone on a gradient", (int)idx);
        int span = dst[(size_t)(w - 1) * 3] - dst[0];
        CHECK(span > 255 / 4, "index %d: crop red span %d", (int)idx, span);
        zoomed += span < 250;
    }
    CHECK(changed == 16, "crop changed only %d of 16 images", changed);
    CHECK(zoomed >= 8, "only %d of 16 crops narrowed the red range", zoomed);
    free(src);
    free(dst);
}

static void test_colour(void) {
    wt_rng r = {14};
    const int w = 40, h = 30;
    size_t n = (size_t)w * h * 3;
    uint8_t* src = random_image(&r, w, h);
    uint8_t* dst = xmalloc(n);

    /* Brightness s: v*(1-s) - 1 <= out <= v*(1+s) + 1, clamped to [0, 255]; one factor per image. */
    const float strengths[] = {0.1f, 0.3f, 0.9f};
    int varied = 0;
    for (size_t t = 0; t < 3; t++) {
        float s = strengths[t];
        wt_augment aug = {.brightness = s};
        for (uint64_t idx = 0; idx < 16; idx++) {
            CHECK(wt_augment_image(src, h, w, &aug, 21, idx, dst) == WT_OK, "brightness");
            int ok = 1;
            double lo_f = 1e9, hi_f = -1e9; /* observed factor range over bright pixels */
            for (size_t i = 0; i < n; i++) {
                double v = src[i];
                double lo = v * (1 - s) - 1, hi = v * (1 + s) + 1;
                if (lo < 0) lo = 0;
                if (hi > 255) hi = 255;
                ok &= dst[i] >= lo && dst[i] <= hi;
                if (src[i] >= 100 && dst[i] < 255) {
                    double f = dst[i] / v;
                    if (f < lo_f) lo_f = f;
                    if (f > hi_f) hi_f = f;
                }
            }
            CHECK(ok, "brightness %g index %d: a value left [v(1-s)-1, v(1+s)+1]", s, (int)idx);
            if (hi_f >= lo_f) CHECK(hi_f - lo_f < 0.02, "brightness: factors vary within one image");
            varied += memcmp(src, dst, n) != 0;
        }
    }
    CHECK(varied >= 45, "brightness changed only %d of 48 images", varied);

    /* Saturation keeps grey grey (R = G = B) and, with nothing else on, unchanged. */
    uint8_t* grey = xmalloc(n);
    for (size_t i = 0; i < (size_t)w * h; i++) memset(grey + i * 3, (int)(wt_rng_u32(&r) >> 24), 3);
    wt_augment sat = {.saturation = 0.9f};
    wt_augment sat_b = {.saturation = 0.9f, .brightness = 0.4f, .contrast = 0.4f, .rotation_deg = 7.0f,
                        .crop_scale_min = 0.7f};
    for (uint64_t idx = 0; idx < 16; idx++) {
        CHECK(wt_augment_image(grey, h, w, &sat, 22, idx, dst) == WT_OK, "saturation");
        int ok = 1, same = 1;
        for (size_t i = 0; i < (size_t)w * h; i++) {
            ok &= dst[i * 3] == dst[i * 3 + 1] && dst[i * 3 + 1] == dst[i * 3 + 2];
            same &= abs((int)dst[i * 3] - (int)grey[i * 3]) <= 1;
        }
        CHECK(ok, "saturation index %d: a grey pixel got colour", (int)idx);
        CHECK(same, "saturation index %d: a grey pixel changed value", (int)idx);
        CHECK(wt_augment_image(grey, h, w, &sat_b, 22, idx, dst) == WT_OK, "saturation + all");
        ok = 1;
        for (size_t i = 0; i < (size_t)w * h; i++)
            ok &= dst[i * 3] == dst[i * 3 + 1] && dst[i * 3 + 1] == dst[i * 3 + 2];
        CHECK(ok, "saturation + geometry + brightness/contrast index %d: a grey image got colour", (int)idx);
    }
    /* Saturation does change a colourful image, and moves channels toward or away from grey. */
    wt_augment sat1 = {.saturation = 1.0f};
    int changed = 0;
    for (uint64_t idx = 0; idx < 8; idx++) {
        CHECK(wt_augment_image(src, h, w, &sat1, 23, idx, dst) == WT_OK, "saturation colour");
        changed += memcmp(src, dst, n) != 0;
    }
    CHECK(changed == 8, "saturation changed only %d of 8 colour images", changed);

    /* Contrast on a constant image leaves it unchanged (+-1), whatever the factor. */
    const uint8_t flat_rgb[][3] = {{0, 0, 0}, {128, 128, 128}, {255, 255, 255}, {30, 160, 220}};
    for (size_t t = 0; t < 4; t++) {
        for (size_t i = 0; i < (size_t)w * h; i++) memcpy(dst + i * 3, flat_rgb[t], 3);
        uint8_t* flat = xmalloc(n);
        memcpy(flat, dst, n);
        wt_augment con = {.contrast = 0.9f};
        for (uint64_t idx = 0; idx < 16; idx++) {
            CHECK(wt_augment_image(flat, h, w, &con, 24, idx, dst) == WT_OK, "contrast");
            int ok = 1;
            for (size_t i = 0; i < n; i++) ok &= abs((int)dst[i] - (int)flat[i]) <= 1;
            /* a grey flat image stays exactly where it is when it has no colour */
            CHECK(ok || t == 3, "contrast on a flat grey image changed it (colour %d, index %d)", (int)t, (int)idx);
            if (t == 3) {
                /* a flat coloured image: each channel moves around the mean grey, by the same
                 * factor, so the channel order is kept */
                CHECK(dst[0] <= dst[1] && dst[1] <= dst[2], "contrast reordered channels");
                int uniform = 1;
                for (size_t i = 3; i < n; i++) uniform &= dst[i] == dst[i % 3];
                CHECK(uniform, "contrast made a flat image non-flat");
            }
        }
        free(flat);
    }
    /* Contrast on a real spread: the spread around the mean changes by the factor's range. */
    wt_augment con = {.contrast = 0.5f};
    double m0 = mean_value(src, n);
    for (uint64_t idx = 0; idx < 8; idx++) {
        CHECK(wt_augment_image(src, h, w, &con, 25, idx, dst) == WT_OK, "contrast spread");
        double m1 = mean_value(dst, n);
        CHECK(fabs(m1 - m0) < 16.0, "contrast moved the mean from %.1f to %.1f", m0, m1);
    }
    free(grey);
    free(src);
    free(dst);
}

/* The same bytes on every platform: a digest of many augmentations of a fixed image, against the
 * value the native build and the wasm build (Node) both give. If the augmentation is changed on
 * purpose, update GOLDEN (and check that both builds agree on the new value). */
static uint64_t fnv1a(uint64_t h, const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ULL;
    return h;
}

static void test_golden(void) {
    const uint64_t GOLDEN = 0xBB6675BC816FDB5CULL; /* native x86-64 (gcc) and wasm (emcc, Node) */
    wt_rng r = {99};
    const int w = 61, h = 47;
    size_t n = (size_t)w * h * 3;
    uint8_t* src = random_image(&r, w, h);
    uint8_t* grad = gradient_image(w, h);
    uint8_t* dst = xmalloc(n);
    const wt_augment cases[] = {
        {.crop_scale_min = 0.6f, .crop_aspect = 0.33f, .flip = 1, .rotation_deg = 15.0f, .brightness = 0.3f,
         .contrast = 0.3f, .saturation = 0.3f},
        {.crop_scale_min = 0.08f, .crop_aspect = 3.0f},
        {.rotation_deg = 400.0f},
        {.flip = 1, .rotation_deg = 1.0f},
        {.brightness = 0.5f, .contrast = 0.5f, .saturation = 0.5f},
    };
    uint64_t digest = 0xCBF29CE484222325ULL;
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++)
        for (uint64_t idx = 0; idx < 40; idx++) {
            CHECK(wt_augment_image(idx & 1 ? grad : src, h, w, &cases[t], 0x5EED + t, idx * 977, dst) == WT_OK,
                  "golden");
            digest = fnv1a(digest, dst, n);
        }
    printf("golden digest: 0x%016llx\n", (unsigned long long)digest);
    CHECK(digest == GOLDEN, "augmentation bytes changed: digest 0x%016llx, expected 0x%016llx",
          (unsigned long long)digest, (unsigned long long)GOLDEN);
    free(src);
    free(grad);
    free(dst);
}

static void test_photo(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/datasets/flowers/train/daisy/10391248763_1d16681106_n.jpg", wt_test_shared_dir());
    size_t len = 0;
    uint8_t* bytes = wt_test_read_file(path, &len);
    if (!bytes) {
        printf("SKIP photo: %s not found\n", path);
        return;
    }
    wt_image img = {0};
    wt_status st = wt_image_decode(bytes, len, &img);
    free(bytes);
    CHECK(st == WT_OK, "decode %s: %s", path, wt_last_error());
    if (st != WT_OK) return;
    const int S = 224;
    size_t n = (size_t)S * S * 3;
    uint8_t *in = xmalloc(n), *out = xmalloc(n), *out2 = xmalloc(n);
    wt_preprocess p = {.out_h = S, .out_w = S};
    st = wt_image_resize_u8(&img, &p, in, n);
    CHECK(st == WT_OK, "resize: %s", wt_last_error());
    wt_image_free(&img);
    if (st != WT_OK) goto done;

    wt_augment aug = {.crop_scale_min = 0.6f, .crop_aspect = 0.33f, .flip = 1, .rotation_deg = 15.0f,
                      .brightness = 0.3f, .contrast = 0.3f, .saturation = 0.3f};
    double m_in = mean_value(in, n), worst = 0.0;
    for (uint64_t idx = 0; idx < 32; idx++) {
        CHECK(wt_augment_image(in, S, S, &aug, 2024, idx, out) == WT_OK, "photo augment");
        double m = mean_value(out, n);
        double ratio = m / m_in;
        if (fabs(ratio - 1.0) > worst) worst = fabs(ratio - 1.0);
        /* brightness alone is within +-30%; the crop picks a part of the photo */
        CHECK(ratio > 0.45 && ratio < 1.75, "photo index %d: mean %.1f vs input %.1f", (int)idx, m, m_in);
        CHECK(wt_augment_image(in, S, S, &aug, 2024, idx, out2) == WT_OK && memcmp(out, out2, n) == 0,
              "photo index %d: not deterministic", (int)idx);
    }
    printf("photo: input mean %.1f, worst relative change of the mean over 32 views %.2f\n", m_in, worst);

    /* Timing: typical strengths, and geometry only, and colour only. */
    const struct {
        const char* name;
        wt_augment a;
    } cases[] = {
        {"typical (crop+flip+rotation+jitter)", aug},
        {"geometry only", {.crop_scale_min = 0.6f, .crop_aspect = 0.33f, .flip = 1, .rotation_deg = 15.0f}},
        {"colour only", {.brightness = 0.3f, .contrast = 0.3f, .saturation = 0.3f}},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int reps = 200;
        unsigned sink = 0;
        double t0 = now_us();
        for (int i = 0; i < reps; i++) {
            wt_augment_image(in, S, S, &cases[t].a, 1, (uint64_t)i, out);
            sink += out[i % n];
        }
        double us = (now_us() - t0) / reps;
        printf("timing: %-36s %8.1f us per 224x224 augmentation (sink %u)\n", cases[t].name, us, sink & 1);
    }
done:
    free(in);
    free(out);
    free(out2);
}

static void test_errors(void) {
    uint8_t src[12] = {0}, dst[12];
    wt_augment ok = {0};
    CHECK(wt_augment_image(NULL, 2, 2, &ok, 0, 0, dst) == WT_ERR_INVALID_ARGUMENT, "NULL src");
    CHECK(strncmp(wt_last_error(), "wt_augment_image: ", 18) == 0, "message: %s", wt_last_error());
    CHECK(wt_augment_image(src, 2, 2, NULL, 0, 0, dst) == WT_ERR_INVALID_ARGUMENT, "NULL aug");
    CHECK(wt_augment_image(src, 2, 2, &ok, 0, 0, NULL) == WT_ERR_INVALID_ARGUMENT, "NULL dst");
    CHECK(wt_augment_image(src, 0, 2, &ok, 0, 0, dst) == WT_ERR_SHAPE, "height 0");
    CHECK(strncmp(wt_last_error(), "wt_augment_image: ", 18) == 0, "message: %s", wt_last_error());
    CHECK(wt_augment_image(src, 2, 0, &ok, 0, 0, dst) == WT_ERR_SHAPE, "width 0");
    CHECK(wt_augment_image(src, -3, 2, &ok, 0, 0, dst) == WT_ERR_SHAPE, "height -3");
    CHECK(wt_augment_image(src, 2, -1, &ok, 0, 0, dst) == WT_ERR_SHAPE, "width -1");
    float bad[] = {-0.1f, -INFINITY, INFINITY, NAN};
    for (int f = 0; f < 6; f++)
        for (int b = 0; b < 4; b++) {
            wt_augment a = {0};
            float* fields[] = {&a.crop_scale_min, &a.crop_aspect, &a.rotation_deg,
                               &a.brightness,     &a.contrast,    &a.saturation};
            *fields[f] = bad[b];
            memset(dst, 0x77, sizeof dst);
            wt_status st = wt_augment_image(src, 2, 2, &a, 0, 0, dst);
            CHECK(st == WT_ERR_INVALID_ARGUMENT, "field %d = %g: status %d", f, bad[b], (int)st);
            CHECK(strncmp(wt_last_error(), "wt_augment_image: ", 18) == 0, "message: %s", wt_last_error());
            CHECK(dst[0] == 0x77, "field %d = %g: dst written on failure", f, bad[b]);
        }
    /* -0.0 is zero, not negative. */
    wt_augment negzero = {.brightness = -0.0f};
    CHECK(wt_augment_image(src, 2, 2, &negzero, 0, 0, dst) == WT_OK, "-0.0 strength");
    /* Absurd but finite colour strengths do not crash or trip UBSan. */
    wt_augment absurd = {.brightness = 1e38f, .contrast = 1e38f, .saturation = 1e38f};
    for (int i = 0; i < 12; i++) src[i] = (uint8_t)(i * 20);
    for (uint64_t idx = 0; idx < 8; idx++)
        CHECK(wt_augment_image(src, 2, 2, &absurd, 0, idx, dst) == WT_OK, "absurd colour strengths");
}

int main(void) {
    test_zero_is_copy();
    test_determinism();
    test_flip();
    test_rotation();
    test_crop();
    test_colour();
    test_golden();
    test_photo();
    test_errors();
    return wt_test_summary();
}
