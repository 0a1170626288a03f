/* hoist.c - moves loop-invariant ops out of scans (see hoist.h).
 *
 * One walk over each top-level scan's body, in order, gives every body
 * value one of three states:
 *
 *   VARY  depends on a carried value (or on something that stays in the
 *         loop): stays;
 *   INV   depends only on values from outside: the op itself moves before
 *         the scan, and its result, now defined before the scan, is read by
 *         the body as any weight is (nothing to rewrite);
 *   LIFT  depends on a step of a sequence and otherwise on outside values:
 *         a copy computing all T steps at once is built before the scan
 *         (seq[id] is that [T, ...] value; for a step argument it is the
 *         scan's own sequence operand).
 *
 * After the walk, each LIFT value an op left in the loop (or a yield) still
 * reads becomes a new sequence operand with a new step argument, and the
 * LIFT ops are dropped from the body.  Values made by the pass have ids
 * past the table; they are never body values, so they need no state. */
#include "passes/hoist.h"

#include <stdio.h>
#include <stdlib.h>

enum { OUTER = 0, VARY, INV, LIFT };

typedef struct Hoist {
    IrModule *m;
    unsigned char *state; /* by value id */
    IrValue **seq;        /* by value id: the [T, ...] value of a LIFT value */
    int n;
} Hoist;

static int state_of(const Hoist *H, const IrValue *v) { return v->id >= 0 && v->id < H->n ? H->state[v->id] : OUTER; }

static void set_state(Hoist *H, const IrValue *v, int s)
{
    if (v->id >= 0 && v->id < H->n) H->state[v->id] = (unsigned char)s;
}

/* [T, t...]: a step type with the time dim in front. */
static IrType with_time(IrType t, int64_t T)
{
    for (int d = t.rank; d > 0; d--) t.dim[d] = t.dim[d - 1];
    t.dim[0] = T;
    t.rank++;
    return t;
}

/* Whether op (no VARY operand, at least one LIFT) means the same thing
 * with each LIFT operand replaced by its [T, ...] sequence.  Element-wise
 * ops broadcast over trailing dims, so a lifted operand must have the
 * result's full rank (its new time dim then lines up with the result's)
 * and an outside operand at most that rank (it never reaches the time dim). */
static int liftable(const Hoist *H, const IrOp *op)
{
    const IrType *rt = &op->results[0]->type;
    if (op->nresults != 1 || rt->rank + 1 > IR_MAX_RANK) return 0;
    if (ir_op_is_elementwise(op->kind)) {
        for (int i = 0; i < op->noperands; i++) {
            int lifted = state_of(H, op->operands[i]) == LIFT;
            if (lifted && op->operands[i]->type.rank != rt->rank) return 0;
            if (!lifted && op->operands[i]->type.rank > rt->rank) return 0;
        }
        return 1;
    }
    switch (op->kind) {
    case IR_LINEAR: /* x[..., K] lifted, W from outside */
        return state_of(H, op->operands[0]) == LIFT && state_of(H, op->operands[1]) != LIFT;
    case IR_EMBEDDING: /* table from outside, ids lifted */
        return state_of(H, op->operands[0]) != LIFT && state_of(H, op->operands[1]) == LIFT;
    case IR_SLICE:
    case IR_SOFTMAX:
    case IR_LAYERNORM: /* act on the last axis */ return 1;
    case IR_CONCAT: /* every part must have the time dim */
        for (int i = 0; i < op->noperands; i++)
            if (state_of(H, op->operands[i]) != LIFT) return 0;
        return 1;
    default: return 0;
    }
}

/* Builds op's all-steps copy in dst; returns its result, or NULL if the
 * type does not come out as [T, step type] (then the op stays). */
