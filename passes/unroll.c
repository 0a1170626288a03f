/* unroll.c - unrolls scans fully or by a factor (see unroll.h).
 *
 * Both rewrites are made of one move: "emit a step", which copies a scan's
 * body into another block with its arguments replaced by given values (the
 * carried state so far, one step of each sequence) and hands back what the
 * copy yields.  Full unrolling emits every step into the enclosing block;
 * unrolling by f emits f steps into the body of a new, shorter scan.  The
 * copies are the same ops on the same values in the same order as the
 * scan's steps, so the interpreter computes the same numbers bit for bit.
 *
 * Copies are made through a map from each original value id to its
 * current copy; values from outside the scan (weights) map to themselves. */
#include "passes/unroll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More copies than this is a mistake (a dump nobody can read). */
#define UNROLL_MAX_STEPS 4096

typedef struct Un {
    IrModule *m;
    IrValue **map; /* by original value id: its current copy, or NULL */
    int nmap;
} Un;

/* A name for a scan in messages: its origin ("h: lstm l0") or its first result. */
static const char *scan_label(const IrOp *op)
{
    if (op->origin) return op->origin;
    if (op->nresults && op->results[0]->name) return op->results[0]->name;
    return "scan";
}

/* ---- fixing the sequence lengths ------------------------------------------------- */

static void fix_type(IrType *t, int64_t steps)
{
    for (int d = 0; d < t->rank && d < IR_MAX_RANK; d++)
        if (t->dim[d] < 0 && t->dim[d] != IR_DIM_B) t->dim[d] = steps;
}

static void fix_block(IrBlock *b, int64_t steps)
{
    for (int i = 0; i < b->nargs; i++) fix_type(&b->args[i]->type, steps);
    for (int i = 0; i < b->nops; i++) {
        IrOp *op = b->ops[i];
        for (int r = 0; r < op->nresults; r++) fix_type(&op->results[r]->type, steps);
        if (op->body) fix_block(op->body, steps);
    }
}

int unroll_specialize(IrModule *m, int64_t steps, char *err, size_t errlen)
{
    if (steps < 1)
        return ir_errf(err, errlen, "unroll: the number of steps must be at least 1, got %lld", (long long)steps);
    for (int s = 1; s < m->nsyms; s++)
        if (m->syms[s].max > 0 && steps > m->syms[s].max)
            return ir_errf(err, errlen, "unroll: %lld steps is above %s's declared maximum %lld", (long long)steps,
                           m->syms[s].name, (long long)m->syms[s].max);
    for (int i = 0; i < m->ninputs; i++) fix_type(&m->inputs[i].value->type, steps);
    for (int i = 0; i < m->ntargets; i++) fix_type(&m->targets[i].value->type, steps);
    for (int i = 0; i < m->nparams; i++) fix_type(&m->params[i].value->type, steps);
    fix_block(m->body, steps);
    /* No type names a length symbol any more; keeping them would only make
     * the dump claim sizes the module no longer has. */
    m->nsyms = 1;
    return 0;
}

/* ---- copying ----------------------------------------------------------------------- */

static IrValue *look(const Un *U, IrValue *v)
{
    if (v && v->id >= 0 && v->id < U->nmap && U->map[v->id]) return U->map[v->id];
    return v;
}

static void set_map(Un *U, const IrValue *from, IrValue *to)
{
    if (from->id >= 0 && from->id < U->nmap) U->map[from->id] = to;
}

static IrValue **mapped_operands(Un *U, const IrOp *op)
{
    IrValue **ops = ir_alloc(U->m, (size_t)(op->noperands ? op->noperands : 1) * sizeof *ops);
    for (int i = 0; i < op->noperands; i++) ops[i] = look(U, op->operands[i]);
    return ops;
}

/* Copies op into dst with its operands mapped, and maps its results to the
 * copy's.  A nested scan is copied whole, body and all. */
