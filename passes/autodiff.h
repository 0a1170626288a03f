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

#endif
