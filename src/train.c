/* train.c: the classifier trainer. A backbone cut at its embedding plus a head, trained on a
 * dataset of uint8 examples with one of the fine-tuning strategies, one step per call so a caller
 * (a Web Worker, the CLI) can report progress and stop between steps.
 *
 * WT_STRATEGY_HEAD computes every embedding once (the backbone is frozen, so they never change)
 * and then trains the head alone from the cache with wt_net_forward_from: an epoch costs a few
 * dense layers instead of a MobileNet pass per image. The other strategies run the whole net. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "net.h"
#include "ops.h"

struct wt_trainer {
    wt_net* net;
    wt_dataset* ds;
    wt_train_desc desc;
    int embedding, logits;
    int n_classes, emb_dim;
    int in_h, in_w;
    size_t in_elems;          /* in_h*in_w*3 */
    wt_preprocess pre;        /* scale/offset of the model input */
    wt_optimizer* opt;
    wt_optimizer_desc opt_desc;
    /* split */
    int* train_idx;           /* dataset indices */
    int* val_idx;
    int n_train, n_val;
    int n_rows;               /* rows an epoch visits: n_train, or n_train*views (every cached view) */
    int* order;               /* this epoch's permutation of 0..n_rows-1 */
    float* class_weights;     /* balanced: inverse class frequency, else NULL */
    /* head cache: n_train*views + n_val embeddings */
    int views;
    float* cache;
    int cache_done, cache_total;
    /* step buffers */
    float* input;             /* batch * in_elems, or batch * emb_dim for the head */
    uint8_t* aug;             /* in_elems bytes */
    int* labels;
    float* logits_buf;        /* batch * n_classes */
    /* progress */
    int epoch, step, pos;     /* pos: index into order within this epoch */
    int steps_per_epoch, total_steps;
    double epoch_loss_sum, epoch_correct;
    int epoch_seen;
    float best_val;
    int best_epoch, bad_epochs;
    float* best_params;       /* snapshot of trainable parameters at the best validation accuracy */
    int have_best;
    int done;
    wt_train_progress last;
    /* AdaBN: every batch norm's moving statistics become the exact population statistics of its
     * input over a list of images, one layer after another (a layer's input depends on the new
     * statistics of the layers before it): per layer, inference passes over all the images that stop
     * at the layer. Before training over the labelled (source) images, or all images when there are
     * no unlabelled ones; after training over the unlabelled (target) images. So that a pass need
     * not start at the input every time, the outputs of a checkpoint node (one no later node reads
     * past, e.g. a block output) are kept for all the images once the layers before it are done. */
    int* bn_nodes;
    int n_bn;
    int* is_cut;              /* per node: no later node reads a node before it */
    double* bn_sums;          /* 2 * the widest batch norm */
    int* adabn_list;          /* dataset indices of this pass */
    int adabn_n;
    int* jobs;                /* batch norm node (> 0: estimate it) or -checkpoint node (keep its outputs) */
    int n_jobs;
    int adabn_done, adabn_total; /* (job, batch) passes */
    int adabn_images_done;    /* images through the net (an image counts once per job) */
    int ck;                   /* checkpoint node (0: the images) */
    float* ck_buf;            /* its outputs for every image */
    float* ck_next;           /* the next checkpoint's, being filled */
    int adabn_after;          /* the passes after training are running */
    int* labelled_idx;        /* the before-training list */
    /* DANN */
    int* unl_idx;             /* unlabelled (target-domain) examples */
    int n_unl, unl_pos;
    int domain_first;         /* first node of the domain classifier (0: none) */
    int grl, domain_logits;
    float* grad_buf;          /* 2*batch*max(K, 2) */
    float* good_params;       /* trainable parameters at the start and after each finite epoch */
    int good_epoch;           /* epochs finished when good_params was taken */
    int* domain_labels;
};

/* ------------------------------------------------------------------------------------------- */
/* Which layers train                                                                           */
/* ------------------------------------------------------------------------------------------- */

/* '*' matches any run of characters; everything else literally. */
static int glob_match(const char* pat, const char* s) {
    while (*pat) {
        if (*pat == '*') {
            while (*pat == '*') pat++;
            if (!*pat) return 1;
            for (; *s; s++)
                if (glob_match(pat, s)) return 1;
            return 0;
        }
        if (*pat != *s) return 0;
        pat++;
        s++;
    }
    return *s == 0;
}

static int starts_with(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* The MobileNet block a layer with parameters belongs to, from its Keras name: "block_5_expand"
 * -> "block_5" (v2), "conv_dw_7" / "conv_pw_7_bn" -> "conv_7" (v1), "bn_Conv1" / "Conv1" ->
 * "Conv1"; anything else is its own block, with _bn/_BN suffixes stripped so a convolution and
 * its batch norm stay together. */
static void block_key(const char* name, char* key, size_t cap) {
    const char* s = name;
    if (starts_with(s, "bn_")) s += 3;
    if (starts_with(s, "block_")) {
        size_t n = 6;
        while (s[n] >= '0' && s[n] <= '9') n++;
        snprintf(key, cap, "%.*s", (int)n, s);
        return;
    }
    if (starts_with(s, "conv_dw_") || starts_with(s, "conv_pw_")) {
        size_t n = 8;
        while (s[n] >= '0' && s[n] <= '9') n++;
        snprintf(key, cap, "conv_%.*s", (int)(n - 8), s + 8);
        return;
    }
    if (starts_with(s, "expanded_conv")) {
        snprintf(key, cap, "expanded_conv");
        return;
    }
    snprintf(key, cap, "%s", s);
    size_t len = strlen(key);
    static const char* const suffixes[] = { "_bn", "_BN", "/bn" };
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t sl = strlen(suffixes[i]);
        if (len > sl && strcmp(key + len - sl, suffixes[i]) == 0) key[len - sl] = 0;
    }
}

static int has_params(const wt_net* net, int node) {
    for (int i = 0; i < net->nodes[node].param_count; i++)
        if (!net->params[net->nodes[node].param_first + i].is_state) return 1;
    return 0;
}

/* block_of[i] for backbone nodes 1..embedding: block number in order of first appearance.
 * Layers without parameters (activations, adds, pooling) join their input's block. */
