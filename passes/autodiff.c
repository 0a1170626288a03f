/* autodiff.c - reverse-mode automatic differentiation of graph IR, with
 * backpropagation through time for scans (see autodiff.h for the contract).
 *
 * The pass walks the forward ops backwards ("a sweep"), holding for every
 * forward value the gradient of the loss with respect to it, and for each
 * op appends the ops of its vector-Jacobian product (vjp(), one switch: the
 * rule table).  Rules are built from IR ops only, so a user-written cell
 * needs nothing special: it is made of primitives.
 *
 * Only values that depend on a parameter ("vary") get gradients; the rest
 * (inputs, targets, ids, constants) are never differentiated.
 *
 * The reverse of a scan F is a scan B with reverse = !F.reverse, so B visits
 * the steps in the opposite order and reads/writes every per-step value at
 * the step's own index:
 *   - the tape: F gets extra per-step outputs holding every body value that
 *     a rule of B reads (tape_reads(): the operands of mul/div/linear/...,
 *     the results of sigmoid/tanh/exp/softmax), including carried
 *     arguments (the state before the step).  These are stored, not
 *     recomputed.  Steps of F's own sequences are read from the sequences.
 *   - B carries the gradient of each differentiated carried state (starting
 *     from the gradient of F's final state, or zeros) and one accumulator
 *     per varying outer value the body reads (weights): the sum over all
 *     steps, which is weight sharing.
 *   - B's sequence inputs: the gradients of F's stacked outputs that have
 *     one, the tape, and F's sequences that a rule reads.
 *   - B's per-step outputs: the gradients of F's varying sequence operands.
 *   - B's final carried values: the gradients of F's initial values, and
 *     the summed outer gradients. */
#include "passes/autodiff.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/timing.h"

/* One per-step state gradient (autodiff_with_state_grads()): the stacked
 * result of a backward scan holding dL/d(carried value `carried` after
 * each step) of forward scan F. */
typedef struct StateGrad {
    const IrOp *F;
    int carried;
    IrValue *v;
} StateGrad;

typedef struct AD {
    IrModule *m;
    int n0;                /* forward values have ids below n0       */
    unsigned char *varies; /* by forward id: depends on a parameter  */
    char *err;
    size_t errlen;
    int failed;
    int state_grads; /* also emit per-step state gradients  */
    StateGrad *sg;
    int nsg, capsg;
} AD;

/* One reverse walk over a forward block. */
typedef struct Sweep {
    AD *ad;
    IrBlock *blk;         /* where the backward ops go                      */
    IrValue **grad;       /* by forward id: gradient so far, or NULL        */
    IrValue **map;        /* by forward id: what to read instead (a tape step) */
    unsigned char *local; /* by forward id: defined in the scan body reversed */
} Sweep;

static void ad_fail(AD *ad, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void ad_fail(AD *ad, const char *fmt, ...)
{
    if (ad->failed) return; /* keep the first message */
    ad->failed = 1;
    if (ad->err && ad->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ad->err, ad->errlen, fmt, ap);
        va_end(ap);
    }
}

static int fwd_id(const AD *ad, const IrValue *v) { return v && v->id >= 0 && v->id < ad->n0; }

static int varies(const AD *ad, const IrValue *v) { return fwd_id(ad, v) && ad->varies[v->id]; }

/* ---- which values vary ---------------------------------------------------------- */

static void varies_block(AD *ad, const IrBlock *b);

static void set_varies(AD *ad, const IrValue *v, int on)
{
    if (fwd_id(ad, v)) ad->varies[v->id] = (unsigned char)(on && v->type.dtype == IR_F32);
}

/* A carried argument varies if its initial value or any step's next value
 * does: iterate the body until the carried flags stop changing (they only
 * ever turn on, so this ends). */
