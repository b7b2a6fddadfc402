/* webtune_js.c: the C API exported to JavaScript.
 * JS cannot build C structs cheaply, so the calls that take descriptor structs have flat
 * versions here; everything else is exported from webtune.h as it is. Handles are pointers
 * (numbers in JS); every call returns a wt_status (0 = ok) and wtjs_last_error() gives the
 * message, which the JS wrapper turns into an Error with .code. */
#include <emscripten/emscripten.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- images: decode + resize/crop in one call, so no wt_image crosses the boundary ---- */

static wt_preprocess make_preprocess(int out_h, int out_w, int filter, int crop, float scale, float offset) {
    wt_preprocess p = { .out_h = out_h, .out_w = out_w, .filter = (wt_resize_filter)filter,
                        .crop = (wt_crop)crop, .scale = scale, .offset = offset };
    return p;
}

/* Encoded JPEG/PNG bytes -> out_h*out_w*3 floats scaled for the model. */
EMSCRIPTEN_KEEPALIVE int wtjs_image_to_tensor(const uint8_t* bytes, size_t len, int out_h, int out_w,
                                              int filter, int crop, float scale, float offset, float* out,
                                              size_t count) {
    wt_image img;
    wt_status st = wt_image_decode(bytes, len, &img);
    if (st) return st;
    wt_preprocess p = make_preprocess(out_h, out_w, filter, crop, scale, offset);
    st = wt_image_to_tensor(&img, &p, out, count);
    wt_image_free(&img);
    return st;
}

/* Encoded JPEG/PNG bytes -> out_h*out_w*3 bytes (compact example storage). */
EMSCRIPTEN_KEEPALIVE int wtjs_image_resize_u8(const uint8_t* bytes, size_t len, int out_h, int out_w,
                                              int filter, int crop, uint8_t* out, size_t count) {
    wt_image img;
    wt_status st = wt_image_decode(bytes, len, &img);
    if (st) return st;
    wt_preprocess p = make_preprocess(out_h, out_w, filter, crop, 0.0f, 0.0f);
    st = wt_image_resize_u8(&img, &p, out, count);
    wt_image_free(&img);
    return st;
}

/* Raw RGBA frame (canvas, video) -> out_h*out_w*3 bytes. */
EMSCRIPTEN_KEEPALIVE int wtjs_rgba_resize_u8(const uint8_t* rgba, size_t len, int width, int height, int stride,
                                             int out_h, int out_w, int filter, int crop, uint8_t* out,
                                             size_t count) {
    wt_image img;
    wt_status st = wt_image_from_rgba(rgba, len, width, height, stride, &img);
    if (st) return st;
    wt_preprocess p = make_preprocess(out_h, out_w, filter, crop, 0.0f, 0.0f);
    st = wt_image_resize_u8(&img, &p, out, count);
    wt_image_free(&img);
    return st;
}

/* ---- TF.js layers-format import ---- */

/* files: n entries of (path pointer, bytes pointer, length) as three parallel arrays.
 * info_out receives 11 ints: output_node, embedding_node, embedding_dim, logits_node, n_outputs,
 * output_softmax, in_h, in_w, in_c, n_layers, n_weights. */
EMSCRIPTEN_KEEPALIVE int wtjs_import_tfjs(wt_context* ctx, const char* json, size_t len, const char** paths,
                                          const uint8_t** bytes, const size_t* lens, int n_files,
                                          const char* cut_layer, int no_pooling, int bn_mode, int in_h, int in_w,
                                          wt_net** out, int* info_out) {
    wt_weight_file* files = n_files > 0 ? (wt_weight_file*)calloc((size_t)n_files, sizeof *files) : NULL;
    if (n_files > 0 && !files) return WT_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < n_files; i++) files[i] = (wt_weight_file){ paths[i], bytes[i], lens[i] };
    wt_import_options opt = { .cut_layer = cut_layer, .no_pooling = no_pooling, .bn_mode = (wt_bn_mode)bn_mode,
                              .in_h = in_h, .in_w = in_w };
    wt_import_info info;
    wt_status st = wt_import_tfjs(ctx, json, len, files, n_files, &opt, out, &info);
    free(files);
    if (st == WT_OK && info_out) {
        int v[11] = { info.output_node, info.embedding_node, info.embedding_dim, info.logits_node, info.n_outputs,
                      info.output_softmax, info.in_h, info.in_w, info.in_c, info.n_layers, info.n_weights };
        for (int i = 0; i < 11; i++) info_out[i] = v[i];
    }
    return st;
}

