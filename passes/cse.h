/* cse.h - common subexpression elimination on the graph IR.
 *
 * Within each block (the top block and every scan body, each on its own),
 * a non-scan op with the same kind, the same operands (the same values),
 * the same attributes and the same result types as an earlier op of the
 * same block is removed and its results replaced by the earlier op's
 * everywhere (later ops, nested bodies, yields, outputs, loss).  Every
 * non-scan op is pure, so this computes the same numbers; scans are never
 * merged.  Returns the number of ops removed, or -1 with a message in err
 * if the result does not verify (a compiler bug). */
#ifndef RNNC_CSE_H
#define RNNC_CSE_H

#include <stddef.h>

#include "ir/ir.h"

int cse(IrModule *m, char *err, size_t errlen);

#endif
