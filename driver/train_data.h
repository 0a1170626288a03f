/* train_data.h - the datasets of `rnnc train`: loading them (text, csv,
 * npy), binding them to a model's inputs and targets, splitting off the
 * eval part, shuffling and cutting batches and TBPTT segments.
 *
 * Two kinds of data:
 *   - streams (text, csv): one long sequence of tokens or rows, cut into B
 *     parallel streams (the char-rnn batching): stream b is the b-th of B
 *     equal pieces, and "item" j of an epoch is the j-th seq_len-long chunk
 *     of every stream at once.  Input at step t is element t, target is
 *     element t + 1 (the next character, the next row).
 *   - examples (npy): arrays [T, N, ...] (sequences, time-major) or [N, ...]
 *     (one value per example); an item is one example and a batch is B
 *     items.
 * The eval part is the end of the stream, or the last examples.
 * Every failure returns -1 with a message naming the file in err. */
#ifndef RNNC_TRAIN_DATA_H
#define RNNC_TRAIN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "frontend/train_keys.h"
#include "ir/ir.h"
#include "exec/rng.h"
#include "io/tensor.h"

typedef enum { DATA_TEXT, DATA_CSV, DATA_NPY } DataKind;

#define DATA_MAX_ARRAYS TRAIN_DATA_MAX_ARRAYS /* what npy(...) may name */

typedef struct Dataset {
    DataKind kind;
    char path[512]; /* text, csv: the file; npy: the first file */
    /* text: token ids, each an index into vocab (sorted distinct bytes) */
    int64_t *tokens;
    int64_t ntokens;
    unsigned char vocab[256];
    int nvocab;
    /* csv: nrows x ncols floats, row-major */
    float *values;
    int64_t nrows;
    int ncols;
    /* npy: one array per model input or target */
    int narrays;
    char *names[DATA_MAX_ARRAYS];
    char *paths[DATA_MAX_ARRAYS];
    Tensor arrays[DATA_MAX_ARRAYS];
    int is_seq[DATA_MAX_ARRAYS]; /* set by data_bind                  */
    int64_t nexamples;           /* N, set by data_bind               */
    int64_t seq_T;               /* T of the sequence arrays, or 0     */
    /* set by data_bind for streams: the model's input and target */
    const char *in_name, *tgt_name;
    int in_feat, tgt_feat; /* csv: F and G                      */
} Dataset;

/* One part of the data (train or eval) cut into items and batches. */
typedef struct DataSplit {
    int64_t start, len; /* streams: tokens/rows; npy: examples          */
    int64_t batch;      /* B (streams: the number of parallel streams)  */
    int64_t seq_len;    /* steps of one item                            */
    int64_t stream_len; /* streams: S = (len - 1) / B                   */
    int64_t nitems;     /* what an epoch permutes: chunks or examples   */
    int64_t nbatches;   /* batches of an epoch                          */
    int partial;        /* npy eval: the last batch may be smaller      */
} DataSplit;

int data_load_text(Dataset *d, const char *path, char *err, size_t errlen);
int data_load_csv(Dataset *d, const char *path, char *err, size_t errlen);
/* names[i] is the model input or target that paths[i] is bound to. */
int data_load_npy(Dataset *d, const char *const *names, const char *const *paths, int n, char *err, size_t errlen);
void data_free(Dataset *d);

/* Checks that the data fits model m (which inputs and targets it needs,
 * their types, the vocabulary against the embedding table) and records
 * the binding.  Returns 0 or -1. */
int data_bind(Dataset *d, const IrModule *m, char *err, size_t errlen);

/* The sequence length the data gives when none is set (npy: T), or 0. */
int64_t data_default_seq_len(const Dataset *d);

/* Splits off the last `eval_frac` of the data (0 <= eval_frac < 1) and
 * cuts both parts into batches of `batch` items of `seq_len` steps.  The
 * train part must give at least one batch; the eval part may be empty
 * (nbatches 0).  Returns 0 or -1. */
int data_split(const Dataset *d, double eval_frac, int64_t batch, int64_t seq_len, DataSplit *train, DataSplit *eval,
               char *err, size_t errlen);

/* perm[0..n) = a uniformly shuffled 0..n-1 (Fisher-Yates), or 0..n-1 in
 * order with rng NULL (shuffle = false). */
void data_shuffle(int64_t *perm, int64_t n, RtRng *rng);

/* The tensors of steps [t0, t0 + tlen) of batch j, with the items of the
 * batch taken from perm (NULL: in order), put into `out` under the model's
 * input and target names.  Returns 0 or -1. */
int data_batch(const Dataset *d, const DataSplit *sp, const int64_t *perm, int64_t j, int64_t t0, int64_t tlen,
               TensorMap *out, char *err, size_t errlen);

/* The number of items of batch j (npy eval batches may be partial). */
int64_t data_batch_size(const DataSplit *sp, int64_t j);

#endif