static void clone_op(Un *U, IrBlock *dst, const IrOp *op, const char *origin)
{
    IrModule *m = U->m;
    IrValue **ops = mapped_operands(U, op);
    if (op->kind == IR_SCAN) {
        int nc = op->attrs.n_carried, ns = op->attrs.n_seq_in;
        IrOp *s = ir_scan_begin(m, dst, ops, nc, ops + nc, ns, op->attrs.reverse, op->attrs.steps);
        s->origin = origin;
        for (int i = 0; i < op->body->nargs; i++) {
            s->body->args[i]->name = op->body->args[i]->name;
            set_map(U, op->body->args[i], s->body->args[i]);
        }
        for (int i = 0; i < op->body->nops; i++) clone_op(U, s->body, op->body->ops[i], op->body->ops[i]->origin);
        IrValue **ys = ir_alloc(m, (size_t)(op->body->nyields ? op->body->nyields : 1) * sizeof *ys);
        for (int i = 0; i < op->body->nyields; i++) ys[i] = look(U, op->body->yields[i]);
        ir_scan_finish(m, s, ys, nc, op->attrs.n_seq_out);
        for (int r = 0; r < op->nresults && r < s->nresults; r++) {
            s->results[r]->name = op->results[r]->name;
            set_map(U, op->results[r], s->results[r]);
        }
        return;
    }
    IrType *types = ir_alloc(m, (size_t)(op->nresults ? op->nresults : 1) * sizeof *types);
    for (int r = 0; r < op->nresults; r++) types[r] = op->results[r]->type;
    IrOp *c = ir_op(m, dst, op->kind, ops, op->noperands, types, op->nresults);
    c->attrs = op->attrs;
    c->origin = origin;
    for (int r = 0; r < op->nresults; r++) {
        c->results[r]->name = op->results[r]->name;
        set_map(U, op->results[r], c->results[r]);
    }
}

/* One step of scan F into dst: carry[0..nc) holds the state before the
 * step and receives the state after it; xs[0..ns) is this step of each
 * sequence; outs[0..no) receives the step's outputs. */
static void emit_step(Un *U, IrBlock *dst, const IrOp *F, IrValue **carry, IrValue **xs, IrValue **outs,
                      const char *origin)
{
    const IrBlock *body = F->body;
    int nc = F->attrs.n_carried, ns = F->attrs.n_seq_in, no = F->attrs.n_seq_out;
    for (int i = 0; i < nc; i++) set_map(U, body->args[i], carry[i]);
    for (int j = 0; j < ns; j++) set_map(U, body->args[nc + j], xs[j]);
    for (int i = 0; i < body->nops; i++) {
        const IrOp *op = body->ops[i];
        clone_op(U, dst, op, origin ? origin : op->origin);
    }
    /* Read every yield before changing carry: a yield may be an argument
     * (a state that stays, or two that swap). */
    for (int k = 0; k < no; k++) outs[k] = look(U, body->yields[nc + k]);
    IrValue **next = ir_alloc(U->m, (size_t)(nc ? nc : 1) * sizeof *next);
    for (int i = 0; i < nc; i++) next[i] = look(U, body->yields[i]);
    for (int i = 0; i < nc; i++) carry[i] = next[i];
}

/* "h: rnn layer 0, t=3": what a step's copies print as their origin. */
static const char *step_origin(IrModule *m, const IrOp *F, int64_t t)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s, t=%lld", scan_label(F), (long long)t);
    return ir_strdup(m, buf);
}

static IrValue *index_of(IrModule *m, IrBlock *dst, IrValue *seq, int64_t t, const IrValue *like)
{
    IrOp *op = ir_op(m, dst, IR_INDEX, &seq, 1, &like->type, 1);
    op->attrs.index = t;
    op->results[0]->name = like->name;
    return op->results[0];
}

static IrValue *stack_of(IrModule *m, IrBlock *dst, IrValue **parts, int n, IrType t, const char *name)
{
    IrValue *v = ir_op(m, dst, IR_STACK, parts, n, &t, 1)->results[0];
    v->name = name;
    return v;
}

static IrValue *reshape_to(IrModule *m, IrBlock *dst, IrValue *x, IrType t)
{
    IrValue *v = ir_op(m, dst, IR_RESHAPE, &x, 1, &t, 1)->results[0];
    v->name = x->name;
    return v;
}

/* ---- using the copies ----------------------------------------------------------------- */

/* Every use of old in the module now reads nv. */
static void replace_uses(IrModule *m, const IrValue *old, IrValue *nv)
{
    ir_replace_uses(m->body, old, nv);
    for (int i = 0; i < m->noutputs; i++)
        if (m->outputs[i].value == old) m->outputs[i].value = nv;
    if (m->loss == old) m->loss = nv;
}

/* The scan's trip count, or -1 if it is not static. */
static int64_t trip_count(const IrOp *F)
{
    if (F->attrs.n_seq_in == 0) return F->attrs.steps;
    int64_t T = F->operands[F->attrs.n_carried]->type.dim[0];
    return T >= 0 ? T : -1;
}

