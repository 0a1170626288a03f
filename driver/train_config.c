/* train_config.c - the settings of `rnnc train` from a train block and
 * --set overrides (train_config.h).  Values are syntax trees (Expr): the
 * block's come from the parsed file, an override's from parsing
 * "train _ { key = value }" with the same parser, so both accept exactly
 * the same values. */
#include "driver/train_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void train_settings_default(TrainSettings *ts)
{
    memset(ts, 0, sizeof *ts);
    ts->batch = 1;
    ts->log_every = 10;
    ts->opt = train_config_default();
}

static int number(const Expr *e, double *v)
{
    if (e->kind == EX_NUM) { *v = e->num; return 1; }
    if (e->kind == EX_NEG && e->lhs && e->lhs->kind == EX_NUM) { *v = -e->lhs->num; return 1; }
    return 0;
}

static int set_path(char *dst, size_t n, const char *src, const char *where, char *err, size_t errlen)
{
    if (strlen(src) >= n) return ir_errf(err, errlen, "%s: file name too long", where);
    snprintf(dst, n, "%s", src);
    return 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int apply_data(TrainSettings *ts, const Expr *e, const char *where, char *err, size_t errlen)
{
    ts->has_data = 1;
    ts->ndata = 0;
    if (e->kind == EX_STR) {
        /* A bare file name: csv by its extension, else text. */
        ts->data_kind = ends_with(e->str, ".csv") ? DATA_CSV : DATA_TEXT;
        return set_path(ts->data_path, sizeof ts->data_path, e->str, where, err, errlen);
    }
    if (e->kind != EX_CALL)
        return ir_errf(err, errlen, "%s: 'data' must be text(\"file\"), csv(\"file\") or npy(NAME=\"file.npy\", ...)", where);
    if (!strcmp(e->name, "text") || !strcmp(e->name, "csv")) {
        if (e->nargs != 1 || e->args[0].name || e->args[0].value->kind != EX_STR)
            return ir_errf(err, errlen, "%s: %s(...) takes one file name in quotes", where, e->name);
        ts->data_kind = e->name[0] == 't' ? DATA_TEXT : DATA_CSV;
        return set_path(ts->data_path, sizeof ts->data_path, e->args[0].value->str, where, err, errlen);
    }
    if (!strcmp(e->name, "npy")) {
        ts->data_kind = DATA_NPY;
        if (e->nargs < 1 || e->nargs > DATA_MAX_ARRAYS)
            return ir_errf(err, errlen, "%s: npy(...) takes NAME=\"file.npy\" for each input and target (1 to %d)", where, DATA_MAX_ARRAYS);
        for (int i = 0; i < e->nargs; i++) {
            const Arg *a = &e->args[i];
            if (!a->name || a->value->kind != EX_STR)
                return ir_errf(err, errlen, "%s: npy(...) takes NAME=\"file.npy\" arguments, one for each input and target", where);
            if (strlen(a->name) >= sizeof ts->data_names[0]) return ir_errf(err, errlen, "%s: name too long", where);
            snprintf(ts->data_names[i], sizeof ts->data_names[i], "%s", a->name);
            if (set_path(ts->data_paths[i], sizeof ts->data_paths[i], a->value->str, where, err, errlen)) return -1;
        }
        ts->ndata = e->nargs;
        return 0;
    }
    return ir_errf(err, errlen, "%s: unknown data source '%s': expected text(...), csv(...) or npy(...)", where, e->name);
}

static int apply_optimizer(TrainSettings *ts, const Expr *e, const char *where, char *err, size_t errlen)
{
    const char *name = (e->kind == EX_CALL || e->kind == EX_IDENT) ? e->name : NULL;
    if (!name || (strcmp(name, "sgd") && strcmp(name, "adam")))
        return ir_errf(err, errlen, "%s: unknown optimizer: expected sgd(...) or adam(...)", where);
    TrainConfig c = train_config_default();
    double lr = c.lr;
    c.opt = name[0] == 's' ? OPT_SGD : OPT_ADAM;
    c.lr = lr;
    for (int i = 0; e->kind == EX_CALL && i < e->nargs; i++) {
        const Arg *a = &e->args[i];
        double v;
        if (!number(a->value, &v)) return ir_errf(err, errlen, "%s: %s(...) takes numbers as arguments", where, name);
        const char *k = a->name ? a->name : (i == 0 ? "lr" : NULL);
        if (!k) return ir_errf(err, errlen, "%s: only the first argument of %s(...) may be unnamed (lr)", where, name);
        int adam = c.opt == OPT_ADAM;
        if (!strcmp(k, "lr")) c.lr = v;
        else if (!strcmp(k, "weight_decay")) c.weight_decay = v;
        else if (!adam && !strcmp(k, "momentum")) c.momentum = v;
        else if (adam && !strcmp(k, "beta1")) c.beta1 = v;
        else if (adam && !strcmp(k, "beta2")) c.beta2 = v;
        else if (adam && !strcmp(k, "eps")) c.eps = v;
        else
            return ir_errf(err, errlen, "%s: unknown argument '%s' of %s(...) (%s)", where, k, name,
                        adam ? "lr, beta1, beta2, eps, weight_decay" : "lr, momentum, weight_decay");
        if (!strcmp(k, "lr") ? v <= 0 : v < 0) return ir_errf(err, errlen, "%s: %s must be %s", where, k, strcmp(k, "lr") ? "non-negative" : "positive");
        if ((!strcmp(k, "beta1") || !strcmp(k, "beta2")) && v >= 1) return ir_errf(err, errlen, "%s: %s must be below 1", where, k);
    }
    ts->opt.opt = c.opt;
    ts->opt.lr = c.lr;
    ts->opt.momentum = c.momentum;
    ts->opt.weight_decay = c.weight_decay;
    ts->opt.beta1 = c.beta1;
    ts->opt.beta2 = c.beta2;
    ts->opt.eps = c.eps;
    return 0;
}

static int apply_clip(TrainSettings *ts, const Expr *e, const char *where, char *err, size_t errlen)
{
    double v;
    if (e->kind == EX_IDENT && !strcmp(e->name, "none")) {
        /* Only reachable from --set: it turns a block's clipping off. */
        ts->opt.clip = CLIP_NONE;
        ts->opt.clip_value = 0;
        return 0;
    }
    if (number(e, &v)) {
        ts->opt.clip = CLIP_NORM;
    } else if (e->kind == EX_CALL && (!strcmp(e->name, "norm") || !strcmp(e->name, "value")) && e->nargs == 1 &&
               number(e->args[0].value, &v)) {
        ts->opt.clip = e->name[0] == 'n' ? CLIP_NORM : CLIP_VALUE;
    } else {
        return ir_errf(err, errlen, "%s: 'clip' must be norm(N), value(V), a number or none", where);
    }
    if (!(v > 0)) return ir_errf(err, errlen, "%s: 'clip' must be positive", where);
    ts->opt.clip_value = v;
    return 0;
}

static int apply(TrainSettings *ts, const char *key, const Expr *e, const char *where, char *err, size_t errlen)
{
    static const struct { const char *key; size_t off; int zero_ok; } ints[] = {
        {"seq_len", offsetof(TrainSettings, seq_len), 0}, {"tbptt", offsetof(TrainSettings, tbptt), 0},
        {"batch", offsetof(TrainSettings, batch), 0},     {"epochs", offsetof(TrainSettings, epochs), 0},
        {"steps", offsetof(TrainSettings, steps), 0},     {"seed", offsetof(TrainSettings, seed), 1},
        {"log_every", offsetof(TrainSettings, log_every), 0},
        {"checkpoint_every", offsetof(TrainSettings, checkpoint_every), 0},
    };
    double v;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (strcmp(key, ints[i].key)) continue;
        if (!number(e, &v) || (e->kind == EX_NUM && !e->is_int) || v < (ints[i].zero_ok ? 0 : 1) || v > 1e15)
            return ir_errf(err, errlen, "%s: '%s' must be a %s integer", where, key, ints[i].zero_ok ? "non-negative" : "positive");
        *(int64_t *)((char *)ts + ints[i].off) = (int64_t)v;
        if (!strcmp(key, "steps")) ts->epochs = 0;   /* the last one given wins */
        if (!strcmp(key, "epochs")) ts->steps = 0;
        return 0;
    }
    if (!strcmp(key, "eval_every")) return 0; /* accepted by the language; evaluation runs every epoch */
    if (!strcmp(key, "data")) return apply_data(ts, e, where, err, errlen);
    if (!strcmp(key, "optimizer")) return apply_optimizer(ts, e, where, err, errlen);
    if (!strcmp(key, "clip")) return apply_clip(ts, e, where, err, errlen);
    if (!strcmp(key, "lr")) {
        if (!number(e, &v) || !(v > 0)) return ir_errf(err, errlen, "%s: 'lr' must be a positive number", where);
        ts->lr = v;
        return 0;
    }
    if (!strcmp(key, "eval")) {
        if (!number(e, &v) || v < 0 || v >= 1)
            return ir_errf(err, errlen, "%s: 'eval' must be the fraction of the data held out, in [0, 1)", where);
        ts->eval = v;
        return 0;
    }
    return ir_errf(err, errlen, "%s: unknown train setting '%s'", where, key);
}

