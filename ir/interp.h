/* interp.h - the reference interpreter of graph IR.
 *
 * Plain loops over plain arrays: the oracle that every pass and backend is
 * tested against, so it is written to be obviously right, not fast.
 * Internally every value is an array of doubles.  In IR_PREC_F32 mode each
 * op's result is rounded to float32 as it is stored (so the program
 * computes what a float32 program computes, op by op); in IR_PREC_F64 mode
 * nothing is rounded, which is what finite-difference gradient checks
 * need. */
#ifndef RNNC_INTERP_H
#define RNNC_INTERP_H

#include "ir/ir.h"
#include "ir/run_hook.h"
#include "io/tensor.h"

typedef enum { IR_PREC_F32, IR_PREC_F64 } IrPrecision;

/* Runs module m.
 *   params:  every parameter by its name (F32 or F64; shape must match)
 *   inputs:  every input by name, and targets by name if the module has a
 *            loss (seq<int>/int values may be I32 or I64; float values F32
 *            or F64); sizes B and T_* are read off these tensors and
 *            checked against the declared maxima.
 *   outputs: receives every `output` by name, and "loss" if the module has
 *            one and its targets were given; F32 tensors in F32 mode, F64
 *            in F64 mode.
 * Returns 0, or -1 with a message in err (a missing or mis-shaped tensor,
 * an id out of range, a length above its maximum). */
int interp_run(const IrModule *m, const TensorMap *params, const TensorMap *inputs, TensorMap *outputs,
               IrPrecision prec, char *err, size_t errlen);

/* interp_run, telling hook (NULL: none) of each output as soon as the
 * top-level op that makes it has run (a parameter or input given as an
 * output: before the first op), and ticking it after every top-level op
 * and every step of a scan.
 * The outputs the module computes from targets that were not given are
 * not told of. */
int interp_run_hooked(const IrModule *m, const TensorMap *params, const TensorMap *inputs, TensorMap *outputs,
                      IrPrecision prec, const RunHook *hook, char *err, size_t errlen);

#endif
