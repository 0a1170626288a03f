/* lengths_api.c - per-example lengths through the C API (docs/c-api.md,
 * "Lengths"): tests/deploy/lengths.rnn compiled with --train (prefix ln),
 * as a C file and as an object.
 *
 *     lengths_api W.safetensors OUTDIR
 *
 * 1. ln_forward over a padded batch with lengths 5, 1, 3 whose padded
 *    steps hold NaN (never read): writes OUTDIR/x.npy, y.npy, len.npy and
 *    the outputs yhat.npy, hn.npy, tail.npy, which tests/deploy/run.sh
 *    compares with `rnnc run` on the same arrays;
 * 1b. the steps past the longest example are left out: lengths 4, 1, 3
 *    padded to 5 steps give the outputs of the same call at T_x = 4 (the
 *    arrays' first 4 steps) to the bit and 0 at step 4 (the buffer held
 *    NaN before); a training step gives the same loss and weights;
 * 1c. the order of the batch: the examples (lengths 5, 1, 3) given as
 *    3, 5, 1 and as 1, 3, 3 (two equal) give each example's outputs to
 *    the bit (a call runs its examples longest first, docs/c-api.md), and
 *    a training step the same loss and weights within float rounding;
 * 2. one ln_train_step (SGD, lr 1): its loss (loss.npy) and its gradient,
 *    the weights before minus after (grad.safetensors), for `rnnc run`'s
 *    loss and `rnnc grad`'s gradients; ln_grad_norm is that gradient's norm;
 * 3. on the trained weights (a learned initial state that is not zero
 *    now) a stream of ln_step calls in 3 slots: slot 0 one sequence of 7
 *    steps; slot 1 a sequence of 3, one call with no step (x_len 0), then
 *    ln_reset_example and a sequence of 3; slot 2 a sequence of 2, at once
 *    ln_reset_example and a sequence of 5.  Each step's outputs equal
 *    ln_forward's over that sequence alone; a slot with no step gives 0
 *    and keeps its state (hn, tail) to the bit;
 * 4. bad lengths: 0, above T, 2 in ln_step (ERR_DATA), NULL in ln_forward
 *    (ERR_ARG, as every NULL), and ln_reset_example outside the batch
 *    (ERR_ARG) give the statuses and messages
 *    naming the input (printed, so the object's are compared too).
 * Everything it writes but the messages is also in OUTDIR/lengths.bin,
 * which run.sh compares between the C file and the object.  Exits 0 when
 * every check passed. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "deploy_test.h"
#include "ln.h"

enum { T = 5, B = 3, F = 4, O = 2, H = 6, L = 2, S = 7 /* the longest stream */ };

/* The step multiplies one step's inputs by W_ih, the forward pass all
 * steps' at once: another GEMM shape, which may sum each dot product (4
 * or 6 terms) in another order, a few ulp of values below 1, carried
 * through 7 steps of two LSTM layers, which do not grow them: far below
 * 1e-5 (stream.c's argument).  What a slot keeps with no step is exact. */
#define STEP_TOL 1e-5

static const int64_t lens[B] = {5, 1, 3};
static float x[T][B][F], y[T][B][O];
static FILE *bin;

static int die(ln_model *m, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, m ? ln_errmsg(m) : "?");
    return 1;
}

/* The gradient g[i] of every parameter as a safetensors file of F32
 * tensors under the parameters' names, as `rnnc grad -o` writes it. */
static int write_grads(const char *dir, float *const *g)
{
    char path[1024], hdr[4096];
    int n = ln_num_params(), len = snprintf(hdr, sizeof hdr, "{");
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        len += snprintf(hdr + len, sizeof hdr - (size_t)len, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i ? "," : "",
                        ln_param_name(i));
        for (int r = 0; r < ln_param_rank(i); r++)
            len +=
                snprintf(hdr + len, sizeof hdr - (size_t)len, "%s%lld", r ? "," : "", (long long)ln_param_dims(i)[r]);
        int64_t bytes = 4 * ln_param_numel(i);
        len += snprintf(hdr + len, sizeof hdr - (size_t)len, "],\"data_offsets\":[%lld,%lld]}", (long long)off,
                        (long long)(off + bytes));
        off += bytes;
    }
    len += snprintf(hdr + len, sizeof hdr - (size_t)len, "}");
    while (len % 8) hdr[len++] = ' ';
    snprintf(path, sizeof path, "%s/grad.safetensors", dir);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    for (int k = 0; k < 8; k++) fputc((int)(((uint64_t)len >> (8 * k)) & 0xff), f);
    fwrite(hdr, 1, (size_t)len, f);
    for (int i = 0; i < n; i++) {
        fwrite(g[i], sizeof(float), (size_t)ln_param_numel(i), f);
        fwrite(g[i], sizeof(float), (size_t)ln_param_numel(i), bin);
    }
    return fclose(f);
}

