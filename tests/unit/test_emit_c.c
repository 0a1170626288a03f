/* test_emit_c.c - the C emitter (target/c/emit_c.h) on hand-built kernel IR.
 *
 * Each test builds a KFunc by hand (a loop carrying state forward and one
 * running in reverse, GEMMs, reductions, runtime calls, broadcast strides,
 * NaN handling of min/max), emits it after the runtime amalgamation
 * (target/c/rt_source.h), compiles the file with cc - and clang when it is
 * installed - under -std=c11 -Wall -Wextra -pedantic -Werror as a shared
 * object, loads it and compares what it computes with the same arithmetic
 * written out in this file. */
#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "runtime/sizes.h"
#include "test_util.h"

#include "target/c/emit_c.h"
#include "kir/kir.h"
#include "lower/lower.h"
#include "lower/memplan.h"
#include "target/c/rt_source.h"
#include "runtime/nn_kernels.h"
#include "runtime/sgemm.h"
#include "runtime/vmath_inline.h" /* rt_vm_bits, rt_vm_float */

typedef int (*KFn)(const int64_t *sym, const void *const *arg, void *const *res, void *arena, char *err, size_t errlen);

/* ---- building kernel IR --------------------------------------------------------- */

static const KExpr *C(KFunc *f, int64_t v) { return kexpr_const(f, v); }
static const KExpr *S(KFunc *f, int k) { return kexpr_sym(f, k); }
static const KExpr *V(KFunc *f, int loop) { return kexpr_var(f, loop); }
static const KExpr *MUL(KFunc *f, const KExpr *a, const KExpr *b) { return kexpr_bin(f, KE_MUL, a, b); }
static const KExpr *ADD(KFunc *f, const KExpr *a, const KExpr *b) { return kexpr_bin(f, KE_ADD, a, b); }

static KBuf *arg(KFunc *f, const char *name, IrDType dt, const KExpr *size)
{
    KBuf *b = kfunc_buf(f, name, dt, size, KB_ARG);
    b->ext_name = name;
    return b;
}

static KBuf *result(KFunc *f, const char *name, IrDType dt, const KExpr *size)
{
    KBuf *b = kfunc_buf(f, name, dt, size, KB_RESULT);
    b->ext_name = name;
    return b;
}

static KBuf *temp(KFunc *f, const char *name, const KExpr *size, int64_t offset)
{
    KBuf *b = kfunc_buf(f, name, IR_F32, size, KB_TEMP);
    b->offset = C(f, offset);
    b->what = "a temporary";
    return b;
}

static KStmt *map(KFunc *f, KBlock *blk, const char *origin, int rank, const KExpr *const *dims, int nin, int nnodes,
                  int nout)
{
    KStmt *s = kblock_add(f, blk, KS_MAP, origin);
    s->rank = rank;
    for (int d = 0; d < rank; d++) s->dims[d] = dims[d];
    s->in = kfunc_alloc(f, (size_t)(nin + 1) * sizeof *s->in);
    s->nodes = kfunc_alloc(f, (size_t)(nnodes + 1) * sizeof *s->nodes);
    s->out = kfunc_alloc(f, (size_t)(nout + 1) * sizeof *s->out);
    s->nin = nin;
    s->nnodes = nnodes;
    s->nout = nout;
    return s;
}

/* Strided view: buf at off with the given strides (rank of them). */
static void set_view(KFunc *f, KStrided *st, KBuf *b, const KExpr *off, int rank, const int64_t *strides)
{
    st->v.buf = b;
    st->v.off = off ? off : C(f, 0);
    for (int d = 0; d < rank; d++) st->stride[d] = C(f, strides[d]);
}

static void node(KStmt *s, int k, KMapOp op, int a, int b)
{
    s->nodes[k].op = op;
    s->nodes[k].a = a;
    s->nodes[k].b = b;
}

static void node_const(KStmt *s, int k, double v)
{
    s->nodes[k].op = KM_CONST;
    s->nodes[k].f = v;
}

static void out(KFunc *f, KStmt *s, int o, KBuf *b, const KExpr *off, const int64_t *strides, int nd, int acc)
{
    set_view(f, &s->out[o].at, b, off, s->rank, strides);
    s->out[o].node = nd;
    s->out[o].accumulate = acc;
}

/* out[...] = 0 over dims (contiguous) */
static void zero(KFunc *f, KBlock *blk, KBuf *b, int rank, const KExpr *const *dims, const int64_t *strides)
{
    KStmt *s = map(f, blk, "zero", rank, dims, 0, 1, 1);
    node_const(s, 0, 0.0);
    out(f, s, 0, b, NULL, strides, 0, 0);
}

/* ---- emitting, compiling, loading ----------------------------------------------- */

typedef struct Built {
    void *dl;
    KFn fn;
    const KFunc *f;
    char src[512];
} Built;

static int have_clang(void) { return system("clang --version >/dev/null 2>&1") == 0; }

/* Emits f after the runtime, compiles it with `cc` (strict flags) and loads
 * it; fails the test with the compiler's output on any warning. */
static void build(const KFunc *f, const char *cc, const char *tag, Built *b)
{
    char so[600], logp[600], cmd[2048];
    tu_tmp_path(b->src, sizeof b->src, tag);
    strcat(b->src, ".c");
    snprintf(so, sizeof so, "%s.%s.so", b->src, cc);
    snprintf(logp, sizeof logp, "%s.%s.log", b->src, cc);
    FILE *out = fopen(b->src, "w");
    assert_non_null(out);
    fputs("#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n", out);
    fputs(rt_source_text(), out);
    assert_int_equal(emit_c_func(out, f, "model_fn", 0, EMIT_C_ALL_PATHS), 0);
    fclose(out);
    snprintf(cmd, sizeof cmd,
             "%s -std=c11 -Wall -Wextra -pedantic -Werror -O2 -fPIC -shared -ffp-contract=off "
             "-o %s %s -lm >%s 2>&1",
             cc, so, b->src, logp);
    if (system(cmd) != 0) {
        size_t n;
        unsigned char *log = tu_read_file(logp, &n);
        fprintf(stderr, "%s failed:\n%s\n(source kept in %s)\n", cc, log ? (char *)log : "", b->src);
        free(log);
        fail();
    }
    b->dl = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(b->dl);
    void *p = dlsym(b->dl, "model_fn");
    assert_non_null(p);
    memcpy(&b->fn, &p, sizeof b->fn);
    b->f = f;
    remove(so);
    remove(logp);
}

