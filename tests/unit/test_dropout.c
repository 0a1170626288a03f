/* test_dropout.c - dropout (passes/dropout.h, runtime/dropout.c):
 * the mask's statistics, the interpreter's copy of the draw against the
 * runtime's, the gradient with the mask fixed against finite differences,
 * the three engines drawing the same masks, and inference unchanged by
 * dropout. */
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
#include "io/tensor.h"
#include "ir/interp.h"
#include "passes/dropout.h"
#include "passes/pipeline.h"
#include "runtime/rnnrt.h"

/* ---- the mask ------------------------------------------------------------------ */

/* Over n = 2^20 elements the dropped count is binomial(n, p') with p'
 * within 2^-24 below p (runtime/dropout.c), so its fraction has standard
 * deviation sqrt(p (1 - p) / n) <= 4.9e-4; 6 of them (a false failure
 * once in 5e8 runs) plus 2^-24 bounds |fraction - p|.  Kept elements
 * must be (float)(1 / (1 - p)) exactly and dropped ones exactly 0.  Two
 * masks of other keys or indices must be independent: the fraction of
 * positions dropped in both is p^2 within the same kind of bound. */
static void test_mask_statistics(void **state)
{
    (void)state;
    const int64_t n = 1 << 20;
    float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    const double ps[] = {0.0, 0.1, 0.3, 0.5, 0.9};
    const int64_t keys[][2] = {{0, 0}, {1, 0}, {0, 1}, {123456789, 987654321}};
    for (size_t pi = 0; pi < sizeof ps / sizeof *ps; pi++) {
        double p = ps[pi], sd = sqrt(p * (1 - p) / (double)n);
        float scale = (float)(1.0 / (1.0 - p));
        for (size_t ki = 0; ki < sizeof keys / sizeof *keys; ki++) {
            for (int64_t index = 0; index < 2; index++) {
                rt_dropout_mask(n, 2, index, keys[ki], a, p);
                int64_t dropped = 0;
                for (int64_t i = 0; i < n; i++) {
                    if (a[i] != 0.0f && a[i] != scale) fail_msg("p=%g: element %lld is %.9g", p, (long long)i, a[i]);
                    dropped += a[i] == 0.0f;
                }
                double frac = (double)dropped / (double)n;
                if (fabs(frac - p) > 6 * sd + 0x1p-24)
                    fail_msg("p=%g key (%lld, %lld) index %lld: %.6f dropped", p, (long long)keys[ki][0],
                             (long long)keys[ki][1], (long long)index, frac);
            }
        }
        /* independence of the streams: (key, index 0) against (key', index 0) and (key, index 1) */
        rt_dropout_mask(n, 2, 0, keys[0], a, p);
        for (int other = 0; other < 3; other++) {
            rt_dropout_mask(n, 2, other == 2 ? 1 : 0, keys[other == 2 ? 0 : other + 1], b, p);
            int64_t both = 0;
            for (int64_t i = 0; i < n; i++) both += a[i] == 0.0f && b[i] == 0.0f;
            double f = (double)both / (double)n, sd2 = sqrt(p * p * (1 - p * p) / (double)n);
            if (fabs(f - p * p) > 6 * sd2 + 0x1p-23) fail_msg("p=%g: streams correlate: %.6f dropped in both", p, f);
        }
    }
    /* p = 0 is the identity's mask: every element 1 */
    rt_dropout_mask(n, 2, 0, keys[3], a, 0.0);
    for (int64_t i = 0; i < n; i++) assert_true(a[i] == 1.0f);
    free(a);
    free(b);
}

/* ---- models ------------------------------------------------------------------------- */

/* dropout= between two stacked layers and dropout(...) after them. */
static const char DROP_SRC[] = "model m {\n"
                               "  input x : seq<[3]>\n"
                               "  target t : seq<[2]>\n"
                               "  h = rnn(x, hidden=4, layers=2, dropout=0.4)\n"
                               "  d = dropout(h, 0.5)\n"
                               "  y = dense(d, 2)\n"
                               "  output y\n"
                               "  loss = mse(y, t)\n"
                               "}\n";
/* The same model without dropout (the same parameters). */
static const char PLAIN_SRC[] = "model m {\n"
                                "  input x : seq<[3]>\n"
                                "  target t : seq<[2]>\n"
                                "  h = rnn(x, hidden=4, layers=2)\n"
                                "  y = dense(h, 2)\n"
                                "  output y\n"
                                "  loss = mse(y, t)\n"
                                "}\n";