/* The step of input seq (of length len, [len][F]) at step t. */
static float seqs[5][S][F];
static const int seq_len[5] = {7, 3, 3, 2, 5};

/* ln_forward over sequence q alone: its outputs at every step, its final
 * states and last(h). */
static int forward_alone(ln_model *m, int q, float *yhat, float *hn, float *tail)
{
    ln_sizes n = {.batch = 1, .T_x = seq_len[q]};
    int64_t len = seq_len[q];
    ln_inputs in = {.x = &seqs[q][0][0], .x_len = &len};
    ln_outputs out = {.yhat = yhat, .hn = hn, .tail = tail};
    return ln_forward(m, &n, &in, &out);
}

/* 1b: lengths 4, 1, 3 in a batch padded to T = 5 against the same call at
 * T_x = 4 (the first 4 steps of the same arrays: time-major): forward and
 * one training step, from the weights in wpath (reloaded after). */
static int past_longest(ln_model *m, const char *wpath)
{
    static const int64_t short_lens[B] = {4, 1, 3};
    static float y5[T][B][O], y4[T][B][O], h5[L][B][H], h4[L][B][H], t5[B][H], t4[B][H], w5[64][1024];
    ln_inputs in = {.x = &x[0][0][0], .x_len = short_lens};
    ln_sizes n5 = {.batch = B, .T_x = T}, n4 = {.batch = B, .T_x = T - 1};
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            for (int o = 0; o < O; o++) y5[t][b][o] = NAN; /* step 4 must be written with 0 */
    ln_outputs o5 = {.yhat = &y5[0][0][0], .hn = &h5[0][0][0], .tail = &t5[0][0]};
    ln_outputs o4 = {.yhat = &y4[0][0][0], .hn = &h4[0][0][0], .tail = &t4[0][0]};
    if (ln_forward(m, &n5, &in, &o5) || ln_forward(m, &n4, &in, &o4)) return die(m, "forward past the longest");
    int zero = 1;
    for (int b = 0; b < B; b++) zero &= y5[T - 1][b][0] == 0 && y5[T - 1][b][1] == 0;
    check(zero && !memcmp(y5, y4, sizeof(float) * (T - 1) * B * O) && !memcmp(h5, h4, sizeof h5) &&
              !memcmp(t5, t4, sizeof t5),
          "forward past the longest example = the call at T_x = 4, 0 after");
    ln_targets tg = {.y = &y[0][0][0]};
    float loss5, loss4;
    int np = ln_num_params(), same = 1;
    if (ln_train_step(m, &n5, &in, &tg, &loss5)) return die(m, "train_step past the longest");
    for (int i = 0; i < np; i++) memcpy(w5[i], ln_param_data(m, i), sizeof(float) * (size_t)ln_param_numel(i));
    if (ln_load_weights(m, wpath) || ln_train_step(m, &n4, &in, &tg, &loss4)) return die(m, "train_step at T_x = 4");
    for (int i = 0; i < np; i++) same &= !memcmp(w5[i], ln_param_data(m, i), sizeof(float) * (size_t)ln_param_numel(i));
    check(loss5 == loss4 && same, "a training step past the longest example = the step at T_x = 4");
    if (ln_load_weights(m, wpath)) return die(m, wpath);
    return 0;
}

/* What a batch gives, each example's in its own row: outputs, the loss
 * and the weights after one training step. */
typedef struct Result {
    float yhat[T][B][O], hn[L][B][H], tail[B][H], loss, w[64][1024];
} Result;

/* ln_forward and one ln_train_step, from the weights in wpath, on the
 * examples ex[0..B) of x and y as rows 0..B, with lengths len[0..B);
 * the outputs put back in example order in *res. */
