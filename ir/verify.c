/* verify.c - the IR verifier: checks that a module is well formed.
 *
 * Run after the frontend and after every pass, so that a pass that breaks
 * the IR is caught at the pass, not three stages later in a backend.  It
 * checks:
 *   - every value has a unique id in [0, next_id) and a well-formed type;
 *   - definitions dominate uses: an operand is a module input, target or
 *     param, an argument of this block or of an enclosing scan body, or a
 *     result of an op earlier in this block or earlier in an enclosing
 *     block (scan bodies may use outer values);
 *   - each op has the operand and result count of its kind, its results
 *     point back at it, its `parent` is its block;
 *   - each non-scan op's result type is the one ir_infer_type() gives;
 *   - scan structure: counts, carried types, time dims, step types;
 *   - outputs and loss are defined values; the loss is a scalar.
 * Every problem is one line "ir verifier: <stage>: <message>" and counted.
 * It never trusts the module: NULL pointers and garbage counts are reported,
 * not followed. */
#include "ir/ir.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A body that (wrongly) contains its own scan would recurse forever. */
#define MAX_DEPTH 64

typedef struct Verifier {
    const IrModule *m;
    const char *stage;
    FILE *out;
    int nerrors;
    const IrValue **byid;   /* the value that owns each id              */
    unsigned char *visible; /* 1 while the value with that id is in scope */
    int nids;
    const IrOp *active[MAX_DEPTH + 1]; /* the scans being walked      */
    int nactive;
} Verifier;

static void report(Verifier *vf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(Verifier *vf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vf->out) {
        fprintf(vf->out, "ir verifier: %s: ", vf->stage ? vf->stage : "ir");
        vfprintf(vf->out, fmt, ap);
        fputc('\n', vf->out);
    }
    va_end(ap);
    vf->nerrors++;
}

/* ---- describing things in messages ---------------------------------------- */

/* "%13" or "%13 (h)". */
static const char *vstr(const IrValue *v, char *buf, size_t n)
{
    if (!v)
        snprintf(buf, n, "<null>");
    else if (v->name)
        snprintf(buf, n, "%%%d (%s)", v->id, v->name);
    else
        snprintf(buf, n, "%%%d", v->id);
    return buf;
}

static const char *kind_str(IrOpKind k) { return ((int)k >= 0 && k < IR_NUM_OPS) ? ir_op_name(k) : "<bad op kind>"; }

/* "'linear' defining %13" or "'linear' at index 4 of its block". */
static const char *ostr(const IrOp *op, int index, char *buf, size_t n)
{
    if (op->nresults > 0 && op->results && op->results[0]) {
        char v[96];
        snprintf(buf, n, "'%s' defining %s", kind_str(op->kind), vstr(op->results[0], v, sizeof v));
    } else {
        snprintf(buf, n, "'%s' at index %d of its block", kind_str(op->kind), index);
    }
    return buf;
}

static int type_ok(const IrModule *m, IrType t)
{
    if (t.dtype != IR_F32 && t.dtype != IR_I64) return 0;
    if (t.rank < 0 || t.rank > IR_MAX_RANK) return 0;
    for (int i = 0; i < t.rank; i++)
        if (t.dim[i] < 0 && -t.dim[i] - 1 >= m->nsyms) return 0;
    return 1;
}

static const char *tstr(const IrModule *m, IrType t, char *buf, size_t n)
{
    if (!type_ok(m, t)) {
        snprintf(buf, n, "<malformed type>");
        return buf;
    }
    return ir_type_str(m, t, buf, n);
}

/* ---- pass 1: ids and types of every value ---------------------------------- */

static void check_value(Verifier *vf, const IrValue *v, const char *where)
{
    char b[128];
    if (!v) {
        report(vf, "%s is NULL", where);
        return;
    }
    if (v->id < 0 || v->id >= vf->nids) {
        report(vf, "%s %s has id %d outside [0, %d)", where, vstr(v, b, sizeof b), v->id, vf->nids);
        return;
    }
    if (vf->byid[v->id] && vf->byid[v->id] != v)
        report(vf, "%s %s: id %d is used by two values", where, vstr(v, b, sizeof b), v->id);
    else
        vf->byid[v->id] = v;
    if (!type_ok(vf->m, v->type))
        report(vf, "%s %s has a malformed type (rank %d)", where, vstr(v, b, sizeof b), v->type.rank);
}

