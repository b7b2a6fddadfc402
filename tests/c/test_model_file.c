/* test_model_file.c: webtune model files (src/model_file.c, docs/model-format.md) and SHA-256.
 * - SHA-256 against the FIPS 180 test vectors, one-shot and streamed in odd pieces
 * - a net with every layer type (a concat of two pooled branches included), random weights, frozen layers, lr scales and changed batch-norm
 *   modes: float32 save -> load gives equal descriptions and states, bit-identical parameters and
 *   forward outputs (training and inference), and saving the loaded net gives the same bytes
 * - float16: kernels rounded to nearest even (checked value by value against an independent
 *   reference, over every finite half, every midpoint and random floats), everything else exact,
 *   the file about half the size; a tensor beyond the half range stays float32
 * - labels in UTF-8 (Korean, emoji), preprocessing, backbone name and hash, node ids round trip
 * - damaged files: wrong magic, every truncation, a flipped bit in every byte, newer versions,
 *   and resealed (valid checksum) files with absurd counts, lengths and values, plus a small
 *   random mutation loop: each rejected with the right status and message, nothing leaked
 * - wt_net_weights_sha256: a known answer for the documented byte stream, and the prefix rule */
#include "sha256.h"
#include "webtune.h"
#include "wt_test.h"
#include "wt_test_net.h"

/* ------------------------------------------------------------------------------------------- */
/* Helpers                                                                                      */
/* ------------------------------------------------------------------------------------------- */

static int add(wt_net* net, wt_layer_desc d) {
    int id = -1;
    wt_status st = wt_net_add(net, &d, &id);
    CHECK(st == WT_OK, "wt_net_add(type %d): %s", (int)d.type, wt_last_error());
    return id;
}

static void hex(const uint8_t* h, char out[65]) {
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int has(const char* msg, const char* part) { return strstr(msg, part) != NULL; }

static uint32_t rd32(const uint8_t* p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t* p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t* p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the trailer, so a test can hand the loader a crafted file with a valid checksum. */
static void reseal(uint8_t* b, size_t len) { wt_sha256(b, len - 32, b + len - 32); }

/* Offset of the payload of the section with this tag (0 if none); *size its length. */
static size_t find_section(const uint8_t* b, size_t len, const char* tag, size_t* size) {
    for (size_t pos = 24; pos + 12 <= len - 32;) {
        uint64_t n = rd64(b + pos + 4);
        if (memcmp(b + pos, tag, 4) == 0) {
            if (size) *size = (size_t)n;
            return pos + 12;
        }
        pos += 12 + (size_t)n;
    }
    return 0;
}

/* Offset of layer record i (0-based) in the graph section. */
static size_t layer_at(const uint8_t* b, size_t len, int i) {
    size_t pos = find_section(b, len, "GRPH", NULL) + 16;
    for (int k = 0; k < i; k++) pos += 88 + rd32(b + pos + 84);
    return pos;
}

/* Offset of parameter record i in the params section; *data where its values start. */
static size_t param_at(const uint8_t* b, size_t len, int i, size_t* data) {
    size_t pos = find_section(b, len, "PARM", NULL) + 4;
    for (int k = 0;; k++) {
        uint32_t dtype = rd32(b + pos + 8);
        uint64_t count = rd64(b + pos + 28);
        size_t d = pos + 40 + rd32(b + pos + 36);
        d = (d + 3) / 4 * 4;
        if (k == i) {
            if (data) *data = d;
            return pos;
        }
        pos = d + (size_t)count * (dtype ? 2 : 4);
    }
}

static uint8_t* dup_bytes(const uint8_t* b, size_t len) {
    uint8_t* p = (uint8_t*)malloc(len ? len : 1);
    if (!p) exit(2);
    memcpy(p, b, len);
    return p;
}

/* Loads and expects failure with `status` and a message containing `part` (NULL: any). */
static void expect_reject(wt_context* ctx, const uint8_t* b, size_t len, wt_status status, const char* part,
                          const char* what) {
    wt_net* net = (wt_net*)(uintptr_t)1;
    wt_model_meta* meta = (wt_model_meta*)(uintptr_t)1;
    wt_clear_error();
    wt_status st = wt_model_load(ctx, b, len, &net, &meta);
    CHECK(st == status, "%s: status %s, expected %s (%s)", what, wt_status_name(st), wt_status_name(status),
          wt_last_error());
    CHECK(net == NULL && meta == NULL, "%s: outputs not cleared on failure", what);
    if (st == WT_OK) {
        wt_net_destroy(net);
        wt_model_meta_free(meta);
    }
    if (part) CHECK(has(wt_last_error(), part), "%s: message '%s' lacks '%s'", what, wt_last_error(), part);
}

/* weights, biases, batch-norm parameters and statistics all away from their initial values */
static void randomize_params(wt_net* net, uint64_t seed) {
    static const wt_test_range ranges[WT_TEST_PARAM_KINDS] = {
        [WT_PARAM_WEIGHT] = { -0.6f, 0.6f }, [WT_PARAM_BIAS] = { -0.1f, 0.1f },
        [WT_PARAM_GAMMA] = { 0.5f, 1.5f },   [WT_PARAM_BETA] = { -0.2f, 0.6f },
        [WT_PARAM_MOVING_MEAN] = { -0.3f, 0.3f }, [WT_PARAM_MOVING_VARIANCE] = { 0.5f, 2.0f },
    };
    wt_test_randomize_params(net, seed, ranges);
}

/* ------------------------------------------------------------------------------------------- */
/* SHA-256                                                                                      */
/* ------------------------------------------------------------------------------------------- */

static void test_sha256(void) {
    static const struct { const char* msg; const char* digest; } v[] = {
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
        { "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrst"
          "nopqrstu",
          "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t d[32];
        char h[65];
        size_t n = strlen(v[i].msg);
        wt_sha256(v[i].msg, n, d);
        hex(d, h);
        CHECK(strcmp(h, v[i].digest) == 0, "sha256('%s') = %s", v[i].msg, h);
        /* streamed one byte, then 7 at a time */
        wt_sha256_ctx c;
        wt_sha256_init(&c);
        for (size_t p = 0; p < n;) {
            size_t k = p == 0 ? 1 : (n - p < 7 ? n - p : 7);
            wt_sha256_update(&c, v[i].msg + p, k);
            p += k;
        }
        wt_sha256_final(&c, d);
        hex(d, h);
        CHECK(strcmp(h, v[i].digest) == 0, "streamed sha256('%s') = %s", v[i].msg, h);
    }
    /* one million 'a' (FIPS 180-2 appendix B.3), in 1000 pieces of 1000 */
    char* a = (char*)malloc(1000);
    memset(a, 'a', 1000);
    wt_sha256_ctx c;
    wt_sha256_init(&c);
    for (int i = 0; i < 1000; i++) wt_sha256_update(&c, a, 1000);
    uint8_t d[32];
    char h[65];
    wt_sha256_final(&c, d);
    hex(d, h);
    CHECK(strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0, "sha256(a*1e6) = %s", h);
    free(a);
    /* every length 0..200 across block boundaries: streamed equals one-shot */
    uint8_t buf[200], d1[32], d2[32];
    for (int i = 0; i < 200; i++) buf[i] = (uint8_t)(i * 7 + 3);
    int bad = 0;
    for (size_t n = 0; n <= 200; n++) {
        wt_sha256(buf, n, d1);
        wt_sha256_init(&c);
        for (size_t p = 0; p < n; p += 13) wt_sha256_update(&c, buf + p, n - p < 13 ? n - p : 13);
        wt_sha256_final(&c, d2);
        bad += memcmp(d1, d2, 32) != 0;
    }
    CHECK(bad == 0, "%d lengths hash differently streamed", bad);
}

/* ------------------------------------------------------------------------------------------- */
/* A net with every layer type                                                                  */
/* ------------------------------------------------------------------------------------------- */

#define IN_H 12
#define IN_W 10
#define IN_C 3
#define BATCH 2
#define CLASSES 6

typedef struct full_net {
    wt_net* net;
    int conv1, bn1, pw, bn_frozen, pool, head;
} full_net;

static full_net build_full(wt_context* ctx) {
    full_net f = { 0 };
    CHECK(wt_net_create(ctx, IN_H, IN_W, IN_C, &f.net) == WT_OK, "create: %s", wt_last_error());
    wt_net* net = f.net;
    int x = f.conv1 = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "conv1", .out_channels = 32,
                                                .stride = 2, .use_bias = 1 });
    x = f.bn1 = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .name = "bn1", .input = x,
                                          .bn_mode = WT_BN_BATCH_STATS, .bn_epsilon = 1e-5f, .bn_momentum = 0.9f });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .input = x });
    int block_in = x;
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DEPTHWISE, .name = "dw1", .input = x, .padding = WT_PAD_SAME });
    x = f.bn_frozen = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .name = "bn_frozen", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU, .input = x });
    x = f.pw = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "pw", .input = x, .out_channels = 32,
                                         .kernel_h = 1, .kernel_w = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_ADD, .name = "block_add", .input = x, .input2 = block_in });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_GRAD_REVERSAL, .input = x, .grl_lambda = 0.5f });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DEPTHWISE, .name = "dw_explicit", .input = x, .stride = 2,
                                  .use_bias = 1, .padding = WT_PAD_EXPLICIT, .pad_top = 1, .pad_bottom = 0,
                                  .pad_left = 2, .pad_right = 1, .kernel_w = 5 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "expand", .input = x, .out_channels = 64,
                                  .kernel_h = 1, .kernel_w = 1, .use_bias = 1, .padding = WT_PAD_VALID });
    x = f.pool = add(net, (wt_layer_desc){ .type = WT_LAYER_GLOBAL_AVG_POOL, .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_L2_NORMALIZE, .input = x });
    /* a multi-layer embedding: the pooled residual block's output joined to the last one */
    int side = add(net, (wt_layer_desc){ .type = WT_LAYER_GLOBAL_AVG_POOL, .name = "side_pool", .input = block_in });
    side = add(net, (wt_layer_desc){ .type = WT_LAYER_L2_NORMALIZE, .input = side });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONCAT, .name = "features", .input = x, .input2 = side });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DROPOUT, .input = x, .dropout_rate = 0.25f });
    x = f.head = add(net, (wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "head", .input = x,
                                           .out_channels = CLASSES, .use_bias = 1 });
    randomize_params(net, 11);
    /* states that differ from the defaults and from the descriptions */
    CHECK(wt_net_set_trainable(net, f.conv1, 0) == WT_OK, "freeze");
    CHECK(wt_net_set_lr_scale(net, f.pw, 0.1f) == WT_OK, "lr scale");
    CHECK(wt_net_set_lr_scale(net, f.head, 3.5f) == WT_OK, "lr scale");
    CHECK(wt_net_set_bn_mode(net, f.bn_frozen, WT_BN_BATCH_STATS) == WT_OK, "bn mode");
    return f;
}

