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
#include "passes/train_step.h"

enum { B = 3 };
/* The steps and lengths of each length symbol, in the order of the
 * module's symbols: the first sequence input's (x: one full, one short,
 * one between) and a second one's (an encoder-decoder's target side). */
static int64_t STEPS[2] = {5, 4}; /* test_past_longest pads beyond every length */
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
    {"bidirectional many-to-one from final(h, layer=-1)",
     "model m {\n"
     "  input  x : seq<[3]> lengths\n"
     "  target y : int\n"
     "  h = lstm(x, hidden=4, layers=2, bidirectional)\n"
     "  o = dense(final(h, layer=-1), 5)\n" /* ids are 0..4 */
     "  output o\n"
     "  output c0 = final(h, c, layer=0)\n"
     "  loss = cross_entropy(o, y)\n"
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
    {"reverse of ids",
     "model m {\n"
     "  input  x : seq<int> lengths\n"
     "  target y : seq<int>\n"
     "  e = embedding(reverse(x), vocab=5, dim=3)\n"
     "  h = lstm(e, hidden=4)\n"
     "  o = dense(reverse(h), 5)\n"
     "  output o\n"
     "  output r = reverse(x)\n"
     "  loss = cross_entropy(o, y)\n"
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
        } else if (x->role == IR_ROLE_DATA) /* not the carries of TBPTT: put_carry */
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
    PipeOpts o = {0};
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
    int k = m->ntargets ? seq_of(&m->targets[0].value->type) : -1; /* BY_STEPS: a sequence target */
    const int64_t *lens = LENS[k >= 0 ? k : 0];
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
    PipeOpts o = {.optimize = 1};
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

/* ---- past the longest example ------------------------------------------------------- */

/* A batch padded beyond its longest example (T = 7 and 6 for lengths of
 * at most 5 and 4): the run leaves out the steps after the longest
 * (ir_lengths_apply cuts the sequences to them) and the outputs get their
 * padded steps back as zeros.  The same checks as above, which do not
 * know about the cut: each example alone, on the interpreter, and the
 * compiled engines against it. */
static void test_past_longest(void **state)
{
    (void)state;
    const int64_t keep[2] = {STEPS[0], STEPS[1]};
    STEPS[0] = 7;
    STEPS[1] = 6;
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        check_against_examples(&CASES[i]);
        check_engine("jit", &CASES[i]);
    }
    if (system("cc --version >/dev/null 2>&1") == 0) check_engine("c", &CASES[0]);
    STEPS[0] = keep[0];
    STEPS[1] = keep[1];
}

/* The cut itself: x, y and the mask of a batch whose longest example has
 * 5 of its 7 steps keep 5; a module with per-step state gradients (rnnc
 * grad --per-step), whose padded steps are not 0, keeps all 7. */
static void expect_steps(int per_step, int64_t want)
{
    char err[512] = "";
    Program *prog;
    IrModule *m = tu_build_src(CASES[1].src, &prog);
    PipeOpts o = {0};
    if (pipeline_grad(m, per_step, &o, err, sizeof err)) fail_msg("pipeline_grad: %s", err);
    TensorMap in, own;
    const TensorMap *use;
    batch_inputs(m, &in, 1);
    assert_int_equal(ir_lengths_apply(m, &in, &own, &use, err, sizeof err), 0);
    assert_ptr_equal(use, &own);
    assert_int_equal(rt_map_get(&own, "x")->shape[0], want);
    assert_int_equal(rt_map_get(&own, "y")->shape[0], want);
    assert_int_equal(rt_map_get(&own, "x.len")->shape[0], want);
    rt_map_free(&own);
    rt_map_free(&in);
    ir_free(m);
    ast_free(prog);
}

static void test_run_steps(void **state)
{
    (void)state;
    const int64_t keep = STEPS[0];
    STEPS[0] = 7;
    expect_steps(0, 5);
    expect_steps(1, 7);
    STEPS[0] = keep;
}

/* ---- TBPTT and the training step ------------------------------------------------------ */

