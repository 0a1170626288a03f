/* test_kfuse.c - element-wise map fusion in kernel IR (lower/kfuse.h):
 * which maps merge, which must not, dead stores, and that a fused program
 * computes the same bits as the unfused one.
 *
 * Programs are built by hand: straight-line maps over a [3, 5] space on
 * temporaries, run by the tests' kernel-IR evaluator (kir_eval.h). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lower/kfuse.h"
#include "kir/kir.h"
#include "kir_eval.h"

enum { R = 3, C = 5, N = R * C };

/* ---- building ------------------------------------------------------------- */

typedef struct Prog {
    KFunc *f;
    KBuf *x, *y; /* argument [R, C] and result [R, C]                 */
} Prog;

static Prog prog_new(void)
{
    Prog p;
    p.f = kfunc_new("t", NULL);
    p.x = kfunc_buf(p.f, "x", IR_F32, kexpr_const(p.f, N), KB_ARG);
    p.y = kfunc_buf(p.f, "y", IR_F32, kexpr_const(p.f, N), KB_RESULT);
    return p;
}

static KBuf *temp(Prog *p, const char *name, int64_t n)
{
    return kfunc_buf(p->f, name, IR_F32, kexpr_const(p->f, n), KB_TEMP);
}

/* A strided view of b at offset off with row stride rs and column stride cs. */
static KStrided view(Prog *p, KBuf *b, int64_t off, int64_t rs, int64_t cs)
{
    KStrided s = {.v = {b, kexpr_const(p->f, off)}};
    s.stride[0] = kexpr_const(p->f, rs);
    s.stride[1] = kexpr_const(p->f, cs);
    return s;
}

/* A map over [R, C]: out = op(in0[, in1]) (unary when in1 is NULL). */
static KStmt *map(Prog *p, KMapOp op, KStrided in0, const KStrided *in1, KStrided out, int acc)
{
    KStmt *s = kblock_add(p->f, &p->f->body, KS_MAP, "test");
    s->rank = 2;
    s->dims[0] = kexpr_const(p->f, R);
    s->dims[1] = kexpr_const(p->f, C);
    s->nin = in1 ? 2 : 1;
    s->in = kfunc_alloc(p->f, 2 * sizeof *s->in);
    s->in[0] = in0;
    if (in1) s->in[1] = *in1;
    s->nnodes = s->nin + 1;
    s->nodes = kfunc_alloc(p->f, 3 * sizeof *s->nodes);
    s->nodes[0] = (KMapNode){.op = KM_IN, .a = 0};
    if (in1) s->nodes[1] = (KMapNode){.op = KM_IN, .a = 1};
    s->nodes[s->nin] = (KMapNode){.op = op, .a = 0, .b = in1 ? 1 : 0};
    s->nout = 1;
    s->out = kfunc_alloc(p->f, sizeof *s->out);
    s->out[0] = (KMapOut){.at = out, .node = s->nin, .accumulate = acc};
    return s;
}

/* b[0 .. n) = 0: a map over [n] (not [R, C]: it stays apart). */
static void zero(Prog *p, KBuf *b, int64_t n)
{
    KStmt *s = kblock_add(p->f, &p->f->body, KS_MAP, "zero");
    s->rank = 1;
    s->dims[0] = kexpr_const(p->f, n);
    s->nnodes = 1;
    s->nodes = kfunc_alloc(p->f, sizeof *s->nodes);
    s->nodes[0] = (KMapNode){.op = KM_CONST, .f = 0};
    s->nout = 1;
    s->out = kfunc_alloc(p->f, sizeof *s->out);
    s->out[0] = (KMapOut){.at = {.v = {b, kexpr_const(p->f, 0)}}, .node = 0};
    s->out[0].at.stride[0] = kexpr_const(p->f, 1);
}

/* ---- evaluating ------------------------------------------------------------ */

/* Runs f in the tests' evaluator (kir_eval.h) with x = fixed data; returns
 * y (N floats).  Temporaries start as NaN, so a fused program that reads
 * what it no longer stores shows. */
