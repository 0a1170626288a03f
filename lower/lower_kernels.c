/* lower_kernels.c - the graph-IR ops that become kernels: linear,
 * matmul_nn and linear_wgrad as KS_GEMM (with the operands' rows as the
 * GEMM's leading dimensions, copied first only when they are not evenly
 * strided), and softmax, layernorm, cross-entropy, embedding, the
 * dropout mask and the optimizer updates as KS_CALL on contiguous operands (kir/calls.def's argument orders). */
#include "lower/lower_int.h"

/* ---- GEMM ------------------------------------------------------------------------- */

static KStmt *gemm(Lower *L, const char *org, int ta, int tb, const KExpr *M, const KExpr *N, const KExpr *K,
                   const Place *A, const KExpr *lda, const Place *B, const KExpr *ldb, const Place *C, const KExpr *ldc,
                   float beta)
{
    KStmt *s = kblock_add(L->f, L->cur, KS_GEMM, org);
    s->transa = ta;
    s->transb = tb;
    s->M = M;
    s->N = N;
    s->K = K;
    s->alpha = 1.0f;
    s->beta = beta;
    s->A = A->v;
    s->lda = lda;
    s->B = B->v;
    s->ldb = ldb;
    s->C = C->v;
    s->ldc = ldc;
    return s;
}

/* linear_wgrad g[..., N], x[..., K] -> C[N, K] = g^T x (+ C when beta is 1). */
static void wgrad(Lower *L, const IrOp *op, const Place *C, const KExpr *ldc, float beta, const char *org)
{
    const IrValue *g = op->operands[0], *x = op->operands[1];
    const KExpr *lda, *ldb;
    Place gp = lw_rows_of(L, g, &lda, org), xp = lw_rows_of(L, x, &ldb, org);
    gemm(L, org, 1, 0, lw_last(L, &g->type), lw_last(L, &x->type), lw_lead(L, &g->type), &gp, lda, &xp, ldb, C, ldc,
         beta);
}

int lower_gemm(Lower *L, const IrOp *op, const char *org)
{
    const IrValue *r = op->results[0], *a = op->operands[0], *w = op->operands[1];
    const KExpr *lda, *ldb, *ldc;
    if (op->kind == IR_LINEAR_WGRAD) {
        Place o = lw_out_rows(L, r, &ldc, org);
        wgrad(L, op, &o, ldc, 0.0f, org);
        return 0;
    }
    Place ap = lw_rows_of(L, a, &lda, org), wp = lw_rows_of(L, w, &ldb, org);
    Place o = lw_out_rows(L, r, &ldc, org);
    if (op->kind == IR_LINEAR) /* x[rows, K] W[N, K]^T */
        gemm(L, org, 0, 1, lw_lead(L, &a->type), lw_dim(L, w->type.dim[0]), lw_last(L, &a->type), &ap, lda, &wp, ldb,
             &o, ldc, 0.0f);
    else /* matmul_nn: g[rows, N] W[N, K] */
        gemm(L, org, 0, 0, lw_lead(L, &a->type), lw_dim(L, w->type.dim[1]), lw_dim(L, w->type.dim[0]), &ap, lda, &wp,
             ldb, &o, ldc, 0.0f);
    return 0;
}

/* Whether w (a linear_wgrad or reduce_to result) is only read by an
 * `add` with a carried accumulator of the scan being lowered, whose sum
 * is only that carried value's yield: then the sum is accumulated into
 * the carry buffer in place (GEMM beta = 1, or an accumulating map) with
 * no temporary and no copy.  Returns the carried index, or -1. */