static void collect_block(Verifier *vf, const IrBlock *b, int depth)
{
    if (!b || depth > MAX_DEPTH) return; /* reported by the scope walk */
    for (int i = 0; b->args && i < b->nargs; i++) check_value(vf, b->args[i], "block argument");
    for (int i = 0; b->ops && i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        if (!op) continue;
        for (int r = 0; op->results && r < op->nresults; r++) check_value(vf, op->results[r], "result");
        if (op->kind == IR_SCAN) collect_block(vf, op->body, depth + 1);
    }
}

/* ---- scopes ------------------------------------------------------------------ */

static int is_visible(const Verifier *vf, const IrValue *v)
{
    return v && v->id >= 0 && v->id < vf->nids && vf->byid[v->id] == v && vf->visible[v->id];
}

static void set_visible(Verifier *vf, const IrValue *v, int on)
{
    if (v && v->id >= 0 && v->id < vf->nids && vf->byid[v->id] == v) vf->visible[v->id] = (unsigned char)on;
}

/* ---- ops --------------------------------------------------------------------- */

/* broadcast: x's dims align to the trailing dims of the result, each equal
 * or 1; the element type is kept. */
static int broadcast_fits(IrType x, IrType r)
{
    if (x.dtype != r.dtype || x.rank > r.rank) return 0;
    for (int i = 1; i <= x.rank; i++) {
        int64_t dx = x.dim[x.rank - i], dr = r.dim[r.rank - i];
        if (dx != dr && dx != 1) return 0;
    }
    return 1;
}

/* reshape: the same element type and the same element count, for every
 * value of the size symbols: equal products of the constant dims and each
 * symbol as often on both sides. */
static int reshape_fits(IrType x, IrType r)
{
    if (x.dtype != r.dtype) return 0;
    int64_t px = 1, pr = 1;
    for (int i = 0; i < x.rank; i++)
        if (x.dim[i] >= 0) px *= x.dim[i];
    for (int i = 0; i < r.rank; i++)
        if (r.dim[i] >= 0) pr *= r.dim[i];
    if (px != pr) return 0;
    for (int i = 0; i < x.rank; i++) {
        if (x.dim[i] >= 0) continue;
        int cx = 0, cr = 0;
        for (int j = 0; j < x.rank; j++) cx += x.dim[j] == x.dim[i];
        for (int j = 0; j < r.rank; j++) cr += r.dim[j] == x.dim[i];
        if (cx != cr) return 0;
    }
    for (int i = 0; i < r.rank; i++) { /* a symbol only the result has */
        int found = r.dim[i] >= 0;
        for (int j = 0; !found && j < x.rank; j++) found = x.dim[j] == r.dim[i];
        if (!found) return 0;
    }
    return 1;
}

