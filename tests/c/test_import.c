/* test_import.c: the TF.js layers-format importer and the JSON parser under it.
 *
 * Real models: the two pretrained backbones in ${WT_SHARED_DIR}/backbones (environment variable,
 * else the compile-time WT_SHARED_DIR): MobileNet v1 0.25 (functional Model with its ImageNet head)
 * and a Teachable Machine MobileNet v2 0.35 export (nested Sequentials around a Model). Each is
 * imported cut (embedding) and whole (logits); every parameter of the net is compared byte for
 * byte with its tensor in the shards (located independently from the manifest here), and a
 * forward pass gives finite output. Under Emscripten the files are read through NODERAWFS.
 *
 * A synthetic model written here covers ZeroPadding2D folding, a tensor split across two shards,
 * uint8/uint16/float16 quantization (including a subnormal half), name prefixes from nested
 * models, Add, Activation, Dense with softmax, and is checked against a plain-loop forward pass.
 *
 * Error cases edit the JSON in memory: unsupported layers and activations, wrong shapes, missing
 * or truncated shards, missing tensors, unknown dtypes, unsafe paths, malformed JSON (truncated,
 * bad token, a 100000-deep '[' bomb). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "webtune.h"
#include "wt_test.h"
#include "wt_test_files.h"

/* ------------------------------------------------------------------------------------------- */
/* A model on disk: model.json and every shard it lists                                         */
/* ------------------------------------------------------------------------------------------- */

#define MAX_FILES 128

typedef struct model_files {
    char* json;
    size_t json_len;
    wt_weight_file files[MAX_FILES];
    char* names[MAX_FILES];
    int n_files;
} model_files;

static void free_model(model_files* m) {
    free(m->json);
    for (int i = 0; i < m->n_files; i++) {
        free((void*)m->files[i].bytes);
        free(m->names[i]);
    }
    memset(m, 0, sizeof *m);
}

static int load_model(const char* name, model_files* m) {
    memset(m, 0, sizeof *m);
    char path[1024];
    snprintf(path, sizeof path, "%s/backbones/%s/model.json", wt_test_shared_dir(), name);
    m->json = (char*)wt_test_read_file(path, &m->json_len);
    CHECK(m->json != NULL, "cannot read %s (set WT_SHARED_DIR)", path);
    if (!m->json) return 0;
    char* paths = NULL;
    int count = 0;
    wt_status st = wt_tfjs_weight_paths(m->json, m->json_len, &paths, &count);
    CHECK(st == WT_OK, "%s: wt_tfjs_weight_paths: %s", name, wt_last_error());
    if (st) return 0;
    CHECK(count >= 1 && count <= MAX_FILES, "%s: %d weight files", name, count);
    char* p = paths;
    while (*p && m->n_files < MAX_FILES) {
        char* nl = strchr(p, '\n');
        if (!nl) break;
        *nl = '\0';
        snprintf(path, sizeof path, "%s/backbones/%s/%s", wt_test_shared_dir(), name, p);
        size_t len;
        uint8_t* bytes = wt_test_read_file(path, &len);
        CHECK(bytes != NULL, "cannot read %s", path);
        if (!bytes) break;
        m->names[m->n_files] = (char*)malloc(strlen(p) + 1);
        strcpy(m->names[m->n_files], p);
        m->files[m->n_files] = (wt_weight_file){ m->names[m->n_files], bytes, len };
        m->n_files++;
        p = nl + 1;
    }
    wt_tfjs_paths_free(paths);
    return m->n_files == count;
}

/* A copy of s with the first occurrence of `from` at or after `anchor` (NULL = start) replaced. */
static char* replace_first(const char* s, size_t len, const char* anchor, const char* from, const char* to, size_t* out_len) {
    const char* start = anchor ? strstr(s, anchor) : s;
    const char* at = start ? strstr(start, from) : NULL;
    if (!at) {
        fprintf(stderr, "test: '%s' not found in the model json\n", from);
        exit(2);
    }
    size_t pre = (size_t)(at - s), fl = strlen(from), tl = strlen(to);
    *out_len = len - fl + tl;
    char* r = (char*)malloc(*out_len + 1);
    memcpy(r, s, pre);
    memcpy(r + pre, to, tl);
    memcpy(r + pre + tl, at + fl, len - pre - fl);
    r[*out_len] = '\0';
    return r;
}

static wt_status import(wt_context* ctx, const char* json, size_t len, const wt_weight_file* files, int n,
                        const wt_import_options* o, wt_net** net, wt_import_info* info) {
    wt_clear_error();
    return wt_import_tfjs(ctx, json, len, files, n, o, net, info);
}

/* Imports an edited JSON and expects `want` with all of `needles` in the message. */
static void expect_error(wt_context* ctx, const char* what, const char* json, size_t len, const wt_weight_file* files,
                         int n, const wt_import_options* o, wt_status want, const char* needle1, const char* needle2) {
    wt_net* net = (wt_net*)1;
    wt_status st = import(ctx, json, len, files, n, o, &net, NULL);
    const char* msg = wt_last_error();
    CHECK(st == want, "%s: got %s (%s), expected %s", what, wt_status_name(st), msg, wt_status_name(want));
    CHECK(net == NULL, "%s: *out is not NULL after a failure", what);
    CHECK(!needle1 || strstr(msg, needle1), "%s: message '%s' does not name '%s'", what, msg, needle1);
    CHECK(!needle2 || strstr(msg, needle2), "%s: message '%s' does not name '%s'", what, msg, needle2);
    if (st == WT_OK) wt_net_destroy(net);
    printf("  %-28s %s: %s\n", what, wt_status_name(st), msg);
}

/* ------------------------------------------------------------------------------------------- */
/* Byte-for-byte check of every parameter against the shards                                    */
/* ------------------------------------------------------------------------------------------- */

/* Finds manifest tensor `tname`: its bytes in the concatenated shards of its group. */
static const uint8_t* find_tensor(const wt_json* manifest, const model_files* m, const char* tname, size_t* nbytes,
                                  uint8_t** owned) {
    *owned = NULL;
    for (const wt_json* g = manifest->first; g; g = g->next) {
        size_t off = 0;
        for (const wt_json* w = wt_json_get(g, "weights")->first; w; w = w->next) {
            size_t n = 4;
            for (const wt_json* d = wt_json_get(w, "shape")->first; d; d = d->next) n *= (size_t)d->number;
            if (strcmp(wt_json_str(wt_json_get(w, "name")), tname) == 0) {
                /* concatenate the group's files */
                size_t total = 0;
                for (const wt_json* p = wt_json_get(g, "paths")->first; p; p = p->next)
                    for (int f = 0; f < m->n_files; f++)
                        if (strcmp(m->files[f].path, p->str) == 0) total += m->files[f].len;
                if (off + n > total) return NULL;
                uint8_t* all = (uint8_t*)malloc(total);
                size_t at = 0;
                for (const wt_json* p = wt_json_get(g, "paths")->first; p; p = p->next)
                    for (int f = 0; f < m->n_files; f++)
                        if (strcmp(m->files[f].path, p->str) == 0) {
                            memcpy(all + at, m->files[f].bytes, m->files[f].len);
                            at += m->files[f].len;
                        }
                *owned = all;
                *nbytes = n;
                return all + off;
            }
            off += n;
        }
    }
    return NULL;
}

