/* model_api.c - the model API of docs/c-api.md for any model, driven by
 * its descriptor (model_api.h): what the NAME_* functions of a compiled
 * model call, in a C file (which carries this text, or links librnnrt.a)
 * and in an object file of `rnnc compile --emit=obj` (librnnrt.a).
 *
 * One arena for every kernel sized at create, weights
 * (two sets with training, used in turn), the recurrent state of the step
 * and of truncated BPTT in two buffers each (read one, write the other,
 * swap after a good call), optimizer state the same way, and the
 * weights' packs of the kernels that have a prepare function (made at a
 * kernel's first call with the current weights, so once after each
 * change of the weights: loading, a training step).  After create
 * nothing allocates but loading and saving weights. */
#include "runtime/model_api.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* st_load, st_save: the model's side of the safetensors reader and writer
 * (runtime/st_format.c), which a generated C file carries too. */
#include "runtime/sizes.h"
#include "runtime/st_loader.h"

struct rnnrt_model {
    const rnnrt_model_desc *d;
    int64_t *max;             /* the maxima given to create, one per size      */
    int64_t *n;               /* the sizes of a step call                      */
    int64_t *run;             /* the sizes a call runs with (ma_lengths)       */
    char err[512];            /* the last error                                */
    unsigned char *arena_mem; /* malloc'd; arena is it aligned to 64 bytes     */
    void *arena;
    int have_weights;
    const float **w; /* the weights the kernels read                  */
    float **own[2];  /* the model's copies; with training two, in turn */
    int cur;         /* own[cur] holds the weights                    */
    float **step_state[2];
    int step_cur, step_fresh;
    int64_t step_batch;
    float *step_reset;           /* max batch floats: one an example, or [0] for all */
    unsigned char *reset_wanted; /* rnnrt_model_reset_example's, until the next step */
    float **opt[2];
    float **train_state[2];
    int train_cur, train_fresh;
    int64_t train_batch;
    float train_reset, step_number, loss, grad_norm;
    int64_t steps_done;
    int64_t dropout_seed;     /* rnnrt_model_set_seed's, 0 until then              */
    int64_t dropout_key[2];   /* (seed, step) of the dropout masks: (dropout_seed, steps_done) */
    rt_st_tensor *want;       /* the parameters, for load and save             */
    unsigned char **pack_mem; /* malloc'd; packs are them aligned to 64 bytes */
    void **packs;             /* the weights packed (RNNRT_SLOT_PACK)         */
    int prepared[3];          /* forward, step, train: packs made from m->w   */
    int64_t *sym;             /* scratch of a call: the kernel's sizes ...     */
    const void **arg;         /* ... and slots                                 */
    void **res;
    /* Lengths (RNNRT_IN_LENGTHS): the mask of each lengths input, copies
     * of the sequences they govern with the padding zeroed, the arrays a
     * call then reads (the caller's, or these); NULL without lengths. */
    float **mask;
    void **in_copy, **tg_copy, **out_copy;
    const void **in_use, **tg_use;
    void **out_use;
    /* The run's order of the examples (ma_order): row i is the caller's
     * example order[i], or the caller's order when `sorted` is 0. */
    int64_t *order, *sorted_len;
    int sorted;
};

#if defined(__GNUC__)
static int ma_fail(rnnrt_model *m, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif
static int ma_fail(rnnrt_model *m, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, sizeof m->err, fmt, ap);
    va_end(ap);
    return code;
}

/* Elements of a shape for the sizes in n (NULL: symbols count 1). */
static size_t ma_numel(const int64_t *shape, const int64_t *n)
{
    size_t c = 1;
    for (int64_t d = 0; d < shape[0]; d++) {
        int64_t v = shape[1 + d];
        c *= (size_t)(v >= 0 ? v : n ? n[-v - 1] : 1);
    }
    return c;
}

