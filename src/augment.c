/* augment.c: random augmentation of uint8 RGB examples, on the fly during training. Geometry
 * (random resized crop, horizontal flip, rotation) is one inverse affine map sampled bilinearly;
 * colour jitter follows.
 *
 * Randomness: draw k of example `index` is wt_uniform(seed ^ AUG_SALT, index*16 + k), so an
 * augmentation is a pure function of (seed, index), and the salt keeps it independent of the other
 * streams drawn from the same seed (shuffling, dropout). Every draw is made whether or not its
 * transform is on, at a fixed k, so turning one transform on does not change another's draws.
 *
 * Same bytes on every platform: the arithmetic is IEEE float/double +, -, *, /, sqrt, floor, fmod
 * and frexp/ldexp only (all exactly specified), with contraction into FMAs disabled. exp, log, sin
 * and cos, whose libm results may differ in the last bit between glibc, musl (Emscripten) and
 * others, are computed here from series in those operations. */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "ops.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && defined(__FP_FAST_FMA)
#pragma GCC optimize("fp-contract=off")
#endif

#define AUG_SALT 0xA0761D6478BD642FULL

enum { DRAW_SCALE, DRAW_ASPECT, DRAW_X, DRAW_Y, DRAW_FLIP, DRAW_ANGLE, DRAW_BRIGHT, DRAW_CONTRAST, DRAW_SAT };

static double draw(uint64_t seed, uint64_t index, int k) {
    return wt_uniform(seed ^ AUG_SALT, index * 16u + (uint64_t)k);
}

/* ------------------------------------------------------------------------------------------- */
/* Portable elementary functions (accurate to a few ulp; what matters is that they are the same  */
/* bits everywhere).                                                                             */

static const double LN2 = 0.69314718055994530942;
static const double PI = 3.14159265358979323846;

/* log(x) for finite x > 0. x = m * 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(f),
 * f = (m-1)/(m+1), |f| < 0.172, and the series to f^23 leaves < 1e-18. */
static double det_log(double x) {
    int e;
    double m = frexp(x, &e);
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        e--;
    }
    double f = (m - 1.0) / (m + 1.0), f2 = f * f, sum = 0.0;
    for (int k = 23; k >= 1; k -= 2) sum = sum * f2 + 1.0 / k;
    return 2.0 * f * sum + e * LN2;
}

/* exp(y) for |y| < 700: y = n ln2 + r with |r| <= ln2/2, Taylor to r^20 (< 1e-25). */
static double det_exp(double y) {
    double n = floor(y / LN2 + 0.5), r = y - n * LN2, p = 1.0;
    for (int k = 20; k >= 1; k--) p = 1.0 + p * r / k;
    return ldexp(p, (int)n);
}

/* sin and cos of deg degrees (finite): reduced exactly modulo 360, then to an octant around a
 * multiple of 90, where Taylor to x^21 (|x| <= pi/4) leaves < 1e-22. */
static void det_sincos_deg(double deg, double* s, double* c) {
    double d = fmod(deg, 360.0); /* exact */
    double q = floor(d / 90.0 + 0.5);
    double x = (d - q * 90.0) * (PI / 180.0), x2 = x * x;
    double sn = 0.0, cs = 0.0;
    for (int k = 21; k >= 3; k -= 2) sn = (sn + 1.0) * -x2 / ((double)k * (k - 1)); /* odd terms */
    sn = x * (1.0 + sn);
    for (int k = 20; k >= 2; k -= 2) cs = (cs + 1.0) * -x2 / ((double)k * (k - 1));
    cs = 1.0 + cs;
    int quadrant = ((int)q % 4 + 4) % 4;
    switch (quadrant) {
    case 0: *s = sn; *c = cs; break;
    case 1: *s = cs; *c = -sn; break;
    case 2: *s = -sn; *c = -cs; break;
    default: *s = -cs; *c = sn; break;
    }
}

/* ------------------------------------------------------------------------------------------- */

static int bad_strength(float v) { return !(v >= 0.0f) || !isfinite(v); }