/* Every parameter of the net equals its float32 tensor's bytes; returns how many matched. */
static int check_params_equal_shards(const char* what, const wt_net* net, const model_files* m) {
    wt_json_doc* doc;
    wt_status st = wt_json_parse(m->json, m->json_len, NULL, &doc);
    CHECK(st == WT_OK, "%s: parse: %s", what, wt_last_error());
    if (st) return 0;
    const wt_json* manifest = wt_json_get(wt_json_root(doc), "weightsManifest");
    int matched = 0, n = wt_net_param_count(net);
    for (int i = 0; i < n; i++) {
        wt_param_info pi;
        wt_net_param_info(net, i, &pi);
        char layer_name[256], tname[300];
        snprintf(layer_name, sizeof layer_name, "%s", pi.name);
        *strrchr(layer_name, '/') = '\0';
        static const char* const kind_var[] = { "kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance" };
        snprintf(tname, sizeof tname, "%s/%s", layer_name, kind_var[pi.kind]);
        size_t nbytes = 0;
        uint8_t* owned;
        const uint8_t* bytes = find_tensor(manifest, m, tname, &nbytes, &owned);
        if (!bytes && pi.kind == WT_PARAM_WEIGHT) {
            snprintf(tname, sizeof tname, "%s/depthwise_kernel", layer_name);
            bytes = find_tensor(manifest, m, tname, &nbytes, &owned);
        }
        CHECK(bytes != NULL, "%s: no tensor for parameter %s", what, pi.name);
        if (!bytes) continue;
        CHECK(nbytes == pi.count * 4, "%s: %s has %zu floats, tensor %s %zu bytes", what, pi.name, pi.count, tname, nbytes);
        float* v = wt_test_alloc(pi.count);
        wt_net_param_read(net, i, v, pi.count);
        int same = nbytes == pi.count * 4 && memcmp(v, bytes, nbytes) == 0;
        CHECK(same, "%s: %s differs from the bytes of %s", what, pi.name, tname);
        matched += same;
        free(v);
        free(owned);
    }
    wt_json_free(doc);
    return matched;
}

/* Plans for batch 2, runs a constant image and a ramp, returns 1 if every output of `node` is
 * finite; *out_first (may be NULL) receives the first batch item's output (caller frees). */
static int forward_finite(const char* what, wt_net* net, const wt_import_info* info, int node, float** out_first) {
    size_t in_n = (size_t)info->in_h * info->in_w * info->in_c;
    float* x = wt_test_alloc(2 * in_n);
    for (size_t i = 0; i < in_n; i++) {
        x[i] = 0.25f;
        x[in_n + i] = -1.0f + 2.0f * (float)(i % 997) / 996.0f;
    }
    wt_status st = wt_net_plan(net, 2);
    CHECK(st == WT_OK, "%s: plan: %s", what, wt_last_error());
    if (!st) st = wt_net_forward(net, x, 2, 0);
    CHECK(st == WT_OK, "%s: forward: %s", what, wt_last_error());
    int h, w, c;
    wt_net_node_shape(net, node, &h, &w, &c);
    size_t out_n = (size_t)h * w * c;
    float* y = wt_test_alloc(2 * out_n);
    if (!st) st = wt_net_read_output(net, node, y, 2 * out_n);
    int finite = st == WT_OK;
    for (size_t i = 0; i < 2 * out_n && finite; i++) finite = isfinite(y[i]);
    CHECK(finite, "%s: output is not finite", what);
    double diff = 0;
    for (size_t i = 0; i < out_n; i++) diff += fabs((double)y[i] - y[out_n + i]);
    CHECK(diff > 0, "%s: two different images give the same output", what);
    free(x);
    if (out_first) *out_first = y;
    else free(y);
    return finite;
}

/* ------------------------------------------------------------------------------------------- */
/* Real backbones                                                                               */
/* ------------------------------------------------------------------------------------------- */

