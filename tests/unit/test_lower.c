/* test_lower.c - lowering graph IR to kernel IR (lower/lower.c).
 *
 * The kernel IR is run by a small evaluator (kir_eval.h) and compared
 * with the graph-IR interpreter in F32 mode on the same random data: every
 * example forward after optimize(), gradient modules (autodiff, then
 * optimize) of an LSTM, a GRU, a tanh RNN and the user cells, training
 * steps (SGD with momentum, Adam, clipping by norm and by value), each at
 * two sizes of B and T, since the symbols stay symbolic.  Also the shape
 * of what comes out: an LSTM's loop holds exactly one GEMM, its input
 * projection is one GEMM before the loop, and a scan's per-step input is a
 * view, not a copy; the recurrent weights are packed before their loops
 * and the packed form gives the unpacked one's bits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kir/kir.h"
#include "lower/lower.h"
#include "lower/kcompile.h"
#include "lower/kfuse.h"
#include "lower/kprepare.h"
#include "lower/memplan.h"
#include "frontend/ast.h"
#include "frontend/sema.h"
#include "ir/interp.h"
#include "ir/ir.h"
#include "passes/autodiff.h"
#include "passes/pipeline.h"
#include "passes/train_step.h"
#include "passes/unroll.h"
#include "io/tensor.h"

#include "test_util.h"
#include "kir_eval.h"

/* Both sides round every op's result to float32; they differ where the
 * kernel IR sums in float what the interpreter sums in double (reduce_to,
 * mse, seq_mean, sumsq: n terms give up to ~n * 6e-8 of the sum of their
 * magnitudes, n <= a few hundred here) and where one op is a few float
 * operations (mse_grad, clip_scale: a few ulps); Adam divides by
 * sqrt(v) + eps with small v, which scales such differences up.  Measured:
 * below 3e-7 everywhere but the Adam step (5e-6).  So: 2e-5 relative,
 * plus an absolute 2e-6 for values that cancel to near zero (gradients
 * summed over steps). */
#define REL_TOL 2e-5
#define ABS_TOL 2e-6

static uint64_t rng = 88172645463325252ULL;

static double urand(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

/* ---- modules ---------------------------------------------------------------------- */

/* STAGE_GRAD_RAW: autodiff without optimize(), so that the weight
 * gradients stay inside the backward scans as `acc + linear_wgrad`. */
typedef enum { STAGE_FWD, STAGE_GRAD, STAGE_GRAD_RAW, STAGE_TRAIN } Stage;

typedef struct Built {
    Program *prog;
    IrModule *m;
} Built;

static Built build(const char *src, const char *file, Stage stage, const TrainConfig *cfg)
{
    char err[512] = "";
    Diag d;
    diag_init(&d, file, src, stderr);
    Built b = {0};
    b.prog = parse_program(file, src, &d);
    assert_non_null(b.prog);
    b.m = sema_build(b.prog, NULL, &d);
    assert_non_null(b.m);
    if (stage != STAGE_FWD && autodiff(b.m, err, sizeof err)) fail_msg("autodiff: %s", err);
    if (stage == STAGE_TRAIN && train_step(b.m, cfg, err, sizeof err)) fail_msg("train_step: %s", err);
    if (stage != STAGE_GRAD_RAW && optimize(b.m, err, sizeof err)) fail_msg("optimize: %s", err);
    return b;
}

static void built_free(Built *b)
{
    ir_free(b->m);
    ast_free(b->prog);
}

static char *read_example(const char *name)
{
    char path[256];
    size_t len;
    snprintf(path, sizeof path, "examples/%s", name);
    char *src = (char *)tu_read_file(path, &len);
    if (!src) fail_msg("cannot read %s (run from the repository root)", path);
    return src;
}

/* ---- data ---------------------------------------------------------------------------- */

/* The smallest class count or vocabulary an i64 value is used against
 * (ids must be below it); 2 if it is used against none directly. */
static int64_t id_limit_block(const IrBlock *b, const IrValue *v, int64_t lim)
{
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        if (op->kind == IR_SCAN) lim = id_limit_block(op->body, v, lim);
        for (int k = 0; k < op->noperands; k++) {
            if (op->operands[k] != v) continue;
            int64_t n = -1;
            if (op->kind == IR_EMBEDDING || op->kind == IR_EMBEDDING_GRAD) n = op->operands[0]->type.dim[0];
            if (op->kind == IR_CROSS_ENTROPY || op->kind == IR_CROSS_ENTROPY_GRAD)
                n = op->operands[0]->type.dim[op->operands[0]->type.rank - 1];
            if (n > 0 && (lim < 0 || n < lim)) lim = n;
        }
    }
    return lim;
}

static int64_t sym_value(const IrModule *m, int s, int64_t B, int64_t T)
{
    (void)m;
    return s == IR_SYM_BATCH ? B : T + s - 1; /* each length its own value */
}