static float *run(const Prog *p)
{
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int i = 0; i < N; i++) {
        x[i] = 0.37f * (float)i - 2.1f;
        y[i] = 0;
    }
    void *args[1] = {x}, *res[1] = {y};
    char err[256];
    if (kev_run(p->f, NULL, args, res, err, sizeof err)) fail_msg("evaluating: %s", err);
    free(x);
    return y;
}

/* Runs p, fuses it, runs again: the same bits. Returns the merge count. */
static int fuse_same_bits(Prog *p)
{
    float *before = run(p);
    int merged = kfuse(p->f);
    float *after = run(p);
    for (int i = 0; i < N; i++) assert_memory_equal(&before[i], &after[i], sizeof(float));
    free(before);
    free(after);
    return merged;
}

static int count_stores(const KFunc *f, const KBuf *b)
{
    int n = 0;
    for (int i = 0; i < f->body.n; i++)
        for (int o = 0; o < f->body.stmts[i]->nout; o++) n += f->body.stmts[i]->out[o].at.v.buf == b;
    return n;
}

/* ---- tests ------------------------------------------------------------------ */

/* y = tanh(x) * x + x: three maps through two temporaries fuse into one
 * map that loads x once and stores only y. */
static void test_chain_fuses(void **state)
{
    (void)state;
    Prog p = prog_new();
    KBuf *t1 = temp(&p, "t1", N), *t2 = temp(&p, "t2", N);
    KStrided x = view(&p, p.x, 0, C, 1), a = view(&p, t1, 0, C, 1), b = view(&p, t2, 0, C, 1);
    map(&p, KM_TANH, x, NULL, a, 0);
    map(&p, KM_MUL, a, &x, b, 0);
    map(&p, KM_ADD, b, &x, view(&p, p.y, 0, C, 1), 0);
    assert_int_equal(fuse_same_bits(&p), 2);
    assert_int_equal(p.f->body.n, 1);
    const KStmt *s = p.f->body.stmts[0];
    assert_int_equal(s->nin, 1);  /* x, loaded once */
    assert_int_equal(s->nout, 1); /* y only: t1 and t2 are never stored */
    assert_int_equal(count_stores(p.f, t1) + count_stores(p.f, t2), 0);
    kfunc_free(p.f);
}

/* A temporary that a later, unfused statement reads keeps its store. */
static void test_store_kept_when_read_later(void **state)
{
    (void)state;
    Prog p = prog_new();
    KBuf *t1 = temp(&p, "t1", N), *t2 = temp(&p, "t2", N);
    KStrided x = view(&p, p.x, 0, C, 1), a = view(&p, t1, 0, C, 1);
    map(&p, KM_TANH, x, NULL, a, 0);
    map(&p, KM_NEG, a, NULL, view(&p, t2, 0, C, 1), 0);
    /* reads t1 transposed: another element than t1's store, so it cannot
     * join the map above, and t1 must stay in memory for it */
    map(&p, KM_NEG, view(&p, t2, 0, C, 1), NULL, view(&p, p.y, 0, C, 1), 0);
    KStmt *odd = map(&p, KM_TANH, view(&p, p.y, 0, C, 1), NULL, view(&p, p.y, 0, C, 1), 1);
    odd->in[0] = view(&p, t1, 0, 1, R); /* y += tanh(t1 read column-major) */
    fuse_same_bits(&p);
    assert_int_equal(count_stores(p.f, t1), 1);
    kfunc_free(p.f);
}

/* A reduction is complete only after its loop: the map that reads the sum
 * stays apart. */