static void test_mobilenet_v1(wt_context* ctx) {
    model_files m;
    if (!load_model("mobilenet_v1_0.25_224", &m)) {
        free_model(&m);
        return;
    }
    CHECK(m.n_files == 55, "v1: %d weight files, expected 55", m.n_files);
    CHECK(strcmp(m.files[0].path, "group1-shard1of1") == 0, "v1: first path %s", m.files[0].path);

    /* default cut: conv_pw_13_relu + the model's own global average pooling */
    wt_net* net;
    wt_import_info info;
    wt_status st = import(ctx, m.json, m.json_len, m.files, m.n_files, NULL, &net, &info);
    CHECK(st == WT_OK, "v1 cut: %s", wt_last_error());
    if (!st) {
        int h, w, c, gap;
        CHECK(strcmp(info.cut_layer, "conv_pw_13_relu") == 0, "v1 cut at '%s'", info.cut_layer);
        CHECK(info.embedding_dim == 256, "v1 embedding %d", info.embedding_dim);
        CHECK(info.logits_node == -1 && info.n_outputs == 0 && !info.output_softmax, "v1 cut has a head");
        CHECK(info.in_h == 224 && info.in_w == 224 && info.in_c == 3, "v1 input %dx%dx%d", info.in_h, info.in_w, info.in_c);
        CHECK(info.n_weights == 135, "v1 cut loaded %d tensors, expected 135", info.n_weights);
        CHECK(info.n_layers == 82, "v1 cut imported %d layers, expected 82", info.n_layers);
        CHECK(wt_net_find_node(net, "global_average_pooling2d_1", &gap) == WT_OK && gap == info.embedding_node &&
                  gap == info.output_node, "v1: the embedding is not the model's own pooling");
        int cut_node;
        CHECK(wt_net_find_node(net, "conv_pw_13_relu", &cut_node) == WT_OK, "v1: no conv_pw_13_relu node");
        wt_net_node_shape(net, cut_node, &h, &w, &c);
        CHECK(h == 7 && w == 7 && c == 256, "v1: conv_pw_13_relu is %dx%dx%d", h, w, c);
        int matched = check_params_equal_shards("v1 cut", net, &m);
        CHECK(matched == wt_net_param_count(net) && matched == 135,
              "v1 cut: %d of %d parameters match", matched, wt_net_param_count(net));
        forward_finite("v1 cut", net, &info, info.embedding_node, NULL);
        printf("v1 cut: %d nodes, %d params, embedding %d-d at node %d\n", wt_net_node_count(net),
               wt_net_param_count(net), info.embedding_dim, info.embedding_node);
        wt_net_destroy(net);
    }

    /* whole model: 1000 logits; softmax left out; Reshape/Dropout kept as no-op/dropout */
    wt_import_options whole = { .cut_layer = "" };
    st = import(ctx, m.json, m.json_len, m.files, m.n_files, &whole, &net, &info);
    CHECK(st == WT_OK, "v1 whole: %s", wt_last_error());
    if (!st) {
        int h, w, c;
        CHECK(info.n_outputs == 1000 && info.output_softmax == 1, "v1 whole: %d outputs, softmax %d", info.n_outputs,
              info.output_softmax);
        CHECK(info.embedding_dim == 256 && info.cut_layer[0] == '\0', "v1 whole: embedding %d", info.embedding_dim);
        CHECK(info.n_weights == 137, "v1 whole loaded %d tensors", info.n_weights);
        int preds;
        CHECK(wt_net_find_node(net, "conv_preds", &preds) == WT_OK && preds == info.logits_node,
              "v1 whole: logits are not conv_preds");
        wt_net_node_shape(net, info.logits_node, &h, &w, &c);
        CHECK(h == 1 && w == 1 && c == 1000, "v1 logits %dx%dx%d", h, w, c);
        CHECK(check_params_equal_shards("v1 whole", net, &m) == wt_net_param_count(net), "v1 whole: parameters differ");
        float* logits = NULL;
        forward_finite("v1 whole", net, &info, info.logits_node, &logits);
        free(logits);
        wt_net_destroy(net);
    }

    /* a named cut without pooling */
    wt_import_options mid = { .cut_layer = "conv_pw_6_relu", .no_pooling = 1 };
    st = import(ctx, m.json, m.json_len, m.files, m.n_files, &mid, &net, &info);
    CHECK(st == WT_OK, "v1 mid: %s", wt_last_error());
    if (!st) {
        int h, w, c;
        wt_net_node_shape(net, info.output_node, &h, &w, &c);
        CHECK(h == 14 && w == 14 && c == 128 && info.embedding_node == info.output_node,
              "v1 conv_pw_6_relu: %dx%dx%d", h, w, c);
        wt_net_destroy(net);
    }
    /* pooled cut where the model does not pool: an added node */
    mid.no_pooling = 0;
    st = import(ctx, m.json, m.json_len, m.files, m.n_files, &mid, &net, &info);
    CHECK(st == WT_OK, "v1 mid pooled: %s", wt_last_error());
    if (!st) {
        int pool;
        CHECK(wt_net_find_node(net, "embedding_pool", &pool) == WT_OK && pool == info.embedding_node &&
                  info.embedding_dim == 128, "v1 conv_pw_6_relu pooled: embedding %d", info.embedding_dim);
        wt_net_destroy(net);
    }
    /* another input size and batch-statistics batch norms */
    wt_import_options small = { .in_h = 160, .in_w = 128, .bn_mode = WT_BN_BATCH_STATS };
    st = import(ctx, m.json, m.json_len, m.files, m.n_files, &small, &net, &info);
    CHECK(st == WT_OK && info.in_h == 160 && info.in_w == 128, "v1 160x128: %s", wt_last_error());
    if (!st) {
        forward_finite("v1 160x128", net, &info, info.embedding_node, NULL);
        wt_net_destroy(net);
    }

    /* the head's shard is not needed for the cut model */
    wt_weight_file files[MAX_FILES];
    int n = 0;
    for (int i = 0; i < m.n_files; i++)
        if (strcmp(m.files[i].path, "group29-shard1of1") != 0) files[n++] = m.files[i];
    st = import(ctx, m.json, m.json_len, files, n, NULL, &net, &info);
    CHECK(st == WT_OK, "v1 cut without the head's shard: %s", wt_last_error());
    if (!st) wt_net_destroy(net);

    printf("v1 error cases:\n");
    expect_error(ctx, "missing head shard", m.json, m.json_len, files, n, &whole, WT_ERR_NOT_FOUND, "group29-shard1of1",
                 "conv_preds");
    n = 0;
    for (int i = 0; i < m.n_files; i++)
        if (strcmp(m.files[i].path, "group3-shard1of1") != 0) files[n++] = m.files[i];
    expect_error(ctx, "missing shard", m.json, m.json_len, files, n, NULL, WT_ERR_NOT_FOUND, "group3-shard1of1",
                 "conv_dw_1");
    memcpy(files, m.files, sizeof(wt_weight_file) * (size_t)m.n_files);
    for (int i = 0; i < m.n_files; i++)
        if (strcmp(files[i].path, "group37-shard1of1") == 0) files[i].len -= 4;
    expect_error(ctx, "truncated shard", m.json, m.json_len, files, m.n_files, NULL, WT_ERR_CORRUPT, "group37-shard1of1",
                 "truncated");
    expect_error(ctx, "no files", m.json, m.json_len, NULL, 0, NULL, WT_ERR_NOT_FOUND, "group1-shard1of1", "conv1");

    size_t len;
    char* j = replace_first(m.json, m.json_len, NULL, "\"class_name\": \"DepthwiseConv2D\"",
                            "\"class_name\": \"SeparableConv2D\"", &len);
    expect_error(ctx, "unsupported class", j, len, m.files, m.n_files, NULL, WT_ERR_UNSUPPORTED, "conv_dw_1",
                 "SeparableConv2D");
    free(j);
    j = replace_first(m.json, m.json_len, NULL, "\"activation\": \"relu6\"", "\"activation\": \"swish\"", &len);
    expect_error(ctx, "unsupported activation", j, len, m.files, m.n_files, NULL, WT_ERR_UNSUPPORTED, "conv1_relu",
                 "swish");
    free(j);
    j = replace_first(m.json, m.json_len, NULL, "\"filters\": 8,", "\"filters\": 9,", &len);
    expect_error(ctx, "wrong shape", j, len, m.files, m.n_files, NULL, WT_ERR_CORRUPT, "conv1", "[3,3,3,9]");
    free(j);
    j = replace_first(m.json, m.json_len, "weightsManifest", "\"conv_dw_1/depthwise_kernel\"",
                      "\"conv_dw_1/depthwise_kernelX\"", &len);
    expect_error(ctx, "missing tensor", j, len, m.files, m.n_files, NULL, WT_ERR_NOT_FOUND, "conv_dw_1",
                 "depthwise_kernel");
    free(j);
    j = replace_first(m.json, m.json_len, "weightsManifest", "\"float32\"", "\"float64\"", &len);
    expect_error(ctx, "unknown dtype", j, len, m.files, m.n_files, NULL, WT_ERR_CORRUPT, "float64", "conv1/kernel");
    free(j);
    j = replace_first(m.json, m.json_len, "weightsManifest", "\"group1-shard1of1\"", "\"../group1-shard1of1\"", &len);
    expect_error(ctx, "unsafe path", j, len, m.files, m.n_files, NULL, WT_ERR_CORRUPT, "../group1-shard1of1", NULL);
    char* paths = (char*)1;
    CHECK(wt_tfjs_weight_paths(j, len, &paths, NULL) == WT_ERR_CORRUPT && paths == NULL,
          "weight paths accept '..'");
    free(j);
    j = replace_first(m.json, m.json_len, NULL, "\"padding\": \"same\"", "\"padding\": \"causal\"", &len);
    expect_error(ctx, "unsupported padding", j, len, m.files, m.n_files, NULL, WT_ERR_UNSUPPORTED, "conv1", "padding");
    free(j);
    j = replace_first(m.json, m.json_len, NULL, "\"inbound_nodes\": [[[\"conv1\", 0, 0, {}]]]",
                      "\"inbound_nodes\": [[[\"nowhere\", 0, 0, {}]]]", &len);
    expect_error(ctx, "dangling input", j, len, m.files, m.n_files, NULL, WT_ERR_CORRUPT, "nowhere", "conv1_bn");
    free(j);
    /* softmax must be last: make conv_preds read the softmax */
    wt_import_options cut_missing = { .cut_layer = "no_such_layer" };
    expect_error(ctx, "unknown cut", m.json, m.json_len, m.files, m.n_files, &cut_missing, WT_ERR_NOT_FOUND,
                 "no_such_layer", NULL);
    wt_import_options cut_pad = { .cut_layer = "act_softmax" };
    expect_error(ctx, "cut after softmax", m.json, m.json_len, m.files, m.n_files, &cut_pad, WT_ERR_UNSUPPORTED,
                 "softmax", NULL);

    printf("malformed JSON:\n");
    expect_error(ctx, "truncated json", m.json, m.json_len / 2, m.files, m.n_files, NULL, WT_ERR_CORRUPT, "byte",
                 "unterminated");
    j = replace_first(m.json, m.json_len, NULL, ": null", ": nul", &len);
    expect_error(ctx, "bad token", j, len, m.files, m.n_files, NULL, WT_ERR_CORRUPT, "byte", "literal");
    free(j);
    j = replace_first(m.json, m.json_len, NULL, "}, {", "}; {", &len);
    expect_error(ctx, "bad separator", j, len, m.files, m.n_files, NULL, WT_ERR_CORRUPT, "byte", "expected");
    free(j);
    free_model(&m);
}

