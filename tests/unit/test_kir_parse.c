/* test_kir_parse.c - the kernel IR's text form read back (kir/kir_parse.h).
 *
 * The round trip print(parse(print(f))) == print(f) on the kernels of
 * every example model - forward, gradient and training step (with Adam
 * and with SGD and momentum, for the calls' hyperparameters), planned as
 * kcompile() leaves them and as lowered, before the plan - and on
 * hand-written text with what the lowering rarely makes (no module, a
 * rank-0 map, nested and reversed loops).  The parsed function must
 * verify and run like the original in the tests' evaluator.  Bad text
 * fails with its line and column. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kir/kir.h"
#include "kir/kir_parse.h"
#include "lower/kcompile.h"
#include "lower/lower.h"
#include "passes/pipeline.h"
#include "passes/train_step.h"
#include "kir_eval.h"
#include "test_util.h"

static char *print_str(const KFunc *f)
{
    FILE *o = tmpfile();
    assert_non_null(o);
    kfunc_print(f, o);
    return tu_read_stream(o);
}

/* Parses text, which must print back as itself; returns the function
 * (and its module in *m). */
static KFunc *round_trip(const char *what, const char *text, IrModule **m)
{
    char err[512];
    KFunc *g = kfunc_parse(what, text, m, err, sizeof err);
    if (!g) {
        fprintf(stderr, "%s\n%s", err, text);
        fail_msg("%s: does not parse", what);
    }
    char *again = print_str(g);
    if (strcmp(again, text)) {
        /* the first line that differs */
        const char *a = text, *b = again;
        int line = 1;
        while (*a && *a == *b) {
            line += *a == '\n';
            a++, b++;
        }
        while (a > text && a[-1] != '\n') a--;
        while (b > again && b[-1] != '\n') b--;
        fprintf(stderr, "%s: line %d differs:\n  printed: %.*s\n  re-read: %.*s\n", what, line, (int)strcspn(a, "\n"),
                a, (int)strcspn(b, "\n"), b);
        fail();
    }
    free(again);
    return g;
}

/* Symbol values for running: B = 2, each length 3 (or its maximum). */
static void sym_values(const KFunc *f, int64_t *sym)
{
    for (int i = 0; i < f->nsyms; i++) {
        int64_t max = f->module->syms[i].max;
        sym[i] = i == 0 ? 2 : max > 0 && max < 3 ? max : 3;
    }
}

/* f and g (parsed from f's text) compute the same bits on the same data:
 * what the text holds is all a function does. */
static void same_results(const KFunc *f, const KFunc *g, const char *what)
{
    int64_t sym[64];
    assert_true(f->nsyms <= 64);
    sym_values(f, sym);
    assert_int_equal(kfunc_verify(g, sym, stderr), 0);
    assert_int_equal(f->nargs, g->nargs);
    assert_int_equal(f->nresults, g->nresults);
    void **arg = calloc((size_t)f->nargs + 1, sizeof *arg);
    float **r1 = calloc((size_t)f->nresults + 1, sizeof *r1), **r2 = calloc((size_t)f->nresults + 1, sizeof *r2);
    for (int i = 0; i < f->nargs; i++) {
        int64_t n = kexpr_eval(f->args[i]->size, sym, NULL);
        arg[i] = malloc((size_t)(n ? n : 1) * 8);
        for (int64_t k = 0; k < n; k++) {
            if (f->args[i]->dtype == IR_I64)
                ((int64_t *)arg[i])[k] = k % 2;
            else
                ((float *)arg[i])[k] = 0.25f + 0.125f * (float)(k % 7);
        }
    }
    for (int i = 0; i < f->nresults; i++) {
        int64_t n = kexpr_eval(f->results[i]->size, sym, NULL);
        r1[i] = calloc((size_t)(n ? n : 1), 8);
        r2[i] = calloc((size_t)(n ? n : 1), 8);
    }
    char err[256];
    if (kev_run(f, sym, arg, (void *const *)r1, err, sizeof err)) fail_msg("%s: %s", what, err);
    if (kev_run(g, sym, arg, (void *const *)r2, err, sizeof err)) fail_msg("%s, parsed: %s", what, err);
    for (int i = 0; i < f->nresults; i++) {
        int64_t n = kexpr_eval(f->results[i]->size, sym, NULL);
        if (memcmp(r1[i], r2[i], (size_t)n * (f->results[i]->dtype == IR_I64 ? 8 : 4)))
            fail_msg("%s: result %s differs once parsed", what, f->results[i]->name);
        free(r1[i]);
        free(r2[i]);
    }
    for (int i = 0; i < f->nargs; i++) free(arg[i]);
    free(arg);
    free(r1);
    free(r2);
}