static void put_tensor(TensorMap *map, const IrModule *m, const char *name, const IrValue *v, int64_t B, int64_t T)
{
    int64_t shape[IR_MAX_RANK];
    for (int d = 0; d < v->type.rank; d++) {
        int64_t x = v->type.dim[d];
        shape[d] = x >= 0 ? x : sym_value(m, (int)(-x - 1), B, T);
    }
    Tensor t;
    int ids = v->type.dtype == IR_I64;
    assert_int_equal(rt_tensor_alloc(&t, ids ? RT_I64 : RT_F32, v->type.rank, shape), 0);
    int64_t lim = ids ? id_limit_block(m->body, v, -1) : 0;
    if (lim <= 0) lim = 2;
    for (int64_t i = 0; i < rt_numel(&t); i++) {
        if (ids)
            ((int64_t *)t.data)[i] = (int64_t)urand(0, (double)lim) % lim;
        else if (!strcmp(name, TRAIN_STEP_INPUT))
            ((float *)t.data)[i] = 3.0f; /* a whole step number */
        else if (!strncmp(name, TRAIN_OPT_PREFIX, strlen(TRAIN_OPT_PREFIX)))
            ((float *)t.data)[i] = (float)urand(0.0, 0.1); /* Adam's v must be >= 0 */
        else
            ((float *)t.data)[i] = (float)urand(-0.5, 0.5);
    }
    assert_int_equal(rt_map_put(map, name, &t), 0);
}

/* ---- lower, evaluate, compare ------------------------------------------------------------ */

typedef struct Stats {
    double max_rel; /* the largest |a - b| / (|b| + ABS_TOL / REL_TOL) seen */
    int values;
} Stats;

/* With planned != 0 the temporaries live in one arena as memplan() lays
 * them out (the NaN fill then only covers the first use of each slot). */
static int planned;

/* Runs m both ways at sizes B, T and compares every output and the loss. */
static void check_module(const IrModule *m, int64_t B, int64_t T, Stats *st)
{
    char err[512] = "";
    TensorMap params, inputs, want;
    rt_map_init(&params);
    rt_map_init(&inputs);
    rt_map_init(&want);
    for (int i = 0; i < m->nparams; i++) put_tensor(&params, m, m->params[i].name, m->params[i].value, B, T);
    for (int i = 0; i < m->ninputs; i++) put_tensor(&inputs, m, m->inputs[i].name, m->inputs[i].value, B, T);
    for (int i = 0; i < m->ntargets; i++) put_tensor(&inputs, m, m->targets[i].name, m->targets[i].value, B, T);
    if (interp_run(m, &params, &inputs, &want, IR_PREC_F32, err, sizeof err)) fail_msg("interp: %s", err);

    KFunc *f = lower(m, "forward", err, sizeof err);
    if (!f) fail_msg("lower %s: %s", m->name, err);
    int64_t sym[16];
    assert_true(m->nsyms <= 16);
    for (int s = 0; s < m->nsyms; s++) sym[s] = sym_value(m, s, B, T);

    void **args = calloc((size_t)f->nargs + 1, sizeof *args);
    void **res = calloc((size_t)f->nresults + 1, sizeof *res);
    for (int i = 0; i < f->nargs; i++) {
        const Tensor *t = rt_map_get(&params, f->args[i]->ext_name);
        if (!t) t = rt_map_get(&inputs, f->args[i]->ext_name);
        assert_non_null(t);
        assert_int_equal(rt_numel(t), kexpr_eval(f->args[i]->size, sym, NULL));
        args[i] = t->data;
    }
    for (int i = 0; i < f->nresults; i++) {
        int64_t n = kexpr_eval(f->results[i]->size, sym, NULL);
        res[i] = malloc((size_t)(n ? n : 1) * sizeof(float));
        for (int64_t k = 0; k < n; k++) ((float *)res[i])[k] = NAN; /* unwritten shows */
    }
    void *arena = NULL;
    if (planned) {
        kfuse(f); /* merged maps must compute the same numbers */
        if (memplan(f, err, sizeof err)) fail_msg("memplan %s: %s", m->name, err);
        int64_t bytes = kexpr_eval(f->arena_bytes, sym, NULL);
        arena = malloc((size_t)(bytes ? bytes : 1));
        assert_non_null(arena);
        for (int64_t k = 0; k < bytes / 4; k++) ((float *)arena)[k] = NAN;
    }
    int rc = kev_run_in(f, sym, args, res, arena, err, sizeof err);
    free(arena);
    if (rc) fail_msg("%s (B=%lld T=%lld): %s", m->name, (long long)B, (long long)T, err);

    for (int i = 0; i < f->nresults; i++) {
        const Tensor *t = rt_map_get(&want, f->results[i]->ext_name);
        assert_non_null(t);
        assert_int_equal(t->dtype, RT_F32);
        assert_int_equal(rt_numel(t), kexpr_eval(f->results[i]->size, sym, NULL));
        for (int64_t k = 0; k < rt_numel(t); k++) {
            double a = ((float *)res[i])[k], b = ((float *)t->data)[k];
            /* REL_TOL relative with an ABS_TOL floor: see the definitions above */
            double r = fabs(a - b) / (fabs(b) + ABS_TOL / REL_TOL);
            if (!(r <= REL_TOL))
                fail_msg("%s (B=%lld T=%lld): %s[%lld] = %.9g, interpreter %.9g", m->name, (long long)B, (long long)T,
                         f->results[i]->ext_name, (long long)k, a, b);
            if (r > st->max_rel) st->max_rel = r;
            st->values++;
        }
        free(res[i]);
    }
    free(args);
    free(res);
    kfunc_free(f);
    rt_map_free(&params);
    rt_map_free(&inputs);
    rt_map_free(&want);
}

static void check_src(const char *src, const char *file, Stage stage, const TrainConfig *cfg, Stats *st)
{
    Built b = build(src, file, stage, cfg);
    check_module(b.m, 2, 3, st);
    check_module(b.m, 3, 5, st);
    built_free(&b);
}