int train_settings_block(TrainSettings *ts, const Decl *t, const char *file, char *err, size_t errlen)
{
    for (int i = 0; t && i < t->nbody; i++) {
        const Stmt *st = t->body[i];
        if (st->kind != ST_SETTING || !st->value) continue;
        char where[600];
        snprintf(where, sizeof where, "%s:%d:%d", file, st->value->loc.line, st->value->loc.col);
        if (apply(ts, st->names[0], st->value, where, err, errlen)) return -1;
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
        rc = ir_errf(err, errlen, "%s: cannot parse '%s' (expected key=value, the value a number, \"string\" or call)", where, kv);
    } else {
        const Stmt *st = p->decls[0]->body[0];
        rc = apply(ts, st->names[0], st->value, where, err, errlen);
    }
    if (p) ast_free(p);
    if (sink) fclose(sink);
    free(src);
    return rc;
}

int train_settings_finish(TrainSettings *ts, char *err, size_t errlen)
{
    if (!ts->has_data) return ir_errf(err, errlen, "no training data: set data = text(\"file.txt\") in the train block or --set data=...");
    if (ts->lr > 0) ts->opt.lr = ts->lr;
    if (!ts->epochs && !ts->steps) ts->epochs = 1;
    if (ts->seq_len && ts->tbptt > ts->seq_len)
        return ir_errf(err, errlen, "tbptt = %lld is longer than seq_len = %lld", (long long)ts->tbptt, (long long)ts->seq_len);
    return 0;
}