static void test_teachable_machine(wt_context* ctx) {
    model_files m;
    if (!load_model("teachable_machine_mobilenet_v2_0.35_224", &m)) {
        free_model(&m);
        return;
    }
    CHECK(m.n_files == 1 && strcmp(m.files[0].path, "weights.bin") == 0, "TM: files");
    wt_net* net;
    wt_import_info info;
    wt_status st = import(ctx, m.json, m.json_len, m.files, m.n_files, NULL, &net, &info);
    CHECK(st == WT_OK, "TM cut: %s", wt_last_error());
    if (!st) {
        int gap, h, w, c, cut_node;
        CHECK(strcmp(info.cut_layer, "out_relu") == 0, "TM cut at '%s'", info.cut_layer);
        CHECK(info.embedding_dim == 1280, "TM embedding %d", info.embedding_dim);
        CHECK(info.n_weights == 260, "TM cut loaded %d tensors, expected 260", info.n_weights);
        CHECK(wt_net_find_node(net, "global_average_pooling2d_GlobalAveragePooling2D2", &gap) == WT_OK &&
                  gap == info.embedding_node, "TM: the embedding is not the export's pooling");
        CHECK(wt_net_find_node(net, "out_relu", &cut_node) == WT_OK, "TM: no out_relu");
        wt_net_node_shape(net, cut_node, &h, &w, &c);
        CHECK(h == 7 && w == 7 && c == 1280, "TM out_relu %dx%dx%d", h, w, c);
        int pad_free = wt_net_find_node(net, "Conv1_pad", &h) != WT_OK;
        CHECK(pad_free, "TM: ZeroPadding2D became a node");
        int params = wt_net_param_count(net);
        CHECK(check_params_equal_shards("TM cut", net, &m) == params, "TM cut: parameters differ");
        forward_finite("TM cut", net, &info, info.embedding_node, NULL);
        printf("TM cut: %d nodes, %d params, embedding %d-d\n", wt_net_node_count(net), params, info.embedding_dim);
        wt_net_destroy(net);
    }
    wt_import_options whole = { .cut_layer = "" };
    st = import(ctx, m.json, m.json_len, m.files, m.n_files, &whole, &net, &info);
    CHECK(st == WT_OK, "TM whole: %s", wt_last_error());
    if (!st) {
        int d4;
        CHECK(info.n_outputs == 5 && info.output_softmax == 1 && info.embedding_dim == 1280,
              "TM whole: %d outputs, softmax %d, embedding %d", info.n_outputs, info.output_softmax, info.embedding_dim);
        CHECK(info.n_weights == 263, "TM whole loaded %d tensors", info.n_weights);
        CHECK(wt_net_find_node(net, "dense_Dense4", &d4) == WT_OK && d4 == info.logits_node, "TM logits node");
        int relu;
        CHECK(wt_net_find_node(net, "dense_Dense3/relu", &relu) == WT_OK, "TM: Dense relu not a node");
        CHECK(check_params_equal_shards("TM whole", net, &m) == wt_net_param_count(net), "TM whole: parameters differ");
        float* logits = NULL;
        forward_finite("TM whole", net, &info, info.logits_node, &logits);
        if (logits) printf("TM logits (constant 0.25 image): %g %g %g %g %g\n", logits[0], logits[1], logits[2],
                           logits[3], logits[4]);
        free(logits);
        wt_net_destroy(net);
    }
    printf("TM error cases:\n");
    size_t len;
    char* j = replace_first(m.json, m.json_len, NULL, "\"max_value\":6", "\"max_value\":4", &len);
    expect_error(ctx, "relu max_value 4", j, len, m.files, m.n_files, NULL, WT_ERR_UNSUPPORTED, "Conv1_relu",
                 "max_value");
    free(j);
    /* ZeroPadding2D feeding a batch norm */
    j = replace_first(m.json, m.json_len, NULL, "[[\"Conv1\",0,0,{}]]", "[[\"Conv1_pad\",0,0,{}]]", &len);
    expect_error(ctx, "pad not before conv", j, len, m.files, m.n_files, NULL, WT_ERR_UNSUPPORTED, "Conv1_pad",
                 "bn_Conv1");
    free(j);
    j = replace_first(m.json, m.json_len, NULL, "\"depth_multiplier\":1", "\"depth_multiplier\":2", &len);
    expect_error(ctx, "depth_multiplier 2", j, len, m.files, m.n_files, NULL, WT_ERR_UNSUPPORTED,
                 "expanded_conv_depthwise", "depth_multiplier");
    free(j);
    j = replace_first(m.json, m.json_len, NULL, "\"dilation_rate\":[1,1]", "\"dilation_rate\":[2,2]", &len);
    expect_error(ctx, "dilation 2", j, len, m.files, m.n_files, NULL, WT_ERR_UNSUPPORTED, "Conv1", "dilation");
    free(j);
    wt_weight_file short_file = m.files[0];
    short_file.len -= 1;
    expect_error(ctx, "truncated weights.bin", m.json, m.json_len, &short_file, 1, NULL, WT_ERR_CORRUPT, "weights.bin",
                 NULL);
    free_model(&m);
}

/* ------------------------------------------------------------------------------------------- */
/* TF.js as the reference (optional: needs files written by tests/js/tfjs_reference.mjs)         */
/* ------------------------------------------------------------------------------------------- */

/* Compares webtune's embedding (default cut + pooling) and softmax(logits) (whole model) with
 * TF.js's on the images stored in ${WT_TFJS_REF_DIR:-/tmp/webtune_tfjs_ref}/<backbone>.bin,
 * written by: node tests/js/tfjs_reference.mjs <backbone dir> <that file> [n]. Skipped when absent. */
static void compare_with_tfjs(wt_context* ctx, const char* backbone) {
    const char* dir = getenv("WT_TFJS_REF_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.bin", dir && dir[0] ? dir : "/tmp/webtune_tfjs_ref", backbone);
    size_t len;
    uint8_t* file = wt_test_read_file(path, &len);
    if (!file) {
        printf("tfjs reference for %s: skipped (no %s; write it with node tests/js/tfjs_reference.mjs)\n", backbone,
               path);
        return;
    }
    int32_t hdr[6] = { 0 };
    if (len >= 32) memcpy(hdr, file + 8, sizeof hdr);
    int n = hdr[0], h = hdr[1], w = hdr[2], c = hdr[3], emb_dim = hdr[4], out_dim = hdr[5];
    int ok_hdr = len >= 32 && memcmp(file, "WTREF1", 6) == 0 && n >= 1 && n <= 64 && h == 224 && w == 224 && c == 3 &&
                 emb_dim >= 1 && emb_dim <= 4096 && out_dim >= 1 && out_dim <= 4096;
    size_t in_n = (size_t)n * h * w * c;
    CHECK(ok_hdr && len == 32 + 4 * (in_n + (size_t)n * emb_dim + (size_t)n * out_dim), "%s: bad reference file", path);
    model_files m;
    if (!ok_hdr || len != 32 + 4 * (in_n + (size_t)n * emb_dim + (size_t)n * out_dim) || !load_model(backbone, &m)) {
        free(file);
        return;
    }
    float* x = wt_test_alloc(in_n);
    float* ref_emb = wt_test_alloc((size_t)n * emb_dim);
    float* ref_out = wt_test_alloc((size_t)n * out_dim);
    memcpy(x, file + 32, 4 * in_n);
    memcpy(ref_emb, file + 32 + 4 * in_n, 4 * (size_t)n * emb_dim);
    memcpy(ref_out, file + 32 + 4 * (in_n + (size_t)n * emb_dim), 4 * (size_t)n * out_dim);
    free(file);
    for (int whole = 0; whole < 2; whole++) {
        wt_import_options o = { .cut_layer = whole ? "" : NULL };
        wt_net* net;
        wt_import_info info;
        wt_status st = import(ctx, m.json, m.json_len, m.files, m.n_files, &o, &net, &info);
        CHECK(st == WT_OK, "%s: import: %s", backbone, wt_last_error());
        if (st) continue;
        int dim = whole ? info.n_outputs : info.embedding_dim;
        CHECK(dim == (whole ? out_dim : emb_dim), "%s: %d outputs, TF.js %d", backbone, dim, whole ? out_dim : emb_dim);
        float* y = wt_test_alloc((size_t)n * dim);
        if (!st) st = wt_net_plan(net, n);
        if (!st) st = wt_net_forward(net, x, n, 0);
        if (!st) st = wt_net_read_output(net, info.output_node, y, (size_t)n * dim);
        CHECK(st == WT_OK && dim == (whole ? out_dim : emb_dim), "%s: forward: %s", backbone, wt_last_error());
        if (!st && dim == (whole ? out_dim : emb_dim)) {
            const float* ref = whole ? ref_out : ref_emb;
            if (whole && info.output_softmax) {
                for (int b = 0; b < n; b++) {
                    float* z = y + (size_t)b * dim;
                    double mx = z[0], sum = 0;
                    for (int k = 1; k < dim; k++) mx = z[k] > mx ? z[k] : mx;
                    for (int k = 0; k < dim; k++) sum += exp((double)z[k] - mx);
                    for (int k = 0; k < dim; k++) z[k] = (float)(exp((double)z[k] - mx) / sum);
                }
            }
            double max_ref = 0, max_abs = 0;
            int argmax_same = 1;
            for (int b = 0; b < n; b++) {
                int a = 0, r = 0;
                for (int k = 0; k < dim; k++) {
                    size_t i = (size_t)b * dim + k;
                    max_ref = fmax(max_ref, fabs(ref[i]));
                    max_abs = fmax(max_abs, fabs((double)y[i] - ref[i]));
                    if (y[i] > y[(size_t)b * dim + a]) a = k;
                    if (ref[i] > ref[(size_t)b * dim + r]) r = k;
                }
                argmax_same &= a == r;
            }
            double rel = max_abs / fmax(max_ref, 1e-12);
            CHECK(rel < 1e-4 && isfinite(rel), "%s %s: max |webtune - TF.js| = %g (%g of the largest value)", backbone,
                  whole ? "predictions" : "embedding", max_abs, rel);
            CHECK(!whole || argmax_same, "%s: top-1 class differs from TF.js", backbone);
            printf("tfjs reference %s %s: %d images, max abs diff %.3g (relative %.3g)\n", backbone,
                   whole ? "softmax" : "embedding", n, max_abs, rel);
        }
        free(y);
        wt_net_destroy(net);
    }
    free(x);
    free(ref_emb);
    free(ref_out);
    free_model(&m);
}

