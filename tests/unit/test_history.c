/* test_history.c - passes/history.c, the history part of truncated
 * BPTT(k1, k2) (tbptt_back, docs/training.md "TBPTT"):
 *   (a) a hand-worked case: a scalar rnn, two history steps and two new
 *       ones from a carried state, against the loss and gradients that
 *       tests/unit/tbptt_hand.py writes out step by step; and tbptt = 2
 *       alone (the gradient cut at the new steps) gives another gradient;
 *   (b) against full BPTT when the history reaches the sequence's start
 *       (k2 covers the sequence): the updates' gradients, weighted by
 *       their steps, are the whole sequence's, and the new steps' loss and
 *       outputs are those of a carried run, for an lstm of two layers and
 *       an embedding + gru with cross-entropy, and a gru with lengths
 *       where an example ends inside the history;
 *   (c) the module's contract: "hist:" inputs only for the sequences the
 *       recurrence reads (not the targets), lengths of their own, the
 *       copy's dropout masks numbered apart; and the errors: a model read
 *       backwards, a model with no state.
 *
 * Tolerances: the interpreter runs in float64.  (a) compares with
 * Python's float64 arithmetic in another order over ~40 operations and
 * four tanh: 1e-12 relative is ~1e4 roundings of 1e-16.  (b) sums the
 * same per-step terms in another order (two weighted parts against one
 * sum): 1e-12 as well; the carried-run comparison is exact (the same ops
 * on the same values). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/engine.h"
#include "ir/ir.h"
#include "io/tensor.h"
#include "passes/history.h"
#include "passes/pipeline.h"
#include "passes/segment.h"
#include "tests/unit/test_util.h"

static uint64_t rng_state = 4242;

static double urand(double lo, double hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

/* An F64 (or I64, ids < 5) tensor of the given shape, from data or random. */
static void put(TensorMap *map, const char *name, int i64, int rank, const int64_t *shape, const double *data)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, i64 ? RT_I64 : RT_F64, rank, shape), 0);
    for (int64_t k = 0; k < rt_numel(&t); k++) {
        if (i64)
            ((int64_t *)t.data)[k] = (int64_t)urand(0, 5);
        else
            ((double *)t.data)[k] = data ? data[k] : urand(-1, 1);
    }
    assert_int_equal(rt_map_put(map, name, &t), 0);
}

static double scalar_of(const TensorMap *m, const char *name)
{
    const Tensor *t = rt_map_get(m, name);
    if (!t) fail_msg("no output '%s'", name);
    return t->dtype == RT_F64 ? ((double *)t->data)[0] : ((float *)t->data)[0];
}

static void close_to(double got, double want, double rel, const char *what)
{
    if (!(fabs(got - want) <= rel * fmax(1.0, fabs(want)))) fail_msg("%s: %.17g, want %.17g", what, got, want);
}

/* The interpreter in float64, through its engine: lengths applied. */
static void run(const IrModule *m, const TensorMap *params, const TensorMap *in, TensorMap *out)
{
    char err[512] = "";
    rt_map_init(out);
    if (engine_interp_f64.run(&engine_interp_f64, m, params, in, out, err, sizeof err))
        fail_msg("interp %s: %s", m->name, err);
}

/* The gradient module of src: plain, carried, or carried with a history. */
static TuBuilt grad_of(const char *src, int carry, int history)
{
    char err[512] = "";
    TuBuilt b = tu_build(src);
    PipeOpts o = {.carry = carry, .history = history};
    if (pipeline_grad(b.m, 0, &o, err, sizeof err)) fail_msg("pipeline_grad: %s", err);
    return b;
}

/* ---- (a) the hand-worked case ------------------------------------------------------- */

static const char *const SCALAR = "model s {\n input x : seq<[1]>\n target y : seq<[1]>\n"
                                  " h = rnn(x, hidden=1)\n loss = mse(h, y)\n}\n";

static void scalar_params(TensorMap *p)
{
    int64_t s11[2] = {1, 1}, s1[1] = {1};
    rt_map_init(p);
    put(p, "h.weight_ih_l0", 0, 2, s11, (double[]){0.8});
    put(p, "h.weight_hh_l0", 0, 2, s11, (double[]){0.5});
    put(p, "h.bias_ih_l0", 0, 1, s1, (double[]){0.1});
    put(p, "h.bias_hh_l0", 0, 1, s1, (double[]){-0.2});
}