static void check_plain_op(Verifier *vf, const IrOp *op, const char *od)
{
    const IrModule *m = vf->m;
    char b1[128], b2[128], b3[128];
    int lo, hi;
    ir_op_operand_range(op->kind, &lo, &hi); /* ir/ops.def */
    int counts_ok = 1;
    if (op->noperands < lo || op->noperands > hi) {
        if (lo == hi)
            report(vf, "%s has %d operands, expected %d", od, op->noperands, lo);
        else
            report(vf, "%s has %d operands, expected at least %d", od, op->noperands, lo);
        counts_ok = 0;
    }
    /* Only the optimizer update ops have more than one result. */
    int nres = ir_op_nresults(op->kind, op->noperands);
    if (op->nresults != nres) {
        report(vf, "%s has %d results, expected %d", od, op->nresults, nres);
        counts_ok = 0;
    }
    if (op->body) report(vf, "%s is not a scan but has a body", od);
    if (!counts_ok || !op->results || !op->results[0] || (op->noperands && !op->operands)) return;
    for (int i = 0; i < op->noperands; i++)
        if (!op->operands[i] || !type_ok(m, op->operands[i]->type))
            return; /* already reported; inference would read garbage */
    const IrValue *res = op->results[0];
    if (!type_ok(m, res->type)) return;

    if (op->kind == IR_CONST) return; /* its type is whatever the builder asked for */
    if (op->kind == IR_BROADCAST) {
        if (!broadcast_fits(op->operands[0]->type, res->type))
            report(vf, "%s: %s %s does not broadcast to %s", od, vstr(op->operands[0], b1, sizeof b1),
                   tstr(m, op->operands[0]->type, b2, sizeof b2), tstr(m, res->type, b3, sizeof b3));
        return;
    }
    if (op->kind == IR_RESHAPE) {
        if (!reshape_fits(op->operands[0]->type, res->type))
            report(vf, "%s: %s %s does not reshape to %s (element counts differ)", od,
                   vstr(op->operands[0], b1, sizeof b1), tstr(m, op->operands[0]->type, b2, sizeof b2),
                   tstr(m, res->type, b3, sizeof b3));
        return;
    }
    if (op->kind == IR_DROPOUT_MASK) { /* any f32 shape, from the key (dropout.h) */
        IrType k = op->operands[0]->type;
        if (k.dtype != IR_I64 || k.rank != 1 || k.dim[0] != 2)
            report(vf, "%s: the key %s is %s, not i64[2]", od, vstr(op->operands[0], b1, sizeof b1),
                   tstr(m, k, b2, sizeof b2));
        if (res->type.dtype != IR_F32) report(vf, "%s: the mask is %s, not f32", od, tstr(m, res->type, b3, sizeof b3));
        if (!(op->attrs.p >= 0 && op->attrs.p < 1)) report(vf, "%s: p=%g is not in [0, 1)", od, op->attrs.p);
        return;
    }
    if (op->kind == IR_REDUCE_TO) { /* the reverse of broadcast */
        if (!broadcast_fits(res->type, op->operands[0]->type))
            report(vf, "%s: %s %s does not reduce to %s", od, vstr(op->operands[0], b1, sizeof b1),
                   tstr(m, op->operands[0]->type, b2, sizeof b2), tstr(m, res->type, b3, sizeof b3));
        return;
    }
    IrType want;
    char err[256];
    if (!ir_infer_type(m, op->kind, op->operands, op->noperands, &op->attrs, &want, err, sizeof err)) {
        report(vf, "%s: operands do not fit: %s", od, err);
        return;
    }
    /* Every result has the inferred type (the update ops: all p's type). */
    for (int r = 0; r < op->nresults; r++) {
        res = op->results[r];
        if (res && type_ok(m, res->type) && !ir_type_eq(want, res->type))
            report(vf, "%s: result %s has type %s but its operands give %s", od, vstr(res, b1, sizeof b1),
                   tstr(m, res->type, b2, sizeof b2), tstr(m, want, b3, sizeof b3));
    }
}

/* The type of one step of a sequence: t without dim 0. */
static IrType drop_time(IrType t)
{
    for (int d = 1; d < t.rank; d++) t.dim[d - 1] = t.dim[d];
    t.rank--;
    return t;
}

static void type_must_equal(Verifier *vf, const char *od, const char *what_a, const IrValue *a, const char *what_b,
                            IrType bt)
{
    char b1[128], b2[128], b3[128];
    if (!a || !type_ok(vf->m, a->type) || !type_ok(vf->m, bt)) return;
    if (!ir_type_eq(a->type, bt))
        report(vf, "%s: %s %s has type %s but %s is %s", od, what_a, vstr(a, b1, sizeof b1),
               tstr(vf->m, a->type, b2, sizeof b2), what_b, tstr(vf->m, bt, b3, sizeof b3));
}

/* Everything about a scan except the body's own ops.  Returns 0 when the
 * structure is too broken to walk the body. */
