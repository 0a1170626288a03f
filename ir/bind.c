/* bind.c - checks a run's weights, inputs and targets against a module
 * and reads the sizes B and T_* off the input tensors (see bind.h).
 *
 * Every check names the tensor it is about, because the user supplied the
 * tensors (from files) and must be able to tell which one is wrong. */
#include "ir/bind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static void list_names(const IrInput *list, int n, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && k < len; i++) k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? ", " : "", list[i].name);
    if (n == 0) snprintf(buf, len, "none");
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
            list_names(m->inputs, m->ninputs, ins, sizeof ins);
            list_names(m->targets, m->ntargets, tgs, sizeof tgs);
            return ir_errf(err, errlen, "unknown input '%s': model %s has inputs %s and targets %s", name, m->name, ins,
                           tgs);
        }
    }
    for (int i = 0; i < m->ninputs; i++) {
        const IrInput *in = &m->inputs[i];
        const Tensor *x = rt_map_get(inputs, in->name);
        if (!x)
            return ir_errf(err, errlen, "missing input '%s' (%s %s)", in->name,
                           in->value->type.dtype == IR_I64 ? "ids" : "floats",
                           ir_dims_str(m, &in->value->type, want, sizeof want));
        if (bind_one(m, "input", in->name, &in->value->type, x, sym_values, from, err, errlen)) return -1;
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
