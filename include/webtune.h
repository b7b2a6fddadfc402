/*
 * webtune.h: the one public C header of webtune, a training core for MobileNet-class image networks
 * that runs natively and in WebAssembly (128-bit SIMD, pthreads / Web Workers).
 *
 * Overview
 *   wt_context   owns the worker-thread pool (sized once, at creation) and the random seed.
 *   wt_net       a graph of layers on NHWC float32 tensors. Node 0 is the network input; every
 *                wt_net_add() returns the id of a new node. After wt_net_plan() every buffer the net
 *                needs (parameters, gradients, activations, scratch) is allocated once; forward and
 *                backward never allocate.
 *   wt_optimizer SGD (momentum) / Adam / AdamW over a net's trainable parameters, with a
 *                learning-rate schedule; its state is allocated once, at creation.
 *
 * Errors: every call that can fail returns a wt_status. On failure, wt_last_error() gives a
 * human-readable message for the calling thread. The library never calls exit() or abort() on
 * user error; asserts guard internal invariants only.
 *
 * Ownership: a *_create() hands the caller one object which the caller releases with the
 * matching *_destroy() (NULL is accepted and ignored). Pointers passed in are borrowed for the
 * duration of the call unless a comment says otherwise; strings are copied.
 *
 * Worked example (a tiny classifier, error checks elided):
 *
 *   wt_context* ctx; wt_context_create(&(wt_context_desc){ .n_threads = 2 }, &ctx);
 *   wt_net* net;     wt_net_create(ctx, 8, 8, 3, &net);
 *   int x = 0;
 *   wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_CONV2D, .input = x, .out_channels = 8,
 *                                     .stride = 2 }, &x);
 *   wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_BATCHNORM, .input = x,
 *                                     .bn_mode = WT_BN_BATCH_STATS }, &x);
 *   wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_RELU6, .input = x }, &x);
 *   wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_GLOBAL_AVG_POOL, .input = x }, &x);
 *   wt_net_add(net, &(wt_layer_desc){ .type = WT_LAYER_DENSE, .input = x, .out_channels = 4,
 *                                     .use_bias = 1 }, &x);
 *   wt_net_plan(net, 16);                       // max batch size: all memory is allocated here
 *   wt_optimizer* opt; wt_optimizer_create(net, &(wt_optimizer_desc){ .type = WT_OPT_ADAM,
 *                                          .learning_rate = 1e-3f }, &opt);
 *   for (int step = 0; step < 100; step++) {
 *     float loss;
 *     wt_net_zero_grad(net);
 *     wt_net_forward(net, images, 16, 1);       // training mode
 *     wt_net_softmax_xent(net, x, labels, 0.0f, NULL, &loss);
 *     wt_net_backward(net);
 *     wt_optimizer_step(opt);
 *   }
 *   wt_optimizer_destroy(opt); wt_net_destroy(net); wt_context_destroy(ctx);
 */
#ifndef WEBTUNE_H
#define WEBTUNE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEBTUNE_VERSION_MAJOR 0
#define WEBTUNE_VERSION_MINOR 1
#define WEBTUNE_VERSION_PATCH 0

/* ---------------------------------------------------------------------------------------------
 * Status codes. Append-only: values are part of the ABI and of the JS error codes.
 * ------------------------------------------------------------------------------------------- */
typedef enum wt_status {
    WT_OK = 0,
    WT_ERR_INVALID_ARGUMENT = 1, /* a NULL pointer, a negative count, an unknown enum value */
    WT_ERR_SHAPE = 2,            /* zero or mismatched sizes, a batch larger than planned */
    WT_ERR_OUT_OF_MEMORY = 3,    /* an allocation failed (or would exceed the configured limit) */
    WT_ERR_NOT_FINITE = 4,       /* NaN or infinity in an input, a loss or a gradient */
    WT_ERR_STATE = 5,            /* the call does not fit the object's state (e.g. not planned) */
    WT_ERR_NOT_FOUND = 6,        /* a named layer, parameter or node does not exist */
    WT_ERR_UNSUPPORTED = 7,      /* a valid request webtune does not implement */
    WT_ERR_CORRUPT = 8,          /* malformed bytes: bad magic, checksum, truncated data */
    WT_ERR_IO = 9,               /* a file could not be read or written */
    WT_ERR_THREADS = 10,         /* the thread pool could not be started */
    WT_ERR_ABORTED = 11          /* the caller cancelled the operation */
} wt_status;

/* Short constant name of a status ("WT_ERR_SHAPE"); never NULL. */
const char* wt_status_name(wt_status status);

/* Message describing the most recent failure on the calling thread ("" if none). The pointer
 * stays valid until the next failing webtune call on this thread. */
const char* wt_last_error(void);

/* Clears the calling thread's last error message. */
void wt_clear_error(void);

/* ---------------------------------------------------------------------------------------------
 * Context: thread pool and seed.
 * ------------------------------------------------------------------------------------------- */
typedef struct wt_context wt_context;

typedef struct wt_context_desc {
    int n_threads;  /* threads that compute, the caller included; 0 = 1 (single-threaded) */
    uint64_t seed;  /* seeds dropout and other randomness; 0 is a valid seed */
} wt_context_desc;

/* Creates a context. desc may be NULL (all defaults). The caller owns *out. */
wt_status wt_context_create(const wt_context_desc* desc, wt_context** out);
void wt_context_destroy(wt_context* ctx);
/* Number of threads the pool computes with (>= 1). */
int wt_context_threads(const wt_context* ctx);

/* ---------------------------------------------------------------------------------------------
 * Network graph.
 * ------------------------------------------------------------------------------------------- */
typedef struct wt_net wt_net;

