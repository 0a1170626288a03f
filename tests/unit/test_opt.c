/* test_opt.c - passes/hoist.c, cse.c, dce.c and pipeline.c: the optimized
 * module computes what the original computes, forward and (after autodiff)
 * backward, for rnn, lstm, gru, bidirectional (reverse scans), stacked
 * layers, a user cell, generate (no sequence operand) and an
 * encoder-decoder; plus the structure each pass leaves.
 *
 * Forward values are compared for exact equality, in F64 and F32: hoisting
 * computes the same ops on the same values (a linear over [T, B, K] sums
 * each row's K products in the same order as over [B, K]), cse and dce only
 * drop ops, so the interpreter must produce the same bits.
 * Gradients are compared to 1e-12 relative: autodiff of a hoisted linear
 * sums the weight gradient over all T*B rows in one linear_wgrad, where the
 * scan's backward sweep adds T per-step sums into an accumulator; the same
 * terms in another association, each sum rounding by ~1e-16 relative over
 * a few dozen terms. */
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
#include "passes/cse.h"
#include "passes/dce.h"
#include "passes/hoist.h"
#include "passes/merge_linear.h"
#include "passes/pipeline.h"
#include "io/tensor.h"
#include "tests/unit/test_util.h"

static uint64_t rng_state = 4242;

static double urand(double lo, double hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

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
            if (!ok)
                fail_msg("%s: %s[%lld]: original %.17g, optimized %.17g", what, want->names[i], (long long)k, x, y);
        }
    }
}

static int count_kind(const IrBlock *b, IrOpKind k)
{
    int n = 0;
    for (int i = 0; i < b->nops; i++) {
        n += b->ops[i]->kind == k;
        if (b->ops[i]->body) n += count_kind(b->ops[i]->body, k);
    }
    return n;
}

static int count_ops(const IrBlock *b)
{
    int n = b->nops;
    for (int i = 0; i < b->nops; i++)
        if (b->ops[i]->body) n += count_ops(b->ops[i]->body);
    return n;
}

/* Linears inside scan bodies (top-level scans). */
static int linears_in_loops(const IrBlock *top)
{
    int n = 0;
    for (int i = 0; i < top->nops; i++)
        if (top->ops[i]->kind == IR_SCAN) n += count_kind(top->ops[i]->body, IR_LINEAR);
    return n;
}

/* The check: src as built and after optimize() agree forward (exactly,
 * F64 and F32) and in every gradient after autodiff; every scan over a
 * sequence has at least one linear fewer in its loop; and optimizing the
 * differentiated module keeps its outputs and gradients exactly. */
