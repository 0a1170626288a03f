/* api_slots.c - the slot decisions of the model API and its descriptor
 * (api_slots.h). */
#include "target/api_slots.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/bind.h"
#include "lower/kcompile.h"

int api_index(const IrModule *m, IrRole role, const char *name)
{
    int k = 0;
    for (int i = 0; m && i < m->ninputs; i++) {
        if (m->inputs[i].role != role) continue;
        if (!strcmp(m->inputs[i].name, name)) return k;
        k++;
    }
    return -1;
}

int api_count(const IrModule *m, IrRole role)
{
    int k = 0;
    for (int i = 0; m && i < m->ninputs; i++) k += m->inputs[i].role == role;
    return k;
}

static int named(const IrInput *list, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i].name, name)) return i;
    return -1;
}

int api_has_reset(const IrModule *m)
{
    for (int i = 0; m && i < m->ninputs; i++)
        if (m->inputs[i].role == IR_ROLE_RESET) return m->inputs[i].value->type.rank ? 2 : 1;
    return 0;
}

static int param_index(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (!strcmp(m->params[i].name, name)) return i;
    return -1;
}

static ApiSlot mk(int kind, int index) { return (ApiSlot){index >= 0 ? kind : 0, index}; }

/* An argument: an input (by its role), a target or a parameter. */
static ApiSlot arg_slot(const IrModule *base, const IrModule *m, const char *name)
{
    int k = ir_input_index(m, name);
    if (k >= 0) {
        switch (m->inputs[k].role) {
        case IR_ROLE_DATA:
        case IR_ROLE_LENGTHS: /* the mask the API makes of the caller's lengths */
            return mk(RNNRT_SLOT_INPUT, named(base->inputs, base->ninputs, name));
        case IR_ROLE_RESET: return mk(RNNRT_SLOT_RESET, 0);
        case IR_ROLE_OPT_STEP: return mk(RNNRT_SLOT_STEP_NUMBER, 0);
        case IR_ROLE_DROPOUT_KEY: return mk(RNNRT_SLOT_DROPOUT_KEY, 0);
        case IR_ROLE_CARRY: return mk(RNNRT_SLOT_CARRY, api_index(m, IR_ROLE_CARRY, name));
        case IR_ROLE_OPT_STATE: return mk(RNNRT_SLOT_OPT, api_index(m, IR_ROLE_OPT_STATE, name));
        default: return mk(0, 0);
        }
    }
    if ((k = named(m->targets, m->ntargets, name)) >= 0) return mk(RNNRT_SLOT_TARGET, k);
    return mk(RNNRT_SLOT_PARAM, param_index(base, name));
}

/* A result: the loss or an output (by its role). */
static ApiSlot result_slot(const IrModule *base, const IrModule *m, const char *name)
{
    int k = ir_output_index(m, name);
    if (k < 0) return mk(!strcmp(name, "loss") && m->loss ? RNNRT_SLOT_LOSS : 0, 0);
    const IrOutput *o = &m->outputs[k];
    switch (o->role) {
    case IR_ROLE_DATA: return mk(RNNRT_SLOT_OUTPUT, ir_output_index(base, name));
    case IR_ROLE_CARRY: return mk(RNNRT_SLOT_CARRY, api_index(m, IR_ROLE_CARRY, o->of));
    case IR_ROLE_NEW_OPT_STATE: return mk(RNNRT_SLOT_OPT_NEXT, api_index(m, IR_ROLE_OPT_STATE, o->of));
    case IR_ROLE_NEW_PARAM: return mk(RNNRT_SLOT_PARAM_NEXT, param_index(base, o->of));
    case IR_ROLE_GRAD_NORM: return mk(RNNRT_SLOT_GRAD_NORM, 0);
    default: return mk(0, 0); /* gradients are no result of the API's functions */
    }
}

ApiSlot api_slot(const IrModule *base, const IrModule *m, const char *name, int result)
{
    return result ? result_slot(base, m, name) : arg_slot(base, m, name);
}

