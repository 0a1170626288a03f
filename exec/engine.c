/* engine.c - the engines that `rnnc run`, `grad`, `train` and `sample` can
 * run a module with (engine.h): the reference interpreter, compiled C
 * (exec/cengine.h) and the LLVM JIT (exec/jitengine.h). */
#include "exec/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/cengine.h"
#include "exec/jitengine.h"
#include "lower/kcompile.h"
#include "ir/interp.h"
#include "ir/lengths.h"
#include "ir/timing.h"

/* The interpreter's ctx is its precision (never written). */
static IrPrecision prec_f32 = IR_PREC_F32, prec_f64 = IR_PREC_F64;

static int interp_engine_run_hooked(const Engine *e, const IrModule *m, const TensorMap *params, const TensorMap *given,
                                    TensorMap *outputs, const RunHook *hook, char *err, size_t errlen)
{
    TensorMap own;
    const TensorMap *inputs;
    if (ir_lengths_apply(m, given, &own, &inputs, err, errlen)) return -1;
    int rc = interp_run_hooked(m, params, inputs, outputs, *(const IrPrecision *)e->ctx, hook, err, errlen);
    if (inputs == &own) {
        rt_map_free(&own);
        if (!rc) rc = ir_lengths_pad_outputs(m, given, outputs, err, errlen);
    }
    return rc;
}

static int interp_engine_run(const Engine *e, const IrModule *m, const TensorMap *params, const TensorMap *given,
                             TensorMap *outputs, char *err, size_t errlen)
{
    return interp_engine_run_hooked(e, m, params, given, outputs, NULL, err, errlen);
}

const Engine engine_interp = {"interp", interp_engine_run, &prec_f32, interp_engine_run_hooked};
const Engine engine_interp_f64 = {"interp", interp_engine_run, &prec_f64, interp_engine_run_hooked};

/* A compiled engine's backend: the C compiler (cengine.h) or the LLVM JIT
 * (jitengine.h), behind one interface. */
typedef struct Backend {
    const char *name;
    const char *run_stage; /* its runs' row in the --time-passes table */
    /* prepared: the weights' packs made by a prepare function (kprepare.h) */
    void *(*build)(const IrModule *m, int prepared, char *err, size_t errlen);
    int (*run)(void *eng, const TensorMap *params, const TensorMap *inputs, TensorMap *outputs, char *err,
               size_t errlen);
    void (*keep)(void *eng, const TensorMap *params); /* runs with params reuse the packs */
    void (*free)(void *eng);
} Backend;

static void *c_build(const IrModule *m, int prepared, char *err, size_t errlen)
{
    return prepared ? cengine_build_prepared(m, err, errlen) : cengine_build(m, err, errlen);
}
static int c_run(void *eng, const TensorMap *params, const TensorMap *inputs, TensorMap *outputs, char *err,
                 size_t errlen)
{
    return cengine_run(eng, params, inputs, outputs, err, errlen);
}
static void c_keep(void *eng, const TensorMap *params) { cengine_keep_packs(eng, params); }
static void c_free(void *eng) { cengine_free(eng); }

static void *jit_build(const IrModule *m, int prepared, char *err, size_t errlen)
{
    return prepared ? jitengine_build_prepared(m, NULL, err, errlen) : jitengine_build(m, NULL, err, errlen);
}
static int jit_run(void *eng, const TensorMap *params, const TensorMap *inputs, TensorMap *outputs, char *err,
                   size_t errlen)
{
    return jitengine_run(eng, params, inputs, outputs, err, errlen);
}
static void jit_keep(void *eng, const TensorMap *params) { jitengine_keep_packs(eng, params); }
static void jit_free(void *eng) { jitengine_free(eng); }

static const Backend backends[] = {
    {"c", "run (c)", c_build, c_run, c_keep, c_free},
    {"jit", "run (jit)", jit_build, jit_run, jit_keep, jit_free},
};

/* A compiled engine's state: one compiled module per module it has run (a
 * command runs one or two: the training step and the eval forward pass).
 * Modules are told apart by address; each outlives the engine.  A module
 * that fell back to the interpreter has no compiled engine (NULL). */
typedef struct CCache {
    const Backend *be;
    int fallback;           /* engine_allow_fallback() */
    const TensorMap *fixed; /* engine_fix_params()     */
    const IrModule **mods;
    void **engs;
    int n;
} CCache;

