/* train_config.c - the settings of `rnnc train` from a train block and
 * --set overrides (train_config.h).  Values are syntax trees (Expr): the
 * block's come from the parsed file, an override's from parsing
 * "train _ { key = value }" with the same parser.  Every value is checked
 * by frontend/train_keys.c, the checker sema uses, so the model and the
 * command line accept exactly the same keys and values; this file only
 * turns a checked value into fields. */
#include "driver/train_config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The field of an integer or number setting; NULL for the others.  A
 * switch without default, so the compiler names a key added to the table
 * but not here. */
static int64_t *int_field(TrainSettings *ts, TrainKeyId id)
{
    switch (id) {
    case TK_SEQ_LEN: return &ts->seq_len;
    case TK_TBPTT: return &ts->tbptt;
    case TK_TBPTT_BACK: return &ts->tbptt_back;
    case TK_BATCH: return &ts->batch;
    case TK_EPOCHS: return &ts->epochs;
    case TK_STEPS: return &ts->steps;
    case TK_EVAL_EVERY: return &ts->eval_every;
    case TK_SEED: return &ts->seed;
    case TK_LOG_EVERY: return &ts->log_every;
    case TK_CHECKPOINT_EVERY: return &ts->checkpoint_every;
    case TK_BUCKET: return &ts->bucket;
    case TK_SHUFFLE:
    case TK_PLOT_LOG:
    case TK_DATA:
    case TK_OPTIMIZER:
    case TK_LR:
    case TK_CLIP:
    case TK_EVAL:
    case TK_COUNT: return NULL;
    }
    return NULL;
}

static double *number_field(TrainSettings *ts, TrainKeyId id)
{
    switch (id) {
    case TK_LR: return &ts->lr;
    case TK_EVAL: return &ts->eval;
    case TK_DATA:
    case TK_SEQ_LEN:
    case TK_TBPTT:
    case TK_TBPTT_BACK:
    case TK_BATCH:
    case TK_EPOCHS:
    case TK_STEPS:
    case TK_OPTIMIZER:
    case TK_CLIP:
    case TK_EVAL_EVERY:
    case TK_SEED:
    case TK_SHUFFLE:
    case TK_BUCKET:
    case TK_LOG_EVERY:
    case TK_CHECKPOINT_EVERY:
    case TK_PLOT_LOG:
    case TK_COUNT: return NULL;
    }
    return NULL;
}

static double *opt_field(TrainConfig *c, TrainOptArgId id)
{
    switch (id) {
    case TOA_LR: return &c->lr;
    case TOA_MOMENTUM: return &c->momentum;
    case TOA_WEIGHT_DECAY: return &c->weight_decay;
    case TOA_BETA1: return &c->beta1;
    case TOA_BETA2: return &c->beta2;
    case TOA_EPS: return &c->eps;
    }
    return NULL;
}

void train_settings_default(TrainSettings *ts)
{
    memset(ts, 0, sizeof *ts);
    for (int i = 0; i < TK_COUNT; i++) {
        const TrainKey *k = &train_keys[i];
        int64_t *ip = int_field(ts, k->id);
        double *dp = number_field(ts, k->id);
        if (ip) *ip = (int64_t)k->def;
        if (dp) *dp = k->def;
    }
    ts->opt = train_config_default();
}

/* A relative file name in a train block is relative to the folder of the
 * model file (dir, "" for the current directory), as a C #include's is
 * to its file, so that `rnnc train` of a model works from any folder; one
 * of --set is relative to the current directory, where it was typed.
 * Models written before this rule named files from the current
 * directory: when the name is not found beside the model but is found
 * there, that file is used and *fell_back is set (the caller says so). */
