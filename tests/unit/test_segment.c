/* test_segment.c - passes/segment.c, the carry rewrite behind truncated
 * BPTT (tbptt = k) and streaming:
 *   (a) reset = 1 with one segment is the unsegmented program, forward and
 *       gradients (after autodiff), exactly;
 *   (b) T steps run as segments of k and T - k, the carry fed forward, give
 *       the one-run outputs and final state, exactly;
 *   (c) the gradient of a segment is truncated at its start: a scalar rnn
 *       (H = 1, T = 4, k = 2) against its closed-form truncated gradient,
 *       which differs from the untruncated one;
 *   (d) a learned initial state gets its gradient only with reset = 1;
 *   (e) segment_carry_ex with one reset flag an example (the C API's
 *       NAME_reset_example): example b of a batch with flags [1, 0] gets,
 *       exactly, what the one-flag module gives it with reset b == 0;
 * and the contract's names and types, segmenting twice, a model with no
 * scan, and a mis-shaped reset flag.
 *
 * Why exact equality holds in (a), (b), (d): with reset = 1,
 * 1 * c0 + (1 - 1) * carry = c0 + 0 = c0 for a finite carry, and the
 * gradient through it is 1 * g = g; with reset = 0, 0 * c0 + 1 * carry =
 * carry.  No rounding happens anywhere in the rewrite.  (c) compares the
 * interpreter (F64) with a closed form evaluated in another order: 1e-12
 * relative, for a few dozen double operations each rounding ~1e-16. */
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
#include "passes/segment.h"
#include "io/tensor.h"
#include "tests/unit/test_util.h"

static uint64_t rng_state = 777;

