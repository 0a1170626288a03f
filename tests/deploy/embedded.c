/* embedded.c - the stacked forecaster compiled with --embed-weights
 * (prefix fa): usable right after fa_create, no file read.  Writes the
 * forward outputs on two_models.c's input as OUTDIR/a_yhat.bin, which
 * tests/deploy/run.sh compares with two_models' run of the same weights
 * loaded from their file: the same bytes.  Then saves the weights and
 * loads them back through the file, to show a model with embedded weights
 * can take others.
 *
 *     embedded OUTDIR */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fa.h"

int main(int argc, char **argv)
{
    enum { T = 10, B = 2 };
    static float x[T * B * 3], yhat[T * B], hn[3 * B * 32], cn[3 * B * 32], again[T * B];
    char err[256], path[1024];
    if (argc != 2) return 2;
    for (int i = 0; i < T * B * 3; i++) x[i] = (float)sin(0.37 * i);
    fa_model *m;
    fa_sizes max = {.batch = B, .T_x = T};
    if (fa_create(&m, &max, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    fa_inputs in = {.x = x};
    fa_outputs out = {.yhat = yhat, .hn = hn, .cn = cn};
    snprintf(path, sizeof path, "%s/saved.safetensors", argv[1]);
    if (fa_forward(m, &max, &in, &out) || fa_save_weights(m, path) || fa_load_weights(m, path)) {
        fprintf(stderr, "%s\n", fa_errmsg(m));
        return 1;
    }
    out.yhat = again;
    if (fa_forward(m, &max, &in, &out) || memcmp(yhat, again, sizeof yhat)) {
        fprintf(stderr, "the saved and reloaded weights give other outputs: %s\n", fa_errmsg(m));
        return 1;
    }
    snprintf(path, sizeof path, "%s/a_yhat.bin", argv[1]);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(yhat, sizeof yhat, 1, f) != 1 || fclose(f)) return 1;
    fa_free(m);
    return 0;
}