static void unload(Built *b) { dlclose(b->dl); }

/* The emitted text contains s. */
static void source_has(const Built *b, const char *s)
{
    size_t n;
    char *text = (char *)tu_read_file(b->src, &n);
    assert_non_null(text);
    if (!strstr(text, s)) {
        fprintf(stderr, "emitted C lacks \"%s\":\n%s\n", s, text);
        free(text);
        fail();
    }
    free(text);
}

static void *arena_for(const Built *b, const int64_t *sym)
{
    /* the arena's size as NAME_create computes it (runtime/sizes.h) */
    int64_t w[4096];
    int nw = kexpr_to_words(b->f->arena_bytes, w, 4096);
    assert_true(nw > 1 && nw <= 4096);
    int64_t bytes = rt_size_eval(w, sym);
    assert_true(bytes >= 0 && bytes < RT_SIZE_HUGE);
    size_t n = (size_t)bytes;
    void *p = NULL;
    assert_int_equal(posix_memalign(&p, 64, n ? n : 64), 0);
    memset(p, 0xff, n ? n : 64); /* NaN garbage: the code must not read what it did not write */
    return p;
}

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 65536.0f * 2.0f - 1.0f;
}

/* Compilers to try: cc always, clang when installed. */
static int compilers(const char **cc)
{
    int n = 0;
    cc[n++] = "cc";
    if (have_clang()) cc[n++] = "clang";
    return n;
}

/* ---- a loop carrying state, forward, and one in reverse -------------------------- */

enum { H = 5 };

static KFunc *rnn_func(IrModule *m)
{
    KFunc *f = kfunc_new("rnn", m);
    const KExpr *B = S(f, 0), *T = S(f, 1), *BH = MUL(f, B, C(f, H));
    KBuf *x = arg(f, "x", IR_F32, MUL(f, T, BH));
    KBuf *w = arg(f, "h.weight", IR_F32, C(f, H));
    KBuf *h = result(f, "h", IR_F32, BH);
    KBuf *ys = result(f, "ys", IR_F32, MUL(f, T, BH));
    KBuf *s = temp(f, "t0", BH, 0); /* named like a loop variable: must be renamed */
    f->arena_bytes = MUL(f, BH, C(f, 4));
    const KExpr *dims[2] = {B, C(f, H)};
    const int64_t rowmaj[2] = {H, 1}, bcast[2] = {0, 1};
    zero(f, &f->body, h, 2, dims, rowmaj);

    /* h = tanh(x[t] * w + h) */
    KStmt *loop = kblock_add(f, &f->body, KS_LOOP, "%5 = scan (h: rnn)");
    loop->count = T;
    KStmt *mp = map(f, &loop->body, "%7 = tanh (h: rnn)", 2, dims, 3, 6, 1);
    set_view(f, &mp->in[0], x, MUL(f, V(f, loop->var), BH), 2, rowmaj);
    set_view(f, &mp->in[1], w, NULL, 2, bcast);
    set_view(f, &mp->in[2], h, NULL, 2, rowmaj);
    node(mp, 0, KM_IN, 0, 0);
    node(mp, 1, KM_IN, 1, 0);
    node(mp, 2, KM_IN, 2, 0);
    node(mp, 3, KM_MUL, 0, 1);
    node(mp, 4, KM_ADD, 3, 2);
    node(mp, 5, KM_TANH, 4, 0);
    out(f, mp, 0, h, NULL, rowmaj, 5, 0);

    /* reverse: s = x[t] + 0.5 s; ys[t] = s + t */
    zero(f, &f->body, s, 2, dims, rowmaj);
    KStmt *rl = kblock_add(f, &f->body, KS_LOOP, "%9 = scan reverse (g: rnn)");
    rl->count = T;
    rl->reverse = 1;
    KStmt *rm = map(f, &rl->body, "%11 = add (g: rnn)", 2, dims, 2, 7, 2);
    set_view(f, &rm->in[0], x, MUL(f, V(f, rl->var), BH), 2, rowmaj);
    set_view(f, &rm->in[1], s, NULL, 2, rowmaj);
    node(rm, 0, KM_IN, 0, 0);
    node(rm, 1, KM_IN, 1, 0);
    node_const(rm, 2, 0.5);
    node(rm, 3, KM_MUL, 1, 2);
    node(rm, 4, KM_ADD, 0, 3);
    rm->nodes[5].op = KM_EXPR;
    rm->nodes[5].e = V(f, rl->var);
    node(rm, 6, KM_ADD, 4, 5);
    out(f, rm, 0, s, NULL, rowmaj, 4, 0);
    out(f, rm, 1, ys, MUL(f, V(f, rl->var), BH), rowmaj, 6, 0);
    return f;
}

