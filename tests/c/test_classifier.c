/* test_classifier.c: datasets, the classifier head and the trainer's strategies on a small
 * MobileNet-shaped net with Keras-style layer names, on synthetic images whose class is a colour
 * (a task a few steps learn). Checks that each strategy learns, that exactly the layers it
 * should train change (the others stay bit-identical, batch-norm statistics included), the
 * stratified split, memory budgets, errors and seeded repeatability. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "webtune.h"
#include "wt_test.h"

#define S 16
#define CLASSES 3
#define PER_CLASS 20

static int add(wt_net* net, wt_layer_desc d) {
    int id = -1;
    CHECK(wt_net_add(net, &d, &id) == WT_OK, "wt_net_add %s: %s", d.name ? d.name : "?", wt_last_error());
    return id;
}

/* conv1 -> [block_1: dw, pw, add] -> [block_2: dw/2, pw] -> Conv_1 -> pool; returns the pool node */
static wt_net* backbone(wt_context* ctx, int* embedding) {
    wt_net* net;
    wt_net_create(ctx, S, S, 3, &net);
    int x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "Conv1", .out_channels = 8, .stride = 2 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .name = "bn_Conv1", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .name = "Conv1_relu", .input = x });
    int skip = x;
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DEPTHWISE, .name = "block_1_depthwise", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .name = "block_1_depthwise_BN", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .name = "block_1_depthwise_relu", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "block_1_project", .input = x, .out_channels = 8,
                                  .kernel_h = 1, .kernel_w = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .name = "block_1_project_BN", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_ADD, .name = "block_1_add", .input = x, .input2 = skip });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DEPTHWISE, .name = "block_2_depthwise", .input = x, .stride = 2 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .name = "block_2_depthwise_BN", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .name = "block_2_depthwise_relu", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "block_2_project", .input = x, .out_channels = 16,
                                  .kernel_h = 1, .kernel_w = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .name = "block_2_project_BN", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "Conv_1", .input = x, .out_channels = 16,
                                  .kernel_h = 1, .kernel_w = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .name = "Conv_1_bn", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .name = "out_relu", .input = x });
    *embedding = add(net, (wt_layer_desc){ .type = WT_LAYER_GLOBAL_AVG_POOL, .name = "pool", .input = x });
    /* non-trivial moving statistics, so "unchanged" is a real check */
    for (int i = 0; i < wt_net_param_count(net); i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        if (info.kind == WT_PARAM_MOVING_MEAN || info.kind == WT_PARAM_MOVING_VARIANCE) {
            float* v = malloc(info.count * sizeof(float));
            for (size_t k = 0; k < info.count; k++)
                v[k] = info.kind == WT_PARAM_MOVING_MEAN ? 0.05f * (float)(k % 5) : 1.0f + 0.1f * (float)(k % 3);
            wt_net_param_write(net, i, v, info.count);
            free(v);
        }
    }
    return net;
}

/* class c: the image's dominant colour channel is c, plus deterministic noise */
static void make_example(int c, int n, uint8_t* px) {
    uint32_t h = 2166136261u ^ (uint32_t)(c * 7919 + n * 104729);
    for (int i = 0; i < S * S; i++) {
        for (int ch = 0; ch < 3; ch++) {
            h = h * 16777619u + 12345u;
            int base = ch == c ? 180 : 60;
            px[i * 3 + ch] = (uint8_t)(base + (int)(h >> 26) - 32);
        }
    }
}

static wt_dataset* make_dataset(void) {
    wt_dataset* ds;
    CHECK(wt_dataset_create(S, S, 0, &ds) == WT_OK, "%s", wt_last_error());
    uint8_t px[S * S * 3];
    for (int n = 0; n < PER_CLASS; n++)
        for (int c = 0; c < CLASSES; c++) {
            make_example(c, n, px);
            CHECK(wt_dataset_add(ds, px, sizeof px, c, NULL) == WT_OK, "%s", wt_last_error());
        }
    return ds;
}

typedef struct snapshot {
    int n;
    float** data;
    size_t* count;
    char** name;
} snapshot;

static snapshot take(const wt_net* net) {
    snapshot s = { .n = wt_net_param_count(net) };
    s.data = calloc((size_t)s.n, sizeof(float*));
    s.count = calloc((size_t)s.n, sizeof(size_t));
    s.name = calloc((size_t)s.n, sizeof(char*));
    for (int i = 0; i < s.n; i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        s.count[i] = info.count;
        s.name[i] = strdup(info.name);
        s.data[i] = malloc(info.count * sizeof(float));
        wt_net_param_read(net, i, s.data[i], info.count);
    }
    return s;
}

static void drop(snapshot* s) {
    for (int i = 0; i < s->n; i++) {
        free(s->data[i]);
        free(s->name[i]);
    }
    free(s->data);
    free(s->count);
    free(s->name);
}

/* 1 if parameter i of net equals the snapshot bit for bit */
static int same(const wt_net* net, const snapshot* s, int i) {
    float* now = malloc(s->count[i] * sizeof(float));
    wt_net_param_read(net, i, now, s->count[i]);
    int eq = memcmp(now, s->data[i], s->count[i] * sizeof(float)) == 0;
    free(now);
    return eq;
}

