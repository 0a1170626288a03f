/* unroll.h - unrolling scans: fully, into straight-line copies of the body
 * (for dumps, small T and tests), or by a factor (each iteration of the
 * new scan runs `factor` steps).
 *
 * Both need a static trip count.  A scan with no sequence has one (its
 * `steps`); a scan over a sequence of symbolic length T_x has one only once
 * the length is fixed: unroll_specialize(m, steps) replaces every sequence
 * length symbol (every symbol but B) by the constant `steps` in every type
 * of the module (inputs, targets, op results, block arguments) and drops
 * those symbols, so the module then only accepts sequences of exactly that
 * length (the binder says so: "expected rank 3 [4, B, 3]").  All lengths
 * become the same constant, which is what a dump or a test over T steps
 * wants; an encoder-decoder with two different lengths is not expressible.
 *
 * unroll_full(m, steps): with steps > 0 it specializes first; then every
 * top-level scan becomes, for each step in execution order (T-1 down to 0
 * for a reverse scan): `index` of each sequence at the step, a copy of the
 * body with the carried arguments replaced by the previous step's yields;
 * the final carried values are the last step's yields and each stacked
 * output is a `stack` of the steps' outputs in time order.  A scan nested
 * in a body is copied as a scan.  steps <= 0 unrolls only scans whose trip
 * count is static already (and fails on the others).
 *
 * unroll_by(m, factor): every top-level scan with a static trip count T
 * that `factor` divides becomes a scan of T/factor iterations whose body
 * is `factor` copies of the old body; each sequence is `reshape`d to
 * [T/factor, factor, ...] and each stacked output reshaped back to
 * [T, ...].  T not a multiple of factor is an error (at compile time: T is
 * static); factor >= T unrolls the scan fully; factor 1 changes nothing.
 *
 * Both keep the module's inputs, outputs and loss, and compute the same
 * numbers op for op; the result is checked with ir_verify().  Returns 0, or
 * -1 with a message in err. */
#ifndef RNNC_UNROLL_H
#define RNNC_UNROLL_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

int unroll_specialize(IrModule *m, int64_t steps, char *err, size_t errlen);
int unroll_full(IrModule *m, int64_t steps, char *err, size_t errlen);
int unroll_by(IrModule *m, int factor, char *err, size_t errlen);

#endif
