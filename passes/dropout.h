/* dropout.h - what `dropout` means in each module (docs/ir.md, "Dropout";
 * docs/training.md, "Dropout").
 *
 * sema makes `%y = dropout %x p=P` for dropout(x, P) and for the dropout=
 * of a stacked rnn/lstm/gru (each layer's output but the last's, as
 * PyTorch).  Every recipe (passes/pipeline.c) runs one of these two first,
 * so no later pass, engine or target sees a `dropout`:
 *
 * dropout_train(): the gradient and training recipes.  Each dropout, in
 * program order k = 0, 1, ..., becomes
 *     %mask = dropout_mask %key p=P index=k : x's type
 *     %y    = mul %x, %mask
 * with %key the new input DROPOUT_KEY_INPUT, i64[2] (seed, step), role
 * IR_ROLE_DROPOUT_KEY, added once if there is any dropout.  The mask is a
 * function of (seed, step, k, element) alone (runtime/dropout.c), so
 * autodiff needs no rule of its own (the mask depends on no parameter:
 * d y / d x = mask) and every engine draws the same mask for a key.
 *
 * dropout_off(): every other recipe (run, sample, eval, the compiled
 * forward and step functions): each dropout's uses read %x and the op
 * goes: inference computes nothing for it.
 *
 * A dropout must be an op of the top-level block (sema makes them only
 * there: dropout is not available inside a cell, whose body runs once a
 * step and would need a mask a step).  Both return the number of dropouts
 * rewritten (>= 0), or -1 with a message. */
#ifndef RNNC_DROPOUT_H
#define RNNC_DROPOUT_H

#include <stddef.h>

#include "ir/ir.h"

#define DROPOUT_KEY_INPUT "dropout:key"

int dropout_train(IrModule *m, char *err, size_t errlen);
int dropout_off(IrModule *m, char *err, size_t errlen);

#endif