static float run(wt_net* net, int emb, int logits, wt_dataset* ds, wt_train_desc d, wt_train_progress* last) {
    wt_trainer* tr;
    wt_status st = wt_trainer_create(net, emb, logits, ds, &d, &tr);
    CHECK(st == WT_OK, "trainer_create: %s", wt_last_error());
    if (st) return -1.0f;
    wt_train_progress p = { 0 };
    int calls = 0, cache_calls = 0, epochs_seen = 0, after = 0;
    float first_val = -2.0f;
    while (p.phase != WT_PHASE_DONE && calls < 100000) {
        st = wt_trainer_step(tr, &p);
        CHECK(st == WT_OK, "trainer_step: %s", wt_last_error());
        if (st) break;
        calls++;
        if (p.phase == WT_PHASE_CACHE) cache_calls++;
        /* AdaBN on target images runs after the last epoch: its last pass reports DONE */
        if (p.phase == WT_PHASE_CACHE && epochs_seen > 0) after = 1;
        if (p.phase == WT_PHASE_EPOCH || (p.phase == WT_PHASE_DONE && !after)) {
            if (first_val < -1.5f) first_val = p.val_accuracy;
            epochs_seen++;
        }
    }
    CHECK(p.phase == WT_PHASE_DONE, "training did not finish");
    CHECK(epochs_seen == d.epochs || d.early_stopping > 0, "saw %d epoch ends, not %d", epochs_seen, d.epochs);
    if (d.strategy == WT_STRATEGY_HEAD) CHECK(cache_calls > 0, "head strategy computed no cache");
    else CHECK(cache_calls == 0 || d.adabn, "only the head strategy and AdaBN cache");
    /* a finished trainer keeps reporting DONE */
    wt_train_progress again;
    CHECK(wt_trainer_step(tr, &again) == WT_OK && again.phase == WT_PHASE_DONE, "step after done");
    wt_trainer_destroy(tr);
    *last = p;
    return p.val_accuracy;
}

static int node_of_param(const wt_net* net, int i) {
    wt_param_info info;
    wt_net_param_info(net, i, &info);
    return info.node;
}

/* Which parameters may change under each strategy; returns 1 if parameter i is allowed to. */
typedef int (*may_change_fn)(const char* name);
static int only_head(const char* n) { return strncmp(n, "head/", 5) == 0; }
static int top1(const char* n) { return only_head(n) || strncmp(n, "Conv_1", 6) == 0; }
static int top2(const char* n) { return top1(n) || strncmp(n, "block_2", 7) == 0; }
static int bn_only(const char* n) {
    return only_head(n) || ((strstr(n, "_BN/") || strstr(n, "_bn/") || strncmp(n, "bn_", 3) == 0) &&
                            (strstr(n, "/gamma") || strstr(n, "/beta")));
}
static int anything(const char* n) { return !strstr(n, "moving"); }

static float run(wt_net* net, int emb, int logits, wt_dataset* ds, wt_train_desc d, wt_train_progress* last);

/* The backbone "pretrained" on the task (full training with batch statistics), then cut at the
 * embedding and given a fresh head: transfer learning in miniature, with meaningful features and
 * moving statistics for the frozen layers to keep. */
static wt_net* pretrained(wt_context* ctx, wt_dataset* ds, int* emb, int* logits) {
    wt_net* net = backbone(ctx, emb);
    CHECK(wt_net_add_classifier_head(net, *emb, CLASSES, 0.0f, 0, 0, logits) == WT_OK, "%s", wt_last_error());
    wt_train_progress p;
    run(net, *emb, *logits, ds, (wt_train_desc){ .strategy = WT_STRATEGY_FULL, .bn_batch_stats = 1, .epochs = 10,
                                                 .batch_size = 8, .learning_rate = 0.01f, .backbone_lr_scale = 1.0f,
                                                 .seed = 99 }, &p);
    CHECK(wt_net_truncate(net, *emb) == WT_OK, "%s", wt_last_error());
    CHECK(wt_net_add_classifier_head(net, *emb, CLASSES, 0.1f, 0, 0, logits) == WT_OK, "%s", wt_last_error());
    return net;
}

