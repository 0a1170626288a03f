/* test_lengths.c - per-example lengths (docs/language.md, "Lengths").
 *
 * The semantics are PyTorch's packed sequences, which is the same as
 * running each example alone over its own first len steps.  So each test
 * runs a padded batch with lengths and then every example alone at its
 * own length (B = 1, T = len, no padding) and compares: outputs at the
 * real steps and 0 at the padded ones, final states of every layer and
 * direction, last(), mean(), the loss (the per-example losses weighted by
 * their share of the real steps) and every parameter's gradient.  No
 * PyTorch needed.  The comparisons run on the interpreter in float64;
 * the compiled engines are then checked against it on the padded batch.
 * The error messages for bad lengths name the input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"

#include "exec/engine.h"
#include "exec/rng.h"
#include "ir/lengths.h"
#include "passes/pipeline.h"

enum { T = 5, B = 3, F = 3 };
static const int64_t LENS[B] = {5, 2, 3}; /* one full, one short, one between */

/* How the loss of the padded batch is made of the examples' losses: a
 * loss over the real steps weights each by its steps (len / sum of lens),
 * a loss over examples (many-to-one) weights each by 1 / B. */
enum { BY_STEPS, BY_EXAMPLES };

typedef struct {
    const char *name;
    const char *src;
    int weighting;
} Case;

static const Case CASES[] = {
    {"lstm, 2 layers, bidirectional",
     "model m {\n"
     "  input  x : seq<[3]> lengths\n"
     "  target y : seq<[2]>\n"
     "  h = lstm(x, hidden=4, layers=2, bidirectional)\n"
     "  o = dense(h, 2)\n"
     "  output o\n"
     "  output hn = final(h)\n"
     "  output cn = final(h, c)\n"
     "  output l = last(h)\n"
     "  output mn = mean(h)\n"
     "  loss = mse(o, y)\n"
     "}\n",
     BY_STEPS},
    {"gru, merge=sum",
     "model m {\n"
     "  input  x : seq<[3]> lengths\n"
     "  target y : seq<[4]>\n"
     "  h = gru(x, hidden=4, bidirectional, merge=sum)\n"
     "  output h\n"
     "  output hn = final(h)\n"
     "  loss = mse(h, y)\n"
     "}\n",
     BY_STEPS},
    {"rnn relu, many-to-one",
     "model m {\n"
     "  input  x : seq<[3]> lengths\n"
     "  target y : [2]\n"
     "  h = rnn(x, hidden=5, act=relu, layers=2)\n"
     "  o = dense(last(h), 2)\n"
     "  p = dense(mean(h), 2)\n"
     "  output o\n"
     "  output hn = final(h)\n"
     "  loss = mse(o + p, y)\n"
     "}\n",
     BY_EXAMPLES},
    {"reverse within lengths",
     "model m {\n"
     "  input  x : seq<[3]> lengths\n"
     "  target y : seq<[2]>\n"
     "  h = gru(reverse(x), hidden=4)\n"
     "  r = reverse(h)\n"
     "  o = dense(r, 2)\n"
     "  output r\n"
     "  output o\n"
     "  loss = mse(o, y)\n"
     "}\n",
     BY_STEPS},
    {"cross-entropy",
     "model m {\n"
     "  input  x : seq<[3]> lengths\n"
     "  target y : seq<int>\n"
     "  h = gru(x, hidden=4, layers=2)\n"
     "  o = dense(h, 5)\n"
     "  output o\n"
     "  loss = cross_entropy(o, y)\n"
     "}\n",
     BY_STEPS},
    {"user cell",
     TU_MYGRU_SRC "model m {\n"
                  "  input  x : seq<[3]> lengths\n"
                  "  target y : seq<[2]>\n"
                  "  h = mygru(x, H=4)\n"
                  "  o = dense(h, 2)\n"
                  "  output o\n"
                  "  output hf = final(h)\n"
                  "  output l = last(o)\n"
                  "  loss = mse(o, y)\n"
                  "}\n",
     BY_STEPS},
};

/* ---- tensors ------------------------------------------------------------------------ */

