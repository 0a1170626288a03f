/* memplan.c - the memory plan (memplan.h): liveness of every temporary
 * over the whole function, then first-fit packing of the temporaries into
 * slots of one arena, with symbolic offsets.
 *
 * Liveness.  Statements are numbered in program order, a loop's body after
 * the loop header, so a loop covers the positions [header, last statement
 * of its body].  A temporary's range starts at its first access of any kind
 * (a partial write counts) and ends at its last.  A loop executes its body
 * many times, so a temporary accessed inside a loop is live over the whole
 * loop, unless it is private to one iteration: every access lies inside
 * the loop's body, and the first is a statement directly in that body that
 * overwrites all of the buffer without reading it (then whatever the
 * previous iteration left is dead when the next one starts).  Anything else
 * - state carried from one iteration to the next, a value from before the
 * loop, a sequence filled one step at a time - is extended to the loop.
 *
 * Packing.  Temporaries are placed largest first (sizes evaluated with
 * every symbol at REF_SYM), each into the first slot none of whose members'
 * ranges meet its own, else into a new slot.  A slot is as large as the
 * largest of its members for any symbol values (a KE_MAX of their byte
 * sizes, rounded up to 64); slot k starts at the sum of the slots before
 * it, so no two slots meet for any symbol values.  The sums are kept as
 * linear combinations of terms (like terms added, "64 * B + 128 * B" is
 * "192 * B") so that printed offsets stay readable. */
#include "lower/memplan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kir/kir_walk.h"
#include "runtime/sgemm.h"

/* The symbol value at which sizes are compared to order the packing. */
#define REF_SYM 64
/* The largest sizes passed to rt_sgemm_workspace_size: the packing blocks
 * are bounded by the kernel's block sizes, so any larger call needs no
 * more (runtime/sgemm.c, ws_floats). */
#define WS_DIM  ((int64_t)1 << 20)

typedef struct Loop {
    int lo, hi; /* positions of the header and of the last body statement */
} Loop;

typedef struct Use {
    int first, last; /* positions of the first and last access; first < 0: never */
    int first_loop;  /* innermost loop around the first access, -1: none */
    int first_full;  /* the first access overwrites the buffer without reading it */
} Use;

typedef struct Plan {
    KFunc *f;
    Use *use;    /* per buffer id */
    Loop *loops; /* per loop id   */
    int pos;
    int64_t ref[3][MEMPLAN_MAX_SYMS]; /* symbol values at which "covers the buffer" is tested */
    int nref;
} Plan;

/* ---- what a statement touches -------------------------------------------- */

static int evals_to(const Plan *p, const KExpr *e, int64_t want, int r, const int64_t *vars)
{
    return e && kexpr_eval(e, p->ref[r], vars) == want;
}

/* The value of e at reference point r (a missing expression counts as 0). */
static int64_t ev(const Plan *p, const KExpr *e, int r, const int64_t *vars)
{
    return e ? kexpr_eval(e, p->ref[r], vars) : 0;
}

/* Whether access a covers every element of its buffer exactly once
 * (offset 0, the dims laid out densely), with the loop variables at vars:
 * sort the dims by stride and check each stride is the product of the
 * smaller dims.  A map's output, a GEMM's C (M x N, row stride ldc) and a
 * call's block (ints[f1] x ints[f2]) are all such extents (kir_walk.h). */
static int access_covers(const Plan *p, const KAccess *a, int r, const int64_t *vars)
{
    if (!evals_to(p, a->off, 0, r, vars)) return 0;
    int64_t dim[KIR_MAX_RANK], st[KIR_MAX_RANK];
    int n = 0;
    for (int d = 0; d < a->rank; d++) {
        int64_t k = ev(p, a->dim[d], r, vars);
        if (k == 1) continue;
        dim[n] = k;
        st[n] = ev(p, a->stride[d], r, vars);
        n++;
    }
    for (int i = 1; i < n; i++) /* insertion sort by stride */
        for (int j = i; j > 0 && st[j] < st[j - 1]; j--) {
            int64_t t = st[j];
            st[j] = st[j - 1];
            st[j - 1] = t;
            t = dim[j];
            dim[j] = dim[j - 1];
            dim[j - 1] = t;
        }
    int64_t want = 1;
    for (int i = 0; i < n; i++) {
        if (st[i] != want) return 0;
        want *= dim[i];
    }
    return want == kexpr_eval(a->buf->size, p->ref[r], vars);
}

/* Whether statement s, as a whole, overwrites every element of b (at
 * every reference point, with the loop variables at 0 and at 1: an offset
 * that moves with a variable does not cover).  Only a write that reads
 * nothing first counts, and never a pack: the runtime writes less than
 * the bound it is sized by, so a pack stays live from its KS_PACK_B over
 * every loop that reads it.  A call of an unknown kind writes nothing
 * (kir_walk.h), so it covers nothing. */
