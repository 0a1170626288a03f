/* test_unroll.c - passes/unroll.c: a fully unrolled program, and one
 * unrolled by a factor, compute what the rolled program computes, forward
 * and (after autodiff) backward, for rnn, lstm, gru, bidirectional
 * (reverse scans), stacked layers, generate, a user cell with two states,
 * and an encoder-decoder; plus the structure of the result and the errors.
 *
 * Forward values are compared for exact equality: the unrolled program is
 * the same ops on the same values in the same order (index and stack only
 * copy), so the interpreter must produce the same bits in F64 and in F32.
 * Gradients are compared to 1e-12 relative: the backward ops are the same,
 * but a weight used twice in one step sums its per-use gradients in a
 * different association in the rolled and the unrolled sweep, each sum
 * rounding by ~1e-16 relative over at most a few dozen terms. */
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
#include "passes/unroll.h"
#include "io/tensor.h"
#include "tests/unit/test_util.h"

static uint64_t rng_state = 12345;

static double urand(double lo, double hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

/* ---- building and running ------------------------------------------------------- */

/* A random F64 tensor of type t: B = 2, every other symbol T. */
static void put_random(TensorMap *map, const char *name, IrType t, int64_t T, double lo, double hi, int64_t idmax)
{
    int64_t shape[IR_MAX_RANK];
    for (int d = 0; d < t.rank; d++) shape[d] = t.dim[d] >= 0 ? t.dim[d] : t.dim[d] == IR_DIM_B ? 2 : T;
    Tensor x;
    assert_int_equal(rt_tensor_alloc(&x, t.dtype == IR_I64 ? RT_I64 : RT_F64, t.rank, shape), 0);
    for (int64_t i = 0; i < rt_numel(&x); i++) {
        if (t.dtype == IR_I64)
            ((int64_t *)x.data)[i] = (int64_t)urand(0, (double)idmax);
        else
            ((double *)x.data)[i] = urand(lo, hi);
    }
    assert_int_equal(rt_map_put(map, name, &x), 0);
}

static void make_data(const IrModule *m, int64_t T, int64_t idmax, TensorMap *params, TensorMap *inputs)
{
    rt_map_init(params);
    rt_map_init(inputs);
    for (int i = 0; i < m->nparams; i++)
        put_random(params, m->params[i].name, m->params[i].value->type, T, -0.6, 0.6, idmax);
    for (int i = 0; i < m->ninputs; i++)
        put_random(inputs, m->inputs[i].name, m->inputs[i].value->type, T, -1, 1, idmax);
    for (int i = 0; i < m->ntargets; i++)
        put_random(inputs, m->targets[i].name, m->targets[i].value->type, T, -1, 1, idmax);
}

static void run(const IrModule *m, const TensorMap *params, const TensorMap *inputs, IrPrecision prec, TensorMap *out)
{
    char err[512] = "";
    rt_map_init(out);
    if (interp_run(m, params, inputs, out, prec, err, sizeof err)) fail_msg("interp: %s", err);
}

static int count_scans(const IrBlock *b)
{
    int n = 0;
    for (int i = 0; i < b->nops; i++) {
        if (b->ops[i]->kind != IR_SCAN) continue;
        n++;
        n += count_scans(b->ops[i]->body);
    }
    return n;
}

/* Every tensor of `want` is in `got` with the same shape; values equal
 * exactly (tol < 0) or to tol relative (plus tol absolute near zero). */
static void compare(const TensorMap *want, const TensorMap *got, double tol, const char *what)
{
    assert_int_equal(want->count, got->count);
    for (int i = 0; i < want->count; i++) {
        const Tensor *a = &want->tensors[i], *b = rt_map_get(got, want->names[i]);
        if (!b) fail_msg("%s: no output '%s'", what, want->names[i]);
        assert_int_equal(a->rank, b->rank);
        assert_int_equal(a->dtype, b->dtype);
        for (int d = 0; d < a->rank; d++) assert_int_equal(a->shape[d], b->shape[d]);
        for (int64_t k = 0; k < rt_numel(a); k++) {
            double x, y;
            if (a->dtype == RT_F32) {
                x = ((float *)a->data)[k];
                y = ((float *)b->data)[k];
            } else if (a->dtype == RT_F64) {
                x = ((double *)a->data)[k];
                y = ((double *)b->data)[k];
            } else {
                x = (double)((int64_t *)a->data)[k];
                y = (double)((int64_t *)b->data)[k];
            }
            int ok = tol < 0 ? x == y : fabs(x - y) <= tol * fabs(x) + tol;
            if (!ok) fail_msg("%s: %s[%lld]: rolled %.17g, unrolled %.17g", what, want->names[i], (long long)k, x, y);
        }
    }
}

/* How the copy is unrolled: factor 0 fully (to T steps), else by factor
 * after fixing the length to T. */
static void unroll(IrModule *m, int64_t T, int factor)
{
    char err[512] = "";
    int rc = factor ? unroll_specialize(m, T, err, sizeof err) : 0;
    if (!rc) rc = factor ? unroll_by(m, factor, err, sizeof err) : unroll_full(m, T, err, sizeof err);
    if (rc) fail_msg("unroll: %s", err);
    assert_int_equal(ir_verify(m, "test_unroll", stderr), 0);
}

/* The check: src rolled and unrolled (fully, or by factor) agree forward
 * (exactly, F64 and F32) and in every gradient after autodiff. */
static void check(const char *src, int64_t T, int factor, int64_t idmax)
{
    TuBuilt r = tu_build(src), u = tu_build(src);
    int scans = count_scans(r.m->body);
    assert_true(scans > 0);
    unroll(u.m, T, factor);
    if (factor == 0 || factor >= T)
        assert_int_equal(count_scans(u.m->body), 0);
    else
        assert_int_equal(count_scans(u.m->body), scans);

    TensorMap params, inputs, a, b;
    make_data(r.m, T, idmax, &params, &inputs);
    for (int p = 0; p < 2; p++) {
        IrPrecision prec = p ? IR_PREC_F32 : IR_PREC_F64;
        run(r.m, &params, &inputs, prec, &a);
        run(u.m, &params, &inputs, prec, &b);
        assert_true(a.count > 0);
        compare(&a, &b, -1, p ? "forward F32" : "forward F64");
        rt_map_free(&a);
        rt_map_free(&b);
    }

    char err[512] = "";
    if (autodiff(r.m, err, sizeof err)) fail_msg("autodiff rolled: %s", err);
    if (autodiff(u.m, err, sizeof err)) fail_msg("autodiff unrolled: %s", err);
    run(r.m, &params, &inputs, IR_PREC_F64, &a);
    run(u.m, &params, &inputs, IR_PREC_F64, &b);
    /* The gradients must not be trivially zero, or the check proves nothing. */
    double gsum = 0;
    for (int i = 0; i < a.count; i++)
        if (!strncmp(a.names[i], "grad:", 5))
            for (int64_t k = 0; k < rt_numel(&a.tensors[i]); k++) gsum += fabs(((double *)a.tensors[i].data)[k]);
    assert_true(gsum > 1e-3);
    compare(&a, &b, 1e-12, "gradients");
    rt_map_free(&a);
    rt_map_free(&b);
    rt_map_free(&params);
    rt_map_free(&inputs);
    tu_built_free(&r);
    tu_built_free(&u);
}

/* Fully, and by factors 2 and 3 of T = 6, and a factor above T (full). */
static void check_all(const char *src, int64_t idmax)
{
    check(src, 4, 0, idmax);
    check(src, 1, 0, idmax);
    check(src, 6, 2, idmax);
    check(src, 6, 3, idmax);
    check(src, 3, 8, idmax);
}

/* ---- models ------------------------------------------------------------------------- */

static void test_rnn(void **state)
{
    (void)state;
    check_all("model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
              " h = rnn(x, hidden=3)\n y = dense(h, 2)\n output y\n loss = mse(y, t)\n}\n",
              1);
}

static void test_lstm(void **state)
{
    (void)state;
    check_all("model a {\n input x : seq<[2]>\n target t : [2]\n"
              " h = lstm(x, hidden=3)\n y = dense(last(h), 2)\n output y\n loss = mse(y, t)\n}\n",
              1);
}

static void test_gru(void **state)
{
    (void)state;
    check_all("model a {\n input x : seq<[2]>\n target t : [2]\n"
              " h = gru(x, hidden=3, init=learned)\n y = dense(mean(h), 2)\n loss = mse(y, t)\n}\n",
              1);
}

static void test_bidirectional_stacked(void **state)
{
    (void)state;
    check_all("model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
              " h = lstm(x, hidden=2, layers=2, bidirectional)\n y = dense(h, 2)\n output y\n"
              " loss = mse(y, t)\n}\n",
              1);
    check_all("model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
              " h = gru(reverse(x), hidden=2, bidirectional, merge=sum)\n y = dense(h, 2)\n"
              " loss = mse(y, t)\n}\n",
              1);
}

static void test_generate(void **state)
{
    (void)state;
    /* steps=6: a static trip count, no length symbol to fix */
    const char *src = "model g {\n input x0 : [2]\n target c : seq<[2]>\n"
                      " y = generate(gru, x0, steps=6, hidden=3, feedback)\n output y\n loss = mse(y, c)\n}\n";
    check(src, 6, 0, 1);
    check(src, 6, 2, 1);
    check(src, 6, 3, 1);
}

static void test_user_cell(void **state)
{
    (void)state;
    /* W is used twice in a step: the case where gradient sums reassociate */
    check_all("cell two(x: [I]) -> [H] {\n"
              "  param W: [H, I]  param U: [H, H]  param b: [H]\n"
              "  state h: [H] = 0\n  state s: [H] = 0\n"
              "  h' = tanh(W @ x + U @ h + b)\n  s' = s * sigmoid(h') + h' / (1 + exp(s)) + W @ x\n"
              "  out s'\n}\n"
              "model m {\n input x : seq<[2]>\n target t : seq<[3]>\n"
              " y = two(x, H=3)\n output y\n loss = mse(y, t)\n}\n",
              1);
}

static void test_encoder_decoder(void **state)
{
    (void)state;
    check_all("model ed {\n input src : seq<int>\n input tin : seq<int>\n target tout : seq<int>\n"
              " se = embedding(src, vocab=3, dim=2)\n enc = gru(se, hidden=3)\n"
              " te = embedding(tin, vocab=3, dim=2)\n dec = gru(te, hidden=3, init=enc)\n"
              " logits = dense(dec, 3)\n output p = softmax(logits)\n"
              " loss = cross_entropy(logits, tout)\n}\n",
              3);
}

/* ---- structure and errors ------------------------------------------------------------ */

static const char *rnn_src = "model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
                             " h = rnn(x, hidden=3)\n y = dense(h, 2)\n output y\n loss = mse(y, t)\n}\n";

static int count_kind(const IrBlock *b, IrOpKind k)
{
    int n = 0;
    for (int i = 0; i < b->nops; i++) {
        n += b->ops[i]->kind == k;
        if (b->ops[i]->body) n += count_kind(b->ops[i]->body, k);
    }
    return n;
}

static void test_structure(void **state)
{
    (void)state;
    char err[512] = "";
    /* full: T index ops of x, one stack of the outputs, the length fixed */
    TuBuilt b = tu_build(rnn_src);
    int tanh1 = count_kind(b.m->body, IR_TANH);
    assert_int_equal(unroll_full(b.m, 5, err, sizeof err), 0);
    assert_int_equal(count_kind(b.m->body, IR_INDEX), 5);
    assert_int_equal(count_kind(b.m->body, IR_STACK), 1);
    assert_int_equal(count_kind(b.m->body, IR_TANH), 5 * tanh1);
    assert_int_equal(b.m->nsyms, 1);
    assert_int_equal(b.m->inputs[0].value->type.dim[0], 5);
    /* a tensor of another length is now rejected with a clear message */
    TensorMap params, inputs, out;
    make_data(b.m, 5, 1, &params, &inputs);
    rt_map_free(&inputs);
    rt_map_init(&inputs);
    put_random(&inputs, "x", b.m->inputs[0].value->type, 5, -1, 1, 1);
    inputs.tensors[0].shape[0] = 3; /* claim 3 steps (fewer elements: only read less) */
    rt_map_init(&out);
    assert_int_equal(interp_run(b.m, &params, &inputs, &out, IR_PREC_F64, err, sizeof err), -1);
    assert_non_null(strstr(err, "input 'x'"));
    inputs.tensors[0].shape[0] = 5;
    rt_map_free(&params);
    rt_map_free(&inputs);
    rt_map_free(&out);
    tu_built_free(&b);

    /* by 2 of 6: one scan of 3 iterations over x reshaped to [3, 2, B, 2] */
    b = tu_build(rnn_src);
    assert_int_equal(unroll_specialize(b.m, 6, err, sizeof err), 0);
    assert_int_equal(unroll_by(b.m, 2, err, sizeof err), 0);
    assert_int_equal(count_kind(b.m->body, IR_RESHAPE), 2);
    for (int i = 0; i < b.m->body->nops; i++) {
        const IrOp *op = b.m->body->ops[i];
        if (op->kind != IR_SCAN) continue;
        const IrType *t = &op->operands[op->attrs.n_carried]->type;
        assert_int_equal(t->rank, 4);
        assert_int_equal(t->dim[0], 3);
        assert_int_equal(t->dim[1], 2);
        assert_int_equal(count_kind(op->body, IR_TANH), 2 * tanh1);
    }
    /* factor 1 changes nothing */
    int nops = b.m->body->nops;
    assert_int_equal(unroll_by(b.m, 1, err, sizeof err), 0);
    assert_int_equal(b.m->body->nops, nops);
    tu_built_free(&b);
}

static void test_errors(void **state)
{
    (void)state;
    char err[512] = "";
    /* a symbolic length and no steps given */
    TuBuilt b = tu_build(rnn_src);
    assert_int_equal(unroll_full(b.m, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "known at run time"));
    assert_int_equal(unroll_by(b.m, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "known at run time"));
    /* not a multiple of the factor */
    assert_int_equal(unroll_specialize(b.m, 5, err, sizeof err), 0);
    assert_int_equal(unroll_by(b.m, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a multiple of the factor 2"));
    assert_int_equal(unroll_by(b.m, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "at least 1"));
    assert_int_equal(ir_verify(b.m, "test_unroll", stderr), 0); /* a refused rewrite leaves it intact */
    tu_built_free(&b);

    /* above the declared maximum */
    b = tu_build(rnn_src);
    b.m->syms[1].max = 4;
    assert_int_equal(unroll_full(b.m, 5, err, sizeof err), -1);
    assert_non_null(strstr(err, "declared maximum 4"));
    assert_int_equal(unroll_full(b.m, 0 - 3, err, sizeof err), -1);
    assert_int_equal(unroll_full(b.m, 100000, err, sizeof err), -1);
    assert_non_null(strstr(err, "more than"));
    tu_built_free(&b);
}

/* The reshape op on its own: verifier, interpreter, gradient. */
static void test_reshape_op(void **state)
{
    (void)state;
    FILE *null = tmpfile();
    assert_non_null(null);
    IrModule *m = ir_module_new("r");
    int64_t d23[2] = {2, 3}, d32[2] = {3, 2}, d4[1] = {4};
    IrInit zero = {IR_INIT_ZERO, 0};
    IrValue *p = ir_add_param(m, "p", ir_type(IR_F32, 2, d23), zero);
    IrType t32 = ir_type(IR_F32, 2, d32);
    IrValue *r = ir_op(m, m->body, IR_RESHAPE, &p, 1, &t32, 1)->results[0];
    IrValue *t = ir_add_target(m, "t", t32);
    m->loss = ir_op2(m, m->body, IR_MSE, ir_op1(m, m->body, IR_TANH, r), t);
    assert_int_equal(ir_verify(m, "test", stderr), 0);

    /* a wrong element count, and a symbol on one side only, are rejected */
    IrType t4 = ir_type(IR_F32, 1, d4);
    IrOp *bad = ir_op(m, m->body, IR_RESHAPE, &p, 1, &t4, 1);
    assert_int_equal(ir_verify(m, "test", null), 1);
    int64_t dsym[2] = {IR_DIM_B, 6};
    bad->results[0]->type = ir_type(IR_F32, 2, dsym);
    assert_int_equal(ir_verify(m, "test", null), 1);
    m->body->nops--; /* drop the bad op */
    fclose(null);

    char err[512] = "";
    assert_int_equal(autodiff(m, err, sizeof err), 0);
    TensorMap params, inputs, out;
    make_data(m, 1, 1, &params, &inputs);
    run(m, &params, &inputs, IR_PREC_F64, &out);
    const double *pv = rt_map_get(&params, "p")->data, *tv = rt_map_get(&inputs, "t")->data;
    const double *g = rt_map_get(&out, "grad:p")->data;
    for (int i = 0; i < 6; i++) { /* d/dp mean((tanh p - t)^2), element i in row-major order */
        double y = tanh(pv[i]), want = 2 * (y - tv[i]) / 6 * (1 - y * y);
        /* the same few operations in another order: 1e-14 */
        assert_true(fabs(g[i] - want) <= 1e-14);
    }
    rt_map_free(&params);
    rt_map_free(&inputs);
    rt_map_free(&out);
    ir_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rnn),
        cmocka_unit_test(test_lstm),
        cmocka_unit_test(test_gru),
        cmocka_unit_test(test_bidirectional_stacked),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_user_cell),
        cmocka_unit_test(test_encoder_decoder),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_reshape_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
