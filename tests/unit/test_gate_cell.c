/* test_gate_cell.c - an LSTM written gate by gate, as the textbook writes
 * it (W_i @ x, W_f @ x, ..., U_o @ h), runs the built-in lstm's kernels
 * (issue 18 item 4): merge_linear joins its eight products into two
 * (passes/merge_linear.h), stack_share keeps its backward scan from
 * storing the gate gradients three times (passes/stack_share.h).
 *   - the compiled module (JIT, optimized) gives the interpreter's outputs,
 *     loss and gradients (float64, unoptimized: no merge, no sharing);
 *   - its kernel IR has the built-in lstm's GEMMs, in and out of the loops,
 *     and its backward scan the built-in's stacked outputs;
 *   - compiled for fixed weights (lower/kprepare.h), its forward pass
 *     neither joins nor packs the weights: the prepare function does, once,
 *     and the outputs stay the interpreter's. */
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
#include "lower/kcompile.h"
#include "lower/kprepare.h"
#include "passes/pipeline.h"

#define T 6
#define B 3

static const char *const GATES = "cell tl(x: [I]) -> [H] {\n"
                                 "  param Wi: [H, I]  param Wf: [H, I]  param Wg: [H, I]  param Wo: [H, I]\n"
                                 "  param Ui: [H, H]  param Uf: [H, H]  param Ug: [H, H]  param Uo: [H, H]\n"
                                 "  param bi: [H]  param bf: [H]  param bg: [H]  param bo: [H]\n"
                                 "  state h: [H] = 0\n  state c: [H] = 0\n"
                                 "  i = sigmoid(Wi @ x + Ui @ h + bi)\n  f = sigmoid(Wf @ x + Uf @ h + bf)\n"
                                 "  g = tanh(Wg @ x + Ug @ h + bg)\n  o = sigmoid(Wo @ x + Uo @ h + bo)\n"
                                 "  c' = f * c + i * g\n  h' = o * tanh(c')\n  out h'\n}\n"
                                 "model m {\n  input x : seq<[3]>\n  target y : seq<[5]>\n"
                                 "  h = tl(x, H=5)\n  output h\n  loss = mse(h, y)\n}\n";
static const char *const BUILTIN = "model m {\n  input x : seq<[3]>\n  target y : seq<[5]>\n"
                                   "  h = lstm(x, hidden=5)\n  output h\n  loss = mse(h, y)\n}\n";

/* src's gradient module (pipeline_grad), or its forward pass with the
 * loss (pipeline_forward), optimized or not; *prog must outlive it. */
static IrModule *module(const char *src, int grad, int optimize, Program **prog)
{
    char err[512] = "";
    IrModule *m = tu_build_src(src, prog);
    PipeOpts o = {.optimize = optimize};
    if (grad ? pipeline_grad(m, 0, &o, err, sizeof err) : pipeline_forward(m, 1, &o, err, sizeof err))
        fail_msg("pipeline: %s", err);
    return m;
}

static IrModule *grad_module(const char *src, int optimize, Program **prog) { return module(src, 1, optimize, prog); }

/* A tensor of the given shape, U(-a, a). */
static void put(TensorMap *map, const char *name, int rank, const int64_t *shape, float a, RtRng *rng)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, RT_F32, rank, shape), 0);
    for (int64_t k = 0; k < rt_numel(&t); k++) ((float *)t.data)[k] = rt_rng_uniform_sym(rng, a);
    assert_int_equal(rt_map_put(map, name, &t), 0);
}

static double at(const Tensor *t, int64_t k)
{
    return t->dtype == RT_F64 ? ((const double *)t->data)[k] : (double)((const float *)t->data)[k];
}

static void run(const Engine *e, const IrModule *m, const TensorMap *params, const TensorMap *in, TensorMap *out)
{
    char err[512] = "";
    rt_map_init(out);
    if (e->run(e, m, params, in, out, err, sizeof err)) fail_msg("%s: %s", e->name, err);
}

/* The JIT on the optimized module against the interpreter in float64 on
 * the module as autodiff made it: h, the loss and every gradient.  The
 * optimized module sums differently: each product in float32 (the
 * interpreter sums in double and rounds once), and backward the four
 * gates' parts of dh inside one product of K = 4H = 20 terms instead of
 * four products added (merge_linear).  Float32 rounds each op to 2^-24 =
 * 6e-8 relative; the longest chain here, six steps forward and back at a
 * few dozen ops a step, is under 500 ops on values and gradients below 1
 * in magnitude: 500 * 6e-8 = 3e-5, so 1e-4 * max(1, |want|) has a margin
 * of 3.  (Measured: at most 7e-9.) */