/* print(parse(print(f))) == print(f), and the parsed function runs alike. */
static void check_function(KFunc *f, const char *what)
{
    char *text = print_str(f);
    IrModule *m = NULL;
    KFunc *g = round_trip(what, text, &m);
    same_results(f, g, what);
    kfunc_free(g);
    ir_free(m);
    free(text);
}

enum { FORWARD, GRAD, TRAIN_ADAM, TRAIN_SGD, NKINDS };
/* the functions' names: the printer writes them as they are */
static const char *const KIND_NAMES[NKINDS] = {"forward", "gradient", "train_adam", "train_sgd"};

/* The module of kind k from src, or NULL when the model has no loss to
 * differentiate. */
static IrModule *module_of(const char *src, int k, Program **prog)
{
    IrModule *m = tu_build_src(src, prog);
    PipeOpts po = {.optimize = 1};
    char err[512];
    int rc = 0;
    if (k != FORWARD && !m->loss) {
        ir_free(m);
        ast_free(*prog);
        return NULL;
    }
    if (k == FORWARD)
        rc = pipeline_forward(m, 1, &po, err, sizeof err);
    else if (k == GRAD)
        rc = pipeline_grad(m, 0, &po, err, sizeof err);
    else {
        TrainConfig cfg = train_config_default();
        if (k == TRAIN_SGD) {
            cfg.opt = OPT_SGD;
            cfg.momentum = 0.875;
            cfg.weight_decay = 1.0 / 128;
        }
        rc = pipeline_train(m, &cfg, &po, err, sizeof err);
    }
    if (rc) fail_msg("pipeline: %s", err);
    return m;
}

/* Every example model, each kind: as kcompile() leaves it (lowered,
 * packed, fused, planned), and as lower() leaves it (not planned). */
static void test_examples(void **state)
{
    (void)state;
    DIR *d = opendir("examples");
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".rnn")) continue;
        char path[512], what[600];
        snprintf(path, sizeof path, "examples/%s", e->d_name);
        size_t srclen;
        char *src = (char *)tu_read_file(path, &srclen);
        assert_non_null(src);
        for (int k = 0; k < NKINDS; k++) {
            Program *prog;
            IrModule *m = module_of(src, k, &prog);
            if (!m) continue;
            char err[512];
            KFunc *f = kcompile(m, KIND_NAMES[k], err, sizeof err);
            if (!f) fail_msg("%s: %s", path, err);
            snprintf(what, sizeof what, "%s, %s", path, KIND_NAMES[k]);
            check_function(f, what);
            kfunc_free(f);
            f = lower(m, KIND_NAMES[k], err, sizeof err);
            assert_non_null(f);
            snprintf(what, sizeof what, "%s, %s, not planned", path, KIND_NAMES[k]);
            check_function(f, what);
            kfunc_free(f);
            ir_free(m);
            ast_free(prog);
            n++;
        }
        free(src);
    }
    closedir(d);
    assert_true(n >= 8);
}

/* Written by hand: what the lowering seldom or never makes.  Printed once
 * to get the printer's spacing, then it must read back as that. */
