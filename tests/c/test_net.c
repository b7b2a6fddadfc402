/* test_net.c: the graph end to end through the public API.
 * - finite-difference check of every parameter gradient of a net that holds every layer type
 *   (conv2d 3x3 stride 2, batch norm in both modes, relu, relu6, depthwise stride 1 and 2, pointwise,
 *   residual add, global pooling, dense, dropout in inference, softmax cross-entropy with smoothing)
 * - L2 normalisation: unit root-mean-square rows, scale invariance, and finite-difference gradients
 *   of the layers below and above it (a smooth net, so no kinks blur the check)
 * - concat of two pooled branches (a 12-channel conv and a 5-channel pointwise conv on it): each
 *   block weighted by sqrt(C / (2 C_i)), and finite-difference gradients through both branches
 * - gradient reversal flips and scales the gradient below it
 * - results are bit-identical for 1, 2 and 3 threads
 * - frozen layers: no gradient memory, weights and moving statistics bit-identical after training
 * - inference-mode folding of frozen conv -> batch norm (-> ReLU6): the same outputs as the layers
 *   run one by one, bit-identical over thread counts, and remade after a parameter write (this one
 *   looks inside the net, through net.h, to see that the groups really were folded) */
#include "net.h"
#include "webtune.h"
#include "wt_test.h"
#include "wt_test_net.h"

#define IN_H 9
#define IN_W 7
#define IN_C 3
#define BATCH 4
#define CLASSES 5

typedef struct built {
    wt_net* net;
    int logits, conv1, bn1, dw1, bn_frozen, pw, grl;
} built;

static int add(wt_net* net, wt_layer_desc d) {
    int id = -1;
    wt_status st = wt_net_add(net, &d, &id);
    CHECK(st == WT_OK, "wt_net_add(type %d): %s", (int)d.type, wt_last_error());
    return id;
}

/* Every layer type; grl_lambda < 0 leaves out the gradient-reversal layer. */
static built build(wt_context* ctx, float grl_lambda, float dropout_rate) {
    built b = {0};
    wt_status st = wt_net_create(ctx, IN_H, IN_W, IN_C, &b.net);
    CHECK(st == WT_OK, "wt_net_create: %s", wt_last_error());
    wt_net* net = b.net;
    int x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "conv1", .input = 0, .out_channels = 6,
                                      .stride = 2, .use_bias = 1 });
    b.conv1 = x;
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .name = "bn1", .input = x, .bn_mode = WT_BN_BATCH_STATS });
    b.bn1 = x;
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .input = x });
    int block_in = x;
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DEPTHWISE, .name = "dw1", .input = x });
    b.dw1 = x;
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .name = "bn_frozen", .input = x, .bn_mode = WT_BN_FROZEN });
    b.bn_frozen = x;
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU, .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "pw", .input = x, .out_channels = 6,
                                  .kernel_h = 1, .kernel_w = 1 });
    b.pw = x;
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_ADD, .input = x, .input2 = block_in });
    if (grl_lambda >= 0.0f) {
        x = add(net, (wt_layer_desc){ .type = WT_LAYER_GRAD_REVERSAL, .name = "grl", .input = x, .grl_lambda = grl_lambda });
        b.grl = x;
    }
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DEPTHWISE, .input = x, .stride = 2, .use_bias = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .input = x, .out_channels = 7, .kernel_h = 1,
                                  .kernel_w = 1, .use_bias = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_GLOBAL_AVG_POOL, .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DROPOUT, .input = x, .dropout_rate = dropout_rate });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "head", .input = x, .out_channels = CLASSES,
                                  .use_bias = 1 });
    b.logits = x;
    st = wt_net_plan(net, BATCH);
    CHECK(st == WT_OK, "wt_net_plan: %s", wt_last_error());
    /* non-trivial batch-norm parameters and statistics, so every term of their gradients matters
     * (the weights keep their initialisation) */
    static const wt_test_range ranges[WT_TEST_PARAM_KINDS] = {
        [WT_PARAM_BIAS] = { -0.1f, 0.1f },        [WT_PARAM_GAMMA] = { 0.5f, 1.5f },
        [WT_PARAM_BETA] = { -0.2f, 0.6f },        [WT_PARAM_MOVING_MEAN] = { -0.3f, 0.3f },
        [WT_PARAM_MOVING_VARIANCE] = { 0.5f, 2.0f },
    };
    wt_test_randomize_params(net, 7, ranges);
    return b;
}

