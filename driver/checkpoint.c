/* checkpoint.c - writing and reading training checkpoints (checkpoint.h):
 * the weights, optimizer state, carried state, counters, RNG state and
 * vocabulary in one safetensors file.  Self-contained so that the unit
 * tests can compile it on its own. */
#include "driver/checkpoint.h"

#include <stdio.h>
#include <string.h>

#include "ir/bind.h"
#include "ir/ir.h"

void ckpt_init(TrainState *s)
{
    memset(s, 0, sizeof *s);
    rt_map_init(&s->params);
    rt_map_init(&s->opt);
    rt_map_init(&s->carry);
}

void ckpt_free(TrainState *s)
{
    rt_map_free(&s->params);
    rt_map_free(&s->opt);
    rt_map_free(&s->carry);
    memset(s, 0, sizeof *s);
}

int tensor_copy(Tensor *dst, const Tensor *src)
{
    if (rt_tensor_alloc(dst, src->dtype, src->rank, src->shape)) return -1;
    memcpy(dst->data, src->data, (size_t)rt_numel(src) * rt_dtype_size(src->dtype));
    return 0;
}

static int put_copy(TensorMap *m, const char *name, const Tensor *t)
{
    Tensor c;
    if (tensor_copy(&c, t)) return -1;
    if (rt_map_put(m, name, &c)) {
        rt_tensor_free(&c);
        return -1;
    }
    return 0;
}

static int put_i64(TensorMap *m, const char *name, const int64_t *v, int64_t n)
{
    Tensor t;
    if (rt_tensor_alloc(&t, RT_I64, 1, &n)) return -1;
    memcpy(t.data, v, (size_t)n * sizeof *v);
    if (rt_map_put(m, name, &t)) {
        rt_tensor_free(&t);
        return -1;
    }
    return 0;
}

static int put_f64(TensorMap *m, const char *name, double v)
{
    Tensor t;
    int64_t one = 1;
    if (rt_tensor_alloc(&t, RT_F64, 1, &one)) return -1;
    ((double *)t.data)[0] = v;
    if (rt_map_put(m, name, &t)) {
        rt_tensor_free(&t);
        return -1;
    }
    return 0;
}

static int put_all(TensorMap *dst, const TensorMap *src)
{
    for (int i = 0; i < src->count; i++)
        if (put_copy(dst, src->names[i], &src->tensors[i])) return -1;
    return 0;
}

int ckpt_write(const char *path, const TrainState *s, char *err, size_t errlen)
{
    TensorMap m;
    rt_map_init(&m);
    int64_t rng[RT_RNG_STATE_WORDS];
    /* safetensors has no U64: the words are stored bit for bit as I64. */
    memcpy(rng, s->rng, sizeof rng);
    int bad = put_all(&m, &s->params) || put_all(&m, &s->opt) || put_all(&m, &s->carry) ||
              put_i64(&m, "train:step", &s->step, 1) || put_i64(&m, "train:epoch", &s->epoch, 1) ||
              put_i64(&m, "train:batch", &s->batch, 1) || put_i64(&m, "train:segment", &s->segment, 1) ||
              put_i64(&m, "train:rng", rng, RT_RNG_STATE_WORDS) || put_i64(&m, "train:seed", &s->seed, 1) ||
              put_f64(&m, "train:epoch_loss", s->epoch_loss) || put_i64(&m, "train:epoch_steps", &s->epoch_steps, 1) ||
              put_i64(&m, "train:epoch_right", &s->epoch_right, 1) ||
              put_i64(&m, "train:epoch_positions", &s->epoch_positions, 1);
    if (!bad && s->nvocab > 0) {
        Tensor v;
        int64_t n = s->nvocab;
        bad = rt_tensor_alloc(&v, RT_I32, 1, &n);
        for (int i = 0; !bad && i < s->nvocab; i++) ((int32_t *)v.data)[i] = s->vocab[i];
        if (!bad && rt_map_put(&m, CKPT_VOCAB, &v)) {
            rt_tensor_free(&v);
            bad = 1;
        }
    }
    int rc = bad ? ir_errf(err, errlen, "%s: out of memory", path) : rt_st_write(path, &m, err, errlen);
    rt_map_free(&m);
    return rc;
}

