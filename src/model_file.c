/* model_file.c: webtune's own model file (docs/model-format.md): the graph, every parameter, the
 * class labels, the preprocessing and the backbone's identity in one self-describing binary.
 *
 * Saving runs one writer twice over the same code: first without a buffer to measure the file,
 * then into one allocation of exactly that size. Parameters are read through the public API.
 *
 * Loading treats the bytes as hostile, in three steps:
 *   1. Header and trailer: magic, format version, total length, SHA-256. A damaged or truncated
 *      file stops here with a message saying so.
 *   2. Structure, with no net yet: the section table; every layer record (inputs must name earlier
 *      nodes); the channel count of every node, from which the exact tensors each layer will own
 *      follow; every parameter record checked against those (kind, shape, count, data present in
 *      the file); labels, preprocessing, backbone and meta records. Every count is checked
 *      against the bytes that remain and a limit before anything is allocated, in 64-bit
 *      arithmetic, so an allocation is never larger than a small multiple of the file.
 *   3. Build: wt_net_add replays each layer (its own validation catches what is left, e.g. a
 *      kernel that does not fit), then states and parameter values are written through the
 *      public API (which rejects non-finite values and negative variances). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sha256.h"

#define HEADER_BYTES 24
#define SECTION_HEADER_BYTES 12
#define TRAILER_BYTES 32
#define LAYER_FIXED_BYTES 88  /* a layer record without its name bytes */
#define PARAM_FIXED_BYTES 40  /* a parameter record without name, padding and data */
#define MAX_LAYERS 16384
#define MAX_LAYER_NAME 200    /* wt_net_add's limit */
#define MAX_PARAM_NAME 256
#define MAX_LABELS 65536
#define MAX_LABEL_BYTES 4096
#define MAX_BACKBONE_NAME 63
#define MAX_TENSOR_VALUES ((uint64_t)1 << 28)
#define MAX_IN_HW 8192        /* wt_net_create's limits */
#define MAX_CHANNELS 65536
#define MAX_KERNEL 15         /* wt_net_add's limit */

#define DTYPE_F32 0u
#define DTYPE_F16 1u
#define FLAG_HAS_F16 1u

static const uint8_t MAGIC[8] = { 'W', 'T', 'M', 'O', 'D', 'E', 'L', 0 };

#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
enum { SEC_GRAPH, SEC_PARAMS, SEC_LABELS, SEC_PREPROCESS, SEC_BACKBONE, SEC_META, SEC_COUNT };
static const uint32_t SECTION_TAGS[SEC_COUNT] = {
    TAG('G', 'R', 'P', 'H'), TAG('P', 'A', 'R', 'M'), TAG('L', 'A', 'B', 'L'),
    TAG('P', 'R', 'E', 'P'), TAG('B', 'K', 'B', 'N'), TAG('M', 'E', 'T', 'A'),
};
static const char* const SECTION_NAMES[SEC_COUNT] = { "graph", "params", "labels", "preprocess", "backbone",
                                                      "meta" };

/* ------------------------------------------------------------------------------------------- */
/* Little-endian bytes and IEEE half                                                            */
/* ------------------------------------------------------------------------------------------- */

static uint32_t get_u32(const uint8_t* p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t* p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }
static void put_u32(uint8_t* p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static void put_u64(uint8_t* p, uint64_t v) {
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}
static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static int32_t u32_to_i32(uint32_t u) {
    int32_t v;
    memcpy(&v, &u, 4);
    return v;
}
static uint32_t i32_to_u32(int32_t v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return u;
}

/* float32 -> IEEE binary16, round to nearest, ties to even. Overflow gives infinity, NaN stays a
 * (quiet) NaN, tiny values become subnormals or signed zero. */
static uint16_t f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or NaN */
        return (uint16_t)(sign | (ax > 0x7f800000u ? 0x7e00u | ((ax >> 13) & 0x3ffu) : 0x7c00u));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to infinity */
    if (ax < 0x38800000u) {                                   /* below 2^-14: a half subnormal */
        if (ax <= 0x33000000u) return (uint16_t)sign;         /* <= 2^-25 (the tie rounds to 0) */
        uint32_t e = ax >> 23;                                /* 102..112 */
        uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e;                            /* value = m >> shift units of 2^-24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u))) q++;     /* may carry into the smallest normal */
        return (uint16_t)(sign | q);
    }
    uint32_t h = (ax - 0x38000000u) >> 13; /* rebias the exponent 127 -> 15, keep 10 mantissa bits */
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++; /* a carry may step the exponent */
    return (uint16_t)(sign | h);
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) {
        if (m == 0) return bits_f32(sign);
        uint32_t exp = 113; /* normalise the subnormal: 2^-14 * m/1024 */
        while (!(m & 0x400u)) {
            m <<= 1;
            exp--;
        }
        return bits_f32(sign | exp << 23 | (m & 0x3ffu) << 13);
    }
    if (e == 31) return bits_f32(sign | 0x7f800000u | m << 13);
    return bits_f32(sign | (e + 112u) << 23 | m << 13);
}

static int f16_is_finite(uint16_t h) { return (h & 0x7c00u) != 0x7c00u; }

/* Valid UTF-8 (no overlong forms, surrogates or code points above U+10FFFF) without NUL bytes. */
static int utf8_valid(const uint8_t* s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c == 0) return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) { k = 2; cp = c & 0x1fu; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { k = 3; cp = c & 0x0fu; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { k = 4; cp = c & 0x07u; min = 0x10000; }
        else return 0;
        if (n - i < k) return 0;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += k;
    }
    return 1;
}

static void tag_text(uint32_t tag, char out[16]) {
    uint8_t c[4] = { (uint8_t)tag, (uint8_t)(tag >> 8), (uint8_t)(tag >> 16), (uint8_t)(tag >> 24) };
    int printable = 1;
    for (int i = 0; i < 4; i++) printable &= c[i] >= 0x20 && c[i] < 0x7f;
    if (printable) snprintf(out, 16, "'%c%c%c%c'", c[0], c[1], c[2], c[3]);
    else snprintf(out, 16, "0x%08x", (unsigned)tag);
}

/* ------------------------------------------------------------------------------------------- */
/* The tensors a layer owns, in the order wt_net_add creates them                                */
/* ------------------------------------------------------------------------------------------- */

typedef struct tensor_spec {
    wt_param_kind kind;
    int32_t shape[4];
} tensor_spec;

static uint64_t spec_count(const tensor_spec* t) {
    return (uint64_t)t->shape[0] * (uint64_t)t->shape[1] * (uint64_t)t->shape[2] * (uint64_t)t->shape[3];
}

