/* test_memplan.c - the memory plan (lower/memplan.c), the kernel-IR
 * verifier (kir_verify.c) and printer (kir_print.c).
 *
 * A plan is checked by running the function in the tests' evaluator
 * (kir_eval.h, kev_check_plan) in one arena at the planned offsets, with
 * shadow memory that records, for each 4-byte unit of the arena, which
 * buffer's write it holds.  A read of a temporary's element must find that
 * element's own last write still there; the temporaries one statement
 * touches must not overlap; none may meet the SGEMM workspace.  That is
 * what "buffers that are live at the same time do not overlap" means,
 * checked without trusting memplan's own liveness.  It runs on hand-built
 * functions, on random programs (maps over temporaries of random sizes,
 * loops with carried state, per-step slices, GEMMs, reductions, nested
 * loops) at several symbol values, and on every example model as
 * lowered. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kir/kir.h"
#include "lower/kfuse.h"
#include "kir/kir_calls.h"
#include "lower/lower.h"
#include "lower/memplan.h"
#include "ir/ir.h"
#include "passes/autodiff.h"
#include "passes/pipeline.h"
#include "runtime/sgemm.h"
#include "kir_eval.h"
#include "test_util.h"

/* ---- building kernel IR ----------------------------------------------------- */

#define MAXIN    16
#define MAXNODES 64
#define MAXOUT   8

static const KExpr *K(KFunc *f, int64_t v) { return kexpr_const(f, v); }
static const KExpr *mul(KFunc *f, const KExpr *a, const KExpr *b) { return kexpr_bin(f, KE_MUL, a, b); }
static KView view(KBuf *b, const KExpr *off) { return (KView){b, off}; }

/* A map over dims (rank given) with room for MAXIN inputs, MAXNODES nodes
 * and MAXOUT outputs. */
static KStmt *map_new(KFunc *f, KBlock *blk, const char *origin, int rank, const KExpr *const *dims)
{
    KStmt *s = kblock_add(f, blk, KS_MAP, origin);
    s->rank = rank;
    for (int d = 0; d < rank; d++) s->dims[d] = dims[d];
    s->in = kfunc_alloc(f, MAXIN * sizeof *s->in);
    s->nodes = kfunc_alloc(f, MAXNODES * sizeof *s->nodes);
    s->out = kfunc_alloc(f, MAXOUT * sizeof *s->out);
    return s;
}

/* Adds an input with the given strides and a KM_IN node reading it;
 * returns the node. */
static int map_in(KStmt *s, KView v, const KExpr *const *st)
{
    assert_true(s->nin < MAXIN && s->nnodes < MAXNODES);
    s->in[s->nin].v = v;
    for (int d = 0; d < s->rank; d++) s->in[s->nin].stride[d] = st[d];
    s->nodes[s->nnodes] = (KMapNode){.op = KM_IN, .a = s->nin++};
    return s->nnodes++;
}

static int map_node(KStmt *s, KMapOp op, int a, int b, double fv)
{
    assert_true(s->nnodes < MAXNODES);
    s->nodes[s->nnodes] = (KMapNode){.op = op, .a = a, .b = b, .f = fv};
    return s->nnodes++;
}

static void map_out(KStmt *s, KView v, const KExpr *const *st, int node, int acc)
{
    assert_true(s->nout < MAXOUT);
    s->out[s->nout].at.v = v;
    for (int d = 0; d < s->rank; d++) s->out[s->nout].at.stride[d] = st[d];
    s->out[s->nout].node = node;
    s->out[s->nout].accumulate = acc;
    s->nout++;
}

/* A module with B and T <= 8, for the symbol names. */
static IrModule *sym_module(void)
{
    IrModule *m = ir_module_new("hand");
    ir_add_sym(m, "T", 8);
    return m;
}

/* out[B, w] = op(a[B, w] (+ b[B, w])) as one map, contiguous views. */
static KStmt *ew(KFunc *f, KBlock *blk, const char *origin, int64_t w, KView out, KMapOp op, KView a, const KBuf *bb,
                 KView b)
{
    const KExpr *dims[2] = {kexpr_sym(f, 0), K(f, w)};
    const KExpr *st[2] = {K(f, w), K(f, 1)};
    KStmt *s = map_new(f, blk, origin, 2, dims);
    int n = map_in(s, a, st);
    if (bb)
        n = map_node(s, op, n, map_in(s, b, st), 0);
    else
        n = map_node(s, op, n, 0, 0);
    map_out(s, out, st, n, 0);
    return s;
}

/* ---- checking a plan ------------------------------------------------------------ */

/* The plan of f at the symbol values sym, checked by running f in the
 * tests' evaluator over shadow memory (kir_eval.h, kev_check_plan).
 * Returns the number of conflicts; *uninit counts reads of temporaries no
 * statement wrote before (a lowering bug, not a plan bug). */
static int check_plan_q(const KFunc *f, const int64_t *sym, int *uninit, int quiet)
{
    return kev_check_plan(f, sym, uninit, quiet);
}

static int check_plan(const KFunc *f, const int64_t *sym, int *uninit) { return check_plan_q(f, sym, uninit, 0); }

/* The sum of every temporary's bytes: what the arena would be without sharing. */
static int64_t unshared_bytes(const KFunc *f, const int64_t *sym)
{
    int64_t n = 0;
    for (int i = 0; i < f->nbufs; i++)
        if (f->bufs[i]->kind == KB_TEMP)
            n += (kexpr_eval(f->bufs[i]->size, sym, NULL) * (f->bufs[i]->dtype == IR_I64 ? 8 : 4) + 63) / 64 * 64;
    return n;
}

static int overlap(const KFunc *f, const KBuf *a, const KBuf *b, const int64_t *sym)
{
    int64_t oa = kexpr_eval(a->offset, sym, NULL), ob = kexpr_eval(b->offset, sym, NULL);
    int64_t na = kexpr_eval(a->size, sym, NULL) * 4, nb = kexpr_eval(b->size, sym, NULL) * 4;
    (void)f;
    return oa < ob + nb && ob < oa + na;
}