static double at(const Tensor *t, int64_t i)
{
    switch (t->dtype) {
    case RT_F32: return ((const float *)t->data)[i];
    case RT_F64: return ((const double *)t->data)[i];
    case RT_I32: return ((const int32_t *)t->data)[i];
    case RT_I64: return (double)((const int64_t *)t->data)[i];
    }
    return NAN;
}

static void put_f32(TensorMap *m, const char *name, int rank, const int64_t *shape, const float *data)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, RT_F32, rank, shape), 0);
    memcpy(t.data, data, (size_t)rt_numel(&t) * sizeof(float));
    assert_int_equal(rt_map_put(m, name, &t), 0);
}

/* ids, stored as I64 */
static void put_ids(TensorMap *m, const char *name, int rank, const int64_t *shape, const float *data)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, RT_I64, rank, shape), 0);
    for (int64_t k = 0; k < rt_numel(&t); k++) ((int64_t *)t.data)[k] = (int64_t)data[k];
    assert_int_equal(rt_map_put(m, name, &t), 0);
}

static void put_lens(TensorMap *m, const char *name, int64_t n, const int64_t *lens)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, RT_I64, 1, &n), 0);
    memcpy(t.data, lens, (size_t)n * sizeof(int64_t));
    assert_int_equal(rt_map_put(m, name, &t), 0);
}

/* Every parameter U(-0.5, 0.5), seeded. */
static void random_params(const IrModule *m, TensorMap *params)
{
    RtRng r;
    rt_rng_seed(&r, 14);
    rt_map_init(params);
    for (int i = 0; i < m->nparams; i++) {
        const IrType *ty = &m->params[i].value->type;
        Tensor t;
        assert_int_equal(rt_tensor_alloc(&t, RT_F32, ty->rank, ty->dim), 0);
        for (int64_t k = 0; k < rt_numel(&t); k++) ((float *)t.data)[k] = rt_rng_uniform_sym(&r, 0.5f);
        assert_int_equal(rt_map_put(params, m->params[i].name, &t), 0);
    }
}

/* The padded batch x [T, B, F] and its targets: a sequence target
 * [T, B, dims] or a per-example one [B, dims], random, with NaN at the
 * padded steps, which must never be read; ids in [0, 5), 999 (out of
 * range) at the padded steps. */
static void batch_inputs(const IrModule *m, TensorMap *in, int with_len)
{
    RtRng r;
    rt_rng_seed(&r, 7);
    rt_map_init(in);
    float x[T * B * F];
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            for (int f = 0; f < F; f++) x[(t * B + b) * F + f] = t < LENS[b] ? rt_rng_uniform_sym(&r, 1.0f) : NAN;
    int64_t xs[3] = {T, B, F};
    put_f32(in, "x", 3, xs, x);
    if (with_len) put_lens(in, "x.len", B, LENS);
    for (int i = 0; i < m->ntargets; i++) {
        const IrType *ty = &m->targets[i].value->type;
        int seq = ty->dim[0] != IR_DIM_B;
        int64_t shape[4], n = 1;
        for (int d = 0; d < ty->rank; d++) {
            shape[d] = ty->dim[d] == IR_DIM_B ? B : ty->dim[d] < 0 ? T : ty->dim[d];
            n *= shape[d];
        }
        float *y = malloc((size_t)n * sizeof *y);
        int64_t row = n / (seq ? T * B : B);
        int ids = ty->dtype == IR_I64;
        for (int64_t k = 0; k < n; k++) {
            int64_t t = seq ? k / row / B : 0, b = seq ? k / row % B : k / row;
            float v = ids ? (float)(rt_rng_u64(&r) % 5) : rt_rng_uniform_sym(&r, 1.0f);
            y[k] = t < LENS[b] ? v : ids ? 999.0f : NAN;
        }
        (ids ? put_ids : put_f32)(in, m->targets[i].name, ty->rank, shape, y);
        free(y);
    }
}