/* ------------------------------------------------------------------------------------------- */
/* A synthetic model with quantized weights, checked against plain loops                        */
/* ------------------------------------------------------------------------------------------- */

/* 6x6x2 input -> ZeroPadding2D((0,1),(0,1)) -> Conv2D 3x3/2 valid, 3 filters, bias, relu
 *   -> DepthwiseConv2D 3x3 same, bias -> BatchNormalization -> Add(conv, bn) -> Activation relu6
 *   -> GlobalAveragePooling2D -> Dense 4 softmax (no bias). */
static const char* synth_json_fmt =
    "{\"format\": \"layers-model\", \"modelTopology\": {\"class_name\": \"Model\", \"config\": {\"name\": \"synth\","
    " \"layers\": ["
    "{\"name\": \"in\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 6, 6, 2], \"name\": \"in\"}, \"inbound_nodes\": []},"
    "{\"name\": \"pad\", \"class_name\": \"ZeroPadding2D\", \"config\": {\"padding\": [[0, 1], [0, 1]], \"name\": \"pad\"}, \"inbound_nodes\": [[[\"in\", 0, 0, {}]]]},"
    "{\"name\": \"conv\", \"class_name\": \"Conv2D\", \"config\": {\"filters\": 3, \"kernel_size\": [3, 3], \"strides\": [2, 2], \"padding\": \"valid\", \"dilation_rate\": [1, 1], \"activation\": \"relu\", \"use_bias\": true, \"name\": \"conv\"}, \"inbound_nodes\": [[[\"pad\", 0, 0, {}]]]},"
    "{\"name\": \"dw\", \"class_name\": \"DepthwiseConv2D\", \"config\": {\"kernel_size\": [3, 3], \"strides\": [1, 1], \"padding\": \"same\", \"depth_multiplier\": 1, \"activation\": \"linear\", \"use_bias\": true, \"name\": \"dw\"}, \"inbound_nodes\": [[[\"conv\", 0, 0, {}]]]},"
    "{\"name\": \"bn\", \"class_name\": \"BatchNormalization\", \"config\": {\"axis\": -1, \"epsilon\": 0.001, \"momentum\": 0.99, \"center\": true, \"scale\": true, \"name\": \"bn\"}, \"inbound_nodes\": [[[\"dw\", 0, 0, {}]]]},"
    "{\"name\": \"add\", \"class_name\": \"Add\", \"config\": {\"name\": \"add\"}, \"inbound_nodes\": [[[\"conv\", 0, 0, {}], [\"bn\", 0, 0, {}]]]},"
    "{\"name\": \"act\", \"class_name\": \"%s\", \"config\": {\"activation\": \"relu6\", \"name\": \"act\"}, \"inbound_nodes\": [[[\"add\", 0, 0, {}]]]},"
    "{\"name\": \"gap\", \"class_name\": \"GlobalAveragePooling2D\", \"config\": {\"name\": \"gap\"}, \"inbound_nodes\": [[[\"act\", 0, 0, {}]]]},"
    "{\"name\": \"dense\", \"class_name\": \"Dense\", \"config\": {\"units\": 4, \"activation\": \"softmax\", \"use_bias\": false, \"name\": \"dense\"}, \"inbound_nodes\": [[[\"gap\", 0, 0, {}]]]}"
    "], \"input_layers\": [[\"in\", 0, 0]], \"output_layers\": [[\"dense\", 0, 0]]}},"
    " \"weightsManifest\": ["
    "{\"paths\": [\"shard_a\", \"shard_b\"], \"weights\": ["
    "{\"name\": \"conv/kernel\", \"shape\": [3, 3, 2, 3], \"dtype\": \"float32\"},"
    "{\"name\": \"conv/bias\", \"shape\": [3], \"dtype\": \"float32\", \"quantization\": {\"dtype\": \"uint16\", \"scale\": 0.001, \"min\": -0.03}},"
    "{\"name\": \"dw/depthwise_kernel\", \"shape\": [3, 3, 3, 1], \"dtype\": \"float32\", \"quantization\": {\"dtype\": \"float16\"}},"
    "{\"name\": \"dw/bias\", \"shape\": [3], \"dtype\": \"float32\", \"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.01, \"min\": -1}}]},"
    "{\"paths\": [\"sub/shard_c\"], \"weights\": ["
    "{\"name\": \"outer/synth/bn/gamma\", \"shape\": [3], \"dtype\": \"float32\", \"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.01, \"min\": 0.5}},"
    "{\"name\": \"bn/beta\", \"shape\": [3], \"dtype\": \"float32\"},"
    "{\"name\": \"bn/moving_mean\", \"shape\": [3], \"dtype\": \"float32\"},"
    "{\"name\": \"bn/moving_variance:0\", \"shape\": [3], \"dtype\": \"float32\"},"
    "{\"name\": \"dense/kernel\", \"shape\": [3, 4], \"dtype\": \"float32\", \"quantization\": {\"dtype\": \"float16\"}}]}"
    "]}";

typedef struct synth {
    float conv_k[54], conv_b[3], dw_k[27], dw_b[3], gamma[3], beta[3], mean[3], var[3], dense_k[12];
    uint8_t g1[279], g2[3 + 36 + 24];
} synth;

static void put_f32(uint8_t* p, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(u >> (8 * k));
}

/* a random half: mostly normal numbers, and one zero and one subnormal; *value is its exact value */
static uint16_t rand_half(wt_rng* r, int i, float* value) {
    uint16_t sign = (wt_rng_u32(r) & 1) ? 0x8000 : 0;
    uint16_t man = (uint16_t)(wt_rng_u32(r) & 0x3FF);
    uint16_t exp = (uint16_t)(11 + wt_rng_u32(r) % 5); /* 2^-4 .. 2^0 */
    if (i == 3) exp = 0, man = 0x155;                  /* subnormal */
    if (i == 5) exp = 0, man = 0;                      /* (signed) zero */
    double v = exp ? ldexp(1.0 + man / 1024.0, exp - 15) : ldexp(man / 1024.0, -14);
    *value = (float)(sign ? -v : v);
    return (uint16_t)(sign | exp << 10 | man);
}

