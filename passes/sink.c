/* sink.c - moves per-step gradient accumulations out of scans (sink.h). */
#include "passes/sink.h"

#include <stdio.h>
#include <string.h>

/* Uses of v in block b (nested bodies included) and its yields. */
static int uses_in_block(const IrBlock *b, const IrValue *v)
{
    int n = 0;
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        for (int k = 0; k < op->noperands; k++) n += op->operands[k] == v;
        if (op->body) n += uses_in_block(op->body, v);
    }
    for (int i = 0; i < b->nyields; i++) n += b->yields[i] == v;
    return n;
}

/* The op in `body` defining v, or NULL (an argument, an outside value). */
static IrOp *body_def(const IrBlock *body, const IrValue *v)
{
    return v->kind == IR_VAL_OP && v->def && v->def->parent == body ? v->def : NULL;
}

typedef struct Sink {
    IrModule *m;
    IrOp *F;
    int64_t T;      /* the scan's trip count (a dim value: may be a symbol) */
    IrValue **from; /* per-step values stacked so far ...                 */
    IrValue **to;   /* ... and their [T, ...] sequences                   */
    int n, cap;
} Sink;

/* Appends v as a new stacked per-step output of the scan; returns the
 * scan's new [T, ...] result. */
static IrValue *add_stacked_output(Sink *S, IrValue *v)
{
    IrModule *m = S->m;
    IrOp *F = S->F;
    IrBlock *body = F->body;
    IrValue **ys = ir_alloc(m, (size_t)(body->nyields + 1) * sizeof *ys);
    memcpy(ys, body->yields, (size_t)body->nyields * sizeof *ys);
    ys[body->nyields++] = v;
    body->yields = ys;

    IrValue **rs = ir_alloc(m, (size_t)(F->nresults + 1) * sizeof *rs);
    memcpy(rs, F->results, (size_t)F->nresults * sizeof *rs);
    IrValue *r = ir_alloc(m, sizeof *r);
    r->id = m->next_id++;
    r->kind = IR_VAL_OP;
    r->type = v->type;
    for (int d = r->type.rank; d > 0; d--) r->type.dim[d] = r->type.dim[d - 1];
    r->type.dim[0] = S->T;
    r->type.rank++;
    r->name = v->name;
    r->def = F;
    r->def_index = F->nresults;
    rs[F->nresults++] = r;
    F->results = rs;
    F->attrs.n_seq_out++;
    return r;
}

/* The [T, ...] sequence of per-step value v: a sequence operand when v is
 * a step argument, else v stacked (once) as a new output.  NULL when v
 * comes from outside the loop or is a carried value. */
static IrValue *sequence_of(Sink *S, IrValue *v)
{
    IrOp *F = S->F;
    IrBlock *body = F->body;
    int nc = F->attrs.n_carried;
    if (v->kind == IR_VAL_BLOCK_ARG && v->block == body) return v->arg_index >= nc ? F->operands[v->arg_index] : NULL;
    if (!body_def(body, v)) return NULL;
    for (int i = 0; i < S->n; i++)
        if (S->from[i] == v) return S->to[i];
    if (S->n == S->cap) {
        int cap = S->cap ? 2 * S->cap : 8;
        IrValue **f = ir_alloc(S->m, (size_t)cap * sizeof *f), **t = ir_alloc(S->m, (size_t)cap * sizeof *t);
        if (S->n) {
            memcpy(f, S->from, (size_t)S->n * sizeof *f);
            memcpy(t, S->to, (size_t)S->n * sizeof *t);
        }
        S->from = f;
        S->to = t;
        S->cap = cap;
    }
    S->from[S->n] = v;
    S->to[S->n] = add_stacked_output(S, v);
    return S->to[S->n++];
}

static int is_zero_const(const IrValue *v)
{
    return v->kind == IR_VAL_OP && v->def->kind == IR_CONST && v->def->attrs.f == 0.0;
}