static int covers(const Plan *p, const KStmt *s, const KBuf *b)
{
    static const int64_t zeros[64],
        ones[64] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    if (p->f->nloops > 64) return 0;
    for (int r = 0; r < p->nref; r++)
        for (int v = 0; v < 2; v++) {
            const int64_t *vars = v ? ones : zeros;
            int ok = 0;
            KAccessIter it;
            KAccess a;
            for (kir_access_begin(&it, s); !ok && kir_access_next(&it, &a);)
                ok = a.buf == b && a.mode == KACC_WRITE && !a.pack && access_covers(p, &a, r, vars);
            if (!ok) return 0;
        }
    return 1;
}

/* Records one access of b by the statement at the current position; `read`
 * says whether s reads b (an accumulating or beta != 0 write reads). */
static void touch(Plan *p, const KBuf *b, int read, int loop)
{
    if (!b || b->kind != KB_TEMP || b->id < 0 || b->id >= p->f->nbufs) return;
    Use *u = &p->use[b->id];
    if (u->first < 0) {
        u->first = p->pos;
        u->first_loop = loop;
        u->first_full = -1; /* decided once every view of s is seen */
    }
    if (u->first == p->pos && read) u->first_full = 0;
    u->last = p->pos;
}

/* The views statement s reads and writes (kir_walk.h). */
static void touch_stmt(Plan *p, const KStmt *s, int loop)
{
    KAccessIter it;
    KAccess a;
    for (kir_access_begin(&it, s); kir_access_next(&it, &a);) touch(p, a.buf, kacc_reads(&a), loop);
    /* A buffer first accessed here by writes only: does s cover it? */
    for (int i = 0; i < p->f->nbufs; i++) {
        Use *u = &p->use[i];
        if (u->first == p->pos && u->first_full < 0) u->first_full = covers(p, s, p->f->bufs[i]);
    }
}

static void walk(Plan *p, const KBlock *b, int loop)
{
    for (int i = 0; i < b->n; i++) {
        const KStmt *s = b->stmts[i];
        p->pos++;
        if (s->kind == KS_LOOP) {
            int id = s->var >= 0 && s->var < p->f->nloops ? s->var : -1;
            int lo = p->pos;
            walk(p, &s->body, id >= 0 ? id : loop);
            if (id >= 0) {
                p->loops[id].lo = lo;
                p->loops[id].hi = p->pos;
            }
        } else {
            touch_stmt(p, s, loop);
        }
    }
}

/* ---- expressions: linear combinations of terms ---------------------------- */

/* e as coef * term (term NULL: the constant coef). */
static void split(const KExpr *e, int64_t *coef, const KExpr **term)
{
    if (e->kind == KE_CONST) {
        *coef = e->value;
        *term = NULL;
    } else if (e->kind == KE_MUL && e->a->kind == KE_CONST) {
        *coef = e->a->value;
        *term = e->b;
    } else {
        *coef = 1;
        *term = e;
    }
}

static const KExpr *mulc(KFunc *f, int64_t c, const KExpr *e)
{
    int64_t k;
    const KExpr *t;
    split(e, &k, &t);
    const KExpr *ck = kexpr_bin(f, KE_MUL, kexpr_const(f, c), kexpr_const(f, k)); /* checked */
    return t ? kexpr_bin(f, KE_MUL, ck, t) : ck;
}

/* The largest power of two up to 64 known to divide e's value. */
static int64_t pow2_divisor(const KExpr *e)
{
    switch (e->kind) {
    case KE_CONST: {
        int64_t v = e->value < 0 ? -e->value : e->value, d = 1;
        if (v == 0) return 64;
        while (d < 64 && v % (2 * d) == 0) d *= 2;
        return d;
    }
    case KE_MUL: {
        int64_t d = pow2_divisor(e->a) * pow2_divisor(e->b);
        return d > 64 ? 64 : d;
    }
    case KE_ADD:
    case KE_SUB:
    case KE_MAX: {
        int64_t x = pow2_divisor(e->a), y = pow2_divisor(e->b);
        return x < y ? x : y;
    }
    default: return 1;
    }
}

static const KExpr *round64(KFunc *f, const KExpr *x)
{
    if (pow2_divisor(x) == 64) return x;
    const KExpr *c63 = kexpr_const(f, 63), *c64 = kexpr_const(f, 64);
    return kexpr_bin(f, KE_MUL, kexpr_bin(f, KE_DIV, kexpr_bin(f, KE_ADD, x, c63), c64), c64);
}

/* The maximum of the byte sizes of a slot's members: a member whose size
 * is a multiple of the same term as another's (c1 * X, c2 * X, X >= 0) is
 * merged into it, so the KE_MAX lists only sizes of different shapes. */