static float input[BATCH * IN_H * IN_W * IN_C];
static const int labels[BATCH] = { 1, 4, 0, 2 };

static double loss_at(wt_net* net, int logits) {
    float loss = 0.0f;
    wt_status st = wt_net_forward(net, input, BATCH, 1);
    CHECK(st == WT_OK, "forward: %s", wt_last_error());
    st = wt_net_softmax_xent(net, logits, labels, 0.1f, NULL, &loss);
    CHECK(st == WT_OK, "xent: %s", wt_last_error());
    return loss;
}

typedef struct fd_ctx { wt_net* net; int logits; int param; float* values; size_t count; } fd_ctx;

static double fd_loss(void* p) {
    fd_ctx* c = (fd_ctx*)p;
    wt_net_param_write(c->net, c->param, c->values, c->count);
    return loss_at(c->net, c->logits);
}

/* Relative error of one analytic gradient entry against central differences at two step sizes,
 * the better of the two: a large step crosses ReLU kinks (many pixels share one weight), a small
 * one drowns in float32 rounding of the loss. A wrong backward term fails at both. */
static double fd_error(float* x, float analytic, fd_ctx* c) {
    double e_large = wt_gradcheck(x, &analytic, 1, 1e-2f, fd_loss, c, 2e-3);
    double e_small = wt_gradcheck(x, &analytic, 1, 2e-3f, fd_loss, c, 2e-3);
    return e_large < e_small ? e_large : e_small;
}

/* Analytic gradient of every trainable parameter vs central differences of the loss: a tolerance
 * of a few percent on each entry, with an absolute floor; a wrong term in any backward kernel gives
 * errors of order 1 on most entries. Up to 3% may exceed it by a little: the first convolution's
 * weights each touch every pixel, so some kink is always near (both steps were seen to converge
 * to the analytic value as the step shrinks). */
static void check_param_grads(built* b, float grad_scale, const char* what) {
    wt_net* net = b->net;
    wt_net_zero_grad(net);
    (void)loss_at(net, b->logits);
    CHECK(wt_net_backward(net) == WT_OK, "backward: %s", wt_last_error());
    int checked = 0, bad = 0;
    double worst = 0.0;
    for (int i = 0; i < wt_net_param_count(net); i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        if (!info.trainable) continue;
        float* values = wt_test_alloc(info.count);
        float* grad = wt_test_alloc(info.count);
        wt_net_param_read(net, i, values, info.count);
        CHECK(wt_net_grad_read(net, i, grad, info.count) == WT_OK, "%s", wt_last_error());
        for (size_t j = 0; j < info.count; j++) grad[j] *= grad_scale;
        fd_ctx c = { net, b->logits, i, values, info.count };
        for (size_t j = 0; j < info.count; j++) {
            float one_grad = grad[j];
            double e = fd_error(&values[j], one_grad, &c);
            checked++;
            if (e > 3e-2) {
                bad++;
                if (bad < 5) fprintf(stderr, "  %s: %s[%zu] analytic %g rel err %g\n", what, info.name, j, one_grad, e);
            }
            if (e > worst) worst = e;
        }
        wt_net_param_write(net, i, values, info.count);
        free(values);
        free(grad);
    }
    printf("%s: %d gradient entries checked, %d over tolerance, worst rel err %.3g\n", what, checked, bad, worst);
    CHECK(checked > 200, "%s: only %d entries checked", what, checked);
    CHECK(bad * 100 <= 3 * checked, "%s: %d of %d gradient entries disagree with finite differences", what, bad, checked);
    CHECK(worst < 0.25, "%s: worst relative error %g", what, worst);
}

