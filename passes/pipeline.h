/* pipeline.h - the graph-IR optimization pipeline (`rnnc dump --stage=opt`).
 *
 * optimize() runs hoist (hoist.h), sink (sink.h), fold (fold.h), cse
 * (cse.h) and dce (dce.h) in that order, checking the module with
 * ir_verify() after each (stages "hoist", "sink", "fold", "cse", "dce").  The result computes the same outputs and loss as the
 * input module.  Returns 0, or -1 with a message in err. */
#ifndef RNNC_PIPELINE_H
#define RNNC_PIPELINE_H

#include <stddef.h>

#include "ir/ir.h"

int optimize(IrModule *m, char *err, size_t errlen);

#endif
