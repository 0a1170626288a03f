/* lengths_order.c - the run's order of the examples (lengths_order.h). */
#include "ir/lengths_order.h"

#include <stdlib.h>
#include <string.h>

/* The lengths given for lengths input `len`: one integer an example [B],
 * or the mask [T, B, 1] (a TBPTT segment), whose column sums they are.
 * Returns B, or 0 when the tensor is neither (the run reports it). */
static int64_t given_lengths(const Tensor *lt, int64_t **out)
{
    int ints = lt->dtype == RT_I32 || lt->dtype == RT_I64;
    int64_t B = ints && lt->rank == 1 ? lt->shape[0] : !ints && lt->rank == 3 ? lt->shape[1] : 0;
    if (B < 1 || !(*out = malloc((size_t)B * sizeof **out))) return 0;
    for (int64_t b = 0; b < B; b++) {
        if (ints) {
            (*out)[b] = lt->dtype == RT_I32 ? ((const int32_t *)lt->data)[b] : ((const int64_t *)lt->data)[b];
            continue;
        }
        (*out)[b] = 0;
        for (int64_t t = 0; t < lt->shape[0]; t++)
            (*out)[b] += (lt->dtype == RT_F32 ? ((const float *)lt->data)[t * B + b]
                                              : ((const double *)lt->data)[t * B + b]) != 0;
    }
    return B;
}

typedef struct Key {
    int64_t len, b;
} Key;

/* Longest first; ties in the caller's order (a stable sort). */
static int longer_first(const void *pa, const void *pb)
{
    const Key *a = pa, *b = pb;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

int64_t ir_lengths_order(const IrModule *m, const TensorMap *in, int64_t **order)
{
    const IrInput *len = NULL;
    *order = NULL;
    for (int i = 0; i < m->ninputs; i++) {
        if (m->inputs[i].role == IR_ROLE_DROPOUT_KEY) return 0;
        if (m->inputs[i].role == IR_ROLE_LENGTHS && !len) len = &m->inputs[i];
    }
    const Tensor *lt = len ? rt_map_get(in, len->name) : NULL;
    int64_t *lens = NULL, B = lt ? given_lengths(lt, &lens) : 0, sorted = 1;
    for (int64_t b = 1; b < B; b++) sorted &= lens[b - 1] >= lens[b];
    if (B < 2 || sorted) {
        free(lens);
        return 0;
    }
    Key *keys = malloc((size_t)B * sizeof *keys);
    if (keys && (*order = malloc((size_t)B * sizeof **order))) {
        for (int64_t b = 0; b < B; b++) keys[b] = (Key){lens[b], b};
        qsort(keys, (size_t)B, sizeof *keys, longer_first);
        for (int64_t i = 0; i < B; i++) (*order)[i] = keys[i].b;
    }
    free(keys);
    free(lens);
    return *order ? B : -1;
}

/* The dim of t's declared type ty that is the batch, checked against t's
 * shape; -1 if none. */
static int batch_dim(const IrType *ty, const Tensor *t, int64_t B)
{
    if (ty->rank != t->rank) return -1;
    for (int d = 0; d < ty->rank; d++)
        if (ty->dim[d] == IR_DIM_B) return t->shape[d] == B ? d : -1;
    return -1;
}

/* The dim along which `map`'s tensor t of that name is in batch order. */
static int map_batch_dim(const IrModule *m, const char *name, const Tensor *t, int64_t B)
{
    for (int i = 0; i < m->ninputs; i++) {
        if (strcmp(m->inputs[i].name, name)) continue;
        if (m->inputs[i].role == IR_ROLE_LENGTHS && t->rank == 1) return t->shape[0] == B ? 0 : -1; /* [B] */
        return batch_dim(&m->inputs[i].value->type, t, B);
    }
    for (int i = 0; i < m->ntargets; i++)
        if (!strcmp(m->targets[i].name, name)) return batch_dim(&m->targets[i].value->type, t, B);
    return -1;
}

/* dst = src with its rows along dim d in a new order: row i of dst is
 * row order[i] of src (gather), or row order[i] of dst is row i of src
 * (scatter). */
static void permute(char *dst, const Tensor *src, int d, const int64_t *order, int64_t B, int gather)
{
    size_t inner = rt_dtype_size(src->dtype), outer = 1;
    for (int q = 0; q < src->rank; q++) {
        if (q < d) outer *= (size_t)src->shape[q];
        if (q > d) inner *= (size_t)src->shape[q];
    }
    const char *data = src->data;
    for (size_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < B; i++) {
            size_t at = (o * (size_t)B + (size_t)i) * inner, from = (o * (size_t)B + (size_t)order[i]) * inner;
            if (gather)
                memcpy(dst + at, data + from, inner);
            else
                memcpy(dst + from, data + at, inner);
        }
}

int ir_lengths_copy(const IrModule *m, const TensorMap *in, TensorMap *own, const int64_t *order, int64_t B)
{
    rt_map_init(own);
    for (int i = 0; i < in->count; i++) {
        const Tensor *src = &in->tensors[i];
        int d = order ? map_batch_dim(m, in->names[i], src, B) : -1;
        Tensor t;
        if (rt_tensor_alloc(&t, src->dtype, src->rank, src->shape)) goto nomem;
        if (d >= 0)
            permute(t.data, src, d, order, B, 1);
        else
            memcpy(t.data, src->data, (size_t)rt_numel(src) * rt_dtype_size(src->dtype));
        if (rt_map_put(own, in->names[i], &t)) {
            rt_tensor_free(&t);
            goto nomem;
        }
    }
    return 0;
nomem:
    rt_map_free(own);
    return -1;
}

int ir_lengths_scatter(const IrModule *m, TensorMap *out, const int64_t *order, int64_t B)
{
    for (int k = 0; k < m->noutputs; k++) {
        Tensor *o = rt_map_get(out, m->outputs[k].name), back;
        int d = o ? batch_dim(&m->outputs[k].value->type, o, B) : -1;
        if (d < 0) continue;
        if (rt_tensor_alloc(&back, o->dtype, o->rank, o->shape)) return -1;
        permute(back.data, o, d, order, B, 0);
        rt_tensor_free(o);
        *o = back;
    }
    return 0;
}