static void check_rnn(const Built *b, int64_t Bn, int64_t Tn)
{
    int64_t sym[2] = {Bn, Tn};
    int64_t n = Bn * H;
    float *x = malloc(sizeof(float) * (size_t)(Tn * n)), w[H];
    float *h = malloc(sizeof(float) * (size_t)n), *ys = malloc(sizeof(float) * (size_t)(Tn * n));
    float *eh = calloc((size_t)n, sizeof(float)), *es = calloc((size_t)n, sizeof(float));
    float *eys = malloc(sizeof(float) * (size_t)(Tn * n));
    unsigned seed = 7;
    for (int64_t i = 0; i < Tn * n; i++) x[i] = frand(&seed);
    for (int i = 0; i < H; i++) w[i] = frand(&seed);
    for (int64_t t = 0; t < Tn; t++)
        for (int64_t i = 0; i < n; i++) {
            float p = x[t * n + i] * w[i % H];
            float q = p + eh[i];
            eh[i] = rt_tanhf(q);
        }
    for (int64_t t = Tn - 1; t >= 0; t--)
        for (int64_t i = 0; i < n; i++) {
            float p = es[i] * 0.5f;
            es[i] = x[t * n + i] + p;
            eys[t * n + i] = es[i] + (float)t;
        }
    const void *args[2] = {x, w};
    void *res[2] = {h, ys};
    void *arena = arena_for(b, sym);
    char err[256] = "";
    assert_int_equal(b->fn(sym, args, res, arena, err, sizeof err), 0);
    /* exact: the same float operations in the same order, no contraction */
    for (int64_t i = 0; i < n; i++) assert_true(h[i] == eh[i]);
    for (int64_t i = 0; i < Tn * n; i++) assert_true(ys[i] == eys[i]);
    free(arena);
    free(x);
    free(h);
    free(ys);
    free(eh);
    free(es);
    free(eys);
}

static void test_loop_state(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("rnn");
    ir_add_sym(m, "T_x", 50);
    KFunc *f = rnn_func(m);
    const char *cc[2];
    for (int c = 0, nc = compilers(cc); c < nc; c++) {
        Built b;
        build(f, cc[c], "rnn", &b);
        source_has(&b, "const int64_t B = sym[0];");
        source_has(&b, "const int64_t T_x = sym[1];");
        source_has(&b, "const float *h_weight = (const float *)arg[1];");
        source_has(&b, "for (int64_t t0 = 0; t0 < T_x; t0++)");
        source_has(&b, "for (int64_t t1 = T_x - 1; t1 >= 0; t1--)");
        source_has(&b, "float *t0_buf = ");
        source_has(&b, "rt_inline_tanhf(");
        source_has(&b, "/* %5 = scan (h: rnn) */");
        check_rnn(&b, 3, 4);
        check_rnn(&b, 2, 7); /* other sizes, same code */
        unload(&b);
    }
    kfunc_free(f);
    ir_free(m);
}

/* ---- GEMMs with a bias epilogue ----------------------------------------------- */

enum { GN = 7, GK = 9, GMAXB = 16 };

static void test_gemm(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("lin");
    KFunc *f = kfunc_new("lin", m);
    const KExpr *B = S(f, 0);
    KBuf *x = arg(f, "x", IR_F32, MUL(f, B, C(f, GK)));
    KBuf *w = arg(f, "logits.weight", IR_F32, C(f, GN * GK));
    KBuf *bias = arg(f, "logits.bias", IR_F32, C(f, GN));
    KBuf *yout = result(f, "y", IR_F32, MUL(f, B, C(f, GN)));
    KBuf *dw = result(f, "dw", IR_F32, C(f, GN * GK));
    int64_t ybytes = (GMAXB * GN * 4 + 63) / 64 * 64;
    KBuf *y = temp(f, "lin", MUL(f, B, C(f, GN)), 0);
    size_t ws = rt_sgemm_workspace_size(GMAXB, GN > GK ? GN : GK, GMAXB > GK ? GMAXB : GK);
    size_t ws2 = rt_sgemm_workspace_size(GN, GK, GMAXB);
    if (ws2 > ws) ws = ws2;
    f->ws_offset = C(f, ybytes);
    f->ws_bytes = C(f, (int64_t)ws);
    f->arena_bytes = C(f, ybytes + (int64_t)ws);

    /* y = x W^T */
    KStmt *g = kblock_add(f, &f->body, KS_GEMM, "%3 = linear (logits: dense)");
    g->transa = 0;
    g->transb = 1;
    g->M = B;
    g->N = C(f, GN);
    g->K = C(f, GK);
    g->alpha = 1;
    g->beta = 0;
    g->A = (KView){x, C(f, 0)};
    g->lda = C(f, GK);
    g->B = (KView){w, C(f, 0)};
    g->ldb = C(f, GK);
    g->C = (KView){y, C(f, 0)};
    g->ldc = C(f, GN);
    /* yout = relu(y + bias) */
    const KExpr *dims[2] = {B, C(f, GN)};
    const int64_t rowmaj[2] = {GN, 1}, bcast[2] = {0, 1};
    KStmt *mp = map(f, &f->body, "%4 = add (logits: dense)", 2, dims, 2, 4, 1);
    set_view(f, &mp->in[0], y, NULL, 2, rowmaj);
    set_view(f, &mp->in[1], bias, NULL, 2, bcast);
    node(mp, 0, KM_IN, 0, 0);
    node(mp, 1, KM_IN, 1, 0);
    node(mp, 2, KM_ADD, 0, 1);
    node(mp, 3, KM_RELU, 2, 0);
    out(f, mp, 0, yout, NULL, rowmaj, 3, 0);
    /* dw = 1, then dw = 0.5 y^T x + dw */
    const KExpr *wd[2] = {C(f, GN), C(f, GK)};
    const int64_t wrow[2] = {GK, 1};
    KStmt *one = map(f, &f->body, "one", 2, wd, 0, 1, 1);
    node_const(one, 0, 1.0);
    out(f, one, 0, dw, NULL, wrow, 0, 0);
    KStmt *g2 = kblock_add(f, &f->body, KS_GEMM, "%9 = linear_wgrad (logits: dense)");
    g2->transa = 1;
    g2->transb = 0;
    g2->M = C(f, GN);
    g2->N = C(f, GK);
    g2->K = B;
    g2->alpha = 0.5f;
    g2->beta = 1;
    g2->A = (KView){y, C(f, 0)};
    g2->lda = C(f, GN);
    g2->B = (KView){x, C(f, 0)};
    g2->ldb = C(f, GK);
    g2->C = (KView){dw, C(f, 0)};
    g2->ldc = C(f, GK);

    const char *cc[2];
    for (int c = 0, nc = compilers(cc); c < nc; c++) {
        Built b;
        build(f, cc[c], "gemm", &b);
        source_has(&b, "if (rt_sgemm_ws(0, 1, B, 7, 9, 1.0f,");
        for (int64_t Bn = 1; Bn <= GMAXB; Bn += 5) {
            int64_t sym[1] = {Bn};
            unsigned seed = 3;
            float xs[GMAXB * GK], ws_[GN * GK], bs[GN], yo[GMAXB * GN], dwo[GN * GK];
            double ey[GMAXB * GN];
            for (int64_t i = 0; i < Bn * GK; i++) xs[i] = frand(&seed);
            for (int i = 0; i < GN * GK; i++) ws_[i] = frand(&seed);
            for (int i = 0; i < GN; i++) bs[i] = frand(&seed);
            const void *args[3] = {xs, ws_, bs};
            void *res[2] = {yo, dwo};
            void *arena = arena_for(&b, sym);
            char err[256] = "";
            assert_int_equal(b.fn(sym, args, res, arena, err, sizeof err), 0);
            for (int64_t i = 0; i < Bn; i++)
                for (int j = 0; j < GN; j++) {
                    double s = 0;
                    for (int k = 0; k < GK; k++) s += (double)xs[i * GK + k] * ws_[j * GK + k];
                    ey[i * GN + j] = s;
                    double e = s + bs[j] > 0 ? s + bs[j] : 0;
                    /* 9 products of |values| <= 1 summed in float: error < 9 * 2^-24 * 9 < 1e-5 */
                    assert_true(fabs(yo[i * GN + j] - e) < 1e-5);
                }
            for (int j = 0; j < GN; j++)
                for (int k = 0; k < GK; k++) {
                    double s = 0;
                    for (int64_t i = 0; i < Bn; i++) s += ey[i * GN + j] * xs[i * GK + k];
                    /* up to 16 products of |values| <= 9 in float: error < 16 * 9 * 2^-24 * 16 < 2e-4 */
                    assert_true(fabs(dwo[j * GK + k] - (1.0 + 0.5 * s)) < 2e-4);
                }
            free(arena);
        }
        unload(&b);
    }
    kfunc_free(f);
    ir_free(m);
}