static void test_gradients(void) {
    wt_context* ctx;
    CHECK(wt_context_create(&(wt_context_desc){ .n_threads = 2, .seed = 3 }, &ctx) == WT_OK, "%s", wt_last_error());
    built b = build(ctx, -1.0f, 0.0f);
    check_param_grads(&b, 1.0f, "all layers");
    wt_net_destroy(b.net);

    /* Gradient reversal with lambda 0.5 between the residual block and the rest: parameters below
     * it get -0.5x the true gradient, parameters above it the true one. Scaling the analytic
     * gradients of the layers below by -2 must then agree with finite differences everywhere. */
    b = build(ctx, 0.5f, 0.0f);
    wt_net* net = b.net;
    wt_net_zero_grad(net);
    (void)loss_at(net, b.logits);
    CHECK(wt_net_backward(net) == WT_OK, "backward: %s", wt_last_error());
    int below_checked = 0, below_bad = 0;
    for (int i = 0; i < wt_net_param_count(net); i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        if (!info.trainable || info.node > b.grl) continue;
        float* values = wt_test_alloc(info.count);
        float* grad = wt_test_alloc(info.count);
        wt_net_param_read(net, i, values, info.count);
        wt_net_grad_read(net, i, grad, info.count);
        fd_ctx c = { net, b.logits, i, values, info.count };
        for (size_t j = 0; j < info.count; j++) {
            float g = grad[j] * -2.0f;
            below_checked++;
            if (fd_error(&values[j], g, &c) > 3e-2) below_bad++;
        }
        wt_net_param_write(net, i, values, info.count);
        free(values);
        free(grad);
    }
    CHECK(below_checked > 50 && below_bad * 100 <= 3 * below_checked,
          "gradient reversal: %d of %d entries below the layer are not -lambda x the true gradient", below_bad,
          below_checked);
    wt_net_destroy(net);
    wt_context_destroy(ctx);
}

/* WT_LAYER_L2_NORMALIZE per position of a 3x3 convolution's output, then pooling and a dense head:
 * every output row has unit root-mean-square, scaling the input does not change the logits, and
 * the gradients of the convolution below the layer and the dense layer above it agree with finite
 * differences (the net is smooth, so the tolerance is tight). */
static void test_l2_normalize(void) {
    wt_context* ctx;
    CHECK(wt_context_create(&(wt_context_desc){ .n_threads = 2, .seed = 5 }, &ctx) == WT_OK, "%s", wt_last_error());
    built b = { 0 };
    CHECK(wt_net_create(ctx, IN_H, IN_W, IN_C, &b.net) == WT_OK, "%s", wt_last_error());
    wt_net* net = b.net;
    int x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "conv", .input = 0, .out_channels = 12,
                                      .use_bias = 1 });
    int norm = add(net, (wt_layer_desc){ .type = WT_LAYER_L2_NORMALIZE, .name = "norm", .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_GLOBAL_AVG_POOL, .input = norm });
    b.logits = add(net, (wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "head", .input = x, .out_channels = CLASSES,
                                         .use_bias = 1 });
    CHECK(wt_net_keep_output(net, norm, 1) == WT_OK, "%s", wt_last_error());
    CHECK(wt_net_plan(net, BATCH) == WT_OK, "plan: %s", wt_last_error());
    wt_layer_desc d;
    CHECK(wt_net_node_desc(net, norm, &d) == WT_OK && d.type == WT_LAYER_L2_NORMALIZE, "node desc");

    size_t rows = (size_t)BATCH * IN_H * IN_W, n = rows * 12;
    float* y = wt_test_alloc(n);
    float logits[BATCH * CLASSES], logits2[BATCH * CLASSES];
    CHECK(wt_net_forward(net, input, BATCH, 0) == WT_OK, "%s", wt_last_error());
    CHECK(wt_net_read_output(net, norm, y, n) == WT_OK, "%s", wt_last_error());
    CHECK(wt_net_read_output(net, b.logits, logits, BATCH * CLASSES) == WT_OK, "%s", wt_last_error());
    double worst = 0.0;
    for (size_t r = 0; r < rows; r++) {
        double ss = 0.0;
        for (int c = 0; c < 12; c++) ss += (double)y[r * 12 + c] * y[r * 12 + c];
        worst = fmax(worst, fabs(ss / 12.0 - 1.0));
    }
    CHECK(worst < 1e-5, "L2 normalised rows: mean square off 1 by %g", worst);
    /* no bias below the layer's input scale: a conv without bias would make this exact; here the
     * whole input scales, and with the conv's bias zeroed the logits must not change */
    for (int i = 0; i < wt_net_param_count(net); i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        if (info.node == 1 && info.kind == WT_PARAM_BIAS) {
            float* z = wt_test_alloc(info.count);
            memset(z, 0, info.count * sizeof(float));
            wt_net_param_write(net, i, z, info.count);
            free(z);
        }
    }
    static float scaled[sizeof input / sizeof input[0]];
    CHECK(wt_net_forward(net, input, BATCH, 0) == WT_OK, "%s", wt_last_error());
    CHECK(wt_net_read_output(net, b.logits, logits, BATCH * CLASSES) == WT_OK, "%s", wt_last_error());
    for (size_t i = 0; i < sizeof input / sizeof input[0]; i++) scaled[i] = 7.5f * input[i];
    CHECK(wt_net_forward(net, scaled, BATCH, 0) == WT_OK, "%s", wt_last_error());
    CHECK(wt_net_read_output(net, b.logits, logits2, BATCH * CLASSES) == WT_OK, "%s", wt_last_error());
    double diff = 0.0;
    for (int i = 0; i < BATCH * CLASSES; i++) diff = fmax(diff, fabs(logits[i] - logits2[i]));
    CHECK(diff < 1e-5, "L2 normalisation: scaling the input by 7.5 moved a logit by %g", diff);
    free(y);
    /* non-zero biases again, then the gradients */
    for (int i = 0; i < wt_net_param_count(net); i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        if (info.kind != WT_PARAM_BIAS) continue;
        float* v = wt_test_alloc(info.count);
        wt_rng rng = { 9 + (uint64_t)i };
        wt_rng_fill(&rng, v, info.count, -0.3f, 0.3f);
        wt_net_param_write(net, i, v, info.count);
        free(v);
    }
    check_param_grads(&b, 1.0f, "l2 normalize");
    wt_net_destroy(net);
    wt_context_destroy(ctx);
}

