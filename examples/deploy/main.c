/* main.c - a program that uses a model compiled by `rnnc compile`: the
 * 3-layer LSTM forecaster of examples/stacked.rnn, compiled with --train
 * into forecast.c / forecast.h (see the Makefile).
 *
 *     forecast W.safetensors [OUTDIR]
 *
 * 1. creates the model (batches up to 4, sequences up to 64 steps) and
 *    loads the weights (from `rnnc init examples/stacked.rnn -o W`);
 * 2. runs the forward pass on 3 sine waves of 16 steps;
 * 3. runs the same sequences one step at a time with forecast_step and
 *    checks that it gives what the forward pass gave;
 * 4. trains the model for 40 steps to predict each wave's next value and
 *    checks that the loss went down (by a fifth at least: it falls from
 *    0.52 to 0.31 with `rnnc init --seed 1` weights);
 * 5. writes into OUTDIR (default .) the input x.npy, the forward outputs
 *    yhat.npy, hn.npy, cn.npy, the target y.npy, the first training step's
 *    loss loss0.npy, the weights after it step1.safetensors and after all
 *    of them trained.safetensors, for comparison with
 *    `rnnc run` / `rnnc train` (tests/deploy/run.sh does that).
 * Exits 0 when every check passed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast.h"

enum { T = 16, B = 3, F = 3, H = 32, L = 3, TRAIN_STEPS = 40 };

/* The step and the forward pass run the same arithmetic in another order
 * (the forward pass multiplies the inputs of all 16 steps in one GEMM):
 * float rounding of sums of ~35 products of values below 1, carried
 * through 3 layers and 16 steps, stays far below this. */
#define STEP_TOL 1e-5

/* Writes a float32 array as .npy (version 1.0, C order). */
static int write_npy(const char *dir, const char *name, const float *x, int rank, const int *shape)
{
    char path[1024], hdr[128], dims[64] = "";
    size_t n = 1, len = 0;
    for (int i = 0; i < rank; i++) {
        len += (size_t)snprintf(dims + len, sizeof dims - len, "%d%s", shape[i],
                                rank == 1      ? ","
                                : i + 1 < rank ? ", "
                                               : "");
        n *= (size_t)shape[i];
    }
    int h = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    int pad = 64 - (10 + h + 1) % 64; /* the header ends with '\n' on a 64-byte boundary */
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    unsigned short hl = (unsigned short)(h + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(hl & 0xff, f);
    fputc(hl >> 8, f);
    fputs(hdr, f);
    fprintf(f, "%*s\n", pad, "");
    fwrite(x, sizeof(float), n, f);
    return fclose(f);
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s W.safetensors [OUTDIR]\n", argv[0]);
        return 2;
    }
    const char *dir = argc > 2 ? argv[2] : ".";
    static float x[T][B][F], y[T][B][1], yhat[T][B][1], hn[L][B][H], cn[L][B][H];
    static float ystep[T][B][1], hstep[L][B][H], cstep[L][B][H];
    char err[256], path[1024];
    int ok = 1;

    /* Three waves of different phase and speed; the target is the next value. */
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            for (int f = 0; f < F; f++) x[t][b][f] = (float)sin(0.4 * (t + f) * (1 + 0.25 * b) + b);
            y[t][b][0] = (float)sin(0.4 * (t + 1) * (1 + 0.25 * b) + b);
        }

    forecast_model *m;
    forecast_sizes max = {.batch = 4, .T_x = 64};
    if (forecast_create(&m, &max, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (forecast_load_weights(m, argv[1])) {
        fprintf(stderr, "%s\n", forecast_errmsg(m));
        forecast_free(m);
        return 1;
    }

    /* The forward pass over all 16 steps. */
    forecast_sizes n = {.batch = B, .T_x = T};
    forecast_inputs in = {.x = &x[0][0][0]};
    forecast_outputs out = {.yhat = &yhat[0][0][0], .hn = &hn[0][0][0], .cn = &cn[0][0][0]};
    if (forecast_forward(m, &n, &in, &out)) {
        fprintf(stderr, "%s\n", forecast_errmsg(m));
        forecast_free(m);
        return 1;
    }

    /* The same, one step at a time: the state stays in the model. */
    forecast_reset(m);
    for (int t = 0; t < T; t++) {
        forecast_inputs one = {.x = &x[t][0][0]};
        forecast_outputs o1 = {.yhat = &ystep[t][0][0], .hn = &hstep[0][0][0], .cn = &cstep[0][0][0]};
        if (forecast_step(m, B, &one, &o1)) {
            fprintf(stderr, "%s\n", forecast_errmsg(m));
            forecast_free(m);
            return 1;
        }
    }
    double dy = max_diff(&ystep[0][0][0], &yhat[0][0][0], T * B);
    double dh =
        fmax(max_diff(&hstep[0][0][0], &hn[0][0][0], L * B * H), max_diff(&cstep[0][0][0], &cn[0][0][0], L * B * H));
    printf("step vs forward over %d steps: max |diff| %.3g in yhat, %.3g in the final states (tolerance %g)\n", T, dy,
           dh, STEP_TOL);
    if (!(dy <= STEP_TOL && dh <= STEP_TOL)) {
        printf("FAIL: the streaming step does not match the forward pass\n");
        ok = 0;
    }

    /* Training: Adam on the mean squared error of the next-value prediction. */
    forecast_targets tg = {.y = &y[0][0][0]};
    float loss0 = 0, loss = 0;
    for (int s = 0; s < TRAIN_STEPS; s++) {
        if (forecast_train_step(m, &n, &in, &tg, &loss)) {
            fprintf(stderr, "%s\n", forecast_errmsg(m));
            forecast_free(m);
            return 1;
        }
        if (s == 0) {
            /* After one update, for comparison with `rnnc train --set steps=1`. */
            loss0 = loss;
            snprintf(path, sizeof path, "%s/step1.safetensors", dir);
            if (forecast_save_weights(m, path)) {
                fprintf(stderr, "%s\n", forecast_errmsg(m));
                ok = 0;
            }
        }
        if (s % 10 == 0 || s + 1 == TRAIN_STEPS)
            printf("train step %2lld: loss %.6f, gradient norm %.4f\n", (long long)forecast_steps_done(m), loss,
                   forecast_grad_norm(m));
    }
    if (!(loss < 0.8f * loss0)) {
        printf("FAIL: %d training steps did not bring the loss down by a fifth (%.6f -> %.6f)\n", TRAIN_STEPS, loss0,
               loss);
        ok = 0;
    }

    int shape_x[3] = {T, B, F}, shape_y[3] = {T, B, 1}, shape_h[3] = {L, B, H};
    snprintf(path, sizeof path, "%s/trained.safetensors", dir);
    if (write_npy(dir, "x.npy", &x[0][0][0], 3, shape_x) || write_npy(dir, "yhat.npy", &yhat[0][0][0], 3, shape_y) ||
        write_npy(dir, "hn.npy", &hn[0][0][0], 3, shape_h) || write_npy(dir, "cn.npy", &cn[0][0][0], 3, shape_h) ||
        write_npy(dir, "y.npy", &y[0][0][0], 3, shape_y) || write_npy(dir, "loss0.npy", &loss0, 0, NULL)) {
        fprintf(stderr, "cannot write the outputs into %s\n", dir);
        ok = 0;
    }
    if (forecast_save_weights(m, path)) {
        fprintf(stderr, "%s\n", forecast_errmsg(m));
        ok = 0;
    }
    forecast_free(m);
    printf("%s\n", ok ? "all checks passed" : "some checks FAILED");
    return ok ? 0 : 1;
}
