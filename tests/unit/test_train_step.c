/* test_train_step.c - the training step as IR (passes/train_step.c):
 * gradient norm, clipping by norm and by value, SGD (plain, momentum,
 * weight decay) and Adam, run by the interpreter.
 *
 * Each check builds a small LSTM model from source twice: once with
 * autodiff only (the reference gradients) and once with autodiff and
 * train_step.  Both run in F64; the test computes the expected update with
 * plain C loops over the reference gradients, written from PyTorch's
 * documented equations (and, for Adam, in the textbook form with mhat and
 * vhat rather than the kernel's rearranged form), and feeds the module's
 * new parameters and optimizer state back for the next step.  Also: the
 * errors train_step reports, autodiff refusing the new ops, the verifier on
 * malformed update ops, and the printed attributes.
 *
 * test_torch_* compare three steps with torch.optim itself: fixtures in
 * tests/conformance/optim/ (written by make_optim_fixtures.py, float64),
 * read relative to the repository root, where tests/run_all.sh runs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/ast.h"
#include "frontend/sema.h"
#include "ir/interp.h"
#include "ir/ir.h"
#include "passes/autodiff.h"
#include "passes/train_step.h"
#include "io/tensor.h"

#include "test_util.h"

/* Both sides compute in double from the same inputs and differ only in the
 * order of a few operations per element (values are O(1), updates O(lr)),
 * so they agree to ~1e-15; 1e-12 leaves room for three fed-back steps and
 * still catches any wrong term (the smallest term checked, lr * wd * p, is
 * above 1e-5). */
#define TOL 1e-12

static const char *const LSTM_SRC = "model a {\n input x : seq<[2]>\n target t : [2]\n"
                                    " h = lstm(x, hidden=3)\n y = dense(last(h), 2)\n loss = mse(y, t)\n}\n";

/* ---- modules and data ------------------------------------------------------------- */

static uint64_t rng_state = 12345;