static int number_blocks(const wt_net* net, int embedding, int* block_of) {
    char (*keys)[64] = (char (*)[64])calloc((size_t)embedding + 1, 64);
    if (!keys) return -1;
    int n_blocks = 0;
    block_of[0] = -1;
    for (int i = 1; i <= embedding; i++) {
        const wt_node* nd = &net->nodes[i];
        if (!has_params(net, i)) {
            block_of[i] = block_of[nd->desc.input];
            if (block_of[i] < 0) block_of[i] = 0;
            continue;
        }
        char key[64];
        block_key(nd->name, key, sizeof key);
        int found = -1;
        for (int b = 0; b < n_blocks; b++)
            if (strcmp(keys[b], key) == 0) found = b;
        if (found < 0) {
            found = n_blocks++;
            snprintf(keys[found], 64, "%s", key);
        }
        block_of[i] = found;
    }
    free(keys);
    return n_blocks;
}

/* Sets trainable flags, learning-rate scales and batch-norm modes for the strategy. */
static wt_status apply_strategy(wt_net* net, int embedding, const wt_train_desc* d) {
    int n = net->n_nodes;
    int* block_of = NULL;
    int n_blocks = 0;
    if (d->strategy == WT_STRATEGY_TOP) {
        block_of = (int*)malloc((size_t)n * sizeof(int));
        if (!block_of) return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_trainer_create: out of memory");
        n_blocks = number_blocks(net, embedding, block_of);
        if (n_blocks < 0) {
            free(block_of);
            return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_trainer_create: out of memory");
        }
    }
    int matched = 0;
    for (int i = 1; i < n; i++) {
        wt_node* nd = &net->nodes[i];
        int train;
        if (i > embedding) {
            train = 1; /* the head always trains */
        } else {
            switch (d->strategy) {
            case WT_STRATEGY_HEAD: train = 0; break;
            case WT_STRATEGY_FULL: train = 1; break;
            case WT_STRATEGY_TOP: train = block_of[i] >= n_blocks - d->top_blocks; break;
            default: { /* LAYERS */
                train = 0;
                const char* p = d->layers;
                while (*p) {
                    const char* end = strchr(p, ',');
                    size_t len = end ? (size_t)(end - p) : strlen(p);
                    char pat[256];
                    while (len && *p == ' ') p++, len--;
                    while (len && p[len - 1] == ' ') len--;
                    if (len && len < sizeof pat) {
                        memcpy(pat, p, len);
                        pat[len] = 0;
                        if (strcmp(pat, "batchnorm") == 0 ? nd->desc.type == WT_LAYER_BATCHNORM
                                                          : glob_match(pat, nd->name))
                            train = 1;
                    }
                    if (!end) break;
                    p = end + 1;
                }
                if (train && has_params(net, i)) matched++;
            }
            }
        }
        nd->trainable = train;
        nd->lr_scale = i > embedding ? 1.0f : d->backbone_lr_scale;
        if (nd->desc.type == WT_LAYER_BATCHNORM)
            nd->bn_mode = train && d->bn_batch_stats ? WT_BN_BATCH_STATS : WT_BN_FROZEN;
    }
    free(block_of);
    if (d->strategy == WT_STRATEGY_LAYERS && matched == 0)
        return wt_fail(WT_ERR_NOT_FOUND, "wt_trainer_create: no backbone layer with weights matches \"%s\"", d->layers);
    return WT_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* Create / destroy                                                                             */
/* ------------------------------------------------------------------------------------------- */

static wt_status fill_defaults(wt_train_desc* d) {
    static const char fn[] = "wt_trainer_create";
    if (d->epochs == 0) d->epochs = 20;
    if (d->batch_size == 0) d->batch_size = 16;
    if (d->learning_rate == 0.0f) d->learning_rate = 1e-3f;
    if (d->top_blocks == 0) d->top_blocks = 2;
    if (d->backbone_lr_scale == 0.0f) d->backbone_lr_scale = 0.1f;
    if (d->cache_views == 0) d->cache_views = 1;
    if (d->epochs < 1 || d->epochs > 100000) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: epochs %d is not in 1..100000", fn, d->epochs);
    if (d->batch_size < 1 || d->batch_size > 4096)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: batch size %d is not in 1..4096", fn, d->batch_size);
    if (!(d->learning_rate > 0.0f) || !isfinite(d->learning_rate))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: learning rate %g must be finite and > 0", fn, d->learning_rate);
    if (d->optimizer < WT_TRAIN_ADAM || d->optimizer > WT_TRAIN_SGD)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: unknown optimizer %d", fn, (int)d->optimizer);
    if (!(d->validation_split >= 0.0f && d->validation_split <= 0.9f))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: validation split %g is not in [0, 0.9]", fn, d->validation_split);
    if (d->strategy < WT_STRATEGY_HEAD || d->strategy > WT_STRATEGY_FULL)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: unknown strategy %d", fn, (int)d->strategy);
    if (d->top_blocks < 1) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: top_blocks %d must be >= 1", fn, d->top_blocks);
    if (d->strategy == WT_STRATEGY_LAYERS && (!d->layers || !*d->layers))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: the layers strategy needs layer names or patterns", fn);
    if (!(d->backbone_lr_scale > 0.0f) || !isfinite(d->backbone_lr_scale))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: backbone lr scale %g must be > 0", fn, d->backbone_lr_scale);
    if (!(d->label_smoothing >= 0.0f && d->label_smoothing <= 0.5f))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: label smoothing %g is not in [0, 0.5]", fn, d->label_smoothing);
    if (d->early_stopping < 0 || d->cache_views < 1 || d->cache_views > 64 || d->warmup_steps < 0)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: early_stopping, cache_views (1..64) and warmup_steps must be >= 0",
                       fn);
    if (!(d->weight_decay >= 0.0f) || !isfinite(d->weight_decay))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: weight decay must be >= 0", fn);
    if (!(d->domain_adaptation >= 0.0f && d->domain_adaptation <= 10.0f))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: domain adaptation weight %g is not in [0, 10]", fn, d->domain_adaptation);
    if (d->domain_adaptation > 0.0f && d->strategy == WT_STRATEGY_HEAD)
        return wt_fail(WT_ERR_INVALID_ARGUMENT,
                       "%s: domain adaptation changes the backbone, so it needs a strategy that trains it (top, layers or full); "
                       "with a frozen backbone use AdaBN", fn);
    return WT_OK;
}

static int augment_on(const wt_augment* a) {
    return (a->crop_scale_min > 0.0f && a->crop_scale_min < 1.0f) || a->flip || a->rotation_deg > 0.0f ||
           a->brightness > 0.0f || a->contrast > 0.0f || a->saturation > 0.0f;
}

