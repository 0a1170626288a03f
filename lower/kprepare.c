/* kprepare.c - the weights' packs moved into a prepare function
 * (kprepare.h). */
#include "lower/kprepare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kir/kir_walk.h"

int kprepare_is_weight(const KFunc *f, const KBuf *b)
{
    const IrModule *m = f->module;
    if (!m || b->kind != KB_ARG || b->prepared || b->dtype != IR_F32 || !b->ext_name) return 0;
    for (int i = 0; i < m->nparams; i++)
        if (!strcmp(m->params[i].name, b->ext_name)) return 1;
    return 0;
}

int kprepare_once(const KFunc *f, const KStmt *s)
{
    if (s->kind != KS_PACK_B && !(s->kind == KS_GEMM && !s->packed_b)) return 0;
    return kprepare_is_weight(f, s->B.buf) && !kexpr_has_free(s->B.off) && !kexpr_has_free(s->ldb) &&
           !kexpr_has_free(s->N) && !kexpr_has_free(s->K);
}

/* The name of the pack of s's op(B), the same in every function of the
 * module for the same pack. */
static const char *pack_key(KFunc *f, const KStmt *s)
{
    char key[512];
    snprintf(key, sizeof key, "pack %s%s [%lld; ld %lld] N=%lld K=%lld", s->B.buf->ext_name, s->transb ? "^T" : "",
             (long long)kexpr_eval(s->B.off, NULL, NULL), (long long)kexpr_eval(s->ldb, NULL, NULL),
             (long long)kexpr_eval(s->N, NULL, NULL), (long long)kexpr_eval(s->K, NULL, NULL));
    return kfunc_strdup(f, key);
}

/* The split in progress: f's packs by key, and the prepare function. */
typedef struct Split {
    KFunc *f, *prep;
    KBuf **pack; /* f's prepared argument of each key, in order */
    int npacks;
    /* joined weights (is_join()): by f's buffer id, whether it is one,
     * and the prepare function's result that holds it */
    unsigned char *join;
    KBuf **join_res;
} Split;

/* ---- joined weights -------------------------------------------------------------
 * passes/merge_linear.c joins the weights of products that share an input
 * ([W_i; W_f; W_g; W_o] of an LSTM written gate by gate): top-level maps
 * copy the parameters into a temporary, which a pack_b packs (or a GEMM
 * reads) like a weight.  The copies depend on the weights alone, so they
 * move into the prepare function too, with the packs of the joined
 * matrix: the function then neither copies nor packs them.  The joined
 * matrix becomes a result of the prepare function and a prepared
 * argument of f, which nothing in f reads any more. */

/* Whether every expression of the view is fixed (no symbol, no loop). */
static int fixed_strided(const KStrided *v, int rank)
{
    if (kexpr_has_free(v->v.off)) return 0;
    for (int d = 0; d < rank; d++)
        if (kexpr_has_free(v->stride[d])) return 0;
    return 1;
}

/* Whether top-level map s copies weights into temporaries: fixed
 * dimensions and views, every input a weight, every output a store (not
 * +=) into a temporary of fixed size, no node an expression. */
static int weight_map(const KFunc *f, const KStmt *s)
{
    if (s->kind != KS_MAP || s->nout == 0) return 0;
    for (int d = 0; d < s->rank; d++)
        if (kexpr_has_free(s->dims[d])) return 0;
    for (int i = 0; i < s->nin; i++)
        if (!kprepare_is_weight(f, s->in[i].v.buf) || !fixed_strided(&s->in[i], s->rank)) return 0;
    for (int i = 0; i < s->nnodes; i++)
        if (s->nodes[i].op == KM_EXPR) return 0;
    for (int i = 0; i < s->nout; i++) {
        const KBuf *b = s->out[i].at.v.buf;
        if (b->kind != KB_TEMP || b->dtype != IR_F32 || kexpr_has_free(b->size) || s->out[i].accumulate ||
            !fixed_strided(&s->out[i].at, s->rank))
            return 0;
    }
    return 1;
}

/* Whether top-level statement s reads its B like a weight the prepare
 * function packs: a pack_b, or a GEMM with a plain B, at fixed sizes. */
static int packs_b(const KStmt *s)
{
    return (s->kind == KS_PACK_B || (s->kind == KS_GEMM && !s->packed_b)) && !kexpr_has_free(s->B.off) &&
           !kexpr_has_free(s->ldb) && !kexpr_has_free(s->N) && !kexpr_has_free(s->K);
}

