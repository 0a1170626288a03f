/* lower_scan.c - a top-level scan as one KS_LOOP.
 *
 * Each carried value has a buffer holding its current value (the output's
 * result buffer when the final value is an output): filled from the
 * initial value before the loop, read by the body as its carried argument,
 * and overwritten from the yields at the end of every step.  Each
 * sequence's step t is a view of row t; each stacked output is a [T, ...]
 * buffer whose row t the op defining the step's value writes directly
 * when it can.  Final carried values are views of the carry buffers, which
 * nothing writes after the loop. */
#include <stdio.h>

#include "lower/lower_int.h"

int lower_scan(Lower *L, const IrOp *op)
{
    const IrBlock *body = op->body;
    int nc = op->attrs.n_carried, ns = op->attrs.n_seq_in, no = op->attrs.n_seq_out;
    const char *org = lw_origin(L, op);
    char what[224];
    if (L->scan)
        return ir_errf(L->err, L->errlen,
                       "lower: a scan inside a scan (%s) is not supported: lower runs nested time loops "
                       "only after they are unrolled",
                       org);
    const KExpr *T = ns ? lw_dim(L, op->operands[nc]->type.dim[0]) : kexpr_const(L->f, op->attrs.steps);

    /* carry buffers, filled from the initial values */
    Place *carry = kfunc_alloc(L->f, (size_t)(nc ? nc : 1) * sizeof *carry);
    for (int i = 0; i < nc; i++) {
        const IrValue *res = op->results[i], *init = op->operands[i];
        if (L->dest[res->id].kind == PL_VIEW) {
            carry[i] = L->dest[res->id];
            L->dest_used[res->id] = 1;
        } else {
            snprintf(what, sizeof what, "carried %d of scan %s", i, org);
            carry[i] = lw_contig(L, lw_temp(L, res, &res->type, what), kexpr_const(L->f, 0), &res->type);
        }
        snprintf(what, sizeof what, "init carried %d of %s", i, org);
        lw_copy(L, &carry[i], &L->pl[init->id], &init->type, what);
    }
    Place *stack = kfunc_alloc(L->f, (size_t)(no ? no : 1) * sizeof *stack);
    for (int k = 0; k < no; k++) stack[k] = lw_out(L, op->results[nc + k], org);

    KStmt *loop = kblock_add(L->f, L->cur, KS_LOOP, org);
    loop->count = T;
    loop->reverse = op->attrs.reverse;
    const KExpr *t = kexpr_var(L->f, loop->var);

    for (int i = 0; i < nc; i++) L->pl[body->args[i]->id] = carry[i];
    for (int j = 0; j < ns; j++) {
        const IrValue *seq = op->operands[nc + j];
        L->pl[body->args[nc + j]->id] = lw_row(L, &L->pl[seq->id], t, seq->type.rank);
    }
    /* A step output made by an op of the body is written in its row. */
    for (int k = 0; k < no; k++) {
        const IrValue *y = body->yields[nc + k];
        if (y->kind == IR_VAL_OP && y->def->parent == body && L->dest[y->id].kind == PL_NONE)
            L->dest[y->id] = lw_row(L, &stack[k], t, op->results[nc + k]->type.rank);
    }

    KBlock *save = L->cur;
    L->cur = &loop->body;
    L->scan = op;
    L->carry = carry;
    int rc = lower_block(L, body);
    if (rc) goto done;

    for (int k = 0; k < no; k++) {
        const IrValue *y = body->yields[nc + k];
        Place row = lw_row(L, &stack[k], t, op->results[nc + k]->type.rank);
        if (lw_same_view(&L->pl[y->id], &row, y->type.rank)) continue;
        snprintf(what, sizeof what, "step output %d of %s", k, org);
        lw_copy(L, &row, &L->pl[y->id], &y->type, what);
    }

    /* Next carried values.  A yield computed in the body is in its own
     * temporary and is copied straight in; one that is a view of a carry
     * buffer (a state passed on unchanged, two states that swap) goes
     * through a temporary first, so that no carried value is overwritten
     * while another copy still reads it.  (Writing the yield's op straight
     * into its carry buffer would save the copy when the old value has no
     * reader after that op: done for accumulators, see acc_carry().) */
    Place *src = kfunc_alloc(L->f, (size_t)(nc ? nc : 1) * sizeof *src);
    for (int i = 0; i < nc; i++) {
        const IrValue *y = body->yields[i];
        src[i] = L->pl[y->id];
        if (lw_same_view(&src[i], &carry[i], y->type.rank)) {
            src[i].kind = PL_NONE;
            continue;
        }
        int aliases = 0;
        for (int j = 0; j < nc && src[i].kind == PL_VIEW; j++) aliases |= src[i].v.buf == carry[j].v.buf;
        if (aliases) {
            snprintf(what, sizeof what, "next carried %d of %s", i, org);
            Place tmp = lw_contig(L, lw_temp(L, NULL, &y->type, what), kexpr_const(L->f, 0), &y->type);
            lw_copy(L, &tmp, &src[i], &y->type, what);
            src[i] = tmp;
        }
    }
    for (int i = 0; i < nc; i++) {
        if (src[i].kind == PL_NONE) continue;
        snprintf(what, sizeof what, "next carried %d of %s", i, org);
        lw_copy(L, &carry[i], &src[i], &body->yields[i]->type, what);
    }
    for (int i = 0; i < nc; i++) L->pl[op->results[i]->id] = carry[i];
done:
    L->cur = save;
    L->scan = NULL;
    L->carry = NULL;
    return rc;
}