static int check_scan_structure(Verifier *vf, const IrOp *op, const char *od)
{
    const IrModule *m = vf->m;
    const IrAttrs *a = &op->attrs;
    char b1[128], b2[128], b3[128];
    int nc = a->n_carried, nsi = a->n_seq_in, nso = a->n_seq_out;

    if (nc < 0 || nsi < 0 || nso < 0) {
        report(vf, "%s has negative counts (carried %d, seq_in %d, seq_out %d)", od, nc, nsi, nso);
        return 0;
    }
    const IrBlock *body = op->body;
    if (!body) {
        report(vf, "%s has no body", od);
        return 0;
    }
    if (body->owner != op) report(vf, "%s: its body's owner is not the scan", od);
    int ok = 1;
    if (op->noperands != nc + nsi) {
        report(vf, "%s has %d operands but n_carried %d + n_seq_in %d", od, op->noperands, nc, nsi);
        ok = 0;
    }
    if (op->nresults != nc + nso) {
        report(vf, "%s has %d results but n_carried %d + n_seq_out %d", od, op->nresults, nc, nso);
        ok = 0;
    }
    if (body->nargs != nc + nsi) {
        report(vf, "%s: body has %d arguments but n_carried %d + n_seq_in %d", od, body->nargs, nc, nsi);
        ok = 0;
    }
    if (body->nyields != nc + nso) {
        report(vf, "%s: body yields %d values but n_carried %d + n_seq_out %d", od, body->nyields, nc, nso);
        ok = 0;
    }
    if ((body->nargs > 0 && !body->args) || (body->nyields > 0 && !body->yields) ||
        (op->noperands > 0 && !op->operands) || (op->nresults > 0 && !op->results)) {
        report(vf, "%s has a NULL operand, result, argument or yield list", od);
        return 0;
    }
    if (!ok) return 1; /* counts disagree: per-position checks would mislead */

    /* The time dim T shared by every sequence operand, or the trip count. */
    int64_t T = 0;
    int have_T = 0;
    for (int j = 0; j < nsi; j++) {
        const IrValue *s = op->operands[nc + j];
        if (!s || !type_ok(m, s->type)) continue;
        if (s->type.rank < 1 || s->type.dim[0] == IR_DIM_B) {
            report(vf, "%s: sequence operand %s of type %s has no time dimension", od, vstr(s, b1, sizeof b1),
                   tstr(m, s->type, b2, sizeof b2));
            continue;
        }
        if (!have_T) {
            T = s->type.dim[0], have_T = 1;
        } else if (s->type.dim[0] != T) {
            IrType tt = {.dtype = IR_F32, .rank = 1, .dim = {T}};
            IrType st = {.dtype = IR_F32, .rank = 1, .dim = {s->type.dim[0]}};
            report(vf, "%s: sequence operand %s has %s steps but the first sequence has %s", od, vstr(s, b1, sizeof b1),
                   tstr(m, st, b2, sizeof b2), tstr(m, tt, b3, sizeof b3));
        }
        type_must_equal(vf, od, "step argument", body->args[nc + j], "one step of the sequence", drop_time(s->type));
    }
    if (nsi == 0) {
        if (a->steps < 1)
            report(vf, "%s has no sequence operand and steps = %lld (must be >= 1)", od, (long long)a->steps);
        else
            T = a->steps, have_T = 1;
    }

    for (int i = 0; i < nc; i++) {
        const IrValue *init = op->operands[i];
        if (!init || !type_ok(m, init->type)) continue;
        type_must_equal(vf, od, "carried argument", body->args[i], "its initial value", init->type);
        type_must_equal(vf, od, "carried yield", body->yields[i], "its initial value", init->type);
        type_must_equal(vf, od, "final carried result", op->results[i], "its initial value", init->type);
    }
    for (int j = 0; j < nso; j++) {
        const IrValue *y = body->yields[nc + j], *r = op->results[nc + j];
        if (!y || !type_ok(m, y->type)) continue;
        if (y->type.rank >= IR_MAX_RANK) {
            report(vf, "%s: step output %s of rank %d cannot be stacked over time", od, vstr(y, b1, sizeof b1),
                   y->type.rank);
            continue;
        }
        if (!have_T) continue;
        IrType want = y->type;
        for (int d = want.rank; d > 0; d--) want.dim[d] = want.dim[d - 1];
        want.dim[0] = T;
        want.rank++;
        type_must_equal(vf, od, "stacked result", r, "[T, step output]", want);
    }
    return 1;
}

/* ---- the scope walk ---------------------------------------------------------- */

static void walk_block(Verifier *vf, const IrBlock *b, int depth, int keep);