/* Symbol values (B, T) the checks run at. */
static const int64_t SYMS[][2] = {{1, 1}, {2, 3}, {3, 8}, {5, 2}};
#define NSYMS (sizeof SYMS / sizeof SYMS[0])

static void plan_and_check(KFunc *f)
{
    char err[256];
    assert_int_equal(memplan(f, err, sizeof err), 0);
    for (size_t i = 0; i < NSYMS; i++) {
        assert_int_equal(kfunc_verify(f, SYMS[i], stderr), 0);
        assert_int_equal(check_plan(f, SYMS[i], NULL), 0);
    }
}

/* ---- hand-built functions -------------------------------------------------------- */

/* x -> a -> b -> c -> d -> result, each [B, 4]: a and c can share, b and d. */
static void test_chain_shares(void **state)
{
    (void)state;
    IrModule *mod = sym_module();
    KFunc *f = kfunc_new("chain", mod);
    const KExpr *n = mul(f, K(f, 4), kexpr_sym(f, 0));
    KBuf *x = kfunc_buf(f, "x", IR_F32, n, KB_ARG);
    KBuf *t[4];
    for (int i = 0; i < 4; i++) t[i] = kfunc_buf(f, "t", IR_F32, n, KB_TEMP);
    KBuf *r = kfunc_buf(f, "r", IR_F32, n, KB_RESULT);
    ew(f, &f->body, "a", 4, view(t[0], K(f, 0)), KM_TANH, view(x, K(f, 0)), NULL, (KView){0});
    for (int i = 1; i < 4; i++)
        ew(f, &f->body, "next", 4, view(t[i], K(f, 0)), KM_EXP, view(t[i - 1], K(f, 0)), NULL, (KView){0});
    ew(f, &f->body, "out", 4, view(r, K(f, 0)), KM_NEG, view(t[3], K(f, 0)), NULL, (KView){0});
    plan_and_check(f);
    for (size_t i = 0; i < NSYMS; i++) {
        assert_false(overlap(f, t[0], t[1], SYMS[i]));
        assert_false(overlap(f, t[1], t[2], SYMS[i]));
        assert_false(overlap(f, t[2], t[3], SYMS[i]));
        int64_t arena = kexpr_eval(f->arena_bytes, SYMS[i], NULL);
        /* two slots of 16 B bytes, each rounded up to 64 */
        assert_int_equal(arena, 2 * ((16 * SYMS[i][0] + 63) / 64 * 64));
    }
    assert_ptr_equal(f->ws_bytes, NULL); /* no gemm, no workspace */
    kfunc_free(f);
    ir_free(mod);
}

/* a and b both live at the sum: they must not share. */
static void test_overlapping_do_not_share(void **state)
{
    (void)state;
    IrModule *mod = sym_module();
    KFunc *f = kfunc_new("both", mod);
    const KExpr *n = mul(f, K(f, 4), kexpr_sym(f, 0));
    KBuf *x = kfunc_buf(f, "x", IR_F32, n, KB_ARG);
    KBuf *a = kfunc_buf(f, "a", IR_F32, n, KB_TEMP);
    KBuf *b = kfunc_buf(f, "b", IR_F32, mul(f, K(f, 2), n), KB_TEMP);
    KBuf *r = kfunc_buf(f, "r", IR_F32, n, KB_RESULT);
    ew(f, &f->body, "a", 4, view(a, K(f, 0)), KM_TANH, view(x, K(f, 0)), NULL, (KView){0});
    ew(f, &f->body, "b", 4, view(b, mul(f, K(f, 4), kexpr_sym(f, 0))), KM_EXP, view(x, K(f, 0)), NULL, (KView){0});
    ew(f, &f->body, "a+b", 4, view(r, K(f, 0)), KM_ADD, view(a, K(f, 0)), b, view(b, n));
    plan_and_check(f);
    for (size_t i = 0; i < NSYMS; i++) assert_false(overlap(f, a, b, SYMS[i]));
    kfunc_free(f);
    ir_free(mod);
}

/* for t: u = p + x[t]; h = tanh(u + h); q = h * 2; y[t] = q
 * p is written before the loop and read only by the loop's first
 * statement, h carries state; u and q are private to an iteration.  Without
 * the loop rule p's range would end at the loop's first statement and q
 * could take its memory, clobbering it for the next iteration. */