static int run_compiled(const Backend *be, void *ce, const IrModule *m, const TensorMap *params,
                        const TensorMap *inputs, TensorMap *outputs, char *err, size_t errlen)
{
    if (!ce) return interp_run(m, params, inputs, outputs, IR_PREC_F32, err, errlen);
    TimingMark t = timing_start();
    int rc = be->run(ce, params, inputs, outputs, err, errlen);
    timing_stop(&t, be->run_stage);
    return rc;
}

static int compiled_engine_run(const Engine *e, const IrModule *m, const TensorMap *params, const TensorMap *inputs,
                               TensorMap *outputs, char *err, size_t errlen);

/* Every engine runs a model with lengths on their masks (ir/lengths.h). */
static int compiled_engine_run_lengths(const Engine *e, const IrModule *m, const TensorMap *params,
                                       const TensorMap *given, TensorMap *outputs, char *err, size_t errlen)
{
    TensorMap own;
    const TensorMap *inputs;
    if (ir_lengths_apply(m, given, &own, &inputs, err, errlen)) return -1;
    int rc = compiled_engine_run(e, m, params, inputs, outputs, err, errlen);
    if (inputs == &own) {
        rt_map_free(&own);
        if (!rc) rc = ir_lengths_pad_outputs(m, given, outputs, err, errlen);
    }
    return rc;
}

static int compiled_engine_run(const Engine *e, const IrModule *m, const TensorMap *params, const TensorMap *inputs,
                               TensorMap *outputs, char *err, size_t errlen)
{
    CCache *c = e->ctx;
    for (int i = 0; i < c->n; i++)
        if (c->mods[i] == m) return run_compiled(c->be, c->engs[i], m, params, inputs, outputs, err, errlen);
    const IrModule **mods = realloc(c->mods, (size_t)(c->n + 1) * sizeof *mods);
    if (mods) c->mods = mods;
    void **engs = realloc(c->engs, (size_t)(c->n + 1) * sizeof *engs);
    if (engs) c->engs = engs;
    if (!mods || !engs) return ir_errf(err, errlen, "out of memory");
    void *ce = NULL;
    char why[256];
    if (c->fallback && kcompile_refuses(m, why, sizeof why)) {
        /* The interpreter runs every module; the user did not ask for
         * this engine, so say why it is not used rather than fail. */
        fprintf(stderr, "rnnc: note: the %s engine cannot compile model '%s' (%s): running it with the interpreter\n",
                c->be->name, m->name ? m->name : "?", why);
    } else {
        /* weights the caller keeps fixed: packed once, by a prepare function */
        ce = c->be->build(m, c->fixed != NULL, err, errlen);
        if (!ce) return -1;
        if (c->fixed) c->be->keep(ce, c->fixed);
    }
    c->mods[c->n] = m;
    c->engs[c->n++] = ce;
    return run_compiled(c->be, ce, m, params, inputs, outputs, err, errlen);
}

const char *engine_default_name(void)
{
    const char *env = getenv("RNNC_ENGINE");
    return env && *env ? env : "jit";
}

void engine_fix_params(Engine *e, const TensorMap *params)
{
    if (!engine_is_compiled(e)) return;
    CCache *c = e->ctx;
    c->fixed = params;
    for (int i = 0; i < c->n; i++)
        if (c->engs[i]) c->be->keep(c->engs[i], params);
}

void engine_allow_fallback(Engine *e)
{
    if (engine_is_compiled(e)) ((CCache *)e->ctx)->fallback = 1;
}

int engine_open(const char *name, Engine *e, char *err, size_t errlen)
{
    if (!name || !strcmp(name, "interp")) {
        *e = engine_interp;
        return 0;
    }
    const Backend *be = NULL;
    for (size_t i = 0; i < sizeof backends / sizeof *backends; i++)
        if (!strcmp(name, backends[i].name)) be = &backends[i];
    if (!be) return ir_errf(err, errlen, "unknown engine '%s' (use interp, c or jit)", name);
    CCache *c = calloc(1, sizeof *c);
    if (!c) return ir_errf(err, errlen, "out of memory");
    c->be = be;
    e->name = be->name;
    e->run = compiled_engine_run_lengths;
    e->ctx = c;
    e->run_hooked = NULL;
    return 0;
}

int engine_is_compiled(const Engine *e) { return e->run == compiled_engine_run_lengths; }

void engine_close(Engine *e)
{
    if (!engine_is_compiled(e)) return;
    CCache *c = e->ctx;
    for (int i = 0; c && i < c->n; i++) c->be->free(c->engs[i]);
    if (c) {
        free(c->mods);
        free(c->engs);
    }
    free(c);
    e->ctx = NULL;
}

int engine_optimizes(const Engine *e) { return engine_is_compiled(e); }
