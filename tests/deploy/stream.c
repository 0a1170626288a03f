/* stream.c - the weights' packs of a compiled model (lower/kprepare.h,
 * runtime/model_api.c) follow its weights: tests/deploy/stream.rnn,
 * compiled with --train --prefix sm, as a C file and as an object.
 *
 *     stream W1.safetensors W2.safetensors OUTDIR
 *
 * 1. sm_step over T steps gives what sm_forward gives over T;
 * 2. a forward pass of one step gives the first step's bits;
 * 3. new weights loaded after a step (the packs made from W1) are used:
 *    the steps then give what a fresh model with W2 gives, and not W1's;
 * 4. a training step after a step and a forward pass (packs made) is
 *    used: the forward pass and the steps after it give what a fresh model
 *    with the trained weights (saved and loaded) gives.
 * Writes the outputs of 1, 3 and 4 to OUTDIR/stream.bin, which
 * tests/deploy/run.sh compares between the C file and the object.
 * Exits 0 when every check passed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "deploy_test.h"
#include "sm.h"

enum { T = 7, B = 2, F = 5, O = 3 };

/* The forward pass multiplies the inputs of all T steps in one GEMM with
 * M = T*B rows, the step in one of B rows: the runtime may pick another
 * kernel for each, summing the 5, 16, 8 or 12 products of a dot product in
 * another order (a few ulp of values below 1 each), carried through T = 7
 * steps of three gated layers that shrink differences: far below 1e-5.
 * Everything else is exact: the same kernels on the same weights. */
#define STEP_TOL 1e-5

static float x[T][B][F], y[T][B][O];

static int die(sm_model *m, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, m ? sm_errmsg(m) : "?");
    return 1;
}

static int forward(sm_model *m, int64_t t, float *yhat)
{
    sm_sizes n = {.batch = B, .T_x = t};
    sm_inputs in = {.x = &x[0][0][0]};
    sm_outputs out = {.yhat = yhat};
    return sm_forward(m, &n, &in, &out);
}

/* Steps first .. first+count-1 of x; sm_reset before when fresh. */
static int steps(sm_model *m, int fresh, int first, int count, float *yhat)
{
    if (fresh) sm_reset(m);
    for (int t = first; t < first + count; t++) {
        sm_inputs in = {.x = &x[t][0][0]};
        sm_outputs out = {.yhat = yhat + (size_t)t * B * O};
        if (sm_step(m, B, &in, &out)) return 1;
    }
    return 0;
}

static sm_model *open_model(const char *w)
{
    sm_model *m;
    char err[256];
    sm_sizes max = {.batch = B, .T_x = T};
    if (sm_create(&m, &max, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    if (sm_load_weights(m, w)) {
        die(m, w);
        sm_free(m);
        return NULL;
    }
    return m;
}

int main(int argc, char **argv)
{
    static float f1[T][B][O], s1[T][B][O], one[B][O], f2[T][B][O], s2[T][B][O], ft[T][B][O], st[T][B][O], ref[T][B][O];
    char path[1024];
    if (argc != 4) return 2;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            for (int f = 0; f < F; f++) x[t][b][f] = (float)sin(0.3 * t + 0.7 * f + 1.1 * b);
            for (int o = 0; o < O; o++) y[t][b][o] = (float)cos(0.2 * t + o - b);
        }
    sm_model *m = open_model(argv[1]), *m2 = open_model(argv[2]);
    if (!m || !m2) return 1;

    /* 1, 2: W1, steps against the forward pass */
    if (forward(m, T, &f1[0][0][0]) || steps(m, 1, 0, T, &s1[0][0][0]) || forward(m, 1, &one[0][0]))
        return die(m, "W1");
    check(max_diff(&s1[0][0][0], &f1[0][0][0], T * B * O) <= STEP_TOL, "W1: steps = forward pass");
    check(!memcmp(one, s1[0], sizeof one), "W1: forward pass of one step = the first step, bit for bit");

    /* 3: W2 loaded in the middle of a stream (the packs hold W1) */
    if (steps(m, 1, 0, 2, &s2[0][0][0]) || sm_load_weights(m, argv[2]) || steps(m, 1, 0, T, &s2[0][0][0]))
        return die(m, "W2");
    if (forward(m2, T, &f2[0][0][0]) || forward(m, T, &ref[0][0][0])) return die(m2, "W2 forward");
    check(!memcmp(ref, f2, sizeof f2), "W2 loaded after W1's steps: forward = a fresh model's");
    check(max_diff(&s2[0][0][0], &f2[0][0][0], T * B * O) <= STEP_TOL, "W2 loaded after W1's steps: steps = forward");
    check(max_diff(&f2[0][0][0], &f1[0][0][0], T * B * O) > 1e-3, "W2's outputs are not W1's (the test can fail)");

    /* 4: a training step after the packs were made */
    sm_sizes n = {.batch = B, .T_x = T};
    sm_inputs in = {.x = &x[0][0][0]};
    sm_targets tg = {.y = &y[0][0][0]};
    float loss;
    if (steps(m, 1, 0, 1, &st[0][0][0]) || sm_train_step(m, &n, &in, &tg, &loss) || forward(m, T, &ft[0][0][0]) ||
        steps(m, 1, 0, T, &st[0][0][0]))
        return die(m, "train");
    snprintf(path, sizeof path, "%s/trained.safetensors", argv[3]);
    if (sm_save_weights(m, path) || sm_load_weights(m2, path) || forward(m2, T, &ref[0][0][0]))
        return die(m2, "trained weights");
    check(!memcmp(ft, ref, sizeof ref), "after a training step: forward = a fresh model's with the new weights");
    check(max_diff(&st[0][0][0], &ft[0][0][0], T * B * O) <= STEP_TOL, "after a training step: steps = forward");
    check(max_diff(&ft[0][0][0], &f2[0][0][0], T * B * O) > 1e-7, "the training step changed the outputs");

    snprintf(path, sizeof path, "%s/stream.bin", argv[3]);
    FILE *o = fopen(path, "wb");
    if (!o || fwrite(f1, sizeof f1, 1, o) != 1 || fwrite(s1, sizeof s1, 1, o) != 1 ||
        fwrite(s2, sizeof s2, 1, o) != 1 || fwrite(ft, sizeof ft, 1, o) != 1 || fwrite(st, sizeof st, 1, o) != 1 ||
        fclose(o))
        return die(NULL, path);
    sm_free(m);
    sm_free(m2);
    return failed;
}