/* dropout of the input itself: with x all ones, y is the mask. */
static const char MASK_SRC[] = "model m {\n"
                               "  input x : seq<[5]>\n"
                               "  target t : seq<[2]>\n"
                               "  y = dropout(x, 0.3)\n"
                               "  z = dense(y, 2)\n"
                               "  output y\n"
                               "  loss = mse(z, t)\n"
                               "}\n";

enum { T = 4, B = 3 };

static uint64_t lcg = 0x853c49e6748fea9bull;
static double urand(void)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg >> 11) / 9007199254740992.0 - 0.5;
}

/* A tensor of v's type with T steps and B rows, F32 (uniform in
 * [-0.5, 0.5), or `fill` if not NaN) or I64 (key). */
static void put(TensorMap *map, const char *name, const IrValue *v, double fill, const int64_t *key)
{
    int64_t shape[IR_MAX_RANK];
    for (int d = 0; d < v->type.rank; d++) {
        int64_t x = v->type.dim[d];
        shape[d] = x >= 0 ? x : (int)(-x - 1) == IR_SYM_BATCH ? B : T;
    }
    Tensor t;
    int i64 = v->type.dtype == IR_I64;
    assert_int_equal(rt_tensor_alloc(&t, i64 ? RT_I64 : RT_F32, v->type.rank, shape), 0);
    for (int64_t i = 0; i < rt_numel(&t); i++) {
        if (i64)
            ((int64_t *)t.data)[i] = key[i];
        else
            ((float *)t.data)[i] = (float)(isnan(fill) ? urand() : fill);
    }
    assert_int_equal(rt_map_put(map, name, &t), 0);
}

/* Parameters, inputs and targets for m, the same for a seed of the LCG. */
static void make_data(const IrModule *m, uint64_t seed, double xfill, const int64_t *key, TensorMap *params,
                      TensorMap *inputs)
{
    lcg = seed;
    rt_map_init(params);
    rt_map_init(inputs);
    for (int i = 0; i < m->nparams; i++) put(params, m->params[i].name, m->params[i].value, NAN, NULL);
    for (int i = 0; i < m->ninputs; i++) {
        IrRole r = m->inputs[i].role;
        /* Adam's first step: step 1, zero state */
        double fill = r == IR_ROLE_DATA ? xfill : r == IR_ROLE_OPT_STEP ? 1.0 : r == IR_ROLE_OPT_STATE ? 0.0 : NAN;
        put(inputs, m->inputs[i].name, m->inputs[i].value, fill, key);
    }
    for (int i = 0; i < m->ntargets; i++) put(inputs, m->targets[i].name, m->targets[i].value, NAN, NULL);
}

static int count_ops(const IrBlock *b, IrOpKind k)
{
    int n = 0;
    for (int i = 0; i < b->nops; i++) {
        n += b->ops[i]->kind == k;
        if (b->ops[i]->body) n += count_ops(b->ops[i]->body, k);
    }
    return n;
}

static int has_role(const IrModule *m, IrRole r)
{
    for (int i = 0; i < m->ninputs; i++)
        if (m->inputs[i].role == r) return 1;
    return 0;
}

static double loss_of(const IrModule *m, const TensorMap *params, const TensorMap *inputs)
{
    char err[512];
    TensorMap out;
    rt_map_init(&out);
    if (interp_run(m, params, inputs, &out, IR_PREC_F64, err, sizeof err)) fail_msg("interp: %s", err);
    const Tensor *l = rt_map_get(&out, "loss");
    assert_non_null(l);
    double v = ((const double *)l->data)[0];
    rt_map_free(&out);
    return v;
}

/* ---- the interpreter's draw is the runtime's ------------------------------------ */

/* y = dropout(x, 0.3) with x all ones is the mask: the interpreter in
 * F32 and F64, the C engine and the JIT must all give rt_dropout_mask's
 * elements (F64: the same zeros, 1/(1-p) in double), for two keys. */