/* Marks in sp->join the joined weights of f: the temporaries that
 * weight_map()s write, that nothing else writes (at any depth), and
 * that only top-level packs_b() statements read, as their B.  A map that
 * writes one buffer that is not a join makes none of its outputs one; so
 * until nothing changes. */
static int find_joins(Split *sp)
{
    KFunc *f = sp->f;
    unsigned char *j = sp->join;
    for (int i = 0; i < f->body.n; i++) {
        const KStmt *s = f->body.stmts[i];
        if (weight_map(f, s))
            for (int k = 0; k < s->nout; k++) j[s->out[k].at.v.buf->id] = 1;
    }
    int changed = 1;
    while (changed) {
        changed = 0;
        /* every access of a candidate but its weight maps' writes and the
         * B of a top-level packs_b() disqualifies it */
        KStmt **todo[64]; /* the blocks being walked, outermost first */
        int depth[64], pos[64], n = 1;
        todo[0] = f->body.stmts;
        depth[0] = f->body.n;
        pos[0] = 0;
        while (n > 0) {
            if (pos[n - 1] == depth[n - 1]) {
                n--;
                continue;
            }
            const KStmt *s = todo[n - 1][pos[n - 1]++];
            int top = n == 1;
            if (s->kind == KS_LOOP) {
                if (n == 64) return -1;
                todo[n] = s->body.stmts;
                depth[n] = s->body.n;
                pos[n++] = 0;
                continue;
            }
            int wm = top && weight_map(f, s), map_ok = 1;
            if (wm)
                for (int k = 0; k < s->nout; k++) map_ok &= j[s->out[k].at.v.buf->id];
            KAccessIter it;
            KAccess a;
            for (kir_access_begin(&it, s); kir_access_next(&it, &a);) {
                if (!j[a.buf->id]) continue;
                int ok = (a.role == KACC_MAP_OUT && wm && map_ok) ||
                         (top && packs_b(s) && (a.role == KACC_GEMM_B || a.role == KACC_PACK_SRC));
                if (!ok) {
                    j[a.buf->id] = 0;
                    changed = 1;
                }
            }
        }
    }
    int any = 0;
    for (int i = 0; i < f->nbufs; i++) any |= j[i];
    return any;
}

static int is_join(const Split *sp, const KBuf *b) { return b->id < sp->f->nbufs && sp->join[b->id]; }

static KBuf *find_pack(const Split *sp, const char *key)
{
    for (int i = 0; i < sp->npacks; i++)
        if (!strcmp(sp->pack[i]->ext_name, key)) return sp->pack[i];
    return NULL;
}

/* prep's argument for f's weight w, made on first use. */
static KBuf *prep_weight(Split *sp, const KBuf *w)
{
    KFunc *p = sp->prep;
    for (int i = 0; i < p->nargs; i++)
        if (!strcmp(p->args[i]->ext_name, w->ext_name)) return p->args[i];
    KBuf *b = kfunc_buf(p, w->name, IR_F32, kexpr_const(p, kexpr_eval(w->size, NULL, NULL)), KB_ARG);
    b->ext_name = kfunc_strdup(p, w->ext_name);
    b->what = w->what ? kfunc_strdup(p, w->what) : NULL;
    return b;
}

/* The pack of s's op(B) into a new result of prep, named key; pb is f's
 * buffer for it (name, comment). */
static void prep_pack(Split *sp, const KStmt *s, const KBuf *pb, const char *key)
{
    KFunc *p = sp->prep;
    int64_t N = kexpr_eval(s->N, NULL, NULL), K = kexpr_eval(s->K, NULL, NULL);
    const KExpr *n = kexpr_const(p, N), *k = kexpr_const(p, K);
    KBuf *r = kfunc_buf(p, pb->name, IR_F32, kexpr_packed_b_floats(p, n, k), KB_RESULT);
    r->ext_name = kfunc_strdup(p, key);
    r->what = pb->what ? kfunc_strdup(p, pb->what) : NULL;
    KStmt *pk = kblock_add(p, &p->body, KS_PACK_B, s->origin ? kfunc_strdup(p, s->origin) : NULL);
    pk->transb = s->transb;
    pk->N = n;
    pk->K = k;
    KBuf *from = is_join(sp, s->B.buf) ? sp->join_res[s->B.buf->id] : prep_weight(sp, s->B.buf);
    pk->B = (KView){from, kexpr_const(p, kexpr_eval(s->B.off, NULL, NULL))};
    pk->ldb = kexpr_const(p, kexpr_eval(s->ldb, NULL, NULL));
    pk->C = (KView){r, kexpr_const(p, 0)};
}

