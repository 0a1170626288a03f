/* kfuse_slice.c - merges a map into the next one that reads its results
 * by slices of the last dimension (kfuse_int.h, kfuse.h).
 *
 * A recurrent step's pre-activations are one [B, G*H] map (the GEMM's
 * result plus the input projection and the biases), and its gate map runs
 * over [B, H] reading that buffer at G column offsets: the LSTM's
 * t13[0], t13[256], t13[512], t13[768].  Different index spaces, so
 * kfuse's merge leaves them apart, and each step stores G*H*B floats and
 * loads them again (at LSTM 256/32 the first loop was a third of the
 * element-wise time).  Here the gate map computes each slice's sums
 * itself: its load of A's result at column shift c becomes A's nodes
 * evaluated on A's inputs shifted by c columns.  Each element is the same
 * operations on the same values in the same order, so the results are
 * bit-identical, and both backends see it (it is kernel IR).
 *
 * The map A and the next statement B, both maps, merge when:
 *   - both have rank r, the same dims but the last, both last dims known;
 *   - every output of A stores (no +=) into a temporary at distinct
 *     elements (injective), no other output of A stores there, A reads no
 *     buffer it writes, and nothing but B reads those temporaries
 *     anywhere in the function (so A's stores can go);
 *   - each of B's loads of those temporaries has A's output's strides and
 *     its offset plus c * (the last stride), 0 <= c, c + B's last dim
 *     <= A's last dim: B's element (i, j) is A's (i, j + c);
 *   - B writes no buffer A reads or writes (it would change what A's
 *     shifted loads see).
 * Then A is removed and B does its work. */
#include <stdlib.h>
#include <string.h>

#include "lower/kfuse_int.h"

#define MAX_SHIFTS 16 /* distinct column shifts one merge handles */

typedef struct Merge {
    KFunc *f;
    const KStmt *A;
    KStmt *B;
    /* per input of B: the output of A it loads (-1: none) and the shift */
    int *src;
    int64_t *shift;
    /* the new map */
    KStrided *in;
    int nin;
    KMapNode *nodes;
    int nn;
    /* per distinct shift: A's node k is the new map's node inst[s][k] */
    int64_t shifts[MAX_SHIFTS];
    int *inst[MAX_SHIFTS];
    int nshifts;
} Merge;

static int64_t const_of(const KExpr *e, int *ok)
{
    if (!e || kexpr_has_free(e)) {
        *ok = 0;
        return 0;
    }
    return kexpr_eval(e, NULL, NULL);
}

/* The column shift c at which view x, read over B's space, loads A's
 * output w: x's strides are w's and its offset w's + c * (last stride);
 * -1 if there is none in range.  The offsets' difference is found at
 * zero symbols and loop variables, and then checked for all values. */
static int64_t shift_of(KFunc *f, const KStmt *A, const KStmt *B, const KStrided *x, const KStrided *w)
{
    int r = A->rank, ok = 1;
    for (int d = 0; d < r; d++)
        if (!kexpr_equal(x->stride[d], w->stride[d])) return -1;
    int64_t st = const_of(w->stride[r - 1], &ok), alast = const_of(A->dims[r - 1], &ok),
            blast = const_of(B->dims[r - 1], &ok);
    if (!ok || st <= 0) return -1;
    int64_t *zero = calloc((size_t)(f->nsyms + f->nloops + 1), sizeof *zero);
    if (!zero) return -1;
    int64_t c = kexpr_eval(x->v.off, zero, zero + f->nsyms) - kexpr_eval(w->v.off, zero, zero + f->nsyms);
    free(zero);
    if (c < 0 || c % st) return -1;
    if (!kexpr_same_value(x->v.off, kexpr_bin(f, KE_ADD, w->v.off, kexpr_const(f, c)))) return -1;
    c /= st;
    return c + blast <= alast ? c : -1;
}

/* Whether statement B (a map) writes buffer buf. */
static int b_writes(const KStmt *B, const KBuf *buf)
{
    for (int o = 0; o < B->nout; o++)
        if (B->out[o].at.v.buf == buf) return 1;
    return 0;
}

/* The conditions above but the shifts, which plan() finds. */
static int mergeable(const KStmt *A, const KStmt *B, const int *reads)
{
    if (A->kind != KS_MAP || B->kind != KS_MAP || A->rank != B->rank || A->rank < 1) return 0;
    for (int d = 0; d + 1 < A->rank; d++)
        if (!kexpr_equal(A->dims[d], B->dims[d])) return 0;
    for (int o = 0; o < A->nout; o++) {
        const KStrided *w = &A->out[o].at;
        if (A->out[o].accumulate || w->v.buf->kind != KB_TEMP || !kfuse_injective(A, w) || b_writes(B, w->v.buf))
            return 0;
        for (int k = 0; k < A->nout; k++)
            if (k != o && A->out[k].at.v.buf == w->v.buf) return 0;
        for (int i = 0; i < A->nin; i++)
            if (A->in[i].v.buf == w->v.buf) return 0;
        int in_b = 0;
        for (int i = 0; i < B->nin; i++) in_b += B->in[i].v.buf == w->v.buf;
        if (reads[w->v.buf->id] != in_b) return 0; /* someone else reads it too */
    }
    for (int i = 0; i < A->nin; i++)
        if (b_writes(B, A->in[i].v.buf)) return 0;
    return 1;
}

/* Fills m->src and m->shift for each input of B; 0, or -1 when a load of
 * A's result is not a slice. */