static IrValue *lift(Hoist *H, IrBlock *dst, const IrOp *op, int64_t T)
{
    IrModule *m = H->m;
    IrValue **ops = ir_alloc(m, (size_t)(op->noperands ? op->noperands : 1) * sizeof *ops);
    for (int i = 0; i < op->noperands; i++) {
        IrValue *v = op->operands[i];
        ops[i] = state_of(H, v) == LIFT ? H->seq[v->id] : v;
    }
    IrType t, want = with_time(op->results[0]->type, T);
    char err[128];
    if (!ir_infer_type(m, op->kind, ops, op->noperands, &op->attrs, &t, err, sizeof err) || !ir_type_eq(t, want))
        return NULL;
    IrOp *c = ir_op(m, dst, op->kind, ops, op->noperands, &t, 1);
    c->attrs = op->attrs;
    c->origin = op->origin;
    c->results[0]->name = op->results[0]->name;
    return c->results[0];
}

static int used_in_block(const IrBlock *b, const IrValue *v)
{
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        for (int k = 0; k < op->noperands; k++)
            if (op->operands[k] == v) return 1;
        if (op->body && used_in_block(op->body, v)) return 1;
    }
    for (int i = 0; i < b->nyields; i++)
        if (b->yields[i] == v) return 1;
    return 0;
}

/* Appends sequence s as a new sequence operand of F, with a new step
 * argument (s's type without dim 0) that it returns. */
static IrValue *add_seq_operand(IrModule *m, IrOp *F, IrValue *s, const char *name)
{
    IrValue **ops = ir_alloc(m, (size_t)(F->noperands + 1) * sizeof *ops);
    for (int i = 0; i < F->noperands; i++) ops[i] = F->operands[i];
    ops[F->noperands] = s;
    F->operands = ops;
    F->noperands++;
    F->attrs.n_seq_in++;

    IrBlock *body = F->body;
    IrValue **args = ir_alloc(m, (size_t)(body->nargs + 1) * sizeof *args);
    for (int i = 0; i < body->nargs; i++) args[i] = body->args[i];
    IrValue *a = ir_alloc(m, sizeof *a);
    a->id = m->next_id++;
    a->kind = IR_VAL_BLOCK_ARG;
    a->type = s->type;
    for (int d = 1; d < a->type.rank; d++) a->type.dim[d - 1] = a->type.dim[d];
    a->type.rank--;
    a->name = name;
    a->block = body;
    a->arg_index = body->nargs;
    args[body->nargs] = a;
    body->args = args;
    body->nargs++;
    return a;
}

/* Puts back into the loop each lifted element-wise op that no lifted op
 * reads.  Lifted, it is a pass of its own over all T steps, writing a
 * [T, ...] sequence that the loop then reads back (the bias add of the
 * input projection: 2 x T*B*4H floats of memory traffic for LSTM); in the
 * loop, the back end fuses it into the step's element-wise map, which
 * reads the projection anyway.  What is worth lifting is the work that
 * gets faster on all steps at once (linear: one big GEMM; embedding;
 * softmax), and the element-wise ops that feed it.  Users come after
 * their operands in the body, so one backward walk settles chains. */
static void stay_elementwise(Hoist *H, IrBlock *dst, const IrBlock *body, unsigned char *fate)
{
    const IrOp **copies = ir_alloc(H->m, (size_t)(body->nops ? body->nops : 1) * sizeof *copies);
    int ncopies = 0;
    for (int i = body->nops - 1; i >= 0; i--) {
        const IrOp *op = body->ops[i];
        if (fate[i] != LIFT || !ir_op_is_elementwise(op->kind)) continue;
        int read = 0;
        for (int j = i + 1; j < body->nops && !read; j++) {
            if (fate[j] != LIFT) continue;
            for (int k = 0; k < body->ops[j]->noperands; k++) read |= body->ops[j]->operands[k] == op->results[0];
        }
        if (!read) {
            fate[i] = VARY;
            set_state(H, op->results[0], VARY);
            copies[ncopies++] = H->seq[op->results[0]->id]->def;
        }
    }
    /* the all-steps copies the walk built for them are read by nothing now */
    int k = 0;
    for (int i = 0; i < dst->nops; i++) {
        int dead = 0;
        for (int c = 0; c < ncopies && !dead; c++) dead = dst->ops[i] == copies[c];
        if (!dead) dst->ops[k++] = dst->ops[i];
    }
    dst->nops = k;
}