static void check_against_interp(int grad, int fixed)
{
    Program *p1, *p2;
    IrModule *ref = module(GATES, grad, 0, &p1), *m = module(GATES, grad, 1, &p2);
    TensorMap params, in, want, got;
    rt_map_init(&params);
    rt_map_init(&in);
    RtRng rng;
    rt_rng_seed(&rng, 5);
    for (int k = 0; k < ref->nparams; k++) {
        const IrParam *pp = &ref->params[k];
        put(&params, pp->name, pp->value->type.rank, pp->value->type.dim, 0.5f, &rng);
    }
    put(&in, "x", 3, (int64_t[]){T, B, 3}, 1.0f, &rng);
    put(&in, "y", 3, (int64_t[]){T, B, 5}, 1.0f, &rng);
    Engine e;
    char err[512] = "";
    assert_int_equal(engine_open("jit", &e, err, sizeof err), 0);
    if (fixed) engine_fix_params(&e, &params);
    run(&engine_interp_f64, ref, &params, &in, &want);
    for (int twice = 0; twice <= fixed; twice++) { /* fixed: the second run on the packs the first made */
        if (twice) rt_map_free(&got);
        run(&e, m, &params, &in, &got);
    }
    assert_true(want.count >= (grad ? 14 : 2)); /* h, the loss, 12 gradients */
    assert_int_equal(got.count, want.count);
    for (int i = 0; i < want.count; i++) {
        const Tensor *w = &want.tensors[i], *g = rt_map_get(&got, want.names[i]);
        if (!g) fail_msg("jit: no output '%s'", want.names[i]);
        assert_int_equal(rt_numel(g), rt_numel(w));
        for (int64_t k = 0; k < rt_numel(w); k++)
            if (!(fabs(at(g, k) - at(w, k)) <= 1e-4 * fmax(1, fabs(at(w, k)))))
                fail_msg("'%s'[%lld]: jit %.9g, interpreter %.9g", want.names[i], (long long)k, at(g, k), at(w, k));
    }
    engine_close(&e);
    rt_map_free(&want);
    rt_map_free(&got);
    rt_map_free(&in);
    rt_map_free(&params);
    ir_free(m);
    ir_free(ref);
    ast_free(p1);
    ast_free(p2);
}

static void test_engine_matches_interp(void **state)
{
    (void)state;
    check_against_interp(1, 0);
}

/* The forward pass compiled for fixed weights (kcompile_prepared): the
 * maps joining the weights and the packs of the joined matrices are all
 * in the prepare function, none is left at the top of the function, as
 * for the built-in lstm; run twice on the same weights (the second time
 * on the packs of the first), its outputs are the interpreter's, with
 * the tolerance of test_engine_matches_interp. */
static void test_prepared_joins(void **state)
{
    (void)state;
    const char *srcs[2] = {GATES, BUILTIN};
    for (int k = 0; k < 2; k++) {
        Program *prog;
        IrModule *m = module(srcs[k], 0, 1, &prog);
        char err[512] = "";
        KFunc *prep = NULL, *f = kcompile_prepared(m, "fwd", &prep, err, sizeof err);
        if (!f || !prep) fail_msg("kcompile_prepared: %s", err);
        int prep_maps = 0;
        for (int i = 0; i < prep->body.n; i++) prep_maps += prep->body.stmts[i]->kind == KS_MAP;
        assert_int_equal(prep_maps > 0, k == 0); /* the joins of the gate-by-gate cell */
        for (int i = 0; i < f->body.n; i++) {
            const KStmt *s = f->body.stmts[i];
            assert_int_not_equal(s->kind, KS_PACK_B);
            for (int j = 0; s->kind == KS_MAP && j < s->nin; j++) assert_false(kprepare_is_weight(f, s->in[j].v.buf));
        }
        kfunc_free(f);
        kfunc_free(prep);
        ir_free(m);
        ast_free(prog);
    }
    check_against_interp(0, 1);
}

/* GEMMs of block b: in[0] outside any loop, in[1] inside one. */
static void count_gemms(const KBlock *b, int depth, int in[2])
{
    for (int i = 0; i < b->n; i++) {
        const KStmt *s = b->stmts[i];
        if (s->kind == KS_GEMM) in[depth > 0]++;
        if (s->kind == KS_LOOP) count_gemms(&s->body, depth + 1, in);
    }
}

