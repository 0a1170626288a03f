/* test_interp.c - the reference interpreter (ir/interp.c) on modules built
 * by hand: every op on small cases worked out by hand, an LSTM and a GRU
 * step against scalar loops written out here independently, scans forward,
 * reversed, with constant steps and nested, the F32/F64 rounding modes,
 * large logits, and the error messages for bad inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ir/interp.h"
#include "ir/ir.h"
#include "ir/op_eval.h"
#include "io/tensor.h"

/* ---- helpers ---------------------------------------------------------------- */

#define DIMS(...) \
    (int64_t[]) { __VA_ARGS__ }
#define NDIMS(...) ((int)(sizeof(DIMS(__VA_ARGS__)) / sizeof(int64_t)))
#define TF(...)    ir_type(IR_F32, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__))
#define TI(...)    ir_type(IR_I64, NDIMS(__VA_ARGS__), DIMS(__VA_ARGS__))
#define SCALAR     ir_type(IR_F32, 0, NULL)

/* A module under test with its parameter, input and output maps. */
typedef struct Fx {
    IrModule *m;
    TensorMap params, in, out;
    char err[512];
} Fx;

static void fx_init(Fx *f, const char *name)
{
    memset(f, 0, sizeof *f);
    f->m = ir_module_new(name);
    rt_map_init(&f->params);
    rt_map_init(&f->in);
    rt_map_init(&f->out);
}

static void fx_free(Fx *f)
{
    ir_free(f->m);
    rt_map_free(&f->params);
    rt_map_free(&f->in);
    rt_map_free(&f->out);
}

/* Puts a tensor of the given dtype and shape with values v (numel of them). */
static void put(TensorMap *tm, const char *name, RtDType dt, int rank, const int64_t *shape, const double *v)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, dt, rank, shape), 0);
    for (int64_t i = 0; i < rt_numel(&t); i++) {
        switch (dt) {
        case RT_F32: ((float *)t.data)[i] = (float)v[i]; break;
        case RT_F64: ((double *)t.data)[i] = v[i]; break;
        case RT_I32: ((int32_t *)t.data)[i] = (int32_t)v[i]; break;
        case RT_I64: ((int64_t *)t.data)[i] = (int64_t)v[i]; break;
        }
    }
    assert_int_equal(rt_map_put(tm, name, &t), 0);
}

/* Declares an input of type t and gives it as a tensor of the concrete
 * shape (F64 for floats so that hand-written values arrive exactly, I64
 * for ids). */
static IrValue *input(Fx *f, const char *name, IrType t, int rank, const int64_t *shape, const double *v)
{
    IrValue *x = ir_add_input(f->m, name, t);
    put(&f->in, name, t.dtype == IR_I64 ? RT_I64 : RT_F64, rank, shape, v);
    return x;
}

/* An input of a constant-shaped type. */
static IrValue *input_c(Fx *f, const char *name, IrType t, const double *v)
{
    return input(f, name, t, t.rank, t.dim, v);
}

static IrValue *param(Fx *f, const char *name, IrType t, const double *v)
{
    IrValue *p = ir_add_param(f->m, name, t, (IrInit){IR_INIT_ZERO, 0});
    put(&f->params, name, RT_F64, t.rank, t.dim, v);
    return p;
}

/* One op whose result type comes from ir_infer_type, with attributes. */
static IrValue *op_attrs(Fx *f, IrBlock *b, IrOpKind k, IrValue **ops, int n, IrAttrs a)
{
    IrType t;
    char err[256];
    if (!ir_infer_type(f->m, k, ops, n, &a, &t, err, sizeof err)) fail_msg("infer: %s", err);
    IrOp *op = ir_op(f->m, b, k, ops, n, &t, 1);
    op->attrs = a;
    return op->results[0];
}

/* Every hand-built module is checked by the verifier first, so that the
 * tests exercise the interpreter on well-formed IR only. */
static void run_ok(Fx *f, IrPrecision p)
{
    assert_int_equal(ir_verify(f->m, "test", stderr), 0);
    if (interp_run(f->m, &f->params, &f->in, &f->out, p, f->err, sizeof f->err) != 0)
        fail_msg("interp_run failed: %s", f->err);
}

static int run_err(Fx *f, IrPrecision p)
{
    f->err[0] = '\0';
    return interp_run(f->m, &f->params, &f->in, &f->out, p, f->err, sizeof f->err);
}

static const Tensor *out_t(Fx *f, const char *name)
{
    const Tensor *t = rt_map_get(&f->out, name);
    if (!t) fail_msg("no output '%s'", name);
    return t;
}

static double out_at(Fx *f, const char *name, int64_t i)
{
    const Tensor *t = out_t(f, name);
    assert_true(i < rt_numel(t));
    switch (t->dtype) {
    case RT_F32: return ((const float *)t->data)[i];
    case RT_F64: return ((const double *)t->data)[i];
    case RT_I32: return ((const int32_t *)t->data)[i];
    case RT_I64: return (double)((const int64_t *)t->data)[i];
    }
    return NAN;
}

static void assert_shape(Fx *f, const char *name, int rank, const int64_t *shape)
{
    const Tensor *t = out_t(f, name);
    assert_int_equal(t->rank, rank);
    for (int i = 0; i < rank; i++) assert_int_equal(t->shape[i], shape[i]);
}

/* Every element of output `name` within tol of want[]. */
static void assert_out(Fx *f, const char *name, const double *want, int64_t n, double tol)
{
    assert_int_equal(rt_numel(out_t(f, name)), n);
    for (int64_t i = 0; i < n; i++) {
        double got = out_at(f, name, i);
        if (!(fabs(got - want[i]) <= tol))
            fail_msg("%s[%lld] = %.17g, want %.17g (tol %g)", name, (long long)i, got, want[i], tol);
    }
}

/* Deterministic values in [-1, 1) for the cell tests. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static double rnd(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}
static void fill(double *v, int n)
{
    for (int i = 0; i < n; i++) v[i] = rnd();
}

/* ---- element-wise ----------------------------------------------------------------- */