static void check(const char *src, int64_t T, int64_t idmax)
{
    TuBuilt r = tu_build(src), o = tu_build(src);
    char err[512] = "";
    int before = count_ops(o.m->body), seq_scans = 0;
    for (int i = 0; i < o.m->body->nops; i++)
        seq_scans += o.m->body->ops[i]->kind == IR_SCAN && o.m->body->ops[i]->attrs.n_seq_in > 0;
    int loop_linears = linears_in_loops(o.m->body);
    if (optimize(o.m, err, sizeof err)) fail_msg("optimize: %s", err);
    assert_int_equal(ir_verify(o.m, "test_opt", stderr), 0);
    assert_true(count_ops(o.m->body) <= before + count_kind(o.m->body, IR_LINEAR));
    /* every scan over a sequence has lost at least its input projection */
    assert_true(linears_in_loops(o.m->body) <= loop_linears - seq_scans);

    TensorMap params, inputs, a, b;
    make_data(r.m, T, idmax, &params, &inputs);
    for (int p = 0; p < 2; p++) {
        IrPrecision prec = p ? IR_PREC_F32 : IR_PREC_F64;
        run(r.m, &params, &inputs, prec, &a);
        run(o.m, &params, &inputs, prec, &b);
        assert_true(a.count > 0);
        compare(&a, &b, -1, p ? "forward F32" : "forward F64");
        rt_map_free(&a);
        rt_map_free(&b);
    }

    if (autodiff(r.m, err, sizeof err)) fail_msg("autodiff original: %s", err);
    if (autodiff(o.m, err, sizeof err)) fail_msg("autodiff optimized: %s", err);
    run(r.m, &params, &inputs, IR_PREC_F64, &a);
    run(o.m, &params, &inputs, IR_PREC_F64, &b);
    double gsum = 0; /* the gradients must not be trivially zero */
    for (int i = 0; i < a.count; i++)
        if (!strncmp(a.names[i], "grad:", 5))
            for (int64_t k = 0; k < rt_numel(&a.tensors[i]); k++) gsum += fabs(((double *)a.tensors[i].data)[k]);
    assert_true(gsum > 1e-3);
    compare(&a, &b, 1e-12, "gradients");
    rt_map_free(&a);
    rt_map_free(&b);

    /* Optimizing the differentiated module (forward and backward scans)
     * keeps every output and gradient: the same ops on the same values,
     * except that sink sums each weight gradient over all T*B rows at once
     * instead of step by step: the same terms added in another order, so
     * F64 results agree to a few ulps of the sum (1e-12 relative leaves
     * room for T*B ~ 10 reorderings at 1.1e-16 each). */
    TuBuilt g = tu_build(src);
    if (autodiff(g.m, err, sizeof err)) fail_msg("autodiff: %s", err);
    run(g.m, &params, &inputs, IR_PREC_F64, &a);
    if (optimize(g.m, err, sizeof err)) fail_msg("optimize grad: %s", err);
    run(g.m, &params, &inputs, IR_PREC_F64, &b);
    compare(&a, &b, 1e-12, "optimized gradient module");
    /* no weight gradient is accumulated step by step any more */
    for (int i = 0; i < g.m->body->nops; i++)
        if (g.m->body->ops[i]->kind == IR_SCAN && g.m->body->ops[i]->attrs.reverse)
            assert_int_equal(count_kind(g.m->body->ops[i]->body, IR_LINEAR_WGRAD), 0);
    /* nor an input gradient g_t W: sink multiplies all steps after the loop */
    for (int i = 0; i < g.m->body->nops; i++) {
        const IrOp *F = g.m->body->ops[i];
        if (F->kind != IR_SCAN) continue;
        for (int k = F->attrs.n_carried; k < F->body->nyields; k++) {
            const IrValue *y = F->body->yields[k];
            int product = y->kind == IR_VAL_OP && y->def->parent == F->body &&
                          (y->def->kind == IR_MATMUL_NN || y->def->kind == IR_LINEAR) &&
                          !(y->def->operands[1]->kind == IR_VAL_OP && y->def->operands[1]->def->parent == F->body) &&
                          !(y->def->operands[1]->kind == IR_VAL_BLOCK_ARG && y->def->operands[1]->block == F->body);
            assert_false(product);
        }
    }
    rt_map_free(&a);
    rt_map_free(&b);
    tu_built_free(&g);

    rt_map_free(&params);
    rt_map_free(&inputs);
    tu_built_free(&r);
    tu_built_free(&o);
}

static void check_all(const char *src, int64_t idmax)
{
    check(src, 5, idmax);
    check(src, 1, idmax);
}

/* ---- models ------------------------------------------------------------------------- */

static const char *rnn_src = "model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
                             " h = rnn(x, hidden=3)\n y = dense(h, 2)\n output y\n loss = mse(y, t)\n}\n";
static const char *lstm_src = "model a {\n input x : seq<[2]>\n target t : [2]\n"
                              " h = lstm(x, hidden=3)\n y = dense(last(h), 2)\n output y\n loss = mse(y, t)\n}\n";

static void test_rnn(void **state)
{
    (void)state;
    check_all(rnn_src, 1);
}

static void test_lstm(void **state)
{
    (void)state;
    check_all(lstm_src, 1);
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
    check_all("model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
              " h = rnn(x, hidden=3, layers=3)\n y = dense(h, 2)\n output y\n loss = mse(y, t)\n}\n",
              1);
}

static void test_user_cell(void **state)
{
    (void)state;
    /* W @ x twice (cse merges them once hoisted), a gate of x alone
     * (sigmoid(W @ x) lifts too), two states */
    check_all("cell two(x: [I]) -> [H] {\n"
              "  param W: [H, I]  param U: [H, H]  param b: [H]\n"
              "  state h: [H] = 0\n  state s: [H] = 0\n"
              "  h' = tanh(W @ x + U @ h + b)\n  s' = s * sigmoid(W @ x) + h' / (1 + exp(s)) + W @ x\n"
              "  out s'\n}\n"
              "model m {\n input x : seq<[2]>\n target t : seq<[3]>\n"
              " y = two(x, H=3)\n output y\n loss = mse(y, t)\n}\n",
              1);
    check_all("model m {\n input x : seq<[2]>\n target t : [3]\n"
              " y = mygru(x, H=3)\n output o = last(y)\n loss = mse(last(y), t)\n}\n" TU_MYGRU_SRC,
              1);
}

