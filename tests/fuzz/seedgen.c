/* seedgen.c: writes the seed corpora of the fuzz targets (scripts/fuzz.sh runs it; nothing it
 * writes is committed).
 *
 *   seedgen <out_dir> <shared_dir> <templates_dir>
 *
 * <out_dir>/model_file/   small webtune model files of tiny nets built with the C API (every layer
 *                         type, labels, preprocessing, backbone hash, fp16 weights, frozen layers)
 * <out_dir>/tfjs_import/  fuzz_tfjs_import inputs (u32 json length, option byte, model.json, one
 *                         shard): each template <templates_dir>/NAME.json with a shard generated from
 *                         its manifest, and the real backbones' model.json from <shared_dir> with
 *                         their first shard (cut to 32 KiB)
 * Image seeds are made by scripts/fuzz.sh (ImageMagick and the flower photos). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "webtune.h"

#define CHECK(call)                                                                                 \
    do {                                                                                            \
        wt_status st_ = (call);                                                                     \
        if (st_ != WT_OK) {                                                                         \
            fprintf(stderr, "seedgen: %s failed: %s\n", #call, wt_last_error());                    \
            exit(1);                                                                                \
        }                                                                                           \
    } while (0)

static void write_file(const char* dir, const char* name, const void* a, size_t an, const void* b, size_t bn) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* f = fopen(path, "wb");
    if (!f || (an && fwrite(a, 1, an, f) != an) || (bn && fwrite(b, 1, bn, f) != bn) || fclose(f) != 0) {
        fprintf(stderr, "seedgen: cannot write %s\n", path);
        exit(1);
    }
}

static uint8_t* read_file(const char* path, size_t max, size_t* len) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t* buf = (uint8_t*)malloc(max ? max : 1);
    size_t n = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    *len = n;
    return buf;
}

/* ------------------------------------------------------------------------------------------- */
/* model files                                                                                   */

static int add(wt_net* net, wt_layer_desc d) {
    int id;
    CHECK(wt_net_add(net, &d, &id));
    return id;
}

static void save(wt_net* net, const wt_model_meta* meta, int fp16, const char* dir, const char* name) {
    uint8_t* bytes;
    size_t len;
    CHECK(wt_model_save(net, meta, fp16, &bytes, &len));
    write_file(dir, name, bytes, len, NULL, 0);
    wt_free_bytes(bytes);
}

static void model_seeds(wt_context* ctx, const char* dir) {
    /* a small MobileNet-like classifier with every parameterised layer type */
    wt_net* net;
    CHECK(wt_net_create(ctx, 8, 8, 3, &net));
    int x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "conv1", .out_channels = 4, .stride = 2,
                                      .use_bias = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .name = "conv1_bn", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .name = "conv1_relu", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DEPTHWISE, .name = "dw", .input = x, .padding = WT_PAD_EXPLICIT,
                                  .pad_top = 1, .pad_bottom = 1, .pad_left = 1, .pad_right = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .name = "dw_bn", .input = x,
                                  .bn_mode = WT_BN_BATCH_STATS });
    int r = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU, .name = "dw_relu", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "pw", .input = r, .out_channels = 4, .kernel_h = 1,
                                  .kernel_w = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_ADD, .name = "add", .input = x, .input2 = r });
    int emb = add(net, (wt_layer_desc){ .type = WT_LAYER_GLOBAL_AVG_POOL, .name = "gap", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DROPOUT, .name = "drop", .input = emb, .dropout_rate = 0.25f });
    int logits = add(net, (wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "logits", .input = x, .out_channels = 3,
                                           .use_bias = 1 });
    CHECK(wt_net_set_trainable(net, 1, 0));
    CHECK(wt_net_set_lr_scale(net, logits, 0.5f));
    static const char* const labels[] = { "daisy", "rose", "tulip \xc3\xa9" };
    wt_model_meta meta = { .n_labels = 3, .labels = labels, .embedding_node = emb, .logits_node = logits,
                           .output_softmax = 1 };
    meta.preprocess = (wt_preprocess){ .out_h = 8, .out_w = 8, .filter = WT_RESIZE_AREA };
    snprintf(meta.backbone_name, sizeof meta.backbone_name, "mobilenet_v2_0.35_224");
    for (int i = 0; i < 32; i++) meta.backbone_sha256[i] = (uint8_t)(i * 7 + 1);
    save(net, &meta, 0, dir, "classifier.wtm");
    save(net, &meta, 1, dir, "classifier_fp16.wtm");
    save(net, NULL, 0, dir, "classifier_nometa.wtm");
    wt_net_destroy(net);

    /* gradient reversal, valid padding, a dense layer over a feature map */
    CHECK(wt_net_create(ctx, 4, 4, 2, &net));
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "c", .out_channels = 2, .kernel_h = 2,
                                  .kernel_w = 3, .padding = WT_PAD_VALID });
    int g = add(net, (wt_layer_desc){ .type = WT_LAYER_GRAD_REVERSAL, .name = "grl", .input = x, .grl_lambda = 0.3f });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_ADD, .name = "sum", .input = x, .input2 = g });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "d", .input = x, .out_channels = 2 });
    save(net, NULL, 0, dir, "grl.wtm");
    wt_net_destroy(net);

    /* no layers at all */
    CHECK(wt_net_create(ctx, 2, 2, 1, &net));
    save(net, NULL, 0, dir, "empty.wtm");
    wt_net_destroy(net);
}

/* ------------------------------------------------------------------------------------------- */
/* tfjs inputs                                                                                   */