/* WT_LAYER_CONCAT of two pooled, L2-normalised branches of different widths, as the multi-layer
 * embedding uses it: conv (12) -> pool -> norm and conv -> pointwise conv (5) -> pool -> norm,
 * joined, then a dense head. The output holds each block scaled by sqrt(17 / (2 C_i)) (unit RMS
 * overall), and the first conv's weights get gradient through both blocks. */
static void test_concat(void) {
    wt_context* ctx;
    CHECK(wt_context_create(&(wt_context_desc){ .n_threads = 2, .seed = 6 }, &ctx) == WT_OK, "%s", wt_last_error());
    built b = { 0 };
    CHECK(wt_net_create(ctx, IN_H, IN_W, IN_C, &b.net) == WT_OK, "%s", wt_last_error());
    wt_net* net = b.net;
    int conv = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "conv", .input = 0, .out_channels = 12,
                                         .use_bias = 1 });
    int pw = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .name = "pw", .input = conv, .out_channels = 5,
                                       .kernel_h = 1, .kernel_w = 1, .use_bias = 1 });
    int pa = add(net, (wt_layer_desc){ .type = WT_LAYER_GLOBAL_AVG_POOL, .input = conv });
    int pb = add(net, (wt_layer_desc){ .type = WT_LAYER_GLOBAL_AVG_POOL, .input = pw });
    int na = add(net, (wt_layer_desc){ .type = WT_LAYER_L2_NORMALIZE, .input = pa });
    int nb = add(net, (wt_layer_desc){ .type = WT_LAYER_L2_NORMALIZE, .input = pb });
    int cat = add(net, (wt_layer_desc){ .type = WT_LAYER_CONCAT, .name = "cat", .input = na, .input2 = nb });
    b.logits = add(net, (wt_layer_desc){ .type = WT_LAYER_DENSE, .name = "head", .input = cat, .out_channels = CLASSES,
                                         .use_bias = 1 });
    int h, w, c;
    CHECK(wt_net_node_shape(net, cat, &h, &w, &c) == WT_OK && h == 1 && w == 1 && c == 17, "concat shape %dx%dx%d", h, w, c);
    /* a concat of inputs that differ in size is refused */
    int bad = -1;
    CHECK(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_CONCAT, .input = conv, .input2 = pa }, &bad) == WT_ERR_SHAPE,
          "concat of 9x7 and 1x1 inputs must fail with WT_ERR_SHAPE");
    CHECK(wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_CONCAT, .input = pa, .input2 = 999 }, &bad) == WT_ERR_NOT_FOUND,
          "concat of a missing node must fail with WT_ERR_NOT_FOUND");
    CHECK(wt_net_keep_output(net, na, 1) == WT_OK && wt_net_keep_output(net, nb, 1) == WT_OK &&
              wt_net_keep_output(net, cat, 1) == WT_OK, "%s", wt_last_error());
    CHECK(wt_net_plan(net, BATCH) == WT_OK, "plan: %s", wt_last_error());
    CHECK(wt_net_forward(net, input, BATCH, 0) == WT_OK, "%s", wt_last_error());
    float ya[BATCH * 12], yb[BATCH * 5], y[BATCH * 17];
    CHECK(wt_net_read_output(net, na, ya, BATCH * 12) == WT_OK && wt_net_read_output(net, nb, yb, BATCH * 5) == WT_OK &&
              wt_net_read_output(net, cat, y, BATCH * 17) == WT_OK, "%s", wt_last_error());
    double worst = 0.0, worst_rms = 0.0;
    double a1 = sqrt(17.0 / 24.0), a2 = sqrt(17.0 / 10.0);
    for (int n = 0; n < BATCH; n++) {
        double ss = 0.0, ss1 = 0.0;
        for (int i = 0; i < 12; i++) worst = fmax(worst, fabs(y[n * 17 + i] - a1 * ya[n * 12 + i]));
        for (int i = 0; i < 5; i++) worst = fmax(worst, fabs(y[n * 17 + 12 + i] - a2 * yb[n * 5 + i]));
        for (int i = 0; i < 17; i++) ss += (double)y[n * 17 + i] * y[n * 17 + i];
        for (int i = 0; i < 12; i++) ss1 += (double)y[n * 17 + i] * y[n * 17 + i];
        worst_rms = fmax(worst_rms, fabs(ss / 17.0 - 1.0));
        worst_rms = fmax(worst_rms, fabs(ss1 / ss - 0.5));
    }
    CHECK(worst < 1e-6, "concat: a block differs from its weighted input by %g", worst);
    CHECK(worst_rms < 1e-5, "concat: unit RMS with half the squared length per block, off by %g", worst_rms);
    check_param_grads(&b, 1.0f, "concat");
    wt_net_destroy(net);
    wt_context_destroy(ctx);
}