/* x, y: the new steps 3, 4; the carry c and reset 0. */
static void scalar_inputs(TensorMap *in, double c)
{
    int64_t s211[3] = {2, 1, 1}, s11[2] = {1, 1};
    rt_map_init(in);
    put(in, "x", 0, 3, s211, (double[]){0.5, 2.0});
    put(in, "y", 0, 3, s211, (double[]){0.2, -0.4});
    put(in, SEGMENT_RESET_INPUT, 0, 0, NULL, (double[]){0.0});
    put(in, "carry:0", 0, 2, s11, (double[]){c});
}

static void test_hand_worked(void **state)
{
    (void)state;
    TuBuilt g = grad_of(SCALAR, 1, 1);
    TensorMap p, in, out;
    scalar_params(&p);
    scalar_inputs(&in, 0.3);
    int64_t s211[3] = {2, 1, 1};
    put(&in, "hist:x", 0, 3, s211, (double[]){1.0, -1.0});
    run(g.m, &p, &in, &out);
    /* tests/unit/tbptt_hand.py */
    close_to(scalar_of(&out, "loss"), 0.86880468195996263, 1e-12, "loss");
    close_to(scalar_of(&out, "grad:h.weight_ih_l0"), 0.44438771360894019, 1e-12, "grad weight_ih");
    close_to(scalar_of(&out, "grad:h.weight_hh_l0"), 0.019252870421349839, 1e-12, "grad weight_hh");
    close_to(scalar_of(&out, "grad:h.bias_ih_l0"), 0.16974331350957561, 1e-12, "grad bias_ih");
    close_to(scalar_of(&out, "grad:h.bias_hh_l0"), 0.16974331350957561, 1e-12, "grad bias_hh");
    rt_map_free(&in);
    rt_map_free(&out);
    tu_built_free(&g);

    /* tbptt = 2 alone: the same forward from the state after step 2 (the
     * script's h2), the same loss, a gradient cut two steps earlier */
    TuBuilt c = grad_of(SCALAR, 1, 0);
    scalar_inputs(&in, -0.50385935089269684);
    run(c.m, &p, &in, &out);
    close_to(scalar_of(&out, "loss"), 0.86880468195996263, 1e-12, "loss, k2 = 2");
    close_to(scalar_of(&out, "grad:h.weight_hh_l0"), 0.030336989485290344, 1e-12, "grad weight_hh, k2 = 2");
    rt_map_free(&in);
    rt_map_free(&out);
    rt_map_free(&p);
    tu_built_free(&c);
}

/* ---- (b) against full BPTT ---------------------------------------------------------- */

/* Random parameters of m. */
static void random_params(const IrModule *m, TensorMap *p)
{
    rt_map_init(p);
    for (int i = 0; i < m->nparams; i++) {
        IrType t = m->params[i].value->type;
        put(p, m->params[i].name, 0, t.rank, t.dim, NULL);
    }
}

/* Steps [t0, t1) of every input and target of `all` (time-major) into
 * `in`, under prefix + the name. */
static void put_steps(TensorMap *in, const TensorMap *all, int64_t t0, int64_t t1, const char *prefix)
{
    char name[128];
    for (int i = 0; i < all->count; i++) {
        const Tensor *x = &all->tensors[i];
        int64_t shape[IR_MAX_RANK], row = rt_numel(x) / x->shape[0];
        memcpy(shape, x->shape, sizeof shape);
        shape[0] = t1 - t0;
        Tensor c;
        assert_int_equal(rt_tensor_alloc(&c, x->dtype, x->rank, shape), 0);
        memcpy(c.data, (const char *)x->data + t0 * row * 8, (size_t)((t1 - t0) * row * 8));
        snprintf(name, sizeof name, "%s%s", prefix, all->names[i]);
        assert_int_equal(rt_map_put(in, name, &c), 0);
    }
}

/* reset = 1 and zero carries for every carry input of m (B examples). */
static void put_fresh_carry(const IrModule *m, TensorMap *in, int64_t B)
{
    put(in, SEGMENT_RESET_INPUT, 0, 0, NULL, (double[]){1.0});
    for (int i = 0; i < m->ninputs; i++) {
        if (m->inputs[i].role != IR_ROLE_CARRY) continue;
        int64_t shape[2] = {B, m->inputs[i].value->type.dim[1]};
        Tensor z;
        assert_int_equal(rt_tensor_alloc(&z, RT_F64, 2, shape), 0);
        assert_int_equal(rt_map_put(in, m->inputs[i].name, &z), 0);
    }
}

/* T steps, B examples; the history is steps [0, A), the new steps [A, T). */
enum { T = 7, A = 3, B = 2 };

