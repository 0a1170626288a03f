/* fuzz_capi.c - the weights loader of a compiled model, NAME_load_weights
 * (runtime/model_api.c, runtime/st_loader.h over runtime/st_format.c), on
 * any bytes given as the weights file.
 *
 * The model is tests/fuzz/capi_model.rnn compiled by `rnnc compile
 * --train --prefix fz` at build time (Makefile), with the runtime inline,
 * as a deployed program would have it.  A refused file must give a status
 * and a message naming the file; an accepted one must leave weights that
 * the forward pass runs on. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz.h"
#include "fuzz_util.h"

static fz_model *model;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_sizes max = {.batch = 2, .T_x = 4};
    char err[256];
    if (fz_create(&model, &max, err, sizeof err)) {
        fprintf(stderr, "fuzz_capi: %s\n", err);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write("w.safetensors", data, size);
    int rc = fz_load_weights(model, path);
    if (rc != fz_OK) {
        if (!strstr(fz_errmsg(model), path)) {
            fprintf(stderr, "fuzz_capi: status %d, the message does not name the file: %s\n", rc, fz_errmsg(model));
            abort();
        }
        return 0;
    }
    for (int i = 0; i < fz_num_params(); i++)
        if (!fz_param_data(model, i)) abort();
    float x[2 * 1 * 2] = {0.5f, -1}, yhat[2 * 1 * 1];
    fz_sizes n = {.batch = 1, .T_x = 2};
    fz_inputs in = {.x = x};
    fz_outputs out = {.yhat = yhat};
    if (fz_forward(model, &n, &in, &out) != fz_OK) {
        fprintf(stderr, "fuzz_capi: forward after a good load: %s\n", fz_errmsg(model));
        abort();
    }
    return 0;
}