typedef enum wt_layer_type {
    WT_LAYER_CONV2D = 1,          /* KxK convolution, weight HWIO [kh][kw][in_c][out_c], optional bias */
    WT_LAYER_DEPTHWISE = 2,       /* KxK depthwise convolution, weight [kh][kw][c], optional bias */
    WT_LAYER_DENSE = 3,           /* fully connected over the last axis (a 1x1 convolution when H,W > 1),
                                     weight [in_c][out_c], optional bias */
    WT_LAYER_BATCHNORM = 4,       /* per-channel gamma, beta (trainable), moving mean/variance (state) */
    WT_LAYER_RELU = 5,
    WT_LAYER_RELU6 = 6,
    WT_LAYER_ADD = 7,             /* input + input2, same shape (residual connection) */
    WT_LAYER_GLOBAL_AVG_POOL = 8, /* [N,H,W,C] -> [N,1,1,C] */
    WT_LAYER_DROPOUT = 9,         /* inverted dropout in training, identity in inference */
    WT_LAYER_GRAD_REVERSAL = 10,  /* identity forward; backward multiplies the gradient by -lambda */
    WT_LAYER_L2_NORMALIZE = 11,   /* each position's channel vector divided by its root-mean-square:
                                     x * sqrt(C) / sqrt(|x|^2 + C*1e-12), i.e. L2-normalised and scaled to
                                     unit RMS (so the next layer sees inputs of order 1 whatever the
                                     scale of x); no parameters */
    WT_LAYER_CONCAT = 12          /* input and input2 (same H and W) joined along channels, each block
                                     weighted so it carries the same share of the output's length:
                                     y = [x1 * sqrt(C / (2*C1)), x2 * sqrt(C / (2*C2))], C = C1 + C2.
                                     Two unit-RMS inputs (WT_LAYER_L2_NORMALIZE) give a unit-RMS output,
                                     half of its squared length from each, however different C1 and C2
                                     are (a 56-channel block is not drowned by a 1280-channel one);
                                     no parameters */
} wt_layer_type;

typedef enum wt_padding {
    WT_PAD_SAME = 0,     /* TensorFlow "same": out = ceil(in / stride), extra padding at bottom/right */
    WT_PAD_VALID = 1,    /* no padding: out = floor((in - k) / stride) + 1 */
    WT_PAD_EXPLICIT = 2  /* pad_top/pad_bottom/pad_left/pad_right zeros around the input */
} wt_padding;

typedef enum wt_bn_mode {
    WT_BN_FROZEN = 0,      /* normalise with the stored moving statistics (inference behaviour) */
    WT_BN_BATCH_STATS = 1  /* in training, normalise with batch statistics and update the moving
                              averages; in inference, use the moving statistics */
} wt_bn_mode;

/* A layer description. The zero value of every field is a sensible default. */
typedef struct wt_layer_desc {
    wt_layer_type type;
    const char* name;       /* optional, copied; defaults to "<type>_<node id>" */
    int input;              /* node id of the input (0 = network input) */
    int input2;             /* second input of WT_LAYER_ADD and WT_LAYER_CONCAT */
    int out_channels;       /* CONV2D, DENSE */
    int kernel_h, kernel_w; /* CONV2D, DEPTHWISE; 0 = 3 */
    int stride;             /* CONV2D, DEPTHWISE; 0 = 1 */
    wt_padding padding;
    int pad_top, pad_bottom, pad_left, pad_right; /* WT_PAD_EXPLICIT only */
    int use_bias;           /* CONV2D, DEPTHWISE, DENSE */
    wt_bn_mode bn_mode;     /* BATCHNORM */
    float bn_epsilon;       /* BATCHNORM; 0 = 1e-3 (Keras default) */
    float bn_momentum;      /* BATCHNORM; 0 = 0.99 (Keras default) */
    float dropout_rate;     /* DROPOUT, in [0, 1) */
    float grl_lambda;       /* GRAD_REVERSAL; gradient is multiplied by -grl_lambda */
} wt_layer_desc;

/* Creates an empty net whose input (node 0) is [N, in_h, in_w, in_c]. The caller owns *out; the
 * context must outlive the net. */
wt_status wt_net_create(wt_context* ctx, int in_h, int in_w, int in_c, wt_net** out);
void wt_net_destroy(wt_net* net);

/* Appends a layer; *out_node receives its node id. Parameters start as Keras initialises them:
 * weights Glorot-uniform (a pure function of the context seed and the node id), biases 0, gamma 1,
 * beta 0, moving mean 0, moving variance 1; overwrite them with wt_net_param_write. Adding a layer
 * to a planned net un-plans it: call wt_net_plan() again before the next forward pass. */
wt_status wt_net_add(wt_net* net, const wt_layer_desc* desc, int* out_node);

/* Removes every node after last_node (and their parameters); un-plans the net. Used to replace a
 * classifier's head. */
wt_status wt_net_truncate(wt_net* net, int last_node);

/* Shape of a node's output [h, w, c] (batch excluded). Any out pointer may be NULL. */
wt_status wt_net_node_shape(const wt_net* net, int node, int* h, int* w, int* c);
/* Node id of the layer with this name. */
wt_status wt_net_find_node(const wt_net* net, const char* name, int* out_node);
int wt_net_node_count(const wt_net* net); /* including the input node */
/* The description a layer was added with, defaults filled in (SAME and
 * VALID are kept as modes). desc->name points into the net. Node 0 (the input) has type 0. */
wt_status wt_net_node_desc(const wt_net* net, int node, wt_layer_desc* desc);
/* Whether a layer trains (see wt_net_set_trainable), its lr scale and batch-norm mode. */
wt_status wt_net_node_state(const wt_net* net, int node, int* trainable, float* lr_scale, wt_bn_mode* bn_mode);

/* Allocates all memory for batches of up to max_batch. Gradient buffers are allocated only where
 * backward needs them (above the lowest trainable layer). Planning again (for a new batch size or
 * after freezing/unfreezing) keeps parameters and frees the old buffers. */
wt_status wt_net_plan(wt_net* net, int max_batch);
/* Memory saving. Off (the default), every node's output stays readable after a forward pass and
 * every buffer is the node's own. On, wt_net_plan shares buffers between outputs (and between
 * gradients) whose lifetimes do not overlap: outputs stay readable only for nodes nothing reads
 * (the net's outputs), nodes marked with wt_net_keep_output, and inputs of layers that
 * back-propagate; wt_net_read_output and wt_net_add_output_grad on other nodes are WT_ERR_STATE.
 * Both take effect at the next wt_net_plan. An inference plan of MobileNet v2 then needs a few
 * layers' worth of activations instead of all of them. Memory saving also folds every frozen
 * convolution -> frozen batch norm (-> ReLU6) that nothing below a trainable layer feeds and whose
 * outputs are not kept into one convolution (the batch norm in its weights and bias, the clamp as it
 * stores): the same results up to float rounding, without two passes over memory per layer. */
wt_status wt_net_set_memory_saving(wt_net* net, int save);
wt_status wt_net_keep_output(wt_net* net, int node, int keep);
/* Bytes allocated by the plan (parameters, gradients, activations, scratch). */
size_t wt_net_planned_bytes(const wt_net* net);

/* Freezes (trainable = 0) or unfreezes a layer's weights. A frozen layer's parameters never change;
 * a frozen batch norm also keeps its moving statistics. Changing it requires wt_net_plan() again. */
