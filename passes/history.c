/* history.c - the history copy of truncated BPTT(k1, k2) (history.h).
 *
 * Three steps: mark the top-level ops the scans' carried values depend on
 * (walking backwards, so that a value is marked before the op defining
 * it is reached); copy those ops, in order, in front of the block, with
 * every sequence length symbol replaced by a history symbol of its own
 * and every sequence input read replaced by its "hist:" input; then make
 * each original scan start from its copy's final carried values.
 * Parameters and inputs without a sequence dimension (the carried state,
 * the reset flag, the dropout key) are shared by both parts. */
#include "passes/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Hist {
    IrModule *m;
    unsigned char *need; /* by value id: the copy must compute it        */
    IrValue **map;       /* by original value id: its copy               */
    int *sym;            /* by symbol: its history symbol, 0: none yet    */
    int n;               /* ids below n are the originals'                */
    int64_t mask_base;   /* added to the copies' dropout mask numbers     */
} Hist;

/* Marks every operand and yield of block b and of the bodies in it. */
static void mark_uses(Hist *h, const IrBlock *b)
{
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        for (int k = 0; k < op->noperands; k++) h->need[op->operands[k]->id] = 1;
        if (op->body) mark_uses(h, op->body);
    }
    for (int i = 0; i < b->nyields; i++) h->need[b->yields[i]->id] = 1;
}

/* Whether the type has a sequence length dimension (a symbol but B). */
static int has_seq_dim(IrType t)
{
    for (int d = 0; d < t.rank; d++)
        if (t.dim[d] < 0 && t.dim[d] != IR_DIM_B) return 1;
    return 0;
}

/* t with each sequence length symbol replaced by its history symbol. */
static IrType hist_type(Hist *h, IrType t)
{
    char name[200];
    for (int d = 0; d < t.rank; d++) {
        if (t.dim[d] >= 0 || t.dim[d] == IR_DIM_B) continue;
        int s = -(int)t.dim[d] - 1;
        if (!h->sym[s]) {
            snprintf(name, sizeof name, "%s%s", HISTORY_PREFIX, h->m->syms[s].name);
            h->sym[s] = ir_add_sym(h->m, name, h->m->syms[s].max);
        }
        t.dim[d] = IR_DIM_SYM(h->sym[s]);
    }
    return t;
}

/* The copy of original value v: itself for a parameter or an input
 * without a sequence dimension; "hist:<name>" (made on first use, with
 * the role of the original) for a sequence input or target. */
static IrValue *copy_of(Hist *h, IrValue *v)
{
    if (v->id < h->n && h->map[v->id]) return h->map[v->id];
    IrValue *c = v;
    if ((v->kind == IR_VAL_INPUT || v->kind == IR_VAL_TARGET) && has_seq_dim(v->type)) {
        const IrInput *list = v->kind == IR_VAL_INPUT ? h->m->inputs : h->m->targets;
        int nlist = v->kind == IR_VAL_INPUT ? h->m->ninputs : h->m->ntargets;
        const IrInput *in = NULL;
        for (int i = 0; i < nlist && !in; i++)
            if (list[i].value == v) in = &list[i];
        char name[300];
        snprintf(name, sizeof name, "%s%s", HISTORY_PREFIX, in ? in->name : "?");
        c = ir_add_role_input(h->m, name, hist_type(h, v->type), in ? in->role : IR_ROLE_DATA);
        c->name = ir_strdup(h->m, name);
    }
    h->map[v->id] = c;
    return c;
}

static void copy_block(Hist *h, const IrBlock *src, IrBlock *dst);

