/* lower_ops.c - lowering of the graph-IR ops but scan and those that
 * become kernels (lower_kernels.c): views for the ops that only
 * re-address memory, one KS_MAP per element-wise op, reductions as
 * accumulating maps, copies for concat, stack and seq_reverse.
 *
 * Numerics: a map evaluates in float what the interpreter evaluates in
 * double and rounds once per op, so single-node maps agree with it to the
 * rounding of the activation functions; reductions (reduce_to, sumsq,
 * mse, seq_mean) accumulate in float (kir.h) where the interpreter sums in
 * double, which differs by the usual float summation error. */
#include <stdio.h>

#include "ir/op_eval.h"
#include "lower/lower_int.h"

static Place *P(Lower *L, const IrValue *v) { return &L->pl[v->id]; }

/* A constant result: no memory, unless the value has a destination. */
static void set_const(Lower *L, const IrValue *v, double f, const char *org)
{
    L->cblk[v->id] = L->cur;
    if (L->dest[v->id].kind == PL_VIEW) {
        Place o = lw_out(L, v, org);
        MapB mb;
        mb_init(&mb, L, &v->type);
        mb_out(&mb, &o, &v->type, mb_const(&mb, f), 0);
        mb_emit(&mb, org);
        return;
    }
    L->pl[v->id] = (Place){.kind = PL_CONST, .f = f};
}

static void fill(Lower *L, const Place *o, const IrType *t, double f, const char *org)
{
    MapB mb;
    mb_init(&mb, L, t);
    mb_out(&mb, o, t, mb_const(&mb, f), 0);
    mb_emit(&mb, org);
}

/* ---- element-wise ------------------------------------------------------------ */

/* The map op of an element-wise op (ir/ops.def's last column), or of
 * relu_grad, the one other op that is a single map node. */
static KMapOp map_op(IrOpKind k)
{
    static const KMapOp map[IR_NUM_OPS] = {
#define IR_UNARY(NAME, name, fn, kmap) [IR_##NAME] = KM_##kmap,
#define IR_BINARY(NAME, name, kmap)    [IR_##NAME] = KM_##kmap,
#define IR_OP(NAME, name, min, max, nres)
#include "ir/ops.def"
    };
    if (k == IR_RELU_GRAD) return KM_RELU_GRAD;
    return ir_op_is_elementwise(k) ? map[k] : KM_NUM_KINDS;
}

/* The interpreter's value of an op on constants, rounded as it rounds. */
static double fold(IrOpKind k, double a, double b)
{
    double r = k == IR_RELU_GRAD ? (b > 0 ? a : 0.0) : ir_op_eval(k, a, b);
    return (double)(float)r;
}

static int elementwise(Lower *L, const IrOp *op, const char *org)
{
    const IrValue *r = op->results[0];
    int all_const = 1;
    for (int i = 0; i < op->noperands; i++) all_const &= P(L, op->operands[i])->kind == PL_CONST;
    if (all_const) {
        double b = op->noperands > 1 ? P(L, op->operands[1])->f : 0;
        set_const(L, r, fold(op->kind, P(L, op->operands[0])->f, b), org);
        return 0;
    }
    MapB mb;
    mb_init(&mb, L, &r->type);
    int a = mb_in(&mb, P(L, op->operands[0]), &op->operands[0]->type);
    int b = op->noperands > 1 ? mb_in(&mb, P(L, op->operands[1]), &op->operands[1]->type) : 0;
    int n = mb_op(&mb, map_op(op->kind), a, b);
    Place o = lw_out(L, r, org);
    mb_out(&mb, &o, &r->type, n, 0);
    mb_emit(&mb, org);
    return 0;
}

