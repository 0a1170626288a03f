/* train_data.c - datasets of `rnnc train` (text, csv, npy): loading,
 * binding to the model, splitting, shuffling and batching.  See
 * train_data.h for the batching rules and docs/training.md for the user's
 * view.  Self-contained (no driver helpers) so that the unit tests can
 * compile it on its own. */
#include "driver/train_data.h"
#include "driver/train_data_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned char *data_read_file(const char *path, int64_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ir_errf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        cap *= 2;
        unsigned char *nb = realloc(buf, cap);
        if (!nb) free(buf);
        buf = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        ir_errf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (bad) {
        free(buf);
        ir_errf(err, errlen, "%s: read error", path);
        return NULL;
    }
    buf[n] = 0;
    *len = (int64_t)n;
    return buf;
}

static void set_path(Dataset *d, const char *path) { snprintf(d->path, sizeof d->path, "%s", path); }

/* ---- loading ------------------------------------------------------------ */

int data_load_text(Dataset *d, const char *path, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->kind = DATA_TEXT;
    set_path(d, path);
    int64_t n;
    unsigned char *buf = data_read_file(path, &n, err, errlen);
    if (!buf) return -1;
    if (n < 2) {
        free(buf);
        return ir_errf(err, errlen, "%s: a text data file needs at least 2 characters, it has %lld", path,
                       (long long)n);
    }
    /* The vocabulary is the sorted set of bytes present, so the same file
     * always gives the same ids. */
    int present[256] = {0}, id[256];
    for (int64_t i = 0; i < n; i++) present[buf[i]] = 1;
    for (int c = 0; c < 256; c++)
        if (present[c]) {
            id[c] = d->nvocab;
            d->vocab[d->nvocab++] = (unsigned char)c;
        }
    d->tokens = malloc((size_t)n * sizeof *d->tokens);
    if (!d->tokens) {
        free(buf);
        return ir_errf(err, errlen, "%s: out of memory", path);
    }
    for (int64_t i = 0; i < n; i++) d->tokens[i] = id[buf[i]];
    d->ntokens = n;
    free(buf);
    return 0;
}

/* Splits a csv line in place at commas; returns the number of fields. */
static int split_fields(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n < max) fields[n] = p;
        n++;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = 0;
        p = c + 1;
    }
    return n;
}

/* Whether s (up to its trailing blanks) is a decimal number: [+-],
 * digits with an optional '.' (at least one digit), an optional exponent
 * [eE][+-]digits.  Not nan, inf or hex, which strtod also reads. */
static int is_decimal(const char *s)
{
    int digits = 0;
    if (*s == '+' || *s == '-') s++;
    for (; *s >= '0' && *s <= '9'; s++) digits++;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++) digits++;
    if (!digits) return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!(*s >= '0' && *s <= '9')) return 0;
        while (*s >= '0' && *s <= '9') s++;
    }
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    return *s == 0;
}

int data_parse_number(const char *s, float *out, const char **why)
{
    while (*s == ' ' || *s == '\t') s++;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s) return 0;
    while (*end == ' ' || *end == '\t' || *end == '\r') end++;
    if (*end) return 0;
    if (!is_decimal(s)) {
        *why = "is not a decimal number (nan, inf and hex are not data)";
        return -1;
    }
    float f = (float)v;
    if (!isfinite(v) || !isfinite(f)) {
        *why = "is out of the range of float32 (magnitude at most 3.4028235e38)";
        return -1;
    }
    *out = f;
    return 1;
}

#define CSV_MAX_COLS 1024