/* Hoists what it can of scan F's body into dst (the block F is being
 * rebuilt into, F not yet appended); returns how many ops moved. */
static int hoist_scan(Hoist *H, IrBlock *dst, IrOp *F)
{
    IrModule *m = H->m;
    IrBlock *body = F->body;
    int nc = F->attrs.n_carried, ns = F->attrs.n_seq_in;
    int64_t T = ns ? F->operands[nc]->type.dim[0] : 0;
    for (int i = 0; i < body->nargs; i++) {
        set_state(H, body->args[i], i < nc ? VARY : LIFT);
        if (i >= nc && body->args[i]->id < H->n) H->seq[body->args[i]->id] = F->operands[i];
    }

    int moved = 0, nlift = 0;
    IrOp **keep = ir_alloc(m, (size_t)(body->nops ? body->nops : 1) * sizeof *keep);
    IrOp **lifted = ir_alloc(m, (size_t)(body->nops ? body->nops : 1) * sizeof *lifted);
    unsigned char *fate = ir_alloc(m, (size_t)(body->nops ? body->nops : 1));
    int nkeep = 0;
    for (int i = 0; i < body->nops; i++) {
        IrOp *op = body->ops[i];
        int vary = op->kind == IR_SCAN, any_lift = 0;
        for (int k = 0; k < op->noperands; k++) {
            int s = state_of(H, op->operands[k]);
            vary |= s == VARY;
            any_lift |= s == LIFT;
        }
        IrValue *all = NULL;
        if (!vary && any_lift && liftable(H, op)) all = lift(H, dst, op, T);
        if (!vary && !any_lift) { /* only outside values: move as it is */
            ir_block_append(m, dst, op);
            for (int r = 0; r < op->nresults; r++) set_state(H, op->results[r], INV);
            fate[i] = INV;
        } else if (all) {
            set_state(H, op->results[0], LIFT);
            if (op->results[0]->id < H->n) H->seq[op->results[0]->id] = all;
            fate[i] = LIFT;
        } else {
            for (int r = 0; r < op->nresults; r++) set_state(H, op->results[r], VARY);
            fate[i] = VARY;
        }
    }
    stay_elementwise(H, dst, body, fate);
    for (int i = 0; i < body->nops; i++) {
        if (fate[i] == VARY)
            keep[nkeep++] = body->ops[i];
        else if (fate[i] == LIFT)
            lifted[nlift++] = body->ops[i];
        moved += fate[i] != VARY;
    }
    body->ops = keep;
    body->nops = nkeep;
    body->capops = nkeep;
    /* A lifted value the loop still reads arrives as a step of its sequence. */
    for (int i = 0; i < nlift; i++) {
        IrValue *v = lifted[i]->results[0];
        if (!used_in_block(body, v)) continue;
        IrValue *a = add_seq_operand(m, F, H->seq[v->id], v->name);
        ir_replace_uses(body, v, a);
    }
    return moved;
}

int hoist(IrModule *m, char *err, size_t errlen)
{
    IrBlock *top = m->body;
    Hoist H = {.m = m, .n = m->next_id};
    H.state = calloc((size_t)(H.n ? H.n : 1), 1);
    H.seq = calloc((size_t)(H.n ? H.n : 1), sizeof *H.seq);
    if (!H.state || !H.seq) {
        free(H.state);
        free(H.seq);
        return ir_errf(err, errlen, "out of memory");
    }
    IrBlock *nb = ir_alloc(m, sizeof *nb);
    for (int i = 0; i < top->nops; i++) {
        IrOp *F = top->ops[i];
        if (F->kind == IR_SCAN) hoist_scan(&H, nb, F);
        ir_block_append(m, nb, F);
    }
    free(H.state);
    free(H.seq);
    ir_block_take_ops(top, nb);

    if (ir_verify(m, "hoist", stderr))
        return ir_errf(err, errlen, "internal error: the hoisted module does not verify (see above)");
    return 0;
}