static void test_engines_draw_the_same_mask(void **state)
{
    (void)state;
    const int64_t keys[][2] = {{0, 0}, {42, 17}};
    const char *engines[] = {"c", "jit"};
    for (size_t ki = 0; ki < 2; ki++) {
        float want[T * B * 5];
        rt_dropout_mask(T * B * 5, 2, 0, keys[ki], want, 0.3);
        for (int e = -2; e < 2; e++) {
            char err[512];
            TuBuilt b = tu_build(MASK_SRC);
            Engine eng = e == -2 ? engine_interp_f64 : engine_interp;
            if (e >= 0 && engine_open(engines[e], &eng, err, sizeof err)) fail_msg("%s", err);
            PipeOpts po = {.optimize = engine_optimizes(&eng)};
            if (pipeline_grad(b.m, 0, &po, err, sizeof err)) fail_msg("pipeline_grad: %s", err);
            TensorMap params, inputs, out;
            make_data(b.m, 1, 1.0, keys[ki], &params, &inputs);
            rt_map_init(&out);
            if (eng.run(&eng, b.m, &params, &inputs, &out, err, sizeof err)) fail_msg("%s: %s", eng.name, err);
            const Tensor *y = rt_map_get(&out, "y");
            assert_non_null(y);
            assert_int_equal(rt_numel(y), T * B * 5);
            for (int64_t i = 0; i < T * B * 5; i++) {
                double got = y->dtype == RT_F64 ? ((const double *)y->data)[i] : ((const float *)y->data)[i];
                double w = e == -2 && want[i] != 0 ? 1.0 / 0.7 : want[i];
                if (got != w) fail_msg("%s: mask[%lld] = %.17g, runtime %.17g", eng.name, (long long)i, got, w);
            }
            rt_map_free(&params);
            rt_map_free(&inputs);
            rt_map_free(&out);
            engine_close(&eng);
            tu_built_free(&b);
        }
    }
}

/* ---- the gradient with the mask fixed --------------------------------------------- */

/* F64 interpreter: with the key fixed the loss is a smooth function of
 * the parameters (the masks multiply, tanh and the linear maps are
 * smooth), so the central difference (L(w + h) - L(w - h)) / 2h with
 * h = 1e-5 differs from the derivative by O(h^2 L''') ~ 1e-10 plus a
 * rounding error of about 1e-16 / h = 1e-11 relative to the loss (~0.3):
 * 1e-7 absolute + 1e-5 relative is a wide margin over both.  Every
 * element of every parameter is checked.  A gradient of another key must
 * differ (the masks are used). */
static void test_gradient_finite_differences(void **state)
{
    (void)state;
    char err[512];
    const int64_t key[2] = {7, 3}, other[2] = {7, 4};
    TuBuilt b = tu_build(DROP_SRC);
    PipeOpts po = {0};
    if (pipeline_grad(b.m, 0, &po, err, sizeof err)) fail_msg("pipeline_grad: %s", err);
    assert_int_equal(count_ops(b.m->body, IR_DROPOUT_MASK), 2);
    TensorMap params, inputs, out, inputs2, params2, out2;
    make_data(b.m, 5, NAN, key, &params, &inputs);
    make_data(b.m, 5, NAN, other, &params2, &inputs2);
    rt_map_init(&out);
    rt_map_init(&out2);
    if (interp_run(b.m, &params, &inputs, &out, IR_PREC_F64, err, sizeof err)) fail_msg("interp: %s", err);
    if (interp_run(b.m, &params, &inputs2, &out2, IR_PREC_F64, err, sizeof err)) fail_msg("interp: %s", err);
    int checked = 0, differ = 0;
    for (int i = 0; i < b.m->noutputs; i++) {
        if (b.m->outputs[i].role != IR_ROLE_GRAD) continue;
        const Tensor *g = rt_map_get(&out, b.m->outputs[i].name), *g2 = rt_map_get(&out2, b.m->outputs[i].name);
        Tensor *p = rt_map_get(&params, b.m->outputs[i].of);
        assert_non_null(g);
        assert_non_null(p);
        for (int64_t k = 0; k < rt_numel(p); k++) {
            float *w = (float *)p->data + k, w0 = *w;
            const double h = 1e-5;
            /* the parameters are float32: step by exactly representable amounts */
            *w = (float)(w0 + h);
            double hp = (double)*w - w0, lp = loss_of(b.m, &params, &inputs);
            *w = (float)(w0 - h);
            double hm = w0 - (double)*w, lm = loss_of(b.m, &params, &inputs);
            *w = w0;
            double fd = (lp - lm) / (hp + hm), an = ((const double *)g->data)[k];
            if (!(fabs(fd - an) <= 1e-7 + 1e-5 * fabs(an)))
                fail_msg("%s[%lld]: autodiff %.12g, finite differences %.12g", b.m->outputs[i].of, (long long)k, an,
                         fd);
            differ += an != ((const double *)g2->data)[k];
            checked++;
        }
    }
    print_message("dropout gradient: %d elements within 1e-7 + 1e-5 |g| of finite differences; %d change with the "
                  "key\n",
                  checked, differ);
    assert_true(checked > 50);
    assert_true(differ > checked / 2);
    rt_map_free(&params);
    rt_map_free(&inputs);
    rt_map_free(&out);
    rt_map_free(&params2);
    rt_map_free(&inputs2);
    rt_map_free(&out2);
    tu_built_free(&b);
}

