/* dropout_api.c - a compiled training step with dropout draws the masks
 * of `rnnc train --seed 0` (docs/c-api.md): tests/deploy/dropout.rnn
 * compiled with --train,
 *
 *     dropout_api W.safetensors OUTDIR
 *
 * writes its one training sequence as OUTDIR/x.npy and y.npy, runs three
 * training steps on it and saves the weights as OUTDIR/trained.safetensors,
 * the same after dropfc_set_seed(m, 1) as OUTDIR/trained1.safetensors (the
 * masks of --seed 1), and the forward pass's output before training as
 * OUTDIR/yhat.npy;
 * tests/deploy/run.sh compares them with `rnnc train` and `rnnc run`. */
#include <math.h>
#include <stdio.h>

#include "deploy_test.h"
#include "dropfc.h"

enum { T = 5, B = 1, F = 3, G = 2, STEPS = 3 };

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s W.safetensors OUTDIR\n", argv[0]);
        return 2;
    }
    static float x[T][B][F], y[T][B][G], yhat[T][B][G];
    char err[256], path[1024];
    for (int t = 0; t < T; t++) {
        for (int f = 0; f < F; f++) x[t][0][f] = (float)sin(0.7 * t + f);
        for (int g = 0; g < G; g++) y[t][0][g] = (float)cos(0.5 * t + g);
    }
    dropfc_model *m;
    dropfc_sizes max = {.batch = B, .T_x = T};
    if (dropfc_create(&m, &max, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc = 1;
    dropfc_sizes n = {.batch = B, .T_x = T};
    dropfc_inputs in = {.x = &x[0][0][0]};
    dropfc_outputs out = {.yhat = &yhat[0][0][0]};
    dropfc_targets tg = {.y = &y[0][0][0]};
    float loss = 0;
    if (dropfc_load_weights(m, argv[1]) || dropfc_forward(m, &n, &in, &out)) goto done;
    for (int seed = 0; seed < 2; seed++) {
        /* loading the weights again starts the step count afresh; the seed stays */
        if (seed && (dropfc_load_weights(m, argv[1]), dropfc_set_seed(m, seed), dropfc_steps_done(m) != 0)) goto done;
        for (int s = 0; s < STEPS; s++) {
            if (dropfc_train_step(m, &n, &in, &tg, &loss)) goto done;
            printf("seed %d, step %lld: loss %.6f\n", seed, (long long)dropfc_steps_done(m), loss);
        }
        snprintf(path, sizeof path, "%s/trained%s.safetensors", argv[2], seed ? "1" : "");
        if (dropfc_save_weights(m, path)) goto done;
    }
    if (write_npy(NULL, argv[2], "x.npy", &x[0][0][0], "<f4", 4, 3, T, B, F) ||
        write_npy(NULL, argv[2], "y.npy", &y[0][0][0], "<f4", 4, 3, T, B, G) ||
        write_npy(NULL, argv[2], "yhat.npy", &yhat[0][0][0], "<f4", 4, 3, T, B, G)) {
        fprintf(stderr, "cannot write into %s\n", argv[2]);
        dropfc_free(m);
        return 1;
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "%s\n", dropfc_errmsg(m));
    dropfc_free(m);
    return rc;
}