static const char *const EXAMPLES[] = {
    "one_to_one.rnn", "one_to_many.rnn",   "many_to_one.rnn",     "many_to_many.rnn",
    "stacked.rnn",    "bidirectional.rnn", "encoder_decoder.rnn", "user_cell.rnn",
};

static void test_examples_forward(void **state)
{
    (void)state;
    Stats st = {0};
    for (size_t i = 0; i < sizeof EXAMPLES / sizeof *EXAMPLES; i++) {
        char *src = read_example(EXAMPLES[i]);
        check_src(src, EXAMPLES[i], STAGE_FWD, NULL, &st);
        free(src);
    }
    print_message("examples forward: %d values, max scaled error %.3g\n", st.values, st.max_rel);
}

static void test_examples_grad(void **state)
{
    (void)state;
    Stats st = {0};
    /* LSTM (stacked, many-to-many), GRU (many-to-one, encoder-decoder),
     * the user cells, bidirectional, generation */
    for (size_t i = 0; i < sizeof EXAMPLES / sizeof *EXAMPLES; i++) {
        char *src = read_example(EXAMPLES[i]);
        check_src(src, EXAMPLES[i], STAGE_GRAD, NULL, &st);
        free(src);
    }
    print_message("examples gradient: %d values, max scaled error %.3g\n", st.values, st.max_rel);
}

/* The same through map fusion and the memory plan: merged loops, and
 * temporaries sharing memory as memplan() decided, still give the
 * interpreter's numbers. */
static void test_examples_planned(void **state)
{
    (void)state;
    Stats st = {0};
    planned = 1;
    for (size_t i = 0; i < sizeof EXAMPLES / sizeof *EXAMPLES; i++) {
        char *src = read_example(EXAMPLES[i]);
        check_src(src, EXAMPLES[i], STAGE_FWD, NULL, &st);
        check_src(src, EXAMPLES[i], STAGE_GRAD, NULL, &st);
        free(src);
    }
    planned = 0;
    print_message("examples through memplan: %d values, max scaled error %.3g\n", st.values, st.max_rel);
}

static const char *const RNN_SRC = "model r {\n input x : seq<[3]>\n target t : seq<[2]>\n"
                                   " h = rnn(x, hidden=5, layers=2)\n d = dense(h, 4)\n y = dense(relu(d), 2)\n"
                                   " loss = mse(y, t)\n}\n";

static void test_rnn_grad(void **state)
{
    (void)state;
    Stats st = {0};
    check_src(RNN_SRC, "r.rnn", STAGE_GRAD, NULL, &st);
    /* unoptimized: accumulations in the loop (GEMM beta = 1, in-place sums) */
    check_src(RNN_SRC, "r.rnn", STAGE_GRAD_RAW, NULL, &st);
    char *src = read_example("user_cell.rnn");
    check_src(src, "user_cell.rnn", STAGE_GRAD_RAW, NULL, &st);
    free(src);
    src = read_example("bidirectional.rnn");
    check_src(src, "bidirectional.rnn", STAGE_GRAD_RAW, NULL, &st);
    free(src);
    print_message("rnn gradient: %d values, max scaled error %.3g\n", st.values, st.max_rel);
}

static const char *const REV_SRC = "model v {\n input x : seq<[3]>\n target t : [2]\n"
                                   " h = gru(reverse(x), hidden=4)\n y = dense(mean(h), 2)\n loss = mse(y, t)\n}\n";

static void test_reverse_mean_grad(void **state)
{
    (void)state;
    Stats st = {0};
    check_src(REV_SRC, "v.rnn", STAGE_GRAD, NULL, &st);
    print_message("reverse/mean gradient: %d values, max scaled error %.3g\n", st.values, st.max_rel);
}

static void test_train_steps(void **state)
{
    (void)state;
    Stats st = {0};
    char *src = read_example("user_cell.rnn");
    TrainConfig sgd = train_config_default();
    sgd.opt = OPT_SGD;
    sgd.lr = 0.1;
    sgd.momentum = 0.9;
    sgd.weight_decay = 0.01;
    sgd.clip = CLIP_NORM;
    sgd.clip_value = 0.5;
    check_src(src, "user_cell.rnn", STAGE_TRAIN, &sgd, &st);
    TrainConfig adam = train_config_default();
    adam.lr = 0.01;
    adam.clip = CLIP_NORM;
    adam.clip_value = 1.0;
    check_src(src, "user_cell.rnn", STAGE_TRAIN, &adam, &st);
    free(src);
    src = read_example("many_to_one.rnn");
    TrainConfig clampd = train_config_default();
    clampd.opt = OPT_SGD;
    clampd.lr = 0.05;
    clampd.clip = CLIP_VALUE;
    clampd.clip_value = 0.01;
    check_src(src, "many_to_one.rnn", STAGE_TRAIN, &clampd, &st);
    free(src);
    print_message("train steps: %d values, max scaled error %.3g\n", st.values, st.max_rel);
}

static const char *const LSTM_SRC = "model a {\n input x : seq<[4]>\n target t : seq<[3]>\n"
                                    " h = lstm(x, hidden=5)\n y = dense(h, 3)\n loss = mse(y, t)\n}\n";

/* A user cell whose step reads a strided slice through a GEMM (lda past
 * the row), takes softmax of a slice (copied to be contiguous), and
 * passes one state on as another (a yield that is a carried argument). */