/* ---- reductions ----------------------------------------------------------------- */

enum { RR = 4, RC = 6 };

static void test_reductions(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("red");
    KFunc *f = kfunc_new("red", m);
    const KExpr *B = S(f, 0);
    KBuf *x = arg(f, "x", IR_F32, MUL(f, B, C(f, RR * RC)));
    KBuf *total = result(f, "total", IR_F32, C(f, 1));
    KBuf *rows = result(f, "rows", IR_F32, MUL(f, B, C(f, RR)));
    KBuf *cols = result(f, "cols", IR_F32, C(f, RC));
    KBuf *mean = result(f, "mean", IR_F32, C(f, 1));
    f->arena_bytes = C(f, 0);
    const KExpr *one[1] = {C(f, 1)}, *rd[1] = {MUL(f, B, C(f, RR))}, *cd[1] = {C(f, RC)};
    const int64_t unit[1] = {1};
    zero(f, &f->body, total, 1, one, unit);
    zero(f, &f->body, rows, 1, rd, unit);
    zero(f, &f->body, cols, 1, cd, unit);
    const KExpr *dims[3] = {B, C(f, RR), C(f, RC)};
    const int64_t xs[3] = {RR * RC, RC, 1}, all0[3] = {0, 0, 0}, rs[3] = {RR, 1, 0}, cs[3] = {0, 0, 1};
    KStmt *mp = map(f, &f->body, "%4 = sumsq", 3, dims, 1, 2, 3);
    set_view(f, &mp->in[0], x, NULL, 3, xs);
    node(mp, 0, KM_IN, 0, 0);
    node(mp, 1, KM_MUL, 0, 0);
    out(f, mp, 0, total, NULL, all0, 1, 1);
    out(f, mp, 1, rows, NULL, rs, 1, 1);
    out(f, mp, 2, cols, NULL, cs, 1, 1);
    /* mean = total / (B * 24): a rank-0 map reading a size */
    KStmt *mm = map(f, &f->body, "%5 = div", 0, NULL, 1, 3, 1);
    set_view(f, &mm->in[0], total, NULL, 0, NULL);
    node(mm, 0, KM_IN, 0, 0);
    mm->nodes[1].op = KM_EXPR;
    mm->nodes[1].e = MUL(f, B, C(f, RR * RC));
    node(mm, 2, KM_DIV, 0, 1);
    out(f, mm, 0, mean, NULL, NULL, 2, 0);

    const char *cc[2];
    for (int c = 0, nc = compilers(cc); c < nc; c++) {
        Built b;
        build(f, cc[c], "red", &b);
        source_has(&b, "float acc0 = total[0];");
        source_has(&b, "(float)(24 * B)");
        int64_t Bn = 3, sym[1] = {Bn};
        float xv[3 * RR * RC], tot, rw[3 * RR], cl[RC], mn;
        unsigned seed = 11;
        for (int i = 0; i < 3 * RR * RC; i++) xv[i] = frand(&seed);
        const void *args[1] = {xv};
        void *res[4] = {&tot, rw, cl, &mn};
        void *arena = arena_for(&b, sym);
        char err[64];
        assert_int_equal(b.fn(sym, args, res, arena, err, sizeof err), 0);
        float et = 0, er[3 * RR] = {0}, ec[RC] = {0};
        for (int i = 0; i < Bn; i++)
            for (int r = 0; r < RR; r++)
                for (int k = 0; k < RC; k++) {
                    float v = xv[(i * RR + r) * RC + k];
                    float sq = v * v;
                    et += sq;
                    er[i * RR + r] += sq;
                    ec[k] += sq;
                }
        /* exact: kir.h fixes the order (index order, in float) */
        assert_true(tot == et);
        for (int i = 0; i < Bn * RR; i++) assert_true(rw[i] == er[i]);
        for (int k = 0; k < RC; k++) assert_true(cl[k] == ec[k]);
        assert_true(mn == et / (float)(Bn * RR * RC));
        free(arena);
        unload(&b);
    }
    kfunc_free(f);
    ir_free(m);
}