static double urand(double lo, double hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

/* ---- building and data ------------------------------------------------------------- */

static void segment(IrModule *m, int want_carried)
{
    char err[512] = "";
    int n = segment_carry(m, err, sizeof err);
    if (n < 0) fail_msg("segment_carry: %s", err);
    assert_int_equal(n, want_carried);
    assert_int_equal(ir_verify(m, "test_segment", stderr), 0);
}

static void shape_of(IrType t, int64_t B, int64_t T, int64_t *shape)
{
    for (int d = 0; d < t.rank; d++) shape[d] = t.dim[d] >= 0 ? t.dim[d] : t.dim[d] == IR_DIM_B ? B : T;
}

/* A tensor of type t (B, every other symbol T), every element `fill`, or
 * random in [lo, hi) when lo < hi. */
static void put(TensorMap *map, const char *name, IrType t, int64_t B, int64_t T, double lo, double hi, double fill)
{
    int64_t shape[IR_MAX_RANK];
    shape_of(t, B, T, shape);
    Tensor x;
    assert_int_equal(rt_tensor_alloc(&x, t.dtype == IR_I64 ? RT_I64 : RT_F64, t.rank, shape), 0);
    for (int64_t i = 0; i < rt_numel(&x); i++) {
        if (t.dtype == IR_I64)
            ((int64_t *)x.data)[i] = (int64_t)urand(0, 3);
        else
            ((double *)x.data)[i] = lo < hi ? urand(lo, hi) : fill;
    }
    assert_int_equal(rt_map_put(map, name, &x), 0);
}

/* Random parameters, and random inputs and targets of the ORIGINAL module
 * (the segmented one adds carry inputs, given separately). */
static void make_data(const IrModule *m, int64_t B, int64_t T, TensorMap *params, TensorMap *inputs)
{
    rt_map_init(params);
    rt_map_init(inputs);
    for (int i = 0; i < m->nparams; i++) put(params, m->params[i].name, m->params[i].value->type, B, T, -0.6, 0.6, 0);
    for (int i = 0; i < m->ninputs; i++) put(inputs, m->inputs[i].name, m->inputs[i].value->type, B, T, -1, 1, 0);
    for (int i = 0; i < m->ntargets; i++) put(inputs, m->targets[i].name, m->targets[i].value->type, B, T, -1, 1, 0);
}

/* A copy of a map, plus carry:reset = reset and carry:k = zeros (the
 * inputs a first segment gets). */
static void with_carry(const IrModule *seg, const TensorMap *in, double reset, int64_t B, TensorMap *out)
{
    rt_map_init(out);
    for (int i = 0; i < in->count; i++) {
        Tensor c;
        const Tensor *t = &in->tensors[i];
        assert_int_equal(rt_tensor_alloc(&c, t->dtype, t->rank, t->shape), 0);
        memcpy(c.data, t->data, (size_t)rt_numel(t) * (t->dtype == RT_F64 || t->dtype == RT_I64 ? 8 : 4));
        assert_int_equal(rt_map_put(out, in->names[i], &c), 0);
    }
    for (int i = 0; i < seg->ninputs; i++) {
        const char *name = seg->inputs[i].name;
        if (!strcmp(name, SEGMENT_RESET_INPUT))
            put(out, name, seg->inputs[i].value->type, B, 1, 0, 0, reset);
        else if (!strncmp(name, SEGMENT_CARRY_PREFIX, strlen(SEGMENT_CARRY_PREFIX)))
            put(out, name, seg->inputs[i].value->type, B, 1, 0, 0, 0.0);
    }
}

static void run(const IrModule *m, const TensorMap *params, const TensorMap *inputs, TensorMap *out)
{
    char err[512] = "";
    rt_map_init(out);
    if (interp_run(m, params, inputs, out, IR_PREC_F64, err, sizeof err)) fail_msg("interp: %s", err);
}

static const double *f64(const TensorMap *map, const char *name)
{
    const Tensor *t = rt_map_get(map, name);
    if (!t) fail_msg("no tensor '%s'", name);
    assert_int_equal(t->dtype, RT_F64);
    return t->data;
}

/* Every tensor of `want` is in `got`, element for element equal. */
static void same(const TensorMap *want, const TensorMap *got, const char *what)
{
    for (int i = 0; i < want->count; i++) {
        const Tensor *a = &want->tensors[i], *b = rt_map_get(got, want->names[i]);
        if (!b) fail_msg("%s: no '%s'", what, want->names[i]);
        assert_int_equal(rt_numel(a), rt_numel(b));
        for (int64_t k = 0; k < rt_numel(a); k++) {
            double x = ((double *)a->data)[k], y = ((double *)b->data)[k];
            if (x != y) fail_msg("%s: %s[%lld]: %.17g vs %.17g", what, want->names[i], (long long)k, x, y);
        }
    }
}

/* ---- (a) one segment with reset = 1 is the plain program ------------------------------ */

static void check_one_segment(const char *src, int carried)
{
    TuBuilt p = tu_build(src), s = tu_build(src);
    segment(s.m, carried);
    TensorMap params, in, sin, a, b;
    make_data(p.m, 2, 5, &params, &in);
    with_carry(s.m, &in, 1.0, 2, &sin);

    run(p.m, &params, &in, &a);
    run(s.m, &params, &sin, &b);
    assert_true(a.count > 0);
    same(&a, &b, "forward");
    rt_map_free(&a);
    rt_map_free(&b);

    char err[512] = "";
    if (autodiff(p.m, err, sizeof err)) fail_msg("autodiff: %s", err);
    if (autodiff(s.m, err, sizeof err)) fail_msg("autodiff segmented: %s", err);
    run(p.m, &params, &in, &a);
    run(s.m, &params, &sin, &b);
    same(&a, &b, "gradients");
    rt_map_free(&a);
    rt_map_free(&b);
    rt_map_free(&params);
    rt_map_free(&in);
    rt_map_free(&sin);
    tu_built_free(&p);
    tu_built_free(&s);
}

static void test_one_segment_is_plain(void **state)
{
    (void)state;
    check_one_segment("model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
                      " h = rnn(x, hidden=3)\n y = dense(h, 2)\n output y\n loss = mse(y, t)\n}\n",
                      1);
    /* two layers of lstm: h and c per layer, in program order */
    check_one_segment("model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
                      " h = lstm(x, hidden=3, layers=2)\n y = dense(h, 2)\n output y\n loss = mse(y, t)\n}\n",
                      4);
    check_one_segment("model a {\n input x : seq<[2]>\n target t : [2]\n"
                      " h = gru(x, hidden=3, init=learned)\n y = dense(last(h), 2)\n loss = mse(y, t)\n}\n",
                      1);
}

/* ---- (b) two segments with the carry fed forward = one run ---------------------------- */

/* x[from, from + n) of a [T, ...] F64 tensor. */
static void put_steps(TensorMap *map, const char *name, const Tensor *x, int64_t from, int64_t n)
{
    Tensor c;
    int64_t shape[IR_MAX_RANK];
    for (int d = 0; d < x->rank; d++) shape[d] = x->shape[d];
    shape[0] = n;
    assert_int_equal(rt_tensor_alloc(&c, RT_F64, x->rank, shape), 0);
    int64_t row = rt_numel(x) / x->shape[0];
    memcpy(c.data, (const double *)x->data + from * row, (size_t)(n * row) * sizeof(double));
    assert_int_equal(rt_map_put(map, name, &c), 0);
}

static void put_copy(TensorMap *map, const char *name, const Tensor *x)
{
    Tensor c;
    assert_int_equal(x->dtype, RT_F64);
    assert_int_equal(rt_tensor_alloc(&c, RT_F64, x->rank, x->shape), 0);
    memcpy(c.data, x->data, (size_t)rt_numel(x) * sizeof(double));
    assert_int_equal(rt_map_put(map, name, &c), 0);
}

static void check_two_segments(const char *src, int carried, int64_t T, int64_t k)
{
    TuBuilt p = tu_build(src), s = tu_build(src);
    segment(s.m, carried);
    TensorMap params, in, full_in, full;
    make_data(p.m, 2, T, &params, &in);
    with_carry(s.m, &in, 1.0, 2, &full_in);
    run(s.m, &params, &full_in, &full);

    /* segment 1: steps [0, k), reset; segment 2: [k, T), the carry of segment 1 */
    TensorMap in1, out1, in2, out2;
    rt_map_init(&in1);
    rt_map_init(&in2);
    const Tensor *x = rt_map_get(&full_in, "x");
    put_steps(&in1, "x", x, 0, k);
    put_steps(&in2, "x", x, k, T - k);
    for (int i = 0; i < full_in.count; i++)
        if (!strncmp(full_in.names[i], SEGMENT_CARRY_PREFIX, strlen(SEGMENT_CARRY_PREFIX)))
            put_copy(&in1, full_in.names[i], &full_in.tensors[i]);
    run(s.m, &params, &in1, &out1);
    double zero = 0;
    Tensor r;
    assert_int_equal(rt_tensor_alloc(&r, RT_F64, 0, NULL), 0);
    memcpy(r.data, &zero, sizeof zero);
    assert_int_equal(rt_map_put(&in2, SEGMENT_RESET_INPUT, &r), 0);
    char name[64];
    for (int c = 0; c < carried; c++) {
        snprintf(name, sizeof name, "%s%d", SEGMENT_CARRY_PREFIX, c);
        put_copy(&in2, name, rt_map_get(&out1, name));
    }
    run(s.m, &params, &in2, &out2);

    /* y: the two halves are the one run's; the carry out of segment 2 is the
     * one run's final state */
    const Tensor *y = rt_map_get(&full, "y");
    assert_non_null(y);
    int64_t row = rt_numel(y) / y->shape[0];
    const double *y1 = f64(&out1, "y"), *y2 = f64(&out2, "y"), *yf = f64(&full, "y");
    for (int64_t i = 0; i < T * row; i++) {
        double got = i < k * row ? y1[i] : y2[i - k * row];
        if (got != yf[i]) fail_msg("y[%lld]: segmented %.17g, one run %.17g", (long long)i, got, yf[i]);
    }
    for (int c = 0; c < carried; c++) {
        snprintf(name, sizeof name, "%s%d", SEGMENT_CARRY_PREFIX, c);
        const Tensor *a = rt_map_get(&full, name);
        const double *b = f64(&out2, name), *af = f64(&full, name);
        for (int64_t i = 0; i < rt_numel(a); i++)
            if (af[i] != b[i]) fail_msg("%s[%lld]: segmented %.17g, one run %.17g", name, (long long)i, b[i], af[i]);
    }
    /* and the carry really mattered: segment 2 from a fresh state differs */
    TensorMap in3, out3;
    rt_map_init(&in3);
    put_steps(&in3, "x", x, k, T - k);
    for (int i = 0; i < in1.count; i++)
        if (strcmp(in1.names[i], "x")) put_copy(&in3, in1.names[i], &in1.tensors[i]);
    run(s.m, &params, &in3, &out3);
    assert_true(fabs(f64(&out3, "y")[0] - y2[0]) > 1e-6);

    TensorMap *maps[] = {&params, &in, &full_in, &full, &in1, &out1, &in2, &out2, &in3, &out3};
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) rt_map_free(maps[i]);
    tu_built_free(&p);
    tu_built_free(&s);
}