int data_load_csv(Dataset *d, const char *path, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->kind = DATA_CSV;
    set_path(d, path);
    int64_t n;
    char *buf = (char *)data_read_file(path, &n, err, errlen);
    if (!buf) return -1;
    if ((int64_t)strlen(buf) != n) {
        free(buf);
        return ir_errf(err, errlen, "%s: not a csv file (contains a NUL byte)", path);
    }
    char *fields[CSV_MAX_COLS];
    int64_t cap = 0, line_no = 0;
    int rc = -1;
    char *save = NULL;
    for (char *line = buf; line; line = save) {
        line_no++;
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl) *nl = 0;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[--len] = 0;
        if (len == 0) continue; /* blank lines, and the file's last newline */
        int nf = split_fields(line, fields, CSV_MAX_COLS);
        if (nf > CSV_MAX_COLS) {
            ir_errf(err, errlen, "%s:%lld: more than %d columns", path, (long long)line_no, CSV_MAX_COLS);
            goto out;
        }
        float row[CSV_MAX_COLS];
        int bad = -1;
        for (int i = 0; i < nf && bad < 0; i++) {
            const char *why = NULL;
            int r = data_parse_number(fields[i], &row[i], &why);
            if (r < 0) {
                const char *f = fields[i];
                while (*f == ' ' || *f == '\t') f++;
                ir_errf(err, errlen, "%s:%lld: column %d: '%s' %s", path, (long long)line_no, i + 1, f, why);
                goto out;
            }
            if (!r) bad = i;
        }
        if (bad >= 0) {
            /* A first line that is not all numbers is the header. */
            if (d->nrows == 0 && d->ncols == 0) {
                d->ncols = nf;
                continue;
            }
            ir_errf(err, errlen, "%s:%lld: column %d: '%s' is not a number", path, (long long)line_no, bad + 1,
                    fields[bad]);
            goto out;
        }
        if (d->ncols == 0) d->ncols = nf;
        if (nf != d->ncols) {
            ir_errf(err, errlen, "%s:%lld: expected %d columns, got %d", path, (long long)line_no, d->ncols, nf);
            goto out;
        }
        if (d->nrows == cap) {
            cap = cap ? 2 * cap : 256;
            float *nv = realloc(d->values, (size_t)cap * (size_t)d->ncols * sizeof *nv);
            if (!nv) {
                ir_errf(err, errlen, "%s: out of memory", path);
                goto out;
            }
            d->values = nv;
        }
        memcpy(d->values + d->nrows * d->ncols, row, (size_t)d->ncols * sizeof *row);
        d->nrows++;
    }
    if (d->nrows < 2) {
        ir_errf(err, errlen, "%s: a csv time series needs at least 2 rows of numbers, it has %lld", path,
                (long long)d->nrows);
        goto out;
    }
    rc = 0;
out:
    free(buf);
    if (rc) data_free(d);
    return rc;
}

int data_load_npy(Dataset *d, const char *const *names, const char *const *paths, int n, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->kind = DATA_NPY;
    if (n < 1) return ir_errf(err, errlen, "npy(...) needs NAME=\"file.npy\" for each model input and target");
    if (n > DATA_MAX_ARRAYS) return ir_errf(err, errlen, "npy(...): at most %d arrays", DATA_MAX_ARRAYS);
    set_path(d, paths[0]);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < i; k++)
            if (!strcmp(names[k], names[i])) {
                data_free(d);
                return ir_errf(err, errlen, "npy(...): '%s' is given twice", names[i]);
            }
        d->names[i] = strdup(names[i]);
        d->paths[i] = strdup(paths[i]);
        d->narrays = i + 1;
        if (!d->names[i] || !d->paths[i]) {
            data_free(d);
            return ir_errf(err, errlen, "out of memory");
        }
        if (rt_npy_read(paths[i], &d->arrays[i], err, errlen)) {
            data_free(d);
            return -1;
        }
    }
    return 0;
}

void data_free(Dataset *d)
{
    free(d->tokens);
    free(d->values);
    free(d->lengths);
    for (int g = 0; g < d->nmore; g++) free(d->more[g].lengths);
    for (int i = 0; i < d->narrays; i++) {
        free(d->names[i]);
        free(d->paths[i]);
        rt_tensor_free(&d->arrays[i]);
    }
    memset(d, 0, sizeof *d);
}

/* ---- binding to the model ------------------------------------------------ */

/* A sequence value is [T, B, ...]: its first dim is a length symbol. */
static int is_seq_type(const IrType *t) { return t->rank >= 2 && t->dim[0] < 0 && t->dim[0] != IR_DIM_B; }

const IrOp *data_find_use(const IrModule *m, IrOpKind k, const IrValue *v, int idx)
{
    for (int i = 0; i < m->body->nops; i++) {
        const IrOp *op = m->body->ops[i];
        if (op->kind == k && op->noperands > idx && op->operands[idx] == v) return op;
    }
    return NULL;
}

static int bind_text(Dataset *d, const IrModule *m, char *err, size_t errlen)
{
    if (m->ninputs != 1 || m->ntargets != 1)
        return ir_errf(err, errlen,
                       "%s: text data needs a model with one input and one target (seq<int> each); model '%s' has %d "
                       "input%s and %d target%s",
                       d->path, m->name, m->ninputs, m->ninputs == 1 ? "" : "s", m->ntargets,
                       m->ntargets == 1 ? "" : "s");
    const IrInput *in = &m->inputs[0], *tg = &m->targets[0];
    const IrType *ti = &in->value->type, *tt = &tg->value->type;
    if (ti->dtype != IR_I64 || ti->rank != 2 || !is_seq_type(ti))
        return ir_errf(err, errlen, "%s: text data needs the input '%s' to be seq<int>", d->path, in->name);
    if (tt->dtype != IR_I64 || tt->rank != 2 || !is_seq_type(tt))
        return ir_errf(err, errlen, "%s: text data needs the target '%s' to be seq<int>", d->path, tg->name);
    const IrOp *emb = data_find_use(m, IR_EMBEDDING, in->value, 1);
    if (emb && emb->operands[0]->type.dim[0] < d->nvocab)
        return ir_errf(
            err, errlen,
            "%s: the text has %d distinct characters but the embedding of '%s' has vocab=%lld: set vocab >= %d",
            d->path, d->nvocab, in->name, (long long)emb->operands[0]->type.dim[0], d->nvocab);
    const IrOp *ce = data_find_use(m, IR_CROSS_ENTROPY, tg->value, 1);
    if (ce) {
        const IrType *lt = &ce->operands[0]->type;
        if (lt->dim[lt->rank - 1] < d->nvocab)
            return ir_errf(
                err, errlen,
                "%s: the text has %d distinct characters but the loss's logits have %lld classes: make them >= %d",
                d->path, d->nvocab, (long long)lt->dim[lt->rank - 1], d->nvocab);
    }
    d->in_name = in->name;
    d->tgt_name = tg->name;
    return 0;
}

