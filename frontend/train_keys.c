/* train_keys.c - the table of train settings and the checks of their
 * values (train_keys.h).  Messages say what the value must be, in the
 * words the docs use; the caller puts the place in front. */
#include "frontend/train_keys.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "frontend/suggest.h"

#define BIG ((double)TRAIN_MAX_INT)

/* clang-format off */
const TrainKey train_keys[TK_COUNT] = {
    {TK_DATA, "data", TV_DATA, 0, 0, 0, 0, 0, "required",
     "`text(\"f.txt\")`, `csv(\"f.csv\")`, `npy(NAME=\"f.npy\", ...)` or a file name",
     "the training data (see Data); a bare `\"f.csv\"` is csv, any other bare string text"},
    {TK_SEQ_LEN, "seq_len", TV_INT, 1, BIG, 0, 0, 0, "npy: the arrays' T; examples of different lengths: the longest; else 50", NULL,
     "steps of one training sequence"},
    {TK_TBPTT, "tbptt", TV_INT, 1, BIG, 0, 0, 0, "`seq_len` (no cutting)", NULL,
     "cut each sequence into segments of this many steps, one update each (truncated BPTT's k1)"},
    {TK_TBPTT_BACK, "tbptt_back", TV_INT, 1, BIG, 0, 0, 0, "`tbptt`", NULL,
     "back-propagate this many steps at each update, the `tbptt` new ones and the steps before them (k2 >= k1; see TBPTT)"},
    {TK_BATCH, "batch", TV_INT, 1, BIG, 0, 0, 1, NULL, NULL,
     "sequences per step (text/csv: parallel streams)"},
    {TK_EPOCHS, "epochs", TV_INT, 1, BIG, 0, 0, 0, "1, unless `steps` is given", NULL,
     "length of the run in whole epochs (of `epochs` and `steps`, the one given last counts)"},
    {TK_STEPS, "steps", TV_INT, 1, BIG, 0, 0, 0, "—", NULL,
     "length of the run in optimizer steps, which may end mid-epoch (of `epochs` and `steps`, the one given last counts)"},
    {TK_OPTIMIZER, "optimizer", TV_OPTIMIZER, 0, 0, 0, 0, 0, "`adam(lr=0.001)`",
     "`adam(lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0)` or `sgd(lr, momentum=0, weight_decay=0)`",
     "the optimizer and its arguments (PyTorch's); the first argument may be unnamed (`lr`)"},
    {TK_LR, "lr", TV_NUMBER, 0, INFINITY, 1, 0, 0, "—", NULL,
     "overrides the optimizer's `lr`"},
    {TK_CLIP, "clip", TV_CLIP, 0, 0, 0, 0, 0, "none", "`norm(N)`, `N` (the same), `value(V)` or `none`",
     "gradient clipping by global norm or by value; `--set clip=none` turns a block's off"},
    {TK_EVAL, "eval", TV_NUMBER, 0, 1, 0, 1, 0, NULL, NULL,
     "fraction of the data held out for evaluation"},
    {TK_EVAL_EVERY, "eval_every", TV_INT, 0, BIG, 0, 0, 0, NULL, NULL,
     "evaluate on the held-out part every this many steps and at the end, instead of after every epoch "
     "(0: after every epoch); needs `eval`"},
    {TK_SEED, "seed", TV_INT, 0, BIG, 0, 0, 0, NULL, NULL,
     "seeds the initial weights (the same as `rnnc init --seed N`) and the data order; `--seed` overrides it"},
    {TK_SHUFFLE, "shuffle", TV_BOOL, 0, 0, 0, 0, 0, "true", "`true` or `false`",
     "draw a new order of the training batches every epoch (see Batching); `false` keeps the data's order"},
    {TK_BUCKET, "bucket", TV_INT, 0, BIG, 0, 0, 0, NULL, NULL,
     "examples with lengths: sort them by length within pools of this many batches, so that a batch's examples "
     "have similar lengths (see Examples of different lengths; 0: no bucketing)"},
    {TK_LOG_EVERY, "log_every", TV_INT, 1, BIG, 0, 0, 10, NULL, NULL,
     "steps between log lines when stderr is not a terminal"},
    {TK_CHECKPOINT_EVERY, "checkpoint_every", TV_INT, 0, BIG, 0, 0, 0, NULL, NULL,
     "steps between checkpoints (0: only at the end and on Ctrl-C)"},
    {TK_PLOT_LOG, "plot_log", TV_BOOL, 0, 0, 0, 0, 0, "false", "`true` or `false`",
     "draw the loss chart `NAME.loss.svg` with a base-10 log loss axis"},
};