static void test_binary_broadcast(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "bin");
    IrValue *a = input_c(&f, "a", TF(2, 3), (double[]){1, 2, 3, 4, 5, 6});
    IrValue *b = input_c(&f, "b", TF(3), (double[]){10, 20, 30});
    ir_add_output(f.m, "add", ir_op2(f.m, f.m->body, IR_ADD, a, b));
    ir_add_output(f.m, "sub", ir_op2(f.m, f.m->body, IR_SUB, a, b));
    ir_add_output(f.m, "mul", ir_op2(f.m, f.m->body, IR_MUL, b, a));
    ir_add_output(f.m, "div", ir_op2(f.m, f.m->body, IR_DIV, a, b));
    /* [2, 1, 3] with [2, 1]: both sides broadcast, numpy gives [2, 2, 3]. */
    IrValue *c = input_c(&f, "c", TF(2, 1, 3), (double[]){1, 2, 3, 4, 5, 6});
    IrValue *d = input_c(&f, "d", TF(2, 1), (double[]){10, 20});
    ir_add_output(f.m, "cd", ir_op2(f.m, f.m->body, IR_ADD, c, d));
    /* A rank-0 constant on the left: 1 - a. */
    IrValue *one = ir_const(f.m, f.m->body, 1.0, SCALAR);
    ir_add_output(f.m, "one_minus", ir_op2(f.m, f.m->body, IR_SUB, one, a));
    run_ok(&f, IR_PREC_F64);

    /* Sums and products of small integers are exact in double: tol 0. */
    assert_out(&f, "add", (double[]){11, 22, 33, 14, 25, 36}, 6, 0);
    assert_out(&f, "sub", (double[]){-9, -18, -27, -6, -15, -24}, 6, 0);
    assert_out(&f, "mul", (double[]){10, 40, 90, 40, 100, 180}, 6, 0);
    /* One correctly rounded division each, compared with the same division. */
    assert_out(&f, "div", (double[]){1 / 10.0, 2 / 20.0, 3 / 30.0, 4 / 10.0, 5 / 20.0, 6 / 30.0}, 6, 0);
    assert_shape(&f, "cd", 3, DIMS(2, 2, 3));
    assert_out(&f, "cd", (double[]){11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26}, 12, 0);
    assert_out(&f, "one_minus", (double[]){0, -1, -2, -3, -4, -5}, 6, 0);
    fx_free(&f);
}

static void test_unary(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "un");
    double xv[] = {-1000, -2, -0.5, 0, 0.5, 3, 1000};
    IrValue *x = input_c(&f, "x", TF(7), xv);
    IrValue *p = input_c(&f, "p", TF(3), (double[]){0.5, 1, 3});
    IrOpKind ks[] = {IR_NEG, IR_SIGMOID, IR_TANH, IR_RELU};
    const char *names[] = {"neg", "sigmoid", "tanh", "relu"};
    for (int i = 0; i < 4; i++) ir_add_output(f.m, names[i], ir_op1(f.m, f.m->body, ks[i], x));
    ir_add_output(f.m, "exp", ir_op1(f.m, f.m->body, IR_EXP, p));
    ir_add_output(f.m, "log", ir_op1(f.m, f.m->body, IR_LOG, p));
    run_ok(&f, IR_PREC_F64);

    double neg[7], sig[7], th[7], relu[7];
    for (int i = 0; i < 7; i++) {
        neg[i] = -xv[i];
        sig[i] = 1.0 / (1.0 + exp(-xv[i]));
        th[i] = tanh(xv[i]);
        relu[i] = xv[i] > 0 ? xv[i] : 0;
    }
    assert_out(&f, "neg", neg, 7, 0);   /* exact */
    assert_out(&f, "relu", relu, 7, 0); /* exact */
    assert_out(&f, "tanh", th, 7, 0);   /* the same libm call */
    /* The interpreter uses e/(1+e) for x < 0 (so exp never overflows),
     * a different rounding path: a few ulps of values in [0, 1]. */
    assert_out(&f, "sigmoid", sig, 7, 1e-15);
    /* Saturation, not NaN, at +-1000. */
    assert_true(out_at(&f, "sigmoid", 0) == 0.0);
    assert_true(out_at(&f, "sigmoid", 6) == 1.0);
    assert_out(&f, "exp", (double[]){exp(0.5), exp(1), exp(3)}, 3, 0); /* same libm call */
    assert_out(&f, "log", (double[]){log(0.5), 0, log(3)}, 3, 0);      /* same libm call */
    fx_free(&f);
}

/* softplus: PyTorch's F.softplus (beta 1, threshold 20).  The wanted
 * values are log(1 + e^x) to 40 digits (Python's decimal module), so the
 * test does not share the interpreter's formula; the interpreter's
 * log1p(exp(x)) in double is within a few ulps of them: tolerance 4 ulps
 * of each value (2^-50 relative), and at -30, where log(1 + e^x) is
 * e^x (1 - e^x / 2 + ...), the same relative bound.  Past the threshold
 * the value is x itself, exactly (20.5 and 1000, where exp would
 * overflow in float and nearly in double); -1000 gives 0 (e^-1000
 * underflows double, and the true value is below every denormal). */
static void test_softplus(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "softplus");
    double xv[] = {-1000, -30, -1, 0, 1, 5, 20, 20.5, 1000};
    IrValue *x = input_c(&f, "x", TF(9), xv);
    ir_add_output(f.m, "y", ir_op1(f.m, f.m->body, IR_SOFTPLUS, x));
    run_ok(&f, IR_PREC_F64);
    static const double want[] = {0,
                                  9.357622968839736779377697401296450976662e-14,
                                  0.3132616875182228340489954949678556419154,
                                  0.6931471805599453094172321214581765680755,
                                  1.313261687518222834048995494967855641915,
                                  5.006715348489118068616416687732642075115,
                                  20.00000000206115362031438070323898279888,
                                  20.5,
                                  1000};
    for (int i = 0; i < 9; i++) {
        double got = out_at(&f, "y", i), tol = 4 * 0x1p-52 * fabs(want[i]);
        if (!(fabs(got - want[i]) <= tol)) fail_msg("softplus(%g) = %.17g, want %.17g", xv[i], got, want[i]);
    }
    assert_true(out_at(&f, "y", 7) == 20.5); /* past the threshold: x, exactly */
    assert_true(out_at(&f, "y", 8) == 1000);
    fx_free(&f);
}

/* The op table (ir/ops.def): every element-wise op has a value in
 * ir_op_eval (a line added there without one would give NaN), the
 * functions a cell may call are found by name and no others are. */