static double urand(double lo, double hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

/* The model with autodiff and, if cfg, the train step. */
static IrModule *build_model(const TrainConfig *cfg, Program **prog)
{
    char err[512] = "";
    IrModule *m = tu_build_src(LSTM_SRC, prog);
    if (autodiff(m, err, sizeof err)) fail_msg("autodiff: %s", err);
    if (cfg && train_step(m, cfg, err, sizeof err)) fail_msg("train_step: %s", err);
    return m;
}

/* An F64 tensor of type t (B = 2, every other symbol 3), filled by fill. */
static void put_tensor(TensorMap *map, const char *name, IrType t, double lo, double hi, int zero)
{
    int64_t shape[IR_MAX_RANK];
    for (int d = 0; d < t.rank; d++) shape[d] = t.dim[d] >= 0 ? t.dim[d] : t.dim[d] == IR_DIM_B ? 2 : 3;
    Tensor x;
    assert_int_equal(rt_tensor_alloc(&x, RT_F64, t.rank, shape), 0);
    for (int64_t i = 0; i < rt_numel(&x); i++) ((double *)x.data)[i] = zero ? 0.0 : urand(lo, hi);
    assert_int_equal(rt_map_put(map, name, &x), 0);
}

static void put_scalar(TensorMap *map, const char *name, double v)
{
    Tensor x;
    assert_int_equal(rt_tensor_alloc(&x, RT_F64, 0, NULL), 0);
    ((double *)x.data)[0] = v;
    assert_int_equal(rt_map_put(map, name, &x), 0);
}

/* A copy of src's tensor `from` as `to` in dst. */
static void copy_tensor(TensorMap *dst, const char *to, const TensorMap *src, const char *from)
{
    const Tensor *s = rt_map_get(src, from);
    if (!s) fail_msg("no tensor '%s'", from);
    Tensor x;
    assert_int_equal(rt_tensor_alloc(&x, s->dtype, s->rank, s->shape), 0);
    memcpy(x.data, s->data, (size_t)rt_numel(s) * rt_dtype_size(s->dtype));
    assert_int_equal(rt_map_put(dst, to, &x), 0);
}

static const double *data_of(const TensorMap *map, const char *name)
{
    const Tensor *t = rt_map_get(map, name);
    if (!t) fail_msg("no tensor '%s'", name);
    assert_int_equal(t->dtype, RT_F64);
    return t->data;
}

static void run(const IrModule *m, const TensorMap *params, const TensorMap *inputs, TensorMap *out, IrPrecision prec)
{
    char err[512] = "";
    rt_map_init(out);
    if (interp_run(m, params, inputs, out, prec, err, sizeof err)) fail_msg("interp: %s", err);
}

/* ---- the reference ------------------------------------------------------------------ */

/* What the test tracks per parameter: its values and optimizer state. */
typedef struct {
    const char *name;
    int64_t n;
    double *p, *mom, *m, *v;
} Ref;

/* The gradients of the reference module (autodiff only) at the reference
 * parameters, and their global norm. */
static double ref_grads(const IrModule *ad, const Ref *r, int np, const TensorMap *inputs, TensorMap *params,
                        double **g)
{
    TensorMap out;
    for (int i = 0; i < np; i++)
        memcpy(((Tensor *)rt_map_get(params, r[i].name))->data, r[i].p, (size_t)r[i].n * sizeof(double));
    run(ad, params, inputs, &out, IR_PREC_F64);
    double ss = 0;
    for (int i = 0; i < np; i++) {
        char name[256];
        snprintf(name, sizeof name, "grad:%s", r[i].name);
        memcpy(g[i], data_of(&out, name), (size_t)r[i].n * sizeof(double));
        for (int64_t k = 0; k < r[i].n; k++) ss += g[i][k] * g[i][k];
    }
    rt_map_free(&out);
    return sqrt(ss);
}

/* Clipping then the update, PyTorch's equations, element by element. */
static void ref_update(const TrainConfig *c, Ref *r, int np, double **g, double norm, int step)
{
    double scale = 1;
    if (c->clip == CLIP_NORM) {
        scale = c->clip_value / (norm + 1e-6);
        if (scale > 1) scale = 1;
    }
    for (int i = 0; i < np; i++)
        for (int64_t k = 0; k < r[i].n; k++) {
            double gk = g[i][k] * scale;
            if (c->clip == CLIP_VALUE) gk = fmin(fmax(gk, -c->clip_value), c->clip_value);
            gk += c->weight_decay * r[i].p[k];
            if (c->opt == OPT_SGD) {
                if (c->momentum != 0) {
                    r[i].mom[k] = c->momentum * r[i].mom[k] + gk;
                    gk = r[i].mom[k];
                }
                r[i].p[k] -= c->lr * gk;
            } else {
                r[i].m[k] = c->beta1 * r[i].m[k] + (1 - c->beta1) * gk;
                r[i].v[k] = c->beta2 * r[i].v[k] + (1 - c->beta2) * gk * gk;
                double mhat = r[i].m[k] / (1 - pow(c->beta1, step));
                double vhat = r[i].v[k] / (1 - pow(c->beta2, step));
                r[i].p[k] -= c->lr * mhat / (sqrt(vhat) + c->eps);
            }
        }
}

static void expect_close(const double *got, const double *want, int64_t n, double tol, const char *what)
{
    for (int64_t k = 0; k < n; k++)
        if (!(fabs(got[k] - want[k]) <= tol))
            fail_msg("%s[%lld]: got %.17g, want %.17g (tolerance %g)", what, (long long)k, got[k], want[k], tol);
}

/* Runs `steps` training steps of cfg from the same random start in the
 * module and in the reference, feeding the module's new parameters and
 * state back, and compares every new parameter, state slot and the
 * gradient norm after each step.  Returns the norm of the first step. */
static double check_training(const TrainConfig *cfg, int steps)
{
    Program *pa, *pt;
    IrModule *ad = build_model(NULL, &pa), *tm = build_model(cfg, &pt);
    int np = ad->nparams;
    TensorMap params, tparams, inputs, tinputs;
    rt_map_init(&params), rt_map_init(&tparams), rt_map_init(&inputs), rt_map_init(&tinputs);
    for (int i = 0; i < np; i++) put_tensor(&params, ad->params[i].name, ad->params[i].value->type, -0.6, 0.6, 0);
    for (int i = 0; i < ad->ninputs; i++) put_tensor(&inputs, ad->inputs[i].name, ad->inputs[i].value->type, -1, 1, 0);
    for (int i = 0; i < ad->ntargets; i++)
        put_tensor(&inputs, ad->targets[i].name, ad->targets[i].value->type, -1, 1, 0);

    /* The module's own inputs: the data, then zero state and the step. */
    for (int i = 0; i < params.count; i++) copy_tensor(&tparams, params.names[i], &params, params.names[i]);
    for (int i = 0; i < inputs.count; i++) copy_tensor(&tinputs, inputs.names[i], &inputs, inputs.names[i]);
    for (int i = 0; i < tm->ninputs; i++)
        if (strncmp(tm->inputs[i].name, TRAIN_OPT_PREFIX, strlen(TRAIN_OPT_PREFIX)) == 0 &&
            strcmp(tm->inputs[i].name, TRAIN_STEP_INPUT) != 0)
            put_tensor(&tinputs, tm->inputs[i].name, tm->inputs[i].value->type, 0, 0, 1);

    Ref *r = calloc((size_t)np, sizeof *r);
    double **g = calloc((size_t)np, sizeof *g);
    assert_non_null(r);
    assert_non_null(g);
    for (int i = 0; i < np; i++) {
        r[i].name = ad->params[i].name;
        r[i].n = rt_numel(rt_map_get(&params, r[i].name));
        r[i].p = malloc((size_t)r[i].n * sizeof(double));
        r[i].mom = calloc((size_t)r[i].n, sizeof(double));
        r[i].m = calloc((size_t)r[i].n, sizeof(double));
        r[i].v = calloc((size_t)r[i].n, sizeof(double));
        g[i] = malloc((size_t)r[i].n * sizeof(double));
        memcpy(r[i].p, data_of(&params, r[i].name), (size_t)r[i].n * sizeof(double));
    }

    double first_norm = 0;
    for (int s = 1; s <= steps; s++) {
        double norm = ref_grads(ad, r, np, &inputs, &params, g);
        if (s == 1) first_norm = norm;
        ref_update(cfg, r, np, g, norm, s);

        TensorMap out;
        if (cfg->opt == OPT_ADAM) put_scalar(&tinputs, TRAIN_STEP_INPUT, s);
        run(tm, &tparams, &tinputs, &out, IR_PREC_F64);
        /* The norm is of the unclipped gradients: a sum of ~80 squares. */
        expect_close(data_of(&out, TRAIN_GRAD_NORM), &norm, 1, TOL, "grad_norm");
        for (int i = 0; i < np; i++) {
            char name[256], what[300];
            snprintf(name, sizeof name, "new:%s", r[i].name);
            snprintf(what, sizeof what, "step %d %s", s, name);
            expect_close(data_of(&out, name), r[i].p, r[i].n, TOL, what);
            copy_tensor(&tparams, r[i].name, &out, name);
            const char *slots[2] = {NULL, NULL};
            double *want[2] = {NULL, NULL};
            if (cfg->opt == OPT_SGD && cfg->momentum != 0) slots[0] = "mom", want[0] = r[i].mom;
            if (cfg->opt == OPT_ADAM) slots[0] = "m", want[0] = r[i].m, slots[1] = "v", want[1] = r[i].v;
            for (int k = 0; k < 2 && slots[k]; k++) {
                char in[300];
                snprintf(name, sizeof name, "new:opt:%s.%s", r[i].name, slots[k]);
                snprintf(in, sizeof in, "opt:%s.%s", r[i].name, slots[k]);
                snprintf(what, sizeof what, "step %d %s", s, name);
                expect_close(data_of(&out, name), want[k], r[i].n, TOL, what);
                copy_tensor(&tinputs, in, &out, name);
            }
        }
        rt_map_free(&out);
    }

    for (int i = 0; i < np; i++) free(r[i].p), free(r[i].mom), free(r[i].m), free(r[i].v), free(g[i]);
    free(r);
    free(g);
    rt_map_free(&params), rt_map_free(&tparams), rt_map_free(&inputs), rt_map_free(&tinputs);
    ir_free(ad), ir_free(tm);
    ast_free(pa), ast_free(pt);
    return first_norm;
}

static TrainConfig sgd(double lr, double momentum, double wd)
{
    TrainConfig c = train_config_default();
    c.opt = OPT_SGD, c.lr = lr, c.momentum = momentum, c.weight_decay = wd;
    return c;
}

/* ---- the optimizers ----------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    TrainConfig c = train_config_default(); /* torch.optim.Adam's defaults */
    assert_int_equal(c.opt, OPT_ADAM);
    assert_true(c.lr == 1e-3 && c.beta1 == 0.9 && c.beta2 == 0.999 && c.eps == 1e-8);
    assert_true(c.weight_decay == 0 && c.clip == CLIP_NONE);
}

