/* api_checks.c - the failure paths of a compiled model's API, on the
 * stacked LSTM forecaster compiled with prefix fa:
 *
 *     api_checks GOOD.safetensors OTHER.safetensors BAD.safetensors...
 *
 * GOOD fits the model, OTHER is the weights of examples/many_to_one.rnn;
 * every BAD file is
 * a malformed safetensors file.  For each BAD file it prints one line
 * "<status> <message>" (tests/deploy/run.sh checks the status is
 * fa_ERR_FORMAT and the message names the file and the problem); the
 * other checks print "FAIL ..." and make the exit status 1. */
#include <stdio.h>
#include <string.h>

#include "fa.h"

static int fails;

static void expect(int got, int want, const char *what, fa_model *m)
{
    if (got != want) {
        printf("FAIL %s: status %d, expected %d (%s)\n", what, got, want, m ? fa_errmsg(m) : "");
        fails++;
    }
}

int main(int argc, char **argv)
{
    enum { T = 5, B = 2 };
    static float x[T * B * 3], yhat[T * B], hn[3 * B * 32], cn[3 * B * 32], yhat2[T * B];
    char err[256] = "";
    if (argc < 3) {
        fprintf(stderr, "usage: api_checks GOOD OTHER BAD...\n");
        return 2;
    }
    for (int i = 0; i < T * B * 3; i++) x[i] = (float)(i % 7) / 7.0f;

    fa_model *m = NULL;
    fa_sizes bad = {.batch = 0, .T_x = 8}, max = {.batch = B, .T_x = T}, n = max;
    expect(fa_create(&m, &bad, err, sizeof err), fa_ERR_ARG, "create with batch 0", NULL);
    if (m || !strstr(err, "batch")) {
        printf("FAIL create with batch 0: model %p, message '%s'\n", (void *)m, err);
        fails++;
    }
    /* Maxima too large for any machine: refused before any allocation,
     * whether the arena's size saturates int64 (2^40 x 2^40) or only
     * exceeds the machine (2^24 x 2^24: about 2^57 bytes). */
    fa_sizes huge = {.batch = (int64_t)1 << 40, .T_x = (int64_t)1 << 40};
    fa_sizes big = {.batch = (int64_t)1 << 24, .T_x = (int64_t)1 << 24};
    expect(fa_create(&m, &huge, err, sizeof err), fa_ERR_NOMEM, "create at 2^40 x 2^40", NULL);
    if (m || !strstr(err, "batch=1099511627776, T_x=1099511627776 needs more than 8 EiB of memory")) {
        printf("FAIL create at 2^40 x 2^40: model %p, message '%s'\n", (void *)m, err);
        fails++;
    }
    expect(fa_create(&m, &big, err, sizeof err), fa_ERR_NOMEM, "create at 2^24 x 2^24", NULL);
    if (m || !strstr(err, "PiB of memory, more than this machine's")) {
        printf("FAIL create at 2^24 x 2^24: model %p, message '%s'\n", (void *)m, err);
        fails++;
    }
    expect(fa_create(&m, &max, err, sizeof err), fa_OK, "create", NULL);
    if (!m) return 1;

    fa_inputs in = {.x = x};
    fa_outputs out = {.yhat = yhat, .hn = hn, .cn = cn};
    expect(fa_forward(m, &n, &in, &out), fa_ERR_STATE, "forward before any weights", m);
    expect(fa_load_weights(m, "/nonexistent/w.safetensors"), fa_ERR_IO, "load a missing file", m);
    expect(fa_load_weights(m, argv[2]), fa_ERR_WEIGHTS, "load another model's weights", m);
    /* Its first parameter has the name of ours but another shape. */
    if (!strstr(fa_errmsg(m), argv[2]) ||
        !strstr(fa_errmsg(m), "parameter 'h.weight_ih_l0' has shape [192, 32], the model needs [128, 3]")) {
        printf("FAIL another model's weights: message '%s'\n", fa_errmsg(m));
        fails++;
    }
    expect(fa_load_weights(m, argv[1]), fa_OK, "load", m);
    expect(fa_forward(m, &n, &in, &out), fa_OK, "forward", m);

    fa_sizes longer = {.batch = B, .T_x = T + 1};
    expect(fa_forward(m, &longer, &in, &out), fa_ERR_ARG, "forward longer than the maximum", m);
    if (!strstr(fa_errmsg(m), "T_x = 6")) {
        printf("FAIL longer: message '%s'\n", fa_errmsg(m));
        fails++;
    }
    fa_inputs none = {.x = NULL};
    expect(fa_forward(m, &n, &none, &out), fa_ERR_ARG, "forward with a NULL input", m);
    expect(fa_step(m, B + 1, &in, &out), fa_ERR_ARG, "step with a batch above the maximum", m);

    /* A malformed file changes nothing: the weights stay and give the same outputs. */
    for (int i = 3; i < argc; i++) {
        int rc = fa_load_weights(m, argv[i]);
        printf("%d %s\n", rc, fa_errmsg(m));
    }
    out.yhat = yhat2;
    expect(fa_forward(m, &n, &in, &out), fa_OK, "forward after the malformed files", m);
    if (memcmp(yhat, yhat2, sizeof yhat)) {
        printf("FAIL the malformed files changed the weights\n");
        fails++;
    }
    expect(fa_num_params(), 14, "number of parameters", m);
    if (strcmp(fa_param_name(0), "h.weight_ih_l0") || fa_param_rank(0) != 2 || fa_param_dims(0)[0] != 128 ||
        fa_param_numel(0) != 128 * 3 || !fa_param_data(m, 0) || fa_param_name(14)) {
        printf("FAIL parameter getters\n");
        fails++;
    }
    fa_free(m);
    return fails ? 1 : 0;
}