static const char* const LABELS[CLASSES] = { "노마스크", "마스크", "cat", "😷 mask", "Ünïcödé", "x" };

static wt_model_meta full_meta(const full_net* f, wt_net* net) {
    wt_model_meta m;
    memset(&m, 0, sizeof m);
    m.n_labels = CLASSES;
    m.labels = LABELS;
    m.preprocess = (wt_preprocess){ .out_h = IN_H, .out_w = IN_W, .filter = WT_RESIZE_AREA, .crop = WT_CROP_NONE,
                                    .scale = 1.0f / 255.0f, .offset = -0.25f };
    snprintf(m.backbone_name, sizeof m.backbone_name, "mobilenet_v2_0.35_224");
    CHECK(wt_net_weights_sha256(net, f->pool, m.backbone_sha256) == WT_OK, "hash: %s", wt_last_error());
    m.embedding_node = f->pool;
    m.logits_node = f->head;
    m.output_softmax = 1;
    return m;
}

static int desc_equal(const wt_layer_desc* a, const wt_layer_desc* b) {
    return a->type == b->type && strcmp(a->name, b->name) == 0 && a->input == b->input && a->input2 == b->input2 &&
           a->out_channels == b->out_channels && a->kernel_h == b->kernel_h && a->kernel_w == b->kernel_w &&
           a->stride == b->stride && a->padding == b->padding && a->pad_top == b->pad_top &&
           a->pad_bottom == b->pad_bottom && a->pad_left == b->pad_left && a->pad_right == b->pad_right &&
           a->use_bias == b->use_bias && a->bn_mode == b->bn_mode && memcmp(&a->bn_epsilon, &b->bn_epsilon, 4) == 0 &&
           memcmp(&a->bn_momentum, &b->bn_momentum, 4) == 0 && memcmp(&a->dropout_rate, &b->dropout_rate, 4) == 0 &&
           memcmp(&a->grl_lambda, &b->grl_lambda, 4) == 0;
}

/* Graph, states and parameter layout equal; values bit-identical when exact, else within tol
 * relative (floor 1e-3) for kernels and exact for everything else. */
