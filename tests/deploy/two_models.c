/* two_models.c - two models compiled with different prefixes in one
 * program: the stacked LSTM forecaster (examples/stacked.rnn, prefix fa)
 * and the GRU sentiment classifier (examples/many_to_one.rnn, prefix sb).
 * Built with -DWITH_A, -DWITH_B or both; each model's outputs are written
 * as raw float32 files into OUTDIR, and tests/deploy/run.sh checks that the
 * program with both writes the same bytes as each program alone.
 *
 *     two_models WA.safetensors WB.safetensors OUTDIR
 *
 * With both, the calls interleave (A, B, A again) so that any state one
 * model left where the other could see it would change A's second run.
 * Model B also checks here that its streaming step ends where the forward
 * pass does, and that a token id out of range is refused with
 * sb_ERR_DATA. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef WITH_A
#include "fa.h"
#endif
#ifdef WITH_B
#include "sb.h"
#endif

static int save(const char *dir, const char *name, const float *x, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(x, sizeof *x, n, f) != n) return -1;
    return fclose(f);
}

#define CHECK(call, errmsg, m)                             \
    do {                                                   \
        if (call) {                                        \
            fprintf(stderr, "%s: %s\n", #call, errmsg(m)); \
            return 1;                                      \
        }                                                  \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: two_models WA WB OUTDIR\n");
        return 2;
    }
    const char *dir = argv[3];
    char err[256];
    int ok = 1;
    (void)err;
#ifdef WITH_A
    enum { TA = 10, BA = 2 };
    static float x[TA * BA * 3], yhat[TA * BA], hn[3 * BA * 32], cn[3 * BA * 32], yhat2[TA * BA];
    for (int i = 0; i < TA * BA * 3; i++) x[i] = (float)sin(0.37 * i);
    fa_model *a;
    fa_sizes amax = {.batch = BA, .T_x = TA}, an = {.batch = BA, .T_x = TA};
    if (fa_create(&a, &amax, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    CHECK(fa_load_weights(a, argv[1]), fa_errmsg, a);
    fa_inputs ain = {.x = x};
    fa_outputs aout = {.yhat = yhat, .hn = hn, .cn = cn};
    CHECK(fa_forward(a, &an, &ain, &aout), fa_errmsg, a);
#endif
#ifdef WITH_B
    enum { TB = 12, BB = 2 };
    static int64_t tok[TB * BB];
    static float probs[BB * 2], sprobs[BB * 2];
    for (int i = 0; i < TB * BB; i++) tok[i] = (i * 37 + 11) % 1000;
    sb_model *b;
    sb_sizes bmax = {.batch = 4, .T_tokens = 50}, bn = {.batch = BB, .T_tokens = TB};
    if (sb_create(&b, &bmax, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    CHECK(sb_load_weights(b, argv[2]), sb_errmsg, b);
    sb_inputs bin = {.tokens = tok};
    sb_outputs bout = {.probs = probs};
    CHECK(sb_forward(b, &bn, &bin, &bout), sb_errmsg, b);
    /* Streaming: after the last step, last(h) is the forward pass's. */
    sb_reset(b);
    for (int t = 0; t < TB; t++) {
        sb_inputs one = {.tokens = tok + t * BB};
        sb_outputs o1 = {.probs = sprobs};
        CHECK(sb_step(b, BB, &one, &o1), sb_errmsg, b);
    }
    for (int i = 0; i < BB * 2; i++)
        /* The same operations in another grouping (one GEMM for all steps'
         * inputs vs one a step): rounding of probabilities in [0, 1]. */
        if (fabs(sprobs[i] - probs[i]) > 1e-6) {
            fprintf(stderr, "sb_step: probability %d is %g after the last step, the forward pass gave %g\n", i,
                    sprobs[i], probs[i]);
            ok = 0;
        }
    tok[5] = 1000; /* vocab = 1000: out of range */
    int rc = sb_forward(b, &bn, &bin, &bout);
    if (rc != sb_ERR_DATA || !strstr(sb_errmsg(b), "sb_forward")) {
        fprintf(stderr, "a token id of 1000 gave status %d (%s), expected sb_ERR_DATA\n", rc, sb_errmsg(b));
        ok = 0;
    }
    tok[5] = (5 * 37 + 11) % 1000;
#endif
#ifdef WITH_A
    /* A again, after B ran: the same numbers. */
    aout.yhat = yhat2;
    CHECK(fa_forward(a, &an, &ain, &aout), fa_errmsg, a);
    if (memcmp(yhat, yhat2, sizeof yhat)) {
        fprintf(stderr, "fa_forward gave other numbers the second time\n");
        ok = 0;
    }
    if (save(dir, "a_yhat.bin", yhat, TA * BA) || save(dir, "a_hn.bin", hn, 3 * BA * 32) ||
        save(dir, "a_cn.bin", cn, 3 * BA * 32))
        ok = 0;
    fa_free(a);
#endif
#ifdef WITH_B
    if (save(dir, "b_probs.bin", probs, BB * 2)) ok = 0;
    sb_free(b);
#endif
    return ok ? 0 : 1;
}