static const char *const ODD_SRC = "cell odd(x: [I]) -> [H] {\n"
                                   "  param W: [H, 2] init xavier\n  param U: [H, H] init orthogonal\n"
                                   "  param V: [2H, H] init xavier\n"
                                   "  state h: [H] = 0\n  state k: [H] = 0\n"
                                   "  a, b = split(x, 2)\n  p, q = split(V @ h, 2)\n"
                                   "  h' = tanh(W @ a + W @ b + U @ k + q)\n  k' = h\n"
                                   "  out h' * softmax(p)\n}\n"
                                   "model m {\n input x : seq<[4]>\n target y : [3]\n"
                                   " o = odd(x, H=5)\n z = dense(last(o), 3)\n loss = mse(z, y)\n}\n";

static void test_odd_cell(void **state)
{
    (void)state;
    Stats st = {0};
    check_src(ODD_SRC, "odd.rnn", STAGE_FWD, NULL, &st);
    check_src(ODD_SRC, "odd.rnn", STAGE_GRAD, NULL, &st);
    check_src(ODD_SRC, "odd.rnn", STAGE_GRAD_RAW, NULL, &st);
    print_message("odd cell: %d values, max scaled error %.3g\n", st.values, st.max_rel);
}

/* Results written straight into columns of a concat: a GEMM with its
 * bias, a GEMM under a map, a runtime call (softmax) and a plain map each
 * fill a strided part of one [B, n] buffer, so every one must be given the
 * row stride of the whole (ldc), not its own width.  Before the fix these
 * wrote contiguously and the model disagreed with the interpreter. */
static const char *const CONCAT_SRC = "cell cat(x: [I]) -> [2H + 6] {\n"
                                      "  param W: [H, I] init xavier\n  param U: [H, 2H] init orthogonal\n"
                                      "  param b: [H] init normal(0.2)\n  param V: [3, 2H]\n"
                                      "  state h: [2H] = 0\n"
                                      "  h' = tanh(concat((W @ x) + b, 0.75 - (U @ h)))\n"
                                      "  out concat(softmax(V @ h'), h' * h, (V @ h) + 1)\n"
                                      "}\n"
                                      "model m {\n input x : seq<[4]>\n target y : [3]\n"
                                      " o = cat(x, H=3)\n z = dense(last(o), 3)\n loss = mse(z, y)\n}\n";

static void test_concat_columns(void **state)
{
    (void)state;
    Stats st = {0};
    check_src(CONCAT_SRC, "cat.rnn", STAGE_FWD, NULL, &st);
    check_src(CONCAT_SRC, "cat.rnn", STAGE_GRAD, NULL, &st);
    print_message("concat columns: %d values, max scaled error %.3g\n", st.values, st.max_rel);
}

/* Columns of width 1: an embedding of dim 1 is a [B, 1] column of a
 * concat with row stride 4.  Its last stride is 1, but it is not dense:
 * the runtime call (which writes rows of D = 1 contiguously) needs a
 * temporary, and a GEMM writing such a column needs ldc = 4.  Before the
 * fix (differential seed 504) the call wrote B contiguous floats at
 * column 3, and rows >= 1 came out wrong in both compiled engines. */
static const char *const NARROW_SRC = "cell c0(x: [I], v: [K]) -> [H] {\n"
                                      "  param W2: [H, I + K] init normal(0.3)\n"
                                      "  out tanh(W2 @ concat(x, v))\n}\n"
                                      "cell c1(x: [I]) -> [H + 1] {\n"
                                      "  param W: [1, I] init normal(0.5)\n  param U: [H, I] init normal(0.5)\n"
                                      "  out concat(U @ x, W @ x)\n}\n"
                                      "model m {\n input id0 : int\n e1 = embedding(id0, vocab=17, dim=3)\n"
                                      " input id3 : int\n e4 = embedding(id3, vocab=16, dim=1)\n"
                                      " g5 = c0(e1, e4, H=4)\n g6 = c1(g5, H=3)\n target y : [4]\n"
                                      " loss = mse(g6, y)\n}\n";

static void test_narrow_columns(void **state)
{
    (void)state;
    Stats st = {0};
    check_src(NARROW_SRC, "narrow.rnn", STAGE_FWD, NULL, &st);
    check_src(NARROW_SRC, "narrow.rnn", STAGE_GRAD, NULL, &st);
    print_message("narrow columns: %d values, max scaled error %.3g\n", st.values, st.max_rel);
}

/* Unrolled scans: reshape and index (unroll_by), stack and index of every
 * step (unroll_full), forward and gradient, at T = 4. */
static void test_unrolled(void **state)
{
    (void)state;
    Stats st = {0};
    char err[512] = "";
    for (int full = 0; full < 2; full++)
        for (int grad = 0; grad < 2; grad++) {
            Built b = build(LSTM_SRC, "a.rnn", STAGE_GRAD_RAW, NULL);
            if (!grad) { /* rebuild without the gradient */
                built_free(&b);
                b = build(LSTM_SRC, "a.rnn", STAGE_FWD, NULL);
            }
            int rc = full ? unroll_full(b.m, 4, err, sizeof err)
                          : unroll_specialize(b.m, 4, err, sizeof err) || unroll_by(b.m, 2, err, sizeof err);
            if (rc) fail_msg("unroll: %s", err);
            if (optimize(b.m, err, sizeof err)) fail_msg("optimize: %s", err);
            check_module(b.m, 2, 4, &st);
            check_module(b.m, 3, 4, &st);
            built_free(&b);
        }
    print_message("unrolled: %d values, max scaled error %.3g\n", st.values, st.max_rel);
}