static void test_loop_carried(void **state)
{
    (void)state;
    IrModule *mod = sym_module();
    KFunc *f = kfunc_new("loop", mod);
    const KExpr *B = kexpr_sym(f, 0), *T = kexpr_sym(f, 1), *n = mul(f, K(f, 4), B);
    KBuf *x = kfunc_buf(f, "x", IR_F32, mul(f, T, n), KB_ARG);
    KBuf *w = kfunc_buf(f, "w", IR_F32, n, KB_ARG);
    KBuf *p = kfunc_buf(f, "p", IR_F32, n, KB_TEMP);
    KBuf *h = kfunc_buf(f, "h", IR_F32, n, KB_TEMP);
    KBuf *u = kfunc_buf(f, "u", IR_F32, n, KB_TEMP);
    KBuf *q = kfunc_buf(f, "q", IR_F32, n, KB_TEMP);
    KBuf *pre = kfunc_buf(f, "pre", IR_F32, n, KB_TEMP);
    KBuf *y = kfunc_buf(f, "y", IR_F32, mul(f, T, n), KB_RESULT);
    /* pre is dead before the loop starts: the loop's private temps may
     * take its memory */
    ew(f, &f->body, "pre", 4, view(pre, K(f, 0)), KM_EXP, view(w, K(f, 0)), NULL, (KView){0});
    ew(f, &f->body, "p", 4, view(p, K(f, 0)), KM_TANH, view(pre, K(f, 0)), NULL, (KView){0});
    ew(f, &f->body, "h0", 4, view(h, K(f, 0)), KM_NEG, view(w, K(f, 0)), NULL, (KView){0});
    KStmt *L = kblock_add(f, &f->body, KS_LOOP, "scan");
    L->count = T;
    L->reverse = 1;
    const KExpr *row = mul(f, kexpr_var(f, L->var), n);
    ew(f, &L->body, "u", 4, view(u, K(f, 0)), KM_ADD, view(p, K(f, 0)), x, view(x, row));
    ew(f, &L->body, "h", 4, view(h, K(f, 0)), KM_ADD, view(u, K(f, 0)), h, view(h, K(f, 0)));
    ew(f, &L->body, "q", 4, view(q, K(f, 0)), KM_EXP, view(h, K(f, 0)), NULL, (KView){0});
    ew(f, &L->body, "y", 4, view(y, row), KM_TANH, view(q, K(f, 0)), NULL, (KView){0});
    plan_and_check(f);
    for (size_t i = 0; i < NSYMS; i++) {
        assert_false(overlap(f, p, q, SYMS[i]));
        assert_false(overlap(f, p, u, SYMS[i]));
        assert_false(overlap(f, h, q, SYMS[i]));
        assert_false(overlap(f, h, u, SYMS[i]));
    }
    /* u and q are private to an iteration and never live together: they
     * share; pre is dead before h is first written: three slots in all */
    assert_ptr_equal(u->offset, q->offset);
    for (size_t i = 0; i < NSYMS; i++)
        assert_int_equal(kexpr_eval(f->arena_bytes, SYMS[i], NULL), 3 * ((16 * SYMS[i][0] + 63) / 64 * 64));
    kfunc_free(f);
    ir_free(mod);
}

/* The checker can fail: the same loop with every temporary at offset 0. */
static void test_checker_catches_clobbering(void **state)
{
    (void)state;
    IrModule *mod = sym_module();
    KFunc *f = kfunc_new("bad", mod);
    const KExpr *B = kexpr_sym(f, 0), *n = mul(f, K(f, 4), B);
    KBuf *w = kfunc_buf(f, "w", IR_F32, n, KB_ARG);
    KBuf *p = kfunc_buf(f, "p", IR_F32, n, KB_TEMP);
    KBuf *q = kfunc_buf(f, "q", IR_F32, n, KB_TEMP);
    KBuf *y = kfunc_buf(f, "y", IR_F32, n, KB_RESULT);
    ew(f, &f->body, "p", 4, view(p, K(f, 0)), KM_EXP, view(w, K(f, 0)), NULL, (KView){0});
    KStmt *L = kblock_add(f, &f->body, KS_LOOP, "loop");
    L->count = K(f, 3);
    ew(f, &L->body, "read p", 4, view(y, K(f, 0)), KM_TANH, view(p, K(f, 0)), NULL, (KView){0});
    ew(f, &L->body, "write q", 4, view(q, K(f, 0)), KM_NEG, view(w, K(f, 0)), NULL, (KView){0});
    char err[256];
    assert_int_equal(memplan(f, err, sizeof err), 0);
    int64_t sym[2] = {2, 3};
    assert_int_equal(check_plan(f, sym, NULL), 0);
    assert_false(overlap(f, p, q, sym));
    q->offset = p->offset; /* what a plan without the loop rule would do */
    assert_true(check_plan_q(f, sym, NULL, 1) > 0);
    kfunc_free(f);
    ir_free(mod);
}

/* ---- the verifier ------------------------------------------------------------------ */

static char *verify_text(const KFunc *f, const int64_t *sym, int *n)
{
    FILE *o = tmpfile();
    assert_non_null(o);
    *n = kfunc_verify(f, sym, o);
    return tu_read_stream(o);
}

/* A per-step store y[t] into a buffer one step short: in bounds at the
 * first iteration, out at the last. */
static void test_verify_bounds(void **state)
{
    (void)state;
    IrModule *mod = sym_module();
    KFunc *f = kfunc_new("oob", mod);
    const KExpr *B = kexpr_sym(f, 0), *T = kexpr_sym(f, 1), *n = mul(f, K(f, 4), B);
    KBuf *w = kfunc_buf(f, "w", IR_F32, n, KB_ARG);
    KBuf *y = kfunc_buf(f, "y", IR_F32, mul(f, kexpr_bin(f, KE_SUB, T, K(f, 1)), n), KB_RESULT);
    KStmt *L = kblock_add(f, &f->body, KS_LOOP, "scan");
    L->count = T;
    ew(f, &L->body, "store y[t]", 4, view(y, mul(f, kexpr_var(f, L->var), n)), KM_TANH, view(w, K(f, 0)), NULL,
       (KView){0});
    int64_t sym[2] = {2, 3};
    int np;
    char *txt = verify_text(f, sym, &np);
    assert_int_equal(np, 1);
    assert_non_null(strstr(txt, "kir verifier: map 'store y[t]': output 0: elements 16 .. 23 of y, which has 16"));
    free(txt);
    /* with one step the only iteration is in bounds... of an empty buffer: still out */
    int64_t one[2] = {2, 1};
    assert_int_equal(kfunc_verify(f, one, NULL), 1);
    /* a gemm whose C rows overrun, and a leading dimension too small */
    KBuf *c = kfunc_buf(f, "c", IR_F32, n, KB_TEMP);
    KStmt *g = kblock_add(f, &f->body, KS_GEMM, "gemm");
    g->M = B, g->N = K(f, 4), g->K = K(f, 4), g->alpha = 1, g->beta = 0;
    g->A = view(w, K(f, 0)), g->lda = K(f, 4);
    g->B = view(w, K(f, 0)), g->ldb = K(f, 3);
    g->C = view(c, K(f, 4)), g->ldc = K(f, 4);
    txt = verify_text(f, sym, &np);
    assert_non_null(strstr(txt, "gemm 'gemm': B: leading dimension 3 < 4"));
    assert_non_null(strstr(txt, "gemm 'gemm': C: elements 4 .. 11 of c, which has 8"));
    free(txt);
    kfunc_free(f);
    ir_free(mod);
}

