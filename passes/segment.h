/* segment.h - carry recurrent state across calls: the IR side of truncated
 * BPTT and of streaming.
 *
 * segment_carry() rewrites every top-level scan's initial carried values
 * (numbered k = 0, 1, ... in program order over all top-level scans and
 * their carried values) so that
 *     init_k = reset * original_init_k + (1 - reset) * carry_k
 * where `reset` is a new rank-0 f32 input "carry:reset" (1: start from
 * the model's own initial state, 0: continue) and carry_k is a new input
 * "carry:<k>" of the carried value's type; and adds an output "carry:<k>"
 * holding the scan's final carried value.  A driver that feeds a
 * segment's "carry:<k>" outputs back as the next segment's inputs runs
 * the sequence in pieces with the state flowing forward.
 *
 * Run it BEFORE autodiff(): the carry inputs are inputs, not parameters,
 * so no gradient flows back into the previous segment: truncated BPTT.
 * (A learned initial state still gets its gradient through `reset`.)
 * With one segment covering the whole sequence and reset = 1 the result
 * equals the unsegmented program exactly. */
#ifndef RNNC_SEGMENT_H
#define RNNC_SEGMENT_H

#include <stddef.h>

#include "ir/ir.h"

#define SEGMENT_RESET_INPUT  "carry:reset"
#define SEGMENT_CARRY_PREFIX "carry:"

/* Returns the number of carried values (>= 0), or -1 with a message. */
int segment_carry(IrModule *m, char *err, size_t errlen);

/* The same; with per_example, when every carried value leads with the
 * batch ([B, ...]), `reset` is f32[B], one flag an example (reshaped to
 * [B, 1, ...] against each state), so that a caller can start one example
 * of the batch afresh while the others continue: the streaming step of the
 * C API (docs/c-api.md, NAME_reset_example).  Otherwise it is rank 0. */
int segment_carry_ex(IrModule *m, int per_example, char *err, size_t errlen);

#endif