/* Fills specs (room for 4) for a layer of `type` reading in_c channels and giving out_c; the kernel
 * sizes are the description's after defaults (each 1..MAX_KERNEL). Returns how many. */
static int layer_tensors(const wt_layer_desc* d, int in_c, int out_c, tensor_spec specs[4]) {
    int n = 0;
    int kh = d->kernel_h ? d->kernel_h : 3, kw = d->kernel_w ? d->kernel_w : 3;
#define SPEC(k, a, b, c, e) (specs[n++] = (tensor_spec){ (k), { (a), (b), (c), (e) } })
    switch (d->type) {
    case WT_LAYER_CONV2D:
        SPEC(WT_PARAM_WEIGHT, kh, kw, in_c, out_c);
        if (d->use_bias) SPEC(WT_PARAM_BIAS, out_c, 1, 1, 1);
        break;
    case WT_LAYER_DEPTHWISE:
        SPEC(WT_PARAM_WEIGHT, kh, kw, out_c, 1);
        if (d->use_bias) SPEC(WT_PARAM_BIAS, out_c, 1, 1, 1);
        break;
    case WT_LAYER_DENSE:
        SPEC(WT_PARAM_WEIGHT, 1, 1, in_c, out_c);
        if (d->use_bias) SPEC(WT_PARAM_BIAS, out_c, 1, 1, 1);
        break;
    case WT_LAYER_BATCHNORM:
        SPEC(WT_PARAM_GAMMA, out_c, 1, 1, 1);
        SPEC(WT_PARAM_BETA, out_c, 1, 1, 1);
        SPEC(WT_PARAM_MOVING_MEAN, out_c, 1, 1, 1);
        SPEC(WT_PARAM_MOVING_VARIANCE, out_c, 1, 1, 1);
        break;
    default: break;
    }
#undef SPEC
    return n;
}

/* ------------------------------------------------------------------------------------------- */
/* Writing                                                                                      */
/* ------------------------------------------------------------------------------------------- */

/* With p == NULL the writer only counts, so the same code measures the file and then writes it. */
typedef struct writer {
    uint8_t* p;
    size_t pos;
} writer;

static void w_bytes(writer* w, const void* src, size_t n) {
    if (w->p && n) memcpy(w->p + w->pos, src, n);
    w->pos += n;
}
static void w_u16(writer* w, uint16_t v) {
    if (w->p) {
        w->p[w->pos] = (uint8_t)v;
        w->p[w->pos + 1] = (uint8_t)(v >> 8);
    }
    w->pos += 2;
}
static void w_u32(writer* w, uint32_t v) {
    if (w->p) put_u32(w->p + w->pos, v);
    w->pos += 4;
}
static void w_i32(writer* w, int32_t v) { w_u32(w, i32_to_u32(v)); }
static void w_u64(writer* w, uint64_t v) {
    if (w->p) put_u64(w->p + w->pos, v);
    w->pos += 8;
}
static void w_f32(writer* w, float v) { w_u32(w, f32_bits(v)); }
static void w_string(writer* w, const char* s, size_t n) {
    w_u32(w, (uint32_t)n);
    w_bytes(w, s, n);
}
/* A section header whose length is patched by section_end. Returns where the length goes. */
static size_t section_begin(writer* w, int sec) {
    w_u32(w, SECTION_TAGS[sec]);
    size_t at = w->pos;
    w_u64(w, 0);
    return at;
}
static void section_end(writer* w, size_t at) {
    if (w->p) put_u64(w->p + at, (uint64_t)(w->pos - at - 8));
}

typedef struct save_job {
    const wt_net* net;
    const wt_model_meta* meta;
    int n_nodes, n_params;
    uint8_t* dtypes; /* per parameter: DTYPE_F32 or DTYPE_F16 */
    float* tmp;      /* room for the largest parameter */
    int any_f16;
} save_job;

static void write_model(writer* w, const save_job* job) {
    const wt_net* net = job->net;
    const wt_model_meta* meta = job->meta;
    int in_h, in_w, in_c;
    wt_net_node_shape(net, 0, &in_h, &in_w, &in_c);

    w_bytes(w, MAGIC, 8);
    w_u16(w, WT_MODEL_FORMAT_MAJOR);
    w_u16(w, WT_MODEL_FORMAT_MINOR);
    w_u32(w, job->any_f16 ? FLAG_HAS_F16 : 0u);
    size_t total_at = w->pos;
    w_u64(w, 0); /* total length, patched at the end */

    size_t at = section_begin(w, SEC_GRAPH);
    w_u32(w, (uint32_t)in_h);
    w_u32(w, (uint32_t)in_w);
    w_u32(w, (uint32_t)in_c);
    w_u32(w, (uint32_t)(job->n_nodes - 1));
    for (int i = 1; i < job->n_nodes; i++) {
        wt_layer_desc d;
        int trainable = 0;
        float lr_scale = 1.0f;
        wt_bn_mode bn_mode = WT_BN_FROZEN;
        wt_net_node_desc(net, i, &d);
        wt_net_node_state(net, i, &trainable, &lr_scale, &bn_mode);
        w_u32(w, (uint32_t)d.type);
        w_i32(w, d.input);
        w_i32(w, d.input2);
        w_i32(w, d.out_channels);
        w_i32(w, d.kernel_h);
        w_i32(w, d.kernel_w);
        w_i32(w, d.stride);
        w_i32(w, (int32_t)d.padding);
        w_i32(w, d.pad_top);
        w_i32(w, d.pad_bottom);
        w_i32(w, d.pad_left);
        w_i32(w, d.pad_right);
        w_i32(w, d.use_bias);
        w_i32(w, (int32_t)d.bn_mode);
        w_f32(w, d.bn_epsilon);
        w_f32(w, d.bn_momentum);
        w_f32(w, d.dropout_rate);
        w_f32(w, d.grl_lambda);
        w_u32(w, trainable ? 1u : 0u);
        w_f32(w, lr_scale);
        w_i32(w, (int32_t)bn_mode);
        w_string(w, d.name, strlen(d.name));
    }
    section_end(w, at);

    at = section_begin(w, SEC_PARAMS);
    w_u32(w, (uint32_t)job->n_params);
    for (int i = 0; i < job->n_params; i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        unsigned dtype = job->dtypes[i];
        w_u32(w, (uint32_t)i);
        w_u32(w, (uint32_t)info.kind);
        w_u32(w, dtype);
        for (int k = 0; k < 4; k++) w_i32(w, info.shape[k]);
        w_u64(w, (uint64_t)info.count);
        w_string(w, info.name, strlen(info.name));
        while (w->pos % 4) { /* data starts at a file offset that is a multiple of 4 */
            uint8_t zero = 0;
            w_bytes(w, &zero, 1);
        }
        size_t data_bytes = info.count * (dtype == DTYPE_F16 ? 2u : 4u);
        if (!w->p) {
            w->pos += data_bytes;
            continue;
        }
        wt_net_param_read(net, i, job->tmp, info.count);
        uint8_t* dst = w->p + w->pos;
        if (dtype == DTYPE_F16) {
            for (size_t j = 0; j < info.count; j++) {
                uint16_t h = f32_to_f16(job->tmp[j]);
                dst[2 * j] = (uint8_t)h;
                dst[2 * j + 1] = (uint8_t)(h >> 8);
            }
        } else {
            for (size_t j = 0; j < info.count; j++) put_u32(dst + 4 * j, f32_bits(job->tmp[j]));
        }
        w->pos += data_bytes;
    }
    section_end(w, at);

    int n_labels = meta ? meta->n_labels : 0;
    at = section_begin(w, SEC_LABELS);
    w_u32(w, (uint32_t)n_labels);
    for (int i = 0; i < n_labels; i++) w_string(w, meta->labels[i], strlen(meta->labels[i]));
    section_end(w, at);

    wt_preprocess pre = { 0 };
    if (meta) pre = meta->preprocess;
    at = section_begin(w, SEC_PREPROCESS);
    w_u32(w, (uint32_t)pre.out_h);
    w_u32(w, (uint32_t)pre.out_w);
    w_u32(w, (uint32_t)pre.filter);
    w_u32(w, (uint32_t)pre.crop);
    w_f32(w, pre.scale);
    w_f32(w, pre.offset);
    section_end(w, at);

    static const uint8_t no_hash[32] = { 0 };
    at = section_begin(w, SEC_BACKBONE);
    if (meta) w_string(w, meta->backbone_name, strlen(meta->backbone_name));
    else w_string(w, "", 0);
    w_bytes(w, meta ? meta->backbone_sha256 : no_hash, 32);
    section_end(w, at);

    at = section_begin(w, SEC_META);
    w_i32(w, meta ? meta->embedding_node : -1);
    w_i32(w, meta ? meta->logits_node : -1);
    w_u32(w, meta && meta->output_softmax ? 1u : 0u);
    section_end(w, at);

    size_t total = w->pos + TRAILER_BYTES;
    if (w->p) {
        put_u64(w->p + total_at, (uint64_t)total);
        wt_sha256(w->p, w->pos, w->p + w->pos);
    }
    w->pos = total;
}

