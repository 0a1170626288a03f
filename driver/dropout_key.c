/* dropout_key.c - the dropout masks' key input (dropout_key.h). */
#include "driver/dropout_key.h"

int dropout_key_put(const IrModule *m, TensorMap *in, int64_t seed, int64_t step)
{
    for (int i = 0; i < m->ninputs; i++) {
        if (m->inputs[i].role != IR_ROLE_DROPOUT_KEY) continue;
        Tensor t;
        int64_t two = 2;
        if (rt_tensor_alloc(&t, RT_I64, 1, &two)) return -1;
        ((int64_t *)t.data)[0] = seed;
        ((int64_t *)t.data)[1] = step;
        if (rt_map_put(in, m->inputs[i].name, &t)) {
            rt_tensor_free(&t);
            return -1;
        }
    }
    return 0;
}
