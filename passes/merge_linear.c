/* merge_linear.c - products that share an input become one GEMM
 * (merge_linear.h). */
#include "passes/merge_linear.h"

#include <stdio.h>

enum { MAX_GROUP = 64 };

/* Whether op is a linear this pass may merge: its weight a parameter. */
static int mergeable(const IrOp *op)
{
    return op->kind == IR_LINEAR && op->operands[1]->kind == IR_VAL_PARAM && op->operands[1]->type.rank == 2;
}

/* The linears of b after the one at index first (included) that merge
 * with it: the same input, weights of the same K, each weight once. */
static int group_of(const IrBlock *b, int first, IrOp **g)
{
    const IrOp *a = b->ops[first];
    int n = 0;
    for (int i = first; i < b->nops && n < MAX_GROUP; i++) {
        IrOp *op = b->ops[i];
        if (!mergeable(op) || op->operands[0] != a->operands[0] ||
            op->operands[1]->type.dim[1] != a->operands[1]->type.dim[1])
            continue;
        int dup = 0;
        for (int k = 0; k < n; k++) dup |= g[k]->operands[1] == op->operands[1];
        if (!dup) g[n++] = op;
    }
    return n;
}

static IrValue *reshape(IrModule *m, IrBlock *b, IrValue *x, int rank, int64_t d0, int64_t d1)
{
    IrType t = {.dtype = IR_F32, .rank = rank, .dim = {d0, d1}};
    return ir_op(m, b, IR_RESHAPE, &x, 1, &t, 1)->results[0];
}

/* Appends to pre (the block before the scan) the joined weights, and to
 * nb the one linear and a slice for each of the n linears in g, pointing
 * every use of theirs at its slice.  The weights are joined outside the
 * loop, not only after hoist: autodiff would save a per-step copy of
 * anything computed inside it for the backward pass. */
static void merge(IrModule *m, IrBlock *body, IrBlock *pre, IrBlock *nb, IrOp **g, int n)
{
    int64_t K = g[0]->operands[1]->type.dim[1], N = 0;
    IrValue *flat[MAX_GROUP];
    for (int k = 0; k < n; k++) {
        int64_t Nk = g[k]->operands[1]->type.dim[0];
        flat[k] = reshape(m, pre, g[k]->operands[1], 1, Nk * K, 0);
        flat[k]->def->origin = g[k]->origin;
        N += Nk;
    }
    IrValue *joined =
        ir_op(m, pre, IR_CONCAT, flat, n, &(IrType){.dtype = IR_F32, .rank = 1, .dim = {N * K}}, 1)->results[0];
    IrValue *w = reshape(m, pre, joined, 2, N, K);
    IrValue *ops[2] = {g[0]->operands[0], w};
    IrType yt = g[0]->results[0]->type;
    yt.dim[yt.rank - 1] = N;
    IrValue *y = ir_op(m, nb, IR_LINEAR, ops, 2, &yt, 1)->results[0];
    joined->def->origin = w->def->origin = y->def->origin = g[0]->origin;
    int64_t start = 0;
    for (int k = 0; k < n; k++) {
        int64_t Nk = g[k]->operands[1]->type.dim[0];
        IrValue *s = ir_slice(m, nb, y, start, Nk);
        s->def->origin = g[k]->origin;
        s->name = g[k]->results[0]->name;
        ir_replace_uses(body, g[k]->results[0], s);
        start += Nk;
    }
}

/* Merges the groups of block b when it is a scan body (pre: where the
 * joined weights go, before the scan), and those of the scans in it;
 * returns the linears merged away. */
static int merge_block(IrModule *m, IrBlock *b, IrBlock *pre)
{
    int merged = 0;
    IrBlock *nb = ir_alloc(m, sizeof *nb);
    unsigned char *gone = ir_alloc(m, (size_t)(b->nops ? b->nops : 1));
    IrOp *g[MAX_GROUP];
    for (int i = 0; i < b->nops; i++) {
        IrOp *op = b->ops[i];
        if (gone[i]) continue;
        if (op->body) {
            IrBlock *before = ir_alloc(m, sizeof *before);
            merged += merge_block(m, op->body, before);
            for (int k = 0; k < before->nops; k++) ir_block_append(m, nb, before->ops[k]);
            ir_block_append(m, nb, op);
            continue;
        }
        int n = pre && mergeable(op) ? group_of(b, i, g) : 0; /* the top level runs once: nothing to gain */
        if (n < 2) {
            ir_block_append(m, nb, op);
            continue;
        }
        for (int k = 0; k < n; k++)
            for (int j = i; j < b->nops; j++)
                if (b->ops[j] == g[k]) gone[j] = 1;
        merge(m, b, pre, nb, g, n);
        merged += n - 1;
    }
    ir_block_take_ops(b, nb);
    return merged;
}

int merge_linear(IrModule *m, char *err, size_t errlen)
{
    int n = merge_block(m, m->body, NULL);
    if (n && ir_verify(m, "merge_linear", stderr))
        return ir_errf(err, errlen, "internal error: the module does not verify after merge_linear (see above)");
    return n;
}
