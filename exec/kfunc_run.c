/* kfunc_run.c - bind tensors, size the arena, call a compiled kernel
 * function (kfunc_run.h).  Moved here from cengine.c so that the C engine
 * and the JIT share it. */
#include "exec/kfunc_run.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "ir/bind.h"
#include "runtime/sizes.h"

/* The tensor bound to argument buffer i: the module lists inputs, targets
 * then parameters, as KFunc.args does. */
static const Tensor *arg_tensor(const KFuncRunner *e, int i, const TensorMap *params, const TensorMap *inputs,
                                const char **name)
{
    const IrModule *m = e->m;
    if (i < m->ninputs) {
        *name = m->inputs[i].name;
        return rt_map_get(inputs, *name);
    }
    i -= m->ninputs;
    if (i < m->ntargets) {
        *name = m->targets[i].name;
        return rt_map_get(inputs, *name);
    }
    i -= m->ntargets;
    *name = i < m->nparams ? m->params[i].name : "?";
    return i < m->nparams ? rt_map_get(params, *name) : NULL;
}

/* A pointer the function may read for argument b: the tensor's own data,
 * or a converted copy in *copy (freed by the caller). */
static const void *arg_data(const KBuf *b, const Tensor *t, void **copy)
{
    int64_t n = rt_numel(t);
    *copy = NULL;
    if (b->dtype == IR_F32 && t->dtype == RT_F32) return t->data;
    if (b->dtype == IR_I64 && t->dtype == RT_I64) return t->data;
    if (b->dtype == IR_F32 && t->dtype == RT_F64) {
        float *d = malloc((size_t)(n > 0 ? n : 1) * sizeof *d);
        if (d)
            for (int64_t k = 0; k < n; k++) d[k] = (float)((const double *)t->data)[k];
        *copy = d;
        return d;
    }
    if (b->dtype == IR_I64 && t->dtype == RT_I32) {
        int64_t *d = malloc((size_t)(n > 0 ? n : 1) * sizeof *d);
        if (d)
            for (int64_t k = 0; k < n; k++) d[k] = ((const int32_t *)t->data)[k];
        *copy = d;
        return d;
    }
    return NULL;
}

/* The value of size expression x at the sizes sym, evaluated by the
 * runtime's saturating evaluator (RT_SIZE_HUGE if it exceeds int64), the
 * one NAME_create of a compiled C file uses; -1 on an internal error. */
static int64_t size_at(const KExpr *x, const int64_t *sym)
{
    int n = x ? kexpr_to_words(x, NULL, 0) : -1;
    int64_t *w = n > 0 ? malloc(sizeof *w * (size_t)n) : NULL;
    int64_t v = w && kexpr_to_words(x, w, n) == n ? rt_size_eval(w, sym) : -1;
    free(w);
    return v;
}

/* Whether the arena and the results fit this machine at the sizes sym:
 * checked before anything is allocated, so that a batch or a length too
 * large is an error naming the sizes, not an out-of-memory kill; the
 * arena's bytes in *arena. */
static int check_memory(const KFuncRunner *e, const int64_t *sym, int64_t *arena, char *err, size_t errlen)
{
    const IrModule *m = e->m;
    const KFunc *kf = e->kf;
    int64_t total = *arena = size_at(kf->arena_bytes, sym);
    for (int r = 0; r < kf->nresults && total >= 0; r++) {
        int64_t n = size_at(kf->results[r]->size, sym);
        int64_t bytes = n < 0                  ? -1
                        : n > RT_SIZE_HUGE / 8 ? RT_SIZE_HUGE
                                               : n * (kf->results[r]->dtype == IR_I64 ? 8 : 4);
        total = bytes < 0 ? -1 : bytes > RT_SIZE_HUGE - total ? RT_SIZE_HUGE : total + bytes;
    }
    if (total < 0) return ir_errf(err, errlen, "--engine=%s: internal error: a size does not evaluate", e->engine);
    return ir_check_memory(m, sym, total, err, errlen);
}