static int bind_csv(Dataset *d, const IrModule *m, char *err, size_t errlen)
{
    if (m->ninputs != 1 || m->ntargets != 1)
        return ir_errf(err, errlen,
                       "%s: csv data needs a model with one seq<[F]> input and one seq<[G]> target; model '%s' has %d "
                       "input%s and %d target%s",
                       d->path, m->name, m->ninputs, m->ninputs == 1 ? "" : "s", m->ntargets,
                       m->ntargets == 1 ? "" : "s");
    const IrInput *in = &m->inputs[0], *tg = &m->targets[0];
    const IrType *ti = &in->value->type, *tt = &tg->value->type;
    if (ti->dtype != IR_F32 || ti->rank != 3 || !is_seq_type(ti) || ti->dim[2] < 1)
        return ir_errf(err, errlen, "%s: csv data needs the input '%s' to be seq<[F]>", d->path, in->name);
    if (tt->dtype != IR_F32 || tt->rank != 3 || !is_seq_type(tt) || tt->dim[2] < 1)
        return ir_errf(err, errlen, "%s: csv data needs the target '%s' to be seq<[G]>", d->path, tg->name);
    if (ti->dim[2] > d->ncols || tt->dim[2] > d->ncols)
        return ir_errf(err, errlen, "%s: the file has %d columns, the input '%s' needs %lld and the target '%s' %lld",
                       d->path, d->ncols, in->name, (long long)ti->dim[2], tg->name, (long long)tt->dim[2]);
    d->in_name = in->name;
    d->tgt_name = tg->name;
    d->in_feat = (int)ti->dim[2];
    d->tgt_feat = (int)tt->dim[2];
    return 0;
}

static const IrInput *find_io(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->ninputs; i++)
        if (!strcmp(m->inputs[i].name, name)) return &m->inputs[i];
    for (int i = 0; i < m->ntargets; i++)
        if (!strcmp(m->targets[i].name, name)) return &m->targets[i];
    return NULL;
}

/* Whether array name `name` gives lengths input `len` ("x.len"): by that
 * name (text and csv examples) or as npy(x_len="len.npy"), since a name
 * in npy(...) has no dot. */
static int names_lengths(const char *name, const IrInput *len)
{
    size_t n = strlen(len->name) - 4; /* "x" of "x.len" */
    return !strcmp(name, len->name) || (!strncmp(name, len->name, n) && !strcmp(name + n, "_len"));
}

/* The model's inputs with lengths into len[], in its order; their
 * number (-1 with a message: more than DATA_MAX_LENGTHS). */
static int lengths_inputs(const Dataset *d, const IrModule *m, const IrInput **len, char *err, size_t errlen)
{
    int n = 0;
    for (int i = 0; i < m->ninputs; i++) {
        if (m->inputs[i].role != IR_ROLE_LENGTHS) continue;
        if (n == DATA_MAX_LENGTHS)
            return ir_errf(err, errlen,
                           "%s: model '%s' has more than %d inputs with lengths, which training data may give", d->path,
                           m->name, DATA_MAX_LENGTHS);
        len[n++] = &m->inputs[i];
    }
    return n;
}

/* Which of len[0..n) array `name` gives the lengths of, or -1. */
static int lengths_group(const char *name, const IrInput *const *len, int n)
{
    for (int g = 0; g < n; g++)
        if (names_lengths(name, len[g])) return g;
    return -1;
}

/* arrays[k] as the lengths of input `len` into *out: [N] integers, each
 * from 1 to T, the padded steps of its arrays, and to the steps the
 * input's type allows. */