static void test_op_table(void **state)
{
    (void)state;
    int n = 0;
    for (int k = 0; k < IR_NUM_OPS; k++) {
        if (!ir_op_is_elementwise((IrOpKind)k)) continue;
        n++;
        if (isnan(ir_op_eval((IrOpKind)k, 0.5, 0.25)))
            fail_msg("%s has no value in ir_op_eval", ir_op_name((IrOpKind)k));
        int lo, hi;
        ir_op_operand_range((IrOpKind)k, &lo, &hi);
        assert_int_equal(lo, ir_op_class((IrOpKind)k) == IR_CLASS_UNARY ? 1 : 2);
        assert_int_equal(hi, lo);
    }
    assert_int_equal(n, 12); /* add sub mul div neg sigmoid tanh relu exp log softplus sqrt */
    static const char *const fns[] = {"sigmoid", "tanh", "relu", "exp", "log", "softplus"};
    for (int i = 0; i < 6; i++) assert_string_equal(ir_op_name(ir_op_function(fns[i])), fns[i]);
    static const char *const not_fns[] = {"neg", "sqrt", "add", "softmax", "linear", ""};
    for (int i = 0; i < 6; i++) assert_int_equal(ir_op_function(not_fns[i]), IR_NUM_OPS);
    assert_true(isnan(ir_op_eval(IR_LINEAR, 1, 1)));
}

/* ---- linear algebra and shapes -------------------------------------------------------------- */

static void test_linear(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "lin");
    double xv[] = {1, 2, 3, 4, 5, 6};
    IrValue *x = input_c(&f, "x", TF(2, 3), xv);
    IrValue *x3 = input_c(&f, "x3", TF(2, 1, 3), xv);
    IrValue *w = param(&f, "w", TF(2, 3), (double[]){1, 0, -1, 0.5, 0.5, 0.5});
    ir_add_output(f.m, "y", ir_op2(f.m, f.m->body, IR_LINEAR, x, w));
    ir_add_output(f.m, "y3", ir_op2(f.m, f.m->body, IR_LINEAR, x3, w));
    run_ok(&f, IR_PREC_F64);
    /* y[r, j] = sum_k x[r, k] W[j, k]: row 0: 1 - 3, (1+2+3)/2; row 1: 4 - 6, 15/2.
     * Halves of small integers: exact. */
    assert_shape(&f, "y", 2, DIMS(2, 2));
    assert_out(&f, "y", (double[]){-2, 3, -2, 7.5}, 4, 0);
    assert_shape(&f, "y3", 3, DIMS(2, 1, 2));
    assert_out(&f, "y3", (double[]){-2, 3, -2, 7.5}, 4, 0);
    fx_free(&f);
}

static void test_concat_slice(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "cs");
    IrValue *a = input_c(&f, "a", TF(2, 2), (double[]){1, 2, 3, 4});
    IrValue *b = input_c(&f, "b", TF(2, 1), (double[]){5, 6});
    IrValue *c = ir_op2(f.m, f.m->body, IR_CONCAT, a, b);
    ir_add_output(f.m, "c", c);
    ir_add_output(f.m, "s", ir_slice(f.m, f.m->body, c, 1, 2));
    ir_add_output(f.m, "s0", ir_slice(f.m, f.m->body, c, 0, 1));
    run_ok(&f, IR_PREC_F64);
    assert_shape(&f, "c", 2, DIMS(2, 3));
    assert_out(&f, "c", (double[]){1, 2, 5, 3, 4, 6}, 6, 0); /* copies: exact */
    assert_out(&f, "s", (double[]){2, 5, 4, 6}, 4, 0);
    assert_out(&f, "s0", (double[]){1, 3}, 2, 0);
    fx_free(&f);
}

static void test_broadcast_stack_index(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "bsi");
    IrValue *v = input_c(&f, "v", TF(3), (double[]){1, 2, 3});
    IrValue *col = input_c(&f, "col", TF(2, 1), (double[]){7, 8});
    IrType t23 = TF(2, 3);
    ir_add_output(f.m, "bv", ir_op(f.m, f.m->body, IR_BROADCAST, &v, 1, &t23, 1)->results[0]);
    ir_add_output(f.m, "bc", ir_op(f.m, f.m->body, IR_BROADCAST, &col, 1, &t23, 1)->results[0]);
    IrValue *a = input_c(&f, "a", TF(2), (double[]){1, 2});
    IrValue *b = input_c(&f, "b", TF(2), (double[]){3, 4});
    IrValue *ab[3] = {a, b, a};
    IrValue *st = op_attrs(&f, f.m->body, IR_STACK, ab, 3, (IrAttrs){0});
    ir_add_output(f.m, "st", st);
    ir_add_output(f.m, "i1", op_attrs(&f, f.m->body, IR_INDEX, &st, 1, (IrAttrs){.index = 1}));
    run_ok(&f, IR_PREC_F64);
    /* copies: exact */
    assert_out(&f, "bv", (double[]){1, 2, 3, 1, 2, 3}, 6, 0);
    assert_out(&f, "bc", (double[]){7, 7, 7, 8, 8, 8}, 6, 0);
    assert_shape(&f, "st", 2, DIMS(3, 2));
    assert_out(&f, "st", (double[]){1, 2, 3, 4, 1, 2}, 6, 0);
    assert_out(&f, "i1", (double[]){3, 4}, 2, 0);
    fx_free(&f);
}

static void test_seq_ops(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "seq");
    int ts = ir_add_sym(f.m, "T_s", 10);
    /* s: [T_s, B] given as [3, 2]. */
    IrValue *s = input(&f, "s", TF(IR_DIM_SYM(ts), IR_DIM_B), 2, DIMS(3, 2), (double[]){1, 2, 3, 4, 5, 6});
    ir_add_output(f.m, "last", ir_op1(f.m, f.m->body, IR_SEQ_LAST, s));
    ir_add_output(f.m, "rev", ir_op1(f.m, f.m->body, IR_SEQ_REVERSE, s));
    ir_add_output(f.m, "mean", ir_op1(f.m, f.m->body, IR_SEQ_MEAN, s));
    run_ok(&f, IR_PREC_F64);
    assert_out(&f, "last", (double[]){5, 6}, 2, 0);
    assert_shape(&f, "rev", 2, DIMS(3, 2));
    assert_out(&f, "rev", (double[]){5, 6, 3, 4, 1, 2}, 6, 0);
    assert_out(&f, "mean", (double[]){3, 4}, 2, 0); /* 9/3, 12/3: exact */
    fx_free(&f);
}

/* ---- neural-network ops -------------------------------------------------------------------------- */

