/* run_setup.c - weights, inputs and precision of a run (run_setup.h),
 * shared by init, run, grad and train so that they accept the same files
 * and options with the same messages. */
#include "driver/run_setup.h"

#include <string.h>

#include "driver/cli_hint.h"
#include "ir/bind.h"
#include "exec/init.h"
#include "exec/rng.h"
#include "frontend/suggest.h"

int run_precision(const Command *c, const CliArgs *a, IrPrecision *prec)
{
    const char *s = cli_get(a, "precision");
    *prec = IR_PREC_F32;
    if (s && !strcmp(s, "f64"))
        *prec = IR_PREC_F64;
    else if (s && strcmp(s, "f32")) {
        static const char *const choices[] = {"f32", "f64", NULL};
        char hint[128];
        cli_hint_value(s, choices, hint, sizeof hint);
        return cli_usage_error(c, "unknown precision '%s' (f32 or f64)%s", s, hint);
    }
    return 0;
}

int run_engine(const Command *c, const CliArgs *a, IrPrecision prec, Engine *e)
{
    const char *name = cli_get(a, "engine");
    int chosen = name != NULL;
    char err[256];
    if (!chosen) {
        name = engine_default_name();
        /* float64 is the interpreter's alone: asking for it picks it. */
        if (prec == IR_PREC_F64) name = "interp";
    }
    if (engine_open(name, e, err, sizeof err)) {
        static const char *const choices[] = {"interp", "c", "jit", NULL};
        char hint[128];
        cli_hint_value(name, choices, hint, sizeof hint);
        if (chosen) return cli_usage_error(c, "%s%s", err, hint);
        return cli_usage_error(c, "RNNC_ENGINE: %s%s", err, hint);
    }
    if (engine_is_compiled(e) && prec == IR_PREC_F64) {
        engine_close(e);
        return cli_usage_error(c, "--engine=%s computes in float32: --precision f64 needs the interpreter", name);
    }
    if (prec == IR_PREC_F64) *e = engine_interp_f64;
    if (!chosen) engine_allow_fallback(e);
    return 0;
}

int run_binding(const Command *c, const char *opt, const char *v, char *name, size_t n, const char **path)
{
    const char *eq = strchr(v, '=');
    if (!eq || eq == v || !eq[1] || (size_t)(eq - v) >= n)
        return cli_usage_error(c, "option '%s' needs NAME=FILE, got '%s'", opt, v);
    memcpy(name, v, (size_t)(eq - v));
    name[eq - v] = 0;
    *path = eq + 1;
    return 0;
}

int run_read_inputs(const Command *c, const CliArgs *a, TensorMap *inputs)
{
    char name[256], err[512];
    const char *path;
    for (int i = 0; i < a->nopts; i++) {
        if (strcmp(a->opt[i]->name, "input")) continue;
        int rc = run_binding(c, "-i", a->val[i], name, sizeof name, &path);
        if (rc) return rc;
        Tensor t;
        if (rt_npy_read(path, &t, err, sizeof err)) return cli_error("%s", err);
        if (rt_map_get(inputs, name)) {
            rt_tensor_free(&t);
            return cli_error("input '%s' given twice", name);
        }
        if (rt_map_put(inputs, name, &t)) {
            rt_tensor_free(&t);
            return cli_error("out of memory");
        }
    }
    return 0;
}

/* A checkpoint of `rnnc train` holds the weights and, under names no
 * parameter can have (a name of the language has no ':'), the optimizer
 * state (opt:P.m), the carried state (carry:K) and the run's position and
 * vocabulary (train:*): docs/training.md, "Checkpoints".  A command that
 * wants the weights alone takes a checkpoint as it is, as NAME_load_weights
 * of a compiled model does; any other stray tensor is still an error. */
static int is_train_state(const char *name)
{
    return !strncmp(name, "opt:", 4) || !strncmp(name, "carry:", 6) || !strncmp(name, "train:", 6);
}

void run_drop_train_state(TensorMap *w)
{
    TensorMap keep;
    rt_map_init(&keep);
    for (int i = 0; i < w->count; i++)
        /* moved on success; out of memory, the entry is dropped with the
         * rest below, and the binder names it as missing */
        if (!is_train_state(w->names[i])) rt_map_put(&keep, w->names[i], &w->tensors[i]);
    rt_map_free(w);
    *w = keep;
}

int run_load_weights(const IrModule *m, const char *path, TensorMap *w)
{
    char err[512];
    if (path) {
        if (rt_st_read(path, w, err, sizeof err)) return cli_error("%s", err);
        run_drop_train_state(w);
    } else if (m->nparams) {
        return cli_error("model '%s' has %d parameters: give a weights file with -w (make one with 'rnnc init')",
                         m->name, m->nparams);
    }
    if (ir_bind_params(m, w, path ? path : "(no weights)", err, sizeof err)) return cli_error("%s", err);
    return 0;
}

/* IrInitKind and RtInitKind list the same initializers; the runtime keeps
 * its own enum so that it does not depend on the IR. */
static RtInitKind rt_kind(IrInitKind k)
{
    switch (k) {
    case IR_INIT_ZERO: return RT_INIT_ZERO;
    case IR_INIT_ONE: return RT_INIT_ONE;
    case IR_INIT_UNIFORM: return RT_INIT_UNIFORM;
    case IR_INIT_NORMAL: return RT_INIT_NORMAL;
    case IR_INIT_XAVIER: return RT_INIT_XAVIER;
    case IR_INIT_ORTHOGONAL: return RT_INIT_ORTHOGONAL;
    case IR_INIT_CONST: return RT_INIT_CONST;
    }
    return RT_INIT_ZERO;
}

int run_init_weights(const IrModule *m, uint64_t seed, TensorMap *w)
{
    RtRng rng;
    char err[512];
    rt_rng_seed(&rng, seed);
    for (int i = 0; i < m->nparams; i++) {
        const IrParam *p = &m->params[i];
        Tensor t;
        if (rt_tensor_alloc(&t, RT_F32, p->value->type.rank, p->value->type.dim))
            return cli_error("parameter '%s': out of memory", p->name);
        if (rt_init_fill(t.data, t.rank, t.shape, rt_kind(p->init.kind), p->init.a, &rng, err, sizeof err)) {
            rt_tensor_free(&t);
            return cli_error("parameter '%s': %s", p->name, err);
        }
        if (rt_map_put(w, p->name, &t)) {
            rt_tensor_free(&t);
            return cli_error("out of memory");
        }
    }
    return 0;
}

int run_check_input_names(const IrModule *m, const TensorMap *inputs)
{
    for (int i = 0; i < inputs->count; i++) {
        const char *name = inputs->names[i];
        Suggest sg;
        suggest_init(&sg, name);
        int known = 0;
        for (int j = 0; j < m->ninputs; j++) {
            known |= !strcmp(m->inputs[j].name, name);
            suggest_add(&sg, m->inputs[j].name);
        }
        for (int j = 0; j < m->ntargets; j++) {
            known |= !strcmp(m->targets[j].name, name);
            suggest_add(&sg, m->targets[j].name);
        }
        if (known) continue;
        char ins[256], tgs[256], hint[128] = "";
        ir_list_names(m->inputs, m->ninputs, ins, sizeof ins);
        ir_list_names(m->targets, m->ntargets, tgs, sizeof tgs);
        const char *near = suggest_best(&sg);
        if (near) snprintf(hint, sizeof hint, "; did you mean '%s'?", near);
        return cli_error("unknown input '%s': model %s has inputs %s and targets %s%s", name, m->name, ins, tgs, hint);
    }
    return 0;
}