wt_status wt_net_set_trainable(wt_net* net, int node, int trainable);
/* Learning-rate multiplier for one layer's parameters (parameter groups); default 1. */
wt_status wt_net_set_lr_scale(wt_net* net, int node, float scale);
wt_status wt_net_set_bn_mode(wt_net* net, int node, wt_bn_mode mode);

/* Runs the net on `batch` images (NHWC, batch*in_h*in_w*in_c floats). training = 1 uses batch
 * statistics (where enabled) and dropout. NaN or infinity in the input is WT_ERR_NOT_FINITE. */
wt_status wt_net_forward(wt_net* net, const float* input, int batch, int training);

/* Runs only the nodes after `node`, with node's output taken from `values` (batch*h*w*c floats) in
 * place of everything at or below it: a head trained on cached embeddings. Every later node must
 * read `node` or later nodes only (WT_ERR_INVALID_ARGUMENT otherwise). Backward after it reaches
 * no further down than `node`. */
wt_status wt_net_forward_from(wt_net* net, int node, const float* values, int batch, int training);

/* Copies a node's output from the last forward pass into dst (count = batch*h*w*c floats). */
wt_status wt_net_read_output(const wt_net* net, int node, float* dst, size_t count);

/* Softmax cross-entropy on node `logits` (shape [N,1,1,K]) against class indices labels[N],
 * with label smoothing in [0,1) and optional per-class weights (NULL = all 1). Stores the
 * gradient of the mean loss as that node's output gradient (for wt_net_backward) and the mean
 * loss in *loss. A non-finite loss is WT_ERR_NOT_FINITE and leaves no gradient. */
wt_status wt_net_softmax_xent(wt_net* net, int logits, const int* labels, float label_smoothing,
                              const float* class_weights, float* loss);

/* Adds `grad` (batch*h*w*c floats) to a node's output gradient: for custom losses. */
wt_status wt_net_add_output_grad(wt_net* net, int node, const float* grad, size_t count);

/* Back-propagates the output gradients set since the last forward pass; parameter gradients
 * accumulate (+=) until wt_net_zero_grad(). */
wt_status wt_net_backward(wt_net* net);
wt_status wt_net_zero_grad(wt_net* net);

/* Parameters: tensors numbered 0..count-1 in layer order. */
typedef enum wt_param_kind {
    WT_PARAM_WEIGHT = 0,
    WT_PARAM_BIAS = 1,
    WT_PARAM_GAMMA = 2,
    WT_PARAM_BETA = 3,
    WT_PARAM_MOVING_MEAN = 4,    /* state: updated by forward in batch-stats mode, not by optimizers */
    WT_PARAM_MOVING_VARIANCE = 5 /* state */
} wt_param_kind;

typedef struct wt_param_info {
    const char* name;  /* "<layer name>/<kind>", owned by the net */
    int node;
    wt_param_kind kind;
    size_t count;      /* number of floats */
    int shape[4];      /* unused trailing dims are 1 */
    int trainable;     /* 0 for state and for frozen layers */
} wt_param_info;

int wt_net_param_count(const wt_net* net);
wt_status wt_net_param_info(const wt_net* net, int index, wt_param_info* info);
wt_status wt_net_param_read(const wt_net* net, int index, float* dst, size_t count);
wt_status wt_net_param_write(wt_net* net, int index, const float* src, size_t count);
/* Gradient of a trainable parameter (zeros if no backward pass has run). */
wt_status wt_net_grad_read(const wt_net* net, int index, float* dst, size_t count);

/* ---------------------------------------------------------------------------------------------
 * Optimizers and learning-rate schedules.
 * ------------------------------------------------------------------------------------------- */
typedef struct wt_optimizer wt_optimizer;

typedef enum wt_optimizer_type {
    WT_OPT_SGD = 0,   /* momentum SGD: v = momentum*v + g; w -= lr*v */
    WT_OPT_ADAM = 1,  /* Adam with bias correction; weight_decay is L2 folded into the gradient */
    WT_OPT_ADAMW = 2  /* Adam with decoupled weight decay: w -= lr*weight_decay*w */
} wt_optimizer_type;

typedef enum wt_schedule_type {
    WT_SCHEDULE_CONSTANT = 0,
    WT_SCHEDULE_STEP = 1,   /* lr * gamma^floor(step / step_size) */
    WT_SCHEDULE_COSINE = 2  /* min_lr + (lr - min_lr) * (1 + cos(pi * t / total_steps)) / 2 */
} wt_schedule_type;

typedef struct wt_optimizer_desc {
    wt_optimizer_type type;
    float learning_rate;
    float momentum;         /* SGD; 0 = plain SGD */
    float beta1, beta2;     /* Adam/AdamW; 0 = 0.9, 0.999 */
    float epsilon;          /* Adam/AdamW; 0 = 1e-7 (Keras default) */
    float weight_decay;     /* AdamW: decoupled decay; SGD/Adam: L2 penalty added to the gradient */
    wt_schedule_type schedule;
    int warmup_steps;       /* linear warm-up from 0 over this many steps, then the schedule */
    int step_size;          /* STEP */
    float gamma;            /* STEP; 0 = 0.1 */
    int total_steps;        /* COSINE: steps after warm-up over which the cosine runs */
    float min_learning_rate;/* COSINE floor */
} wt_optimizer_desc;

/* Learning rate the schedule gives at `step` (0-based), before per-layer scales. */
float wt_schedule_lr(const wt_optimizer_desc* desc, int step);

/* Creates an optimizer over `net`'s trainable parameters; allocates its state now. The net must be
 * planned and must outlive the optimizer. The caller owns *out. */
wt_status wt_optimizer_create(wt_net* net, const wt_optimizer_desc* desc, wt_optimizer** out);
void wt_optimizer_destroy(wt_optimizer* opt);
/* Applies one update from the accumulated gradients, then advances the schedule. A NaN or
 * infinite gradient is WT_ERR_NOT_FINITE and leaves every weight unchanged. */
wt_status wt_optimizer_step(wt_optimizer* opt);
int wt_optimizer_steps_taken(const wt_optimizer* opt);

/* ---------------------------------------------------------------------------------------------
 * Images: decode, resize, crop, scale.
 * ------------------------------------------------------------------------------------------- */
