/* dist_step.c - one step of data-parallel training (dist_step.h). */
#include "driver/dist_step.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver/accuracy.h"
#include "driver/carry.h"
#include "driver/dist.h"
#include "driver/dist_shard.h"
#include "driver/dropout_key.h"
#include "passes/autodiff.h"

/* The slots after the gradients (dist_step.h).  The accuracy's counts go
 * as two floats each, count / 4096 and count % 4096, so that their sums
 * are exact integers up to 2^36 positions a step, not 2^24. */
enum { S_WEIGHT, S_LOSS, S_RIGHT_HI, S_RIGHT_LO, S_POS_HI, S_POS_LO, S_STOP, S_ARRIVED, NSLOTS };
#define COUNT_SPLIT 4096

static int64_t type_numel(const IrType *t)
{
    int64_t n = 1;
    for (int k = 0; k < t->rank; k++) n *= t->dim[k];
    return n;
}

static int oom(char *err, size_t errlen)
{
    snprintf(err, errlen, "out of memory");
    return -1;
}

int dist_step_init(DistStep *ds, const Engine *e, const IrModule *m, const TrainConfig *cfg, const PipeOpts *po,
                   int64_t batch, int64_t micro, int deterministic, int history, char *err, size_t errlen)
{
    memset(ds, 0, sizeof *ds);
    ds->engine = e;
    ds->rank = dist_rank();
    ds->size = dist_size();
    ds->deterministic = deterministic;
    ds->batch = batch;
    if (batch % ds->size) {
        int64_t up = (batch / ds->size + 1) * ds->size;
        snprintf(err, errlen,
                 "batch = %lld cannot be shared equally by %d processes: every process computes the same number "
                 "of examples of each batch; give a batch that %d divides (--set batch=%lld) or run %s processes",
                 (long long)batch, ds->size, ds->size, (long long)up, "another number of");
        return -1;
    }
    int64_t share = batch / ds->size;
    ds->micro = micro ? micro : share;
    if (ds->micro > share || share % ds->micro) {
        snprintf(err, errlen,
                 "--micro-batch %lld does not divide the share of each of %d processes of batch = %lld (%lld "
                 "examples)",
                 (long long)ds->micro, ds->size, (long long)batch, (long long)share);
        return -1;
    }
    ds->local = share / ds->micro;
    ds->grad = ir_clone(m);
    if (pipeline_train_grad(ds->grad, po, err, errlen)) return -1;
    if (!(ds->update = pipeline_update(m, cfg, po, err, errlen))) return -1;
    if (history) {
        PipeOpts ph = *po;
        ph.history = 1;
        ds->hist = ir_clone(m);
        ds->adv = ir_clone(m);
        if (pipeline_train_grad(ds->hist, &ph, err, errlen) || pipeline_forward(ds->adv, 0, po, err, errlen)) return -1;
    }
    const char *ov = getenv("RNNC_DIST_OVERLAP");
    ds->overlap = !deterministic && ds->size > 1 && e->run_hooked && !(ov && !strcmp(ov, "0"));
    ds->off = malloc((size_t)(m->nparams + 1) * sizeof *ds->off);
    ds->started = calloc((size_t)(m->nparams + 1), 1);
    if (!ds->off || !ds->started) return oom(err, errlen);
    for (int i = 0; i < m->nparams; i++) {
        ds->off[i] = ds->ngrad;
        ds->ngrad += (size_t)type_numel(&m->params[i].value->type);
    }
    size_t row = ds->ngrad + NSLOTS, runs = (size_t)(batch / ds->micro);
    ds->buf = malloc((size_t)ds->local * row * sizeof *ds->buf);
    ds->all = deterministic ? malloc(runs * row * sizeof *ds->all) : NULL;
    ds->carry = calloc((size_t)ds->local, sizeof *ds->carry);
    if (!ds->buf || (deterministic && !ds->all) || !ds->carry) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int64_t k = 0; k < ds->local; k++) rt_map_init(&ds->carry[k]);
    return 0;
}