/* Fisher-Yates with counter-based randomness: a pure function of (seed, stream). */
static void shuffle(int* a, int n, uint64_t seed, uint64_t stream) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(wt_hash64(seed ^ (stream * 0x9E3779B97F4A7C15ULL), (uint64_t)i) % (uint64_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Checkpoint outputs AdaBN may keep (all images of a pass at one node). */
#define ADABN_CACHE_BYTES ((size_t)64 << 20)

static size_t node_floats(const wt_node* nd) { return (size_t)nd->h * nd->w * nd->c; }

/* Starts AdaBN over dataset examples list[0..n) (kept by the caller): plans the jobs, each batch
 * norm in order and, before the next one, the latest checkpoint before it whose outputs fit. */
static void adabn_begin(wt_trainer* tr, int* list, int n) {
    int batch = tr->desc.batch_size;
    tr->adabn_list = list;
    tr->adabn_n = n;
    tr->adabn_done = 0;
    tr->adabn_images_done = 0;
    tr->n_jobs = 0;
    int ck = 0;
    for (int li = 0; li < tr->n_bn; li++) {
        tr->jobs[tr->n_jobs++] = tr->bn_nodes[li];
        if (li + 1 == tr->n_bn) break;
        for (int k = tr->bn_nodes[li + 1] - 1; k > ck; k--)
            if (tr->is_cut[k] && (size_t)n * node_floats(&tr->net->nodes[k]) * sizeof(float) <= ADABN_CACHE_BYTES) {
                tr->jobs[tr->n_jobs++] = -k;
                ck = k;
                break;
            }
    }
    tr->adabn_total = n > 0 ? tr->n_jobs * ((n + batch - 1) / batch) : 0;
    tr->ck = 0;
    free(tr->ck_buf);
    free(tr->ck_next);
    tr->ck_buf = tr->ck_next = NULL;
}

void wt_trainer_destroy(wt_trainer* tr) {
    if (!tr) return;
    if (tr->domain_first > 0) wt_net_truncate(tr->net, tr->domain_first - 1);
    free(tr->unl_idx);
    free(tr->bn_nodes);
    free(tr->is_cut);
    free(tr->jobs);
    free(tr->ck_buf);
    free(tr->ck_next);
    free(tr->bn_sums);
    free(tr->labelled_idx);
    if (tr->net) {
        tr->net->adabn_node = 0;
        tr->net->adabn_sums = NULL;
        tr->net->forward_last = 0;
    }
    free(tr->grad_buf);
    free(tr->domain_labels);
    free(tr->good_params);
    wt_optimizer_destroy(tr->opt);
    free(tr->train_idx);
    free(tr->val_idx);
    free(tr->order);
    free(tr->class_weights);
    free(tr->cache);
    free(tr->input);
    free(tr->aug);
    free(tr->labels);
    free(tr->logits_buf);
    free(tr->best_params);
    free(tr);
}

static size_t trainable_floats(const wt_net* net) {
    size_t n = 0;
    for (int i = 0; i < net->n_params; i++) {
        const wt_param* p = &net->params[i];
        if (net->nodes[p->node].trainable) n += p->count; /* moving statistics included */
    }
    return n;
}

/* Copies the trainable parameters (and their batch norms' statistics) to or from buf. */
static void snapshot_params(wt_net* net, float* buf, int restore) {
    for (int i = 0; i < net->n_params; i++) {
        wt_param* p = &net->params[i];
        if (!net->nodes[p->node].trainable) continue;
        if (restore) memcpy(p->data, buf, p->count * sizeof(float));
        else memcpy(buf, p->data, p->count * sizeof(float));
        buf += p->count;
    }
    if (restore) net->weights_version++;
}

wt_status wt_trainer_create(wt_net* net, int embedding_node, int logits_node, wt_dataset* ds,
                            const wt_train_desc* desc, wt_trainer** out) {
    static const char fn[] = "wt_trainer_create";
    if (!out) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    *out = NULL;
    if (!net || !ds || !desc) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    if (embedding_node < 1 || embedding_node >= net->n_nodes || logits_node <= embedding_node ||
        logits_node >= net->n_nodes)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: embedding node %d and logits node %d do not fit a net of %d nodes",
                       fn, embedding_node, logits_node, net->n_nodes);
    const wt_node* emb = &net->nodes[embedding_node];
    const wt_node* lg = &net->nodes[logits_node];
    if (emb->h != 1 || emb->w != 1 || lg->h != 1 || lg->w != 1)
        return wt_fail(WT_ERR_SHAPE, "%s: the embedding and logits must be [N,1,1,C]", fn);
    if (net->in_c != 3) return wt_fail(WT_ERR_SHAPE, "%s: the net's input must have 3 channels (RGB)", fn);
    wt_train_desc d = *desc;
    wt_status st = fill_defaults(&d);
    if (st) return st;

    /* examples per class, over labelled examples */
    int K = lg->c;
    if (K < 2) return wt_fail(WT_ERR_SHAPE, "%s: a classifier needs at least 2 classes, this head has %d", fn, K);
    int n_ex = wt_dataset_count(ds);
    int* per_class = (int*)calloc((size_t)K, sizeof(int));
    if (!per_class) return wt_fail(WT_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    for (int i = 0; i < n_ex; i++) {
        int label;
        const uint8_t* px;
        wt_dataset_get(ds, i, &label, &px);
        if (label >= K) {
            free(per_class);
            return wt_fail(WT_ERR_SHAPE, "%s: example %d has label %d but the head has %d classes", fn, i, label, K);
        }
        if (label >= 0) per_class[label]++;
    }
    for (int c = 0; c < K; c++)
        if (per_class[c] == 0) {
            free(per_class);
            return wt_fail(WT_ERR_SHAPE, "%s: class %d has no examples; every class needs at least one", fn, c);
        }

    wt_trainer* tr = (wt_trainer*)calloc(1, sizeof *tr);
    if (!tr) {
        free(per_class);
        return wt_fail(WT_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    }
    tr->net = net;
    tr->ds = ds;
    tr->desc = d;
    tr->desc.layers = NULL; /* not kept: only used here */
    tr->embedding = embedding_node;
    tr->logits = logits_node;
    tr->n_classes = K;
    tr->emb_dim = emb->c;
    tr->in_h = net->in_h;
    tr->in_w = net->in_w;
    tr->in_elems = (size_t)net->in_h * net->in_w * 3;
    tr->views = d.strategy == WT_STRATEGY_HEAD ? d.cache_views : 1;
    tr->best_val = -1.0f;
    tr->best_epoch = -1;

    /* stratified split: per class, a seeded shuffle, the first n_val go to validation */
    tr->train_idx = (int*)malloc((size_t)(n_ex ? n_ex : 1) * sizeof(int));
    tr->val_idx = (int*)malloc((size_t)(n_ex ? n_ex : 1) * sizeof(int));
    int* members = (int*)malloc((size_t)(n_ex ? n_ex : 1) * sizeof(int));
    if (!tr->train_idx || !tr->val_idx || !members) goto oom;
    for (int c = 0; c < K; c++) {
        int m = 0;
        for (int i = 0; i < n_ex; i++) {
            int label;
            wt_dataset_get(ds, i, &label, NULL);
            if (label == c) members[m++] = i;
        }
        shuffle(members, m, d.seed, 0x5117ULL + (uint64_t)c);
        int n_val = 0;
        if (d.validation_split > 0.0f && m >= 2) {
            n_val = (int)floorf(m * d.validation_split + 0.5f);
            if (n_val < 1) n_val = 1;
            if (n_val > m - 1) n_val = m - 1;
        }
        for (int i = 0; i < m; i++) {
            if (i < n_val) tr->val_idx[tr->n_val++] = members[i];
            else tr->train_idx[tr->n_train++] = members[i];
        }
    }
    free(members);
    members = NULL;
    if (d.balanced) {
        int* train_per_class = per_class;
        memset(train_per_class, 0, (size_t)K * sizeof(int));
        for (int i = 0; i < tr->n_train; i++) {
            int label;
            wt_dataset_get(ds, tr->train_idx[i], &label, NULL);
            train_per_class[label]++;
        }
        tr->class_weights = (float*)malloc((size_t)K * sizeof(float));
        if (!tr->class_weights) goto oom;
        for (int c = 0; c < K; c++) tr->class_weights[c] = (float)tr->n_train / ((float)K * train_per_class[c]);
    }
    free(per_class);
    per_class = NULL;

    for (int i = 0; i < n_ex; i++) {
        int label;
        wt_dataset_get(ds, i, &label, NULL);
        if (label < 0) tr->n_unl++;
    }
    if (tr->n_unl) {
        tr->unl_idx = (int*)malloc((size_t)tr->n_unl * sizeof(int));
        if (!tr->unl_idx) goto oom;
        tr->n_unl = 0;
        for (int i = 0; i < n_ex; i++) {
            int label;
            wt_dataset_get(ds, i, &label, NULL);
            if (label < 0) tr->unl_idx[tr->n_unl++] = i;
        }
        shuffle(tr->unl_idx, tr->n_unl, d.seed, 77);
    }
    int batch = d.batch_size;
    if (d.domain_adaptation > 0.0f) {
        if (tr->n_unl == 0) {
            st = wt_fail(WT_ERR_SHAPE, "%s: domain adaptation needs unlabelled examples of the target domain (label -1)", fn);
            goto fail;
        }
        /* embedding -> gradient reversal -> dense 64 -> relu -> dense 2 (source / target) */
        int x;
        tr->domain_first = net->n_nodes;
        st = wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_GRAD_REVERSAL, .name = "domain/reverse",
                                               .input = embedding_node, .grl_lambda = 0.0f }, &x);
        if (!st) tr->grl = x;
        if (!st) st = wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "domain/hidden", .input = x,
                                                        .out_channels = 64, .use_bias = 1 }, &x);
        if (!st) st = wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_RELU, .name = "domain/relu", .input = x }, &x);
        if (!st) st = wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "domain/logits", .input = x,
                                                        .out_channels = 2, .use_bias = 1 }, &x);
        if (st) goto fail;
        tr->domain_logits = x;
        size_t rows = (size_t)2 * batch;
        tr->grad_buf = (float*)malloc(rows * (size_t)(K > 2 ? K : 2) * sizeof(float));
        tr->domain_labels = (int*)malloc(rows * sizeof(int));
        if (!tr->grad_buf || !tr->domain_labels) goto oom;
    }
    st = apply_strategy(net, embedding_node, &d);
    if (st) goto fail;
    /* share activation and gradient buffers; the trainer reads only the embedding and the outputs */
    wt_net_set_memory_saving(net, 1);
    wt_net_keep_output(net, embedding_node, 1);
    int plan_batch = tr->domain_first ? 2 * batch : batch;
    st = wt_net_plan(net, plan_batch);
    if (st) goto fail;
    /* AdaBN: the model trains on features normalised with the statistics of the images it trains
     * on (the labelled ones) and, given unlabelled target-domain images, is normalised with theirs
     * after training, for the domain it will see (Li et al. 2016) */
    if (d.adabn) {
        int max_c = 1;
        tr->bn_nodes = (int*)malloc((size_t)net->n_nodes * sizeof(int));
        tr->labelled_idx = (int*)malloc((size_t)(n_ex ? n_ex : 1) * sizeof(int));
        if (!tr->bn_nodes || !tr->labelled_idx) goto oom;
        for (int i = 1; i < net->n_nodes; i++)
            if (net->nodes[i].desc.type == WT_LAYER_BATCHNORM) {
                tr->bn_nodes[tr->n_bn++] = i;
                if (net->nodes[i].c > max_c) max_c = net->nodes[i].c;
            }
        tr->bn_sums = (double*)malloc((size_t)2 * max_c * sizeof(double));
        tr->jobs = (int*)malloc((size_t)2 * (tr->n_bn + 1) * sizeof(int));
        tr->is_cut = (int*)calloc((size_t)net->n_nodes, sizeof(int));
        if (!tr->bn_sums || !tr->jobs || !tr->is_cut) goto oom;
        int lowest = net->n_nodes; /* the lowest node read by a node after k */
        for (int k = net->n_nodes - 1; k > 0; k--) {
            tr->is_cut[k] = lowest >= k;
            const wt_node* nd = &net->nodes[k];
            if (nd->desc.input < lowest) lowest = nd->desc.input;
            if (wt_layer_has_input2(nd->desc.type) && nd->desc.input2 < lowest) lowest = nd->desc.input2;
        }
        int n_lab = 0;
        for (int i = 0; i < n_ex; i++) {
            int label;
            wt_dataset_get(ds, i, &label, NULL);
            if (label >= 0 || tr->n_unl == 0) tr->labelled_idx[n_lab++] = i;
        }
        adabn_begin(tr, tr->labelled_idx, n_lab);
    }

    /* with cached views an epoch visits every view of every image: views are cheap rows there */
    tr->n_rows = d.strategy == WT_STRATEGY_HEAD ? tr->n_train * tr->views : tr->n_train;
    tr->steps_per_epoch = (tr->n_rows + batch - 1) / batch;
    tr->total_steps = tr->steps_per_epoch * d.epochs;
    wt_optimizer_desc od = {
        .type = d.optimizer == WT_TRAIN_SGD ? WT_OPT_SGD : d.optimizer == WT_TRAIN_ADAMW ? WT_OPT_ADAMW : WT_OPT_ADAM,
        .learning_rate = d.learning_rate,
        .momentum = d.optimizer == WT_TRAIN_SGD ? 0.9f : 0.0f,
        .weight_decay = d.weight_decay,
        .schedule = d.schedule,
        .warmup_steps = d.warmup_steps,
        .step_size = tr->steps_per_epoch * (d.epochs >= 3 ? d.epochs / 3 : 1),
        .total_steps = tr->total_steps > d.warmup_steps ? tr->total_steps - d.warmup_steps : 1,
        .min_learning_rate = d.learning_rate * 0.01f,
    };
    tr->opt_desc = od;
    tr->pre = d.preprocess;
    st = wt_optimizer_create(net, &od, &tr->opt);
    if (st) goto fail;

    tr->order = (int*)malloc((size_t)(tr->n_rows ? tr->n_rows : 1) * sizeof(int));
    size_t row = d.strategy == WT_STRATEGY_HEAD ? (size_t)tr->emb_dim : tr->in_elems;
    tr->input = (float*)malloc((size_t)plan_batch * (row > tr->in_elems ? row : tr->in_elems) * sizeof(float));
    tr->aug = (uint8_t*)malloc(tr->in_elems);
    tr->labels = (int*)malloc((size_t)plan_batch * sizeof(int));
    tr->logits_buf = (float*)malloc((size_t)plan_batch * K * sizeof(float));
    if (!tr->order || !tr->input || !tr->aug || !tr->labels || !tr->logits_buf) goto oom;
    if (d.strategy == WT_STRATEGY_HEAD) {
        tr->cache_total = tr->n_train * tr->views + tr->n_val;
        tr->cache = (float*)malloc((size_t)tr->cache_total * tr->emb_dim * sizeof(float));
        if (!tr->cache) goto oom;
    }
    if (d.early_stopping > 0 || tr->n_val > 0) {
        tr->best_params = (float*)malloc(trainable_floats(net) * sizeof(float) + sizeof(float));
        if (!tr->best_params) goto oom;
    }
    tr->good_params = (float*)malloc(trainable_floats(net) * sizeof(float) + sizeof(float));
    if (!tr->good_params) goto oom;
    snapshot_params(net, tr->good_params, 0);
    for (int i = 0; i < tr->n_rows; i++) tr->order[i] = i;
    shuffle(tr->order, tr->n_rows, d.seed, 1000);
    *out = tr;
    return WT_OK;