static void compare_nets(wt_net* a, wt_net* b, int exact, double tol, const char* what) {
    CHECK(wt_net_node_count(a) == wt_net_node_count(b), "%s: node counts %d vs %d", what, wt_net_node_count(a),
          wt_net_node_count(b));
    if (wt_net_node_count(a) != wt_net_node_count(b)) return;
    for (int i = 0; i < wt_net_node_count(a); i++) {
        wt_layer_desc da, db;
        wt_net_node_desc(a, i, &da);
        wt_net_node_desc(b, i, &db);
        CHECK(desc_equal(&da, &db), "%s: node %d ('%s') description differs", what, i, da.name);
        int ta, tb, ha, hb, wa, wb, ca, cb;
        float la, lb;
        wt_bn_mode ma, mb;
        wt_net_node_state(a, i, &ta, &la, &ma);
        wt_net_node_state(b, i, &tb, &lb, &mb);
        CHECK(ta == tb && memcmp(&la, &lb, 4) == 0 && ma == mb, "%s: node %d state differs", what, i);
        wt_net_node_shape(a, i, &ha, &wa, &ca);
        wt_net_node_shape(b, i, &hb, &wb, &cb);
        CHECK(ha == hb && wa == wb && ca == cb, "%s: node %d shape differs", what, i);
    }
    CHECK(wt_net_param_count(a) == wt_net_param_count(b), "%s: param counts differ", what);
    for (int i = 0; i < wt_net_param_count(a) && i < wt_net_param_count(b); i++) {
        wt_param_info pa, pb;
        wt_net_param_info(a, i, &pa);
        wt_net_param_info(b, i, &pb);
        CHECK(strcmp(pa.name, pb.name) == 0 && pa.node == pb.node && pa.kind == pb.kind && pa.count == pb.count &&
                  memcmp(pa.shape, pb.shape, sizeof pa.shape) == 0 && pa.trainable == pb.trainable,
              "%s: param %d info differs ('%s' vs '%s')", what, i, pa.name, pb.name);
        if (pa.count != pb.count) continue;
        float* va = wt_test_alloc(pa.count);
        float* vb = wt_test_alloc(pb.count);
        wt_net_param_read(a, i, va, pa.count);
        wt_net_param_read(b, i, vb, pb.count);
        if (exact || pa.kind != WT_PARAM_WEIGHT) {
            CHECK(wt_bit_equal(va, vb, pa.count), "%s: param '%s' not bit-identical", what, pa.name);
        } else {
            double e = wt_max_rel_err(vb, va, pa.count, 1e-3);
            CHECK(e <= tol, "%s: param '%s' rel err %g > %g", what, pa.name, e, tol);
        }
        free(va);
        free(vb);
    }
}

static void compare_meta(const wt_model_meta* a, const wt_model_meta* b, const char* what) {
    CHECK(a->n_labels == b->n_labels, "%s: %d labels vs %d", what, a->n_labels, b->n_labels);
    for (int i = 0; i < a->n_labels && i < b->n_labels; i++)
        CHECK(strcmp(a->labels[i], b->labels[i]) == 0, "%s: label %d '%s' vs '%s'", what, i, a->labels[i], b->labels[i]);
    CHECK(memcmp(&a->preprocess, &b->preprocess, sizeof a->preprocess) == 0, "%s: preprocess differs", what);
    CHECK(strcmp(a->backbone_name, b->backbone_name) == 0, "%s: backbone '%s' vs '%s'", what, a->backbone_name,
          b->backbone_name);
    CHECK(memcmp(a->backbone_sha256, b->backbone_sha256, 32) == 0, "%s: backbone hash differs", what);
    CHECK(a->embedding_node == b->embedding_node && a->logits_node == b->logits_node &&
              a->output_softmax == b->output_softmax,
          "%s: node ids/softmax differ", what);
}

/* Every node's output after a forward pass: bit-identical (tol 0), or every value within tol
 * times the node's largest magnitude. */
static void compare_forward(wt_net* a, wt_net* b, const float* input, int training, double tol, const char* what) {
    CHECK(wt_net_forward(a, input, BATCH, training) == WT_OK, "%s: forward a: %s", what, wt_last_error());
    CHECK(wt_net_forward(b, input, BATCH, training) == WT_OK, "%s: forward b: %s", what, wt_last_error());
    for (int i = 0; i < wt_net_node_count(a); i++) {
        int h, w, c;
        wt_net_node_shape(a, i, &h, &w, &c);
        size_t n = (size_t)BATCH * h * w * c;
        float* oa = wt_test_alloc(n);
        float* ob = wt_test_alloc(n);
        wt_net_read_output(a, i, oa, n);
        wt_net_read_output(b, i, ob, n);
        if (tol == 0.0) {
            CHECK(wt_bit_equal(oa, ob, n), "%s: node %d output not bit-identical", what, i);
        } else {
            /* error relative to the node's largest magnitude: kernels rounded to half move
             * every output by a small fraction of the typical output size */
            double big = 0.0, diff = 0.0;
            for (size_t j = 0; j < n; j++) {
                big = fmax(big, fabs((double)oa[j]));
                diff = fmax(diff, fabs((double)oa[j] - (double)ob[j]));
            }
            double e = diff / fmax(big, 1e-6);
            CHECK(e <= tol, "%s: node %d output err %g of its largest value > %g", what, i, e, tol);
        }
        free(oa);
        free(ob);
    }
}

static void test_roundtrip_f32(wt_context* ctx) {
    full_net f = build_full(ctx);
    wt_model_meta meta = full_meta(&f, f.net);
    uint8_t* bytes = NULL;
    size_t len = 0;
    CHECK(wt_model_save(f.net, &meta, 0, &bytes, &len) == WT_OK, "save: %s", wt_last_error());
    CHECK(len > 56 && memcmp(bytes, "WTMODEL\0", 8) == 0, "magic");
    CHECK(rd64(bytes + 16) == len, "length field %llu vs %zu", (unsigned long long)rd64(bytes + 16), len);
    CHECK((rd32(bytes + 12) & 1) == 0, "float32 file has the f16 flag");

    wt_net* net = NULL;
    wt_model_meta* got = NULL;
    CHECK(wt_model_load(ctx, bytes, len, &net, &got) == WT_OK, "load: %s", wt_last_error());
    if (!net || !got) return;
    compare_nets(f.net, net, 1, 0.0, "f32");
    compare_meta(&meta, got, "f32 meta");
    CHECK(strcmp(got->labels[0], "노마스크") == 0, "Korean label '%s'", got->labels[0]);
    uint8_t h1[32], h2[32];
    wt_net_weights_sha256(f.net, -1, h1);
    wt_net_weights_sha256(net, -1, h2);
    CHECK(memcmp(h1, h2, 32) == 0, "weights hash differs after load");

    /* saving what was loaded gives the same bytes */
    uint8_t* again = NULL;
    size_t again_len = 0;
    CHECK(wt_model_save(net, got, 0, &again, &again_len) == WT_OK, "re-save: %s", wt_last_error());
    CHECK(again_len == len && again && memcmp(again, bytes, len) == 0, "re-saved file differs");
    wt_free_bytes(again);

    /* forward: training (batch statistics, dropout, moving-stat updates), then inference */
    CHECK(wt_net_plan(f.net, BATCH) == WT_OK && wt_net_plan(net, BATCH) == WT_OK, "plan: %s", wt_last_error());
    float input[BATCH * IN_H * IN_W * IN_C];
    wt_rng rng = { 5 };
    wt_rng_fill(&rng, input, sizeof input / sizeof input[0], -1.0f, 1.0f);
    compare_forward(f.net, net, input, 1, 0.0, "f32 training forward");
    compare_nets(f.net, net, 1, 0.0, "f32 after a training forward");
    compare_forward(f.net, net, input, 0, 0.0, "f32 inference forward");

    /* meta may be NULL on load */
    wt_net* net2 = NULL;
    CHECK(wt_model_load(ctx, bytes, len, &net2, NULL) == WT_OK, "load without meta: %s", wt_last_error());
    wt_net_destroy(net2);

    wt_net_destroy(net);
    wt_model_meta_free(got);
    wt_free_bytes(bytes);
    wt_net_destroy(f.net);
}