/* Collects into leaf[] the terms of the sum `v`: v itself, or, when v is
 * an add used once in the body, the terms of its operands.  Returns the
 * count, or -1 when there are more than max. */
static int terms_of(const IrBlock *body, IrValue *v, IrValue **leaf, int n, int max)
{
    IrOp *d = body_def(body, v);
    if (d && d->kind == IR_ADD && uses_in_block(body, v) == 1 && ir_type_eq(d->operands[0]->type, v->type) &&
        ir_type_eq(d->operands[1]->type, v->type)) {
        n = terms_of(body, d->operands[0], leaf, n, max);
        return n < 0 ? n : terms_of(body, d->operands[1], leaf, n, max);
    }
    if (n == max) return -1;
    leaf[n] = v;
    return n + 1;
}

/* Whether term (a leaf of an accumulator's sum) is a per-step weight or
 * bias gradient sink can move: linear_wgrad, or reduce_to summing over at
 * least the leading (batch) dims, read only by the sum. */
static int sinkable(const IrBlock *body, const IrValue *term)
{
    IrOp *t = body_def(body, term);
    if (!t || uses_in_block(body, term) != 1) return 0;
    if (t->kind == IR_LINEAR_WGRAD) return 1;
    /* reduce_to onto a type as long as its operand's would keep the time
     * dim apart once stacked instead of summing it */
    return t->kind == IR_REDUCE_TO && term->type.rank < t->operands[0]->type.rank;
}

#define SINK_MAX_TERMS 16

/* Every use of old (in the top block, the ops after the scan, the
 * module's outputs and loss) now reads nv. */
static void replace_everywhere(IrModule *m, IrBlock *top, IrBlock *after, const IrValue *old, IrValue *nv)
{
    ir_replace_uses(top, old, nv);
    ir_replace_uses(after, old, nv);
    for (int i = 0; i < m->noutputs; i++)
        if (m->outputs[i].value == old) m->outputs[i].value = nv;
    if (m->loss == old) m->loss = nv;
}

/* Rewrites carried value k of S->F if it is an accumulator
 * acc' = acc + (sum of sinkable terms); the ops that compute its total go
 * to `after`.  Returns 1 if rewritten. */
static int sink_carried(Sink *S, int k, IrBlock *after, IrBlock *top)
{
    IrModule *m = S->m;
    IrOp *F = S->F;
    IrBlock *body = F->body;
    IrValue *acc = body->args[k], *y = body->yields[k];
    IrOp *add = body_def(body, y);
    if (!add || add->kind != IR_ADD || add->noperands != 2) return 0;
    IrValue *sum = add->operands[0] == acc ? add->operands[1] : add->operands[1] == acc ? add->operands[0] : NULL;
    if (!sum || sum == acc || !ir_type_eq(sum->type, acc->type)) return 0;
    if (uses_in_block(body, acc) != 1 || uses_in_block(body, y) != 1) return 0;
    IrValue *leaf[SINK_MAX_TERMS];
    int nt = terms_of(body, sum, leaf, 0, SINK_MAX_TERMS);
    if (nt <= 0) return 0;
    for (int i = 0; i < nt; i++)
        if (!sinkable(body, leaf[i])) return 0;
    /* every operand must have a [T, ...] sequence before anything changes */
    for (int i = 0; i < nt; i++) {
        IrOp *t = leaf[i]->def;
        for (int j = 0; j < t->noperands; j++) {
            IrValue *o = t->operands[j];
            int step_arg = o->kind == IR_VAL_BLOCK_ARG && o->block == body && o->arg_index >= F->attrs.n_carried;
            if (!step_arg && !body_def(body, o)) return 0;
        }
    }

    IrValue *total = NULL;
    for (int i = 0; i < nt; i++) {
        IrOp *t = leaf[i]->def;
        IrValue *seqs[2];
        for (int j = 0; j < t->noperands; j++) seqs[j] = sequence_of(S, t->operands[j]);
        IrOp *r = ir_op(m, after, t->kind, seqs, t->noperands, &acc->type, 1);
        r->origin = t->origin;
        r->results[0]->name = leaf[i]->name;
        total = total ? ir_op2(m, after, IR_ADD, total, r->results[0]) : r->results[0];
        total->def->origin = t->origin;
    }
    IrValue *init = F->operands[k];
    IrValue *final = total;
    if (!is_zero_const(init)) {
        final = ir_op2(m, after, IR_ADD, init, total);
        final->def->origin = add->origin;
    }
    final->name = F->results[k]->name;

    /* Every reader of the scan's final value now reads the total. */
    replace_everywhere(m, top, after, F->results[k], final);
    body->yields[k] = acc; /* the carried value now passes through */
    return 1;
}