/* Allocates result r's tensor with the shape its module value has. */
static int alloc_result(const KFuncRunner *e, int r, const int64_t *sym, Tensor *t, const char **name, char *err,
                        size_t errlen)
{
    const IrModule *m = e->m;
    const IrValue *v = r < m->noutputs ? m->outputs[r].value : m->loss;
    *name = r < m->noutputs ? m->outputs[r].name : "loss";
    if (!v)
        return ir_errf(err, errlen, "--engine=%s: internal error: result %d of %d has no value", e->engine, r,
                       e->kf->nresults);
    int64_t shape[IR_MAX_RANK];
    for (int d = 0; d < v->type.rank; d++) {
        int64_t x = v->type.dim[d];
        if (x < 0) {
            int s = -(int)x - 1;
            x = s < m->nsyms ? sym[s] : -1;
            if (x < 0)
                return ir_errf(err, errlen, "output '%s': size %s is not known: no given input has it", *name,
                               s < m->nsyms ? m->syms[s].name : "?");
        }
        shape[d] = x;
    }
    const KBuf *b = e->kf->results[r];
    if (rt_tensor_alloc(t, b->dtype == IR_I64 ? RT_I64 : RT_F32, v->type.rank, shape))
        return ir_errf(err, errlen, "out of memory for output '%s'", *name);
    int64_t have = rt_numel(t), want = kexpr_eval(b->size, sym, NULL);
    if (have != want) {
        rt_tensor_free(t);
        return ir_errf(err, errlen, "--engine=%s: internal error: output '%s' has %lld elements, its buffer %lld",
                       e->engine, *name, (long long)have, (long long)want);
    }
    return 0;
}

/* Every call allocates its result tensors (the output sequence, the
 * gradients, the new parameters: megabytes) and the caller frees them.
 * With glibc's defaults blocks that large are fresh mmaps, and freeing one
 * gives the pages back, so each call page-faults its results in again:
 * at H = 256, B = 1 that was over half of a training step's time.  So the
 * first call tells glibc to serve blocks up to 32 MiB (the most it allows)
 * from the heap and to keep up to 256 MiB of freed memory: the next call
 * reuses the same pages.  Left alone when the caller set either threshold
 * itself (the MALLOC_*_THRESHOLD_ variables). */