/* ---- runtime calls: softmax, embedding (fallible), an i64 copy -------------------- */

enum { SC = 5, EV = 4, ED = 3 };

static void test_calls(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("calls");
    KFunc *f = kfunc_new("calls", m);
    const KExpr *B = S(f, 0);
    KBuf *logits = arg(f, "logits", IR_F32, MUL(f, B, C(f, SC)));
    KBuf *table = arg(f, "e.weight", IR_F32, C(f, EV * ED));
    KBuf *ids = arg(f, "ids", IR_I64, B);
    KBuf *probs = result(f, "probs", IR_F32, MUL(f, B, C(f, SC)));
    KBuf *emb = result(f, "emb", IR_F32, MUL(f, B, C(f, ED)));
    KBuf *idc = result(f, "ids_copy", IR_I64, B);
    KBuf *p = temp(f, "p", MUL(f, B, C(f, SC)), 64);
    f->arena_bytes = ADD(f, C(f, 64), MUL(f, B, C(f, SC * 4)));

    KStmt *sm = kblock_add(f, &f->body, KS_CALL, "%3 = softmax (probs)");
    sm->call = KC_SOFTMAX;
    sm->ints[0] = B;
    sm->ints[1] = C(f, SC);
    sm->ptrs[0] = (KView){logits, C(f, 0)};
    sm->ptrs[1] = (KView){p, C(f, 0)};
    sm->nptrs = 2;
    const KExpr *dims[1] = {MUL(f, B, C(f, SC))}, *bd[1] = {B};
    const int64_t unit[1] = {1};
    KStmt *cp = map(f, &f->body, "copy", 1, dims, 1, 1, 1);
    set_view(f, &cp->in[0], p, NULL, 1, unit);
    node(cp, 0, KM_IN, 0, 0);
    out(f, cp, 0, probs, NULL, unit, 0, 0);
    KStmt *em = kblock_add(f, &f->body, KS_CALL, "%9 = embedding (e: embedding \"100%\")");
    em->call = KC_EMBEDDING;
    em->ints[0] = B;
    em->ints[1] = C(f, ED);
    em->ints[2] = C(f, EV);
    em->ptrs[0] = (KView){table, C(f, 0)};
    em->ptrs[1] = (KView){ids, C(f, 0)};
    em->ptrs[2] = (KView){emb, C(f, 0)};
    em->nptrs = 3;
    KStmt *ic = map(f, &f->body, "ids copy", 1, bd, 1, 1, 1);
    set_view(f, &ic->in[0], ids, NULL, 1, unit);
    node(ic, 0, KM_IN, 0, 0);
    out(f, ic, 0, idc, NULL, unit, 0, 0);

    const char *cc[2];
    for (int c = 0, nc = compilers(cc); c < nc; c++) {
        Built b;
        build(f, cc[c], "calls", &b);
        source_has(&b, "rt_softmax_rows(B, 5, logits, p);");
        source_has(&b, "const int64_t n0 = ids[i0];");
        int64_t Bn = 3, sym[1] = {Bn};
        float lg[3 * SC], tb[EV * ED], pr[3 * SC], eo[3 * ED];
        int64_t iv[3] = {2, 0, 3}, io[3];
        unsigned seed = 5;
        for (int i = 0; i < 3 * SC; i++) lg[i] = 3 * frand(&seed);
        for (int i = 0; i < EV * ED; i++) tb[i] = frand(&seed);
        const void *args[3] = {lg, tb, iv};
        void *res[3] = {pr, eo, io};
        void *arena = arena_for(&b, sym);
        char err[256] = "";
        assert_int_equal(b.fn(sym, args, res, arena, err, sizeof err), 0);
        for (int r = 0; r < Bn; r++) {
            double mx = lg[r * SC], s = 0;
            for (int k = 1; k < SC; k++) mx = fmax(mx, lg[r * SC + k]);
            for (int k = 0; k < SC; k++) s += exp(lg[r * SC + k] - mx);
            for (int k = 0; k < SC; k++) /* rt_expf is within a few float ulps of exp; probabilities are <= 1 */
                assert_true(fabs(pr[r * SC + k] - exp(lg[r * SC + k] - mx) / s) < 1e-6);
            for (int k = 0; k < ED; k++) assert_true(eo[r * ED + k] == tb[iv[r] * ED + k]);
            assert_true(io[r] == iv[r]);
        }
        iv[1] = EV; /* out of range */
        assert_int_not_equal(b.fn(sym, args, res, arena, err, sizeof err), 0);
        assert_string_equal(err, "token id out of range in %9 = embedding (e: embedding \"100%\")");
        free(arena);
        unload(&b);
    }
    kfunc_free(f);
    ir_free(m);
}

/* ---- broadcast strides, every map op, NaN through min/max ----------------------- */

enum { OR = 3, OC = 4 };