/* The input path of a model: encoded bytes (JPEG, PNG) or a raw RGBA frame -> wt_image (RGB,
 * uint8) -> resized and cropped to the model's input size -> float32 NHWC scaled for the model.
 * These functions need no context, are single-threaded, and allocate nothing except the pixels
 * of a wt_image they return. Every image, input or output, is limited to WT_IMAGE_MAX_SIDE per side
 * and WT_IMAGE_MAX_PIXELS in all (WT_ERR_SHAPE otherwise).
 *
 * Geometry and filters, exactly (a later test reproduces them with TensorFlow.js). Let the image
 * be W x H with pixels p[y][x][c] and the output out_w x out_h:
 *   Crop. WT_CROP_NONE stretches the whole image: rw = out_w, rh = out_h, x0 = y0 = 0.
 *     WT_CROP_CENTER keeps the aspect ratio: the image is resized so that it covers the output,
 *     then the middle is cut out. If W*out_h >= H*out_w then rh = out_h and
 *     rw = round(W*out_h/H), else rw = out_w and rh = round(H*out_w/W) (round: halves up, like
 *     Math.round); x0 = floor((rw - out_w)/2), y0 = floor((rh - out_h)/2).
 *     Output pixel (y, x) is pixel (y0 + y, x0 + x) of the image resized to rh x rw; nothing is
 *     materialised in between. In TF.js: tf.image.resizeBilinear(img, [rh, rw], false, true)
 *     .slice([y0, x0, 0], [out_h, out_w, 3]).
 *   WT_RESIZE_BILINEAR, half-pixel centres, edges clamped: pixel (r, k) of the image resized to
 *     rh x rw samples sy = (H/rh)*(r + 0.5) - 0.5, ylo = max(0, floor(sy)),
 *     yhi = min(H-1, ceil(sy)), fy = sy - ylo (and likewise sx, xlo, xhi, fx from W/rw and k):
 *       top = p[ylo][xlo] + (p[ylo][xhi] - p[ylo][xlo])*fx,
 *       bot = p[yhi][xlo] + (p[yhi][xhi] - p[yhi][xlo])*fx,   v = top + (bot - top)*fy,
 *     all in double, rounded once to float32: the formula and operation order of
 *     tfjs-backend-cpu's resizeBilinear with halfPixelCenters = true (TensorFlow's
 *     half_pixel_centers = true; what canvas drawImage approximates). No antialiasing: shrinking
 *     by more than 2x skips pixels; use WT_RESIZE_AREA there.
 *   WT_RESIZE_AREA, box filter: pixel (r, k) is the mean of the image over the box
 *     [r*H/rh, (r+1)*H/rh) x [k*W/rw, (k+1)*W/rw), each source pixel weighted by the exact area of
 *     its overlap with the box (weights sum to 1), in double, rounded once to float32. Shrinking by
 *     an integer factor f gives the exact mean of each f x f block (like TensorFlow's
 *     resize_area, which computes in float). When enlarging, a box overlaps one or two pixels per
 *     axis, so the result is nearest-neighbour with blended seams.
 *   Scaling (tensors only): out = v*scale + offset in float32 (no fused multiply-add). When scale
 *     and offset are both 0 (the zero value), out = v/127.5f - 1.0f: MobileNet's [-1, 1] input,
 *     computed as TF.js's mobilenet preprocessing does (x.div(127.5).sub(1)); 0 -> -1 and
 *     255 -> +1 exactly. Outputs are NHWC: out[(y*out_w + x)*3 + c], c = R, G, B. */
#define WT_IMAGE_MAX_SIDE 16384
#define WT_IMAGE_MAX_PIXELS (64 * 1024 * 1024) /* 67,108,864 pixels (e.g. 8192 x 8192) */

/* An RGB image: channels is 3, pixels holds height*width*3 bytes, rows top to bottom, R G B
 * interleaved, no padding. Images returned by webtune own their pixels: release them with
 * wt_image_free. A caller may also fill one in over its own pixels to pass as input (webtune only
 * reads inputs); such an image must not be given to wt_image_free. */
typedef struct wt_image {
    int width, height;
    int channels;
    uint8_t* pixels;
} wt_image;

/* Frees img->pixels and zeroes *img. NULL and zeroed images are accepted and ignored. */
void wt_image_free(wt_image* img);

/* Decodes a JPEG (baseline or progressive, grey, YCbCr or CMYK) or PNG (any bit depth, palette,
 * grey, alpha, interlaced) held in memory with stb_image: grey becomes R = G = B; alpha is dropped
 * (not composited); 16-bit samples keep their high byte. A JPEG's EXIF orientation (tag 0x0112) is
 * applied, so the image comes out upright, as browsers show it. The header's size is checked
 * before any pixel memory is allocated, and no allocation the decoder makes may exceed what that
 * size needs. On success the caller owns out->pixels (wt_image_free). On failure *out is zeroed
 * (if out is not NULL) and nothing is allocated. Errors: NULL pointers or len == 0 ->
 * WT_ERR_INVALID_ARGUMENT; bytes that are neither JPEG nor PNG -> WT_ERR_UNSUPPORTED ("not a JPEG
 * or PNG image"), as is len > INT_MAX; corrupt or truncated data -> WT_ERR_CORRUPT (the message
 * carries stb's reason); a side > WT_IMAGE_MAX_SIDE or more than WT_IMAGE_MAX_PIXELS pixels ->
 * WT_ERR_SHAPE; no memory -> WT_ERR_OUT_OF_MEMORY. */
wt_status wt_image_decode(const uint8_t* bytes, size_t len, wt_image* out);

/* Copies a raw RGBA frame (canvas getImageData, a video frame) into a new RGB image, dropping
 * alpha (not composited). Row y starts at rgba + y*stride_bytes; stride_bytes = 0 means width*4.
 * len is the size of the rgba buffer, which must hold (height-1)*stride_bytes + width*4 bytes.
 * The caller owns out->pixels; on failure *out is zeroed. Errors: NULL pointers or a negative
 * stride -> WT_ERR_INVALID_ARGUMENT; width or height < 1 or over the limits, a stride below
 * width*4, or len too small -> WT_ERR_SHAPE; no memory -> WT_ERR_OUT_OF_MEMORY. */
wt_status wt_image_from_rgba(const uint8_t* rgba, size_t len, int width, int height,
                             int stride_bytes, wt_image* out);

typedef enum wt_resize_filter {
    WT_RESIZE_BILINEAR = 0, /* half-pixel centres, clamped edges (TF.js resizeBilinear; above) */
    WT_RESIZE_AREA = 1      /* exact box average; use it to shrink by more than 2x */
} wt_resize_filter;

typedef enum wt_crop {
    WT_CROP_CENTER = 0, /* resize to cover the output, keeping the aspect ratio; cut the middle */
    WT_CROP_NONE = 1    /* stretch the whole image to the output size */
} wt_crop;