static int run_order(ln_model *m, const char *wpath, const int *ex, const int64_t *len, Result *res)
{
    static float xp[T][B][F], yp[T][B][O], yh[T][B][O], hn[L][B][H], tl[B][H];
    for (int t = 0; t < T; t++)
        for (int r = 0; r < B; r++) {
            memcpy(xp[t][r], x[t][ex[r]], sizeof xp[t][r]);
            memcpy(yp[t][r], y[t][ex[r]], sizeof yp[t][r]);
        }
    ln_sizes n = {.batch = B, .T_x = T};
    ln_inputs in = {.x = &xp[0][0][0], .x_len = len};
    ln_outputs out = {.yhat = &yh[0][0][0], .hn = &hn[0][0][0], .tail = &tl[0][0]};
    ln_targets tg = {.y = &yp[0][0][0]};
    if (ln_load_weights(m, wpath) || ln_forward(m, &n, &in, &out) || ln_train_step(m, &n, &in, &tg, &res->loss))
        return die(m, "a batch in another order");
    for (int r = 0; r < B; r++) {
        for (int t = 0; t < T; t++) memcpy(res->yhat[t][ex[r]], yh[t][r], sizeof yh[t][r]);
        for (int l = 0; l < L; l++) memcpy(res->hn[l][ex[r]], hn[l][r], sizeof hn[l][r]);
        memcpy(res->tail[ex[r]], tl[r], sizeof tl[r]);
    }
    for (int i = 0; i < ln_num_params(); i++)
        memcpy(res->w[i], ln_param_data(m, i), sizeof(float) * (size_t)ln_param_numel(i));
    return 0;
}

/* Whether two results agree: the outputs to the bit, the loss and the
 * weights within tol * max(1, |w|). */
static int same_result(const Result *a, const Result *b, double tol)
{
    int same = !memcmp(a->yhat, b->yhat, sizeof a->yhat) && !memcmp(a->hn, b->hn, sizeof a->hn) &&
               !memcmp(a->tail, b->tail, sizeof a->tail) && fabs(a->loss - b->loss) <= tol * fmax(1, fabs(a->loss));
    for (int i = 0; i < ln_num_params(); i++)
        for (int64_t k = 0; k < ln_param_numel(i); k++)
            same &= fabs(a->w[i][k] - b->w[i][k]) <= tol * fmax(1, fabs(a->w[i][k]));
    return same;
}

/* 1c: the batch in other orders, from the weights in wpath (reloaded
 * after).  A call runs its examples longest first (docs/c-api.md), and an
 * example's outputs are the same operations on the same values in
 * whatever row it runs: the bits.  The loss and the weights after a
 * training step sum over the batch in another order: each sum (of 3
 * examples' terms, a few dozen at most, below 1) differs by a few
 * roundings of 6e-8 relative; 1e-5 of max(1, |w|) leaves a wide margin. */
static int batch_order(ln_model *m, const char *wpath)
{
    static Result r[5];
    /* lengths 5, 1, 3 given as 5 1 3 and 3 5 1; then examples 0 and 2 with
     * 3 steps each, equal lengths: in the order 0 2 1, 2 0 1 and 1 0 2 */
    static const int ex[5][B] = {{0, 1, 2}, {2, 0, 1}, {0, 2, 1}, {2, 0, 1}, {1, 0, 2}};
    static const int64_t len[5][B] = {{5, 1, 3}, {3, 5, 1}, {3, 3, 1}, {3, 3, 1}, {1, 3, 3}};
    for (int k = 0; k < 5; k++)
        if (run_order(m, wpath, ex[k], len[k], &r[k])) return 1;
    check(same_result(&r[0], &r[1], 1e-5), "a batch in another order: each example's outputs to the bit");
    check(same_result(&r[2], &r[3], 1e-5) && same_result(&r[2], &r[4], 1e-5),
          "... and with two equal lengths, in any order");
    check(!same_result(&r[0], &r[2], 1e-5), "... (other lengths give other outputs)");
    return ln_load_weights(m, wpath) ? die(m, wpath) : 0;
}

/* 3: the stream.  Slot b at call c runs sequence plan[c][b] at its step
 * pos[c][b] (-1: no step). */