static void test_verify_nodes(void **state)
{
    (void)state;
    IrModule *mod = sym_module();
    KFunc *f = kfunc_new("nodes", mod);
    const KExpr *n = mul(f, K(f, 4), kexpr_sym(f, 0));
    KBuf *w = kfunc_buf(f, "w", IR_F32, n, KB_ARG);
    KBuf *ids = kfunc_buf(f, "ids", IR_I64, kexpr_sym(f, 0), KB_ARG);
    KBuf *y = kfunc_buf(f, "y", IR_F32, n, KB_RESULT);
    KBuf *yi = kfunc_buf(f, "yi", IR_I64, kexpr_sym(f, 0), KB_RESULT);
    KStmt *s = ew(f, &f->body, "fwd ref", 4, view(y, K(f, 0)), KM_TANH, view(w, K(f, 0)), NULL, (KView){0});
    int64_t sym[2] = {2, 3};
    assert_int_equal(kfunc_verify(f, sym, NULL), 0);
    s->nodes[1].a = 1; /* tanh of itself */
    int np;
    char *txt = verify_text(f, sym, &np);
    assert_int_equal(np, 1);
    assert_non_null(strstr(txt, "map 'fwd ref': node n1 uses n1 (a node must use earlier nodes)"));
    free(txt);
    s->nodes[1].a = 0;
    s->nodes[0].a = 3; /* an input that does not exist */
    txt = verify_text(f, sym, &np);
    assert_non_null(strstr(txt, "node n0 reads input 3 of 1"));
    free(txt);
    s->nodes[0].a = 0;
    s->out[0].node = 2;
    txt = verify_text(f, sym, &np);
    assert_non_null(strstr(txt, "output 0 stores node n2 of 2"));
    free(txt);
    s->out[0].node = 1;
    /* i64 data is only ever copied */
    const KExpr *d1[1] = {kexpr_sym(f, 0)}, *s1[1] = {K(f, 1)};
    KStmt *cp = map_new(f, &f->body, "ids", 1, d1);
    int a = map_in(cp, view(ids, K(f, 0)), s1);
    map_out(cp, view(yi, K(f, 0)), s1, a, 0);
    assert_int_equal(kfunc_verify(f, sym, NULL), 0);
    cp->out[0].node = map_node(cp, KM_NEG, a, 0, 0);
    txt = verify_text(f, sym, &np);
    assert_non_null(strstr(txt, "node n1 computes with the i64 input node n0"));
    assert_non_null(strstr(txt, "an i64 output must be a plain copy of an i64 input"));
    free(txt);
    /* writing an argument */
    cp->nnodes = 1;
    cp->out[0].node = a;
    cp->out[0].at.v.buf = ids;
    txt = verify_text(f, sym, &np);
    assert_int_equal(np, 1);
    assert_non_null(strstr(txt, "writes the argument ids"));
    free(txt);
    kfunc_free(f);
    ir_free(mod);
}

/* After the plan: a temporary moved past the arena's end is caught. */
static void test_verify_arena(void **state)
{
    (void)state;
    IrModule *mod = sym_module();
    KFunc *f = kfunc_new("arena", mod);
    const KExpr *n = mul(f, K(f, 4), kexpr_sym(f, 0));
    KBuf *w = kfunc_buf(f, "w", IR_F32, n, KB_ARG);
    KBuf *a = kfunc_buf(f, "a", IR_F32, n, KB_TEMP);
    KBuf *y = kfunc_buf(f, "y", IR_F32, n, KB_RESULT);
    ew(f, &f->body, "a", 4, view(a, K(f, 0)), KM_TANH, view(w, K(f, 0)), NULL, (KView){0});
    ew(f, &f->body, "y", 4, view(y, K(f, 0)), KM_TANH, view(a, K(f, 0)), NULL, (KView){0});
    char err[256];
    assert_int_equal(memplan(f, err, sizeof err), 0);
    int64_t sym[2] = {2, 3};
    assert_int_equal(kfunc_verify(f, sym, NULL), 0);
    a->offset = K(f, 64);
    int np;
    char *txt = verify_text(f, sym, &np);
    assert_int_equal(np, 1);
    assert_non_null(strstr(txt, "a (bytes 64 .. 96) is outside the arena of 64 bytes"));
    free(txt);
    kfunc_free(f);
    ir_free(mod);
}

/* A temporary nothing accesses gets no place and no memory (the fusion
 * leaves such buffers behind); one that a statement does access must have
 * a place, which the verifier checks. */
static void test_dead_temp_no_place(void **state)
{
    (void)state;
    IrModule *mod = sym_module();
    KFunc *f = kfunc_new("dead", mod);
    const KExpr *n = mul(f, K(f, 4), kexpr_sym(f, 0));
    KBuf *w = kfunc_buf(f, "w", IR_F32, n, KB_ARG);
    KBuf *big = kfunc_buf(f, "big", IR_F32, mul(f, K(f, 16), n), KB_TEMP);
    KBuf *a = kfunc_buf(f, "a", IR_F32, n, KB_TEMP);
    KBuf *y = kfunc_buf(f, "y", IR_F32, n, KB_RESULT);
    ew(f, &f->body, "a", 4, view(a, K(f, 0)), KM_TANH, view(w, K(f, 0)), NULL, (KView){0});
    ew(f, &f->body, "y", 4, view(y, K(f, 0)), KM_TANH, view(a, K(f, 0)), NULL, (KView){0});
    char err[256];
    assert_int_equal(memplan(f, err, sizeof err), 0);
    assert_null(big->offset);
    int64_t sym[2] = {2, 3};
    assert_int_equal(kexpr_eval(f->arena_bytes, sym, NULL), 64); /* a's 32 bytes, rounded; not big's 512 */
    assert_int_equal(kfunc_verify(f, sym, NULL), 0);
    a->offset = NULL;
    int np;
    char *txt = verify_text(f, sym, &np);
    assert_int_equal(np, 2);
    assert_non_null(strstr(txt, "a has no place in the arena"));
    free(txt);
    kfunc_free(f);
    ir_free(mod);
}