static void test_two_segments_are_one_run(void **state)
{
    (void)state;
    check_two_segments("model a {\n input x : seq<[2]>\n"
                       " h = gru(x, hidden=3)\n output y = dense(h, 2)\n}\n",
                       1, 5, 2);
    check_two_segments("model a {\n input x : seq<[2]>\n"
                       " h = lstm(x, hidden=3, layers=2)\n output y = dense(h, 2)\n}\n",
                       4, 6, 3);
}

/* ---- (c) the gradient is cut at the segment's start: a hand-worked case --------------- */

/* h_t = tanh(wi x_t + bi + wh h_{t-1} + bh), loss = mean over the segment's
 * steps of (h_t - y_t)^2, H = 1, B = 1, T = 4 in segments of k = 2. */
static const char *scalar_src = "model s {\n input x : seq<[1]>\n target t : seq<[1]>\n"
                                " h = rnn(x, hidden=1)\n output h\n loss = mse(h, t)\n}\n";

static void put_scalar_seq(TensorMap *map, const char *name, const double *v, int n)
{
    int64_t shape[3] = {n, 1, 1};
    Tensor x;
    assert_int_equal(rt_tensor_alloc(&x, RT_F64, 3, shape), 0);
    memcpy(x.data, v, (size_t)n * sizeof *v);
    assert_int_equal(rt_map_put(map, name, &x), 0);
}

