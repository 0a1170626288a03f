/* carry.h - moving the recurrent state between the segments of a sequence
 * for a module rewritten by segment_carry() (passes/segment.h): what
 * `rnnc train` (TBPTT) and `rnnc sample` (one character at a time) do
 * around every run.
 *
 * Every function prints its own message ("rnnc: ...") and returns 0 or 1. */
#ifndef RNNC_CARRY_H
#define RNNC_CARRY_H

#include <stdint.h>

#include "ir/ir.h"
#include "io/tensor.h"

/* Puts into `in` the inputs that segment_carry() added to m, by their
 * roles (ir.h): the reset flag, "carry:reset" (1 when carry is NULL: the
 * start of a sequence; else 0), and every carried state "carry:<k>", a copy of carry's tensor or, at the start (or if carry has
 * none), zeros of its type with B = batch.  A module with no carried
 * state gets nothing. */
int carry_inputs(const IrModule *m, const TensorMap *carry, int64_t batch, TensorMap *in);

/* Empties `carry` and moves every carried-state output of m (those named
 * as its IR_ROLE_CARRY inputs) from `out` into it, for the next segment. */
int carry_take(const IrModule *m, TensorMap *out, TensorMap *carry);

/* Puts zeros of IR type ty, with B = batch, into map under `name` (also
 * the optimizer state before the first step). */
int carry_put_zeros(TensorMap *map, const IrModule *m, const char *name, const IrType *ty, int64_t batch);

#endif