/* Dropout in a net: masks change from one training forward to the next, inference is the identity,
 * and the head's gradient sees the same mask as the forward pass that made it. */
static void test_dropout_in_net(void) {
    wt_context* ctx;
    wt_context_create(&(wt_context_desc){ .n_threads = 1, .seed = 11 }, &ctx);
    built with = build(ctx, -1.0f, 0.5f), without = build(ctx, -1.0f, 0.0f);
    size_t n = BATCH * CLASSES;
    float* a = wt_test_alloc(n), *b = wt_test_alloc(n), *c = wt_test_alloc(n);
    wt_net_forward(with.net, input, BATCH, 0);
    wt_net_read_output(with.net, with.logits, a, n);
    wt_net_forward(without.net, input, BATCH, 0);
    wt_net_read_output(without.net, without.logits, b, n);
    CHECK(wt_bit_equal(a, b, n), "dropout must be the identity in inference");
    wt_net_forward(with.net, input, BATCH, 1);
    wt_net_read_output(with.net, with.logits, a, n);
    wt_net_forward(with.net, input, BATCH, 1);
    wt_net_read_output(with.net, with.logits, c, n);
    CHECK(!wt_bit_equal(a, c, n), "two training passes should draw different dropout masks");
    free(a); free(b); free(c);
    wt_net_destroy(with.net);
    wt_net_destroy(without.net);
    wt_context_destroy(ctx);
}

/* Train a few steps with 1, 2 and 3 threads: every parameter must come out bit-identical. */
static void test_thread_invariance(void) {
    float* first = NULL;
    size_t total = 0;
    for (int threads = 1; threads <= 3; threads++) {
        wt_context* ctx;
        CHECK(wt_context_create(&(wt_context_desc){ .n_threads = threads, .seed = 5 }, &ctx) == WT_OK, "%s",
              wt_last_error());
        built b = build(ctx, -1.0f, 0.3f);
        wt_optimizer* opt;
        CHECK(wt_optimizer_create(b.net, &(wt_optimizer_desc){ .type = WT_OPT_ADAMW, .learning_rate = 1e-2f,
                                                               .weight_decay = 1e-2f }, &opt) == WT_OK,
              "%s", wt_last_error());
        for (int step = 0; step < 4; step++) {
            float loss;
            wt_net_zero_grad(b.net);
            wt_net_forward(b.net, input, BATCH, 1);
            wt_net_softmax_xent(b.net, b.logits, labels, 0.0f, NULL, &loss);
            wt_net_backward(b.net);
            CHECK(wt_optimizer_step(opt) == WT_OK, "%s", wt_last_error());
        }
        size_t count = 0;
        for (int i = 0; i < wt_net_param_count(b.net); i++) {
            wt_param_info info;
            wt_net_param_info(b.net, i, &info);
            count += info.count;
        }
        float* all = wt_test_alloc(count);
        size_t off = 0;
        for (int i = 0; i < wt_net_param_count(b.net); i++) {
            wt_param_info info;
            wt_net_param_info(b.net, i, &info);
            wt_net_param_read(b.net, i, all + off, info.count);
            off += info.count;
        }
        if (!first) {
            first = all;
            total = count;
        } else {
            CHECK(count == total && wt_bit_equal(first, all, count),
                  "parameters after training with %d threads differ from 1 thread", threads);
            free(all);
        }
        wt_optimizer_destroy(opt);
        wt_net_destroy(b.net);
        wt_context_destroy(ctx);
    }
    free(first);
}

