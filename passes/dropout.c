/* dropout.c - dropout_train and dropout_off (dropout.h). */
#include "passes/dropout.h"

#include <stdio.h>

/* Whether block b's nested bodies hold a dropout (sema never makes one). */
static int nested_dropout(const IrBlock *b, int top)
{
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        if (op->kind == IR_DROPOUT && !top) return 1;
        if (op->body && nested_dropout(op->body, 0)) return 1;
    }
    return 0;
}

static int count_top(const IrModule *m)
{
    int n = 0;
    for (int i = 0; i < m->body->nops; i++) n += m->body->ops[i]->kind == IR_DROPOUT;
    return n;
}

static int check(const IrModule *m, char *err, size_t errlen)
{
    if (nested_dropout(m->body, 1))
        return ir_errf(err, errlen, "internal error: model '%s' has a dropout inside a loop", m->name);
    return 0;
}

static int verified(IrModule *m, const char *stage, char *err, size_t errlen)
{
    if (ir_verify(m, stage, stderr))
        return ir_errf(err, errlen, "internal error: the module does not verify after %s (see above)", stage);
    return 0;
}

int dropout_train(IrModule *m, char *err, size_t errlen)
{
    if (check(m, err, errlen)) return -1;
    int n = count_top(m);
    if (!n) return 0;
    IrType kt = {.dtype = IR_I64, .rank = 1, .dim = {2}};
    IrValue *key = ir_add_role_input(m, DROPOUT_KEY_INPUT, kt, IR_ROLE_DROPOUT_KEY);
    IrBlock *top = m->body, *nb = ir_alloc(m, sizeof *nb);
    int k = 0;
    for (int i = 0; i < top->nops; i++) {
        IrOp *op = top->ops[i];
        if (op->kind == IR_DROPOUT) {
            IrValue *x = op->operands[0];
            IrOp *mask = ir_op(m, nb, IR_DROPOUT_MASK, &key, 1, &x->type, 1);
            mask->attrs.p = op->attrs.p;
            mask->attrs.index = k++;
            mask->origin = op->origin;
            /* The dropout itself becomes the mul: its result, and so every
             * use of it, stays. */
            IrValue **ops = ir_alloc(m, 2 * sizeof *ops);
            ops[0] = x;
            ops[1] = mask->results[0];
            op->kind = IR_MUL;
            op->operands = ops;
            op->noperands = 2;
            op->attrs = (IrAttrs){0};
        }
        ir_block_append(m, nb, op);
    }
    ir_block_take_ops(top, nb);
    return verified(m, "dropout", err, errlen) ? -1 : n;
}

int dropout_off(IrModule *m, char *err, size_t errlen)
{
    if (check(m, err, errlen)) return -1;
    IrBlock *top = m->body;
    int n = 0, kept = 0;
    for (int i = 0; i < top->nops; i++) {
        IrOp *op = top->ops[i];
        if (op->kind != IR_DROPOUT) {
            top->ops[kept++] = op;
            continue;
        }
        IrValue *y = op->results[0], *x = op->operands[0];
        ir_replace_uses(top, y, x);
        for (int k = 0; k < m->noutputs; k++)
            if (m->outputs[k].value == y) m->outputs[k].value = x;
        if (m->loss == y) m->loss = x;
        n++;
    }
    top->nops = kept;
    return verified(m, "dropout", err, errlen) ? -1 : n;
}