static const char *const TBPTT_SRC = "model m {\n"
                                     "  input  x : seq<[3]> lengths\n"
                                     "  target y : seq<[2]>\n"
                                     "  h = lstm(x, hidden=4, layers=2)\n"
                                     "  o = dense(h, 2)\n"
                                     "  output o\n"
                                     "  output l = last(h)\n"
                                     "  loss = mse(o, y)\n"
                                     "}\n";

/* Steps [t0, t1) of a [T, B, ...] tensor, of every example (b < 0) or of
 * example b alone (batch 1), as F32. */
static void put_steps(TensorMap *in, const char *name, const Tensor *t, int64_t t0, int64_t t1, int b)
{
    int64_t shape[4], row = 1, nb = b < 0 ? t->shape[1] : 1;
    for (int d = 0; d < t->rank; d++) shape[d] = t->shape[d];
    for (int d = 2; d < t->rank; d++) row *= t->shape[d];
    shape[0] = t1 - t0;
    shape[1] = nb;
    float *data = malloc((size_t)((t1 - t0) * nb * row) * sizeof *data);
    for (int64_t s = t0; s < t1; s++)
        for (int64_t e = 0; e < nb; e++)
            for (int64_t j = 0; j < row; j++)
                data[((s - t0) * nb + e) * row + j] = (float)at(t, (s * t->shape[1] + (b < 0 ? e : b)) * row + j);
    put_f32(in, name, t->rank, shape, data);
    free(data);
}

/* The segment's carry inputs: reset, and the carries of `prev` (zeros of
 * `rows` rows for the first segment), in F64 as the interpreter made
 * them (a carry rounded to float would differ from an unsegmented run). */
static void put_carry(const IrModule *m, TensorMap *in, const TensorMap *prev, int64_t rows)
{
    float one = prev ? 0.0f : 1.0f;
    put_f32(in, "carry:reset", 0, NULL, &one);
    for (int i = 0; i < m->ninputs; i++) {
        const IrInput *c = &m->inputs[i];
        if (c->role != IR_ROLE_CARRY) continue;
        const Tensor *p = prev ? rt_map_get(prev, c->name) : NULL;
        int64_t shape[2] = {rows, c->value->type.dim[1]};
        Tensor t;
        assert_int_equal(rt_tensor_alloc(&t, RT_F64, 2, shape), 0);
        for (int64_t k = 0; p && k < rows * shape[1]; k++) ((double *)t.data)[k] = at(p, k);
        assert_int_equal(rt_map_put(in, c->name, &t), 0);
    }
}

/* Truncated BPTT over a padded batch: segments [0, 3) and [3, 5), the
 * second past the end of examples 1 and 2 (lengths 2 and 3: no step
 * left), the first inside example 1's end.  The driver gives a segment
 * its slice of the mask (ir_lengths_apply takes a mask as such, columns
 * of zeros too).  Against each example alone cut at the same steps: each
 * segment's loss and gradients are the examples' weighted by their real
 * steps in the segment, and the state carried out of the last segment
 * (and last(h), a carried scan too) is each example's after its own last
 * step, exactly. */
