/* optim.c: optimizer objects over a net's trainable parameters. State (velocity, or Adam's two
 * moments) is allocated once, at creation, for the parameters that train at that moment. Weight
 * decay applies to weights only (not biases or batch-norm gamma/beta), the usual practice. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "net.h"

typedef struct opt_slot {
    int param;  /* index into net->params */
    float* m;   /* SGD velocity, or Adam first moment */
    float* v;   /* Adam second moment (NULL for SGD) */
} opt_slot;

struct wt_optimizer {
    wt_net* net;
    wt_optimizer_desc desc;
    unsigned plan_generation;
    opt_slot* slots;
    int n_slots;
    float* state;
    int steps;
};

static wt_status check_desc(const wt_optimizer_desc* d) {
    if (d->type < WT_OPT_SGD || d->type > WT_OPT_ADAMW)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_optimizer_create: unknown optimizer type %d", (int)d->type);
    if (!(d->learning_rate >= 0.0f) || !isfinite(d->learning_rate))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_optimizer_create: learning rate %g must be finite and >= 0",
                       d->learning_rate);
    if (!(d->momentum >= 0.0f && d->momentum < 1.0f))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_optimizer_create: momentum %g is not in [0, 1)", d->momentum);
    if (!(d->beta1 >= 0.0f && d->beta1 < 1.0f) || !(d->beta2 >= 0.0f && d->beta2 < 1.0f))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_optimizer_create: beta1/beta2 must be in [0, 1)");
    if (!(d->epsilon >= 0.0f) || !(d->weight_decay >= 0.0f) || !isfinite(d->weight_decay))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_optimizer_create: epsilon and weight decay must be >= 0");
    if (d->schedule < WT_SCHEDULE_CONSTANT || d->schedule > WT_SCHEDULE_COSINE)
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_optimizer_create: unknown schedule %d", (int)d->schedule);
    if (d->warmup_steps < 0 || d->step_size < 0 || d->total_steps < 0 || !(d->min_learning_rate >= 0.0f) ||
        !(d->gamma >= 0.0f))
        return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_optimizer_create: schedule settings must be >= 0");
    return WT_OK;
}

wt_status wt_optimizer_create(wt_net* net, const wt_optimizer_desc* desc, wt_optimizer** out) {
    if (!out) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_optimizer_create: out is NULL");
    *out = NULL;
    if (!net || !desc) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_optimizer_create: NULL argument");
    if (!net->planned)
        return wt_fail(WT_ERR_STATE, "wt_optimizer_create: plan the net (wt_net_plan) first");
    wt_optimizer_desc d = *desc;
    if (d.beta1 == 0.0f) d.beta1 = 0.9f;
    if (d.beta2 == 0.0f) d.beta2 = 0.999f;
    if (d.epsilon == 0.0f) d.epsilon = 1e-7f;
    if (d.gamma == 0.0f) d.gamma = 0.1f;
    wt_status st = check_desc(&d);
    if (st) return st;

    int n_slots = 0;
    size_t floats = 0;
    int moments = d.type == WT_OPT_SGD ? 1 : 2;
    for (int i = 0; i < net->n_params; i++) {
        if (!net->params[i].grad) continue;
        n_slots++;
        floats += (size_t)moments * net->params[i].count;
    }
    wt_optimizer* opt = (wt_optimizer*)calloc(1, sizeof *opt);
    if (!opt) return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_optimizer_create: out of memory");
    opt->slots = (opt_slot*)calloc(n_slots ? (size_t)n_slots : 1, sizeof(opt_slot));
    opt->state = (float*)calloc(floats ? floats : 1, sizeof(float));
    if (!opt->slots || !opt->state) {
        wt_optimizer_destroy(opt);
        return wt_fail(WT_ERR_OUT_OF_MEMORY, "wt_optimizer_create: out of memory for %zu state floats", floats);
    }
    float* s = opt->state;
    for (int i = 0; i < net->n_params; i++) {
        if (!net->params[i].grad) continue;
        opt_slot* slot = &opt->slots[opt->n_slots++];
        slot->param = i;
        slot->m = s;
        s += net->params[i].count;
        if (moments == 2) {
            slot->v = s;
            s += net->params[i].count;
        }
    }
    opt->net = net;
    opt->desc = d;
    opt->plan_generation = net->plan_generation;
    *out = opt;
    return WT_OK;
}

void wt_optimizer_destroy(wt_optimizer* opt) {
    if (!opt) return;
    free(opt->slots);
    free(opt->state);
    free(opt);
}

int wt_optimizer_steps_taken(const wt_optimizer* opt) { return opt ? opt->steps : 0; }

wt_status wt_optimizer_step(wt_optimizer* opt) {
    if (!opt) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_optimizer_step: opt is NULL");
    wt_net* net = opt->net;
    if (!net->planned || net->plan_generation != opt->plan_generation)
        return wt_fail(WT_ERR_STATE,
                       "wt_optimizer_step: the net was re-planned since this optimizer was created; create a new one");
    /* Check every gradient before touching any weight, so a bad step changes nothing. */
    for (int i = 0; i < opt->n_slots; i++) {
        const wt_param* p = &net->params[opt->slots[i].param];
        if (!wt_all_finite(p->grad, p->count))
            return wt_fail(WT_ERR_NOT_FINITE, "wt_optimizer_step: the gradient of '%s' contains NaN or infinity",
                           p->name);
    }
    const wt_optimizer_desc* d = &opt->desc;
    float lr = wt_schedule_lr(d, opt->steps);
    wt_pool* pool = net->ctx->pool;
    for (int i = 0; i < opt->n_slots; i++) {
        opt_slot* slot = &opt->slots[i];
        wt_param* p = &net->params[slot->param];
        const wt_node* nd = &net->nodes[p->node];
        if (!nd->trainable) continue;
        float plr = lr * nd->lr_scale;
        float decay = p->kind == WT_PARAM_WEIGHT ? d->weight_decay : 0.0f;
        switch (d->type) {
        case WT_OPT_SGD:
            wt_sgd_update(pool, p->data, slot->m, p->grad, p->count, plr, d->momentum, decay);
            break;
        case WT_OPT_ADAM:
            wt_adam_update(pool, p->data, slot->m, slot->v, p->grad, p->count, plr, d->beta1, d->beta2,
                           d->epsilon, decay, 0.0f, opt->steps + 1);
            break;
        case WT_OPT_ADAMW:
            wt_adam_update(pool, p->data, slot->m, slot->v, p->grad, p->count, plr, d->beta1, d->beta2,
                           d->epsilon, 0.0f, decay, opt->steps + 1);
            break;
        }
    }
    opt->steps++;
    return WT_OK;
}