oom:
    st = wt_fail(WT_ERR_OUT_OF_MEMORY, "%s: out of memory for %d examples", fn, n_ex);
fail:
    free(per_class);
    free(members);
    wt_trainer_destroy(tr);
    return st;
}

/* ------------------------------------------------------------------------------------------- */
/* Steps                                                                                        */
/* ------------------------------------------------------------------------------------------- */

/* Model input for example `idx` into dst; augmented when aug_index >= 0. */
static void example_tensor(wt_trainer* tr, int idx, int64_t aug_index, float* dst) {
    const uint8_t* px;
    wt_dataset_get(tr->ds, idx, NULL, &px);
    if (aug_index >= 0 && augment_on(&tr->desc.augment)) {
        wt_augment_image(px, tr->in_h, tr->in_w, &tr->desc.augment, tr->desc.seed, (uint64_t)aug_index, tr->aug);
        px = tr->aug;
    }
    wt_pixels_to_tensor(px, tr->in_elems, tr->pre.scale, tr->pre.offset, dst);
}

static int argmax(const float* x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* One AdaBN pass: batch bi of the images from the checkpoint (or the images) up to the job's node.
 * A batch norm job adds its input's sums; after the last batch the layer's moving statistics become
 * the population mean and (biased, over N*H*W) variance, which the later jobs' passes use. A
 * checkpoint job keeps the node's outputs, which later passes start from. */
static wt_status adabn_step(wt_trainer* tr, wt_train_progress* p) {
    int batch = tr->desc.batch_size;
    int n_batches = (tr->adabn_n + batch - 1) / batch;
    int job = tr->jobs[tr->adabn_done / n_batches], bi = tr->adabn_done % n_batches;
    wt_net* net = tr->net;
    int node = job > 0 ? job : -job;
    int c = net->nodes[node].c;
    size_t ck_floats = node_floats(&net->nodes[tr->ck]);
    if (bi == 0 && job > 0) {
        memset(tr->bn_sums, 0, (size_t)2 * c * sizeof(double));
        net->adabn_rows = 0.0;
    }
    if (bi == 0 && job < 0) {
        tr->ck_next = (float*)malloc((size_t)tr->adabn_n * node_floats(&net->nodes[node]) * sizeof(float));
        if (!tr->ck_next) return wt_fail(WT_ERR_OUT_OF_MEMORY, "AdaBN: out of memory");
    }
    int first = bi * batch;
    int n = tr->adabn_n - first < batch ? tr->adabn_n - first : batch;
    net->adabn_node = job > 0 ? node : 0;
    net->adabn_sums = tr->bn_sums;
    net->forward_last = node;
    wt_status st;
    if (tr->ck == 0) {
        for (int b = 0; b < n; b++) example_tensor(tr, tr->adabn_list[first + b], -1, tr->input + (size_t)b * tr->in_elems);
        st = wt_net_forward(net, tr->input, n, 0);
    } else {
        st = wt_net_forward_from(net, tr->ck, tr->ck_buf + (size_t)first * ck_floats, n, 0);
    }
    net->adabn_node = 0;
    net->adabn_sums = NULL;
    net->forward_last = 0;
    if (st) return st;
    if (job < 0) {
        size_t f = node_floats(&net->nodes[node]);
        memcpy(tr->ck_next + (size_t)first * f, net->nodes[node].out, (size_t)n * f * sizeof(float));
        if (bi == n_batches - 1) {
            free(tr->ck_buf);
            tr->ck_buf = tr->ck_next;
            tr->ck_next = NULL;
            tr->ck = node;
        }
    } else if (bi == n_batches - 1) {
        float *mean = NULL, *var = NULL;
        for (int i = 0; i < net->n_params; i++) {
            wt_param* q = &net->params[i];
            if (q->node != node) continue;
            if (q->kind == WT_PARAM_MOVING_MEAN) mean = q->data;
            if (q->kind == WT_PARAM_MOVING_VARIANCE) var = q->data;
        }
        if (!mean || !var) return wt_fail(WT_ERR_STATE, "AdaBN: batch norm '%s' has no moving statistics", net->nodes[node].name);
        double rows = net->adabn_rows;
        for (int ch = 0; ch < c; ch++) {
            double m = tr->bn_sums[ch] / rows; /* the mean's offset from the old mean */
            double v = tr->bn_sums[c + ch] / rows - m * m;
            mean[ch] = (float)(mean[ch] + m);
            var[ch] = (float)(v > 0.0 ? v : 0.0);
        }
        net->weights_version++; /* folded copies of this batch norm are stale */
    }
    tr->adabn_done++;
    tr->adabn_images_done += n;
    if (tr->adabn_done == tr->adabn_total) { /* the checkpoint outputs are no longer needed */
        free(tr->ck_buf);
        tr->ck_buf = NULL;
        tr->ck = 0;
    }
    memset(p, 0, sizeof *p);
    if (tr->adabn_after) {
        *p = tr->last;
        if (tr->adabn_done == tr->adabn_total) {
            tr->done = 1;
            p->phase = WT_PHASE_DONE;
            tr->last = *p;
        } else {
            p->phase = WT_PHASE_CACHE;
        }
    } else {
        p->phase = WT_PHASE_CACHE;
        p->epochs = tr->desc.epochs;
    }
    if (p->phase == WT_PHASE_CACHE) {
        p->cache_done = tr->adabn_images_done;
        p->cache_total = tr->n_jobs * tr->adabn_n + (tr->adabn_after ? 0 : tr->cache_total);
    }
    p->images = n;
    return WT_OK;
}

/* One batch of the embedding cache: training views first, then the validation images. */
static wt_status cache_step(wt_trainer* tr, wt_train_progress* p) {
    int batch = tr->desc.batch_size;
    int first = tr->cache_done;
    int n = tr->cache_total - first < batch ? tr->cache_total - first : batch;
    for (int b = 0; b < n; b++) {
        int slot = first + b;
        int idx;
        int64_t aug_index = -1;
        if (slot < tr->n_train * tr->views) {
            int i = slot / tr->views, v = slot % tr->views;
            idx = tr->train_idx[i];
            /* view 0 is the plain image unless every view is augmented */
            if (tr->views == 1 ? augment_on(&tr->desc.augment) : v > 0) aug_index = (int64_t)idx * 64 + v;
        } else {
            idx = tr->val_idx[slot - tr->n_train * tr->views];
        }
        example_tensor(tr, idx, aug_index, tr->input + (size_t)b * tr->in_elems);
    }
    wt_status st = wt_net_forward(tr->net, tr->input, n, 0);
    if (st) return st;
    const float* emb = tr->net->nodes[tr->embedding].out;
    memcpy(tr->cache + (size_t)first * tr->emb_dim, emb, (size_t)n * tr->emb_dim * sizeof(float));
    tr->cache_done += n;
    memset(p, 0, sizeof *p);
    p->phase = WT_PHASE_CACHE;
    p->cache_done = tr->n_jobs * tr->adabn_n + tr->cache_done;
    p->cache_total = tr->n_jobs * tr->adabn_n + tr->cache_total;
    p->images = n;
    return WT_OK;
}

/* Forward pass of examples list[0..n) (dataset indices) in inference mode; logits to tr->logits_buf.
 * For the head strategy `cache_rows` gives each one's cached embedding row. */
static wt_status infer_batch(wt_trainer* tr, const int* list, const int* cache_rows, int n) {
    wt_status st;
    if (tr->cache) {
        for (int b = 0; b < n; b++)
            memcpy(tr->input + (size_t)b * tr->emb_dim, tr->cache + (size_t)cache_rows[b] * tr->emb_dim,
                   (size_t)tr->emb_dim * sizeof(float));
        st = wt_net_forward_from(tr->net, tr->embedding, tr->input, n, 0);
    } else {
        for (int b = 0; b < n; b++) example_tensor(tr, list[b], -1, tr->input + (size_t)b * tr->in_elems);
        st = wt_net_forward(tr->net, tr->input, n, 0);
    }
    if (st) return st;
    memcpy(tr->logits_buf, tr->net->nodes[tr->logits].out, (size_t)n * tr->n_classes * sizeof(float));
    return WT_OK;
}

static wt_status validate(wt_trainer* tr, float* accuracy, float* loss) {
    if (tr->n_val == 0) {
        *accuracy = -1.0f;
        *loss = -1.0f;
        return WT_OK;
    }
    int batch = tr->desc.batch_size;
    int correct = 0;
    double loss_sum = 0.0;
    int rows[4096];
    for (int first = 0; first < tr->n_val; first += batch) {
        int n = tr->n_val - first < batch ? tr->n_val - first : batch;
        for (int b = 0; b < n; b++) {
            rows[b] = tr->n_train * tr->views + first + b;
            wt_dataset_get(tr->ds, tr->val_idx[first + b], &tr->labels[b], NULL);
        }
        wt_status st = infer_batch(tr, tr->val_idx + first, rows, n);
        if (st) return st;
        for (int b = 0; b < n; b++) {
            const float* z = tr->logits_buf + (size_t)b * tr->n_classes;
            if (argmax(z, tr->n_classes) == tr->labels[b]) correct++;
            loss_sum += wt_softmax_xent_ref(NULL, NULL, z, &tr->labels[b], 1, tr->n_classes, 0.0f, NULL);
        }
    }
    *accuracy = (float)correct / (float)tr->n_val;
    *loss = (float)(loss_sum / tr->n_val);
    return WT_OK;
}

/* Training is over: the best epoch's weights (with a validation split), then AdaBN on the
 * unlabelled target images if asked for. Returns 1 if AdaBN passes follow (the trainer is done after
 * them), 0 if the trainer is done. */
static int finish(wt_trainer* tr) {
    /* with a validation split, keep the weights of the best epoch (early stopping or not) */
    if (tr->have_best) snapshot_params(tr->net, tr->best_params, 1);
    if (tr->desc.adabn && tr->n_unl > 0) {
        adabn_begin(tr, tr->unl_idx, tr->n_unl);
        tr->adabn_after = 1;
        return 1;
    }
    tr->done = 1;
    return 0;
}

static wt_status train_step(wt_trainer* tr, wt_train_progress* p);

static int params_finite(const wt_net* net) {
    for (int i = 0; i < net->n_params; i++) {
        const wt_param* q = &net->params[i];
        if (net->nodes[q->node].trainable && !wt_all_finite(q->data, q->count)) return 0;
    }
    return 1;
}

wt_status wt_trainer_step(wt_trainer* tr, wt_train_progress* p) {
    if (!tr || !p) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_trainer_step: NULL argument");
    int epoch = tr->epoch, step = tr->step;
    wt_status st = train_step(tr, p);
    /* the weights may have blown up in an earlier step without a NaN loss yet: check at epoch ends */
    if (st == WT_OK && (p->phase == WT_PHASE_EPOCH || p->phase == WT_PHASE_DONE) && !tr->done) {
        if (params_finite(tr->net)) {
            snapshot_params(tr->net, tr->good_params, 0);
            tr->good_epoch = tr->epoch;
        } else {
            st = wt_fail(WT_ERR_NOT_FINITE, "weights became non-finite");
        }
    }
    if (st != WT_ERR_NOT_FINITE || tr->done) return st;
    char why[256];
    snprintf(why, sizeof why, "%s", wt_last_error());
    snapshot_params(tr->net, tr->good_params, 1);
    tr->have_best = 0; /* the restored weights are the result */
    if (tr->desc.rollback) {
        tr->done = 1;
        memset(p, 0, sizeof *p);
        *p = tr->last;
        p->phase = WT_PHASE_DONE;
        p->diverged = 1;
        p->epoch = tr->good_epoch > 0 ? tr->good_epoch - 1 : 0;
        p->epochs = tr->desc.epochs;
        tr->last = *p;
        return WT_OK;
    }
    return wt_fail(WT_ERR_NOT_FINITE,
                   "training diverged at epoch %d, step %d (%s): the learning rate %g is too high for this data; "
                   "the weights after epoch %d are restored",
                   epoch + 1, step + 1, why, tr->desc.learning_rate, tr->good_epoch);
}

static wt_status train_step(wt_trainer* tr, wt_train_progress* p) {
    if (tr->done) {
        *p = tr->last;
        p->phase = WT_PHASE_DONE;
        return WT_OK;
    }
    if (tr->adabn_done < tr->adabn_total) return adabn_step(tr, p);
    if (tr->cache && tr->cache_done < tr->cache_total) return cache_step(tr, p);

    wt_net* net = tr->net;
    int batch = tr->desc.batch_size;
    int n = tr->n_rows - tr->pos < batch ? tr->n_rows - tr->pos : batch;
    int rows[4096];
    int n_src = n;
    for (int b = 0; b < n; b++) {
        int r = tr->order[tr->pos + b];
        int i = tr->cache ? r / tr->views : r; /* index into train_idx */
        int idx = tr->train_idx[i];
        wt_dataset_get(tr->ds, idx, &tr->labels[b], NULL);
        if (tr->cache) {
            rows[b] = r;
            memcpy(tr->input + (size_t)b * tr->emb_dim, tr->cache + (size_t)rows[b] * tr->emb_dim,
                   (size_t)tr->emb_dim * sizeof(float));
        } else {
            /* a fresh augmentation per (epoch, example) */
            int64_t aug_index = ((int64_t)tr->epoch + 1) * 1000003 + idx;
            example_tensor(tr, idx, aug_index, tr->input + (size_t)b * tr->in_elems);
        }
    }
    int rows_in = n;
    if (tr->domain_first) {
        /* as many unlabelled target images after the labelled ones, cycling through them */
        for (int b = 0; b < n; b++) {
            int idx = tr->unl_idx[tr->unl_pos++ % tr->n_unl];
            int64_t aug_index = ((int64_t)tr->epoch + 1) * 1000003 + idx;
            example_tensor(tr, idx, aug_index, tr->input + (size_t)(n + b) * tr->in_elems);
        }
        rows_in = 2 * n;
        /* the reversal weight ramps up as 2/(1 + exp(-10 p)) - 1 over training (Ganin et al.) */
        float prog = (float)tr->step / (float)(tr->total_steps > 1 ? tr->total_steps - 1 : 1);
        net->nodes[tr->grl].desc.grl_lambda = tr->desc.domain_adaptation * (2.0f / (1.0f + expf(-10.0f * prog)) - 1.0f);
    }
    wt_net_zero_grad(net);
    wt_status st = tr->cache ? wt_net_forward_from(net, tr->embedding, tr->input, n, 1)
                             : wt_net_forward(net, tr->input, rows_in, 1);
    if (st) return st;
    float loss = 0.0f;
    if (tr->domain_first) {
        /* class loss on the labelled rows only; domain loss on all rows */
        int K = tr->n_classes;
        const float* zc = net->nodes[tr->logits].out;
        memset(tr->grad_buf, 0, (size_t)rows_in * K * sizeof(float));
        loss = wt_softmax_xent_ref(NULL, tr->grad_buf, zc, tr->labels, n_src, K, tr->desc.label_smoothing,
                                   tr->class_weights);
        if (!isfinite(loss)) return wt_fail(WT_ERR_NOT_FINITE, "wt_trainer_step: the loss is %g; lower the learning rate", loss);
        st = wt_net_add_output_grad(net, tr->logits, tr->grad_buf, (size_t)rows_in * K);
        if (st) return st;
        for (int b = 0; b < rows_in; b++) tr->domain_labels[b] = b >= n_src;
        memset(tr->grad_buf, 0, (size_t)rows_in * 2 * sizeof(float));
        float dloss = wt_softmax_xent_ref(NULL, tr->grad_buf, net->nodes[tr->domain_logits].out, tr->domain_labels,
                                          rows_in, 2, 0.0f, NULL);
        if (!isfinite(dloss)) return wt_fail(WT_ERR_NOT_FINITE, "wt_trainer_step: the domain loss is %g", dloss);
        st = wt_net_add_output_grad(net, tr->domain_logits, tr->grad_buf, (size_t)rows_in * 2);
        if (st) return st;
    } else {
        st = wt_net_softmax_xent(net, tr->logits, tr->labels, tr->desc.label_smoothing, tr->class_weights, &loss);
        if (st) return st;
    }
    int correct = 0;
    const float* z = net->nodes[tr->logits].out;
    for (int b = 0; b < n; b++)
        if (argmax(z + (size_t)b * tr->n_classes, tr->n_classes) == tr->labels[b]) correct++;
    st = wt_net_backward(net);
    if (st) return st;
    float lr = wt_schedule_lr(&tr->opt_desc, tr->step);
    st = wt_optimizer_step(tr->opt);
    if (st) return st;

    tr->step++;
    tr->pos += n;
    tr->epoch_loss_sum += (double)loss * n;
    tr->epoch_correct += correct;
    tr->epoch_seen += n;

    memset(p, 0, sizeof *p);
    p->phase = WT_PHASE_TRAIN;
    p->epoch = tr->epoch;
    p->epochs = tr->desc.epochs;
    p->step = tr->step;
    p->steps_per_epoch = tr->steps_per_epoch;
    p->total_steps = tr->total_steps;
    p->cache_done = tr->cache_done;
    p->cache_total = tr->cache_total;
    p->images = n;
    p->loss = loss;
    p->accuracy = (float)correct / (float)n;
    p->learning_rate = lr;
    p->n_train = tr->n_train;
    p->n_val = tr->n_val;
    p->val_accuracy = -1.0f;
    p->val_loss = -1.0f;
    p->best_val_accuracy = tr->best_val;
    p->best_epoch = tr->best_epoch;

    if (tr->pos >= tr->n_rows) { /* end of the epoch */
        float val_acc, val_loss;
        st = validate(tr, &val_acc, &val_loss);
        if (st) return st;
        p->phase = WT_PHASE_EPOCH;
        p->epoch_loss = (float)(tr->epoch_loss_sum / tr->epoch_seen);
        p->epoch_accuracy = (float)(tr->epoch_correct / tr->epoch_seen);
        p->val_accuracy = val_acc;
        p->val_loss = val_loss;
        int stop = 0;
        if (tr->n_val > 0) {
            /* a later epoch must be strictly better to replace the best weights */
            if (val_acc > tr->best_val) {
                tr->best_val = val_acc;
                tr->best_epoch = tr->epoch;
                tr->bad_epochs = 0;
                snapshot_params(net, tr->best_params, 0);
                tr->have_best = 1;
            } else if (++tr->bad_epochs >= tr->desc.early_stopping && tr->desc.early_stopping > 0) {
                stop = 1;
            }
        }
        p->best_val_accuracy = tr->best_val;
        p->best_epoch = tr->best_epoch;
        tr->epoch++;
        tr->pos = 0;
        tr->epoch_loss_sum = 0.0;
        tr->epoch_correct = 0;
        tr->epoch_seen = 0;
        shuffle(tr->order, tr->n_rows, tr->desc.seed, 1000 + (uint64_t)tr->epoch);
        /* the last epoch's step reports DONE, or EPOCH when AdaBN passes follow (the last of
         * them reports DONE) */
        if ((stop || tr->epoch >= tr->desc.epochs) && !finish(tr)) p->phase = WT_PHASE_DONE;
        tr->last = *p;
    }
    return WT_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* Head and prediction                                                                          */
/* ------------------------------------------------------------------------------------------- */

wt_status wt_net_add_classifier_head(wt_net* net, int embedding, int n_classes, float dropout_rate, int hidden,
                                     int normalize, int* logits_node) {
    static const char fn[] = "wt_net_add_classifier_head";
    if (!net || !logits_node) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    if (embedding < 0 || embedding >= net->n_nodes) return wt_fail(WT_ERR_NOT_FOUND, "%s: no node %d", fn, embedding);
    if (n_classes < 2 || n_classes > 65536)
        return wt_fail(WT_ERR_SHAPE, "%s: %d classes (a classifier needs 2..65536)", fn, n_classes);
    if (!(dropout_rate >= 0.0f && dropout_rate < 1.0f))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: dropout rate %g is not in [0, 1)", fn, dropout_rate);
    if (hidden < 0 || hidden > 65536) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: hidden units %d not in 0..65536", fn, hidden);
    if (normalize != 0 && normalize != 1) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: normalize must be 0 or 1, not %d", fn, normalize);
    int x = embedding;
    wt_status st;
    if (normalize) {
        st = wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_L2_NORMALIZE, .name = "head/l2_normalize", .input = x }, &x);
        if (st) return st;
    }
    if (dropout_rate > 0.0f) {
        st = wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_DROPOUT, .name = "head/dropout", .input = x,
                                               .dropout_rate = dropout_rate },
                        &x);
        if (st) return st;
    }
    if (hidden > 0) {
        st = wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "head/hidden", .input = x,
                                               .out_channels = hidden, .use_bias = 1 },
                        &x);
        if (!st) st = wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_RELU, .name = "head/relu", .input = x }, &x);
        if (st) return st;
    }
    st = wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "head/dense", .input = x,
                                           .out_channels = n_classes, .use_bias = 1 },
                    &x);
    if (st) return st;
    *logits_node = x;
    return WT_OK;
}