typedef struct Terms {
    int64_t *coef;
    const KExpr **term;
    int n, cap;
    int wrapped; /* a sum of coefficients overflowed (terms_expr sets f->overflow) */
} Terms;

static const KExpr *terms_max(KFunc *f, const KExpr **sizes, int n, int64_t *coef, const KExpr **term)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        int64_t c;
        const KExpr *t;
        split(sizes[i], &c, &t);
        int j = 0;
        while (j < m && !(t ? term[j] && kexpr_equal(term[j], t) : !term[j])) j++;
        if (j == m) {
            coef[m] = c;
            term[m++] = t;
        } else if (c > coef[j])
            coef[j] = c;
    }
    const KExpr *r = NULL;
    for (int j = 0; j < m; j++) {
        const KExpr *e = term[j] ? mulc(f, coef[j], term[j]) : kexpr_const(f, coef[j]);
        r = r ? kexpr_bin(f, KE_MAX, r, e) : e;
    }
    return r ? r : kexpr_const(f, 0);
}

/* Adds e to the sum, combining like terms. */
static void terms_add(Terms *s, const KExpr *e)
{
    int64_t c;
    const KExpr *t;
    if (e->kind == KE_ADD) {
        terms_add(s, e->a);
        terms_add(s, e->b);
        return;
    }
    split(e, &c, &t);
    for (int j = 0; j < s->n; j++)
        if (t ? s->term[j] && kexpr_equal(s->term[j], t) : !s->term[j]) {
            s->wrapped |= __builtin_add_overflow(s->coef[j], c, &s->coef[j]);
            return;
        }
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        int64_t *nc = realloc(s->coef, (size_t)cap * sizeof *nc);
        if (nc) s->coef = nc;
        const KExpr **nt = realloc(s->term, (size_t)cap * sizeof *nt);
        if (nt) s->term = nt;
        if (!nc || !nt) {
            fprintf(stderr, "rnnc: out of memory\n");
            abort();
        }
        s->cap = cap;
    }
    s->coef[s->n] = c;
    s->term[s->n++] = t;
}

static const KExpr *terms_expr(KFunc *f, const Terms *s)
{
    const KExpr *r = kexpr_const(f, 0), *k = kexpr_const(f, 0);
    if (s->wrapped) f->overflow = 1;
    for (int j = 0; j < s->n; j++) {
        if (s->term[j])
            r = kexpr_bin(f, KE_ADD, r, mulc(f, s->coef[j], s->term[j]));
        else
            k = kexpr_bin(f, KE_ADD, k, kexpr_const(f, s->coef[j]));
    }
    return kexpr_bin(f, KE_ADD, r, k); /* the constant last: "192 * B + 64" */
}

/* ---- the plan -------------------------------------------------------------- */

static int has_var(const KExpr *e)
{
    if (!e) return 0;
    if (e->kind == KE_VAR) return 1;
    return e->kind >= KE_ADD && (has_var(e->a) || has_var(e->b));
}

static int has_gemm(const KBlock *b)
{
    for (int i = 0; i < b->n; i++)
        if (b->stmts[i]->kind == KS_GEMM || (b->stmts[i]->kind == KS_LOOP && has_gemm(&b->stmts[i]->body))) return 1;
    return 0;
}

static int elem_bytes(IrDType t) { return t == IR_I64 ? 8 : 4; }

typedef struct Cand {
    KBuf *b;
    int64_t ref_bytes;
    int lo, hi; /* live range; lo > hi: never accessed */
    int slot;
} Cand;

static int by_size_desc(const void *x, const void *y)
{
    const Cand *a = x, *b = y;
    if (a->ref_bytes != b->ref_bytes) return a->ref_bytes > b->ref_bytes ? -1 : 1;
    return a->b->id - b->b->id;
}