/* How an image becomes a model input. The zero value (with out_h, out_w set) is MobileNet's:
 * bilinear, centre crop, [-1, 1]. */
typedef struct wt_preprocess {
    int out_h, out_w;         /* model input size, each 1..WT_IMAGE_MAX_SIDE */
    wt_resize_filter filter;
    wt_crop crop;
    float scale, offset;      /* tensor = pixel*scale + offset; both 0 = v/127.5f - 1 (see above) */
} wt_preprocess;

/* Resizes/crops img as p says and writes out_h*out_w*3 floats, NHWC (one image, no batch axis) to
 * out, which holds out_count floats (more than needed is fine; the rest is left untouched).
 * Errors: NULL pointers, an unknown filter or crop -> WT_ERR_INVALID_ARGUMENT; an image or output
 * size < 1 or over the limits, out_count too small -> WT_ERR_SHAPE; img->channels != 3 ->
 * WT_ERR_UNSUPPORTED; non-finite scale or offset -> WT_ERR_NOT_FINITE. */
wt_status wt_image_to_tensor(const wt_image* img, const wt_preprocess* p, float* out,
                             size_t out_count);

/* The same geometry and filter as wt_image_to_tensor, but stores out_h*out_w*3 bytes (RGB, HWC):
 * each value v is rounded to float32, then to the nearest integer with ties to even (like
 * tf.round), then clamped to [0, 255]; p->scale and p->offset are ignored. Storing examples this
 * way and converting them with wt_pixels_to_tensor gives what wt_image_to_tensor gives, up to that
 * rounding (at most 0.5/127.5 in [-1, 1] units). Errors as wt_image_to_tensor (out_count counts
 * bytes). */
wt_status wt_image_resize_u8(const wt_image* img, const wt_preprocess* p, uint8_t* out,
                             size_t out_count);

/* out[i] = src[i]*scale + offset in float32 for i < count (any layout: count is values, not
 * pixels), with the same zero-value default as wt_preprocess (v/127.5f - 1). src and out must not
 * overlap.
 * Errors: NULL pointers with count > 0 -> WT_ERR_INVALID_ARGUMENT; non-finite scale or offset ->
 * WT_ERR_NOT_FINITE. */
wt_status wt_pixels_to_tensor(const uint8_t* src, size_t count, float scale, float offset,
                              float* out);

/* ---------------------------------------------------------------------------------------------
 * Model import (TF.js layers format) and webtune model files.
 * ------------------------------------------------------------------------------------------- */
/* A Keras model saved in the TensorFlow.js layers format: model.json (a Keras topology plus a
 * weightsManifest) and its binary weight shards. Examples: Keras MobileNet v1/v2 converted by
 * tensorflowjs_converter, and Teachable Machine image-model exports (a Sequential of
 * [Sequential [MobileNetV2 model truncated at out_relu, GlobalAveragePooling2D],
 *  Sequential [Dense, Dense softmax]]).
 *
 * Topology: Sequential, Model and Functional containers, nested to any depth (up to 32), single
 * input and output, each layer called once. Layers and what they become:
 *   Conv2D, DepthwiseConv2D   CONV2D / DEPTHWISE (kernel HWIO as stored; depthwise [kh,kw,c,1]
 *                             -> [kh,kw,c]); padding same/valid; equal strides; dilation 1;
 *                             groups 1; depth_multiplier 1
 *   Dense                     DENSE (over the last axis, as in Keras)
 *   BatchNormalization        BATCHNORM with the file's epsilon and momentum, in options.bn_mode
 *                             (default WT_BN_FROZEN: the stored ImageNet statistics are used);
 *                             center/scale false leave beta 0 / gamma 1
 *   ReLU                      RELU (no max_value) or RELU6 (max_value 6); other max_value,
 *                             negative_slope or threshold are WT_ERR_UNSUPPORTED
 *   Activation, `activation`  linear (nothing), relu, relu6 (a node "<layer>/<act>" after a
 *                             Conv2D/Dense), softmax (final output only, see output_softmax)
 *   ZeroPadding2D             folded into the Conv2D/DepthwiseConv2D that reads it as
 *                             WT_PAD_EXPLICIT pads (plus that layer's own "same" padding); it
 *                             may feed nothing else
 *   Add (2+ inputs), GlobalAveragePooling2D, Dropout (DROPOUT with the file's rate)
 *   Reshape, Flatten          nothing, on a 1x1 feature map keeping channels last; else
 *                             WT_ERR_UNSUPPORTED
 *   Softmax (axis -1)         final output only
 *   InputLayer                gives the input shape
 * Any other layer class is WT_ERR_UNSUPPORTED with a message naming the layer and its class.
 * Nodes are named after the Keras layers (a suffix _2, _3... if a name repeats), so
 * wt_net_find_node(net, "conv_pw_13_relu") and parameter names "conv1/weight" work.
 *
 * Weights: each manifest group's shard files are concatenated and its tensors follow in order:
 * float32 little-endian, or quantized by the TF.js converter (quantization.dtype "uint8" or
 * "uint16": value = q*scale + min; "float16": IEEE half). A tensor belongs to the layer named by
 * the last two components of its name ("<layer>/<kernel|depthwise_kernel|bias|gamma|beta|
 * moving_mean|moving_variance>"), so prefixes added by nested models do not matter. Every size is
 * checked before anything is allocated or read; only the groups the kept layers need must be
 * supplied. Errors name the layer or file: a missing weight file or manifest tensor ->
 * WT_ERR_NOT_FOUND; a shard shorter than the manifest needs, a tensor whose shape does not match
 * its layer, an unknown dtype, non-finite values, malformed JSON -> WT_ERR_CORRUPT (JSON errors
 * give the byte offset); a valid model webtune cannot run, or one beyond the size limits (32 MiB of
 * JSON, nesting 256, 4096 layers, 65536 tensors) -> WT_ERR_UNSUPPORTED. */

/* One weight shard file, as the caller read or fetched it. */
typedef struct wt_weight_file {
    const char* path;     /* exactly as written in the manifest's "paths" (e.g. "group1-shard1of1") */
    const uint8_t* bytes; /* borrowed for the duration of the call */
    size_t len;
} wt_weight_file;