static void test_embedding(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "emb");
    IrValue *tab = param(&f, "e.weight", TF(4, 2), (double[]){0, 1, 10, 11, 20, 21, 30, 31});
    IrValue *ids = ir_add_input(f.m, "ids", TI(2, 2));
    /* Ids as I32, which the interpreter accepts as well as I64. */
    put(&f.in, "ids", RT_I32, 2, DIMS(2, 2), (double[]){3, 0, 1, 3});
    ir_add_output(f.m, "e", ir_op2(f.m, f.m->body, IR_EMBEDDING, tab, ids));
    ir_add_output(f.m, "ids_rev", ir_op1(f.m, f.m->body, IR_SEQ_REVERSE, ids));
    run_ok(&f, IR_PREC_F32);
    /* Ids stay ids: an I64 output, never rounded. */
    assert_int_equal(out_t(&f, "ids_rev")->dtype, RT_I64);
    assert_out(&f, "ids_rev", (double[]){1, 3, 3, 0}, 4, 0);
    assert_int_equal(out_t(&f, "e")->dtype, RT_F32);
    assert_shape(&f, "e", 3, DIMS(2, 2, 2));
    assert_out(&f, "e", (double[]){30, 31, 0, 1, 10, 11, 30, 31}, 8, 0); /* rows copied: exact */
    fx_free(&f);
}

static void test_softmax(void **state)
{
    (void)state;
    for (int prec = 0; prec < 2; prec++) {
        Fx f;
        fx_init(&f, "sm");
        IrValue *x = input_c(&f, "x", TF(2, 3), (double[]){1, 2, 3, 1000, 1000, 0});
        ir_add_output(f.m, "p", ir_op1(f.m, f.m->body, IR_SOFTMAX, x));
        run_ok(&f, prec ? IR_PREC_F64 : IR_PREC_F32);
        double s = exp(-2) + exp(-1) + 1;
        /* Row 1 has logits of 1000: a naive exp() would overflow to inf/inf.
         * Its exact answer is 0.5, 0.5, e^-1000 (= 0 in double). */
        double want[] = {exp(-2) / s, exp(-1) / s, 1 / s, 0.5, 0.5, 0};
        /* F64: a few roundings of values in [0, 1]: 1e-15.  F32: the result is
         * rounded to float (half-ulp 6e-8 relative) after double arithmetic: 1e-7. */
        assert_out(&f, "p", want, 6, prec ? 1e-15 : 1e-7);
        fx_free(&f);
    }
}

static void test_cross_entropy(void **state)
{
    (void)state;
    for (int prec = 0; prec < 2; prec++) {
        Fx f;
        fx_init(&f, "ce");
        IrValue *lg = input_c(&f, "logits", TF(3, 3), (double[]){1, 2, 3, 1000, 0, -1000, 0, 0, 0});
        IrValue *t = ir_add_target(f.m, "t", TI(3));
        put(&f.in, "t", RT_I64, 1, DIMS(3), (double[]){0, 1, 2});
        f.m->loss = ir_op2(f.m, f.m->body, IR_CROSS_ENTROPY, lg, t);
        run_ok(&f, prec ? IR_PREC_F64 : IR_PREC_F32);
        /* Per row: logsumexp - logit[t].
         *   row 0: 3 + log(1 + e^-1 + e^-2) - 1
         *   row 1: 1000 + log(1 + e^-1000 + e^-2000) - 0 = 1000 (e^-1000 is 0 in double)
         *   row 2: log 3 - 0
         * A naive log(sum(exp)) would give inf on row 1. */
        double want = (2 + log(1 + exp(-1) + exp(-2)) + 1000 + log(3)) / 3;
        const Tensor *l = out_t(&f, "loss");
        assert_int_equal(l->rank, 0);
        assert_int_equal(l->dtype, prec ? RT_F64 : RT_F32);
        double got = out_at(&f, "loss", 0);
        assert_true(isfinite(got));
        /* F64: sums of three terms around 1000: ulp(1000) = 1.1e-13, so 1e-12.
         * F32: one rounding of ~334 to float: half-ulp is 1.5e-5; use 3e-5. */
        if (!(fabs(got - want) <= (prec ? 1e-12 : 3e-5))) fail_msg("loss %.17g want %.17g", got, want);
        fx_free(&f);
    }
}

static void test_mse_and_missing_target(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "mse");
    IrValue *y = input_c(&f, "y", TF(2, 2), (double[]){1, 2, 3, 4});
    IrValue *t = ir_add_target(f.m, "t", TF(2, 2));
    IrValue *sq = ir_op2(f.m, f.m->body, IR_MUL, y, y);
    ir_add_output(f.m, "sq", sq);
    f.m->loss = ir_op2(f.m, f.m->body, IR_MSE, y, t);

    /* Without the target: the output is computed, the loss is left out. */
    run_ok(&f, IR_PREC_F64);
    assert_out(&f, "sq", (double[]){1, 4, 9, 16}, 4, 0);
    assert_null(rt_map_get(&f.out, "loss"));

    put(&f.in, "t", RT_F64, 2, DIMS(2, 2), (double[]){1, 0, 3, 0});
    run_ok(&f, IR_PREC_F64);
    assert_out(&f, "loss", (double[]){(0 + 4 + 0 + 16) / 4.0}, 1, 0); /* exact */
    fx_free(&f);
}

/* ---- scans ------------------------------------------------------------------------------------------ */

enum { B = 2, I = 3, H = 2 };

/* The LSTM of docs/language.md on one batch row, in plain scalar loops. */
static double sig(double x) { return 1 / (1 + exp(-x)); }

static void lstm_ref(const double *wih, const double *whh, const double *bih, const double *bhh, const double *x,
                     double *h, double *c)
{
    for (int b = 0; b < B; b++) {
        double g[4 * H];
        for (int r = 0; r < 4 * H; r++) {
            double s = bih[r] + bhh[r];
            for (int k = 0; k < I; k++) s += wih[r * I + k] * x[b * I + k];
            for (int k = 0; k < H; k++) s += whh[r * H + k] * h[b * H + k];
            g[r] = s;
        }
        for (int j = 0; j < H; j++) {
            double ig = sig(g[j]), fg = sig(g[H + j]), gg = tanh(g[2 * H + j]), og = sig(g[3 * H + j]);
            c[b * H + j] = fg * c[b * H + j] + ig * gg;
            h[b * H + j] = og * tanh(c[b * H + j]);
        }
    }
}