/* The small formulas of the gradient and training-step ops, one map each. */
static int formula(Lower *L, const IrOp *op, const char *org)
{
    const IrValue *r = op->results[0];
    const IrValue *x = op->operands[0];
    MapB mb;
    mb_init(&mb, L, &r->type);
    int a = mb_in(&mb, P(L, x), &x->type), n;
    switch (op->kind) {
    /* KM_MIN/KM_MAX give their second operand when either is NaN (kir.h):
     * the orders below keep the interpreter's NaN behaviour, a NaN x
     * stays NaN in clamp and a NaN scale is NaN too (x < 1 ? x : 1). */
    case IR_CLAMP: /* max(-bound, min(bound, x)) */
        n = mb_op(&mb, KM_MIN, mb_const(&mb, op->attrs.bound), a);
        n = mb_op(&mb, KM_MAX, mb_const(&mb, -op->attrs.bound), n);
        break;
    case IR_CLIP_SCALE: /* min(bound / (norm + 1e-6), 1) */
        n = mb_op(&mb, KM_ADD, a, mb_const(&mb, 1e-6));
        n = mb_op(&mb, KM_DIV, mb_const(&mb, op->attrs.bound), n);
        n = mb_op(&mb, KM_MIN, n, mb_const(&mb, 1.0));
        break;
    case IR_MSE_GRAD: { /* 2 (y - t) / numel(y) */
        int t = mb_in(&mb, P(L, op->operands[1]), &op->operands[1]->type);
        n = mb_op(&mb, KM_MUL, mb_const(&mb, 2.0), mb_op(&mb, KM_SUB, a, t));
        n = mb_op(&mb, KM_DIV, n, mb_expr(&mb, lw_numel(L, &x->type)));
        break;
    }
    case IR_SEQ_MEAN_GRAD: /* g / T at every step; g aligns with the trailing dims */
        n = mb_op(&mb, KM_DIV, a, mb_expr(&mb, lw_dim(L, r->type.dim[0])));
        break;
    default: return ir_errf(L->err, L->errlen, "lower: internal error: no formula for %s", ir_op_name(op->kind));
    }
    Place o = lw_out(L, r, org);
    mb_out(&mb, &o, &r->type, n, 0);
    mb_emit(&mb, org);
    return 0;
}

/* ---- reductions ----------------------------------------------------------------- */

void lw_accumulate(Lower *L, const Place *o, const IrType *ot, const IrValue *x, int square, const char *org)
{
    MapB mb;
    mb_init(&mb, L, &x->type);
    int a = mb_in(&mb, P(L, x), &x->type);
    if (square) a = mb_op(&mb, KM_MUL, a, a);
    mb_out(&mb, o, ot, a, 1);
    mb_emit(&mb, org);
}

/* A scalar or [...] temporary holding a sum before it is scaled. */
static Place sum_temp(Lower *L, const IrValue *r, const IrType *t)
{
    char what[160];
    snprintf(what, sizeof what, "sum for %s", lw_label(L, r));
    return lw_contig(L, lw_temp(L, NULL, t, what), kexpr_const(L->f, 0), t);
}

/* o = s / n over type t. */
static void scale(Lower *L, const Place *o, const Place *s, const IrType *t, const KExpr *n, const char *org)
{
    MapB mb;
    mb_init(&mb, L, t);
    int q = mb_op(&mb, KM_DIV, mb_in(&mb, s, t), mb_expr(&mb, n));
    mb_out(&mb, o, t, q, 0);
    mb_emit(&mb, org);
}

static int reduction(Lower *L, const IrOp *op, const char *org)
{
    const IrValue *r = op->results[0], *x = op->operands[0];
    switch (op->kind) {
    case IR_REDUCE_TO: {
        Place o = lw_out(L, r, org);
        fill(L, &o, &r->type, 0.0, org);
        lw_accumulate(L, &o, &r->type, x, 0, org);
        return 0;
    }
    case IR_SUMSQ: {
        Place o = lw_out(L, r, org);
        fill(L, &o, &r->type, 0.0, org);
        for (int i = 0; i < op->noperands; i++) lw_accumulate(L, &o, &r->type, op->operands[i], 1, org);
        return 0;
    }
    case IR_MSE: { /* the sum of (y - t)^2, then / numel */
        Place s = sum_temp(L, r, &r->type);
        fill(L, &s, &r->type, 0.0, org);
        MapB mb;
        mb_init(&mb, L, &x->type);
        int d = mb_op(&mb, KM_SUB, mb_in(&mb, P(L, x), &x->type),
                      mb_in(&mb, P(L, op->operands[1]), &op->operands[1]->type));
        mb_out(&mb, &s, &r->type, mb_op(&mb, KM_MUL, d, d), 1);
        mb_emit(&mb, org);
        Place o = lw_out(L, r, org);
        scale(L, &o, &s, &r->type, lw_numel(L, &x->type), org);
        return 0;
    }
    case IR_SEQ_MEAN: { /* the sum over time (dim 0 is missing from the result), then / T */
        Place s = sum_temp(L, r, &r->type);
        fill(L, &s, &r->type, 0.0, org);
        lw_accumulate(L, &s, &r->type, x, 0, org);
        Place o = lw_out(L, r, org);
        scale(L, &o, &s, &r->type, lw_dim(L, x->type.dim[0]), org);
        return 0;
    }
    default: return ir_errf(L->err, L->errlen, "lower: internal error: %s is no reduction", ir_op_name(op->kind));
    }
}