static void test_sgd(void **state)
{
    (void)state;
    TrainConfig c = sgd(0.1, 0, 0);
    check_training(&c, 2);
    /* Plain SGD keeps no state and needs no step number. */
    Program *p;
    IrModule *m = build_model(&c, &p);
    for (int i = 0; i < m->ninputs; i++) assert_int_not_equal(strncmp(m->inputs[i].name, "opt:", 4), 0);
    ir_free(m);
    ast_free(p);
}

static void test_sgd_momentum(void **state)
{
    (void)state;
    TrainConfig c = sgd(0.05, 0.9, 0);
    check_training(&c, 3);
}

static void test_sgd_weight_decay(void **state)
{
    (void)state;
    TrainConfig c = sgd(0.1, 0, 0.05);
    check_training(&c, 1);
    c = sgd(0.1, 0.5, 0.05);
    check_training(&c, 3);
}

static void test_adam(void **state)
{
    (void)state;
    TrainConfig c = train_config_default();
    c.lr = 0.01;
    check_training(&c, 3);
    c.weight_decay = 0.1, c.beta1 = 0.8, c.beta2 = 0.99, c.eps = 1e-6;
    check_training(&c, 3);
}

/* ---- clipping ------------------------------------------------------------------------------- */

static void test_clip_norm(void **state)
{
    (void)state;
    /* Below the bound: the reference scale is 1 and the update is SGD's. */
    TrainConfig c = sgd(1.0, 0, 0);
    c.clip = CLIP_NORM, c.clip_value = 1e6;
    double norm = check_training(&c, 1);
    assert_true(norm > 1e-3); /* the gradient is not zero, so clipping has something to do */
    /* Above it: scaled to max_norm / (norm + 1e-6), over SGD and Adam. */
    c.clip_value = norm / 4;
    check_training(&c, 2);
    c = train_config_default();
    c.clip = CLIP_NORM, c.clip_value = norm / 4;
    check_training(&c, 2);
}

