/* kir_walk.c - a statement's reads and writes (kir_walk.h). */
#include "kir/kir_walk.h"

#include <string.h>

/* The unit stride of a matrix's rows and of a contiguous block, and the
 * factor 1 of a call's element count: static, since the walker builds no
 * expressions (it reads a const statement and has no KFunc to allocate
 * in). */
static const KExpr one = {.kind = KE_CONST, .value = 1};

void kir_access_begin(KAccessIter *it, const KStmt *s)
{
    memset(it, 0, sizeof *it);
    it->s = s;
    if (s->kind == KS_CALL) it->sig_ok = !kir_call_sig(s->call, &it->sig);
}

static void strided(KAccess *a, const KStmt *s, const KStrided *v)
{
    a->buf = v->v.buf;
    a->off = v->v.off;
    a->rank = s->rank >= 0 && s->rank <= KIR_MAX_RANK ? s->rank : 0;
    for (int d = 0; d < a->rank; d++) {
        a->dim[d] = s->dims[d];
        a->stride[d] = v->stride[d];
    }
}

/* A row-major matrix of `rows` x `cols` with leading dimension ld. */
static void matrix(KAccess *a, const KView *v, const KExpr *rows, const KExpr *cols, const KExpr *ld)
{
    a->buf = v->buf;
    a->off = v->off;
    a->rank = 2;
    a->dim[0] = rows;
    a->dim[1] = cols;
    a->stride[0] = ld;
    a->stride[1] = &one;
}

/* B of a gemm or a pack_b as stored: op(B) is K x N. */
static void stored_b(KAccess *a, const KStmt *s)
{
    matrix(a, &s->B, s->transb ? s->N : s->K, s->transb ? s->K : s->N, s->ldb);
}

static void pack(KAccess *a, const KView *v)
{
    a->buf = v->buf;
    a->off = v->off;
    a->pack = 1;
}

/* Call pointer i: its calls.def count as a contiguous ints[f1] x ints[f2]
 * block; a pointer the signature does not know is read, with no extent. */
static void call_ptr(KAccess *a, const KAccessIter *it, int i)
{
    const KStmt *s = it->s;
    a->role = KACC_CALL_PTR;
    a->index = i;
    a->buf = s->ptrs[i].buf;
    a->off = s->ptrs[i].off;
    a->arg = it->sig_ok && i < it->sig.nptrs ? it->sig.ptr_arg[i] : NULL;
    a->mode = a->arg && a->arg->write ? KACC_WRITE : KACC_READ;
    if (!a->arg) return;
    const KExpr *n1 = a->arg->f1 >= 0 ? s->ints[(int)a->arg->f1] : &one;
    const KExpr *n2 = a->arg->f2 >= 0 ? s->ints[(int)a->arg->f2] : &one;
    a->rank = 2;
    a->dim[0] = n1;
    a->dim[1] = n2;
    a->stride[0] = n2;
    a->stride[1] = &one;
}

int kir_access_next(KAccessIter *it, KAccess *a)
{
    const KStmt *s = it->s;
    int k = it->pos++;
    memset(a, 0, sizeof *a);
    switch (s->kind) {
    case KS_MAP:
        if (k < s->nin) {
            a->role = KACC_MAP_IN;
            a->index = k;
            a->mode = KACC_READ;
            strided(a, s, &s->in[k]);
            return 1;
        }
        k -= s->nin;
        if (k < s->nout) {
            a->role = KACC_MAP_OUT;
            a->index = k;
            a->mode = s->out[k].accumulate ? KACC_ACCUM : KACC_WRITE;
            strided(a, s, &s->out[k].at);
            return 1;
        }
        return 0;
    case KS_GEMM:
        switch (k) {
        case 0:
            a->role = KACC_GEMM_A;
            a->mode = KACC_READ;
            matrix(a, &s->A, s->transa ? s->K : s->M, s->transa ? s->M : s->K, s->lda);
            return 1;
        case 1:
            a->role = KACC_GEMM_B;
            a->mode = KACC_READ;
            if (s->packed_b)
                pack(a, &s->B);
            else
                stored_b(a, s);
            return 1;
        case 2:
            a->role = KACC_GEMM_C;
            a->mode = s->beta != 0 ? KACC_ACCUM : KACC_WRITE;
            matrix(a, &s->C, s->M, s->N, s->ldc);
            return 1;
        default: return 0;
        }
    case KS_PACK_B:
        switch (k) {
        case 0:
            a->role = KACC_PACK_SRC;
            a->mode = KACC_READ;
            stored_b(a, s);
            return 1;
        case 1:
            a->role = KACC_PACK_DST;
            a->mode = KACC_WRITE;
            pack(a, &s->C);
            return 1;
        default: return 0;
        }
    case KS_CALL:
        if (k >= s->nptrs || k >= KIR_CALL_MAX_PTRS) return 0;
        call_ptr(a, it, k);
        return 1;
    case KS_LOOP:
    default: return 0;
    }
}