static void strategy_case(const char* label, wt_train_desc d, may_change_fn may_change, int must_change_first_conv) {
    wt_context* ctx;
    wt_context_create(&(wt_context_desc){ .n_threads = 2, .seed = 3 }, &ctx);
    int emb, logits;
    wt_dataset* ds = make_dataset();
    wt_net* net = pretrained(ctx, ds, &emb, &logits);
    snapshot before = take(net);

    /* accuracy of the untrained head on the same validation split: one epoch at a tiny lr */
    wt_train_progress p;
    wt_train_desc d0 = d;
    d0.epochs = 1;
    d0.learning_rate = 1e-9f;
    d0.early_stopping = 0;
    run(net, emb, logits, ds, d0, &p);
    float untrained = p.val_accuracy;
    for (int i = 0; i < before.n; i++) wt_net_param_write(net, i, before.data[i], before.count[i]);

    float val = run(net, emb, logits, ds, d, &p);
    printf("  %-10s val accuracy %.3f (untrained %.3f), train loss %.3f, n_train %d n_val %d\n", label, val,
           untrained, p.epoch_loss, p.n_train, p.n_val);
    CHECK(p.n_val == CLASSES * 4 && p.n_train == CLASSES * 16, "%s: stratified 20%% split: %d/%d", label, p.n_train,
          p.n_val);
    CHECK(val >= 0.9f && val > untrained, "%s: val accuracy %.3f (untrained %.3f)", label, val, untrained);
    int changed_first = 0;
    for (int i = 0; i < before.n; i++) {
        int eq = same(net, &before, i);
        const char* n = before.name[i];
        if (!may_change(n)) CHECK(eq, "%s: %s changed but is frozen", label, n);
        if (only_head(n)) CHECK(!eq, "%s: head parameter %s did not change", label, n);
        if (strcmp(n, "Conv1/weight") == 0) changed_first = !eq;
        (void)node_of_param;
    }
    CHECK(changed_first == must_change_first_conv, "%s: Conv1 changed = %d", label, changed_first);

    /* predictions: probabilities that sum to 1 and mostly right */
    wt_net_plan(net, 8);
    uint8_t px[CLASSES * S * S * 3];
    for (int c = 0; c < CLASSES; c++) make_example(c, 99, px + (size_t)c * S * S * 3);
    float probs[CLASSES * CLASSES];
    CHECK(wt_net_predict_u8(net, logits, NULL, px, CLASSES, probs, CLASSES * CLASSES) == WT_OK, "%s",
          wt_last_error());
    int right = 0;
    for (int c = 0; c < CLASSES; c++) {
        float sum = 0.0f;
        int best = 0;
        for (int k = 0; k < CLASSES; k++) {
            sum += probs[c * CLASSES + k];
            if (probs[c * CLASSES + k] > probs[c * CLASSES + best]) best = k;
        }
        CHECK(fabsf(sum - 1.0f) < 1e-5f, "probabilities sum to %g", sum);
        right += best == c;
    }
    CHECK(right >= 2, "%s: %d of %d fresh examples right", label, right, CLASSES);
    drop(&before);
    wt_dataset_destroy(ds);
    wt_net_destroy(net);
    wt_context_destroy(ctx);
}

static void test_strategies(void) {
    wt_train_desc base = { .epochs = 10, .batch_size = 8, .learning_rate = 0.01f, .validation_split = 0.2f, .seed = 7 };
    wt_train_desc d = base;
    strategy_case("head", d, only_head, 0);
    d = base;
    d.cache_views = 3;
    d.augment = (wt_augment){ .flip = 1, .brightness = 0.1f };
    strategy_case("head+aug", d, only_head, 0);
    d = base;
    d.strategy = WT_STRATEGY_TOP;
    d.top_blocks = 1;
    strategy_case("top:1", d, top1, 0);
    d.top_blocks = 2;
    d.bn_batch_stats = 1;
    strategy_case("top:2", d, top2, 0);
    d = base;
    d.strategy = WT_STRATEGY_LAYERS;
    d.layers = "batchnorm";
    strategy_case("layers:bn", d, bn_only, 0);
    d = base;
    d.strategy = WT_STRATEGY_FULL;
    d.augment = (wt_augment){ .flip = 1, .crop_scale_min = 0.8f };
    d.early_stopping = 3;
    strategy_case("full", d, anything, 1);
}