int lw_acc_carry(Lower *L, const IrValue *w)
{
    const IrOp *add = L->user[w->id];
    if (!L->scan || L->uses[w->id] != 1 || !add || add->kind != IR_ADD) return -1;
    const IrBlock *body = L->scan->body;
    const IrValue *acc = add->operands[0] == w ? add->operands[1] : add->operands[0];
    const IrValue *sum = add->results[0];
    if (add->parent != body || acc == w || acc->kind != IR_VAL_BLOCK_ARG || acc->block != body) return -1;
    int i = acc->arg_index;
    if (i >= L->scan->attrs.n_carried || L->uses[acc->id] != 1 || L->uses[sum->id] != 1 || body->yields[i] != sum ||
        !ir_type_eq(w->type, sum->type) || !ir_type_eq(acc->type, sum->type))
        return -1;
    return i;
}

/* An add of a deferred wgrad/reduce_to into its accumulator. */
int lower_fused_acc(Lower *L, const IrOp *add, const char *org)
{
    const IrValue *w = L->deferred[add->operands[0]->id] ? add->operands[0] : add->operands[1];
    int i = lw_acc_carry(L, w);
    if (i < 0) return ir_errf(L->err, L->errlen, "lower: internal error: lost an accumulation");
    const IrOp *wop = w->def;
    const Place *C = &L->carry[i];
    if (wop->kind == IR_LINEAR_WGRAD)
        wgrad(L, wop, C, lw_last(L, &w->type), 1.0f, org); /* carries are contiguous */
    else
        lw_accumulate(L, C, &w->type, wop->operands[0], 0, org);
    L->pl[add->results[0]->id] = *C;
    return 0;
}

/* ---- runtime calls ------------------------------------------------------------------ */

static KStmt *call(Lower *L, KCallKind k, const char *org)
{
    KStmt *s = kblock_add(L->f, L->cur, KS_CALL, org);
    s->call = k;
    return s;
}

static void ptr(KStmt *s, const Place *p) { s->ptrs[s->nptrs++] = p->v; }