static void make_synth(synth* s) {
    wt_rng r = { 7 };
    uint8_t* p = s->g1;
    for (int i = 0; i < 54; i++) {
        s->conv_k[i] = wt_rng_uniform(&r, -0.5f, 0.5f);
        put_f32(p, s->conv_k[i]);
        p += 4;
    }
    for (int i = 0; i < 3; i++) {
        unsigned q = wt_rng_u32(&r) % 65536;
        s->conv_b[i] = (float)(q * 0.001 + -0.03);
        *p++ = (uint8_t)(q & 0xFF);
        *p++ = (uint8_t)(q >> 8);
    }
    for (int i = 0; i < 27; i++) {
        uint16_t h = rand_half(&r, i, &s->dw_k[i]);
        *p++ = (uint8_t)(h & 0xFF);
        *p++ = (uint8_t)(h >> 8);
    }
    for (int i = 0; i < 3; i++) {
        unsigned q = wt_rng_u32(&r) % 256;
        s->dw_b[i] = (float)(q * 0.01 + -1.0);
        *p++ = (uint8_t)q;
    }
    if (p != s->g1 + sizeof s->g1) {
        fprintf(stderr, "test: synthetic group 1 layout\n");
        exit(2);
    }
    p = s->g2;
    for (int i = 0; i < 3; i++) {
        unsigned q = wt_rng_u32(&r) % 256;
        s->gamma[i] = (float)(q * 0.01 + 0.5);
        *p++ = (uint8_t)q;
    }
    for (int i = 0; i < 3; i++) put_f32(p + 4 * i, s->beta[i] = wt_rng_uniform(&r, -0.2f, 0.2f));
    p += 12;
    for (int i = 0; i < 3; i++) put_f32(p + 4 * i, s->mean[i] = wt_rng_uniform(&r, -0.2f, 0.2f));
    p += 12;
    for (int i = 0; i < 3; i++) put_f32(p + 4 * i, s->var[i] = wt_rng_uniform(&r, 0.5f, 2.0f));
    p += 12;
    for (int i = 0; i < 12; i++) {
        uint16_t h = rand_half(&r, i + 1, &s->dense_k[i]);
        *p++ = (uint8_t)(h & 0xFF);
        *p++ = (uint8_t)(h >> 8);
    }
}

/* The synthetic model in plain loops: logits[4] for one 6x6x2 image. */
static void synth_reference(const synth* s, const float* x, float* logits, float* embedding) {
    float xp[7][7][2] = { { { 0 } } }, conv[3][3][3], dw[3][3][3], a[3][3][3], gap[3] = { 0 };
    for (int y = 0; y < 6; y++)
        for (int xx = 0; xx < 6; xx++)
            for (int c = 0; c < 2; c++) xp[y][xx][c] = x[(y * 6 + xx) * 2 + c];
    for (int oy = 0; oy < 3; oy++)
        for (int ox = 0; ox < 3; ox++)
            for (int co = 0; co < 3; co++) {
                double v = s->conv_b[co];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++)
                        for (int ci = 0; ci < 2; ci++)
                            v += (double)xp[oy * 2 + ky][ox * 2 + kx][ci] * s->conv_k[((ky * 3 + kx) * 2 + ci) * 3 + co];
                conv[oy][ox][co] = (float)(v > 0 ? v : 0);
            }
    for (int y = 0; y < 3; y++)
        for (int xx = 0; xx < 3; xx++)
            for (int c = 0; c < 3; c++) {
                double v = s->dw_b[c];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        int iy = y + ky - 1, ix = xx + kx - 1;
                        if (iy < 0 || iy > 2 || ix < 0 || ix > 2) continue;
                        v += (double)conv[iy][ix][c] * s->dw_k[(ky * 3 + kx) * 3 + c];
                    }
                dw[y][xx][c] = (float)v;
                double bn = (v - s->mean[c]) / sqrt((double)s->var[c] + 0.001) * s->gamma[c] + s->beta[c];
                double sum = conv[y][xx][c] + bn;
                a[y][xx][c] = (float)(sum < 0 ? 0 : sum > 6 ? 6 : sum);
                gap[c] += a[y][xx][c] / 9.0f;
            }
    for (int c = 0; c < 3; c++) embedding[c] = gap[c];
    for (int j = 0; j < 4; j++) {
        double v = 0;
        for (int c = 0; c < 3; c++) v += (double)gap[c] * s->dense_k[c * 4 + j];
        logits[j] = (float)v;
    }
}