/* PyTorch's ranges (torch.optim refuses the others); lr comes first. */
static const TrainOptArg adam_args[] = {
    {TOA_LR, "lr", 0, INFINITY, 1, 0},
    {TOA_BETA1, "beta1", 0, 1, 0, 1},
    {TOA_BETA2, "beta2", 0, 1, 0, 1},
    {TOA_EPS, "eps", 0, INFINITY, 0, 0},
    {TOA_WEIGHT_DECAY, "weight_decay", 0, INFINITY, 0, 0},
};
static const TrainOptArg sgd_args[] = {
    {TOA_LR, "lr", 0, INFINITY, 1, 0},
    {TOA_MOMENTUM, "momentum", 0, INFINITY, 0, 0},
    {TOA_WEIGHT_DECAY, "weight_decay", 0, INFINITY, 0, 0},
};
/* clang-format on */

const TrainOptimizer train_optimizers[2] = {
    {"adam", adam_args, (int)(sizeof adam_args / sizeof adam_args[0])},
    {"sgd", sgd_args, (int)(sizeof sgd_args / sizeof sgd_args[0])},
};

const TrainKey *train_key_find(const char *name)
{
    for (int i = 0; i < TK_COUNT; i++)
        if (!strcmp(train_keys[i].name, name)) return &train_keys[i];
    return NULL;
}

const TrainOptimizer *train_optimizer_find(const char *name)
{
    for (size_t i = 0; i < sizeof train_optimizers / sizeof train_optimizers[0]; i++)
        if (!strcmp(train_optimizers[i].name, name)) return &train_optimizers[i];
    return NULL;
}

const TrainOptArg *train_opt_arg_find(const TrainOptimizer *o, const char *name)
{
    for (int i = 0; i < o->nargs; i++)
        if (!strcmp(o->args[i].name, name)) return &o->args[i];
    return NULL;
}

/* Appends to a message buffer; never overflows (truncates). */
static void add(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *msg, size_t n, const char *fmt, ...)
{
    size_t len = strlen(msg);
    if (len + 1 >= n) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + len, n - len, fmt, ap);
    va_end(ap);
}

void train_key_unknown(const char *name, char *msg, size_t n)
{
    Suggest sg;
    suggest_init(&sg, name);
    for (int i = 0; i < TK_COUNT; i++) suggest_add(&sg, train_keys[i].name);
    const char *near = suggest_best(&sg);
    snprintf(msg, n, "unknown train setting '%s'", name);
    if (near) {
        add(msg, n, "; did you mean '%s'?", near);
        return;
    }
    add(msg, n, "; the settings are");
    for (int i = 0; i < TK_COUNT; i++) add(msg, n, "%s %s", i ? "," : "", train_keys[i].name);
}

int train_value_number(const Expr *e, double *v)
{
    if (e->kind == EX_NUM) {
        *v = e->num;
        return 1;
    }
    if (e->kind == EX_NEG && e->lhs && e->lhs->kind == EX_NUM) {
        *v = -e->lhs->num;
        return 1;
    }
    return 0;
}

/* "a positive number", "a non-negative integer", "a number in [0, 1)":
 * what a value of this range must be, for messages. */