/* Example b of the padded batch alone: its first len steps, batch 1. */
static void example_inputs(const IrModule *m, const TensorMap *batch, int b, TensorMap *in)
{
    rt_map_init(in);
    for (int i = 0; i < batch->count; i++) {
        const Tensor *t = &batch->tensors[i];
        const char *name = batch->names[i];
        if (!strcmp(name, "x.len")) {
            put_lens(in, name, 1, &LENS[b]);
            continue;
        }
        int seq = strcmp(name, "x") == 0;
        for (int k = 0; k < m->ntargets; k++)
            if (!strcmp(m->targets[k].name, name)) seq = m->targets[k].value->type.dim[0] != IR_DIM_B;
        int64_t shape[4], row = 1;
        for (int d = 0; d < t->rank; d++) shape[d] = t->shape[d];
        for (int d = seq ? 2 : 1; d < t->rank; d++) row *= t->shape[d];
        int64_t steps = seq ? LENS[b] : 1;
        if (seq) {
            shape[0] = LENS[b];
            shape[1] = 1;
        } else
            shape[0] = 1;
        float *data = malloc((size_t)(steps * row) * sizeof *data);
        for (int64_t s = 0; s < steps; s++)
            for (int64_t k = 0; k < row; k++) data[s * row + k] = (float)at(t, ((seq ? s * B : 0) + b) * row + k);
        (t->dtype == RT_I64 ? put_ids : put_f32)(in, name, t->rank, shape, data);
        free(data);
    }
}

/* ---- comparing ------------------------------------------------------------------------- */

/* |got - want| <= tol * max(1, |want|); exact when tol is 0. */
static void near(double got, double want, double tol, const char *what, const char *name, int64_t i)
{
    double bound = tol * fmax(1.0, fabs(want));
    if (tol == 0 ? got == want : fabs(got - want) <= bound) return;
    fail_msg("%s: %s[%lld] = %.17g, want %.17g", what, name, (long long)i, got, want);
}

/* One output of the padded batch against example b's: a sequence [T, B,
 * ...] at the real steps (0 after them), final states [L*D, B, H], a
 * per-example value [B, ...].  States are compared exactly: the blend
 * m * new + (1 - m) * old is exact for m in {0, 1}, so an example's
 * arithmetic is the same op for op padded or alone.  mean() divides a
 * mean over T by the mean of the mask instead of by len: a few roundings
 * in float64, 1e-12 relative. */
static void compare_output(const char *what, const char *name, const Tensor *pad, const Tensor *one, int b)
{
    int seq = pad->rank >= 3 && pad->shape[0] == T && pad->shape[1] == B;
    int states = !seq && pad->rank == 3 && pad->shape[1] == B;
    double tol = strncmp(name, "mn", 2) == 0 ? 1e-12 : 0;
    int64_t row = 1;
    for (int d = seq || states ? 2 : 1; d < pad->rank; d++) row *= pad->shape[d];
    if (seq) {
        for (int64_t t = 0; t < T; t++)
            for (int64_t k = 0; k < row; k++) {
                int64_t i = (t * B + b) * row + k;
                near(at(pad, i), t < LENS[b] ? at(one, t * row + k) : 0.0, tol, what, name, i);
            }
    } else if (states) {
        for (int64_t s = 0; s < pad->shape[0]; s++)
            for (int64_t k = 0; k < row; k++)
                near(at(pad, (s * B + b) * row + k), at(one, s * row + k), tol, what, name, (s * B + b) * row + k);
    } else {
        for (int64_t k = 0; k < row; k++) near(at(pad, b * row + k), at(one, k), tol, what, name, b * row + k);
    }
}

static IrModule *grad_module(const char *src, Program **prog)
{
    char err[512] = "";
    IrModule *m = tu_build_src(src, prog);
    PipeOpts o = {0, 0};
    if (pipeline_grad(m, 0, &o, err, sizeof err)) fail_msg("pipeline_grad: %s", err);
    return m;
}

static void run(const Engine *e, const IrModule *m, const TensorMap *params, const TensorMap *in, TensorMap *out)
{
    char err[1024] = "";
    rt_map_init(out);
    if (e->run(e, m, params, in, out, err, sizeof err)) fail_msg("%s engine: %s", e->name, err);
}

/* The padded batch against each example alone, on the interpreter in
 * float64: outputs and final states exactly, the loss and gradients as
 * the weighted sum of the examples' (float64 sums in another order:
 * 1e-12 relative). */
