/* fuzz_traindata.c - the data of `rnnc train` on any bytes: a file read
 * as text, CSV or npy (driver/train_data.c), bound to a model, split into
 * train and eval parts and cut into batches as the training loop does.
 *
 * The input: byte 0 picks the kind (mod 6: text, csv, npy, and text and
 * csv examples of different lengths, train_data_seqs.c, and an
 * encoder-decoder's text, SOURCE<TAB>TARGET), byte 1 the
 * batch (1..8), byte 2 seq_len (0: the data's own, else 1..15), byte 3
 * the eval fraction (0, 1/4, 1/2, 3/4); the rest is the file.  For npy it
 * is two files, x and y, cut where the second "\x93NUMPY" begins.  Each
 * kind has its model (below): text a character model, csv and npy a
 * sequence regression (npy: one target per example), the examples a
 * classifier with lengths (and an encoder-decoder's).  Every batch's
 * first and last segment of an epoch is cut (examples: of the batch's own
 * steps, its longest member's, the TBPTT segments the driver cuts, and the
 * whole batch), shuffled (and examples bucketed) as training does. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/train_data.h"
#include "frontend/ast.h"
#include "frontend/sema.h"
#include "fuzz_util.h"

enum { KINDS = 6, TEXT_EXAMPLES = 3, CSV_EXAMPLES = 4, TEXT_SEQ2SEQ = 5 };
static const char *const sources[KINDS] = {
    "model t {\n  input tokens : seq<int>\n  target next : seq<int>\n"
    "  e = embedding(tokens, vocab=256, dim=2)\n  h = rnn(e, hidden=2)\n"
    "  logits = dense(h, 256)\n  output logits\n  loss = cross_entropy(logits, next)\n}\n",
    "model c {\n  input x : seq<[2]>\n  target y : seq<[1]>\n  h = rnn(x, hidden=2)\n"
    "  yhat = dense(h, 1)\n  output yhat\n  loss = mse(yhat, y)\n}\n",
    "model n {\n  input x : seq<[2]>\n  target y : [1]\n  h = rnn(x, hidden=2)\n"
    "  yhat = dense(last(h), 1)\n  output yhat\n  loss = mse(yhat, y)\n}\n",
    "model e {\n  input x : seq<int, 64> lengths\n  target y : int\n  e = embedding(x, vocab=300, dim=2)\n"
    "  h = rnn(e, hidden=2)\n  logits = dense(last(h), 8)\n  loss = cross_entropy(logits, y)\n}\n",
    "model v {\n  input x : seq<[2], 64> lengths\n  target y : seq<int>\n  h = rnn(x, hidden=2)\n"
    "  logits = dense(h, 8)\n  loss = cross_entropy(logits, y)\n}\n",
    "model s {\n  input s : seq<int, 64> lengths\n  input ti : seq<int, 65> lengths\n  target to : seq<int>\n"
    "  e = embedding(s, vocab=300, dim=2)\n  h = rnn(e, hidden=2)\n  f = embedding(ti, vocab=300, dim=2)\n"
    "  g = rnn(f, hidden=2, init=h)\n  logits = dense(g, 300)\n  loss = cross_entropy(logits, to)\n}\n",
};
static IrModule *models[KINDS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    for (int k = 0; k < KINDS; k++) {
        Diag d;
        diag_init(&d, "model.rnn", sources[k], stderr);
        Program *p = parse_program("model.rnn", sources[k], &d);
        models[k] = p ? sema_build(p, NULL, &d) : NULL;
        if (!models[k]) abort();
        ast_free(p);
    }
    return 0;
}

/* Cuts batch j's segments [0, seg) and [T - seg, T), T its steps (with
 * lengths its longest member's, data_batch_steps), and with lengths the
 * whole batch too. */
static void cut(const Dataset *d, const DataSplit *sp, const int64_t *perm, int64_t j)
{
    char err[512];
    int64_t T = data_batch_steps(d, sp, perm, j), seg = T > 1 ? T / 2 : 1;
    for (int k = 0; k < (d->lengths ? 3 : 2); k++) {
        TensorMap out;
        rt_map_init(&out);
        int64_t t0 = k == 1 ? T - seg : 0, n = k == 2 ? sp->seq_len : seg;
        if (d->nmore && k < 2) continue; /* an encoder-decoder is never cut (cmd_train.c) */
        if (data_batch(d, sp, perm, j, t0, n, &out, err, sizeof err)) {
            fprintf(stderr, "fuzz_traindata: batch %lld of a valid split: %s\n", (long long)j, err);
            abort();
        }
        rt_map_free(&out);
    }
}

static void batches(const Dataset *d, const DataSplit *sp, int shuffle)
{
    if (sp->nbatches < 1) return;
    int64_t *perm = NULL;
    if (shuffle) {
        RtRng rng;
        rt_rng_seed(&rng, 1);
        perm = malloc((size_t)sp->nitems * sizeof *perm);
        if (!perm) return;
        data_shuffle(perm, sp->nitems, &rng);
        if (data_bucket(d, sp, perm, 2, &rng)) abort();
    }
    cut(d, sp, perm, 0);
    cut(d, sp, perm, sp->nbatches - 1);
    free(perm);
}

static const uint8_t *find_magic(const uint8_t *p, size_t n)
{
    static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
    for (size_t i = 1; i + 6 <= n; i++)
        if (!memcmp(p + i, magic, 6)) return p + i;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    int kind = data[0] % KINDS;
    int64_t batch = 1 + data[1] % 8, seq_len = data[2] % 16;
    double eval = (data[3] % 4) / 4.0;
    data += 4, size -= 4;
    Dataset d;
    char err[1024] = "";
    int rc;
    if (kind == DATA_NPY) {
        const uint8_t *y = find_magic(data, size);
        size_t nx = y ? (size_t)(y - data) : size;
        const char *names[2] = {"x", "y"};
        const char *paths[2] = {fz_write("x.npy", data, nx), fz_write("y.npy", y, y ? size - nx : 0)};
        rc = data_load_npy(&d, names, paths, 2, err, sizeof err);
    } else if (kind == TEXT_EXAMPLES || kind == TEXT_SEQ2SEQ) {
        rc = data_load_text_examples(&d, fz_write("ex.txt", data, size), models[kind], err, sizeof err);
    } else if (kind == CSV_EXAMPLES) {
        rc = data_load_csv_examples(&d, fz_write("ex.csv", data, size), models[kind], err, sizeof err);
    } else if (kind == DATA_CSV) {
        rc = data_load_csv(&d, fz_write("data.csv", data, size), err, sizeof err);
    } else {
        rc = data_load_text(&d, fz_write("data.txt", data, size), err, sizeof err);
    }
    if (rc) return 0; /* data_load_* freed what they read */
    if (!data_bind(&d, models[kind], err, sizeof err)) {
        if (!seq_len) seq_len = data_default_seq_len(&d);
        if (!seq_len) seq_len = 50;
        DataSplit train, ev;
        if (!data_split(&d, eval, batch, seq_len, &train, &ev, err, sizeof err)) {
            batches(&d, &train, 1);
            batches(&d, &ev, 0);
        }
    }
    data_free(&d);
    return 0;
}