/* ---- structure ------------------------------------------------------------------------- */

static int count_kind(const KBlock *b, KStmtKind k)
{
    int n = 0;
    for (int i = 0; i < b->n; i++) n += b->stmts[i]->kind == k;
    return n;
}

static int uses_var(const KExpr *e, int var)
{
    if (!e) return 0;
    if (e->kind == KE_VAR) return e->index == var;
    return uses_var(e->a, var) || uses_var(e->b, var);
}

static void test_lstm_structure(void **state)
{
    (void)state;
    char err[512];
    Built b = build(LSTM_SRC, "a.rnn", STAGE_FWD, NULL);
    KFunc *f = lower(b.m, "forward", err, sizeof err);
    if (!f) fail_msg("lower: %s", err);
    assert_int_equal(count_kind(&f->body, KS_LOOP), 1);
    const KStmt *loop = NULL;
    for (int i = 0; i < f->body.n; i++)
        if (f->body.stmts[i]->kind == KS_LOOP) loop = f->body.stmts[i];
    /* the recurrent GEMM only in the loop; no loop inside it */
    assert_int_equal(count_kind(&loop->body, KS_GEMM), 1);
    assert_int_equal(count_kind(&loop->body, KS_LOOP), 0);
    /* the input projection: a GEMM before the loop reading the input x */
    const KBuf *x = f->args[0];
    assert_string_equal(x->ext_name, "x");
    int proj = -1;
    for (int i = 0; i < f->body.n && f->body.stmts[i] != loop; i++) {
        const KStmt *s = f->body.stmts[i];
        if (s->kind == KS_GEMM && s->A.buf == x) proj = i;
    }
    assert_true(proj >= 0);
    /* its result is read in the loop as a view at step t (the bias add
     * stays in the loop: hoist.h), and no map of the loop copies it (a
     * copy is one KM_IN node) */
    const KBuf *pre = f->body.stmts[proj]->C.buf;
    int step_reads = 0;
    for (int i = 0; i < loop->body.n; i++) {
        const KStmt *s = loop->body.stmts[i];
        if (s->kind != KS_MAP) continue;
        for (int k = 0; k < s->nin; k++) {
            if (s->in[k].v.buf != pre) continue;
            assert_true(uses_var(s->in[k].v.off, loop->var));
            assert_false(s->nnodes == 1 && s->nodes[0].op == KM_IN);
            step_reads++;
        }
    }
    assert_true(step_reads >= 1);
    kfunc_free(f);
    built_free(&b);
}

/* Without optimize(), the backward scan's weight accumulators take the
 * GEMM with beta = 1: no temporary and no add for them. */
static void test_grad_accumulates_in_place(void **state)
{
    (void)state;
    char err[512];
    Built b = build(RNN_SRC, "r.rnn", STAGE_GRAD_RAW, NULL);
    KFunc *f = lower(b.m, "grad", err, sizeof err);
    if (!f) fail_msg("lower: %s", err);
    int beta1 = 0, gemms = 0;
    for (int i = 0; i < f->body.n; i++) {
        const KStmt *s = f->body.stmts[i];
        if (s->kind != KS_LOOP) continue;
        for (int k = 0; k < s->body.n; k++)
            if (s->body.stmts[k]->kind == KS_GEMM) {
                gemms++;
                beta1 += s->body.stmts[k]->beta == 1.0f;
            }
    }
    assert_true(gemms > 0);
    assert_true(beta1 > 0);
    kfunc_free(f);
    built_free(&b);
}

/* ---- packed recurrent weights (lower_pack.c) ------------------------------------------- */

/* Runs f (planned when `plan`: kfuse and memplan, temporaries in one
 * NaN-filled arena) on the tensors of `data` at B, T; returns the results,
 * one malloc'd array per result. */
static float **run_on(KFunc *f, const IrModule *m, const TensorMap *data, int64_t B, int64_t T, int plan)
{
    char err[512] = "";
    int64_t sym[16];
    assert_true(m->nsyms <= 16);
    for (int s = 0; s < m->nsyms; s++) sym[s] = sym_value(m, s, B, T);
    void **args = calloc((size_t)f->nargs + 1, sizeof *args);
    float **res = calloc((size_t)f->nresults + 1, sizeof *res);
    for (int i = 0; i < f->nargs; i++) {
        const Tensor *t = rt_map_get(data, f->args[i]->ext_name);
        assert_non_null(t);
        args[i] = t->data;
    }
    for (int i = 0; i < f->nresults; i++) {
        int64_t n = kexpr_eval(f->results[i]->size, sym, NULL);
        res[i] = malloc((size_t)(n ? n : 1) * sizeof(float));
    }
    void *arena = NULL;
    if (plan) {
        kfuse(f);
        if (memplan(f, err, sizeof err)) fail_msg("memplan %s: %s", m->name, err);
        int64_t bytes = kexpr_eval(f->arena_bytes, sym, NULL);
        arena = malloc((size_t)(bytes ? bytes : 1));
        assert_non_null(arena);
        for (int64_t k = 0; k < bytes / 4; k++) ((float *)arena)[k] = NAN;
    }
    if (kev_run_in(f, sym, args, (void *const *)res, arena, err, sizeof err))
        fail_msg("%s (B=%lld T=%lld): %s", m->name, (long long)B, (long long)T, err);
    free(arena);
    free(args);
    return res;
}