/* A tensor of shape [1] * rank holding v (rank 0: a scalar). */
static void put_param(TensorMap *map, const char *name, int rank, double v)
{
    int64_t shape[2] = {1, 1};
    Tensor x;
    assert_int_equal(rt_tensor_alloc(&x, RT_F64, rank, shape), 0);
    ((double *)x.data)[0] = v;
    assert_int_equal(rt_map_put(map, name, &x), 0);
}

static void near(double got, double want, const char *what)
{
    /* closed form vs interpreter, both F64: see the top of the file */
    if (fabs(got - want) > 1e-12 * fabs(want) + 1e-15)
        fail_msg("%s: autodiff %.17g, closed form %.17g", what, got, want);
}

static void test_truncated_gradient_by_hand(void **state)
{
    (void)state;
    const double wi = 0.7, wh = 0.9, bi = 0.1, bh = -0.05;
    const double x[4] = {0.5, -0.3, 0.8, 0.2}, y[4] = {0.1, 0.2, -0.4, 0.3};

    TuBuilt s = tu_build(scalar_src);
    segment(s.m, 1);
    char err[512] = "";
    if (autodiff(s.m, err, sizeof err)) fail_msg("autodiff: %s", err);

    TensorMap params;
    rt_map_init(&params);
    put_param(&params, "h.weight_ih_l0", 2, wi);
    put_param(&params, "h.weight_hh_l0", 2, wh);
    put_param(&params, "h.bias_ih_l0", 1, bi);
    put_param(&params, "h.bias_hh_l0", 1, bh);

    /* segment 1: steps 1, 2 from h0 = 0 */
    TensorMap in1, out1, in2, out2;
    rt_map_init(&in1);
    put_scalar_seq(&in1, "x", x, 2);
    put_scalar_seq(&in1, "t", y, 2);
    put_param(&in1, SEGMENT_RESET_INPUT, 0, 1.0);
    put_param(&in1, SEGMENT_CARRY_PREFIX "0", 2, 0.0);
    run(s.m, &params, &in1, &out1);
    /* segment 2: steps 3, 4 from the carry */
    double c = f64(&out1, SEGMENT_CARRY_PREFIX "0")[0];
    rt_map_init(&in2);
    put_scalar_seq(&in2, "x", x + 2, 2);
    put_scalar_seq(&in2, "t", y + 2, 2);
    put_param(&in2, SEGMENT_RESET_INPUT, 0, 0.0);
    put_param(&in2, SEGMENT_CARRY_PREFIX "0", 2, c);
    run(s.m, &params, &in2, &out2);

    /* By hand.  Forward over all four steps. */
    double h[5] = {0};
    for (int t = 1; t <= 4; t++) h[t] = tanh(wi * x[t - 1] + bi + wh * h[t - 1] + bh);
    near(c, h[2], "carry = h2");
    near(f64(&out2, "h")[1], h[4], "h4");
    /* Segment 2's loss L = ((h3 - y3)^2 + (h4 - y4)^2) / 2, backward: */
    double dh4 = h[4] - y[3], da4 = dh4 * (1 - h[4] * h[4]);
    double dh3 = (h[3] - y[2]) + da4 * wh, da3 = dh3 * (1 - h[3] * h[3]);
    /* ...and there it stops: h2 is the input c, not a function of wh. */
    double gwh = da4 * h[3] + da3 * c, gwi = da4 * x[3] + da3 * x[2], gb = da4 + da3;
    near(f64(&out2, "grad:h.weight_hh_l0")[0], gwh, "segment 2 d/d weight_hh");
    near(f64(&out2, "grad:h.weight_ih_l0")[0], gwi, "segment 2 d/d weight_ih");
    near(f64(&out2, "grad:h.bias_ih_l0")[0], gb, "segment 2 d/d bias_ih");
    near(f64(&out2, "grad:h.bias_hh_l0")[0], gb, "segment 2 d/d bias_hh");
    /* Untruncated, the same loss would also flow into steps 2 and 1: */
    double da2 = da3 * wh * (1 - h[2] * h[2]), da1 = da2 * wh * (1 - h[1] * h[1]);
    double gwh_full = gwh + da2 * h[1] + da1 * h[0], gwi_full = gwi + da2 * x[1] + da1 * x[0];
    /* the cut is visible: these differ by far more than the tolerance */
    assert_true(fabs(gwh_full - gwh) > 1e-3);
    assert_true(fabs(gwi_full - gwi) > 1e-3);

    /* Segment 1 is an ordinary two-step BPTT from h0 = 0. */
    double e2 = (h[2] - y[1]) * (1 - h[2] * h[2]);
    double e1 = ((h[1] - y[0]) + e2 * wh) * (1 - h[1] * h[1]);
    near(f64(&out1, "grad:h.weight_hh_l0")[0], e2 * h[1] + e1 * h[0], "segment 1 d/d weight_hh");
    near(f64(&out1, "grad:h.weight_ih_l0")[0], e2 * x[1] + e1 * x[0], "segment 1 d/d weight_ih");

    TensorMap *maps[] = {&params, &in1, &out1, &in2, &out2};
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) rt_map_free(maps[i]);
    tu_built_free(&s);
}