static void test_reduction_not_fused_with_reader(void **state)
{
    (void)state;
    Prog p = prog_new();
    KBuf *sum = temp(&p, "sum", C);
    KStrided x = view(&p, p.x, 0, C, 1);
    zero(&p, sum, C);
    map(&p, KM_TANH, x, NULL, view(&p, sum, 0, 0, 1), 1); /* sum[c] += tanh(x[r, c]) over rows r */
    map(&p, KM_MUL, view(&p, sum, 0, 0, 1), &x, view(&p, p.y, 0, C, 1), 0);
    fuse_same_bits(&p);
    int readers = 0;
    for (int i = 0; i < p.f->body.n; i++)
        for (int k = 0; k < p.f->body.stmts[i]->nin; k++) readers += p.f->body.stmts[i]->in[k].v.buf == sum;
    assert_int_equal(p.f->body.n, 3); /* the zeros, the sum, y */
    assert_int_equal(readers, 1);     /* y still loads the finished sum */
    kfunc_free(p.f);
}

/* Maps over different index spaces, or reading another element of what
 * the earlier one wrote, do not merge. */
static void test_misaligned_not_fused(void **state)
{
    (void)state;
    Prog p = prog_new();
    KBuf *t1 = temp(&p, "t1", N + 1);
    map(&p, KM_TANH, view(&p, p.x, 0, C, 1), NULL, view(&p, t1, 1, C, 1), 0);
    map(&p, KM_NEG, view(&p, t1, 0, C, 1), NULL, view(&p, p.y, 0, C, 1), 0); /* one element behind */
    assert_int_equal(fuse_same_bits(&p), 0);
    assert_int_equal(p.f->body.n, 2);
    kfunc_free(p.f);

    p = prog_new();
    t1 = temp(&p, "t1", N);
    map(&p, KM_TANH, view(&p, p.x, 0, C, 1), NULL, view(&p, t1, 0, C, 1), 0);
    KStmt *s = map(&p, KM_NEG, view(&p, t1, 0, C, 1), NULL, view(&p, p.y, 0, C, 1), 0);
    s->dims[0] = kexpr_const(p.f, R - 1); /* [2, 5]: another space, not a slice of it */
    assert_int_equal(kfuse(p.f), 0);
    kfunc_free(p.f);
}

/* Writing what the earlier map reads, at another element, would change
 * what it reads: not merged. */
static void test_write_after_read_not_fused(void **state)
{
    (void)state;
    Prog p = prog_new();
    KBuf *t1 = temp(&p, "t1", N + 1);
    map(&p, KM_TANH, view(&p, p.x, 0, C, 1), NULL, view(&p, t1, 0, C, 1), 0);
    map(&p, KM_NEG, view(&p, t1, 0, C, 1), NULL, view(&p, p.y, 0, C, 1), 0);
    map(&p, KM_EXP, view(&p, p.x, 0, C, 1), NULL, view(&p, t1, 1, C, 1), 0); /* shifted overwrite */
    map(&p, KM_ADD, view(&p, t1, 0, C, 1), NULL, view(&p, p.y, 0, C, 1), 1);
    fuse_same_bits(&p);
    assert_true(p.f->body.n >= 2);
    kfunc_free(p.f);
}

/* g = [tanh x | -x] written block by block by two maps (a backward step's
 * gate gradients are four such column blocks of one [B, 4H] row), then
 * y = g[:, :C] + g[:, C:]; g's row stride rs, the second block at column
 * off.  Returns how many statements kfuse leaves (the bits checked). */
static int fuse_column_blocks(int64_t rs, int64_t off)
{
    Prog p = prog_new();
    KBuf *g = temp(&p, "g", (R - 1) * rs + off + C);
    KStrided x = view(&p, p.x, 0, C, 1), left = view(&p, g, 0, rs, 1), right = view(&p, g, off, rs, 1);
    map(&p, KM_TANH, x, NULL, left, 0);
    map(&p, KM_NEG, x, NULL, right, 0);
    map(&p, KM_ADD, left, &right, view(&p, p.y, 0, C, 1), 0);
    fuse_same_bits(&p);
    int n = p.f->body.n;
    kfunc_free(p.f);
    return n;
}

/* Maps writing disjoint blocks of one buffer merge (and then g, read by
 * nothing else, is not stored at all); blocks that share an element do
 * not: one column into the other, or rows so short that a row's second
 * block runs into the next row's first. */