static void test_ops(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("ops");
    KFunc *f = kfunc_new("ops", m);
    KBuf *a = arg(f, "a", IR_F32, C(f, OR));
    KBuf *bb = arg(f, "for", IR_F32, C(f, OC)); /* a keyword as a name */
    KBuf *q = arg(f, "q", IR_F32, C(f, 2));
    KBuf *o1 = result(f, "o1", IR_F32, C(f, OR * OC));
    KBuf *o2 = result(f, "o2", IR_F32, C(f, OR * OC));
    KBuf *r = result(f, "r", IR_F32, C(f, 8));
    f->arena_bytes = C(f, 0);
    const KExpr *dims[2] = {C(f, OR), C(f, OC)};
    const int64_t sa[2] = {1, 0}, sb[2] = {0, 1}, so[2] = {OC, 1};
    KStmt *mp = map(f, &f->body, "%2 = fused", 2, dims, 2, 17, 2);
    set_view(f, &mp->in[0], a, NULL, 2, sa);
    set_view(f, &mp->in[1], bb, NULL, 2, sb);
    node(mp, 0, KM_IN, 0, 0);
    node(mp, 1, KM_IN, 1, 0);
    node(mp, 2, KM_SUB, 0, 1);
    node_const(mp, 3, 0.5);
    node_const(mp, 4, -0.5);
    node(mp, 5, KM_MIN, 3, 2); /* clamp as max(-k, min(k, x)) */
    node(mp, 6, KM_MAX, 4, 5);
    node(mp, 7, KM_RELU, 2, 0);
    node(mp, 8, KM_RELU_GRAD, 0, 1);
    node(mp, 9, KM_EXP, 6, 0);
    node(mp, 10, KM_SIGMOID, 2, 0); /* dead: no output uses it */
    node(mp, 11, KM_MUL, 0, 0);
    node(mp, 12, KM_ADD, 11, 9);
    node(mp, 13, KM_SQRT, 12, 0);
    node(mp, 14, KM_LOG, 13, 0);
    node(mp, 15, KM_NEG, 14, 0);
    node(mp, 16, KM_DIV, 15, 9);
    out(f, mp, 0, o1, NULL, so, 6, 0);
    out(f, mp, 1, o2, NULL, so, 16, 0);
    const KExpr *qd[1] = {C(f, 2)};
    const int64_t unit[1] = {1};
    KStmt *nm = map(f, &f->body, "%3 = min/max with NaN", 1, qd, 1, 6, 4);
    set_view(f, &nm->in[0], q, NULL, 1, unit);
    node(nm, 0, KM_IN, 0, 0);
    node_const(nm, 1, 1.0);
    node(nm, 2, KM_MIN, 0, 1);
    node(nm, 3, KM_MIN, 1, 0);
    node(nm, 4, KM_MAX, 0, 1);
    node(nm, 5, KM_MAX, 1, 0);
    for (int k = 0; k < 4; k++) out(f, nm, k, r, C(f, 2 * k), unit, 2 + k, 0);

    const char *cc[2];
    for (int c = 0, nc = compilers(cc); c < nc; c++) {
        Built b;
        build(f, cc[c], "ops", &b);
        source_has(&b, "const float *for_buf = (const float *)arg[1];");
        source_has(&b, "(-0.5f)");
        float av[OR] = {-1.0f, 0.25f, 2.0f}, bv[OC] = {-0.5f, 0.0f, 0.75f, 3.0f}, qv[2] = {NAN, 2.0f};
        float v1[OR * OC], v2[OR * OC], rv[8];
        const void *args[3] = {av, bv, qv};
        void *res[3] = {v1, v2, rv};
        char err[64];
        assert_int_equal(b.fn(NULL, args, res, NULL, err, sizeof err), 0);
        for (int i = 0; i < OR; i++)
            for (int j = 0; j < OC; j++) {
                float d = av[i] - bv[j];
                float mn = 0.5f < d ? 0.5f : d;
                float cl = -0.5f > mn ? -0.5f : mn;
                float e = rt_expf(cl);
                float sq = av[i] * av[i];
                float s2 = sq + e;
                float rt = sqrtf(s2);
                float lg = logf(rt);
                float ng = -lg;
                /* exact: the same float operations (logf, sqrtf from the same libm) */
                assert_true(v1[i * OC + j] == cl);
                assert_true(v2[i * OC + j] == ng / e);
            }
        /* min(a, b) = a < b ? a : b: a NaN on either side gives b */
        assert_true(rv[0] == 1.0f); /* min(NaN, 1) */
        assert_true(rv[1] == 1.0f); /* min(2, 1)   */
        assert_true(isnan(rv[2]));  /* min(1, NaN) */
        assert_true(rv[3] == 1.0f); /* min(1, 2)   */
        assert_true(rv[4] == 1.0f); /* max(NaN, 1) */
        assert_true(rv[5] == 2.0f); /* max(2, 1)   */
        assert_true(isnan(rv[6]));  /* max(1, NaN) */
        assert_true(rv[7] == 2.0f); /* max(1, 2)   */
        unload(&b);
    }
    kfunc_free(f);
    ir_free(m);
}

/* A gemm before memplan (no workspace) cannot be emitted: an error, not bad C. */
static void test_unplanned(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("u");
    KFunc *f = kfunc_new("u", m);
    KBuf *x = arg(f, "x", IR_F32, C(f, 4));
    KBuf *y = result(f, "y", IR_F32, C(f, 4));
    KStmt *g = kblock_add(f, &f->body, KS_GEMM, "g");
    g->M = g->N = g->K = C(f, 2);
    g->lda = g->ldb = g->ldc = C(f, 2);
    g->alpha = 1;
    g->A = g->B = (KView){x, C(f, 0)};
    g->C = (KView){y, C(f, 0)};
    FILE *out = tmpfile();
    assert_non_null(out);
    assert_int_equal(emit_c_func(out, f, "fn", 1, EMIT_C_ALL_PATHS), -1);
    fclose(out);
    kfunc_free(f);
    ir_free(m);
}