static void varies_scan(AD *ad, const IrOp *op)
{
    const IrBlock *body = op->body;
    int nc = op->attrs.n_carried;
    for (int i = 0; i < body->nargs; i++) set_varies(ad, body->args[i], varies(ad, op->operands[i]));
    for (int changed = 1; changed;) {
        varies_block(ad, body);
        changed = 0;
        for (int i = 0; i < nc; i++)
            if (varies(ad, body->yields[i]) && !varies(ad, body->args[i])) {
                set_varies(ad, body->args[i], 1);
                changed = varies(ad, body->args[i]);
            }
    }
    for (int i = 0; i < op->nresults; i++)
        set_varies(ad, op->results[i], i < nc ? varies(ad, body->args[i]) : varies(ad, body->yields[i]));
}

static void varies_block(AD *ad, const IrBlock *b)
{
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        if (op->kind == IR_SCAN) {
            varies_scan(ad, op);
            continue;
        }
        int v = 0;
        for (int k = 0; k < op->noperands; k++) v |= varies(ad, op->operands[k]);
        for (int r = 0; r < op->nresults; r++) set_varies(ad, op->results[r], v);
    }
}

/* ---- building ------------------------------------------------------------------- */

/* Builds a one-result op with its type inferred; a rule that does not
 * type-check is a bug in this file. */
static IrValue *build(Sweep *S, IrOpKind k, IrValue **ops, int n, const IrAttrs *attrs)
{
    IrType t;
    char err[256];
    if (!ir_infer_type(S->ad->m, k, ops, n, attrs, &t, err, sizeof err)) {
        ad_fail(S->ad, "internal error: autodiff built a bad '%s': %s", ir_op_name(k), err);
        t = ops[0]->type; /* keep going; the failure is reported */
    }
    IrOp *op = ir_op(S->ad->m, S->blk, k, ops, n, &t, 1);
    if (attrs) op->attrs = *attrs;
    return op->results[0];
}

static IrValue *op1(Sweep *S, IrOpKind k, IrValue *a) { return build(S, k, &a, 1, NULL); }

static IrValue *op2(Sweep *S, IrOpKind k, IrValue *a, IrValue *b)
{
    IrValue *o[2] = {a, b};
    return build(S, k, o, 2, NULL);
}

static IrValue *zeros(Sweep *S, IrType t) { return ir_const(S->ad->m, S->blk, 0.0, t); }

static IrValue *scalar(Sweep *S, double f)
{
    IrType t = {.dtype = IR_F32, .rank = 0};
    return ir_const(S->ad->m, S->blk, f, t);
}

/* g summed down to type t, undoing numpy broadcasting. */
static IrValue *unbroadcast(Sweep *S, IrValue *g, IrType t)
{
    if (ir_type_eq(g->type, t)) return g;
    return ir_op(S->ad->m, S->blk, IR_REDUCE_TO, &g, 1, &t, 1)->results[0];
}

/* The value to read for forward value v: itself, or its tape step. */
static IrValue *fv(Sweep *S, IrValue *v)
{
    if (fwd_id(S->ad, v) && S->map && S->map[v->id]) return S->map[v->id];
    if (fwd_id(S->ad, v) && S->local && S->local[v->id])
        ad_fail(S->ad, "internal error: autodiff: %%%d is read by a rule but not on the tape", v->id);
    return v;
}

/* grad[v] += g, for a varying v. */
static void acc(Sweep *S, IrValue *v, IrValue *g)
{
    if (!varies(S->ad, v)) return;
    if (!ir_type_eq(v->type, g->type)) {
        char a[96], b[96];
        ad_fail(S->ad, "internal error: autodiff: gradient %s for %%%d of type %s",
                ir_type_str(S->ad->m, g->type, a, sizeof a), v->id, ir_type_str(S->ad->m, v->type, b, sizeof b));
        return;
    }
    IrValue **slot = &S->grad[v->id];
    *slot = *slot ? op2(S, IR_ADD, *slot, g) : g;
}

static void acc_ub(Sweep *S, IrValue *v, IrValue *g) { acc(S, v, unbroadcast(S, g, v->type)); }

/* Marks the ops appended to b since `from` as made for the forward op
 * with origin `o`, so that dumps say what each backward op is for. */
static void stamp(AD *ad, IrBlock *b, int from, const char *o)
{
    char buf[160];
    snprintf(buf, sizeof buf, "grad %s", o);
    const char *s = NULL;
    for (int i = from; i < b->nops; i++)
        if (!b->ops[i]->origin) b->ops[i]->origin = s ? s : (s = ir_strdup(ad->m, buf));
}