static int bind_lengths(Dataset *d, const IrModule *m, const IrInput *len, int k, int64_t T, int64_t **out, char *err,
                        size_t errlen)
{
    const Tensor *a = &d->arrays[k];
    char shape[128];
    rt_shape_str(a, shape, sizeof shape);
    if (a->rank != 1 || (a->dtype != RT_I32 && a->dtype != RT_I64))
        return ir_errf(err, errlen, "%s: the lengths '%s' must be integers [N], one an example; got %s %s", d->paths[k],
                       d->names[k], rt_dtype_name(a->dtype), shape);
    if (a->shape[0] != d->nexamples)
        return ir_errf(err, errlen, "%s: %lld lengths for %lld examples", d->paths[k], (long long)a->shape[0],
                       (long long)d->nexamples);
    int64_t max = m->syms[-len->value->type.dim[0] - 1].max;
    int64_t *lens = *out = malloc((size_t)d->nexamples * sizeof *lens);
    if (!lens) return ir_errf(err, errlen, "out of memory");
    for (int64_t i = 0; i < d->nexamples; i++) {
        int64_t v = a->dtype == RT_I32 ? ((const int32_t *)a->data)[i] : ((const int64_t *)a->data)[i];
        if (v < 1 || v > T)
            return ir_errf(err, errlen, "%s: example %lld has length %lld; a length is 1 to T = %lld, the padded steps",
                           d->paths[k], (long long)i, (long long)v, (long long)T);
        if (v > max)
            return ir_errf(err, errlen, "%s: example %lld has length %lld, more than the %lld steps '%s' may have",
                           d->paths[k], (long long)i, (long long)v, (long long)max, len->name);
        lens[i] = v;
    }
    return 0;
}

static int bind_npy(Dataset *d, const IrModule *m, char *err, size_t errlen)
{
    const IrInput *lens[DATA_MAX_LENGTHS];
    int nlen = lengths_inputs(d, m, lens, err, errlen);
    if (nlen < 0) return -1;
    const IrInput *len = nlen ? lens[0] : NULL;
    int larr[DATA_MAX_LENGTHS] = {-1, -1, -1, -1};
    int64_t gT[DATA_MAX_LENGTHS] = {0}; /* the steps of each group's arrays (group 0's: seq_T) */
    d->len_array = -1;
    for (int i = 0; i < m->ninputs + m->ntargets; i++) {
        const IrInput *io = i < m->ninputs ? &m->inputs[i] : &m->targets[i - m->ninputs];
        int found = 0, is_len = io->role == IR_ROLE_LENGTHS;
        for (int k = 0; k < d->narrays; k++)
            found |= is_len ? names_lengths(d->names[k], io) : !strcmp(d->names[k], io->name);
        if (found || (io->role != IR_ROLE_DATA && !is_len)) continue;
        if (is_len)
            return ir_errf(err, errlen,
                           "npy(...) gives no lengths for the model's input with lengths: add %.*s_len=\"len.npy\"",
                           (int)strlen(io->name) - 4, io->name);
        return ir_errf(err, errlen, "npy(...) gives no array for the model's %s '%s': add %s=\"file.npy\"",
                       i < m->ninputs ? "input" : "target", io->name, io->name);
    }
    d->nexamples = -1;
    d->seq_T = 0;
    d->len_sym = len ? len->value->type.dim[0] : 0;
    for (int k = 0; k < d->narrays; k++) {
        int g = lengths_group(d->names[k], lens, nlen);
        if (g >= 0) {
            larr[g] = k;
            continue;
        }
        const IrInput *io = find_io(m, d->names[k]);
        if (!io || io->role != IR_ROLE_DATA)
            return ir_errf(err, errlen, "%s: '%s' is not an input or target of model '%s'", d->paths[k], d->names[k],
                           m->name);
        const IrType *t = &io->value->type;
        const Tensor *a = &d->arrays[k];
        char shape[128];
        rt_shape_str(a, shape, sizeof shape);
        if (a->rank != t->rank)
            return ir_errf(err, errlen, "%s: '%s' needs a rank-%d array (%s), got %s", d->paths[k], io->name, t->rank,
                           is_seq_type(t) ? "[T, N, ...], time-major" : "[N, ...]", shape);
        int wants_int = t->dtype == IR_I64, is_int = a->dtype == RT_I32 || a->dtype == RT_I64;
        if (wants_int != is_int)
            return ir_errf(err, errlen, "%s: '%s' needs %s values, the file holds %s", d->paths[k], io->name,
                           wants_int ? "integer" : "float", rt_dtype_name(a->dtype));
        d->is_seq[k] = is_seq_type(t);
        for (int q = 0; q < nlen && d->is_seq[k]; q++)
            if (t->dim[0] == lens[q]->value->type.dim[0]) d->cut[k] = q + 1;
        if (d->cut[k] && io->value->kind == IR_VAL_TARGET && !d->cut_target) d->cut_target = d->cut[k];
        int bdim = d->is_seq[k] ? 1 : 0;
        for (int j = 0; j < t->rank; j++)
            if (t->dim[j] >= 0 && t->dim[j] != a->shape[j])
                return ir_errf(err, errlen, "%s: '%s' needs size %lld in dimension %d, got %s", d->paths[k], io->name,
                               (long long)t->dim[j], j, shape);
        if (d->nexamples >= 0 && a->shape[bdim] != d->nexamples)
            return ir_errf(err, errlen, "%s: '%s' has %lld examples, the other arrays %lld", d->paths[k], io->name,
                           (long long)a->shape[bdim], (long long)d->nexamples);
        d->nexamples = a->shape[bdim];
        /* T = 0 would pass the T check below and data_split's (both skip
         * a T of 0), and batches would read steps the array lacks */
        if (d->is_seq[k] && a->shape[0] < 1)
            return ir_errf(err, errlen, "%s: '%s' has no time steps (T = 0 in %s)", d->paths[k], io->name, shape);
        if (d->is_seq[k]) {
            /* a second input with lengths (an encoder-decoder's other
             * side) and its sequences have a T of their own */
            int64_t *T = d->cut[k] > 1 ? &gT[d->cut[k] - 1] : &d->seq_T;
            if (*T && a->shape[0] != *T && d->cut[k] > 1)
                return ir_errf(err, errlen,
                               "%s: '%s' has %lld steps, the other sequences of the lengths '%s' %lld (they must have "
                               "the same T)",
                               d->paths[k], io->name, (long long)a->shape[0], lens[d->cut[k] - 1]->name, (long long)*T);
            if (*T && a->shape[0] != *T)
                return ir_errf(err, errlen,
                               "%s: '%s' has %lld steps, the other sequences %lld (all must have the same T)",
                               d->paths[k], io->name, (long long)a->shape[0], (long long)*T);
            *T = a->shape[0];
        }
    }
    if (d->nexamples < 1) return ir_errf(err, errlen, "%s: no examples", d->path);
    d->len_T = gT[0] = d->seq_T;
    for (int g = 0; g < nlen; g++) {
        DataLengths *dl = g ? &d->more[g - 1] : NULL;
        if (dl)
            *dl =
                (DataLengths){.input = lens[g]->name, .sym = lens[g]->value->type.dim[0], .T = gT[g], .array = larr[g]};
        else {
            d->len_input = len->name;
            d->len_array = larr[0];
        }
        d->nmore = g;
        if (bind_lengths(d, m, lens[g], larr[g], gT[g], dl ? &dl->lengths : &d->lengths, err, errlen)) return -1;
    }
    return 0;
}