/* With lengths (model input "x.len"): example 0 ends inside the
 * history, so the new steps have none of it (a mask column of zeros). */
static const int64_t LENS[B] = {2, 6};

static void check_full(const char *src, int ids)
{
    TuBuilt full = grad_of(src, 0, 0), seg = grad_of(src, 1, 0), hist = grad_of(src, 1, 1);
    TensorMap p, all, in0, in1, gf, g0, g1;
    random_params(full.m, &p);
    rt_map_init(&all);
    int64_t n0 = A * B, n1 = (T - A) * B;       /* the real steps of each part */
    for (int i = 0; i < full.m->ninputs; i++) { /* x: [T, B, F] or ids [T, B]; x.len: its mask */
        IrType t = full.m->inputs[i].value->type;
        if (full.m->inputs[i].role == IR_ROLE_LENGTHS) {
            double mask[T * B];
            n0 = n1 = 0;
            for (int k = 0; k < T * B; k++) {
                mask[k] = k / B < LENS[k % B];
                n0 += mask[k] && k / B < A;
                n1 += mask[k] && k / B >= A;
            }
            put(&all, full.m->inputs[i].name, 0, 3, (int64_t[]){T, B, 1}, mask);
            continue;
        }
        int64_t shape[3] = {T, B, t.rank > 2 ? t.dim[2] : 0};
        put(&all, full.m->inputs[i].name, ids, t.rank, shape, NULL);
    }
    for (int i = 0; i < full.m->ntargets; i++) {
        IrType t = full.m->targets[i].value->type;
        int64_t shape[3] = {T, B, t.rank > 2 ? t.dim[2] : 0};
        put(&all, full.m->targets[i].name, t.dtype == IR_I64, t.rank, shape, NULL);
    }
    run(full.m, &p, &all, &gf);

    /* update 1 of BPTT(k1 = A, k2 = T): steps [0, A), no history */
    rt_map_init(&in0);
    put_steps(&in0, &all, 0, A, "");
    put_fresh_carry(seg.m, &in0, B);
    run(seg.m, &p, &in0, &g0);
    /* update 2: the new steps [A, T), the history [0, A) from the start */
    rt_map_init(&in1);
    put_steps(&in1, &all, A, T, "");
    for (int i = 0; i < all.count; i++) { /* only the inputs the recurrence reads */
        char name[128];
        snprintf(name, sizeof name, "%s%s", HISTORY_PREFIX, all.names[i]);
        int wanted = ir_input_index(hist.m, name) >= 0;
        assert_int_equal(wanted, ir_input_index(full.m, all.names[i]) >= 0);
        if (wanted)
            put_steps(&in1, &(TensorMap){.count = 1, .names = &all.names[i], .tensors = &all.tensors[i]}, 0, A,
                      HISTORY_PREFIX);
    }
    put_fresh_carry(hist.m, &in1, B);
    run(hist.m, &p, &in1, &g1);

    /* the mean loss over the real steps = each part's, weighted by its
     * share of them (A/T and (T-A)/T without lengths) */
    double wa = (double)n0 / (double)(n0 + n1), wb = (double)n1 / (double)(n0 + n1);
    close_to(wa * scalar_of(&g0, "loss") + wb * scalar_of(&g1, "loss"), scalar_of(&gf, "loss"), 1e-12, "loss");
    int ngrad = 0;
    for (int i = 0; i < full.m->noutputs; i++) {
        const IrOutput *o = &full.m->outputs[i];
        if (o->role != IR_ROLE_GRAD) continue;
        const Tensor *f = rt_map_get(&gf, o->name), *a = rt_map_get(&g0, o->name), *b = rt_map_get(&g1, o->name);
        assert_non_null(a);
        assert_non_null(b);
        for (int64_t k = 0; k < rt_numel(f); k++) {
            double want = ((double *)f->data)[k], got = wa * ((double *)a->data)[k] + wb * ((double *)b->data)[k];
            if (!(fabs(got - want) <= 1e-12 * fmax(1.0, fabs(want))))
                fail_msg("%s[%lld]: %.17g, full BPTT %.17g", o->name, (long long)k, got, want);
        }
        ngrad++;
    }
    assert_true(ngrad >= 4);

    /* the forward of the new steps is the carried run's: the loss of
     * steps [A, T) from the state after step A, exactly */
    TensorMap in2, g2;
    rt_map_init(&in2);
    put_steps(&in2, &all, A, T, "");
    put(&in2, SEGMENT_RESET_INPUT, 0, 0, NULL, (double[]){0.0});
    for (int i = 0; i < seg.m->ninputs; i++)
        if (seg.m->inputs[i].role == IR_ROLE_CARRY) {
            const Tensor *c = rt_map_get(&g0, seg.m->inputs[i].name);
            assert_non_null(c);
            put(&in2, seg.m->inputs[i].name, 0, c->rank, c->shape, c->data);
        }
    run(seg.m, &p, &in2, &g2);
    assert_true(scalar_of(&g2, "loss") == scalar_of(&g1, "loss"));

    TensorMap *maps[] = {&p, &all, &in0, &in1, &in2, &gf, &g0, &g1, &g2};
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) rt_map_free(maps[i]);
    tu_built_free(&full);
    tu_built_free(&seg);
    tu_built_free(&hist);
}

