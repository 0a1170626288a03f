/* api_slots.c - the slot decisions of the model API and its descriptor
 * (api_slots.h). */
#include "target/api_slots.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/bind.h"
#include "passes/segment.h"
#include "passes/train_step.h"

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

int api_is_carry(const char *name) { return has_prefix(name, SEGMENT_CARRY_PREFIX) && strcmp(name, SEGMENT_RESET_INPUT); }
int api_is_opt(const char *name) { return has_prefix(name, TRAIN_OPT_PREFIX) && strcmp(name, TRAIN_STEP_INPUT); }

int api_index(const IrModule *m, int (*pred)(const char *), const char *name)
{
    int k = 0;
    for (int i = 0; m && i < m->ninputs; i++) {
        if (!pred(m->inputs[i].name)) continue;
        if (!strcmp(m->inputs[i].name, name)) return k;
        k++;
    }
    return -1;
}

int api_count(const IrModule *m, int (*pred)(const char *))
{
    int k = 0;
    for (int i = 0; m && i < m->ninputs; i++) k += pred(m->inputs[i].name);
    return k;
}

static int named(const IrInput *list, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i].name, name)) return i;
    return -1;
}

int api_has_reset(const IrModule *m) { return m && named(m->inputs, m->ninputs, SEGMENT_RESET_INPUT) >= 0; }

static int param_index(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (!strcmp(m->params[i].name, name)) return i;
    return -1;
}

static int output_index(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->noutputs; i++)
        if (!strcmp(m->outputs[i].name, name)) return i;
    return -1;
}

static ApiSlot mk(int kind, int index) { return (ApiSlot){ index >= 0 ? kind : 0, index }; }

ApiSlot api_slot(const IrModule *base, const IrModule *m, const char *name, int result)
{
    int k;
    size_t nn = strlen(TRAIN_NEW_PREFIX);
    if (!result && named(m->inputs, m->ninputs, name) >= 0 && !has_prefix(name, SEGMENT_CARRY_PREFIX) &&
        !has_prefix(name, TRAIN_OPT_PREFIX))
        return mk(RNNRT_SLOT_INPUT, named(base->inputs, base->ninputs, name));
    if (!result && (k = named(m->targets, m->ntargets, name)) >= 0) return mk(RNNRT_SLOT_TARGET, k);
    if (!result && (k = param_index(base, name)) >= 0) return mk(RNNRT_SLOT_PARAM, k);
    if (!result && !strcmp(name, SEGMENT_RESET_INPUT)) return mk(RNNRT_SLOT_RESET, 0);
    if (!result && !strcmp(name, TRAIN_STEP_INPUT)) return mk(RNNRT_SLOT_STEP_NUMBER, 0);
    if ((k = api_index(m, api_is_carry, name)) >= 0) return mk(RNNRT_SLOT_CARRY, k);
    if (!result && (k = api_index(m, api_is_opt, name)) >= 0) return mk(RNNRT_SLOT_OPT, k);
    if (result && has_prefix(name, TRAIN_NEW_PREFIX) && (k = api_index(m, api_is_opt, name + nn)) >= 0)
        return mk(RNNRT_SLOT_OPT_NEXT, k);
    if (result && has_prefix(name, TRAIN_NEW_PREFIX) && (k = param_index(base, name + nn)) >= 0)
        return mk(RNNRT_SLOT_PARAM_NEXT, k);
    if (result && !strcmp(name, TRAIN_GRAD_NORM)) return mk(RNNRT_SLOT_GRAD_NORM, 0);
    if (result && !strcmp(name, "loss") && m->loss) return mk(RNNRT_SLOT_LOSS, 0);
    if (result && (k = output_index(base, name)) >= 0) return mk(RNNRT_SLOT_OUTPUT, k);
    return mk(0, 0);
}