wt_status wt_net_predict_u8(wt_net* net, int logits_node, const wt_preprocess* pre, const uint8_t* rgb, int batch,
                            float* probs, size_t probs_count) {
    static const char fn[] = "wt_net_predict_u8";
    if (!net || !rgb || !probs) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    if (logits_node < 1 || logits_node >= net->n_nodes) return wt_fail(WT_ERR_NOT_FOUND, "%s: no node %d", fn, logits_node);
    if (!net->planned) return wt_fail(WT_ERR_STATE, "%s: plan the net first", fn);
    if (net->in_c != 3) return wt_fail(WT_ERR_SHAPE, "%s: the net's input is not RGB", fn);
    const wt_node* lg = &net->nodes[logits_node];
    int K = lg->h * lg->w * lg->c;
    if (batch < 1 || probs_count != (size_t)batch * K)
        return wt_fail(WT_ERR_SHAPE, "%s: %d images need %d x %d probabilities, not %zu", fn, batch, batch, K, probs_count);
    size_t in_elems = (size_t)net->in_h * net->in_w * 3;
    int chunk = batch < net->max_batch ? batch : net->max_batch;
    float* input = (float*)malloc((size_t)chunk * in_elems * sizeof(float));
    if (!input) return wt_fail(WT_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    float scale = pre ? pre->scale : 0.0f, offset = pre ? pre->offset : 0.0f;
    wt_status st = WT_OK;
    for (int first = 0; first < batch && !st; first += chunk) {
        int n = batch - first < chunk ? batch - first : chunk;
        st = wt_pixels_to_tensor(rgb + (size_t)first * in_elems, (size_t)n * in_elems, scale, offset, input);
        if (!st) st = wt_net_forward(net, input, n, 0);
        if (!st) {
            for (int b = 0; b < n; b++) {
                const float* z = lg->out + (size_t)b * K;
                float* pr = probs + (size_t)(first + b) * K;
                float mx = z[argmax(z, K)];
                double sum = 0.0;
                for (int k = 0; k < K; k++) sum += (pr[k] = expf(z[k] - mx));
                for (int k = 0; k < K; k++) pr[k] = (float)(pr[k] / sum);
            }
        }
    }
    free(input);
    return st;
}