/* Checks the packing in f: every GEMM of a loop body reading an argument
 * (a parameter: invariant) reads it packed, from a pack_b before the loop
 * that reads that argument; GEMMs whose B is a view of a step are not
 * packed (checked when packs_expected).  Returns the number of packed
 * GEMMs. */
static int check_packing(const KFunc *f, int packs_expected)
{
    int packed = 0;
    for (int i = 0; i < f->body.n; i++) {
        const KStmt *loop = f->body.stmts[i];
        if (loop->kind == KS_GEMM && loop->packed_b) { /* a top-level g W (lower_pack.c pack_top) */
            assert_true(packs_expected);
            assert_true(i > 0 && f->body.stmts[i - 1]->kind == KS_PACK_B && f->body.stmts[i - 1]->C.buf == loop->B.buf);
            assert_int_equal(f->body.stmts[i - 1]->B.buf->kind, KB_ARG);
            packed++;
            continue;
        }
        if (loop->kind != KS_LOOP) continue;
        for (int k = 0; k < loop->body.n; k++) {
            const KStmt *g = loop->body.stmts[k];
            if (g->kind != KS_GEMM) continue;
            if (!g->packed_b) { /* B changes over the loop: not an argument, or a step of one */
                if (packs_expected) assert_true(g->B.buf->kind != KB_ARG || uses_var(g->B.off, loop->var));
                continue;
            }
            const KStmt *pack = NULL;
            for (int j = 0; j < i; j++)
                if (f->body.stmts[j]->kind == KS_PACK_B && f->body.stmts[j]->C.buf == g->B.buf) pack = f->body.stmts[j];
            assert_non_null(pack);
            assert_int_equal(pack->B.buf->kind, KB_ARG);
            assert_true(kexpr_eval(pack->N, (int64_t[16]){2, 3, 4, 5}, NULL) ==
                        kexpr_eval(g->N, (int64_t[16]){2, 3, 4, 5}, NULL));
            packed++;
        }
    }
    return packed;
}

/* lower() packs the recurrent weights; lower_unpacked() does not.  Both
 * forms give the same bits: the evaluator computes a GEMM from op(B)
 * whether it reads B or its pack (a copy in the evaluator's model of the
 * pack, kir_eval.h), in the same order, so any difference would be a
 * wrong view, a wrong transpose or a pack the memory plan let something
 * overwrite - hence exact equality, planned and unplanned.  Forward and
 * gradient of an LSTM (W_hh^T forward, W_hh in the backward scan), the
 * odd cell (two recurrent weights, one of them split) and the raw
 * gradient of a 2-layer RNN (GEMMs inside the backward loop reading step
 * views: not packed). */
static void test_packed_weights(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        Stage stage;
        int min_packed;
    } cases[] = {
        {LSTM_SRC, STAGE_FWD, 1}, {LSTM_SRC, STAGE_GRAD, 2},    {ODD_SRC, STAGE_FWD, 2},
        {ODD_SRC, STAGE_GRAD, 2}, {RNN_SRC, STAGE_GRAD_RAW, 2},
    };
    char err[512];
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        Built b = build(cases[c].src, "p.rnn", cases[c].stage, NULL);
        const IrModule *m = b.m;
        for (int plan = 0; plan < 2; plan++) {
            KFunc *fp = lower(m, "packed", err, sizeof err), *fu = lower_unpacked(m, "plain", err, sizeof err);
            if (!fp || !fu) fail_msg("lower: %s", err);
            assert_true(check_packing(fp, 1) >= cases[c].min_packed);
            assert_int_equal(check_packing(fu, 0), 0);
            /* at most one pack per packed GEMM (sharing: test_emit_c.c) */
            int packs = count_kind(&fp->body, KS_PACK_B), pgemms = check_packing(fp, 1);
            assert_true(packs >= 1 && packs <= pgemms);
            TensorMap data;
            rt_map_init(&data);
            for (int i = 0; i < m->nparams; i++) put_tensor(&data, m, m->params[i].name, m->params[i].value, 3, 4);
            for (int i = 0; i < m->ninputs; i++) put_tensor(&data, m, m->inputs[i].name, m->inputs[i].value, 3, 4);
            for (int i = 0; i < m->ntargets; i++) put_tensor(&data, m, m->targets[i].name, m->targets[i].value, 3, 4);
            float **rp = run_on(fp, m, &data, 3, 4, plan), **ru = run_on(fu, m, &data, 3, 4, plan);
            int64_t sym[16];
            for (int s = 0; s < m->nsyms; s++) sym[s] = sym_value(m, s, 3, 4);
            assert_int_equal(fp->nresults, fu->nresults);
            for (int i = 0; i < fp->nresults; i++) {
                int64_t n = kexpr_eval(fp->results[i]->size, sym, NULL);
                assert_memory_equal(rp[i], ru[i], (size_t)n * sizeof(float));
                free(rp[i]);
                free(ru[i]);
            }
            free(rp);
            free(ru);
            rt_map_free(&data);
            kfunc_free(fp);
            kfunc_free(fu);
        }
        built_free(&b);
    }
}

