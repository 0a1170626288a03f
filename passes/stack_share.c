/* stack_share.c - a scan stores each per-step value once (stack_share.h). */
#include "passes/stack_share.h"

#include <stdio.h>

/* The concat op of scan body `body` defining v, or NULL. */
static IrOp *body_concat(const IrBlock *body, const IrValue *v)
{
    return v->kind == IR_VAL_OP && v->def && v->def->parent == body && v->def->kind == IR_CONCAT ? v->def : NULL;
}

/* What the readers of stacked output k of scan F may read instead, from
 * another stacked output: the same yield stacked earlier, or a slice
 * (appended to `after`) of a stacked concat that has k's yield as an
 * operand.  NULL when there is none. */
static IrValue *shared_with(IrModule *m, IrOp *F, int k, IrBlock *after)
{
    const IrBlock *body = F->body;
    int nc = F->attrs.n_carried;
    const IrValue *y = body->yields[nc + k];
    for (int j = 0; j < F->attrs.n_seq_out; j++) {
        const IrValue *z = body->yields[nc + j];
        if (j < k && z == y) return F->results[nc + j];
        IrOp *c = j != k ? body_concat(body, z) : NULL;
        int64_t start = 0;
        for (int i = 0; c && i < c->noperands; i++) {
            const IrValue *o = c->operands[i];
            int64_t len = o->type.dim[o->type.rank - 1];
            if (o == y) {
                IrValue *s = ir_slice(m, after, F->results[nc + j], start, len);
                s->def->origin = c->origin;
                s->name = F->results[nc + k]->name;
                return s;
            }
            start += len;
        }
    }
    return NULL;
}

/* Shares the stacked outputs of scan F of block top; the slices go to
 * `after`.  Returns the outputs removed. */
static int share_scan(IrModule *m, IrBlock *top, IrOp *F, IrBlock *after)
{
    int removed = 0;
    /* last to first: removing an output shifts only those after it */
    for (int k = F->attrs.n_seq_out - 1; k >= 0; k--) {
        IrValue *nv = shared_with(m, F, k, after), *old = F->results[F->attrs.n_carried + k];
        if (!nv) continue;
        ir_replace_uses(top, old, nv);
        ir_replace_uses(after, old, nv);
        for (int i = 0; i < m->noutputs; i++)
            if (m->outputs[i].value == old) m->outputs[i].value = nv;
        if (m->loss == old) m->loss = nv;
        ir_scan_drop_output(F, k);
        removed++;
    }
    return removed;
}

/* Appends the slices of `after` to nb, each after the slice it reads: an
 * output k sliced from a concat output j that share_scan (last to first)
 * then shares with a later concat output l reads, once the uses of j are
 * replaced, a slice of l that was appended after its own (found by the
 * random models, seed 3042 of tests/diff).  The slices form a chain
 * without cycles (each reads a strictly wider value), so every pass emits
 * one at least; the verifier would report a cycle. */
static void append_in_order(IrModule *m, IrBlock *nb, IrBlock *after)
{
    for (int done = 0, progress = 1; done < after->nops && progress;) {
        progress = 0;
        for (int j = 0; j < after->nops; j++) {
            IrOp *op = after->ops[j];
            if (op->parent != after) continue; /* appended to nb already */
            int ready = 1;
            for (int i = 0; i < op->noperands; i++) {
                const IrValue *o = op->operands[i];
                ready &= !(o->kind == IR_VAL_OP && o->def && o->def->parent == after);
            }
            if (!ready) continue;
            ir_block_append(m, nb, op);
            done++;
            progress = 1;
        }
    }
}

int stack_share(IrModule *m, char *err, size_t errlen)
{
    IrBlock *top = m->body;
    IrBlock *nb = ir_alloc(m, sizeof *nb);
    int count = 0;
    for (int i = 0; i < top->nops; i++) {
        IrOp *F = top->ops[i];
        ir_block_append(m, nb, F);
        if (F->kind != IR_SCAN) continue;
        IrBlock *after = ir_alloc(m, sizeof *after);
        count += share_scan(m, top, F, after);
        append_in_order(m, nb, after);
    }
    ir_block_take_ops(top, nb);
    if (count && ir_verify(m, "stack_share", stderr))
        return ir_errf(err, errlen, "internal error: the module after stack_share does not verify (see above)");
    return count;
}