static int set_path(char *dst, size_t n, const char *src, const char *dir, const char *where, int *fell_back, char *err,
                    size_t errlen)
{
    if (src[0] == '/') dir = "";
    const char *sep = dir[0] && dir[strlen(dir) - 1] != '/' ? "/" : ""; /* "/" is a folder too */
    size_t a = strlen(dir), b = strlen(sep), c = strlen(src);
    if (a + b + c >= n) return ir_errf(err, errlen, "%s: file name too long", where);
    memcpy(dst, dir, a);
    memcpy(dst + a, sep, b);
    memcpy(dst + a + b, src, c + 1);
    if (dir[0] && access(dst, F_OK) != 0 && access(src, F_OK) == 0) {
        memcpy(dst, src, c + 1);
        *fell_back = 1;
    }
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* e is a checked data value: "f", text("f"), csv("f") or npy(NAME="f", ...);
 * file is the model file of a block, NULL for --set. */
static int apply_data(TrainSettings *ts, const Expr *e, const char *file, const char *where, char *err, size_t errlen)
{
    char dir[512] = "";
    const char *slash = file ? strrchr(file, '/') : NULL;
    if (slash && slash - file >= (ptrdiff_t)sizeof dir) return ir_errf(err, errlen, "%s: file name too long", where);
    if (slash) snprintf(dir, sizeof dir, "%.*s", slash == file ? 1 : (int)(slash - file), file);
    /* for the message of a file that cannot be opened (open_check, cmd_train.c) */
    if (file)
        snprintf(ts->data_note, sizeof ts->data_note,
                 "%s: a train block's file name is relative to the model file's folder, %s%s", where,
                 dir[0] ? dir : ".", dir[0] ? ", or else to the current directory" : "");
    else
        snprintf(ts->data_note, sizeof ts->data_note, "%s: relative to the current directory", where);
    ts->has_data = 1;
    ts->ndata = 0;
    ts->data_fell_back = 0;
    int *fb = &ts->data_fell_back;
    if (e->kind == EX_STR) {
        /* A bare file name: csv by its extension, else text. */
        ts->data_kind = ends_with(e->str, ".csv") ? DATA_CSV : DATA_TEXT;
        return set_path(ts->data_path, sizeof ts->data_path, e->str, dir, where, fb, err, errlen);
    }
    if (strcmp(e->name, "npy")) {
        ts->data_kind = e->name[0] == 't' ? DATA_TEXT : DATA_CSV;
        return set_path(ts->data_path, sizeof ts->data_path, e->args[0].value->str, dir, where, fb, err, errlen);
    }
    ts->data_kind = DATA_NPY;
    for (int i = 0; i < e->nargs; i++) {
        const Arg *a = &e->args[i];
        if (strlen(a->name) >= sizeof ts->data_names[0]) return ir_errf(err, errlen, "%s: name too long", where);
        snprintf(ts->data_names[i], sizeof ts->data_names[i], "%s", a->name);
        if (set_path(ts->data_paths[i], sizeof ts->data_paths[i], a->value->str, dir, where, fb, err, errlen))
            return -1;
    }
    ts->ndata = e->nargs;
    return 0;
}

/* e is a checked optimizer: adam, sgd or a call of one; arguments not
 * given keep PyTorch's defaults (train_config_default). */
static void apply_optimizer(TrainSettings *ts, const Expr *e)
{
    const TrainOptimizer *o = train_optimizer_find(e->name);
    TrainConfig c = train_config_default();
    c.opt = !strcmp(o->name, "sgd") ? OPT_SGD : OPT_ADAM;
    for (int i = 0; e->kind == EX_CALL && i < e->nargs; i++) {
        const Arg *a = &e->args[i];
        const TrainOptArg *oa = train_opt_arg_find(o, a->name ? a->name : o->args[0].name);
        train_value_number(a->value, opt_field(&c, oa->id));
    }
    ts->opt.opt = c.opt;
    ts->opt.lr = c.lr;
    ts->opt.momentum = c.momentum;
    ts->opt.weight_decay = c.weight_decay;
    ts->opt.beta1 = c.beta1;
    ts->opt.beta2 = c.beta2;
    ts->opt.eps = c.eps;
}

/* e is a checked clip: none, N, norm(N) or value(V). */
static void apply_clip(TrainSettings *ts, const Expr *e)
{
    if (e->kind == EX_IDENT) {
        ts->opt.clip = CLIP_NONE;
        ts->opt.clip_value = 0;
        return;
    }
    ts->opt.clip = e->kind == EX_CALL && !strcmp(e->name, "value") ? CLIP_VALUE : CLIP_NORM;
    train_value_number(e->kind == EX_CALL ? e->args[0].value : e, &ts->opt.clip_value);
}

/* Checks setting st with the table's checker, then applies it.  A
 * message starts with "file:line:col" (a block of `file`) or with
 * "--set key" (file NULL: an override). */
static int apply(TrainSettings *ts, const Stmt *st, const char *file, char *err, size_t errlen)
{
    char msg[512], where[600];
    const char *key = st->names[0];
    const Expr *e = st->value;
    const TrainKey *k = train_key_find(key);
    SrcLoc at = st->name_locs[0];
    int bad = 0;
    if (!k) {
        train_key_unknown(key, msg, sizeof msg);
        bad = 1;
    } else {
        bad = train_key_check(k, e, &at, msg, sizeof msg) != 0;
    }
    if (file)
        snprintf(where, sizeof where, "%s:%d:%d", file, at.line, at.col);
    else
        snprintf(where, sizeof where, "--set %.200s", key);
    if (bad) return ir_errf(err, errlen, "%s: %s", where, msg);
    int64_t *ip = int_field(ts, k->id);
    double *dp = number_field(ts, k->id), v = 0;
    train_value_number(e, &v);
    if (ip) *ip = (int64_t)v;
    if (dp) *dp = v;
    switch (k->id) {
    case TK_STEPS: ts->epochs = 0; break; /* of steps and epochs, the last one given wins */
    case TK_EPOCHS: ts->steps = 0; break;
    case TK_DATA: return apply_data(ts, e, file, where, err, errlen);
    case TK_OPTIMIZER: apply_optimizer(ts, e); break;
    case TK_CLIP: apply_clip(ts, e); break;
    case TK_SHUFFLE: ts->no_shuffle = !strcmp(e->name, "false"); break;
    case TK_PLOT_LOG: ts->plot_log = !strcmp(e->name, "true"); break;
    default: break;
    }
    return 0;
}

int train_settings_block(TrainSettings *ts, const Decl *t, const char *file, char *err, size_t errlen)
{
    for (int i = 0; t && i < t->nbody; i++) {
        const Stmt *st = t->body[i];
        if (st->kind != ST_SETTING || !st->value) continue;
        if (apply(ts, st, file, err, errlen)) return -1;
    }
    return 0;
}

int train_settings_set(TrainSettings *ts, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv || !eq[1]) return ir_errf(err, errlen, "--set needs key=value, got '%s'", kv);
    char where[300];
    snprintf(where, sizeof where, "--set %.*s", (int)(eq - kv) > 200 ? 200 : (int)(eq - kv), kv);
    size_t n = strlen(kv) + 32;
    char *src = malloc(n);
    if (!src) return ir_errf(err, errlen, "out of memory");
    /* Parsed as a one-setting train block: "train _ { key = value }". */
    snprintf(src, n, "train _ {\n%s\n}\n", kv);
    Diag d;
    FILE *sink = fopen("/dev/null", "w");
    diag_init(&d, where, src, sink ? sink : stderr);
    Program *p = parse_program(where, src, &d);
    int rc;
    if (!p || diag_errors(&d) || p->ndecls != 1 || p->decls[0]->nbody != 1 ||
        p->decls[0]->body[0]->kind != ST_SETTING || !p->decls[0]->body[0]->value) {
        rc = ir_errf(err, errlen, "%s: cannot parse '%s' (expected key=value, the value a number, \"string\" or call)",
                     where, kv);
    } else {
        rc = apply(ts, p->decls[0]->body[0], NULL, err, errlen);
    }
    if (p) ast_free(p);
    if (sink) fclose(sink);
    free(src);
    return rc;
}