/* ---- (d) a learned initial state learns only from resets -------------------------------- */

static void test_learned_init_only_through_reset(void **state)
{
    (void)state;
    const char *src = "model a {\n input x : seq<[2]>\n target t : seq<[2]>\n"
                      " h = rnn(x, hidden=3, init=learned)\n y = dense(h, 2)\n loss = mse(y, t)\n}\n";
    TuBuilt p = tu_build(src), s = tu_build(src);
    segment(s.m, 1);
    char err[512] = "";
    assert_int_equal(autodiff(p.m, err, sizeof err), 0);
    assert_int_equal(autodiff(s.m, err, sizeof err), 0);
    TensorMap params, in, r1, r0, a, b, c;
    make_data(p.m, 2, 4, &params, &in);
    with_carry(s.m, &in, 1.0, 2, &r1);
    with_carry(s.m, &in, 0.0, 2, &r0);
    for (int i = 0; i < r0.count; i++) /* continue from some state */
        if (!strcmp(r0.names[i], SEGMENT_CARRY_PREFIX "0"))
            for (int64_t k = 0; k < rt_numel(&r0.tensors[i]); k++) ((double *)r0.tensors[i].data)[k] = urand(-1, 1);
    run(p.m, &params, &in, &a);
    run(s.m, &params, &r1, &b);
    run(s.m, &params, &r0, &c);

    const Tensor *g = rt_map_get(&a, "grad:h.h0");
    assert_non_null(g);
    const double *gp = g->data, *g1 = f64(&b, "grad:h.h0"), *g0 = f64(&c, "grad:h.h0");
    double norm = 0;
    for (int64_t k = 0; k < rt_numel(g); k++) {
        assert_true(g1[k] == gp[k]); /* reset = 1: exactly the plain gradient */
        assert_true(g0[k] == 0.0);   /* reset = 0: none at all */
        norm += fabs(gp[k]);
    }
    assert_true(norm > 1e-6);
    /* while the weights still learn in a continuing segment */
    const double *gw = f64(&c, "grad:h.weight_hh_l0");
    double wn = 0;
    for (int k = 0; k < 9; k++) wn += fabs(gw[k]);
    assert_true(wn > 1e-6);

    TensorMap *maps[] = {&params, &in, &r1, &r0, &a, &b, &c};
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) rt_map_free(maps[i]);
    tu_built_free(&p);
    tu_built_free(&s);
}