static void test_roundtrip_f16(wt_context* ctx) {
    full_net f = build_full(ctx);
    wt_model_meta meta = full_meta(&f, f.net);
    uint8_t *b32 = NULL, *b16 = NULL;
    size_t len32 = 0, len16 = 0;
    CHECK(wt_model_save(f.net, &meta, 0, &b32, &len32) == WT_OK, "save f32: %s", wt_last_error());
    CHECK(wt_model_save(f.net, &meta, 1, &b16, &len16) == WT_OK, "save f16: %s", wt_last_error());
    CHECK((rd32(b16 + 12) & 1) == 1, "f16 file lacks the f16 flag");
    /* exactly 2 bytes less per kernel value, give or take 3 bytes of alignment per tensor */
    size_t kernel_values = 0;
    for (int i = 0; i < wt_net_param_count(f.net); i++) {
        wt_param_info info;
        wt_net_param_info(f.net, i, &info);
        if (info.kind == WT_PARAM_WEIGHT) kernel_values += info.count;
    }
    long saved = (long)len32 - (long)len16, want = 2 * (long)kernel_values;
    CHECK(saved >= want - 3 * wt_net_param_count(f.net) && saved <= want + 3 * wt_net_param_count(f.net),
          "f16 saves %ld bytes, expected about %ld", saved, want);
    printf("every-layer net: float32 file %zu bytes, float16 %zu (%.2f)\n", len32, len16, (double)len16 / len32);

    wt_net* net = NULL;
    wt_model_meta* got = NULL;
    CHECK(wt_model_load(ctx, b16, len16, &net, &got) == WT_OK, "load f16: %s", wt_last_error());
    if (net && got) {
        compare_nets(f.net, net, 0, 1e-3, "f16");
        compare_meta(&meta, got, "f16 meta");
        CHECK(wt_net_plan(f.net, BATCH) == WT_OK && wt_net_plan(net, BATCH) == WT_OK, "plan");
        float input[BATCH * IN_H * IN_W * IN_C];
        wt_rng rng = { 6 };
        wt_rng_fill(&rng, input, sizeof input / sizeof input[0], -1.0f, 1.0f);
        compare_forward(f.net, net, input, 0, 2e-3, "f16 inference forward");
    }
    wt_net_destroy(net);
    wt_model_meta_free(got);
    wt_free_bytes(b32);
    wt_free_bytes(b16);
    wt_net_destroy(f.net);
}

/* ------------------------------------------------------------------------------------------- */
/* float16 rounding, against an independent reference                                           */
/* ------------------------------------------------------------------------------------------- */

/* Value of the positive finite half with bits h (0..0x7bff), computed from the definition. */
static double half_value(int h) {
    int e = h >> 10, m = h & 0x3ff;
    return e == 0 ? ldexp((double)m, -24) : ldexp((double)(1024 + m), e - 25);
}

/* Nearest half (ties to the even bit pattern) by binary search over the ordered halves; inputs
 * are below 65520 in magnitude. */
static float ref_half(float f) {
    double a = fabs((double)f);
    int lo = 0, hi = 0x7bff;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (half_value(mid) <= a) lo = mid;
        else hi = mid - 1;
    }
    double v = half_value(lo);
    if (lo < 0x7bff) {
        double u = half_value(lo + 1);
        if (a - v > u - a || (a - v == u - a && (lo & 1))) v = u;
    }
    return (float)copysign(v, (double)f);
}

#define WIDE 256 /* a dense WIDE -> WIDE layer: 65536 kernel values */

static void check_half_set(wt_context* ctx, wt_net* net, const float* values, const char* what, size_t* len16_out) {
    CHECK(wt_net_param_write(net, 0, values, WIDE * WIDE) == WT_OK, "%s: write: %s", what, wt_last_error());
    uint8_t* b = NULL;
    size_t len = 0;
    CHECK(wt_model_save(net, NULL, 1, &b, &len) == WT_OK, "%s: save: %s", what, wt_last_error());
    if (len16_out) *len16_out = len;
    wt_net* got = NULL;
    CHECK(wt_model_load(ctx, b, len, &got, NULL) == WT_OK, "%s: load: %s", what, wt_last_error());
    if (got) {
        float* v = wt_test_alloc(WIDE * WIDE);
        wt_net_param_read(got, 0, v, WIDE * WIDE);
        int bad = 0;
        for (int i = 0; i < WIDE * WIDE; i++) {
            float want = ref_half(values[i]);
            if (memcmp(&want, &v[i], 4) != 0) {
                if (bad++ < 5)
                    fprintf(stderr, "%s: %.9g (0x%08x) -> %.9g, expected %.9g\n", what, values[i],
                            (unsigned)rd32((const uint8_t*)&values[i]), v[i], want);
            }
        }
        CHECK(bad == 0, "%s: %d values rounded wrongly", what, bad);
        free(v);
    }
    wt_net_destroy(got);
    wt_free_bytes(b);
}

static void test_f16_rounding(wt_context* ctx) {
    wt_net* net = NULL;
    CHECK(wt_net_create(ctx, 1, 1, WIDE, &net) == WT_OK, "create");
    add(net, (wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "wide", .out_channels = WIDE });
    float* v = wt_test_alloc(WIDE * WIDE);
    /* every finite half, both signs (the rest of the tensor: zeros and the extremes) */
    size_t n = 0;
    for (int h = 0; h <= 0x7bff && n + 1 < (size_t)WIDE * WIDE; h++) v[n++] = (float)half_value(h) * (h & 1 ? -1.0f : 1.0f);
    check_half_set(ctx, net, v, "every half", NULL);
    /* every midpoint between neighbouring halves (a tie), and one float ulp below or above it */
    n = 0;
    for (int h = 0; h < 0x7bff; h++) {
        float mid = (float)((half_value(h) + half_value(h + 1)) / 2.0);
        v[n++] = mid;
        v[n++] = (h & 1) ? -nextafterf(mid, 0.0f) : nextafterf(mid, 1e9f);
    }
    while (n < (size_t)WIDE * WIDE) v[n++] = 65519.0f; /* just below the overflow threshold */
    v[0] = 65504.0f;
    v[1] = 5.9604645e-8f;      /* 2^-24: the smallest subnormal */
    v[2] = 2.9802322e-8f;      /* 2^-25: a tie between 0 and 2^-24 -> 0 */
    v[3] = 4.4703484e-8f;      /* 1.5 * 2^-25 -> 2^-24 */
    v[4] = -0.0f;
    v[5] = 1.00048828125f;     /* 1 + 2^-11: a tie -> 1 */
    v[6] = 1.00146484375f;     /* 1 + 3*2^-11: a tie -> 1 + 2^-9 */
    v[7] = 6.1035156e-5f;      /* 2^-14: the smallest normal */
    v[8] = 6.1004353e-5f;      /* between the largest subnormal and 2^-14 */
    v[9] = 1e-30f;             /* float values far below the half range -> 0 */
    v[10] = 1.2e-38f;          /* a float subnormal */
    check_half_set(ctx, net, v, "midpoints", NULL);
    /* random floats across the whole half range */
    wt_rng rng = { 99 };
    for (size_t i = 0; i < (size_t)WIDE * WIDE; i++) {
        float m = wt_rng_uniform(&rng, 1.0f, 2.0f);
        int e = (int)(wt_rng_u32(&rng) % 45) - 29; /* 2^-29 .. 2^15 */
        float x = ldexpf(m, e);
        if (x >= 65504.0f) x = 65504.0f;
        v[i] = (wt_rng_u32(&rng) & 1) ? -x : x;
    }
    size_t len16 = 0;
    check_half_set(ctx, net, v, "random", &len16);

    /* the file is about half the size; a value beyond the half range keeps the tensor float32 */
    uint8_t* b = NULL;
    size_t len32 = 0;
    CHECK(wt_model_save(net, NULL, 0, &b, &len32) == WT_OK, "save f32");
    wt_free_bytes(b);
    CHECK((double)len16 / len32 < 0.51, "f16 file %zu bytes vs %zu float32", len16, len32);
    printf("dense 256x256: float32 file %zu bytes, float16 %zu (%.3f)\n", len32, len16, (double)len16 / len32);
    v[123] = -70000.0f;
    CHECK(wt_net_param_write(net, 0, v, WIDE * WIDE) == WT_OK, "write");
    size_t len = 0;
    CHECK(wt_model_save(net, NULL, 1, &b, &len) == WT_OK, "save f16 with a big value");
    CHECK(len == len32 && (rd32(b + 12) & 1) == 0, "a tensor beyond the half range is not float32 (%zu bytes)", len);
    wt_net* got = NULL;
    CHECK(wt_model_load(ctx, b, len, &got, NULL) == WT_OK, "load: %s", wt_last_error());
    if (got) {
        float* w = wt_test_alloc(WIDE * WIDE);
        wt_net_param_read(got, 0, w, WIDE * WIDE);
        CHECK(wt_bit_equal(w, v, WIDE * WIDE), "float32 fallback not exact");
        free(w);
    }
    wt_net_destroy(got);
    wt_free_bytes(b);
    free(v);
    wt_net_destroy(net);
}