/* ---- the printer --------------------------------------------------------------------- */

static void test_print(void **state)
{
    (void)state;
    IrModule *mod = sym_module();
    KFunc *f = kfunc_new("forward", mod);
    const KExpr *B = kexpr_sym(f, 0), *T = kexpr_sym(f, 1), *n = mul(f, K(f, 4), B);
    KBuf *x = kfunc_buf(f, "x", IR_F32, mul(f, T, n), KB_ARG);
    x->ext_name = "x";
    KBuf *w = kfunc_buf(f, "h.weight_hh_l0", IR_F32, K(f, 16), KB_ARG);
    w->ext_name = "h.weight_hh_l0";
    KBuf *h = kfunc_buf(f, "h", IR_F32, n, KB_TEMP);
    h->what = "carried h";
    KBuf *g = kfunc_buf(f, "g", IR_F32, n, KB_TEMP);
    KBuf *y = kfunc_buf(f, "y", IR_F32, mul(f, T, n), KB_RESULT);
    y->ext_name = "probs";
    ew(f, &f->body, "h: initial state", 4, view(h, K(f, 0)), KM_TANH, view(x, K(f, 0)), NULL, (KView){0});
    KStmt *L = kblock_add(f, &f->body, KS_LOOP, "h: rnn layer 0");
    L->count = T;
    L->reverse = 1;
    KStmt *gm = kblock_add(f, &L->body, KS_GEMM, "%9 = linear");
    gm->M = B, gm->N = K(f, 4), gm->K = K(f, 4), gm->alpha = 1, gm->beta = 0, gm->transb = 1;
    gm->A = view(h, K(f, 0)), gm->lda = K(f, 4);
    gm->B = view(w, K(f, 0)), gm->ldb = K(f, 4);
    gm->C = view(g, K(f, 0)), gm->ldc = K(f, 4);
    const KExpr *row = mul(f, kexpr_var(f, L->var), n);
    KStmt *m = ew(f, &L->body, "%10 = add", 4, view(h, K(f, 0)), KM_ADD, view(g, K(f, 0)), x, view(x, row));
    m->out[0].node = map_node(m, KM_TANH, 2, 0, 0);
    const KExpr *st[2] = {K(f, 4), K(f, 1)};
    map_out(m, view(y, row), st, 3, 0);
    KStmt *c = kblock_add(f, &f->body, KS_CALL, "probs: softmax");
    c->call = KC_SOFTMAX;
    c->ints[0] = mul(f, T, B), c->ints[1] = K(f, 4);
    c->ptrs[0] = view(y, K(f, 0)), c->ptrs[1] = view(y, K(f, 0)), c->nptrs = 2;
    plan_and_check(f);

    FILE *o = tmpfile();
    assert_non_null(o);
    kfunc_print(f, o);
    char *txt = tu_read_stream(o);
    /* two slots of 16 B bytes rounded to 64, h (live throughout) and g
     * (inside the loop), then the workspace */
    long long ws = (long long)rt_sgemm_workspace_size(1 << 20, 1 << 20, 1 << 20);
    char arena_line[256], arena_at[128];
    snprintf(arena_line, sizeof arena_line,
             "  arena 128 * ((16 * B + 63) / 64) + %lld bytes; sgemm workspace @ 128 * ((16 * B + 63) / 64), "
             "%lld bytes\n",
             ws, ws);
    snprintf(arena_at, sizeof arena_at, "  arena at T=8: %lld bytes for B=1, %lld for B=64\n", 128 + ws, 128 * 16 + ws);
    const char *const want[] = {
        "kfunc forward (module hand) {\n  sym B\n  sym T <= 8\n",
        "  arg    x : f32[T * 4 * B]  arg[0] \"x\"\n",
        "  arg    h_weight_hh_l0 : f32[16]  arg[1] \"h.weight_hh_l0\"\n",
        "  temp   h : f32[4 * B] @ 0                                     # carried h\n",
        "  temp   g : f32[4 * B] @ 64 * ((16 * B + 63) / 64)\n",
        "  result y : f32[T * 4 * B]  res[0] \"probs\"\n",
        arena_line,
        arena_at,
        "  for t0 in 0 .. T reverse {                                    # h: rnn layer 0\n",
        "    gemm C=g[0; ld 4] A=h[0; ld 4] B=h_weight_hh_l0[0; ld 4]^T (M=B, N=4, K=4) alpha=1 beta=0  # %9 = "
        "linear\n",
        "    map [B, 4] {                                                # %10 = add\n"
        "      n0 = in g[0; 4, 1]\n"
        "      n1 = in x[t0 * 4 * B; 4, 1]\n"
        "      n2 = add n0, n1\n"
        "      n3 = tanh n2\n"
        "      out h[0; 4, 1] = n3\n"
        "      out y[t0 * 4 * B; 4, 1] = n3\n"
        "    }\n  }\n",
        "  call rt_softmax_rows(rows=T * B, C=4; y[0], y[0])             # probs: softmax\n}\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(txt, want[i])) {
            fprintf(stderr, "missing:\n%s\nin:\n%s", want[i], txt);
            fail();
        }
    free(txt);
    kfunc_free(f);
    ir_free(mod);
}

/* ---- random programs ------------------------------------------------------------------ */

enum { FLAT, SEQ, VEC }; /* [B, w], [T, B, w], [w] */
static const int WIDTHS[] = {2, 4, 6};

typedef struct RBuf {
    KBuf *b;
    int w, shape;
    int ready;   /* every element written: may be read */
    int filling; /* a SEQ the current loop writes one step a time */
} RBuf;

typedef struct Gen {
    KFunc *f;
    uint64_t rng;
    RBuf r[512];
    int n;
    KBuf *mat[7][7]; /* gemm weights [w2, w1] */
    const KExpr *t;  /* the induction variable of the enclosing T loop */
    int depth;
} Gen;