/* The zero value imports the backbone at the default cut with pooling: the embedding model. */
typedef struct wt_import_options {
    const char* cut_layer; /* keep layers up to this Keras layer. NULL = the default transfer-learning
                              cut: conv_pw_13_relu (MobileNet v1) or out_relu (MobileNet v2),
                              whichever the model has (WT_ERR_NOT_FOUND if neither);
                              "" = the whole model, including its classification head */
    int no_pooling;        /* 0: the cut is followed by global average pooling (the model's own if the
                              cut layer feeds a GlobalAveragePooling2D, else a node "embedding_pool");
                              1: the net ends at the cut layer itself */
    wt_bn_mode bn_mode;    /* mode of every imported batch norm; 0 = WT_BN_FROZEN */
    int in_h, in_w;        /* input size; 0 = the model's (required when the model leaves it open) */
} wt_import_options;

/* What the import produced. Node ids are for wt_net_read_output, wt_net_set_trainable, etc. */
typedef struct wt_import_info {
    int output_node;       /* the net's last node: the embedding (cut) or the logits (whole model) */
    int embedding_node;    /* cut: the pooled embedding (the cut layer itself with no_pooling);
                              whole model: its last GlobalAveragePooling2D, -1 if none */
    int embedding_dim;     /* channels of embedding_node (0 if none): 256 for MobileNet v1 0.25 */
    int logits_node;       /* whole model: its output before a final softmax; -1 when cut */
    int n_outputs;         /* channels of logits_node; 0 when cut */
    int output_softmax;    /* whole model: 1 if it ends in a softmax, which webtune leaves out: TF.js's
                              predictions are softmax(logits_node) */
    int in_h, in_w, in_c;  /* the net's input shape */
    int n_layers;          /* Keras layers imported (InputLayer and containers not counted) */
    int n_weights;         /* manifest tensors loaded */
    char cut_layer[128];   /* the Keras layer the net was cut at; "" for the whole model */
} wt_import_info;

/* Lists the weight files model.json needs, so a loader can fetch or read them first: *paths
 * receives every manifest path in order, each followed by '\n', in one NUL-terminated string the
 * caller releases with wt_tfjs_paths_free; *count (may be NULL) the number of paths. A path that
 * is not a plain relative path (absolute, "..", "\", ":", control characters) is WT_ERR_CORRUPT,
 * so joining paths to the model's directory or URL stays inside it. */
wt_status wt_tfjs_weight_paths(const char* model_json, size_t len, char** paths, int* count);
void wt_tfjs_paths_free(char* paths);

/* Builds a net from model.json (len bytes, need not be NUL-terminated) and its weight files, as
 * described above. opt and info may be NULL. The net is not planned; the caller owns *out (the
 * context must outlive it). On failure *out is NULL and nothing is kept. */
wt_status wt_import_tfjs(wt_context* ctx, const char* model_json, size_t len,
                         const wt_weight_file* files, int n_files, const wt_import_options* opt,
                         wt_net** out, wt_import_info* info);

/* ---------------------------------------------------------------------------------------------
 * webtune model files: one self-describing binary (graph, weights, labels, preprocessing).
 * ------------------------------------------------------------------------------------------- */
/* A model file holds a whole fine-tuned model: the graph (every layer's description, its trainable
 * flag, learning-rate scale and batch-norm mode), every parameter (batch-norm moving statistics
 * included), the class labels, the exact image preprocessing and the backbone it started from.
 * Byte layout: docs/model-format.md. Little-endian; a header (magic "WTMODEL\0", format version
 * major.minor, flags, total length), tagged sections, and a SHA-256 of everything before it as a
 * trailer. A reader accepts every minor version of its major version (skipping sections it does not
 * know) and rejects a newer major version.
 *
 * Loading is bit-exact for float32 files. With fp16 = 1 the weight tensors (conv, depthwise and
 * dense kernels) are stored as IEEE half, rounded to nearest even (relative error <= 2^-11), which
 * about halves the file; biases, batch-norm parameters and moving statistics stay float32 (they are
 * a tiny part of the bytes), as does a weight tensor with a value beyond the half range (65504). */
#define WT_MODEL_FORMAT_MAJOR 1
#define WT_MODEL_FORMAT_MINOR 0

/* What a model file carries besides the net. The zero value is "nothing known" except the two
 * node fields, which must be set to -1 when absent. */
typedef struct wt_model_meta {
    int n_labels;                /* 0..65536 class names; if n_labels > 0 and logits_node >= 0 */
    const char* const* labels;   /*   the logits node has n_labels channels. UTF-8, 1..4096 bytes */
    wt_preprocess preprocess;    /* out_h = out_w = 0: unspecified; otherwise the net's input size */
    char backbone_name[64];      /* NUL-terminated UTF-8, e.g. "mobilenet_v2_0.35_224"; "" = none */
    uint8_t backbone_sha256[32]; /* wt_net_weights_sha256 of the backbone it started from; 0s = none */
    int embedding_node;          /* node ids, -1 if absent */
    int logits_node;
    int output_softmax;          /* 1: predictions are softmax(logits_node) */
} wt_model_meta;

/* Serialises net and meta (NULL = no labels, no preprocessing, no backbone, nodes -1) into one new
 * buffer: *bytes (release with wt_free_bytes) of *len bytes. fp16 = 1 stores weights as half (see
 * above). The net may be planned or not. Errors: NULL pointers, labels that are NULL, empty, too
 * long or not UTF-8, a backbone name without a NUL in its 64 bytes, a node id out of range, an
 * unknown filter or crop -> WT_ERR_INVALID_ARGUMENT; labels that do not match the logits' channels,
 * a preprocessing size that is not the net's input size -> WT_ERR_SHAPE; non-finite parameters or
 * preprocessing scale/offset -> WT_ERR_NOT_FINITE; no memory -> WT_ERR_OUT_OF_MEMORY. */
wt_status wt_model_save(const wt_net* net, const wt_model_meta* meta, int fp16, uint8_t** bytes,
                        size_t* len);

/* Checks bytes[0..len) (untrusted: magic, version, lengths, checksum, then every count and size
 * against the bytes present and the limits, before anything is built), then builds a new net in ctx
 * (not planned; the caller owns *net, the context must outlive it) and a new *meta (the caller
 * releases it with wt_model_meta_free; its labels live in the same allocation). meta may be NULL
 * if the caller does not want it. On failure *net (and *meta) are NULL and nothing is kept.
 * Errors: NULL pointers -> WT_ERR_INVALID_ARGUMENT; a file from a newer major format version ->
 * WT_ERR_UNSUPPORTED ("unsupported model format version 2 (this webtune reads version 1)");
 * everything else wrong with the bytes -> WT_ERR_CORRUPT, e.g. "not a webtune model file (bad
 * magic)", "model file truncated: needs N bytes, has M", "model file checksum mismatch: the file
 * is damaged"; no memory -> WT_ERR_OUT_OF_MEMORY. */
