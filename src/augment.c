/* augment.c: random augmentation of uint8 RGB examples, on the fly during training. Geometry
 * (random resized crop, horizontal flip, rotation) is one inverse affine map sampled bilinearly;
 * colour jitter follows. Every draw is wt_uniform(seed, index*16 + k), so an augmentation is a
 * pure function of (seed, index): the same on every platform and thread count. */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "ops.h"

enum { DRAW_SCALE, DRAW_ASPECT, DRAW_X, DRAW_Y, DRAW_FLIP, DRAW_ANGLE, DRAW_BRIGHT, DRAW_CONTRAST, DRAW_SAT };

static float draw(uint64_t seed, uint64_t index, int k) {
    return wt_uniform(seed ^ 0xA0761D6478BD642FULL, index * 16u + (uint64_t)k);
}

static int bad_strength(float v) { return !(v >= 0.0f) || !isfinite(v); }

static uint8_t to_u8(float v) {
    v = nearbyintf(v);
    return (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
}

wt_status wt_augment_image(const uint8_t* src, int height, int width, const wt_augment* a, uint64_t seed,
                           uint64_t index, uint8_t* dst) {
    static const char fn[] = "wt_augment_image";
    if (!src || !a || !dst) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    if (height < 1 || width < 1 || height > WT_IMAGE_MAX_SIDE || width > WT_IMAGE_MAX_SIDE)
        return wt_fail(WT_ERR_SHAPE, "%s: size %dx%d is not allowed", fn, width, height);
    if (bad_strength(a->crop_scale_min) || bad_strength(a->crop_aspect) || bad_strength(a->rotation_deg) ||
        bad_strength(a->brightness) || bad_strength(a->contrast) || bad_strength(a->saturation))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: strengths must be finite and >= 0", fn);

    const double W = width, H = height;
    int crop = a->crop_scale_min > 0.0f && a->crop_scale_min < 1.0f;
    int flip = a->flip && draw(seed, index, DRAW_FLIP) < 0.5f;
    double angle = a->rotation_deg > 0.0f ? (2.0 * draw(seed, index, DRAW_ANGLE) - 1.0) * a->rotation_deg * (M_PI / 180.0) : 0.0;
    size_t n = (size_t)width * height;

    if (!crop && !flip && angle == 0.0) {
        memcpy(dst, src, n * 3);
    } else {
        /* the crop window in source pixels */
        double cw = W, ch = H, x0 = 0.0, y0 = 0.0;
        if (crop) {
            double s = a->crop_scale_min + (1.0 - a->crop_scale_min) * draw(seed, index, DRAW_SCALE);
            double r = 1.0;
            if (a->crop_aspect > 0.0f) {
                double lim = log(1.0 + a->crop_aspect);
                r = exp((2.0 * draw(seed, index, DRAW_ASPECT) - 1.0) * lim);
            }
            cw = fmin(W, W * sqrt(s * r));
            ch = fmin(H, H * sqrt(s / r));
            x0 = draw(seed, index, DRAW_X) * (W - cw);
            y0 = draw(seed, index, DRAW_Y) * (H - ch);
        }
        double cx = x0 + cw / 2, cy = y0 + ch / 2, cs = cos(angle), sn = sin(angle);
        /* output pixel centre (ox + 0.5, oy + 0.5) -> source coordinates, an affine map:
         * sx = ax*ox + bx*oy + c0x, sy = ay*ox + by*oy + c0y (in pixel-index units) */
        double ux = (flip ? -1.0 : 1.0) * cw / W, vy = ch / H;
        double ax = cs * ux, ay = sn * ux, bx = -sn * vy, by = cs * vy;
        double u0 = (flip ? W - 0.5 : 0.5) * cw / W + x0 - cx, v0 = 0.5 * ch / H + y0 - cy;
        double c0x = cx + cs * u0 - sn * v0 - 0.5, c0y = cy + sn * u0 + cs * v0 - 0.5;
        for (int oy = 0; oy < height; oy++) {
            uint8_t* out = dst + (size_t)oy * width * 3;
            double sx = bx * oy + c0x, sy = by * oy + c0y;
            for (int ox = 0; ox < width; ox++, sx += ax, sy += ay) {
                double fx = sx < 0.0 ? 0.0 : sx > W - 1 ? W - 1 : sx;
                double fy = sy < 0.0 ? 0.0 : sy > H - 1 ? H - 1 : sy;
                int xl = (int)fx, yl = (int)fy;
                int xh = xl + 1 < width ? xl + 1 : xl, yh = yl + 1 < height ? yl + 1 : yl;
                float tx = (float)(fx - xl), ty = (float)(fy - yl);
                const uint8_t* p00 = src + ((size_t)yl * width + xl) * 3;
                const uint8_t* p01 = src + ((size_t)yl * width + xh) * 3;
                const uint8_t* p10 = src + ((size_t)yh * width + xl) * 3;
                const uint8_t* p11 = src + ((size_t)yh * width + xh) * 3;
                for (int c = 0; c < 3; c++) {
                    float top = p00[c] + (p01[c] - p00[c]) * tx;
                    float bot = p10[c] + (p11[c] - p10[c]) * tx;
                    out[ox * 3 + c] = to_u8(top + (bot - top) * ty);
                }
            }
        }
    }

    if (a->brightness == 0.0f && a->contrast == 0.0f && a->saturation == 0.0f) return WT_OK;
    float b = 1.0f + a->brightness * (2.0f * draw(seed, index, DRAW_BRIGHT) - 1.0f);
    float k = 1.0f + a->contrast * (2.0f * draw(seed, index, DRAW_CONTRAST) - 1.0f);
    float s = 1.0f + a->saturation * (2.0f * draw(seed, index, DRAW_SAT) - 1.0f);
    double sum = 0.0;
    if (a->contrast > 0.0f)
        for (size_t i = 0; i < n; i++) sum += 0.299 * dst[i * 3] + 0.587 * dst[i * 3 + 1] + 0.114 * dst[i * 3 + 2];
    float mean = (float)(sum / (double)n) * b; /* mean grey after the brightness change */
    for (size_t i = 0; i < n; i++) {
        uint8_t* p = dst + i * 3;
        float r = p[0] * b, g = p[1] * b, bl = p[2] * b;
        if (a->contrast > 0.0f) {
            r = (r - mean) * k + mean;
            g = (g - mean) * k + mean;
            bl = (bl - mean) * k + mean;
        }
        if (a->saturation > 0.0f) {
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