int lower_call(Lower *L, const IrOp *op, const char *org)
{
    const IrValue *r = op->results[0], *a = op->operands[0];
    Place x = lw_contig_of(L, a, org), o;
    KStmt *s;
    switch (op->kind) {
    case IR_SOFTMAX:
        o = lw_out_contig(L, r, org);
        s = call(L, KC_SOFTMAX, org);
        s->ints[0] = lw_lead(L, &a->type);
        s->ints[1] = lw_last(L, &a->type);
        ptr(s, &x);
        ptr(s, &o);
        return 0;
    case IR_LAYERNORM:
    case IR_LAYERNORM_GRAD: {
        /* layernorm (x); layernorm_grad (g, x): x first, as calls.def */
        Place g = x;
        if (op->kind == IR_LAYERNORM_GRAD) x = lw_contig_of(L, op->operands[1], org);
        o = lw_out_contig(L, r, org);
        s = call(L, op->kind == IR_LAYERNORM ? KC_LAYERNORM : KC_LAYERNORM_GRAD, org);
        s->ints[0] = lw_lead(L, &r->type);
        s->ints[1] = lw_last(L, &r->type);
        ptr(s, &x);
        if (op->kind == IR_LAYERNORM_GRAD) ptr(s, &g);
        ptr(s, &o);
        s->hp[s->nhp++] = op->attrs.eps;
        return 0;
    }
    case IR_CROSS_ENTROPY:
    case IR_CROSS_ENTROPY_GRAD: {
        Place ids = lw_contig_of(L, op->operands[1], org), w = ids;
        int masked = op->noperands > 2; /* the rows' weights: lengths */
        if (masked) w = lw_contig_of(L, op->operands[2], org);
        o = lw_out_contig(L, r, org);
        KCallKind k = op->kind == IR_CROSS_ENTROPY ? (masked ? KC_CROSS_ENTROPY_MASKED : KC_CROSS_ENTROPY)
                                                   : (masked ? KC_CROSS_ENTROPY_MASKED_GRAD : KC_CROSS_ENTROPY_GRAD);
        s = call(L, k, org);
        s->ints[0] = lw_numel(L, &op->operands[1]->type);
        s->ints[1] = lw_last(L, &a->type);
        ptr(s, &x);
        ptr(s, &ids);
        if (masked) ptr(s, &w);
        ptr(s, &o);
        return 0;
    }
    case IR_SEQ_REVERSE: { /* with the mask of lengths */
        Place m = lw_contig_of(L, op->operands[1], org);
        o = lw_out_contig(L, r, org);
        s = call(L, a->type.dtype == IR_I64 ? KC_SEQ_REVERSE_MASKED_IDS : KC_SEQ_REVERSE_MASKED, org);
        const KExpr *T = lw_dim(L, a->type.dim[0]);
        s->ints[0] = T;
        s->ints[1] = kexpr_bin(L->f, KE_DIV, lw_numel(L, &a->type), T);
        s->ints[2] = lw_dim(L, a->type.dim[1]);
        ptr(s, &x);
        ptr(s, &m);
        ptr(s, &o);
        return 0;
    }
    case IR_EMBEDDING:
    case IR_EMBEDDING_GRAD: {
        /* embedding (table, ids); embedding_grad (table, ids, g): the table
         * of the gradient gives only the shape, so x is not read then. */
        const IrValue *ids_v = op->operands[1];
        Place ids = lw_contig_of(L, ids_v, org), g = ids;
        if (op->kind == IR_EMBEDDING_GRAD) g = lw_contig_of(L, op->operands[2], org);
        o = lw_out_contig(L, r, org);
        s = call(L, op->kind == IR_EMBEDDING ? KC_EMBEDDING : KC_EMBEDDING_GRAD, org);
        s->ints[0] = lw_numel(L, &ids_v->type);
        s->ints[1] = lw_dim(L, a->type.dim[1]);
        s->ints[2] = lw_dim(L, a->type.dim[0]);
        if (op->kind == IR_EMBEDDING) ptr(s, &x);
        ptr(s, &ids);
        if (op->kind == IR_EMBEDDING_GRAD) ptr(s, &g);
        ptr(s, &o);
        return 0;
    }
    case IR_DROPOUT_MASK: /* the key, a = operand 0, is x */
        o = lw_out_contig(L, r, org);
        s = call(L, KC_DROPOUT_MASK, org);
        s->ints[0] = lw_numel(L, &r->type);
        s->ints[1] = kexpr_const(L->f, 2);
        s->ints[2] = kexpr_const(L->f, op->attrs.index);
        ptr(s, &x);
        ptr(s, &o);
        s->hp[s->nhp++] = op->attrs.p;
        return 0;
    case IR_SGD_UPDATE:
    case IR_ADAM_UPDATE: {
        Place in[5];
        in[0] = x;
        for (int i = 1; i < op->noperands && i < 5; i++) in[i] = lw_contig_of(L, op->operands[i], org);
        Place outs[3];
        for (int i = 0; i < op->nresults && i < 3; i++) outs[i] = lw_out_contig(L, op->results[i], org);
        s = call(L, op->kind == IR_ADAM_UPDATE ? KC_ADAM : op->noperands == 3 ? KC_SGD_MOMENTUM : KC_SGD, org);
        s->ints[0] = lw_numel(L, &a->type);
        for (int i = 0; i < op->noperands && i < 5; i++) ptr(s, &in[i]);
        for (int i = 0; i < op->nresults && i < 3; i++) ptr(s, &outs[i]);
        const IrAttrs *at = &op->attrs;
        if (op->kind == IR_ADAM_UPDATE) {
            double hp[5] = {at->lr, at->beta1, at->beta2, at->eps, at->weight_decay};
            for (int i = 0; i < 5; i++) s->hp[i] = hp[i];
            s->nhp = 5;
        } else if (op->noperands == 3) {
            s->hp[0] = at->lr, s->hp[1] = at->momentum, s->hp[2] = at->weight_decay;
            s->nhp = 3;
        } else {
            s->hp[0] = at->lr, s->hp[1] = at->weight_decay;
            s->nhp = 2;
        }
        return 0;
    }
    default: return ir_errf(L->err, L->errlen, "lower: internal error: %s is no call", ir_op_name(op->kind));
    }
}