/* kcompile_prepared (kprepare.h): the weights' packs move into the
 * prepare function and nothing else does.  The prepare function reads
 * only parameters and packs them into its results, one for each prepared
 * argument of the function, in order, by the same name; no top-level
 * statement that kprepare_once() accepts stays.  Then the prepare
 * function run once and the function reading its packs give the bits of
 * the unpacked lowering (exact, as in test_packed_weights), twice in a
 * row on the same packs, in one NaN-filled arena at the planned offsets. */
static void test_prepared_weights(void **state)
{
    (void)state;
    static const char *const srcs[] = {LSTM_SRC, ODD_SRC, RNN_SRC};
    char err[512];
    for (size_t c = 0; c < sizeof srcs / sizeof *srcs; c++) {
        Built b = build(srcs[c], "p.rnn", STAGE_FWD, NULL);
        const IrModule *m = b.m;
        KFunc *prep = NULL, *fp = kcompile_prepared(m, "fwd", &prep, err, sizeof err);
        KFunc *fu = lower_unpacked(m, "plain", err, sizeof err);
        if (!fp || !fu) fail_msg("kcompile: %s", err);
        assert_non_null(prep);
        assert_int_equal(kexpr_eval(prep->arena_bytes, NULL, NULL), 0);
        for (int i = 0; i < prep->nargs; i++) assert_true(kprepare_is_weight(prep, prep->args[i]));
        int base = m->ninputs + m->ntargets + m->nparams;
        assert_int_equal(fp->nargs, base + prep->nresults);
        for (int i = 0; i < prep->nresults; i++) {
            assert_true(fp->args[base + i]->prepared);
            assert_string_equal(fp->args[base + i]->ext_name, prep->results[i]->ext_name);
        }
        for (int i = 0; i < base; i++) assert_false(fp->args[i]->prepared);
        for (int i = 0; i < fp->body.n; i++) assert_false(kprepare_once(fp, fp->body.stmts[i]));

        TensorMap data;
        rt_map_init(&data);
        for (int i = 0; i < m->nparams; i++) put_tensor(&data, m, m->params[i].name, m->params[i].value, 3, 4);
        for (int i = 0; i < m->ninputs; i++) put_tensor(&data, m, m->inputs[i].name, m->inputs[i].value, 3, 4);
        for (int i = 0; i < m->ntargets; i++) put_tensor(&data, m, m->targets[i].name, m->targets[i].value, 3, 4);
        int64_t sym[16];
        for (int s = 0; s < m->nsyms; s++) sym[s] = sym_value(m, s, 3, 4);
        float **ru = run_on(fu, m, &data, 3, 4, 0);
        /* the packs: the prepare function's results, the function's arguments */
        void **pargs = calloc((size_t)prep->nargs + 1, sizeof *pargs),
             **packs = calloc((size_t)prep->nresults + 1, sizeof *packs);
        for (int i = 0; i < prep->nargs; i++) pargs[i] = rt_map_get(&data, prep->args[i]->ext_name)->data;
        for (int i = 0; i < prep->nresults; i++)
            packs[i] = malloc((size_t)kexpr_eval(prep->results[i]->size, sym, NULL) * sizeof(float));
        if (kev_run(prep, sym, pargs, packs, err, sizeof err)) fail_msg("prepare: %s", err);
        void **args = calloc((size_t)fp->nargs + 1, sizeof *args);
        for (int i = 0; i < base; i++) args[i] = rt_map_get(&data, fp->args[i]->ext_name)->data;
        for (int i = 0; i < prep->nresults; i++) args[base + i] = packs[i];
        int64_t bytes = kexpr_eval(fp->arena_bytes, sym, NULL);
        float *arena = malloc((size_t)(bytes ? bytes : 4));
        for (int round = 0; round < 2; round++) {
            for (int64_t k = 0; k < bytes / 4; k++) arena[k] = NAN;
            float **rp = calloc((size_t)fp->nresults + 1, sizeof *rp);
            for (int i = 0; i < fp->nresults; i++)
                rp[i] = malloc((size_t)kexpr_eval(fp->results[i]->size, sym, NULL) * sizeof(float) + 4);
            if (kev_run_in(fp, sym, args, (void *const *)rp, arena, err, sizeof err)) fail_msg("%s: %s", m->name, err);
            assert_int_equal(fp->nresults, fu->nresults);
            for (int i = 0; i < fp->nresults; i++) {
                assert_memory_equal(rp[i], ru[i], (size_t)kexpr_eval(fp->results[i]->size, sym, NULL) * sizeof(float));
                free(rp[i]);
            }
            free(rp);
        }
        for (int i = 0; i < fu->nresults; i++) free(ru[i]);
        for (int i = 0; i < prep->nresults; i++) free(packs[i]);
        free(ru);
        free(packs);
        free(pargs);
        free(args);
        free(arena);
        rt_map_free(&data);
        kfunc_free(fp);
        kfunc_free(fu);
        kfunc_free(prep);
        built_free(&b);
    }
}