/* Freezing: frozen layers keep bit-identical weights and moving statistics; no gradient memory
 * exists below the lowest trainable layer. */
static void test_freezing(void) {
    wt_context* ctx;
    wt_context_create(&(wt_context_desc){ .n_threads = 2, .seed = 9 }, &ctx);
    built b = build(ctx, -1.0f, 0.0f);
    size_t all_trainable_bytes = wt_net_planned_bytes(b.net);
    wt_net* net = b.net;
    /* freeze everything up to and including the pointwise layer */
    for (int node = 1; node <= b.pw; node++) wt_net_set_trainable(net, node, 0);
    CHECK(wt_net_forward(net, input, BATCH, 1) == WT_ERR_STATE, "freezing must require a new plan");
    CHECK(wt_net_plan(net, BATCH) == WT_OK, "%s", wt_last_error());
    CHECK(wt_net_planned_bytes(net) < all_trainable_bytes, "frozen layers should need less memory (%zu vs %zu)",
          wt_net_planned_bytes(net), all_trainable_bytes);
    int n = wt_net_param_count(net);
    float** before = (float**)calloc((size_t)n, sizeof(float*));
    for (int i = 0; i < n; i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        before[i] = wt_test_alloc(info.count);
        wt_net_param_read(net, i, before[i], info.count);
        if (info.node <= b.pw) {
            float dummy;
            CHECK(info.trainable == 0, "%s should be frozen", info.name);
            CHECK(wt_net_grad_read(net, i, &dummy, info.count) != WT_OK || info.count != 1,
                  "%s has a gradient buffer although frozen", info.name);
        }
    }
    wt_optimizer* opt;
    wt_optimizer_create(net, &(wt_optimizer_desc){ .type = WT_OPT_SGD, .learning_rate = 0.1f, .momentum = 0.9f }, &opt);
    for (int step = 0; step < 3; step++) {
        float loss;
        wt_net_zero_grad(net);
        wt_net_forward(net, input, BATCH, 1);
        wt_net_softmax_xent(net, b.logits, labels, 0.0f, NULL, &loss);
        CHECK(wt_net_backward(net) == WT_OK, "%s", wt_last_error());
        CHECK(wt_optimizer_step(opt) == WT_OK, "%s", wt_last_error());
    }
    int changed_above = 0;
    for (int i = 0; i < n; i++) {
        wt_param_info info;
        wt_net_param_info(net, i, &info);
        float* now = wt_test_alloc(info.count);
        wt_net_param_read(net, i, now, info.count);
        int same = wt_bit_equal(before[i], now, info.count);
        if (info.node <= b.pw) CHECK(same, "frozen %s changed during training", info.name);
        else if (info.trainable && !same) changed_above++;
        free(now);
        free(before[i]);
    }
    CHECK(changed_above >= 4, "only %d trainable tensors above the freeze point changed", changed_above);
    free(before);
    wt_optimizer_destroy(opt);
    wt_net_destroy(net);
    wt_context_destroy(ctx);
}

/* A MobileNet-like frozen backbone under a trainable head. Stem 3x3 -> BN -> ReLU6, depthwise -> BN
 * -> ReLU6, pointwise 40 -> BN -> ReLU6 (its BN kept: only conv + BN fold), pointwise 600 -> BN
 * -> ReLU6, pointwise 600 -> 8 (two GEMM k blocks) -> BN (no ReLU6), pooling, dense. */
typedef struct fold_net {
    wt_net* net;
    int stem, dw, pw1, bn_pw1, pw2, pw3, bn_pw3, logits;
} fold_net;

