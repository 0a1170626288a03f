/* c_variants.h - the graph-IR modules that `rnnc compile` turns into the
 * kernels of one C file: the forward pass, the streaming step and the
 * training step, each derived from a fresh module built by sema.
 *
 * Each function rewrites the module it is given IN PLACE and leaves it
 * optimized (passes/pipeline.h) and verified, ready for lower():
 *
 *   cvar_forward  the loss is removed (and with it the ops only it needed
 *                 and the targets), so the module computes the `output`s.
 *   cvar_step     segment_carry() makes the recurrent state "carry:<k>"
 *                 inputs and outputs (with the "carry:reset" flag), then
 *                 every sequence length becomes 1: one call is one time
 *                 step that continues from the state the last one left.
 *   cvar_train    (segment_carry() when `carry`: truncated BPTT across
 *                 calls), autodiff(), train_step() with cfg; only the
 *                 loss, "grad_norm", "new:..." and "carry:<k>" outputs are
 *                 kept: the model's own outputs and the gradients are not
 *                 results of a training step, so nothing computes them
 *                 beyond what the update needs.
 *
 * All return 0, or -1 with a message in err. */
#ifndef RNNC_C_VARIANTS_H
#define RNNC_C_VARIANTS_H

#include <stddef.h>

#include "ir/ir.h"
#include "passes/train_step.h"

int cvar_forward(IrModule *m, char *err, size_t errlen);

/* Whether a one-step-at-a-time version of m means something: m steps over
 * at least one sequence, and no part of it reads a sequence backwards (a
 * reverse scan, reverse(seq)) or runs a fixed number of steps on its own
 * (generate), which a step at a time cannot reproduce.  When it does not,
 * *why says which part (a static string). */
int cvar_can_step(const IrModule *m, const char **why);

int cvar_step(IrModule *m, char *err, size_t errlen);

int cvar_train(IrModule *m, const TrainConfig *cfg, int carry, char *err, size_t errlen);

#endif
