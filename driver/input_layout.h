/* input_layout.h - a warning for data that looks batch-first.
 *
 * rnnc's sequences are time-major, [T, B, ...].  A batch-first array of
 * one sequence ([1, 200, 1] meant as B = 1, T = 200) binds without an
 * error as T = 1, B = 200 - 200 one-step sequences - and runs silently to
 * a wrong answer.  A sequence given with T = 1 and B > 1 is that shape, or
 * a rare real one, so it gets a warning, not an error. */
#ifndef RNNC_INPUT_LAYOUT_H
#define RNNC_INPUT_LAYOUT_H

#include "io/tensor.h"
#include "ir/ir.h"

/* For every sequence input and target of m given in `inputs` with T = 1
 * and B > 1, prints "rnnc: warning: input 'x' has T = 1 and B = 200: is it
 * batch-first? ..." to stderr.  Returns the number of warnings. */
int input_layout_warn(const IrModule *m, const TensorMap *inputs);

/* The same for `rnnc train`'s npy data, once data_bind() has checked it:
 * sequence arrays with T = 1 and more than one example.  Returns 1 when
 * it warned. */
struct Dataset;
int input_layout_warn_data(const struct Dataset *d);

#endif