static wt_status check_meta_for_save(const wt_net* net, const wt_model_meta* meta) {
    int n_nodes = wt_net_node_count(net);
    if (meta->n_labels < 0 || meta->n_labels > MAX_LABELS)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_save: n_labels %d is not in 0..%d", meta->n_labels,
                       MAX_LABELS);
    if (meta->n_labels > 0 && !meta->labels)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_save: labels is NULL but n_labels is %d", meta->n_labels);
    for (int i = 0; i < meta->n_labels; i++) {
        const char* s = meta->labels[i];
        if (!s) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_save: label %d is NULL", i);
        size_t n = 0;
        while (n <= MAX_LABEL_BYTES && s[n]) n++;
        if (n == 0 || n > MAX_LABEL_BYTES)
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_save: label %d must be 1..%d bytes", i, MAX_LABEL_BYTES);
        if (!utf8_valid((const uint8_t*)s, n))
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_save: label %d is not valid UTF-8", i);
    }
    const char* nul = (const char*)memchr(meta->backbone_name, 0, sizeof meta->backbone_name);
    if (!nul)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_save: backbone_name has no terminating NUL in its %d bytes",
                       (int)sizeof meta->backbone_name);
    if (!utf8_valid((const uint8_t*)meta->backbone_name, (size_t)(nul - meta->backbone_name)))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_save: backbone_name is not valid UTF-8");
    if (meta->embedding_node < -1 || meta->embedding_node >= n_nodes)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_save: embedding_node %d is not in -1..%d",
                       meta->embedding_node, n_nodes - 1);
    if (meta->logits_node < -1 || meta->logits_node >= n_nodes)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_save: logits_node %d is not in -1..%d", meta->logits_node,
                       n_nodes - 1);
    if (meta->n_labels > 0 && meta->logits_node >= 0) {
        int c = 0;
        wt_net_node_shape(net, meta->logits_node, NULL, NULL, &c);
        if (c != meta->n_labels)
            return wt_fail(WT_ERR_SHAPE, "wt_model_save: %d labels, but the logits node %d has %d channels",
                           meta->n_labels, meta->logits_node, c);
    }
    const wt_preprocess* p = &meta->preprocess;
    if (p->filter != WT_RESIZE_BILINEAR && p->filter != WT_RESIZE_AREA)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_save: preprocess filter %d is unknown", (int)p->filter);
    if (p->crop != WT_CROP_CENTER && p->crop != WT_CROP_NONE)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_save: preprocess crop %d is unknown", (int)p->crop);
    if (!isfinite(p->scale) || !isfinite(p->offset))
        return wt_fail(WT_ERR_NOT_FINITE, "wt_model_save: preprocess scale or offset is not finite");
    if (p->out_h != 0 || p->out_w != 0) {
        int h = 0, w = 0;
        wt_net_node_shape(net, 0, &h, &w, NULL);
        if (p->out_h != h || p->out_w != w)
            return wt_fail(WT_ERR_SHAPE, "wt_model_save: preprocess output %dx%d is not the net's input %dx%d "
                                         "(or 0x0: unspecified)",
                           p->out_h, p->out_w, h, w);
    }
    return WT_OK;
}

