/* bind.c - checks a run's weights, inputs and targets against a module
 * and reads the sizes B and T_* off the input tensors (see bind.h).
 *
 * Every check names the tensor it is about, because the user supplied the
 * tensors (from files) and must be able to tell which one is wrong. */
#include "ir/bind.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sizes.h"

const char *ir_dims_str(const IrModule *m, const IrType *t, char *buf, size_t n)
{
    size_t k = 0;
    if (n == 0) return buf;
    buf[0] = '\0';
    k += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->rank && k < n; i++) {
        int64_t d = t->dim[i];
        const char *sep = i ? ", " : "";
        int s = (int)(-d - 1);
        if (d >= 0)
            k += (size_t)snprintf(buf + k, n - k, "%s%lld", sep, (long long)d);
        else if (s < m->nsyms && m->syms[s].name)
            k += (size_t)snprintf(buf + k, n - k, "%s%s", sep, m->syms[s].name);
        else
            k += (size_t)snprintf(buf + k, n - k, "%s?%d", sep, s);
    }
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* ---- parameters --------------------------------------------------------- */

static int is_param(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0) return 1;
    return 0;
}

int ir_bind_params(const IrModule *m, const TensorMap *weights, const char *weights_path, char *err, size_t errlen)
{
    const char *file = weights_path ? weights_path : "weights";
    char want[128], got[128];

    /* Missing and mis-shaped parameters first, in state_dict order: a
     * renamed layer then reports the name the model looks for. */
    for (int i = 0; i < m->nparams; i++) {
        const IrParam *p = &m->params[i];
        const IrType *t = &p->value->type;
        const Tensor *w = rt_map_get(weights, p->name);
        if (!w) return ir_errf(err, errlen, "%s: missing parameter '%s'", file, p->name);
        int ok = w->rank == t->rank;
        for (int d = 0; ok && d < t->rank; d++) ok = w->shape[d] == t->dim[d];
        if (!ok)
            return ir_errf(err, errlen, "%s: parameter '%s' has shape %s, the model needs %s", file, p->name,
                           rt_shape_str(w, got, sizeof got), ir_dims_str(m, t, want, sizeof want));
        if (w->dtype != RT_F32 && w->dtype != RT_F64)
            return ir_errf(err, errlen, "%s: parameter '%s' has dtype %s, the model needs F32 or F64", file, p->name,
                           rt_dtype_name(w->dtype));
    }
    for (int i = 0; i < weights->count; i++)
        if (!is_param(m, weights->names[i]))
            return ir_errf(err, errlen, "%s: unexpected tensor '%s' (not a parameter of model %s)", file,
                           weights->names[i], m->name);
    return 0;
}

/* ---- inputs and targets --------------------------------------------------- */

/* Which tensor first fixed each symbol, for "but B = 2 from input 'x'". */
typedef struct {
    const char *role;
    const char *name;
} Origin;

/* Checks one given tensor against its declared type and binds the symbols
 * its dims name. */
