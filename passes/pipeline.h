/* pipeline.h - the recipes: which passes, in which order, turn the module
 * sema builds into each module rnnc runs or compiles.  Every caller - the
 * commands (driver/cmd_*.c), `rnnc compile` (its forward, step and
 * training-step kernels), the engines' users and the benchmark - derives
 * its modules here, so two callers asking for the same module get the same
 * one; a new pass goes into the recipes that need it, here.
 *
 *   pipeline_forward  the outputs, and the loss if the caller gives every
 *                     target: `rnnc run`, the eval pass of `rnnc train`,
 *                     `rnnc sample`, the compiled forward function
 *   pipeline_step     the streaming step: one time step a call, the state
 *                     carried (the compiled step function)
 *   pipeline_grad     loss and every parameter's gradient: `rnnc grad`
 *   pipeline_train    one step of training: `rnnc train`, the compiled
 *                     train_step function
 *   pipeline_train_grad, pipeline_update  the same step in two halves,
 *                     the gradients and the update: `rnnc train` under MPI
 *   pipeline_sample   a character model's logits, one segment a call:
 *                     `rnnc sample`
 *
 * Each begins with passes/dropout.h: dropout_train() in the gradient and
 * training recipes (the masks drawn from the input "dropout:key"),
 * dropout_off() in the others (dropout is the identity in inference).
 *
 * Each rewrites its module IN PLACE (clone it first, ir_clone(), to derive
 * two modules from one) and leaves it verified, and optimized with
 * o->optimize.  All return 0, or -1 with a message in err. */
#ifndef RNNC_PIPELINE_H
#define RNNC_PIPELINE_H

#include <stddef.h>

#include "ir/ir.h"
#include "passes/train_step.h"

/* What a caller of the recipes chooses beyond the recipe itself. */
typedef struct PipeOpts {
    /* segment_carry() (passes/segment.h): the recurrent state is an input
     * and an output of each call, for TBPTT segments and sampling. */
    int carry;
    /* pipeline_train and pipeline_grad with carry: history_prefix() (passes/history.h), the
     * "hist:" steps before the new ones of TBPTT(k1, k2). */
    int history;
    /* End with optimize().  Compiled code runs the optimized module; the
     * interpreter, the oracle the others are tested against, runs the
     * module as the passes made it (exec/engine.h: engine_optimizes()). */
    int optimize;
    /* pipeline_train and pipeline_forward with the loss: when the loss is
     * a cross_entropy, its logits are also the output PIPELINE_CE_LOGITS,
     * so that `rnnc train` counts the positions it classifies right (the
     * accuracy).  Off, the module computes no more than the loss needs. */
    int ce_logits;
    /* pipeline_step: the reset flag is one an example where the states
     * allow it (segment_carry_ex), for NAME_reset_example of the C API. */
    int reset_per_example;
} PipeOpts;

/* The output of o->ce_logits: the logits operand of the cross_entropy. */
#define PIPELINE_CE_LOGITS "loss:logits"

/* optimize() runs hoist (hoist.h), sink (sink.h), fold (fold.h), cse
 * (cse.h) and dce (dce.h) in that order, checking the module with
 * ir_verify() after each (stages "hoist", "sink", "fold", "cse", "dce").
 * The result computes the same outputs and loss as the input module
 * (`rnnc dump --stage=opt`). */
int optimize(IrModule *m, char *err, size_t errlen);

/* The forward module.  keep_loss: the caller gives every target, and the
 * loss is computed.  Without it the loss goes, with the ops only it
 * needed and the targets no output reads: compiled code computes
 * everything its module holds on every run, so a loss kept would need
 * targets the caller does not have.  (A target an output reads stays an
 * input: dropping it too would leave that output reading nothing.) */
int pipeline_forward(IrModule *m, int keep_loss, const PipeOpts *o, char *err, size_t errlen);

/* Whether a one-step-at-a-time version of m means something: m steps over
 * at least one sequence, and no part of it reads a sequence backwards (a
 * reverse scan, reverse(seq)) or runs a fixed number of steps on its own
 * (generate), which a step at a time cannot reproduce.  When it does not,
 * *why says which part (a static string). */
int pipeline_can_step(const IrModule *m, const char **why);

/* The streaming step: pipeline_forward without the loss and with the
 * state carried (o->carry is implied), then every sequence length becomes
 * 1 (unroll_specialize): one call is one time step that continues from the
 * state the last one left. */
int pipeline_step(IrModule *m, const PipeOpts *o, char *err, size_t errlen);

/* autodiff(), or with per_step autodiff_with_state_grads() (the
 * "stategrad:" outputs of `rnnc grad --per-step`): the loss, the outputs
 * and every parameter's gradient. */
int pipeline_grad(IrModule *m, int per_step, const PipeOpts *o, char *err, size_t errlen);

/* The training step: (segment_carry() with o->carry, then
 * history_prefix() with o->history, which needs a model that
 * pipeline_can_step()), autodiff(),
 * train_step() with cfg; then only the loss and the outputs a step's
 * caller reads are kept - the gradient norm, the updated parameters and
 * optimizer state, the carried state - so nothing computes the model's
 * own outputs or the gradients beyond what the update needs. */
int pipeline_train(IrModule *m, const TrainConfig *cfg, const PipeOpts *o, char *err, size_t errlen);

/* A training step in two halves, for data-parallel training (every
 * process computes the gradients of its share of the batch, the sums of
 * all are the update's; driver/dist_step.h, docs/distributed.md):
 *
 * pipeline_train_grad: pipeline_train up to autodiff(): the loss, every
 * "grad:<p>", the carried state and o->ce_logits's logits are its
 * outputs, nothing of the update.
 *
 * pipeline_update: a new module (the caller frees it; m is only read)
 * with m's parameters, an input "grad:<p>" of each one's type, and
 * train_step() with cfg on those: outputs "grad_norm" (of the given
 * gradients), "new:<p>" and the optimizer's state, as pipeline_train's.
 * NULL with a message in err on failure. */
int pipeline_train_grad(IrModule *m, const PipeOpts *o, char *err, size_t errlen);
IrModule *pipeline_update(const IrModule *m, const TrainConfig *cfg, const PipeOpts *o, char *err, size_t errlen);

/* The output of pipeline_sample() holding the logits. */
#define PIPELINE_LOGITS "sample:logits"

/* The sampling module: the values whose softmax gives the next token's
 * probabilities - the logits the cross_entropy loss reads, else the first
 * f32 [T, B, C] output (before its softmax, if it is one) - become the
 * output PIPELINE_LOGITS (none if the model has no such value: the caller
 * says what it needs); then pipeline_forward without the loss, the state
 * carried (o->carry is implied). */
int pipeline_sample(IrModule *m, const PipeOpts *o, char *err, size_t errlen);

#endif