/* ---- the compiled engines agree bit for bit ------------------------------------------- */

/* The gradient module and a training step (Adam) on the C engine and the
 * JIT: every output equal bit for bit (the same kernels, the same mask),
 * and within the tolerance of test_llvm_jit.c of the interpreter's F32. */
static void test_compiled_grad_and_train(void **state)
{
    (void)state;
    char err[512];
    const int64_t key[2] = {3, 11};
    for (int train = 0; train < 2; train++) {
        TensorMap outs[3];
        const char *names[3] = {"interp", "c", "jit"};
        IrModule *mods[3];
        TuBuilt bs[3];
        for (int e = 0; e < 3; e++) {
            Engine eng;
            if (engine_open(names[e], &eng, err, sizeof err)) fail_msg("%s", err);
            bs[e] = tu_build(DROP_SRC);
            PipeOpts po = {.optimize = engine_optimizes(&eng)};
            TrainConfig cfg = train_config_default();
            if (train ? pipeline_train(bs[e].m, &cfg, &po, err, sizeof err)
                      : pipeline_grad(bs[e].m, 0, &po, err, sizeof err))
                fail_msg("recipe: %s", err);
            mods[e] = bs[e].m;
            assert_true(has_role(mods[e], IR_ROLE_DROPOUT_KEY));
            TensorMap params, inputs;
            make_data(mods[e], 9, NAN, key, &params, &inputs);
            rt_map_init(&outs[e]);
            if (eng.run(&eng, mods[e], &params, &inputs, &outs[e], err, sizeof err)) fail_msg("%s: %s", names[e], err);
            rt_map_free(&params);
            rt_map_free(&inputs);
            engine_close(&eng);
        }
        int n = 0;
        for (int i = 0; i < outs[0].count; i++) {
            const Tensor *w = &outs[0].tensors[i], *c = rt_map_get(&outs[1], outs[0].names[i]),
                         *j = rt_map_get(&outs[2], outs[0].names[i]);
            assert_non_null(c);
            assert_non_null(j);
            for (int64_t k = 0; k < rt_numel(w); k++, n++) {
                float a = ((const float *)w->data)[k], cv = ((const float *)c->data)[k],
                      jv = ((const float *)j->data)[k];
                if (memcmp(&cv, &jv, sizeof cv))
                    fail_msg("%s[%lld]: C %a, JIT %a", outs[0].names[i], (long long)k, (double)cv, (double)jv);
                /* test_llvm_jit.c's bound: float sums over a few dozen terms.
                 * Not for Adam's new weights: its first step moves each by
                 * lr sign(g), whose sign a rounding may flip for g ~ 0. */
                int update = train && strncmp(outs[0].names[i], "new:", 4) == 0;
                if (!update && !(fabs(cv - a) <= 1e-5 + 1e-4 * fabs(a)))
                    fail_msg("%s[%lld]: C %.9g, interpreter %.9g", outs[0].names[i], (long long)k, cv, a);
            }
        }
        assert_true(n > 0);
        for (int e = 0; e < 3; e++) {
            rt_map_free(&outs[e]);
            tu_built_free(&bs[e]);
        }
    }
}

/* ---- inference -------------------------------------------------------------------------- */

/* The forward, streaming-step and sampling recipes hold no dropout, no
 * mask and no key, and compute what the model without dropout computes:
 * the same outputs bit for bit, on the interpreter and compiled. */