static void test_disjoint_blocks_fuse(void **state)
{
    (void)state;
    assert_int_equal(fuse_column_blocks(2 * C, C), 1);     /* [R, 2C]: side by side */
    assert_int_equal(fuse_column_blocks(3 * C, 2 * C), 1); /* a gap between them */
    assert_int_equal(fuse_column_blocks(2 * C, C - 1), 3); /* one column shared */
    assert_int_equal(fuse_column_blocks(2 * C - 2, C), 3); /* row r's right, row r + 1's left */
}

/* A GEMM C = A B^T between two maps, on [R, C]-sized buffers. */
static KStmt *gemm(Prog *p, KBuf *A, KBuf *B, KBuf *Cm)
{
    KStmt *s = kblock_add(p->f, &p->f->body, KS_GEMM, "test");
    s->transb = 1;
    s->M = kexpr_const(p->f, R);
    s->N = s->K = kexpr_const(p->f, C);
    s->alpha = 1;
    s->A = (KView){A, kexpr_const(p->f, 0)};
    s->B = (KView){B, kexpr_const(p->f, 0)};
    s->C = (KView){Cm, kexpr_const(p->f, 0)};
    s->lda = s->ldb = s->ldc = kexpr_const(p->f, C);
    return s;
}

/* map t1 = tanh x; gemm (reads ga, gb, writes gc); map y = t1 + g.  How
 * many statements kfuse leaves. */
static int fuse_around_gemm(KBuf *(*pick)(Prog *, KBuf *t1, KBuf *g, int which))
{
    Prog p = prog_new();
    KBuf *t1 = temp(&p, "t1", N), *g = temp(&p, "g", N);
    map(&p, KM_TANH, view(&p, p.x, 0, C, 1), NULL, view(&p, t1, 0, C, 1), 0);
    gemm(&p, pick(&p, t1, g, 0), pick(&p, t1, g, 1), pick(&p, t1, g, 2));
    KStrided gv = view(&p, g, 0, C, 1);
    map(&p, KM_ADD, view(&p, t1, 0, C, 1), &gv, view(&p, p.y, 0, C, 1), 0);
    kfuse(p.f);
    int n = p.f->body.n;
    if (n == 2) { /* merged: the gemm first, then the one map */
        assert_int_equal(p.f->body.stmts[0]->kind, KS_GEMM);
        assert_int_equal(p.f->body.stmts[1]->kind, KS_MAP);
    }
    kfunc_free(p.f);
    return n;
}

static KBuf *independent(Prog *p, KBuf *t1, KBuf *g, int which)
{
    (void)t1;
    return which == 2 ? g : temp(p, which ? "wb" : "wa", N);
}
static KBuf *reads_map_output(Prog *p, KBuf *t1, KBuf *g, int which)
{
    return which == 2 ? g : which == 0 ? t1 : temp(p, "wb", N);
}
static KBuf *writes_map_input(Prog *p, KBuf *t1, KBuf *g, int which)
{
    (void)t1;
    (void)g;
    return which == 2 ? p->x : temp(p, which ? "wb" : "wa", N);
}
static KBuf *writes_map_output(Prog *p, KBuf *t1, KBuf *g, int which)
{
    (void)g;
    return which == 2 ? t1 : temp(p, which ? "wb" : "wa", N);
}

/* A map moves down past a GEMM that neither writes what it reads nor
 * reads or writes what it writes, and merges with the map after it;
 * otherwise all three statements stay, in order. */
static void test_map_moves_past_gemm(void **state)
{
    (void)state;
    assert_int_equal(fuse_around_gemm(independent), 2);
    assert_int_equal(fuse_around_gemm(reads_map_output), 3);
    assert_int_equal(fuse_around_gemm(writes_map_input), 3);
    assert_int_equal(fuse_around_gemm(writes_map_output), 3);
}

/* ---- slices (kfuse_slice.c) ------------------------------------------------- */

enum { W = 2 }; /* the slice map's columns */

