/* test_step_norms.c - `rnnc grad --per-step`: the per-step state gradients
 * of autodiff_with_state_grads() (passes/autodiff.c), their norms
 * (driver/step_norms.c) and the SVG chart (driver/svg_plot.c).
 *
 * The physics check: a tanh RNN whose recurrent matrix is a*I, with tiny
 * inputs (so tanh' = 1 - h^2 is 1 to 1e-4) and the loss on the last step
 * only, has dL/dh_t = a * dL/dh_{t+1} (up to that factor), so going back
 * in time the norms shrink by a = 0.1 each step (vanishing gradient) or
 * grow by a = 1.5 (exploding).  The last step's norm is checked against
 * dL/dh_T written out by hand from the dense + mse head.  All runs are F64
 * so that the comparisons are about the equations, not rounding. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver/step_norms.c"
#include "driver/svg_plot.c"
#include "frontend/ast.h"
#include "frontend/diag.h"
#include "frontend/sema.h"
#include "ir/interp.h"
#include "passes/autodiff.h"
#include "tests/unit/test_util.h"

enum { T = 8, B = 2, I = 2, H = 4, K = 3 };

static uint64_t rng_state = 12345;

static double urand(double lo, double hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

/* An F64 tensor of the given shape filled from fill(i), or uniform [lo, hi). */
static void put(TensorMap *map, const char *name, int rank, const int64_t *shape, double lo, double hi)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, RT_F64, rank, shape), 0);
    for (int64_t i = 0; i < rt_numel(&t); i++) ((double *)t.data)[i] = urand(lo, hi);
    assert_int_equal(rt_map_put(map, name, &t), 0);
}

static double *f64(const TensorMap *map, const char *name)
{
    Tensor *t = rt_map_get(map, name);
    assert_non_null(t);
    assert_int_equal(t->dtype, RT_F64);
    return t->data;
}

static const char *rnn_src = "model v {\n"
                             "  input x : seq<[2]>\n"
                             "  target t : [3]\n"
                             "  h = rnn(x, hidden=4)\n"
                             "  output hl = last(h)\n"
                             "  p = dense(hl, 3)\n"
                             "  loss = mse(p, t)\n"
                             "}\n";

/* Runs rnn_src with W_hh = a*I and returns the per-step norms; also
 * computes dL/dh_T by hand into *direct. */
static void rnn_norms(double a, StepNorms *sn, double *direct)
{
    Program *prog;
    IrModule *m = tu_build_src(rnn_src, &prog);
    char err[512] = "";
    assert_int_equal(autodiff_with_state_grads(m, err, sizeof err), 0);

    TensorMap w, in, out;
    rt_map_init(&w);
    rt_map_init(&in);
    rt_map_init(&out);
    put(&w, "h.weight_ih_l0", 2, (int64_t[]){H, I}, -1, 1);
    put(&w, "h.weight_hh_l0", 2, (int64_t[]){H, H}, 0, 0);
    put(&w, "h.bias_ih_l0", 1, (int64_t[]){H}, 0, 0);
    put(&w, "h.bias_hh_l0", 1, (int64_t[]){H}, 0, 0);
    put(&w, "p.weight", 2, (int64_t[]){K, H}, -1, 1);
    put(&w, "p.bias", 1, (int64_t[]){K}, -1, 1);
    double *whh = f64(&w, "h.weight_hh_l0");
    for (int i = 0; i < H; i++) whh[i * H + i] = a;
    /* |x| <= 1e-4 keeps |h| below ~1e-2 even when it grows by 1.5 a step,
     * so tanh' = 1 - h^2 differs from 1 by < 1e-4. */
    put(&in, "x", 3, (int64_t[]){T, B, I}, -1e-4, 1e-4);
    put(&in, "t", 2, (int64_t[]){B, K}, -1, 1);
    assert_int_equal(interp_run(m, &w, &in, &out, IR_PREC_F64, err, sizeof err), 0);

    /* dL/dh_T by hand: p = h_T W^T + b, L = sum (p - t)^2 / (B K), so
     * dL/dh_T = 2 (p - t) W / (B K). */
    const double *hl = f64(&out, "hl"), *W = f64(&w, "p.weight"), *bias = f64(&w, "p.bias"), *tg = f64(&in, "t");
    double ss = 0;
    for (int b = 0; b < B; b++) {
        double g[K];
        for (int k = 0; k < K; k++) {
            double p = bias[k];
            for (int j = 0; j < H; j++) p += hl[b * H + j] * W[k * H + j];
            g[k] = 2 * (p - tg[b * K + k]) / (B * K);
        }
        for (int j = 0; j < H; j++) {
            double d = 0;
            for (int k = 0; k < K; k++) d += g[k] * W[k * H + j];
            ss += d * d;
        }
    }
    *direct = sqrt(ss);

    assert_int_equal(step_norms_collect(m, &out, sn, err, sizeof err), 0);
    rt_map_free(&w);
    rt_map_free(&in);
    rt_map_free(&out);
    ir_free(m);
    ast_free(prog);
}