static void test_generate(void **state)
{
    (void)state;
    const char *src = "model g {\n input x0 : [2]\n target c : seq<[2]>\n"
                      " y = generate(gru, x0, steps=6, hidden=3, feedback)\n output y\n loss = mse(y, c)\n}\n";
    check(src, 6, 1);
    /* no sequence operand: hoist adds none, and every linear of the loop
     * reads the carried state (the fed-back output), so all stay */
    TuBuilt b = tu_build(src);
    char err[256];
    int lin = linears_in_loops(b.m->body);
    assert_int_equal(hoist(b.m, err, sizeof err), 0);
    assert_int_equal(linears_in_loops(b.m->body), lin);
    for (int i = 0; i < b.m->body->nops; i++)
        if (b.m->body->ops[i]->kind == IR_SCAN) assert_int_equal(b.m->body->ops[i]->attrs.n_seq_in, 0);
    tu_built_free(&b);
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

/* ---- structure ---------------------------------------------------------------------- */

static void test_hoist_structure(void **state)
{
    (void)state;
    char err[256];
    TuBuilt b = tu_build(lstm_src);
    assert_int_equal(linears_in_loops(b.m->body), 2);
    assert_int_equal(hoist(b.m, err, sizeof err), 0);
    /* the loop keeps the recurrent linear only */
    assert_int_equal(linears_in_loops(b.m->body), 1);
    /* one linear over the whole sequence [T, B, 2] before the scan, whose
     * result the scan reads as a sequence; the b_ih add stays in the body
     * (no lifted op reads it: it fuses into the step's map there) */
    int seen_scan = 0, seq_linears = 0;
    const IrOp *scan = NULL;
    for (int i = 0; i < b.m->body->nops; i++) {
        const IrOp *op = b.m->body->ops[i];
        if (op->kind == IR_SCAN) {
            seen_scan = 1;
            scan = op;
        }
        if (op->kind == IR_LINEAR && op->operands[0]->kind == IR_VAL_INPUT) {
            assert_false(seen_scan);
            assert_int_equal(op->results[0]->type.rank, 3);
            assert_int_equal(op->results[0]->type.dim[2], 12);
            seq_linears++;
        }
    }
    assert_int_equal(seq_linears, 1);
    assert_non_null(scan);
    assert_int_equal(scan->attrs.n_seq_in, 2);
    const IrValue *proj = scan->operands[scan->attrs.n_carried + 1];
    assert_int_equal(proj->def->kind, IR_LINEAR);
    const IrValue *step = scan->body->args[scan->attrs.n_carried + 1];
    int bias_adds = 0;
    for (int i = 0; i < scan->body->nops; i++) {
        const IrOp *op = scan->body->ops[i];
        bias_adds += op->kind == IR_ADD && op->operands[0] == step && op->operands[1]->kind == IR_VAL_PARAM;
    }
    assert_int_equal(bias_adds, 1);
    /* hoisting again finds nothing more to move */
    int n = count_ops(b.m->body);
    assert_int_equal(hoist(b.m, err, sizeof err), 0);
    assert_int_equal(count_ops(b.m->body), n);
    tu_built_free(&b);

    /* a reverse scan is hoisted the same way */
    b = tu_build("model a {\n input x : seq<[2]>\n target t : seq<[4]>\n"
                 " h = rnn(x, hidden=2, bidirectional)\n loss = mse(h, t)\n}\n");
    int scans = 0, rev = 0;
    assert_int_equal(hoist(b.m, err, sizeof err), 0);
    for (int i = 0; i < b.m->body->nops; i++) {
        const IrOp *op = b.m->body->ops[i];
        if (op->kind != IR_SCAN) continue;
        scans++;
        rev += op->attrs.reverse;
        assert_int_equal(count_kind(op->body, IR_LINEAR), 1);
    }
    assert_int_equal(scans, 2);
    assert_int_equal(rev, 1);
    tu_built_free(&b);
}

/* The LSTM's gate gradient, four zero-padded concats added up, folds into
 * one concat of the four gate gradients, and cse and dce leave no other
 * concat in the backward loop. */
static void test_fold_gate_gradients(void **state)
{
    (void)state;
    char err[256];
    TuBuilt b = tu_build(lstm_src);
    if (autodiff(b.m, err, sizeof err)) fail_msg("autodiff: %s", err);
    const IrOp *rev = NULL;
    for (int i = 0; i < b.m->body->nops; i++)
        if (b.m->body->ops[i]->kind == IR_SCAN && b.m->body->ops[i]->attrs.reverse) rev = b.m->body->ops[i];
    assert_non_null(rev);
    assert_int_equal(count_kind(rev->body, IR_CONCAT), 4);
    if (optimize(b.m, err, sizeof err)) fail_msg("optimize: %s", err);
    assert_int_equal(count_kind(rev->body, IR_CONCAT), 1);
    const IrOp *cat = NULL;
    for (int i = 0; i < rev->body->nops; i++)
        if (rev->body->ops[i]->kind == IR_CONCAT) cat = rev->body->ops[i];
    assert_int_equal(cat->noperands, 4);
    for (int i = 0; i < 4; i++) assert_int_not_equal(cat->operands[i]->def->kind, IR_CONST);
    tu_built_free(&b);
}

/* merge_linear (passes/merge_linear.h) on an LSTM written gate by gate:
 * the four products of x and the four of h each become one in the loop,
 * the joined weights are computed outside it, and the numbers stay.  In
 * F64: the forward products are the same sums term for term, so the
 * outputs and loss are equal exactly; the gradients of the merged module
 * sum the four gates' contributions to dh inside one product instead of
 * adding four, a reordering of K = 4H = 12 terms at 1.1e-16 each, so
 * 1e-12 relative.  Then optimize keeps one product of h in the loop. */
static const char *gates_src = "cell tl(x: [I]) -> [H] {\n"
                               " param Wi: [H, I]  param Wf: [H, I]  param Wg: [H, I]  param Wo: [H, I]\n"
                               " param Ui: [H, H]  param Uf: [H, H]  param Ug: [H, H]  param Uo: [H, H]\n"
                               " param bi: [H] init normal(0.1)  param bf: [H] init normal(0.1)\n"
                               " param bg: [H] init normal(0.1)  param bo: [H] init normal(0.1)\n"
                               " state h: [H] = 0\n state c: [H] = 0\n"
                               " i = sigmoid(Wi @ x + Ui @ h + bi)\n f = sigmoid(Wf @ x + Uf @ h + bf)\n"
                               " g = tanh(Wg @ x + Ug @ h + bg)\n o = sigmoid(Wo @ x + Uo @ h + bo)\n"
                               " c' = f * c + i * g\n h' = o * tanh(c')\n out h'\n}\n"
                               "model a {\n input x : seq<[2]>\n target t : seq<[3]>\n"
                               " h = tl(x, H=3)\n loss = mse(h, t)\n output h\n}\n";

static void test_merge_linear(void **state)
{
    (void)state;
    char err[256];
    TuBuilt r = tu_build(gates_src), o = tu_build(gates_src);
    const IrOp *scan = NULL;
    for (int i = 0; i < o.m->body->nops; i++)
        if (o.m->body->ops[i]->kind == IR_SCAN) scan = o.m->body->ops[i];
    assert_non_null(scan);
    assert_int_equal(count_kind(scan->body, IR_LINEAR), 8);
    assert_int_equal(merge_linear(o.m, err, sizeof err), 6);
    assert_int_equal(count_kind(scan->body, IR_LINEAR), 2);
    assert_int_equal(count_kind(scan->body, IR_CONCAT), 0); /* the weights are joined outside the loop */

    TensorMap params, inputs, a, b;
    make_data(r.m, 5, 1, &params, &inputs);
    run(r.m, &params, &inputs, IR_PREC_F64, &a);
    run(o.m, &params, &inputs, IR_PREC_F64, &b);
    compare(&a, &b, -1, "merged forward F64");
    rt_map_free(&a);
    rt_map_free(&b);
    if (autodiff(r.m, err, sizeof err) || autodiff(o.m, err, sizeof err)) fail_msg("autodiff: %s", err);
    run(r.m, &params, &inputs, IR_PREC_F64, &a);
    run(o.m, &params, &inputs, IR_PREC_F64, &b);
    compare(&a, &b, 1e-12, "merged gradients");
    rt_map_free(&a);
    rt_map_free(&b);
    if (optimize(o.m, err, sizeof err)) fail_msg("optimize: %s", err);
    for (int i = 0; i < o.m->body->nops; i++)
        if (o.m->body->ops[i]->kind == IR_SCAN && !o.m->body->ops[i]->attrs.reverse)
            assert_int_equal(count_kind(o.m->body->ops[i]->body, IR_LINEAR), 1);
    rt_map_free(&params);
    rt_map_free(&inputs);
    tu_built_free(&r);
    tu_built_free(&o);
}

/* A dead op (an unused tanh) is removed; outputs and the loss stay. */
static void test_dce(void **state)
{
    (void)state;
    char err[256];
    TuBuilt b = tu_build(rnn_src);
    int n = count_ops(b.m->body);
    IrValue *x = b.m->outputs[0].value;
    ir_op1(b.m, b.m->body, IR_TANH, x);                /* dead */
    IrValue *kept = ir_op1(b.m, b.m->body, IR_EXP, x); /* made an output: live */
    ir_add_output(b.m, "kept", kept);
    assert_int_equal(dce(b.m, err, sizeof err), 1);
    assert_int_equal(count_ops(b.m->body), n + 1);
    assert_int_equal(count_kind(b.m->body, IR_EXP), 1);
    assert_non_null(b.m->loss->def);
    /* nothing left to remove */
    assert_int_equal(dce(b.m, err, sizeof err), 0);
    /* an op inside a scan body that no yield needs goes too */
    IrOp *scan = NULL;
    for (int i = 0; i < b.m->body->nops; i++)
        if (b.m->body->ops[i]->kind == IR_SCAN) scan = b.m->body->ops[i];
    assert_non_null(scan);
    int inside = scan->body->nops;
    ir_op1(b.m, scan->body, IR_NEG, scan->body->args[0]);
    assert_int_equal(dce(b.m, err, sizeof err), 1);
    assert_int_equal(scan->body->nops, inside);
    /* a whole scan whose results nobody reads goes */
    b.m->noutputs = 0;
    b.m->loss = NULL;
    assert_true(dce(b.m, err, sizeof err) > 1);
    assert_int_equal(b.m->body->nops, 0);
    tu_built_free(&b);
}

/* A duplicate op is merged and its uses moved; different attrs are not. */
static void test_cse(void **state)
{
    (void)state;
    char err[256];
    TuBuilt b = tu_build(rnn_src);
    IrValue *x = b.m->outputs[0].value;
    IrValue *a1 = ir_op1(b.m, b.m->body, IR_TANH, x);
    IrValue *a2 = ir_op1(b.m, b.m->body, IR_TANH, x); /* the same as a1 */
    IrValue *s1 = ir_slice(b.m, b.m->body, x, 0, 1);
    IrValue *s2 = ir_slice(b.m, b.m->body, x, 1, 1); /* another start: kept */
    IrValue *sum = ir_op2(b.m, b.m->body, IR_ADD, a1, a2);
    ir_add_output(b.m, "sum", sum);
    ir_add_output(b.m, "s", ir_op2(b.m, b.m->body, IR_ADD, s1, s2));
    int tanhs = count_kind(b.m->body, IR_TANH);
    TensorMap params, inputs, before, after;
    make_data(b.m, 4, 1, &params, &inputs);
    run(b.m, &params, &inputs, IR_PREC_F64, &before);
    assert_true(cse(b.m, err, sizeof err) >= 1);
    assert_int_equal(count_kind(b.m->body, IR_TANH), tanhs - 1);
    assert_int_equal(count_kind(b.m->body, IR_SLICE), 2);
    assert_ptr_equal(sum->def->operands[0], sum->def->operands[1]);
    run(b.m, &params, &inputs, IR_PREC_F64, &after);
    compare(&before, &after, -1, "cse");
    rt_map_free(&before);
    rt_map_free(&after);
    rt_map_free(&params);
    rt_map_free(&inputs);
    tu_built_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rnn),
        cmocka_unit_test(test_lstm),
        cmocka_unit_test(test_gru),
        cmocka_unit_test(test_bidirectional_stacked),
        cmocka_unit_test(test_user_cell),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_encoder_decoder),
        cmocka_unit_test(test_hoist_structure),
        cmocka_unit_test(test_fold_gate_gradients),
        cmocka_unit_test(test_dce),
        cmocka_unit_test(test_cse),
        cmocka_unit_test(test_merge_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