/* The clipped gradient itself: with lr = 1 the parameter moves by exactly
 * the clipped gradient, whose norm is max_norm * norm / (norm + 1e-6). */
static void test_clip_norm_result(void **state)
{
    (void)state;
    TrainConfig c = sgd(1.0, 0, 0);
    c.clip = CLIP_NORM, c.clip_value = 1e-3;
    Program *p;
    IrModule *m = build_model(&c, &p);
    TensorMap params, inputs, out;
    rt_map_init(&params), rt_map_init(&inputs);
    for (int i = 0; i < m->nparams; i++) put_tensor(&params, m->params[i].name, m->params[i].value->type, -0.6, 0.6, 0);
    for (int i = 0; i < m->ninputs; i++) put_tensor(&inputs, m->inputs[i].name, m->inputs[i].value->type, -1, 1, 0);
    for (int i = 0; i < m->ntargets; i++) put_tensor(&inputs, m->targets[i].name, m->targets[i].value->type, -1, 1, 0);
    run(m, &params, &inputs, &out, IR_PREC_F64);
    double norm = data_of(&out, TRAIN_GRAD_NORM)[0], ss = 0;
    assert_true(norm > 1e-2);
    for (int i = 0; i < m->nparams; i++) {
        char name[256];
        snprintf(name, sizeof name, "new:%s", m->params[i].name);
        const double *np = data_of(&out, name), *p0 = data_of(&params, m->params[i].name);
        for (int64_t k = 0; k < rt_numel(rt_map_get(&params, m->params[i].name)); k++)
            ss += (p0[k] - np[k]) * (p0[k] - np[k]);
    }
    /* p - p' has elements O(1e-4) from p = O(0.5): each difference loses
     * ~1e-16 absolute, so the norm is right to ~1e-14. */
    assert_true(fabs(sqrt(ss) - 1e-3 * norm / (norm + 1e-6)) < 1e-12);
    rt_map_free(&params), rt_map_free(&inputs), rt_map_free(&out);
    ir_free(m);
    ast_free(p);
}