void dist_step_free(DistStep *ds)
{
    if (ds->carry)
        for (int64_t k = 0; k < ds->local; k++) rt_map_free(&ds->carry[k]);
    free(ds->carry);
    free(ds->buf);
    free(ds->all);
    free(ds->off);
    free(ds->started);
    if (ds->grad) ir_free(ds->grad);
    if (ds->update) ir_free(ds->update);
    if (ds->hist) ir_free(ds->hist);
    if (ds->adv) ir_free(ds->adv);
    memset(ds, 0, sizeof *ds);
}

/* What micro-batch `in`'s loss is a mean over: a tagger's real steps (the
 * sum of its lengths), else its examples (data_loss_weight's measure,
 * less the steps of the segment, which every micro-batch shares). */
static double loss_weight(const DistStep *ds, const TensorMap *in)
{
    const Tensor *len = ds->len_input ? rt_map_get(in, ds->len_input) : NULL;
    if (!len) return (double)ds->micro;
    double s = 0;
    for (int64_t i = 0; i < rt_numel(len); i++)
        s += len->dtype == RT_I64   ? (double)((const int64_t *)len->data)[i]
             : len->dtype == RT_I32 ? (double)((const int32_t *)len->data)[i]
                                    : (double)((const float *)len->data)[i];
    return s;
}

/* Gradient g of parameter i, times fw, into its slice of row (added to
 * it, add); an empty share (fw 0, no real step) writes zeros or adds
 * nothing. */
static int put_grad(const DistStep *ds, int i, const Tensor *g, float *row, float fw, int add, char *err, size_t errlen)
{
    size_t n = (size_t)type_numel(&ds->grad->params[i].value->type);
    if (!g || g->dtype != RT_F32 || (size_t)rt_numel(g) != n) {
        snprintf(err, errlen, "internal error: the gradient step computed no f32 '" AUTODIFF_GRAD_PREFIX "%s'",
                 ds->grad->params[i].name);
        return -1;
    }
    const float *gv = g->data;
    float *dst = row + ds->off[i];
    if (add && fw != 0)
        for (size_t e = 0; e < n; e++) dst[e] += fw * gv[e];
    else if (!add)
        for (size_t e = 0; e < n; e++) dst[e] = fw == 0 ? 0.0f : fw * gv[e];
    return 0;
}

/* The parameter whose gradient output is `name`, or -1. */
static int grad_of(const DistStep *ds, const char *name)
{
    size_t k = strlen(AUTODIFF_GRAD_PREFIX);
    if (strncmp(name, AUTODIFF_GRAD_PREFIX, k)) return -1;
    for (int i = 0; i < ds->grad->nparams; i++)
        if (!strcmp(name + k, ds->grad->params[i].name)) return i;
    return -1;
}

/* The overlap's hook (ir/run_hook.h) on the last micro-batch's run: each
 * gradient, as the backward pass finishes it, goes into its slice of the
 * row and that slice's sum starts at once; between ops the sums under way
 * are moved on. */
typedef struct Overlap {
    DistStep *ds;
    float *row;
    float fw;
    int add;
} Overlap;

static int overlap_final(void *ctx, const char *name, const Tensor *t, char *err, size_t errlen)
{
    Overlap *o = ctx;
    DistStep *ds = o->ds;
    int i = grad_of(ds, name);
    if (i < 0 || ds->started[i]) return 0;
    if (put_grad(ds, i, t, o->row, o->fw, o->add, err, errlen)) return -1;
    ds->started[i] = 1;
    ds->early += rt_numel(t);
    return dist_iallreduce_sum(o->row + ds->off[i], (size_t)rt_numel(t), err, errlen);
}

static void overlap_tick(void *ctx)
{
    char err[256];
    size_t done;
    (void)ctx;
    /* a failure here shows again in dist_wait_all, which reports it */
    (void)dist_progress(&done, err, sizeof err);
}

/* Runs micro-batch k (global number q) of this process and writes its
 * weighed gradients and slots into row (or adds them, add); hooked: the
 * overlap's run (Overlap). */
/* TBPTT(k1, k2): micro-batch k's state moved to the next window's start
 * by ds->adv over win->adv's rows lo.. (from the state at this window's
 * start, carry_in), or zeros when that window starts the sequence. */