/* ---- shapes ------------------------------------------------------------------------- */

static int lower_shape(Lower *L, const IrOp *op, const char *org)
{
    const IrValue *r = op->results[0], *x = op->operands[0];
    const Place *p = P(L, x);
    int rr = r->type.rank, rx = x->type.rank;
    switch (op->kind) {
    case IR_SLICE:
        L->pl[r->id] = *p;
        if (p->kind == PL_VIEW)
            L->pl[r->id].v.off = kexpr_bin(L->f, KE_ADD, p->v.off,
                                           kexpr_bin(L->f, KE_MUL, kexpr_const(L->f, op->attrs.start), p->st[rx - 1]));
        return 0;
    case IR_INDEX: L->pl[r->id] = lw_row(L, p, kexpr_const(L->f, op->attrs.index), rx); return 0;
    case IR_SEQ_LAST:
        L->pl[r->id] = lw_row(L, p, kexpr_bin(L->f, KE_SUB, lw_dim(L, x->type.dim[0]), kexpr_const(L->f, 1)), rx);
        return 0;
    case IR_BROADCAST: {
        Place b = *p;
        for (int i = 0; p->kind == PL_VIEW && i < rr; i++) {
            int xi = i - (rr - rx);
            b.st[i] = xi < 0 || x->type.dim[xi] == 1 ? kexpr_const(L->f, 0) : p->st[xi];
        }
        L->pl[r->id] = b;
        return 0;
    }
    case IR_RESHAPE:
        if (p->kind == PL_CONST) {
            L->pl[r->id] = *p;
        } else {
            Place c = lw_contig_of(L, x, org);
            L->pl[r->id] = lw_contig(L, c.v.buf, c.v.off, &r->type);
        }
        return 0;
    case IR_SEQ_REVERSE: {
        if (p->kind == PL_CONST) {
            L->pl[r->id] = *p;
            return 0;
        }
        /* No negative strides: one copy per step, step t from step T-1-t. */
        Place o = lw_out(L, r, org);
        const KExpr *T = lw_dim(L, x->type.dim[0]);
        KStmt *loop = kblock_add(L->f, L->cur, KS_LOOP, org);
        loop->count = T;
        const KExpr *t = kexpr_var(L->f, loop->var);
        const KExpr *back = kexpr_bin(L->f, KE_SUB, kexpr_bin(L->f, KE_SUB, T, kexpr_const(L->f, 1)), t);
        IrType step = x->type;
        for (int d = 0; d + 1 < rx; d++) step.dim[d] = step.dim[d + 1];
        step.rank--;
        Place dst = lw_row(L, &o, t, rx), src = lw_row(L, p, back, rx);
        KBlock *save = L->cur;
        L->cur = &loop->body;
        lw_copy(L, &dst, &src, &step, org);
        L->cur = save;
        return 0;
    }
    case IR_CONCAT:
    case IR_STACK: {
        /* a concat whose parts were placed in it (lower.c) has its place already */
        Place o = op->kind == IR_CONCAT && L->pl[r->id].kind == PL_VIEW ? L->pl[r->id] : lw_out(L, r, org);
        const KExpr *col = kexpr_const(L->f, 0);
        for (int i = 0; i < op->noperands; i++) {
            const IrValue *a = op->operands[i];
            Place dst = o;
            if (op->kind == IR_STACK) {
                dst = lw_row(L, &o, kexpr_const(L->f, i), rr);
            } else {
                dst.v.off = kexpr_bin(L->f, KE_ADD, o.v.off, kexpr_bin(L->f, KE_MUL, col, o.st[rr - 1]));
                col = kexpr_bin(L->f, KE_ADD, col, lw_last(L, &a->type));
                if (L->dest_used[a->id] && lw_same_view(&dst, P(L, a), rr)) continue; /* written in place */
            }
            lw_copy(L, &dst, P(L, a), &a->type, org);
        }
        return 0;
    }
    case IR_SEQ_LAST_GRAD: { /* zeros, and g at step T-1 */
        Place o = lw_out(L, r, org);
        fill(L, &o, &r->type, 0.0, org);
        const KExpr *T1 = kexpr_bin(L->f, KE_SUB, lw_dim(L, r->type.dim[0]), kexpr_const(L->f, 1));
        Place row = lw_row(L, &o, T1, rr);
        lw_copy(L, &row, p, &x->type, org);
        return 0;
    }
    default: return ir_errf(L->err, L->errlen, "lower: internal error: %s is no shape op", ir_op_name(op->kind));
    }
}

