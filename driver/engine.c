/* engine.c - the engines that `rnnc train` and `rnnc sample` can run a
 * module with (engine.h); for now the reference interpreter. */
#include "driver/engine.h"

#include "ir/interp.h"

static int interp_engine_run(const Engine *e, const IrModule *m, const TensorMap *params,
                             const TensorMap *inputs, TensorMap *outputs, char *err, size_t errlen)
{
    (void)e;
    return interp_run(m, params, inputs, outputs, IR_PREC_F32, err, errlen);
}

const Engine engine_interp = { "interp", interp_engine_run, NULL };