static fold_net build_fold_net(wt_context* ctx, int save_memory) {
    fold_net f = {0};
    CHECK(wt_net_create(ctx, IN_H, IN_W, IN_C, &f.net) == WT_OK, "%s", wt_last_error());
    wt_net* net = f.net;
    int x = f.stem = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .input = 0, .out_channels = 6, .stride = 2 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .input = x });
    x = f.dw = add(net, (wt_layer_desc){ .type = WT_LAYER_DEPTHWISE, .input = x, .use_bias = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .input = x });
    x = f.pw1 = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .input = x, .out_channels = 40, .kernel_h = 1, .kernel_w = 1 });
    x = f.bn_pw1 = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .input = x });
    x = f.pw2 = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .input = x, .out_channels = 600, .kernel_h = 1, .kernel_w = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .input = x });
    x = f.pw3 = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .input = x, .out_channels = 8, .kernel_h = 1, .kernel_w = 1, .use_bias = 1 });
    x = f.bn_pw3 = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_GLOBAL_AVG_POOL, .input = x });
    x = f.logits = add(net, (wt_layer_desc){ .type = WT_LAYER_DENSE, .input = x, .out_channels = CLASSES, .use_bias = 1 });
    for (int node = 1; node < f.logits; node++) wt_net_set_trainable(net, node, 0);
    wt_net_set_memory_saving(net, save_memory);
    wt_net_keep_output(net, f.bn_pw1, 1);
    CHECK(wt_net_plan(net, BATCH) == WT_OK, "%s", wt_last_error());
    /* wide batch-norm scales and shifts, so a stale or wrong fold shows */
    static const wt_test_range ranges[WT_TEST_PARAM_KINDS] = {
        [WT_PARAM_WEIGHT] = { -0.6f, 0.6f },      [WT_PARAM_BIAS] = { -0.5f, 0.5f },
        [WT_PARAM_GAMMA] = { 0.5f, 1.5f },        [WT_PARAM_BETA] = { -0.5f, 1.5f },
        [WT_PARAM_MOVING_MEAN] = { -0.3f, 0.3f }, [WT_PARAM_MOVING_VARIANCE] = { 0.05f, 2.0f },
    };
    wt_test_randomize_params(net, 21, ranges);
    return f;
}

/* Forward (training flag as given) and read the logits and the kept batch norm's output. */
static void fold_forward(fold_net* f, int training, float* logits, float* kept, size_t n_kept) {
    CHECK(wt_net_forward(f->net, input, BATCH, training) == WT_OK, "%s", wt_last_error());
    CHECK(wt_net_read_output(f->net, f->logits, logits, BATCH * CLASSES) == WT_OK, "%s", wt_last_error());
    CHECK(wt_net_read_output(f->net, f->bn_pw1, kept, n_kept) == WT_OK, "%s", wt_last_error());
}