/* v in [0, 255] to the nearest integer, ties to even: adding and removing 2^23 rounds to an
 * integer in the IEEE default rounding mode (the only one wasm has; webtune never changes it). */
static inline uint8_t round_u8(float v) { return (uint8_t)(int)((v + 8388608.0f) - 8388608.0f); }

/* Any v: nearest integer, ties to even, clamped to [0, 255]. NaN (only from absurd strengths,
 * inf - inf) gives 255. */
static inline uint8_t to_u8(float v) {
    v = v < 255.0f ? v : 255.0f;
    v = v > 0.0f ? v : 0.0f;
    return round_u8(v);
}

/* dst = src through the affine map from output pixel (ox, oy) to source coordinates
 * (ax*ox + bx*oy + cx, ay*ox + by*oy + cy), in pixel-index units (pixel i's centre is at i),
 * bilinear with clamped edges. */
static void warp(const uint8_t* src, int height, int width, const double m[6], uint8_t* dst) {
    const double ax = m[0], bx = m[1], cx = m[2], ay = m[3], by = m[4], cy = m[5];
    const double xmax = width - 1, ymax = height - 1;
    const size_t row = (size_t)width * 3;
    for (int oy = 0; oy < height; oy++) {
        uint8_t* out = dst + (size_t)oy * row;
        double bxo = bx * oy + cx, byo = by * oy + cy;
        for (int ox = 0; ox < width; ox++) {
            double sx = ax * ox + bxo, sy = ay * ox + byo;
            double fx = !(sx > 0.0) ? 0.0 : sx > xmax ? xmax : sx;
            double fy = !(sy > 0.0) ? 0.0 : sy > ymax ? ymax : sy;
            int xl = (int)fx, yl = (int)fy;
            size_t dx = xl < width - 1 ? 3 : 0;
            size_t dy = yl < height - 1 ? row : 0;
            float tx = (float)(fx - xl), ty = (float)(fy - yl);
            const uint8_t* p = src + (size_t)yl * row + (size_t)xl * 3;
            for (int c = 0; c < 3; c++) {
                float p00 = p[c], p01 = p[c + dx], p10 = p[c + dy], p11 = p[c + dy + dx];
                float top = p00 + (p01 - p00) * tx;
                float bot = p10 + (p11 - p10) * tx;
                out[ox * 3 + c] = round_u8(top + (bot - top) * ty); /* in [p00..p11]: no clamp */
            }
        }
    }
}