int train_settings_finish(TrainSettings *ts, char *err, size_t errlen)
{
    if (!ts->has_data)
        return ir_errf(err, errlen,
                       "no training data: set data = text(\"file.txt\") in the train block or --set data=...");
    if (ts->lr > 0) ts->opt.lr = ts->lr;
    if (!ts->epochs && !ts->steps) ts->epochs = 1;
    if (ts->eval_every && !(ts->eval > 0))
        return ir_errf(err, errlen, "eval_every = %lld needs a held-out part to evaluate on: set eval = FRACTION",
                       (long long)ts->eval_every);
    if (ts->seq_len && ts->tbptt > ts->seq_len)
        return ir_errf(err, errlen, "tbptt = %lld is longer than seq_len = %lld", (long long)ts->tbptt,
                       (long long)ts->seq_len);
    return train_settings_check_back(ts, err, errlen);
}

int train_settings_check_back(const TrainSettings *ts, char *err, size_t errlen)
{
    if (!ts->tbptt_back) return 0;
    if (!ts->tbptt)
        return ir_errf(err, errlen, "tbptt_back = %lld needs tbptt, the new steps of each update (tbptt <= tbptt_back)",
                       (long long)ts->tbptt_back);
    if (ts->tbptt_back < ts->tbptt)
        return ir_errf(
            err, errlen,
            "tbptt_back = %lld is shorter than tbptt = %lld: an update back-propagates at least its new steps",
            (long long)ts->tbptt_back, (long long)ts->tbptt);
    if (ts->seq_len && ts->tbptt_back > ts->seq_len)
        return ir_errf(err, errlen, "tbptt_back = %lld is longer than seq_len = %lld", (long long)ts->tbptt_back,
                       (long long)ts->seq_len);
    return 0;
}
