/* lower_place.c - the lowering's bookkeeping of where values are: sizes as
 * integer expressions, views and their strides, temporaries, copies, and
 * the builder of one element-wise map (lower_int.h). */
#include <stdio.h>
#include <string.h>

#include "lower/lower_int.h"

const KExpr *lw_dim(Lower *L, int64_t d) { return d >= 0 ? kexpr_const(L->f, d) : kexpr_sym(L->f, (int)(-d - 1)); }

const KExpr *lw_numel(Lower *L, const IrType *t)
{
    /* The static part of the count, checked: the frontend keeps it below
     * 2^40 (docs/language.md, "Limits"); past LW_NUMEL_LIMIT its bytes and
     * the memory plan's sums of them would wrap int64. */
    int64_t c = 1;
    for (int d = 0; d < t->rank; d++)
        if (t->dim[d] >= 0 && (__builtin_mul_overflow(c, t->dim[d], &c) || c >= LW_NUMEL_LIMIT)) {
            L->bad = "a tensor of 2^48 or more elements (the limit is 2^40)";
            break;
        }
    const KExpr *n = kexpr_const(L->f, 1);
    for (int d = 0; d < t->rank; d++) n = kexpr_bin(L->f, KE_MUL, n, lw_dim(L, t->dim[d]));
    return n;
}

const KExpr *lw_lead(Lower *L, const IrType *t)
{
    const KExpr *n = kexpr_const(L->f, 1);
    for (int d = 0; d + 1 < t->rank; d++) n = kexpr_bin(L->f, KE_MUL, n, lw_dim(L, t->dim[d]));
    return n;
}

const KExpr *lw_last(Lower *L, const IrType *t) { return lw_dim(L, t->dim[t->rank - 1]); }

const char *lw_label(Lower *L, const IrValue *v)
{
    char buf[96];
    if (v->name)
        snprintf(buf, sizeof buf, "%%%s", v->name);
    else
        snprintf(buf, sizeof buf, "%%%d", v->id);
    return kfunc_strdup(L->f, buf);
}

const char *lw_origin(Lower *L, const IrOp *op)
{
    char buf[192];
    const char *lab = op->nresults ? lw_label(L, op->results[0]) : "?";
    if (op->origin)
        snprintf(buf, sizeof buf, "%s = %s (%s)", lab, ir_op_name(op->kind), op->origin);
    else
        snprintf(buf, sizeof buf, "%s = %s", lab, ir_op_name(op->kind));
    return kfunc_strdup(L->f, buf);
}

Place lw_contig(Lower *L, KBuf *buf, const KExpr *off, const IrType *t)
{
    Place p = {.kind = PL_VIEW, .v = {buf, off}};
    const KExpr *s = kexpr_const(L->f, 1);
    for (int d = t->rank - 1; d >= 0; d--) {
        p.st[d] = s;
        s = kexpr_bin(L->f, KE_MUL, s, lw_dim(L, t->dim[d]));
    }
    return p;
}

KBuf *lw_temp(Lower *L, const IrValue *v, const IrType *t, const char *what)
{
    char name[64];
    if (v && v->name)
        snprintf(name, sizeof name, "%s", v->name);
    else if (v)
        snprintf(name, sizeof name, "t%d", v->id);
    else
        snprintf(name, sizeof name, "tmp");
    KBuf *b = kfunc_buf(L->f, name, t->dtype, lw_numel(L, t), KB_TEMP);
    b->what = kfunc_strdup(L->f, what);
    return b;
}

Place lw_out(Lower *L, const IrValue *v, const char *what)
{
    if (L->dest[v->id].kind == PL_VIEW) {
        L->dest_used[v->id] = 1;
        L->pl[v->id] = L->dest[v->id];
    } else {
        L->pl[v->id] = lw_contig(L, lw_temp(L, v, &v->type, what), kexpr_const(L->f, 0), &v->type);
    }
    return L->pl[v->id];
}

void lw_to_front(KBlock *b)
{
    KStmt *s = b->stmts[b->n - 1];
    memmove(b->stmts + 1, b->stmts, (size_t)(b->n - 1) * sizeof *b->stmts);
    b->stmts[0] = s;
}

Place lw_mem(Lower *L, const IrValue *v)
{
    Place p = L->pl[v->id];
    if (p.kind != PL_CONST) return p;
    if (L->mat[v->id].kind == PL_VIEW) return L->mat[v->id];
    char what[128];
    snprintf(what, sizeof what, "%s = const %g", lw_label(L, v), p.f);
    Place m = lw_contig(L, lw_temp(L, v, &v->type, what), kexpr_const(L->f, 0), &v->type);
    /* The fill goes to the front of the const's own block: it reads nothing,
     * and so runs once however many consumers (or loop steps) need it. */
    KBlock *save = L->cur;
    L->cur = L->cblk[v->id] ? L->cblk[v->id] : save;
    MapB mb;
    mb_init(&mb, L, &v->type);
    mb_out(&mb, &m, &v->type, mb_const(&mb, p.f), 0);
    mb_emit(&mb, what);
    lw_to_front(L->cur);
    L->cur = save;
    L->mat[v->id] = m;
    return m;
}