int memplan(KFunc *f, char *err, size_t errlen)
{
    Plan p = {.f = f};
    int nb = f->nbufs, nl = f->nloops;
    p.use = calloc((size_t)(nb ? nb : 1), sizeof *p.use);
    p.loops = calloc((size_t)(nl ? nl : 1), sizeof *p.loops);
    Cand *cand = calloc((size_t)(nb ? nb : 1), sizeof *cand);
    const KExpr **sizes = calloc((size_t)(nb ? nb : 1), sizeof *sizes);
    int64_t *mcoef = calloc((size_t)(nb ? nb : 1), sizeof *mcoef);
    const KExpr **mterm = calloc((size_t)(nb ? nb : 1), sizeof *mterm);
    Terms total = {0};
    int rc = -1;
    if (!p.use || !p.loops || !cand || !sizes || !mcoef || !mterm) {
        ir_errf(err, errlen, "memplan: out of memory");
        goto out;
    }
    /* Reference points: every symbol 64; distinct small primes; B large and
     * the lengths small.  A view that covers its buffer at all three is
     * taken to cover it for every symbol value. */
    static const int64_t primes[] = {3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59};
    p.nref = 3;
    for (int i = 0; i < MEMPLAN_MAX_SYMS; i++) {
        p.ref[0][i] = REF_SYM;
        p.ref[1][i] = primes[i % 16];
        p.ref[2][i] = i == 0 ? 97 : 2;
    }
    for (int i = 0; i < nb; i++) {
        KBuf *b = f->bufs[i];
        p.use[i].first = p.use[i].last = -1;
        if (b->kind != KB_TEMP) continue;
        if (!b->size || has_var(b->size)) {
            ir_errf(err, errlen, "memplan: temporary %s has %s", b->name,
                    b->size ? "a size that depends on a loop variable" : "no size");
            goto out;
        }
    }
    if (f->nsyms > MEMPLAN_MAX_SYMS) {
        ir_errf(err, errlen, "memplan: %d size symbols (at most %d)", f->nsyms, MEMPLAN_MAX_SYMS);
        goto out;
    }
    walk(&p, &f->body, -1);

    /* Live ranges. */
    int nc = 0;
    for (int i = 0; i < nb; i++) {
        KBuf *b = f->bufs[i];
        if (b->kind != KB_TEMP) continue;
        Use *u = &p.use[i];
        Cand *c = &cand[nc++];
        c->b = b;
        c->ref_bytes = kexpr_eval(b->size, p.ref[0], NULL) * elem_bytes(b->dtype);
        c->lo = u->first;
        c->hi = u->last;
        if (u->first < 0) {
            c->lo = 1, c->hi = 0; /* never accessed: no place (below) */
            continue;
        }
        for (int l = 0; l < nl; l++) {
            const Loop *L = &p.loops[l];
            int inside = u->last > L->lo && u->first <= L->hi; /* some access in the body */
            if (!inside) continue;
            /* The first access's loop must be L itself (not a loop inside it). */
            int private = u->first > L->lo && u->last <= L->hi && u->first_loop == l && u->first_full == 1;
            if (!private) {
                if (L->lo < c->lo) c->lo = L->lo;
                if (L->hi > c->hi) c->hi = L->hi;
            }
        }
    }
    /* ("inside" tests that [first, last] meets the body: true also for a
     * buffer accessed only before and after the loop, whose range contains
     * the loop already, so extending it changes nothing.) */

    /* First-fit packing, largest first. */
    qsort(cand, (size_t)nc, sizeof *cand, by_size_desc);
    int nslots = 0;
    for (int i = 0; i < nc; i++) {
        /* A temporary nothing accesses (the fusion left a map's result in
         * its registers) gets no place: its size would still count in the
         * slot it joined, and its max() term in every offset after it. */
        if (cand[i].lo > cand[i].hi) {
            cand[i].slot = -1;
            cand[i].b->offset = NULL;
            continue;
        }
        int s = 0;
        for (; s < nslots; s++) {
            int free_slot = 1;
            for (int j = 0; j < i && free_slot; j++)
                if (cand[j].slot == s && cand[i].lo <= cand[i].hi && cand[j].lo <= cand[j].hi &&
                    cand[i].lo <= cand[j].hi && cand[j].lo <= cand[i].hi)
                    free_slot = 0;
            if (free_slot) break;
        }
        cand[i].slot = s;
        if (s == nslots) nslots++;
    }

    /* Offsets: slot by slot, the running total as a sum of like terms. */
    for (int s = 0; s < nslots; s++) {
        const KExpr *off = terms_expr(f, &total);
        int n = 0;
        for (int i = 0; i < nc; i++)
            if (cand[i].slot == s) {
                cand[i].b->offset = off;
                sizes[n++] = mulc(f, elem_bytes(cand[i].b->dtype), cand[i].b->size);
            }
        terms_add(&total, round64(f, terms_max(f, sizes, n, mcoef, mterm)));
    }
    const KExpr *temps = terms_expr(f, &total);
    if (has_gemm(&f->body)) {
        f->ws_offset = temps;
        f->ws_bytes = kexpr_const(f, (int64_t)rt_sgemm_workspace_size(WS_DIM, WS_DIM, WS_DIM));
        terms_add(&total, f->ws_bytes);
        f->arena_bytes = terms_expr(f, &total);
    } else {
        f->ws_offset = f->ws_bytes = NULL;
        f->arena_bytes = temps;
    }
    rc = 0;
out:
    free(p.use);
    free(p.loops);
    free(cand);
    free(sizes);
    free(mcoef);
    free(mterm);
    free(total.coef);
    free(total.term);
    return rc;
}
