/* webtune_js.c: the C API exported to JavaScript.
 * JS cannot build C structs cheaply, so the calls that take descriptor structs have flat
 * versions here; everything else is exported from webtune.h as it is. Handles are pointers
 * (numbers in JS); every call returns a wt_status (0 = ok) and wtjs_last_error() gives the
 * message, which the JS wrapper turns into an Error with .code. */
#include <emscripten/emscripten.h>
#include <stdlib.h>

#include "webtune.h"

EMSCRIPTEN_KEEPALIVE const char* wtjs_last_error(void) { return wt_last_error(); }
EMSCRIPTEN_KEEPALIVE const char* wtjs_status_name(int status) { return wt_status_name((wt_status)status); }

EMSCRIPTEN_KEEPALIVE int wtjs_threads_compiled(void) {
#ifdef __EMSCRIPTEN_PTHREADS__
    return 1;
#else
    return 0;
#endif
}

/* *out receives the context handle. */
EMSCRIPTEN_KEEPALIVE int wtjs_context_create(int n_threads, double seed, wt_context** out) {
    wt_context_desc desc = { .n_threads = n_threads, .seed = (uint64_t)seed };
    return wt_context_create(&desc, out);
}

/* Flat wt_layer_desc; name may be NULL. *out_node receives the node id. */
EMSCRIPTEN_KEEPALIVE int wtjs_net_add(wt_net* net, int type, const char* name, int input, int input2,
                                      int out_channels, int kernel_h, int kernel_w, int stride, int padding,
                                      int pad_top, int pad_bottom, int pad_left, int pad_right, int use_bias,
                                      int bn_mode, float bn_epsilon, float bn_momentum, float dropout_rate,
                                      float grl_lambda, int* out_node) {
    wt_layer_desc d = {
        .type = (wt_layer_type)type, .name = name, .input = input, .input2 = input2,
        .out_channels = out_channels, .kernel_h = kernel_h, .kernel_w = kernel_w, .stride = stride,
        .padding = (wt_padding)padding, .pad_top = pad_top, .pad_bottom = pad_bottom,
        .pad_left = pad_left, .pad_right = pad_right, .use_bias = use_bias,
        .bn_mode = (wt_bn_mode)bn_mode, .bn_epsilon = bn_epsilon, .bn_momentum = bn_momentum,
        .dropout_rate = dropout_rate, .grl_lambda = grl_lambda,
    };
    return wt_net_add(net, &d, out_node);
}

/* Flat wt_optimizer_desc. */
EMSCRIPTEN_KEEPALIVE int wtjs_optimizer_create(wt_net* net, int type, float learning_rate, float momentum,
                                               float beta1, float beta2, float epsilon, float weight_decay,
                                               int schedule, int warmup_steps, int step_size, float gamma,
                                               int total_steps, float min_learning_rate, wt_optimizer** out) {
    wt_optimizer_desc d = {
        .type = (wt_optimizer_type)type, .learning_rate = learning_rate, .momentum = momentum,
        .beta1 = beta1, .beta2 = beta2, .epsilon = epsilon, .weight_decay = weight_decay,
        .schedule = (wt_schedule_type)schedule, .warmup_steps = warmup_steps, .step_size = step_size,
        .gamma = gamma, .total_steps = total_steps, .min_learning_rate = min_learning_rate,
    };
    return wt_optimizer_create(net, &d, out);
}

/* Parameter metadata without the struct: name pointer, count, trainable flag. */
EMSCRIPTEN_KEEPALIVE const char* wtjs_param_name(const wt_net* net, int index) {
    wt_param_info info;
    return wt_net_param_info(net, index, &info) == WT_OK ? info.name : NULL;
}
EMSCRIPTEN_KEEPALIVE double wtjs_param_count_floats(const wt_net* net, int index) {
    wt_param_info info;
    return wt_net_param_info(net, index, &info) == WT_OK ? (double)info.count : -1.0;
}
EMSCRIPTEN_KEEPALIVE int wtjs_param_trainable(const wt_net* net, int index) {
    wt_param_info info;
    return wt_net_param_info(net, index, &info) == WT_OK ? info.trainable : -1;
}

/* Scratch memory for JS to pass arrays in and out. */
EMSCRIPTEN_KEEPALIVE void* wtjs_malloc(size_t bytes) { return malloc(bytes); }
EMSCRIPTEN_KEEPALIVE void wtjs_free(void* p) { free(p); }