static void keep_freed_blocks(void)
{
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
    if (getenv("MALLOC_MMAP_THRESHOLD_") || getenv("MALLOC_TRIM_THRESHOLD_")) return;
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

static pthread_once_t keep_once = PTHREAD_ONCE_INIT;

static int grow_arena(KFuncRunner *e, size_t need, char *err, size_t errlen)
{
    need = (need + 63) / 64 * 64;
    if (need == 0) need = 64;
    if (need <= e->arena_cap) return 0;
    free(e->arena);
    e->arena = NULL;
    e->arena_cap = 0;
    void *p = NULL;
    if (posix_memalign(&p, 64, need)) return ir_errf(err, errlen, "out of memory for the %zu-byte arena", need);
    e->arena = p;
    e->arena_cap = need;
    return 0;
}

void kfunc_runner_keep_packs(KFuncRunner *r, const TensorMap *params)
{
    r->keep = params;
    r->packs_ready = 0;
}

/* The packs of the prepared arguments for this run's params: made by the
 * prepare function, unless they were made from the map the caller keeps
 * and this is that map. */
static int prepare(KFuncRunner *e, const TensorMap *params, const int64_t *sym, char *err, size_t errlen)
{
    const KFunc *p = e->prep;
    if (e->keep && params == e->keep && e->packs_ready) return 0;
    e->packs_ready = 0;
    if (!e->packs && !(e->packs = calloc((size_t)p->nresults + 1, sizeof *e->packs)))
        return ir_errf(err, errlen, "out of memory");
    for (int i = 0; i < p->nresults; i++) {
        size_t bytes = (size_t)kexpr_eval(p->results[i]->size, sym, NULL) * sizeof(float);
        if (!e->packs[i] && posix_memalign(&e->packs[i], 64, bytes ? bytes : 64))
            return ir_errf(err, errlen, "out of memory for the packed weights");
    }
    const void **args = calloc((size_t)p->nargs + 1, sizeof *args);
    void **copies = calloc((size_t)p->nargs + 1, sizeof *copies);
    int rc = -1;
    char msg[512] = "";
    if (!args || !copies) {
        ir_errf(err, errlen, "out of memory");
        goto done;
    }
    for (int i = 0; i < p->nargs; i++) {
        const Tensor *t = rt_map_get(params, p->args[i]->ext_name);
        if (!t || !(args[i] = arg_data(p->args[i], t, &copies[i]))) {
            ir_errf(err, errlen, "--engine=%s: internal error: no weights '%s' to pack", e->engine,
                    p->args[i]->ext_name);
            goto done;
        }
    }
    if (e->prep_fn(sym, args, e->packs, e->arena, msg, sizeof msg)) {
        ir_errf(err, errlen, "%s", msg[0] ? msg : "the compiled model's prepare function failed");
        goto done;
    }
    e->packs_ready = e->keep && params == e->keep;
    rc = 0;
done:
    for (int i = 0; copies && i < p->nargs; i++) free(copies[i]);
    free(args);
    free(copies);
    return rc;
}

int kfunc_run(KFuncRunner *e, const TensorMap *params, const TensorMap *inputs, TensorMap *outputs, char *err,
              size_t errlen)
{
    const IrModule *m = e->m;
    const KFunc *kf = e->kf;
    int rc = -1;
    pthread_once(&keep_once, keep_freed_blocks);
    int64_t *sym = calloc((size_t)m->nsyms + 1, sizeof *sym);
    const void **args = calloc((size_t)kf->nargs + 1, sizeof *args);
    void **copies = calloc((size_t)kf->nargs + 1, sizeof *copies);
    void **res = calloc((size_t)kf->nresults + 1, sizeof *res);
    Tensor *outs = calloc((size_t)kf->nresults + 1, sizeof *outs);
    const char **onames = calloc((size_t)kf->nresults + 1, sizeof *onames);
    if (!sym || !args || !copies || !res || !outs || !onames) {
        ir_errf(err, errlen, "out of memory");
        goto done;
    }
    if (ir_bind_params(m, params, "parameters", err, errlen) ||
        ir_bind_inputs(m, inputs, sym, m->loss != NULL, err, errlen))
        goto done;
    /* A symbol no given tensor fixes sizes nothing that is computed (a
     * result needing it is reported by alloc_result); 1 keeps every size
     * expression of the function valid. */
    for (int k = 0; k < m->nsyms; k++)
        if (sym[k] < 0) sym[k] = 1;

    if (e->prep && prepare(e, params, sym, err, errlen)) goto done;
    for (int i = 0; i < kf->nargs; i++) {
        const char *name;
        const KBuf *b = kf->args[i];
        if (b->prepared) { /* after the module's arguments, in the prepare function's order */
            args[b->index] = e->packs[b->index - (m->ninputs + m->ntargets + m->nparams)];
            continue;
        }
        const Tensor *t = arg_tensor(e, b->index, params, inputs, &name);
        if (!t) {
            ir_errf(err, errlen, "--engine=%s: internal error: no tensor for argument '%s'", e->engine, name);
            goto done;
        }
        if (rt_numel(t) != kexpr_eval(b->size, sym, NULL)) {
            ir_errf(err, errlen, "--engine=%s: internal error: '%s' has %lld elements, its buffer %lld", e->engine,
                    name, (long long)rt_numel(t), (long long)kexpr_eval(b->size, sym, NULL));
            goto done;
        }
        args[b->index] = arg_data(b, t, &copies[i]);
        if (!args[b->index]) {
            ir_errf(err, errlen, "'%s': cannot convert %s for the compiled model", name, rt_dtype_name(t->dtype));
            goto done;
        }
    }
    if (!kf->arena_bytes) {
        ir_errf(err, errlen, "--engine=%s: internal error: the function has no memory plan", e->engine);
        goto done;
    }
    int64_t arena;
    if (check_memory(e, sym, &arena, err, errlen)) goto done;
    for (int r = 0; r < kf->nresults; r++) {
        if (alloc_result(e, r, sym, &outs[r], &onames[r], err, errlen)) goto done;
        res[r] = outs[r].data;
    }
    if (grow_arena(e, (size_t)arena, err, errlen)) goto done;
    char msg[512] = "";
    if (e->fn(sym, args, res, e->arena, msg, sizeof msg)) {
        ir_errf(err, errlen, "%s", msg[0] ? msg : "the compiled model failed");
        goto done;
    }
    for (int r = 0; r < kf->nresults; r++)
        if (rt_map_put(outputs, onames[r], &outs[r])) {
            ir_errf(err, errlen, "out of memory for output '%s'", onames[r]);
            goto done;
        }
    rc = 0;
done:
    for (int i = 0; copies && i < kf->nargs; i++) free(copies[i]);
    for (int r = 0; outs && r < kf->nresults; r++) rt_tensor_free(&outs[r]);
    free(sym);
    free(args);
    free(copies);
    free(res);
    free(outs);
    free(onames);
    return rc;
}

void kfunc_runner_release(KFuncRunner *r)
{
    for (int i = 0; r->packs && r->prep && i < r->prep->nresults; i++) free(r->packs[i]);
    free(r->packs);
    r->packs = NULL;
    free(r->arena);
    r->arena = NULL;
    r->arena_cap = 0;
}