/* What a forward op is called in the backward ops' origins: its origin,
 * else its result's name. */
static const char *label(const IrOp *op)
{
    if (op->origin) return op->origin;
    if (op->nresults && op->results[0]->name) return op->results[0]->name;
    return ir_op_name(op->kind);
}

/* ---- the rule table --------------------------------------------------------------- */

/* The forward values that vjp() reads for op (through fv()): what a scan
 * must put on its tape.  Keep in step with vjp(). */
static int tape_reads(const IrOp *op, IrValue **r)
{
    switch (op->kind) {
    case IR_MUL:
    case IR_DIV:
    case IR_LINEAR:
    case IR_EMBEDDING:
    case IR_CROSS_ENTROPY:
    case IR_MSE:
        r[0] = op->operands[0];
        r[1] = op->operands[1];
        if (op->noperands > 2) r[2] = op->operands[2]; /* cross_entropy's weights */
        return op->noperands;
    case IR_SEQ_REVERSE:
        if (op->noperands < 2) return 0;
        r[0] = op->operands[1]; /* the mask */
        return 1;
    case IR_RELU:
    case IR_LOG:
    case IR_SOFTPLUS:
    case IR_SEQ_LAST:
    case IR_SEQ_MEAN:
    case IR_LAYERNORM: r[0] = op->operands[0]; return 1;
    case IR_SIGMOID:
    case IR_TANH:
    case IR_EXP:
    case IR_SOFTMAX: r[0] = op->results[0]; return 1;
    default: return 0;
    }
}

/* Adds op's vector-Jacobian product: from the gradient of its result, the
 * gradient of each varying operand. */
