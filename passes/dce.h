/* dce.h - dead code elimination on the graph IR.
 *
 * Removes every op none of whose results is used by a live op, a yield of a
 * live scan's body, an output or the loss.  A scan is kept whole while any
 * of its results is used: its body keeps every yield (a yield nobody reads
 * outside, and the ops only it needs, stay; pruning a scan's unused results
 * would renumber them and is left to a later pass), and inside the body the
 * same rule removes ops the yields do not need.  Operands, inputs and
 * parameters are never removed.  Returns the number of ops removed, or -1
 * with a message in err if the result does not verify (a compiler bug). */
#ifndef RNNC_DCE_H
#define RNNC_DCE_H

#include <stddef.h>

#include "ir/ir.h"

int dce(IrModule *m, char *err, size_t errlen);

#endif
