/* dist_shard.c - cutting a batch into shares and joining them (dist_shard.h). */
#include "driver/dist_shard.h"

#include <string.h>

#include "driver/checkpoint.h"

int shard_axis(const IrModule *m, const char *name) { return shard_axis_of(m, name, 1); }

int shard_axis_of(const IrModule *m, const char *name, int rank)
{
    const IrInput *in = NULL;
    for (int i = 0; i < m->ninputs && !in; i++)
        if (!strcmp(m->inputs[i].name, name)) in = &m->inputs[i];
    for (int i = 0; i < m->ntargets && !in; i++)
        if (!strcmp(m->targets[i].name, name)) in = &m->targets[i];
    if (!in) return -1;
    /* lengths come as [B], or (a segment of truncated BPTT, whose lengths
     * may be 0) as their mask [T, B, 1] (ir/lengths.h) */
    if (in->role == IR_ROLE_LENGTHS) return rank == 3 ? 1 : 0;
    for (int k = 0; k < in->value->type.rank; k++)
        if (in->value->type.dim[k] == IR_DIM_B) return k;
    return -1;
}

/* A tensor as outer x rows x inner elements around axis, each esz bytes. */
static void split_dims(const Tensor *t, int axis, int64_t *outer, int64_t *inner)
{
    *outer = *inner = 1;
    for (int k = 0; k < axis; k++) *outer *= t->shape[k];
    for (int k = axis + 1; k < t->rank; k++) *inner *= t->shape[k];
}

int shard_slice(Tensor *dst, const Tensor *src, int axis, int64_t lo, int64_t hi)
{
    int64_t shape[RT_MAX_RANK], outer, inner;
    memcpy(shape, src->shape, sizeof shape);
    shape[axis] = hi - lo;
    if (rt_tensor_alloc(dst, src->dtype, src->rank, shape)) return -1;
    split_dims(src, axis, &outer, &inner);
    size_t esz = rt_dtype_size(src->dtype), row = (size_t)inner * esz;
    for (int64_t o = 0; o < outer; o++)
        memcpy((char *)dst->data + (size_t)(o * (hi - lo)) * row,
               (const char *)src->data + (size_t)(o * src->shape[axis] + lo) * row, (size_t)(hi - lo) * row);
    return 0;
}

void shard_place(Tensor *dst, const Tensor *part, int axis, int64_t lo)
{
    int64_t outer, inner, n = part->shape[axis];
    split_dims(dst, axis, &outer, &inner);
    size_t row = (size_t)inner * rt_dtype_size(dst->dtype);
    for (int64_t o = 0; o < outer; o++)
        memcpy((char *)dst->data + (size_t)(o * dst->shape[axis] + lo) * row,
               (const char *)part->data + (size_t)(o * n) * row, (size_t)n * row);
}

int shard_map(const IrModule *m, const TensorMap *in, int64_t lo, int64_t hi, TensorMap *out)
{
    for (int i = 0; i < in->count; i++) {
        const Tensor *t = &in->tensors[i];
        int axis = shard_axis_of(m, in->names[i], t->rank);
        Tensor s;
        if (axis >= 0 && axis < t->rank ? shard_slice(&s, t, axis, lo, hi) : tensor_copy(&s, t)) return -1;
        if (rt_map_put(out, in->names[i], &s)) {
            rt_tensor_free(&s);
            return -1;
        }
    }
    return 0;
}
