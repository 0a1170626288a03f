/* dce.c - removes ops whose results nobody uses (see dce.h).
 *
 * Liveness is one backward walk per block: the roots are the outputs and
 * the loss (top block) or the yields (a live scan's body); an op is live
 * if one of its results is, and then its operands are.  A block is walked
 * from its last op to its first, and a live scan's body is walked when the
 * scan is reached, so the body's reads of outside values are marked before
 * the walk reaches the ops that define them. */
#include "passes/dce.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct Dce {
    unsigned char *live; /* by value id */
    int n;
} Dce;

static void mark(Dce *D, const IrValue *v)
{
    if (v && v->id >= 0 && v->id < D->n) D->live[v->id] = 1;
}

static int is_live(const Dce *D, const IrValue *v) { return v->id >= 0 && v->id < D->n && D->live[v->id]; }

static int dce_block(Dce *D, IrBlock *b)
{
    int removed = 0;
    for (int i = 0; i < b->nyields; i++) mark(D, b->yields[i]);
    for (int i = b->nops - 1; i >= 0; i--) {
        IrOp *op = b->ops[i];
        int live = 0;
        for (int r = 0; r < op->nresults; r++) live |= is_live(D, op->results[r]);
        if (!live) {
            b->ops[i] = NULL;
            removed++;
            continue;
        }
        if (op->body) removed += dce_block(D, op->body);
        for (int k = 0; k < op->noperands; k++) mark(D, op->operands[k]);
    }
    int n = 0;
    for (int i = 0; i < b->nops; i++)
        if (b->ops[i]) b->ops[n++] = b->ops[i];
    b->nops = n;
    return removed;
}

int dce(IrModule *m, char *err, size_t errlen)
{
    Dce D = {.n = m->next_id};
    D.live = calloc((size_t)(D.n ? D.n : 1), 1);
    if (!D.live) return ir_errf(err, errlen, "out of memory");
    for (int i = 0; i < m->noutputs; i++) mark(&D, m->outputs[i].value);
    if (m->loss) mark(&D, m->loss);
    int removed = dce_block(&D, m->body);
    free(D.live);
    if (ir_verify(m, "dce", stderr))
        return ir_errf(err, errlen, "internal error: the module after dce does not verify (see above)");
    return removed;
}
