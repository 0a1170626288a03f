/* fold.c - sums of zero-padded concats become one concat (fold.h). */
#include "passes/fold.h"

#include <stdio.h>
#include <stdlib.h>

#define FOLD_MAX_PIECES 64

typedef struct Piece {
    int64_t start, len; /* columns of the last axis                  */
    IrValue *v;         /* NULL: zeros                                */
} Piece;

static int is_zero(const IrValue *v)
{
    return v->kind == IR_VAL_OP && v->def->kind == IR_CONST && v->def->attrs.f == 0.0;
}

/* The pieces of v along its last axis: a constant 0 is one zero piece, a
 * concat one piece per operand.  Returns the count, or -1 if v is neither
 * (or its pieces do not all have v's full shape but for the last dim). */
static int pieces_of(const IrValue *v, Piece *p)
{
    int last = v->type.rank - 1;
    if (last < 0 || v->type.dim[last] < 0) return -1;
    if (is_zero(v)) {
        p[0] = (Piece){0, v->type.dim[last], NULL};
        return 1;
    }
    if (v->kind != IR_VAL_OP || v->def->kind != IR_CONCAT || v->def->noperands > FOLD_MAX_PIECES) return -1;
    int64_t at = 0;
    for (int i = 0; i < v->def->noperands; i++) {
        IrValue *o = v->def->operands[i];
        if (o->type.rank != v->type.rank) return -1;
        p[i] = (Piece){at, o->type.dim[last], is_zero(o) ? NULL : o};
        at += o->type.dim[last];
    }
    return v->def->noperands;
}

static int by_start(const void *a, const void *b)
{
    const Piece *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The non-zero pieces of a and b if none overlaps a non-zero piece of the
 * other, sorted by column; returns their count or -1. */
static int merge(const IrValue *a, const IrValue *b, Piece *out)
{
    Piece pa[FOLD_MAX_PIECES], pb[FOLD_MAX_PIECES];
    int na = pieces_of(a, pa), nb = pieces_of(b, pb), n = 0;
    if (na < 0 || nb < 0) return -1;
    for (int i = 0; i < na; i++)
        if (pa[i].v) out[n++] = pa[i];
    for (int i = 0; i < nb; i++)
        if (pb[i].v) out[n++] = pb[i];
    qsort(out, (size_t)n, sizeof *out, by_start);
    for (int i = 1; i < n; i++)
        if (out[i - 1].start + out[i - 1].len > out[i].start) return -1;
    return n;
}

/* Turns the add `op` into a concat of the pieces, zero runs made as new
 * constants appended to `dst` (the block being rebuilt, before op). */
static void rewrite(IrModule *m, IrBlock *dst, IrOp *op, const Piece *p, int n)
{
    const IrType *rt = &op->results[0]->type;
    int last = rt->rank - 1;
    IrValue **ops = ir_alloc(m, (size_t)(2 * n + 1) * sizeof *ops);
    int k = 0;
    int64_t at = 0;
    for (int i = 0; i <= n; i++) {
        int64_t end = i < n ? p[i].start : rt->dim[last];
        if (end > at) { /* a zero run */
            IrType t = *rt;
            t.dim[last] = end - at;
            IrValue *z = ir_const(m, dst, 0.0, t);
            z->def->origin = op->origin;
            ops[k++] = z;
        }
        if (i < n) {
            ops[k++] = p[i].v;
            at = p[i].start + p[i].len;
        }
    }
    op->kind = IR_CONCAT;
    op->operands = ops;
    op->noperands = k;
}

static int fold_block(IrModule *m, IrBlock *b)
{
    int count = 0;
    IrBlock *nb = ir_alloc(m, sizeof *nb);
    IrOp **ops = b->ops;
    int nops = b->nops;
    for (int i = 0; i < nops; i++) {
        IrOp *op = ops[i];
        if (op->body) count += fold_block(m, op->body);
        Piece p[2 * FOLD_MAX_PIECES];
        int n;
        if (op->kind == IR_ADD && op->noperands == 2 && ir_type_eq(op->operands[0]->type, op->results[0]->type) &&
            ir_type_eq(op->operands[1]->type, op->results[0]->type) &&
            (n = merge(op->operands[0], op->operands[1], p)) > 0 && n <= FOLD_MAX_PIECES) {
            rewrite(m, nb, op, p, n);
            count++;
        }
        ir_block_append(m, nb, op);
    }
    ir_block_take_ops(b, nb);
    return count;
}

int fold(IrModule *m, char *err, size_t errlen)
{
    int count = fold_block(m, m->body);
    if (ir_verify(m, "fold", stderr))
        return ir_errf(err, errlen, "internal error: the module after fold does not verify (see above)");
    return count;
}