static unsigned rnd(Gen *g, unsigned n)
{
    g->rng = g->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(g->rng >> 33) % n;
}

static const KExpr *shape_size(KFunc *f, int shape, int w)
{
    const KExpr *B = kexpr_sym(f, 0), *T = kexpr_sym(f, 1);
    return shape == VEC ? K(f, w) : shape == FLAT ? mul(f, K(f, w), B) : mul(f, mul(f, K(f, w), T), B);
}

static RBuf *gen_buf(Gen *g, int shape, int w, KBufKind kind)
{
    assert_true(g->n < 512);
    RBuf *r = &g->r[g->n++];
    *r = (RBuf){.b = kfunc_buf(g->f,
                               kind == KB_ARG      ? "arg"
                               : kind == KB_RESULT ? "res"
                                                   : "t",
                               IR_F32, shape_size(g->f, shape, w), kind),
                .w = w,
                .shape = shape,
                .ready = kind == KB_ARG};
    return r;
}

/* A ready buffer of width w that a map over `space` (FLAT or SEQ) can read,
 * as an input view with its strides; temporaries are preferred. */
static void gen_read(Gen *g, KStmt *s, int space, int w, int *node)
{
    int cand[512], n = 0;
    for (int i = 0; i < g->n; i++)
        if (g->r[i].ready && g->r[i].w == w && g->r[i].b->kind != KB_RESULT) cand[n++] = i;
    assert_true(n > 0); /* the arguments of every width are always ready */
    RBuf *r = &g->r[cand[rnd(g, n)]];
    if (r->b->kind == KB_ARG && rnd(g, 2)) r = &g->r[cand[rnd(g, n)]];
    KFunc *f = g->f;
    const KExpr *B = kexpr_sym(f, 0), *T = kexpr_sym(f, 1), *bw = mul(f, K(f, w), B);
    const KExpr *st[3], *off = K(f, 0);
    if (space == FLAT) {
        st[0] = r->shape == VEC ? K(f, 0) : K(f, w);
        st[1] = K(f, 1);
        if (r->shape == SEQ)
            off = g->t && rnd(g, 3) ? mul(f, g->t, bw)
                  : rnd(g, 2)       ? K(f, 0)
                                    : mul(f, kexpr_bin(f, KE_SUB, T, K(f, 1)), bw);
    } else {
        st[0] = r->shape == SEQ ? bw : K(f, 0);
        st[1] = r->shape == VEC ? K(f, 0) : K(f, w);
        st[2] = K(f, 1);
    }
    *node = map_in(s, view(r->b, off), st);
}

/* Random arithmetic over the nodes so far; returns the last node. */
static int gen_nodes(Gen *g, KStmt *s, int last)
{
    static const KMapOp bin[] = {KM_ADD, KM_SUB, KM_MUL, KM_MAX, KM_MIN, KM_RELU_GRAD};
    static const KMapOp un[] = {KM_TANH, KM_SIGMOID, KM_NEG, KM_RELU};
    for (int k = (int)rnd(g, 4); k > 0; k--) {
        int a = (int)rnd(g, (unsigned)s->nnodes), b = (int)rnd(g, (unsigned)s->nnodes);
        switch (rnd(g, 3)) {
        case 0: last = map_node(s, bin[rnd(g, 6)], a, b, 0); break;
        case 1: last = map_node(s, un[rnd(g, 4)], a, 0, 0); break;
        default: last = map_node(s, KM_ADD, a, map_node(s, KM_CONST, 0, 0, 0.5), 0); break;
        }
    }
    return last;
}

/* One map writing all of `out` (FLAT or SEQ), or step t of a filling SEQ. */
static void gen_map_into(Gen *g, KBlock *blk, RBuf *out, int step)
{
    KFunc *f = g->f;
    int w = out->w, space = out->shape == SEQ && !step ? SEQ : FLAT;
    const KExpr *B = kexpr_sym(f, 0), *T = kexpr_sym(f, 1);
    const KExpr *dims[3] = {B, K(f, w)}, *st[3] = {K(f, w), K(f, 1)};
    if (space == SEQ) {
        dims[0] = T, dims[1] = B, dims[2] = K(f, w);
        st[0] = mul(f, K(f, w), B), st[1] = K(f, w), st[2] = K(f, 1);
    }
    KStmt *s = map_new(f, blk, out->b->name, space == SEQ ? 3 : 2, dims);
    int node = 0;
    for (int k = 1 + (int)rnd(g, 3); k > 0; k--) gen_read(g, s, space, w, &node);
    node = gen_nodes(g, s, node);
    const KExpr *off = step ? mul(f, g->t, mul(f, K(f, w), B)) : K(f, 0);
    map_out(s, view(out->b, off), st, node, 0);
    /* sometimes a second output: another fresh FLAT of the same width */
    if (space == FLAT && !step && rnd(g, 4) == 0) {
        RBuf *o2 = gen_buf(g, FLAT, w, KB_TEMP);
        map_out(s, view(o2->b, K(f, 0)), st, (int)rnd(g, (unsigned)s->nnodes), 0);
        o2->ready = 1;
    }
    if (!step) out->ready = 1;
}

/* acc[w] += x[B, w] summed over B. */
static void gen_accumulate(Gen *g, KBlock *blk, RBuf *acc)
{
    KFunc *f = g->f;
    const KExpr *dims[2] = {kexpr_sym(f, 0), K(f, acc->w)}, *st[2] = {K(f, 0), K(f, 1)};
    KStmt *s = map_new(f, blk, "acc", 2, dims);
    int node;
    gen_read(g, s, FLAT, acc->w, &node);
    map_out(s, view(acc->b, K(f, 0)), st, gen_nodes(g, s, node), 1);
}

