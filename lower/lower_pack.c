/* lower_pack.c - the last step of lowering: a GEMM inside a loop whose B
 * operand does not change over the loop (the recurrent weights W_hh of
 * every step, forward, and in the backward scan their transposed use) gets
 * B packed once before the loop (KS_PACK_B into a new temporary) and reads
 * the pack (KS_GEMM.packed_b) on every iteration.  The runtime's packed
 * product then skips re-packing W each step and runs its small-M kernels
 * over the panels (runtime/sgemm.h, docs/performance.md).
 *
 * The test is on the kernel IR itself, so it covers a parameter and any
 * value computed before the loop alike: B's buffer is an argument or is
 * written by no statement inside the loop, and B's offset and leading
 * dimension use no induction variable of the loop or of a loop inside it.
 * GEMMs of one loop that read the same op(B) (same view, ld, transpose and
 * sizes) share one pack.  Nested loops are handled innermost first: a pack
 * goes before the innermost loop its B is invariant in.
 *
 * The packed product computes the same thing, though not always the same
 * bits: for one M the runtime may pick another algorithm for a pack than
 * for a plain B, summing K in another order (tests/unit/test_emit_c.c
 * holds both to the float dot-product bound; test_lower.c checks the
 * lowering itself exactly, in the evaluator). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kir/kir_walk.h"
#include "lower/lower_int.h"

/* Whether e uses the induction variable of a loop marked in inner. */
static int uses_inner_var(const KExpr *e, const unsigned char *inner)
{
    if (!e) return 0;
    if (e->kind == KE_VAR) return inner[e->index];
    return uses_inner_var(e->a, inner) || uses_inner_var(e->b, inner);
}

/* Marks in `inner` the loops of b (recursively) and in `written` every
 * buffer a statement of b may write (kir_walk.h).  Every pointer of a call
 * counts as written: conservative.  Counting only calls.def's OUT
 * pointers would let a B that a call in the loop only reads be packed
 * too: a change of the generated code, to make on its own. */
static void scan_block(const KBlock *b, unsigned char *inner, unsigned char *written)
{
    for (int i = 0; i < b->n; i++) {
        const KStmt *s = b->stmts[i];
        if (s->kind == KS_LOOP) {
            inner[s->var] = 1;
            scan_block(&s->body, inner, written);
            continue;
        }
        KAccessIter it;
        KAccess a;
        for (kir_access_begin(&it, s); kir_access_next(&it, &a);)
            if (kacc_writes(&a) || s->kind == KS_CALL) written[a.buf->id] = 1;
    }
}

/* Moves the last statement of b to position pos. */
static void move_last_to(KBlock *b, int pos)
{
    KStmt *s = b->stmts[b->n - 1];
    memmove(&b->stmts[pos + 1], &b->stmts[pos], (size_t)(b->n - 1 - pos) * sizeof *b->stmts);
    b->stmts[pos] = s;
}

/* Whether a pack made by p serves the GEMM g. */
static int same_b(const KStmt *p, const KStmt *g)
{
    return p->B.buf == g->B.buf && p->transb == g->transb && kexpr_same_value(p->B.off, g->B.off) &&
           kexpr_same_value(p->ldb, g->ldb) && kexpr_same_value(p->N, g->N) && kexpr_same_value(p->K, g->K);
}

/* A KS_PACK_B of GEMM g's op(B) into a new temporary (described by
 * `what`), inserted into b at position pos. */
static KStmt *add_pack(KFunc *f, KBlock *b, int pos, const KStmt *g, const char *what)
{
    char name[160];
    snprintf(name, sizeof name, "%s_pk", g->B.buf->name);
    KBuf *pb = kfunc_buf(f, name, IR_F32, kexpr_packed_b_floats(f, g->N, g->K), KB_TEMP);
    pb->what = kfunc_strdup(f, what);
    KStmt *pack = kblock_add(f, b, KS_PACK_B, g->origin);
    pack->transb = g->transb;
    pack->N = g->N;
    pack->K = g->K;
    pack->B = g->B;
    pack->ldb = g->ldb;
    pack->C = (KView){pb, kexpr_const(f, 0)};
    move_last_to(b, pos);
    return pack;
}

/* GEMM g now reads its B from pack. */
static void read_pack(KFunc *f, KStmt *g, const KStmt *pack)
{
    g->packed_b = 1;
    g->B = pack->C;
    g->transb = 0;
    g->ldb = kexpr_const(f, 0); /* unused with packed_b (kir.h) */
}

/* Packs the invariant B operands of the GEMMs directly in loop's body; the
 * packs go into `outer` before position *pos (the loop's), which moves. */
static void pack_loop(KFunc *f, KBlock *outer, int *pos, KStmt *loop)
{
    unsigned char *inner = calloc((size_t)f->nloops + 1, 1), *written = calloc((size_t)f->nbufs + 1, 1);
    if (!inner || !written) goto done; /* out of memory: the plain GEMMs stay, still correct */
    inner[loop->var] = 1;
    scan_block(&loop->body, inner, written);
    int first_pack = *pos;
    for (int i = 0; i < loop->body.n; i++) {
        KStmt *g = loop->body.stmts[i];
        if (g->kind != KS_GEMM || g->packed_b || (g->B.buf->kind != KB_ARG && written[g->B.buf->id]) ||
            uses_inner_var(g->B.off, inner) || uses_inner_var(g->ldb, inner) || uses_inner_var(g->N, inner) ||
            uses_inner_var(g->K, inner))
            continue;
        KStmt *pack = NULL;
        for (int k = first_pack; k < *pos && !pack; k++)
            if (same_b(outer->stmts[k], g)) pack = outer->stmts[k];
        if (!pack) {
            char what[256];
            snprintf(what, sizeof what, "%s%s packed for the gemms of %s", g->B.buf->name, g->transb ? "^T" : "",
                     loop->origin ? loop->origin : "a loop");
            pack = add_pack(f, outer, (*pos)++, g, what);
        }
        read_pack(f, g, pack);
    }
done:
    free(inner);
    free(written);
}

static void pack_block(KFunc *f, KBlock *b)
{
    for (int i = 0; i < b->n; i++) {
        KStmt *s = b->stmts[i];
        if (s->kind != KS_LOOP) continue;
        pack_block(f, &s->body); /* inner loops first: their packs land in s's body */
        pack_loop(f, b, &i, s);
    }
}

/* Top-level g W with W a plain (untransposed) argument: the input gradient
 * of a linear over all steps, g [T*B, N] times W [N, K] (sink moves it out
 * of the backward scan).  Packed just before it, so that the runtime can
 * run its small-M kernels over the panels, which beat the blocked loops
 * at these shapes (long K, runtime/sgemm.c use_small). */
static void pack_top(KFunc *f)
{
    KBlock *b = &f->body;
    for (int i = 0; i < b->n; i++) {
        KStmt *g = b->stmts[i];
        if (g->kind != KS_GEMM || g->packed_b || g->transb || g->transa || g->B.buf->kind != KB_ARG) continue;
        char what[256];
        snprintf(what, sizeof what, "%s packed for %s", g->B.buf->name, g->origin ? g->origin : "a gemm");
        read_pack(f, g, add_pack(f, b, i++, g, what)); /* g is now at i */
    }
}

void lower_pack_b(KFunc *f)
{
    pack_block(f, &f->body);
    pack_top(f);
}