wt_status wt_model_load(wt_context* ctx, const uint8_t* bytes, size_t len, wt_net** net,
                        wt_model_meta** meta);

void wt_model_meta_free(wt_model_meta* meta); /* NULL is ignored */
void wt_free_bytes(void* bytes);              /* releases wt_model_save's buffer; NULL is ignored */

/* SHA-256 identifying a net's weights: over the parameters of nodes 1..up_to_node (-1 = all) in
 * parameter order, each as u32 name length, name, u64 value count, values as float32, all
 * little-endian (docs/model-format.md). Equal for nets with the same parameter names and values,
 * whatever their trainable flags. Errors: NULL pointers -> WT_ERR_INVALID_ARGUMENT; up_to_node not
 * in -1..node count-1 -> WT_ERR_NOT_FOUND. */
wt_status wt_net_weights_sha256(const wt_net* net, int up_to_node, uint8_t out[32]);


/* ---------------------------------------------------------------------------------------------
 * Data augmentation (in C, on the fly, on uint8 RGB examples).
 * ------------------------------------------------------------------------------------------- */
/* Strengths of each random transform. The zero value is "no augmentation": dst = src exactly. */
typedef struct wt_augment {
    float crop_scale_min;  /* random resized crop: the crop covers a fraction of the image area drawn
                              uniformly from [crop_scale_min, 1], then is resized back to the full
                              size (bilinear); 0 or >= 1 = off. Typical 0.6 */
    float crop_aspect;     /* crop aspect ratio drawn log-uniformly from [1/(1+a), 1+a]; 0 = square */
    int flip;              /* 1: horizontal flip with probability 1/2 */
    float rotation_deg;    /* rotation drawn uniformly from [-r, r] degrees about the centre; edge
                              pixels are clamped (no black corners); 0 = off */
    float brightness;      /* each factor drawn from [1-s, 1+s]: brightness multiplies every value, */
    float contrast;        /* contrast scales around the image's mean grey, saturation scales each */
    float saturation;      /* pixel around its own grey (0.299 R + 0.587 G + 0.114 B); 0 = off */
} wt_augment;

/* Writes one random augmentation of src (height*width*3 bytes, RGB) to dst (same size, must not
 * overlap src). The transform is a pure function of (seed, index): the same arguments give the same
 * bytes on every platform and thread count. Geometry (crop, flip, rotation) is one inverse affine
 * map sampled bilinearly with clamped edges; colour jitter follows, rounded to nearest and clamped
 * to [0, 255]. Errors: NULL pointers -> WT_ERR_INVALID_ARGUMENT; a size < 1 -> WT_ERR_SHAPE;
 * negative or non-finite strengths -> WT_ERR_INVALID_ARGUMENT. */
wt_status wt_augment_image(const uint8_t* src, int height, int width, const wt_augment* aug,
                           uint64_t seed, uint64_t index, uint8_t* dst);

/* ---------------------------------------------------------------------------------------------
 * Datasets: labelled examples stored compactly (RGB uint8 at the model's input size).
 * ------------------------------------------------------------------------------------------- */
typedef struct wt_dataset wt_dataset;

/* An empty dataset of height x width RGB examples. max_bytes caps the pixel memory it may hold
 * (0 = no cap beyond what malloc gives): adding past it is WT_ERR_OUT_OF_MEMORY with a message
 * saying how many examples fit, and the dataset is unchanged. */
wt_status wt_dataset_create(int height, int width, size_t max_bytes, wt_dataset** out);
void wt_dataset_destroy(wt_dataset* ds);
/* Appends a copy of rgb (len = height*width*3 bytes) with class `label` (>= 0), or -1 for an
 * unlabelled image (target-domain images for domain adaptation). *out_index (may be NULL) gets its
 * index. */
wt_status wt_dataset_add(wt_dataset* ds, const uint8_t* rgb, size_t len, int label, int* out_index);
int wt_dataset_count(const wt_dataset* ds);
size_t wt_dataset_bytes(const wt_dataset* ds); /* pixel bytes held */
/* Label of example `index`, and a pointer to its pixels (owned by the dataset, valid until it
 * changes); either out pointer may be NULL. */
wt_status wt_dataset_get(const wt_dataset* ds, int index, int* label, const uint8_t** rgb);
/* Removes every example of class `label`; examples of higher classes move down one label, so
 * classes stay numbered 0..K-1 after a class is deleted. */
wt_status wt_dataset_remove_label(wt_dataset* ds, int label);
/* Removes example `index` (later ones move down one index). */
wt_status wt_dataset_remove(wt_dataset* ds, int index);

/* ---------------------------------------------------------------------------------------------
 * Training a classifier: a backbone net cut at its embedding plus a new head, trained on a
 * dataset with one of the fine-tuning strategies.
 * ------------------------------------------------------------------------------------------- */
/* Appends a classification head to net: [l2_normalize (if normalize)] -> [dropout (if rate > 0)]
 * -> [dense(hidden, bias) -> relu (if hidden > 0)] -> dense(n_classes, bias), reading node
 * `embedding` ([N,1,1,D]); *logits_node gets the last dense node. normalize = 1 divides each
 * embedding by its root-mean-square (WT_LAYER_L2_NORMALIZE), so the head sees only the direction
 * of the embedding, not its length. Weights start Glorot-uniform from the context seed; nodes are
 * named "head/l2_normalize", "head/dropout", "head/hidden", "head/relu", "head/dense". */
wt_status wt_net_add_classifier_head(wt_net* net, int embedding, int n_classes, float dropout_rate, int hidden,
                                     int normalize, int* logits_node);

/* How much of the backbone trains. Frozen layers keep bit-identical weights and statistics and get
 * no gradient memory. */
typedef enum wt_strategy {
    WT_STRATEGY_HEAD = 0,   /* backbone frozen; embeddings computed once and cached (x views) */
    WT_STRATEGY_TOP = 1,    /* the last top_blocks MobileNet blocks + the head */
    WT_STRATEGY_LAYERS = 2, /* exactly the layers matching `layers` + the head */
    WT_STRATEGY_FULL = 3    /* every layer */
} wt_strategy;

typedef enum wt_train_optimizer {
    WT_TRAIN_ADAM = 0,
    WT_TRAIN_ADAMW = 1,
    WT_TRAIN_SGD = 2        /* momentum 0.9 */
} wt_train_optimizer;