static void check_against_examples(const Case *c)
{
    Program *prog;
    IrModule *m = grad_module(c->src, &prog);
    TensorMap params, in, out;
    random_params(m, &params);
    batch_inputs(m, &in, 1);
    run(&engine_interp_f64, m, &params, &in, &out);
    double total = 0;
    for (int b = 0; b < B; b++) total += (double)LENS[b];

    double *loss = calloc(1, sizeof *loss);
    TensorMap gsum;
    rt_map_init(&gsum);
    for (int b = 0; b < B; b++) {
        TensorMap ein, eout;
        example_inputs(m, &in, b, &ein);
        run(&engine_interp_f64, m, &params, &ein, &eout);
        double w = c->weighting == BY_STEPS ? (double)LENS[b] / total : 1.0 / B;
        for (int i = 0; i < m->noutputs; i++) {
            const char *name = m->outputs[i].name;
            const Tensor *one = rt_map_get(&eout, name), *pad = rt_map_get(&out, name);
            assert_non_null(one);
            assert_non_null(pad);
            if (m->outputs[i].role != IR_ROLE_GRAD) {
                compare_output(c->name, name, pad, one, b);
                continue;
            }
            Tensor *acc = rt_map_get(&gsum, name);
            if (!acc) {
                Tensor z;
                assert_int_equal(rt_tensor_alloc(&z, RT_F64, one->rank, one->shape), 0);
                assert_int_equal(rt_map_put(&gsum, name, &z), 0);
                acc = rt_map_get(&gsum, name);
            }
            for (int64_t k = 0; k < rt_numel(one); k++) ((double *)acc->data)[k] += w * at(one, k);
        }
        *loss += w * at(rt_map_get(&eout, "loss"), 0);
        rt_map_free(&ein);
        rt_map_free(&eout);
    }
    near(at(rt_map_get(&out, "loss"), 0), *loss, 1e-12, c->name, "loss", 0);
    for (int i = 0; i < gsum.count; i++) {
        const Tensor *g = rt_map_get(&out, gsum.names[i]);
        for (int64_t k = 0; k < rt_numel(g); k++)
            near(at(g, k), at(&gsum.tensors[i], k), 1e-12, c->name, gsum.names[i], k);
    }
    free(loss);
    rt_map_free(&gsum);
    rt_map_free(&out);
    rt_map_free(&in);
    rt_map_free(&params);
    ir_free(m);
    ast_free(prog);
}

static void test_examples_alone(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) check_against_examples(&CASES[i]);
}

/* The compiled engines on the padded batch (optimized module) against the
 * interpreter (float64, unoptimized): outputs, loss, gradients.  Float32
 * rounds each op to 2^-24 = 6e-8 relative; the longest chain here (two
 * layers of five steps forward and back, a few dozen ops a step) is under
 * 500 ops on values and gradients of magnitude below 1, so 500 * 6e-8 =
 * 3e-5; 1e-4 * max(1, |want|) leaves a margin of 3. */
static void check_engine(const char *engine, const Case *c)
{
    char err[512] = "";
    Program *prog, *prog2;
    IrModule *ref = grad_module(c->src, &prog);
    IrModule *m = tu_build_src(c->src, &prog2);
    PipeOpts o = {0, 1};
    if (pipeline_grad(m, 0, &o, err, sizeof err)) fail_msg("pipeline_grad: %s", err);
    Engine e;
    assert_int_equal(engine_open(engine, &e, err, sizeof err), 0);
    TensorMap params, in, want, got;
    random_params(ref, &params);
    batch_inputs(ref, &in, 1);
    run(&engine_interp_f64, ref, &params, &in, &want);
    run(&e, m, &params, &in, &got);
    for (int i = 0; i < want.count; i++) {
        const Tensor *g = rt_map_get(&got, want.names[i]);
        if (!g) fail_msg("%s engine: no output '%s'", engine, want.names[i]);
        assert_int_equal(rt_numel(g), rt_numel(&want.tensors[i]));
        for (int64_t k = 0; k < rt_numel(g); k++)
            near(at(g, k), at(&want.tensors[i], k), 1e-4, engine, want.names[i], k);
    }
    engine_close(&e);
    rt_map_free(&want);
    rt_map_free(&got);
    rt_map_free(&in);
    rt_map_free(&params);
    ir_free(m);
    ir_free(ref);
    ast_free(prog);
    ast_free(prog2);
}

