/* test_autodiff.c - reverse-mode autodiff (passes/autodiff.c) checked
 * against finite differences: every op's vector-Jacobian rule on a small
 * module built by hand, and whole models parsed from .rnn sources (rnn,
 * lstm, gru, a bidirectional stacked lstm, a user cell with two states,
 * a user cell with softplus, generate with feedback, embedding + cross_entropy, mse, mean/last/
 * reverse, encoder-decoder).  Also the errors: no loss, and the module
 * after autodiff verifying.
 *
 * Every check runs the interpreter in F64 and compares each parameter
 * element's analytic gradient with the central difference
 * (L(p + eps) - L(p - eps)) / 2 eps, eps = 1e-6. */
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
#include "io/tensor.h"
#include "tests/unit/test_util.h"

#define EPS 1e-6

/* ---- random data ---------------------------------------------------------------- */

static uint64_t rng_state;

static double urand(double lo, double hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

/* A tensor of type t, size symbol 0 (B) = nb and every other symbol = nt. */
static void make_tensor(IrType t, int64_t nb, int64_t nt, double lo, double hi, int64_t idmax, Tensor *out)
{
    int64_t shape[IR_MAX_RANK];
    for (int d = 0; d < t.rank; d++) shape[d] = t.dim[d] >= 0 ? t.dim[d] : t.dim[d] == IR_DIM_B ? nb : nt;
    assert_int_equal(rt_tensor_alloc(out, t.dtype == IR_I64 ? RT_I64 : RT_F64, t.rank, shape), 0);
    for (int64_t i = 0; i < rt_numel(out); i++) {
        if (t.dtype == IR_I64)
            ((int64_t *)out->data)[i] = (int64_t)urand(0, (double)idmax);
        else
            ((double *)out->data)[i] = urand(lo, hi);
    }
}

/* Random F64 parameters in [lo, hi), and inputs/targets (ids in [0, idmax)). */
static void make_data(const IrModule *m, double lo, double hi, int64_t idmax, TensorMap *params, TensorMap *inputs)
{
    Tensor t;
    rt_map_init(params);
    rt_map_init(inputs);
    for (int i = 0; i < m->nparams; i++) {
        make_tensor(m->params[i].value->type, 2, 3, lo, hi, idmax, &t);
        assert_int_equal(rt_map_put(params, m->params[i].name, &t), 0);
    }
    for (int i = 0; i < m->ninputs; i++) {
        make_tensor(m->inputs[i].value->type, 2, 3, -1, 1, idmax, &t);
        assert_int_equal(rt_map_put(inputs, m->inputs[i].name, &t), 0);
    }
    for (int i = 0; i < m->ntargets; i++) {
        make_tensor(m->targets[i].value->type, 2, 3, -1, 1, idmax, &t);
        assert_int_equal(rt_map_put(inputs, m->targets[i].name, &t), 0);
    }
}

/* ---- the check ------------------------------------------------------------------------ */

static double run_loss(const IrModule *m, const TensorMap *params, const TensorMap *inputs)
{
    TensorMap out;
    char err[512] = "";
    rt_map_init(&out);
    if (interp_run(m, params, inputs, &out, IR_PREC_F64, err, sizeof err)) fail_msg("interp: %s", err);
    const Tensor *l = rt_map_get(&out, "loss");
    assert_non_null(l);
    double v = ((const double *)l->data)[0];
    rt_map_free(&out);
    return v;
}

/* Differentiates m and compares every parameter element's gradient with a
 * central difference.  Returns the number of elements checked. */
static int check_grads(IrModule *m, double lo, double hi, int64_t idmax)
{
    char err[512] = "";
    int np = m->nparams;
    if (autodiff(m, err, sizeof err)) fail_msg("autodiff: %s", err);
    assert_int_equal(ir_verify(m, "test_autodiff", stderr), 0);

    TensorMap params, inputs, out;
    make_data(m, lo, hi, idmax, &params, &inputs);
    rt_map_init(&out);
    if (interp_run(m, &params, &inputs, &out, IR_PREC_F64, err, sizeof err)) fail_msg("interp: %s", err);

    int checked = 0;
    double worst = 0;
    for (int i = 0; i < np; i++) {
        char name[512];
        snprintf(name, sizeof name, "grad:%s", m->params[i].name);
        const Tensor *g = rt_map_get(&out, name);
        if (!g) fail_msg("no output '%s'", name);
        Tensor *p = rt_map_get(&params, m->params[i].name);
        assert_int_equal(rt_numel(g), rt_numel(p));
        for (int64_t k = 0; k < rt_numel(p); k++) {
            double *x = &((double *)p->data)[k], x0 = *x;
            *x = x0 + EPS;
            double lp = run_loss(m, &params, &inputs);
            *x = x0 - EPS;
            double lm = run_loss(m, &params, &inputs);
            *x = x0;
            double fd = (lp - lm) / (2 * EPS), an = ((const double *)g->data)[k];
            /* Central differences: truncation O(eps^2) ~ 1e-12 and rounding
             * ~ 1e-16 |L| / eps ~ 1e-10, so 1e-6 relative (plus 1e-8
             * absolute for gradients near zero) has a wide margin while a
             * wrong rule (off by a factor, a sign, a step) is far outside. */
            double tol = 1e-6 * fabs(an) + 1e-8;
            if (fabs(fd - an) > tol)
                fail_msg("%s[%lld]: autodiff %.12g, finite difference %.12g", m->params[i].name, (long long)k, an, fd);
            if (fabs(fd - an) > worst) worst = fabs(fd - an);
            checked++;
        }
    }
    rt_map_free(&params);
    rt_map_free(&inputs);
    rt_map_free(&out);
    return checked;
}

/* ---- single ops, built by hand ------------------------------------------------------- */

static IrType ty(int rank, int64_t a, int64_t b, int64_t c)
{
    int64_t d[3] = {a, b, c};
    return ir_type(IR_F32, rank, d);
}

static IrValue *param(IrModule *m, const char *name, IrType t)
{
    IrInit init = {IR_INIT_ZERO, 0};
    return ir_add_param(m, name, t, init);
}

/* loss = mse(y, target) */
static void mse_loss(IrModule *m, IrValue *y)
{
    IrValue *t = ir_add_target(m, "t", y->type);
    m->loss = ir_op2(m, m->body, IR_MSE, y, t);
}

static void check_unary(IrOpKind k, double lo, double hi)
{
    IrModule *m = ir_module_new("u");
    IrValue *p = param(m, "p", ty(2, 2, 3, 0));
    mse_loss(m, ir_op1(m, m->body, k, p));
    assert_int_equal(check_grads(m, lo, hi, 1), 6);
    ir_free(m);
}

static void test_unary(void **state)
{
    (void)state;
    check_unary(IR_NEG, -1, 1);
    check_unary(IR_SIGMOID, -2, 2);
    check_unary(IR_TANH, -2, 2);
    check_unary(IR_RELU, -1, 1); /* no element lands within eps of 0 with this seed */
    check_unary(IR_EXP, -1, 1);
    check_unary(IR_LOG, 0.5, 1.5);
    check_unary(IR_SOFTPLUS, -4, 4);
    /* Past the threshold softplus is x, of gradient 1; the rule's
     * sigmoid(x) is 1 - e^-x there, within 2e-9 of it: inside the
     * tolerance, and no element lands within eps of 20 with this seed. */
    check_unary(IR_SOFTPLUS, 15, 25);
    check_unary(IR_SOFTMAX, -2, 2);
}

/* a [2, 3] op b, with b of shape bt (broadcast) */
static void check_binary(IrOpKind k, IrType bt)
{
    IrModule *m = ir_module_new("b");
    IrValue *a = param(m, "a", ty(2, 2, 3, 0)), *b = param(m, "b", bt);
    IrValue *y = ir_op2(m, m->body, k, a, b);
    mse_loss(m, ir_op1(m, m->body, IR_TANH, y)); /* tanh: a non-trivial upstream gradient */
    check_grads(m, 0.5, 1.5, 1);
    ir_free(m);
}

static void test_binary_broadcast(void **state)
{
    (void)state;
    IrOpKind ks[4] = {IR_ADD, IR_SUB, IR_MUL, IR_DIV};
    for (int i = 0; i < 4; i++) {
        check_binary(ks[i], ty(2, 2, 3, 0));
        check_binary(ks[i], ty(1, 3, 0, 0));
        check_binary(ks[i], ty(2, 2, 1, 0));
    }
    /* x * x: one value used twice, the gradients must add up */
    IrModule *m = ir_module_new("sq");
    IrValue *p = param(m, "p", ty(1, 4, 0, 0));
    mse_loss(m, ir_op2(m, m->body, IR_MUL, p, p));
    assert_int_equal(check_grads(m, -1, 1, 1), 4);
    ir_free(m);
}

static void test_linear(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("lin");
    IrValue *x = param(m, "x", ty(3, 2, 2, 3)), *w = param(m, "W", ty(2, 4, 3, 0));
    mse_loss(m, ir_op2(m, m->body, IR_LINEAR, x, w));
    assert_int_equal(check_grads(m, -1, 1, 1), 12 + 12);
    ir_free(m);
}

static void test_shape_ops(void **state)
{
    (void)state;
    /* concat then slice across the seam */
    IrModule *m = ir_module_new("cs");
    IrValue *a = param(m, "a", ty(2, 2, 2, 0)), *b = param(m, "b", ty(2, 2, 3, 0));
    IrValue *c = ir_op2(m, m->body, IR_CONCAT, a, b);
    IrValue *s = ir_slice(m, m->body, c, 1, 3);
    mse_loss(m, ir_op2(m, m->body, IR_MUL, s, s));
    check_grads(m, -1, 1, 1);
    ir_free(m);

    /* broadcast [3] -> [2, 3] */
    m = ir_module_new("bc");
    IrValue *p = param(m, "p", ty(1, 3, 0, 0));
    IrType rt = ty(2, 2, 3, 0);
    IrValue *bv = ir_op(m, m->body, IR_BROADCAST, &p, 1, &rt, 1)->results[0];
    mse_loss(m, bv);
    check_grads(m, -1, 1, 1);
    ir_free(m);

    /* stack and index */
    m = ir_module_new("si");
    IrValue *u = param(m, "u", ty(1, 3, 0, 0)), *v = param(m, "v", ty(1, 3, 0, 0));
    IrValue *uv[2] = {u, v};
    IrType st = ty(2, 2, 3, 0);
    IrValue *stk = ir_op(m, m->body, IR_STACK, uv, 2, &st, 1)->results[0];
    IrType it = ty(1, 3, 0, 0);
    IrOp *ix = ir_op(m, m->body, IR_INDEX, &stk, 1, &it, 1);
    ix->attrs.index = 1;
    mse_loss(m, ir_op2(m, m->body, IR_MUL, ix->results[0], ir_op1(m, m->body, IR_TANH, stk)));
    check_grads(m, -1, 1, 1);
    ir_free(m);
}

static void test_seq_ops(void **state)
{
    (void)state;
    IrOpKind ks[3] = {IR_SEQ_LAST, IR_SEQ_REVERSE, IR_SEQ_MEAN};
    for (int i = 0; i < 3; i++) {
        IrModule *m = ir_module_new("seq");
        IrValue *p = param(m, "p", ty(3, 3, 2, 2));
        mse_loss(m, ir_op1(m, m->body, ks[i], ir_op1(m, m->body, IR_TANH, p)));
        assert_int_equal(check_grads(m, -1, 1, 1), 12);
        ir_free(m);
    }
}

static void test_nn_ops(void **state)
{
    (void)state;
    /* embedding: a table row used twice must get both contributions
     * (5 ids drawn from 3 rows) */
    IrModule *m = ir_module_new("emb");
    IrValue *tab = param(m, "table", ty(2, 3, 2, 0));
    int64_t idd[1] = {5};
    IrValue *ids = ir_add_input(m, "ids", ir_type(IR_I64, 1, idd));
    mse_loss(m, ir_op2(m, m->body, IR_EMBEDDING, tab, ids));
    check_grads(m, -1, 1, 3);
    ir_free(m);

    /* cross entropy of computed logits */
    m = ir_module_new("ce");
    IrValue *lg = param(m, "logits", ty(2, 3, 4, 0));
    int64_t td[1] = {3};
    IrValue *t = ir_add_target(m, "t", ir_type(IR_I64, 1, td));
    m->loss = ir_op2(m, m->body, IR_CROSS_ENTROPY, ir_op1(m, m->body, IR_TANH, lg), t);
    check_grads(m, -2, 2, 4);
    ir_free(m);

    /* mse of two varying values: the target side gets the negated gradient */
    m = ir_module_new("mse2");
    IrValue *a = param(m, "a", ty(2, 2, 3, 0)), *b = param(m, "b", ty(2, 2, 3, 0));
    m->loss = ir_op2(m, m->body, IR_MSE, ir_op1(m, m->body, IR_SIGMOID, a), b);
    check_grads(m, -1, 1, 1);
    ir_free(m);
}

/* ---- whole models from source ----------------------------------------------------------- */

static void check_src(const char *src, int64_t idmax)
{
    Program *p;
    IrModule *m = tu_build_src(src, &p);
    assert_true(check_grads(m, -0.6, 0.6, idmax) > 0);
    ir_free(m);
    ast_free(p);
}

static void test_rnn(void **state)
{
    (void)state;
    check_src("model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
              " h = rnn(x, hidden=3)\n y = dense(h, 2)\n loss = mse(y, t)\n}\n",
              1);
    check_src("model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
              " h = rnn(x, hidden=3, act=relu)\n y = dense(h, 2)\n loss = mse(y, t)\n}\n",
              1);
}

/* layernorm over rows of 5 (x[2, 3, 5]) and a user cell that normalizes
 * inside its step, so the rule also runs through a scan's tape.  The
 * default tolerance holds: the rows' spread in [-1, 1] keeps 1/sqrt(var +
 * eps) below ~3, so the loss's third derivatives, which set the central
 * difference's O(eps^2) error, stay small. */
static void test_layernorm(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("ln");
    IrValue *p = param(m, "p", ty(3, 2, 3, 5));
    IrOp *ln = ir_op1(m, m->body, IR_LAYERNORM, p)->def;
    ln->attrs.eps = 1e-5;
    mse_loss(m, ir_op1(m, m->body, IR_TANH, ln->results[0]));
    assert_int_equal(check_grads(m, -1, 1, 1), 30);
    ir_free(m);
    check_src("cell c(x: [I]) -> [H] {\n param W: [H, I]  param U: [H, H]\n state h: [H] = 0\n"
              " h' = tanh(layernorm(W @ x) + U @ layernorm(h))\n out h'\n}\n"
              "model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
              " h = c(x, H=4)\n y = dense(layernorm(h), 2)\n loss = mse(y, t)\n}\n",
              1);
}

static void test_lstm(void **state)
{
    (void)state;
    check_src("model a {\n input x : seq<[2]>\n target t : [2]\n"
              " h = lstm(x, hidden=3)\n y = dense(last(h), 2)\n loss = mse(y, t)\n}\n",
              1);
}

static void test_gru(void **state)
{
    (void)state;
    check_src("model a {\n input x : seq<[2]>\n target t : [2]\n"
              " h = gru(x, hidden=3)\n y = dense(mean(h), 2)\n loss = mse(y, t)\n}\n",
              1);
}

static void test_bidirectional_stacked_lstm(void **state)
{
    (void)state;
    check_src("model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
              " h = lstm(x, hidden=2, layers=2, bidirectional)\n y = dense(h, 2)\n"
              " loss = mse(y, t)\n}\n",
              1);
    check_src("model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
              " h = gru(reverse(x), hidden=2, bidirectional, merge=sum, init=learned)\n"
              " y = dense(h, 2)\n loss = mse(y, t)\n}\n",
              1);
}

static void test_user_cell_two_states(void **state)
{
    (void)state;
    check_src("cell two(x: [I]) -> [H] {\n"
              "  param W: [H, I]  param U: [H, H]  param b: [H]\n"
              "  state h: [H] = 0\n  state s: [H] = 0\n"
              "  h' = tanh(W @ x + U @ h + b)\n  s' = s * sigmoid(h') + h' / (1 + exp(s))\n"
              "  out s'\n}\n"
              "model m {\n input x : seq<[2]>\n target t : seq<[3]>\n"
              " y = two(x, H=3)\n loss = mse(y, t)\n}\n",
              1);
}

/* softplus in a user cell, on the input's projection and on the state:
 * its rule inside the scan (the operand on the tape) and outside. */
static void test_user_cell_softplus(void **state)
{
    (void)state;
    check_src("cell sp(x: [I]) -> [H] {\n"
              "  param W: [H, I]  param U: [H, H]  param b: [H]\n"
              "  state h: [H] = 0\n"
              "  h' = tanh(softplus(W @ x + b) - softplus(U @ h))\n"
              "  out h'\n}\n"
              "model m {\n input x : seq<[2]>\n target t : seq<[3]>\n"
              " y = sp(x, H=3)\n loss = mse(y, t)\n}\n",
              1);
}

static void test_generate_feedback(void **state)
{
    (void)state;
    check_src("model g {\n input x0 : [2]\n target c : seq<[2]>\n"
              " y = generate(gru, x0, steps=4, hidden=3, feedback)\n loss = mse(y, c)\n}\n",
              1);
    check_src("model g {\n input x0 : [2]\n target c : seq<[3]>\n"
              " y = generate(lstm, x0, steps=3, hidden=3, init=learned)\n loss = mse(y, c)\n}\n",
              1);
}

static void test_embedding_cross_entropy(void **state)
{
    (void)state;
    check_src("model lm {\n input tok : seq<int>\n target nxt : seq<int>\n"
              " e = embedding(tok, vocab=4, dim=3)\n h = rnn(e, hidden=3)\n"
              " logits = dense(h, 4)\n output p = softmax(logits)\n"
              " loss = cross_entropy(logits, nxt)\n}\n",
              4);
}

static void test_encoder_decoder(void **state)
{
    (void)state;
    check_src("model ed {\n input src : seq<int>\n input tin : seq<int>\n target tout : seq<int>\n"
              " se = embedding(src, vocab=3, dim=2)\n enc = gru(se, hidden=3)\n"
              " te = embedding(tin, vocab=3, dim=2)\n dec = gru(te, hidden=3, init=enc)\n"
              " logits = dense(dec, 3)\n loss = cross_entropy(logits, tout)\n}\n",
              3);
}

/* ---- errors and structure ------------------------------------------------------------------ */

static void test_no_loss(void **state)
{
    (void)state;
    Program *p;
    IrModule *m = tu_build_src("model a {\n input x : seq<[2]>\n h = rnn(x, hidden=3)\n output h\n}\n", &p);
    char err[256] = "";
    assert_int_equal(autodiff(m, err, sizeof err), -1);
    assert_non_null(strstr(err, "no loss"));
    ir_free(m);
    ast_free(p);
}

/* One output per parameter, in parameter order, with its type; a scan
 * gives a reverse scan. */
static void test_outputs(void **state)
{
    (void)state;
    Program *p;
    IrModule *m = tu_build_src("model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
                               " h = rnn(x, hidden=3)\n y = dense(h, 2)\n output y\n loss = mse(y, t)\n}\n",
                               &p);
    char err[256] = "";
    int nout = m->noutputs;
    assert_int_equal(autodiff(m, err, sizeof err), 0);
    assert_int_equal(m->noutputs, nout + m->nparams);
    for (int i = 0; i < m->nparams; i++) {
        char name[256];
        snprintf(name, sizeof name, "grad:%s", m->params[i].name);
        assert_string_equal(m->outputs[nout + i].name, name);
        assert_true(ir_type_eq(m->outputs[nout + i].value->type, m->params[i].value->type));
    }
    int fwd = 0, bwd = 0;
    for (int i = 0; i < m->body->nops; i++)
        if (m->body->ops[i]->kind == IR_SCAN) {
            if (m->body->ops[i]->attrs.reverse)
                bwd++;
            else
                fwd++;
        }
    assert_int_equal(fwd, 1);
    assert_int_equal(bwd, 1);
    ir_free(m);
    ast_free(p);
}

int main(void)
{
    rng_state = 12345;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_binary_broadcast),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_shape_ops),
        cmocka_unit_test(test_seq_ops),
        cmocka_unit_test(test_nn_ops),
        cmocka_unit_test(test_rnn),
        cmocka_unit_test(test_lstm),
        cmocka_unit_test(test_gru),
        cmocka_unit_test(test_bidirectional_stacked_lstm),
        cmocka_unit_test(test_user_cell_two_states),
        cmocka_unit_test(test_user_cell_softplus),
        cmocka_unit_test(test_generate_feedback),
        cmocka_unit_test(test_embedding_cross_entropy),
        cmocka_unit_test(test_encoder_decoder),
        cmocka_unit_test(test_no_loss),
        cmocka_unit_test(test_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