/* t1 = tanh(x) over [R, C]; then over [R, W]: y[r, c] = t1[r, c + s0] +
 * t1[r, c + s1], as a step's gate map reads its pre-activations.  With
 * reread, a later map reads t1 too; with clobber, the slice map also
 * stores into x, which the first reads. */
static Prog slice_prog(int s0, int s1, int reread, int clobber)
{
    Prog p = prog_new();
    KBuf *t1 = temp(&p, "t1", N);
    map(&p, KM_TANH, view(&p, p.x, 0, C, 1), NULL, view(&p, t1, 0, C, 1), 0);
    KStrided b = view(&p, t1, s1, C, 1);
    KStmt *s = map(&p, KM_ADD, view(&p, t1, s0, C, 1), &b, view(&p, p.y, 0, C, 1), 0);
    s->dims[1] = kexpr_const(p.f, W);
    if (clobber) {
        s->out = kfunc_alloc(p.f, 2 * sizeof *s->out);
        s->out[0] = (KMapOut){.at = view(&p, p.y, 0, C, 1), .node = 2};
        s->out[1] = (KMapOut){.at = view(&p, p.x, 0, C, 1), .node = 2};
        s->nout = 2;
    }
    if (reread) map(&p, KM_NEG, view(&p, t1, 0, C, 1), NULL, view(&p, p.y, 0, C, 1), 1);
    return p;
}

/* The slice map takes over the map before it: one map over [R, W] that
 * loads x at both column shifts and never stores t1, with the same bits
 * (the evaluator starts temporaries as NaN, so a load of t1 would show). */
static void test_slices_fuse(void **state)
{
    (void)state;
    Prog p = slice_prog(0, 3, 0, 0);
    KBuf *t1 = p.f->bufs[2];
    assert_string_equal(t1->name, "t1");
    assert_int_equal(fuse_same_bits(&p), 1);
    assert_int_equal(p.f->body.n, 1);
    const KStmt *s = p.f->body.stmts[0];
    assert_int_equal(kexpr_eval(s->dims[1], NULL, NULL), W);
    assert_int_equal(s->nin, 2); /* x at columns 0.. and 3.. */
    assert_ptr_equal(s->in[0].v.buf, p.x);
    assert_ptr_equal(s->in[1].v.buf, p.x);
    assert_int_equal(kexpr_eval(s->in[1].v.off, NULL, NULL), 3);
    assert_int_equal(count_stores(p.f, t1), 0);
    kfunc_free(p.f);
    p = slice_prog(1, 1, 0, 0); /* one shift, loaded twice: computed once */
    assert_int_equal(fuse_same_bits(&p), 1);
    assert_int_equal(p.f->body.stmts[0]->nin, 1);
    kfunc_free(p.f);
}

/* No slice merge when another statement reads the temporary, when a
 * slice runs past the first map's columns, or when the slice map writes
 * what the first reads; the programs keep their bits. */
static void test_slices_not_fused(void **state)
{
    (void)state;
    Prog p = slice_prog(0, 3, 1, 0);
    assert_int_equal(fuse_same_bits(&p), 0);
    assert_int_equal(p.f->body.n, 3);
    kfunc_free(p.f);
    p = slice_prog(0, C - W + 1, 0, 0); /* columns 4 and 5 of 0..4 */
    assert_int_equal(kfuse(p.f), 0);
    kfunc_free(p.f);
    p = slice_prog(0, 3, 0, 1);
    assert_int_equal(kfuse(p.f), 0);
    kfunc_free(p.f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_fuses),
        cmocka_unit_test(test_store_kept_when_read_later),
        cmocka_unit_test(test_reduction_not_fused_with_reader),
        cmocka_unit_test(test_misaligned_not_fused),
        cmocka_unit_test(test_disjoint_blocks_fuse),
        cmocka_unit_test(test_write_after_read_not_fused),
        cmocka_unit_test(test_map_moves_past_gemm),
        cmocka_unit_test(test_slices_fuse),
        cmocka_unit_test(test_slices_not_fused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