static void test_full_bptt(void **state)
{
    (void)state;
    check_full("model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
               " h = lstm(x, hidden=3, layers=2)\n y = dense(h, 2)\n output y\n loss = mse(y, t)\n}\n",
               0);
    check_full("model c {\n input tok : seq<int>\n target nxt : seq<int>\n e = embedding(tok, vocab=5, dim=3)\n"
               " h = gru(e, hidden=4)\n logits = dense(h, 5)\n loss = cross_entropy(logits, nxt)\n}\n",
               1);
    /* lengths: example 0 ends in the history, its new steps all padding */
    check_full("model l {\n input x : seq<[2]> lengths\n target t : seq<[2]>\n"
               " h = gru(x, hidden=3, layers=2)\n y = dense(h, 2)\n output y\n loss = mse(y, t)\n}\n",
               0);
}

/* ---- (c) the contract and the errors ----------------------------------------------- */

static void test_contract(void **state)
{
    (void)state;
    TuBuilt b = tu_build("model d {\n input x : seq<[2]>\n target t : seq<[2]>\n"
                         " h = lstm(x, hidden=3, layers=2, dropout=0.5)\n y = dense(dropout(h, 0.25), 2)\n"
                         " loss = mse(y, t)\n}\n");
    char err[512] = "";
    PipeOpts o = {.carry = 1, .history = 1};
    TrainConfig cfg = train_config_default();
    if (pipeline_train(b.m, &cfg, &o, err, sizeof err)) fail_msg("pipeline_train: %s", err);
    int hx = ir_input_index(b.m, "hist:x");
    assert_true(hx >= 0);
    assert_int_equal(ir_input_index(b.m, "hist:t"), -1); /* the history has no loss */
    for (int i = 0; i < b.m->ntargets; i++) assert_null(strstr(b.m->targets[i].name, HISTORY_PREFIX));
    /* its length is a symbol of its own, not x's */
    IrType hxt = b.m->inputs[hx].value->type, xt = b.m->inputs[ir_input_index(b.m, "x")].value->type;
    assert_true(hxt.dim[0] < 0 && hxt.dim[0] != xt.dim[0]);
    assert_string_equal(b.m->syms[-hxt.dim[0] - 1].name, "hist:T_x");
    /* four masks (one between the layers, one on h; each in both parts), all numbered apart */
    int64_t seen = 0;
    int n = 0;
    for (int i = 0; i < b.m->body->nops; i++) {
        const IrOp *op = b.m->body->ops[i];
        if (op->kind != IR_DROPOUT_MASK) continue;
        assert_true(op->attrs.index >= 0 && op->attrs.index < 62);
        assert_false(seen & (1ll << op->attrs.index));
        seen |= 1ll << op->attrs.index;
        n++;
    }
    /* the history keeps only the mask between the layers: h's output mask feeds the loss */
    assert_int_equal(n, 3);
    tu_built_free(&b);

    /* a model read backwards has no history before its steps */
    b = tu_build("model r {\n input x : seq<[2]>\n target t : seq<[2]>\n"
                 " h = gru(x, hidden=3, bidirectional=true)\n y = dense(h, 2)\n loss = mse(y, t)\n}\n");
    assert_int_equal(pipeline_grad(b.m, 0, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "model 'r' cannot keep a history for tbptt_back"));
    tu_built_free(&b);

    /* no state from step to step: nothing to keep */
    b = tu_build("model n {\n input x : seq<[2]>\n target t : seq<[2]>\n y = dense(x, 2)\n loss = mse(y, t)\n}\n");
    assert_int_equal(history_prefix(b.m, err, sizeof err), -1);
    assert_non_null(strstr(err, "model 'n' carries no state from step to step"));
    tu_built_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_worked),
        cmocka_unit_test(test_full_bptt),
        cmocka_unit_test(test_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
