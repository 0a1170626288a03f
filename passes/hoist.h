/* hoist.h - loop-invariant code motion out of scans.
 *
 * For every top-level scan, each op of its body that does not depend
 * (transitively) on a carried value moves out of the loop:
 *
 *  - an op reading only values from outside the scan (weights, constants,
 *    other hoisted invariants) moves, unchanged, to just before the scan;
 *  - an op reading a step of a sequence (and otherwise only outside values)
 *    is computed once for every step on the whole sequence, [T, B, ...]:
 *    `linear` takes leading dims, element-wise ops broadcast over trailing
 *    dims.  If the loop still needs its value, that [T, ...] value becomes
 *    a new sequence operand of the scan and the step argument replaces the
 *    op inside.  The input projection W_ih x_t of every cell thus becomes
 *    one GEMM over all T*B rows before the loop.
 *
 * An element-wise op is lifted only when a lifted op reads it (a chain
 * that ends in a linear, embedding or softmax): on its own it would be a
 * pass over the whole [T, ...] sequence, storing what the loop loads back,
 * while in the loop the back end fuses it into the step's map.  So b_ih is
 * added to the projection's step inside the loop.
 *
 * A sequence operand's step t is at index t whichever way the scan runs,
 * so reverse scans need nothing special.  Only ops whose lifted form means
 * the same thing are lifted (element-wise, linear, slice, concat, softmax,
 * embedding, with the rank rules in hoist.c); others stay in the loop.
 * Nested scans are left as they are.  Scans with no sequence (generate)
 * only lose their weight-only ops.  The original step arguments stay
 * operands of the scan even when the body no longer reads them.
 *
 * The moved ops are the same ops on the same values, so the interpreter
 * computes the same forward numbers bit for bit.  Returns 0, or -1 with a
 * message in err (only if the result does not verify: a compiler bug). */
#ifndef RNNC_HOIST_H
#define RNNC_HOIST_H

#include <stddef.h>

#include "ir/ir.h"

int hoist(IrModule *m, char *err, size_t errlen);

#endif
