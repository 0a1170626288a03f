/* accuracy.c - counting what a classifier gets right (accuracy.h). */
#include "driver/accuracy.h"

const char *acc_target_name(const IrModule *m)
{
    if (!m->loss || !m->loss->def || m->loss->def->kind != IR_CROSS_ENTROPY) return NULL;
    const IrValue *t = m->loss->def->operands[1];
    for (int i = 0; i < m->ntargets; i++)
        if (m->targets[i].value == t) return m->targets[i].name;
    for (int i = 0; i < m->ninputs; i++)
        if (m->inputs[i].value == t) return m->inputs[i].name;
    return NULL; /* a computed target (last(t), ...): not in the batch */
}

static double at(const Tensor *t, int64_t i)
{
    return t->dtype == RT_F64 ? ((const double *)t->data)[i] : ((const float *)t->data)[i];
}

static int64_t id_at(const Tensor *t, int64_t i)
{
    return t->dtype == RT_I64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
}

int acc_count(const Tensor *logits, const Tensor *target, int64_t *correct, int64_t *n)
{
    return acc_count_lengths(logits, target, NULL, correct, n);
}

/* Whether position r of a [T, B] target counts under len: lengths [B]
 * (I64), or a TBPTT segment's mask [T, B, 1] (F32, 0 or 1 a step). */
static int counts(const Tensor *len, int64_t r, int64_t B)
{
    if (!len) return 1;
    if (len->rank == 3) return ((const float *)len->data)[r] != 0;
    return r / B < ((const int64_t *)len->data)[r % B];
}

int acc_count_lengths(const Tensor *logits, const Tensor *target, const Tensor *len, int64_t *correct, int64_t *n)
{
    if (len && target->rank != 2) return -1;
    if (len && len->rank == 1 && (len->dtype != RT_I64 || len->shape[0] != target->shape[1])) return -1;
    if (len && len->rank == 3 &&
        (len->dtype != RT_F32 || len->shape[0] != target->shape[0] || len->shape[1] != target->shape[1] ||
         len->shape[2] != 1))
        return -1;
    if (len && len->rank != 1 && len->rank != 3) return -1;
    if (logits->rank != target->rank + 1 || (logits->dtype != RT_F32 && logits->dtype != RT_F64) ||
        (target->dtype != RT_I32 && target->dtype != RT_I64))
        return -1;
    for (int k = 0; k < target->rank; k++)
        if (logits->shape[k] != target->shape[k]) return -1;
    int64_t C = logits->shape[logits->rank - 1], rows = rt_numel(target), right = 0, counted = 0;
    if (C < 1) return -1;
    for (int64_t r = 0; r < rows; r++) {
        /* row r of [T, B] is step r / B of example r % B */
        if (!counts(len, r, target->shape[1])) continue;
        counted++;
        int64_t best = 0;
        for (int64_t c = 1; c < C; c++)
            if (at(logits, r * C + c) > at(logits, r * C + best)) best = c;
        right += best == id_at(target, r);
    }
    *correct += right;
    *n += counted;
    return 0;
}
