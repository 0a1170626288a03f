/* charlm_api.c - drives every state path of a compiled model's API on
 * examples/many_to_many.rnn (charlm: embedding, 2-layer LSTM, truncated
 * BPTT in its train block), compiled with --train:
 *
 *     charlm_api W.safetensors OUTDIR
 *
 * Training steps that carry the recurrent state from one call to the next
 * (tbptt), one that fails on a token out of range (the model must stay as
 * it was), a reset, the streaming step over a sequence, a call with another
 * batch size, the forward pass, and the weights saved at the end.  Every
 * number goes to OUTDIR/charlm.bin; tests/deploy/run.sh builds it on the C
 * file and on the object of --emit=obj and compares the two files byte by
 * byte.  Exits 1 on an unexpected status. */
#include <stdio.h>
#include <string.h>

#include "charlm.h"

enum { T = 6, B = 2, V = 65 };

static int fails;
static FILE *out;

static void expect(int got, int want, const char *what, charlm_model *m)
{
    if (got != want) {
        printf("FAIL %s: status %d, expected %d (%s)\n", what, got, want, charlm_errmsg(m));
        fails++;
    }
}

static void put(const void *p, size_t bytes) { fwrite(p, 1, bytes, out); }

int main(int argc, char **argv)
{
    static int64_t tok[T * B], next[T * B];
    static float probs[T * B * V], sprobs[B * V];
    char err[256], path[1024];
    charlm_model *m;
    float loss;
    if (argc != 3) {
        fprintf(stderr, "usage: %s W.safetensors OUTDIR\n", argv[0]);
        return 2;
    }
    snprintf(path, sizeof path, "%s/charlm.bin", argv[2]);
    if (!(out = fopen(path, "wb"))) return 2;
    charlm_sizes max = {.batch = B, .T_tokens = T};
    if (charlm_create(&m, &max, err, sizeof err)) {
        printf("FAIL create: %s\n", err);
        return 1;
    }
    expect(charlm_load_weights(m, argv[1]), charlm_OK, "load", m);

    charlm_sizes n = {.batch = B, .T_tokens = T};
    charlm_inputs in = {.tokens = tok};
    charlm_targets tg = {.next = next};
    charlm_outputs o = {.probs = probs};
    for (int s = 0; s < 4; s++) {
        for (int i = 0; i < T * B; i++) {
            tok[i] = (i * 7 + s * 13) % V;
            next[i] = (i * 7 + s * 13 + 1) % V;
        }
        if (s == 2) { /* a bad token: status DATA, nothing changes */
            tok[5] = V;
            expect(charlm_train_step(m, &n, &in, &tg, &loss), charlm_ERR_DATA, "train step, bad token", m);
            put(charlm_errmsg(m), strlen(charlm_errmsg(m)));
            tok[5] = 4;
        }
        expect(charlm_train_step(m, &n, &in, &tg, &loss), charlm_OK, "train step", m);
        put(&loss, sizeof loss);
        float g = charlm_grad_norm(m);
        int64_t k = charlm_steps_done(m);
        put(&g, sizeof g);
        put(&k, sizeof k);
        if (s == 1) charlm_reset(m);
    }
    /* Streaming: one step at a time, then another batch size. */
    for (int t = 0; t < T; t++) {
        expect(charlm_step(m, B, &in, &(charlm_outputs){.probs = sprobs}), charlm_OK, "step", m);
        put(sprobs, sizeof(float) * B * V);
    }
    expect(charlm_step(m, 1, &in, &(charlm_outputs){.probs = sprobs}), charlm_OK, "step, batch 1", m);
    put(sprobs, sizeof(float) * V);
    n.T_tokens = T - 1;
    expect(charlm_forward(m, &n, &in, &o), charlm_OK, "forward", m);
    put(probs, sizeof(float) * (T - 1) * B * V);
    for (int i = 0; i < charlm_num_params(); i++)
        put(charlm_param_data(m, i), sizeof(float) * (size_t)charlm_param_numel(i));
    snprintf(path, sizeof path, "%s/charlm.safetensors", argv[2]);
    expect(charlm_save_weights(m, path), charlm_OK, "save", m);
    charlm_free(m);
    fclose(out);
    return fails ? 1 : 0;
}