int lw_same_view(const Place *a, const Place *b, int rank)
{
    if (a->kind != PL_VIEW || b->kind != PL_VIEW || a->v.buf != b->v.buf) return 0;
    if (!kexpr_same_value(a->v.off, b->v.off)) return 0;
    for (int d = 0; d < rank; d++)
        if (!kexpr_same_value(a->st[d], b->st[d])) return 0;
    return 1;
}

static int is_zero(const KExpr *e) { return e->kind == KE_CONST && e->value == 0; }

/* Whether dims [from, to) of p flatten into one dim, and that dim's stride
 * (*st, left NULL when every dim is 1): skipping the dims of 1, whose
 * strides mean nothing, each dim's stride is the next one's times that
 * one's extent.  ([B, 1] with strides [4, 1] flattens with stride 4: it is
 * not dense, although its last stride is 1.) */
static int flattens(Lower *L, const Place *p, const IrType *t, int from, int to, const KExpr **st)
{
    const KExpr *want = NULL;
    *st = NULL;
    for (int d = to - 1; d >= from; d--) {
        if (t->dim[d] == 1) continue;
        if (want && !kexpr_same_value(p->st[d], want)) return 0;
        if (!*st) *st = p->st[d];
        want = kexpr_bin(L->f, KE_MUL, p->st[d], lw_dim(L, t->dim[d]));
    }
    return 1;
}

/* Whether p holds t densely: what a runtime call's operand can be. */
static int dense(Lower *L, const Place *p, const IrType *t)
{
    const KExpr *st;
    return flattens(L, p, t, 0, t->rank, &st) && (!st || (st->kind == KE_CONST && st->value == 1));
}

static Place copy_to_temp(Lower *L, const IrValue *v, const Place *src, const char *origin)
{
    char what[160];
    snprintf(what, sizeof what, "contiguous copy of %s", lw_label(L, v));
    Place t = lw_contig(L, lw_temp(L, v, &v->type, what), kexpr_const(L->f, 0), &v->type);
    lw_copy(L, &t, src, &v->type, origin);
    return t;
}

Place lw_contig_of(Lower *L, const IrValue *v, const char *origin)
{
    Place p = lw_mem(L, v);
    const IrType *t = &v->type;
    if (dense(L, &p, t)) return p;
    return copy_to_temp(L, v, &p, origin);
}

/* The leading dimension with which p holds a value of type t as rows
 * (leading dims flatten with a nonzero stride, the last one dense), or
 * NULL if it does not: what a GEMM operand can be. */
static const KExpr *rows_ld(Lower *L, const Place *p, const IrType *t)
{
    int r = t->rank;
    if (r < 2) return dense(L, p, t) ? (r ? lw_dim(L, t->dim[0]) : kexpr_const(L->f, 1)) : NULL;
    const KExpr *ld, *last = p->st[r - 1];
    if (t->dim[r - 1] != 1 && !(last->kind == KE_CONST && last->value == 1)) return NULL;
    if (!flattens(L, p, t, 0, r - 1, &ld)) return NULL;
    if (!ld) return lw_dim(L, t->dim[r - 1]); /* one row */
    return is_zero(ld) ? NULL : ld;           /* a broadcast row is not a GEMM operand */
}

/* A dest a kernel cannot write (a concat's columns for a runtime call,
 * say) is left unused: v gets a contiguous temporary, and whoever set the
 * dest copies from it, seeing dest_used unset. */
static Place out_if(Lower *L, const IrValue *v, int usable, const char *what)
{
    if (L->dest[v->id].kind == PL_VIEW && !usable) {
        L->pl[v->id] = lw_contig(L, lw_temp(L, v, &v->type, what), kexpr_const(L->f, 0), &v->type);
        return L->pl[v->id];
    }
    return lw_out(L, v, what);
}

Place lw_out_rows(Lower *L, const IrValue *v, const KExpr **ld, const char *what)
{
    const IrType *t = &v->type;
    const Place *d = &L->dest[v->id];
    Place o = out_if(L, v, d->kind != PL_VIEW || rows_ld(L, d, t), what);
    *ld = o.kind == PL_VIEW ? rows_ld(L, &o, t) : NULL;
    return o;
}

Place lw_out_contig(Lower *L, const IrValue *v, const char *what)
{
    const IrType *t = &v->type;
    const Place *d = &L->dest[v->id];
    return out_if(L, v, d->kind != PL_VIEW || dense(L, d, t), what);
}

Place lw_rows_of(Lower *L, const IrValue *v, const KExpr **ld, const char *origin)
{
    Place p = lw_mem(L, v);
    if ((*ld = rows_ld(L, &p, &v->type))) return p;
    p = copy_to_temp(L, v, &p, origin);
    *ld = rows_ld(L, &p, &v->type);
    return p;
}

