/* net.h: the network graph's internals, shared by net.c (graph, plan, forward, backward) and
 * optim.c (which walks the trainable parameters). Not part of the public API. */
#ifndef WT_NET_H
#define WT_NET_H

#include <stdint.h>

#include "ops.h"
#include "webtune.h"

struct wt_context {
    wt_pool* pool;
    int n_threads;
    uint64_t seed;
};

typedef struct wt_param {
    char* name;          /* "<layer>/<kind>" */
    int node;
    wt_param_kind kind;
    size_t count;
    int shape[4];
    int is_state;        /* moving statistics: changed by forward, never by optimizers */
    float* data;         /* owned, allocated when the layer is added */
    float* grad;         /* points into the net's gradient arena when planned and trainable */
} wt_param;

typedef struct wt_node {
    wt_layer_desc desc;  /* defaults filled in; desc.name points at name */
    char* name;
    int h, w, c;         /* output shape (batch excluded) */
    int pad_top, pad_left;
    int param_first, param_count;
    int trainable;
    float lr_scale;
    wt_bn_mode bn_mode;
    /* planned buffers (NULL until planned) */
    float* out;          /* [max_batch, h, w, c] */
    float* d_out;        /* gradient of the loss wrt out, only where backward needs it */
    float* save_mean;    /* batch norm: batch statistics of the last training forward */
    float* save_invstd;
    uint8_t* keep;       /* dropout mask of the last training forward */
    /* what the last forward pass did, so backward takes the matching path */
    int used_batch_stats;
    int used_dropout;
    int keep_output;     /* wt_net_keep_output: the output stays readable under memory saving */
    int out_shared;      /* planned: the output buffer is shared (not readable after the pass) */
    int in_place;        /* planned: the layer overwrites its input's buffer (memory saving) */
    int grad_zero_at;    /* planned: -1 = output and gradient buffers are the node's own; otherwise
                            they are shared, and the gradient is zeroed when backward reaches this node */
    /* planned: inference-mode folding (net.c, plan_folds). fold_span 2: this frozen convolution and the
     * frozen batch norm reading it run as one convolution with the batch norm folded into its weights
     * and bias; 3: the ReLU6 after them too, clamped as the convolution stores. 0: not folded. */
    int fold_span;
    float* fold_weight;
    float* fold_bias;
    uint64_t fold_version; /* the net's weights_version the folded copies were made from */
    int fold_ok;           /* 0: a folded value overflowed (huge weights); the layers run one by one */
} wt_node;

struct wt_net {
    wt_context* ctx;
    int in_h, in_w, in_c;
    wt_node* nodes;
    int n_nodes, cap_nodes;
    wt_param* params;
    int n_params, cap_params;
    /* plan */
    int planned;
    unsigned plan_generation; /* bumped by every plan: optimizers check it */
    int max_batch;
    void* act_arena;
    void* grad_arena;
    void* fold_arena;    /* folded weights and biases of inference-mode groups (net.c, plan_folds) */
    float* ws;
    size_t ws_floats;
    size_t planned_bytes;
    /* state of the current pass */
    int batch;           /* batch of the last forward pass, 0 if none */
    int forward_training;
    int grads_pending;   /* output gradients were set since the last forward */
    int grads_dirty;     /* unshared output gradients may be non-zero (see clear_output_grads) */
    int forward_from;    /* node the last pass started after (0: the input) */
    int save_memory;     /* wt_net_set_memory_saving */
    /* AdaBN, set by the trainer: > 0 makes forward passes stop at batch norm node adabn_node, which
     * adds its input's per-channel sums (shifted by its moving mean, for accuracy) to adabn_sums
     * ([2*c]: sum of x - mean, sum of (x - mean)^2) and the rows (N*H*W) to adabn_rows, instead of
     * computing its output. Every earlier layer runs in inference mode. forward_last > 0 stops
     * passes after that node too (the trainer keeps its output: an AdaBN checkpoint). */
    int adabn_node;
    int forward_last;
    double* adabn_sums;
    double adabn_rows;
    uint64_t forward_count;
    uint64_t weights_version; /* bumped whenever parameters change outside an optimizer step (writes,
                                 restores, AdaBN): folded copies older than it are remade */
};

#endif /* WT_NET_H */