/* ---- dispatch ------------------------------------------------------------------------- */

int lower_op(Lower *L, const IrOp *op)
{
    const char *org = lw_origin(L, op);
    switch (op->kind) {
    case IR_CONST: set_const(L, op->results[0], op->attrs.f, org); return 0;
#define IR_BINARY(NAME, name, kmap)    case IR_##NAME:
#define IR_UNARY(NAME, name, fn, kmap) case IR_##NAME:
#define IR_OP(NAME, name, min, max, nres)
#include "ir/ops.def"
    case IR_RELU_GRAD:
        if (op->kind == IR_ADD && (L->deferred[op->operands[0]->id] || L->deferred[op->operands[1]->id]))
            return lower_fused_acc(L, op, org);
        return elementwise(L, op, org);
    case IR_CLAMP:
    case IR_CLIP_SCALE:
    case IR_MSE_GRAD:
    case IR_SEQ_MEAN_GRAD: return formula(L, op, org);
    case IR_REDUCE_TO:
        if (lw_acc_carry(L, op->results[0]) >= 0) {
            L->deferred[op->results[0]->id] = 1;
            return 0;
        }
        return reduction(L, op, org);
    case IR_SUMSQ:
    case IR_MSE:
    case IR_SEQ_MEAN: return reduction(L, op, org);
    case IR_LINEAR_WGRAD:
        if (lw_acc_carry(L, op->results[0]) >= 0) {
            L->deferred[op->results[0]->id] = 1;
            return 0;
        }
        return lower_gemm(L, op, org);
    case IR_LINEAR:
    case IR_MATMUL_NN: return lower_gemm(L, op, org);
    case IR_SOFTMAX:
    case IR_LAYERNORM:
    case IR_LAYERNORM_GRAD:
    case IR_CROSS_ENTROPY:
    case IR_CROSS_ENTROPY_GRAD:
    case IR_EMBEDDING:
    case IR_EMBEDDING_GRAD:
    case IR_DROPOUT_MASK:
    case IR_SGD_UPDATE:
    case IR_ADAM_UPDATE: return lower_call(L, op, org);
    case IR_DROPOUT: /* passes/dropout.c rewrites it in every recipe */
        return ir_errf(L->err, L->errlen, "lower: internal error: a dropout the recipe did not rewrite");
    case IR_SLICE:
    case IR_INDEX:
    case IR_SEQ_LAST:
    case IR_BROADCAST:
    case IR_SEQ_REVERSE:
        if (op->noperands > 1) return lower_call(L, op, org); /* within lengths */
        return lower_shape(L, op, org);
    case IR_RESHAPE:
    case IR_CONCAT:
    case IR_STACK:
    case IR_SEQ_LAST_GRAD: return lower_shape(L, op, org);
    case IR_SCAN: return lower_scan(L, op);
    case IR_NUM_OPS: break;
    }
    return ir_errf(L->err, L->errlen, "lower: op %s is not lowered yet", ir_op_name(op->kind));
}