static const char HAND[] = "# a comment line, as a test's CHECK lines\n"
                           "kfunc hand {\n"
                           "  arg    x : f32[12]  arg[0] \"x\"\n"
                           "  arg    ids : i64[3]  arg[1] \"the ids\"\n"
                           "  arg    w : f32[16]  arg[2] \"w\"   # a parameter\n"
                           "  result y : f32[12]  res[0] \"y\"\n"
                           "  result s : f32[1]  res[1] \"s\"\n"
                           "  result yi : i64[3]  res[2] \"yi\"\n"
                           "  temp   acc : f32[1]\n"
                           "  temp   h : f32[4]   # carried h\n"
                           "  temp   pk : f32[16 + (4 + 32) * 4]\n"
                           "  arena not planned\n"
                           "  map [] {   # zero\n"
                           "    n0 = const -0\n"
                           "    out acc[0] = n0\n"
                           "  }\n"
                           "  map [4] {\n"
                           "    n0 = const 0.100000001\n"
                           "    out h[0; 1] = n0\n"
                           "  }\n"
                           "  map [3] {\n"
                           "    n0 = in ids[0; 1]\n"
                           "    out yi[0; 1] = n0\n"
                           "  }\n"
                           "  pack_b C=pk[0] B=w[0; ld 4]^T (N=4, K=4)   # pack\n"
                           "  for t3 in 0 .. 3 reverse {     # outer\n"
                           "    for t0 in 0 .. 2 {\n"
                           "      gemm C=y[t3 * 4; ld 4] A=h[0; ld 4] B=pk[0] packed (M=1, N=4, K=4) alpha=1 beta=0\n"
                           "      map [2, 2] {\n"
                           "        n0 = in y[t3 * 4 + t0 * 2; 0, 1]\n"
                           "        n1 = in x[(t3 + 1) * 4 - t0 - 2 + 0; 0, 1]\n"
                           "        n2 = relu_grad n0, n1\n"
                           "        n3 = size max(3 - t0, 12 / (2 * 3)) * 1\n"
                           "        n4 = div n2, n3\n"
                           "        out acc[0; 0, 0] += n4\n"
                           "      }\n"
                           "    }\n"
                           "  }\n"
                           "  call rt_softmax_rows(rows=3, C=4; y[0], y[0])   # softmax\n"
                           "  map [1] {\n"
                           "    n0 = in acc[0; 0]\n"
                           "    n1 = in acc[0; 0]\n"
                           "    n2 = add n0, n1\n"
                           "    out s[0; 1] = n2\n"
                           "  }\n"
                           "}\n"
                           "# CHECK: trailing comments too\n";

static void test_hand_written(void **state)
{
    (void)state;
    char err[512];
    IrModule *m = NULL;
    KFunc *f = kfunc_parse("hand.kir", HAND, &m, err, sizeof err);
    if (!f) fail_msg("%s", err);
    assert_null(m);
    assert_int_equal(f->nargs, 3);
    assert_int_equal(f->nresults, 3);
    assert_string_equal(f->args[1]->ext_name, "the ids");
    assert_int_equal(f->args[1]->dtype, IR_I64);
    assert_string_equal(f->args[2]->what, "a parameter");
    assert_null(f->arena_bytes);
    assert_int_equal(f->nloops, 4); /* t0 .. t3 */
    const KStmt *outer = f->body.stmts[4];
    assert_int_equal(outer->kind, KS_LOOP);
    assert_int_equal(outer->var, 3);
    assert_true(outer->reverse);
    assert_string_equal(outer->origin, "outer");
    const KStmt *g = outer->body.stmts[0]->body.stmts[0];
    assert_true(g->packed_b);
    const KStmt *mp = outer->body.stmts[0]->body.stmts[1];
    assert_int_equal(mp->nin, 2);
    assert_int_equal(f->body.stmts[6]->nin, 1); /* two nodes, one load */
    assert_int_equal(f->body.stmts[6]->nodes[1].a, 0);
    assert_int_equal(mp->nodes[2].op, KM_RELU_GRAD);
    assert_true(mp->out[0].accumulate);
    int64_t vars[4] = {1, 0, 0, 2};
    assert_int_equal(kexpr_eval(mp->in[1].v.off, NULL, vars), 9); /* (2 + 1) * 4 - 1 - 2 + 0 */
    assert_int_equal(kexpr_eval(mp->nodes[3].e, NULL, vars), 2);  /* max(2, 2) */
    assert_int_equal(f->body.stmts[5]->call, KC_SOFTMAX);
    int64_t nosym[1] = {0};
    assert_int_equal(kfunc_verify(f, nosym, stderr), 0);
    /* the canonical text reads back as itself */
    char *text = print_str(f);
    IrModule *m2 = NULL;
    KFunc *g2 = round_trip("hand.kir, printed", text, &m2);
    kfunc_free(g2);
    free(text);
    kfunc_free(f);
}