/* A scan inside a scan is refused with a message naming it. */
static void test_nested_scan_refused(void **state)
{
    (void)state;
    char err[512] = "";
    IrModule *m = ir_module_new("nested");
    int T = ir_add_sym(m, "B", 0);
    (void)T;
    int ts = ir_add_sym(m, "T_x", 8);
    int64_t xd[3] = {IR_DIM_SYM(ts), IR_DIM_B, 2}, hd[2] = {IR_DIM_B, 2};
    IrValue *x = ir_add_input(m, "x", ir_type(IR_F32, 3, xd));
    IrValue *h0 = ir_const(m, m->body, 0.0, ir_type(IR_F32, 2, hd));
    IrOp *outer = ir_scan_begin(m, m->body, &h0, 1, &x, 1, 0, 0);
    IrValue *seq = x;
    IrOp *inner = ir_scan_begin(m, outer->body, &outer->body->args[0], 1, &seq, 1, 0, 0);
    IrValue *s = ir_op2(m, inner->body, IR_ADD, inner->body->args[0], inner->body->args[1]);
    ir_scan_finish(m, inner, &s, 1, 0);
    IrValue *y = inner->results[0];
    ir_scan_finish(m, outer, &y, 1, 0);
    ir_add_output(m, "h", outer->results[0]);
    assert_int_equal(ir_verify(m, "test", stderr), 0);
    KFunc *f = lower(m, "forward", err, sizeof err);
    assert_null(f);
    assert_non_null(strstr(err, "scan inside a scan"));
    ir_free(m);
}

/* Sizes never wrap: a constant fold past int64 marks the function instead
 * of wrapping, and a module too large for the frontend's limit (built by
 * hand here, as sema refuses it) fails to lower with a message, where it
 * used to lower with sizes wrapped modulo 2^64. */
static void test_sizes_never_wrap(void **state)
{
    (void)state;
    KFunc *f = kfunc_new("t", NULL);
    const KExpr *big = kexpr_const(f, (int64_t)1 << 40);
    const KExpr *ok = kexpr_bin(f, KE_MUL, big, kexpr_const(f, (int64_t)1 << 20));
    assert_true(ok->value == (int64_t)1 << 60);
    assert_int_equal(f->overflow, 0);
    const KExpr *wrapped = kexpr_bin(f, KE_MUL, big, big);
    assert_int_equal(f->overflow, 1);
    assert_true(wrapped->value == INT64_MAX);
    kfunc_free(f);
    f = kfunc_new("t", NULL);
    kexpr_bin(f, KE_ADD, kexpr_const(f, INT64_MAX), kexpr_const(f, 1));
    assert_int_equal(f->overflow, 1);
    kfunc_free(f);
    f = kfunc_new("t", NULL);
    kexpr_bin(f, KE_DIV, kexpr_const(f, INT64_MIN), kexpr_const(f, -1));
    assert_int_equal(f->overflow, 1);
    kfunc_free(f);

    IrModule *m = ir_module_new("huge");
    ir_add_sym(m, "B", 0);
    int64_t wd[2] = {(int64_t)1 << 32, (int64_t)1 << 32};
    IrInit zero = {IR_INIT_ZERO, 0};
    IrValue *w = ir_add_param(m, "w", ir_type(IR_F32, 2, wd), zero);
    ir_add_output(m, "y", ir_op2(m, m->body, IR_ADD, w, w));
    char err[512] = "";
    assert_null(lower(m, "forward", err, sizeof err));
    assert_non_null(strstr(err, "2^48 or more elements"));
    ir_free(m);
}

/* Every line of kir/calls.def makes a signature that fits a KStmt: a
 * symbol of the runtime's, named integers and hyperparameters, pointer
 * counts that name integers before them, and at least one output. */
static void test_call_table(void **state)
{
    (void)state;
    for (int k = 0; k < KC_NUM_KINDS; k++) {
        KCallSig sig;
        assert_int_equal(kir_call_sig((KCallKind)k, &sig), 0);
        assert_string_equal(kir_call_name((KCallKind)k), sig.symbol);
        assert_memory_equal(sig.symbol, "rt_", 3);
        assert_true(sig.nints >= 1 && sig.nptrs >= 1);
        assert_int_equal(sig.nints + sig.nptrs + sig.nhp <= sig.nargs, 1);
        int outs = 0;
        for (int i = 0; i < sig.nints; i++) assert_true(sig.int_arg[i]->name && sig.int_arg[i]->name[0]);
        for (int i = 0; i < sig.nhp; i++) assert_true(sig.hp_arg[i]->name && sig.hp_arg[i]->name[0]);
        for (int i = 0; i < sig.nptrs; i++) {
            const KCallArg *p = sig.ptr_arg[i];
            assert_true(p->f1 < sig.nints && p->f2 < sig.nints);
            assert_true(p->dtype == IR_F32 || p->dtype == IR_I64);
            outs += p->write;
        }
        assert_true(outs >= 1);
    }
    KCallSig sig;
    assert_int_equal(kir_call_sig(KC_NUM_KINDS, &sig), -1);
    assert_string_equal(kir_call_name(KC_NUM_KINDS), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_table),
        cmocka_unit_test(test_lstm_structure),
        cmocka_unit_test(test_grad_accumulates_in_place),
        cmocka_unit_test(test_nested_scan_refused),
        cmocka_unit_test(test_packed_weights),
        cmocka_unit_test(test_examples_forward),
        cmocka_unit_test(test_rnn_grad),
        cmocka_unit_test(test_reverse_mean_grad),
        cmocka_unit_test(test_examples_grad),
        cmocka_unit_test(test_train_steps),
        cmocka_unit_test(test_odd_cell),
        cmocka_unit_test(test_concat_columns),
        cmocka_unit_test(test_narrow_columns),
        cmocka_unit_test(test_sizes_never_wrap),
        cmocka_unit_test(test_unrolled),
        cmocka_unit_test(test_examples_planned),
        cmocka_unit_test(test_prepared_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