static RBuf *gen_zeroed_vec(Gen *g, KBlock *blk)
{
    KFunc *f = g->f;
    RBuf *v = gen_buf(g, VEC, WIDTHS[rnd(g, 3)], KB_TEMP);
    const KExpr *dims[1] = {K(f, v->w)}, *st[1] = {K(f, 1)};
    KStmt *s = map_new(f, blk, "zero", 1, dims);
    map_out(s, view(v->b, K(f, 0)), st, map_node(s, KM_CONST, 0, 0, 0), 0);
    v->ready = 1;
    return v;
}

/* C[B, w2] = A[B, w1] W[w2, w1]^T (beta 0: a fresh C; beta 1: onto a ready one). */
static void gen_gemm(Gen *g, KBlock *blk)
{
    KFunc *f = g->f;
    int w1 = WIDTHS[rnd(g, 3)], w2 = WIDTHS[rnd(g, 3)];
    KStmt *s = kblock_add(f, blk, KS_GEMM, "gemm");
    int a;
    do a = (int)rnd(g, (unsigned)g->n);
    while (!(g->r[a].ready && g->r[a].shape == FLAT && g->r[a].w == w1 && g->r[a].b->kind != KB_RESULT));
    if (!g->mat[w2][w1]) g->mat[w2][w1] = kfunc_buf(f, "W", IR_F32, K(f, w2 * w1), KB_ARG);
    RBuf *c = NULL;
    for (int i = 0; i < g->n && !c; i++)
        if (rnd(g, 3) == 0 && g->r[i].ready && g->r[i].shape == FLAT && g->r[i].w == w2 && g->r[i].b->kind == KB_TEMP)
            c = &g->r[i];
    s->beta = c ? 1 : 0;
    if (!c) c = gen_buf(g, FLAT, w2, KB_TEMP);
    s->M = kexpr_sym(f, 0), s->N = K(f, w2), s->K = K(f, w1), s->alpha = 1, s->transb = 1;
    s->A = view(g->r[a].b, K(f, 0)), s->lda = K(f, w1);
    s->B = view(g->mat[w2][w1], K(f, 0)), s->ldb = K(f, w1);
    s->C = view(c->b, K(f, 0)), s->ldc = K(f, w2);
    c->ready = 1;
}

static void gen_block(Gen *g, KBlock *blk, int items);

static void gen_loop(Gen *g, KBlock *blk)
{
    KFunc *f = g->f;
    int outer = !g->t;
    /* state from before the loop, sequences it fills, an accumulator */
    for (int k = (int)rnd(g, 3); k > 0; k--) gen_map_into(g, blk, gen_buf(g, FLAT, WIDTHS[rnd(g, 3)], KB_TEMP), 0);
    int fill0 = g->n;
    if (outer)
        for (int k = (int)rnd(g, 3); k > 0; k--) gen_buf(g, SEQ, WIDTHS[rnd(g, 3)], KB_TEMP)->filling = 1;
    int fill1 = g->n;
    RBuf *acc = rnd(g, 2) ? gen_zeroed_vec(g, blk) : NULL;
    KStmt *L = kblock_add(f, blk, KS_LOOP, outer ? "scan" : "inner");
    L->count = outer ? kexpr_sym(f, 1) : K(f, 2 + rnd(g, 2));
    L->reverse = (int)rnd(g, 2);
    const KExpr *saved = g->t;
    if (outer) g->t = kexpr_var(f, L->var);
    g->depth++;
    gen_block(g, &L->body, 2 + (int)rnd(g, 5));
    if (acc) gen_accumulate(g, &L->body, acc);
    for (int i = fill0; i < fill1; i++) gen_map_into(g, &L->body, &g->r[i], 1);
    /* overwrite some state carried to the next iteration */
    for (int i = 0; i < g->n; i++)
        if (g->r[i].ready && g->r[i].shape == FLAT && g->r[i].b->kind == KB_TEMP && rnd(g, 4) == 0)
            gen_map_into(g, &L->body, &g->r[i], 0);
    g->depth--;
    g->t = saved;
    for (int i = fill0; i < fill1; i++) {
        g->r[i].filling = 0;
        g->r[i].ready = 1;
    }
}

static void gen_block(Gen *g, KBlock *blk, int items)
{
    for (int i = 0; i < items; i++) {
        unsigned c = rnd(g, 10);
        if (c < 5) {
            int shape = !g->t && rnd(g, 4) == 0 ? SEQ : FLAT;
            RBuf *out = NULL;
            if (rnd(g, 4) == 0) /* overwrite a ready temporary */
                for (int k = 0; k < g->n && !out; k++)
                    if (g->r[k].ready && g->r[k].shape == shape && g->r[k].b->kind == KB_TEMP && rnd(g, 2))
                        out = &g->r[k];
            gen_map_into(g, blk, out ? out : gen_buf(g, shape, WIDTHS[rnd(g, 3)], KB_TEMP), 0);
        } else if (c < 6) {
            gen_gemm(g, blk);
        } else if (c < 7) {
            RBuf *v = gen_zeroed_vec(g, blk);
            gen_accumulate(g, blk, v);
        } else if (c < 8 && g->depth < 2) {
            gen_loop(g, blk);
        } else if (c < 9) {
            gen_buf(g, FLAT, WIDTHS[rnd(g, 3)], KB_TEMP); /* never used */
        } else {
            gen_map_into(g, blk, gen_buf(g, FLAT, WIDTHS[rnd(g, 3)], KB_TEMP), 0);
        }
    }
}

static KFunc *gen_program(IrModule *mod, uint64_t seed)
{
    Gen *g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->f = kfunc_new("random", mod);
    g->rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int i = 0; i < 3; i++) {
        gen_buf(g, FLAT, WIDTHS[i], KB_ARG);
        gen_buf(g, SEQ, WIDTHS[i], KB_ARG);
        gen_buf(g, VEC, WIDTHS[i], KB_ARG);
    }
    gen_block(g, &g->f->body, 4 + (int)rnd(g, 10));
    gen_map_into(g, &g->f->body, gen_buf(g, FLAT, WIDTHS[rnd(g, 3)], KB_RESULT), 0);
    KFunc *f = g->f;
    free(g);
    return f;
}