/* Copies op o into dst (its body too) and records its results' copies. */
static void copy_op(Hist *h, const IrOp *o, IrBlock *dst)
{
    IrModule *m = h->m;
    IrValue **operands = ir_alloc(m, (size_t)(o->noperands ? o->noperands : 1) * sizeof *operands);
    IrType *types = ir_alloc(m, (size_t)(o->nresults ? o->nresults : 1) * sizeof *types);
    for (int k = 0; k < o->noperands; k++) operands[k] = copy_of(h, o->operands[k]);
    for (int k = 0; k < o->nresults; k++) types[k] = hist_type(h, o->results[k]->type);
    IrOp *op = ir_op(m, dst, o->kind, operands, o->noperands, types, o->nresults);
    op->attrs = o->attrs;
    if (o->kind == IR_DROPOUT_MASK) op->attrs.index += h->mask_base;
    op->origin = o->origin;
    for (int k = 0; k < o->nresults; k++) {
        op->results[k]->name = o->results[k]->name;
        h->map[o->results[k]->id] = op->results[k];
    }
    if (!o->body) return;
    const IrBlock *sb = o->body;
    IrBlock *b = ir_alloc(m, sizeof *b);
    b->owner = op;
    b->nargs = sb->nargs;
    b->args = ir_alloc(m, (size_t)(sb->nargs ? sb->nargs : 1) * sizeof *b->args);
    for (int i = 0; i < sb->nargs; i++) {
        IrValue *v = ir_alloc(m, sizeof *v);
        *v = *sb->args[i];
        v->id = m->next_id++;
        v->type = hist_type(h, v->type);
        v->block = b;
        v->def = NULL;
        b->args[i] = v;
        h->map[sb->args[i]->id] = v;
    }
    copy_block(h, sb, b);
    op->body = b;
}

static void copy_block(Hist *h, const IrBlock *src, IrBlock *dst)
{
    for (int i = 0; i < src->nops; i++) copy_op(h, src->ops[i], dst);
    dst->nyields = src->nyields;
    dst->yields = ir_alloc(h->m, (size_t)(src->nyields ? src->nyields : 1) * sizeof *dst->yields);
    for (int i = 0; i < src->nyields; i++) dst->yields[i] = copy_of(h, src->yields[i]);
}

int history_prefix(IrModule *m, char *err, size_t errlen)
{
    IrBlock *top = m->body;
    Hist h = {.m = m, .n = m->next_id};
    h.need = calloc((size_t)h.n + 1, 1);
    h.map = calloc((size_t)h.n + 1, sizeof *h.map);
    h.sym = calloc((size_t)m->nsyms + 1, sizeof *h.sym);
    if (!h.need || !h.map || !h.sym) {
        free(h.need), free(h.map), free(h.sym);
        return ir_errf(err, errlen, "out of memory");
    }
    /* Which ops the copy needs: the carrying scans and, walking back,
     * every op whose result a needed op (or its body) reads. */
    int nneed = 0, nscan = 0;
    unsigned char *op_need = calloc((size_t)top->nops + 1, 1);
    for (int i = top->nops - 1; op_need && i >= 0; i--) {
        const IrOp *o = top->ops[i];
        int need = o->kind == IR_SCAN && o->attrs.n_carried > 0;
        nscan += need;
        if (o->kind == IR_DROPOUT_MASK && o->attrs.index + 1 > h.mask_base) h.mask_base = o->attrs.index + 1;
        for (int k = 0; k < o->nresults && !need; k++) need = h.need[o->results[k]->id];
        if (!need) continue;
        op_need[i] = 1;
        nneed++;
        for (int k = 0; k < o->noperands; k++) h.need[o->operands[k]->id] = 1;
        if (o->body) mark_uses(&h, o->body);
    }
    int rc = 0;
    if (!op_need) {
        rc = ir_errf(err, errlen, "out of memory");
    } else if (!nscan) {
        rc = ir_errf(err, errlen, "model '%s' carries no state from step to step: it has no history to keep", m->name);
    } else {
        /* The copy first, then the original ops, whose carrying scans now
         * start where the copy's end. */
        IrBlock *nb = ir_alloc(m, sizeof *nb);
        for (int i = 0; i < top->nops; i++)
            if (op_need[i]) copy_op(&h, top->ops[i], nb);
        for (int i = 0; i < top->nops; i++) {
            IrOp *o = top->ops[i];
            if (o->kind == IR_SCAN && o->attrs.n_carried > 0)
                for (int k = 0; k < o->attrs.n_carried; k++) o->operands[k] = h.map[o->results[k]->id];
            ir_block_append(m, nb, o);
        }
        ir_block_take_ops(top, nb);
        if (ir_verify(m, "history", stderr))
            rc = ir_errf(err, errlen, "internal error: the module with its history does not verify (see above)");
    }
    free(op_need);
    free(h.need);
    free(h.map);
    free(h.sym);
    return rc;
}