/* Removes stacked output k of S->F (its yield and its result; nothing may
 * read the result any more). */
static void remove_stacked_output(Sink *S, int k) { ir_scan_drop_output(S->F, k); }

/* Rewrites stacked output k of S->F if its step value is a product of a
 * per-step value and a loop-invariant weight, read by nothing but the
 * yield: y_t = matmul_nn(g_t, W) (the input gradient dx of a backward
 * step) or linear(g_t, W).  g_t is stacked (or read from its sequence),
 * the product of the whole [T, ...] sequence is computed once after the
 * loop, and the scan loses the output.  Returns 1 if rewritten. */
static int sink_product(Sink *S, int k, IrBlock *after, IrBlock *top)
{
    IrModule *m = S->m;
    IrOp *F = S->F;
    IrBlock *body = F->body;
    IrValue *y = body->yields[F->attrs.n_carried + k];
    IrOp *d = body_def(body, y);
    if (!d || (d->kind != IR_MATMUL_NN && d->kind != IR_LINEAR) || d->noperands != 2) return 0;
    IrValue *g = d->operands[0], *w = d->operands[1];
    if (body_def(body, w) || (w->kind == IR_VAL_BLOCK_ARG && w->block == body)) return 0;
    if (uses_in_block(body, y) != 1) return 0;
    IrValue *G = sequence_of(S, g); /* NULL for a carried or outside value */
    if (!G) return 0;
    IrValue *old = F->results[F->attrs.n_carried + k];
    IrValue *ops[2] = {G, w};
    IrOp *r = ir_op(m, after, d->kind, ops, 2, &old->type, 1);
    r->origin = d->origin;
    r->results[0]->name = old->name;
    replace_everywhere(m, top, after, old, r->results[0]);
    remove_stacked_output(S, k);
    return 1;
}

int sink(IrModule *m, char *err, size_t errlen)
{
    IrBlock *top = m->body;
    IrBlock *nb = ir_alloc(m, sizeof *nb);
    int count = 0;
    IrOp **ops = top->ops;
    int nops = top->nops;
    for (int i = 0; i < nops; i++) {
        IrOp *F = ops[i];
        ir_block_append(m, nb, F);
        if (F->kind != IR_SCAN || F->attrs.n_carried == 0) continue;
        int nc = F->attrs.n_carried, ns = F->attrs.n_seq_in;
        Sink S = {.m = m, .F = F, .T = ns ? F->operands[nc]->type.dim[0] : F->attrs.steps};
        IrBlock *after = ir_alloc(m, sizeof *after);
        for (int k = 0; k < nc; k++) count += sink_carried(&S, k, after, top);
        /* last to first: stacking a value appends outputs, removing one
         * shifts only those after it */
        for (int k = F->attrs.n_seq_out - 1; k >= 0; k--) count += sink_product(&S, k, after, top);
        for (int j = 0; j < after->nops; j++) ir_block_append(m, nb, after->ops[j]);
    }
    ir_block_take_ops(top, nb);
    if (ir_verify(m, "sink", stderr))
        return ir_errf(err, errlen, "internal error: the module after sink does not verify (see above)");
    return count;
}