static void test_blocks_and_errors(void) {
    wt_context* ctx;
    wt_context_create(&(wt_context_desc){ .n_threads = 1, .seed = 1 }, &ctx);
    int emb, logits;
    wt_net* net = backbone(ctx, &emb);
    wt_net_add_classifier_head(net, emb, CLASSES, 0.0f, 0, 0, &logits);
    wt_dataset* ds = make_dataset();
    wt_trainer* tr = NULL;
    /* top:2 freezes Conv1 and block_1 and trains block_2 and Conv_1 */
    wt_train_desc d = { .strategy = WT_STRATEGY_TOP, .top_blocks = 2, .epochs = 1 };
    CHECK(wt_trainer_create(net, emb, logits, ds, &d, &tr) == WT_OK, "%s", wt_last_error());
    const char* frozen[] = { "Conv1", "bn_Conv1", "block_1_depthwise", "block_1_project_BN" };
    const char* trains[] = { "block_2_depthwise", "block_2_project_BN", "Conv_1", "Conv_1_bn", "head/dense" };
    for (size_t i = 0; i < sizeof frozen / sizeof *frozen; i++) {
        int node, t;
        wt_net_find_node(net, frozen[i], &node);
        wt_net_node_state(net, node, &t, NULL, NULL);
        CHECK(t == 0, "top:2: %s should be frozen", frozen[i]);
    }
    for (size_t i = 0; i < sizeof trains / sizeof *trains; i++) {
        int node, t;
        float lr;
        wt_net_find_node(net, trains[i], &node);
        wt_net_node_state(net, node, &t, &lr, NULL);
        CHECK(t == 1, "top:2: %s should train", trains[i]);
        CHECK(lr == (strncmp(trains[i], "head", 4) == 0 ? 1.0f : 0.1f), "%s lr scale %g", trains[i], lr);
    }
    wt_trainer_destroy(tr);

    d = (wt_train_desc){ .strategy = WT_STRATEGY_LAYERS, .layers = "nothing_*" };
    CHECK(wt_trainer_create(net, emb, logits, ds, &d, &tr) == WT_ERR_NOT_FOUND && !tr, "unmatched pattern");
    d = (wt_train_desc){ .strategy = WT_STRATEGY_LAYERS, .layers = " block_1_* , Conv_1" };
    CHECK(wt_trainer_create(net, emb, logits, ds, &d, &tr) == WT_OK, "patterns: %s", wt_last_error());
    wt_trainer_destroy(tr);
    d = (wt_train_desc){ .validation_split = 0.95f };
    CHECK(wt_trainer_create(net, emb, logits, ds, &d, &tr) == WT_ERR_INVALID_ARGUMENT, "split 0.95");
    d = (wt_train_desc){ .learning_rate = NAN };
    CHECK(wt_trainer_create(net, emb, logits, ds, &d, &tr) == WT_ERR_INVALID_ARGUMENT, "NaN lr");

    /* a class without examples */
    wt_dataset_remove_label(ds, 1);
    CHECK(wt_dataset_count(ds) == 2 * PER_CLASS, "remove_label left %d", wt_dataset_count(ds));
    int label;
    wt_dataset_get(ds, 1, &label, NULL);
    CHECK(label == 1, "labels above the removed class move down (got %d)", label); /* was class 2 */
    d = (wt_train_desc){ 0 };
    CHECK(wt_trainer_create(net, emb, logits, ds, &d, &tr) == WT_ERR_SHAPE, "empty class: %s", wt_last_error());
    wt_dataset_destroy(ds);

    /* memory budget: room for exactly 3 examples */
    CHECK(wt_dataset_create(S, S, 3 * S * S * 3, &ds) == WT_OK, "create");
    uint8_t px[S * S * 3] = { 0 };
    for (int i = 0; i < 3; i++) CHECK(wt_dataset_add(ds, px, sizeof px, 0, NULL) == WT_OK, "add %d", i);
    CHECK(wt_dataset_add(ds, px, sizeof px, 0, NULL) == WT_ERR_OUT_OF_MEMORY, "over budget");
    CHECK(strstr(wt_last_error(), "holds 3 examples") != NULL, "message: %s", wt_last_error());
    CHECK(wt_dataset_count(ds) == 3, "count unchanged");
    CHECK(wt_dataset_add(ds, px, sizeof px - 1, 0, NULL) == WT_ERR_SHAPE, "wrong size");
    CHECK(wt_dataset_remove(ds, 1) == WT_OK && wt_dataset_count(ds) == 2, "remove");
    CHECK(wt_dataset_remove(ds, 5) == WT_ERR_NOT_FOUND, "remove out of range");
    wt_dataset_destroy(ds);
    wt_net_destroy(net);
    wt_context_destroy(ctx);
}

/* Single-threaded runs with one seed give bit-identical weights. */
static void test_repeatable(void) {
    float* w[2];
    size_t count = 0;
    for (int r = 0; r < 2; r++) {
        wt_context* ctx;
        wt_context_create(&(wt_context_desc){ .n_threads = 1, .seed = 11 }, &ctx);
        int emb, logits;
        wt_net* net = backbone(ctx, &emb);
        wt_net_add_classifier_head(net, emb, CLASSES, 0.2f, 0, 0, &logits);
        wt_dataset* ds = make_dataset();
        wt_train_desc d = { .strategy = WT_STRATEGY_FULL, .epochs = 2, .batch_size = 8, .seed = 5,
                            .validation_split = 0.2f, .augment = { .flip = 1, .rotation_deg = 10.0f } };
        wt_train_progress p;
        run(net, emb, logits, ds, d, &p);
        int idx;
        wt_param_info info;
        for (idx = 0; idx < wt_net_param_count(net); idx++) {
            wt_net_param_info(net, idx, &info);
            if (strcmp(info.name, "block_1_depthwise/weight") == 0) break;
        }
        count = info.count;
        w[r] = malloc(count * sizeof(float));
        wt_net_param_read(net, idx, w[r], count);
        wt_dataset_destroy(ds);
        wt_net_destroy(net);
        wt_context_destroy(ctx);
    }
    CHECK(memcmp(w[0], w[1], count * sizeof(float)) == 0, "same seed, one thread: weights differ");
    free(w[0]);
    free(w[1]);
}

/* AdaBN re-estimates frozen batch norms' statistics on all images; DANN adds its domain classifier
 * for training only and learns with unlabelled target images mixed in. */