static int bind_one(const IrModule *m, const char *role, const char *name, const IrType *t, const Tensor *x,
                    int64_t *sym, Origin *from, char *err, size_t errlen)
{
    char want[128], got[128];
    int is_ids = t->dtype == IR_I64;
    if (is_ids && x->dtype != RT_I32 && x->dtype != RT_I64)
        return ir_errf(err, errlen, "%s '%s': expected integer ids (I32 or I64), got %s", role, name,
                       rt_dtype_name(x->dtype));
    if (!is_ids && x->dtype != RT_F32 && x->dtype != RT_F64)
        return ir_errf(err, errlen, "%s '%s': expected floats (F32 or F64), got %s", role, name,
                       rt_dtype_name(x->dtype));

    int ok = x->rank == t->rank;
    for (int d = 0; ok && d < t->rank; d++) ok = t->dim[d] < 0 || x->shape[d] == t->dim[d];
    if (!ok)
        return ir_errf(err, errlen, "%s '%s': expected rank %d %s, got %s", role, name, t->rank,
                       ir_dims_str(m, t, want, sizeof want), rt_shape_str(x, got, sizeof got));

    for (int d = 0; d < t->rank; d++) {
        if (t->dim[d] >= 0) continue;
        int s = (int)(-t->dim[d] - 1);
        if (s >= m->nsyms)
            return ir_errf(err, errlen, "%s '%s': internal error: dimension %d names symbol %d of %d", role, name, d, s,
                           m->nsyms);
        const char *sn = m->syms[s].name;
        int64_t v = x->shape[d];
        if (sym[s] >= 0) {
            if (sym[s] != v)
                return ir_errf(err, errlen, "%s '%s': dimension %d (%s) is %lld, but %s = %lld from %s '%s'", role,
                               name, d, sn, (long long)v, sn, (long long)sym[s], from[s].role, from[s].name);
            continue;
        }
        /* A sequence of no steps or an empty batch has no meaning for any
         * model (the mean losses would divide by zero). */
        if (v < 1)
            return ir_errf(err, errlen, "%s '%s': %s = %lld, it must be at least 1", role, name, sn, (long long)v);
        if (m->syms[s].max > 0 && v > m->syms[s].max)
            return ir_errf(err, errlen, "%s '%s': %s = %lld is above its declared maximum %lld", role, name, sn,
                           (long long)v, (long long)m->syms[s].max);
        sym[s] = v;
        from[s].role = role;
        from[s].name = name;
    }
    return 0;
}

static int find_named(const IrInput *list, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0) return i;
    return -1;
}

/* "x, y" for the message about an unknown name. */
void ir_list_names(const IrInput *list, int n, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && k < len; i++) k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? ", " : "", list[i].name);
    if (n == 0) snprintf(buf, len, "none");
}

/* ---- values ------------------------------------------------------------------ */

static double elem(const Tensor *x, int64_t i)
{
    switch (x->dtype) {
    case RT_F32: return ((const float *)x->data)[i];
    case RT_F64: return ((const double *)x->data)[i];
    case RT_I32: return ((const int32_t *)x->data)[i];
    case RT_I64: return (double)((const int64_t *)x->data)[i];
    }
    return NAN;
}

/* "step 5, batch 1 ([5, 1])" for element i of a sequence [T, B, ...],
 * "batch 1 ([1])" for a batch [B, ...], else the index alone. */
static const char *where_str(const IrModule *m, const IrValue *v, const Tensor *x, int64_t i, char *buf, size_t n)
{
    char at[64];
    ir_index_str(x->rank, x->shape, i, at, sizeof at);
    const IrType *t = &v->type;
    int64_t idx0 = 0, idx1 = 0, rest = i;
    for (int d = x->rank - 1; d >= 0; d--) {
        int64_t k = x->shape[d] ? rest % x->shape[d] : 0;
        rest = x->shape[d] ? rest / x->shape[d] : 0;
        if (d == 0) idx0 = k;
        if (d == 1) idx1 = k;
    }
    const char *s0 = t->rank >= 1 && t->dim[0] < 0 ? m->syms[-t->dim[0] - 1].name : "";
    const char *s1 = t->rank >= 2 && t->dim[1] < 0 ? m->syms[-t->dim[1] - 1].name : "";
    if (s0[0] == 'T' && !strcmp(s1, "B"))
        snprintf(buf, n, "step %lld, batch %lld %s", (long long)idx0, (long long)idx1, at);
    else if (!strcmp(s0, "B"))
        snprintf(buf, n, "batch %lld %s", (long long)idx0, at);
    else
        snprintf(buf, n, "%s", at);
    return buf;
}

/* The ops of block b (and the scans inside it) that read v as ids: an
 * embedding's ids (range: the table's rows) or a cross_entropy's targets
 * (range: the classes).  Checks every id of x against each. */
