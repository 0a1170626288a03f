/* pipeline.c - runs the graph-IR optimization passes in order (see
 * pipeline.h).  Each pass verifies its own result; the pipeline verifies
 * again under the pass's stage name so that a failure names the stage.
 * Each pass, with its verification, is one --time-passes row (ir/timing.h). */
#include "passes/pipeline.h"

#include <stdio.h>

#include "ir/timing.h"
#include "passes/cse.h"
#include "passes/dce.h"
#include "passes/fold.h"
#include "passes/hoist.h"
#include "passes/sink.h"

static const struct {
    const char *name;
    int (*run)(IrModule *m, char *err, size_t errlen);
} passes[] = {
    { "hoist", hoist }, { "sink", sink }, { "fold", fold }, { "cse", cse }, { "dce", dce },
};

int optimize(IrModule *m, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof passes / sizeof *passes; i++) {
        TimingMark t = timing_start();
        int rc = passes[i].run(m, err, errlen) < 0 ? -1 : 0;
        if (!rc && ir_verify(m, passes[i].name, stderr))
            rc = ir_errf(err, errlen, "internal error: %s broke the module", passes[i].name);
        timing_stop(&t, passes[i].name);
        if (rc) return -1;
    }
    return 0;
}
