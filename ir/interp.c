/* interp.c - the reference interpreter of graph IR (see interp.h): binds
 * the given tensors to values, runs the module's ops in order, runs scans
 * step by step, and hands back the outputs and the loss.
 *
 * Values live in one flat array indexed by value id.  A scan body reads
 * values defined outside it straight from that array, and its own values
 * are overwritten at every step, so no environment chain is needed.  The
 * kernels of the other ops are in interp_ops.c. */
#include "ir/interp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/bind.h"
#include "ir/interp_ops.h"
#include "ir/timing.h"
#include "runtime/sizes.h"

typedef struct Interp {
    const IrModule *m;
    IrPrecision prec;
    int64_t *sym; /* value of each size symbol, -1 if unknown */
    Val *vals;    /* by value id                               */
    int nvals;
    const RunHook *hook; /* or NULL */
    char *err;
    size_t errlen;
} Interp;

static int fail(Interp *I, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(Interp *I, const char *fmt, ...)
{
    if (I->err && I->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(I->err, I->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Adds context to a message already in err, as an error unwinds. */
static void append_err(Interp *I, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append_err(Interp *I, const char *fmt, ...)
{
    if (!I->err || !I->errlen) return;
    size_t k = strlen(I->err);
    if (k + 1 >= I->errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(I->err + k, I->errlen - k, fmt, ap);
    va_end(ap);
}

/* What a float32 program would hold.  Conversion of an out-of-range double
 * gives +-inf on IEEE hosts (C11 Annex F), as a float32 op would. */
static double round_f32(double x) { return (double)(float)x; }

static void set_absent(Val *v)
{
    val_free(v);
    v->state = VAL_ABSENT;
}

/* ---- values by id ------------------------------------------------------------ */

static Val *slot(Interp *I, const IrValue *v)
{
    if (!v || v->id < 0 || v->id >= I->nvals) return NULL;
    return &I->vals[v->id];
}

/* The computed value of an operand; using one before its definition means
 * the IR is malformed, which the verifier should have caught. */
static Val *get(Interp *I, const IrValue *v)
{
    Val *x = slot(I, v);
    if (!x) {
        fail(I, "internal error: value id %d out of range", v ? v->id : -1);
        return NULL;
    }
    if (x->state == VAL_UNSET) {
        fail(I, "internal error: %%%d used before it is defined", v->id);
        return NULL;
    }
    return x;
}

/* The declared type's shape with every size symbol replaced by its value. */
static int resolve(Interp *I, const IrType *t, Val *shape)
{
    memset(shape, 0, sizeof *shape);
    shape->rank = t->rank;
    shape->numel = 1;
    for (int d = 0; d < t->rank; d++) {
        int64_t v = t->dim[d];
        if (v < 0) {
            int s = (int)(-v - 1);
            if (s >= I->m->nsyms) return fail(I, "internal error: size symbol %d of %d", s, I->m->nsyms);
            v = I->sym[s];
            if (v < 0) return fail(I, "size %s is not known: no given input has it", I->m->syms[s].name);
        }
        shape->shape[d] = v;
        shape->numel *= v;
    }
    return 0;
}

/* Every computed shape must be what the IR declared: a mismatch is a bug
 * in the builder or a pass, worth stopping on in the oracle. */
static int check_type(Interp *I, const IrValue *v, const Val *x, const char *what)
{
    Val want;
    char s1[96], s2[96], s3[96];
    if (resolve(I, &v->type, &want)) return -1;
    if (!val_same_shape(&want, x))
        return fail(I, "internal error: %s %%%d has shape %s, its type says %s = %s", what, v->id,
                    val_shape_str(x, s1, sizeof s1), ir_dims_str(I->m, &v->type, s3, sizeof s3),
                    val_shape_str(&want, s2, sizeof s2));
    return 0;
}

/* Stores a tensor's data as a value, rounding floats in F32 mode. */
static int load_tensor(Interp *I, const IrValue *v, const Tensor *t)
{
    Val *x = slot(I, v);
    if (!x) return fail(I, "internal error: value id %d out of range", v->id);
    val_free(x);
    int64_t shape[IR_MAX_RANK] = {0};
    if (t->rank > IR_MAX_RANK) return fail(I, "internal error: tensor of rank %d", t->rank);
    for (int d = 0; d < t->rank; d++) shape[d] = t->shape[d];
    if (val_alloc(x, t->rank, shape, I->err, I->errlen)) return -1;
    for (int64_t i = 0; i < x->numel; i++) {
        double d;
        switch (t->dtype) {
        case RT_F32: d = ((const float *)t->data)[i]; break;
        case RT_F64: d = ((const double *)t->data)[i]; break;
        case RT_I32: d = ((const int32_t *)t->data)[i]; break;
        case RT_I64: d = (double)((const int64_t *)t->data)[i]; break;
        default: return fail(I, "internal error: dtype %d", (int)t->dtype);
        }
        if (I->prec == IR_PREC_F32 && v->type.dtype == IR_F32) d = round_f32(d);
        x->data[i] = d;
    }
    return check_type(I, v, x, "argument");
}

/* ---- ops ------------------------------------------------------------------------ */

static int run_block(Interp *I, const IrBlock *b);

/* Rounds an f32 result as a float32 program would hold it. */
static void round_result(Interp *I, const IrValue *v, Val *r)
{
    if (I->prec == IR_PREC_F32 && v->type.dtype == IR_F32)
        for (int64_t i = 0; i < r->numel; i++) r->data[i] = round_f32(r->data[i]);
}

/* The multi-result update ops (sgd_update, adam_update): like run_simple,
 * but every result is computed at once into a small array first, and
 * stored only when all of them are right. */
#define MAX_UPDATE_RESULTS 3

static int run_update(Interp *I, const IrOp *op, const Val *const *in, int absent)
{
    char lab[64];
    int nr = op->nresults, rc = -1;
    if (nr < 1 || nr > MAX_UPDATE_RESULTS)
        return fail(I, "internal error: %s has %d results", ir_op_name(op->kind), nr);
    for (int r = 0; r < nr; r++)
        if (!slot(I, op->results[r])) return fail(I, "internal error: result id out of range");
    if (absent) {
        for (int r = 0; r < nr; r++) set_absent(slot(I, op->results[r]));
        return 0;
    }
    Val rs[MAX_UPDATE_RESULTS] = {{0}};
    int krc = interp_kernel_update(I->m, op, in, rs, I->err, I->errlen);
    if (krc) {
        if (krc != -2)
            append_err(I, " (%%%d = %s '%s')", op->results[0]->id, ir_op_name(op->kind),
                       ir_op_label(op, lab, sizeof lab));
        goto done;
    }
    for (int r = 0; r < nr; r++)
        if (check_type(I, op->results[r], &rs[r], ir_op_name(op->kind))) goto done;
    for (int r = 0; r < nr; r++) {
        Val *out = slot(I, op->results[r]);
        round_result(I, op->results[r], &rs[r]);
        val_free(out);
        *out = rs[r];
        memset(&rs[r], 0, sizeof rs[r]);
    }
    rc = 0;
done:
    for (int r = 0; r < nr; r++) val_free(&rs[r]);
    return rc;
}

static int run_simple(Interp *I, const IrOp *op)
{
    char lab[64];
    int multi = op->kind == IR_SGD_UPDATE || op->kind == IR_ADAM_UPDATE;
    if (!multi && op->nresults != 1)
        return fail(I, "internal error: %s has %d results", ir_op_name(op->kind), op->nresults);
    Val *out = slot(I, op->results[0]);
    if (!out) return fail(I, "internal error: result id out of range");

    const Val *small[4];
    const Val **in = op->noperands <= 4 ? small : malloc((size_t)op->noperands * sizeof *in);
    if (!in) return fail(I, "out of memory");
    int absent = 0, rc = -1;
    for (int i = 0; i < op->noperands; i++) {
        if (!(in[i] = get(I, op->operands[i]))) goto done;
        absent |= in[i]->state == VAL_ABSENT;
    }
    if (multi) {
        rc = run_update(I, op, in, absent);
        goto done;
    }
    if (absent) { /* depends on a target that was not given */
        set_absent(out);
        rc = 0;
        goto done;
    }
    Val want, r = {0};
    if (resolve(I, &op->results[0]->type, &want)) goto done;
    int krc = interp_kernel(I->m, op, in, &want, &r, I->err, I->errlen);
    if (krc) {
        /* -2 is the user's mistake (an id out of range): its message is
         * complete; anything else is a malformed module, so say where. */
        if (krc != -2)
            append_err(I, " (%%%d = %s '%s')", op->results[0]->id, ir_op_name(op->kind),
                       ir_op_label(op, lab, sizeof lab));
        val_free(&r);
        goto done;
    }
    if (check_type(I, op->results[0], &r, ir_op_name(op->kind))) {
        val_free(&r);
        goto done;
    }
    round_result(I, op->results[0], &r);
    val_free(out);
    *out = r;
    rc = 0;
done:
    if (in != small) free(in);
    return rc;
}

/* Replaces a block argument's value by a copy of x (or marks it absent). */
static int set_arg(Interp *I, const IrValue *arg, const Val *x)
{
    Val *a = slot(I, arg);
    if (!a) return fail(I, "internal error: block argument id out of range");
    val_free(a);
    if (x->state == VAL_ABSENT) {
        a->state = VAL_ABSENT;
        return 0;
    }
    return val_copy(a, x, I->err, I->errlen);
}

/* One step t of sequence x ([T, ...]) as a value. */
static int step_of(Interp *I, const Val *x, int64_t t, Val *out)
{
    if (val_alloc(out, x->rank - 1, x->shape + 1, I->err, I->errlen)) return -1;
    if (out->numel) memcpy(out->data, x->data + t * out->numel, (size_t)out->numel * sizeof(double));
    return 0;
}

/* Scan: carried values in the body's first arguments, one step of every
 * sequence in the rest; the yields give the next carried values and this
 * step's outputs, which are stacked at the step's own index (so a reverse
 * scan's outputs line up with its inputs). */
static int run_scan(Interp *I, const IrOp *op)
{
    const IrBlock *body = op->body;
    int nc = op->attrs.n_carried, ns = op->attrs.n_seq_in, no = op->attrs.n_seq_out;
    char lab[64], s1[64], s2[64];
    ir_op_label(op, lab, sizeof lab);
    if (!body || nc < 0 || ns < 0 || no < 0 || op->noperands != nc + ns || body->nargs != nc + ns ||
        body->nyields != nc + no || op->nresults != nc + no)
        return fail(I, "internal error: scan '%s' is malformed", lab);

    int absent = 0;
    for (int i = 0; i < op->noperands; i++) {
        const Val *x = get(I, op->operands[i]);
        if (!x) return -1;
        absent |= x->state == VAL_ABSENT;
    }
    if (absent) {
        for (int i = 0; i < op->nresults; i++) set_absent(slot(I, op->results[i]));
        return 0;
    }

    int64_t T = op->attrs.steps;
    for (int j = 0; j < ns; j++) {
        const Val *x = get(I, op->operands[nc + j]);
        if (x->rank < 1) return fail(I, "internal error: scan '%s': sequence operand of rank 0", lab);
        if (j == 0)
            T = x->shape[0];
        else if (x->shape[0] != T)
            return fail(I, "scan '%s': its sequences have different lengths, %lld and %lld", lab, (long long)T,
                        (long long)x->shape[0]);
    }
    if (T < 0) return fail(I, "internal error: scan '%s' has no trip count", lab);

    for (int i = 0; i < nc; i++)
        if (set_arg(I, body->args[i], get(I, op->operands[i]))) return -1;

    /* Stacked outputs, allocated at the first step when their shape is known. */
    Val *stack = calloc((size_t)(no ? no : 1), sizeof *stack);
    Val *next = calloc((size_t)(nc ? nc : 1), sizeof *next); /* next carried values */
    int rc = -1;
    if (!stack || !next) {
        fail(I, "out of memory");
        goto done;
    }

    for (int64_t s = 0; s < T; s++) {
        int64_t t = op->attrs.reverse ? T - 1 - s : s;
        for (int j = 0; j < ns; j++) {
            Val x = {0};
            if (step_of(I, get(I, op->operands[nc + j]), t, &x)) goto done;
            Val *a = slot(I, body->args[nc + j]);
            val_free(a);
            *a = x;
        }
        if (run_block(I, body)) {
            append_err(I, " (at step %lld of scan '%s')", (long long)t, lab);
            goto done;
        }
        /* a backward scan is most of a gradient run: the hook's sums
         * under way move on at each of its steps, not only after it */
        if (I->hook && I->hook->tick) I->hook->tick(I->hook->ctx);
        for (int k = 0; k < no; k++) {
            const Val *y = get(I, body->yields[nc + k]);
            if (!y) goto done;
            if (y->state == VAL_ABSENT || stack[k].state == VAL_ABSENT) {
                set_absent(&stack[k]);
                continue;
            }
            if (stack[k].state == VAL_UNSET) {
                int64_t shape[IR_MAX_RANK] = {T};
                if (y->rank + 1 > IR_MAX_RANK) {
                    fail(I, "scan '%s': output above rank %d", lab, IR_MAX_RANK);
                    goto done;
                }
                for (int d = 0; d < y->rank; d++) shape[d + 1] = y->shape[d];
                if (val_alloc(&stack[k], y->rank + 1, shape, I->err, I->errlen)) goto done;
            } else if (stack[k].numel != T * y->numel) {
                fail(I, "internal error: scan '%s': output %d changes shape to %s", lab, k,
                     val_shape_str(y, s1, sizeof s1));
                goto done;
            }
            if (y->numel) memcpy(stack[k].data + t * y->numel, y->data, (size_t)y->numel * sizeof(double));
        }
        /* Copy every next carried value before replacing any argument: a
         * yield may be an argument itself (a state that does not change,
         * or two states that swap). */
        for (int i = 0; i < nc; i++) {
            const Val *y = get(I, body->yields[i]);
            if (!y) goto done;
            const Val *a = slot(I, body->args[i]);
            if (y->state == VAL_PRESENT && a->state == VAL_PRESENT && !val_same_shape(y, a)) {
                fail(I, "internal error: scan '%s': carried value %d changes shape from %s to %s", lab, i,
                     val_shape_str(a, s1, sizeof s1), val_shape_str(y, s2, sizeof s2));
                goto done;
            }
            if (y->state == VAL_ABSENT)
                next[i].state = VAL_ABSENT;
            else if (val_copy(&next[i], y, I->err, I->errlen))
                goto done;
        }
        for (int i = 0; i < nc; i++) {
            Val *a = slot(I, body->args[i]);
            val_free(a);
            *a = next[i];
            memset(&next[i], 0, sizeof next[i]);
        }
    }

    for (int i = 0; i < nc; i++) {
        Val *r = slot(I, op->results[i]), *a = slot(I, body->args[i]);
        val_free(r);
        if (a->state == VAL_ABSENT) {
            r->state = VAL_ABSENT;
            continue;
        }
        if (val_copy(r, a, I->err, I->errlen)) goto done;
        if (check_type(I, op->results[i], r, "scan result")) goto done;
    }
    for (int k = 0; k < no; k++) {
        Val *r = slot(I, op->results[nc + k]);
        val_free(r);
        if (stack[k].state == VAL_UNSET) { /* no steps: an empty stack of the declared shape */
            Val want;
            if (resolve(I, &op->results[nc + k]->type, &want)) goto done;
            if (val_alloc(&stack[k], want.rank, want.shape, I->err, I->errlen)) goto done;
        }
        *r = stack[k];
        memset(&stack[k], 0, sizeof stack[k]);
        if (r->state == VAL_PRESENT && check_type(I, op->results[nc + k], r, "scan result")) goto done;
    }
    rc = 0;
done:
    for (int k = 0; stack && k < no; k++) val_free(&stack[k]);
    for (int i = 0; next && i < nc; i++) val_free(&next[i]);
    free(stack);
    free(next);
    return rc;
}

static int run_block(Interp *I, const IrBlock *b)
{
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        if (op->kind == IR_SCAN ? run_scan(I, op) : run_simple(I, op)) return -1;
    }
    return 0;
}

/* ---- the run ------------------------------------------------------------------------ */

/* A computed value as a tensor: floats as F32 (F64 in F64 mode), ids as I64. */
static int to_tensor(Interp *I, const IrValue *v, const Val *x, Tensor *t)
{
    RtDType dt = v->type.dtype == IR_I64 ? RT_I64 : I->prec == IR_PREC_F32 ? RT_F32 : RT_F64;
    if (rt_tensor_alloc(t, dt, x->rank, x->shape)) return fail(I, "out of memory for an output");
    for (int64_t i = 0; i < x->numel; i++) {
        double d = x->data[i];
        switch (dt) {
        case RT_F32: ((float *)t->data)[i] = (float)d; break;
        case RT_F64: ((double *)t->data)[i] = d; break;
        /* Ids only come from integer inputs, so they are whole numbers. */
        case RT_I64: ((int64_t *)t->data)[i] = (d >= -9.2e18 && d <= 9.2e18) ? (int64_t)d : 0; break;
        default: break;
        }
    }
    return 0;
}

static int put_result(Interp *I, TensorMap *res, const char *name, const IrValue *v)
{
    const Val *x = get(I, v);
    if (!x) return -1;
    if (x->state == VAL_ABSENT) return fail(I, "output '%s' depends on a target, and not every target was given", name);
    Tensor t;
    if (to_tensor(I, v, x, &t)) return -1;
    if (rt_map_put(res, name, &t)) {
        rt_tensor_free(&t);
        return fail(I, "out of memory for output '%s'", name);
    }
    return 0;
}

/* The bytes of the values of block b at the sizes sym, in doubles (the
 * interpreter keeps every value of a run, 8 bytes an element), added to
 * *sum; a scan's body is counted once, as its values are per step. */
static void block_bytes(const IrBlock *b, const int64_t *sym, double *sum)
{
    for (int i = 0; b && i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        for (int r = 0; r < op->nresults; r++) {
            const IrType *t = &op->results[r]->type;
            double n = 8;
            for (int d = 0; d < t->rank; d++) n *= t->dim[d] >= 0 ? (double)t->dim[d] : (double)sym[-t->dim[d] - 1];
            *sum += n;
        }
        block_bytes(op->body, sym, sum);
    }
}

/* Tells the hook of every output that top-level op `at` made (at -1: the
 * outputs no op makes, parameters and inputs). */
static int tell_final(Interp *I, int at)
{
    const IrModule *m = I->m;
    for (int i = 0; i < m->noutputs; i++) {
        const IrValue *v = m->outputs[i].value;
        const IrOp *def = v->def;
        if (at < 0 ? def != NULL : (def != m->body->ops[at])) continue;
        const Val *x = get(I, v);
        if (!x) return -1;
        if (x->state == VAL_ABSENT) continue;
        Tensor t;
        if (to_tensor(I, v, x, &t)) return -1;
        int rc = I->hook->final(I->hook->ctx, m->outputs[i].name, &t, I->err, I->errlen);
        rt_tensor_free(&t);
        if (rc) return -1;
    }
    return 0;
}

/* run_block of the module's body, telling I->hook of each output as its
 * op finishes (interp_run_hooked). */
static int run_top_hooked(Interp *I)
{
    const IrBlock *b = I->m->body;
    if (tell_final(I, -1)) return -1;
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        if (op->kind == IR_SCAN ? run_scan(I, op) : run_simple(I, op)) return -1;
        if (tell_final(I, i)) return -1;
        if (I->hook->tick) I->hook->tick(I->hook->ctx);
    }
    return 0;
}

static int run(Interp *I, const TensorMap *params, const TensorMap *inputs, TensorMap *res)
{
    const IrModule *m = I->m;
    if (ir_bind_params(m, params, "parameters", I->err, I->errlen)) return -1;
    if (ir_bind_inputs(m, inputs, I->sym, 0, I->err, I->errlen)) return -1;
    /* what the run will hold, checked before it allocates: a length or a
     * batch too large is an error, not an out-of-memory kill midway */
    double need = 0;
    for (int k = 0; k < m->nsyms; k++)
        if (I->sym[k] < 0) I->sym[k] = 1; /* sizes no given tensor fixes: absent targets */
    block_bytes(m->body, I->sym, &need);
    if (ir_check_memory(m, I->sym, need >= 9.2e18 ? RT_SIZE_HUGE : (int64_t)need, I->err, I->errlen)) return -1;

    for (int i = 0; i < m->nparams; i++)
        if (load_tensor(I, m->params[i].value, rt_map_get(params, m->params[i].name))) return -1;
    for (int i = 0; i < m->ninputs; i++)
        if (load_tensor(I, m->inputs[i].value, rt_map_get(inputs, m->inputs[i].name))) return -1;
    int all_targets = 1;
    for (int i = 0; i < m->ntargets; i++) {
        const Tensor *t = rt_map_get(inputs, m->targets[i].name);
        if (t) {
            if (load_tensor(I, m->targets[i].value, t)) return -1;
        } else {
            all_targets = 0;
            Val *x = slot(I, m->targets[i].value);
            if (!x) return fail(I, "internal error: target id out of range");
            set_absent(x);
        }
    }

    if (I->hook ? run_top_hooked(I) : run_block(I, m->body)) return -1;

    for (int i = 0; i < m->noutputs; i++)
        if (put_result(I, res, m->outputs[i].name, m->outputs[i].value)) return -1;
    if (m->loss && all_targets && put_result(I, res, "loss", m->loss)) return -1;
    return 0;
}

int interp_run(const IrModule *m, const TensorMap *params, const TensorMap *inputs, TensorMap *outputs,
               IrPrecision prec, char *err, size_t errlen)
{
    return interp_run_hooked(m, params, inputs, outputs, prec, NULL, err, errlen);
}

int interp_run_hooked(const IrModule *m, const TensorMap *params, const TensorMap *inputs, TensorMap *outputs,
                      IrPrecision prec, const RunHook *hook, char *err, size_t errlen)
{
    Interp I = {.m = m, .prec = prec, .nvals = m->next_id, .hook = hook, .err = err, .errlen = errlen};
    TensorMap res;
    rt_map_init(&res);
    I.sym = calloc((size_t)(m->nsyms ? m->nsyms : 1), sizeof *I.sym);
    I.vals = calloc((size_t)(m->next_id ? m->next_id : 1), sizeof *I.vals);
    int rc = -1;
    TimingMark t = timing_start();
    if (!I.sym || !I.vals)
        fail(&I, "out of memory");
    else
        rc = run(&I, params, inputs, &res);
    timing_stop(&t, "run (interp)");

    /* Outputs are handed over only when the whole run succeeded, so a
     * failed run leaves the caller's map as it was. */
    for (int i = 0; rc == 0 && i < res.count; i++)
        if (rt_map_put(outputs, res.names[i], &res.tensors[i])) rc = fail(&I, "out of memory");
    rt_map_free(&res);
    for (int i = 0; I.vals && i < I.nvals; i++) val_free(&I.vals[i]);
    free(I.vals);
    free(I.sym);
    return rc;
}
