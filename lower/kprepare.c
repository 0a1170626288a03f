/* kprepare.c - the weights' packs moved into a prepare function
 * (kprepare.h). */
#include "lower/kprepare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
} Split;

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
    pk->B = (KView){prep_weight(sp, s->B.buf), kexpr_const(p, kexpr_eval(s->B.off, NULL, NULL))};
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

KFunc *kprepare_split(KFunc *f)
{
    int any = 0;
    for (int i = 0; i < f->body.n && !any; i++) any = kprepare_once(f, f->body.stmts[i]);
    if (!any) return NULL;
    char name[160];
    snprintf(name, sizeof name, "%s_prepare", f->name ? f->name : "f");
    Split sp = {.f = f, .prep = kfunc_new(name, f->module)};
    KBlock *b = &f->body;
    int keep = 0;
    for (int i = 0; i < b->n; i++) {
        KStmt *s = b->stmts[i];
        if (kprepare_once(f, s)) {
            if (s->kind == KS_PACK_B) {
                hoist_pack(&sp, s);
                continue; /* the statement leaves f (its memory is f's arena's) */
            }
            pack_gemm(&sp, s);
        }
        b->stmts[keep++] = s;
    }
    b->n = keep;
    free(sp.pack);
    return sp.prep;
}