static int advance(DistStep *ds, int64_t k, int64_t lo, const DistWindow *win, int carry_in, const TrainState *st,
                   char *err, size_t errlen)
{
    TensorMap in, out;
    rt_map_init(&in);
    rt_map_init(&out);
    int rc = -1;
    if (win->reset_next) {
        rt_map_free(&ds->carry[k]);
        rt_map_init(&ds->carry[k]);
        for (int i = 0; i < ds->adv->ninputs; i++) {
            const IrInput *c = &ds->adv->inputs[i];
            if (c->role == IR_ROLE_CARRY &&
                carry_put_zeros(&ds->carry[k], ds->adv, c->name, &c->value->type, ds->micro))
                goto carry_err;
        }
        rc = 0;
        goto done;
    }
    if (shard_map(ds->adv, win->adv, lo, lo + ds->micro, &in)) {
        oom(err, errlen);
        goto done;
    }
    if (carry_inputs(ds->adv, carry_in ? &ds->carry[k] : NULL, ds->micro, &in)) goto carry_err;
    if (ds->engine->run(ds->engine, ds->adv, &st->params, &in, &out, err, errlen)) goto done;
    if (carry_take(ds->adv, &out, &ds->carry[k])) goto carry_err;
    rc = 0;
    goto done;
carry_err:
    snprintf(err, errlen, "the carried state (see above)");
done:
    rt_map_free(&in);
    rt_map_free(&out);
    return rc;
}

static int run_micro(DistStep *ds, int64_t k, const TensorMap *data, int carry_in, int last, const DistWindow *win,
                     const TrainState *st, float *row, int add, int hooked, char *err, size_t errlen)
{
    const IrModule *gm = win && win->history ? ds->hist : ds->grad;
    int64_t q = (int64_t)ds->rank * ds->local + k, lo = q * ds->micro;
    TensorMap in, out;
    rt_map_init(&in);
    rt_map_init(&out);
    int rc = -1;
    /* each micro-batch draws dropout masks of its own; micro-batch 0 those
     * of one process's whole batch */
    int64_t key = q ? st->seed ^ (int64_t)((uint64_t)q * 0x9e3779b97f4a7c15ull) : st->seed;
    if (shard_map(gm, data, lo, lo + ds->micro, &in) || dropout_key_put(gm, &in, key, st->step)) {
        oom(err, errlen);
        goto done;
    }
    if (carry_inputs(gm, carry_in ? &ds->carry[k] : NULL, ds->micro, &in)) {
        snprintf(err, errlen, "the carried state (see above)");
        goto done;
    }
    /* what the loss is a mean over; a share whose examples have all ended
     * before this segment (truncated BPTT of examples with lengths) has no
     * real step: its loss is a mean over nothing (NaN) and it contributes
     * nothing, as in one process */
    double w = loss_weight(ds, &in);
    float fw = (float)w;
    Overlap ov = {ds, row, fw, add};
    RunHook hook = {overlap_final, overlap_tick, &ov};
    memset(ds->started, 0, (size_t)ds->grad->nparams);
    if (hooked ? ds->engine->run_hooked(ds->engine, gm, &st->params, &in, &out, &hook, err, errlen)
               : ds->engine->run(ds->engine, gm, &st->params, &in, &out, err, errlen))
        goto done;
    const Tensor *l = rt_map_get(&out, "loss");
    if (!l) {
        snprintf(err, errlen, "internal error: the gradient step computed no loss");
        goto done;
    }
    double loss = l->dtype == RT_F64 ? *(const double *)l->data : *(const float *)l->data;
    int64_t right = 0, npos = 0;
    const Tensor *lg = ds->acc_target ? rt_map_get(&out, PIPELINE_CE_LOGITS) : NULL;
    const Tensor *t = lg ? rt_map_get(&in, ds->acc_target) : NULL;
    if (t)
        acc_count_lengths(lg, t, ds->len_input && t->rank == 2 ? rt_map_get(&in, ds->len_input) : NULL, &right, &npos);
    if (w == 0) loss = 0;
    /* the gradients in the parameters' order, each times w: those whose
     * sums the hook has not started (their slices are MPI's until then) */
    for (int i = 0; i < ds->grad->nparams; i++) {
        char name[512];
        snprintf(name, sizeof name, AUTODIFF_GRAD_PREFIX "%s", ds->grad->params[i].name);
        if (!ds->started[i] && put_grad(ds, i, rt_map_get(&out, name), row, fw, add, err, errlen)) goto done;
    }
    float slots[NSLOTS] = {fw,
                           fw * (float)loss,
                           (float)(right / COUNT_SPLIT),
                           (float)(right % COUNT_SPLIT),
                           (float)(npos / COUNT_SPLIT),
                           (float)(npos % COUNT_SPLIT),
                           0,
                           0};
    for (int s = 0; s < NSLOTS; s++) row[ds->ngrad + s] = add ? row[ds->ngrad + s] + slots[s] : slots[s];
    if (last) {
        rt_map_free(&ds->carry[k]);
        rt_map_init(&ds->carry[k]);
    } else if (win && win->adv) {
        if (advance(ds, k, lo, win, carry_in, st, err, errlen)) goto done;
    } else if (carry_take(gm, &out, &ds->carry[k])) {
        snprintf(err, errlen, "the carried state (see above)");
        goto done;
    }
    rc = 0;
done:
    rt_map_free(&in);
    rt_map_free(&out);
    return rc;
}