/* ------------------------------------------------------------------------------------------- */
/* Metadata, arguments                                                                          */
/* ------------------------------------------------------------------------------------------- */

/* A small net for the damage tests: equal-length names so records can be swapped around. */
static wt_net* build_small(wt_context* ctx) {
    wt_net* net = NULL;
    CHECK(wt_net_create(ctx, 5, 5, 3, &net) == WT_OK, "create");
    int x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "c1", .out_channels = 4, .use_bias = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .name = "b1", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU, .name = "r1", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_GLOBAL_AVG_POOL, .name = "g1", .input = x });
    add(net, (wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "d1", .input = x, .out_channels = 3, .use_bias = 1 });
    randomize_params(net, 3);
    return net;
}

static const char* const SMALL_LABELS[3] = { "a", "bb", "노" };

static wt_model_meta small_meta(void) {
    wt_model_meta m;
    memset(&m, 0, sizeof m);
    m.n_labels = 3;
    m.labels = SMALL_LABELS;
    m.embedding_node = 4;
    m.logits_node = 5;
    return m;
}

static void test_meta_and_arguments(wt_context* ctx) {
    wt_net* net = build_small(ctx);
    uint8_t* b = NULL;
    size_t len = 0;

    /* no meta: defaults come back */
    CHECK(wt_model_save(net, NULL, 0, &b, &len) == WT_OK, "save without meta: %s", wt_last_error());
    wt_net* got = NULL;
    wt_model_meta* m = NULL;
    CHECK(wt_model_load(ctx, b, len, &got, &m) == WT_OK, "load: %s", wt_last_error());
    if (m) {
        static const uint8_t zeros[32] = { 0 };
        CHECK(m->n_labels == 0 && m->labels == NULL && m->embedding_node == -1 && m->logits_node == -1 &&
                  m->output_softmax == 0 && m->backbone_name[0] == '\0' &&
                  memcmp(m->backbone_sha256, zeros, 32) == 0 && m->preprocess.out_h == 0 && m->preprocess.out_w == 0,
              "default meta");
    }
    wt_net_destroy(got);
    wt_model_meta_free(m);
    wt_free_bytes(b);

    /* a net with no layers at all */
    wt_net* empty = NULL;
    wt_net_create(ctx, 2, 3, 4, &empty);
    CHECK(wt_model_save(empty, NULL, 1, &b, &len) == WT_OK, "save empty: %s", wt_last_error());
    CHECK(wt_model_load(ctx, b, len, &got, NULL) == WT_OK, "load empty: %s", wt_last_error());
    int h = 0, w = 0, c = 0;
    if (got) wt_net_node_shape(got, 0, &h, &w, &c);
    CHECK(got && wt_net_node_count(got) == 1 && h == 2 && w == 3 && c == 4, "empty net round trip");
    wt_net_destroy(got);
    wt_free_bytes(b);
    wt_net_destroy(empty);

    /* save: argument errors */
    wt_model_meta ok = small_meta(), bad;
    CHECK(wt_model_save(NULL, &ok, 0, &b, &len) == WT_ERR_INVALID_ARGUMENT, "NULL net");
    CHECK(wt_model_save(net, &ok, 0, NULL, &len) == WT_ERR_INVALID_ARGUMENT, "NULL bytes");
    CHECK(wt_model_save(net, &ok, 0, &b, NULL) == WT_ERR_INVALID_ARGUMENT, "NULL len");
    const char* bad_utf8[3] = { "a", "\xff\xfe", "c" };
    const char* empty_label[3] = { "a", "", "c" };
    const char* null_label[3] = { "a", NULL, "c" };
    const char* surrogate[3] = { "a", "\xed\xa0\x80", "c" };
    struct { const char* const* labels; int n; int logits; wt_status st; const char* part; } cases[] = {
        { bad_utf8, 3, 5, WT_ERR_INVALID_ARGUMENT, "UTF-8" },
        { surrogate, 3, 5, WT_ERR_INVALID_ARGUMENT, "UTF-8" },
        { empty_label, 3, 5, WT_ERR_INVALID_ARGUMENT, "label 1" },
        { null_label, 3, 5, WT_ERR_INVALID_ARGUMENT, "label 1 is NULL" },
        { NULL, 3, 5, WT_ERR_INVALID_ARGUMENT, "NULL" },
        { SMALL_LABELS, -1, 5, WT_ERR_INVALID_ARGUMENT, "n_labels" },
        { SMALL_LABELS, 2, 5, WT_ERR_SHAPE, "channels" },
        { SMALL_LABELS, 3, 6, WT_ERR_INVALID_ARGUMENT, "logits_node" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bad = ok;
        bad.labels = cases[i].labels;
        bad.n_labels = cases[i].n;
        bad.logits_node = cases[i].logits;
        b = (uint8_t*)(uintptr_t)1;
        wt_status st = wt_model_save(net, &bad, 0, &b, &len);
        CHECK(st == cases[i].st && has(wt_last_error(), cases[i].part) && b == NULL,
              "save case %zu: %s '%s'", i, wt_status_name(st), wt_last_error());
    }
    bad = ok;
    memset(bad.backbone_name, 'x', sizeof bad.backbone_name);
    CHECK(wt_model_save(net, &bad, 0, &b, &len) == WT_ERR_INVALID_ARGUMENT && has(wt_last_error(), "NUL"),
          "unterminated backbone name: %s", wt_last_error());
    bad = ok;
    bad.embedding_node = -2;
    CHECK(wt_model_save(net, &bad, 0, &b, &len) == WT_ERR_INVALID_ARGUMENT, "embedding_node -2");
    bad = ok;
    bad.preprocess = (wt_preprocess){ .out_h = 224, .out_w = 224 };
    CHECK(wt_model_save(net, &bad, 0, &b, &len) == WT_ERR_SHAPE && has(wt_last_error(), "224x224"),
          "preprocess size: %s", wt_last_error());
    bad = ok;
    bad.preprocess = (wt_preprocess){ .out_h = 5, .out_w = 5, .filter = (wt_resize_filter)7 };
    CHECK(wt_model_save(net, &bad, 0, &b, &len) == WT_ERR_INVALID_ARGUMENT, "preprocess filter");
    bad = ok;
    bad.preprocess = (wt_preprocess){ .out_h = 5, .out_w = 5, .crop = (wt_crop)2 };
    CHECK(wt_model_save(net, &bad, 0, &b, &len) == WT_ERR_INVALID_ARGUMENT, "preprocess crop");
    bad = ok;
    bad.preprocess = (wt_preprocess){ .out_h = 5, .out_w = 5, .scale = NAN };
    CHECK(wt_model_save(net, &bad, 0, &b, &len) == WT_ERR_NOT_FINITE, "preprocess scale");

    /* load: argument errors */
    CHECK(wt_model_save(net, &ok, 0, &b, &len) == WT_OK, "save");
    CHECK(wt_model_load(NULL, b, len, &got, &m) == WT_ERR_INVALID_ARGUMENT, "NULL ctx");
    CHECK(wt_model_load(ctx, NULL, len, &got, &m) == WT_ERR_INVALID_ARGUMENT, "NULL bytes");
    CHECK(wt_model_load(ctx, b, len, NULL, &m) == WT_ERR_INVALID_ARGUMENT, "NULL net");
    wt_free_bytes(b);
    wt_model_meta_free(NULL);
    wt_free_bytes(NULL);
    wt_net_destroy(net);
}

/* ------------------------------------------------------------------------------------------- */
/* Damaged and hostile files                                                                    */
/* ------------------------------------------------------------------------------------------- */

static void test_damage(wt_context* ctx) {
    wt_net* net = build_small(ctx);
    wt_model_meta meta = small_meta();
    uint8_t* file = NULL;
    size_t len = 0;
    CHECK(wt_model_save(net, &meta, 0, &file, &len) == WT_OK, "save: %s", wt_last_error());
    printf("small file: %zu bytes\n", len);
    uint8_t* b = dup_bytes(file, len);
    char what[64];

    /* wrong magic, and things that are not model files */
    b[0] = 'X';
    expect_reject(ctx, b, len, WT_ERR_CORRUPT, "not a webtune model file (bad magic)", "wrong magic");
    static const uint8_t png[] = { 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 13 };
    expect_reject(ctx, png, sizeof png, WT_ERR_CORRUPT, "bad magic", "a PNG");
    expect_reject(ctx, (const uint8_t*)"WT", 2, WT_ERR_CORRUPT, "truncated: needs 24 bytes, has 2", "2 bytes");

    /* every truncation */
    int bad = 0;
    for (size_t n = 0; n < len; n++) {
        uint8_t* p = dup_bytes(file, n); /* exactly n bytes, so ASan sees any read past them */
        wt_net* got = (wt_net*)(uintptr_t)1;
        wt_status st = wt_model_load(ctx, p, n, &got, NULL);
        if (st != WT_ERR_CORRUPT || got != NULL || !has(wt_last_error(), "model file truncated: needs")) {
            if (bad++ < 5) fprintf(stderr, "prefix %zu: %s '%s'\n", n, wt_status_name(st), wt_last_error());
        }
        if (st == WT_OK) wt_net_destroy(got);
        free(p);
    }
    CHECK(bad == 0, "%d truncations not rejected as truncated", bad);
    snprintf(what, sizeof what, "needs %zu bytes, has %zu", len, len - 1);
    expect_reject(ctx, file, len - 1, WT_ERR_CORRUPT, what, "one byte short");

    /* a flipped bit in every byte */
    bad = 0;
    for (size_t i = 0; i < len; i++) {
        memcpy(b, file, len);
        b[i] ^= (uint8_t)(1u << (i % 8));
        wt_net* got = (wt_net*)(uintptr_t)1;
        wt_status st = wt_model_load(ctx, b, len, &got, NULL);
        const char* msg = wt_last_error();
        int right;
        if (i < 8) right = st == WT_ERR_CORRUPT && has(msg, "bad magic");
        else if (i < 10) right = (st == WT_ERR_CORRUPT || st == WT_ERR_UNSUPPORTED) && has(msg, "version");
        else if (i < 16 || i >= 24) right = st == WT_ERR_CORRUPT && has(msg, "checksum mismatch: the file is damaged");
        else right = st == WT_ERR_CORRUPT && (has(msg, "truncated") || has(msg, "length"));
        if (!right || got != NULL) {
            if (bad++ < 5) fprintf(stderr, "flip at %zu: %s '%s'\n", i, wt_status_name(st), msg);
        }
        if (st == WT_OK) wt_net_destroy(got);
    }
    CHECK(bad == 0, "%d flipped bytes not rejected right", bad);

    /* versions */
    memcpy(b, file, len);
    b[8] = 2;
    expect_reject(ctx, b, len, WT_ERR_UNSUPPORTED, "unsupported model format version 2 (this webtune reads version 1)",
                  "major 2");
    b[8] = 7;
    b[10] = 3;
    reseal(b, len);
    expect_reject(ctx, b, len, WT_ERR_UNSUPPORTED, "version 7", "major 7");
    b[8] = 0;
    reseal(b, len);
    expect_reject(ctx, b, len, WT_ERR_CORRUPT, "version 0", "major 0");

    /* a newer minor version with a section this reader does not know: skipped */
    {
        size_t extra = 12 + 5, n2 = len + extra;
        uint8_t* p = (uint8_t*)malloc(n2);
        memcpy(p, file, len - 32);
        memcpy(p + len - 32, "XTRA", 4);
        wr64(p + len - 32 + 4, 5);
        memcpy(p + len - 32 + 12, "hello", 5);
        p[10] = 9; /* minor 9 */
        wr64(p + 16, n2);
        reseal(p, n2);
        wt_net* got = NULL;
        wt_model_meta* m = NULL;
        CHECK(wt_model_load(ctx, p, n2, &got, &m) == WT_OK, "minor 9 with an unknown section: %s", wt_last_error());
        if (got) compare_nets(net, got, 1, 0.0, "minor 9");
        if (m) compare_meta(&meta, m, "minor 9");
        wt_net_destroy(got);
        wt_model_meta_free(m);
        /* the same section tag twice */
        memcpy(p + len - 32, "LABL", 4);
        wr64(p + len - 32 + 4, 5);
        reseal(p, n2);
        expect_reject(ctx, p, n2, WT_ERR_CORRUPT, "labels section appears twice", "duplicate section");
        free(p);
    }
    /* bytes after the end */
    {
        uint8_t* p = (uint8_t*)malloc(len + 1);
        memcpy(p, file, len);
        p[len] = 0;
        expect_reject(ctx, p, len + 1, WT_ERR_CORRUPT, "length mismatch", "a trailing byte");
        free(p);
    }

    /* resealed files: the checksum is right, the content is not */
    size_t graph = find_section(file, len, "GRPH", NULL), graph_hdr = graph - 12;
    size_t labels = find_section(file, len, "LABL", NULL);
    size_t l0 = layer_at(file, len, 0), l1 = layer_at(file, len, 1);
    size_t p0_data, p0 = param_at(file, len, 0, &p0_data);
    size_t var_data, var = param_at(file, len, 5, &var_data); /* b1/moving_variance */
    CHECK(memcmp(file + var + 40, "b1/moving_variance", 18) == 0, "test layout: parameter 5 is b1/moving_variance");
    struct { size_t at; int bytes; uint64_t value; const char* part; const char* what; } hostile[] = {
        { 16, 8, UINT64_MAX, "truncated: needs 18446744073709551615 bytes", "total length 2^64-1" },
        { 16, 8, 40, "less than the 56", "total length 40" },
        { graph_hdr + 4, 8, UINT64_MAX, "claims 18446744073709551615 bytes", "graph section length 2^64-1" },
        { graph_hdr + 4, 8, (uint64_t)1 << 40, "claims", "graph section length 2^40" },
        { graph_hdr + 4, 8, 3, "claims", "graph section length 3 (the table then misparses)" },
        { graph + 12, 4, 0xffffffffu, "4294967295 layers", "layer count 2^32-1" },
        { graph + 12, 4, 16384, "16384 layers need", "layer count 16384" },
        { graph + 12, 4, 4, "unexpected bytes", "layer count 4 of 5" },
        { graph + 0, 4, 0, "input shape", "input height 0" },
        { graph + 8, 4, 1u << 20, "input shape", "input channels 2^20" },
        { l0 + 0, 4, 99, "unknown type 99", "layer type 99" },
        { l0 + 4, 4, 1, "earlier node", "layer 1 reads itself" },
        { l1 + 4, 4, 0xffffffffu, "earlier node", "layer 2 reads node -1" },
        { l0 + 12, 4, 65536, "shape", "conv out_channels 65536" },
        { l0 + 12, 4, 0x7fffffffu, "output channels", "conv out_channels 2^31-1" },
        { l0 + 16, 4, 15, "shape", "kernel 15" },
        { l0 + 16, 4, 0xffffffffu, "kernel", "kernel -1" },
        { l0 + 24, 4, 9, "layer 'c1' is invalid", "stride 9" },
        { l0 + 28, 4, 77, "layer 'c1' is invalid", "padding 77" },
        { l0 + 48, 4, 0, "parameters, but the graph's layers own", "bias flag cleared" },
        { l0 + 72, 4, 2, "trainable flag", "trainable 2" },
        { l0 + 76, 4, 0xbf800000u, "lr scale of layer 'c1'", "lr scale -1" },
        { l1 + 80, 4, 5, "batch-norm mode of layer 'b1'", "bn state mode 5" },
        { l1 + 52, 4, 5, "layer 'b1' is invalid", "bn mode 5" },
        { l1 + 56, 4, 0xbf800000u, "layer 'b1' is invalid", "bn epsilon -1" },
        { l0 + 84, 4, 0xffffffffu, "length 4294967295", "name length 2^32-1" },
        { l0 + 84, 4, 0, "length 0", "name length 0" },
        { l0 + 88, 1, 0, "UTF-8", "NUL in a name" },
        { l1 + 88, 1, 'c', "layer 'c1' is invalid", "two layers named c1" },
        { p0 - 4, 4, 0xffffffffu, "4294967295 parameters", "param count 2^32-1" },
        { p0 - 4, 4, 6, "6 parameters, but", "param count 6" },
        { p0 + 0, 4, 3, "says it is parameter 3", "param index" },
        { p0 + 4, 4, 1, "kind", "param kind" },
        { p0 + 8, 4, 2, "dtype 2", "param dtype 2" },
        { p0 + 8, 4, 1, "params section", "param dtype f16 (the data no longer lines up)" },
        { p0 + 12, 4, 5, "shape", "param shape" },
        { p0 + 28, 8, (uint64_t)1 << 40, "1099511627776 values", "param value count 2^40" },
        { p0 + 28, 8, UINT64_MAX, "values", "param value count 2^64-1" },
        { p0 + 36, 4, 0x7fffffffu, "length 2147483647", "param name length 2^31-1" },
        { p0 + 48, 1, 'x', "named 'c1/weighx' in the file", "param name" },
        { p0_data, 4, 0x7fc00000u, "NaN or infinity", "a NaN weight" },
        { p0_data, 4, 0x7f800000u, "NaN or infinity", "an infinite weight" },
        { var_data, 4, 0xbf800000u, "negative", "a negative moving variance" },
        { labels, 4, 0x7fffffffu, "2147483647 labels", "label count 2^31-1" },
        { labels, 4, 65536, "65536 labels need", "label count 65536" },
        { labels, 4, 2, "unexpected bytes", "label count 2 of 3" },
        { labels + 4, 4, 0xfffffff0u, "length 4294967280", "label length" },
        { labels + 8, 1, 0xff, "label 0 is not valid UTF-8", "label byte 0xff" },
        { labels + 9, 4, 0, "label 1 has length 0", "empty label" },
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        memcpy(b, file, len);
        if (hostile[i].bytes == 8) wr64(b + hostile[i].at, hostile[i].value);
        else if (hostile[i].bytes == 4) wr32(b + hostile[i].at, (uint32_t)hostile[i].value);
        else b[hostile[i].at] = (uint8_t)hostile[i].value;
        if (hostile[i].at >= 24) reseal(b, len);
        expect_reject(ctx, b, len, WT_ERR_CORRUPT, hostile[i].part, hostile[i].what);
    }
    /* metadata that does not fit the net */
    {
        size_t pre = find_section(file, len, "PREP", NULL), mt = find_section(file, len, "META", NULL);
        size_t bk = find_section(file, len, "BKBN", NULL);
        struct { size_t at; uint32_t value; const char* part; } m[] = {
            { pre, 7, "7x0" }, { pre + 8, 2, "unknown filter" }, { pre + 12, 2, "unknown crop" },
            { pre + 16, 0x7f800000u, "not finite" }, { mt, 6, "embedding node 6" }, { mt + 4, 0xfffffffeu, "logits node -2" },
            { mt + 4, 4, "3 labels, but the logits node 4 has 4 channels" }, { mt + 8, 2, "softmax flag 2" },
            { bk, 64, "length 64" },
        };
        for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
            memcpy(b, file, len);
            wr32(b + m[i].at, m[i].value);
            reseal(b, len);
            snprintf(what, sizeof what, "meta case %zu", i);
            expect_reject(ctx, b, len, WT_ERR_CORRUPT, m[i].part, what);
        }
    }
    /* no graph section: rename its tag (an unknown section is skipped) */
    memcpy(b, file, len);
    memcpy(b + graph_hdr, "GRPX", 4);
    reseal(b, len);
    expect_reject(ctx, b, len, WT_ERR_CORRUPT, "no graph section", "no graph");
    /* a section table that overruns: last section claims the trailer */
    memcpy(b, file, len);
    {
        size_t mt = find_section(file, len, "META", NULL);
        wr64(b + mt - 8, 12 + 1);
        reseal(b, len);
        expect_reject(ctx, b, len, WT_ERR_CORRUPT, "claims 13 bytes", "meta overruns");
    }
    /* f16 data: infinity and NaN halves are rejected */
    {
        uint8_t* f16 = NULL;
        size_t n16 = 0;
        CHECK(wt_model_save(net, &meta, 1, &f16, &n16) == WT_OK, "save f16");
        size_t d16;
        param_at(f16, n16, 0, &d16);
        CHECK(rd32(f16 + param_at(f16, n16, 0, NULL) + 8) == 1, "c1/weight is f16");
        f16[d16] = 0x00;
        f16[d16 + 1] = 0x7c;
        reseal(f16, n16);
        expect_reject(ctx, f16, n16, WT_ERR_CORRUPT, "NaN or infinity", "f16 infinity");
        f16[d16 + 1] = 0xfe;
        reseal(f16, n16);
        expect_reject(ctx, f16, n16, WT_ERR_CORRUPT, "NaN or infinity", "f16 NaN");
        wt_free_bytes(f16);
    }

    /* random mutations of the body, resealed: never a crash, a leak or a bad status */
    wt_rng rng = { 2024 };
    int accepted = 0, wrong = 0;
    static const uint32_t interesting[] = { 0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
                                            0x10000, 0x7fffffff, 0x80000000u, 0xfffffffeu, 0xffffffffu };
    for (int it = 0; it < 3000; it++) {
        memcpy(b, file, len);
        int edits = 1 + (int)(wt_rng_u32(&rng) % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = 24 + wt_rng_u32(&rng) % (uint32_t)(len - 32 - 24 - 4);
            if (wt_rng_u32(&rng) & 1) b[at] = (uint8_t)wt_rng_u32(&rng);
            else wr32(b + at, interesting[wt_rng_u32(&rng) % (sizeof interesting / sizeof interesting[0])]);
        }
        reseal(b, len);
        wt_net* got = (wt_net*)(uintptr_t)1;
        wt_model_meta* m = (wt_model_meta*)(uintptr_t)1;
        wt_status st = wt_model_load(ctx, b, len, &got, &m);
        if (st == WT_OK) {
            accepted++;
            wt_net_destroy(got);
            wt_model_meta_free(m);
        } else if (st != WT_ERR_CORRUPT || got != NULL || m != NULL || wt_last_error()[0] == '\0') {
            if (wrong++ < 5) fprintf(stderr, "mutation %d: %s '%s'\n", it, wt_status_name(st), wt_last_error());
        }
    }
    CHECK(wrong == 0, "%d mutated files gave a wrong status", wrong);
    printf("mutation loop: %d of 3000 resealed mutants loaded (changed values), the rest rejected\n", accepted);

    free(b);
    wt_free_bytes(file);
    wt_net_destroy(net);
}

