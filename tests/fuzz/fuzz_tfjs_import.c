/* fuzz_tfjs_import.c: libFuzzer target for wt_tfjs_weight_paths and wt_import_tfjs
 * (src/import_tfjs.c, src/json.c).
 *
 * Input layout (docs/fuzzing.md):
 *   bytes 0..3  u32 little-endian: length L of model.json (clamped to what follows byte 4)
 *   byte  4     options: bit 0 whole model (cut_layer ""), bit 1 no_pooling, bit 2 batch-norm
 *               mode WT_BN_BATCH_STATS, bit 3 input size 16x16 instead of the model's
 *   then        L bytes of model.json, then the rest: one weight shard
 * The shard is passed under every path the manifest lists (at most MAX_FILES of them), so the
 * importer gets past its file lookup; model.json and the shard each sit in a buffer of exactly
 * their size, so ASan sees any read past either.
 *
 * A successful import must describe itself consistently (wt_import_info), must save as a model
 * file that loads again (when it fits the model-file limit of 16384 layers), and, when its input
 * is at most 64x64 and the net is small, must plan at batch 1 and run one forward pass. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "webtune.h"

#define MAX_FILES 1024

static void check_import(wt_net* net, const wt_import_info* info) {
    int n = wt_net_node_count(net);
    FUZZ_CHECK(info->output_node >= 1 && info->output_node < n, "output_node %d of %d nodes", info->output_node, n);
    int h, w, c;
    wt_net_node_shape(net, 0, &h, &w, &c);
    FUZZ_CHECK(h == info->in_h && w == info->in_w && c == info->in_c, "info input %dx%dx%d, net %dx%dx%d", info->in_h,
               info->in_w, info->in_c, h, w, c);
    FUZZ_CHECK(info->embedding_node >= -1 && info->embedding_node < n, "embedding_node %d", info->embedding_node);
    FUZZ_CHECK(info->logits_node >= -1 && info->logits_node < n, "logits_node %d", info->logits_node);
    if (info->embedding_node >= 0) {
        wt_net_node_shape(net, info->embedding_node, NULL, NULL, &c);
        FUZZ_CHECK(c == info->embedding_dim, "embedding_dim %d, node has %d channels", info->embedding_dim, c);
    }

    /* an imported net is a valid model: it saves, and the file loads */
    if (n - 1 <= 16384) {
        uint8_t* bytes = NULL;
        size_t len = 0;
        wt_status st = wt_model_save(net, NULL, 0, &bytes, &len);
        if (st == WT_ERR_OUT_OF_MEMORY) return;
        FUZZ_CHECK(st == WT_OK, "wt_model_save of an imported net: %s", wt_status_name(st));
        wt_net* back = NULL;
        st = wt_model_load(wt_fuzz_context(), bytes, len, &back, NULL);
        FUZZ_CHECK(st == WT_OK, "wt_model_load of a saved imported net: %s", wt_status_name(st));
        FUZZ_CHECK(wt_net_node_count(back) == n, "node count changed through a model file");
        wt_net_destroy(back);
        wt_free_bytes(bytes);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 5) return 0;
    size_t json_len = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
    uint8_t flags = data[4];
    data += 5;
    size -= 5;
    if (json_len > size) json_len = size;
    size_t shard_len = size - json_len;

    char* json = (char*)malloc(json_len ? json_len : 1);
    uint8_t* shard = (uint8_t*)malloc(shard_len ? shard_len : 1);
    wt_weight_file* files = (wt_weight_file*)calloc(MAX_FILES, sizeof *files);
    if (!json || !shard || !files) abort();
    memcpy(json, data, json_len);
    memcpy(shard, data + json_len, shard_len);

    char* paths = NULL;
    int count = -1;
    int n_files = 0;
    wt_status st = wt_tfjs_weight_paths(json, json_len, &paths, &count);
    FUZZ_LOG("wt_tfjs_weight_paths", st);
    if (st == WT_OK) {
        FUZZ_CHECK(paths != NULL && count >= 0, "wt_tfjs_weight_paths succeeded without a result");
        /* "path\n" per entry: turn each '\n' into a terminator */
        int seen = 0;
        for (char* p = paths; *p; seen++) {
            char* nl = strchr(p, '\n');
            FUZZ_CHECK(nl != NULL, "a path without its newline");
            *nl = '\0';
            FUZZ_CHECK(nl > p, "an empty path");
            if (n_files < MAX_FILES) files[n_files++] = (wt_weight_file){ p, shard, shard_len };
            p = nl + 1;
        }
        FUZZ_CHECK(seen == count, "%d paths listed, count says %d", seen, count);
    } else {
        FUZZ_CHECK(paths == NULL, "a failed wt_tfjs_weight_paths left a result behind");
        files[n_files++] = (wt_weight_file){ "group1-shard1of1", shard, shard_len };
    }

    wt_import_options opt = { 0 };
    if (flags & 1) opt.cut_layer = "";
    opt.no_pooling = (flags >> 1) & 1;
    opt.bn_mode = (flags & 4) ? WT_BN_BATCH_STATS : WT_BN_FROZEN;
    if (flags & 8) opt.in_h = opt.in_w = 16;

    wt_net* net = (wt_net*)(uintptr_t)1;
    wt_import_info info;
    st = wt_import_tfjs(wt_fuzz_context(), json, json_len, files, n_files, &opt, &net, &info);
    FUZZ_LOG("wt_import_tfjs", st);
    if (st != WT_OK) {
        FUZZ_CHECK(net == NULL, "a failed import left a net behind");
        FUZZ_CHECK(st == WT_ERR_CORRUPT || st == WT_ERR_UNSUPPORTED || st == WT_ERR_NOT_FOUND || st == WT_ERR_SHAPE ||
                       st == WT_ERR_OUT_OF_MEMORY,
                   "unexpected status %s", wt_status_name(st));
    } else {
        FUZZ_CHECK(net != NULL, "a successful import returned NULL");
        check_import(net, &info);
        if ((uint64_t)info.in_h * (uint64_t)info.in_w <= 64 * 64) wt_fuzz_plan_and_forward(net);
        wt_net_destroy(net);
    }

    wt_tfjs_paths_free(paths);
    free(files);
    free(shard);
    free(json);
    return 0;
}