static void test_tbptt(void **state)
{
    (void)state;
    enum { K = 3 };
    char err[512];
    Program *prog;
    IrModule *m = tu_build_src(TBPTT_SRC, &prog);
    PipeOpts o = {.carry = 1};
    if (pipeline_grad(m, 0, &o, err, sizeof err)) fail_msg("pipeline_grad: %s", err);
    TensorMap params, batch;
    random_params(m, &params);
    batch_inputs(m, &batch, 0);
    const Tensor *x = rt_map_get(&batch, "x"), *y = rt_map_get(&batch, "y");
    const int64_t T = STEPS[0], *lens = LENS[0];

    TensorMap seg_out[2];
    for (int j = 0; j < 2; j++) { /* the padded batch, segment j */
        int64_t t0 = j * K, t1 = j ? T : K;
        TensorMap in;
        rt_map_init(&in);
        put_steps(&in, "x", x, t0, t1, -1);
        put_steps(&in, "y", y, t0, t1, -1);
        float mask[T * B];
        for (int64_t t = t0; t < t1; t++)
            for (int b = 0; b < B; b++) mask[(t - t0) * B + b] = t < lens[b] ? 1.0f : 0.0f;
        int64_t ms[3] = {t1 - t0, B, 1};
        put_f32(&in, "x.len", 3, ms, mask);
        put_carry(m, &in, j ? &seg_out[0] : NULL, B);
        run(&engine_interp_f64, m, &params, &in, &seg_out[j]);
        rt_map_free(&in);
    }
    for (int j = 0; j < 2; j++) {
        int64_t t0 = j * K, t1 = j ? T : K, count = 0;
        double loss = 0;
        TensorMap gsum;
        rt_map_init(&gsum);
        for (int b = 0; b < B; b++) count += lens[b] > t0 ? (lens[b] < t1 ? lens[b] : t1) - t0 : 0;
        for (int b = 0; b < B; b++) {
            TensorMap eout[2];
            int nseg = lens[b] > K ? 2 : 1;
            for (int e = 0; e < nseg; e++) { /* example b alone, its segments */
                int64_t s0 = e * K, s1 = lens[b] < (e ? T : K) ? lens[b] : (e ? T : K);
                TensorMap in;
                rt_map_init(&in);
                put_steps(&in, "x", x, s0, s1, b);
                put_steps(&in, "y", y, s0, s1, b);
                int64_t n = s1 - s0;
                put_lens(&in, "x.len", 1, &n);
                put_carry(m, &in, e ? &eout[0] : NULL, 1);
                run(&engine_interp_f64, m, &params, &in, &eout[e]);
                rt_map_free(&in);
            }
            if (j == 1) /* the state out of the last segment: the example's own last step */
                for (int i = 0; i < m->noutputs; i++) {
                    const IrOutput *out = &m->outputs[i];
                    if (out->role != IR_ROLE_CARRY) continue;
                    const Tensor *pad = rt_map_get(&seg_out[1], out->name),
                                 *one = rt_map_get(&eout[nseg - 1], out->name);
                    int64_t H = pad->shape[1];
                    for (int64_t k = 0; k < H; k++)
                        near(at(pad, b * H + k), at(one, k), 0, "tbptt", out->name, b * H + k);
                }
            if (j < nseg) { /* the example has steps in segment j */
                int64_t n = (lens[b] < t1 ? lens[b] : t1) - t0;
                double w = (double)n / (double)count;
                loss += w * at(rt_map_get(&eout[j], "loss"), 0);
                for (int i = 0; i < m->noutputs; i++) {
                    const IrOutput *out = &m->outputs[i];
                    if (out->role != IR_ROLE_GRAD) continue;
                    const Tensor *g = rt_map_get(&eout[j], out->name);
                    Tensor *acc = rt_map_get(&gsum, out->name);
                    if (!acc) {
                        Tensor z;
                        assert_int_equal(rt_tensor_alloc(&z, RT_F64, g->rank, g->shape), 0);
                        assert_int_equal(rt_map_put(&gsum, out->name, &z), 0);
                        acc = rt_map_get(&gsum, out->name);
                    }
                    for (int64_t k = 0; k < rt_numel(g); k++) ((double *)acc->data)[k] += w * at(g, k);
                }
            }
            for (int e = 0; e < nseg; e++) rt_map_free(&eout[e]);
        }
        near(at(rt_map_get(&seg_out[j], "loss"), 0), loss, 1e-12, "tbptt", "loss", j);
        for (int i = 0; i < gsum.count; i++) {
            const Tensor *g = rt_map_get(&seg_out[j], gsum.names[i]);
            for (int64_t k = 0; k < rt_numel(g); k++)
                near(at(g, k), at(&gsum.tensors[i], k), 1e-12, "tbptt", gsum.names[i], k);
        }
        rt_map_free(&gsum);
    }
    rt_map_free(&seg_out[0]);
    rt_map_free(&seg_out[1]);
    rt_map_free(&batch);
    rt_map_free(&params);
    ir_free(m);
    ast_free(prog);
}