static void range_text(int integer, double min, double max, int min_open, int max_open, char *buf, size_t n)
{
    const char *what = integer ? "integer" : "number";
    if (!(isinf(max) || max >= BIG))
        snprintf(buf, n, "a %s in %c%g, %g%c", what, min_open ? '(' : '[', min, max, max_open ? ')' : ']');
    else if (min == 0 && !min_open)
        snprintf(buf, n, "a non-negative %s", what);
    else if ((min == 0 && min_open) || (integer && min == 1 && !min_open))
        snprintf(buf, n, "a positive %s", what);
    else
        snprintf(buf, n, "a %s %s %g", what, min_open ? "above" : "of at least", min);
}

static int in_range(double v, double min, double max, int min_open, int max_open)
{
    return isfinite(v) && (min_open ? v > min : v >= min) && (max_open ? v < max : v <= max);
}

static int fail(SrcLoc loc, SrcLoc *at, char *msg, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(SrcLoc loc, SrcLoc *at, char *msg, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, n, fmt, ap);
    va_end(ap);
    *at = loc;
    return -1;
}

static int is_int_literal(const Expr *e)
{
    return e->kind == EX_NUM ? e->is_int : e->lhs->is_int; /* e is a number: a literal or its negation */
}

static int check_number(const TrainKey *k, const Expr *e, SrcLoc *at, char *msg, size_t n)
{
    double v;
    int integer = k->kind == TV_INT;
    int ok = train_value_number(e, &v) && in_range(v, k->min, k->max, k->min_open, k->max_open);
    if (ok && integer) ok = is_int_literal(e) && v == floor(v);
    if (ok) return 0;
    char range[64];
    range_text(integer, k->min, k->max, k->min_open, k->max_open, range, sizeof range);
    return fail(e->loc, at, msg, n, "'%s' must be %s", k->name, range);
}

static int check_data(const Expr *e, SrcLoc *at, char *msg, size_t n)
{
    if (e->kind == EX_STR) return 0;
    if (e->kind != EX_CALL)
        return fail(e->loc, at, msg, n, "'data' must be text(\"file\"), csv(\"file\") or npy(NAME=\"file.npy\", ...)");
    if (!strcmp(e->name, "text") || !strcmp(e->name, "csv")) {
        if (e->nargs != 1 || e->args[0].name || e->args[0].value->kind != EX_STR)
            return fail(e->loc, at, msg, n, "%s(...) takes one file name in quotes", e->name);
        return 0;
    }
    if (!strcmp(e->name, "npy")) {
        if (e->nargs < 1 || e->nargs > TRAIN_DATA_MAX_ARRAYS)
            return fail(e->loc, at, msg, n, "npy(...) takes NAME=\"file.npy\" for each input and target (1 to %d)",
                        TRAIN_DATA_MAX_ARRAYS);
        for (int i = 0; i < e->nargs; i++) {
            const Arg *a = &e->args[i];
            if (!a->name || a->value->kind != EX_STR)
                return fail(a->value->loc, at, msg, n,
                            "npy(...) takes NAME=\"file.npy\" arguments, one for each input and target");
            for (int j = 0; j < i; j++)
                if (!strcmp(e->args[j].name, a->name))
                    return fail(a->loc, at, msg, n, "npy(...) names '%s' twice", a->name);
        }
        return 0;
    }
    return fail(e->loc, at, msg, n, "unknown data source '%s': expected text(...), csv(...) or npy(...)", e->name);
}