int data_bind(Dataset *d, const IrModule *m, char *err, size_t errlen)
{
    switch (d->kind) {
    case DATA_TEXT: return bind_text(d, m, err, errlen);
    case DATA_CSV: return bind_csv(d, m, err, errlen);
    case DATA_NPY: return bind_npy(d, m, err, errlen);
    }
    return -1;
}

int64_t data_default_seq_len(const Dataset *d) { return d->kind == DATA_NPY ? (d->seq_T ? d->seq_T : 1) : 0; }

/* ---- splitting and batching ------------------------------------------------ */

static int64_t stream_length(const Dataset *d) { return d->kind == DATA_TEXT ? d->ntokens : d->nrows; }

/* Streams: B streams of S = (len - 1) / B elements (the -1 leaves room for
 * the last target), nbatches = S / seq_len chunks each. */
static void cut_streams(DataSplit *sp, int64_t start, int64_t len, int64_t batch, int64_t seq_len)
{
    memset(sp, 0, sizeof *sp);
    sp->start = start;
    sp->len = len;
    sp->batch = batch;
    sp->seq_len = seq_len;
    sp->stream_len = len > 1 ? (len - 1) / batch : 0;
    sp->nitems = sp->nbatches = sp->stream_len / seq_len;
}

int data_split(const Dataset *d, double eval_frac, int64_t batch, int64_t seq_len, DataSplit *train, DataSplit *eval,
               char *err, size_t errlen)
{
    if (!(eval_frac >= 0 && eval_frac < 1))
        return ir_errf(err, errlen, "'eval' must be a fraction in [0, 1), got %g", eval_frac);
    if (batch < 1 || seq_len < 1) return ir_errf(err, errlen, "'batch' and 'seq_len' must be positive");
    if (d->kind == DATA_NPY) {
        if (d->seq_T && seq_len != d->seq_T)
            return ir_errf(err, errlen,
                           "%s: the sequences have T = %lld steps; seq_len must be %lld (or not set) for npy data",
                           d->path, (long long)d->seq_T, (long long)d->seq_T);
        int64_t n = d->nexamples, ne = (int64_t)((double)n * eval_frac);
        int64_t nt = n - ne;
        if (nt < batch)
            return ir_errf(err, errlen, "%s: %lld training examples%s are fewer than one batch of %lld", d->path,
                           (long long)nt, ne ? " (after the eval split)" : "", (long long)batch);
        memset(train, 0, sizeof *train);
        memset(eval, 0, sizeof *eval);
        *train = (DataSplit){
            .start = 0, .len = nt, .batch = batch, .seq_len = seq_len, .nitems = nt, .nbatches = nt / batch};
        /* Eval uses every example: B is a run-time size, so the last
         * batch may be smaller. */
        *eval = (DataSplit){.start = nt,
                            .len = ne,
                            .batch = batch,
                            .seq_len = seq_len,
                            .nitems = ne,
                            .nbatches = (ne + batch - 1) / batch,
                            .partial = 1};
        return 0;
    }
    int64_t n = stream_length(d), ne = (int64_t)((double)n * eval_frac);
    cut_streams(train, 0, n - ne, batch, seq_len);
    if (train->nbatches < 1) {
        /* batch * seq_len + 1, which may pass int64 (each is up to 10^15) */
        char need[32];
        int64_t k;
        if (__builtin_mul_overflow(batch, seq_len, &k) || __builtin_add_overflow(k, 1, &k))
            snprintf(need, sizeof need, "%.4g", (double)batch * (double)seq_len);
        else
            snprintf(need, sizeof need, "%lld", (long long)k);
        return ir_errf(err, errlen,
                       "%s: %lld %s%s are too few for batch = %lld streams of seq_len = %lld (need at least %s)",
                       d->path, (long long)(n - ne), d->kind == DATA_TEXT ? "characters" : "rows",
                       ne ? " (after the eval split)" : "", (long long)batch, (long long)seq_len, need);
    }
    /* The eval part is short: use as many streams as fit, up to B. */
    int64_t eb = ne > 1 ? (ne - 1) / seq_len : 0;
    if (eb > batch) eb = batch;
    cut_streams(eval, n - ne, ne, eb > 0 ? eb : 1, seq_len);
    if (eb == 0) eval->nitems = eval->nbatches = 0;
    return 0;
}