static void test_synthetic(wt_context* ctx) {
    static synth s;
    make_synth(&s);
    char json[8192];
    int jl = snprintf(json, sizeof json, synth_json_fmt, "Activation");
    if (jl <= 0 || jl >= (int)sizeof json) {
        fprintf(stderr, "test: synthetic json too long\n");
        exit(2);
    }
    /* tensors straddle the two shards of group 1; listed out of order, plus an unrelated file */
    wt_weight_file files[4] = {
        { "sub/shard_c", s.g2, sizeof s.g2 },
        { "unrelated.bin", s.g1, 5 },
        { "shard_b", s.g1 + 201, sizeof s.g1 - 201 },
        { "shard_a", s.g1, 201 },
    };
    char* paths = NULL;
    int count = 0;
    wt_status st = wt_tfjs_weight_paths(json, (size_t)jl, &paths, &count);
    CHECK(st == WT_OK && count == 3 && paths && strcmp(paths, "shard_a\nshard_b\nsub/shard_c\n") == 0,
          "synthetic paths: %s (%s)", paths ? paths : "NULL", wt_last_error());
    wt_tfjs_paths_free(paths);

    wt_net* net;
    wt_import_info info;
    wt_import_options whole = { .cut_layer = "" };
    st = import(ctx, json, (size_t)jl, files, 4, &whole, &net, &info);
    CHECK(st == WT_OK, "synthetic: %s", wt_last_error());
    if (st) return;
    CHECK(info.n_weights == 9 && info.n_outputs == 4 && info.output_softmax == 1 && info.embedding_dim == 3,
          "synthetic info: %d tensors, %d outputs, softmax %d, embedding %d", info.n_weights, info.n_outputs,
          info.output_softmax, info.embedding_dim);
    CHECK(info.n_layers == 8, "synthetic: %d layers imported", info.n_layers);
    /* dequantized values exactly as expected */
    struct { const char* name; const float* want; size_t n; } params[] = {
        { "conv/weight", s.conv_k, 54 }, { "conv/bias", s.conv_b, 3 },   { "dw/weight", s.dw_k, 27 },
        { "dw/bias", s.dw_b, 3 },        { "bn/gamma", s.gamma, 3 },     { "bn/beta", s.beta, 3 },
        { "bn/moving_mean", s.mean, 3 }, { "bn/moving_variance", s.var, 3 }, { "dense/weight", s.dense_k, 12 },
    };
    int n_params = wt_net_param_count(net);
    CHECK(n_params == 9, "synthetic: %d params", n_params);
    for (size_t k = 0; k < sizeof params / sizeof *params; k++) {
        int found = 0;
        for (int i = 0; i < n_params; i++) {
            wt_param_info pi;
            wt_net_param_info(net, i, &pi);
            if (strcmp(pi.name, params[k].name) != 0) continue;
            found = 1;
            float v[64];
            CHECK(pi.count == params[k].n, "%s: %zu floats", pi.name, pi.count);
            wt_net_param_read(net, i, v, pi.count);
            CHECK(wt_bit_equal(v, params[k].want, params[k].n), "%s: values differ from the dequantized ones", pi.name);
        }
        CHECK(found, "synthetic: no parameter %s", params[k].name);
    }
    int relu;
    CHECK(wt_net_find_node(net, "conv/relu", &relu) == WT_OK, "synthetic: conv relu node");
    /* forward vs plain loops */
    wt_rng r = { 11 };
    float x[2 * 72], y[8], want[4], emb_want[3], emb[6];
    wt_rng_fill(&r, x, 144, -1.0f, 1.0f);
    st = wt_net_plan(net, 2);
    if (!st) st = wt_net_forward(net, x, 2, 0);
    if (!st) st = wt_net_read_output(net, info.logits_node, y, 8);
    if (!st) st = wt_net_read_output(net, info.embedding_node, emb, 6);
    CHECK(st == WT_OK, "synthetic forward: %s", wt_last_error());
    for (int b = 0; b < 2 && !st; b++) {
        synth_reference(&s, x + 72 * b, want, emb_want);
        double e = wt_max_rel_err(y + 4 * b, want, 4, 1e-3);
        CHECK(e < 1e-4, "synthetic logits differ from the reference (image %d, rel err %g: %g %g %g %g vs %g %g %g %g)", b,
              e, y[4 * b], y[4 * b + 1], y[4 * b + 2], y[4 * b + 3], want[0], want[1], want[2], want[3]);
        e = wt_max_rel_err(emb + 3 * b, emb_want, 3, 1e-3);
        CHECK(e < 1e-4, "synthetic embedding differs from the reference (image %d, rel err %g)", b, e);
    }
    wt_net_destroy(net);

    /* cuts: at the Add (pooling appended), at the activation (the model's pooling), no pooling */
    wt_import_options cut = { .cut_layer = "add" };
    st = import(ctx, json, (size_t)jl, files, 4, &cut, &net, &info);
    CHECK(st == WT_OK && info.embedding_dim == 3 && info.n_weights == 8, "synthetic cut at add: %s", wt_last_error());
    if (!st) {
        int pool;
        CHECK(wt_net_find_node(net, "embedding_pool", &pool) == WT_OK && pool == info.output_node, "cut at add: pool");
        wt_net_destroy(net);
    }
    cut.cut_layer = "act";
    st = import(ctx, json, (size_t)jl, files, 4, &cut, &net, &info);
    CHECK(st == WT_OK, "synthetic cut at act: %s", wt_last_error());
    if (!st) {
        int gap;
        CHECK(wt_net_find_node(net, "gap", &gap) == WT_OK && gap == info.output_node, "cut at act: gap");
        wt_net_destroy(net);
    }
    cut.no_pooling = 1;
    st = import(ctx, json, (size_t)jl, files, 4, &cut, &net, &info);
    CHECK(st == WT_OK, "synthetic cut at act, no pooling: %s", wt_last_error());
    if (!st) {
        int h, w, c;
        wt_net_node_shape(net, info.output_node, &h, &w, &c);
        CHECK(h == 3 && w == 3 && c == 3, "no pooling: %dx%dx%d", h, w, c);
        wt_net_destroy(net);
    }

    printf("synthetic error cases:\n");
    expect_error(ctx, "no default cut", json, (size_t)jl, files, 4, NULL, WT_ERR_NOT_FOUND, "cut", NULL);
    jl = snprintf(json, sizeof json, synth_json_fmt, "LeakyReLU");
    expect_error(ctx, "LeakyReLU", json, (size_t)jl, files, 4, &whole, WT_ERR_UNSUPPORTED, "'act'", "LeakyReLU");
    jl = snprintf(json, sizeof json, synth_json_fmt, "Activation");
    size_t len;
    char* j = replace_first(json, (size_t)jl, NULL, "\"uint8\", \"scale\": 0.01, \"min\": -1", "\"int4\", \"scale\": 0.01, \"min\": -1", &len);
    expect_error(ctx, "unknown quantization", j, len, files, 4, &whole, WT_ERR_CORRUPT, "dw/bias", "int4");
    free(j);
    j = replace_first(json, (size_t)jl, NULL, "\"outer/synth/bn/gamma\"", "\"other/bn/gamma\", \"shape\": [0], \"dtype\": \"float32\"}, {\"name\": \"bn/gamma\"", &len);
    /* two tensors named bn/gamma, neither in scope 'synth': ambiguous */
    expect_error(ctx, "ambiguous tensor", j, len, files, 4, &whole, WT_ERR_CORRUPT, "bn", "gamma");
    free(j);
    wt_weight_file short_files[4];
    memcpy(short_files, files, sizeof files);
    short_files[2].len -= 1; /* shard_b */
    expect_error(ctx, "short second shard", json, (size_t)jl, short_files, 4, &whole, WT_ERR_CORRUPT, "shard_a",
                 "truncated");
    j = replace_first(json, (size_t)jl, NULL, "[null, 6, 6, 2]", "[null, null, null, 2]", &len);
    expect_error(ctx, "open input size", j, len, files, 4, &whole, WT_ERR_SHAPE, "in_h", NULL);
    wt_import_options sized = { .cut_layer = "", .in_h = 6, .in_w = 6 };
    st = import(ctx, j, len, files, 4, &sized, &net, &info);
    CHECK(st == WT_OK && info.in_h == 6, "open input size with in_h/in_w: %s", wt_last_error());
    if (!st) wt_net_destroy(net);
    free(j);
    /* invalid arguments */
    CHECK(wt_import_tfjs(NULL, json, (size_t)jl, files, 4, NULL, &net, NULL) == WT_ERR_INVALID_ARGUMENT && !net,
          "NULL ctx");
    CHECK(wt_import_tfjs(ctx, json, (size_t)jl, files, 4, NULL, NULL, NULL) == WT_ERR_INVALID_ARGUMENT, "NULL out");
    CHECK(wt_import_tfjs(ctx, json, (size_t)jl, files, -1, NULL, &net, NULL) == WT_ERR_INVALID_ARGUMENT, "n_files -1");
    CHECK(wt_import_tfjs(ctx, NULL, 10, files, 4, NULL, &net, NULL) == WT_ERR_INVALID_ARGUMENT, "NULL json");
}

/* ------------------------------------------------------------------------------------------- */
/* JSON parser                                                                                  */
/* ------------------------------------------------------------------------------------------- */

static wt_status parse(const char* s, size_t n, wt_json_doc** d) {
    wt_clear_error();
    return wt_json_parse(s, n, NULL, d);
}

