/* net.c: the network graph: layers, memory plan, forward and backward passes.
 *
 * Nodes are kept in the order they were added, which is a topological order (a layer can only name
 * existing nodes as inputs). The plan allocates one arena for activations and one for gradients;
 * forward and backward only index into them. Backward walks the nodes in reverse and calls each
 * layer's backward kernel, which accumulates into its input's gradient and its parameters'
 * gradients; gradients exist only for nodes at or above the lowest trainable layer. */
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "net.h"

#define ALIGN_FLOATS 16 /* 64-byte alignment for every planned buffer */

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

static char* str_dup(const char* s) {
    size_t n = strlen(s) + 1;
    char* p = (char*)malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static const char* layer_type_name(wt_layer_type t) {
    switch (t) {
    case WT_LAYER_CONV2D: return "conv2d";
    case WT_LAYER_DEPTHWISE: return "depthwise";
    case WT_LAYER_DENSE: return "dense";
    case WT_LAYER_BATCHNORM: return "batchnorm";
    case WT_LAYER_RELU: return "relu";
    case WT_LAYER_RELU6: return "relu6";
    case WT_LAYER_ADD: return "add";
    case WT_LAYER_GLOBAL_AVG_POOL: return "global_avg_pool";
    case WT_LAYER_DROPOUT: return "dropout";
    case WT_LAYER_GRAD_REVERSAL: return "grad_reversal";
    case WT_LAYER_L2_NORMALIZE: return "l2_normalize";
    case WT_LAYER_CONCAT: return "concat";
    }
    return "unknown";
}

static const char* param_kind_name(wt_param_kind k) {
    switch (k) {
    case WT_PARAM_WEIGHT: return "weight";
    case WT_PARAM_BIAS: return "bias";
    case WT_PARAM_GAMMA: return "gamma";
    case WT_PARAM_BETA: return "beta";
    case WT_PARAM_MOVING_MEAN: return "moving_mean";
    case WT_PARAM_MOVING_VARIANCE: return "moving_variance";
    }
    return "param";
}

static size_t node_elems(const wt_node* nd) { return (size_t)nd->h * nd->w * nd->c; }

/* A CONV2D that is really a pointwise GEMM: 1x1, stride 1, no padding. */
static int is_pointwise(const wt_node* nd) {
    return nd->desc.type == WT_LAYER_CONV2D && nd->desc.kernel_h == 1 && nd->desc.kernel_w == 1 &&
           nd->desc.stride == 1 && nd->pad_top == 0 && nd->pad_left == 0;
}

static wt_conv_dims conv_dims(const wt_net* net, const wt_node* nd, int batch) {
    const wt_node* in = &net->nodes[nd->desc.input];
    wt_conv_dims d = {
        .n = batch, .in_h = in->h, .in_w = in->w, .in_c = in->c,
        .out_h = nd->h, .out_w = nd->w, .out_c = nd->c,
        .k_h = nd->desc.kernel_h, .k_w = nd->desc.kernel_w, .stride = nd->desc.stride,
        .pad_top = nd->pad_top, .pad_left = nd->pad_left,
    };
    return d;
}

static wt_linear_dims linear_dims(const wt_net* net, const wt_node* nd, int batch) {
    const wt_node* in = &net->nodes[nd->desc.input];
    wt_linear_dims d = { .rows = batch * in->h * in->w, .in_c = in->c, .out_c = nd->c };
    return d;
}

static wt_param* node_param(wt_net* net, const wt_node* nd, wt_param_kind kind) {
    for (int i = 0; i < nd->param_count; i++) {
        wt_param* p = &net->params[nd->param_first + i];
        if (p->kind == kind) return p;
    }
    return NULL;
}

static float* param_data(wt_net* net, const wt_node* nd, wt_param_kind kind) {
    wt_param* p = node_param(net, nd, kind);
    return p ? p->data : NULL;
}

/* The parameter's gradient if the layer trains, else NULL (the kernel skips it). */
static float* param_grad(wt_net* net, const wt_node* nd, wt_param_kind kind) {
    wt_param* p = node_param(net, nd, kind);
    return (p && nd->trainable) ? p->grad : NULL;
}

/* ------------------------------------------------------------------------------------------- */
/* Building the graph                                                                           */
/* ------------------------------------------------------------------------------------------- */

static void free_plan(wt_net* net) {
    free(net->act_arena);
    free(net->grad_arena);
    free(net->fold_arena);
    net->act_arena = net->grad_arena = net->fold_arena = NULL;
    net->ws = NULL;
    net->ws_floats = 0;
    net->planned_bytes = 0;
    for (int i = 0; i < net->n_nodes; i++) {
        wt_node* nd = &net->nodes[i];
        nd->out = nd->d_out = nd->save_mean = nd->save_invstd = NULL;
        nd->keep = NULL;
        nd->fold_weight = nd->fold_bias = NULL; /* they point into fold_arena */
        nd->fold_span = 0;
    }
    for (int i = 0; i < net->n_params; i++) net->params[i].grad = NULL;
    net->planned = 0;
    net->batch = 0;
    net->grads_pending = 0;
    net->grads_dirty = 0; /* planning zeroes the arenas */
    net->forward_from = 0;
}

wt_status wt_net_create(wt_context* ctx, int in_h, int in_w, int in_c, wt_net** out) {
    if (!out) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_create: out is NULL");
    *out = NULL;
    if (!ctx) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_create: ctx is NULL");
    if (in_h <= 0 || in_w <= 0 || in_c <= 0 || in_h > 8192 || in_w > 8192 || in_c > 65536)
        return wt_fail(WT_ERR_SHAPE, "wt_net_create: input shape %dx%dx%d is not in 1..8192 x 1..8192 x 1..65536",
                       in_h, in_w, in_c);
    if ((uint64_t)in_h * in_w * in_c > ((uint64_t)1 << 28)) /* as every node's output (wt_net_add) */
        return wt_fail(WT_ERR_SHAPE, "wt_net_create: input %dx%dx%d is too large (more than 2^28 values)", in_h, in_w, in_c);
    wt_net* net = (wt_net*)calloc(1, sizeof *net);
    if (!net) return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_net_create: out of memory");
    net->ctx = ctx;
    net->in_h = in_h;
    net->in_w = in_w;
    net->in_c = in_c;
    net->cap_nodes = 16;
    net->nodes = (wt_node*)calloc((size_t)net->cap_nodes, sizeof(wt_node));
    if (!net->nodes) {
        free(net);
        return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_net_create: out of memory");
    }
    wt_node* input = &net->nodes[0];
    input->name = str_dup("input");
    if (!input->name) {
        free(net->nodes);
        free(net);
        return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_net_create: out of memory");
    }
    input->desc.name = input->name;
    input->h = in_h;
    input->w = in_w;
    input->c = in_c;
    input->lr_scale = 1.0f;
    net->n_nodes = 1;
    *out = net;
    return WT_OK;
}

void wt_net_destroy(wt_net* net) {
    if (!net) return;
    free_plan(net);
    for (int i = 0; i < net->n_nodes; i++) free(net->nodes[i].name);
    for (int i = 0; i < net->n_params; i++) {
        free(net->params[i].name);
        free(net->params[i].data);
    }
    free(net->nodes);
    free(net->params);
    free(net);
}

wt_status wt_net_truncate(wt_net* net, int last_node) {
    if (!net) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_truncate: net is NULL");
    if (last_node < 0 || last_node >= net->n_nodes)
        return wt_fail(WT_ERR_NOT_FOUND, "wt_net_truncate: no node %d (the net has %d)", last_node, net->n_nodes);
    free_plan(net);
    /* parameters are stored in node order, so the removed ones are a suffix */
    int keep = net->n_params;
    while (keep > 0 && net->params[keep - 1].node > last_node) keep--;
    for (int i = keep; i < net->n_params; i++) {
        free(net->params[i].name);
        free(net->params[i].data);
    }
    net->n_params = keep;
    for (int i = last_node + 1; i < net->n_nodes; i++) free(net->nodes[i].name);
    net->n_nodes = last_node + 1;
    return WT_OK;
}

int wt_net_node_count(const wt_net* net) { return net ? net->n_nodes : 0; }

static wt_status check_node(const wt_net* net, int node, const char* fn) {
    if (!net) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: net is NULL", fn);
    if (node < 0 || node >= net->n_nodes)
        return wt_fail(WT_ERR_NOT_FOUND, "%s: node %d does not exist (the net has %d nodes)", fn, node,
                       net->n_nodes);
    return WT_OK;
}

wt_status wt_net_node_shape(const wt_net* net, int node, int* h, int* w, int* c) {
    wt_status st = check_node(net, node, "wt_net_node_shape");
    if (st) return st;
    const wt_node* nd = &net->nodes[node];
    if (h) *h = nd->h;
    if (w) *w = nd->w;
    if (c) *c = nd->c;
    return WT_OK;
}

wt_status wt_net_node_desc(const wt_net* net, int node, wt_layer_desc* desc) {
    wt_status st = check_node(net, node, "wt_net_node_desc");
    if (st) return st;
    if (!desc) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_node_desc: desc is NULL");
    *desc = net->nodes[node].desc;
    return WT_OK;
}

wt_status wt_net_node_state(const wt_net* net, int node, int* trainable, float* lr_scale, wt_bn_mode* bn_mode) {
    wt_status st = check_node(net, node, "wt_net_node_state");
    if (st) return st;
    const wt_node* nd = &net->nodes[node];
    if (trainable) *trainable = nd->trainable;
    if (lr_scale) *lr_scale = nd->lr_scale;
    if (bn_mode) *bn_mode = nd->bn_mode;
    return WT_OK;
}

wt_status wt_net_find_node(const wt_net* net, const char* name, int* out_node) {
    if (!net || !name || !out_node)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_find_node: NULL argument");
    for (int i = 0; i < net->n_nodes; i++) {
        if (strcmp(net->nodes[i].name, name) == 0) {
            *out_node = i;
            return WT_OK;
        }
    }
    return wt_fail(WT_ERR_NOT_FOUND, "wt_net_find_node: no layer named '%s'", name);
}

/* Output size and leading pad of a convolution along one axis. */
static wt_status conv_axis(const wt_layer_desc* d, int in, int k, int pad_before, int pad_after,
                           int* out, int* pad_lead) {
    int s = d->stride;
    switch (d->padding) {
    case WT_PAD_SAME: {
        int o = (in + s - 1) / s;
        int total = (o - 1) * s + k - in;
        if (total < 0) total = 0;
        *out = o;
        *pad_lead = total / 2;
        return WT_OK;
    }
    case WT_PAD_VALID:
        if (in < k) return WT_ERR_SHAPE;
        *out = (in - k) / s + 1;
        *pad_lead = 0;
        return WT_OK;
    case WT_PAD_EXPLICIT:
        if (pad_before < 0 || pad_after < 0 || pad_before >= k || pad_after >= k) return WT_ERR_SHAPE;
        if (in + pad_before + pad_after < k) return WT_ERR_SHAPE;
        *out = (in + pad_before + pad_after - k) / s + 1;
        *pad_lead = pad_before;
        return WT_OK;
    }
    return WT_ERR_INVALID_ARGUMENT;
}

static wt_status add_param(wt_net* net, wt_node* nd, wt_param_kind kind, int s0, int s1, int s2, int s3) {
    if (net->n_params == net->cap_params) {
        int cap = net->cap_params ? net->cap_params * 2 : 32;
        wt_param* p = (wt_param*)realloc(net->params, (size_t)cap * sizeof *p);
        if (!p) return WT_ERR_OUT_OF_MEMORY;
        net->params = p;
        net->cap_params = cap;
    }
    wt_param* p = &net->params[net->n_params];
    memset(p, 0, sizeof *p);
    p->node = (int)(nd - net->nodes);
    p->kind = kind;
    p->shape[0] = s0;
    p->shape[1] = s1;
    p->shape[2] = s2;
    p->shape[3] = s3;
    p->count = (size_t)s0 * s1 * s2 * s3;
    p->is_state = kind == WT_PARAM_MOVING_MEAN || kind == WT_PARAM_MOVING_VARIANCE;
    size_t name_len = strlen(nd->name) + 24;
    p->name = (char*)malloc(name_len);
    p->data = (float*)malloc(p->count * sizeof(float));
    if (!p->name || !p->data) {
        free(p->name);
        free(p->data);
        return WT_ERR_OUT_OF_MEMORY;
    }
    snprintf(p->name, name_len, "%s/%s", nd->name, param_kind_name(kind));
    if (nd->param_count == 0) nd->param_first = net->n_params;
    nd->param_count++;
    net->n_params++;
    return WT_OK;
}

/* Keras' default initialisers: glorot_uniform kernels (fans from the last two dims times the
 * receptive field), zero biases/beta/mean, unit gamma/variance. */
static void init_param(const wt_net* net, wt_param* p) {
    float value = 0.0f;
    switch (p->kind) {
    case WT_PARAM_WEIGHT: {
        /* shape is [kh, kw, in, out] (dense: [1, 1, in, out]; depthwise: [kh, kw, c, 1]) */
        double receptive = (double)p->shape[0] * p->shape[1];
        double fan_in = receptive * p->shape[2], fan_out = receptive * p->shape[3];
        float limit = (float)sqrt(6.0 / (fan_in + fan_out));
        uint64_t seed = wt_hash64(net->ctx->seed, 0x5eedULL + (uint64_t)p->node);
        for (size_t i = 0; i < p->count; i++) p->data[i] = (2.0f * wt_uniform(seed, i) - 1.0f) * limit;
        return;
    }
    case WT_PARAM_GAMMA:
    case WT_PARAM_MOVING_VARIANCE: value = 1.0f; break;
    default: value = 0.0f; break;
    }
    for (size_t i = 0; i < p->count; i++) p->data[i] = value;
}

wt_status wt_net_add(wt_net* net, const wt_layer_desc* desc, int* out_node) {
    if (!net || !desc || !out_node) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_add: NULL argument");
    *out_node = -1;
    wt_layer_desc d = *desc;
    const char* tname = layer_type_name(d.type);
    if (d.type < WT_LAYER_CONV2D || d.type > WT_LAYER_CONCAT)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_add: unknown layer type %d", (int)d.type);
    if (d.input < 0 || d.input >= net->n_nodes)
        return wt_fail(WT_ERR_NOT_FOUND, "wt_net_add: %s input node %d does not exist", tname, d.input);
    if (wt_layer_has_input2(d.type) && (d.input2 < 0 || d.input2 >= net->n_nodes))
        return wt_fail(WT_ERR_NOT_FOUND, "wt_net_add: %s input2 node %d does not exist", tname, d.input2);
    if (d.name && (d.name[0] == '\0' || strlen(d.name) > 200))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_add: a layer name must be 1..200 characters");
    if (d.name) {
        for (int i = 0; i < net->n_nodes; i++)
            if (strcmp(net->nodes[i].name, d.name) == 0)
                return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_add: a layer named '%s' already exists", d.name);
    }
    /* defaults */
    if (d.kernel_h == 0) d.kernel_h = 3;
    if (d.kernel_w == 0) d.kernel_w = 3;
    if (d.stride == 0) d.stride = 1;
    if (d.bn_epsilon == 0.0f) d.bn_epsilon = 1e-3f;
    if (d.bn_momentum == 0.0f) d.bn_momentum = 0.99f;

    const wt_node* in = &net->nodes[d.input]; /* re-taken if the node array moves */
    int h = in->h, w = in->w, c = in->c, pad_top = 0, pad_left = 0;
    switch (d.type) {
    case WT_LAYER_CONV2D:
    case WT_LAYER_DEPTHWISE: {
        if (d.kernel_h < 1 || d.kernel_w < 1 || d.kernel_h > 15 || d.kernel_w > 15)
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_add: %s kernel %dx%d is not in 1..15", tname,
                           d.kernel_h, d.kernel_w);
        if (d.stride < 1 || d.stride > 8)
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_add: %s stride %d is not in 1..8", tname, d.stride);
        if (d.padding < WT_PAD_SAME || d.padding > WT_PAD_EXPLICIT)
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_add: %s padding %d is unknown", tname, (int)d.padding);
        if (conv_axis(&d, in->h, d.kernel_h, d.pad_top, d.pad_bottom, &h, &pad_top) ||
            conv_axis(&d, in->w, d.kernel_w, d.pad_left, d.pad_right, &w, &pad_left))
            return wt_fail(WT_ERR_SHAPE,
                           "wt_net_add: %s kernel %dx%d with these pads does not fit input %dx%d "
                           "(explicit pads must be in 0..k-1)",
                           tname, d.kernel_h, d.kernel_w, in->h, in->w);
        if (d.type == WT_LAYER_CONV2D) {
            if (d.out_channels < 1 || d.out_channels > 65536)
                return wt_fail(WT_ERR_SHAPE, "wt_net_add: conv2d out_channels %d is not in 1..65536", d.out_channels);
            c = d.out_channels;
        }
        break;
    }
    case WT_LAYER_DENSE:
        if (d.out_channels < 1 || d.out_channels > 65536)
            return wt_fail(WT_ERR_SHAPE, "wt_net_add: dense out_channels %d is not in 1..65536", d.out_channels);
        c = d.out_channels;
        break;
    case WT_LAYER_ADD: {
        const wt_node* in2 = &net->nodes[d.input2];
        if (in2->h != in->h || in2->w != in->w || in2->c != in->c)
            return wt_fail(WT_ERR_SHAPE, "wt_net_add: add inputs differ: %dx%dx%d vs %dx%dx%d", in->h, in->w,
                           in->c, in2->h, in2->w, in2->c);
        break;
    }
    case WT_LAYER_CONCAT: {
        const wt_node* in2 = &net->nodes[d.input2];
        if (in2->h != in->h || in2->w != in->w)
            return wt_fail(WT_ERR_SHAPE, "wt_net_add: concat inputs differ in size: %dx%d vs %dx%d", in->h, in->w,
                           in2->h, in2->w);
        if (in->c + in2->c > 65536)
            return wt_fail(WT_ERR_SHAPE, "wt_net_add: concat of %d and %d channels is over 65536", in->c, in2->c);
        c = in->c + in2->c;
        break;
    }
    case WT_LAYER_GLOBAL_AVG_POOL: h = w = 1; break;
    case WT_LAYER_DROPOUT:
        if (!(d.dropout_rate >= 0.0f && d.dropout_rate < 1.0f))
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_add: dropout rate %g is not in [0, 1)", d.dropout_rate);
        break;
    case WT_LAYER_BATCHNORM:
        if (!(d.bn_epsilon > 0.0f) || !(d.bn_momentum >= 0.0f && d.bn_momentum <= 1.0f))
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_add: batchnorm needs epsilon > 0, momentum in [0,1]");
        if (d.bn_mode != WT_BN_FROZEN && d.bn_mode != WT_BN_BATCH_STATS)
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_add: batchnorm mode %d is unknown", (int)d.bn_mode);
        break;
    case WT_LAYER_GRAD_REVERSAL:
        if (!isfinite(d.grl_lambda))
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_add: grad reversal lambda is not finite");
        break;
    default: break;
    }
    /* 64-bit products: size_t is 32 bits in wasm */
    if ((uint64_t)h * w * c > ((uint64_t)1 << 28))
        return wt_fail(WT_ERR_SHAPE, "wt_net_add: %s output %dx%dx%d is too large", tname, h, w, c);
    if (d.type == WT_LAYER_CONV2D || d.type == WT_LAYER_DENSE) {
        uint64_t kh = d.type == WT_LAYER_DENSE ? 1 : (uint64_t)d.kernel_h;
        uint64_t kw = d.type == WT_LAYER_DENSE ? 1 : (uint64_t)d.kernel_w;
        if (kh * kw * (uint64_t)in->c * (uint64_t)c > ((uint64_t)1 << 28))
            return wt_fail(WT_ERR_SHAPE, "wt_net_add: %s weight of %llux%llux%dx%d is too large", tname,
                           (unsigned long long)kh, (unsigned long long)kw, in->c, c);
    }

    if (net->n_nodes == net->cap_nodes) {
        int cap = net->cap_nodes * 2;
        wt_node* nodes = (wt_node*)realloc(net->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_net_add: out of memory");
        net->nodes = nodes;
        net->cap_nodes = cap;
        in = &net->nodes[d.input]; /* the array moved */
        /* desc.name points at the node's own heap string, so moving nodes keeps it valid */
    }
    int id = net->n_nodes;
    wt_node* nd = &net->nodes[id];
    memset(nd, 0, sizeof *nd);
    char auto_name[64];
    if (!d.name) {
        snprintf(auto_name, sizeof auto_name, "%s_%d", tname, id);
        d.name = auto_name;
    }
    nd->name = str_dup(d.name);
    if (!nd->name) return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_net_add: out of memory");
    d.name = nd->name;
    nd->desc = d;
    nd->h = h;
    nd->w = w;
    nd->c = c;
    nd->pad_top = pad_top;
    nd->pad_left = pad_left;
    nd->trainable = 1;
    nd->lr_scale = 1.0f;
    nd->bn_mode = d.bn_mode;
    net->n_nodes++; /* from here on the node exists; params are added to it */

    int first_param = net->n_params;
    wt_status st = WT_OK;
    switch (d.type) {
    case WT_LAYER_CONV2D:
        st = add_param(net, nd, WT_PARAM_WEIGHT, d.kernel_h, d.kernel_w, in->c, c);
        if (!st && d.use_bias) st = add_param(net, nd, WT_PARAM_BIAS, c, 1, 1, 1);
        break;
    case WT_LAYER_DEPTHWISE:
        st = add_param(net, nd, WT_PARAM_WEIGHT, d.kernel_h, d.kernel_w, c, 1);
        if (!st && d.use_bias) st = add_param(net, nd, WT_PARAM_BIAS, c, 1, 1, 1);
        break;
    case WT_LAYER_DENSE:
        st = add_param(net, nd, WT_PARAM_WEIGHT, 1, 1, in->c, c);
        if (!st && d.use_bias) st = add_param(net, nd, WT_PARAM_BIAS, c, 1, 1, 1);
        break;
    case WT_LAYER_BATCHNORM:
        st = add_param(net, nd, WT_PARAM_GAMMA, c, 1, 1, 1);
        if (!st) st = add_param(net, nd, WT_PARAM_BETA, c, 1, 1, 1);
        if (!st) st = add_param(net, nd, WT_PARAM_MOVING_MEAN, c, 1, 1, 1);
        if (!st) st = add_param(net, nd, WT_PARAM_MOVING_VARIANCE, c, 1, 1, 1);
        break;
    default: break;
    }
    if (st) {
        /* roll back this node and its params */
        for (int i = first_param; i < net->n_params; i++) {
            free(net->params[i].name);
            free(net->params[i].data);
        }
        net->n_params = first_param;
        free(nd->name);
        net->n_nodes--;
        return wt_fail(st, "wt_net_add: out of memory");
    }
    for (int i = first_param; i < net->n_params; i++) init_param(net, &net->params[i]);
    if (net->planned) free_plan(net);
    *out_node = id;
    return WT_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* Planning                                                                                     */
/* ------------------------------------------------------------------------------------------- */

static int has_trainable_params(const wt_net* net, const wt_node* nd) {
    if (!nd->trainable) return 0;
    for (int i = 0; i < nd->param_count; i++)
        if (!net->params[nd->param_first + i].is_state) return 1;
    return 0;
}

/* needs_grad[i]: node i's output gradient is needed (it or something below it trains). */
static void mark_needs_grad(const wt_net* net, char* needs_grad) {
    needs_grad[0] = 0; /* the network input never needs a gradient */
    for (int i = 1; i < net->n_nodes; i++) {
        const wt_node* nd = &net->nodes[i];
        int need = has_trainable_params(net, nd) || needs_grad[nd->desc.input];
        if (wt_layer_has_input2(nd->desc.type) && needs_grad[nd->desc.input2]) need = 1;
        needs_grad[i] = (char)need;
    }
}

static size_t node_workspace_floats(const wt_net* net, const wt_node* nd, int batch) {
    switch (nd->desc.type) {
    case WT_LAYER_CONV2D:
        if (is_pointwise(nd)) {
            wt_linear_dims ld = linear_dims(net, nd, batch);
            return wt_linear_workspace_floats(&ld);
        } else {
            wt_conv_dims cd = conv_dims(net, nd, batch);
            return wt_conv2d_workspace_floats(&cd);
        }
    case WT_LAYER_DEPTHWISE: {
        wt_conv_dims cd = conv_dims(net, nd, batch);
        return wt_depthwise_workspace_floats(&cd);
    }
    case WT_LAYER_DENSE: {
        wt_linear_dims ld = linear_dims(net, nd, batch);
        return wt_linear_workspace_floats(&ld);
    }
    default: return 0;
    }
}

/* A buffer the planner places: `bytes` long, alive over node times [first, last]. Sizes are 64-bit
 * so that a plan too large for a 32-bit size_t (wasm) is refused rather than wrapped around. */
typedef struct plan_buf {
    uint64_t bytes;
    int first, last;
    uint64_t offset;
} plan_buf;

static uint64_t round_up64(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

/* The largest activation a plan may hold, in floats: its byte size must fit a size_t several times
 * over (wasm's is 32-bit) and its row count an int (the kernels index rows with int). */
#define PLAN_MAX_BUFFER_FLOATS \
    ((uint64_t)SIZE_MAX / 16 < (uint64_t)INT_MAX ? (uint64_t)SIZE_MAX / 16 : (uint64_t)INT_MAX)

static int by_size_desc(const void* a, const void* b) {
    const plan_buf* x = *(plan_buf* const*)a;
    const plan_buf* y = *(plan_buf* const*)b;
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* Greedy offset assignment (largest first, lowest free address among buffers alive at the same
 * time), the scheme of TFLite's arena planner. Returns the arena size. */
static uint64_t place_buffers(plan_buf* bufs, int n) {
    if (n == 0) return 0;
    plan_buf** order = (plan_buf**)malloc((size_t)n * sizeof(*order));
    plan_buf** placed = (plan_buf**)malloc((size_t)n * sizeof(*placed));
    if (!order || !placed) {
        free(order);
        free(placed);
        return UINT64_MAX;
    }
    for (int i = 0; i < n; i++) order[i] = &bufs[i];
    qsort(order, (size_t)n, sizeof(*order), by_size_desc);
    uint64_t total = 0;
    int n_placed = 0;
    for (int k = 0; k < n; k++) {
        plan_buf* b = order[k];
        uint64_t offset = 0;
        for (int again = 1; again;) { /* move past every time-overlapping buffer in the way */
            again = 0;
            for (int j = 0; j < n_placed; j++) {
                const plan_buf* o = placed[j];
                if (o->last < b->first || o->first > b->last) continue;
                if (offset < o->offset + o->bytes && o->offset < offset + b->bytes) {
                    offset = o->offset + o->bytes;
                    again = 1;
                }
            }
        }
        b->offset = offset;
        placed[n_placed++] = b;
        if (offset + b->bytes > total) total = offset + b->bytes;
    }
    free(order);
    free(placed);
    return total;
}

/* Inference-mode folding (the XNNPACK / TFLite converter rewrite, done at plan time): a convolution
 * whose output only a batch norm reads, neither of them trained nor below anything trained
 * (!needs_grad), runs as one convolution with the batch norm folded into its weights and bias; when
 * only a ReLU6 reads the batch norm, the convolution clamps as it stores too. That saves the batch
 * norm's and the ReLU6's passes over memory, which on the small MobileNets cost as much as the
 * depthwise convolutions and scale worst over threads (bandwidth-bound). Only under memory saving,
 * where the skipped outputs are not readable anyway, and never for kept outputs. readers[i] counts
 * the nodes that read node i. Marks the groups and returns the floats their folded copies need
 * (placed in fold_arena by the caller, filled on first use by fold_weights). */
static uint64_t plan_folds(wt_net* net, const char* needs_grad, const int* readers) {
    uint64_t floats = 0;
    for (int i = 0; i < net->n_nodes; i++) net->nodes[i].fold_span = 0;
    if (!net->save_memory) return 0;
    int n = net->n_nodes;
    for (int i = 1; i + 1 < n; i++) {
        wt_node* nd = &net->nodes[i];
        const wt_node* bn = nd + 1;
        if ((nd->desc.type != WT_LAYER_CONV2D && nd->desc.type != WT_LAYER_DEPTHWISE) || needs_grad[i] ||
            nd->keep_output || readers[i] != 1 || bn->desc.type != WT_LAYER_BATCHNORM || bn->desc.input != i ||
            needs_grad[i + 1] || bn->trainable)
            continue;
        const wt_param* w = node_param(net, nd, WT_PARAM_WEIGHT);
        if (!w) continue;
        int span = 2;
        if (i + 2 < n && nd[2].desc.type == WT_LAYER_RELU6 && nd[2].desc.input == i + 1 && readers[i + 1] == 1 &&
            !bn->keep_output)
            span = 3;
        nd->fold_span = span;
        nd->fold_version = net->weights_version - 1; /* stale: filled on first use */
        nd->out_shared = 1;
        if (span == 3) net->nodes[i + 1].out_shared = 1;
        floats += round_up64(w->count, ALIGN_FLOATS) + round_up64((uint64_t)nd->c, ALIGN_FLOATS);
        i += span - 1;
    }
    return floats;
}

/* Fills a folded group's weights and bias from the convolution's and the batch norm's current
 * parameters: w' = w * s, b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps), per output
 * channel (the last axis of every convolution weight layout here), in double. Folded values beyond
 * FOLD_MAX (real nets stay below ~1e3; weights that blew up in a diverged training run do not) or
 * not finite leave the group unfolded: scaling before the sum instead of after it would overflow
 * such weights into inf - inf = NaN where the layers run one by one stay finite. */
#define FOLD_MAX 1e20f
static void fold_weights(wt_net* net, wt_node* nd) {
    const wt_node* bn = nd + 1;
    const wt_param* wp = node_param(net, nd, WT_PARAM_WEIGHT);
    const float* bias = param_data(net, nd, WT_PARAM_BIAS);
    const float* gamma = param_data(net, bn, WT_PARAM_GAMMA);
    const float* beta = param_data(net, bn, WT_PARAM_BETA);
    const float* mean = param_data(net, bn, WT_PARAM_MOVING_MEAN);
    const float* var = param_data(net, bn, WT_PARAM_MOVING_VARIANCE);
    const size_t c = (size_t)nd->c;
    int finite = 1;
    for (size_t o = 0; o < c; o++) {
        const double scale = (double)gamma[o] / sqrt((double)var[o] + bn->desc.bn_epsilon);
        nd->fold_bias[o] = (float)(((bias ? (double)bias[o] : 0.0) - mean[o]) * scale + beta[o]);
        finite &= fabsf(nd->fold_bias[o]) <= FOLD_MAX;
        for (size_t k = o; k < wp->count; k += c) {
            nd->fold_weight[k] = (float)(wp->data[k] * scale);
            finite &= fabsf(nd->fold_weight[k]) <= FOLD_MAX;
        }
    }
    nd->fold_ok = finite;
    nd->fold_version = net->weights_version;
}

wt_status wt_net_plan(wt_net* net, int max_batch) {
    if (!net) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_plan: net is NULL");
    if (max_batch < 1 || max_batch > 65536)
        return wt_fail(WT_ERR_SHAPE, "wt_net_plan: max_batch %d is not in 1..65536", max_batch);
    for (int i = 0; i < net->n_nodes; i++) {
        const wt_node* nd = &net->nodes[i];
        uint64_t floats = (uint64_t)max_batch * node_elems(nd);
        if (floats > PLAN_MAX_BUFFER_FLOATS)
            return wt_fail(WT_ERR_OUT_OF_MEMORY,
                           "wt_net_plan: batch %d of node %d (%dx%dx%d) is %llu MB, more than one buffer can hold "
                           "here; try a smaller batch",
                           max_batch, i, nd->h, nd->w, nd->c, (unsigned long long)((floats * 4) >> 20));
    }
    free_plan(net);
    int n = net->n_nodes;

    char* needs_grad = (char*)calloc((size_t)n, 1);
    int* last_use = (int*)malloc((size_t)n * sizeof(int));
    plan_buf* act_bufs = (plan_buf*)calloc((size_t)n, sizeof(plan_buf));
    plan_buf* grad_bufs = (plan_buf*)calloc((size_t)n, sizeof(plan_buf));
    int* grad_slot = (int*)malloc((size_t)n * sizeof(int));
    if (!needs_grad || !last_use || !act_bufs || !grad_bufs || !grad_slot) {
        free(needs_grad);
        free(last_use);
        free(act_bufs);
        free(grad_bufs);
        free(grad_slot);
        return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_net_plan: out of memory");
    }
    mark_needs_grad(net, needs_grad);

    /* Lifetimes in node order. A node's output lives until its last reader; it stays for good if
     * memory saving is off, if it is kept (wt_net_keep_output), if nothing reads it (an output of
     * the net), or if a reader's backward pass needs it (every layer that back-propagates reads
     * its input). Its gradient lives from its last reader's backward down to its own. */
    for (int i = 0; i < n; i++) last_use[i] = i;
    char* persist = (char*)calloc((size_t)n, 1);
    if (!persist) {
        free(needs_grad);
        free(last_use);
        free(act_bufs);
        free(grad_bufs);
        free(grad_slot);
        return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_net_plan: out of memory");
    }
    for (int j = 1; j < n; j++) {
        const wt_node* nd = &net->nodes[j];
        int ins[2] = { nd->desc.input, wt_layer_has_input2(nd->desc.type) ? nd->desc.input2 : -1 };
        for (int k = 0; k < 2; k++) {
            if (ins[k] < 0) continue;
            if (j > last_use[ins[k]]) last_use[ins[k]] = j;
            if (needs_grad[j]) persist[ins[k]] = 1;
        }
    }
    for (int i = 0; i < n; i++) {
        wt_node* nd = &net->nodes[i];
        int own = !net->save_memory || nd->keep_output || last_use[i] == i;
        if (own) persist[i] = 1;
        nd->out_shared = !persist[i];
        nd->grad_zero_at = own ? -1 : last_use[i];
    }
    /* In place (memory saving only): a ReLU/ReLU6, or a batch norm that always uses its stored
     * statistics, overwrites its input when it is that input's only reader. ReLU's backward mask is
     * the same from its output; such a batch norm back-propagates from its output
     * (wt_batchnorm_backward_frozen_out). So conv -> BN -> ReLU6 needs one buffer, not three. */
    int* owner = last_use; /* reused: last_use is folded into `end` below */
    int* end = (int*)malloc((size_t)n * sizeof(int));
    int* readers = (int*)calloc((size_t)n, sizeof(int));
    if (!end || !readers) {
        free(end);
        free(readers);
        free(persist);
        free(needs_grad);
        free(last_use);
        free(act_bufs);
        free(grad_bufs);
        free(grad_slot);
        return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_net_plan: out of memory");
    }
    for (int j = 1; j < n; j++) {
        const wt_node* nd = &net->nodes[j];
        readers[nd->desc.input]++;
        if (wt_layer_has_input2(nd->desc.type)) readers[nd->desc.input2]++;
    }
    for (int i = 0; i < n; i++) end[i] = persist[i] ? n : last_use[i];
    for (int j = 0; j < n; j++) {
        wt_node* nd = &net->nodes[j];
        nd->in_place = 0;
        owner[j] = j;
        if (j == 0 || !net->save_memory) continue;
        int i = nd->desc.input;
        int kind_ok = nd->desc.type == WT_LAYER_RELU || nd->desc.type == WT_LAYER_RELU6 ||
                      (nd->desc.type == WT_LAYER_BATCHNORM && (!nd->trainable || nd->bn_mode == WT_BN_FROZEN));
        if (kind_ok && i != 0 && readers[i] == 1 && !net->nodes[i].keep_output) {
            nd->in_place = 1;
            owner[j] = owner[i];
            net->nodes[i].out_shared = 1; /* overwritten */
        }
    }
    for (int j = n - 1; j >= 0; j--)
        if (owner[j] != j && end[j] > end[owner[j]]) end[owner[j]] = end[j];
    const uint64_t fold_floats = plan_folds(net, needs_grad, readers);
    free(readers);

    /* Sizes first (in bytes, each buffer rounded up for alignment), then placement, then one
     * allocation per role. */
    uint64_t small = 0, param_grads = 0, ws = 0, mask_bytes = 0;
    int n_grad = 0;
    for (int i = 0; i < n; i++) {
        const wt_node* nd = &net->nodes[i];
        uint64_t floats = (uint64_t)max_batch * node_elems(nd); /* <= PLAN_MAX_BUFFER_FLOATS, checked above */
        uint64_t bytes = round_up64(floats, ALIGN_FLOATS) * sizeof(float);
        act_bufs[i] = (plan_buf){ owner[i] == i ? bytes : 0, i, end[i], 0 };
        grad_slot[i] = -1;
        if (needs_grad[i]) {
            grad_bufs[n_grad] = (plan_buf){ bytes, i, nd->grad_zero_at < 0 ? n : nd->grad_zero_at, 0 };
            grad_slot[i] = n_grad++;
        }
        if (nd->desc.type == WT_LAYER_BATCHNORM) small += 2 * round_up64((uint64_t)nd->c, ALIGN_FLOATS);
        if (nd->desc.type == WT_LAYER_DROPOUT) mask_bytes += round_up64(floats, 64);
        uint64_t w = node_workspace_floats(net, nd, max_batch);
        if (w > ws) ws = w;
    }
    for (int i = 0; i < net->n_params; i++) {
        const wt_param* p = &net->params[i];
        if (!p->is_state && has_trainable_params(net, &net->nodes[p->node]))
            param_grads += round_up64(p->count, ALIGN_FLOATS);
    }
    ws = round_up64(ws, ALIGN_FLOATS);
    uint64_t act_pool = place_buffers(act_bufs, n);
    uint64_t grad_pool = place_buffers(grad_bufs, n_grad);
    for (int i = 0; i < n; i++) act_bufs[i].offset = act_bufs[owner[i]].offset;
    free(persist);
    free(end);
    free(last_use);
    if (act_pool == UINT64_MAX || grad_pool == UINT64_MAX) {
        free(needs_grad);
        free(act_bufs);
        free(grad_bufs);
        free(grad_slot);
        return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_net_plan: out of memory");
    }
    uint64_t act_total = act_pool + (small + ws) * sizeof(float) + mask_bytes;
    uint64_t grad_total = grad_pool + param_grads * sizeof(float);
    /* each arena is at most 1/4 of the address space, so that sizes and offsets fit a size_t */
    int too_large = act_total > (uint64_t)SIZE_MAX / 4 || grad_total > (uint64_t)SIZE_MAX / 4;
    size_t act_bytes = too_large ? 0 : (size_t)act_total;
    size_t grad_bytes = too_large ? 0 : (size_t)grad_total;
    /* the folded copies get their own block, so the arenas keep the sizes they have without folding
     * (and the heap the same shape over repeated plans) */
    too_large |= fold_floats > (uint64_t)SIZE_MAX / 4 / sizeof(float);
    net->fold_arena = too_large || !fold_floats ? NULL : aligned_alloc(64, round_up((size_t)fold_floats * sizeof(float), 64));
    net->act_arena = too_large ? NULL : aligned_alloc(64, round_up(act_bytes ? act_bytes : 64, 64));
    net->grad_arena = grad_bytes ? aligned_alloc(64, round_up(grad_bytes, 64)) : NULL;
    if (!net->act_arena || (grad_bytes && !net->grad_arena) || (fold_floats && !net->fold_arena)) {
        free(needs_grad);
        free(act_bufs);
        free(grad_bufs);
        free(grad_slot);
        free_plan(net);
        return wt_fail(WT_ERR_OUT_OF_MEMORY,
                       "wt_net_plan: could not allocate %llu MB for batch %d; try a smaller batch",
                       (unsigned long long)((act_total + grad_total) >> 20), max_batch);
    }
    memset(net->act_arena, 0, act_bytes);
    if (grad_bytes) memset(net->grad_arena, 0, grad_bytes);

    char* a0 = (char*)net->act_arena;
    char* g0 = (char*)net->grad_arena;
    for (int i = 0; i < n; i++) {
        wt_node* nd = &net->nodes[i];
        nd->out = (float*)(a0 + (size_t)act_bufs[i].offset);
        if (grad_slot[i] >= 0) nd->d_out = (float*)(g0 + (size_t)grad_bufs[grad_slot[i]].offset);
    }
    float* a = (float*)(a0 + act_pool);
    for (int i = 0; i < n; i++) {
        wt_node* nd = &net->nodes[i];
        if (nd->desc.type == WT_LAYER_BATCHNORM) {
            nd->save_mean = a;
            a += round_up((size_t)nd->c, ALIGN_FLOATS);
            nd->save_invstd = a;
            a += round_up((size_t)nd->c, ALIGN_FLOATS);
        }
    }
    net->ws = a;
    net->ws_floats = ws;
    a += ws;
    float* f = (float*)net->fold_arena;
    for (int i = 0; i < n; i++) { /* folded copies (plan_folds) */
        wt_node* nd = &net->nodes[i];
        if (!nd->fold_span) continue;
        nd->fold_weight = f;
        f += round_up(node_param(net, nd, WT_PARAM_WEIGHT)->count, ALIGN_FLOATS);
        nd->fold_bias = f;
        f += round_up((size_t)nd->c, ALIGN_FLOATS);
    }
    uint8_t* m = (uint8_t*)a;
    for (int i = 0; i < n; i++) {
        wt_node* nd = &net->nodes[i];
        if (nd->desc.type == WT_LAYER_DROPOUT) {
            nd->keep = m;
            m += round_up((size_t)max_batch * node_elems(nd), 64);
        }
    }
    float* g = g0 ? (float*)(g0 + grad_pool) : NULL; /* no gradients at all: NULL + 0 is undefined */
    for (int i = 0; i < net->n_params; i++) {
        wt_param* p = &net->params[i];
        if (!p->is_state && has_trainable_params(net, &net->nodes[p->node])) {
            p->grad = g;
            g += round_up(p->count, ALIGN_FLOATS);
        }
    }
    free(needs_grad);
    free(act_bufs);
    free(grad_bufs);
    free(grad_slot);
    net->max_batch = max_batch;
    net->planned = 1;
    net->plan_generation++;
    net->planned_bytes = act_bytes + grad_bytes + (size_t)fold_floats * sizeof(float);
    return WT_OK;
}

wt_status wt_net_set_memory_saving(wt_net* net, int save) {
    if (!net) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_set_memory_saving: net is NULL");
    if (net->save_memory != (save != 0)) free_plan(net);
    net->save_memory = save != 0;
    return WT_OK;
}

wt_status wt_net_keep_output(wt_net* net, int node, int keep) {
    wt_status st = check_node(net, node, "wt_net_keep_output");
    if (st) return st;
    if (net->nodes[node].keep_output != (keep != 0)) free_plan(net);
    net->nodes[node].keep_output = keep != 0;
    return WT_OK;
}

size_t wt_net_planned_bytes(const wt_net* net) { return net ? net->planned_bytes : 0; }

wt_status wt_net_set_trainable(wt_net* net, int node, int trainable) {
    wt_status st = check_node(net, node, "wt_net_set_trainable");
    if (st) return st;
    if (node == 0) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_set_trainable: node 0 is the input");
    wt_node* nd = &net->nodes[node];
    if (nd->trainable != (trainable != 0)) {
        nd->trainable = trainable != 0;
        if (net->planned) free_plan(net); /* gradient buffers change: re-plan explicitly */
    }
    return WT_OK;
}

wt_status wt_net_set_lr_scale(wt_net* net, int node, float scale) {
    wt_status st = check_node(net, node, "wt_net_set_lr_scale");
    if (st) return st;
    if (!(scale >= 0.0f) || !isfinite(scale))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_set_lr_scale: scale %g must be finite and >= 0", scale);
    net->nodes[node].lr_scale = scale;
    return WT_OK;
}

wt_status wt_net_set_bn_mode(wt_net* net, int node, wt_bn_mode mode) {
    wt_status st = check_node(net, node, "wt_net_set_bn_mode");
    if (st) return st;
    if (net->nodes[node].desc.type != WT_LAYER_BATCHNORM)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_set_bn_mode: '%s' is not a batch norm layer",
                       net->nodes[node].name);
    if (mode != WT_BN_FROZEN && mode != WT_BN_BATCH_STATS)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_set_bn_mode: unknown mode %d", (int)mode);
    net->nodes[node].bn_mode = mode;
    return WT_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* Forward                                                                                      */
/* ------------------------------------------------------------------------------------------- */

/* Zeroes n floats, split over the pool (a training step clears tens of MB of gradients). */
static void zero_range(void* ctx, size_t begin, size_t end) {
    memset((float*)ctx + begin, 0, (end - begin) * sizeof(float));
}
static void zero_floats(wt_pool* pool, float* p, size_t n) {
    wt_parallel_for(pool, n, 16384, zero_range, p);
}

/* The input of a pass: checked for NaN and infinity, then copied, both split over the pool
 * (batch 16 at 224x224 is 9.6 MB). Returns 0 and copies nothing if a value is not finite. */
typedef struct copy_args {
    float* dst;
    const float* src;
    atomic_int bad;
} copy_args;
static void check_range(void* ctx, size_t begin, size_t end) {
    copy_args* a = (copy_args*)ctx;
    if (!wt_all_finite(a->src + begin, end - begin)) atomic_store(&a->bad, 1);
}
static void copy_range(void* ctx, size_t begin, size_t end) {
    copy_args* a = (copy_args*)ctx;
    memcpy(a->dst + begin, a->src + begin, (end - begin) * sizeof(float));
}
static int check_and_copy(wt_pool* pool, float* dst, const float* src, size_t n) {
    copy_args a = {dst, src, 0};
    atomic_init(&a.bad, 0);
    wt_parallel_for(pool, n, 16384, check_range, &a);
    if (atomic_load(&a.bad)) return 0;
    wt_parallel_for(pool, n, 16384, copy_range, &a);
    return 1;
}

/* Zeroes the output gradients a pass starts from (the ones not shared: shared ones are zeroed when
 * backward reaches their last reader), unless they are zero already: they are after planning and
 * after every backward, and only a loss or wt_net_add_output_grad since then writes to them.
 * Whole buffers, for the planned maximum batch: the plan may place a shared gradient, which backward
 * fills after a buffer's own use, in the same memory (rows past a smaller batch included). */
static void clear_output_grads(wt_net* net) {
    if (!net->grads_dirty) return;
    for (int i = 1; i < net->n_nodes; i++) {
        wt_node* nd = &net->nodes[i];
        if (nd->d_out && nd->grad_zero_at < 0)
            zero_floats(net->ctx->pool, nd->d_out, (size_t)net->max_batch * node_elems(nd));
    }
    net->grads_dirty = 0;
}

/* WT_LAYER_L2_NORMALIZE over rows of c channels: y = x / r with r = sqrt(|x|^2 / c + 1e-12) (unit RMS).
 * Backward: dx = (dy - y (y . dy) / c) / r. Serial: it runs on embeddings (a few thousand floats). */
static void l2_normalize_forward(float* y, const float* x, int rows, int c) {
    for (int r = 0; r < rows; r++) {
        const float* xr = x + (size_t)r * c;
        float* yr = y + (size_t)r * c;
        double ss = 0.0;
        for (int i = 0; i < c; i++) ss += (double)xr[i] * xr[i];
        float inv = (float)(1.0 / sqrt(ss / c + 1e-12));
        for (int i = 0; i < c; i++) yr[i] = xr[i] * inv;
    }
}

static void l2_normalize_backward(float* dx, const float* dy, const float* x, int rows, int c) {
    for (int r = 0; r < rows; r++) {
        const float* xr = x + (size_t)r * c;
        const float* gr = dy + (size_t)r * c;
        float* dr = dx + (size_t)r * c;
        double ss = 0.0, dot = 0.0;
        for (int i = 0; i < c; i++) {
            ss += (double)xr[i] * xr[i];
            dot += (double)xr[i] * gr[i];
        }
        double ms = ss / c + 1e-12, inv = 1.0 / sqrt(ms);
        /* y . dy / c = (x . dy) inv / c; dx = inv dy - inv^3 x (x . dy) / c */
        float a = (float)inv, b = (float)(inv * inv * inv * dot / c);
        for (int i = 0; i < c; i++) dr[i] += a * gr[i] - b * xr[i];
    }
}

/* WT_LAYER_CONCAT over rows: y = [a1 x1, a2 x2] with a_i = sqrt((c1 + c2) / (2 c_i)) (webtune.h).
 * Backward: dx_i += a_i dy (block i). Serial: it runs on pooled embeddings. */
static void concat_weights(int c1, int c2, float* a1, float* a2) {
    *a1 = (float)sqrt((double)(c1 + c2) / (2.0 * c1));
    *a2 = (float)sqrt((double)(c1 + c2) / (2.0 * c2));
}

static void concat_forward(float* y, const float* x1, const float* x2, int rows, int c1, int c2) {
    float a1, a2;
    concat_weights(c1, c2, &a1, &a2);
    for (int r = 0; r < rows; r++) {
        float* yr = y + (size_t)r * (c1 + c2);
        const float* p = x1 + (size_t)r * c1;
        const float* q = x2 + (size_t)r * c2;
        for (int i = 0; i < c1; i++) yr[i] = a1 * p[i];
        for (int i = 0; i < c2; i++) yr[c1 + i] = a2 * q[i];
    }
}

static void concat_backward(float* dx1, float* dx2, const float* dy, int rows, int c1, int c2) {
    float a1, a2;
    concat_weights(c1, c2, &a1, &a2);
    for (int r = 0; r < rows; r++) {
        const float* g = dy + (size_t)r * (c1 + c2);
        if (dx1)
            for (int i = 0; i < c1; i++) dx1[(size_t)r * c1 + i] += a1 * g[i];
        if (dx2)
            for (int i = 0; i < c2; i++) dx2[(size_t)r * c2 + i] += a2 * g[c1 + i];
    }
}

/* A folded group (plan_folds): the convolution with the folded weights writes the group's last
 * output. Returns how many nodes it ran. */
static int forward_folded(wt_net* net, wt_node* nd, int batch) {
    wt_pool* pool = net->ctx->pool;
    const wt_node* in = &net->nodes[nd->desc.input];
    const int span = nd->fold_span;
    float* out = nd[span - 1].out;
    for (int k = 0; k < span; k++) nd[k].used_batch_stats = nd[k].used_dropout = 0;
    if (nd->desc.type == WT_LAYER_DEPTHWISE) {
        wt_conv_dims cd = conv_dims(net, nd, batch);
        if (span == 3) wt_depthwise_forward_relu6(pool, net->ws, out, in->out, nd->fold_weight, nd->fold_bias, &cd);
        else wt_depthwise_forward(pool, net->ws, out, in->out, nd->fold_weight, nd->fold_bias, &cd);
    } else if (is_pointwise(nd)) {
        wt_linear_dims ld = linear_dims(net, nd, batch);
        if (span == 3) wt_linear_forward_relu6(pool, net->ws, out, in->out, nd->fold_weight, nd->fold_bias, &ld);
        else wt_linear_forward(pool, net->ws, out, in->out, nd->fold_weight, nd->fold_bias, &ld);
    } else { /* the stem: one layer, so the clamp stays a separate pass */
        wt_conv_dims cd = conv_dims(net, nd, batch);
        wt_conv2d_forward(pool, net->ws, out, in->out, nd->fold_weight, nd->fold_bias, &cd);
        if (span == 3) wt_relu6_forward(pool, out, out, (size_t)batch * node_elems(nd));
    }
    return span;
}

/* Runs node nd's forward pass, and the next nodes' too when it fuses with them (a folded group, see
 * plan_folds; a ReLU6 reading a batch norm on stored statistics), up to node `last`. Returns how
 * many nodes it ran. */
static int forward_node(wt_net* net, wt_node* nd, int batch, int training, int last) {
    wt_pool* pool = net->ctx->pool;
    const wt_node* in = &net->nodes[nd->desc.input];
    size_t n_out = (size_t)batch * node_elems(nd);
    const int self = (int)(nd - net->nodes);
    /* not when a pass stops inside the group, or AdaBN measures the batch norm's input */
    if (nd->fold_span && self + nd->fold_span - 1 <= last && net->adabn_node != self + 1) {
        if (nd->fold_version != net->weights_version) fold_weights(net, nd);
        if (nd->fold_ok) return forward_folded(net, nd, batch);
    }
    nd->used_batch_stats = 0;
    nd->used_dropout = 0;
    switch (nd->desc.type) {
    case WT_LAYER_CONV2D:
        if (is_pointwise(nd)) {
            wt_linear_dims ld = linear_dims(net, nd, batch);
            wt_linear_forward(pool, net->ws, nd->out, in->out, param_data(net, nd, WT_PARAM_WEIGHT),
                              param_data(net, nd, WT_PARAM_BIAS), &ld);
        } else {
            wt_conv_dims cd = conv_dims(net, nd, batch);
            wt_conv2d_forward(pool, net->ws, nd->out, in->out, param_data(net, nd, WT_PARAM_WEIGHT),
                              param_data(net, nd, WT_PARAM_BIAS), &cd);
        }
        break;
    case WT_LAYER_DEPTHWISE: {
        wt_conv_dims cd = conv_dims(net, nd, batch);
        wt_depthwise_forward(pool, net->ws, nd->out, in->out, param_data(net, nd, WT_PARAM_WEIGHT),
                             param_data(net, nd, WT_PARAM_BIAS), &cd);
        break;
    }
    case WT_LAYER_DENSE: {
        wt_linear_dims ld = linear_dims(net, nd, batch);
        wt_linear_forward(pool, net->ws, nd->out, in->out, param_data(net, nd, WT_PARAM_WEIGHT),
                          param_data(net, nd, WT_PARAM_BIAS), &ld);
        break;
    }
    case WT_LAYER_BATCHNORM: {
        wt_bn_dims bd = { .rows = batch * nd->h * nd->w, .c = nd->c, .eps = nd->desc.bn_epsilon };
        const float* gamma = param_data(net, nd, WT_PARAM_GAMMA);
        const float* beta = param_data(net, nd, WT_PARAM_BETA);
        float* mean = param_data(net, nd, WT_PARAM_MOVING_MEAN);
        float* var = param_data(net, nd, WT_PARAM_MOVING_VARIANCE);
        /* A frozen layer always normalises with its stored statistics and never updates them. */
        if (net->adabn_node == (int)(nd - net->nodes)) {
            /* AdaBN: the population statistics of this layer's input; the pass stops here */
            double* s1 = net->adabn_sums;
            double* s2 = net->adabn_sums + bd.c;
            for (int r = 0; r < bd.rows; r++) {
                const float* x = in->out + (size_t)r * bd.c;
                for (int ch = 0; ch < bd.c; ch++) {
                    double dx = (double)x[ch] - mean[ch];
                    s1[ch] += dx;
                    s2[ch] += dx * dx;
                }
            }
            net->adabn_rows += bd.rows;
        } else if (training && nd->trainable && nd->bn_mode == WT_BN_BATCH_STATS) {
            wt_batchnorm_forward_train(pool, nd->out, nd->save_mean, nd->save_invstd, mean, var, in->out,
                                       gamma, beta, nd->desc.bn_momentum, &bd);
            nd->used_batch_stats = 1;
        } else {
            const int i = (int)(nd - net->nodes);
            wt_node* next = i < last ? nd + 1 : NULL;
            if (next && next->desc.type == WT_LAYER_RELU6 && next->desc.input == i) {
                /* one pass over memory instead of two; in place the shared buffer gets relu6(bn) */
                next->used_batch_stats = 0;
                next->used_dropout = 0;
                wt_batchnorm_relu6_forward_frozen(pool, nd->out, next->out, in->out, gamma, beta, mean, var, &bd);
                return 2;
            }
            wt_batchnorm_forward_frozen(pool, nd->out, in->out, gamma, beta, mean, var, &bd);
        }
        break;
    }
    case WT_LAYER_RELU: wt_relu_forward(pool, nd->out, in->out, n_out); break;
    case WT_LAYER_RELU6: wt_relu6_forward(pool, nd->out, in->out, n_out); break;
    case WT_LAYER_ADD:
        wt_add_forward(pool, nd->out, in->out, net->nodes[nd->desc.input2].out, n_out);
        break;
    case WT_LAYER_GLOBAL_AVG_POOL:
        wt_gap_forward(pool, nd->out, in->out, batch, in->h * in->w, in->c);
        break;
    case WT_LAYER_DROPOUT:
        if (training && nd->desc.dropout_rate > 0.0f) {
            /* a fresh mask per forward pass, reproducible from the context seed */
            uint64_t seed = wt_hash64(net->ctx->seed ^ 0xd409ULL,
                                      net->forward_count * 65536u + (uint64_t)(nd - net->nodes));
            wt_dropout_forward(pool, nd->out, nd->keep, in->out, nd->desc.dropout_rate, seed, n_out);
            nd->used_dropout = 1;
        } else {
            memcpy(nd->out, in->out, n_out * sizeof(float));
        }
        break;
    case WT_LAYER_GRAD_REVERSAL: memcpy(nd->out, in->out, n_out * sizeof(float)); break;
    case WT_LAYER_L2_NORMALIZE: l2_normalize_forward(nd->out, in->out, batch * nd->h * nd->w, nd->c); break;
    case WT_LAYER_CONCAT:
        concat_forward(nd->out, in->out, net->nodes[nd->desc.input2].out, batch * nd->h * nd->w, in->c,
                       net->nodes[nd->desc.input2].c);
        break;
    }
    return 1;
}

/* The last node a pass computes: every node, or up to an AdaBN stop (net.h). */
static int forward_last(const wt_net* net) {
    int last = net->n_nodes - 1;
    if (net->adabn_node > 0 && net->adabn_node < last) last = net->adabn_node;
    if (net->forward_last > 0 && net->forward_last < last) last = net->forward_last;
    return last;
}

wt_status wt_net_forward(wt_net* net, const float* input, int batch, int training) {
    if (!net || !input) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_forward: NULL argument");
    if (!net->planned)
        return wt_fail(WT_ERR_STATE, "wt_net_forward: the net is not planned; call wt_net_plan first");
    if (batch < 1 || batch > net->max_batch)
        return wt_fail(WT_ERR_SHAPE, "wt_net_forward: batch %d is not in 1..%d (the planned maximum)", batch,
                       net->max_batch);
    size_t n_in = (size_t)batch * node_elems(&net->nodes[0]);
    if (!check_and_copy(net->ctx->pool, net->nodes[0].out, input, n_in))
        return wt_fail(WT_ERR_NOT_FINITE, "wt_net_forward: the input contains NaN or infinity");
    int last = forward_last(net);
    for (int i = 1; i <= last;) i += forward_node(net, &net->nodes[i], batch, training != 0, last);
    /* fresh output gradients for this pass (shared ones are zeroed during backward) */
    clear_output_grads(net);
    net->batch = batch;
    net->forward_training = training != 0;
    net->grads_pending = 0;
    net->forward_from = 0; /* a full pass: backward may reach every node */
    net->forward_count++;
    return WT_OK;
}

wt_status wt_net_forward_from(wt_net* net, int node, const float* values, int batch, int training) {
    static const char fn[] = "wt_net_forward_from";
    wt_status st = check_node(net, node, fn);
    if (st) return st;
    if (!values) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: values is NULL", fn);
    if (!net->planned) return wt_fail(WT_ERR_STATE, "%s: the net is not planned; call wt_net_plan first", fn);
    if (batch < 1 || batch > net->max_batch)
        return wt_fail(WT_ERR_SHAPE, "%s: batch %d is not in 1..%d (the planned maximum)", fn, batch, net->max_batch);
    for (int i = node + 1; i < net->n_nodes; i++) {
        const wt_node* nd = &net->nodes[i];
        if (nd->desc.input < node || (wt_layer_has_input2(nd->desc.type) && nd->desc.input2 < node))
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: node '%s' reads a node below '%s'", fn, nd->name,
                           net->nodes[node].name);
    }
    size_t n = (size_t)batch * node_elems(&net->nodes[node]);
    if (!check_and_copy(net->ctx->pool, net->nodes[node].out, values, n))
        return wt_fail(WT_ERR_NOT_FINITE, "%s: the values contain NaN or infinity", fn);
    int last = forward_last(net);
    for (int i = node + 1; i <= last;) i += forward_node(net, &net->nodes[i], batch, training != 0, last);
    clear_output_grads(net);
    net->batch = batch;
    net->forward_training = training != 0;
    net->grads_pending = 0;
    net->forward_from = node;
    net->forward_count++;
    return WT_OK;
}

wt_status wt_net_read_output(const wt_net* net, int node, float* dst, size_t count) {
    wt_status st = check_node(net, node, "wt_net_read_output");
    if (st) return st;
    if (!dst) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_read_output: dst is NULL");
    if (!net->batch) return wt_fail(WT_ERR_STATE, "wt_net_read_output: no forward pass has run");
    if (net->nodes[node].out_shared || node < net->forward_from)
        return wt_fail(WT_ERR_STATE,
                       "wt_net_read_output: the output of '%s' is not kept (memory saving shares its buffer); "
                       "call wt_net_keep_output before planning", net->nodes[node].name);
    size_t n = (size_t)net->batch * node_elems(&net->nodes[node]);
    if (count != n)
        return wt_fail(WT_ERR_SHAPE, "wt_net_read_output: node '%s' holds %zu floats for batch %d, not %zu",
                       net->nodes[node].name, n, net->batch, count);
    memcpy(dst, net->nodes[node].out, n * sizeof(float));
    return WT_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* Losses and backward                                                                          */
/* ------------------------------------------------------------------------------------------- */

static wt_status check_grad_target(const wt_net* net, int node, const char* fn) {
    wt_status st = check_node(net, node, fn);
    if (st) return st;
    if (!net->batch) return wt_fail(WT_ERR_STATE, "%s: run wt_net_forward first", fn);
    if (!net->nodes[node].d_out)
        return wt_fail(WT_ERR_STATE, "%s: node '%s' has nothing trainable at or below it", fn,
                       net->nodes[node].name);
    if (net->nodes[node].grad_zero_at >= 0)
        return wt_fail(WT_ERR_STATE, "%s: node '%s' is not kept (memory saving); call wt_net_keep_output before planning",
                       fn, net->nodes[node].name);
    return WT_OK;
}

wt_status wt_net_softmax_xent(wt_net* net, int logits, const int* labels, float label_smoothing,
                              const float* class_weights, float* loss) {
    wt_status st = check_grad_target(net, logits, "wt_net_softmax_xent");
    if (st) return st;
    if (!labels || !loss) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_softmax_xent: NULL argument");
    wt_node* nd = &net->nodes[logits];
    if (nd->h != 1 || nd->w != 1)
        return wt_fail(WT_ERR_SHAPE, "wt_net_softmax_xent: '%s' is %dx%dx%d, expected 1x1xK logits", nd->name,
                       nd->h, nd->w, nd->c);
    if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_softmax_xent: label smoothing %g is not in [0, 1)",
                       label_smoothing);
    int k = nd->c;
    for (int i = 0; i < net->batch; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_softmax_xent: label %d of sample %d is not in 0..%d",
                           labels[i], i, k - 1);
    if (class_weights) {
        double sum = 0.0;
        for (int j = 0; j < k; j++) {
            if (!(class_weights[j] >= 0.0f) || !isfinite(class_weights[j]))
                return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_softmax_xent: class weight %d is %g", j,
                               class_weights[j]);
        }
        for (int i = 0; i < net->batch; i++) sum += class_weights[labels[i]];
        if (!(sum > 0.0))
            return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_softmax_xent: the batch's class weights sum to 0");
    }
    /* loss first: a non-finite loss must leave no gradient behind */
    float value = wt_softmax_xent_ref(NULL, NULL, nd->out, labels, net->batch, k, label_smoothing, class_weights);
    if (!isfinite(value))
        return wt_fail(WT_ERR_NOT_FINITE, "wt_net_softmax_xent: the loss is %g (diverged? try a lower learning rate)",
                       value);
    net->grads_dirty = 1;
    wt_softmax_xent_ref(NULL, nd->d_out, nd->out, labels, net->batch, k, label_smoothing, class_weights);
    net->grads_pending = 1;
    *loss = value;
    return WT_OK;
}

wt_status wt_net_add_output_grad(wt_net* net, int node, const float* grad, size_t count) {
    wt_status st = check_grad_target(net, node, "wt_net_add_output_grad");
    if (st) return st;
    if (!grad) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_add_output_grad: grad is NULL");
    wt_node* nd = &net->nodes[node];
    size_t n = (size_t)net->batch * node_elems(nd);
    if (count != n)
        return wt_fail(WT_ERR_SHAPE, "wt_net_add_output_grad: '%s' takes %zu floats for batch %d, not %zu",
                       nd->name, n, net->batch, count);
    if (!wt_all_finite(grad, n))
        return wt_fail(WT_ERR_NOT_FINITE, "wt_net_add_output_grad: the gradient contains NaN or infinity");
    net->grads_dirty = 1;
    wt_axpy(net->ctx->pool, nd->d_out, 1.0f, grad, n);
    net->grads_pending = 1;
    return WT_OK;
}

static void backward_node(wt_net* net, wt_node* nd, int batch) {
    wt_pool* pool = net->ctx->pool;
    wt_node* in = &net->nodes[nd->desc.input];
    float* d_in = in->d_out; /* NULL when nothing below needs it */
    size_t n_out = (size_t)batch * node_elems(nd);
    switch (nd->desc.type) {
    case WT_LAYER_CONV2D:
        if (is_pointwise(nd)) {
            wt_linear_dims ld = linear_dims(net, nd, batch);
            wt_linear_backward(pool, net->ws, d_in, param_grad(net, nd, WT_PARAM_WEIGHT),
                               param_grad(net, nd, WT_PARAM_BIAS), nd->d_out, in->out,
                               param_data(net, nd, WT_PARAM_WEIGHT), &ld);
        } else {
            wt_conv_dims cd = conv_dims(net, nd, batch);
            wt_conv2d_backward(pool, net->ws, d_in, param_grad(net, nd, WT_PARAM_WEIGHT),
                               param_grad(net, nd, WT_PARAM_BIAS), nd->d_out, in->out,
                               param_data(net, nd, WT_PARAM_WEIGHT), &cd);
        }
        break;
    case WT_LAYER_DEPTHWISE: {
        wt_conv_dims cd = conv_dims(net, nd, batch);
        wt_depthwise_backward(pool, net->ws, d_in, param_grad(net, nd, WT_PARAM_WEIGHT),
                              param_grad(net, nd, WT_PARAM_BIAS), nd->d_out, in->out,
                              param_data(net, nd, WT_PARAM_WEIGHT), &cd);
        break;
    }
    case WT_LAYER_DENSE: {
        wt_linear_dims ld = linear_dims(net, nd, batch);
        wt_linear_backward(pool, net->ws, d_in, param_grad(net, nd, WT_PARAM_WEIGHT),
                           param_grad(net, nd, WT_PARAM_BIAS), nd->d_out, in->out,
                           param_data(net, nd, WT_PARAM_WEIGHT), &ld);
        break;
    }
    case WT_LAYER_BATCHNORM: {
        wt_bn_dims bd = { .rows = batch * nd->h * nd->w, .c = nd->c, .eps = nd->desc.bn_epsilon };
        const float* gamma = param_data(net, nd, WT_PARAM_GAMMA);
        float* d_gamma = param_grad(net, nd, WT_PARAM_GAMMA);
        float* d_beta = param_grad(net, nd, WT_PARAM_BETA);
        if (nd->in_place)
            wt_batchnorm_backward_frozen_out(pool, d_in, d_gamma, d_beta, nd->d_out, nd->out, gamma,
                                             param_data(net, nd, WT_PARAM_BETA),
                                             param_data(net, nd, WT_PARAM_MOVING_VARIANCE), &bd);
        else if (nd->used_batch_stats)
            wt_batchnorm_backward_train(pool, d_in, d_gamma, d_beta, nd->d_out, in->out, gamma, nd->save_mean,
                                        nd->save_invstd, &bd);
        else
            wt_batchnorm_backward_frozen(pool, d_in, d_gamma, d_beta, nd->d_out, in->out, gamma,
                                         param_data(net, nd, WT_PARAM_MOVING_MEAN),
                                         param_data(net, nd, WT_PARAM_MOVING_VARIANCE), &bd);
        break;
    }
    case WT_LAYER_RELU:
        if (d_in) wt_relu_backward(pool, d_in, nd->d_out, in->out, n_out);
        break;
    case WT_LAYER_RELU6:
        if (d_in) wt_relu6_backward(pool, d_in, nd->d_out, in->out, n_out);
        break;
    case WT_LAYER_ADD: {
        float* d_in2 = net->nodes[nd->desc.input2].d_out;
        if (d_in) wt_axpy(pool, d_in, 1.0f, nd->d_out, n_out);
        if (d_in2) wt_axpy(pool, d_in2, 1.0f, nd->d_out, n_out);
        break;
    }
    case WT_LAYER_GLOBAL_AVG_POOL:
        if (d_in) wt_gap_backward(pool, d_in, nd->d_out, batch, in->h * in->w, in->c);
        break;
    case WT_LAYER_DROPOUT:
        if (!d_in) break;
        if (nd->used_dropout)
            wt_dropout_backward(pool, d_in, nd->d_out, nd->keep, nd->desc.dropout_rate, n_out);
        else
            wt_axpy(pool, d_in, 1.0f, nd->d_out, n_out);
        break;
    case WT_LAYER_GRAD_REVERSAL:
        if (d_in) wt_axpy(pool, d_in, -nd->desc.grl_lambda, nd->d_out, n_out);
        break;
    case WT_LAYER_L2_NORMALIZE:
        if (d_in) l2_normalize_backward(d_in, nd->d_out, in->out, batch * nd->h * nd->w, nd->c);
        break;
    case WT_LAYER_CONCAT: {
        const wt_node* in2 = &net->nodes[nd->desc.input2];
        concat_backward(d_in, in2->d_out, nd->d_out, batch * nd->h * nd->w, in->c, in2->c);
        break;
    }
    }
}

wt_status wt_net_backward(wt_net* net) {
    if (!net) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_backward: net is NULL");
    if (!net->planned || !net->batch)
        return wt_fail(WT_ERR_STATE, "wt_net_backward: run wt_net_forward first");
    if (!net->grads_pending)
        return wt_fail(WT_ERR_STATE,
                       "wt_net_backward: no output gradient since the last forward pass "
                       "(call wt_net_softmax_xent or wt_net_add_output_grad; backward runs once per forward)");
    /* after wt_net_forward_from(node), nodes at or below it hold no activations of this pass */
    for (int i = net->n_nodes - 1; i > net->forward_from; i--) {
        /* a shared gradient buffer starts at zero when its last reader's backward comes up */
        for (int k = 0; k < i; k++) {
            wt_node* src = &net->nodes[k];
            if (src->d_out && src->grad_zero_at == i)
                zero_floats(net->ctx->pool, src->d_out, (size_t)net->batch * node_elems(src));
        }
        wt_node* nd = &net->nodes[i];
        if (nd->d_out) backward_node(net, nd, net->batch);
    }
    net->grads_pending = 0;
    /* the output gradients are consumed: a second backward needs a new forward pass */
    net->grads_dirty = 1;
    clear_output_grads(net);
    return WT_OK;
}

wt_status wt_net_zero_grad(wt_net* net) {
    if (!net) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_zero_grad: net is NULL");
    for (int i = 0; i < net->n_params; i++) {
        wt_param* p = &net->params[i];
        if (p->grad) memset(p->grad, 0, p->count * sizeof(float));
    }
    return WT_OK;
}

/* ------------------------------------------------------------------------------------------- */
/* Parameters                                                                                   */
/* ------------------------------------------------------------------------------------------- */

int wt_net_param_count(const wt_net* net) { return net ? net->n_params : 0; }

static wt_status check_param(const wt_net* net, int index, const char* fn) {
    if (!net) return wt_fail(WT_ERR_INVALID_ARGUMENT, "%s: net is NULL", fn);
    if (index < 0 || index >= net->n_params)
        return wt_fail(WT_ERR_NOT_FOUND, "%s: parameter %d does not exist (the net has %d)", fn, index,
                       net->n_params);
    return WT_OK;
}

wt_status wt_net_param_info(const wt_net* net, int index, wt_param_info* info) {
    wt_status st = check_param(net, index, "wt_net_param_info");
    if (st) return st;
    if (!info) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_param_info: info is NULL");
    const wt_param* p = &net->params[index];
    info->name = p->name;
    info->node = p->node;
    info->kind = p->kind;
    info->count = p->count;
    memcpy(info->shape, p->shape, sizeof info->shape);
    info->trainable = !p->is_state && net->nodes[p->node].trainable;
    return WT_OK;
}

wt_status wt_net_param_read(const wt_net* net, int index, float* dst, size_t count) {
    wt_status st = check_param(net, index, "wt_net_param_read");
    if (st) return st;
    const wt_param* p = &net->params[index];
    if (!dst) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_param_read: dst is NULL");
    if (count != p->count)
        return wt_fail(WT_ERR_SHAPE, "wt_net_param_read: '%s' has %zu floats, not %zu", p->name, p->count, count);
    memcpy(dst, p->data, count * sizeof(float));
    return WT_OK;
}

wt_status wt_net_param_write(wt_net* net, int index, const float* src, size_t count) {
    wt_status st = check_param(net, index, "wt_net_param_write");
    if (st) return st;
    wt_param* p = &net->params[index];
    if (!src) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_param_write: src is NULL");
    if (count != p->count)
        return wt_fail(WT_ERR_SHAPE, "wt_net_param_write: '%s' has %zu floats, not %zu", p->name, p->count, count);
    if (!wt_all_finite(src, count))
        return wt_fail(WT_ERR_NOT_FINITE, "wt_net_param_write: values for '%s' contain NaN or infinity", p->name);
    if (p->kind == WT_PARAM_MOVING_VARIANCE) {
        for (size_t i = 0; i < count; i++)
            if (src[i] < 0.0f)
                return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_param_write: '%s'[%zu] is negative", p->name, i);
    }
    memcpy(p->data, src, count * sizeof(float));
    net->weights_version++;
    return WT_OK;
}

wt_status wt_net_grad_read(const wt_net* net, int index, float* dst, size_t count) {
    wt_status st = check_param(net, index, "wt_net_grad_read");
    if (st) return st;
    const wt_param* p = &net->params[index];
    if (!dst) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_net_grad_read: dst is NULL");
    if (count != p->count)
        return wt_fail(WT_ERR_SHAPE, "wt_net_grad_read: '%s' has %zu floats, not %zu", p->name, p->count, count);
    if (!p->grad)
        return wt_fail(WT_ERR_STATE, "wt_net_grad_read: '%s' has no gradient (frozen, state, or not planned)",
                       p->name);
    memcpy(dst, p->grad, count * sizeof(float));
    return WT_OK;
}