static void test_clip_value(void **state)
{
    (void)state;
    /* A bound below most gradient elements but above some: the norm of the
     * first step tells the scale (about 80 elements). */
    TrainConfig c = sgd(0.5, 0, 0);
    c.clip = CLIP_NORM, c.clip_value = 1e9;
    double norm = check_training(&c, 1);
    c.clip = CLIP_VALUE, c.clip_value = norm / 20;
    check_training(&c, 2);
    c.opt = OPT_ADAM, c.lr = 0.01;
    check_training(&c, 2);
    /* A bound above every element changes nothing: the same as no clip. */
    c.clip_value = 1e9;
    check_training(&c, 1);
}

/* The F32 interpreter runs the same step; it rounds each op's result, so
 * it agrees with F64 to float32 precision over a few ops (1e-5 for values
 * O(1)). */
static void test_f32_run(void **state)
{
    (void)state;
    TrainConfig c = train_config_default();
    c.clip = CLIP_NORM, c.clip_value = 0.1;
    Program *p;
    IrModule *m = build_model(&c, &p);
    TensorMap params, inputs, o64, o32;
    rt_map_init(&params), rt_map_init(&inputs);
    for (int i = 0; i < m->nparams; i++) put_tensor(&params, m->params[i].name, m->params[i].value->type, -0.6, 0.6, 0);
    for (int i = 0; i < m->ninputs; i++) {
        int zero = strncmp(m->inputs[i].name, "opt:", 4) == 0;
        put_tensor(&inputs, m->inputs[i].name, m->inputs[i].value->type, -1, 1, zero);
    }
    for (int i = 0; i < m->ntargets; i++) put_tensor(&inputs, m->targets[i].name, m->targets[i].value->type, -1, 1, 0);
    put_scalar(&inputs, TRAIN_STEP_INPUT, 1);
    run(m, &params, &inputs, &o64, IR_PREC_F64);
    run(m, &params, &inputs, &o32, IR_PREC_F32);
    for (int i = 0; i < o64.count; i++) {
        const Tensor *a = &o64.tensors[i], *b = rt_map_get(&o32, o64.names[i]);
        assert_non_null(b);
        assert_int_equal(b->dtype, RT_F32);
        for (int64_t k = 0; k < rt_numel(a); k++) {
            double x = ((const double *)a->data)[k], y = ((const float *)b->data)[k];
            if (!(fabs(x - y) <= 1e-5)) fail_msg("%s[%lld]: F64 %.9g, F32 %.9g", o64.names[i], (long long)k, x, y);
        }
    }
    rt_map_free(&params), rt_map_free(&inputs), rt_map_free(&o64), rt_map_free(&o32);
    ir_free(m);
    ast_free(p);
}

/* ---- against torch.optim ------------------------------------------------------------------ */