/* ---- webtune model files ---- */

/* labels: n_labels NUL-terminated strings packed back to back. sha256: 32 bytes or NULL. */
EMSCRIPTEN_KEEPALIVE int wtjs_model_save(const wt_net* net, const char* labels_packed, int n_labels, int out_h,
                                         int out_w, int filter, int crop, float scale, float offset,
                                         const char* backbone_name, const uint8_t* sha256, int embedding_node,
                                         int logits_node, int output_softmax, int fp16, uint8_t** bytes,
                                         size_t* len) {
    const char** labels = n_labels > 0 ? (const char**)calloc((size_t)n_labels, sizeof(char*)) : NULL;
    if (n_labels > 0 && !labels) return WT_ERR_OUT_OF_MEMORY;
    const char* s = labels_packed;
    for (int i = 0; i < n_labels; i++) {
        labels[i] = s;
        s += strlen(s) + 1;
    }
    wt_model_meta meta = { .n_labels = n_labels, .labels = labels,
                           .preprocess = make_preprocess(out_h, out_w, filter, crop, scale, offset),
                           .embedding_node = embedding_node, .logits_node = logits_node,
                           .output_softmax = output_softmax };
    if (backbone_name) {
        strncpy(meta.backbone_name, backbone_name, sizeof meta.backbone_name - 1);
    }
    if (sha256) memcpy(meta.backbone_sha256, sha256, 32);
    wt_status st = wt_model_save(net, &meta, fp16, bytes, len);
    free(labels);
    return st;
}

/* Fields of a loaded wt_model_meta, read without knowing its layout in JS.
 * ints (8): n_labels, out_h, out_w, filter, crop, embedding_node, logits_node, output_softmax. */
EMSCRIPTEN_KEEPALIVE void wtjs_meta_ints(const wt_model_meta* m, int* out) {
    int v[8] = { m->n_labels, m->preprocess.out_h, m->preprocess.out_w, (int)m->preprocess.filter,
                 (int)m->preprocess.crop, m->embedding_node, m->logits_node, m->output_softmax };
    memcpy(out, v, sizeof v);
}
EMSCRIPTEN_KEEPALIVE float wtjs_meta_scale(const wt_model_meta* m) { return m->preprocess.scale; }
EMSCRIPTEN_KEEPALIVE float wtjs_meta_offset(const wt_model_meta* m) { return m->preprocess.offset; }
EMSCRIPTEN_KEEPALIVE const char* wtjs_meta_label(const wt_model_meta* m, int i) {
    return (i >= 0 && i < m->n_labels) ? m->labels[i] : NULL;
}
EMSCRIPTEN_KEEPALIVE const char* wtjs_meta_backbone_name(const wt_model_meta* m) { return m->backbone_name; }
EMSCRIPTEN_KEEPALIVE const uint8_t* wtjs_meta_backbone_sha256(const wt_model_meta* m) { return m->backbone_sha256; }

/* Decodes JPEG/PNG into caller memory: wh[0], wh[1] receive width and height; if cap is smaller
 * than width*height*3 nothing is copied and WT_ERR_SHAPE is returned (call again with room). */
EMSCRIPTEN_KEEPALIVE int wtjs_image_decode_into(const uint8_t* bytes, size_t len, uint8_t* out, size_t cap, int* wh) {
    wt_image img;
    wt_status st = wt_image_decode(bytes, len, &img);
    if (st) return st;
    size_t need = (size_t)img.width * img.height * 3;
    wh[0] = img.width;
    wh[1] = img.height;
    if (cap < need) {
        wt_image_free(&img);
        return WT_ERR_SHAPE;
    }
    memcpy(out, img.pixels, need);
    wt_image_free(&img);
    return WT_OK;
}

/* ---- datasets, training, prediction ---- */

/* wt_train_desc from an array of doubles, in this order (js/src/core.js TRAIN_FIELDS mirrors it):
 * epochs, batch_size, learning_rate, optimizer, weight_decay, schedule, warmup_steps,
 * validation_split, seed, strategy, top_blocks, backbone_lr_scale, bn_batch_stats, adabn,
 * label_smoothing, balanced, early_stopping, cache_views, crop_scale_min, crop_aspect, flip,
 * rotation_deg, brightness, contrast, saturation, preprocess scale, preprocess offset,
 * domain_adaptation, rollback. */
