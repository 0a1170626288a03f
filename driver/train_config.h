/* train_config.h - the settings of a training run: a model's `train` block
 * with the command line's --set key=value overrides applied on top, turned
 * into plain values (and the optimizer part into passes/train_step.h's
 * TrainConfig).  Which keys exist and what values they take is the table
 * of frontend/train_keys.h; their meaning is in docs/training.md. */
#ifndef RNNC_TRAIN_CONFIG_H
#define RNNC_TRAIN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "driver/train_data.h"
#include "frontend/ast.h"
#include "passes/train_step.h"

typedef struct TrainSettings {
    DataKind data_kind;
    int has_data;
    char data_path[512]; /* text, csv          */
    int ndata;           /* npy                */
    char data_names[DATA_MAX_ARRAYS][128];
    char data_paths[DATA_MAX_ARRAYS][512];
    char data_note[1400]; /* where the file names came from, for messages */
    int data_fell_back;   /* a file was found in the current directory, not beside the model */
    int64_t seq_len;      /* 0: not set (npy: T)                     */
    int64_t tbptt;        /* 0: not set (= seq_len)                  */
    int64_t tbptt_back;   /* 0: not set (= tbptt)                    */
    int64_t batch;
    int64_t epochs, steps; /* steps > 0 wins; else epochs (default 1)  */
    int64_t seed;
    int no_shuffle; /* shuffle = false: every epoch in the data's order */
    int64_t bucket; /* examples with lengths: batches a pool sorted by length (0: none) */
    int plot_log;   /* plot_log = true: the loss chart's y axis is log10 */
    int64_t log_every;
    int64_t checkpoint_every; /* 0: only at the end (and on Ctrl-C)      */
    int64_t eval_every;       /* 0: evaluate after every epoch           */
    double eval;              /* fraction held out                       */
    double lr;                /* top-level lr = ...; 0: not set          */
    TrainConfig opt;
} TrainSettings;

/* The defaults of the table of train_keys.h. */
void train_settings_default(TrainSettings *ts);

/* Applies every setting of train block t (may be NULL).  `file` names the
 * .rnn file in messages; a relative data file name is taken relative to
 * its folder.  Returns 0, or -1 with "file:line:col: message". */
int train_settings_block(TrainSettings *ts, const Decl *t, const char *file, char *err, size_t errlen);

/* Applies one "key=value" override; the value is parsed as in the language
 * (a number, a string, a call such as adam(lr=0.01)); a data file name is
 * relative to the current directory. */
int train_settings_set(TrainSettings *ts, const char *kv, char *err, size_t errlen);

/* Final checks and defaults that depend on each other (lr into the
 * optimizer, tbptt <= tbptt_back <= seq_len, eval_every needs eval).  Returns 0 or -1. */
int train_settings_finish(TrainSettings *ts, char *err, size_t errlen);

/* The checks of tbptt_back (part of train_settings_finish, and again
 * once seq_len is known from the data): given only with tbptt, at least
 * tbptt, at most seq_len (when set).  Returns 0 or -1. */
int train_settings_check_back(const TrainSettings *ts, char *err, size_t errlen);

#endif