static void test_random_programs(void **state)
{
    (void)state;
    IrModule *mod = sym_module();
    int shared = 0, caught = 0, clobberable = 0, loops = 0;
    const int N = 300;
    for (int p = 0; p < N; p++) {
        KFunc *f = gen_program(mod, (uint64_t)p);
        loops += f->nloops > 0;
        char err[256];
        assert_int_equal(memplan(f, err, sizeof err), 0);
        for (size_t i = 0; i < NSYMS; i++) {
            int uninit = 0;
            if (kfunc_verify(f, SYMS[i], stderr) || check_plan(f, SYMS[i], &uninit)) {
                fprintf(stderr, "random program %d at B=%lld T=%lld:\n", p, (long long)SYMS[i][0],
                        (long long)SYMS[i][1]);
                kfunc_print(f, stderr);
                fail();
            }
            assert_int_equal(uninit, 0); /* the generator reads only what it wrote */
        }
        int64_t big[2] = {3, 8};
        shared += kexpr_eval(f->arena_bytes, big, NULL) - (f->ws_bytes ? kexpr_eval(f->ws_bytes, big, NULL) : 0) <
                  unshared_bytes(f, big);
        /* The checker itself: with every temporary at offset 0 it must
         * notice, whenever two temporaries are ever live together. */
        int ntemps = 0;
        for (int i = 0; i < f->nbufs; i++)
            if (f->bufs[i]->kind == KB_TEMP) {
                f->bufs[i]->offset = K(f, 0);
                ntemps++;
            }
        if (ntemps >= 4) {
            clobberable++;
            caught += check_plan_q(f, big, NULL, 1) > 0;
        }
        kfunc_free(f);
    }
    fprintf(stderr,
            "random programs: %d, with loops %d; memory shared in %d; "
            "all-at-0 plans caught in %d of %d\n",
            N, loops, shared, caught, clobberable);
    assert_true(loops > N / 4);
    assert_true(shared > N / 2);
    assert_true(caught > clobberable * 9 / 10);
    ir_free(mod);
}

/* ---- lowered example models --------------------------------------------------------------- */

/* Every model in examples/ (each .rnn file), optimized and lowered (its forward pass
 * with the loss; with `grad`, after autodiff too; with `fuse`, its maps
 * fused by kfuse() as the backends may do before planning): the plan verifies and
 * survives the shadow run at a few symbol values (B and every length). */
static void check_examples(int grad, int fuse)
{
    DIR *d = opendir("examples");
    assert_non_null(d);
    struct dirent *e;
    int nmodels = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".rnn")) continue;
        char path[512];
        snprintf(path, sizeof path, "examples/%s", e->d_name);
        size_t n;
        char *src = (char *)tu_read_file(path, &n);
        assert_non_null(src);
        Program *prog;
        IrModule *m = tu_build_src(src, &prog);
        char err[512];
        if (grad && m->loss) assert_int_equal(autodiff(m, err, sizeof err), 0);
        assert_int_equal(optimize(m, err, sizeof err), 0);
        KFunc *f = lower(m, grad ? "train" : "forward", err, sizeof err);
        if (!f) fprintf(stderr, "%s: %s\n", path, err);
        assert_non_null(f);
        if (fuse) kfuse(f);
        assert_int_equal(memplan(f, err, sizeof err), 0);
        static const int64_t bs[] = {1, 3}, ts[] = {1, 4};
        for (int i = 0; i < 2; i++) {
            int64_t sym[64];
            assert_true(f->nsyms <= 64);
            sym[0] = bs[i];
            for (int k = 1; k < f->nsyms; k++)
                sym[k] = m->syms[k].max > 0 && m->syms[k].max < ts[i] + k - 1 ? m->syms[k].max : ts[i] + k - 1;
            int uninit = 0, bad = kfunc_verify(f, sym, stderr) + check_plan(f, sym, &uninit);
            if (bad || uninit) {
                fprintf(stderr, "%s (%s) at B=%lld: %d problems, %d reads of unwritten temporaries\n", path,
                        grad ? "grad" : "forward", (long long)sym[0], bad, uninit);
                kfunc_print(f, stderr);
            }
            assert_int_equal(bad, 0);
            assert_int_equal(uninit, 0);
        }
        int64_t sym[64] = {8};
        for (int k = 1; k < f->nsyms; k++) sym[k] = 4;
        int ntemps = 0;
        for (int i = 0; i < f->nbufs; i++) ntemps += f->bufs[i]->kind == KB_TEMP;
        fprintf(stderr,
                "%-20s %-7s%s %3d temporaries, %8lld bytes unshared, %8lld planned (B=8, lengths 4, no workspace)\n",
                e->d_name, grad ? "grad" : "forward", fuse ? " fused" : "      ", ntemps,
                (long long)unshared_bytes(f, sym),
                (long long)(kexpr_eval(f->arena_bytes, sym, NULL) -
                            (f->ws_bytes ? kexpr_eval(f->ws_bytes, sym, NULL) : 0)));
        kfunc_free(f);
        ir_free(m);
        ast_free(prog);
        free(src);
        nmodels++;
    }
    closedir(d);
    assert_true(nmodels >= 7);
}

static void test_examples_forward(void **state)
{
    (void)state;
    check_examples(0, 0);
    check_examples(0, 1);
}

static void test_examples_grad(void **state)
{
    (void)state;
    check_examples(1, 0);
    check_examples(1, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_shares),
        cmocka_unit_test(test_overlapping_do_not_share),
        cmocka_unit_test(test_loop_carried),
        cmocka_unit_test(test_checker_catches_clobbering),
        cmocka_unit_test(test_verify_bounds),
        cmocka_unit_test(test_verify_nodes),
        cmocka_unit_test(test_verify_arena),
        cmocka_unit_test(test_dead_temp_no_place),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_random_programs),
        cmocka_unit_test(test_examples_forward),
        cmocka_unit_test(test_examples_grad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