static float *ma_falloc(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static void *ma_zalloc(int64_t n, size_t size) { return calloc(n > 0 ? (size_t)n : 1, size); }

static int ma_nsets(const rnnrt_model_desc *d) { return d->train.fn ? 2 : 1; }

static void ma_kernel_sym(const rnnrt_kernel_desc *k, const int64_t *n, int64_t *sym)
{
    for (int64_t s = 0; s < k->nsyms; s++) sym[s] = n[k->sym[s]];
}

static void ma_free_sets(float **p[2], int64_t count)
{
    for (int s = 0; s < 2; s++) {
        if (!p[s]) continue;
        for (int64_t i = 0; i < count; i++) free(p[s][i]);
        free(p[s]);
    }
}

/* Two buffers for each of count shapes at the maxima. */
static int ma_alloc_sets(float **p[2], int64_t count, const int64_t *shapes, const int64_t *max)
{
    for (int s = 0; s < 2; s++) {
        if (!(p[s] = ma_zalloc(count, sizeof(float *)))) return -1;
        for (int64_t i = 0; i < count; i++)
            if (!(p[s][i] = ma_falloc(ma_numel(shapes + RNNRT_SHAPE_WORDS * i, max)))) return -1;
    }
    return 0;
}

/* ---- lengths -------------------------------------------------------------------- */

static int ma_has_lengths(const rnnrt_model_desc *d)
{
    for (int64_t i = 0; d->input_kinds && i < d->ninputs; i++)
        if (d->input_kinds[i] == RNNRT_IN_LENGTHS) return 1;
    return 0;
}

/* The lengths input whose mask governs a sequence of shape w ([T, B, ...]
 * of the mask's T), or -1. */
static int64_t ma_governed_by(const rnnrt_model_desc *d, const int64_t *w)
{
    if (w[0] < 2 || w[1] >= 0 || w[2] != -1) return -1;
    for (int64_t i = 0; i < d->ninputs; i++)
        if (d->input_kinds[i] == RNNRT_IN_LENGTHS && d->input_shapes[RNNRT_SHAPE_WORDS * i + 1] == w[1]) return i;
    return -1;
}

static size_t ma_elsize(int64_t kind) { return kind == RNNRT_IN_I64 ? sizeof(int64_t) : sizeof(float); }

/* The batch dim of shape w (the sizes' field 0, word -1), or -1. */
static int64_t ma_batch_dim(const int64_t *w)
{
    for (int64_t q = 0; q < w[0]; q++)
        if (w[1 + q] == -1) return q;
    return -1;
}

/* A copy at the maxima of each of count arrays with a batch dim: in the
 * run's order, and with the padding zeroed for a sequence a lengths input
 * governs. */
static int ma_alloc_copies(rnnrt_model *m, void **copy, int64_t count, const int64_t *kinds, const int64_t *shapes)
{
    for (int64_t i = 0; i < count; i++) {
        const int64_t *w = shapes + RNNRT_SHAPE_WORDS * i;
        if (kinds[i] != RNNRT_IN_LENGTHS && ma_batch_dim(w) >= 0 &&
            !(copy[i] = ma_zalloc((int64_t)ma_numel(w, m->max), ma_elsize(kinds[i]))))
            return -1;
    }
    return 0;
}

/* The masks and copies of a model with lengths inputs, at the maxima. */
static int ma_alloc_lengths(rnnrt_model *m)
{
    const rnnrt_model_desc *d = m->d;
    if (!ma_has_lengths(d)) return 0;
    if (!(m->mask = ma_zalloc(d->ninputs, sizeof(float *))) || !(m->in_copy = ma_zalloc(d->ninputs, sizeof(void *))) ||
        !(m->tg_copy = ma_zalloc(d->ntargets, sizeof(void *))) ||
        !(m->out_copy = ma_zalloc(d->noutputs, sizeof(void *))) ||
        !(m->out_use = ma_zalloc(d->noutputs, sizeof(void *))) || !(m->order = ma_zalloc(m->max[0], sizeof(int64_t))) ||
        !(m->sorted_len = ma_zalloc(m->max[0], sizeof(int64_t))) ||
        !(m->in_use = ma_zalloc(d->ninputs, sizeof(void *))) || !(m->tg_use = ma_zalloc(d->ntargets, sizeof(void *))))
        return -1;
    for (int64_t i = 0; i < d->ninputs; i++)
        if (d->input_kinds[i] == RNNRT_IN_LENGTHS &&
            !(m->mask[i] = ma_falloc(ma_numel(d->input_shapes + RNNRT_SHAPE_WORDS * i, m->max))))
            return -1;
    if (ma_alloc_copies(m, m->in_copy, d->ninputs, d->input_kinds, d->input_shapes) ||
        ma_alloc_copies(m, m->tg_copy, d->ntargets, d->target_kinds, d->target_shapes) ||
        ma_alloc_copies(m, m->out_copy, d->noutputs, d->output_kinds, d->output_shapes))
        return -1;
    return 0;
}

RNNRT_MODEL_API void rnnrt_model_free(rnnrt_model *m)
{
    if (!m) return;
    const rnnrt_model_desc *d = m->d;
    for (int s = 0; s < 2; s++) {
        if (!m->own[s]) continue;
        for (int64_t i = 0; i < d->nparams; i++) free(m->own[s][i]);
        free(m->own[s]);
    }
    ma_free_sets(m->step_state, d->step.ncarry);
    ma_free_sets(m->opt, d->nopt);
    ma_free_sets(m->train_state, d->train.ncarry);
    free((void *)m->w);
    free(m->max);
    free(m->n);
    free(m->run);
    free(m->want);
    for (int64_t p = 0; m->pack_mem && p < d->npacks; p++) free(m->pack_mem[p]);
    free(m->pack_mem);
    free(m->packs);
    free(m->sym);
    free((void *)m->arg);
    free(m->res);
    for (int64_t i = 0; m->mask && i < d->ninputs; i++) free(m->mask[i]);
    for (int64_t i = 0; m->in_copy && i < d->ninputs; i++) free(m->in_copy[i]);
    for (int64_t i = 0; m->tg_copy && i < d->ntargets; i++) free(m->tg_copy[i]);
    for (int64_t i = 0; m->out_copy && i < d->noutputs; i++) free(m->out_copy[i]);
    free(m->mask);
    free(m->in_copy);
    free(m->tg_copy);
    free(m->out_copy);
    free(m->out_use);
    free(m->order);
    free(m->sorted_len);
    free((void *)m->in_use);
    free((void *)m->tg_use);
    free(m->step_reset);
    free(m->reset_wanted);
    free(m->arena_mem);
    free(m);
}

RNNRT_MODEL_API int rnnrt_model_create(const rnnrt_model_desc *d, rnnrt_model **model, const int64_t *max, char *err,
                                       size_t errlen)
{
    const char *P = d->prefix;
    rnnrt_model *m;
    size_t bytes = 0;
    int64_t slots = 1;
    if (model) *model = NULL;
    if (!model || !max) {
        if (err && errlen) snprintf(err, errlen, "%s_create: NULL argument", P);
        return RNNRT_ERR_ARG;
    }
    if (d->version != RNNRT_MODEL_DESC_VERSION) {
        if (err && errlen)
            snprintf(err, errlen,
                     "%s_create: the model's descriptor is version %lld, the runtime's %d: "
                     "rebuild with this rnnc",
                     P, (long long)d->version, RNNRT_MODEL_DESC_VERSION);
        return RNNRT_ERR_ARG;
    }
    for (int64_t s = 0; s < d->nsizes; s++)
        if (max[s] < 1) {
            if (err && errlen)
                snprintf(err, errlen, "%s_create: the maximum %s must be at least 1, not %lld", P, d->size_names[s],
                         (long long)max[s]);
            return RNNRT_ERR_ARG;
        }
    m = calloc(1, sizeof *m);
    if (!m) goto nomem;
    m->d = d;
    if (!(m->max = ma_zalloc(d->nsizes, sizeof(int64_t))) || !(m->n = ma_zalloc(d->nsizes, sizeof(int64_t))) ||
        !(m->run = ma_zalloc(d->nsizes, sizeof(int64_t))))
        goto nomem;
    memcpy(m->max, max, sizeof(int64_t) * (size_t)d->nsizes);
    /* One arena for every kernel: the most any of them needs at the maxima;
     * call scratch for the largest. */
    const rnnrt_kernel_desc *ks[3] = {&d->forward, &d->step, &d->train};
    for (int k = 0; k < 3; k++) {
        if (!ks[k]->fn) continue;
        if (ks[k]->nsyms > slots) slots = ks[k]->nsyms;
        if (ks[k]->nargs > slots) slots = ks[k]->nargs;
        if (ks[k]->nresults > slots) slots = ks[k]->nresults;
        if (ks[k]->nprep_args > slots) slots = ks[k]->nprep_args;
        if (ks[k]->nprep_results > slots) slots = ks[k]->nprep_results;
    }
    if (!(m->sym = ma_zalloc(slots, sizeof(int64_t))) || !(m->arg = ma_zalloc(slots, sizeof(void *))) ||
        !(m->res = ma_zalloc(slots, sizeof(void *))))
        goto nomem;
    /* Sizes saturate rather than wrap (runtime/sizes.h): maxima too large
     * for this machine are an error here, before any allocation. */
    for (int k = 0; k < 3; k++) {
        if (!ks[k]->fn) continue;
        ma_kernel_sym(ks[k], max, m->sym);
        int64_t a = rt_size_eval(ks[k]->arena, m->sym);
        if (a < 0) {
            if (err && errlen) snprintf(err, errlen, "%s_create: the model's arena size is malformed", P);
            rnnrt_model_free(m);
            return RNNRT_ERR_ARG;
        }
        if ((uint64_t)a > bytes) bytes = (size_t)a;
    }
    /* What the check weighs is all the model will hold: the arena plus the
     * packs and the weights (two sets when it trains), whose sizes are the
     * model's own and were checked when it was compiled. */
    uint64_t need = bytes;
    for (int64_t p = 0; p < d->npacks; p++) need += sizeof(float) * (uint64_t)d->pack_floats[p];
    for (int64_t i = 0; i < d->nparams; i++) need += sizeof(float) * (uint64_t)d->param_numel[i] * ma_nsets(d);
    char what[300];
    int len = snprintf(what, sizeof what, "%s_create: the model at the maxima", P);
    for (int64_t s = 0; s < d->nsizes && len > 0 && (size_t)len < sizeof what; s++)
        len += snprintf(what + len, sizeof what - (size_t)len, "%s%s=%lld", s ? ", " : " ", d->size_names[s],
                        (long long)max[s]);
    if (rt_size_check(need > (uint64_t)RT_SIZE_HUGE ? RT_SIZE_HUGE : (int64_t)need, 0, what, err, errlen)) {
        rnnrt_model_free(m);
        return RNNRT_ERR_NOMEM;
    }
    if (bytes > (size_t)-1 - 64) goto nomem;
    m->arena_mem = malloc(bytes + 64);
    if (!m->arena_mem) goto nomem;
    m->arena = m->arena_mem + (64 - (size_t)((uintptr_t)m->arena_mem % 64)) % 64;
    /* The packs: about the size of the weight matrices again, kept so
     * that no call packs them (docs/c-api.md, "Memory"). */
    if (!(m->pack_mem = ma_zalloc(d->npacks, sizeof *m->pack_mem)) ||
        !(m->packs = ma_zalloc(d->npacks, sizeof(void *))))
        goto nomem;
    for (int64_t p = 0; p < d->npacks; p++) {
        size_t pb = sizeof(float) * (size_t)d->pack_floats[p];
        if (!(m->pack_mem[p] = malloc(pb + 64))) goto nomem;
        m->packs[p] = m->pack_mem[p] + (64 - (size_t)((uintptr_t)m->pack_mem[p] % 64)) % 64;
    }
    /* The weights: the model's own copies, unless they are embedded and
     * never change (no training): then read in place. */
    if (!(m->w = ma_zalloc(d->nparams, sizeof(float *))) || !(m->want = ma_zalloc(d->nparams, sizeof(rt_st_tensor))))
        goto nomem;
    for (int s = 0; s < ma_nsets(d); s++) {
        if (!(m->own[s] = ma_zalloc(d->nparams, sizeof(float *)))) goto nomem;
        if (s == 0 && d->embedded && !d->train.fn) continue;
        for (int64_t i = 0; i < d->nparams; i++)
            if (!(m->own[s][i] = ma_falloc((size_t)d->param_numel[i]))) goto nomem;
    }
    for (int64_t i = 0; i < d->nparams; i++) {
        if (d->embedded && d->train.fn) memcpy(m->own[0][i], d->embedded[i], sizeof(float) * (size_t)d->param_numel[i]);
        m->w[i] = d->embedded && !d->train.fn ? d->embedded[i] : m->own[0][i];
    }
    m->have_weights = d->embedded != NULL;
    /* The step's recurrent state for max->batch sequences, the optimizer
     * state (zeros before the first step) and the carried state. */
    if (d->step.fn) {
        if (ma_alloc_sets(m->step_state, d->step.ncarry, d->step.carry, max) ||
            !(m->step_reset = ma_falloc((size_t)max[0])) || !(m->reset_wanted = ma_zalloc(max[0], 1)))
            goto nomem;
        m->step_fresh = 1;
    }
    if (ma_alloc_lengths(m)) goto nomem;
    if (d->train.fn) {
        if (ma_alloc_sets(m->opt, d->nopt, d->opt, max) ||
            ma_alloc_sets(m->train_state, d->train.ncarry, d->train.carry, max))
            goto nomem;
        m->train_fresh = 1;
    }
    *model = m;
    return RNNRT_OK;
nomem:
    rnnrt_model_free(m);
    if (err && errlen) snprintf(err, errlen, "%s_create: out of memory", P);
    return RNNRT_ERR_NOMEM;
}

RNNRT_MODEL_API const char *rnnrt_model_errmsg(const rnnrt_model *m) { return m ? m->err : "no model (NULL)"; }

RNNRT_MODEL_API void rnnrt_model_reset(rnnrt_model *m)
{
    if (!m) return;
    if (m->d->step.fn) m->step_fresh = 1;
    if (m->d->train.fn && m->d->train.has_reset) m->train_fresh = 1;
}

RNNRT_MODEL_API int rnnrt_model_reset_example(rnnrt_model *m, int64_t b)
{
    if (!m) return RNNRT_ERR_ARG;
    const rnnrt_model_desc *d = m->d;
    if (!d->step.fn) return ma_fail(m, RNNRT_ERR_STATE, "%s_reset_example: the model has no step", d->prefix);
    if (d->step.has_reset != 2)
        return ma_fail(m, RNNRT_ERR_STATE,
                       "%s_reset_example: the model's recurrent state is not one an example: use %s_reset", d->prefix,
                       d->prefix);
    if (b < 0 || b >= m->max[0])
        return ma_fail(m, RNNRT_ERR_ARG,
                       "%s_reset_example: example %lld is outside [0, %lld), the maximum batch given to %s_create",
                       d->prefix, (long long)b, (long long)m->max[0], d->prefix);
    m->reset_wanted[b] = 1;
    return RNNRT_OK;
}

/* The weights changed: every kernel packs them again before its next
 * call. */
static void ma_unprepare(rnnrt_model *m) { m->prepared[0] = m->prepared[1] = m->prepared[2] = 0; }

static void ma_want_params(rnnrt_model *m)
{
    const rnnrt_model_desc *d = m->d;
    for (int64_t i = 0; i < d->nparams; i++) {
        m->want[i].name = d->param_names[i];
        m->want[i].dtype = RT_ST_F32;
        m->want[i].rank = (int)d->param_shapes[RNNRT_SHAPE_WORDS * i];
        m->want[i].dims = d->param_shapes + RNNRT_SHAPE_WORDS * i + 1;
    }
}

RNNRT_MODEL_API int rnnrt_model_load_weights(rnnrt_model *m, const char *path)
{
    int rc, partial;
    if (!m) return RNNRT_ERR_ARG;
    const rnnrt_model_desc *d = m->d;
    if (!path) return ma_fail(m, RNNRT_ERR_ARG, "%s_load_weights: the path is NULL", d->prefix);
    /* The weights were read in place from the embedded arrays: copies now. */
    for (int64_t i = 0; i < d->nparams; i++)
        if (!m->own[0][i] && !(m->own[0][i] = ma_falloc((size_t)d->param_numel[i])))
            return ma_fail(m, RNNRT_ERR_NOMEM, "%s_load_weights: out of memory", d->prefix);
    ma_want_params(m);
    ma_unprepare(m); /* even a failed load may have changed some weights */
    rc = st_load(path, m->want, m->own[m->cur], (int)d->nparams, &partial, m->err, sizeof m->err);
    if (rc) {
        if (partial) m->have_weights = 0; /* half read: unusable */
        return rc;
    }
    for (int64_t i = 0; i < d->nparams; i++) m->w[i] = m->own[m->cur][i];
    m->have_weights = 1;
    if (d->train.fn) { /* new weights: the optimizer starts afresh */
        for (int64_t k = 0; k < d->nopt; k++)
            memset(m->opt[m->cur][k], 0, sizeof(float) * ma_numel(d->opt + RNNRT_SHAPE_WORDS * k, NULL));
        m->steps_done = 0;
    }
    rnnrt_model_reset(m);
    m->err[0] = '\0';
    return RNNRT_OK;
}

RNNRT_MODEL_API int rnnrt_model_save_weights(rnnrt_model *m, const char *path)
{
    char err[512];
    int rc;
    if (!m) return RNNRT_ERR_ARG;
    const rnnrt_model_desc *d = m->d;
    if (!path) return ma_fail(m, RNNRT_ERR_ARG, "%s_save_weights: the path is NULL", d->prefix);
    if (!m->have_weights) return ma_fail(m, RNNRT_ERR_STATE, "%s_save_weights: the model has no weights", d->prefix);
    ma_want_params(m);
    rc = st_save(path, m->want, m->w, (int)d->nparams, err, sizeof err);
    if (rc) snprintf(m->err, sizeof m->err, "%s", err);
    return rc;
}

RNNRT_MODEL_API int rnnrt_model_num_params(const rnnrt_model_desc *d) { return (int)d->nparams; }

RNNRT_MODEL_API const char *rnnrt_model_param_name(const rnnrt_model_desc *d, int i)
{
    return i >= 0 && i < d->nparams ? d->param_names[i] : NULL;
}

RNNRT_MODEL_API int rnnrt_model_param_rank(const rnnrt_model_desc *d, int i)
{
    return i >= 0 && i < d->nparams ? (int)d->param_shapes[RNNRT_SHAPE_WORDS * i] : -1;
}

RNNRT_MODEL_API const int64_t *rnnrt_model_param_dims(const rnnrt_model_desc *d, int i)
{
    return i >= 0 && i < d->nparams ? d->param_shapes + RNNRT_SHAPE_WORDS * i + 1 : NULL;
}

RNNRT_MODEL_API int64_t rnnrt_model_param_numel(const rnnrt_model_desc *d, int i)
{
    return i >= 0 && i < d->nparams ? d->param_numel[i] : -1;
}

RNNRT_MODEL_API const float *rnnrt_model_param_data(const rnnrt_model *m, int i)
{
    return m && m->have_weights && i >= 0 && i < m->d->nparams ? m->w[i] : NULL;
}

RNNRT_MODEL_API float rnnrt_model_grad_norm(const rnnrt_model *m) { return m ? m->grad_norm : 0.0f; }

RNNRT_MODEL_API int64_t rnnrt_model_steps_done(const rnnrt_model *m) { return m ? m->steps_done : 0; }
RNNRT_MODEL_API void rnnrt_model_set_seed(rnnrt_model *m, int64_t seed)
{
    if (m) m->dropout_seed = seed;
}

/* ---- calls ---------------------------------------------------------------------- */

/* The sizes of a call, within the maxima. */
static int ma_check(rnnrt_model *m, const char *fn, const int64_t *n)
{
    const rnnrt_model_desc *d = m->d;
    if (!m->have_weights)
        return ma_fail(m, RNNRT_ERR_STATE, "%s: the model has no weights: call %s_load_weights first", fn, d->prefix);
    if (!n) return ma_fail(m, RNNRT_ERR_ARG, "%s: the sizes are NULL", fn);
    for (int64_t s = 0; s < d->nsizes; s++)
        if (n[s] < 1 || n[s] > m->max[s])
            return ma_fail(m, RNNRT_ERR_ARG, "%s: %s = %lld is outside [1, %lld], the maximum given to %s_create", fn,
                           d->size_names[s], (long long)n[s], (long long)m->max[s], d->prefix);
    return RNNRT_OK;
}

/* Every field of the caller's struct p is set (but lengths, of kinds:
 * ma_lengths checks them). */
static int ma_check_ptrs(rnnrt_model *m, const char *fn, const void *const *p, const char *what, int64_t count,
                         const char *const *names, const int64_t *kinds)
{
    if (!p) return ma_fail(m, RNNRT_ERR_ARG, "%s: the %ss are NULL", fn, what);
    for (int64_t i = 0; i < count; i++)
        if (!p[i] && !(kinds && kinds[i] == RNNRT_IN_LENGTHS))
            return ma_fail(m, RNNRT_ERR_ARG, "%s: %s '%s' is NULL", fn, what, names[i]);
    return RNNRT_OK;
}

/* Zeroes example b's part of the state a call reads ([cur]) when it
 * starts afresh (rnnrt_model_reset_example): each state's batch dim
 * (-1: the sizes' field 0) splits it into outer x B x inner. */
static void ma_zero_example(float **state, const rnnrt_kernel_desc *k, const int64_t *n, int64_t b)
{
    for (int64_t i = 0; i < k->ncarry; i++) {
        const int64_t *w = k->carry + RNNRT_SHAPE_WORDS * i;
        size_t outer = 1, inner = 1;
        int64_t p = 0;
        while (p < w[0] && w[1 + p] != -1) p++;
        if (p == w[0]) continue; /* no batch dim: nothing of b's */
        for (int64_t q = 0; q < w[0]; q++) {
            size_t v = (size_t)(w[1 + q] >= 0 ? w[1 + q] : n[-w[1 + q] - 1]);
            if (q < p) outer *= v;
            if (q > p) inner *= v;
        }
        for (size_t o = 0; o < outer; o++)
            memset(state[i] + (o * (size_t)n[0] + (size_t)b) * inner, 0, sizeof(float) * inner);
    }
}

/* Zeroes the state a call reads ([cur]) when it starts afresh: the reset
 * input multiplies it by 0, which would keep a NaN left from before. */
static void ma_zero_state(float **state, const rnnrt_kernel_desc *k, const int64_t *n)
{
    for (int64_t i = 0; i < k->ncarry; i++)
        memset(state[i], 0, sizeof(float) * ma_numel(k->carry + RNNRT_SHAPE_WORDS * i, n));
}

typedef struct ma_call_io {
    const void *const *in, *const *tg;
    void *const *out;
    float **state[2]; /* the kernel's carries, [cur] then the other */
    float *reset;
} ma_call_io;

/* The name of the sequence lengths input i counts (docs/language.md:
 * "more than the 5 steps of input 'x'"): the first input of its length. */
static const char *ma_counted(const rnnrt_model_desc *d, int64_t i)
{
    int64_t sym = d->input_shapes[RNNRT_SHAPE_WORDS * i + 1];
    for (int64_t j = 0; j < d->ninputs; j++)
        if (d->input_kinds[j] != RNNRT_IN_LENGTHS && ma_governed_by(d, d->input_shapes + RNNRT_SHAPE_WORDS * j) == i)
            return d->input_names[j];
    return d->size_names[-sym - 1];
}

/* Checks the caller's lengths of input i (NULL in a step: every example
 * has its step) and makes the mask of them: each length in [lo, T]; a
 * step's T is 1, and a length of 0 there is an example with no step now. */
static int ma_mask(rnnrt_model *m, const char *fn, int64_t i, const int64_t *len, int64_t T, int64_t B, int step,
                   int64_t lo)
{
    const rnnrt_model_desc *d = m->d;
    const char *name = d->input_names[i];
    /* a NULL pointer is the caller's slip, as every other NULL: ERR_ARG */
    if (!len && !step) return ma_fail(m, RNNRT_ERR_ARG, "%s: input '%s' is NULL: give one length an example", fn, name);
    for (int64_t b = 0; b < B; b++) {
        int64_t v = len ? len[b] : 1;
        if (step && (v < 0 || v > 1))
            return ma_fail(m, RNNRT_ERR_DATA,
                           "%s: input '%s': example %lld has %lld steps in one step; give 1, or 0 when it has none", fn,
                           name, (long long)b, (long long)v);
        if (v < lo)
            return ma_fail(m, RNNRT_ERR_DATA,
                           "%s: input '%s': example %lld has length %lld; a length must be at least %lld", fn, name,
                           (long long)b, (long long)v, (long long)lo);
        if (v > T)
            return ma_fail(m, RNNRT_ERR_DATA,
                           "%s: input '%s': example %lld has length %lld, more than the %lld steps of input '%s'", fn,
                           name, (long long)b, (long long)v, (long long)T, ma_counted(d, i));
        for (int64_t t = 0; t < T; t++) m->mask[i][t * B + b] = t < v ? 1.0f : 0.0f;
    }
    return RNNRT_OK;
}

/* The parts of an array of shape w (sizes n) around its batch dim: outer
 * x B x inner bytes. */
static void ma_split(const int64_t *w, const int64_t *n, size_t elsize, size_t *outer, size_t *inner)
{
    int64_t q = ma_batch_dim(w);
    *outer = 1;
    *inner = elsize;
    for (int64_t d = 0; d < w[0]; d++) {
        size_t v = (size_t)(w[1 + d] >= 0 ? w[1 + d] : n[-w[1 + d] - 1]);
        if (d < q) *outer *= v;
        if (d > q) *inner *= v;
    }
}

/* use[k] = p[k], or a copy of it in the run's order (ma_order), and for
 * a sequence a lengths input governs with the steps its mask has 0 for
 * zeroed: never read, they may hold anything (a NaN would survive the
 * masks' products, an id out of range would be an error). */
static void ma_use(rnnrt_model *m, const void **use, void *const *copy, const void *const *p, int64_t count,
                   const int64_t *kinds, const int64_t *shapes, const int64_t *n, int step)
{
    const rnnrt_model_desc *d = m->d;
    for (int64_t k = 0; k < count; k++) {
        use[k] = kinds[k] == RNNRT_IN_LENGTHS ? m->mask[k] : p[k];
        const int64_t *w = shapes + RNNRT_SHAPE_WORDS * k;
        int64_t li = ma_governed_by(d, w), B = n[0];
        if (!copy[k] || (li < 0 && !m->sorted)) continue;
        size_t outer, inner;
        ma_split(w, n, ma_elsize(kinds[k]), &outer, &inner);
        if (step) outer = 1; /* a step's sequences are [1, B, ...] */
        for (size_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < B; i++) {
                size_t r = o * (size_t)B + (size_t)i, from = o * (size_t)B + (size_t)(m->sorted ? m->order[i] : i);
                char *dst = (char *)copy[k] + r * inner;
                if (li >= 0 && m->mask[li][r] == 0)
                    memset(dst, 0, inner);
                else
                    memcpy(dst, (const char *)p[k] + from * inner, inner);
            }
        use[k] = copy[k];
    }
}

/* After a call in the run's order: each output with a batch dim back in
 * the caller's (its array of sizes n: the run's, whose arrays are a
 * prefix of the caller's, ma_run_steps). */
static void ma_unsort(rnnrt_model *m, void *const *out, const int64_t *n)
{
    const rnnrt_model_desc *d = m->d;
    for (int64_t k = 0; m->sorted && k < d->noutputs; k++) {
        if (!m->out_copy[k]) continue;
        size_t outer, inner;
        ma_split(d->output_shapes + RNNRT_SHAPE_WORDS * k, n, ma_elsize(d->output_kinds[k]), &outer, &inner);
        for (size_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < n[0]; i++)
                memcpy((char *)out[k] + (o * (size_t)n[0] + (size_t)m->order[i]) * inner,
                       (const char *)m->out_copy[k] + (o * (size_t)n[0] + (size_t)i) * inner, inner);
    }
}

/* The run's order of a call over whole sequences (docs/architecture.md,
 * "Lengths and the work of padding"): the examples by the lengths len of
 * the first lengths input, longest first, ties in the caller's order (a
 * merge sort: stable); m->sorted stays 0 when that is the caller's order.
 * Every lengths input's mask is then made again in that order. */
static void ma_order(rnnrt_model *m, const int64_t *len, const void *const *in, const int64_t *n)
{
    const rnnrt_model_desc *d = m->d;
    int64_t B = n[0], *a = m->order, *tmp = m->sorted_len;
    m->sorted = 0;
    for (int64_t b = 1; b < B; b++) m->sorted |= len[b - 1] < len[b];
    if (!m->sorted) return;
    for (int64_t b = 0; b < B; b++) a[b] = b;
    for (int64_t width = 1; width < B; width *= 2) {
        for (int64_t lo = 0; lo < B; lo += 2 * width) {
            int64_t mid = lo + width < B ? lo + width : B, hi = lo + 2 * width < B ? lo + 2 * width : B;
            int64_t i = lo, j = mid, o = lo;
            while (i < mid || j < hi) tmp[o++] = j >= hi || (i < mid && len[a[i]] >= len[a[j]]) ? a[i++] : a[j++];
        }
        int64_t *swap = a;
        a = tmp;
        tmp = swap;
    }
    if (a != m->order) memcpy(m->order, a, sizeof(int64_t) * (size_t)B);
    for (int64_t i = 0; i < d->ninputs; i++) {
        if (d->input_kinds[i] != RNNRT_IN_LENGTHS) continue;
        const int64_t *li = in[i];
        int64_t T = n[-d->input_shapes[RNNRT_SHAPE_WORDS * i + 1] - 1];
        for (int64_t t = 0; t < T; t++)
            for (int64_t b = 0; b < B; b++) m->mask[i][t * B + b] = t < li[m->order[b]] ? 1.0f : 0.0f;
    }
}

/* Whether size word sym (a length, -(field + 1)) is a dim other than the
 * first of one of count shapes. */
static int ma_sym_inside(const int64_t *shapes, int64_t count, int64_t sym)
{
    for (int64_t i = 0; i < count; i++)
        for (int64_t q = 2; q <= shapes[RNNRT_SHAPE_WORDS * i]; q++)
            if (shapes[RNNRT_SHAPE_WORDS * i + q] == sym) return 1;
    return 0;
}

/* The steps a call over whole sequences runs of the length lengths input
 * i governs: the longest of len[0..B) (at least 1: a segment of
 * truncated BPTT may be past every example's end), since every value at a
 * later step is 0 (an output), carried unchanged (a state) or weighted 0
 * (a loss); T when the length is another dim of an input, target or
 * output, whose rows would not be a prefix. */
static int64_t ma_run_steps(const rnnrt_model_desc *d, int64_t i, const int64_t *len, int64_t T, int64_t B)
{
    int64_t sym = d->input_shapes[RNNRT_SHAPE_WORDS * i + 1], most = 1;
    for (int64_t b = 0; b < B; b++)
        if (len[b] > most) most = len[b];
    if (ma_sym_inside(d->input_shapes, d->ninputs, sym) || ma_sym_inside(d->target_shapes, d->ntargets, sym) ||
        ma_sym_inside(d->output_shapes, d->noutputs, sym))
        return T;
    return most < T ? most : T;
}

/* After a call that ran fewer steps of a length than the caller's sizes
 * n say (run): the outputs of that length are 0 at the steps not run. */
static void ma_zero_unrun(const rnnrt_model_desc *d, void *const *out, const int64_t *n, const int64_t *run)
{
    for (int64_t k = 0; k < d->noutputs; k++) {
        const int64_t *w = d->output_shapes + RNNRT_SHAPE_WORDS * k;
        if (w[0] < 1 || w[1] >= -1 || run[-w[1] - 1] == n[-w[1] - 1]) continue; /* no length first: no steps */
        size_t all = ma_elsize(d->output_kinds[k]) * ma_numel(w, n);
        size_t done = all / (size_t)n[-w[1] - 1] * (size_t)run[-w[1] - 1];
        memset((char *)out[k] + done, 0, all - done);
    }
}

/* What the kernels of a call read for the caller's inputs (and targets):
 * the same arrays, or with lengths the masks made of them and copies of
 * the sequences they govern; and in m->run the sizes the call runs with:
 * n, but over whole sequences each length with lengths cut to the
 * longest example (ma_run_steps; time-major arrays, so the steps run are
 * a prefix of each).  lo: the least length of a call over whole sequences
 * (0 for a segment of truncated BPTT, past an example's end).  sort: the
 * call may run the examples in another order (ma_order; the outputs go
 * back to the caller's order with ma_unsort): not a step, nor a call
 * whose state carries over to the next (truncated BPTT) or that draws
 * dropout masks, which are drawn by position in the batch. */
static int ma_lengths(rnnrt_model *m, const char *fn, const int64_t *n, int step, int64_t lo, int sort, ma_call_io *io)
{
    const rnnrt_model_desc *d = m->d;
    int rc;
    const int64_t *first = NULL;
    memcpy(m->run, n, sizeof(int64_t) * (size_t)d->nsizes);
    if (!m->mask) return RNNRT_OK;
    for (int64_t i = 0; i < d->ninputs; i++) {
        if (d->input_kinds[i] != RNNRT_IN_LENGTHS) continue;
        int64_t f = -d->input_shapes[RNNRT_SHAPE_WORDS * i + 1] - 1, T = step ? 1 : n[f];
        if ((rc = ma_mask(m, fn, i, io->in[i], T, n[0], step, lo))) return rc;
        if (!step) m->run[f] = ma_run_steps(d, i, io->in[i], T, n[0]);
        if (!first) first = io->in[i];
    }
    m->sorted = 0;
    if (sort) ma_order(m, first, io->in, n);
    ma_use(m, m->in_use, m->in_copy, io->in, d->ninputs, d->input_kinds, d->input_shapes, m->run, step);
    io->in = m->in_use;
    if (io->tg) {
        ma_use(m, m->tg_use, m->tg_copy, io->tg, d->ntargets, d->target_kinds, d->target_shapes, m->run, step);
        io->tg = m->tg_use;
    }
    if (io->out && m->sorted) {
        for (int64_t k = 0; k < d->noutputs; k++) m->out_use[k] = m->out_copy[k] ? m->out_copy[k] : io->out[k];
        io->out = m->out_use;
    }
    return RNNRT_OK;
}

/* Whether kernel k draws dropout masks (a function of the position in
 * the batch: runtime/dropout.c). */
static int ma_reads_key(const rnnrt_kernel_desc *k)
{
    for (int64_t i = 0; i < k->nargs; i++)
        if (k->args[2 * i] == RNNRT_SLOT_DROPOUT_KEY) return 1;
    return 0;
}

static void *ma_slot(rnnrt_model *m, const int64_t *ki, int result, const ma_call_io *io)
{
    int64_t i = ki[1];
    switch (ki[0]) {
    case RNNRT_SLOT_INPUT: return (void *)io->in[i];
    case RNNRT_SLOT_TARGET: return (void *)io->tg[i];
    case RNNRT_SLOT_OUTPUT: return io->out[i];
    case RNNRT_SLOT_PARAM: return (void *)m->w[i];
    case RNNRT_SLOT_PARAM_NEXT: return m->own[1 - m->cur][i];
    case RNNRT_SLOT_CARRY: return io->state[result][i];
    case RNNRT_SLOT_OPT: return m->opt[m->cur][i];
    case RNNRT_SLOT_OPT_NEXT: return m->opt[1 - m->cur][i];
    case RNNRT_SLOT_RESET: return io->reset;
    case RNNRT_SLOT_STEP_NUMBER: return &m->step_number;
    case RNNRT_SLOT_DROPOUT_KEY: return m->dropout_key;
    case RNNRT_SLOT_LOSS: return &m->loss;
    case RNNRT_SLOT_GRAD_NORM: return &m->grad_norm;
    case RNNRT_SLOT_PACK: return m->packs[i];
    default: return NULL;
    }
}

/* Binds the slots of kernel k (number v: forward, step, train) and runs
 * it, after its prepare function when the packs it reads are not made
 * from the current weights yet; its only failure is bad data (a token id
 * out of range). */
static int ma_call(rnnrt_model *m, const char *fn, int v, const rnnrt_kernel_desc *k, const int64_t *n,
                   const ma_call_io *io)
{
    char kerr[256] = "";
    ma_kernel_sym(k, n, m->sym);
    if (k->prepare && !m->prepared[v]) {
        for (int64_t i = 0; i < k->nprep_args; i++) m->arg[i] = ma_slot(m, k->prep_args + 2 * i, 0, io);
        for (int64_t i = 0; i < k->nprep_results; i++) m->res[i] = ma_slot(m, k->prep_results + 2 * i, 1, io);
        if (k->prepare(m->sym, m->arg, m->res, m->arena, kerr, sizeof kerr))
            return ma_fail(m, RNNRT_ERR_DATA, "%s: %s", fn, kerr);
        m->prepared[v] = 1;
    }
    for (int64_t i = 0; i < k->nargs; i++) m->arg[i] = ma_slot(m, k->args + 2 * i, 0, io);
    for (int64_t i = 0; i < k->nresults; i++) m->res[i] = ma_slot(m, k->results + 2 * i, 1, io);
    if (k->fn(m->sym, m->arg, m->res, m->arena, kerr, sizeof kerr))
        return ma_fail(m, RNNRT_ERR_DATA, "%s: %s", fn, kerr);
    m->err[0] = '\0';
    return RNNRT_OK;
}

RNNRT_MODEL_API int rnnrt_model_forward(rnnrt_model *m, const int64_t *n, const void *const *in, void *const *out)
{
    char fn[200];
    int rc;
    if (!m) return RNNRT_ERR_ARG;
    const rnnrt_model_desc *d = m->d;
    snprintf(fn, sizeof fn, "%s_forward", d->prefix);
    if ((rc = ma_check(m, fn, n)) ||
        (rc = ma_check_ptrs(m, fn, in, "input", d->ninputs, d->input_names, d->input_kinds)) ||
        (rc = ma_check_ptrs(m, fn, (const void *const *)out, "output", d->noutputs, d->output_names, NULL)))
        return rc;
    ma_call_io io = {.in = in, .out = out};
    if ((rc = ma_lengths(m, fn, n, 0, 1, 1, &io)) || (rc = ma_call(m, fn, 0, &d->forward, m->run, &io))) return rc;
    ma_unsort(m, out, m->run);
    ma_zero_unrun(d, out, n, m->run);
    return RNNRT_OK;
}

RNNRT_MODEL_API int rnnrt_model_step(rnnrt_model *m, int64_t batch, const void *const *in, void *const *out)
{
    char fn[200];
    int rc;
    if (!m) return RNNRT_ERR_ARG;
    const rnnrt_model_desc *d = m->d;
    snprintf(fn, sizeof fn, "%s_step", d->prefix);
    if (!d->step.fn) return ma_fail(m, RNNRT_ERR_STATE, "%s: the model has no step", fn);
    memcpy(m->n, m->max, sizeof(int64_t) * (size_t)d->nsizes);
    m->n[0] = batch;
    if ((rc = ma_check(m, fn, m->n)) ||
        (rc = ma_check_ptrs(m, fn, in, "input", d->ninputs, d->input_names, d->input_kinds)) ||
        (rc = ma_check_ptrs(m, fn, (const void *const *)out, "output", d->noutputs, d->output_names, NULL)))
        return rc;
    ma_call_io io = {.in = in,
                     .out = out,
                     .state = {m->step_state[m->step_cur], m->step_state[1 - m->step_cur]},
                     .reset = m->step_reset};
    if ((rc = ma_lengths(m, fn, m->n, 1, 0, 0, &io))) return rc;
    /* The reset flags: all 1 afresh, else 1 for the examples
     * rnnrt_model_reset_example named (a kernel with one flag reads [0]). */
    int fresh = m->step_fresh || batch != m->step_batch;
    if (fresh) {
        ma_zero_state(m->step_state[m->step_cur], &d->step, m->n);
        m->step_batch = batch;
    }
    for (int64_t b = 0; b < m->max[0]; b++) {
        m->step_reset[b] = fresh || m->reset_wanted[b] ? 1.0f : 0.0f;
        if (!fresh && m->reset_wanted[b] && b < batch) ma_zero_example(m->step_state[m->step_cur], &d->step, m->n, b);
    }
    if ((rc = ma_call(m, fn, 1, &d->step, m->n, &io))) return rc;
    memset(m->reset_wanted, 0, (size_t)m->max[0]);
    m->step_cur ^= 1;
    m->step_fresh = 0;
    return RNNRT_OK;
}

RNNRT_MODEL_API int rnnrt_model_train_step(rnnrt_model *m, const int64_t *n, const void *const *in,
                                           const void *const *tg, float *loss)
{
    char fn[200];
    int rc;
    if (!m) return RNNRT_ERR_ARG;
    const rnnrt_model_desc *d = m->d;
    snprintf(fn, sizeof fn, "%s_train_step", d->prefix);
    if (!d->train.fn) return ma_fail(m, RNNRT_ERR_STATE, "%s: the model has no training step", fn);
    if ((rc = ma_check(m, fn, n)) ||
        (rc = ma_check_ptrs(m, fn, in, "input", d->ninputs, d->input_names, d->input_kinds)) ||
        (rc = ma_check_ptrs(m, fn, tg, "target", d->ntargets, d->target_names, NULL)))
        return rc;
    if (d->train.has_reset) { /* truncated BPTT: continue from the last call's state unless told otherwise */
        if (m->train_fresh || n[0] != m->train_batch) {
            ma_zero_state(m->train_state[m->train_cur], &d->train, n);
            m->train_reset = 1.0f;
            m->train_batch = n[0];
        } else {
            m->train_reset = 0.0f;
        }
    }
    m->step_number = (float)(m->steps_done + 1); /* Adam's bias correction counts from 1 */
    /* `rnnc train --seed S`'s key at this step: the same masks (passes/dropout.h) */
    m->dropout_key[0] = m->dropout_seed;
    m->dropout_key[1] = m->steps_done;
    ma_call_io io = {.in = in,
                     .tg = tg,
                     .state = {m->train_state[m->train_cur], m->train_state[1 - m->train_cur]},
                     .reset = &m->train_reset};
    /* a segment of truncated BPTT may be past an example's end */
    if ((rc =
             ma_lengths(m, fn, n, 0, d->train.has_reset ? 0 : 1, !d->train.has_reset && !ma_reads_key(&d->train), &io)))
        return rc;
    if ((rc = ma_call(m, fn, 2, &d->train, m->run, &io))) return rc;
    if (!isfinite(m->loss))
        return ma_fail(m, RNNRT_ERR_NAN, "%s: the loss is %s at step %lld: the weights stay as they were", fn,
                       isnan(m->loss) ? "NaN" : "infinite", (long long)m->steps_done + 1);
    /* The new weights and optimizer state were written to the other buffers. */
    m->cur ^= 1;
    for (int64_t i = 0; i < d->nparams; i++) m->w[i] = m->own[m->cur][i];
    ma_unprepare(m);
    if (d->train.has_reset) {
        m->train_cur ^= 1;
        m->train_fresh = 0;
    }
    m->steps_done++;
    if (loss) *loss = m->loss;
    return RNNRT_OK;
}
