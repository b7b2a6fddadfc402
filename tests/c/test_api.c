/* test_api.c: bad input to the public C API returns a clear status and message, never a crash:
 * NULL pointers, zero and mismatched sizes, NaN in inputs and losses, calls in the wrong state. */
#include <math.h>

#include "webtune.h"
#include "wt_test.h"

/* A failing call must return `want` and leave a non-empty message that contains `fragment`. */
#define EXPECT(call, want, fragment)                                                                 \
    do {                                                                                             \
        wt_clear_error();                                                                            \
        wt_status got_ = (call);                                                                     \
        CHECK(got_ == (want), "%s returned %s, expected %s (%s)", #call, wt_status_name(got_),       \
              wt_status_name(want), wt_last_error());                                                \
        CHECK(strstr(wt_last_error(), fragment) != NULL, "%s: message '%s' lacks '%s'", #call,      \
              wt_last_error(), fragment);                                                            \
    } while (0)

int main(void) {
    /* status names */
    for (int s = WT_OK; s <= WT_ERR_ABORTED; s++)
        CHECK(strncmp(wt_status_name((wt_status)s), "WT_", 3) == 0, "status %d has no name", s);
    CHECK(strcmp(wt_status_name((wt_status)999), "WT_ERR_UNKNOWN") == 0, "unknown status name");

    wt_context* ctx = NULL;
    EXPECT(wt_context_create(NULL, NULL), WT_ERR_INVALID_ARGUMENT, "out is NULL");
    EXPECT(wt_context_create(&(wt_context_desc){ .n_threads = -1 }, &ctx), WT_ERR_INVALID_ARGUMENT, "n_threads");
    CHECK(ctx == NULL, "failed create must leave out NULL");
    CHECK(wt_context_create(NULL, &ctx) == WT_OK && wt_context_threads(ctx) == 1, "default context");
    wt_context_destroy(NULL);
    wt_net_destroy(NULL);
    wt_optimizer_destroy(NULL);

    wt_net* net = NULL;
    EXPECT(wt_net_create(NULL, 8, 8, 3, &net), WT_ERR_INVALID_ARGUMENT, "ctx is NULL");
    EXPECT(wt_net_create(ctx, 0, 8, 3, &net), WT_ERR_SHAPE, "input shape");
    EXPECT(wt_net_create(ctx, 8, 8, -3, &net), WT_ERR_SHAPE, "input shape");
    EXPECT(wt_net_create(ctx, 8192, 8192, 65536, &net), WT_ERR_SHAPE, "too large");
    CHECK(wt_net_create(ctx, 8, 8, 3, &net) == WT_OK, "%s", wt_last_error());

    int node = 123;
    EXPECT(wt_net_add(net, NULL, &node), WT_ERR_INVALID_ARGUMENT, "NULL");
    EXPECT(wt_net_add(net, &(wt_layer_desc){ .type = (wt_layer_type)77 }, &node), WT_ERR_INVALID_ARGUMENT, "unknown layer type");
    EXPECT(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_RELU, .input = 5 }, &node), WT_ERR_NOT_FOUND, "does not exist");
    EXPECT(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_DENSE, .out_channels = 0 }, &node), WT_ERR_SHAPE, "out_channels");
    EXPECT(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_CONV2D, .out_channels = 4, .kernel_h = 9, .kernel_w = 9,
                                             .padding = WT_PAD_VALID }, &node), WT_ERR_SHAPE, "does not fit");
    EXPECT(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_CONV2D, .out_channels = 4, .stride = 99 }, &node),
           WT_ERR_INVALID_ARGUMENT, "stride");
    EXPECT(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_DROPOUT, .dropout_rate = 1.0f }, &node),
           WT_ERR_INVALID_ARGUMENT, "dropout rate");
    EXPECT(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_DROPOUT, .dropout_rate = NAN }, &node),
           WT_ERR_INVALID_ARGUMENT, "dropout rate");
    CHECK(node == -1, "a failed add must report node -1");
    CHECK(wt_net_node_count(net) == 1, "failed adds must not add nodes");

    int conv, pooled, logits, other;
    CHECK(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "conv", .out_channels = 4, .stride = 2 }, &conv) == WT_OK, "%s", wt_last_error());
    EXPECT(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_RELU, .name = "conv", .input = conv }, &node),
           WT_ERR_INVALID_ARGUMENT, "already exists");
    CHECK(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_CONV2D, .out_channels = 5, .input = 0 }, &other) == WT_OK, "%s", wt_last_error());
    EXPECT(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_ADD, .input = conv, .input2 = other }, &node),
           WT_ERR_SHAPE, "add inputs differ");
    CHECK(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_GLOBAL_AVG_POOL, .input = conv }, &pooled) == WT_OK, "%s", wt_last_error());
    CHECK(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "head", .input = pooled, .out_channels = 3 }, &logits) == WT_OK, "%s", wt_last_error());

    int found = -1;
    CHECK(wt_net_find_node(net, "head", &found) == WT_OK && found == logits, "find_node");
    EXPECT(wt_net_find_node(net, "nope", &found), WT_ERR_NOT_FOUND, "nope");
    EXPECT(wt_net_node_shape(net, 99, NULL, NULL, NULL), WT_ERR_NOT_FOUND, "node 99");

    float x[2 * 8 * 8 * 3] = {0};
    int labels[2] = { 0, 2 };
    float loss = 0.0f;
    EXPECT(wt_net_forward(net, x, 2, 1), WT_ERR_STATE, "not planned");
    EXPECT(wt_net_plan(net, 0), WT_ERR_SHAPE, "max_batch");
    EXPECT(wt_net_plan(NULL, 2), WT_ERR_INVALID_ARGUMENT, "NULL");
    {
        /* Plans whose byte sizes overflow a 32-bit size_t (wasm) are refused, not wrapped around
         * into a small arena the kernels then overrun: an 8192x8192x3 input (201M values, allowed)
         * at batch 1024 is 824 GB; 4096x4096x64 conv outputs at batch 64 are 4 GB+ each. */
        wt_net* big = NULL;
        CHECK(wt_net_create(ctx, 8192, 8192, 3, &big) == WT_OK, "%s", wt_last_error());
        EXPECT(wt_net_plan(big, 1024), WT_ERR_OUT_OF_MEMORY, "smaller batch");
        wt_net_destroy(big);
        int c1 = 0;
        CHECK(wt_net_create(ctx, 4096, 4096, 3, &big) == WT_OK, "%s", wt_last_error());
        CHECK(wt_net_add(big, &(wt_layer_desc){ .type = WT_LAYER_CONV2D, .out_channels = 16, .input = 0 }, &c1) == WT_OK, "%s", wt_last_error());
        EXPECT(wt_net_plan(big, 64), WT_ERR_OUT_OF_MEMORY, "smaller batch");
        wt_net_destroy(big);
    }
    CHECK(wt_net_plan(net, 2) == WT_OK, "%s", wt_last_error());
    EXPECT(wt_net_backward(net), WT_ERR_STATE, "forward first");
    EXPECT(wt_net_softmax_xent(net, logits, labels, 0.0f, NULL, &loss), WT_ERR_STATE, "forward first");
    EXPECT(wt_net_forward(net, NULL, 2, 1), WT_ERR_INVALID_ARGUMENT, "NULL");
    EXPECT(wt_net_forward(net, x, 3, 1), WT_ERR_SHAPE, "batch 3");
    EXPECT(wt_net_forward(net, x, 0, 1), WT_ERR_SHAPE, "batch 0");
    x[17] = NAN;
    EXPECT(wt_net_forward(net, x, 2, 1), WT_ERR_NOT_FINITE, "NaN");
    x[17] = INFINITY;
    EXPECT(wt_net_forward(net, x, 2, 1), WT_ERR_NOT_FINITE, "NaN or infinity");
    x[17] = 0.5f;
    CHECK(wt_net_forward(net, x, 2, 1) == WT_OK, "%s", wt_last_error());

    float out[6];
    EXPECT(wt_net_read_output(net, logits, out, 5), WT_ERR_SHAPE, "not 5");
    EXPECT(wt_net_read_output(net, logits, NULL, 6), WT_ERR_INVALID_ARGUMENT, "NULL");
    CHECK(wt_net_read_output(net, logits, out, 6) == WT_OK, "%s", wt_last_error());
    EXPECT(wt_net_softmax_xent(net, conv, labels, 0.0f, NULL, &loss), WT_ERR_SHAPE, "1x1xK");
    int bad_labels[2] = { 0, 3 };
    EXPECT(wt_net_softmax_xent(net, logits, bad_labels, 0.0f, NULL, &loss), WT_ERR_INVALID_ARGUMENT, "label 3");
    EXPECT(wt_net_softmax_xent(net, logits, labels, 1.5f, NULL, &loss), WT_ERR_INVALID_ARGUMENT, "smoothing");
    float weights[3] = { 1.0f, NAN, 1.0f };
    EXPECT(wt_net_softmax_xent(net, logits, labels, 0.0f, weights, &loss), WT_ERR_INVALID_ARGUMENT, "class weight");
    EXPECT(wt_net_backward(net), WT_ERR_STATE, "no output gradient");
    float g_bad[6] = { 0, 0, NAN, 0, 0, 0 };
    EXPECT(wt_net_add_output_grad(net, logits, g_bad, 6), WT_ERR_NOT_FINITE, "NaN");
    EXPECT(wt_net_add_output_grad(net, logits, g_bad, 4), WT_ERR_SHAPE, "not 4");

    /* parameters */
    wt_param_info info;
    EXPECT(wt_net_param_info(net, -1, &info), WT_ERR_NOT_FOUND, "parameter -1");
    EXPECT(wt_net_param_info(net, 0, NULL), WT_ERR_INVALID_ARGUMENT, "NULL");
    CHECK(wt_net_param_info(net, 0, &info) == WT_OK && strcmp(info.name, "conv/weight") == 0 && info.count == 3 * 3 * 3 * 4,
          "conv weight info: %s %zu", info.name, info.count);
    float* w = wt_test_alloc(info.count);
    EXPECT(wt_net_param_write(net, 0, w, info.count - 1), WT_ERR_SHAPE, "conv/weight");
    w[5] = NAN;
    EXPECT(wt_net_param_write(net, 0, w, info.count), WT_ERR_NOT_FINITE, "NaN");
    w[5] = 0.0f;

    /* a diverged net: huge head weights make the logits overflow; the loss is refused, nothing
     * is back-propagated, and the optimizer refuses non-finite gradients */
    wt_optimizer* opt = NULL;
    EXPECT(wt_optimizer_create(net, &(wt_optimizer_desc){ .type = WT_OPT_SGD, .learning_rate = -1.0f }, &opt),
           WT_ERR_INVALID_ARGUMENT, "learning rate");
    EXPECT(wt_optimizer_create(net, &(wt_optimizer_desc){ .type = (wt_optimizer_type)9, .learning_rate = 0.1f }, &opt),
           WT_ERR_INVALID_ARGUMENT, "optimizer type");
    EXPECT(wt_optimizer_create(net, &(wt_optimizer_desc){ .type = WT_OPT_SGD, .learning_rate = 0.1f, .momentum = 1.0f }, &opt),
           WT_ERR_INVALID_ARGUMENT, "momentum");
    CHECK(wt_optimizer_create(net, &(wt_optimizer_desc){ .type = WT_OPT_SGD, .learning_rate = 0.1f }, &opt) == WT_OK, "%s", wt_last_error());
    int head_w = -1;
    for (int i = 0; i < wt_net_param_count(net); i++) {
        wt_net_param_info(net, i, &info);
        if (strcmp(info.name, "head/weight") == 0) head_w = i;
    }
    CHECK(head_w >= 0, "head/weight not found");
    float huge[4 * 3];
    for (int i = 0; i < 12; i++) huge[i] = (i % 2 ? -3e38f : 3e38f);
    CHECK(wt_net_param_write(net, head_w, huge, 12) == WT_OK, "%s", wt_last_error());
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = 1.0f + (float)(i % 7);
    CHECK(wt_net_forward(net, x, 2, 1) == WT_OK, "%s", wt_last_error());
    EXPECT(wt_net_softmax_xent(net, logits, labels, 0.0f, NULL, &loss), WT_ERR_NOT_FINITE, "loss");
    EXPECT(wt_net_backward(net), WT_ERR_STATE, "no output gradient");

    /* re-planning invalidates optimizers */
    CHECK(wt_net_plan(net, 2) == WT_OK, "%s", wt_last_error());
    EXPECT(wt_optimizer_step(opt), WT_ERR_STATE, "re-planned");
    wt_optimizer_destroy(opt);
    EXPECT(wt_optimizer_step(NULL), WT_ERR_INVALID_ARGUMENT, "NULL");

    /* set_bn_mode on a non-BN layer, lr scale checks */
    EXPECT(wt_net_set_bn_mode(net, conv, WT_BN_FROZEN), WT_ERR_INVALID_ARGUMENT, "not a batch norm");
    EXPECT(wt_net_set_lr_scale(net, conv, NAN), WT_ERR_INVALID_ARGUMENT, "scale");
    EXPECT(wt_net_set_trainable(net, 0, 0), WT_ERR_INVALID_ARGUMENT, "input");

    free(w);
    wt_net_destroy(net);

    /* A deep chain: the node array grows (16, 32, 64, ...) while layers read their input's shape. */
    CHECK(wt_net_create(ctx, 4, 4, 3, &net) == WT_OK, "%s", wt_last_error());
    int prev = 0;
    for (int i = 0; i < 70; i++) {
        wt_layer_desc d = i % 2 ? (wt_layer_desc){ .type = WT_LAYER_RELU, .input = prev }
                                : (wt_layer_desc){ .type = WT_LAYER_CONV2D, .input = prev, .out_channels = 3 + i % 5,
                                                   .kernel_h = 1, .kernel_w = 1 };
        CHECK(wt_net_add(net, &d, &prev) == WT_OK, "layer %d: %s", i, wt_last_error());
    }
    CHECK(wt_net_plan(net, 1) == WT_OK, "%s", wt_last_error());
    float chain_in[4 * 4 * 3] = {0.5f};
    CHECK(wt_net_forward(net, chain_in, 1, 0) == WT_OK, "%s", wt_last_error());
    /* a weight too large for 32-bit sizes is refused, not overflowed */
    int wide = -1;
    CHECK(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_DENSE, .input = 0, .out_channels = 60000 }, &wide) == WT_OK, "%s", wt_last_error());
    EXPECT(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_CONV2D, .input = wide, .out_channels = 60000,
                                             .kernel_h = 15, .kernel_w = 15 }, &node), WT_ERR_SHAPE, "too large");
    wt_net_destroy(net);
    wt_context_destroy(ctx);
    return wt_test_summary();
}
