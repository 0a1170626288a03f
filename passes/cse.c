/* cse.c - merges identical pure ops within a block (see cse.h).
 *
 * Quadratic in a block's length, which is fine for graphs of a few
 * thousand ops; a hash on (kind, operand ids) would make it linear. */
#include "passes/cse.h"

#include <stdio.h>

static int same_attrs(const IrAttrs *a, const IrAttrs *b)
{
    /* Field by field: struct padding is not guaranteed equal. */
    return a->f == b->f && a->start == b->start && a->len == b->len && a->index == b->index &&
           a->n_carried == b->n_carried && a->n_seq_in == b->n_seq_in && a->n_seq_out == b->n_seq_out &&
           a->reverse == b->reverse && a->steps == b->steps && a->bound == b->bound && a->lr == b->lr &&
           a->momentum == b->momentum && a->weight_decay == b->weight_decay && a->beta1 == b->beta1 &&
           a->beta2 == b->beta2 && a->eps == b->eps && a->p == b->p;
}

static int same_op(const IrOp *a, const IrOp *b)
{
    if (a->kind != b->kind || a->noperands != b->noperands || a->nresults != b->nresults) return 0;
    for (int i = 0; i < a->noperands; i++)
        if (a->operands[i] != b->operands[i]) return 0;
    for (int i = 0; i < a->nresults; i++)
        if (!ir_type_eq(a->results[i]->type, b->results[i]->type)) return 0;
    return same_attrs(&a->attrs, &b->attrs);
}

/* Old is defined in block b, so its uses are in b (after it, nested bodies
 * included) or, for the top block, the outputs and the loss. */
static void replace_uses(IrModule *m, IrBlock *b, const IrValue *old, IrValue *nv)
{
    ir_replace_uses(b, old, nv);
    if (b != m->body) return;
    for (int i = 0; i < m->noutputs; i++)
        if (m->outputs[i].value == old) m->outputs[i].value = nv;
    if (m->loss == old) m->loss = nv;
}

static int cse_block(IrModule *m, IrBlock *b)
{
    int removed = 0, n = 0;
    for (int i = 0; i < b->nops; i++) {
        IrOp *op = b->ops[i];
        if (op->body) removed += cse_block(m, op->body);
        const IrOp *twin = NULL;
        if (op->kind != IR_SCAN)
            for (int j = 0; j < n && !twin; j++)
                if (same_op(b->ops[j], op)) twin = b->ops[j];
        if (twin) {
            for (int r = 0; r < op->nresults; r++) replace_uses(m, b, op->results[r], twin->results[r]);
            removed++;
            continue;
        }
        b->ops[n++] = op;
    }
    b->nops = n;
    return removed;
}

int cse(IrModule *m, char *err, size_t errlen)
{
    int removed = cse_block(m, m->body);
    if (ir_verify(m, "cse", stderr))
        return ir_errf(err, errlen, "internal error: the module after cse does not verify (see above)");
    return removed;
}