static void test_inference_unaffected(void **state)
{
    (void)state;
    char err[512];
    const char *names[3] = {"interp", "c", "jit"};
    for (int e = 0; e < 3; e++) {
        Engine eng;
        if (engine_open(names[e], &eng, err, sizeof err)) fail_msg("%s", err);
        PipeOpts po = {.optimize = engine_optimizes(&eng)};
        TuBuilt d = tu_build(DROP_SRC), p = tu_build(PLAIN_SRC);
        if (pipeline_forward(d.m, 1, &po, err, sizeof err) || pipeline_forward(p.m, 1, &po, err, sizeof err))
            fail_msg("pipeline_forward: %s", err);
        assert_int_equal(count_ops(d.m->body, IR_DROPOUT) + count_ops(d.m->body, IR_DROPOUT_MASK), 0);
        assert_false(has_role(d.m, IR_ROLE_DROPOUT_KEY));
        assert_int_equal(d.m->nparams, p.m->nparams);
        TensorMap params, inputs, od, op;
        make_data(p.m, 13, NAN, NULL, &params, &inputs);
        rt_map_init(&od);
        rt_map_init(&op);
        if (eng.run(&eng, d.m, &params, &inputs, &od, err, sizeof err) ||
            eng.run(&eng, p.m, &params, &inputs, &op, err, sizeof err))
            fail_msg("%s: %s", names[e], err);
        assert_int_equal(od.count, op.count);
        for (int i = 0; i < op.count; i++) {
            const Tensor *a = rt_map_get(&od, op.names[i]), *b = &op.tensors[i];
            assert_non_null(a);
            assert_int_equal(rt_numel(a), rt_numel(b));
            assert_memory_equal(a->data, b->data, (size_t)rt_numel(b) * rt_dtype_size(b->dtype));
        }
        rt_map_free(&params);
        rt_map_free(&inputs);
        rt_map_free(&od);
        rt_map_free(&op);
        tu_built_free(&d);
        tu_built_free(&p);
        engine_close(&eng);
    }
    /* the step and sample recipes too */
    TuBuilt s = tu_build(DROP_SRC), t = tu_build(DROP_SRC);
    PipeOpts po = {.optimize = 1};
    if (pipeline_step(s.m, &po, err, sizeof err)) fail_msg("pipeline_step: %s", err);
    if (pipeline_sample(t.m, &po, err, sizeof err)) fail_msg("pipeline_sample: %s", err);
    assert_int_equal(count_ops(s.m->body, IR_DROPOUT) + count_ops(s.m->body, IR_DROPOUT_MASK), 0);
    assert_int_equal(count_ops(t.m->body, IR_DROPOUT) + count_ops(t.m->body, IR_DROPOUT_MASK), 0);
    assert_false(has_role(s.m, IR_ROLE_DROPOUT_KEY) || has_role(t.m, IR_ROLE_DROPOUT_KEY));
    tu_built_free(&s);
    tu_built_free(&t);
}

/* ---- the rewrite ------------------------------------------------------------------------ */

/* dropout_train numbers the masks in program order and adds one key;
 * p = 0 makes no op at all; layers=1 with dropout= makes none either. */
static void test_rewrite(void **state)
{
    (void)state;
    char err[512];
    TuBuilt b = tu_build(DROP_SRC);
    assert_int_equal(count_ops(b.m->body, IR_DROPOUT), 2);
    assert_int_equal(dropout_train(b.m, err, sizeof err), 2);
    assert_int_equal(count_ops(b.m->body, IR_DROPOUT), 0);
    int64_t next = 0;
    double ps[2] = {0.4, 0.5};
    for (int i = 0; i < b.m->body->nops; i++) {
        const IrOp *op = b.m->body->ops[i];
        if (op->kind != IR_DROPOUT_MASK) continue;
        assert_int_equal(op->attrs.index, next);
        assert_true(op->attrs.p == ps[next]);
        next++;
    }
    assert_int_equal(next, 2);
    assert_true(has_role(b.m, IR_ROLE_DROPOUT_KEY));
    tu_built_free(&b);

    TuBuilt z = tu_build("model m {\n input x : seq<[3]>\n h = gru(x, hidden=4, layers=3, dropout=0)\n"
                         " output y = dropout(h, 0)\n}\n");
    assert_int_equal(count_ops(z.m->body, IR_DROPOUT), 0);
    assert_int_equal(dropout_train(z.m, err, sizeof err), 0);
    assert_false(has_role(z.m, IR_ROLE_DROPOUT_KEY));
    tu_built_free(&z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_statistics),
        cmocka_unit_test(test_rewrite),
        cmocka_unit_test(test_engines_draw_the_same_mask),
        cmocka_unit_test(test_gradient_finite_differences),
        cmocka_unit_test(test_compiled_grad_and_train),
        cmocka_unit_test(test_inference_unaffected),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