static void test_adabn_and_dann(void) {
    wt_context* ctx;
    wt_context_create(&(wt_context_desc){ .n_threads = 2, .seed = 4 }, &ctx);
    wt_dataset* ds = make_dataset();
    int emb, logits;
    wt_net* net = pretrained(ctx, ds, &emb, &logits);
    /* target domain: the same kind of images under a strong colour cast */
    uint8_t px[S * S * 3];
    for (int n = 0; n < 12; n++) {
        make_example(n % CLASSES, 500 + n, px);
        for (int i = 0; i < S * S * 3; i += 3) px[i + 2] = (uint8_t)(px[i + 2] / 2 + 120);
        CHECK(wt_dataset_add(ds, px, sizeof px, -1, NULL) == WT_OK, "%s", wt_last_error());
    }
    snapshot before = take(net);
    int bn_mean = -1;
    for (int i = 0; i < before.n; i++)
        if (strcmp(before.name[i], "bn_Conv1/moving_mean") == 0) bn_mean = i;
    wt_train_progress p;
    wt_train_desc d = { .epochs = 3, .batch_size = 8, .learning_rate = 0.01f, .seed = 2, .adabn = 1 };
    run(net, emb, logits, ds, d, &p);
    CHECK(!same(net, &before, bn_mean), "AdaBN re-estimated bn_Conv1's moving mean");
    for (int i = 0; i < before.n; i++)
        if (strstr(before.name[i], "/weight") && !only_head(before.name[i]))
            CHECK(same(net, &before, i), "AdaBN with the head strategy leaves %s alone", before.name[i]);

    /* a head-only run (forward_from on cached embeddings) followed by a top:2 run on the same net:
     * the second must reach the backbone (regression: forward_from used to stick) */
    {
        snapshot pre = take(net);
        wt_train_desc h = { .epochs = 2, .batch_size = 8, .learning_rate = 0.01f, .seed = 3 };
        run(net, emb, logits, ds, h, &p);
        h.strategy = WT_STRATEGY_TOP;
        run(net, emb, logits, ds, h, &p);
        int moved = 0;
        for (int i = 0; i < pre.n; i++)
            if (strncmp(pre.name[i], "Conv_1/weight", 13) == 0) moved = !same(net, &pre, i);
        CHECK(moved, "top:2 after head changes Conv_1");
        drop(&pre);
    }
    int nodes = wt_net_node_count(net);
    d = (wt_train_desc){ .strategy = WT_STRATEGY_TOP, .top_blocks = 2, .epochs = 4, .batch_size = 8,
                         .learning_rate = 0.01f, .seed = 2, .validation_split = 0.2f, .domain_adaptation = 1.0f };
    float val = run(net, emb, logits, ds, d, &p);
    CHECK(val >= 0.9f, "DANN keeps source accuracy: %.3f", val);
    CHECK(wt_net_node_count(net) == nodes, "the domain classifier is removed after training (%d nodes, was %d)",
          wt_net_node_count(net), nodes);
    wt_trainer* tr;
    d.strategy = WT_STRATEGY_HEAD;
    CHECK(wt_trainer_create(net, emb, logits, ds, &d, &tr) == WT_ERR_INVALID_ARGUMENT, "DANN needs a trainable backbone");
    drop(&before);
    wt_dataset_destroy(ds);
    wt_net_destroy(net);
    wt_context_destroy(ctx);
}

/* The largest deviation of every batch norm's moving statistics from the exact population mean and
 * (biased, over N*H*W) variance of that layer's input over images[0..n), computed independently:
 * one inference pass over all n images at once (no memory saving, so every node stays readable)
 * with the net's final statistics, reading each batch norm's input. This is the fixed point AdaBN
 * must reach: every layer normalised with the statistics its input really has on those images when
 * the earlier layers use their new statistics. Returns the worst relative error. */
static double bn_stats_error(wt_net* net, const uint8_t* images, int n, const char** worst) {
    wt_net_set_memory_saving(net, 0);
    CHECK(wt_net_plan(net, n) == WT_OK, "%s", wt_last_error());
    float* input = malloc((size_t)n * S * S * 3 * sizeof(float));
    CHECK(wt_pixels_to_tensor(images, (size_t)n * S * S * 3, 0.0f, 0.0f, input) == WT_OK, "%s", wt_last_error());
    CHECK(wt_net_forward(net, input, n, 0) == WT_OK, "%s", wt_last_error());
    double err = 0.0;
    for (int node = 1; node < wt_net_node_count(net); node++) {
        wt_layer_desc d;
        wt_net_node_desc(net, node, &d);
        if (d.type != WT_LAYER_BATCHNORM) continue;
        int h, w, c;
        wt_net_node_shape(net, d.input, &h, &w, &c);
        size_t rows = (size_t)n * h * w;
        float* x = malloc(rows * c * sizeof(float));
        CHECK(wt_net_read_output(net, d.input, x, rows * c) == WT_OK, "%s", wt_last_error());
        float *mean = NULL, *var = NULL;
        for (int i = 0; i < wt_net_param_count(net); i++) {
            wt_param_info info;
            wt_net_param_info(net, i, &info);
            if (info.node != node) continue;
            float** dst = info.kind == WT_PARAM_MOVING_MEAN ? &mean : info.kind == WT_PARAM_MOVING_VARIANCE ? &var : NULL;
            if (!dst) continue;
            *dst = malloc(c * sizeof(float));
            wt_net_param_read(net, i, *dst, c);
        }
        for (int ch = 0; ch < c; ch++) {
            double s = 0.0, sq = 0.0;
            for (size_t r = 0; r < rows; r++) s += x[r * c + ch];
            double m = s / rows;
            for (size_t r = 0; r < rows; r++) sq += (x[r * c + ch] - m) * (x[r * c + ch] - m);
            double v = sq / rows, sd = sqrt(v) + 1e-3;
            double e = fmax(fabs(mean[ch] - m) / sd, fabs(var[ch] - v) / (v + 1e-3));
            if (e > err) {
                err = e;
                *worst = d.name;
            }
        }
        free(x);
        free(mean);
        free(var);
    }
    free(input);
    return err;
}