static int need_static(const IrModule *m, const IrOp *F, char *err, size_t errlen)
{
    if (trip_count(F) >= 1) return 0;
    char buf[96];
    const IrValue *s = F->attrs.n_seq_in ? F->operands[F->attrs.n_carried] : NULL;
    return ir_errf(err, errlen,
                   "unroll: scan '%s' runs over %s, whose length is only known at run time: "
                   "give the number of steps to unroll to",
                   scan_label(F), s ? ir_type_str(m, s->type, buf, sizeof buf) : "no sequence");
}

/* Scan F as T straight-line steps in dst. */
static void unroll_scan_full(Un *U, IrBlock *dst, IrOp *F)
{
    IrModule *m = U->m;
    int nc = F->attrs.n_carried, ns = F->attrs.n_seq_in, no = F->attrs.n_seq_out;
    int64_t T = trip_count(F);
    IrValue **carry = ir_alloc(m, (size_t)(nc + 1) * sizeof *carry);
    IrValue **xs = ir_alloc(m, (size_t)(ns + 1) * sizeof *xs);
    IrValue **outs = ir_alloc(m, (size_t)(no + 1) * sizeof *outs);
    IrValue **parts = ir_alloc(m, (size_t)(no * T + 1) * sizeof *parts); /* [k][t] */
    for (int i = 0; i < nc; i++) carry[i] = F->operands[i];
    for (int64_t s = 0; s < T; s++) {
        int64_t t = F->attrs.reverse ? T - 1 - s : s;
        const char *origin = step_origin(m, F, t);
        for (int j = 0; j < ns; j++) {
            xs[j] = index_of(m, dst, F->operands[nc + j], t, F->body->args[nc + j]);
            xs[j]->def->origin = origin;
        }
        emit_step(U, dst, F, carry, xs, outs, origin);
        for (int k = 0; k < no; k++) parts[k * T + t] = outs[k];
    }
    for (int i = 0; i < nc; i++) replace_uses(m, F->results[i], carry[i]);
    for (int k = 0; k < no; k++) {
        IrValue *r = F->results[nc + k];
        IrValue *st = stack_of(m, dst, parts + k * T, (int)T, r->type, r->name);
        st->def->origin = F->origin;
        replace_uses(m, r, st);
    }
}

/* Scan F (T steps, T = q * f) as a scan of q iterations of f steps in dst. */
static void unroll_scan_by(Un *U, IrBlock *dst, IrOp *F, int64_t f)
{
    IrModule *m = U->m;
    int nc = F->attrs.n_carried, ns = F->attrs.n_seq_in, no = F->attrs.n_seq_out;
    int64_t T = trip_count(F), q = T / f;
    IrValue **ops = ir_alloc(m, (size_t)(nc + ns + 1) * sizeof *ops);
    for (int i = 0; i < nc; i++) ops[i] = F->operands[i];
    for (int j = 0; j < ns; j++) { /* [T, ...] -> [q, f, ...] */
        IrValue *x = F->operands[nc + j];
        IrType t = x->type;
        for (int d = t.rank; d > 0; d--) t.dim[d] = t.dim[d - 1];
        t.dim[0] = q;
        t.dim[1] = f;
        t.rank++;
        ops[nc + j] = reshape_to(m, dst, x, t);
        ops[nc + j]->def->origin = F->origin;
    }
    IrOp *S = ir_scan_begin(m, dst, ops, nc, ops + nc, ns, F->attrs.reverse, q);
    S->origin = F->origin;
    IrBlock *sb = S->body;
    for (int i = 0; i < sb->nargs; i++) sb->args[i]->name = F->body->args[i]->name;

    IrValue **carry = ir_alloc(m, (size_t)(nc + 1) * sizeof *carry);
    IrValue **xs = ir_alloc(m, (size_t)(ns + 1) * sizeof *xs);
    IrValue **outs = ir_alloc(m, (size_t)(no + 1) * sizeof *outs);
    IrValue **parts = ir_alloc(m, (size_t)(no * f + 1) * sizeof *parts); /* [k][u] */
    for (int i = 0; i < nc; i++) carry[i] = sb->args[i];
    for (int64_t s = 0; s < f; s++) {
        int64_t u = F->attrs.reverse ? f - 1 - s : s;
        for (int j = 0; j < ns; j++) xs[j] = index_of(m, sb, sb->args[nc + j], u, F->body->args[nc + j]);
        emit_step(U, sb, F, carry, xs, outs, NULL);
        for (int k = 0; k < no; k++) parts[k * f + u] = outs[k];
    }
    IrValue **ys = ir_alloc(m, (size_t)(nc + no + 1) * sizeof *ys);
    for (int i = 0; i < nc; i++) ys[i] = carry[i];
    for (int k = 0; k < no; k++) {
        IrType t = F->body->yields[nc + k]->type;
        for (int d = t.rank; d > 0; d--) t.dim[d] = t.dim[d - 1];
        t.dim[0] = f;
        t.rank++;
        ys[nc + k] = stack_of(m, sb, parts + k * f, (int)f, t, F->body->yields[nc + k]->name);
    }
    ir_scan_finish(m, S, ys, nc, no);
    for (int i = 0; i < nc; i++) {
        S->results[i]->name = F->results[i]->name;
        replace_uses(m, F->results[i], S->results[i]);
    }
    for (int k = 0; k < no; k++) { /* [q, f, ...] -> [T, ...] */
        IrValue *back = reshape_to(m, dst, S->results[nc + k], F->results[nc + k]->type);
        back->name = F->results[nc + k]->name;
        back->def->origin = F->origin;
        replace_uses(m, F->results[nc + k], back);
    }
}