/* ---- (e) one reset flag an example ------------------------------------------------------- */

/* Element i of a tensor [..., B, rest] (batch dim `bdim`) belongs to example
 * (i / rest) % B. */
static int64_t example_of(const Tensor *t, int bdim, int64_t i)
{
    int64_t rest = 1;
    for (int d = bdim + 1; d < t->rank; d++) rest *= t->shape[d];
    return (i / rest) % t->shape[bdim];
}

static void test_reset_per_example(void **state)
{
    (void)state;
    const char *src =
        "model a {\n input x : seq<[2]>\n"
        " h = lstm(x, hidden=3, layers=2, init=learned)\n output y = dense(h, 2)\n output hn = final(h)\n}\n";
    TuBuilt one = tu_build(src), per = tu_build(src);
    char err[512] = "";
    assert_int_equal(segment_carry(one.m, err, sizeof err), 4);
    assert_int_equal(segment_carry_ex(per.m, 1, err, sizeof err), 4);
    assert_int_equal(ir_verify(per.m, "test_segment", stderr), 0);
    const IrValue *reset = per.m->inputs[ir_input_index(per.m, SEGMENT_RESET_INPUT)].value;
    assert_int_equal(reset->type.rank, 1);
    assert_int_equal(reset->type.dim[0], IR_DIM_B);

    /* the same data and carries (random: a state to continue from, and a
     * learned initial state that is not zero) for the three runs */
    TensorMap params, in, r1, r0, rp, a1, a0, ap;
    make_data(one.m, 2, 4, &params, &in);
    with_carry(one.m, &in, 1.0, 2, &r1);
    for (int i = 0; i < r1.count; i++)
        if (!strncmp(r1.names[i], "carry:", 6) && strcmp(r1.names[i], SEGMENT_RESET_INPUT))
            for (int64_t k = 0; k < rt_numel(&r1.tensors[i]); k++) ((double *)r1.tensors[i].data)[k] = urand(-1, 1);
    with_carry(one.m, &r1, 0.0, 2, &r0); /* the same carries, reset 0 */
    with_carry(one.m, &r1, 0.0, 2, &rp);
    for (int i = 0; i < rp.count; i++)
        if (!strcmp(rp.names[i], SEGMENT_RESET_INPUT)) { /* [1, 0]: example 0 afresh, example 1 goes on */
            Tensor t;
            int64_t two = 2;
            assert_int_equal(rt_tensor_alloc(&t, RT_F64, 1, &two), 0);
            ((double *)t.data)[0] = 1, ((double *)t.data)[1] = 0;
            assert_int_equal(rt_map_put(&rp, SEGMENT_RESET_INPUT, &t), 0);
        }
    run(one.m, &params, &r1, &a1);
    run(one.m, &params, &r0, &a0);
    run(per.m, &params, &rp, &ap);
    int checked = 0, differ = 0;
    for (int i = 0; i < ap.count; i++) {
        const Tensor *t = &ap.tensors[i];
        const double *g = t->data, *w1 = f64(&a1, ap.names[i]), *w0 = f64(&a0, ap.names[i]);
        int bdim = !strcmp(ap.names[i], "y") || !strcmp(ap.names[i], "hn") ? 1 : 0; /* [T|L, B, ...], carries [B, H] */
        for (int64_t k = 0; k < rt_numel(t); k++) {
            double want = example_of(t, bdim, k) == 0 ? w1[k] : w0[k];
            if (g[k] != want) fail_msg("%s[%lld]: %.17g, want %.17g", ap.names[i], (long long)k, g[k], want);
            differ += w1[k] != w0[k];
            checked++;
        }
    }
    assert_true(checked > 0 && differ > 0); /* the flags mattered */
    TensorMap *maps[] = {&params, &in, &r1, &r0, &rp, &a1, &a0, &ap};
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) rt_map_free(maps[i]);
    tu_built_free(&one);
    tu_built_free(&per);
}