int api_size_field(const IrModule *base, const IrModule *m, int s)
{
    if (s == IR_SYM_BATCH) return 0;
    for (int b = 0; b < base->nsyms; b++)
        if (b != IR_SYM_BATCH && !strcmp(base->syms[b].name, m->syms[s].name)) return b;
    return -1;
}

/* ---- the kernels ------------------------------------------------------------------- */

KFunc *api_kernel_compile(const IrModule *m, const char *kind, KFunc **prep, char *err, size_t errlen)
{
    *prep = NULL;
    if (!strcmp(kind, "train")) return kcompile(m, kind, err, errlen);
    return kcompile_prepared(m, kind, prep, err, errlen);
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
static int64_t *state_shapes(const IrModule *base, const IrModule *m, IrRole role, int *count)
{
    int n = api_count(m, role), k = 0;
    int64_t *w = zalloc(n * RNNRT_SHAPE_WORDS, sizeof *w);
    for (int i = 0; w && m && i < m->ninputs; i++)
        if (m->inputs[i].role == role) shape_words(base, m, &m->inputs[i].value->type, w + RNNRT_SHAPE_WORDS * k++);
    *count = n;
    return w;
}

/* The kinds (RNNRT_IN_*) and shapes of inputs or targets list[0..n) of
 * module m. */
static int io_tables(const IrModule *base, const IrModule *m, const IrInput *list, int n, int64_t **kinds,
                     int64_t **shapes)
{
    *kinds = zalloc(n, sizeof(int64_t));
    *shapes = zalloc(n * RNNRT_SHAPE_WORDS, sizeof(int64_t));
    if (!*kinds || !*shapes) return -1;
    for (int i = 0; i < n; i++) {
        const IrType *t = &list[i].value->type;
        (*kinds)[i] = list[i].role == IR_ROLE_LENGTHS ? RNNRT_IN_LENGTHS
                      : t->dtype == IR_I64            ? RNNRT_IN_I64
                                                      : RNNRT_IN_F32;
        shape_words(base, m, t, *shapes + RNNRT_SHAPE_WORDS * i);
    }
    return 0;
}

/* The kinds (RNNRT_IN_F32 or _I64) and shapes of base's outputs. */
static int out_tables(const IrModule *base, int64_t **kinds, int64_t **shapes)
{
    *kinds = zalloc(base->noutputs, sizeof(int64_t));
    *shapes = zalloc(base->noutputs * RNNRT_SHAPE_WORDS, sizeof(int64_t));
    if (!*kinds || !*shapes) return -1;
    for (int i = 0; i < base->noutputs; i++) {
        const IrType *t = &base->outputs[i].value->type;
        (*kinds)[i] = t->dtype == IR_I64 ? RNNRT_IN_I64 : RNNRT_IN_F32;
        shape_words(base, base, t, *shapes + RNNRT_SHAPE_WORDS * i);
    }
    return 0;
}

/* The pack slot of key, added to d's list on first use; -1 when out of
 * memory. */
static int pack_slot(ApiDesc *d, const KBuf *b)
{
    for (int p = 0; p < d->npacks; p++)
        if (!strcmp(d->pack_names[p], b->ext_name)) return p;
    const char **n = realloc(d->pack_names, sizeof *n * (size_t)(d->npacks + 1));
    if (n) d->pack_names = n;
    int64_t *fl = realloc(d->pack_floats, sizeof *fl * (size_t)(d->npacks + 1));
    if (fl) d->pack_floats = fl;
    if (!n || !fl) return -1;
    n[d->npacks] = b->ext_name;
    fl[d->npacks] = kexpr_eval(b->size, NULL, NULL);
    return d->npacks++;
}

/* Fills w with the (kind, index) pairs of bufs, f's arguments or results
 * (result); packs: every result is a pack (f is a prepare function). */
static int slot_pairs(ApiDesc *d, const IrModule *base, const ApiKernel *k, const KFunc *f, int result, int packs,
                      int64_t *w, char *err, size_t errlen)
{
    KBuf *const *bufs = result ? f->results : f->args;
    int n = result ? f->nresults : f->nargs;
    for (int i = 0; i < n; i++) {
        ApiSlot s = {0, 0};
        if (bufs[i]->prepared || (result && packs)) {
            s.index = pack_slot(d, bufs[i]);
            if (s.index < 0) return ir_errf(err, errlen, "out of memory");
            s.kind = RNNRT_SLOT_PACK;
        } else {
            s = api_slot(base, k->m, bufs[i]->ext_name, result);
        }
        if (!s.kind)
            return ir_errf(err, errlen, "internal error: the %s function has a buffer '%s' the API does not know",
                           f->name, bufs[i]->ext_name);
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
    d->opt = state_shapes(b, t, IR_ROLE_OPT_STATE, &d->nopt);
    if (io_tables(b, b, b->inputs, d->ninputs, &d->input_kinds, &d->input_shapes) ||
        io_tables(b, t ? t : b, t ? t->targets : NULL, d->ntargets, &d->target_kinds, &d->target_shapes) ||
        out_tables(b, &d->output_kinds, &d->output_shapes))
        return ir_errf(err, errlen, "out of memory");
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
        o->sym = o->args = o->results = o->carry = o->arena = o->prep_args = o->prep_results = NULL;
        if (!o->m) continue;
        o->nsyms = o->m->nsyms;
        o->sym = zalloc(o->nsyms, sizeof(int64_t));
        o->args = zalloc(2 * o->f->nargs, sizeof(int64_t));
        o->results = zalloc(2 * o->f->nresults, sizeof(int64_t));
        o->carry = state_shapes(b, o->m, IR_ROLE_CARRY, &o->ncarry);
        o->has_reset = api_has_reset(o->m);
        o->narena = kexpr_to_words(o->f->arena_bytes, NULL, 0);
        if (o->narena < 2)
            return ir_errf(err, errlen, "internal error: the %s function's arena size cannot be written", o->f->name);
        o->arena = zalloc(o->narena, sizeof(int64_t));
        if (!o->sym || !o->args || !o->results || !o->carry || !o->arena) return ir_errf(err, errlen, "out of memory");
        kexpr_to_words(o->f->arena_bytes, o->arena, o->narena);
        for (int s = 0; s < o->nsyms; s++)
            if ((o->sym[s] = api_size_field(b, o->m, s)) < 0)
                return ir_errf(err, errlen, "internal error: the %s function's size '%s' is not the model's",
                               o->f->name, o->m->syms[s].name);
        if (slot_pairs(d, b, o, o->f, 0, 0, o->args, err, errlen) ||
            slot_pairs(d, b, o, o->f, 1, 0, o->results, err, errlen))
            return -1;
        if (!o->prep) continue;
        o->prep_args = zalloc(2 * o->prep->nargs, sizeof(int64_t));
        o->prep_results = zalloc(2 * o->prep->nresults, sizeof(int64_t));
        if (!o->prep_args || !o->prep_results) return ir_errf(err, errlen, "out of memory");
        if (slot_pairs(d, b, o, o->prep, 0, 0, o->prep_args, err, errlen) ||
            slot_pairs(d, b, o, o->prep, 1, 1, o->prep_results, err, errlen))
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
    free(d->input_kinds);
    free(d->input_shapes);
    free(d->target_kinds);
    free(d->target_shapes);
    free(d->output_kinds);
    free(d->output_shapes);
    for (int i = 0; d->embedded && i < d->nparams; i++) free(d->embedded[i]);
    free(d->embedded);
    free(d->pack_names);
    free(d->pack_floats);
    for (int v = 0; v < 3; v++) {
        free(d->k[v].prep_args);
        free(d->k[v].prep_results);
        free(d->k[v].sym);
        free(d->k[v].args);
        free(d->k[v].results);
        free(d->k[v].carry);
        free(d->k[v].arena);
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
