/* engine.c - the engines that `rnnc run`, `grad`, `train` and `sample` can
 * run a module with (engine.h): the reference interpreter, and compiled C
 * (backend/cengine.h). */
#include "driver/engine.h"

#include <stdlib.h>
#include <string.h>

#include "backend/cengine.h"
#include "ir/interp.h"
#include "passes/dce.h"
#include "passes/pipeline.h"

static int interp_engine_run(const Engine *e, const IrModule *m, const TensorMap *params,
                             const TensorMap *inputs, TensorMap *outputs, char *err, size_t errlen)
{
    (void)e;
    return interp_run(m, params, inputs, outputs, IR_PREC_F32, err, errlen);
}

const Engine engine_interp = { "interp", interp_engine_run, NULL };

/* The C engine's state: one compiled engine per module it has run (a
 * command runs one or two: the training step and the eval forward pass).
 * Modules are told apart by address; each outlives the engine. */
typedef struct CCache {
    const IrModule **mods;
    CEngine        **engs;
    int              n;
} CCache;

static int c_engine_run(const Engine *e, const IrModule *m, const TensorMap *params,
                        const TensorMap *inputs, TensorMap *outputs, char *err, size_t errlen)
{
    CCache *c = e->ctx;
    for (int i = 0; i < c->n; i++)
        if (c->mods[i] == m) return cengine_run(c->engs[i], params, inputs, outputs, err, errlen);
    const IrModule **mods = realloc(c->mods, (size_t)(c->n + 1) * sizeof *mods);
    if (mods) c->mods = mods;
    CEngine **engs = realloc(c->engs, (size_t)(c->n + 1) * sizeof *engs);
    if (engs) c->engs = engs;
    if (!mods || !engs) return ir_errf(err, errlen, "out of memory");
    CEngine *ce = cengine_build(m, err, errlen);
    if (!ce) return -1;
    c->mods[c->n] = m;
    c->engs[c->n++] = ce;
    return cengine_run(ce, params, inputs, outputs, err, errlen);
}

int engine_open(const char *name, Engine *e, char *err, size_t errlen)
{
    if (!name || !strcmp(name, "interp")) {
        *e = engine_interp;
        return 0;
    }
    if (strcmp(name, "c"))
        return ir_errf(err, errlen, "unknown engine '%s' (use interp or c)", name);
    CCache *c = calloc(1, sizeof *c);
    if (!c) return ir_errf(err, errlen, "out of memory");
    e->name = "c";
    e->run = c_engine_run;
    e->ctx = c;
    return 0;
}

int engine_is_compiled(const Engine *e) { return e->run == c_engine_run; }

void engine_close(Engine *e)
{
    if (!engine_is_compiled(e)) return;
    CCache *c = e->ctx;
    for (int i = 0; c && i < c->n; i++) cengine_free(c->engs[i]);
    if (c) {
        free(c->mods);
        free(c->engs);
    }
    free(c);
    e->ctx = NULL;
}

int engine_prepare(const Engine *e, IrModule *m, int keep_loss, char *err, size_t errlen)
{
    if (!engine_is_compiled(e)) return 0;
    if (!keep_loss && m->loss) {
        /* The ops only the loss needs go first (dce verifies the module with
         * the targets still listed); then nothing uses the targets. */
        m->loss = NULL;
        if (dce(m, err, errlen) < 0) return -1;
        m->ntargets = 0;
    }
    return optimize(m, err, errlen);
}