static void test_jit(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) check_engine("jit", &CASES[i]);
}

/* The C engine compiles with the system compiler: one case, the largest. */
static void test_c_engine(void **state)
{
    (void)state;
    if (system("cc --version >/dev/null 2>&1") != 0) skip();
    check_engine("c", &CASES[0]);
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void expect_error(const int64_t *lens, int64_t n, RtDType dt, const char *want)
{
    char err[512] = "";
    Program *prog;
    IrModule *m = tu_build_src(CASES[1].src, &prog);
    TensorMap params, in, out;
    random_params(m, &params);
    batch_inputs(m, &in, 1);
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, dt, 1, &n), 0);
    for (int64_t i = 0; i < n; i++) {
        if (dt == RT_I32) ((int32_t *)t.data)[i] = (int32_t)lens[i];
        if (dt == RT_I64) ((int64_t *)t.data)[i] = lens[i];
        if (dt == RT_F32) ((float *)t.data)[i] = (float)lens[i];
    }
    assert_int_equal(rt_map_put(&in, "x.len", &t), 0);
    rt_map_init(&out);
    assert_int_equal(engine_interp.run(&engine_interp, m, &params, &in, &out, err, sizeof err), -1);
    if (!strstr(err, want)) fail_msg("error '%s', want '%s'", err, want);
    rt_map_free(&out);
    rt_map_free(&in);
    rt_map_free(&params);
    ir_free(m);
    ast_free(prog);
}

static void test_bad_lengths(void **state)
{
    (void)state;
    int64_t zero[B] = {5, 0, 3}, above[B] = {5, 6, 3}, ok[B] = {5, 2, 3};
    expect_error(zero, B, RT_I64, "input 'x.len': example 1 has length 0; a length must be at least 1");
    expect_error(above, B, RT_I32, "input 'x.len': example 1 has length 6, more than the 5 steps of input 'x'");
    expect_error(ok, B - 1, RT_I64, "input 'x.len': [2] lengths for a batch of 3");
    expect_error(ok, B, RT_F32, "input 'x.len': lengths must be integers (I32 or I64), got F32");
}

/* Lengths all equal to T give the model without lengths, bit for bit:
 * the mask is all ones and 1 * a + 0 * b is a. */
static void test_full_lengths(void **state)
{
    (void)state;
    const char *with = CASES[0].src;
    char *without = strdup(with);
    char *p = strstr(without, " lengths");
    memmove(p, p + 8, strlen(p + 8) + 1);
    Program *p1, *p2;
    IrModule *m1 = tu_build_src(with, &p1), *m2 = tu_build_src(without, &p2);
    TensorMap params, in, o1, o2;
    random_params(m1, &params);
    batch_inputs(m1, &in, 0);
    /* no padding: the NaNs become numbers, every length is T */
    for (int i = 0; i < in.count; i++)
        for (int64_t k = 0; k < rt_numel(&in.tensors[i]); k++)
            if (isnan(((float *)in.tensors[i].data)[k])) ((float *)in.tensors[i].data)[k] = 0.25f;
    run(&engine_interp, m2, &params, &in, &o2);
    int64_t full[B] = {T, T, T};
    put_lens(&in, "x.len", B, full);
    run(&engine_interp, m1, &params, &in, &o1);
    for (int i = 0; i < o2.count; i++) {
        const Tensor *a = rt_map_get(&o1, o2.names[i]), *b = &o2.tensors[i];
        assert_non_null(a);
        for (int64_t k = 0; k < rt_numel(b); k++) near(at(a, k), at(b, k), 0, "full lengths", o2.names[i], k);
    }
    rt_map_free(&o1);
    rt_map_free(&o2);
    rt_map_free(&in);
    rt_map_free(&params);
    ir_free(m1);
    ir_free(m2);
    ast_free(p1);
    ast_free(p2);
    free(without);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_alone), cmocka_unit_test(test_full_lengths),
        cmocka_unit_test(test_bad_lengths),    cmocka_unit_test(test_jit),
        cmocka_unit_test(test_c_engine),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
