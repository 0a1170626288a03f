/* train_keys.h - the table of train settings: every key a `train` block
 * (or `rnnc train --set key=value`) may give, the kind of value it takes,
 * its range or allowed forms, its default and a one-line doc.
 *
 * This is the one place that says which settings exist and what values
 * they accept.  sema checks a block with train_key_check() and reports
 * file:line:col errors; the driver (driver/train_config.c) checks each
 * value, --set overrides included, with the same call before it turns it
 * into a field of its settings, so a value is accepted by both or by
 * neither.  docs/training.md's table of settings is this table
 * (tests/unit/test_train_keys.c compares them). */
#ifndef RNNC_TRAIN_KEYS_H
#define RNNC_TRAIN_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "frontend/ast.h"

/* The largest value of an integer setting, 10^15 (exact in a double, far
 * inside int64), and so also the most steps a run may have, however
 * `epochs` makes them (docs/training.md, "Limits"). */
#define TRAIN_MAX_INT ((int64_t)1000000000000000)

typedef enum TrainKeyId {
    TK_DATA,
    TK_SEQ_LEN,
    TK_TBPTT,
    TK_TBPTT_BACK,
    TK_BATCH,
    TK_EPOCHS,
    TK_STEPS,
    TK_OPTIMIZER,
    TK_LR,
    TK_CLIP,
    TK_EVAL,
    TK_EVAL_EVERY,
    TK_SEED,
    TK_SHUFFLE,
    TK_BUCKET,
    TK_LOG_EVERY,
    TK_CHECKPOINT_EVERY,
    TK_PLOT_LOG,
    TK_COUNT
} TrainKeyId;

typedef enum TrainValueKind {
    TV_INT,       /* an integer in [min, max]                                 */
    TV_NUMBER,    /* a finite number in [min, max] (or open where *_open says) */
    TV_DATA,      /* text("f") | csv("f") | npy(NAME="f", ...) | "f"           */
    TV_OPTIMIZER, /* adam(...) | sgd(...), arguments as train_optimizers says  */
    TV_CLIP,      /* norm(N) | value(V) | N (a norm) | none                    */
    TV_BOOL,      /* true | false                                             */
} TrainValueKind;

typedef struct TrainKey {
    TrainKeyId id;
    const char *name;
    TrainValueKind kind;
    double min, max;        /* TV_INT, TV_NUMBER                    */
    int min_open, max_open; /* TV_NUMBER: bound excluded            */
    double def;             /* TV_INT, TV_NUMBER: the value a run
                                         starts from (0 may mean "not set")   */
    const char *def_doc;    /* the default in words; NULL: `def`    */
    const char *forms;      /* TV_DATA, TV_OPTIMIZER, TV_CLIP, TV_BOOL: the
                                         values (markdown); NULL for numbers  */
    const char *doc;        /* one line (markdown), as in the docs  */
} TrainKey;

/* The table, in the order the docs list it; train_keys[i].id == i. */
extern const TrainKey train_keys[TK_COUNT];

/* An argument of an optimizer call. */
typedef enum TrainOptArgId { TOA_LR, TOA_MOMENTUM, TOA_WEIGHT_DECAY, TOA_BETA1, TOA_BETA2, TOA_EPS } TrainOptArgId;

typedef struct TrainOptArg {
    TrainOptArgId id;
    const char *name;
    double min, max;
    int min_open, max_open;
} TrainOptArg;

typedef struct TrainOptimizer {
    const char *name;        /* "adam", "sgd"                          */
    const TrainOptArg *args; /* args[0] is lr, which may be unnamed    */
    int nargs;
} TrainOptimizer;

extern const TrainOptimizer train_optimizers[2];

/* npy(NAME="f.npy", ...) names at most this many arrays. */
#define TRAIN_DATA_MAX_ARRAYS 16

/* The entry of key `name`, or NULL. */
const TrainKey *train_key_find(const char *name);
/* The optimizer called `name`, or NULL; an argument of it, or NULL. */
const TrainOptimizer *train_optimizer_find(const char *name);
const TrainOptArg *train_opt_arg_find(const TrainOptimizer *o, const char *name);

/* "unknown train setting 'epoch'; did you mean 'epochs'?", or when no key
 * is near, "...; the settings are data, seq_len, ...". */
void train_key_unknown(const char *name, char *msg, size_t n);

/* The number `e` stands for (a literal, or minus one), if it is one. */
int train_value_number(const Expr *e, double *v);

/* Checks `e` as a value of key k.  Returns 0, or -1 with the message in
 * msg and in *at the place it is about (e or a part of it). */
int train_key_check(const TrainKey *k, const Expr *e, SrcLoc *at, char *msg, size_t n);

/* k's default as the docs show it ("1", "none", "`seq_len` (no cutting)"). */
void train_key_default_text(const TrainKey *k, char *buf, size_t n);
/* The values k takes, as the docs show them ("a positive integer",
 * "a number in [0, 1)", k->forms). */
void train_key_value_text(const TrainKey *k, char *buf, size_t n);

#endif