/* ---- the passes ------------------------------------------------------------------------ */

/* Rebuilds the top block with each scan replaced: factor 0 unrolls fully. */
static int rewrite(IrModule *m, int64_t factor, char *err, size_t errlen)
{
    IrBlock *top = m->body;
    for (int i = 0; i < top->nops; i++) { /* check everything before changing anything */
        IrOp *F = top->ops[i];
        if (F->kind != IR_SCAN) continue;
        if (need_static(m, F, err, errlen)) return -1;
        int64_t T = trip_count(F);
        if (factor == 0 || factor >= T) {
            if (T > UNROLL_MAX_STEPS)
                return ir_errf(err, errlen, "unroll: scan '%s' runs %lld steps, more than %d to unroll fully",
                               scan_label(F), (long long)T, UNROLL_MAX_STEPS);
            continue;
        }
        if (T % factor)
            return ir_errf(err, errlen, "unroll: scan '%s' runs %lld steps, not a multiple of the factor %lld",
                           scan_label(F), (long long)T, (long long)factor);
        for (int j = 0; j < F->attrs.n_seq_in; j++)
            if (F->operands[F->attrs.n_carried + j]->type.rank + 1 > IR_MAX_RANK)
                return ir_errf(err, errlen,
                               "unroll: scan '%s': a sequence of rank %d cannot be viewed as "
                               "[T/%lld, %lld, ...] (rank above %d)",
                               scan_label(F), F->operands[F->attrs.n_carried + j]->type.rank, (long long)factor,
                               (long long)factor, IR_MAX_RANK);
        for (int k = 0; k < F->attrs.n_seq_out; k++)
            if (F->results[F->attrs.n_carried + k]->type.rank + 1 > IR_MAX_RANK)
                return ir_errf(err, errlen,
                               "unroll: scan '%s': a step output of rank %d cannot be stacked "
                               "per iteration (rank above %d)",
                               scan_label(F), F->results[F->attrs.n_carried + k]->type.rank - 1, IR_MAX_RANK);
    }

    Un U = {.m = m, .nmap = m->next_id};
    U.map = calloc((size_t)(U.nmap ? U.nmap : 1), sizeof *U.map);
    if (!U.map) return ir_errf(err, errlen, "out of memory");
    IrBlock *nb = ir_alloc(m, sizeof *nb);
    for (int i = 0; i < top->nops; i++) {
        IrOp *F = top->ops[i];
        if (F->kind != IR_SCAN) {
            ir_block_append(m, nb, F);
            continue;
        }
        int64_t T = trip_count(F);
        if (factor == 0 || factor >= T)
            unroll_scan_full(&U, nb, F);
        else
            unroll_scan_by(&U, nb, F, factor);
    }
    free(U.map);
    ir_block_take_ops(top, nb);

    if (ir_verify(m, "unroll", stderr))
        return ir_errf(err, errlen, "internal error: the unrolled module does not verify (see above)");
    return 0;
}

int unroll_full(IrModule *m, int64_t steps, char *err, size_t errlen)
{
    if (steps > UNROLL_MAX_STEPS)
        return ir_errf(err, errlen, "unroll: %lld steps is more than %d to unroll fully", (long long)steps,
                       UNROLL_MAX_STEPS);
    if (steps > 0 && unroll_specialize(m, steps, err, errlen)) return -1;
    return rewrite(m, 0, err, errlen);
}

int unroll_by(IrModule *m, int factor, char *err, size_t errlen)
{
    if (factor < 1) return ir_errf(err, errlen, "unroll: the factor must be at least 1, got %d", factor);
    if (factor == 1) return 0;
    return rewrite(m, factor, err, errlen);
}