static void test_folding(void) {
    wt_context *ctx1, *ctx3;
    wt_context_create(&(wt_context_desc){ .n_threads = 1, .seed = 3 }, &ctx1);
    wt_context_create(&(wt_context_desc){ .n_threads = 3, .seed = 3 }, &ctx3);
    fold_net ref = build_fold_net(ctx1, 0); /* memory saving off: every layer runs on its own */
    fold_net fold = build_fold_net(ctx1, 1);
    fold_net fold3 = build_fold_net(ctx3, 1);
    const wt_node* nodes = fold.net->nodes;
    CHECK(nodes[fold.stem].fold_span == 3 && nodes[fold.dw].fold_span == 3 && nodes[fold.pw2].fold_span == 3,
          "conv -> BN -> ReLU6 should fold as three (spans %d %d %d)", nodes[fold.stem].fold_span,
          nodes[fold.dw].fold_span, nodes[fold.pw2].fold_span);
    CHECK(nodes[fold.pw1].fold_span == 2, "a kept batch norm folds with its conv only (span %d)", nodes[fold.pw1].fold_span);
    CHECK(nodes[fold.pw3].fold_span == 2, "conv -> BN without ReLU6 folds as two (span %d)", nodes[fold.pw3].fold_span);
    for (int node = 1; node < ref.logits; node++)
        CHECK(ref.net->nodes[node].fold_span == 0, "nothing folds without memory saving (node %d)", node);

    const size_t n_kept = (size_t)BATCH * nodes[fold.bn_pw1].h * nodes[fold.bn_pw1].w * nodes[fold.bn_pw1].c;
    float *l_ref = wt_test_alloc(BATCH * CLASSES), *l_fold = wt_test_alloc(BATCH * CLASSES),
          *l_fold3 = wt_test_alloc(BATCH * CLASSES);
    float *k_ref = wt_test_alloc(n_kept), *k_fold = wt_test_alloc(n_kept), *k_fold3 = wt_test_alloc(n_kept);
    for (int round = 0; round < 2; round++) {
        for (int training = 0; training <= 1; training++) {
            fold_forward(&ref, training, l_ref, k_ref, n_kept);
            fold_forward(&fold, training, l_fold, k_fold, n_kept);
            fold_forward(&fold3, training, l_fold3, k_fold3, n_kept);
            double e = wt_max_rel_err(l_fold, l_ref, BATCH * CLASSES, 1e-2);
            double ek = wt_max_rel_err(k_fold, k_ref, n_kept, 1e-2);
            /* rounding only: folding rounds w * scale once more, and (x - mean) cancels in the unfolded
             * order; a stale fold (round 1) would be off by ~0.1 */
            CHECK(e < 1e-4 && ek < 1e-4, "round %d training %d: folded logits off by %g, kept output by %g", round,
                  training, e, ek);
            CHECK(wt_bit_equal(l_fold, l_fold3, BATCH * CLASSES) && wt_bit_equal(k_fold, k_fold3, n_kept),
                  "round %d training %d: folded outputs differ between 1 and 3 threads", round, training);
        }
        /* new statistics for every batch norm (as AdaBN or loading would write them): the folded
         * copies must follow */
        for (int i = 0; i < wt_net_param_count(ref.net); i++) {
            wt_param_info info;
            wt_net_param_info(ref.net, i, &info);
            if (info.kind != WT_PARAM_MOVING_MEAN) continue;
            float* v = wt_test_alloc(info.count);
            wt_net_param_read(ref.net, i, v, info.count);
            for (size_t j = 0; j < info.count; j++) v[j] += 0.25f;
            wt_net_param_write(ref.net, i, v, info.count);
            wt_net_param_write(fold.net, i, v, info.count);
            wt_net_param_write(fold3.net, i, v, info.count);
            free(v);
        }
    }
    /* weights that blew up (a diverged run): folding would scale them before the sum; the group
     * runs unfolded instead, the same as the layers one by one */
    for (int i = 0; i < wt_net_param_count(ref.net); i++) {
        wt_param_info info;
        wt_net_param_info(ref.net, i, &info);
        if (info.node != fold.pw3 || info.kind != WT_PARAM_WEIGHT) continue;
        float* v = wt_test_alloc(info.count);
        float* keep = wt_test_alloc(info.count);
        wt_net_param_read(ref.net, i, keep, info.count);
        for (size_t j = 0; j < info.count; j++) v[j] = keep[j] * 1e24f;
        wt_net_param_write(ref.net, i, v, info.count);
        wt_net_param_write(fold.net, i, v, info.count);
        fold_forward(&ref, 0, l_ref, k_ref, n_kept);
        fold_forward(&fold, 0, l_fold, k_fold, n_kept);
        CHECK(!nodes[fold.pw3].fold_ok && nodes[fold.pw2].fold_ok, "huge weights should leave only their group unfolded");
        double e = wt_max_rel_err(l_fold, l_ref, BATCH * CLASSES, 1e-2);
        CHECK(wt_all_finite(l_fold, BATCH * CLASSES) && e < 1e-4, "huge weights: logits off by %g", e);
        wt_net_param_write(fold.net, i, keep, info.count);
        fold_forward(&fold, 0, l_fold, k_fold, n_kept);
        CHECK(nodes[fold.pw3].fold_ok, "normal weights again should fold again");
        free(v);
        free(keep);
    }
    free(l_ref); free(l_fold); free(l_fold3);
    free(k_ref); free(k_fold); free(k_fold3);
    wt_net_destroy(ref.net);
    wt_net_destroy(fold.net);
    wt_net_destroy(fold3.net);
    wt_context_destroy(ctx1);
    wt_context_destroy(ctx3);
}

int main(void) {
    wt_rng rng = { 42 };
    wt_rng_fill(&rng, input, sizeof input / sizeof input[0], -1.0f, 1.0f);
    test_gradients();
    test_l2_normalize();
    test_concat();
    test_dropout_in_net();
    test_thread_invariance();
    test_freezing();
    test_folding();
    return wt_test_summary();
}