/* Makes b, a buffer of f, its next argument: a pack the caller keeps. */
static void to_prepared_arg(Split *sp, KBuf *b, const char *key)
{
    KFunc *f = sp->f;
    KBuf **q = realloc(f->args, (size_t)(f->nargs + 1) * sizeof *q);
    KBuf **r = realloc(sp->pack, (size_t)(sp->npacks + 1) * sizeof *r);
    if (q) f->args = q;
    if (r) sp->pack = r;
    if (!q || !r) {
        fprintf(stderr, "rnnc: out of memory\n");
        abort();
    }
    b->kind = KB_ARG;
    b->index = f->nargs;
    b->ext_name = key;
    b->offset = NULL;
    b->prepared = 1;
    f->args[f->nargs++] = b;
    sp->pack[sp->npacks++] = b;
}

/* The prepare function's result holding joined weights j, made (and j
 * made f's prepared argument) on first use. */
static KBuf *join_result(Split *sp, KBuf *j)
{
    if (sp->join_res[j->id]) return sp->join_res[j->id];
    KFunc *p = sp->prep;
    char key[512];
    snprintf(key, sizeof key, "join %s (%s) %lld floats", j->name, j->what ? j->what : "",
             (long long)kexpr_eval(j->size, NULL, NULL));
    KBuf *r = kfunc_buf(p, j->name, IR_F32, kexpr_const(p, kexpr_eval(j->size, NULL, NULL)), KB_RESULT);
    r->ext_name = kfunc_strdup(p, key);
    r->what = j->what ? kfunc_strdup(p, j->what) : NULL;
    to_prepared_arg(sp, j, kfunc_strdup(sp->f, key));
    return sp->join_res[j->id] = r;
}

/* A fixed view of f's as one of p's, onto buffer b. */
static KStrided copy_strided(KFunc *p, const KStrided *v, int rank, KBuf *b)
{
    KStrided c = {.v = {b, kexpr_const(p, kexpr_eval(v->v.off, NULL, NULL))}};
    for (int d = 0; d < rank; d++) c.stride[d] = kexpr_const(p, kexpr_eval(v->stride[d], NULL, NULL));
    return c;
}

/* A weight_map() of f writing joined weights: the same map in the
 * prepare function, reading its arguments and writing its results. */
static void move_map(Split *sp, const KStmt *s)
{
    KFunc *p = sp->prep;
    KBuf *out[64];
    for (int i = 0; i < s->nout && i < 64; i++) out[i] = join_result(sp, s->out[i].at.v.buf);
    KStmt *m = kblock_add(p, &p->body, KS_MAP, s->origin ? kfunc_strdup(p, s->origin) : NULL);
    m->rank = s->rank;
    for (int d = 0; d < s->rank; d++) m->dims[d] = kexpr_const(p, kexpr_eval(s->dims[d], NULL, NULL));
    m->nin = s->nin;
    m->in = kfunc_alloc(p, sizeof *m->in * (size_t)(s->nin ? s->nin : 1));
    for (int i = 0; i < s->nin; i++) m->in[i] = copy_strided(p, &s->in[i], s->rank, prep_weight(sp, s->in[i].v.buf));
    m->nnodes = s->nnodes;
    m->nodes = kfunc_alloc(p, sizeof *m->nodes * (size_t)(s->nnodes ? s->nnodes : 1));
    memcpy(m->nodes, s->nodes, sizeof *m->nodes * (size_t)s->nnodes); /* no KM_EXPR: nothing of f's */
    m->nout = s->nout;
    m->out = kfunc_alloc(p, sizeof *m->out * (size_t)s->nout);
    for (int i = 0; i < s->nout; i++)
        m->out[i] = (KMapOut){copy_strided(p, &s->out[i].at, s->rank, out[i]), s->out[i].node, 0};
}

