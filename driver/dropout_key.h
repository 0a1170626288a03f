/* dropout_key.h - the input a module with dropout takes in the gradient
 * and training recipes (passes/dropout.h): "dropout:key", int64 [2],
 * (seed, step).  `rnnc train` gives (the run's seed, the updates done
 * before this one), so a resumed run, whose checkpoint holds both, draws
 * the masks of a run that never stopped; `rnnc grad` gives (--seed, 0). */
#ifndef RNNC_DROPOUT_KEY_H
#define RNNC_DROPOUT_KEY_H

#include <stdint.h>

#include "io/tensor.h"
#include "ir/ir.h"

/* Puts the key into `in` if m takes one.  Returns 0, or -1 out of memory. */
int dropout_key_put(const IrModule *m, TensorMap *in, int64_t seed, int64_t step);

#endif