wt_status wt_augment_image(const uint8_t* src, int height, int width, const wt_augment* a, uint64_t seed,
                           uint64_t index, uint8_t* dst) {
    static const char fn[] = "wt_augment_image";
    if (!src || !a || !dst) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    if (height < 1 || width < 1 || height > WT_IMAGE_MAX_SIDE || width > WT_IMAGE_MAX_SIDE)
        return wt_fail(WT_ERR_SHAPE, "%s: size %dx%d is not allowed (each side 1..%d)", fn, width, height,
                       WT_IMAGE_MAX_SIDE);
    if (bad_strength(a->crop_scale_min) || bad_strength(a->crop_aspect) || bad_strength(a->rotation_deg) ||
        bad_strength(a->brightness) || bad_strength(a->contrast) || bad_strength(a->saturation))
        return wt_fail(WT_ERR_INVALID_ARGUMENT,
                       "%s: strengths must be finite and >= 0 (crop_scale_min %g, crop_aspect %g, "
                       "rotation_deg %g, brightness %g, contrast %g, saturation %g)",
                       fn, a->crop_scale_min, a->crop_aspect, a->rotation_deg, a->brightness, a->contrast,
                       a->saturation);

    const double W = width, H = height;
    const size_t n = (size_t)width * height;
    int crop = a->crop_scale_min > 0.0f && a->crop_scale_min < 1.0f;
    int flip = a->flip && draw(seed, index, DRAW_FLIP) < 0.5;
    double deg = a->rotation_deg > 0.0f ? (2.0 * draw(seed, index, DRAW_ANGLE) - 1.0) * a->rotation_deg : 0.0;

    if (!crop && !flip && deg == 0.0) {
        memcpy(dst, src, n * 3); /* identity: exact, not resampled */
    } else {
        /* The crop window [x0, x0+cw) x [y0, y0+ch), in source coordinates where pixel i spans
         * [i, i+1). */
        double cw = W, ch = H, x0 = 0.0, y0 = 0.0;
        if (crop) {
            double s = a->crop_scale_min + (1.0 - a->crop_scale_min) * draw(seed, index, DRAW_SCALE);
            double r = 1.0;
            if (a->crop_aspect > 0.0f)
                r = det_exp((2.0 * draw(seed, index, DRAW_ASPECT) - 1.0) * det_log(1.0 + a->crop_aspect));
            cw = fmin(W, W * sqrt(s * r));
            ch = fmin(H, H * sqrt(s / r));
            x0 = draw(seed, index, DRAW_X) * (W - cw);
            y0 = draw(seed, index, DRAW_Y) * (H - ch);
        }
        double sn = 0.0, cs = 1.0;
        if (deg != 0.0) det_sincos_deg(deg, &sn, &cs);
        /* Output pixel centre (ox + 0.5, oy + 0.5) maps into the crop at
         *   u = x0 + (ox + 0.5) * cw/W   (flipped: x0 + (W - ox - 0.5) * cw/W),
         *   v = y0 + (oy + 0.5) * ch/H,
         * which is rotated about the crop centre (px, py) and shifted by -0.5 to pixel indices:
         *   sx = px + cs*(u - px) - sn*(v - py) - 0.5,  sy = py + sn*(u - px) + cs*(v - py) - 0.5.
         * With u - px = ux*ox + u0 and v - py = vy*oy + v0 this is affine in (ox, oy). */
        double px = x0 + cw / 2, py = y0 + ch / 2;
        double ux = (flip ? -1.0 : 1.0) * cw / W, vy = ch / H;
        double u0 = (flip ? W - 0.5 : 0.5) * cw / W + x0 - px, v0 = 0.5 * ch / H + y0 - py;
        double m[6] = {cs * ux, -sn * vy, px + cs * u0 - sn * v0 - 0.5,
                       sn * ux, cs * vy, py + sn * u0 + cs * v0 - 0.5};
        warp(src, height, width, m, dst);
    }

    /* Colour jitter, in float: brightness, then contrast around the mean grey, then saturation
     * around each pixel's grey; rounded and clamped once at the end. */
    if (a->brightness == 0.0f && a->contrast == 0.0f && a->saturation == 0.0f) return WT_OK;
    float b = 1.0f + a->brightness * (float)(2.0 * draw(seed, index, DRAW_BRIGHT) - 1.0);
    float k = 1.0f + a->contrast * (float)(2.0 * draw(seed, index, DRAW_CONTRAST) - 1.0);
    float s = 1.0f + a->saturation * (float)(2.0 * draw(seed, index, DRAW_SAT) - 1.0);
    int do_contrast = a->contrast > 0.0f, do_sat = a->saturation > 0.0f;
    float mean = 0.0f;
    if (do_contrast) {
        uint64_t sum[3] = {0, 0, 0}; /* exact: n*255 < 2^36 */
        for (size_t i = 0; i < n; i++) {
            sum[0] += dst[i * 3];
            sum[1] += dst[i * 3 + 1];
            sum[2] += dst[i * 3 + 2];
        }
        double grey = 0.299 * (double)sum[0] + 0.587 * (double)sum[1] + 0.114 * (double)sum[2];
        mean = (float)(grey / (double)n) * b; /* the mean grey after the brightness change */
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t* p = dst + i * 3;
        float r = p[0] * b, g = p[1] * b, bl = p[2] * b;
        if (do_contrast) {
            r = (r - mean) * k + mean;
            g = (g - mean) * k + mean;
            bl = (bl - mean) * k + mean;
        }
        if (do_sat) {
            float grey = 0.299f * r + 0.587f * g + 0.114f * bl;
            r = (r - grey) * s + grey;
            g = (g - grey) * s + grey;
            bl = (bl - grey) * s + grey;
        }
        p[0] = to_u8(r);
        p[1] = to_u8(g);
        p[2] = to_u8(bl);
    }
    return WT_OK;
}