Place lw_row(Lower *L, const Place *p, const KExpr *i, int rank)
{
    if (p->kind != PL_VIEW) return *p;
    Place r = *p;
    r.v.off = kexpr_bin(L->f, KE_ADD, p->v.off, kexpr_bin(L->f, KE_MUL, i, p->st[0]));
    for (int d = 0; d + 1 < rank; d++) r.st[d] = p->st[d + 1];
    r.st[rank - 1] = NULL;
    return r;
}

void lw_copy(Lower *L, const Place *dst, const Place *src, const IrType *t, const char *origin)
{
    MapB mb;
    mb_init(&mb, L, t);
    mb_out(&mb, dst, t, mb_in(&mb, src, t), 0);
    mb_emit(&mb, origin);
}

/* ---- one map --------------------------------------------------------------------- */

void mb_init(MapB *mb, Lower *L, const IrType *space)
{
    memset(mb, 0, sizeof *mb);
    mb->L = L;
    mb->rank = space->rank ? space->rank : 1;
    if (!space->rank) mb->dims[0] = kexpr_const(L->f, 1);
    for (int d = 0; d < space->rank; d++) mb->dims[d] = lw_dim(L, space->dim[d]);
}

/* p's strides aligned to the map's trailing dims. */
static void align(MapB *mb, const Place *p, const IrType *vt, const KExpr **st)
{
    for (int i = 0; i < mb->rank; i++) {
        int vi = i - (mb->rank - vt->rank);
        st[i] = vi < 0 || vt->dim[vi] == 1 ? kexpr_const(mb->L->f, 0) : p->st[vi];
    }
    for (int i = mb->rank; i < KIR_MAX_RANK; i++) st[i] = NULL;
}

static int node(MapB *mb, KMapNode n)
{
    if (mb->nnodes >= MB_MAX_NODES) {
        mb->L->bad = "map of too many nodes";
        return 0;
    }
    mb->nodes[mb->nnodes] = n;
    return mb->nnodes++;
}

int mb_in(MapB *mb, const Place *p, const IrType *vt)
{
    if (p->kind == PL_CONST) return mb_const(mb, p->f);
    /* the same view read twice is one input */
    KStrided s = {.v = p->v};
    align(mb, p, vt, s.stride);
    int k;
    for (k = 0; k < mb->nin; k++) {
        const KStrided *o = &mb->in[k];
        int same = o->v.buf == s.v.buf && kexpr_same_value(o->v.off, s.v.off);
        for (int d = 0; same && d < mb->rank; d++) same = kexpr_same_value(o->stride[d], s.stride[d]);
        if (same) break;
    }
    if (k == mb->nin) {
        if (mb->nin >= MB_MAX_IN) {
            mb->L->bad = "map of too many inputs";
            return 0;
        }
        mb->in[mb->nin++] = s;
    }
    for (int i = 0; i < mb->nnodes; i++)
        if (mb->nodes[i].op == KM_IN && mb->nodes[i].a == k) return i;
    return node(mb, (KMapNode){.op = KM_IN, .a = k});
}

int mb_op(MapB *mb, KMapOp op, int a, int b) { return node(mb, (KMapNode){.op = op, .a = a, .b = b}); }
int mb_const(MapB *mb, double f) { return node(mb, (KMapNode){.op = KM_CONST, .f = f}); }
int mb_expr(MapB *mb, const KExpr *e) { return node(mb, (KMapNode){.op = KM_EXPR, .e = e}); }

void mb_out(MapB *mb, const Place *p, const IrType *vt, int n, int accumulate)
{
    if (mb->nout >= MB_MAX_OUT) {
        mb->L->bad = "map of too many outputs";
        return;
    }
    KMapOut *o = &mb->out[mb->nout++];
    o->at.v = p->v;
    align(mb, p, vt, o->at.stride);
    o->node = n;
    o->accumulate = accumulate;
}

KStmt *mb_emit(MapB *mb, const char *origin)
{
    Lower *L = mb->L;
    KStmt *s = kblock_add(L->f, L->cur, KS_MAP, origin);
    s->rank = mb->rank;
    for (int d = 0; d < mb->rank; d++) s->dims[d] = mb->dims[d];
    s->nin = mb->nin;
    s->in = kfunc_alloc(L->f, (size_t)(mb->nin ? mb->nin : 1) * sizeof *s->in);
    memcpy(s->in, mb->in, (size_t)mb->nin * sizeof *s->in);
    s->nnodes = mb->nnodes;
    s->nodes = kfunc_alloc(L->f, (size_t)(mb->nnodes ? mb->nnodes : 1) * sizeof *s->nodes);
    memcpy(s->nodes, mb->nodes, (size_t)mb->nnodes * sizeof *s->nodes);
    s->nout = mb->nout;
    s->out = kfunc_alloc(L->f, (size_t)(mb->nout ? mb->nout : 1) * sizeof *s->out);
    memcpy(s->out, mb->out, (size_t)mb->nout * sizeof *s->out);
    return s;
}