#define WTJS_TRAIN_FIELDS 29
EMSCRIPTEN_KEEPALIVE int wtjs_trainer_create(wt_net* net, int embedding, int logits, wt_dataset* ds,
                                             const double* o, int n_fields, const char* layers, wt_trainer** out) {
    if (n_fields != WTJS_TRAIN_FIELDS) return WT_ERR_INVALID_ARGUMENT;
    wt_train_desc d = {
        .epochs = (int)o[0], .batch_size = (int)o[1], .learning_rate = (float)o[2],
        .optimizer = (wt_train_optimizer)(int)o[3], .weight_decay = (float)o[4],
        .schedule = (wt_schedule_type)(int)o[5], .warmup_steps = (int)o[6], .validation_split = (float)o[7],
        .seed = (uint64_t)o[8], .strategy = (wt_strategy)(int)o[9], .top_blocks = (int)o[10],
        .layers = layers, .backbone_lr_scale = (float)o[11], .bn_batch_stats = (int)o[12], .adabn = (int)o[13],
        .label_smoothing = (float)o[14], .balanced = (int)o[15], .early_stopping = (int)o[16],
        .cache_views = (int)o[17],
        .augment = { .crop_scale_min = (float)o[18], .crop_aspect = (float)o[19], .flip = (int)o[20],
                     .rotation_deg = (float)o[21], .brightness = (float)o[22], .contrast = (float)o[23],
                     .saturation = (float)o[24] },
        .preprocess = { .scale = (float)o[25], .offset = (float)o[26] },
        .domain_adaptation = (float)o[27], .rollback = (int)o[28],
    };
    return wt_trainer_create(net, embedding, logits, ds, &d, out);
}

/* wt_train_progress as 21 doubles: phase, epoch, epochs, step, steps_per_epoch, total_steps,
 * cache_done, cache_total, images, loss, accuracy, epoch_loss, epoch_accuracy, val_accuracy,
 * val_loss, best_val_accuracy, best_epoch, learning_rate, n_train, n_val, diverged. */
EMSCRIPTEN_KEEPALIVE int wtjs_trainer_step(wt_trainer* tr, double* out) {
    wt_train_progress p;
    wt_status st = wt_trainer_step(tr, &p);
    if (st) return st;
    double v[21] = { p.phase, p.epoch, p.epochs, p.step, p.steps_per_epoch, p.total_steps, p.cache_done,
                     p.cache_total, p.images, p.loss, p.accuracy, p.epoch_loss, p.epoch_accuracy, p.val_accuracy,
                     p.val_loss, p.best_val_accuracy, p.best_epoch, p.learning_rate, p.n_train, p.n_val,
                     p.diverged };
    memcpy(out, v, sizeof v);
    return WT_OK;
}

/* Example pixels into caller memory (len bytes); *label receives its class. */
EMSCRIPTEN_KEEPALIVE int wtjs_dataset_read(const wt_dataset* ds, int index, uint8_t* out, size_t len, int* label) {
    const uint8_t* px;
    wt_status st = wt_dataset_get(ds, index, label, &px);
    if (st) return st;
    memcpy(out, px, len);
    return WT_OK;
}

EMSCRIPTEN_KEEPALIVE int wtjs_predict_u8(wt_net* net, int logits, float scale, float offset, const uint8_t* rgb,
                                         int batch, float* probs, size_t count) {
    wt_preprocess p = { .scale = scale, .offset = offset };
    return wt_net_predict_u8(net, logits, &p, rgb, batch, probs, count);
}

EMSCRIPTEN_KEEPALIVE double wtjs_dataset_bytes(const wt_dataset* ds) { return (double)wt_dataset_bytes(ds); }
EMSCRIPTEN_KEEPALIVE double wtjs_heap_bytes(void) { return (double)__builtin_wasm_memory_size(0) * 65536.0; }

/* Failure-isolation tests only: aborts the module as a crash inside webtune would. */
EMSCRIPTEN_KEEPALIVE void wtjs_abort_for_testing(void) { abort(); }
