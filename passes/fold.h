/* fold.h - folds sums of zero-padded concatenations into one concat.
 *
 * The gradient of a `slice` is the slice's gradient padded with zeros to
 * its operand's width, and the gradients of the slices of one value are
 * added up.  For an LSTM's four gates that is
 *
 *     add(add(add(concat(0, gf, 0), concat(0, gi, 0)), ...), concat(go, 0))
 *
 * three adds and four concats over [B, 4H] for what is just
 * concat(gi, gf, gg, go).  fold() rewrites every add of two operands that
 * are each a concat (or a constant 0) whose non-zero pieces sit in
 * zero parts of the other into one concat of the pieces in column order,
 * with the zero runs between them as constant-0 pieces; chains fold from
 * the inside out.  The result adds nothing to nothing and is exact (x + 0
 * is x for every float but -0: 0 + -0 is +0, which no caller can observe
 * through the ops that read gradients).  Returns the number of adds
 * folded, or -1 with a message in err (the result does not verify). */
#ifndef RNNC_FOLD_H
#define RNNC_FOLD_H

#include <stddef.h>

#include "ir/ir.h"

int fold(IrModule *m, char *err, size_t errlen);

#endif