/* Every GEMM of block b (recursively) reading the pack `from` reads `to`. */
static void redirect(KBlock *b, const KBuf *from, KBuf *to)
{
    for (int i = 0; i < b->n; i++) {
        KStmt *s = b->stmts[i];
        if (s->kind == KS_LOOP) redirect(&s->body, from, to);
        if (s->kind == KS_GEMM && s->packed_b && s->B.buf == from) s->B.buf = to;
    }
}

/* A top-level pack_b of a weight: its temporary becomes a prepared
 * argument (or, when another has the same key, its readers read that
 * one and the temporary is left unused); the statement goes. */
static void hoist_pack(Split *sp, KStmt *s)
{
    const char *key = pack_key(sp->f, s);
    KBuf *have = find_pack(sp, key);
    if (have) {
        redirect(&sp->f->body, s->C.buf, have);
        return;
    }
    prep_pack(sp, s, s->C.buf, key);
    to_prepared_arg(sp, s->C.buf, key);
}

/* A top-level GEMM of a weight, B not packed: it reads a prepared pack. */
static void pack_gemm(Split *sp, KStmt *g)
{
    KFunc *f = sp->f;
    const char *key = pack_key(f, g);
    KBuf *pb = find_pack(sp, key);
    if (!pb) {
        char name[160], what[256];
        snprintf(name, sizeof name, "%s_pk", g->B.buf->name);
        snprintf(what, sizeof what, "%s%s packed by the prepare function", g->B.buf->name, g->transb ? "^T" : "");
        pb = kfunc_buf(f, name, IR_F32, kexpr_packed_b_floats(f, g->N, g->K), KB_TEMP);
        pb->what = kfunc_strdup(f, what);
        prep_pack(sp, g, pb, key);
        to_prepared_arg(sp, pb, key);
    }
    g->packed_b = 1;
    g->B = (KView){pb, kexpr_const(f, 0)};
    g->transb = 0;
    g->ldb = kexpr_const(f, 0); /* unused with packed_b (kir.h) */
}

/* Whether every output of weight map s is joined weights. */
static int joins_only(const Split *sp, const KStmt *s)
{
    if (!weight_map(sp->f, s) || s->nout > 64) return 0;
    for (int k = 0; k < s->nout; k++)
        if (!is_join(sp, s->out[k].at.v.buf)) return 0;
    return 1;
}

KFunc *kprepare_split(KFunc *f)
{
    Split sp = {.f = f};
    sp.join = calloc((size_t)f->nbufs + 1, 1);
    sp.join_res = calloc((size_t)f->nbufs + 1, sizeof *sp.join_res);
    if (!sp.join || !sp.join_res) {
        fprintf(stderr, "rnnc: out of memory\n");
        abort();
    }
    int any = find_joins(&sp);
    if (any < 0) { /* nested deeper than find_joins walks: no joins */
        memset(sp.join, 0, (size_t)f->nbufs);
        any = 0;
    }
    for (int i = 0; i < f->body.n && !any; i++) any = kprepare_once(f, f->body.stmts[i]);
    if (!any) {
        free(sp.join);
        free(sp.join_res);
        return NULL;
    }
    char name[160];
    snprintf(name, sizeof name, "%s_prepare", f->name ? f->name : "f");
    sp.prep = kfunc_new(name, f->module);
    KBlock *b = &f->body;
    /* which maps move, decided before the first move makes its joins
     * arguments (no longer temporaries, as weight_map() wants) */
    unsigned char *moves = calloc((size_t)b->n + 1, 1);
    if (!moves) {
        fprintf(stderr, "rnnc: out of memory\n");
        abort();
    }
    for (int i = 0; i < b->n; i++) moves[i] = (unsigned char)joins_only(&sp, b->stmts[i]);
    int keep = 0;
    for (int i = 0; i < b->n; i++) {
        KStmt *s = b->stmts[i];
        if (moves[i]) {
            move_map(&sp, s);
            continue;
        }
        if (kprepare_once(f, s) || (packs_b(s) && is_join(&sp, s->B.buf))) {
            if (s->kind == KS_PACK_B) {
                hoist_pack(&sp, s);
                continue; /* the statement leaves f (its memory is f's arena's) */
            }
            pack_gemm(&sp, s);
        }
        b->stmts[keep++] = s;
    }
    b->n = keep;
    free(moves);
    free(sp.pack);
    free(sp.join);
    free(sp.join_res);
    return sp.prep;
}