/* The GRU of docs/language.md, the reset gate applied to (W_hn h + b_hn). */
static void gru_ref(const double *wih, const double *whh, const double *bih, const double *bhh, const double *x,
                    double *h)
{
    for (int b = 0; b < B; b++) {
        double gi[3 * H], gh[3 * H], hn[H];
        for (int r = 0; r < 3 * H; r++) {
            gi[r] = bih[r];
            gh[r] = bhh[r];
            for (int k = 0; k < I; k++) gi[r] += wih[r * I + k] * x[b * I + k];
            for (int k = 0; k < H; k++) gh[r] += whh[r * H + k] * h[b * H + k];
        }
        for (int j = 0; j < H; j++) {
            double rg = sig(gi[j] + gh[j]), zg = sig(gi[H + j] + gh[H + j]);
            double n = tanh(gi[2 * H + j] + rg * gh[2 * H + j]);
            hn[j] = (1 - zg) * n + zg * h[b * H + j];
        }
        for (int j = 0; j < H; j++) h[b * H + j] = hn[j];
    }
}

static IrValue *add(Fx *f, IrBlock *b, IrValue *x, IrValue *y) { return ir_op2(f->m, b, IR_ADD, x, y); }
static IrValue *mul(Fx *f, IrBlock *b, IrValue *x, IrValue *y) { return ir_op2(f->m, b, IR_MUL, x, y); }
static IrValue *un(Fx *f, IrBlock *b, IrOpKind k, IrValue *x) { return ir_op1(f->m, b, k, x); }
static IrValue *gate(Fx *f, IrBlock *b, IrValue *x, int k) { return ir_slice(f->m, b, x, k * H, H); }

typedef struct CellData {
    double wih[4 * H * I], whh[4 * H * H], bih[4 * H], bhh[4 * H];
    double x[3 * B * I], h0[B * H], c0[B * H];
} CellData;

/* Declares x [T_x, B, I], h0 and c0 [B, H] and the cell's parameters with
 * G gates; T steps of x are given. */
static void cell_inputs(Fx *f, CellData *d, int G, int T, IrValue **x, IrValue **h0, IrValue **c0, IrValue **w)
{
    fill(d->wih, G * H * I);
    fill(d->whh, G * H * H);
    fill(d->bih, G * H);
    fill(d->bhh, G * H);
    fill(d->x, 3 * B * I);
    fill(d->h0, B * H);
    fill(d->c0, B * H);
    int tx = ir_add_sym(f->m, "T_x", 8);
    *x = input(f, "x", TF(IR_DIM_SYM(tx), IR_DIM_B, I), 3, DIMS(T, B, I), d->x);
    *h0 = input(f, "h0", TF(IR_DIM_B, H), 2, DIMS(B, H), d->h0);
    if (c0) *c0 = input(f, "c0", TF(IR_DIM_B, H), 2, DIMS(B, H), d->c0);
    w[0] = param(f, "w_ih", TF(G * H, I), d->wih);
    w[1] = param(f, "w_hh", TF(G * H, H), d->whh);
    w[2] = param(f, "b_ih", TF(G * H), d->bih);
    w[3] = param(f, "b_hh", TF(G * H), d->bhh);
}

static void run_lstm(int T, IrPrecision prec)
{
    Fx f;
    CellData d;
    IrValue *x, *h0, *c0, *w[4];
    fx_init(&f, "lstm");
    cell_inputs(&f, &d, 4, T, &x, &h0, &c0, w);

    IrValue *carried[2] = {h0, c0};
    IrOp *sc = ir_scan_begin(f.m, f.m->body, carried, 2, &x, 1, 0, 0);
    IrBlock *bd = sc->body;
    IrValue *h = bd->args[0], *c = bd->args[1], *xt = bd->args[2];
    /* The weights are read from outside the body. */
    IrValue *g = add(&f, bd, add(&f, bd, ir_op2(f.m, bd, IR_LINEAR, xt, w[0]), w[2]),
                     add(&f, bd, ir_op2(f.m, bd, IR_LINEAR, h, w[1]), w[3]));
    IrValue *ig = un(&f, bd, IR_SIGMOID, gate(&f, bd, g, 0));
    IrValue *fg = un(&f, bd, IR_SIGMOID, gate(&f, bd, g, 1));
    IrValue *gg = un(&f, bd, IR_TANH, gate(&f, bd, g, 2));
    IrValue *og = un(&f, bd, IR_SIGMOID, gate(&f, bd, g, 3));
    IrValue *c2 = add(&f, bd, mul(&f, bd, fg, c), mul(&f, bd, ig, gg));
    IrValue *h2 = mul(&f, bd, og, un(&f, bd, IR_TANH, c2));
    IrValue *ys[3] = {h2, c2, h2};
    ir_scan_finish(f.m, sc, ys, 2, 1);
    ir_add_output(f.m, "h_n", sc->results[0]);
    ir_add_output(f.m, "c_n", sc->results[1]);
    ir_add_output(f.m, "hs", sc->results[2]);
    run_ok(&f, prec);

    double h_ref[B * H], c_ref[B * H], hs_ref[3 * B * H];
    memcpy(h_ref, d.h0, sizeof h_ref);
    memcpy(c_ref, d.c0, sizeof c_ref);
    for (int t = 0; t < T; t++) {
        lstm_ref(d.wih, d.whh, d.bih, d.bhh, d.x + t * B * I, h_ref, c_ref);
        memcpy(hs_ref + t * B * H, h_ref, sizeof h_ref);
    }
    /* F64: the same operations in a different order over O(1) values; the
     * sums have 6 terms, so differences stay within ~10 ulps: 1e-13.
     * F32: every op rounds to float (6e-8 relative), about 15 ops a step,
     * over 3 steps with |gradient| < 1 in the recurrence: 1e-5. */
    double tol = prec == IR_PREC_F64 ? 1e-13 : 1e-5;
    assert_shape(&f, "hs", 3, DIMS(T, B, H));
    assert_out(&f, "h_n", h_ref, B * H, tol);
    assert_out(&f, "c_n", c_ref, B * H, tol);
    assert_out(&f, "hs", hs_ref, T * B * H, tol);
    fx_free(&f);
}

static void test_lstm_scan(void **state)
{
    (void)state;
    run_lstm(1, IR_PREC_F64);
    run_lstm(3, IR_PREC_F64);
    run_lstm(3, IR_PREC_F32);
}

