/* segment.c - carries recurrent state across calls (see segment.h): the
 * IR half of truncated BPTT and of streaming.
 *
 * Each top-level scan's initial carried value c0 becomes
 *     reset * c0 + (1 - reset) * carry_k
 * built from the ordinary mul/sub/add ops with the rank-0 input `reset`
 * broadcast over c0's shape, and the scan's final carried value becomes an
 * output.  With reset = 1 and a finite carry_k this is exactly c0 in float
 * arithmetic (1 * c0 = c0, 0 * carry = 0, c0 + 0 = c0), so one segment
 * with reset = 1 is the unsegmented program bit for bit; the driver feeds
 * zeros as the carry of a first segment (a NaN carry would poison 0 * NaN).
 *
 * Because carry_k is an input, autodiff gives it no gradient and adds no
 * path into the previous segment: the gradient is truncated at the
 * segment's start.  A learned initial state c0 (a parameter) gets
 * reset * (its gradient), i.e. its gradient only in segments that reset. */
#include "passes/segment.h"

#include <stdio.h>
#include <string.h>

static int has_role(const IrModule *m, IrRole role)
{
    for (int i = 0; i < m->ninputs; i++)
        if (m->inputs[i].role == role) return 1;
    return 0;
}

/* Per example: every carried value leads with the batch (a scan's state
 * [B, ...]), so that reset [B] reshaped to [B, 1, ...] broadcasts over it. */
static int batch_leading(const IrModule *m)
{
    const IrBlock *top = m->body;
    for (int i = 0; i < top->nops; i++) {
        const IrOp *F = top->ops[i];
        if (F->kind != IR_SCAN) continue;
        for (int k = 0; k < F->attrs.n_carried; k++)
            if (F->operands[k]->type.rank < 1 || F->operands[k]->type.dim[0] != IR_DIM_B) return 0;
    }
    return 1;
}

/* reset [B] as [B, 1, ...] of rank `rank`, and 1 - that: made once for
 * each rank (r[rank], k[rank]), before the first scan that needs them. */
static void reset_of_rank(IrModule *m, IrBlock *nb, IrValue *reset, int rank, IrValue **r, IrValue **k)
{
    if (r[rank]) return;
    r[rank] = reset;
    if (rank > reset->type.rank) {
        IrType t = reset->type;
        for (int d = t.rank; d < rank; d++) t.dim[d] = 1;
        t.rank = rank;
        r[rank] = ir_op(m, nb, IR_RESHAPE, &reset, 1, &t, 1)->results[0];
    }
    IrType scalar = {.dtype = IR_F32, .rank = 0};
    k[rank] = ir_op2(m, nb, IR_SUB, ir_const(m, nb, 1.0, scalar), r[rank]);
}

int segment_carry(IrModule *m, char *err, size_t errlen) { return segment_carry_ex(m, 0, err, errlen); }

int segment_carry_ex(IrModule *m, int per_example, char *err, size_t errlen)
{
    IrBlock *top = m->body;
    if (has_role(m, IR_ROLE_RESET))
        return ir_errf(err, errlen, "segment: model '%s' already has an input '%s' (segmented twice?)", m->name,
                       SEGMENT_RESET_INPUT);
    for (int i = 0; i < top->nops; i++) {
        const IrOp *F = top->ops[i];
        if (F->kind != IR_SCAN) continue;
        for (int k = 0; k < F->attrs.n_carried; k++)
            if (F->operands[k]->type.dtype != IR_F32)
                return ir_errf(err, errlen, "segment: a scan of model '%s' carries a non-f32 value %d", m->name, k);
    }

    /* The reset flag is an input even with no scan, so that a driver can
     * feed every model the same inputs. */
    int64_t bdim = IR_DIM_B;
    IrType rtype = per_example && batch_leading(m) ? ir_type(IR_F32, 1, &bdim) : ir_type(IR_F32, 0, NULL);
    IrValue *reset = ir_add_role_input(m, SEGMENT_RESET_INPUT, rtype, IR_ROLE_RESET);
    IrBlock *nb = ir_alloc(m, sizeof *nb);
    IrValue *rr[IR_MAX_RANK + 1] = {0}, *keep[IR_MAX_RANK + 1] = {0};
    int n = 0;
    char name[64];
    for (int i = 0; i < top->nops; i++) {
        IrOp *F = top->ops[i];
        if (F->kind == IR_SCAN && F->attrs.n_carried > 0) {
            int from = nb->nops;
            for (int k = 0; k < F->attrs.n_carried; k++, n++) {
                IrValue *c0 = F->operands[k];
                /* a scalar reset broadcasts over any state as it is */
                int rank = rtype.rank ? c0->type.rank : 0;
                reset_of_rank(m, nb, reset, rank, rr, keep);
                snprintf(name, sizeof name, "%s%d", SEGMENT_CARRY_PREFIX, n);
                IrValue *carry = ir_add_role_input(m, name, c0->type, IR_ROLE_CARRY);
                IrValue *mixed = ir_op2(m, nb, IR_ADD, ir_op2(m, nb, IR_MUL, rr[rank], c0),
                                        ir_op2(m, nb, IR_MUL, keep[rank], carry));
                mixed->name = c0->name;
                F->operands[k] = mixed;
                ir_add_role_output(m, name, F->results[k], IR_ROLE_CARRY, name);
            }
            for (int j = from; j < nb->nops; j++) nb->ops[j]->origin = "carry";
        }
        ir_block_append(m, nb, F);
    }
    ir_block_take_ops(top, nb);

    if (ir_verify(m, "segment", stderr))
        return ir_errf(err, errlen, "internal error: the segmented module does not verify (see above)");
    return n;
}