/* A one-element I64 counter; -1 if it is malformed. */
static int get_counter(const char *path, const Tensor *t, const char *name, int64_t *out, char *err, size_t errlen)
{
    if (t->dtype != RT_I64 || rt_numel(t) != 1 || ((const int64_t *)t->data)[0] < 0)
        return ir_errf(err, errlen, "%s: '%s' must be one non-negative I64", path, name);
    *out = ((const int64_t *)t->data)[0];
    return 0;
}

static int read_meta(const char *path, const char *name, const Tensor *t, TrainState *s, char *err, size_t errlen)
{
    if (!strcmp(name, "train:step")) return get_counter(path, t, name, &s->step, err, errlen);
    if (!strcmp(name, "train:epoch")) return get_counter(path, t, name, &s->epoch, err, errlen);
    if (!strcmp(name, "train:batch")) return get_counter(path, t, name, &s->batch, err, errlen);
    if (!strcmp(name, "train:segment")) return get_counter(path, t, name, &s->segment, err, errlen);
    if (!strcmp(name, "train:epoch_steps")) return get_counter(path, t, name, &s->epoch_steps, err, errlen);
    if (!strcmp(name, "train:epoch_right")) return get_counter(path, t, name, &s->epoch_right, err, errlen);
    if (!strcmp(name, "train:epoch_positions")) return get_counter(path, t, name, &s->epoch_positions, err, errlen);
    if (!strcmp(name, "train:epoch_loss")) {
        if (t->dtype != RT_F64 || rt_numel(t) != 1)
            return ir_errf(err, errlen, "%s: 'train:epoch_loss' must be one F64", path);
        s->epoch_loss = ((const double *)t->data)[0];
        return 0;
    }
    if (!strcmp(name, "train:seed")) {
        s->has_seed = 1;
        return get_counter(path, t, name, &s->seed, err, errlen);
    }
    if (!strcmp(name, "train:rng")) {
        if (t->dtype != RT_I64 || rt_numel(t) != RT_RNG_STATE_WORDS)
            return ir_errf(err, errlen, "%s: 'train:rng' must be %d I64 words", path, RT_RNG_STATE_WORDS);
        memcpy(s->rng, t->data, sizeof s->rng);
        return 0;
    }
    if (!strcmp(name, CKPT_VOCAB)) {
        int64_t n = rt_numel(t);
        if (t->dtype != RT_I32 || t->rank != 1 || n < 1 || n > 256)
            return ir_errf(err, errlen, "%s: '%s' must be 1 to 256 I32 byte values", path, CKPT_VOCAB);
        for (int64_t i = 0; i < n; i++) {
            int32_t c = ((const int32_t *)t->data)[i];
            if (c < 0 || c > 255 || (i > 0 && c <= ((const int32_t *)t->data)[i - 1]))
                return ir_errf(err, errlen, "%s: '%s' must hold increasing byte values 0..255", path, CKPT_VOCAB);
            s->vocab[i] = (unsigned char)c;
        }
        s->nvocab = (int)n;
        return 0;
    }
    return ir_errf(err, errlen, "%s: unknown checkpoint entry '%s'", path, name);
}

/* Where entry `name` goes: by the role of m's input of that name. */
static TensorMap *place(TrainState *s, const IrModule *m, const char *name)
{
    int k = ir_input_index(m, name);
    IrRole r = k >= 0 ? m->inputs[k].role : IR_ROLE_DATA;
    return r == IR_ROLE_OPT_STATE ? &s->opt : r == IR_ROLE_CARRY ? &s->carry : &s->params;
}

void ckpt_keep_params(TrainState *s, const IrModule *m)
{
    TensorMap keep;
    rt_map_init(&keep);
    for (int i = 0; i < s->params.count; i++) {
        int param = 0;
        for (int k = 0; k < m->nparams && !param; k++) param = !strcmp(m->params[k].name, s->params.names[i]);
        /* moved on success; out of memory, the entry is dropped with the
         * rest below, and the binder names it as missing */
        if (param) rt_map_put(&keep, s->params.names[i], &s->params.tensors[i]);
    }
    rt_map_free(&s->params);
    s->params = keep;
}