static void vjp(Sweep *S, const IrOp *op)
{
    IrValue *g = op->nresults == 1 ? S->grad[op->results[0]->id] : NULL;
    if (!g) return;
    IrValue **o = op->operands;
    IrValue *a = op->noperands > 0 ? o[0] : NULL, *b = op->noperands > 1 ? o[1] : NULL;
    AD *ad = S->ad;
    switch (op->kind) {
    case IR_CONST: break;
    case IR_ADD:
        acc_ub(S, a, g);
        acc_ub(S, b, g);
        break;
    case IR_SUB:
        acc_ub(S, a, g);
        if (varies(ad, b)) acc_ub(S, b, op1(S, IR_NEG, g));
        break;
    case IR_MUL:
        if (varies(ad, a)) acc_ub(S, a, op2(S, IR_MUL, g, fv(S, b)));
        if (varies(ad, b)) acc_ub(S, b, op2(S, IR_MUL, g, fv(S, a)));
        break;
    case IR_DIV: { /* d(a/b) = da/b - a db/b^2 */
        IrValue *bv = fv(S, b);
        if (varies(ad, a)) acc_ub(S, a, op2(S, IR_DIV, g, bv));
        if (varies(ad, b))
            acc_ub(S, b, op1(S, IR_NEG, op2(S, IR_DIV, op2(S, IR_MUL, g, fv(S, a)), op2(S, IR_MUL, bv, bv))));
        break;
    }
    case IR_NEG: acc(S, a, op1(S, IR_NEG, g)); break;
    case IR_SIGMOID: { /* y (1 - y) */
        IrValue *y = fv(S, op->results[0]);
        acc(S, a, op2(S, IR_MUL, op2(S, IR_MUL, g, y), op2(S, IR_SUB, scalar(S, 1), y)));
        break;
    }
    case IR_TANH: { /* 1 - y^2 */
        IrValue *y = fv(S, op->results[0]);
        acc(S, a, op2(S, IR_MUL, g, op2(S, IR_SUB, scalar(S, 1), op2(S, IR_MUL, y, y))));
        break;
    }
    case IR_RELU: acc(S, a, op2(S, IR_RELU_GRAD, g, fv(S, a))); break;
    case IR_EXP: acc(S, a, op2(S, IR_MUL, g, fv(S, op->results[0]))); break;
    case IR_LOG: acc(S, a, op2(S, IR_DIV, g, fv(S, a))); break;
    case IR_SOFTPLUS: /* d log(1 + e^x) = e^x / (1 + e^x) = sigmoid(x) */
        acc(S, a, op2(S, IR_MUL, g, op1(S, IR_SIGMOID, fv(S, a))));
        break;
    case IR_LINEAR: /* y = x W^T: dx = g W, dW = sum g^T x */
        if (varies(ad, a)) acc(S, a, op2(S, IR_MATMUL_NN, g, fv(S, b)));
        if (varies(ad, b)) acc(S, b, op2(S, IR_LINEAR_WGRAD, g, fv(S, a)));
        break;
    case IR_CONCAT: {
        int64_t off = 0;
        for (int i = 0; i < op->noperands; i++) {
            IrType t = o[i]->type;
            int64_t w = t.dim[t.rank - 1];
            if (varies(ad, o[i])) acc(S, o[i], ir_slice(ad->m, S->blk, g, off, w));
            off += w;
        }
        break;
    }
    case IR_SLICE: { /* zeros, g, zeros along the last axis */
        IrType t = a->type;
        int last = t.rank - 1;
        int64_t n = t.dim[last], start = op->attrs.start, len = op->attrs.len;
        IrValue *parts[3];
        int np = 0;
        IrType zt = t;
        if (start > 0) {
            zt.dim[last] = start;
            parts[np++] = zeros(S, zt);
        }
        parts[np++] = g;
        if (n - start - len > 0) {
            zt.dim[last] = n - start - len;
            parts[np++] = zeros(S, zt);
        }
        acc(S, a, np == 1 ? g : build(S, IR_CONCAT, parts, np, NULL));
        break;
    }
    case IR_BROADCAST: acc_ub(S, a, g); break;
    case IR_RESHAPE: { /* the same elements: g in the operand's shape */
        IrType t = a->type;
        acc(S, a, ir_op(ad->m, S->blk, IR_RESHAPE, &g, 1, &t, 1)->results[0]);
        break;
    }
    case IR_STACK:
        for (int i = 0; i < op->noperands; i++) {
            if (!varies(ad, o[i])) continue;
            IrAttrs at = {.index = i};
            acc(S, o[i], build(S, IR_INDEX, &g, 1, &at));
        }
        break;
    case IR_INDEX: { /* g at position index of the leading axis, zeros elsewhere */
        int64_t n = a->type.dim[0];
        IrValue **parts = ir_alloc(ad->m, (size_t)n * sizeof *parts);
        IrValue *z = n > 1 ? zeros(S, g->type) : NULL;
        for (int64_t i = 0; i < n; i++) parts[i] = i == op->attrs.index ? g : z;
        acc(S, a, build(S, IR_STACK, parts, (int)n, NULL));
        break;
    }
    case IR_SEQ_LAST: acc(S, a, op2(S, IR_SEQ_LAST_GRAD, g, fv(S, a))); break;
    case IR_SEQ_REVERSE: { /* its own transpose, with the mask too (lengths) */
        IrValue *e[2] = {g, op->noperands > 1 ? fv(S, op->operands[1]) : NULL};
        acc(S, a, build(S, IR_SEQ_REVERSE, e, op->noperands, NULL));
        break;
    }
    case IR_SEQ_MEAN: acc(S, a, op2(S, IR_SEQ_MEAN_GRAD, g, fv(S, a))); break;
    case IR_EMBEDDING:
        if (varies(ad, a)) {
            IrValue *e[3] = {fv(S, a), fv(S, b), g};
            acc(S, a, build(S, IR_EMBEDDING_GRAD, e, 3, NULL));
        }
        break;
    case IR_SOFTMAX: { /* dx = y (g - sum(g y)) over the last axis */
        IrValue *y = fv(S, op->results[0]);
        IrValue *gy = op2(S, IR_MUL, g, y);
        IrType t = gy->type;
        t.dim[t.rank - 1] = 1;
        IrValue *s = ir_op(ad->m, S->blk, IR_REDUCE_TO, &gy, 1, &t, 1)->results[0];
        acc(S, a, op2(S, IR_MUL, y, op2(S, IR_SUB, g, s)));
        break;
    }
    case IR_LAYERNORM: { /* one op: the rule needs row sums (interp_ops.c) */
        IrValue *e[2] = {g, fv(S, a)};
        acc(S, a, build(S, IR_LAYERNORM_GRAD, e, 2, &op->attrs));
        break;
    }
    case IR_CROSS_ENTROPY: { /* with the weights, if given (lengths) */
        IrValue *e[3] = {fv(S, a), fv(S, b), op->noperands > 2 ? fv(S, op->operands[2]) : NULL};
        acc(S, a, op2(S, IR_MUL, build(S, IR_CROSS_ENTROPY_GRAD, e, op->noperands, NULL), g));
        break;
    }
    case IR_MSE: {
        IrValue *d = op2(S, IR_MUL, op2(S, IR_MSE_GRAD, fv(S, a), fv(S, b)), g);
        acc(S, a, d);
        if (varies(ad, b)) acc(S, b, op1(S, IR_NEG, d));
        break;
    }
    default: /* the gradient ops themselves, and scans (handled by scan_vjp) */
        ad_fail(ad, "autodiff: cannot differentiate '%s' yet", ir_op_name(op->kind));
        break;
    }
}

