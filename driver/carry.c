/* carry.c - the carried state of a segmented module from one run to the
 * next (carry.h). */
#include "driver/carry.h"

#include <string.h>

#include "driver/checkpoint.h"
#include "driver/cli.h"

int carry_put_zeros(TensorMap *map, const IrModule *m, const char *name, const IrType *ty, int64_t batch)
{
    int64_t shape[IR_MAX_RANK];
    for (int i = 0; i < ty->rank; i++) {
        if (ty->dim[i] == IR_DIM_B)
            shape[i] = batch;
        else if (ty->dim[i] >= 0)
            shape[i] = ty->dim[i];
        else
            return cli_error("internal error: state '%s' of model '%s' has a time-dependent size", name, m->name);
    }
    Tensor t;
    if (rt_tensor_alloc(&t, ty->dtype == IR_I64 ? RT_I64 : RT_F32, ty->rank, shape)) return cli_error("out of memory");
    if (rt_map_put(map, name, &t)) {
        rt_tensor_free(&t);
        return cli_error("out of memory");
    }
    return 0;
}

int carry_inputs(const IrModule *m, const TensorMap *carry, int64_t batch, TensorMap *in)
{
    for (int i = 0; i < m->ninputs; i++) {
        const IrInput *ci = &m->inputs[i];
        Tensor t;
        if (ci->role == IR_ROLE_RESET) {
            if (rt_tensor_alloc(&t, RT_F32, 0, NULL)) return cli_error("out of memory");
            ((float *)t.data)[0] = carry ? 0.0f : 1.0f;
        } else if (ci->role == IR_ROLE_CARRY) {
            const Tensor *c = carry ? rt_map_get(carry, ci->name) : NULL;
            /* At a start the zeros are ignored (reset = 1), but must be
             * finite: 0 * NaN would poison the state. */
            if (!c) {
                if (carry_put_zeros(in, m, ci->name, &ci->value->type, batch)) return 1;
                continue;
            }
            if (tensor_copy(&t, c)) return cli_error("out of memory");
        } else {
            continue;
        }
        if (rt_map_put(in, ci->name, &t)) {
            rt_tensor_free(&t);
            return cli_error("out of memory");
        }
    }
    return 0;
}

int carry_take(const IrModule *m, TensorMap *out, TensorMap *carry)
{
    rt_map_free(carry);
    rt_map_init(carry);
    for (int i = 0; i < m->ninputs; i++) {
        const char *name = m->inputs[i].name;
        if (m->inputs[i].role != IR_ROLE_CARRY) continue;
        Tensor *t = rt_map_get(out, name);
        if (!t) return cli_error("internal error: the run computed no '%s'", name);
        Tensor moved = *t;
        memset(t, 0, sizeof *t);
        if (rt_map_put(carry, name, &moved)) {
            rt_tensor_free(&moved);
            return cli_error("out of memory");
        }
    }
    return 0;
}