/* Moves output `name` of out into dst under `as`. */
static int take(TensorMap *out, const char *name, TensorMap *dst, const char *as, char *err, size_t errlen)
{
    Tensor *t = rt_map_get(out, name);
    if (!t) {
        snprintf(err, errlen, "internal error: the update computed no '%s'", name);
        return -1;
    }
    Tensor moved = *t;
    memset(t, 0, sizeof *t);
    if (rt_map_put(dst, as, &moved)) {
        rt_tensor_free(&moved);
        return oom(err, errlen);
    }
    return 0;
}

/* The update half on the summed buffer sum (its weight in slot S_WEIGHT):
 * st's parameters and optimizer state replaced, *gnorm its grad_norm. */
static int update(DistStep *ds, const float *sum, TrainState *st, double *gnorm, char *err, size_t errlen)
{
    const IrModule *u = ds->update;
    TensorMap in, out;
    rt_map_init(&in);
    rt_map_init(&out);
    int rc = -1;
    float wsum = sum[ds->ngrad + S_WEIGHT];
    size_t at = 0;
    for (int i = 0; i < u->nparams; i++) {
        const IrType *ty = &u->params[i].value->type;
        int64_t shape[IR_MAX_RANK];
        for (int k = 0; k < ty->rank; k++) shape[k] = ty->dim[k];
        char name[512];
        snprintf(name, sizeof name, AUTODIFF_GRAD_PREFIX "%s", u->params[i].name);
        Tensor g;
        if (rt_tensor_alloc(&g, RT_F32, ty->rank, shape)) goto fail_oom;
        float *gv = g.data;
        for (int64_t e = 0; e < rt_numel(&g); e++) gv[e] = sum[at + (size_t)e] / wsum;
        at += (size_t)rt_numel(&g);
        if (rt_map_put(&in, name, &g)) {
            rt_tensor_free(&g);
            goto fail_oom;
        }
    }
    for (int i = 0; i < u->ninputs; i++) {
        const IrInput *x = &u->inputs[i];
        Tensor t;
        if (x->role == IR_ROLE_OPT_STATE) {
            const Tensor *s = rt_map_get(&st->opt, x->name);
            if (!s) {
                snprintf(err, errlen, "internal error: no optimizer state '%s'", x->name);
                goto done;
            }
            if (tensor_copy(&t, s)) goto fail_oom;
        } else if (x->role == IR_ROLE_OPT_STEP) {
            if (rt_tensor_alloc(&t, RT_F32, 0, NULL)) goto fail_oom;
            *(float *)t.data = (float)(st->step + 1);
        } else {
            continue;
        }
        if (rt_map_put(&in, x->name, &t)) {
            rt_tensor_free(&t);
            goto fail_oom;
        }
    }
    if (ds->engine->run(ds->engine, u, &st->params, &in, &out, err, errlen)) goto done;
    *gnorm = NAN;
    for (int i = 0; i < u->noutputs; i++) {
        const IrOutput *o = &u->outputs[i];
        if (o->role == IR_ROLE_GRAD_NORM) {
            const Tensor *g = rt_map_get(&out, o->name);
            if (g) *gnorm = *(const float *)g->data;
        }
        if (o->role == IR_ROLE_NEW_PARAM && take(&out, o->name, &st->params, o->of, err, errlen)) goto done;
        if (o->role == IR_ROLE_NEW_OPT_STATE && take(&out, o->name, &st->opt, o->of, err, errlen)) goto done;
    }
    rc = 0;
    goto done;
fail_oom:
    oom(err, errlen);
done:
    rt_map_free(&in);
    rt_map_free(&out);
    return rc;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int step_run(DistStep *ds, const TensorMap *data, int carry_in, int last, const DistWindow *win, TrainState *st,
                    int stop, DistResult *r, char *err, size_t errlen);

int dist_step_run(DistStep *ds, const TensorMap *data, int carry_in, int last, const DistWindow *win, TrainState *st,
                  int stop, DistResult *r, char *err, size_t errlen)
{
    /* not the first step of a run, which compiles the modules */
    double t0 = now(), sum0 = ds->t_sum;
    int64_t hidden0 = ds->hidden, early0 = ds->early, late0 = ds->late;
    int rc = step_run(ds, data, carry_in, last, win, st, stop, r, err, errlen);
    if (ds->first_done) {
        ds->t_step += now() - t0;
        ds->nsteps++;
    } else {
        ds->t_sum = sum0;
        ds->hidden = hidden0;
        ds->early = early0;
        ds->late = late0;
    }
    ds->first_done = 1;
    return rc;
}

static int step_run(DistStep *ds, const TensorMap *data, int carry_in, int last, const DistWindow *win, TrainState *st,
                    int stop, DistResult *r, char *err, size_t errlen)
{
    size_t row = ds->ngrad + NSLOTS;
    for (int64_t k = 0; k < ds->local; k++) {
        /* deterministic: a row a micro-batch, summed below in q's order;
         * else one row, this process's sum, summed by MPI */
        float *dst = ds->deterministic ? ds->buf + (size_t)k * row : ds->buf;
        int hooked = ds->overlap && k == ds->local - 1;
        if (run_micro(ds, k, data, carry_in, last, win, st, dst, !ds->deterministic && k > 0, hooked, err, errlen))
            return -1;
        dst[ds->ngrad + S_STOP] = (float)!!stop;
    }
    float *sum = ds->buf;
    double t0 = now();
    if (ds->overlap) {
        /* whether the sums started in the run have all arrived: their
         * communication was hidden behind the backward pass */
        size_t done = 0;
        if (dist_progress(&done, err, errlen)) return -1;
        ds->buf[ds->ngrad + S_ARRIVED] = (float)done;
        /* the gradients the runs did not hand over early, in order, and the
         * slots; then the wait for every sum, this step's exposed part */
        for (int i = 0; i < ds->grad->nparams; i++) {
            size_t n = (size_t)type_numel(&ds->grad->params[i].value->type);
            if (ds->started[i]) continue;
            ds->late += (int64_t)n;
            if (dist_iallreduce_sum(ds->buf + ds->off[i], n, err, errlen)) return -1;
        }
        if (dist_iallreduce_sum(ds->buf + ds->ngrad, NSLOTS, err, errlen) || dist_wait_all(err, errlen)) return -1;
    } else if (ds->deterministic) {
        if (dist_allgather(ds->buf, (size_t)ds->local * row, ds->all, err, errlen)) return -1;
        int64_t runs = ds->batch / ds->micro;
        sum = ds->all;
        for (int64_t q = 1; q < runs; q++) {
            const float *x = ds->all + (size_t)q * row;
            for (size_t i = 0; i < row; i++) sum[i] += x[i];
        }
    } else if (dist_allreduce_sum(ds->buf, row, err, errlen)) {
        return -1;
    }
    ds->t_sum += now() - t0;
    const float *s = sum + ds->ngrad;
    r->loss = (double)s[S_LOSS] / (double)s[S_WEIGHT];
    r->right = (int64_t)s[S_RIGHT_HI] * COUNT_SPLIT + (int64_t)s[S_RIGHT_LO];
    r->positions = (int64_t)s[S_POS_HI] * COUNT_SPLIT + (int64_t)s[S_POS_LO];
    r->stop = s[S_STOP] > 0;
    ds->hidden += (int64_t)(s[S_ARRIVED] / (float)ds->size); /* the processes' mean */
    r->grad_norm = NAN;
    if (!isfinite(r->loss)) return 2;
    return update(ds, sum, st, &r->grad_norm, err, errlen) ? -1 : 0;
}

/* ---- the carried state of the whole batch ------------------------------------ */

int dist_step_gather_carry(DistStep *ds, TensorMap *full, char *err, size_t errlen)
{
    rt_map_free(full);
    rt_map_init(full);
    if (!ds->carry[0].count) return 0; /* at a sequence's start: none */
    for (int c = 0; c < ds->carry[0].count; c++) {
        const char *name = ds->carry[0].names[c];
        const Tensor *t0 = &ds->carry[0].tensors[c];
        int axis = shard_axis(ds->grad, name);
        if (t0->dtype != RT_F32 || axis < 0) {
            snprintf(err, errlen, "internal error: carried state '%s' is not f32 with a batch axis", name);
            return -1;
        }
        size_t n = (size_t)rt_numel(t0);
        float *mine = malloc((size_t)ds->local * n * sizeof *mine),
              *every = malloc((size_t)(ds->batch / ds->micro) * n * sizeof *every);
        Tensor whole;
        int64_t shape[RT_MAX_RANK];
        memcpy(shape, t0->shape, sizeof shape);
        shape[axis] = ds->batch;
        if (!mine || !every || rt_tensor_alloc(&whole, RT_F32, t0->rank, shape)) {
            free(mine);
            free(every);
            return oom(err, errlen);
        }
        for (int64_t k = 0; k < ds->local; k++)
            memcpy(mine + (size_t)k * n, rt_map_get(&ds->carry[k], name)->data, n * sizeof *mine);
        int rc = dist_allgather(mine, (size_t)ds->local * n, every, err, errlen);
        for (int64_t q = 0; !rc && q < ds->batch / ds->micro; q++) {
            Tensor part = *t0;
            part.data = every + (size_t)q * n;
            shard_place(&whole, &part, axis, q * ds->micro);
        }
        free(mine);
        free(every);
        if (rc || rt_map_put(full, name, &whole)) {
            rt_tensor_free(&whole);
            return rc ? -1 : oom(err, errlen);
        }
    }
    return 0;
}

int dist_step_scatter_carry(DistStep *ds, const TensorMap *full, char *err, size_t errlen)
{
    for (int64_t k = 0; k < ds->local; k++) {
        int64_t lo = ((int64_t)ds->rank * ds->local + k) * ds->micro;
        rt_map_free(&ds->carry[k]);
        rt_map_init(&ds->carry[k]);
        if (shard_map(ds->grad, full, lo, lo + ds->micro, &ds->carry[k])) return oom(err, errlen);
    }
    return 0;
}

/* ---- the same weights everywhere --------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

uint64_t dist_hash_map(const TensorMap *m)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < m->count; i++) {
        const Tensor *t = &m->tensors[i];
        h = fnv(h, m->names[i], strlen(m->names[i]) + 1);
        h = fnv(h, t->data, (size_t)rt_numel(t) * rt_dtype_size(t->dtype));
    }
    return h;
}

int dist_same(uint64_t h, const char *what, char *err, size_t errlen)
{
    /* the largest of each half of h and of ~h: all equal to this process's
     * when every process has h, and some larger on each process when not
     * (some other's half is larger, or its complement is) */
    int64_t mine[4] = {(int64_t)(h >> 32), (int64_t)(h & 0xffffffffu), (int64_t)(~h >> 32),
                       (int64_t)(~h & 0xffffffffu)};
    int64_t v[4];
    memcpy(v, mine, sizeof v);
    if (dist_allmax(v, 4, err, errlen)) return -1;
    if (!memcmp(v, mine, sizeof v)) return 0;
    snprintf(err, errlen, "%s differ between the processes (rank %d has hash %016llx, not every rank's)", what,
             dist_rank(), (unsigned long long)h);
    return -1;
}
