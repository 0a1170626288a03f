/* kfuse.c - merges adjacent element-wise maps and drops dead stores
 * (kfuse.h). */
#include "lower/kfuse.h"

#include <stdlib.h>
#include <string.h>

#include "kir/kir_walk.h"
#include "lower/kfuse_int.h"

/* Same buffer, same element at every index of a rank-r space. */
int kfuse_aligned(const KStrided *x, const KStrided *y, int rank)
{
    if (x->v.buf != y->v.buf || !kexpr_equal(x->v.off, y->v.off)) return 0;
    for (int d = 0; d < rank; d++)
        if (!kexpr_equal(x->stride[d], y->stride[d])) return 0;
    return 1;
}

/* Whether distinct indices of the space reach distinct elements: no
 * broadcast (zero) stride on a dimension longer than 1.  Lowering's views
 * are row-major slices of row-major buffers, so non-zero strides do not
 * collide. */
int kfuse_injective(const KStmt *s, const KStrided *x)
{
    for (int d = 0; d < s->rank; d++) {
        int one = s->dims[d]->kind == KE_CONST && s->dims[d]->value == 1;
        if (!one && x->stride[d]->kind == KE_CONST && x->stride[d]->value == 0) return 0;
    }
    return 1;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    a = a < 0 ? -a : a;
    b = b < 0 ? -b : b;
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Whether x and y, two views of one buffer over s's space, never reach the
 * same element: the gate gradients of a backward step are four maps over
 * [B, H] writing the four column blocks of one [B, 4H] row, which may then
 * run as one map.  Proved for the shape lowering makes: the same strides,
 * the innermost 1 over a constant extent e, and y's offset x's plus a
 * constant d (at every probe point, kir.h).  Every other stride is a
 * multiple of S, the gcd of their values at the probes, so the elements
 * of x lie at residues [0, e) past x's offset modulo S and y's at
 * [d, d + e): apart when e <= d mod S <= S - e (or |d| >= e when there is
 * no other dimension).  Anything else counts as overlapping. */
static int disjoint(const KStmt *s, const KStrided *x, const KStrided *y)
{
    int r = s->rank;
    if (x->v.buf != y->v.buf || r < 1) return 0;
    for (int d = 0; d < r; d++)
        if (!kexpr_equal(x->stride[d], y->stride[d])) return 0;
    const KExpr *inner = x->stride[r - 1], *ext = s->dims[r - 1];
    if (inner->kind != KE_CONST || inner->value != 1 || ext->kind != KE_CONST) return 0;
    int64_t e = ext->value, d = kexpr_probe(y->v.off, 0) - kexpr_probe(x->v.off, 0), S = 0;
    for (int k = 1; k < KEXPR_PROBES; k++)
        if (kexpr_probe(y->v.off, k) - kexpr_probe(x->v.off, k) != d) return 0;
    for (int dim = 0; dim < r - 1; dim++)
        for (int k = 0; k < KEXPR_PROBES; k++) S = gcd64(S, kexpr_probe(x->stride[dim], k));
    if (S == 0) return d >= e || d <= -e;
    int64_t m = (d % S + S) % S;
    return m >= e && m <= S - e;
}

static int same_space(const KStmt *a, const KStmt *b)
{
    if (a->rank != b->rank) return 0;
    for (int d = 0; d < a->rank; d++)
        if (!kexpr_equal(a->dims[d], b->dims[d])) return 0;
    return 1;
}

/* Whether B may run fused after A, element by element; subst[i] is set to
 * the A node that B's input i may use instead of loading it, or -1. */
static int can_merge(const KStmt *A, const KStmt *B, int *subst)
{
    if (!same_space(A, B)) return 0;
    for (int i = 0; i < B->nin; i++) {
        subst[i] = -1;
        for (int o = 0; o < A->nout; o++) {
            if (A->out[o].at.v.buf != B->in[i].v.buf || disjoint(A, &A->out[o].at, &B->in[i])) continue;
            /* a partial sum, or another element: B must see A's whole result */
            if (A->out[o].accumulate || !kfuse_aligned(&A->out[o].at, &B->in[i], A->rank) ||
                !kfuse_injective(A, &B->in[i]))
                return 0;
            subst[i] = A->out[o].node; /* the last store to it wins, as in sequence */
        }
    }
    for (int o = 0; o < B->nout; o++) {
        const KStrided *w = &B->out[o].at;
        for (int i = 0; i < A->nin; i++)
            if (A->in[i].v.buf == w->v.buf && !disjoint(A, &A->in[i], w) &&
                (!kfuse_aligned(&A->in[i], w, A->rank) || !kfuse_injective(A, w)))
                return 0;
        for (int k = 0; k < A->nout; k++)
            if (A->out[k].at.v.buf == w->v.buf && !disjoint(A, &A->out[k].at, w) &&
                (A->out[k].accumulate || B->out[o].accumulate || !kfuse_aligned(&A->out[k].at, w, A->rank) ||
                 !kfuse_injective(A, w)))
                return 0;
    }
    return 1;
}

/* Appends B's work to A (can_merge said yes, with subst). */
static void merge(KFunc *f, KStmt *A, const KStmt *B, const int *subst)
{
    KStrided *in = kfunc_alloc(f, (size_t)(A->nin + B->nin) * sizeof *in);
    KMapNode *nodes = kfunc_alloc(f, (size_t)(A->nnodes + B->nnodes) * sizeof *nodes);
    KMapOut *out = kfunc_alloc(f, (size_t)(A->nout + B->nout) * sizeof *out);
    int *inmap = kfunc_alloc(f, (size_t)(B->nin ? B->nin : 1) * sizeof *inmap);
    int *nodemap = kfunc_alloc(f, (size_t)(B->nnodes ? B->nnodes : 1) * sizeof *nodemap);
    int nin = A->nin, nn = A->nnodes, no = A->nout;
    memcpy(in, A->in, (size_t)A->nin * sizeof *in);
    memcpy(nodes, A->nodes, (size_t)A->nnodes * sizeof *nodes);
    memcpy(out, A->out, (size_t)A->nout * sizeof *out);
    for (int i = 0; i < B->nin; i++) {
        inmap[i] = -1;
        if (subst[i] >= 0) continue;
        for (int k = 0; k < nin && inmap[i] < 0; k++)
            if (kfuse_aligned(&in[k], &B->in[i], A->rank)) inmap[i] = k; /* the same load */
        if (inmap[i] < 0) {
            in[nin] = B->in[i];
            inmap[i] = nin++;
        }
    }
    for (int k = 0; k < B->nnodes; k++) {
        KMapNode n = B->nodes[k];
        if (n.op == KM_IN && subst[n.a] >= 0) {
            nodemap[k] = subst[n.a];
            continue;
        }
        if (n.op == KM_IN) n.a = inmap[n.a];
        if (kir_map_op_arity(n.op) >= 1) n.a = nodemap[n.a];
        if (kir_map_op_arity(n.op) == 2) n.b = nodemap[n.b];
        nodes[nn] = n;
        nodemap[k] = nn++;
    }
    for (int o = 0; o < B->nout; o++) {
        out[no] = B->out[o];
        out[no++].node = nodemap[B->out[o].node];
    }
    A->in = in;
    A->nin = nin;
    A->nodes = nodes;
    A->nnodes = nn;
    A->out = out;
    A->nout = no;
}

/* Whether statement s writes buf (writes_only) or touches it at all.
 * Buffers are distinct memory until memplan, so identity is enough.  A
 * loop counts as touching everything (movable_map never asks: it moves a
 * map past GEMMs and packs only). */
static int touches(const KStmt *s, const KBuf *buf, int writes_only)
{
    if (s->kind == KS_LOOP) return 1;
    KAccessIter it;
    KAccess a;
    for (kir_access_begin(&it, s); kir_access_next(&it, &a);)
        if (a.buf == buf && (!writes_only || kacc_writes(&a))) return 1;
    return 0;
}

/* Whether map A may run after statement s instead of before it. */
static int commutes(const KStmt *A, const KStmt *s)
{
    for (int k = 0; k < A->nin; k++)
        if (touches(s, A->in[k].v.buf, 1)) return 0;
    for (int k = 0; k < A->nout; k++)
        if (touches(s, A->out[k].at.v.buf, 0)) return 0;
    return 1;
}

/* The latest map among the kept statements stmts[0 .. k-1] that can be
 * moved down to stmts[k-1], past the GEMMs and packs after it (an input
 * projection's bias add ahead of the recurrent GEMM, which the step's
 * map reads); -1 if none. */
static int movable_map(const KBlock *b, int k)
{
    int j = k - 1;
    while (j >= 0 && (b->stmts[j]->kind == KS_GEMM || b->stmts[j]->kind == KS_PACK_B)) j--;
    if (j < 0 || b->stmts[j]->kind != KS_MAP) return -1;
    for (int i = j + 1; i < k; i++)
        if (!commutes(b->stmts[j], b->stmts[i])) return -1;
    return j;
}

static int fuse_block(KFunc *f, KBlock *b)
{
    int merged = 0;
    int k = 0;
    for (int i = 0; i < b->n; i++) {
        KStmt *s = b->stmts[i];
        if (s->kind == KS_LOOP) merged += fuse_block(f, &s->body);
        int j = s->kind == KS_MAP ? movable_map(b, k) : -1;
        if (j >= 0) {
            KStmt *A = b->stmts[j];
            int *subst = calloc((size_t)(s->nin ? s->nin : 1), sizeof *subst);
            if (subst && can_merge(A, s, subst)) {
                merge(f, A, s, subst);
                free(subst);
                /* A, now doing s's work too, runs where s did */
                memmove(&b->stmts[j], &b->stmts[j + 1], (size_t)(k - 1 - j) * sizeof *b->stmts);
                b->stmts[k - 1] = A;
                merged++;
                continue;
            }
            free(subst);
        }
        b->stmts[k++] = s;
    }
    b->n = k;
    return merged;
}

/* ---- dead stores ----------------------------------------------------------- */

/* Counts in reads[] the accesses that read each buffer.  A map's are
 * exact (its inputs, its += outputs); every operand of a GEMM, pack or
 * call counts, even one the statement only writes: conservative.  Exact
 * reads (kacc_reads alone) would also drop a map's store into a buffer
 * that only such a statement overwrites and nothing reads - a change of
 * the generated code, to make on its own. */
void kfuse_count_reads(const KBlock *b, int *reads)
{
    for (int i = 0; i < b->n; i++) {
        const KStmt *s = b->stmts[i];
        if (s->kind == KS_LOOP) {
            kfuse_count_reads(&s->body, reads);
            continue;
        }
        KAccessIter it;
        KAccess a;
        for (kir_access_begin(&it, s); kir_access_next(&it, &a);)
            if (kacc_reads(&a) || s->kind != KS_MAP) reads[a.buf->id]++;
    }
}

/* Drops the nodes no output needs and the inputs no node loads. */
void kfuse_prune_map(KStmt *s)
{
    int n = s->nnodes;
    unsigned char *live = calloc((size_t)(n ? n : 1), 1);
    unsigned char *in_live = calloc((size_t)(s->nin ? s->nin : 1), 1);
    int *nmap = calloc((size_t)(n ? n : 1), sizeof *nmap);
    int *imap = calloc((size_t)(s->nin ? s->nin : 1), sizeof *imap);
    if (!live || !in_live || !nmap || !imap) {
        free(live);
        free(in_live);
        free(nmap);
        free(imap);
        return;
    }
    kir_map_live(s, live, in_live);
    int ni = 0;
    for (int i = 0; i < s->nin; i++) {
        imap[i] = -1;
        if (!in_live[i]) continue;
        s->in[ni] = s->in[i];
        imap[i] = ni++;
    }
    int nn = 0;
    for (int k = 0; k < n; k++) {
        if (!live[k]) continue;
        KMapNode d = s->nodes[k];
        if (d.op == KM_IN) d.a = imap[d.a];
        if (kir_map_op_arity(d.op) >= 1) d.a = nmap[d.a];
        if (kir_map_op_arity(d.op) == 2) d.b = nmap[d.b];
        s->nodes[nn] = d;
        nmap[k] = nn++;
    }
    for (int o = 0; o < s->nout; o++) s->out[o].node = nmap[s->out[o].node];
    s->nin = ni;
    s->nnodes = nn;
    free(live);
    free(in_live);
    free(nmap);
    free(imap);
}

/* Removes stores into temporaries nobody reads; returns how many. */
static int drop_dead(KBlock *b, const int *reads)
{
    int dropped = 0, k = 0;
    for (int i = 0; i < b->n; i++) {
        KStmt *s = b->stmts[i];
        if (s->kind == KS_LOOP) dropped += drop_dead(&s->body, reads);
        if (s->kind == KS_MAP) {
            int no = 0;
            for (int o = 0; o < s->nout; o++) {
                const KBuf *w = s->out[o].at.v.buf;
                if (w->kind == KB_TEMP && reads[w->id] == 0) {
                    dropped++;
                    continue;
                }
                s->out[no++] = s->out[o];
            }
            s->nout = no;
            if (no == 0) continue; /* nothing left to do */
            kfuse_prune_map(s);
        }
        b->stmts[k++] = s;
    }
    b->n = k;
    return dropped;
}

int kfuse(KFunc *f)
{
    int merged = fuse_block(f, &f->body);
    merged += kfuse_slices(f);
    int *reads = calloc((size_t)(f->nbufs ? f->nbufs : 1), sizeof *reads);
    if (!reads) return merged;
    for (;;) { /* a dropped store may leave its inputs unread in turn */
        memset(reads, 0, (size_t)f->nbufs * sizeof *reads);
        kfuse_count_reads(&f->body, reads);
        if (!drop_dead(&f->body, reads)) break;
    }
    free(reads);
    return merged;
}
