/* input_layout.c - the batch-first warning (input_layout.h). */
#include "driver/input_layout.h"

#include <stdio.h>

#include "driver/train_data.h"

/* A sequence value: [T_*, B, ...], its time axis a symbol of its own. */
static int is_sequence(const IrType *t) { return t->rank >= 2 && t->dim[0] < IR_DIM_B && t->dim[1] == IR_DIM_B; }

static int warn_list(const IrInput *list, int n, const char *role, const TensorMap *inputs)
{
    int warned = 0;
    for (int i = 0; i < n; i++) {
        const Tensor *x = rt_map_get(inputs, list[i].name);
        if (!x || !is_sequence(&list[i].value->type) || x->rank < 2 || x->shape[0] != 1 || x->shape[1] <= 1) continue;
        fprintf(stderr,
                "rnnc: warning: %s '%s' has T = 1 and B = %lld: is it batch-first? rnnc's sequences are "
                "time-major [T, B, ...]\n",
                role, list[i].name, (long long)x->shape[1]);
        warned++;
    }
    return warned;
}

int input_layout_warn_data(const Dataset *d)
{
    /* examples with lengths, all of length 1, are what they say */
    if (d->kind != DATA_NPY || d->seq_T != 1 || d->nexamples <= 1 || d->lengths) return 0;
    for (int k = 0; k < d->narrays; k++)
        if (d->is_seq[k]) {
            fprintf(stderr,
                    "rnnc: warning: data '%s' (%s) has T = 1 and N = %lld examples: is it batch-first? rnnc's "
                    "sequences are time-major [T, N, ...]\n",
                    d->names[k], d->paths[k], (long long)d->nexamples);
            return 1;
        }
    return 0;
}

int input_layout_warn(const IrModule *m, const TensorMap *inputs)
{
    return warn_list(m->inputs, m->ninputs, "input", inputs) + warn_list(m->targets, m->ntargets, "target", inputs);
}