/* A module's symbols: B implied, the lengths with their maxima; SGD
 * without and with momentum share a symbol, told apart by arguments. */
static void test_symbols_and_calls(void **state)
{
    (void)state;
    static const char text[] =
        "kfunc step (module tiny) {\n"
        "  sym T_x <= 16\n"
        "  sym T_y\n"
        "  arg    p : f32[4 * T_x]  arg[0] \"p\"\n"
        "  arg    g : f32[4 * T_x]  arg[1] \"g\"\n"
        "  arg    mom : f32[4 * T_x]  arg[2] \"mom\"\n"
        "  result q : f32[4 * T_x]  res[0] \"q\"\n"
        "  result q2 : f32[4 * T_x]  res[1] \"q2\"\n"
        "  result m2 : f32[4 * T_x]  res[2] \"m2\"\n"
        "  call rt_sgd_update(n=4 * T_x; p[0], g[0], q[0]; lr=0.5, weight_decay=0)\n"
        "  call rt_sgd_update(n=4 * T_x; p[0], g[0], mom[0], q2[0], m2[0]; lr=0.5, momentum=0.875, weight_decay=0)\n"
        "}\n";
    char err[512];
    IrModule *m = NULL;
    KFunc *f = kfunc_parse("step.kir", text, &m, err, sizeof err);
    if (!f) fail_msg("%s", err);
    assert_non_null(m);
    assert_string_equal(m->name, "tiny");
    assert_int_equal(m->nsyms, 3);
    assert_int_equal(f->nsyms, 3);
    assert_string_equal(m->syms[0].name, "B");
    assert_int_equal(m->syms[1].max, 16);
    assert_int_equal(f->body.stmts[0]->call, KC_SGD);
    assert_int_equal(f->body.stmts[1]->call, KC_SGD_MOMENTUM);
    assert_int_equal(f->body.stmts[1]->nhp, 3);
    assert_true(f->body.stmts[1]->hp[1] == 0.875);
    int64_t sym[3] = {1, 2, 5};
    assert_int_equal(kfunc_verify(f, sym, stderr), 0);
    kfunc_free(f);
    ir_free(m);
}

/* A prepared argument (lower/kprepare.h): a pack of a weight the
 * function's prepare function made, marked in the text, read back, and
 * accepted by the verifier as a packed GEMM's B without a pack_b of the
 * function's own; the same argument without the mark is not. */
static void test_prepared_arg(void **state)
{
    (void)state;
    static const char text[] = "kfunc forward (module p) {\n"
                               "  sym B\n"
                               "  arg    x : f32[4 * B]  arg[0] \"x\"\n"
                               "  arg    w_pk : f32[160]  arg[1] \"pack w^T [0; ld 4] N=4 K=4\" prepared\n"
                               "  result y : f32[4 * B]  res[0] \"y\"\n"
                               "  arena not planned\n"
                               "  gemm C=y[0; ld 4] A=x[0; ld 4] B=w_pk[0] packed (M=B, N=4, K=4) alpha=1 beta=0\n"
                               "}\n";
    IrModule *m = NULL;
    KFunc *f = round_trip("prepared.kir", text, &m);
    assert_true(f->args[1]->prepared);
    assert_false(f->args[0]->prepared);
    int64_t sym[1] = {3};
    assert_int_equal(kfunc_verify(f, sym, stderr), 0);
    f->args[1]->prepared = 0;
    assert_int_equal(kfunc_verify(f, sym, NULL), 1);
    kfunc_free(f);
    ir_free(m);
}