/* The stacked outputs of the top-level reverse scan of m. */
static int reverse_outputs(const IrModule *m)
{
    for (int i = 0; i < m->body->nops; i++) {
        const IrOp *op = m->body->ops[i];
        if (op->kind == IR_SCAN && op->attrs.reverse) return op->attrs.n_seq_out;
    }
    fail_msg("no reverse scan");
    return -1;
}

/* The gate-by-gate cell's training module compiles to the built-in's
 * GEMMs: per step one of h forward and one back, before the forward loop
 * one input projection, after the backward loop the input gradient and
 * one weight gradient per joined matrix.  Its backward scan stores the
 * built-in's one sequence of gate gradients [T, B, 4H] (without
 * stack_share: six, that one twice and each gate's part on its own). */
static void test_builtin_kernels(void **state)
{
    (void)state;
    Program *p1, *p2;
    IrModule *gm = grad_module(GATES, 1, &p1), *bm = grad_module(BUILTIN, 1, &p2);
    assert_int_equal(reverse_outputs(gm), reverse_outputs(bm));
    assert_int_equal(reverse_outputs(gm), 1);
    char err[512] = "";
    KFunc *gk = kcompile(gm, "g", err, sizeof err), *bk = kcompile(bm, "b", err, sizeof err);
    if (!gk || !bk) fail_msg("kcompile: %s", err);
    int gn[2] = {0, 0}, bn[2] = {0, 0};
    count_gemms(&gk->body, 0, gn);
    count_gemms(&bk->body, 0, bn);
    assert_int_equal(gn[1], 2); /* h W^T forward, dgates U back */
    assert_int_equal(gn[1], bn[1]);
    assert_int_equal(gn[0], bn[0]);
    kfunc_free(gk);
    kfunc_free(bk);
    ir_free(gm);
    ir_free(bm);
    ast_free(p1);
    ast_free(p2);
}

/* A cell whose backward scan stacks a concat that is itself part of a
 * wider stacked concat: stack_share slices the first from the second, and
 * an output sliced from the first must come after that slice (random
 * model 3042 of tests/diff, which stopped the C engine with "'slice' ...
 * used before its definition"; passes/stack_share.c append_in_order).
 * The gradient module builds and verifies. */
static const char *const NESTED =
    "cell c0(x: [I], v: [K]) -> [H] {\n"
    "  param W0: [2*I, K]  param W1: [2*I, K]  param W2: [2*I, 2H]  param b3: [2*I]\n"
    "  param W4: [2I, 2I]  param b5: [2*I]  param W6: [H, H + I + K]  param W7: [H, I]  param b8: [H]\n"
    "  param W9: [H, H + I + K]  param W10: [H, H + I]  param W11: [H + 3, I]  param b12: [H + 3]\n"
    "  param W13: [H, I]  param W14: [H, I]\n"
    "  state h: [H] = 0\n  state c: [H] = 0\n"
    "  p0, p1 = split((softplus(((W0 + W1) @ v)) + (1 * ((W2 @ concat(c, h)) + b3))), 2)\n"
    "  p2, p3 = split(((W4 @ concat(p0, p0)) + b5), 2)\n"
    "  h' = tanh(((W6 @ concat(x, v, h)) + ((W7 @ x) + b8)))\n"
    "  c' = relu(tanh(((W9 @ concat(x, v, c)) + ((W10 @ concat(c, p3)) + 0.5))))\n"
    "  out tanh(slice(((W11 @ x) + b12), 0, H) + (W13 @ p1) + (W14 @ p2))\n}\n"
    "model m {\n  input ids0 : seq<int>\n  e1 = embedding(ids0, vocab=3, dim=5)\n"
    "  g2 = c0(e1, mean(e1), H=17)\n  a3 = slice(g2, 1, 12)\n"
    "  h4 = lstm(a3, hidden=10, bidirectional=true, init=learned)\n  logits5 = dense(h4, 6)\n"
    "  output probs6 = softmax(logits5)\n  target y7 : seq<int, 9>\n  loss = cross_entropy(logits5, y7)\n}\n";

static void test_nested_concat_shared(void **state)
{
    (void)state;
    Program *prog;
    IrModule *m = grad_module(NESTED, 1, &prog); /* fails the test if the pipeline does */
    ir_free(m);
    ast_free(prog);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_matches_interp),
        cmocka_unit_test(test_prepared_joins),
        cmocka_unit_test(test_builtin_kernels),
        cmocka_unit_test(test_nested_concat_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