/* ---- packed recurrent weights (lower_pack_b) ------------------------------------ */

enum { PN = 70, PK = 45, PMAXB = 40, PMAXT = 3 };

/* A loop over T steps with three products of the step's x[t] (B x PK):
 * y[t] = x[t] W^T, then y[t] = 0.5 x[t] W^T + y[t] (the same W: one
 * pack), and z[t] = x[t] V (V stored K x N: another pack).  Planned by
 * memplan after lower_pack_b when `pack`. */
static KFunc *packed_loop_func(IrModule *m, int pack)
{
    KFunc *f = kfunc_new("steps", m);
    const KExpr *B = S(f, 0), *T = S(f, 1);
    KBuf *x = arg(f, "x", IR_F32, MUL(f, T, MUL(f, B, C(f, PK))));
    KBuf *w = arg(f, "w", IR_F32, C(f, PN * PK));
    KBuf *v = arg(f, "v", IR_F32, C(f, PK * PN));
    KBuf *y = result(f, "y", IR_F32, MUL(f, T, MUL(f, B, C(f, PN))));
    KBuf *z = result(f, "z", IR_F32, MUL(f, T, MUL(f, B, C(f, PN))));
    KStmt *loop = kblock_add(f, &f->body, KS_LOOP, "%5 = scan (h: test)");
    loop->count = T;
    const KExpr *t = V(f, loop->var);
    static const struct {
        int use_v;
        float alpha, beta;
    } g[3] = {{0, 1, 0}, {0, 0.5f, 1}, {1, 1, 0}};
    for (int k = 0; k < 3; k++) {
        KStmt *s = kblock_add(f, &loop->body, KS_GEMM, "%6 = linear (h: test)");
        s->transb = !g[k].use_v;
        s->M = B;
        s->N = C(f, PN);
        s->K = C(f, PK);
        s->alpha = g[k].alpha;
        s->beta = g[k].beta;
        s->A = (KView){x, MUL(f, t, MUL(f, B, C(f, PK)))};
        s->lda = C(f, PK);
        s->B = (KView){g[k].use_v ? v : w, C(f, 0)};
        s->ldb = C(f, g[k].use_v ? PN : PK);
        s->C = (KView){g[k].use_v ? z : y, MUL(f, t, MUL(f, B, C(f, PN)))};
        s->ldc = C(f, PN);
    }
    if (pack) lower_pack_b(f);
    char err[256];
    assert_int_equal(memplan(f, err, sizeof err), 0);
    return f;
}

/* Runs one build at B, T; checks y and z against double sums within the
 * float dot-product bound (test_sgemm.c): (K + 2) eps times the sum of
 * the products' magnitudes, doubled for y's two accumulated products
 * (so packed and plain differ by at most twice that). */
static void run_packed_loop(const Built *b, int64_t Bn, int64_t Tn, float *yo, float *zo)
{
    int64_t sym[2] = {Bn, Tn};
    static float xs[PMAXT * PMAXB * PK], ws_[PN * PK], vs[PK * PN];
    unsigned seed = 11;
    for (int64_t i = 0; i < Tn * Bn * PK; i++) xs[i] = frand(&seed);
    for (int i = 0; i < PN * PK; i++) ws_[i] = frand(&seed), vs[i] = frand(&seed);
    const void *args[3] = {xs, ws_, vs};
    void *res[2] = {yo, zo};
    void *arena = arena_for(b, sym);
    char err[256] = "";
    assert_int_equal(b->fn(sym, args, res, arena, err, sizeof err), 0);
    free(arena);
    for (int64_t r = 0; r < Tn * Bn; r++)
        for (int j = 0; j < PN; j++) {
            double sy = 0, my = 0, sz = 0, mz = 0;
            for (int k = 0; k < PK; k++) {
                double a = xs[r * PK + k], pw = a * ws_[j * PK + k], pv = a * vs[k * PN + j];
                sy += pw, my += fabs(pw), sz += pv, mz += fabs(pv);
            }
            assert_true(fabs(yo[r * PN + j] - 1.5 * sy) <= 2.0 * (PK + 2) * FLT_EPSILON * 1.5 * my);
            assert_true(fabs(zo[r * PN + j] - sz) <= (PK + 2) * FLT_EPSILON * mz);
        }
}

static int count_stmts(const KBlock *b, KStmtKind k)
{
    int n = 0;
    for (int i = 0; i < b->n; i++)
        n += (b->stmts[i]->kind == k) + (b->stmts[i]->kind == KS_LOOP ? count_stmts(&b->stmts[i]->body, k) : 0);
    return n;
}

/* lower_pack_b on a loop whose products read two invariant weights, three
 * times: two packs before the loop (W^T shared by its two products), the
 * products on rt_sgemm_ws_packed, the same numbers as the plain form.
 * Not the same bits: the packed and plain products may take different
 * algorithms for one M (thresholds small_m_packed vs small_m_nt, and the
 * dots kernel sums along K in vector lanes where the rows kernel sums in
 * order), so both are held to the dot-product bound, at B = 1 (small
 * paths), 17 and 40 (past the AVX2 / AVX-512 packed thresholds: blocked). */
