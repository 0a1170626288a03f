/* history.h - the history part of truncated BPTT(k1, k2) (docs/training.md,
 * "TBPTT"): a training step whose gradient reaches k2 steps back while
 * its loss covers only the k1 new steps.
 *
 * history_prefix() runs after segment_carry() (segment.h) and before
 * autodiff().  It puts in front of the module a copy of the part of the
 * program that computes the top-level scans' final carried values (the
 * recurrence and what feeds it, not the outputs or the loss), reading new
 * inputs "hist:<x>" for every sequence input or target <x> that part
 * reads, each of a length of its own (symbol "hist:<T>").  The copy's
 * scans start from the carried state segment_carry made (the reset flag,
 * "carry:<k>"); the original scans, which the loss reads, start from the
 * copy's final carried values instead.  So one run is the model over
 * `hist:` steps then the ordinary steps, the loss of the ordinary steps
 * alone, and autodiff carries its gradient back through the history to
 * the carried state at the history's start, where it stops.
 *
 * The history must have at least one step.  The copy's dropout masks are
 * numbered after the originals' (their own masks).  The model must read
 * its sequences forward (pipeline_can_step()): a reverse scan's history
 * would run after, not before, the new steps.  Returns 0, or -1 with a
 * message. */
#ifndef RNNC_HISTORY_H
#define RNNC_HISTORY_H

#include <stddef.h>

#include "ir/ir.h"

#define HISTORY_PREFIX "hist:"

int history_prefix(IrModule *m, char *err, size_t errlen);

#endif