/* Training options. The zero value (apart from what a comment marks) is a sensible default. */
typedef struct wt_train_desc {
    int epochs;                /* 0 = 20 */
    int batch_size;            /* 0 = 16 */
    float learning_rate;       /* head learning rate; 0 = 1e-3 */
    wt_train_optimizer optimizer;
    float weight_decay;        /* AdamW: decoupled; Adam/SGD: L2 */
    wt_schedule_type schedule; /* per step over the whole run; cosine runs to the last step */
    int warmup_steps;
    float validation_split;    /* fraction of each class held out for validation, 0..0.9; a class
                                  with fewer than 2 examples keeps all of them for training */
    uint64_t seed;             /* shuffling, split, augmentation, dropout */
    wt_strategy strategy;
    int top_blocks;            /* WT_STRATEGY_TOP: blocks to unfreeze; 0 = 2 */
    const char* layers;        /* WT_STRATEGY_LAYERS: comma-separated node-name patterns ('*' matches
                                  any run of characters), or "batchnorm" (every batch norm's gamma and
                                  beta) */
    float backbone_lr_scale;   /* learning-rate multiplier of unfrozen backbone layers; 0 = 0.1 */
    int bn_batch_stats;        /* unfrozen batch norms: 1 = train on batch statistics (and update the
                                  moving averages), 0 = keep them frozen (inference mode) */
    int adabn;                 /* 1: AdaBN. Every batch norm's moving statistics become the exact
                                  mean and (population) variance of its input over a set of images,
                                  layer after layer (each with the earlier layers on their new
                                  statistics): the labelled examples before training and the
                                  unlabelled (target-domain) ones after it, or all examples before
                                  training if there are no unlabelled ones */
    float label_smoothing;     /* 0..0.5 */
    int balanced;              /* 1: weight the loss by inverse class frequency */
    int early_stopping;        /* epochs without a better validation accuracy before stopping
                                  (the best weights are restored at the end); 0 = off */
    wt_augment augment;        /* applied on the fly to every training image */
    int cache_views;           /* WT_STRATEGY_HEAD: augmented views cached per image; 0 = 1 (the
                                  plain image, or one augmented view if augment is set) */
    wt_preprocess preprocess;  /* only scale and offset are used (examples are already at the input
                                  size); the zero value is MobileNet's [-1, 1] */
    float domain_adaptation;   /* DANN: > 0 adds a domain classifier (dense 64, relu, dense 2) behind a
                                  gradient-reversal layer on the embedding, trained to tell labelled
                                  (source) from unlabelled (label -1, target) examples; the reversal
                                  weight ramps from 0 to this value (Ganin et al. 2016). Needs unlabelled
                                  examples and a strategy that trains backbone layers. 0 = off */
    int rollback;              /* a non-finite loss or gradient (a learning rate too high) restores the
                                  weights of the last finished epoch either way; 0: the step then fails
                                  with WT_ERR_NOT_FINITE, 1: training finishes there (phase DONE,
                                  progress.diverged = 1) */
} wt_train_desc;

typedef struct wt_trainer wt_trainer;

/* Prepares training of net (which must contain embedding_node and logits_node, e.g. from
 * wt_net_add_classifier_head) on ds. Unlabelled examples (label -1) are used only by AdaBN and
 * domain adaptation. With domain adaptation the trainer appends its domain classifier to the net
 * and removes it again in wt_trainer_destroy. Sets trainable flags and batch-norm modes for the strategy,
 * plans the net, splits the data and creates the optimizer. Both net and ds must outlive the
 * trainer and must not be changed while it exists. Errors: fewer than 2 classes or a class with
 * no example -> WT_ERR_SHAPE; a pattern matching nothing -> WT_ERR_NOT_FOUND; options out of range ->
 * WT_ERR_INVALID_ARGUMENT; no memory -> WT_ERR_OUT_OF_MEMORY (nothing kept). */
wt_status wt_trainer_create(wt_net* net, int embedding_node, int logits_node, wt_dataset* ds,
                            const wt_train_desc* desc, wt_trainer** out);
void wt_trainer_destroy(wt_trainer* tr);

typedef enum wt_train_phase {
    WT_PHASE_CACHE = 0,  /* computing cached embeddings (WT_STRATEGY_HEAD) or AdaBN statistics
                            (before training, or after the last epoch's EPOCH step, whose last
                            pass reports DONE); cache_done/total count image passes */
    WT_PHASE_TRAIN = 1,  /* a training step ran */
    WT_PHASE_EPOCH = 2,  /* a training step ran and finished an epoch: epoch metrics are valid */
    WT_PHASE_DONE = 3    /* training finished (all epochs, or early stopping) */
} wt_train_phase;

typedef struct wt_train_progress {
    wt_train_phase phase;
    int epoch;             /* 0-based epoch of the step just run */
    int epochs;
    int step;              /* steps taken so far (all epochs) */
    int steps_per_epoch;
    int total_steps;
    int cache_done, cache_total; /* WT_PHASE_CACHE: images processed / to process */
    int images;            /* images in the step just run */
    float loss;            /* mean loss of the step just run */
    float accuracy;        /* training accuracy of the step just run */
    float epoch_loss;      /* EPOCH/DONE: mean over the epoch */
    float epoch_accuracy;
    float val_accuracy;    /* EPOCH/DONE: on the held-out split; -1 when there is none */
    float val_loss;
    float best_val_accuracy;
    int best_epoch;
    float learning_rate;   /* head learning rate used by the step */
    int n_train, n_val;
    int diverged;          /* DONE after a rollback (see wt_train_desc.rollback) */
} wt_train_progress;

/* Does one unit of work (a batch of the embedding cache, or one training step, with the validation
 * pass at the end of an epoch) and reports it. Call until phase == WT_PHASE_DONE; between calls
 * the caller may stop (wt_trainer_destroy keeps the weights trained so far). A non-finite loss or
 * gradient restores the weights of the last finished epoch (never leaving NaN weights) and is
 * WT_ERR_NOT_FINITE, or with desc.rollback a DONE step with progress.diverged = 1. */
wt_status wt_trainer_step(wt_trainer* tr, wt_train_progress* progress);

/* Class scores for `batch` examples already at the net's input size (RGB uint8): writes
 * batch*n_classes probabilities (softmax of logits_node) to probs. Inference mode. */
wt_status wt_net_predict_u8(wt_net* net, int logits_node, const wt_preprocess* p, const uint8_t* rgb,
                            int batch, float* probs, size_t probs_count);

#ifdef __cplusplus
}
#endif
#endif /* WEBTUNE_H */