static void test_packed_loop(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("steps");
    ir_add_sym(m, "T_x", PMAXT);
    KFunc *fp = packed_loop_func(m, 1), *fu = packed_loop_func(m, 0);
    assert_int_equal(count_stmts(&fp->body, KS_PACK_B), 2);
    assert_int_equal(count_stmts(&fu->body, KS_PACK_B), 0);
    assert_int_equal(kfunc_verify(fp, (int64_t[2]){PMAXB, PMAXT}, stderr), 0);
    static float y[PMAXT * PMAXB * PN], z[PMAXT * PMAXB * PN];
    const char *cc[2];
    for (int c = 0, nc = compilers(cc); c < nc; c++) {
        Built bp, bu;
        build(fp, cc[c], "packed", &bp);
        build(fu, cc[c], "plain", &bu);
        source_has(&bp, "rt_sgemm_pack_b(1, 70, 45, w, 45, w_pk);");
        source_has(&bp, "rt_sgemm_pack_b(0, 70, 45, v, 70, v_pk);");
        source_has(&bp, "if (rt_sgemm_ws_packed(0, B, 70, 45, 0.5f,");
        static const int64_t Bs[] = {1, 17, PMAXB};
        for (int i = 0; i < 3; i++) {
            run_packed_loop(&bp, Bs[i], PMAXT, y, z);
            run_packed_loop(&bu, Bs[i], PMAXT, y, z);
        }
        unload(&bp);
        unload(&bu);
    }
    kfunc_free(fp);
    kfunc_free(fu);
    ir_free(m);
}

/* ---- the activations on every CPU path -------------------------------------------
 * One map takes exp, tanh, sigmoid and softplus of NA inputs (the special values,
 * then an even sweep of bit patterns).  The file has the body three times
 * (as compiled, and with AVX2 and AVX-512 target attributes); RNNC_CPU
 * picks which runs, read once by the file's own copy of the runtime, so
 * each path gets an object of its own.  Every path must give the bits of
 * the library's rt_expf / rt_tanhf / rt_sigmoidf / rt_inline_softplusf: the vectorized loops do
 * the scalar code's float operations, each rounded the same.  NA is not a
 * multiple of any vector width, so the loop's scalar remainder runs too. */

enum { NA = 4096 + 13 };

static KFunc *activation_func(IrModule *m)
{
    KFunc *f = kfunc_new("act", m);
    KBuf *x = arg(f, "x", IR_F32, C(f, NA));
    KBuf *y = result(f, "y", IR_F32, C(f, 4 * NA));
    f->arena_bytes = C(f, 0);
    const KExpr *dims[1] = {C(f, NA)};
    const int64_t unit[1] = {1};
    KStmt *mp = map(f, &f->body, "%4 = exp, tanh, sigmoid, softplus", 1, dims, 1, 5, 4);
    set_view(f, &mp->in[0], x, NULL, 1, unit);
    node(mp, 0, KM_IN, 0, 0);
    node(mp, 1, KM_EXP, 0, 0);
    node(mp, 2, KM_TANH, 0, 0);
    node(mp, 3, KM_SIGMOID, 0, 0);
    node(mp, 4, KM_SOFTPLUS, 0, 0);
    for (int k = 0; k < 4; k++) out(f, mp, k, y, C(f, k * NA), unit, 1 + k, 0);
    return f;
}

static void test_activation_paths(void **state)
{
    (void)state;
    static const float special[] = {0.0f,        -0.0f,        INFINITY,    -INFINITY, NAN,      -NAN,         FLT_MIN,
                                    -FLT_MIN,    1e-45f,       -1e-45f,     FLT_MAX,   -FLT_MAX, 0.625f,       -0.625f,
                                    0.62499994f, 88.7228394f,  88.7228470f, 89.0f,     89.5f,    -103.972084f, -104.0f,
                                    -104.5f,     -87.3365479f, 1.0f,        -1.0f};
    static float x[NA], y[4 * NA];
    int ns = (int)(sizeof special / sizeof *special);
    for (int i = 0; i < NA; i++)
        x[i] = i < ns ? special[i] : rt_vm_float((uint32_t)((uint64_t)(i - ns) * 0xffffffffu / (NA - ns)));
    IrModule *m = ir_module_new("act");
    KFunc *f = activation_func(m);
    static const char *const paths[] = {"scalar", "avx2", "avx512"};
    const char *cc[2];
    char *saved = getenv("RNNC_CPU") ? strdup(getenv("RNNC_CPU")) : NULL;
    for (int c = 0, nc = compilers(cc); c < nc; c++)
        for (int p = 0; p < 3; p++) {
            char tag[64];
            snprintf(tag, sizeof tag, "act_%s", paths[p]);
            setenv("RNNC_CPU", paths[p], 1);
            Built b;
            build(f, cc[c], tag, &b);
            source_has(&b, "RT_TARGET(\"avx2,fma\") static int model_fn_avx2(");
            source_has(&b, "RT_TARGET(\"avx512f\") static int model_fn_avx512(");
            source_has(&b, "RT_ALWAYS_INLINE void model_fn_map0(const float *restrict x, float *restrict y)");
            const void *args[1] = {x};
            void *res[1] = {y};
            char err[64];
            assert_int_equal(b.fn(NULL, args, res, NULL, err, sizeof err), 0);
            for (int i = 0; i < NA; i++) {
                float want[4] = {rt_expf(x[i]), rt_tanhf(x[i]), rt_sigmoidf(x[i]), rt_inline_softplusf(x[i])};
                for (int k = 0; k < 4; k++)
                    if (rt_vm_bits(y[k * NA + i]) != rt_vm_bits(want[k]))
                        fail_msg("%s, RNNC_CPU=%s: activation %d of %a = %a, the runtime's %a", cc[c], paths[p], k,
                                 (double)x[i], (double)y[k * NA + i], (double)want[k]);
            }
            unload(&b);
        }
    if (saved)
        setenv("RNNC_CPU", saved, 1);
    else
        unsetenv("RNNC_CPU");
    free(saved);
    kfunc_free(f);
    ir_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packed_loop), cmocka_unit_test(test_loop_state),
        cmocka_unit_test(test_gemm),        cmocka_unit_test(test_reductions),
        cmocka_unit_test(test_calls),       cmocka_unit_test(test_ops),
        cmocka_unit_test(test_unplanned),   cmocka_unit_test(test_activation_paths),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