static int check_optimizer(const Expr *e, SrcLoc *at, char *msg, size_t n)
{
    const TrainOptimizer *o = NULL;
    if (e->kind == EX_CALL || e->kind == EX_IDENT) o = train_optimizer_find(e->name);
    if (!o) return fail(e->loc, at, msg, n, "unknown optimizer: expected sgd(...) or adam(...)");
    for (int i = 0; e->kind == EX_CALL && i < e->nargs; i++) {
        const Arg *a = &e->args[i];
        const char *name = a->name ? a->name : i == 0 ? o->args[0].name : NULL;
        if (!name) return fail(a->loc, at, msg, n, "only the first argument of %s(...) may be unnamed (lr)", o->name);
        const TrainOptArg *oa = train_opt_arg_find(o, name);
        if (!oa) {
            fail(a->loc, at, msg, n, "unknown argument '%s' of %s(...) (", name, o->name);
            for (int j = 0; j < o->nargs; j++) add(msg, n, "%s%s", j ? ", " : "", o->args[j].name);
            add(msg, n, ")");
            return -1;
        }
        for (int j = 0; j < i; j++) {
            const char *other = e->args[j].name ? e->args[j].name : o->args[0].name;
            if (!strcmp(other, name)) return fail(a->loc, at, msg, n, "%s(...) is given '%s' twice", o->name, name);
        }
        double v;
        if (!train_value_number(a->value, &v))
            return fail(a->value->loc, at, msg, n, "%s(...) takes numbers as arguments", o->name);
        if (!in_range(v, oa->min, oa->max, oa->min_open, oa->max_open)) {
            char range[64];
            range_text(0, oa->min, oa->max, oa->min_open, oa->max_open, range, sizeof range);
            return fail(a->value->loc, at, msg, n, "'%s' of %s(...) must be %s", name, o->name, range);
        }
    }
    return 0;
}

static int check_clip(const Expr *e, SrcLoc *at, char *msg, size_t n)
{
    double v;
    const Expr *bound = e;
    if (e->kind == EX_IDENT && !strcmp(e->name, "none")) return 0;
    if (e->kind == EX_CALL && (!strcmp(e->name, "norm") || !strcmp(e->name, "value"))) {
        if (e->nargs != 1 || e->args[0].name) return fail(e->loc, at, msg, n, "%s(...) takes one number", e->name);
        bound = e->args[0].value;
        if (!train_value_number(bound, &v)) return fail(bound->loc, at, msg, n, "%s(...) takes one number", e->name);
    } else if (!train_value_number(e, &v)) {
        return fail(e->loc, at, msg, n, "'clip' must be norm(N), value(V), a number or none");
    }
    if (!train_value_number(bound, &v) || !in_range(v, 0, INFINITY, 1, 0))
        return fail(bound->loc, at, msg, n, "'clip' must be positive");
    return 0;
}

static int check_bool(const TrainKey *k, const Expr *e, SrcLoc *at, char *msg, size_t n)
{
    if (e->kind == EX_IDENT && (!strcmp(e->name, "true") || !strcmp(e->name, "false"))) return 0;
    return fail(e->loc, at, msg, n, "'%s' must be true or false", k->name);
}

int train_key_check(const TrainKey *k, const Expr *e, SrcLoc *at, char *msg, size_t n)
{
    switch (k->kind) {
    case TV_INT:
    case TV_NUMBER: return check_number(k, e, at, msg, n);
    case TV_DATA: return check_data(e, at, msg, n);
    case TV_OPTIMIZER: return check_optimizer(e, at, msg, n);
    case TV_CLIP: return check_clip(e, at, msg, n);
    case TV_BOOL: return check_bool(k, e, at, msg, n);
    }
    return fail(e->loc, at, msg, n, "internal error: setting '%s' has no kind", k->name);
}

void train_key_default_text(const TrainKey *k, char *buf, size_t n)
{
    if (k->def_doc)
        snprintf(buf, n, "%s", k->def_doc);
    else
        snprintf(buf, n, "%g", k->def);
}

void train_key_value_text(const TrainKey *k, char *buf, size_t n)
{
    if (k->forms)
        snprintf(buf, n, "%s", k->forms);
    else
        range_text(k->kind == TV_INT, k->min, k->max, k->min_open, k->max_open, buf, n);
}
