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
 *   - examples of lengths of their own (a model input `x : seq<..>
 *     lengths`): the same arrays, padded to the longest example, with the
 *     lengths [N] (npy's x_len array, or read by train_data_seqs.c from a
 *     text file of one example a line or a csv file of one a row).  A
 *     batch has the steps of its longest member only, and x.len.
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

#define DATA_MAX_ARRAYS  TRAIN_DATA_MAX_ARRAYS /* what npy(...) may name */
#define DATA_MAX_LENGTHS 4                     /* inputs with lengths of their own */

/* The lengths of a second (third, ...) input with lengths, as the first's
 * fields of Dataset below. */
typedef struct DataLengths {
    int64_t *lengths;
    const char *input;
    int64_t sym, T;
    int array;
} DataLengths;

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
    /* examples with lengths (data_bind): the arrays of len_sym's steps
     * (cut[k]) are padded to len_T; a batch takes its longest member's.
     * These are the first input with lengths (in the model's order);
     * an encoder-decoder's second side is more[0] (npy data only). */
    int64_t *lengths;      /* [N], each in 1..len_T, or NULL       */
    const char *len_input; /* the model's lengths input, "x.len"   */
    int64_t len_sym;       /* the length symbol (IR dim) of x      */
    int64_t len_T;         /* the padded arrays' T                 */
    int len_array;         /* arrays[len_array] held the lengths   */
    int nmore;             /* inputs with lengths after the first  */
    DataLengths more[DATA_MAX_LENGTHS - 1];
    int cut[DATA_MAX_ARRAYS]; /* 0, or 1 + the lengths' group (0: the first) */
    int cut_target;           /* 0, or 1 + the group of a target with lengths (a tagger, a decoder) */
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

/* Examples of lengths of their own for model m, which has one input with
 * lengths (train_data_seqs.c, docs/training.md "Examples of different
 * lengths"): a text file of one example a line, "LABEL<TAB>TOKENS", or a
 * csv file of one a row, a header naming the columns.  They load as npy
 * arrays (padded to the longest example) and their lengths, under the
 * model's names, for data_bind. */
int data_load_text_examples(Dataset *d, const char *path, const IrModule *m, char *err, size_t errlen);
int data_load_csv_examples(Dataset *d, const char *path, const IrModule *m, char *err, size_t errlen);

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
 * input and target names.  With lengths the arrays of their steps end at
 * the batch's longest member (data_batch_steps), t0 must be before it,
 * and the lengths are x.len [B] for the whole batch (t0 = 0, tlen at
 * least its steps), else (a TBPTT segment) the mask [n, B, 1] of each
 * example's steps in it, all zeros for one that ended before t0
 * (ir/lengths.h takes it).  Returns 0 or -1. */
int data_batch(const Dataset *d, const DataSplit *sp, const int64_t *perm, int64_t j, int64_t t0, int64_t tlen,
               TensorMap *out, char *err, size_t errlen);

/* The number of items of batch j (npy eval batches may be partial). */
int64_t data_batch_size(const DataSplit *sp, int64_t j);

/* ---- examples with lengths (d->lengths set) ---- */

/* The order of an epoch with bucketing (bucket > 0): perm (a shuffle
 * from data_shuffle, or 0..n-1 in order) keeps its first nbatches * batch
 * examples; they are cut into pools of `bucket` batches, each pool sorted
 * by length (stable: ties keep perm's order) and cut into batches, and the
 * batches are shuffled as whole blocks with rng (NULL: kept in order).
 * So a batch holds examples of similar lengths and every example of the
 * epoch is still in it once.  No-op for data without lengths.  Returns 0,
 * or -1 when out of memory (perm unchanged). */
int data_bucket(const Dataset *d, const DataSplit *sp, int64_t *perm, int64_t bucket, RtRng *rng);

/* perm[0..sp->nitems) = the part's items sorted by length (equal ones
 * in order), for evaluation: the eval loss is a mean over every item, so
 * their order is free, and sorted batches pad least.  Without lengths
 * 0..n-1.  Returns 0, or -1 when out of memory (perm then 0..n-1). */
int data_sort_items(const Dataset *d, const DataSplit *sp, int64_t *perm);

/* The steps of batch j: its longest member's length (d->lengths, the
 * first input with lengths), else the split's seq_len. */
int64_t data_batch_steps(const Dataset *d, const DataSplit *sp, const int64_t *perm, int64_t j);

/* The lengths input ("y.len") whose steps a target has (a tagger's, a
 * decoder's), or NULL. */
const char *data_target_lengths(const Dataset *d);

/* Adds batch j's real steps (sum of its lengths, of every input with
 * lengths) to *real and its computed steps (members x its steps, each
 * input's) to *all; the padding fraction is 1 - real / all.  Without
 * lengths both are members x seq_len. */
void data_batch_padding(const Dataset *d, const DataSplit *sp, const int64_t *perm, int64_t j, int64_t *real,
                        int64_t *all);

/* What the loss of steps [t0, t0 + tlen) of batch j is a mean over, to
 * weigh it in the mean over many: its real steps there when a target has
 * the lengths (a tagger), else its members (times tlen without
 * lengths). */
double data_loss_weight(const Dataset *d, const DataSplit *sp, const int64_t *perm, int64_t j, int64_t t0,
                        int64_t tlen);

#endif