static void read_npy(const char *dir, const char *name, Tensor *t)
{
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "tests/conformance/optim/%s/%s.npy", dir, name);
    if (rt_npy_read(path, t, err, sizeof err)) fail_msg("%s (run the tests from the repository root)", err);
    assert_int_equal(t->dtype, RT_F64);
}

/* Runs the case's model for 3 steps from torch's initial weights, feeding
 * parameters and state back, and compares each step's parameters and
 * gradient norm with torch's.  Torch ran in float64 too, so the two differ
 * by the rounding of a different evaluation order over a 3-step LSTM and
 * three updates (~1e-15 relative); 1e-10 absolute is far below any change
 * of equation (the smallest term, lr * wd * p, is ~1e-4). */
static void check_torch(const char *cname, const TrainConfig *cfg)
{
    char path[512], dir[512];
    size_t len;
    snprintf(path, sizeof path, "tests/conformance/optim/%s/model.rnn", cname);
    char *src = (char *)tu_read_file(path, &len);
    if (!src) fail_msg("cannot read %s (run the tests from the repository root)", path);
    Program *prog;
    char err[512] = "";
    IrModule *m = tu_build_src(src, &prog);
    if (autodiff(m, err, sizeof err) || train_step(m, cfg, err, sizeof err)) fail_msg("%s", err);

    TensorMap params, inputs, out;
    rt_map_init(&params), rt_map_init(&inputs);
    Tensor t;
    snprintf(dir, sizeof dir, "%s/init", cname);
    for (int i = 0; i < m->nparams; i++) {
        read_npy(dir, m->params[i].name, &t);
        assert_int_equal(rt_map_put(&params, m->params[i].name, &t), 0);
    }
    read_npy(cname, "x", &t);
    assert_int_equal(rt_map_put(&inputs, "x", &t), 0);
    read_npy(cname, "t", &t);
    assert_int_equal(rt_map_put(&inputs, "t", &t), 0);
    for (int i = 0; i < m->ninputs; i++)
        if (strncmp(m->inputs[i].name, TRAIN_OPT_PREFIX, strlen(TRAIN_OPT_PREFIX)) == 0 &&
            strcmp(m->inputs[i].name, TRAIN_STEP_INPUT) != 0)
            put_tensor(&inputs, m->inputs[i].name, m->inputs[i].value->type, 0, 0, 1);

    for (int s = 1; s <= 3; s++) {
        if (cfg->opt == OPT_ADAM) put_scalar(&inputs, TRAIN_STEP_INPUT, s);
        run(m, &params, &inputs, &out, IR_PREC_F64);
        snprintf(dir, sizeof dir, "%s/step%d", cname, s);
        read_npy(dir, "grad_norm", &t);
        expect_close(data_of(&out, TRAIN_GRAD_NORM), t.data, 1, 1e-10, "grad_norm");
        rt_tensor_free(&t);
        for (int i = 0; i < m->nparams; i++) {
            char name[300], what[600];
            const char *pn = m->params[i].name;
            snprintf(name, sizeof name, "new:%s", pn);
            snprintf(what, sizeof what, "%s step %d %s", cname, s, pn);
            read_npy(dir, pn, &t);
            assert_int_equal(rt_numel(&t), rt_numel(rt_map_get(&params, pn)));
            expect_close(data_of(&out, name), t.data, rt_numel(&t), 1e-10, what);
            rt_tensor_free(&t);
            copy_tensor(&params, pn, &out, name);
        }
        for (int i = 0; i < m->noutputs; i++) { /* the state, to its input */
            const char *on = m->outputs[i].name;
            if (strncmp(on, "new:opt:", 8) == 0) copy_tensor(&inputs, on + 4, &out, on);
        }
        rt_map_free(&out);
    }
    rt_map_free(&params), rt_map_free(&inputs);
    ir_free(m);
    ast_free(prog);
    free(src);
}