/* ---- scans ------------------------------------------------------------------------ */

/* Appends y as a per-step output of scan F (a tape entry); returns the new
 * stacked result [T, ...]. */
static IrValue *scan_add_output(AD *ad, IrOp *F, IrValue *y)
{
    IrModule *m = ad->m;
    IrBlock *body = F->body;
    if (y->type.rank + 1 > IR_MAX_RANK) {
        ad_fail(ad, "autodiff: a scan's tape value %%%d would exceed rank %d", y->id, IR_MAX_RANK);
        return NULL;
    }
    IrValue **ys = ir_alloc(m, (size_t)(body->nyields + 1) * sizeof *ys);
    memcpy(ys, body->yields, (size_t)body->nyields * sizeof *ys);
    ys[body->nyields++] = y;
    body->yields = ys;
    IrValue **rs = ir_alloc(m, (size_t)(F->nresults + 1) * sizeof *rs);
    memcpy(rs, F->results, (size_t)F->nresults * sizeof *rs);
    F->results = rs;

    IrValue *v = ir_alloc(m, sizeof *v);
    v->id = m->next_id++;
    v->kind = IR_VAL_OP;
    v->type = y->type;
    for (int d = v->type.rank; d > 0; d--) v->type.dim[d] = v->type.dim[d - 1];
    v->type.dim[0] = F->attrs.n_seq_in ? F->operands[F->attrs.n_carried]->type.dim[0] : F->attrs.steps;
    v->type.rank++;
    v->name = y->name;
    v->def = F;
    v->def_index = F->nresults;
    F->results[F->nresults++] = v;
    F->attrs.n_seq_out++;
    return v;
}

/* Appends v to list (of capacity cap) unless it is there already. */
static void add_unique(IrValue **list, int *n, IrValue *v)
{
    for (int i = 0; i < *n; i++)
        if (list[i] == v) return;
    list[(*n)++] = v;
}

