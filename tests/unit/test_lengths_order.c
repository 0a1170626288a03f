/* test_lengths_order.c - the run's order of a batch with lengths
 * (ir/lengths_order.h): the examples run longest first and the outputs
 * come back in the caller's order.
 *
 * The order itself (stable, only when the lengths are not already
 * non-increasing, never with dropout), the tensors ir_lengths_apply()
 * hands a run, and then on every engine (interpreter, JIT, C) a batch
 * against the same examples in another order: each example's outputs to
 * the bit, the loss and the gradients within float rounding.  That the
 * results are PyTorch's packed sequences is test_lengths.c's job (each
 * example alone), which runs unsorted lengths too. */
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
#include "ir/lengths_order.h"
#include "passes/pipeline.h"

enum { T = 5, B = 3 };

static const char *const SRC = "model m {\n"
                               "  input  x : seq<[3]> lengths\n"
                               "  target y : seq<[2]>\n"
                               "  h = lstm(x, hidden=4, layers=2, bidirectional)\n"
                               "  o = dense(h, 2)\n"
                               "  output o\n"
                               "  output hn = final(h)\n"
                               "  output l = last(h)\n"
                               "  loss = mse(o, y)\n"
                               "}\n";

static IrModule *grad_module(const char *src, Program **prog)
{
    char err[512] = "";
    IrModule *m = tu_build_src(src, prog);
    PipeOpts o = {.optimize = 1};
    if (pipeline_grad(m, 0, &o, err, sizeof err)) fail_msg("pipeline_grad: %s", err);
    return m;
}

static void put(TensorMap *map, const char *name, RtDType dt, int rank, const int64_t *shape, const void *data)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, dt, rank, shape), 0);
    memcpy(t.data, data, (size_t)rt_numel(&t) * rt_dtype_size(dt));
    assert_int_equal(rt_map_put(map, name, &t), 0);
}

/* x [T, B, 3] and y [T, B, 2]: row b is example ex[b] of a fixed set of
 * three (random, NaN at its padded steps: never read), with lengths
 * len[b]. */
static void batch(TensorMap *in, const int *ex, const int64_t *len)
{
    float x[T][B][3], y[T][B][2];
    for (int b = 0; b < B; b++) {
        RtRng r;
        rt_rng_seed(&r, 40 + (uint64_t)ex[b]); /* example ex[b]'s values, in any row */
        for (int t = 0; t < T; t++) {
            for (int k = 0; k < 3; k++) {
                float v = rt_rng_uniform_sym(&r, 1.0f);
                x[t][b][k] = t < len[b] ? v : NAN;
            }
            for (int k = 0; k < 2; k++) {
                float v = rt_rng_uniform_sym(&r, 1.0f);
                y[t][b][k] = t < len[b] ? v : NAN;
            }
        }
    }
    int64_t xs[3] = {T, B, 3}, ys[3] = {T, B, 2}, ls = B;
    rt_map_init(in);
    put(in, "x", RT_F32, 3, xs, x);
    put(in, "y", RT_F32, 3, ys, y);
    put(in, "x.len", RT_I64, 1, &ls, len);
}

/* ---- the order ----------------------------------------------------------------------- */

/* ir_lengths_order on lengths len: want (NULL: the caller's order). */
static void expect_order(const IrModule *m, const int64_t *len, const int64_t *want)
{
    static const int ex[B] = {0, 1, 2};
    TensorMap in;
    int64_t *order;
    batch(&in, ex, len);
    int64_t n = ir_lengths_order(m, &in, &order);
    if (!want) {
        assert_int_equal(n, 0);
        assert_null(order);
    } else {
        assert_int_equal(n, B);
        for (int b = 0; b < B; b++) assert_int_equal(order[b], want[b]);
    }
    free(order);
    rt_map_free(&in);
}

static void test_order(void **state)
{
    (void)state;
    Program *prog, *dprog;
    IrModule *m = grad_module(SRC, &prog);
    expect_order(m, (const int64_t[]){5, 2, 3}, (const int64_t[]){0, 2, 1});
    expect_order(m, (const int64_t[]){1, 3, 3}, (const int64_t[]){1, 2, 0}); /* ties keep their order */
    expect_order(m, (const int64_t[]){3, 3, 1}, NULL);                       /* already longest first */
    /* dropout's masks are drawn by position in the batch: no sort */
    const char *with = "model m {\n"
                       "  input  x : seq<[3]> lengths\n"
                       "  target y : seq<[2]>\n"
                       "  h = lstm(x, hidden=4, layers=2, dropout=0.5)\n"
                       "  o = dense(h, 2)\n"
                       "  loss = mse(o, y)\n"
                       "}\n";
    IrModule *d = grad_module(with, &dprog);
    expect_order(d, (const int64_t[]){5, 2, 3}, NULL);
    ir_free(d);
    ast_free(dprog);
    ir_free(m);
    ast_free(prog);
}

/* What a run gets: x's rows and the mask's columns longest first. */
static void test_apply(void **state)
{
    (void)state;
    char err[512] = "";
    Program *prog;
    IrModule *m = grad_module(SRC, &prog);
    static const int ex[B] = {0, 1, 2};
    static const int64_t len[B] = {4, 2, 3};
    TensorMap in, own;
    const TensorMap *use;
    batch(&in, ex, len);
    assert_int_equal(ir_lengths_apply(m, &in, &own, &use, err, sizeof err), 0);
    assert_ptr_equal(use, &own);
    const Tensor *x = rt_map_get(&own, "x"), *gx = rt_map_get(&in, "x"), *mask = rt_map_get(&own, "x.len");
    assert_int_equal(x->shape[0], 4); /* the longest example's steps */
    static const int64_t run[B] = {0, 2, 1}, want_len[B] = {4, 3, 2};
    for (int b = 0; b < B; b++) {
        int64_t steps = 0;
        for (int t = 0; t < 4; t++) steps += ((const float *)mask->data)[t * B + b] == 1.0f;
        assert_int_equal(steps, want_len[b]);
        for (int k = 0; k < 3; k++) /* step 0 of every example is real */
            assert_true(((const float *)x->data)[b * 3 + k] == ((const float *)gx->data)[run[b] * 3 + k]);
    }
    rt_map_free(&own);
    rt_map_free(&in);
    ir_free(m);
    ast_free(prog);
}