static int stream(ln_model *m)
{
    static const int plan[S][B] = {{0, 1, 3}, {0, 1, 3}, {0, 1, 4}, {0, -1, 4}, {0, 2, 4}, {0, 2, 4}, {0, 2, 4}};
    static const int pos[S][B] = {{0, 0, 0}, {1, 1, 1}, {2, 2, 0}, {3, -1, 1}, {4, 0, 2}, {5, 1, 3}, {6, 2, 4}};
    static float ry[5][S][O], rh[5][L][H], rt[5][H];
    float sx[B][F], sy[B][O], sh[L][B][H], st[B][H], prev_h[L][B][H], prev_t[B][H];
    double worst = 0;
    int idle_ok = 1, ends = 0;
    for (int q = 0; q < 5; q++)
        if (forward_alone(m, q, &ry[q][0][0], &rh[q][0][0], &rt[q][0])) return die(m, "forward alone");
    ln_reset(m);
    for (int c = 0; c < S; c++) {
        int64_t has[B];
        for (int b = 0; b < B; b++) {
            int q = plan[c][b], t = pos[c][b];
            has[b] = t >= 0;
            for (int f = 0; f < F; f++) sx[b][f] = t >= 0 ? seqs[q][t][f] : NAN; /* never read */
            if (t == 0 && c > 0 && ln_reset_example(m, b)) return die(m, "reset_example");
        }
        ln_inputs in = {.x = &sx[0][0], .x_len = has};
        ln_outputs out = {.yhat = &sy[0][0], .hn = &sh[0][0][0], .tail = &st[0][0]};
        if (ln_step(m, B, &in, &out)) return die(m, "step");
        fwrite(sy, sizeof sy, 1, bin);
        fwrite(sh, sizeof sh, 1, bin);
        for (int b = 0; b < B; b++) {
            int q = plan[c][b], t = pos[c][b];
            if (t < 0) { /* no step: output 0, the state as it was */
                idle_ok &= sy[b][0] == 0 && sy[b][1] == 0 && !memcmp(st[b], prev_t[b], sizeof st[b]);
                for (int l = 0; l < L; l++) idle_ok &= !memcmp(sh[l][b], prev_h[l][b], sizeof sh[l][b]);
                continue;
            }
            worst = fmax(worst, max_diff(sy[b], ry[q][t], O));
            if (t == seq_len[q] - 1) { /* the sequence's end: its final states and last(h) */
                ends++;
                worst = fmax(worst, max_diff(st[b], rt[q], H));
                for (int l = 0; l < L; l++) worst = fmax(worst, max_diff(sh[l][b], rh[q][l], H));
            }
        }
        memcpy(prev_h, sh, sizeof sh);
        memcpy(prev_t, st, sizeof st);
    }
    printf("stream: largest difference from the forward passes %.3g over %d sequence ends\n", worst, ends);
    check(worst <= STEP_TOL && ends == 5, "steps with per-example resets = forward over each example's sequence");
    check(idle_ok, "a slot with no step (x_len 0) outputs 0 and keeps its state to the bit");
    /* the test can fail: without the reset, slot 2's second sequence goes on from the first */
    float ny[O];
    ln_reset(m);
    for (int t = 0; t < 3; t++) {
        int64_t one = 1;
        float hn1[L][1][H], t1[1][H];
        const float *xt = t < 2 ? seqs[3][t] : seqs[4][0];
        ln_inputs in = {.x = xt, .x_len = &one};
        ln_outputs out = {.yhat = ny, .hn = &hn1[0][0][0], .tail = &t1[0][0]};
        if (ln_step(m, 1, &in, &out)) return die(m, "step without reset");
    }
    check(max_diff(ny, ry[4][0], O) > 1e-4, "... and without ln_reset_example the outputs differ");
    return 0;
}

