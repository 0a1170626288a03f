/* run_hook.h - a caller's view into a run while it runs: which outputs
 * are final before the run ends.  Data-parallel training starts summing a
 * parameter's gradient across the processes as soon as the backward pass
 * has finished it, while the rest of the backward pass runs
 * (driver/dist_step.c, docs/distributed.md "Overlap").  An engine that
 * can say so takes one (exec/engine.h: Engine.run_hooked); today the
 * interpreter does (ir/interp.h), between the module's top-level ops. */
#ifndef RNNC_RUN_HOOK_H
#define RNNC_RUN_HOOK_H

#include "io/tensor.h"

typedef struct RunHook {
    /* Output `name` holds its final value t (the engine's, valid only for
     * the call; the run still hands every output back at its end).
     * Returns 0, or -1 with a message in err, which fails the run. */
    int (*final)(void *ctx, const char *name, const Tensor *t, char *err, size_t errlen);
    /* Between two steps of the run (may be NULL): a chance to drive
     * communication under way. */
    void (*tick)(void *ctx);
    void *ctx;
} RunHook;

#endif