int api_size_field(const IrModule *base, const IrModule *m, int s)
{
    if (s == IR_SYM_BATCH) return 0;
    for (int b = 0; b < base->nsyms; b++)
        if (b != IR_SYM_BATCH && !strcmp(base->syms[b].name, m->syms[s].name)) return b;
    return -1;
}

/* ---- the descriptor ---------------------------------------------------------------- */

static void *zalloc(int n, size_t size) { return calloc(n > 0 ? (size_t)n : 1, size); }

/* RNNRT_SHAPE_WORDS words of type t of module m: rank, then each dim, a
 * symbol as -(its sizes field + 1). */
static void shape_words(const IrModule *base, const IrModule *m, const IrType *t, int64_t *w)
{
    memset(w, 0, sizeof(int64_t) * RNNRT_SHAPE_WORDS);
    w[0] = t->rank;
    for (int d = 0; d < t->rank && d < RNNRT_SHAPE_WORDS - 1; d++)
        w[1 + d] = t->dim[d] >= 0 ? t->dim[d] : -(int64_t)api_size_field(base, m, (int)(-t->dim[d] - 1)) - 1;
}

/* The shapes of m's inputs that pass pred, in order. */
static int64_t *state_shapes(const IrModule *base, const IrModule *m, int (*pred)(const char *), int *count)
{
    int n = api_count(m, pred), k = 0;
    int64_t *w = zalloc(n * RNNRT_SHAPE_WORDS, sizeof *w);
    for (int i = 0; w && m && i < m->ninputs; i++)
        if (pred(m->inputs[i].name)) shape_words(base, m, &m->inputs[i].value->type, w + RNNRT_SHAPE_WORDS * k++);
    *count = n;
    return w;
}

static int slot_pairs(const IrModule *base, const ApiKernel *k, KBuf *const *bufs, int n, int result, int64_t *w,
                      char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        ApiSlot s = api_slot(base, k->m, bufs[i]->ext_name, result);
        if (!s.kind)
            return ir_errf(err, errlen, "internal error: the %s function has a buffer '%s' the API does not know",
                           k->f->name, bufs[i]->ext_name);
        w[2 * i] = s.kind;
        w[2 * i + 1] = s.index;
    }
    return 0;
}

int api_desc_build(ApiDesc *d, const char *prefix, const ApiKernel k[3], char *err, size_t errlen)
{
    const IrModule *b = k[0].m, *t = k[2].m;
    memset(d, 0, sizeof *d);
    d->prefix = prefix;
    d->nsizes = b->nsyms;
    d->ninputs = b->ninputs;
    d->noutputs = b->noutputs;
    d->ntargets = t ? t->ntargets : 0;
    d->nparams = b->nparams;
    d->size_names = zalloc(d->nsizes, sizeof(char *));
    d->input_names = zalloc(d->ninputs, sizeof(char *));
    d->output_names = zalloc(d->noutputs, sizeof(char *));
    d->target_names = zalloc(d->ntargets, sizeof(char *));
    d->param_names = zalloc(d->nparams, sizeof(char *));
    d->param_shapes = zalloc(d->nparams * RNNRT_SHAPE_WORDS, sizeof(int64_t));
    d->param_numel = zalloc(d->nparams, sizeof(int64_t));
    d->opt = state_shapes(b, t, api_is_opt, &d->nopt);
    if (!d->size_names || !d->input_names || !d->output_names || !d->target_names || !d->param_names ||
        !d->param_shapes || !d->param_numel || !d->opt)
        return ir_errf(err, errlen, "out of memory");
    for (int s = 0; s < b->nsyms; s++) d->size_names[s] = s == IR_SYM_BATCH ? "batch" : b->syms[s].name;
    for (int i = 0; i < b->ninputs; i++) d->input_names[i] = b->inputs[i].name;
    for (int i = 0; i < b->noutputs; i++) d->output_names[i] = b->outputs[i].name;
    for (int i = 0; i < d->ntargets; i++) d->target_names[i] = t->targets[i].name;
    for (int i = 0; i < b->nparams; i++) {
        const IrType *ty = &b->params[i].value->type;
        d->param_names[i] = b->params[i].name;
        shape_words(b, b, ty, d->param_shapes + RNNRT_SHAPE_WORDS * i);
        d->param_numel[i] = 1;
        for (int r = 0; r < ty->rank; r++) d->param_numel[i] *= ty->dim[r] < 0 ? 1 : ty->dim[r];
    }
    for (int v = 0; v < 3; v++) {
        ApiKernel *o = &d->k[v];
        *o = k[v];
        o->sym = o->args = o->results = o->carry = NULL;
        if (!o->m) continue;
        o->nsyms = o->m->nsyms;
        o->sym = zalloc(o->nsyms, sizeof(int64_t));
        o->args = zalloc(2 * o->f->nargs, sizeof(int64_t));
        o->results = zalloc(2 * o->f->nresults, sizeof(int64_t));
        o->carry = state_shapes(b, o->m, api_is_carry, &o->ncarry);
        o->has_reset = api_has_reset(o->m);
        if (!o->sym || !o->args || !o->results || !o->carry) return ir_errf(err, errlen, "out of memory");
        for (int s = 0; s < o->nsyms; s++)
            if ((o->sym[s] = api_size_field(b, o->m, s)) < 0)
                return ir_errf(err, errlen, "internal error: the %s function's size '%s' is not the model's", o->f->name,
                               o->m->syms[s].name);
        if (slot_pairs(b, o, o->f->args, o->f->nargs, 0, o->args, err, errlen) ||
            slot_pairs(b, o, o->f->results, o->f->nresults, 1, o->results, err, errlen))
            return -1;
    }
    return 0;
}