static void check_geometric(double a)
{
    StepNorms sn;
    double direct;
    rnn_norms(a, &sn, &direct);
    assert_int_equal(sn.n, 1); /* one scan, one carried value */
    assert_string_equal(sn.s[0].name, "h: rnn l0: state 0");
    assert_int_equal(sn.s[0].T, T);
    /* The last step's norm is dL/dh_T itself: F64, so only rounding (1e-12). */
    assert_true(direct > 0);
    assert_true(fabs(sn.s[0].norm[T - 1] - direct) <= 1e-12 * direct);
    /* Each step back multiplies by a * (1 - h^2), 1 - h^2 within 1e-4 of 1:
     * the ratio is a to 1e-3 (and far from the other case's a). */
    for (int t = 0; t + 1 < T; t++) {
        double r = sn.s[0].norm[t] / sn.s[0].norm[t + 1];
        if (fabs(r / a - 1) > 1e-3) fail_msg("step %d: ratio %g, want %g", t, r, a);
    }
    step_norms_free(&sn);
}

static void test_vanishing(void **state)
{
    (void)state;
    check_geometric(0.1);
}
static void test_exploding(void **state)
{
    (void)state;
    check_geometric(1.5);
}

/* The state gradients are extra outputs only: every output of
 * autodiff_with_state_grads() that autodiff() has is exactly the same (the
 * same ops).  Returns the norms of the state gradients. */
static void same_grads(const char *src, StepNorms *sn)
{
    Program *p1, *p2;
    IrModule *m1 = tu_build_src(src, &p1), *m2 = tu_build_src(src, &p2);
    char err[512] = "";
    assert_int_equal(autodiff(m1, err, sizeof err), 0);
    assert_int_equal(autodiff_with_state_grads(m2, err, sizeof err), 0);
    TensorMap w, in, o1, o2;
    rt_map_init(&w);
    rt_map_init(&in);
    rt_map_init(&o1);
    rt_map_init(&o2);
    for (int i = 0; i < m1->nparams; i++) {
        const IrType *ty = &m1->params[i].value->type;
        put(&w, m1->params[i].name, ty->rank, ty->dim, -0.5, 0.5);
    }
    put(&in, "x", 3, (int64_t[]){5, B, 2}, -1, 1);
    put(&in, "t", 2, (int64_t[]){B, 3}, -1, 1);
    assert_int_equal(interp_run(m1, &w, &in, &o1, IR_PREC_F64, err, sizeof err), 0);
    assert_int_equal(interp_run(m2, &w, &in, &o2, IR_PREC_F64, err, sizeof err), 0);
    for (int i = 0; i < o1.count; i++) {
        Tensor *a = &o1.tensors[i], *b = rt_map_get(&o2, o1.names[i]);
        assert_non_null(b);
        assert_int_equal(rt_numel(a), rt_numel(b));
        assert_memory_equal(a->data, b->data, (size_t)rt_numel(a) * sizeof(double));
    }
    assert_int_equal(step_norms_collect(m2, &o2, sn, err, sizeof err), 0);
    assert_int_equal(o2.count, o1.count + sn->n);
    rt_map_free(&w);
    rt_map_free(&in);
    rt_map_free(&o1);
    rt_map_free(&o2);
    ir_free(m1);
    ir_free(m2);
    ast_free(p1);
    ast_free(p2);
}

/* A stacked bidirectional lstm: 2 layers x 2 directions x (h, c), in the
 * forward scans' order. */
static void test_same_grads_lstm(void **state)
{
    (void)state;
    StepNorms sn;
    same_grads("model s {\n  input x : seq<[2]>\n  target t : [3]\n"
               "  h = lstm(x, hidden=4, layers=2, bidirectional)\n"
               "  p = dense(last(h), 3)\n  loss = mse(p, t)\n}\n",
               &sn);
    assert_int_equal(sn.n, 8);
    assert_string_equal(sn.s[0].name, "h: lstm l0: state 0");
    assert_string_equal(sn.s[3].name, "h: lstm l0 reverse: state 1");
    assert_string_equal(sn.s[7].name, "h: lstm l1 reverse: state 1");
    /* last(h) reads step T-1 of both top-layer directions, and every
     * state's gradient at T-1 reaches it through some path: nonzero. */
    for (int k = 0; k < sn.n; k++) assert_true(sn.s[k].T == 5 && sn.s[k].norm[4] > 0);
    step_norms_free(&sn);
}