/* ---- every engine ------------------------------------------------------------------- */

static void run(const Engine *e, const IrModule *m, const TensorMap *params, const TensorMap *in, TensorMap *out)
{
    char err[1024] = "";
    rt_map_init(out);
    if (e->run(e, m, params, in, out, err, sizeof err)) fail_msg("%s engine: %s", e->name, err);
}

/* Example ex of output t (batch dim d of its type) in the batch whose
 * row b holds example rows[b]: its row, as bits. */
static void compare(const char *engine, const char *name, const IrType *ty, const Tensor *a, const int *ra,
                    const Tensor *b, const int *rb)
{
    int d = 0;
    while (d < ty->rank && ty->dim[d] != IR_DIM_B) d++;
    if (d == ty->rank) { /* no batch dim: the loss and the gradients sum over the batch */
        /* Float32 sums of the three examples' terms in another order: a
         * few roundings of 2^-24 relative to the largest term, each
         * carried through at most a few hundred ops of BPTT over 5 steps
         * of 2 layers (test_lengths.c's bound: 3e-5); 1e-4 of
         * max(1, |v|) leaves a margin of 3. */
        for (int64_t k = 0; k < rt_numel(a); k++) {
            double va = ((const float *)a->data)[k], vb = ((const float *)b->data)[k];
            if (fabs(va - vb) > 1e-4 * fmax(1, fabs(va)))
                fail_msg("%s: %s[%lld]: %g vs %g", engine, name, (long long)k, va, vb);
        }
        return;
    }
    size_t outer = 1, inner = sizeof(float);
    for (int q = 0; q < a->rank; q++) {
        if (q < d) outer *= (size_t)a->shape[q];
        if (q > d) inner *= (size_t)a->shape[q];
    }
    for (int e = 0; e < B; e++) {
        int ia = 0, ib = 0;
        while (ra[ia] != e) ia++;
        while (rb[ib] != e) ib++;
        for (size_t o = 0; o < outer; o++)
            if (memcmp((const char *)a->data + (o * B + (size_t)ia) * inner,
                       (const char *)b->data + (o * B + (size_t)ib) * inner, inner))
                fail_msg("%s: %s of example %d differs between two orders of the batch", engine, name, e);
    }
}

/* The batch with lengths 5, 1, 3 given in the caller's order and as 3, 5,
 * 1; and examples of 3, 3 and 1 steps (two equal) in the orders 0 2 1 and
 * 2 0 1 (both longest first: not sorted, and the equal ones in other
 * rows) and 1 0 2 (sorted). */
static void check_engine(const Engine *e, const IrModule *m, const TensorMap *params)
{
    static const int rows[5][B] = {{0, 1, 2}, {2, 0, 1}, {0, 2, 1}, {2, 0, 1}, {1, 0, 2}};
    static const int64_t len[5][B] = {{5, 1, 3}, {3, 5, 1}, {3, 3, 1}, {3, 3, 1}, {1, 3, 3}};
    static const int pairs[3][2] = {{0, 1}, {2, 3}, {2, 4}};
    TensorMap out[5];
    for (int k = 0; k < 5; k++) {
        TensorMap in;
        batch(&in, rows[k], len[k]);
        run(e, m, params, &in, &out[k]);
        rt_map_free(&in);
    }
    for (int p = 0; p < 3; p++) {
        int i = pairs[p][0], j = pairs[p][1];
        for (int k = 0; k < m->noutputs; k++) {
            const char *name = m->outputs[k].name;
            compare(e->name, name, &m->outputs[k].value->type, rt_map_get(&out[i], name), rows[i],
                    rt_map_get(&out[j], name), rows[j]);
        }
    }
    for (int k = 0; k < 5; k++) rt_map_free(&out[k]);
}

static void test_engines(void **state)
{
    (void)state;
    char err[512] = "";
    Program *prog;
    IrModule *m = grad_module(SRC, &prog);
    TensorMap params;
    RtRng r;
    rt_rng_seed(&r, 14);
    rt_map_init(&params);
    for (int i = 0; i < m->nparams; i++) {
        const IrType *ty = &m->params[i].value->type;
        Tensor t;
        assert_int_equal(rt_tensor_alloc(&t, RT_F32, ty->rank, ty->dim), 0);
        for (int64_t k = 0; k < rt_numel(&t); k++) ((float *)t.data)[k] = rt_rng_uniform_sym(&r, 0.5f);
        assert_int_equal(rt_map_put(&params, m->params[i].name, &t), 0);
    }
    check_engine(&engine_interp, m, &params);
    const char *names[2] = {"jit", "c"};
    for (int k = 0; k < 2; k++) {
        if (k == 1 && system("cc --version >/dev/null 2>&1") != 0) continue;
        Engine e;
        assert_int_equal(engine_open(names[k], &e, err, sizeof err), 0);
        check_engine(&e, m, &params);
        engine_close(&e);
    }
    rt_map_free(&params);
    ir_free(m);
    ast_free(prog);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_engines),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