wt_status wt_model_save(const wt_net* net, const wt_model_meta* meta, int fp16, uint8_t** bytes, size_t* len) {
    if (bytes) *bytes = NULL;
    if (len) *len = 0;
    if (!net || !bytes || !len) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_save: NULL argument");
    if (meta) {
        wt_status st = check_meta_for_save(net, meta);
        if (st) return st;
    }
    save_job job = { .net = net, .meta = meta, .n_nodes = wt_net_node_count(net),
                     .n_params = wt_net_param_count(net) };
    int in_h = 0, in_w = 0, in_c = 0;
    wt_net_node_shape(net, 0, &in_h, &in_w, &in_c);
    if ((uint64_t)in_h * (uint64_t)in_w * (uint64_t)in_c > MAX_TENSOR_VALUES)
        return wt_fail(WT_ERR_SHAPE, "wt_model_save: the input %dx%dx%d has more than %llu values; a model file holds "
                       "at most that many per node", in_h, in_w, in_c, (unsigned long long)MAX_TENSOR_VALUES);
    if (job.n_nodes - 1 > MAX_LAYERS)
        return wt_fail(WT_ERR_SHAPE, "wt_model_save: the net has %d layers; a model file holds at most %d",
                       job.n_nodes - 1, MAX_LAYERS);
    for (int i = 1; i < job.n_nodes; i++) {
        wt_layer_desc d;
        wt_net_node_desc(net, i, &d);
        if (!utf8_valid((const uint8_t*)d.name, strlen(d.name)))
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_save: the name of layer %d is not valid UTF-8", i);
    }
    size_t max_count = 1;
    for (int i = 0; i < job.n_params; i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        if ((uint64_t)info.count > MAX_TENSOR_VALUES)
            return wt_fail(WT_ERR_SHAPE, "wt_model_save: '%s' has %zu values; a model file holds at most %llu per tensor",
                           info.name, info.count, (unsigned long long)MAX_TENSOR_VALUES);
        if (info.count > max_count) max_count = info.count;
    }
    job.dtypes = (uint8_t*)calloc((size_t)job.n_params + 1, 1);
    job.tmp = (float*)malloc(max_count * sizeof(float));
    wt_status st = WT_OK;
    if (!job.dtypes || !job.tmp) {
        st = wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_model_save: out of memory");
        goto done;
    }
    /* Finite values only; half only for kernels whose every value fits the half range. */
    for (int i = 0; i < job.n_params && !st; i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        wt_net_param_read(net, i, job.tmp, info.count);
        int fits = fp16 && info.kind == WT_PARAM_WEIGHT;
        for (size_t j = 0; j < info.count; j++) {
            if (!isfinite(job.tmp[j])) {
                st = wt_fail(WT_ERR_NOT_FINITE, "wt_model_save: '%s'[%zu] is not finite", info.name, j);
                break;
            }
            if (fits && !f16_is_finite(f32_to_f16(job.tmp[j]))) fits = 0;
        }
        job.dtypes[i] = fits ? DTYPE_F16 : DTYPE_F32;
        job.any_f16 |= fits;
    }
    if (st) goto done;

    writer measure = { NULL, 0 };
    write_model(&measure, &job);
    uint8_t* out = (uint8_t*)malloc(measure.pos);
    if (!out) {
        st = wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_model_save: out of memory for a %zu-byte file", measure.pos);
        goto done;
    }
    writer w = { out, 0 };
    write_model(&w, &job);
    WT_ASSERT(w.pos == measure.pos);
    *bytes = out;
    *len = w.pos;
done:
    free(job.dtypes);
    free(job.tmp);
    return st;
}

void wt_free_bytes(void* bytes) { free(bytes); }

void wt_model_meta_free(wt_model_meta* meta) { free(meta); }

/* ------------------------------------------------------------------------------------------- */
/* Reading: a bounded cursor over one section                                                   */
/* ------------------------------------------------------------------------------------------- */

typedef struct reader {
    const uint8_t* b;  /* the whole file */
    size_t pos, end;   /* absolute offsets; the reader never passes end */
    const char* what;  /* section name, for messages */
    wt_status st;      /* sticky: the first failure */
} reader;

static reader section_reader(const uint8_t* b, size_t off, size_t len, const char* what) {
    reader r = { b, off, off + len, what, WT_OK };
    return r;
}

static size_t r_left(const reader* r) { return r->end - r->pos; }

static const uint8_t* r_take(reader* r, uint64_t n) {
    if (r->st) return NULL;
    if (n > (uint64_t)r_left(r)) {
        r->st = wt_fail(WT_ERR_CORRUPT,
                        "wt_model_load: the %s section ends early: needs %llu more bytes at offset %zu, has %zu",
                        r->what, (unsigned long long)n, r->pos, r_left(r));
        return NULL;
    }
    const uint8_t* p = r->b + r->pos;
    r->pos += (size_t)n;
    return p;
}
static uint32_t r_u32(reader* r) {
    const uint8_t* p = r_take(r, 4);
    return p ? get_u32(p) : 0;
}
static int32_t r_i32(reader* r) { return u32_to_i32(r_u32(r)); }
static uint64_t r_u64(reader* r) {
    const uint8_t* p = r_take(r, 8);
    return p ? get_u64(p) : 0;
}
static float r_f32(reader* r) { return bits_f32(r_u32(r)); }