/* A user cell whose loss reads only its final state: a state gradient that
 * is nothing but the backward scan's carried argument (no op adds to it)
 * must still come out right, and states are named by their names. */
static void test_same_grads_user_cell(void **state)
{
    (void)state;
    StepNorms sn;
    same_grads("cell two(x: [I]) -> [H] {\n"
               "  param W: [H, I]  param U: [H, H]  param b: [H]\n"
               "  state h: [H] = 0\n  state s: [H] = 0\n"
               "  h' = tanh(W @ x + U @ h + b)\n  s' = s * sigmoid(h') + h' / (1 + exp(s))\n"
               "  out s'\n}\n"
               "model m {\n input x : seq<[2]>\n target t : [3]\n"
               " y = two(x, H=4)\n p = dense(final(y, s), 3)\n loss = mse(p, t)\n}\n",
               &sn);
    assert_int_equal(sn.n, 2);
    assert_string_equal(sn.s[0].name, "y: two: state h");
    assert_string_equal(sn.s[1].name, "y: two: state s");
    for (int k = 0; k < sn.n; k++) assert_true(sn.s[k].T == 5 && sn.s[k].norm[4] > 0);
    step_norms_free(&sn);
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p++) n++;
    return n;
}

/* Well-formed start and end, one polyline a series, escaped text, and on a
 * log axis points with y <= 0 (or NaN) left out rather than breaking it. */
static void test_svg_render(void **state)
{
    (void)state;
    double x[4] = {0, 1, 2, 3}, y1[4] = {1e-3, 1e-2, 0, 1}, y2[4] = {5, NAN, 2, 1};
    SvgSeries s[2] = {{"a<b & \"c\"", x, y1, 4}, {"second", x, y2, 4}};
    SvgPlot p = {.title = "t", .xlabel = "step", .ylabel = "norm", .log_y = 1};
    size_t len;
    char *svg = svg_plot_render(&p, s, 2, &len);
    assert_non_null(svg);
    assert_int_equal(strlen(svg), len);
    assert_int_equal(strncmp(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=", 50), 0);
    assert_string_equal(svg + len - 7, "</svg>\n");
    assert_int_equal(count(svg, "<polyline"), 2);
    assert_non_null(strstr(svg, "a&lt;b &amp; &quot;c&quot;"));
    assert_null(strstr(svg, "a<b"));
    assert_int_equal(count(svg, "<circle"), 6); /* 3 + 3 drawable points */
    assert_null(strstr(svg, "nan"));
    /* log axis over 1e-3 .. 5: decades 1e-3 .. 10 labelled */
    assert_non_null(strstr(svg, ">0.001</text>"));
    assert_non_null(strstr(svg, ">10</text>"));
    free(svg);

    /* No drawable points at all still gives a valid empty chart. */
    double z[1] = {0};
    SvgSeries e = {NULL, z, z, 1};
    svg = svg_plot_render(&p, &e, 1, &len);
    assert_non_null(svg);
    assert_int_equal(count(svg, "<polyline"), 1);
    assert_string_equal(svg + len - 7, "</svg>\n");
    free(svg);
}

/* step_norms_svg() writes the chart of rnn_src's norms to a file: one
 * polyline for its one state, nothing left behind but the file. */
static void test_svg_file(void **state)
{
    (void)state;
    StepNorms sn;
    double direct;
    rnn_norms(0.5, &sn, &direct);
    char dir[] = "/tmp/test_step_norms.XXXXXX", path[64], err[512] = "";
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/g.svg", dir);
    assert_int_equal(step_norms_svg(&sn, path, "v", err, sizeof err), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    assert_int_equal(strncmp(buf, "<?xml", 5), 0);
    assert_string_equal(buf + n - 7, "</svg>\n");
    assert_int_equal(count(buf, "<polyline"), 1);
    assert_non_null(strstr(buf, "h: rnn l0: state 0"));
    /* An unwritable path is an error with a message, not a crash. */
    snprintf(path, sizeof path, "%s/no/such/dir.svg", dir);
    assert_int_equal(step_norms_svg(&sn, path, "v", err, sizeof err), -1);
    assert_true(strlen(err) > 0);
    snprintf(path, sizeof path, "%s/g.svg", dir);
    unlink(path);
    rmdir(dir);
    step_norms_free(&sn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vanishing),       cmocka_unit_test(test_exploding),
        cmocka_unit_test(test_same_grads_lstm), cmocka_unit_test(test_same_grads_user_cell),
        cmocka_unit_test(test_svg_render),      cmocka_unit_test(test_svg_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
