/* fuzz_model_file.c: libFuzzer target for wt_model_load (src/model_file.c, src/sha256.c).
 *
 * Each input is loaded twice:
 *   1. as it is, which exercises the envelope checks (magic, version, length, SHA-256 trailer);
 *   2. if it starts with the magic and holds a header and a trailer, with its length field set to
 *      its size and its trailer recomputed, so that mutations get past the checksum and reach the
 *      section, graph and parameter parsers.
 * A load that succeeds must give a net and meta that wt_model_save accepts; the saved file must
 * load again and save to the same bytes (a round trip is a fixed point after one step); and a
 * small net must plan at batch 1 and run one forward pass over zeros. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sha256.h"
#include "webtune.h"

static const uint8_t MAGIC[8] = { 'W', 'T', 'M', 'O', 'D', 'E', 'L', 0 };

static void load_one(const uint8_t* data, size_t size, int fp16) {
    wt_context* ctx = wt_fuzz_context();
    wt_net* net = (wt_net*)(uintptr_t)1;
    wt_model_meta* meta = (wt_model_meta*)(uintptr_t)1;
    wt_status st = wt_model_load(ctx, data, size, &net, &meta);
    FUZZ_LOG("wt_model_load", st);
    if (st != WT_OK) {
        FUZZ_CHECK(net == NULL && meta == NULL, "a failed load left a result behind");
        FUZZ_CHECK(st == WT_ERR_CORRUPT || st == WT_ERR_UNSUPPORTED || st == WT_ERR_OUT_OF_MEMORY,
                   "unexpected status %s for bad bytes", wt_status_name(st));
        return;
    }
    FUZZ_CHECK(net && meta, "a successful load returned NULL");

    /* save -> load -> save is the identity on the second step */
    uint8_t* s1 = NULL;
    size_t n1 = 0;
    st = wt_model_save(net, meta, fp16, &s1, &n1);
    FUZZ_CHECK(st == WT_OK, "wt_model_save of a loaded model: %s", wt_status_name(st));
    wt_net* net2 = NULL;
    wt_model_meta* meta2 = NULL;
    st = wt_model_load(ctx, s1, n1, &net2, &meta2);
    FUZZ_CHECK(st == WT_OK, "wt_model_load of a file wt_model_save wrote: %s", wt_status_name(st));
    FUZZ_CHECK(wt_net_node_count(net2) == wt_net_node_count(net), "node count changed in a round trip");
    uint8_t* s2 = NULL;
    size_t n2 = 0;
    st = wt_model_save(net2, meta2, fp16, &s2, &n2);
    FUZZ_CHECK(st == WT_OK, "second wt_model_save: %s", wt_status_name(st));
    FUZZ_CHECK(n1 == n2 && memcmp(s1, s2, n1) == 0, "save(load(save(m))) differs from save(m) (%zu vs %zu bytes)",
               n2, n1);
    wt_free_bytes(s1);
    wt_free_bytes(s2);
    wt_model_meta_free(meta2);
    wt_net_destroy(net2);

    wt_fuzz_plan_and_forward(net);
    wt_model_meta_free(meta);
    wt_net_destroy(net);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    int fp16 = size > 0 && (data[size - 1] & 1);
    load_one(data, size, fp16);

    if (size >= 24 + 32 && memcmp(data, MAGIC, sizeof MAGIC) == 0) {
        uint8_t* fixed = (uint8_t*)malloc(size);
        if (!fixed) return 0;
        memcpy(fixed, data, size);
        uint64_t total = (uint64_t)size;
        for (int i = 0; i < 8; i++) fixed[16 + i] = (uint8_t)(total >> (8 * i));
        wt_sha256(fixed, size - 32, fixed + size - 32);
        load_one(fixed, size, fp16);
        free(fixed);
    }
    return 0;
}