/* One training step (SGD, gradient clipping by norm, tight enough to
 * clip) on the padded batch: the gradient norm is the norm of the
 * examples' weighted gradients, and each parameter moves by
 * -lr * scale * that gradient (1e-12: float64 sums in another order). */
static void test_train_step(void **state)
{
    (void)state;
    char err[512];
    Program *p1, *p2;
    IrModule *g = grad_module(TBPTT_SRC, &p1), *m = tu_build_src(TBPTT_SRC, &p2);
    TrainConfig cfg = train_config_default();
    cfg.opt = OPT_SGD;
    cfg.lr = 0.5;
    cfg.clip = CLIP_NORM;
    cfg.clip_value = 0.01;
    PipeOpts o = {0};
    if (pipeline_train(m, &cfg, &o, err, sizeof err)) fail_msg("pipeline_train: %s", err);
    TensorMap params, in, gout, tout;
    random_params(g, &params);
    batch_inputs(g, &in, 1);
    run(&engine_interp_f64, g, &params, &in, &gout); /* the gradient, checked against the examples above */
    run(&engine_interp_f64, m, &params, &in, &tout);
    double sq = 0;
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i].role == IR_ROLE_GRAD) {
            const Tensor *gr = rt_map_get(&gout, g->outputs[i].name);
            for (int64_t k = 0; k < rt_numel(gr); k++) sq += at(gr, k) * at(gr, k);
        }
    double norm = sqrt(sq), scale = fmin(1.0, cfg.clip_value / (norm + 1e-6));
    assert_true(scale < 0.5); /* the clip is active */
    near(at(rt_map_get(&tout, "grad_norm"), 0), norm, 1e-12, "train step", "grad_norm", 0);
    for (int i = 0; i < g->noutputs; i++) {
        const IrOutput *out = &g->outputs[i];
        if (out->role != IR_ROLE_GRAD) continue;
        const Tensor *gr = rt_map_get(&gout, out->name), *p = rt_map_get(&params, out->of);
        char name[256];
        snprintf(name, sizeof name, "new:%s", out->of);
        const Tensor *np = rt_map_get(&tout, name);
        assert_non_null(np);
        for (int64_t k = 0; k < rt_numel(gr); k++)
            near(at(np, k), at(p, k) - cfg.lr * scale * at(gr, k), 1e-12, "train step", name, k);
    }
    rt_map_free(&gout);
    rt_map_free(&tout);
    rt_map_free(&in);
    rt_map_free(&params);
    ir_free(g);
    ir_free(m);
    ast_free(p1);
    ast_free(p2);
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

    /* a mask given as such (TBPTT segments) must be ones then zeros */
    char err[512] = "";
    Program *prog;
    IrModule *m = tu_build_src(CASES[1].src, &prog);
    TensorMap params, in, out;
    random_params(m, &params);
    batch_inputs(m, &in, 0);
    float mask[5 * B];
    for (int i = 0; i < 5 * B; i++) mask[i] = 1.0f;
    mask[1 * B + 1] = 0.0f; /* a hole at step 1 of example 1 */
    int64_t ms[3] = {5, B, 1};
    put_f32(&in, "x.len", 3, ms, mask);
    rt_map_init(&out);
    assert_int_equal(engine_interp.run(&engine_interp, m, &params, &in, &out, err, sizeof err), -1);
    assert_string_equal(err, "input 'x.len': the mask of example 1 is not ones then zeros");
    rt_map_free(&out);
    rt_map_free(&in);
    rt_map_free(&params);
    ir_free(m);
    ast_free(prog);
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
        cmocka_unit_test(test_c_engine),       cmocka_unit_test(test_tbptt),
        cmocka_unit_test(test_train_step),     cmocka_unit_test(test_past_longest),
        cmocka_unit_test(test_run_steps),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
