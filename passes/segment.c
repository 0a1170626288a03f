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

int segment_carry(IrModule *m, char *err, size_t errlen)
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
    IrType scalar = {.dtype = IR_F32, .rank = 0};
    IrValue *reset = ir_add_role_input(m, SEGMENT_RESET_INPUT, scalar, IR_ROLE_RESET);
    IrBlock *nb = ir_alloc(m, sizeof *nb);
    IrValue *keep = NULL; /* 1 - reset, made before the first scan that needs it */
    int n = 0;
    char name[64];
    for (int i = 0; i < top->nops; i++) {
        IrOp *F = top->ops[i];
        if (F->kind == IR_SCAN && F->attrs.n_carried > 0) {
            int from = nb->nops;
            if (!keep) keep = ir_op2(m, nb, IR_SUB, ir_const(m, nb, 1.0, scalar), reset);
            for (int k = 0; k < F->attrs.n_carried; k++, n++) {
                IrValue *c0 = F->operands[k];
                snprintf(name, sizeof name, "%s%d", SEGMENT_CARRY_PREFIX, n);
                IrValue *carry = ir_add_role_input(m, name, c0->type, IR_ROLE_CARRY);
                IrValue *mixed =
                    ir_op2(m, nb, IR_ADD, ir_op2(m, nb, IR_MUL, reset, c0), ir_op2(m, nb, IR_MUL, keep, carry));
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