static wt_status r_fail(reader* r, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static wt_status r_fail(reader* r, const char* fmt, ...) {
    if (r->st) return r->st;
    char msg[400];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    r->st = wt_fail(WT_ERR_CORRUPT, "wt_model_load: %s section: %s", r->what, msg);
    return r->st;
}

/* A u32 length and that many bytes of UTF-8 without NUL, the length in min..max. */
static const uint8_t* r_string(reader* r, uint32_t min, uint32_t max, const char* what, long index, uint32_t* n) {
    *n = 0;
    uint32_t len = r_u32(r);
    if (r->st) return NULL;
    char label[64];
    if (index >= 0) snprintf(label, sizeof label, "%s %ld", what, index);
    else snprintf(label, sizeof label, "%s", what);
    if (len < min || len > max) {
        r_fail(r, "%s has length %u (must be %u..%u)", label, (unsigned)len, (unsigned)min, (unsigned)max);
        return NULL;
    }
    const uint8_t* s = r_take(r, len);
    if (!s) return NULL;
    if (!utf8_valid(s, len)) {
        r_fail(r, "%s is not valid UTF-8", label);
        return NULL;
    }
    *n = len;
    return s;
}

static wt_status r_expect_end(reader* r) {
    if (r->st) return r->st;
    if (r->pos != r->end) return r_fail(r, "%zu unexpected bytes at its end (offset %zu)", r_left(r), r->pos);
    return WT_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* Reading: records                                                                             */
/* ------------------------------------------------------------------------------------------- */

typedef struct layer_rec {
    wt_layer_desc desc;   /* desc.name is NULL: the name is name[0..name_len) in the file */
    const uint8_t* name;
    uint32_t name_len;
    int trainable;
    float lr_scale;
    int32_t state_bn_mode;
    int first_param, n_param;
} layer_rec;

typedef struct param_rec {
    const uint8_t* name;
    uint32_t name_len;
    uint32_t dtype;
    uint64_t count;
    const uint8_t* data;
} param_rec;

typedef struct model_plan {
    int in_h, in_w, in_c;
    uint32_t n_layers;
    layer_rec* layers;
    int* channels;        /* per node, the input's included */
    uint32_t n_params;
    param_rec* params;
    uint64_t max_count;   /* largest parameter */
    uint32_t n_labels;
    size_t label_bytes;   /* all labels with their NULs */
    size_t labels_off, labels_len;
    wt_preprocess preprocess;
    char backbone_name[MAX_BACKBONE_NAME + 1];
    uint8_t backbone_sha256[32];
    int embedding_node, logits_node, output_softmax;
} model_plan;

static void plan_free(model_plan* m) {
    free(m->layers);
    free(m->channels);
    free(m->params);
}

static wt_status read_graph(model_plan* m, reader* r) {
    uint32_t in_h = r_u32(r), in_w = r_u32(r), in_c = r_u32(r);
    uint32_t n = r_u32(r);
    if (r->st) return r->st;
    if (in_h < 1 || in_h > MAX_IN_HW || in_w < 1 || in_w > MAX_IN_HW || in_c < 1 || in_c > MAX_CHANNELS)
        return r_fail(r, "input shape %ux%ux%u is not in 1..%d x 1..%d x 1..%d", (unsigned)in_h, (unsigned)in_w,
                      (unsigned)in_c, MAX_IN_HW, MAX_IN_HW, MAX_CHANNELS);
    if ((uint64_t)in_h * in_w * in_c > MAX_TENSOR_VALUES) /* the limit of every other node (wt_net_add) */
        return r_fail(r, "input shape %ux%ux%u has more than %llu values", (unsigned)in_h, (unsigned)in_w,
                      (unsigned)in_c, (unsigned long long)MAX_TENSOR_VALUES);
    if (n > MAX_LAYERS) return r_fail(r, "%u layers (at most %d)", (unsigned)n, MAX_LAYERS);
    if ((uint64_t)n * LAYER_FIXED_BYTES > r_left(r))
        return r_fail(r, "%u layers need at least %llu bytes, it has %zu", (unsigned)n,
                      (unsigned long long)n * LAYER_FIXED_BYTES, r_left(r));
    m->in_h = (int)in_h;
    m->in_w = (int)in_w;
    m->in_c = (int)in_c;
    m->n_layers = n;
    m->layers = (layer_rec*)calloc((size_t)n + 1, sizeof(layer_rec));
    m->channels = (int*)calloc((size_t)n + 1, sizeof(int));
    if (!m->layers || !m->channels) return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_model_load: out of memory");
    m->channels[0] = (int)in_c;
    for (uint32_t i = 0; i < n; i++) {
        int node = (int)i + 1;
        layer_rec* L = &m->layers[i];
        wt_layer_desc* d = &L->desc;
        uint32_t type = r_u32(r);
        d->input = r_i32(r);
        d->input2 = r_i32(r);
        d->out_channels = r_i32(r);
        d->kernel_h = r_i32(r);
        d->kernel_w = r_i32(r);
        d->stride = r_i32(r);
        int32_t padding = r_i32(r);
        d->pad_top = r_i32(r);
        d->pad_bottom = r_i32(r);
        d->pad_left = r_i32(r);
        d->pad_right = r_i32(r);
        d->use_bias = r_i32(r);
        int32_t bn_mode = r_i32(r);
        d->bn_epsilon = r_f32(r);
        d->bn_momentum = r_f32(r);
        d->dropout_rate = r_f32(r);
        d->grl_lambda = r_f32(r);
        uint32_t trainable = r_u32(r);
        L->lr_scale = r_f32(r);
        L->state_bn_mode = r_i32(r);
        L->name = r_string(r, 1, MAX_LAYER_NAME, "layer name", node, &L->name_len);
        if (r->st) return r->st;
        if (type < WT_LAYER_CONV2D || type > WT_LAYER_CONCAT)
            return r_fail(r, "layer %d has unknown type %u", node, (unsigned)type);
        d->type = (wt_layer_type)type;
        d->padding = (wt_padding)padding;
        d->bn_mode = (wt_bn_mode)bn_mode;
        if (trainable > 1) return r_fail(r, "layer %d trainable flag is %u (must be 0 or 1)", node, (unsigned)trainable);
        L->trainable = (int)trainable;
        if (d->input < 0 || d->input >= node)
            return r_fail(r, "layer %d reads node %d (must be an earlier node, 0..%d)", node, d->input, node - 1);
        if (wt_layer_has_input2(d->type) && (d->input2 < 0 || d->input2 >= node))
            return r_fail(r, "layer %d reads node %d as its second input (must be an earlier node, 0..%d)", node,
                          d->input2, node - 1);
        int in_ch = m->channels[d->input], out_ch = in_ch;
        if (d->type == WT_LAYER_CONV2D || d->type == WT_LAYER_DEPTHWISE) {
            int kh = d->kernel_h ? d->kernel_h : 3, kw = d->kernel_w ? d->kernel_w : 3;
            if (kh < 1 || kh > MAX_KERNEL || kw < 1 || kw > MAX_KERNEL)
                return r_fail(r, "layer %d kernel %dx%d is not in 1..%d", node, kh, kw, MAX_KERNEL);
        }
        if (d->type == WT_LAYER_CONV2D || d->type == WT_LAYER_DENSE) {
            if (d->out_channels < 1 || d->out_channels > MAX_CHANNELS)
                return r_fail(r, "layer %d has %d output channels (must be 1..%d)", node, d->out_channels,
                              MAX_CHANNELS);
            out_ch = d->out_channels;
        }
        if (d->type == WT_LAYER_CONCAT) {
            out_ch = in_ch + m->channels[d->input2];
            if (out_ch > MAX_CHANNELS)
                return r_fail(r, "layer %d concatenates to %d channels (must be 1..%d)", node, out_ch, MAX_CHANNELS);
        }
        m->channels[node] = out_ch;
    }
    return r_expect_end(r);
}

static wt_status read_params(model_plan* m, reader* r) {
    uint32_t n = r_u32(r);
    if (r->st) return r->st;
    /* the tensors the graph implies, in order */
    uint64_t expected = 0;
    for (uint32_t i = 0; i < m->n_layers; i++) {
        tensor_spec specs[4];
        layer_rec* L = &m->layers[i];
        L->first_param = (int)expected;
        L->n_param = layer_tensors(&L->desc, m->channels[L->desc.input], m->channels[i + 1], specs);
        expected += (uint64_t)L->n_param;
    }
    if (n != expected)
        return r_fail(r, "%u parameters, but the graph's layers own %llu", (unsigned)n, (unsigned long long)expected);
    if ((uint64_t)n * PARAM_FIXED_BYTES > r_left(r))
        return r_fail(r, "%u parameters need at least %llu bytes, it has %zu", (unsigned)n,
                      (unsigned long long)n * PARAM_FIXED_BYTES, r_left(r));
    m->n_params = n;
    m->params = (param_rec*)calloc((size_t)n + 1, sizeof(param_rec));
    if (!m->params) return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_model_load: out of memory");
    for (uint32_t i = 0; i < m->n_layers; i++) {
        layer_rec* L = &m->layers[i];
        tensor_spec specs[4];
        layer_tensors(&L->desc, m->channels[L->desc.input], m->channels[i + 1], specs);
        for (int k = 0; k < L->n_param; k++) {
            uint32_t idx = (uint32_t)(L->first_param + k);
            param_rec* P = &m->params[idx];
            uint32_t index = r_u32(r), kind = r_u32(r);
            P->dtype = r_u32(r);
            int32_t shape[4];
            for (int j = 0; j < 4; j++) shape[j] = r_i32(r);
            P->count = r_u64(r);
            P->name = r_string(r, 1, MAX_PARAM_NAME, "parameter name", (long)idx, &P->name_len);
            if (r->st) return r->st;
            if (index != idx) return r_fail(r, "parameter record %u says it is parameter %u", (unsigned)idx, (unsigned)index);
            const tensor_spec* t = &specs[k];
            if (kind != (uint32_t)t->kind)
                return r_fail(r, "parameter %u has kind %u; layer %u owns kind %d there", (unsigned)idx, (unsigned)kind,
                              (unsigned)i + 1, (int)t->kind);
            if (memcmp(shape, t->shape, sizeof shape) != 0)
                return r_fail(r, "parameter %u has shape [%d,%d,%d,%d]; its layer needs [%d,%d,%d,%d]", (unsigned)idx,
                              shape[0], shape[1], shape[2], shape[3], t->shape[0], t->shape[1], t->shape[2],
                              t->shape[3]);
            uint64_t count = spec_count(t);
            if (P->count != count)
                return r_fail(r, "parameter %u has %llu values; its layer needs %llu", (unsigned)idx,
                              (unsigned long long)P->count, (unsigned long long)count);
            if (count > MAX_TENSOR_VALUES)
                return r_fail(r, "parameter %u has %llu values (at most %llu)", (unsigned)idx,
                              (unsigned long long)count, (unsigned long long)MAX_TENSOR_VALUES);
            if (P->dtype != DTYPE_F32 && P->dtype != DTYPE_F16)
                return r_fail(r, "parameter %u has unknown dtype %u", (unsigned)idx, (unsigned)P->dtype);
            while (r->pos % 4) {
                const uint8_t* z = r_take(r, 1);
                if (!z) return r->st;
                if (*z) return r_fail(r, "nonzero padding before the data of parameter %u", (unsigned)idx);
            }
            uint64_t bytes = count * (P->dtype == DTYPE_F16 ? 2u : 4u);
            P->data = r_take(r, bytes);
            if (!P->data) return r->st;
            if (count > m->max_count) m->max_count = count;
        }
    }
    return r_expect_end(r);
}

static wt_status read_labels(model_plan* m, reader* r) {
    uint32_t n = r_u32(r);
    if (r->st) return r->st;
    if (n > MAX_LABELS) return r_fail(r, "%u labels (at most %d)", (unsigned)n, MAX_LABELS);
    if ((uint64_t)n * 5 > r_left(r))
        return r_fail(r, "%u labels need at least %llu bytes, it has %zu", (unsigned)n, (unsigned long long)n * 5,
                      r_left(r));
    m->n_labels = n;
    m->labels_off = r->pos;
    m->labels_len = r_left(r);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len;
        if (!r_string(r, 1, MAX_LABEL_BYTES, "label", (long)i, &len)) return r->st;
        m->label_bytes += (size_t)len + 1;
    }
    return r_expect_end(r);
}

static wt_status read_preprocess(model_plan* m, reader* r) {
    uint32_t out_h = r_u32(r), out_w = r_u32(r), filter = r_u32(r), crop = r_u32(r);
    float scale = r_f32(r), offset = r_f32(r);
    if (r_expect_end(r)) return r->st;
    int unset = out_h == 0 && out_w == 0;
    if (!unset && (out_h != (uint32_t)m->in_h || out_w != (uint32_t)m->in_w))
        return r_fail(r, "output size %ux%u is not the net's input %dx%d", (unsigned)out_h, (unsigned)out_w, m->in_h,
                      m->in_w);
    if (filter > WT_RESIZE_AREA) return r_fail(r, "unknown filter %u", (unsigned)filter);
    if (crop > WT_CROP_NONE) return r_fail(r, "unknown crop %u", (unsigned)crop);
    if (!isfinite(scale) || !isfinite(offset)) return r_fail(r, "scale or offset is not finite");
    m->preprocess = (wt_preprocess){ .out_h = (int)out_h, .out_w = (int)out_w, .filter = (wt_resize_filter)filter,
                                     .crop = (wt_crop)crop, .scale = scale, .offset = offset };
    return WT_OK;
}

static wt_status read_backbone(model_plan* m, reader* r) {
    uint32_t n;
    const uint8_t* name = r_string(r, 0, MAX_BACKBONE_NAME, "backbone name", -1, &n);
    const uint8_t* hash = r_take(r, 32);
    if (r_expect_end(r)) return r->st;
    memcpy(m->backbone_name, name, n);
    m->backbone_name[n] = '\0';
    memcpy(m->backbone_sha256, hash, 32);
    return WT_OK;
}

static wt_status read_meta(model_plan* m, reader* r) {
    int32_t emb = r_i32(r), logits = r_i32(r);
    uint32_t softmax = r_u32(r);
    if (r_expect_end(r)) return r->st;
    int64_t n_nodes = (int64_t)m->n_layers + 1;
    if (emb < -1 || emb >= n_nodes) return r_fail(r, "embedding node %d is not in -1..%lld", emb, (long long)n_nodes - 1);
    if (logits < -1 || logits >= n_nodes) return r_fail(r, "logits node %d is not in -1..%lld", logits, (long long)n_nodes - 1);
    if (softmax > 1) return r_fail(r, "softmax flag %u (must be 0 or 1)", (unsigned)softmax);
    m->embedding_node = emb;
    m->logits_node = logits;
    m->output_softmax = (int)softmax;
    return WT_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* Loading                                                                                      */
/* ------------------------------------------------------------------------------------------- */

/* Magic, version, length and checksum. On success *body_end is where the trailer starts. */
static wt_status check_envelope(const uint8_t* b, size_t len, size_t* body_end) {
    if (len < sizeof MAGIC) {
        if (memcmp(b, MAGIC, len) != 0) return wt_fail(WT_ERR_CORRUPT, "wt_model_load: not a webtune model file (bad magic)");
        return wt_fail(WT_ERR_CORRUPT, "wt_model_load: model file truncated: needs %d bytes, has %zu", HEADER_BYTES, len);
    }
    if (memcmp(b, MAGIC, sizeof MAGIC) != 0)
        return wt_fail(WT_ERR_CORRUPT, "wt_model_load: not a webtune model file (bad magic)");
    if (len < HEADER_BYTES)
        return wt_fail(WT_ERR_CORRUPT, "wt_model_load: model file truncated: needs %d bytes, has %zu", HEADER_BYTES, len);
    unsigned major = (unsigned)b[8] | (unsigned)b[9] << 8;
    unsigned minor = (unsigned)b[10] | (unsigned)b[11] << 8;
    if (major > WT_MODEL_FORMAT_MAJOR)
        return wt_fail(WT_ERR_UNSUPPORTED,
                       "wt_model_load: unsupported model format version %u (this webtune reads version %d); "
                       "a newer webtune wrote it",
                       major, WT_MODEL_FORMAT_MAJOR);
    if (major == 0)
        return wt_fail(WT_ERR_CORRUPT, "wt_model_load: invalid model format version 0.%u", minor);
    uint64_t total = get_u64(b + 16);
    if (total > (uint64_t)len)
        return wt_fail(WT_ERR_CORRUPT, "wt_model_load: model file truncated: needs %llu bytes, has %zu",
                       (unsigned long long)total, len);
    if (total < HEADER_BYTES + TRAILER_BYTES)
        return wt_fail(WT_ERR_CORRUPT, "wt_model_load: model file length field says %llu bytes, less than the %d "
                                       "of a header and a checksum",
                       (unsigned long long)total, HEADER_BYTES + TRAILER_BYTES);
    if (total < (uint64_t)len)
        return wt_fail(WT_ERR_CORRUPT, "wt_model_load: model file length mismatch: the header says %llu bytes, "
                                       "the buffer has %zu",
                       (unsigned long long)total, len);
    uint8_t digest[32];
    wt_sha256(b, len - TRAILER_BYTES, digest);
    if (memcmp(digest, b + len - TRAILER_BYTES, 32) != 0)
        return wt_fail(WT_ERR_CORRUPT, "wt_model_load: model file checksum mismatch: the file is damaged");
    *body_end = len - TRAILER_BYTES;
    return WT_OK;
}

/* Everything but building: fills m (which the caller frees with plan_free). */
static wt_status read_plan(const uint8_t* b, size_t len, model_plan* m) {
    size_t body_end;
    wt_status st = check_envelope(b, len, &body_end);
    if (st) return st;
    size_t off[SEC_COUNT], size[SEC_COUNT];
    int present[SEC_COUNT] = { 0 };
    for (size_t pos = HEADER_BYTES; pos < body_end;) {
        if (body_end - pos < SECTION_HEADER_BYTES)
            return wt_fail(WT_ERR_CORRUPT, "wt_model_load: a section header at offset %zu is cut short (%zu bytes left)",
                           pos, body_end - pos);
        uint32_t tag = get_u32(b + pos);
        uint64_t slen = get_u64(b + pos + 4);
        char tag_str[16];
        tag_text(tag, tag_str);
        if (slen > (uint64_t)(body_end - pos - SECTION_HEADER_BYTES))
            return wt_fail(WT_ERR_CORRUPT,
                           "wt_model_load: section %s at offset %zu claims %llu bytes, only %zu remain before the checksum",
                           tag_str, pos, (unsigned long long)slen, body_end - pos - SECTION_HEADER_BYTES);
        for (int s = 0; s < SEC_COUNT; s++) {
            if (tag != SECTION_TAGS[s]) continue;
            if (present[s])
                return wt_fail(WT_ERR_CORRUPT, "wt_model_load: the %s section appears twice", SECTION_NAMES[s]);
            present[s] = 1;
            off[s] = pos + SECTION_HEADER_BYTES;
            size[s] = (size_t)slen;
        }
        /* unknown tags (from a newer minor version) are skipped */
        pos += SECTION_HEADER_BYTES + (size_t)slen;
    }
    for (int s = 0; s <= SEC_PARAMS; s++)
        if (!present[s])
            return wt_fail(WT_ERR_CORRUPT, "wt_model_load: the model file has no %s section", SECTION_NAMES[s]);

    m->embedding_node = m->logits_node = -1;
    reader r = section_reader(b, off[SEC_GRAPH], size[SEC_GRAPH], SECTION_NAMES[SEC_GRAPH]);
    if ((st = read_graph(m, &r))) return st;
    r = section_reader(b, off[SEC_PARAMS], size[SEC_PARAMS], SECTION_NAMES[SEC_PARAMS]);
    if ((st = read_params(m, &r))) return st;
    static wt_status (*const readers[SEC_COUNT])(model_plan*, reader*) = {
        NULL, NULL, read_labels, read_preprocess, read_backbone, read_meta,
    };
    for (int s = SEC_LABELS; s < SEC_COUNT; s++) {
        if (!present[s]) continue;
        r = section_reader(b, off[s], size[s], SECTION_NAMES[s]);
        if ((st = readers[s](m, &r))) return st;
    }
    if (m->n_labels > 0 && m->logits_node >= 0 && (uint32_t)m->channels[m->logits_node] != m->n_labels)
        return wt_fail(WT_ERR_CORRUPT, "wt_model_load: %u labels, but the logits node %d has %d channels",
                       (unsigned)m->n_labels, m->logits_node, m->channels[m->logits_node]);
    return WT_OK;
}

/* Re-labels a failure of a public call made while building as a corrupt file: "wt_model_load:
 * <what> '<name>' is invalid: <the call's message>" (name may be NULL). */
static wt_status build_fail(wt_status st, const char* what, const char* name) {
    if (st == WT_ERR_OUT_OF_MEMORY) return st;
    char why[512];
    snprintf(why, sizeof why, "%s", wt_last_error()); /* wt_fail overwrites the message it reads */
    if (name) return wt_fail(WT_ERR_CORRUPT, "wt_model_load: %s '%s' is invalid: %s", what, name, why);
    return wt_fail(WT_ERR_CORRUPT, "wt_model_load: %s is invalid: %s", what, why);
}

static wt_status build_net(wt_context* ctx, const model_plan* m, wt_net** out) {
    wt_net* net = NULL;
    wt_status st = wt_net_create(ctx, m->in_h, m->in_w, m->in_c, &net);
    if (st) return build_fail(st, "the input shape", NULL);
    float* tmp = (float*)malloc((size_t)(m->max_count ? m->max_count : 1) * sizeof(float));
    if (!tmp) {
        wt_net_destroy(net);
        return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_model_load: out of memory");
    }
    char name[MAX_PARAM_NAME + 1];
    for (uint32_t i = 0; i < m->n_layers && !st; i++) {
        const layer_rec* L = &m->layers[i];
        int node = (int)i + 1, id = -1;
        memcpy(name, L->name, L->name_len);
        name[L->name_len] = '\0';
        wt_layer_desc d = L->desc;
        d.name = name;
        if ((st = wt_net_add(net, &d, &id))) {
            st = build_fail(st, "layer", name);
            break;
        }
        WT_ASSERT(id == node);
        if (!L->trainable && (st = wt_net_set_trainable(net, node, 0))) st = build_fail(st, "the state of layer", name);
        if (!st && (st = wt_net_set_lr_scale(net, node, L->lr_scale))) st = build_fail(st, "the lr scale of layer", name);
        if (!st && d.type == WT_LAYER_BATCHNORM && (st = wt_net_set_bn_mode(net, node, (wt_bn_mode)L->state_bn_mode)))
            st = build_fail(st, "the batch-norm mode of layer", name);
        for (int k = 0; k < L->n_param && !st; k++) {
            int pi = L->first_param + k;
            const param_rec* P = &m->params[pi];
            wt_param_info info;
            wt_net_param_info(net, pi, &info);
            /* the graph's tensors were derived as net.c creates them; the names must agree too */
            if (info.node != node || (uint64_t)info.count != P->count || strlen(info.name) != P->name_len ||
                memcmp(info.name, P->name, P->name_len) != 0) {
                memcpy(name, P->name, P->name_len);
                name[P->name_len] = '\0';
                st = wt_fail(WT_ERR_CORRUPT, "wt_model_load: parameter %d is named '%s' in the file, '%s' in the net",
                             pi, name, info.name);
                break;
            }
            if (P->dtype == DTYPE_F16) {
                for (size_t j = 0; j < info.count; j++)
                    tmp[j] = f16_to_f32((uint16_t)(P->data[2 * j] | P->data[2 * j + 1] << 8));
            } else {
                for (size_t j = 0; j < info.count; j++) tmp[j] = bits_f32(get_u32(P->data + 4 * j));
            }
            if ((st = wt_net_param_write(net, pi, tmp, info.count))) st = build_fail(st, "parameter", info.name);
        }
    }
    free(tmp);
    if (st) {
        wt_net_destroy(net);
        return st;
    }
    *out = net;
    return WT_OK;
}

/* One allocation: the struct, the label pointers, then the label bytes. */
static wt_status build_meta(const uint8_t* b, const model_plan* m, wt_model_meta** out) {
    size_t ptr_bytes = (size_t)m->n_labels * sizeof(char*);
    wt_model_meta* meta = (wt_model_meta*)calloc(1, sizeof *meta + ptr_bytes + m->label_bytes);
    if (!meta) return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_model_load: out of memory");
    const char** labels = (const char**)(void*)(meta + 1);
    char* text = (char*)(meta + 1) + ptr_bytes;
    reader r = section_reader(b, m->labels_off, m->labels_len, "labels");
    for (uint32_t i = 0; i < m->n_labels; i++) {
        uint32_t n;
        const uint8_t* s = r_string(&r, 1, MAX_LABEL_BYTES, "label", (long)i, &n);
        WT_ASSERT(s); /* read_labels accepted these bytes */
        memcpy(text, s, n);
        text[n] = '\0';
        labels[i] = text;
        text += n + 1;
    }
    meta->n_labels = (int)m->n_labels;
    meta->labels = m->n_labels ? labels : NULL;
    meta->preprocess = m->preprocess;
    memcpy(meta->backbone_name, m->backbone_name, sizeof m->backbone_name);
    memcpy(meta->backbone_sha256, m->backbone_sha256, 32);
    meta->embedding_node = m->embedding_node;
    meta->logits_node = m->logits_node;
    meta->output_softmax = m->output_softmax;
    *out = meta;
    return WT_OK;
}

wt_status wt_model_load(wt_context* ctx, const uint8_t* bytes, size_t len, wt_net** net, wt_model_meta** meta) {
    if (net) *net = NULL;
    if (meta) *meta = NULL;
    if (!ctx || !bytes || !net) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_model_load: NULL argument");
    model_plan m;
    memset(&m, 0, sizeof m);
    wt_status st = read_plan(bytes, len, &m);
    wt_net* built = NULL;
    wt_model_meta* mm = NULL;
    if (!st && meta) st = build_meta(bytes, &m, &mm);
    if (!st) st = build_net(ctx, &m, &built);
    plan_free(&m);
    if (st) {
        wt_model_meta_free(mm);
        return st;
    }
    *net = built;
    if (meta) *meta = mm;
    return WT_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* Weights hash                                                                                 */
/* ------------------------------------------------------------------------------------------- */

wt_status wt_net_weights_sha256(const wt_net* net, int up_to_node, uint8_t out[32]) {
    if (!net || !out) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_weights_sha256: NULL argument");
    int n_nodes = wt_net_node_count(net);
    if (up_to_node < -1 || up_to_node >= n_nodes)
        return wt_fail(WT_ERR_NOT_FOUND, "wt_net_weights_sha256: node %d is not in -1..%d", up_to_node, n_nodes - 1);
    size_t max_count = 1;
    int n_params = wt_net_param_count(net);
    for (int i = 0; i < n_params; i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        if (info.count > max_count) max_count = info.count;
    }
    float* tmp = (float*)malloc(max_count * sizeof(float));
    if (!tmp) return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_net_weights_sha256: out of memory");
    wt_sha256_ctx c;
    wt_sha256_init(&c);
    for (int i = 0; i < n_params; i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        if (up_to_node >= 0 && info.node > up_to_node) break; /* parameters are in node order */
        uint8_t head[12];
        size_t name_len = strlen(info.name);
        put_u32(head, (uint32_t)name_len);
        wt_sha256_update(&c, head, 4);
        wt_sha256_update(&c, info.name, name_len);
        put_u64(head, (uint64_t)info.count);
        wt_sha256_update(&c, head, 8);
        wt_net_param_read(net, i, tmp, info.count);
        uint8_t chunk[1024];
        for (size_t j = 0; j < info.count;) {
            size_t k = 0;
            for (; k < sizeof chunk / 4 && j < info.count; k++, j++) put_u32(chunk + 4 * k, f32_bits(tmp[j]));
            wt_sha256_update(&c, chunk, 4 * k);
        }
    }
    wt_sha256_final(&c, out);
    free(tmp);
    return WT_OK;
}