static void check_op(Verifier *vf, const IrOp *op, const IrBlock *b, int index, int depth)
{
    char od[256], b1[128];
    ostr(op, index, od, sizeof od);
    if ((int)op->kind < 0 || op->kind >= IR_NUM_OPS) {
        report(vf, "op at index %d has unknown kind %d", index, (int)op->kind);
        return;
    }
    if (op->parent != b) report(vf, "%s: its parent is not the block it is in", od);

    /* Operands: defined and in scope. */
    if (op->noperands < 0 || (op->noperands > 0 && !op->operands)) {
        report(vf, "%s has a bad operand list (%d operands)", od, op->noperands);
        return;
    }
    for (int i = 0; i < op->noperands; i++) {
        const IrValue *v = op->operands[i];
        if (!v)
            report(vf, "%s: operand %d is NULL", od, i);
        else if (!is_visible(vf, v))
            report(vf, "%s: operand %d %s is used before its definition or outside its scope", od, i,
                   vstr(v, b1, sizeof b1));
    }
    /* Results point back at the op. */
    if (op->nresults < 0 || (op->nresults > 0 && !op->results)) {
        report(vf, "%s has a bad result list (%d results)", od, op->nresults);
        return;
    }
    for (int r = 0; r < op->nresults; r++) {
        const IrValue *v = op->results[r];
        if (!v) {
            report(vf, "%s: result %d is NULL", od, r);
        } else if (v->kind != IR_VAL_OP || v->def != op || v->def_index != r) {
            report(vf, "%s: result %d %s does not record this op as its definition", od, r, vstr(v, b1, sizeof b1));
        } else if (is_visible(vf, v)) {
            report(vf, "%s: result %s is defined twice", od, vstr(v, b1, sizeof b1));
        }
    }

    if (op->kind == IR_SCAN) {
        int cycle = 0;
        for (int i = 0; i < vf->nactive; i++) cycle |= vf->active[i] == op;
        if (cycle)
            report(vf, "%s is inside its own body", od);
        else if (check_scan_structure(vf, op, od)) {
            if (depth + 1 > MAX_DEPTH || vf->nactive >= MAX_DEPTH) {
                report(vf, "%s: scans nested more than %d deep", od, MAX_DEPTH);
            } else {
                vf->active[vf->nactive++] = op;
                walk_block(vf, op->body, depth + 1, 0);
                vf->nactive--;
            }
        }
    } else {
        check_plain_op(vf, op, od);
    }

    /* Results come into scope after the op (and its body). */
    for (int r = 0; r < op->nresults; r++) set_visible(vf, op->results[r], 1);
}

/* Walks block b: its args come into scope, then each op in order.  Unless
 * `keep`, everything the block defined leaves scope at its end. */
static void walk_block(Verifier *vf, const IrBlock *b, int depth, int keep)
{
    char b1[128], od[256];
    const IrOp *owner = b->owner;
    if (owner)
        ostr(owner, -1, od, sizeof od);
    else
        snprintf(od, sizeof od, "module body");

    for (int i = 0; b->args && i < b->nargs; i++) {
        const IrValue *v = b->args[i];
        if (!v) {
            report(vf, "%s: body argument %d is NULL", od, i);
            continue;
        }
        if (v->kind != IR_VAL_BLOCK_ARG || v->block != b || v->arg_index != i)
            report(vf, "%s: body argument %d %s does not record this block and index", od, i, vstr(v, b1, sizeof b1));
        set_visible(vf, v, 1);
    }
    if (b->nops < 0 || (b->nops > 0 && !b->ops)) {
        report(vf, "%s: bad op list (%d ops)", od, b->nops);
    } else {
        for (int i = 0; i < b->nops; i++) {
            if (!b->ops[i])
                report(vf, "%s: op %d is NULL", od, i);
            else
                check_op(vf, b->ops[i], b, i, depth);
        }
    }
    for (int i = 0; b->yields && i < b->nyields; i++) {
        const IrValue *v = b->yields[i];
        if (!v)
            report(vf, "%s: yield %d is NULL", od, i);
        else if (!is_visible(vf, v))
            report(vf, "%s: yield %d %s is not defined in the body or before the scan", od, i, vstr(v, b1, sizeof b1));
    }
    if (keep) return;
    for (int i = 0; b->args && i < b->nargs; i++) set_visible(vf, b->args[i], 0);
    for (int i = 0; b->ops && i < b->nops; i++)
        for (int r = 0; b->ops[i] && b->ops[i]->results && r < b->ops[i]->nresults; r++)
            set_visible(vf, b->ops[i]->results[r], 0);
}

