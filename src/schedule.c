/* schedule.c: the learning rate at a given step (see wt_schedule_lr in webtune.h).
 *   warm-up:  step < warmup_steps gives lr * (step + 1) / warmup_steps (reaches lr on its last step)
 *   then, with s = step - warmup_steps:
 *   CONSTANT  lr
 *   STEP      lr * gamma^floor(s / step_size)            (gamma 0 = 0.1; step_size <= 0: constant)
 *   COSINE    min_lr + (lr - min_lr) * (1 + cos(pi * min(s, total) / total)) / 2
 *                                                        (total_steps <= 0: constant)
 * Computed in double, returned as float. */
#include <math.h>

#include "webtune.h"

float wt_schedule_lr(const wt_optimizer_desc* desc, int step) {
    if (!desc) return 0.0f;
    const double lr = desc->learning_rate;
    if (step < 0) step = 0;
    const int warmup = desc->warmup_steps > 0 ? desc->warmup_steps : 0;
    if (step < warmup) return (float)(lr * (double)(step + 1) / (double)warmup);
    const int s = step - warmup;

    switch (desc->schedule) {
    case WT_SCHEDULE_STEP: {
        if (desc->step_size <= 0) return (float)lr;
        const double gamma = desc->gamma != 0.0f ? (double)desc->gamma : 0.1;
        return (float)(lr * pow(gamma, (double)(s / desc->step_size)));
    }
    case WT_SCHEDULE_COSINE: {
        const int total = desc->total_steps;
        if (total <= 0) return (float)lr;
        const double min_lr = desc->min_learning_rate;
        const double t = (double)(s < total ? s : total) / (double)total;
        const double pi = 3.14159265358979323846;
        return (float)(min_lr + (lr - min_lr) * (1.0 + cos(pi * t)) * 0.5);
    }
    case WT_SCHEDULE_CONSTANT:
    default: /* an unknown type is rejected by wt_optimizer_create; stay constant here */
        return (float)lr;
    }
}