void data_shuffle(int64_t *perm, int64_t n, RtRng *rng)
{
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; rng && i > 0; i--) {
        int64_t j = (int64_t)(rt_rng_u64(rng) % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

int64_t data_batch_size(const DataSplit *sp, int64_t j)
{
    if (!sp->partial) return sp->batch;
    int64_t left = sp->nitems - j * sp->batch;
    return left < sp->batch ? left : sp->batch;
}

static int put(TensorMap *out, const char *name, Tensor *t, char *err, size_t errlen)
{
    if (rt_map_put(out, name, t)) {
        rt_tensor_free(t);
        return ir_errf(err, errlen, "out of memory");
    }
    return 0;
}

static int stream_batch(const Dataset *d, const DataSplit *sp, int64_t item, int64_t t0, int64_t tlen, TensorMap *out,
                        char *err, size_t errlen)
{
    int64_t B = sp->batch;
    Tensor x, y;
    int text = d->kind == DATA_TEXT;
    int64_t xs[3] = {tlen, B, d->in_feat}, ys[3] = {tlen, B, d->tgt_feat};
    if (rt_tensor_alloc(&x, text ? RT_I64 : RT_F32, text ? 2 : 3, xs)) return ir_errf(err, errlen, "out of memory");
    if (rt_tensor_alloc(&y, text ? RT_I64 : RT_F32, text ? 2 : 3, ys)) {
        rt_tensor_free(&x);
        return ir_errf(err, errlen, "out of memory");
    }
    for (int64_t t = 0; t < tlen; t++)
        for (int64_t b = 0; b < B; b++) {
            int64_t pos = sp->start + b * sp->stream_len + item * sp->seq_len + t0 + t;
            if (text) {
                ((int64_t *)x.data)[t * B + b] = d->tokens[pos];
                ((int64_t *)y.data)[t * B + b] = d->tokens[pos + 1];
            } else {
                /* x_t: the first F columns of row t; y_t: the first G
                 * columns of row t + 1. */
                memcpy((float *)x.data + (t * B + b) * d->in_feat, d->values + pos * d->ncols,
                       (size_t)d->in_feat * sizeof(float));
                memcpy((float *)y.data + (t * B + b) * d->tgt_feat, d->values + (pos + 1) * d->ncols,
                       (size_t)d->tgt_feat * sizeof(float));
            }
        }
    if (put(out, d->in_name, &x, err, errlen)) {
        rt_tensor_free(&y);
        return -1;
    }
    return put(out, d->tgt_name, &y, err, errlen);
}

/* The example of item b of batch j. */
static int64_t example_of(const DataSplit *sp, const int64_t *perm, int64_t j, int64_t b)
{
    int64_t item = j * sp->batch + b;
    return sp->start + (perm ? perm[item] : item);
}

/* The lengths of group g (0: the first input with lengths, d->lengths). */
static const int64_t *group_lengths(const Dataset *d, int g) { return g ? d->more[g - 1].lengths : d->lengths; }

/* The steps of batch j of lengths `lens`: its longest member's. */
static int64_t longest(const int64_t *lens, const DataSplit *sp, const int64_t *perm, int64_t j)
{
    int64_t T = 0;
    for (int64_t b = 0; b < data_batch_size(sp, j); b++)
        if (lens[example_of(sp, perm, j, b)] > T) T = lens[example_of(sp, perm, j, b)];
    return T;
}

/* Batch j's lengths of group g > 0 (a second input with lengths: always
 * the whole batch, which TBPTT does not cut) under its input's name. */
static int more_lengths(const Dataset *d, int g, const DataSplit *sp, const int64_t *perm, int64_t j, TensorMap *out,
                        char *err, size_t errlen)
{
    int64_t nb = data_batch_size(sp, j);
    Tensor l;
    if (rt_tensor_alloc(&l, RT_I64, 1, &nb)) return ir_errf(err, errlen, "out of memory");
    for (int64_t b = 0; b < nb; b++) ((int64_t *)l.data)[b] = d->more[g - 1].lengths[example_of(sp, perm, j, b)];
    return put(out, d->more[g - 1].input, &l, err, errlen);
}

static int npy_batch(const Dataset *d, const DataSplit *sp, const int64_t *perm, int64_t j, int64_t t0, int64_t tlen,
                     TensorMap *out, char *err, size_t errlen)
{
    int64_t nb = data_batch_size(sp, j);
    /* with lengths the arrays of x's steps have the longest member's,
     * of which a TBPTT segment takes [t0, t0 + tlen) */
    int64_t cut_T = tlen;
    if (d->lengths && data_batch_steps(d, sp, perm, j) - t0 < tlen) cut_T = data_batch_steps(d, sp, perm, j) - t0;
    for (int k = 0; k < d->narrays; k++) {
        int other = 0; /* the lengths of a second input with lengths are put below */
        for (int g = 0; g < d->nmore; g++) other |= k == d->more[g].array;
        if (k == d->len_array || other) continue;
        const Tensor *a = &d->arrays[k];
        int seq = d->is_seq[k];
        int64_t T = d->cut[k] > 1 ? longest(group_lengths(d, d->cut[k] - 1), sp, perm, j) : d->cut[k] ? cut_T : tlen;
        Tensor t;
        int64_t shape[RT_MAX_RANK];
        memcpy(shape, a->shape, sizeof shape);
        if (seq) {
            shape[0] = T;
            shape[1] = nb;
        } else
            shape[0] = nb;
        if (rt_tensor_alloc(&t, a->dtype, a->rank, shape)) return ir_errf(err, errlen, "out of memory");
        size_t es = rt_dtype_size(a->dtype);
        int64_t inner = 1; /* elements of one example at one step */
        for (int r = seq ? 2 : 1; r < a->rank; r++) inner *= a->shape[r];
        size_t row = (size_t)inner * es;
        int64_t N = seq ? a->shape[1] : a->shape[0];
        for (int64_t b = 0; b < nb; b++) {
            int64_t ex = example_of(sp, perm, j, b);
            if (!seq) {
                memcpy((char *)t.data + b * row, (const char *)a->data + ex * row, row);
                continue;
            }
            for (int64_t s = 0; s < T; s++)
                memcpy((char *)t.data + (s * nb + b) * row, (const char *)a->data + ((t0 + s) * N + ex) * row, row);
        }
        if (put(out, d->names[k], &t, err, errlen)) return -1;
    }
    if (!d->lengths) return 0;
    for (int g = 1; g <= d->nmore; g++)
        if (more_lengths(d, g, sp, perm, j, out, err, errlen)) return -1;
    Tensor l;
    if (t0 == 0 && cut_T == data_batch_steps(d, sp, perm, j)) { /* the whole batch: its lengths */
        if (rt_tensor_alloc(&l, RT_I64, 1, &nb)) return ir_errf(err, errlen, "out of memory");
        for (int64_t b = 0; b < nb; b++) ((int64_t *)l.data)[b] = d->lengths[example_of(sp, perm, j, b)];
        return put(out, d->len_input, &l, err, errlen);
    }
    /* A TBPTT segment: each example's steps in it, clamp(len - t0, 0,
     * cut_T), as the mask itself, since an example that ended before the
     * segment has none (a length of 0, which lengths may not be: ir/lengths.h) */
    int64_t ms[3] = {cut_T, nb, 1};
    if (rt_tensor_alloc(&l, RT_F32, 3, ms)) return ir_errf(err, errlen, "out of memory");
    for (int64_t b = 0; b < nb; b++) {
        int64_t len = d->lengths[example_of(sp, perm, j, b)];
        for (int64_t s = 0; s < cut_T; s++) ((float *)l.data)[s * nb + b] = t0 + s < len ? 1.0f : 0.0f;
    }
    return put(out, d->len_input, &l, err, errlen);
}

const char *data_target_lengths(const Dataset *d)
{
    return d->cut_target > 1 ? d->more[d->cut_target - 2].input : d->cut_target ? d->len_input : NULL;
}

int64_t data_batch_steps(const Dataset *d, const DataSplit *sp, const int64_t *perm, int64_t j)
{
    return d->lengths ? longest(d->lengths, sp, perm, j) : sp->seq_len;
}

void data_batch_padding(const Dataset *d, const DataSplit *sp, const int64_t *perm, int64_t j, int64_t *real,
                        int64_t *all)
{
    int64_t nb = data_batch_size(sp, j), T = data_batch_steps(d, sp, perm, j);
    *all += nb * T;
    for (int64_t b = 0; b < nb; b++) *real += d->lengths ? d->lengths[example_of(sp, perm, j, b)] : T;
    for (int g = 1; g <= d->nmore; g++) { /* and each further input's with lengths */
        *all += nb * longest(group_lengths(d, g), sp, perm, j);
        for (int64_t b = 0; b < nb; b++) *real += group_lengths(d, g)[example_of(sp, perm, j, b)];
    }
}

double data_loss_weight(const Dataset *d, const DataSplit *sp, const int64_t *perm, int64_t j, int64_t t0, int64_t tlen)
{
    if (!d->lengths) return (double)tlen * (double)data_batch_size(sp, j);
    if (!d->cut_target) return (double)data_batch_size(sp, j);
    const int64_t *lens = group_lengths(d, d->cut_target - 1);
    if (d->cut_target > 1) t0 = 0, tlen = INT64_MAX; /* a decoder's: never cut */
    int64_t real = 0;                                /* each example's steps in [t0, t0 + tlen) */
    for (int64_t b = 0; b < data_batch_size(sp, j); b++) {
        int64_t n = lens[example_of(sp, perm, j, b)] - t0;
        real += n < 0 ? 0 : n < tlen ? n : tlen;
    }
    return (double)real;
}

/* A pool's examples by length; ties in the pool's order (qsort is not
 * stable, so the position is part of the key). */
typedef struct BucketKey {
    int64_t len, pos, ex;
} BucketKey;

static int by_length(const void *a, const void *b)
{
    const BucketKey *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* perm[0..n) (examples sp->start + perm[i]) sorted by length, stably;
 * key has room for n. */
static void sort_by_length(const Dataset *d, const DataSplit *sp, int64_t *perm, int64_t n, BucketKey *key)
{
    for (int64_t i = 0; i < n; i++) key[i] = (BucketKey){d->lengths[sp->start + perm[i]], i, perm[i]};
    qsort(key, (size_t)n, sizeof *key, by_length);
    for (int64_t i = 0; i < n; i++) perm[i] = key[i].ex;
}

int data_sort_items(const Dataset *d, const DataSplit *sp, int64_t *perm)
{
    data_shuffle(perm, sp->nitems, NULL);
    if (!d->lengths || sp->nitems < 1) return 0;
    BucketKey *key = malloc((size_t)sp->nitems * sizeof *key);
    if (!key) return -1;
    sort_by_length(d, sp, perm, sp->nitems, key);
    free(key);
    return 0;
}

int data_bucket(const Dataset *d, const DataSplit *sp, int64_t *perm, int64_t bucket, RtRng *rng)
{
    if (!d->lengths || bucket < 1 || sp->nbatches < 1) return 0;
    int64_t B = sp->batch, nb = sp->nbatches, n = nb * B;
    int64_t pool = bucket < nb ? bucket * B : n;
    BucketKey *key = malloc((size_t)pool * sizeof *key);
    int64_t *order = malloc((size_t)nb * sizeof *order), *copy = malloc((size_t)n * sizeof *copy);
    if (!key || !order || !copy) {
        free(key);
        free(order);
        free(copy);
        return -1;
    }
    for (int64_t p0 = 0; p0 < n; p0 += pool) sort_by_length(d, sp, perm + p0, n - p0 < pool ? n - p0 : pool, key);
    /* whole batches in a new order, so that short and long ones mix */
    data_shuffle(order, nb, rng);
    memcpy(copy, perm, (size_t)n * sizeof *copy);
    for (int64_t j = 0; j < nb; j++) memcpy(perm + j * B, copy + order[j] * B, (size_t)B * sizeof *perm);
    free(key);
    free(order);
    free(copy);
    return 0;
}

int data_batch(const Dataset *d, const DataSplit *sp, const int64_t *perm, int64_t j, int64_t t0, int64_t tlen,
               TensorMap *out, char *err, size_t errlen)
{
    if (j < 0 || j >= sp->nbatches || t0 < 0 || tlen < 1 || t0 + tlen > sp->seq_len ||
        (d->lengths && t0 >= data_batch_steps(d, sp, perm, j)) || (d->nmore && t0))
        return ir_errf(err, errlen, "internal error: batch %lld steps [%lld, %lld) out of range", (long long)j,
                       (long long)t0, (long long)(t0 + tlen));
    if (d->kind == DATA_NPY) return npy_batch(d, sp, perm, j, t0, tlen, out, err, errlen);
    return stream_batch(d, sp, perm ? perm[j] : j, t0, tlen, out, err, errlen);
}
