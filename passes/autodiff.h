/* autodiff.h - reverse-mode automatic differentiation of graph IR (BPTT).
 *
 * autodiff() transforms a module IN PLACE: it appends the backward ops to
 * the module's body and adds one output per parameter, in parameter order,
 * named "grad:<parameter name>" and holding d loss / d parameter (the same
 * type as the parameter; zeros when the loss does not depend on it).  The
 * forward outputs and the loss are kept, so one run of the result computes
 * the loss and every gradient.
 *
 * A scan is differentiated into a scan running the other way over a tape:
 * the forward scan gets extra per-step outputs (its body values that a
 * vector-Jacobian rule reads, see autodiff.c), so after autodiff the
 * forward scans have more results than sema gave them.  Nothing else of
 * the forward program changes.
 *
 * Returns 0, or -1 with a message in err: the module has no loss, or uses
 * something not differentiable yet (a nested scan, a gradient op).  The
 * result is checked with ir_verify(); a verifier complaint is an internal
 * error and is reported as one (-1). */
#ifndef RNNC_AUTODIFF_H
#define RNNC_AUTODIFF_H

#include <stddef.h>

#include "ir/ir.h"

/* The prefix of the gradient outputs' names. */
#define AUTODIFF_GRAD_PREFIX "grad:"

int autodiff(IrModule *m, char *err, size_t errlen);

/* The prefix of the per-step state gradients' names. */
#define AUTODIFF_STATEGRAD_PREFIX "stategrad:"

/* autodiff(), and also, for `rnnc grad --per-step` (the vanishing/exploding
 * gradient picture): for every carried value of every top-level scan that
 * gets a gradient, one more output holding, at each step t, the gradient of
 * the loss with respect to that value after step t (all of it: through the
 * later steps and through step t's own outputs), stacked as [T, ...] in
 * the forward scan's step order (a reverse scan's too).  The outputs come
 * after the "grad:" ones, in the order of the forward scans, each named
 * "stategrad:<scan origin>: state <carried name or index>", e.g.
 * "stategrad:h: lstm l0: state 1" for layer 0's cell state, with role
 * IR_ROLE_STATE_GRAD and `of` the name without the prefix.  They are extra
 * step outputs of the backward scans; the gradients are the same as
 * autodiff()'s. */
int autodiff_with_state_grads(IrModule *m, char *err, size_t errlen);

#endif
