/* test_train.c: a tiny MobileNet-like network must overfit one fixed batch (loss near zero) with
 * each optimizer: the end-to-end proof that forward, backward and updates fit together. */
#include "webtune.h"
#include "wt_test.h"

#define H 10
#define W 10
#define C 3
#define BATCH 12
#define CLASSES 4

static float images[BATCH * H * W * C];
static int labels[BATCH];

static int add(wt_net* net, wt_layer_desc d) {
    int id = -1;
    wt_status st = wt_net_add(net, &d, &id);
    CHECK(st == WT_OK, "wt_net_add: %s", wt_last_error());
    return id;
}

/* conv3x3/2 -> BN -> ReLU6 -> [dw3x3 -> BN -> ReLU6 -> pw -> BN] + residual -> dw/2 -> pw -> GAP -> dense */
static wt_net* build(wt_context* ctx, int* logits) {
    wt_net* net;
    wt_net_create(ctx, H, W, C, &net);
    int x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .out_channels = 8, .stride = 2 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .input = x, .bn_mode = WT_BN_BATCH_STATS });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .input = x });
    int skip = x;
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DEPTHWISE, .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .input = x, .bn_mode = WT_BN_BATCH_STATS });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .input = x, .out_channels = 8, .kernel_h = 1, .kernel_w = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .input = x, .bn_mode = WT_BN_BATCH_STATS });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_ADD, .input = x, .input2 = skip });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DEPTHWISE, .input = x, .stride = 2 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU, .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_CONV2D, .input = x, .out_channels = 16, .kernel_h = 1, .kernel_w = 1,
                                  .use_bias = 1 });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_RELU6, .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_GLOBAL_AVG_POOL, .input = x });
    x = add(net, (wt_layer_desc){ .type = WT_LAYER_DENSE, .input = x, .out_channels = CLASSES, .use_bias = 1 });
    *logits = x;
    CHECK(wt_net_plan(net, BATCH) == WT_OK, "plan: %s", wt_last_error());
    return net;
}

static void overfit(const char* name, wt_optimizer_desc desc, int steps, float target) {
    wt_context* ctx;
    wt_context_create(&(wt_context_desc){ .n_threads = 2, .seed = 1 }, &ctx);
    int logits;
    wt_net* net = build(ctx, &logits);
    wt_optimizer* opt;
    CHECK(wt_optimizer_create(net, &desc, &opt) == WT_OK, "%s: %s", name, wt_last_error());
    float first = 0.0f, loss = 0.0f;
    for (int step = 0; step < steps; step++) {
        wt_net_zero_grad(net);
        CHECK(wt_net_forward(net, images, BATCH, 1) == WT_OK, "%s", wt_last_error());
        wt_status st = wt_net_softmax_xent(net, logits, labels, 0.0f, NULL, &loss);
        if (st != WT_OK) { CHECK(st == WT_OK, "%s step %d: %s", name, step, wt_last_error()); break; }
        if (step == 0) first = loss;
        wt_net_backward(net);
        wt_optimizer_step(opt);
    }
    /* inference mode (moving statistics) must also classify the batch it learned */
    float probs[BATCH * CLASSES];
    wt_net_forward(net, images, BATCH, 0);
    wt_net_read_output(net, logits, probs, BATCH * CLASSES);
    int correct = 0;
    for (int i = 0; i < BATCH; i++) {
        int best = 0;
        for (int k = 1; k < CLASSES; k++) if (probs[i * CLASSES + k] > probs[i * CLASSES + best]) best = k;
        correct += best == labels[i];
    }
    printf("%-22s loss %.4f -> %.5f after %d steps; train-mode accuracy in inference: %d/%d\n", name, first, loss,
           steps, correct, BATCH);
    CHECK(first > 1.0f, "%s: initial loss %g should be near ln(4)", name, first);
    CHECK(loss < target, "%s: loss %g did not fall below %g", name, loss, target);
    wt_optimizer_destroy(opt);
    wt_net_destroy(net);
    wt_context_destroy(ctx);
}

int main(void) {
    wt_rng rng = { 2024 };
    wt_rng_fill(&rng, images, sizeof images / sizeof images[0], -1.0f, 1.0f);
    for (int i = 0; i < BATCH; i++) labels[i] = i % CLASSES;
    overfit("adam", (wt_optimizer_desc){ .type = WT_OPT_ADAM, .learning_rate = 1e-2f }, 300, 0.02f);
    overfit("adamw+cosine+warmup", (wt_optimizer_desc){ .type = WT_OPT_ADAMW, .learning_rate = 1e-2f, .weight_decay = 1e-4f,
                                    .schedule = WT_SCHEDULE_COSINE, .warmup_steps = 20, .total_steps = 280,
                                    .min_learning_rate = 1e-3f }, 300, 0.05f);
    overfit("sgd momentum+step", (wt_optimizer_desc){ .type = WT_OPT_SGD, .learning_rate = 5e-2f, .momentum = 0.9f,
                                  .schedule = WT_SCHEDULE_STEP, .step_size = 200, .gamma = 0.5f }, 300, 0.05f);
    return wt_test_summary();
}