static int check_ids_in(const IrModule *m, const IrBlock *b, const char *role, const char *name, const IrValue *v,
                        const Tensor *x, char *err, size_t errlen)
{
    for (int k = 0; k < b->nops; k++) {
        const IrOp *op = b->ops[k];
        if (op->body && check_ids_in(m, op->body, role, name, v, x, err, errlen)) return -1;
        if ((op->kind != IR_EMBEDDING && op->kind != IR_CROSS_ENTROPY) || op->noperands < 2 || op->operands[1] != v)
            continue;
        const IrType *t = &op->operands[0]->type;
        int64_t range = op->kind == IR_EMBEDDING ? t->dim[0] : t->dim[t->rank - 1];
        if (range < 0) continue; /* a symbolic size: the engine checks */
        for (int64_t i = 0, n = rt_numel(x); i < n; i++) {
            double id = elem(x, i);
            if (id >= 0 && id < (double)range) continue;
            char at[128], label[64];
            return ir_errf(err, errlen, "%s '%s': %s id %.17g at %s is out of range [0, %lld) in %s '%s'", role, name,
                           op->kind == IR_EMBEDDING ? "token" : "target", id, where_str(m, v, x, i, at, sizeof at),
                           (long long)range, ir_op_name(op->kind), ir_op_label(op, label, sizeof label));
        }
    }
    return 0;
}

/* What no engine can compute with: a float that is not a finite number
 * (a NaN or an infinity in an input makes every output after it NaN, so
 * it is refused where it is, not found in the loss), or an id the model
 * reads out of its range (named with its index, [step, batch] for a
 * sequence, as the interpreter names it; the compiled engines could only
 * say that some id was out of range). */
#define FINITE_BLOCK 1024 /* floats a block of first_nonfinite's fast scan */

/* Whether any of the FINITE_BLOCK floats at p has the exponent of an
 * infinity or a NaN (all ones).  Written on the bits with an OR and a
 * constant count so that gcc and clang vectorize it at -O2. */