static void run_gru(int T, IrPrecision prec)
{
    Fx f;
    CellData d;
    IrValue *x, *h0, *w[4];
    fx_init(&f, "gru");
    cell_inputs(&f, &d, 3, T, &x, &h0, NULL, w);

    IrOp *sc = ir_scan_begin(f.m, f.m->body, &h0, 1, &x, 1, 0, 0);
    IrBlock *bd = sc->body;
    IrValue *h = bd->args[0], *xt = bd->args[1];
    IrValue *gi = add(&f, bd, ir_op2(f.m, bd, IR_LINEAR, xt, w[0]), w[2]);
    IrValue *gh = add(&f, bd, ir_op2(f.m, bd, IR_LINEAR, h, w[1]), w[3]);
    IrValue *r = un(&f, bd, IR_SIGMOID, add(&f, bd, gate(&f, bd, gi, 0), gate(&f, bd, gh, 0)));
    IrValue *z = un(&f, bd, IR_SIGMOID, add(&f, bd, gate(&f, bd, gi, 1), gate(&f, bd, gh, 1)));
    IrValue *n = un(&f, bd, IR_TANH, add(&f, bd, gate(&f, bd, gi, 2), mul(&f, bd, r, gate(&f, bd, gh, 2))));
    IrValue *one = ir_const(f.m, bd, 1.0, SCALAR);
    IrValue *h2 = add(&f, bd, mul(&f, bd, ir_op2(f.m, bd, IR_SUB, one, z), n), mul(&f, bd, z, h));
    IrValue *ys[2] = {h2, h2};
    ir_scan_finish(f.m, sc, ys, 1, 1);
    ir_add_output(f.m, "h_n", sc->results[0]);
    ir_add_output(f.m, "hs", sc->results[1]);
    run_ok(&f, prec);

    double h_ref[B * H], hs_ref[3 * B * H];
    memcpy(h_ref, d.h0, sizeof h_ref);
    for (int t = 0; t < T; t++) {
        gru_ref(d.wih, d.whh, d.bih, d.bhh, d.x + t * B * I, h_ref);
        memcpy(hs_ref + t * B * H, h_ref, sizeof h_ref);
    }
    /* Same reasoning as the LSTM: 1e-13 in F64, 1e-5 in F32. */
    double tol = prec == IR_PREC_F64 ? 1e-13 : 1e-5;
    assert_out(&f, "h_n", h_ref, B * H, tol);
    assert_out(&f, "hs", hs_ref, T * B * H, tol);
    fx_free(&f);
}

static void test_gru_scan(void **state)
{
    (void)state;
    run_gru(1, IR_PREC_F64);
    run_gru(3, IR_PREC_F64);
    run_gru(3, IR_PREC_F32);
}

/* s' = s * w + x_t with w a parameter read from outside the body; the
 * outputs are the s' of each step.  Forward over x = 1, 2, 3 gives 1, 12,
 * 123; reversed the steps run t = 2, 1, 0 giving 3, 32, 321, stored at
 * their own step's index. */
static void run_accumulate(int reverse, const double *want_ys, double want_final)
{
    Fx f;
    fx_init(&f, "acc");
    int tx = ir_add_sym(f.m, "T_x", 8);
    IrValue *x = input(&f, "x", TF(IR_DIM_SYM(tx), IR_DIM_B, 1), 3, DIMS(3, 1, 1), (double[]){1, 2, 3});
    IrValue *w = param(&f, "w", TF(1), (double[]){10});
    IrValue *s0 = ir_const(f.m, f.m->body, 0.0, TF(IR_DIM_B, 1));
    IrOp *sc = ir_scan_begin(f.m, f.m->body, &s0, 1, &x, 1, reverse, 0);
    IrBlock *bd = sc->body;
    IrValue *s2 = add(&f, bd, mul(&f, bd, bd->args[0], w), bd->args[1]);
    IrValue *ys[2] = {s2, s2};
    ir_scan_finish(f.m, sc, ys, 1, 1);
    ir_add_output(f.m, "final", sc->results[0]);
    ir_add_output(f.m, "ys", sc->results[1]);
    run_ok(&f, IR_PREC_F64);
    assert_out(&f, "ys", want_ys, 3, 0); /* small integers: exact */
    assert_out(&f, "final", &want_final, 1, 0);
    fx_free(&f);
}

static void test_scan_forward_and_reverse(void **state)
{
    (void)state;
    run_accumulate(0, (double[]){1, 12, 123}, 123);
    run_accumulate(1, (double[]){321, 32, 3}, 321);
}

/* A scan with no sequence operand runs `steps` times: h' = 2h + 1 from
 * h0 = (1, 2) gives 3, 7, 15, 31 and 5, 11, 23, 47. */
static void test_scan_steps_only(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "gen");
    IrValue *h0 = input(&f, "h0", TF(IR_DIM_B, 1), 2, DIMS(2, 1), (double[]){1, 2});
    IrValue *one = ir_const(f.m, f.m->body, 1.0, SCALAR); /* read from inside the body */
    IrValue *two = ir_const(f.m, f.m->body, 2.0, SCALAR);
    IrOp *sc = ir_scan_begin(f.m, f.m->body, &h0, 1, NULL, 0, 0, 4);
    IrBlock *bd = sc->body;
    IrValue *h2 = add(&f, bd, mul(&f, bd, two, bd->args[0]), one);
    IrValue *ys[2] = {h2, h2};
    ir_scan_finish(f.m, sc, ys, 1, 1);
    ir_add_output(f.m, "ys", sc->results[1]);
    ir_add_output(f.m, "last", sc->results[0]);
    run_ok(&f, IR_PREC_F64);
    assert_shape(&f, "ys", 3, DIMS(4, 2, 1));
    assert_out(&f, "ys", (double[]){3, 5, 7, 11, 15, 23, 31, 47}, 8, 0); /* exact */
    assert_out(&f, "last", (double[]){31, 47}, 2, 0);
    fx_free(&f);
}

/* Yields that are the body's own arguments: (a, b, k) -> (b, a + b, k),
 * with k never changing.  From (0, 1, 5) over 4 steps: a = 3, b = 5 (the
 * Fibonacci numbers), k = 5, and the per-step outputs b * k. */
static void test_scan_yields_its_arguments(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "fib");
    IrValue *a0 = input_c(&f, "a0", TF(1), (double[]){0});
    IrValue *b0 = input_c(&f, "b0", TF(1), (double[]){1});
    IrValue *k0 = input_c(&f, "k0", TF(1), (double[]){5});
    IrValue *carried[3] = {a0, b0, k0};
    IrOp *sc = ir_scan_begin(f.m, f.m->body, carried, 3, NULL, 0, 0, 4);
    IrBlock *bd = sc->body;
    IrValue *a = bd->args[0], *b = bd->args[1], *k = bd->args[2];
    IrValue *ys[4] = {b, add(&f, bd, a, b), k, mul(&f, bd, b, k)};
    ir_scan_finish(f.m, sc, ys, 3, 1);
    ir_add_output(f.m, "a", sc->results[0]);
    ir_add_output(f.m, "b", sc->results[1]);
    ir_add_output(f.m, "k", sc->results[2]);
    ir_add_output(f.m, "bk", sc->results[3]);
    run_ok(&f, IR_PREC_F64);
    /* small integers: exact */
    assert_out(&f, "a", (double[]){3}, 1, 0);
    assert_out(&f, "b", (double[]){5}, 1, 0);
    assert_out(&f, "k", (double[]){5}, 1, 0);
    assert_out(&f, "bk", (double[]){5, 5, 10, 15}, 4, 0); /* b before each step: 1 1 2 3 */
    fx_free(&f);
}

