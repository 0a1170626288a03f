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

enum { B = 3 };
/* The steps and lengths of each length symbol, in the order of the
 * module's symbols: the first sequence input's (x: one full, one short,
 * one between) and a second one's (an encoder-decoder's target side). */
static const int64_t STEPS[2] = {5, 4};
static const int64_t LENS[2][B] = {{5, 2, 3}, {3, 4, 1}};

/* How the loss of the padded batch is made of the examples' losses: a
 * loss over the real steps weights each by its steps (len / sum of lens,
 * the lengths of the first target's steps), a loss over examples
 * (many-to-one) weights each by 1 / B. */
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
    {"encoder-decoder, two lengths",
     "model m {\n"
     "  input  src : seq<int> lengths\n"
     "  input  tgt : seq<[3]> lengths\n"
     "  target y : seq<int>\n"
     "  se = embedding(src, vocab=5, dim=3)\n"
     "  enc = lstm(se, hidden=4, bidirectional)\n"
     "  dec = lstm(tgt, hidden=4, bidirectional, init=enc)\n"
     "  o = dense(dec, 5)\n"
     "  output o\n"
     "  output hn = final(dec)\n"
     "  output cn = final(enc, c)\n"
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

/* Which length symbol a type's time dim is (an index of STEPS), or -1
 * for a value of no sequence (a batch [B, ...], final states [L*D, B, H]). */
static int seq_of(const IrType *t) { return t->rank >= 2 && t->dim[0] < IR_DIM_B ? (int)(-t->dim[0] - 2) : -1; }

/* The type of the input or target called name, and whether it is a
 * lengths input. */
static const IrType *declared(const IrModule *m, const char *name, int *is_len)
{
    *is_len = 0;
    for (int i = 0; i < m->ninputs; i++)
        if (!strcmp(m->inputs[i].name, name)) {
            *is_len = m->inputs[i].role == IR_ROLE_LENGTHS;
            return &m->inputs[i].value->type;
        }
    for (int i = 0; i < m->ntargets; i++)
        if (!strcmp(m->targets[i].name, name)) return &m->targets[i].value->type;
    fail_msg("no input or target '%s'", name);
    return NULL;
}

/* One padded tensor of type ty, random, with NaN at the padded steps,
 * which must never be read; ids in [0, 5), 999 (out of range) there. */
static void padded_tensor(TensorMap *in, const char *name, const IrType *ty, RtRng *r)
{
    int k = seq_of(ty), ids = ty->dtype == IR_I64;
    int64_t shape[4], n = 1;
    for (int d = 0; d < ty->rank; d++) {
        shape[d] = ty->dim[d] == IR_DIM_B ? B : ty->dim[d] < 0 ? STEPS[k] : ty->dim[d];
        n *= shape[d];
    }
    float *y = malloc((size_t)n * sizeof *y);
    int64_t row = n / (k >= 0 ? STEPS[k] * B : B);
    for (int64_t i = 0; i < n; i++) {
        int64_t t = k >= 0 ? i / row / B : 0, b = k >= 0 ? i / row % B : i / row;
        float v = ids ? (float)(rt_rng_u64(r) % 5) : rt_rng_uniform_sym(r, 1.0f);
        y[i] = k < 0 || t < LENS[k][b] ? v : ids ? 999.0f : NAN;
    }
    (ids ? put_ids : put_f32)(in, name, ty->rank, shape, y);
    free(y);
}

/* The padded batch: every input and target, and the lengths if with_len. */
static void batch_inputs(const IrModule *m, TensorMap *in, int with_len)
{
    RtRng r;
    rt_rng_seed(&r, 7);
    rt_map_init(in);
    for (int i = 0; i < m->ninputs; i++) {
        const IrInput *x = &m->inputs[i];
        if (x->role == IR_ROLE_LENGTHS) {
            if (with_len) put_lens(in, x->name, B, LENS[seq_of(&x->value->type)]);
        } else
            padded_tensor(in, x->name, &x->value->type, &r);
    }
    for (int i = 0; i < m->ntargets; i++) padded_tensor(in, m->targets[i].name, &m->targets[i].value->type, &r);
}

/* Example b of the padded batch alone: its first len steps, batch 1. */
static void example_inputs(const IrModule *m, const TensorMap *batch, int b, TensorMap *in)
{
    rt_map_init(in);
    for (int i = 0; i < batch->count; i++) {
        const Tensor *t = &batch->tensors[i];
        const char *name = batch->names[i];
        int is_len;
        const IrType *ty = declared(m, name, &is_len);
        int k = seq_of(ty);
        if (is_len) {
            put_lens(in, name, 1, &LENS[k][b]);
            continue;
        }
        int64_t shape[4], row = 1;
        for (int d = 0; d < t->rank; d++) shape[d] = t->shape[d];
        for (int d = k >= 0 ? 2 : 1; d < t->rank; d++) row *= t->shape[d];
        int64_t steps = k >= 0 ? LENS[k][b] : 1;
        if (k >= 0) {
            shape[0] = steps;
            shape[1] = 1;
        } else
            shape[0] = 1;
        float *data = malloc((size_t)(steps * row) * sizeof *data);
        for (int64_t s = 0; s < steps; s++)
            for (int64_t j = 0; j < row; j++) data[s * row + j] = (float)at(t, ((k >= 0 ? s * B : 0) + b) * row + j);
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

/* One output (of type ty) of the padded batch against example b's: a
 * sequence [T, B, ...] at the real steps (0 after them), final states
 * [L*D, B, H], a per-example value [B, ...].  States are compared
 * exactly: the blend m * new + (1 - m) * old is exact for m in {0, 1},
 * so an example's arithmetic is the same op for op padded or alone.
 * mean() divides a mean over T by the mean of the mask instead of by
 * len: a few roundings in float64, 1e-12 relative. */
static void compare_output(const char *what, const char *name, const IrType *ty, const Tensor *pad, const Tensor *one,
                           int b)
{
    int k = seq_of(ty), states = k < 0 && ty->dim[0] >= 0;
    double tol = strncmp(name, "mn", 2) == 0 ? 1e-12 : 0;
    int64_t row = 1;
    for (int d = k >= 0 || states ? 2 : 1; d < pad->rank; d++) row *= pad->shape[d];
    if (k >= 0) {
        for (int64_t t = 0; t < STEPS[k]; t++)
            for (int64_t j = 0; j < row; j++) {
                int64_t i = (t * B + b) * row + j;
                near(at(pad, i), t < LENS[k][b] ? at(one, t * row + j) : 0.0, tol, what, name, i);
            }
    } else if (states) {
        for (int64_t s = 0; s < pad->shape[0]; s++)
            for (int64_t j = 0; j < row; j++)
                near(at(pad, (s * B + b) * row + j), at(one, s * row + j), tol, what, name, (s * B + b) * row + j);
    } else {
        for (int64_t j = 0; j < row; j++) near(at(pad, b * row + j), at(one, j), tol, what, name, b * row + j);
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
    const int64_t *lens = LENS[m->ntargets ? seq_of(&m->targets[0].value->type) : 0];
    double total = 0;
    for (int b = 0; b < B; b++) total += (double)lens[b];

    double *loss = calloc(1, sizeof *loss);
    TensorMap gsum;
    rt_map_init(&gsum);
    for (int b = 0; b < B; b++) {
        TensorMap ein, eout;
        example_inputs(m, &in, b, &ein);
        run(&engine_interp_f64, m, &params, &ein, &eout);
        double w = c->weighting == BY_STEPS ? (double)lens[b] / total : 1.0 / B;
        for (int i = 0; i < m->noutputs; i++) {
            const char *name = m->outputs[i].name;
            const Tensor *one = rt_map_get(&eout, name), *pad = rt_map_get(&out, name);
            assert_non_null(one);
            assert_non_null(pad);
            if (m->outputs[i].role != IR_ROLE_GRAD) {
                compare_output(c->name, name, &m->outputs[i].value->type, pad, one, b);
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
    int64_t full[B] = {STEPS[0], STEPS[0], STEPS[0]};
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