/* ------------------------------------------------------------------------------------------- */
/* Weights hash                                                                                 */
/* ------------------------------------------------------------------------------------------- */

static void test_weights_hash(wt_context* ctx) {
    /* known answer: the documented stream for one dense layer "d" with weights [1, -2] */
    wt_net* net = NULL;
    wt_net_create(ctx, 1, 1, 2, &net);
    add(net, (wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "d", .out_channels = 1 });
    const float w[2] = { 1.0f, -2.0f };
    wt_net_param_write(net, 0, w, 2);
    static const uint8_t stream[] = { 8, 0, 0, 0, 'd', '/', 'w', 'e', 'i', 'g', 'h', 't', 2, 0, 0, 0, 0, 0, 0, 0,
                                      0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0 };
    uint8_t want[32], got[32];
    char h[65];
    wt_sha256(stream, sizeof stream, want);
    CHECK(wt_net_weights_sha256(net, -1, got) == WT_OK && memcmp(want, got, 32) == 0, "weights hash stream");
    hex(got, h);
    CHECK(strcmp(h, "c269ecddbfe6e63872402a9abbb9f30cb9e242247e8cf40c971f3438403011e3") == 0, "known answer %s", h);
    wt_sha256("", 0, want);
    CHECK(wt_net_weights_sha256(net, 0, got) == WT_OK && memcmp(want, got, 32) == 0, "no parameters: empty hash");
    CHECK(wt_net_weights_sha256(net, 2, got) == WT_ERR_NOT_FOUND, "node out of range");
    CHECK(wt_net_weights_sha256(net, -2, got) == WT_ERR_NOT_FOUND, "node -2");
    CHECK(wt_net_weights_sha256(NULL, -1, got) == WT_ERR_INVALID_ARGUMENT, "NULL net");
    wt_net_destroy(net);

    /* prefix rule: a change above the node leaves the hash alone, a change at or below it does not */
    net = build_small(ctx);
    uint8_t up_to_bn[32], all[32], t[32];
    wt_net_weights_sha256(net, 2, up_to_bn);
    wt_net_weights_sha256(net, -1, all);
    float bias[3] = { 0.5f, 0.25f, 0.125f };
    wt_net_param_write(net, 7, bias, 3); /* d1/bias */
    wt_net_weights_sha256(net, 2, t);
    CHECK(memcmp(t, up_to_bn, 32) == 0, "hash up to b1 changed by d1");
    wt_net_weights_sha256(net, -1, t);
    CHECK(memcmp(t, all, 32) != 0, "whole hash unchanged by d1");
    float gamma[4] = { 1, 2, 3, 4 };
    wt_net_param_write(net, 2, gamma, 4); /* b1/gamma */
    wt_net_weights_sha256(net, 2, t);
    CHECK(memcmp(t, up_to_bn, 32) != 0, "hash up to b1 unchanged by b1");
    /* trainable flags do not matter */
    wt_net_weights_sha256(net, -1, all);
    wt_net_set_trainable(net, 1, 0);
    wt_net_weights_sha256(net, -1, t);
    CHECK(memcmp(t, all, 32) == 0, "hash depends on trainable flags");
    wt_net_destroy(net);
}

int main(void) {
    wt_context* ctx = NULL;
    if (wt_context_create(&(wt_context_desc){ .n_threads = 2, .seed = 42 }, &ctx) != WT_OK) {
        fprintf(stderr, "context: %s\n", wt_last_error());
        return 1;
    }
    test_sha256();
    test_roundtrip_f32(ctx);
    test_roundtrip_f16(ctx);
    test_f16_rounding(ctx);
    test_meta_and_arguments(ctx);
    test_damage(ctx);
    test_weights_hash(ctx);
    wt_context_destroy(ctx);
    return wt_test_summary();
}