/* An inner steps-only scan (3 steps) inside an outer scan over x; the inner
 * body reads x_t, an argument of the outer body: u' = u + x_t from u = s,
 * so s' = s + 3 x_t.  x = 1, 2 gives s = 3, then 9. */
static void test_nested_scan(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "nest");
    int tx = ir_add_sym(f.m, "T_x", 8);
    IrValue *x = input(&f, "x", TF(IR_DIM_SYM(tx), IR_DIM_B, 1), 3, DIMS(2, 1, 1), (double[]){1, 2});
    IrValue *s0 = ir_const(f.m, f.m->body, 0.0, TF(IR_DIM_B, 1));
    IrOp *outer = ir_scan_begin(f.m, f.m->body, &s0, 1, &x, 1, 0, 0);
    IrBlock *ob = outer->body;
    IrValue *xt = ob->args[1];
    IrOp *inner = ir_scan_begin(f.m, ob, &ob->args[0], 1, NULL, 0, 0, 3);
    IrBlock *ib = inner->body;
    IrValue *u2 = add(&f, ib, ib->args[0], xt);
    ir_scan_finish(f.m, inner, &u2, 1, 0);
    IrValue *ys[2] = {inner->results[0], inner->results[0]};
    ir_scan_finish(f.m, outer, ys, 1, 1);
    ir_add_output(f.m, "ys", outer->results[1]);
    run_ok(&f, IR_PREC_F64);
    assert_out(&f, "ys", (double[]){3, 9}, 2, 0); /* exact */
    fx_free(&f);
}

/* ---- precision ----------------------------------------------------------------------------------------- */

/* 1 + 1e-9 is 1 in float32 (its ulp at 1 is 1.2e-7) but not in double.
 * (x + 1e-9) - x shows that the rounding happens at every op, not only
 * when the outputs are converted: it is 0 in F32 mode. */
static void test_f32_rounds_f64_does_not(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "prec");
    IrValue *x = input_c(&f, "x", TF(1), (double[]){1.0});
    IrValue *tiny = ir_const(f.m, f.m->body, 1e-9, TF(1));
    IrValue *y = add(&f, f.m->body, x, tiny);
    ir_add_output(f.m, "y", y);
    ir_add_output(f.m, "d", ir_op2(f.m, f.m->body, IR_SUB, y, x));
    IrValue *p = input_c(&f, "p", TF(1), (double[]){0.1});
    ir_add_output(f.m, "q", ir_op1(f.m, f.m->body, IR_NEG, p));

    run_ok(&f, IR_PREC_F32);
    assert_int_equal(out_t(&f, "y")->dtype, RT_F32);
    assert_true(out_at(&f, "y", 0) == 1.0);
    assert_true(out_at(&f, "d", 0) == 0.0);
    /* An F64 input is rounded to float on entry, as a float32 program would hold it. */
    assert_true(out_at(&f, "q", 0) == -(double)0.1f);

    run_ok(&f, IR_PREC_F64);
    assert_int_equal(out_t(&f, "y")->dtype, RT_F64);
    assert_true(out_at(&f, "y", 0) != 1.0);
    assert_true(out_at(&f, "y", 0) == 1.0 + 1e-9);         /* the same single double addition */
    assert_true(out_at(&f, "d", 0) == (1.0 + 1e-9) - 1.0); /* the same two double ops */
    assert_true(out_at(&f, "q", 0) == -0.1);
    fx_free(&f);
}

/* ---- errors --------------------------------------------------------------------------------------------- */

/* A small language model: x [T_x, B, 4] and tokens [T_tok, B] -> embedding 'e'. */
static void lm(Fx *f, int64_t tmax)
{
    fx_init(f, "m");
    int tx = ir_add_sym(f->m, "T_x", tmax);
    int tt = ir_add_sym(f->m, "T_tokens", tmax);
    IrValue *x = ir_add_input(f->m, "x", TF(IR_DIM_SYM(tx), IR_DIM_B, 4));
    IrValue *tok = ir_add_input(f->m, "tokens", TI(IR_DIM_SYM(tt), IR_DIM_B));
    IrValue *tab = param(f, "e.weight", TF(65, 4), (double[65 * 4]){0});
    IrValue *e = ir_op2(f->m, f->m->body, IR_EMBEDDING, tab, tok);
    e->name = ir_strdup(f->m, "e");
    ir_add_output(f->m, "e", e);
    ir_add_output(f->m, "xs", ir_op1(f->m, f->m->body, IR_TANH, x));
}