/* ---- the contract ---------------------------------------------------------------------- */

static void test_names_and_types(void **state)
{
    (void)state;
    TuBuilt s = tu_build("model a {\n input x : seq<[2]>\n"
                         " h = lstm(x, hidden=3)\n g = gru(h, hidden=4)\n output y = dense(g, 2)\n}\n");
    int nin = s.m->ninputs, nout = s.m->noutputs;
    segment(s.m, 3);
    assert_int_equal(s.m->ninputs, nin + 1 + 3);
    assert_int_equal(s.m->noutputs, nout + 3);
    const IrValue *reset = s.m->inputs[nin].value;
    assert_string_equal(s.m->inputs[nin].name, "carry:reset");
    assert_int_equal(reset->type.rank, 0);
    assert_int_equal(reset->type.dtype, IR_F32);
    int64_t widths[3] = {3, 3, 4}; /* lstm h, lstm c, gru h */
    for (int k = 0; k < 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "carry:%d", k);
        const IrInput *ci = &s.m->inputs[nin + 1 + k];
        const IrOutput *co = &s.m->outputs[nout + k];
        assert_string_equal(ci->name, name);
        assert_string_equal(co->name, name);
        assert_true(ir_type_eq(ci->value->type, co->value->type));
        assert_int_equal(ci->value->type.rank, 2);
        assert_int_equal(ci->value->type.dim[0], IR_DIM_B);
        assert_int_equal(ci->value->type.dim[1], widths[k]);
        assert_int_equal(co->value->def->kind, IR_SCAN);
    }

    /* twice: refused */
    char err[512] = "";
    assert_int_equal(segment_carry(s.m, err, sizeof err), -1);
    assert_non_null(strstr(err, "already"));

    /* a reset flag of the wrong shape: a clear message, no crash */
    TensorMap params, in, out;
    make_data(s.m, 2, 3, &params, &in);
    rt_map_free(&in);
    rt_map_init(&in);
    for (int i = 0; i < s.m->ninputs; i++) {
        IrType t = s.m->inputs[i].value->type;
        if (!strcmp(s.m->inputs[i].name, SEGMENT_RESET_INPUT)) t.rank = 1, t.dim[0] = 2;
        put(&in, s.m->inputs[i].name, t, 2, 3, 0, 0, 1.0);
    }
    rt_map_init(&out);
    assert_int_equal(interp_run(s.m, &params, &in, &out, IR_PREC_F32, err, sizeof err), -1);
    assert_non_null(strstr(err, "carry:reset"));
    rt_map_free(&params);
    rt_map_free(&in);
    rt_map_free(&out);
    tu_built_free(&s);

    /* no scan: no carried values, but the reset input all the same */
    s = tu_build("model d {\n input x : [2]\n output y = dense(x, 2)\n}\n");
    segment(s.m, 0);
    assert_string_equal(s.m->inputs[s.m->ninputs - 1].name, SEGMENT_RESET_INPUT);
    tu_built_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_segment_is_plain),
        cmocka_unit_test(test_two_segments_are_one_run),
        cmocka_unit_test(test_truncated_gradient_by_hand),
        cmocka_unit_test(test_learned_init_only_through_reset),
        cmocka_unit_test(test_names_and_types),
        cmocka_unit_test(test_reset_per_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