static void write_tfjs(const char* dir, const char* name, uint8_t flags, const void* json, size_t json_len,
                       const void* shard, size_t shard_len) {
    size_t n = 5 + json_len;
    uint8_t* head = (uint8_t*)malloc(n);
    head[0] = (uint8_t)json_len;
    head[1] = (uint8_t)(json_len >> 8);
    head[2] = (uint8_t)(json_len >> 16);
    head[3] = (uint8_t)(json_len >> 24);
    head[4] = flags;
    memcpy(head + 5, json, json_len);
    write_file(dir, name, head, n, shard, shard_len);
    free(head);
}

static void put_f32(uint8_t* p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(u >> (8 * i));
}

/* The shard of the first manifest group: plausible values for every tensor, in its storage. */
static uint8_t* make_shard(const char* json, size_t len, size_t* out_len) {
    wt_json_doc* doc;
    CHECK(wt_json_parse(json, len, NULL, &doc));
    const wt_json* ws = wt_json_get(wt_json_at(wt_json_get(wt_json_root(doc), "weightsManifest"), 0), "weights");
    size_t cap = 1 << 16, n = 0;
    uint8_t* buf = (uint8_t*)calloc(cap, 1);
    for (const wt_json* w = ws ? ws->first : NULL; w; w = w->next) {
        const char* name = wt_json_str(wt_json_get(w, "name"));
        const char* dtype = wt_json_str(wt_json_get(w, "dtype"));
        const char* q = wt_json_str(wt_json_get(wt_json_get(w, "quantization"), "dtype"));
        size_t count = 1;
        for (const wt_json* d = wt_json_get(w, "shape")->first; d; d = d->next) count *= (size_t)d->number;
        int positive = strstr(name, "variance") || strstr(name, "gamma");
        size_t elem = q ? (strcmp(q, "uint8") == 0 ? 1 : 2) : (strcmp(dtype, "bool") == 0 ? 1 : 4);
        if (n + count * elem > cap) {
            fprintf(stderr, "seedgen: template manifest too large\n");
            exit(1);
        }
        for (size_t i = 0; i < count; i++, n += elem) {
            if (!q && strcmp(dtype, "float32") == 0) put_f32(buf + n, positive ? 1.0f + 0.125f * (float)(i % 3)
                                                                               : 0.0625f * (float)((int)(i % 9) - 4));
            else if (q && strcmp(q, "float16") == 0) { buf[n] = 0x00; buf[n + 1] = (uint8_t)((i & 1) ? 0x34 : 0xb4); }
            else for (size_t k = 0; k < elem; k++) buf[n + k] = (uint8_t)(i * 37 + k);
        }
    }
    wt_json_free(doc);
    *out_len = n;
    return buf;
}

static void tfjs_seeds(const char* dir, const char* shared, const char* templates) {
    DIR* d = opendir(templates);
    if (!d) {
        fprintf(stderr, "seedgen: no templates in %s\n", templates);
        exit(1);
    }
    struct dirent* e;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        if (nl < 6 || strcmp(e->d_name + nl - 5, ".json") != 0) continue;
        char path[4096], name[512];
        snprintf(path, sizeof path, "%s/%s", templates, e->d_name);
        size_t jl, sl;
        uint8_t* json = read_file(path, 1 << 20, &jl);
        if (!json) continue;
        uint8_t* shard = make_shard((const char*)json, jl, &sl);
        static const uint8_t flag_sets[] = { 0, 1, 2, 5, 8 };
        for (size_t k = 0; k < sizeof flag_sets; k++) {
            snprintf(name, sizeof name, "%.*s_f%u.bin", (int)(nl - 5), e->d_name, flag_sets[k]);
            write_tfjs(dir, name, flag_sets[k], json, jl, shard, sl);
        }
        free(shard);
        free(json);
    }
    closedir(d);

    static const char* const real[][3] = {
        { "mobilenet_v1_0.25_224", "group1-shard1of1", "mobilenet_v1" },
        { "teachable_machine_mobilenet_v2_0.35_224", "weights.bin", "teachable_machine" },
    };
    for (size_t k = 0; k < sizeof real / sizeof real[0]; k++) {
        char path[4096], name[512];
        size_t jl, sl;
        snprintf(path, sizeof path, "%s/backbones/%s/model.json", shared, real[k][0]);
        uint8_t* json = read_file(path, 1 << 20, &jl);
        snprintf(path, sizeof path, "%s/backbones/%s/%s", shared, real[k][0], real[k][1]);
        uint8_t* shard = read_file(path, 32 << 10, &sl);
        if (!json || !shard) {
            fprintf(stderr, "seedgen: %s not found under %s (skipped)\n", real[k][0], shared);
        } else {
            snprintf(name, sizeof name, "%s_f0.bin", real[k][2]);
            write_tfjs(dir, name, 0, json, jl, shard, sl);
            snprintf(name, sizeof name, "%s_f1.bin", real[k][2]);
            write_tfjs(dir, name, 1, json, jl, shard, sl);
        }
        free(json);
        free(shard);
    }
}

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: seedgen <out_dir> <shared_dir> <templates_dir>\n");
        return 2;
    }
    char dir[4096];
    wt_context* ctx;
    CHECK(wt_context_create(NULL, &ctx));
    snprintf(dir, sizeof dir, "%s/model_file", argv[1]);
    model_seeds(ctx, dir);
    snprintf(dir, sizeof dir, "%s/tfjs_import", argv[1]);
    tfjs_seeds(dir, argv[2], argv[3]);
    wt_context_destroy(ctx);
    return 0;
}