/* AdaBN sets every batch norm's moving statistics to the exact population statistics of its input
 * over the target images (or, with no unlabelled images, over all images), layer after layer: a
 * count of images that is not a multiple of the batch size, a strong colour cast so the statistics
 * really move, frozen (head, top) and batch-statistics strategies. */
static void test_adabn_statistics(void) {
    enum { N_UNL = 13 };
    uint8_t* target = malloc((size_t)N_UNL * S * S * 3);
    for (int n = 0; n < N_UNL; n++) {
        uint8_t* px = target + (size_t)n * S * S * 3;
        make_example(n % CLASSES, 700 + n, px);
        for (int i = 0; i < S * S * 3; i += 3) {
            px[i] = (uint8_t)(px[i] / 2 + 120);
            px[i + 2] = (uint8_t)(px[i + 2] * 2 / 5);
        }
    }
    const struct {
        const char* label;
        wt_train_desc d;
        int unlabelled;
    } cases[] = {
        { "head, target images", { .epochs = 2, .batch_size = 4, .seed = 1, .adabn = 1 }, 1 },
        { "head, no target images", { .epochs = 1, .batch_size = 8, .seed = 1, .adabn = 1 }, 0 },
        { "top:2 batch stats, target images",
          { .strategy = WT_STRATEGY_TOP, .bn_batch_stats = 1, .epochs = 2, .batch_size = 8, .seed = 1, .adabn = 1 }, 1 },
        { "top:2 + DANN, target images",
          { .strategy = WT_STRATEGY_TOP, .epochs = 2, .batch_size = 8, .seed = 1, .adabn = 1, .domain_adaptation = 0.5f }, 1 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        wt_context* ctx;
        wt_context_create(&(wt_context_desc){ .n_threads = 2, .seed = 4 }, &ctx);
        wt_dataset* ds = make_dataset();
        int emb, logits;
        wt_net* net = pretrained(ctx, ds, &emb, &logits);
        int n_all = wt_dataset_count(ds);
        if (cases[k].unlabelled)
            for (int n = 0; n < N_UNL; n++)
                CHECK(wt_dataset_add(ds, target + (size_t)n * S * S * 3, S * S * 3, -1, NULL) == WT_OK, "%s", wt_last_error());
        wt_train_progress p;
        run(net, emb, logits, ds, cases[k].d, &p);
        const uint8_t* images = target;
        uint8_t* all = NULL;
        int n = N_UNL;
        if (!cases[k].unlabelled) { /* every example */
            all = malloc((size_t)n_all * S * S * 3);
            for (int i = 0; i < n_all; i++) {
                const uint8_t* px;
                wt_dataset_get(ds, i, NULL, &px);
                memcpy(all + (size_t)i * S * S * 3, px, S * S * 3);
            }
            images = all;
            n = n_all;
        }
        const char* worst = "?";
        double err = bn_stats_error(net, images, n, &worst);
        printf("  AdaBN (%s): worst deviation from the exact statistics %.2g (%s)\n", cases[k].label, err, worst);
        CHECK(err < 1e-3, "AdaBN (%s): %s's statistics are off the exact population statistics by %.3g",
              cases[k].label, worst, err);
        free(all);
        wt_dataset_destroy(ds);
        wt_net_destroy(net);
        wt_context_destroy(ctx);
    }
    free(target);
}

static int all_finite(const wt_net* net) {
    snapshot s = take(net);
    int ok = 1;
    for (int i = 0; i < s.n; i++)
        for (size_t k = 0; k < s.count[i]; k++)
            if (!isfinite(s.data[i][k])) ok = 0;
    drop(&s);
    return ok;
}

/* A learning rate far too high: a clear error (or a rollback), and never non-finite weights. */
static void test_divergence(void) {
    for (int rollback = 0; rollback <= 1; rollback++) {
        wt_context* ctx;
        wt_context_create(&(wt_context_desc){ .n_threads = 1, .seed = 4 }, &ctx);
        wt_dataset* ds = make_dataset();
        int emb, logits;
        wt_net* net = pretrained(ctx, ds, &emb, &logits);
        wt_train_desc d = { .strategy = WT_STRATEGY_FULL, .optimizer = WT_TRAIN_SGD, .learning_rate = 1e30f,
                            .epochs = 5, .batch_size = 8, .seed = 1, .rollback = rollback };
        wt_trainer* tr;
        CHECK(wt_trainer_create(net, emb, logits, ds, &d, &tr) == WT_OK, "%s", wt_last_error());
        wt_train_progress p = { 0 };
        wt_status st = WT_OK;
        int steps = 0;
        while (st == WT_OK && p.phase != WT_PHASE_DONE && steps < 1000) {
            st = wt_trainer_step(tr, &p);
            steps++;
        }
        if (rollback) {
            CHECK(st == WT_OK && p.phase == WT_PHASE_DONE && p.diverged == 1, "rollback: status %d phase %d diverged %d", st,
                  p.phase, p.diverged);
        } else {
            CHECK(st == WT_ERR_NOT_FINITE, "a diverging run fails with WT_ERR_NOT_FINITE (got %d)", st);
            CHECK(strstr(wt_last_error(), "diverged") && strstr(wt_last_error(), "learning rate"), "message: %s",
                  wt_last_error());
        }
        CHECK(all_finite(net), "no NaN or infinite weight is left (rollback %d)", rollback);
        wt_trainer_destroy(tr);
        wt_dataset_destroy(ds);
        wt_net_destroy(net);
        wt_context_destroy(ctx);
    }
}

/* Gradient check through the unfrozen part of a top:2 net: the loss's gradient wrt weights in the
 * unfrozen blocks (reached through frozen batch norms in inference mode, a residual-free path and
 * the head) matches central finite differences. */
typedef struct gc_ctx {
    wt_net* net;
    int param, logits;
    float* x;
    size_t count;
    const float* input;
    const int* labels;
    int batch;
} gc_ctx;

static double gc_loss(void* p) {
    gc_ctx* g = (gc_ctx*)p;
    wt_net_param_write(g->net, g->param, g->x, g->count);
    wt_net_forward(g->net, g->input, g->batch, 0);
    float z[8 * CLASSES];
    wt_net_read_output(g->net, g->logits, z, (size_t)g->batch * CLASSES);
    double loss = 0.0;
    for (int b = 0; b < g->batch; b++) {
        double mx = z[b * CLASSES], sum = 0.0;
        for (int k = 1; k < CLASSES; k++) mx = fmax(mx, z[b * CLASSES + k]);
        for (int k = 0; k < CLASSES; k++) sum += exp(z[b * CLASSES + k] - mx);
        loss += log(sum) + mx - z[b * CLASSES + g->labels[b]];
    }
    return loss / g->batch;
}

static void test_gradcheck_unfrozen(void) {
    wt_context* ctx;
    wt_context_create(&(wt_context_desc){ .n_threads = 1, .seed = 6 }, &ctx);
    wt_dataset* ds = make_dataset();
    int emb, logits;
    wt_net* net = pretrained(ctx, ds, &emb, &logits);
    wt_trainer* tr;
    wt_train_desc d = { .strategy = WT_STRATEGY_TOP, .top_blocks = 2, .batch_size = 8 };
    CHECK(wt_trainer_create(net, emb, logits, ds, &d, &tr) == WT_OK, "%s", wt_last_error());
    enum { B = 6 };
    static float input[B * S * S * 3];
    int labels[B];
    uint8_t px[S * S * 3];
    for (int b = 0; b < B; b++) {
        labels[b] = b % CLASSES;
        make_example(labels[b], 300 + b, px);
        for (int i = 0; i < S * S * 3; i++) input[b * S * S * 3 + i] = px[i] / 127.5f - 1.0f;
    }
    const char* names[] = { "block_2_depthwise/weight", "block_2_project/weight", "Conv_1/weight", "Conv_1_bn/gamma",
                            "block_2_project_BN/beta" };
    for (size_t t = 0; t < sizeof names / sizeof *names; t++) {
        int idx = -1;
        wt_param_info info;
        for (int i = 0; i < wt_net_param_count(net); i++) {
            wt_net_param_info(net, i, &info);
            if (strcmp(info.name, names[t]) == 0) {
                idx = i;
                break;
            }
        }
        CHECK(idx >= 0 && info.trainable, "%s is trainable under top:2", names[t]);
        if (idx < 0) continue;
        size_t n = info.count < 24 ? info.count : 24; /* the first entries are enough */
        float* x = malloc(info.count * sizeof(float));
        float* grad = malloc(info.count * sizeof(float));
        wt_net_param_read(net, idx, x, info.count);
        float loss;
        wt_net_zero_grad(net);
        wt_net_forward(net, input, B, 0);
        wt_net_softmax_xent(net, logits, labels, 0.0f, NULL, &loss);
        CHECK(wt_net_backward(net) == WT_OK, "%s", wt_last_error());
        wt_net_grad_read(net, idx, grad, info.count);
        gc_ctx g = { net, idx, logits, x, info.count, input, labels, B };
        double worst = wt_gradcheck(x, grad, n, 2e-3f, gc_loss, &g, 1e-3);
        wt_net_param_write(net, idx, x, info.count);
        printf("  gradcheck %-26s worst relative error %.2e\n", names[t], worst);
        CHECK(worst < 3e-2, "%s: analytic vs finite differences %.3g", names[t], worst);
        free(x);
        free(grad);
    }
    /* and nothing below the freeze point has gradient memory */
    int node;
    wt_net_find_node(net, "block_1_project", &node);
    for (int i = 0; i < wt_net_param_count(net); i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        if (info.node == node) {
            float g1;
            CHECK(!info.trainable && wt_net_grad_read(net, i, &g1, 1) != WT_OK, "frozen %s has no gradient", info.name);
        }
    }
    wt_trainer_destroy(tr);
    wt_dataset_destroy(ds);
    wt_net_destroy(net);
    wt_context_destroy(ctx);
}

/* Memory saving shares buffers and runs ReLUs and frozen batch norms in place: the forward pass is
 * bit-identical, gradients equal up to rounding. */
static void test_memory_saving(void) {
    float* grads[2] = { 0 };
    float losses[2];
    size_t bytes[2], total = 0;
    for (int save = 0; save <= 1; save++) {
        wt_context* ctx;
        wt_context_create(&(wt_context_desc){ .n_threads = 2, .seed = 8 }, &ctx);
        int emb, logits;
        wt_net* net = backbone(ctx, &emb);
        wt_net_add_classifier_head(net, emb, CLASSES, 0.3f, 0, 0, &logits);
        for (int i = 1; i < wt_net_node_count(net); i++) {
            wt_net_set_trainable(net, i, 1);
            if (i % 3 == 0) wt_net_set_bn_mode(net, i, WT_BN_BATCH_STATS);
        }
        wt_net_set_memory_saving(net, save);
        CHECK(wt_net_plan(net, 6) == WT_OK, "%s", wt_last_error());
        bytes[save] = wt_net_planned_bytes(net);
        static float input[6 * S * S * 3];
        int labels[6];
        uint8_t px[S * S * 3];
        for (int b = 0; b < 6; b++) {
            labels[b] = b % CLASSES;
            make_example(labels[b], 40 + b, px);
            for (int i = 0; i < S * S * 3; i++) input[b * S * S * 3 + i] = px[i] / 127.5f - 1.0f;
        }
        for (int rep = 0; rep < 2; rep++) { /* twice: shared gradients must start from zero each time */
            wt_net_zero_grad(net);
            wt_net_forward(net, input, 6, 1);
            wt_net_softmax_xent(net, logits, labels, 0.1f, NULL, &losses[save]);
            CHECK(wt_net_backward(net) == WT_OK, "%s", wt_last_error());
        }
        total = 0;
        for (int i = 0; i < wt_net_param_count(net); i++) {
            wt_param_info info;
            wt_net_param_info(net, i, &info);
            if (info.trainable) total += info.count;
        }
        grads[save] = malloc(total * sizeof(float));
        size_t off = 0;
        for (int i = 0; i < wt_net_param_count(net); i++) {
            wt_param_info info;
            wt_net_param_info(net, i, &info);
            if (!info.trainable) continue;
            wt_net_grad_read(net, i, grads[save] + off, info.count);
            off += info.count;
        }
        if (save) {
            float tmp[6 * 16];
            int node;
            wt_net_find_node(net, "block_1_add", &node);
            for (int i = 1; i < wt_net_node_count(net); i++) wt_net_set_trainable(net, i, 0);
            wt_net_plan(net, 6);
            printf("  memory saving, inference plan: %zu bytes\n", wt_net_planned_bytes(net));
            wt_net_forward(net, input, 6, 0);
            CHECK(wt_net_read_output(net, node, tmp, 1) == WT_ERR_STATE, "an unkept output is not readable");
            CHECK(wt_net_read_output(net, logits, tmp, 6 * CLASSES) == WT_OK, "the output is readable");
        }
        wt_net_destroy(net);
        wt_context_destroy(ctx);
    }
    CHECK(losses[0] == losses[1], "loss %g vs %g", losses[0], losses[1]);
    /* in-place batch norms take their weight gradients from the output: same values, other rounding */
    double rel = wt_max_rel_err(grads[1], grads[0], total, 1e-3);
    CHECK(rel < 1e-3, "memory saving changes gradients by %.3g (relative)", rel);
    printf("  memory saving: %zu -> %zu bytes planned (full training, batch 6)\n", bytes[0], bytes[1]);
    CHECK(bytes[1] < bytes[0], "saving saves");
    free(grads[0]);
    free(grads[1]);
}

int main(void) {
    test_strategies();
    test_blocks_and_errors();
    test_repeatable();
    test_adabn_and_dann();
    test_adabn_statistics();
    test_divergence();
    test_gradcheck_unfrozen();
    test_memory_saving();
    return wt_test_summary();
}
