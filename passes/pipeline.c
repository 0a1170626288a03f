/* pipeline.c - runs the graph-IR optimization passes in order (see
 * pipeline.h).  Each pass verifies its own result; the pipeline verifies
 * again under the pass's stage name so that a failure names the stage. */
#include "passes/pipeline.h"

#include <stdio.h>

#include "passes/cse.h"
#include "passes/dce.h"
#include "passes/fold.h"
#include "passes/hoist.h"
#include "passes/sink.h"

int optimize(IrModule *m, char *err, size_t errlen)
{
    if (hoist(m, err, errlen) < 0) return -1;
    if (ir_verify(m, "hoist", stderr)) return ir_errf(err, errlen, "internal error: hoist broke the module");
    if (sink(m, err, errlen) < 0) return -1;
    if (ir_verify(m, "sink", stderr)) return ir_errf(err, errlen, "internal error: sink broke the module");
    if (fold(m, err, errlen) < 0) return -1;
    if (ir_verify(m, "fold", stderr)) return ir_errf(err, errlen, "internal error: fold broke the module");
    if (cse(m, err, errlen) < 0) return -1;
    if (ir_verify(m, "cse", stderr)) return ir_errf(err, errlen, "internal error: cse broke the module");
    if (dce(m, err, errlen) < 0) return -1;
    if (ir_verify(m, "dce", stderr)) return ir_errf(err, errlen, "internal error: dce broke the module");
    return 0;
}