/* 4: what bad lengths give. */
static void bad_lengths(ln_model *m)
{
    static float yhat[T][B][O], hn[L][B][H], tail[B][H];
    ln_sizes n = {.batch = B, .T_x = T};
    ln_outputs out = {.yhat = &yhat[0][0][0], .hn = &hn[0][0][0], .tail = &tail[0][0]};
    const int64_t zero[B] = {5, 0, 3}, above[B] = {5, 6, 3}, two[B] = {1, 2, 1};
    struct {
        const char *what;
        const int64_t *len;
        int step, want;
        const char *msg;
    } cases[] = {
        {"a length of 0", zero, 0, ln_ERR_DATA, "ln_forward: input 'x.len': example 1 has length 0"},
        {"a length above T", above, 0, ln_ERR_DATA, "more than the 5 steps of input 'x'"},
        {"no lengths (NULL)", NULL, 0, ln_ERR_ARG, "ln_forward: input 'x.len' is NULL"},
        {"2 steps in one step", two, 1, ln_ERR_DATA, "ln_step: input 'x.len': example 1 has 2 steps"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ln_inputs in = {.x = &x[0][0][0], .x_len = cases[k].len};
        int rc = cases[k].step ? ln_step(m, B, &in, &out) : ln_forward(m, &n, &in, &out);
        printf("%d %s\n", rc, ln_errmsg(m));
        check(rc == cases[k].want && strstr(ln_errmsg(m), cases[k].msg), cases[k].what);
    }
    int rc = ln_reset_example(m, B);
    printf("%d %s\n", rc, ln_errmsg(m));
    check(rc == ln_ERR_ARG && strstr(ln_errmsg(m), "example 3 is outside [0, 3)"),
          "ln_reset_example outside the batch");
    rc = ln_reset_example(m, -1);
    check(rc == ln_ERR_ARG, "ln_reset_example(-1)");
}

int main(int argc, char **argv)
{
    static float yhat[T][B][O], hn[L][B][H], tail[B][H], w0[64][1024], gbuf[64][1024];
    static float *g[64];
    char path[1024], err[256];
    if (argc != 3) return 2;
    snprintf(path, sizeof path, "%s/lengths.bin", argv[2]);
    if (!(bin = fopen(path, "wb"))) return die(NULL, path);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            for (int f = 0; f < F; f++) x[t][b][f] = t < lens[b] ? (float)sin(0.3 * t + 0.7 * f + 1.1 * b) : NAN;
            for (int o = 0; o < O; o++) y[t][b][o] = t < lens[b] ? (float)cos(0.2 * t + o - b) : NAN;
        }
    for (int q = 0; q < 5; q++)
        for (int t = 0; t < seq_len[q]; t++)
            for (int f = 0; f < F; f++) seqs[q][t][f] = (float)sin(0.5 * t - 0.4 * f + 1.3 * q);
    ln_model *m;
    ln_sizes max = {.batch = B, .T_x = S};
    if (ln_create(&m, &max, err, sizeof err)) return die(NULL, err);
    if (ln_load_weights(m, argv[1])) return die(m, argv[1]);

    /* 1: the forward pass */
    ln_sizes n = {.batch = B, .T_x = T};
    ln_inputs in = {.x = &x[0][0][0], .x_len = lens};
    ln_outputs out = {.yhat = &yhat[0][0][0], .hn = &hn[0][0][0], .tail = &tail[0][0]};
    if (ln_forward(m, &n, &in, &out)) return die(m, "forward");
    int ok = 1;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) ok &= t < lens[b] || (yhat[t][b][0] == 0 && yhat[t][b][1] == 0);
    check(ok, "forward: the outputs at padded steps are 0");
    if (write_npy(bin, argv[2], "x.npy", x, "<f4", 4, 3, T, B, F) ||
        write_npy(bin, argv[2], "y.npy", y, "<f4", 4, 3, T, B, O) ||
        write_npy(bin, argv[2], "len.npy", lens, "<i8", 8, 1, B, 0, 0) ||
        write_npy(bin, argv[2], "yhat.npy", yhat, "<f4", 4, 3, T, B, O) ||
        write_npy(bin, argv[2], "hn.npy", hn, "<f4", 4, 3, L, B, H) ||
        write_npy(bin, argv[2], "tail.npy", tail, "<f4", 4, 2, B, H, 0))
        return die(NULL, "write");

    if (past_longest(m, argv[1]) || batch_order(m, argv[1])) return 1;

    /* 2: one training step: SGD with lr 1 moves each weight by its gradient */
    int np = ln_num_params();
    if (np > 64) return die(NULL, "too many parameters");
    for (int i = 0; i < np; i++) {
        if (ln_param_numel(i) > 1024) return die(NULL, "a parameter too large");
        memcpy(w0[i], ln_param_data(m, i), sizeof(float) * (size_t)ln_param_numel(i));
    }
    ln_targets tg = {.y = &y[0][0][0]};
    float loss;
    if (ln_train_step(m, &n, &in, &tg, &loss)) return die(m, "train_step");
    double norm = 0;
    int h0_moved = 0;
    for (int i = 0; i < np; i++) {
        g[i] = gbuf[i];
        for (int64_t k = 0; k < ln_param_numel(i); k++) {
            g[i][k] = (float)((double)w0[i][k] - (double)ln_param_data(m, i)[k]);
            norm += (double)g[i][k] * g[i][k];
            h0_moved |= strstr(ln_param_name(i), "h0") && g[i][k] != 0;
        }
    }
    /* the norm of the gradient recovered from rounded weights: 1e-5 relative (the weights' rounding, 6e-8 each) */
    check(fabs(sqrt(norm) - ln_grad_norm(m)) <= 1e-5 * ln_grad_norm(m), "ln_grad_norm = the norm of the step's change");
    check(h0_moved, "the learned initial state is not zero after the step");
    if (write_npy(bin, argv[2], "loss.npy", &loss, "<f4", 4, 0, 0, 0, 0) || write_grads(argv[2], g))
        return die(NULL, "write");

    /* 3, 4 */
    if (stream(m)) return 1;
    bad_lengths(m);
    if (fclose(bin)) return die(NULL, "lengths.bin");
    ln_free(m);
    return failed;
}