static void test_json(void) {
    wt_json_doc* d;
    const char* ok = " {\"a\": [1, -2.5e2, 0, true, false, null], \"s\": \"x\\n\\u00e9\\ud83d\\ude00\\/\", \"a\": {}} ";
    wt_status st = parse(ok, strlen(ok), &d);
    CHECK(st == WT_OK, "json: %s", wt_last_error());
    if (!st) {
        const wt_json* r = wt_json_root(d);
        CHECK(r->type == WT_JSON_OBJECT && r->count == 3, "json: root");
        CHECK(wt_json_is(wt_json_get(r, "a"), WT_JSON_OBJECT), "json: duplicate keys: the last one wins");
        const wt_json* arr = r->first;
        long long i;
        double x;
        CHECK(arr && arr->count == 6 && wt_json_int(wt_json_at(arr, 0), 0, 5, &i) && i == 1, "json: array");
        CHECK(wt_json_num(wt_json_at(arr, 1), &x) && x == -250.0 && wt_json_int(wt_json_at(arr, 1), -1000, 1000, &i) &&
                  i == -250 && !wt_json_int(wt_json_at(arr, 1), -100, 100, &i), "json: -2.5e2");
        CHECK(wt_json_at(arr, 3)->boolean == 1 && wt_json_at(arr, 4)->boolean == 0 &&
                  wt_json_at(arr, 5)->type == WT_JSON_NULL && wt_json_at(arr, 6) == NULL, "json: literals");
        const char* s = wt_json_str(wt_json_get(r, "s"));
        CHECK(s && strcmp(s, "x\n\xC3\xA9\xF0\x9F\x98\x80/") == 0 && wt_json_get(r, "s")->str_len == 9,
              "json: string escapes");
        CHECK(wt_json_get(r, "s")->offset == 47, "json: offset %zu", wt_json_get(r, "s")->offset);
        wt_json_free(d);
    }
    st = parse("[0.5, 3e9]", 10, &d);
    if (!st) {
        long long i;
        const wt_json* r = wt_json_root(d);
        CHECK(!wt_json_int(r->first, -10, 10, &i) && wt_json_int(r->first->next, 0, 4000000000LL, &i) && i == 3000000000LL,
              "json: wt_json_int");
        CHECK(wt_json_get(r, "a") == NULL && wt_json_at(r, 2) == NULL && wt_json_str(r) == NULL, "json: accessors");
        wt_json_free(d);
    }
    struct { const char* text; wt_status want; const char* needle; } bad[] = {
        { "", WT_ERR_CORRUPT, "byte 0" },
        { "   ", WT_ERR_CORRUPT, "empty" },
        { "[1,]", WT_ERR_CORRUPT, "byte 3" },
        { "[1 2]", WT_ERR_CORRUPT, "byte 3" },
        { "{\"a\" 1}", WT_ERR_CORRUPT, "':'" },
        { "{\"a\":1,}", WT_ERR_CORRUPT, "key" },
        { "{1:2}", WT_ERR_CORRUPT, "key" },
        { "01", WT_ERR_CORRUPT, "byte 1" },
        { "1.", WT_ERR_CORRUPT, "number" },
        { "-", WT_ERR_CORRUPT, "number" },
        { "+1", WT_ERR_CORRUPT, "byte 0" },
        { ".5", WT_ERR_CORRUPT, "byte 0" },
        { "1e", WT_ERR_CORRUPT, "exponent" },
        { "NaN", WT_ERR_CORRUPT, "byte 0" },
        { "[Infinity]", WT_ERR_CORRUPT, "byte 1" },
        { "1e999", WT_ERR_UNSUPPORTED, "range" },
        { "tru", WT_ERR_CORRUPT, "literal" },
        { "nulll", WT_ERR_CORRUPT, "byte 4" },
        { "\"abc", WT_ERR_CORRUPT, "unterminated" },
        { "\"a\\x\"", WT_ERR_CORRUPT, "escape" },
        { "\"\\u12\"", WT_ERR_CORRUPT, "\\u" },
        { "\"\\ud800\"", WT_ERR_CORRUPT, "surrogate" },
        { "\"\\udc00\"", WT_ERR_CORRUPT, "surrogate" },
        { "\"\\u0000\"", WT_ERR_CORRUPT, "\\u0000" },
        { "\"a\tb\"", WT_ERR_CORRUPT, "control" },
        { "\"\xC3\x28\"", WT_ERR_CORRUPT, "UTF-8" },
        { "\"\xC0\xAF\"", WT_ERR_CORRUPT, "UTF-8" },      /* overlong '/' */
        { "\"\xED\xA0\x80\"", WT_ERR_CORRUPT, "UTF-8" },  /* encoded surrogate */
        { "\"\xF4\x90\x80\x80\"", WT_ERR_CORRUPT, "UTF-8" }, /* above U+10FFFF */
        { "\"\xE2\x82\"", WT_ERR_CORRUPT, "UTF-8" },      /* cut short */
        { "[1] x", WT_ERR_CORRUPT, "after" },
        { "{} {}", WT_ERR_CORRUPT, "after" },
        { "[[[]]", WT_ERR_CORRUPT, "unclosed" },
        { "{\"a\":", WT_ERR_CORRUPT, "missing" },
        { "[\x01]", WT_ERR_CORRUPT, "byte 1" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        d = (wt_json_doc*)1;
        st = parse(bad[k].text, strlen(bad[k].text), &d);
        CHECK(st == bad[k].want && d == NULL, "json '%s': got %s (%s)", bad[k].text, wt_status_name(st), wt_last_error());
        CHECK(strstr(wt_last_error(), bad[k].needle) != NULL, "json '%s': message '%s' lacks '%s'", bad[k].text,
              wt_last_error(), bad[k].needle);
    }
    /* not NUL-terminated: the parser must stop at len */
    st = parse("[1, 2]xyz", 6, &d);
    CHECK(st == WT_OK && wt_json_root(d)->count == 2, "json: length-bounded text: %s", wt_last_error());
    if (!st) wt_json_free(d);
    st = parse("\xEF\xBB\xBF{}", 5, &d);
    CHECK(st == WT_OK, "json: BOM: %s", wt_last_error());
    if (!st) wt_json_free(d);
    /* depth bombs: 100000 '[' and 100000 '{"a":' */
    size_t n = 100000;
    char* bomb = (char*)malloc(6 * n + 1);
    memset(bomb, '[', n);
    st = parse(bomb, n, &d);
    CHECK(st == WT_ERR_UNSUPPORTED && strstr(wt_last_error(), "deeper"), "json: [ bomb: %s", wt_last_error());
    for (size_t i = 0; i < n; i++) memcpy(bomb + 5 * i, "{\"a\":", 5);
    st = parse(bomb, 5 * n, &d);
    CHECK(st == WT_ERR_UNSUPPORTED && strstr(wt_last_error(), "deeper"), "json: { bomb: %s", wt_last_error());
    /* exactly at the depth limit is fine, one more is not */
    wt_json_limits lim = { .max_depth = 10 };
    memset(bomb, '[', 10);
    memset(bomb + 10, ']', 10);
    CHECK(wt_json_parse(bomb, 20, &lim, &d) == WT_OK, "json: depth 10 with limit 10: %s", wt_last_error());
    wt_json_free(d);
    memset(bomb, '[', 11);
    memset(bomb + 11, ']', 11);
    CHECK(wt_json_parse(bomb, 22, &lim, &d) == WT_ERR_UNSUPPORTED, "json: depth 11 with limit 10");
    /* size and value-count limits */
    lim = (wt_json_limits){ .max_bytes = 8 };
    CHECK(wt_json_parse("[1,2,3,4,5]", 11, &lim, &d) == WT_ERR_UNSUPPORTED && d == NULL, "json: size limit");
    lim = (wt_json_limits){ .max_values = 4 };
    CHECK(wt_json_parse("[1,2,3,4,5]", 11, &lim, &d) == WT_ERR_UNSUPPORTED, "json: value limit");
    CHECK(wt_json_parse("[1,2,3]", 7, &lim, &d) == WT_OK, "json: 4 values with limit 4");
    wt_json_free(d);
    /* a long flat array grows the node arena across blocks */
    bomb[0] = '[';
    for (size_t i = 0; i < n - 1; i++) memcpy(bomb + 1 + 2 * i, "0,", 2);
    bomb[2 * n - 2] = ']';
    st = parse(bomb, 2 * n - 1, &d);
    CHECK(st == WT_OK && wt_json_root(d)->count == n - 1, "json: 99999 zeros: %s", wt_last_error());
    if (!st) wt_json_free(d);
    free(bomb);
    CHECK(wt_json_parse("1", 1, NULL, NULL) == WT_ERR_INVALID_ARGUMENT, "json: NULL out");
}

int main(void) {
    printf("test_import: WT_SHARED_DIR=%s\n", wt_test_shared_dir());
    test_json();
    wt_context* ctx = NULL;
    wt_status st = wt_context_create(&(wt_context_desc){ .n_threads = 2, .seed = 1 }, &ctx);
    CHECK(st == WT_OK, "context: %s", wt_last_error());
    if (!st) {
        test_synthetic(ctx);
        test_mobilenet_v1(ctx);
        test_teachable_machine(ctx);
        compare_with_tfjs(ctx, "mobilenet_v1_0.25_224");
        compare_with_tfjs(ctx, "teachable_machine_mobilenet_v2_0.35_224");
        wt_context_destroy(ctx);
    }
    return wt_test_summary();
}