static int is_param(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (!strcmp(m->params[i].name, name)) return 1;
    return 0;
}

/* Whether t is F32 of IR type ty, with B = batch. */
static int fits(const Tensor *t, const IrType *ty, int64_t batch)
{
    int ok = t->rank == ty->rank && t->dtype == RT_F32;
    for (int k = 0; ok && k < t->rank; k++) ok = t->shape[k] == (ty->dim[k] == IR_DIM_B ? batch : ty->dim[k]);
    return ok;
}

int ckpt_check_resume(const char *path, const IrModule *m, const TrainState *s, int has_meta, int64_t batch, char *err,
                      size_t errlen)
{
    if (!has_meta)
        return ir_errf(err, errlen,
                       "%s: not a training checkpoint (no 'train:step'): give plain weights with -w instead", path);
    /* An entry the training step takes neither as a parameter nor as
     * state: the state of another optimizer, or of another model. */
    for (int i = 0; i < s->params.count; i++)
        if (!is_param(m, s->params.names[i]))
            return ir_errf(err, errlen,
                           "%s: '%s' is neither a parameter of model '%s' nor state of its training step "
                           "(resume with the optimizer the checkpoint was trained with)",
                           path, s->params.names[i], m->name);
    if (ir_bind_params(m, &s->params, path, err, errlen)) return -1;
    RtRng rng;
    if (rt_rng_set_state(&rng, s->rng)) return ir_errf(err, errlen, "%s: invalid RNG state", path);
    for (int i = 0; i < m->ninputs; i++) {
        const IrInput *in = &m->inputs[i];
        if (in->role != IR_ROLE_OPT_STATE) continue;
        const Tensor *t = rt_map_get(&s->opt, in->name);
        if (!t)
            return ir_errf(err, errlen, "%s: no optimizer state '%s' (was it trained with another optimizer?)", path,
                           in->name);
        if (!fits(t, &in->value->type, batch))
            return ir_errf(err, errlen, "%s: optimizer state '%s' has the wrong shape or type", path, in->name);
    }
    if (s->segment > 0)
        for (int i = 0; i < m->ninputs; i++) {
            const IrInput *in = &m->inputs[i];
            if (in->role != IR_ROLE_CARRY) continue;
            const Tensor *t = rt_map_get(&s->carry, in->name);
            if (!t)
                return ir_errf(err, errlen, "%s: stopped mid-sequence but holds no carried state '%s'", path, in->name);
            char got[128], want[128];
            if (!fits(t, &in->value->type, batch))
                return ir_errf(err, errlen,
                               "%s: carried state '%s' is %s %s, the training step needs F32 %s with B = batch = %lld",
                               path, in->name, rt_dtype_name(t->dtype), rt_shape_str(t, got, sizeof got),
                               ir_dims_str(m, &in->value->type, want, sizeof want), (long long)batch);
        }
    return 0;
}

int ckpt_read(const char *path, const IrModule *m, TrainState *s, int *has_meta, char *err, size_t errlen)
{
    TensorMap file;
    rt_map_init(&file);
    ckpt_init(s);
    *has_meta = 0;
    if (rt_st_read(path, &file, err, errlen)) return -1;
    int rc = 0;
    for (int i = 0; i < file.count && !rc; i++) {
        const char *name = file.names[i];
        Tensor *t = &file.tensors[i];
        if (!strncmp(name, CKPT_META_PREFIX, strlen(CKPT_META_PREFIX))) {
            *has_meta = 1;
            rc = read_meta(path, name, t, s, err, errlen);
            continue;
        }
        TensorMap *dst = place(s, m, name);
        Tensor moved = *t;
        memset(t, 0, sizeof *t);
        if (rt_map_put(dst, name, &moved)) {
            rt_tensor_free(&moved);
            rc = ir_errf(err, errlen, "%s: out of memory", path);
        }
    }
    rt_map_free(&file);
    if (rc) ckpt_free(s);
    return rc;
}