static void scan_vjp(Sweep *S, IrOp *F)
{
    AD *ad = S->ad;
    IrModule *m = ad->m;
    IrBlock *body = F->body;
    int nc = F->attrs.n_carried, ns = F->attrs.n_seq_in, no = F->attrs.n_seq_out;
    int any = 0;
    for (int i = 0; i < F->nresults; i++) any |= S->grad[F->results[i]->id] != NULL;
    if (!any) return;
    int top_from = S->blk->nops;

    /* Everything defined in the body, and the varying outer values it reads. */
    unsigned char *local = calloc((size_t)ad->n0, 1), *need = calloc((size_t)ad->n0, 1);
    int cap = 8 + body->nyields + body->nargs;
    for (int i = 0; i < body->nops; i++) cap += body->ops[i]->noperands + body->ops[i]->nresults;
    IrValue **outer = calloc((size_t)cap, sizeof *outer), **tape = calloc((size_t)cap, sizeof *tape);
    IrValue **carried = calloc((size_t)cap, sizeof *carried), **seqs = calloc((size_t)cap, sizeof *seqs);
    IrValue **yields = calloc((size_t)cap, sizeof *yields);
    int *seq_of = calloc((size_t)(ns ? ns : 1), sizeof *seq_of);   /* F's sequence j -> B's seq index */
    int *gout_of = calloc((size_t)(no ? no : 1), sizeof *gout_of); /* F's output k -> B's seq index */
    Sweep bs = {.ad = ad, .local = local};
    bs.grad = calloc((size_t)ad->n0, sizeof *bs.grad);
    bs.map = calloc((size_t)ad->n0, sizeof *bs.map);
    if (!local || !need || !outer || !tape || !carried || !seqs || !yields || !seq_of || !gout_of || !bs.grad ||
        !bs.map) {
        ad_fail(ad, "out of memory");
        goto done;
    }
    for (int i = 0; i < body->nargs; i++) local[body->args[i]->id] = 1;
    for (int i = 0; i < body->nops; i++) {
        if (body->ops[i]->kind == IR_SCAN) {
            ad_fail(ad, "autodiff: a scan inside a scan cannot be differentiated yet");
            goto done;
        }
        for (int r = 0; r < body->ops[i]->nresults; r++) local[body->ops[i]->results[r]->id] = 1;
    }
    int nouter = 0, ntape = 0;
    for (int i = 0; i < body->nops; i++) {
        IrOp *op = body->ops[i];
        for (int k = 0; k < op->noperands; k++)
            if (!local[op->operands[k]->id] && varies(ad, op->operands[k])) add_unique(outer, &nouter, op->operands[k]);
        if (op->nresults != 1 || !varies(ad, op->results[0])) continue;
        IrValue *r[3];
        for (int k = tape_reads(op, r) - 1; k >= 0; k--)
            if (fwd_id(ad, r[k]) && local[r[k]->id]) need[r[k]->id] = 1;
    }
    for (int i = 0; i < body->nyields; i++)
        if (!local[body->yields[i]->id] && varies(ad, body->yields[i])) add_unique(outer, &nouter, body->yields[i]);
    /* The tape: needed carried arguments and op results (in body order). */
    for (int i = 0; i < nc; i++)
        if (need[body->args[i]->id]) tape[ntape++] = body->args[i];
    for (int i = 0; i < body->nops; i++)
        if (need[body->ops[i]->results[0]->id]) tape[ntape++] = body->ops[i]->results[0];

    /* B's operands: carried gradients, then accumulators; then sequences. */
    int nbc = 0, nbs = 0;
    int *cv = calloc((size_t)(nc ? nc : 1), sizeof *cv);
    if (!cv) {
        ad_fail(ad, "out of memory");
        goto done;
    }
    for (int i = 0; i < nc; i++) {
        cv[i] = varies(ad, body->args[i]);
        if (!cv[i]) continue;
        IrValue *g = S->grad[F->results[i]->id];
        carried[nbc++] = g ? g : zeros(S, F->results[i]->type);
    }
    int nstate = nbc;
    for (int q = 0; q < nouter; q++) carried[nbc++] = zeros(S, outer[q]->type);
    for (int k = 0; k < no; k++) {
        IrValue *g = S->grad[F->results[nc + k]->id];
        gout_of[k] = -1;
        if (g) {
            gout_of[k] = nbs;
            seqs[nbs++] = g;
        }
    }
    int tape0 = nbs;
    for (int t = 0; t < ntape; t++) {
        IrValue *r = NULL;
        for (int k = 0; k < no && !r; k++) /* already a step output: no second copy */
            if (body->yields[nc + k] == tape[t]) r = F->results[nc + k];
        if (!r && !(r = scan_add_output(ad, F, tape[t]))) {
            free(cv);
            goto done;
        }
        seqs[nbs++] = r;
    }
    for (int j = 0; j < ns; j++) {
        seq_of[j] = -1;
        if (need[body->args[nc + j]->id]) {
            seq_of[j] = nbs;
            seqs[nbs++] = F->operands[nc + j];
        }
    }
    if (nbs == 0 && ns > 0) seqs[nbs++] = F->operands[nc]; /* only for the trip count */

    IrOp *B = ir_scan_begin(m, S->blk, carried, nbc, seqs, nbs, !F->attrs.reverse, F->attrs.steps);
    B->origin = F->origin;
    bs.blk = B->body;
    IrValue **barg = B->body->args;
    for (int t = 0; t < ntape; t++) bs.map[tape[t]->id] = barg[nbc + tape0 + t];
    for (int j = 0; j < ns; j++)
        if (seq_of[j] >= 0) bs.map[body->args[nc + j]->id] = barg[nbc + seq_of[j]];

    /* Seed the step's gradients from B's arguments, then reverse the body. */
    for (int i = 0, ci = 0; i < nc; i++)
        if (cv[i]) acc(&bs, body->yields[i], barg[ci++]);
    stamp(ad, bs.blk, 0, label(F));
    for (int k = 0; k < no; k++)
        if (gout_of[k] >= 0) acc(&bs, body->yields[nc + k], barg[nbc + gout_of[k]]);
    for (int i = body->nops - 1; i >= 0 && !ad->failed; i--) {
        int from = bs.blk->nops;
        vjp(&bs, body->ops[i]);
        stamp(ad, bs.blk, from, label(body->ops[i]));
    }

    int ny = 0, body_from = bs.blk->nops;
    for (int i = 0; i < nc; i++)
        if (cv[i]) {
            IrValue *g = bs.grad[body->args[i]->id];
            yields[ny++] = g ? g : zeros(&bs, body->args[i]->type);
        }
    for (int q = 0; q < nouter; q++) {
        IrValue *g = bs.grad[outer[q]->id], *a = barg[nstate + q];
        yields[ny++] = g ? op2(&bs, IR_ADD, a, g) : a;
    }
    int nso = 0;
    for (int j = 0; j < ns; j++)
        if (varies(ad, body->args[nc + j])) {
            IrValue *g = bs.grad[body->args[nc + j]->id];
            yields[ny++] = g ? g : zeros(&bs, body->args[nc + j]->type);
            nso++;
        }
    /* autodiff_with_state_grads(): the whole gradient of each carried
     * value after the step (the value the step yields), as one more step
     * output.  After the reverse sweep its slot holds every contribution:
     * the next step's (B's carried argument), this step's outputs' and
     * those of body ops reading it. */
    int nsg = 0;
    if (ad->state_grads && S->blk == m->body)
        for (int i = 0; i < nc; i++)
            if (cv[i]) {
                IrValue *g = bs.grad[body->yields[i]->id];
                yields[ny++] = g ? g : zeros(&bs, body->args[i]->type);
                nsg++;
            }
    stamp(ad, bs.blk, body_from, label(F));
    ir_scan_finish(m, B, yields, nbc, nso + nsg);
    if (nsg && ad->nsg + nsg > ad->capsg) {
        int cap = 2 * ad->capsg + nsg + 8;
        StateGrad *p = realloc(ad->sg, (size_t)cap * sizeof *p);
        if (!p) {
            ad_fail(ad, "out of memory");
            free(cv);
            goto done;
        }
        ad->sg = p;
        ad->capsg = cap;
    }
    for (int i = 0, k = 0; i < nc && nsg; i++)
        if (cv[i]) ad->sg[ad->nsg++] = (StateGrad){F, i, B->results[nbc + nso + k++]};

    /* Hand the results back to the outer sweep. */
    for (int i = 0, ci = 0; i < nc; i++)
        if (cv[i]) acc(S, F->operands[i], B->results[ci++]);
    for (int q = 0; q < nouter; q++) acc(S, outer[q], B->results[nstate + q]);
    for (int j = 0, so = 0; j < ns; j++)
        if (varies(ad, body->args[nc + j])) acc(S, F->operands[nc + j], B->results[nbc + so++]);
    stamp(ad, S->blk, top_from, label(F));
    free(cv);
done:
    free(local);
    free(need);
    free(outer);
    free(tape);
    free(carried);
    free(seqs);
    free(yields);
    free(seq_of);
    free(gout_of);
    free(bs.grad);
    free(bs.map);
}