/* ---- the module ---------------------------------------------------------------- */

static void check_module_args(Verifier *vf)
{
    const IrModule *m = vf->m;
    char b1[128];
    static const struct {
        const char *what;
        IrValueKind kind;
    } kinds[3] = {{"input", IR_VAL_INPUT}, {"target", IR_VAL_TARGET}, {"param", IR_VAL_PARAM}};
    for (int list = 0; list < 3; list++) {
        int n = list == 0 ? m->ninputs : list == 1 ? m->ntargets : m->nparams;
        if (n > 0 && ((list == 0 && !m->inputs) || (list == 1 && !m->targets) || (list == 2 && !m->params))) {
            report(vf, "module has %d %ss but no list of them", n, kinds[list].what);
            continue;
        }
        for (int i = 0; i < n; i++) {
            const IrValue *v = list == 0 ? m->inputs[i].value : list == 1 ? m->targets[i].value : m->params[i].value;
            const char *name = list == 0 ? m->inputs[i].name : list == 1 ? m->targets[i].name : m->params[i].name;
            char where[160];
            snprintf(where, sizeof where, "%s '%s'", kinds[list].what, name ? name : "<unnamed>");
            check_value(vf, v, where);
            if (!v) continue;
            if (v->kind != kinds[list].kind)
                report(vf, "%s %s is not of kind %s", where, vstr(v, b1, sizeof b1), kinds[list].what);
            set_visible(vf, v, 1);
        }
    }
}

static void check_results(Verifier *vf)
{
    const IrModule *m = vf->m;
    char b1[128], b2[128];
    if (m->noutputs > 0 && !m->outputs) {
        report(vf, "module has %d outputs but no list of them", m->noutputs);
    } else {
        for (int i = 0; i < m->noutputs; i++) {
            const char *name = m->outputs[i].name ? m->outputs[i].name : "<unnamed>";
            const IrValue *v = m->outputs[i].value;
            if (!v)
                report(vf, "output '%s' is NULL", name);
            else if (!is_visible(vf, v))
                report(vf, "output '%s' = %s is not a value defined in the module body", name, vstr(v, b1, sizeof b1));
        }
    }
    const IrValue *loss = m->loss;
    if (!loss) return;
    if (!is_visible(vf, loss))
        report(vf, "loss %s is not a value defined in the module body", vstr(loss, b1, sizeof b1));
    else if (loss->type.rank != 0 || loss->type.dtype != IR_F32)
        report(vf, "loss %s has type %s, expected a scalar f32[]", vstr(loss, b1, sizeof b1),
               tstr(m, loss->type, b2, sizeof b2));
}

int ir_verify(const IrModule *m, const char *stage, FILE *out)
{
    Verifier vf = {.m = m, .stage = stage, .out = out};
    if (!m) {
        report(&vf, "module is NULL");
        return vf.nerrors;
    }
    if (m->nsyms < 1 || !m->syms) {
        report(&vf, "module has no size symbols (symbol 0 must be the batch size B)");
        return vf.nerrors; /* every type would look malformed */
    }
    if (!m->body) {
        report(&vf, "module has no body");
        return vf.nerrors;
    }
    if (m->next_id < 0) {
        report(&vf, "module next_id is %d", m->next_id);
        return vf.nerrors;
    }
    vf.nids = m->next_id;
    vf.byid = calloc((size_t)vf.nids + 1, sizeof *vf.byid);
    vf.visible = calloc((size_t)vf.nids + 1, 1);
    if (!vf.byid || !vf.visible) {
        free(vf.byid), free(vf.visible);
        report(&vf, "out of memory");
        return vf.nerrors;
    }

    if (m->body->owner) report(&vf, "module body has an owner op");
    if (m->body->nargs != 0 || m->body->nyields != 0)
        report(&vf, "module body has %d arguments and %d yields, expected none", m->body->nargs, m->body->nyields);

    check_module_args(&vf); /* ids of the module's arguments first */
    collect_block(&vf, m->body, 0);
    walk_block(&vf, m->body, 0, 1);
    check_results(&vf);

    free(vf.byid);
    free(vf.visible);
    return vf.nerrors;
}