void api_desc_free(ApiDesc *d)
{
    free(d->size_names);
    free(d->input_names);
    free(d->output_names);
    free(d->target_names);
    free(d->param_names);
    free(d->param_shapes);
    free(d->param_numel);
    free(d->opt);
    for (int i = 0; d->embedded && i < d->nparams; i++) free(d->embedded[i]);
    free(d->embedded);
    for (int v = 0; v < 3; v++) {
        free(d->k[v].sym);
        free(d->k[v].args);
        free(d->k[v].results);
        free(d->k[v].carry);
    }
    memset(d, 0, sizeof *d);
}

/* ---- embedded weights ------------------------------------------------------------ */

float *api_param_floats(const IrModule *m, const TensorMap *w, int i, char *err, size_t errlen)
{
    const Tensor *t = rt_map_get(w, m->params[i].name);
    int64_t n = t ? rt_numel(t) : 0;
    float *f = malloc(sizeof *f * (size_t)(n > 0 ? n : 1));
    if (!f) {
        ir_errf(err, errlen, "out of memory for parameter '%s'", m->params[i].name);
        return NULL;
    }
    for (int64_t k = 0; k < n; k++) {
        double x = t->dtype == RT_F64 ? ((const double *)t->data)[k] : ((const float *)t->data)[k];
        f[k] = (float)x;
        if (!isfinite(f[k])) {
            ir_errf(err, errlen, "parameter '%s' holds %s at element %lld: cannot embed it", m->params[i].name,
                    isnan(x) ? "NaN" : "an infinity", (long long)k);
            free(f);
            return NULL;
        }
    }
    return f;
}

int api_desc_embed(ApiDesc *d, const TensorMap *w, char *err, size_t errlen)
{
    const IrModule *m = d->k[0].m;
    if (ir_bind_params(m, w, "the embedded weights", err, errlen)) return -1;
    if (!(d->embedded = calloc((size_t)m->nparams + 1, sizeof *d->embedded)))
        return ir_errf(err, errlen, "out of memory");
    for (int i = 0; i < m->nparams; i++)
        if (!(d->embedded[i] = api_param_floats(m, w, i, err, errlen))) return -1;
    return 0;
}