static int block_nonfinite(const float *p)
{
    uint32_t bad = 0;
    for (int i = 0; i < FINITE_BLOCK; i++) {
        uint32_t u;
        memcpy(&u, &p[i], sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return bad != 0;
}

/* The index of x's first element that is not a finite number, or -1.
 * Every engine call checks every float input, and a scan through elem()
 * (a switch and rt_numel's loop per element) cost 2 ms of a 24 ms LSTM
 * forward at B = 32, T = 100: float data is scanned a block at a time,
 * and only a block with a bad element element by element. */
static int64_t first_nonfinite(const Tensor *x)
{
    int64_t n = rt_numel(x), i = 0;
    if (x->dtype == RT_F32)
        for (const float *p = x->data; i + FINITE_BLOCK <= n && !block_nonfinite(p + i);) i += FINITE_BLOCK;
    for (; i < n; i++)
        if (!isfinite(elem(x, i))) return i;
    return -1;
}

static int check_values(const IrModule *m, const char *role, const char *name, const IrValue *v, const Tensor *x,
                        char *err, size_t errlen)
{
    char at[128];
    if (x->dtype == RT_F32 || x->dtype == RT_F64) {
        int64_t i = first_nonfinite(x);
        if (i >= 0)
            return ir_errf(err, errlen, "%s '%s': the element at %s is %s; inputs must be finite numbers", role, name,
                           where_str(m, v, x, i, at, sizeof at), isnan(elem(x, i)) ? "NaN" : "infinite");
        return 0;
    }
    return m->body ? check_ids_in(m, m->body, role, name, v, x, err, errlen) : 0;
}

static int bind_inputs(const IrModule *m, const TensorMap *inputs, int64_t *sym_values, int need_targets, Origin *from,
                       char *err, size_t errlen)
{
    char want[128];
    for (int s = 0; s < m->nsyms; s++) sym_values[s] = -1;

    for (int i = 0; i < inputs->count; i++) {
        const char *name = inputs->names[i];
        if (find_named(m->inputs, m->ninputs, name) < 0 && find_named(m->targets, m->ntargets, name) < 0) {
            char ins[256], tgs[256];
            ir_list_names(m->inputs, m->ninputs, ins, sizeof ins);
            ir_list_names(m->targets, m->ntargets, tgs, sizeof tgs);
            return ir_errf(err, errlen, "unknown input '%s': model %s has inputs %s and targets %s", name, m->name, ins,
                           tgs);
        }
    }
    for (int i = 0; i < m->ninputs; i++) {
        const IrInput *in = &m->inputs[i];
        const Tensor *x = rt_map_get(inputs, in->name);
        if (!x && in->role == IR_ROLE_LENGTHS)
            return ir_errf(err, errlen, "missing input '%s' (the lengths of a sequence: integers [B])", in->name);
        if (!x)
            return ir_errf(err, errlen, "missing input '%s' (%s %s)", in->name,
                           in->value->type.dtype == IR_I64 ? "ids" : "floats",
                           ir_dims_str(m, &in->value->type, want, sizeof want));
        if (bind_one(m, "input", in->name, &in->value->type, x, sym_values, from, err, errlen)) return -1;
        if (in->role == IR_ROLE_DATA && check_values(m, "input", in->name, in->value, x, err, errlen)) return -1;
    }
    for (int i = 0; i < m->ntargets; i++) {
        const IrInput *tg = &m->targets[i];
        const Tensor *x = rt_map_get(inputs, tg->name);
        if (!x) {
            if (!need_targets) continue;
            return ir_errf(err, errlen, "missing target '%s' (%s %s)", tg->name,
                           tg->value->type.dtype == IR_I64 ? "ids" : "floats",
                           ir_dims_str(m, &tg->value->type, want, sizeof want));
        }
        if (bind_one(m, "target", tg->name, &tg->value->type, x, sym_values, from, err, errlen)) return -1;
        if (tg->role == IR_ROLE_DATA && check_values(m, "target", tg->name, tg->value, x, err, errlen)) return -1;
    }
    return 0;
}

int ir_bind_inputs(const IrModule *m, const TensorMap *inputs, int64_t *sym_values, int need_targets, char *err,
                   size_t errlen)
{
    Origin *from = calloc((size_t)(m->nsyms > 0 ? m->nsyms : 1), sizeof *from);
    if (!from) return ir_errf(err, errlen, "out of memory");
    int rc = bind_inputs(m, inputs, sym_values, need_targets, from, err, errlen);
    free(from);
    return rc;
}

int ir_check_memory(const IrModule *m, const int64_t *sym, int64_t bytes, char *err, size_t errlen)
{
    uint64_t limit = 0;
    const char *env = getenv("RNNC_MEMORY_LIMIT");
    if (env && *env) {
        char *end;
        double v = strtod(env, &end);
        double unit = *end == 'K' ? 1024.0 : *end == 'M' ? 1048576.0 : *end == 'G' ? 1073741824.0 : 1.0;
        if (unit > 1) end++;
        if (*end || !(v >= 1) || v * unit > 9e18)
            return ir_errf(err, errlen, "RNNC_MEMORY_LIMIT=%s is not a number of bytes (such as 512M or 8G)", env);
        limit = (uint64_t)(v * unit);
    }
    char what[256];
    int len = snprintf(what, sizeof what, "the model");
    for (int k = 0; k < m->nsyms && len > 0 && (size_t)len < sizeof what; k++)
        len += snprintf(what + len, sizeof what - (size_t)len, "%s%s=%lld", k ? ", " : " at ", m->syms[k].name,
                        (long long)sym[k]);
    if (!rt_size_check(bytes, limit, what, err, errlen)) return 0;
    if (limit) {
        size_t n = strlen(err);
        snprintf(err + n, errlen > n ? errlen - n : 0, " (RNNC_MEMORY_LIMIT)");
    }
    return -1;
}