static void test_error_messages(void **state)
{
    (void)state;
    Fx f;
    double z[128] = {0}, ids[16] = {0};

    lm(&f, 4096);
    put(&f.in, "x", RT_F32, 3, DIMS(5, 3, 4), z);
    assert_int_equal(run_err(&f, IR_PREC_F32), -1);
    assert_string_equal(f.err, "missing input 'tokens' (ids [T_tokens, B])");
    assert_int_equal(f.out.count, 0); /* a failed run writes nothing */
    fx_free(&f);

    lm(&f, 4096);
    put(&f.in, "x", RT_F32, 3, DIMS(5, 3, 5), z);
    put(&f.in, "tokens", RT_I64, 2, DIMS(4, 3), ids);
    assert_int_equal(run_err(&f, IR_PREC_F32), -1);
    assert_string_equal(f.err, "input 'x': expected rank 3 [T_x, B, 4], got [5, 3, 5]");
    fx_free(&f);

    lm(&f, 4096);
    put(&f.in, "x", RT_F32, 3, DIMS(5, 3, 4), z);
    ids[3 * 2 + 1] = 70; /* [3, 1] of a [4, 2] id tensor */
    put(&f.in, "tokens", RT_I64, 2, DIMS(4, 2), ids);
    assert_int_equal(run_err(&f, IR_PREC_F32), -1);
    /* B = 3 from x, 2 from tokens. */
    assert_string_equal(f.err, "input 'tokens': dimension 1 (B) is 2, but B = 3 from input 'x'");
    fx_free(&f);

    lm(&f, 4096);
    put(&f.in, "x", RT_F32, 3, DIMS(5, 2, 4), z);
    put(&f.in, "tokens", RT_I64, 2, DIMS(4, 2), ids);
    assert_int_equal(run_err(&f, IR_PREC_F32), -1);
    assert_string_equal(f.err, "input 'tokens': token id 70 at step 3, batch 1 [3, 1] is out of range [0, 65) in "
                               "embedding 'e'");
    assert_int_equal(f.out.count, 0);
    fx_free(&f);

    ids[7] = -1;
    lm(&f, 4096);
    put(&f.in, "x", RT_F32, 3, DIMS(5, 2, 4), z);
    put(&f.in, "tokens", RT_I32, 2, DIMS(4, 2), ids);
    ids[7] = 0;
    assert_int_equal(run_err(&f, IR_PREC_F64), -1);
    assert_string_equal(f.err, "input 'tokens': token id -1 at step 3, batch 1 [3, 1] is out of range [0, 65) in "
                               "embedding 'e'");
    fx_free(&f);

    lm(&f, 4);
    put(&f.in, "x", RT_F32, 3, DIMS(5, 2, 4), z);
    put(&f.in, "tokens", RT_I64, 2, DIMS(4, 2), ids);
    assert_int_equal(run_err(&f, IR_PREC_F32), -1);
    assert_string_equal(f.err, "input 'x': T_x = 5 is above its declared maximum 4");
    fx_free(&f);

    lm(&f, 4096);
    put(&f.in, "x", RT_F32, 3, DIMS(5, 2, 4), z);
    put(&f.in, "tokens", RT_F32, 2, DIMS(4, 2), ids);
    assert_int_equal(run_err(&f, IR_PREC_F32), -1);
    assert_string_equal(f.err, "input 'tokens': expected integer ids (I32 or I64), got F32");
    fx_free(&f);

    lm(&f, 4096);
    put(&f.in, "x", RT_F32, 3, DIMS(5, 2, 4), z);
    put(&f.in, "tokens", RT_I64, 2, DIMS(4, 2), ids);
    put(&f.in, "tokenz", RT_I64, 2, DIMS(4, 2), ids);
    assert_int_equal(run_err(&f, IR_PREC_F32), -1);
    assert_string_equal(f.err, "unknown input 'tokenz': model m has inputs x, tokens and targets none");
    fx_free(&f);

    /* Weights are checked too, by the same code as the backends'. */
    lm(&f, 4096);
    put(&f.in, "x", RT_F32, 3, DIMS(5, 2, 4), z);
    put(&f.in, "tokens", RT_I64, 2, DIMS(4, 2), ids);
    put(&f.params, "e.weight", RT_F32, 2, DIMS(64, 4), (double[64 * 4]){0});
    assert_int_equal(run_err(&f, IR_PREC_F32), -1);
    assert_string_equal(f.err, "parameters: parameter 'e.weight' has shape [64, 4], the model needs [65, 4]");
    fx_free(&f);

    /* And the good case of the same model runs. */
    lm(&f, 4096);
    put(&f.in, "x", RT_F32, 3, DIMS(5, 2, 4), z);
    put(&f.in, "tokens", RT_I64, 2, DIMS(4, 2), ids);
    run_ok(&f, IR_PREC_F32);
    assert_shape(&f, "e", 3, DIMS(4, 2, 4));
    assert_shape(&f, "xs", 3, DIMS(5, 2, 4));
    fx_free(&f);
}

static void test_cross_entropy_id_out_of_range(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "ce");
    IrValue *lg = input_c(&f, "logits", TF(2, 3), (double[]){0, 0, 0, 0, 0, 0});
    IrValue *t = ir_add_target(f.m, "next", TI(2));
    put(&f.in, "next", RT_I64, 1, DIMS(2), (double[]){0, 3});
    f.m->loss = ir_op2(f.m, f.m->body, IR_CROSS_ENTROPY, lg, t);
    f.m->loss->name = ir_strdup(f.m, "loss");
    assert_int_equal(run_err(&f, IR_PREC_F32), -1);
    /* found when the target is bound, before any op runs */
    assert_string_equal(f.err, "target 'next': target id 3 at [1] is out of range [0, 3) in cross_entropy 'loss'");
    fx_free(&f);
}

/* An id error inside a scan body says which step. */
static void test_error_in_scan_names_step(void **state)
{
    (void)state;
    Fx f;
    fx_init(&f, "se");
    int tt = ir_add_sym(f.m, "T_tok", 8);
    IrValue *tok = input(&f, "tok", TI(IR_DIM_SYM(tt), IR_DIM_B), 2, DIMS(3, 1), (double[]){1, 0, 9});
    IrValue *tab = param(&f, "e.weight", TF(4, 1), (double[]){1, 2, 3, 4});
    IrOp *sc = ir_scan_begin(f.m, f.m->body, NULL, 0, &tok, 1, 0, 0);
    IrValue *e = ir_op2(f.m, sc->body, IR_EMBEDDING, tab, sc->body->args[0]);
    e->name = ir_strdup(f.m, "emb");
    ir_scan_finish(f.m, sc, &e, 0, 1);
    ir_add_output(f.m, "es", sc->results[0]);
    assert_int_equal(run_err(&f, IR_PREC_F32), -1);
    assert_non_null(strstr(f.err, "token id 9 at [0] out of range [0, 4) in embedding 'emb'"));
    assert_non_null(strstr(f.err, "at step 2 of scan"));
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_broadcast),
        cmocka_unit_test(test_unary),
        cmocka_unit_test(test_softplus),
        cmocka_unit_test(test_op_table),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_concat_slice),
        cmocka_unit_test(test_broadcast_stack_index),
        cmocka_unit_test(test_seq_ops),
        cmocka_unit_test(test_embedding),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_mse_and_missing_target),
        cmocka_unit_test(test_lstm_scan),
        cmocka_unit_test(test_gru_scan),
        cmocka_unit_test(test_scan_forward_and_reverse),
        cmocka_unit_test(test_scan_steps_only),
        cmocka_unit_test(test_scan_yields_its_arguments),
        cmocka_unit_test(test_nested_scan),
        cmocka_unit_test(test_f32_rounds_f64_does_not),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_cross_entropy_id_out_of_range),
        cmocka_unit_test(test_error_in_scan_names_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