static int plan(Merge *m)
{
    int used = 0;
    for (int i = 0; i < m->B->nin; i++) {
        m->src[i] = -1;
        for (int o = 0; o < m->A->nout; o++) {
            if (m->A->out[o].at.v.buf != m->B->in[i].v.buf) continue;
            int64_t c = shift_of(m->f, m->A, m->B, &m->B->in[i], &m->A->out[o].at);
            if (c < 0) return -1;
            m->src[i] = o;
            m->shift[i] = c;
            used = 1;
        }
    }
    return used ? 0 : -1; /* B loads nothing of A's: nothing to gain */
}

/* The new map's input for view x (added unless an aligned one is there). */
static int add_input(Merge *m, const KStrided *x)
{
    for (int k = 0; k < m->nin; k++)
        if (kfuse_aligned(&m->in[k], x, m->B->rank)) return k;
    m->in[m->nin] = *x;
    return m->nin++;
}

/* A's nodes at column shift c in the new map (made on first use); NULL
 * when there are too many shifts. */
static const int *instance(Merge *m, int64_t c)
{
    for (int s = 0; s < m->nshifts; s++)
        if (m->shifts[s] == c) return m->inst[s];
    if (m->nshifts == MAX_SHIFTS) return NULL;
    const KStmt *A = m->A;
    int r = A->rank;
    int *map = kfunc_alloc(m->f, (size_t)(A->nnodes ? A->nnodes : 1) * sizeof *map);
    for (int k = 0; k < A->nnodes; k++) {
        KMapNode n = A->nodes[k];
        if (n.op == KM_IN) {
            KStrided x = A->in[n.a];
            const KExpr *step = kexpr_bin(m->f, KE_MUL, kexpr_const(m->f, c), x.stride[r - 1]);
            x.v.off = kexpr_bin(m->f, KE_ADD, x.v.off, step);
            n.a = add_input(m, &x);
        } else {
            if (kir_map_op_arity(n.op) >= 1) n.a = map[n.a];
            if (kir_map_op_arity(n.op) == 2) n.b = map[n.b];
        }
        m->nodes[m->nn] = n;
        map[k] = m->nn++;
    }
    m->shifts[m->nshifts] = c;
    m->inst[m->nshifts++] = map;
    return map;
}

/* Builds B's new body (plan() said yes); 0, or -1 (B unchanged). */
static int rewrite(Merge *m)
{
    const KStmt *A = m->A;
    KStmt *B = m->B;
    size_t max_in = (size_t)B->nin + (size_t)A->nin * MAX_SHIFTS + 1;
    size_t max_nodes = (size_t)B->nnodes + (size_t)A->nnodes * MAX_SHIFTS + 1;
    m->in = kfunc_alloc(m->f, max_in * sizeof *m->in);
    m->nodes = kfunc_alloc(m->f, max_nodes * sizeof *m->nodes);
    int *bmap = kfunc_alloc(m->f, (size_t)(B->nnodes ? B->nnodes : 1) * sizeof *bmap);
    int *bin = kfunc_alloc(m->f, (size_t)(B->nin ? B->nin : 1) * sizeof *bin);
    for (int i = 0; i < B->nin; i++) bin[i] = m->src[i] < 0 ? add_input(m, &B->in[i]) : -1;
    for (int k = 0; k < B->nnodes; k++) {
        KMapNode n = B->nodes[k];
        if (n.op == KM_IN && m->src[n.a] >= 0) {
            const int *map = instance(m, m->shift[n.a]);
            if (!map) return -1;
            bmap[k] = map[A->out[m->src[n.a]].node];
            continue;
        }
        if (n.op == KM_IN) n.a = bin[n.a];
        if (kir_map_op_arity(n.op) >= 1) n.a = bmap[n.a];
        if (kir_map_op_arity(n.op) == 2) n.b = bmap[n.b];
        m->nodes[m->nn] = n;
        bmap[k] = m->nn++;
    }
    for (int o = 0; o < B->nout; o++) B->out[o].node = bmap[B->out[o].node];
    B->in = m->in;
    B->nin = m->nin;
    B->nodes = m->nodes;
    B->nnodes = m->nn;
    kfuse_prune_map(B); /* A's nodes that only fed its unused columns */
    return 0;
}

static int try_merge(KFunc *f, const KStmt *A, KStmt *B, const int *reads)
{
    if (!mergeable(A, B, reads)) return 0;
    Merge m = {.f = f, .A = A, .B = B};
    m.src = kfunc_alloc(f, (size_t)(B->nin ? B->nin : 1) * sizeof *m.src);
    m.shift = kfunc_alloc(f, (size_t)(B->nin ? B->nin : 1) * sizeof *m.shift);
    return plan(&m) == 0 && rewrite(&m) == 0;
}

/* One merge in block b (or a block inside it); 1 if one was made. */
static int merge_one(KFunc *f, KBlock *b, const int *reads)
{
    for (int i = 0; i < b->n; i++) {
        KStmt *s = b->stmts[i];
        if (s->kind == KS_LOOP && merge_one(f, &s->body, reads)) return 1;
        if (i > 0 && try_merge(f, b->stmts[i - 1], s, reads)) {
            memmove(&b->stmts[i - 1], &b->stmts[i], (size_t)(b->n - i) * sizeof *b->stmts);
            b->n--;
            return 1;
        }
    }
    return 0;
}

int kfuse_slices(KFunc *f)
{
    int merged = 0;
    int *reads = calloc((size_t)(f->nbufs ? f->nbufs : 1), sizeof *reads);
    if (!reads) return 0;
    for (;;) { /* the counts afresh after each merge: it moves A's loads */
        memset(reads, 0, (size_t)f->nbufs * sizeof *reads);
        kfuse_count_reads(&f->body, reads);
        if (!merge_one(f, &f->body, reads)) break;
        merged++;
    }
    free(reads);
    return merged;
}