/* Bad text: the first error, at its line and column. */
static void test_errors(void **state)
{
    (void)state;
    static const char head[] = "kfunc f (module m) {\n  sym T <= 4\n  arg    x : f32[4 * T]  arg[0] \"x\"\n"
                               "  temp   t : f32[4]\n";
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"  map [4] {\n    n0 = in x[0; 1]\n    out t[0; 1] = n1\n  }\n}\n",
         "e.kir:7:19: the output's n1 is not an earlier node of the map (n0 .. n0)"},
        {"  map [4] {\n    n0 = in q[0; 1]\n  }\n}\n", "e.kir:6:13: unknown buffer 'q'"},
        {"  map [4] {\n    n0 = in x[0; 1, 1]\n  }\n}\n",
         "e.kir:6:19: expected ']': a view in a map of rank 1 has 1 strides"},
        {"  map [4] {\n    n0 = cosh n0\n  }\n}\n", "e.kir:6:10: unknown map op 'cosh'"},
        {"  map [4] {\n    n1 = const 1\n  }\n}\n", "e.kir:6:5: expected node n0: nodes are numbered in order"},
        {"  map [U] {\n  }\n}\n", "e.kir:5:8: unknown size symbol 'U'"},
        {"  map [t0] {\n  }\n}\n", "e.kir:5:8: t0 is not the variable of an enclosing loop"},
        {"  for t0 in 0 .. T {\n    for t0 in 0 .. 2 {\n    }\n  }\n}\n",
         "e.kir:6:9: loop variable t0 belongs to another loop"},
        {"  for t0 in 0 .. T {\n", "e.kir:6:1: the text ends inside a block: a '}' is missing"},
        {"  gemm C=t[0; ld 4] A=x[0; ld 4] (M=1, N=4, K=4) alpha=1 beta=0\n}\n", "e.kir:5:34: expected 'B'"},
        {"  call rt_nothing(n=1; t[0])\n}\n", "e.kir:5:8: unknown runtime call 'rt_nothing'"},
        {"  call rt_sgd_update(n=4; x[0], x[0], t[0]; lr=1)\n}\n",
         "e.kir:5:8: no call of rt_sgd_update takes these arguments"},
        {"  temp   u : f32[4]\n}\n", ""}, /* fine: a buffer after a buffer */
        {"  sym U\n}\n", "e.kir:5:3: the symbols come before the buffers"},
        {"  temp   t : f32[4]\n}\n", "e.kir:5:10: buffer 't' defined twice"},
        {"  map [4 +] {\n  }\n}\n", "e.kir:5:11: expected an expression"},
        {"  map [4] {\n  }\n}\nkfunc g {\n}\n", "e.kir:8:1: text after the function's closing '}'"},
        {"  map [4] {\n    n0 = const x1\n  }\n}\n", "e.kir:6:16: expected the constant (a number)"},
        {"  result y : f32[4]  res[1] \"y\"\n}\n",
         "e.kir:5:26: res[1] out of order: the result buffers are numbered in their order, this is res[0]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024], err[512] = "";
        snprintf(text, sizeof text, "%s%s", head, cases[i].body);
        IrModule *m = NULL;
        KFunc *f = kfunc_parse("e.kir", text, &m, err, sizeof err);
        if (!cases[i].want[0]) {
            if (!f) fail_msg("case %zu: %s", i, err);
            kfunc_free(f);
            ir_free(m);
            continue;
        }
        if (f || strncmp(err, cases[i].want, strlen(cases[i].want)))
            fail_msg("case %zu:\n  want %s\n  got  %s", i, cases[i].want, f ? "(parsed)" : err);
        assert_null(m);
    }
    char err[512];
    assert_null(kfunc_parse("e.kir", "", NULL, err, sizeof err));
    assert_string_equal(err, "e.kir:1:1: expected 'kfunc NAME (module M) {'");
    assert_null(kfunc_parse("e.kir", "kfunc f {\n  sym T\n}\n", NULL, err, sizeof err));
    assert_string_equal(err, "e.kir:2:7: a size symbol needs a module: 'kfunc NAME (module M) {'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_written), cmocka_unit_test(test_symbols_and_calls),
        cmocka_unit_test(test_prepared_arg), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