/* ---- the pass ------------------------------------------------------------------------- */

/* The state gradients' outputs, in the forward scans' order (the sweep met
 * them last to first), named "stategrad:<scan origin>: state <name or k>". */
static void add_state_grad_outputs(AD *ad, int nfwd)
{
    IrModule *m = ad->m;
    for (int i = 0; i < nfwd; i++)
        for (int k = 0; k < ad->nsg; k++) {
            const StateGrad *sg = &ad->sg[k];
            if (sg->F != m->body->ops[i]) continue;
            const IrValue *arg = sg->F->body->args[sg->carried];
            char name[540], of[512], idx[16];
            snprintf(idx, sizeof idx, "%d", sg->carried);
            snprintf(of, sizeof of, "%s: state %s", label(sg->F), arg->name ? arg->name : idx);
            snprintf(name, sizeof name, "%s%s", AUTODIFF_STATEGRAD_PREFIX, of);
            ir_add_role_output(m, name, sg->v, IR_ROLE_STATE_GRAD, of);
        }
}

static int autodiff_impl(IrModule *m, int state_grads, char *err, size_t errlen)
{
    AD ad = {.m = m, .n0 = m->next_id, .err = err, .errlen = errlen, .state_grads = state_grads};
    if (!m->loss) {
        ad_fail(&ad, "model '%s' has no loss to differentiate (add a 'loss = ...' statement)", m->name);
        return -1;
    }
    ad.varies = calloc((size_t)(ad.n0 ? ad.n0 : 1), 1);
    Sweep S = {.ad = &ad, .blk = m->body};
    S.grad = calloc((size_t)(ad.n0 ? ad.n0 : 1), sizeof *S.grad);
    if (!ad.varies || !S.grad) {
        ad_fail(&ad, "out of memory");
        goto done;
    }
    for (int i = 0; i < m->nparams; i++) set_varies(&ad, m->params[i].value, 1);
    varies_block(&ad, m->body);

    int nfwd = m->body->nops;
    if (varies(&ad, m->loss)) S.grad[m->loss->id] = scalar(&S, 1.0);
    stamp(&ad, m->body, nfwd, "loss");
    for (int i = nfwd - 1; i >= 0 && !ad.failed; i--) {
        IrOp *op = m->body->ops[i];
        int from = m->body->nops;
        if (op->kind == IR_SCAN)
            scan_vjp(&S, op);
        else
            vjp(&S, op);
        stamp(&ad, m->body, from, label(op));
    }
    for (int i = 0; i < m->nparams && !ad.failed; i++) {
        IrValue *p = m->params[i].value, *g = S.grad[p->id];
        int from = m->body->nops;
        if (!g) g = zeros(&S, p->type);
        stamp(&ad, m->body, from, "unused parameter");
        char name[512];
        snprintf(name, sizeof name, "%s%s", AUTODIFF_GRAD_PREFIX, m->params[i].name);
        ir_add_role_output(m, name, g, IR_ROLE_GRAD, m->params[i].name);
    }
    if (!ad.failed) add_state_grad_outputs(&ad, nfwd);
    if (!ad.failed && ir_verify(m, "autodiff", stderr))
        ad_fail(&ad, "internal error: the differentiated module does not verify (see above)");
done:
    free(ad.varies);
    free(S.grad);
    free(ad.sg);
    return ad.failed ? -1 : 0;
}

/* Both entry points are one --time-passes row (ir/timing.h). */
static int autodiff_timed(IrModule *m, int state_grads, char *err, size_t errlen)
{
    TimingMark t = timing_start();
    int rc = autodiff_impl(m, state_grads, err, errlen);
    timing_stop(&t, "autodiff");
    return rc;
}

int autodiff(IrModule *m, char *err, size_t errlen) { return autodiff_timed(m, 0, err, errlen); }

int autodiff_with_state_grads(IrModule *m, char *err, size_t errlen) { return autodiff_timed(m, 1, err, errlen); }