/* The hyperparameters of make_optim_fixtures.py's CASES. */
static void test_torch_adam_clip_norm(void **state)
{
    (void)state;
    TrainConfig c = train_config_default();
    c.lr = 0.01, c.weight_decay = 0.01, c.clip = CLIP_NORM, c.clip_value = 0.05;
    check_torch("adam_clip_norm", &c);
}

static void test_torch_sgd_momentum_clip_value(void **state)
{
    (void)state;
    TrainConfig c = sgd(0.1, 0.9, 0.01);
    c.clip = CLIP_VALUE, c.clip_value = 0.02;
    check_torch("sgd_momentum_clip_value", &c);
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void expect_error(IrModule *m, const TrainConfig *c, const char *msg)
{
    char err[256] = "";
    assert_int_equal(train_step(m, c, err, sizeof err), -1);
    if (!strstr(err, msg)) fail_msg("error '%s' does not say '%s'", err, msg);
}

static void test_errors(void **state)
{
    (void)state;
    Program *p;
    TrainConfig c = train_config_default();
    IrModule *m = tu_build_src(LSTM_SRC, &p);
    expect_error(m, &c, "run autodiff first");
    ir_free(m);
    ast_free(p);

    m = build_model(NULL, &p);
    c.lr = -1;
    expect_error(m, &c, "learning rate");
    c = train_config_default(), c.beta1 = 1;
    expect_error(m, &c, "beta1");
    c = train_config_default(), c.beta2 = NAN;
    expect_error(m, &c, "beta2");
    c = sgd(0.1, -0.5, 0);
    expect_error(m, &c, "momentum");
    c = sgd(0.1, 0, -1);
    expect_error(m, &c, "weight decay");
    c = train_config_default(), c.clip = CLIP_NORM, c.clip_value = 0;
    expect_error(m, &c, "clip norm");
    c = train_config_default(), c.clip = CLIP_VALUE, c.clip_value = INFINITY;
    expect_error(m, &c, "clip value");
    /* Nothing was added by the refusals; a second step is refused. */
    assert_int_equal(ir_verify(m, "test", stderr), 0);
    c = train_config_default();
    char err[256] = "";
    assert_int_equal(train_step(m, &c, err, sizeof err), 0);
    expect_error(m, &c, "already has a train step");
    ir_free(m);
    ast_free(p);
}

/* A step number that is not a whole number >= 1 is the caller's mistake,
 * reported as one. */
static void test_bad_step(void **state)
{
    (void)state;
    TrainConfig c = train_config_default();
    Program *p;
    IrModule *m = build_model(&c, &p);
    TensorMap params, inputs, out;
    rt_map_init(&params), rt_map_init(&inputs), rt_map_init(&out);
    for (int i = 0; i < m->nparams; i++) put_tensor(&params, m->params[i].name, m->params[i].value->type, -0.6, 0.6, 0);
    for (int i = 0; i < m->ninputs; i++) put_tensor(&inputs, m->inputs[i].name, m->inputs[i].value->type, -1, 1, 0);
    for (int i = 0; i < m->ntargets; i++) put_tensor(&inputs, m->targets[i].name, m->targets[i].value->type, -1, 1, 0);
    put_scalar(&inputs, TRAIN_STEP_INPUT, 0);
    char err[256] = "";
    assert_int_not_equal(interp_run(m, &params, &inputs, &out, IR_PREC_F64, err, sizeof err), 0);
    assert_non_null(strstr(err, "step 0 is not a whole number"));
    assert_int_equal(out.count, 0);
    rt_map_free(&params), rt_map_free(&inputs), rt_map_free(&out);
    ir_free(m);
    ast_free(p);
}

/* ---- the ops in the IR ----------------------------------------------------------------------- */

static IrType vec(int64_t n) { return ir_type(IR_F32, 1, &n); }

/* The training ops are not differentiable: autodiff says so. */
static void test_autodiff_refuses(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("t");
    IrValue *a = ir_add_param(m, "a", vec(3), (IrInit){IR_INIT_ZERO, 0});
    IrValue *ss;
    IrType s = {.dtype = IR_F32, .rank = 0};
    ss = ir_op(m, m->body, IR_SUMSQ, &a, 1, &s, 1)->results[0];
    m->loss = ss;
    assert_int_equal(ir_verify(m, "test", stderr), 0);
    char err[256] = "";
    assert_int_equal(autodiff(m, err, sizeof err), -1);
    assert_non_null(strstr(err, "sumsq"));
    ir_free(m);
}

/* The verifier checks the update ops' counts and types. */
static void test_verify_update_ops(void **state)
{
    (void)state;
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    IrModule *m = ir_module_new("t");
    IrValue *p = ir_add_param(m, "p", vec(3), (IrInit){IR_INIT_ZERO, 0});
    IrValue *g = ir_const(m, m->body, 1, vec(3)), *g4 = ir_const(m, m->body, 1, vec(4));
    IrType t3[3] = {vec(3), vec(3), vec(3)};
    IrValue *ops[2] = {p, g};
    ir_op(m, m->body, IR_SGD_UPDATE, ops, 2, t3, 1);
    assert_int_equal(ir_verify(m, "test", stderr), 0);
    ir_op(m, m->body, IR_SGD_UPDATE, ops, 2, t3, 2); /* 2 results without a momentum operand */
    assert_int_equal(ir_verify(m, "test", null), 1);
    ir_free(m);

    m = ir_module_new("t");
    p = ir_add_param(m, "p", vec(3), (IrInit){IR_INIT_ZERO, 0});
    g4 = ir_const(m, m->body, 1, vec(4));
    IrValue *bad[2] = {p, g4}; /* a gradient of another shape */
    ir_op(m, m->body, IR_SGD_UPDATE, bad, 2, t3, 1);
    assert_int_equal(ir_verify(m, "test", null), 1);
    ir_free(m);

    m = ir_module_new("t");
    p = ir_add_param(m, "p", vec(3), (IrInit){IR_INIT_ZERO, 0});
    g = ir_const(m, m->body, 1, vec(3));
    IrValue *step = ir_const(m, m->body, 1, vec(1)); /* must be f32[] */
    IrValue *aops[5] = {p, g, g, g, step};
    ir_op(m, m->body, IR_ADAM_UPDATE, aops, 5, t3, 3);
    assert_int_equal(ir_verify(m, "test", null), 1);
    ir_free(m);
    fclose(null);
}

/* The text form shows every hyperparameter. */
static void test_print(void **state)
{
    (void)state;
    TrainConfig c = train_config_default();
    c.clip = CLIP_NORM, c.clip_value = 0.25;
    Program *p;
    IrModule *m = build_model(&c, &p);
    FILE *f = tmpfile();
    assert_non_null(f);
    ir_print(m, f);
    long n = ftell(f);
    char *buf = calloc((size_t)n + 1, 1);
    assert_non_null(buf);
    rewind(f);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    assert_non_null(strstr(buf, "sumsq "));
    assert_non_null(strstr(buf, "clip_scale %grad_norm bound=0.25 : f32[]"));
    assert_non_null(strstr(buf, "lr=0.001 beta1=0.9 beta2=0.999 eps=1e-08 weight_decay=0 : "));
    assert_non_null(strstr(buf, "output grad_norm = %grad_norm"));
    assert_non_null(strstr(buf, "input  %opt_step : f32[]"));
    free(buf);
    ir_free(m);
    ast_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sgd),
        cmocka_unit_test(test_sgd_momentum),
        cmocka_unit_test(test_sgd_weight_decay),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_clip_norm),
        cmocka_unit_test(test_clip_norm_result),
        cmocka_unit_test(test_clip_value),
        cmocka_unit_test(test_f32_run),
        cmocka_unit_test(test_torch_adam_clip_norm),
        cmocka_unit_test(test_torch_sgd_momentum_clip_value),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bad_step),
        cmocka_unit_test(test_autodiff_refuses),
        cmocka_unit_test(test_verify_update_ops),
        cmocka_unit_test(test_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
