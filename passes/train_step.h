/* train_step.h - the training step as IR: gradient clipping and the
 * optimizer update appended to a differentiated module, so that one run of
 * the module by any engine is one step of training.
 *
 * Run after autodiff().  train_step() appends, in this order:
 *   - the global gradient norm over every "grad:<p>" output, as an output
 *     named "grad_norm" (before clipping; rank 0);
 *   - clipping: by global norm (every gradient scaled by
 *     min(1, max_norm / (norm + 1e-6)), as torch.nn.utils.clip_grad_norm_)
 *     or by value (each element clamped to [-v, v], as clip_grad_value_);
 *   - the optimizer update of every parameter p, with PyTorch's equations
 *     (torch.optim.SGD with momentum/dampening 0/weight_decay, and
 *     torch.optim.Adam with weight_decay added to the gradient):
 *       new "new:<p>" outputs: the updated parameter;
 *       optimizer state as module inputs "opt:<p>.<slot>" (same type as p)
 *       and outputs "new:opt:<p>.<slot>": slot "mom" for SGD with momentum,
 *       "m" and "v" for Adam; zeros before the first step.
 *     Adam's bias correction needs the step number: a rank-0 f32 input
 *     "opt:step" (1 for the first step).
 * Every name above is in this header's macros so that the driver and the
 * pass agree. */
#ifndef RNNC_TRAIN_STEP_H
#define RNNC_TRAIN_STEP_H

#include <stddef.h>

#include "ir/ir.h"

#define TRAIN_NEW_PREFIX "new:" /* "new:<p>", "new:opt:<p>.m"          */
#define TRAIN_OPT_PREFIX "opt:" /* "opt:<p>.m", "opt:<p>.v", "opt:<p>.mom" */
#define TRAIN_STEP_INPUT "opt:step"
#define TRAIN_GRAD_NORM  "grad_norm"

typedef enum { OPT_SGD, OPT_ADAM } OptKind;
typedef enum { CLIP_NONE, CLIP_NORM, CLIP_VALUE } ClipKind;

typedef struct TrainConfig {
    OptKind opt;
    double lr;           /* both                                         */
    double momentum;     /* SGD; 0: plain SGD, no "mom" slot              */
    double weight_decay; /* both; 0: none                                */
    double beta1, beta2; /* Adam; PyTorch defaults 0.9, 0.999            */
    double eps;          /* Adam; PyTorch default 1e-8                   */
    ClipKind clip;
    double clip_value; /* max norm, or max |element|                   */
} TrainConfig;

/* PyTorch's defaults: Adam(lr=1e-3), no clipping. */
TrainConfig train_config_default(void);

/* Returns 0, or -1 with a message (no "grad:" outputs: autodiff not run). */
int train_step(IrModule *m, const TrainConfig *cfg, char *err, size_t errlen);

#endif
