/* train_data_seqs.c - text and csv files of examples of lengths of their
 * own, for a model with an input `x : seq<...> lengths` (train_data.h,
 * docs/training.md "Examples of different lengths"):
 *
 *   text: one example a line, LABEL<TAB>TOKENS, tokens separated by
 *         spaces; the label one token (target int) or one tag a token
 *         (target seq<int>, a tagger).  For an encoder-decoder (two
 *         inputs with lengths) SOURCE<TAB>TARGET: the source tokens, the
 *         target's; the decoder reads BOS and the target, and is to
 *         predict the target and EOS.
 *   csv:  one example a row; the first line names the columns, among them
 *         the input's and the target's; a value is its steps separated by
 *         ';', each step its numbers separated by spaces.
 *
 * Both load as npy data does (the arrays padded to the longest example,
 * time-major, and the lengths), so that binding, splitting, bucketing and
 * batching are train_data.c's.  Every error names the file and the line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/train_data.h"
#include "driver/train_data_int.h"

/* One column being read: every example's steps, `width` numbers each,
 * one after the other. */
typedef struct Col {
    const IrInput *io;
    int seq;       /* a sequence; else one step an example   */
    int ids;       /* integer ids (int, seq<int>)            */
    int64_t width; /* numbers a step: F (floats) or 1 (ids)  */
    double *v;
    int64_t nv, cap;
    int64_t nclasses; /* ids: the largest + 1                */
} Col;

typedef struct Examples {
    const char *path;
    const IrModule *m;
    const IrInput *len; /* the model's lengths input, "x.len"      */
    int64_t max;        /* the steps x's type allows               */
    Col x, y;
    int64_t *lens; /* each example's steps                    */
    int64_t n, cap;
    /* an encoder-decoder (text): the decoder's input x2 with its
     * lengths len2, which the target y has too; lens2 its steps */
    const IrInput *len2;
    int64_t max2;
    Col x2;
    int64_t *lens2, cap2;
} Examples;

static int is_seq(const IrType *t) { return t->rank >= 2 && t->dim[0] < 0 && t->dim[0] != IR_DIM_B; }

/* Column c for model value io: ids, or floats of one feature dimension. */
static int col_init(Col *c, const IrInput *io)
{
    const IrType *t = &io->value->type;
    memset(c, 0, sizeof *c);
    c->io = io;
    c->seq = is_seq(t);
    c->ids = t->dtype == IR_I64;
    int rank = t->rank - c->seq; /* without T */
    if (c->ids ? rank != 1 : rank != 2 || t->dim[t->rank - 1] < 1) return -1;
    c->width = c->ids ? 1 : t->dim[t->rank - 1];
    return 0;
}

/* The data input of m whose steps lengths input `len` counts. */
static const IrInput *counted_by(const IrModule *m, const IrInput *len)
{
    for (int i = 0; i < m->ninputs; i++)
        if (m->inputs[i].role == IR_ROLE_DATA && m->inputs[i].value->type.dim[0] == len->value->type.dim[0])
            return &m->inputs[i];
    return NULL;
}

/* An encoder-decoder (text, SOURCE<TAB>TARGET): the source x of the
 * first input with lengths, the decoder's input x2 of the second and the
 * one target of x2's steps, all ids. */
static int ex_model_s2s(Examples *e, char *err, size_t errlen)
{
    const IrModule *m = e->m;
    const IrInput *x = counted_by(m, e->len), *x2 = counted_by(m, e->len2);
    const IrInput *y = m->ntargets == 1 ? &m->targets[0] : NULL;
    int ndata = 0;
    for (int i = 0; i < m->ninputs; i++) ndata += m->inputs[i].role == IR_ROLE_DATA;
    if (!x || !x2 || !y || ndata != 2 || col_init(&e->x, x) || col_init(&e->x2, x2) || col_init(&e->y, y) ||
        !e->x.ids || !e->x2.ids || !e->y.ids || !e->y.seq || y->value->type.dim[0] != x2->value->type.dim[0])
        return ir_errf(err, errlen,
                       "%s: text data of an encoder-decoder (SOURCE<TAB>TARGET) needs two seq<int> inputs with "
                       "lengths (the source, then the decoder's) and one seq<int> target of the decoder's steps; "
                       "model '%s' has %d input%s and %d target%s",
                       e->path, m->name, ndata, ndata == 1 ? "" : "s", m->ntargets, m->ntargets == 1 ? "" : "s");
    e->max = m->syms[-x->value->type.dim[0] - 1].max;
    e->max2 = m->syms[-x2->value->type.dim[0] - 1].max;
    return 0;
}

/* The model's input with lengths, the one data input it counts and the
 * one target: their columns. */
static int ex_model(Examples *e, const char *kind, char *err, size_t errlen)
{
    const IrModule *m = e->m;
    const IrInput *x = NULL;
    int ndata = 0;
    for (int i = 0; i < m->ninputs; i++) {
        if (m->inputs[i].role == IR_ROLE_LENGTHS) {
            if (e->len2 || (e->len && strcmp(kind, "text")))
                return ir_errf(err, errlen, "%s: %s data gives the lengths of %s; model '%s' has %s", e->path, kind,
                               e->len2 ? "two inputs (an encoder-decoder's)" : "one input", m->name,
                               e->len2 ? "more" : "two (an encoder-decoder: text or npy data)");
            *(e->len ? &e->len2 : &e->len) = &m->inputs[i];
        } else if (m->inputs[i].role == IR_ROLE_DATA) {
            x = &m->inputs[i];
            ndata++;
        }
    }
    if (e->len2) return ex_model_s2s(e, err, errlen);
    if (!e->len || ndata != 1 || m->ntargets != 1 || x->value->type.dim[0] != e->len->value->type.dim[0])
        return ir_errf(err, errlen,
                       "%s: %s data of examples needs a model with one input with lengths and one target; model '%s' "
                       "has %d input%s and %d target%s",
                       e->path, kind, m->name, ndata, ndata == 1 ? "" : "s", m->ntargets, m->ntargets == 1 ? "" : "s");
    const IrInput *y = &m->targets[0];
    if (col_init(&e->x, x))
        return ir_errf(err, errlen, "%s: %s data needs the input '%s' to be seq<int> or seq<[F]>", e->path, kind,
                       x->name);
    if (col_init(&e->y, y) || (e->y.seq && y->value->type.dim[0] != x->value->type.dim[0]))
        return ir_errf(
            err, errlen,
            "%s: %s data needs the target '%s' to be one value an example (int or [G]) or one a step of '%s' "
            "(seq<int> or seq<[G]>)",
            e->path, kind, y->name, x->name);
    e->max = m->syms[-x->value->type.dim[0] - 1].max;
    return 0;
}

/* Room in *p (elements of es bytes, *cap of them) for element n:
 * doubles the array when it is full.  0, or -1 when out of memory. */
static int room(void **p, int64_t *cap, int64_t n, size_t es)
{
    if (n < *cap) return 0;
    int64_t c = *cap ? 2 * *cap : 1024;
    void *np = realloc(*p, (size_t)c * es);
    if (!np) return -1;
    *p = np;
    *cap = c;
    return 0;
}

static int push(Col *c, double v)
{
    if (room((void **)&c->v, &c->cap, c->nv, sizeof *c->v)) return -1;
    c->v[c->nv++] = v;
    if (c->ids && v + 1 > (double)c->nclasses) c->nclasses = (int64_t)v + 1;
    return 0;
}

static int push_len(Examples *e, int64_t len)
{
    if (room((void **)&e->lens, &e->cap, e->n, sizeof *e->lens)) return -1;
    e->lens[e->n++] = len;
    return 0;
}

/* The steps of an example over the limit of x's type. */
static int too_long(const Examples *e, int64_t line, int64_t steps, const char *what, char *err, size_t errlen)
{
    return ir_errf(err, errlen, "%s:%lld: %lld %s, more than the %lld steps input '%s' may have (its type's limit)",
                   e->path, (long long)line, (long long)steps, what, (long long)e->max, e->x.io->name);
}

/* Column c as an array: [T, N(, F)] padded with zeros, or [N(, G)];
 * lens: each example's steps. */
static int col_array(const Examples *e, const Col *c, const int64_t *lens, int64_t T, Tensor *out)
{
    int64_t shape[3], r = 0;
    if (c->seq) shape[r++] = T;
    shape[r++] = e->n;
    if (!c->ids) shape[r++] = c->width;
    if (rt_tensor_alloc(out, c->ids ? RT_I64 : RT_F32, (int)r, shape)) return -1;
    const double *v = c->v;
    for (int64_t i = 0; i < e->n; i++) {
        int64_t steps = c->seq ? lens[i] : 1;
        for (int64_t s = 0; s < steps; s++)
            for (int64_t f = 0; f < c->width; f++, v++) {
                int64_t at = ((c->seq ? s * e->n : 0) + i) * c->width + f;
                if (c->ids)
                    ((int64_t *)out->data)[at] = (int64_t)*v;
                else
                    ((float *)out->data)[at] = (float)*v;
            }
    }
    return 0;
}

/* The model's vocabulary and classes against the ids read. */
static int check_ids(const Examples *e, char *err, size_t errlen)
{
    const IrOp *emb = e->x.ids ? data_find_use(e->m, IR_EMBEDDING, e->x.io->value, 1) : NULL;
    if (emb && emb->operands[0]->type.dim[0] < e->x.nclasses)
        return ir_errf(err, errlen,
                       "%s: the tokens have %lld ids but the embedding of '%s' has vocab=%lld: set vocab >= %lld",
                       e->path, (long long)e->x.nclasses, e->x.io->name, (long long)emb->operands[0]->type.dim[0],
                       (long long)e->x.nclasses);
    const IrOp *emb2 = e->len2 ? data_find_use(e->m, IR_EMBEDDING, e->x2.io->value, 1) : NULL;
    if (emb2 && emb2->operands[0]->type.dim[0] < e->x2.nclasses)
        return ir_errf(err, errlen,
                       "%s: the target's tokens, EOS and BOS are %lld ids but the embedding of '%s' has vocab=%lld: "
                       "set vocab >= %lld",
                       e->path, (long long)e->x2.nclasses, e->x2.io->name, (long long)emb2->operands[0]->type.dim[0],
                       (long long)e->x2.nclasses);
    const IrOp *ce = e->y.ids ? data_find_use(e->m, IR_CROSS_ENTROPY, e->y.io->value, 1) : NULL;
    if (ce) {
        const IrType *lt = &ce->operands[0]->type;
        if (lt->dim[lt->rank - 1] < e->y.nclasses)
            return ir_errf(
                err, errlen, "%s: the labels have %lld classes but the loss's logits have %lld: make them >= %lld",
                e->path, (long long)e->y.nclasses, (long long)lt->dim[lt->rank - 1], (long long)e->y.nclasses);
    }
    return 0;
}

static int64_t max_len(const int64_t *lens, int64_t n)
{
    int64_t T = 0;
    for (int64_t i = 0; i < n; i++)
        if (lens[i] > T) T = lens[i];
    return T;
}

/* Lengths `lens` as the array arrays[k]. */
static int lens_array(const Examples *e, const int64_t *lens, Tensor *out)
{
    if (rt_tensor_alloc(out, RT_I64, 1, &e->n)) return -1;
    memcpy(out->data, lens, (size_t)e->n * sizeof *lens);
    return 0;
}

/* The examples read into d as npy data: x, the target and the lengths
 * (an encoder-decoder: and the decoder's input and its lengths, which
 * the target has). */
static int finish(Examples *e, Dataset *d, char *err, size_t errlen)
{
    if (e->n < 1) return ir_errf(err, errlen, "%s: no examples", e->path);
    if (check_ids(e, err, errlen)) return -1;
    int s2s = e->len2 != NULL, n = s2s ? 5 : 3;
    const int64_t *ylens = s2s ? e->lens2 : e->lens;
    int64_t T = max_len(e->lens, e->n), Ty = max_len(ylens, e->n);
    const char *names[5] = {e->x.io->name, e->y.io->name, e->len->name, s2s ? e->x2.io->name : NULL,
                            s2s ? e->len2->name : NULL};
    d->kind = DATA_NPY;
    for (int k = 0; k < n; k++) {
        d->names[k] = strdup(names[k]);
        d->paths[k] = strdup(e->path);
        d->narrays = k + 1;
        if (!d->names[k] || !d->paths[k]) return ir_errf(err, errlen, "out of memory");
    }
    if (col_array(e, &e->x, e->lens, T, &d->arrays[0]) || col_array(e, &e->y, ylens, Ty, &d->arrays[1]) ||
        lens_array(e, e->lens, &d->arrays[2]) ||
        (s2s && (col_array(e, &e->x2, e->lens2, Ty, &d->arrays[3]) || lens_array(e, e->lens2, &d->arrays[4]))))
        return ir_errf(err, errlen, "%s: out of memory", e->path);
    return 0;
}

static void ex_free(Examples *e)
{
    free(e->x.v);
    free(e->y.v);
    free(e->lens);
    free(e->x2.v);
    free(e->lens2);
}

/* The next line of *p (NUL-terminated, without "\r\n"), or NULL at the
 * end; a last line without a newline counts. */
static char *next_line(char **p)
{
    char *line = *p;
    if (!line || !*line) return NULL;
    char *nl = strchr(line, '\n');
    *p = nl ? nl + 1 : NULL;
    if (nl) *nl = 0;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[len - 1] = 0;
    return line;
}

static int blank(const char *s) { return s[strspn(s, " \t")] == 0; }

/* Splits s in place at runs of spaces and tabs; the words go to w (grown),
 * returns their number or -1 when out of memory. */
static int64_t words(char *s, char ***w, int64_t *cap, int64_t at)
{
    int64_t n = 0;
    for (char *p = s + strspn(s, " \t"); *p; p += strspn(p, " \t")) {
        if (room((void **)w, cap, at + n, sizeof **w)) return -1;
        (*w)[at + n++] = p;
        p += strcspn(p, " \t");
        if (*p) *p++ = 0;
    }
    return n;
}

/* ---- text: LABEL<TAB>TOKENS -------------------------------------------- */

static int by_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Whether every word is a whole number 0..999999999 (then it is its own id). */
static int all_numbers(char **w, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        size_t k = strspn(w[i], "0123456789");
        if (k == 0 || k > 9 || w[i][k]) return 0;
    }
    return 1;
}

/* The words as ids into column c: their own values when all are whole
 * numbers, else their ranks in the sorted set of distinct words. */
static int word_ids(Col *c, char **w, int64_t n)
{
    if (all_numbers(w, n)) {
        for (int64_t i = 0; i < n; i++)
            if (push(c, (double)strtol(w[i], NULL, 10))) return -1;
        return 0;
    }
    char **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
    if (!sorted) return -1;
    memcpy(sorted, w, (size_t)n * sizeof *w);
    qsort(sorted, (size_t)n, sizeof *sorted, by_str);
    int64_t u = 0;
    for (int64_t i = 0; i < n; i++)
        if (!u || strcmp(sorted[u - 1], sorted[i])) sorted[u++] = sorted[i];
    int rc = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        char **at = bsearch(&w[i], sorted, (size_t)u, sizeof *sorted, by_str);
        rc = push(c, (double)(at - sorted));
    }
    free(sorted);
    return rc;
}

/* An encoder-decoder's lines, SOURCE<TAB>TARGET, into e and d: the
 * source words are x's ids as a classifier's tokens are; the target's
 * are numbered on their own the same way, V of them (a whole number its
 * own id, else ranks), and the decoder reads BOS = V + 1 then the
 * target, and is to predict the target then EOS = V: both of the
 * target's length + 1 (an empty target is EOS alone). */
static int s2s_lines(Examples *e, Dataset *d, char *buf, char *err, size_t errlen)
{
    char **xw = NULL, **yw = NULL, *p = buf, *line;
    int64_t xn = 0, xcap = 0, yn = 0, ycap = 0;
    Col tw = {.ids = 1, .width = 1}; /* the target's words' ids, every line's */
    int rc = -1;
    for (int64_t line_no = 1; (line = next_line(&p)); line_no++) {
        if (blank(line)) {
            ir_errf(err, errlen, "%s:%lld: an empty line; every line is one example, SOURCE<TAB>TARGET", e->path,
                    (long long)line_no);
            goto out;
        }
        char *tab = strchr(line, '\t');
        if (!tab) {
            ir_errf(err, errlen, "%s:%lld: no tab; a line is SOURCE<TAB>TARGET, the tokens separated by spaces",
                    e->path, (long long)line_no);
            goto out;
        }
        *tab = 0;
        int64_t ns = words(line, &xw, &xcap, xn), nt = words(tab + 1, &yw, &ycap, yn);
        if (ns < 0 || nt < 0 || push_len(e, ns) || room((void **)&e->lens2, &e->cap2, e->n - 1, sizeof *e->lens2)) {
            ir_errf(err, errlen, "%s: out of memory", e->path);
            goto out;
        }
        e->lens2[e->n - 1] = nt + 1;
        if (ns == 0) {
            ir_errf(err, errlen, "%s:%lld: no source tokens before the tab (length 0; a source needs at least 1 step)",
                    e->path, (long long)line_no);
            goto out;
        }
        if (ns > e->max) {
            too_long(e, line_no, ns, "source tokens", err, errlen);
            goto out;
        }
        if (nt + 1 > e->max2) {
            ir_errf(err, errlen,
                    "%s:%lld: %lld target tokens, and the decoder's BOS, are more than the %lld steps input '%s' may "
                    "have (its type's limit)",
                    e->path, (long long)line_no, (long long)nt, (long long)e->max2, e->x2.io->name);
            goto out;
        }
        xn += ns;
        yn += nt;
    }
    if (word_ids(&e->x, xw, xn) || word_ids(&tw, yw, yn)) {
        ir_errf(err, errlen, "%s: out of memory", e->path);
        goto out;
    }
    int64_t eos = tw.nclasses, at = 0;
    for (int64_t i = 0; i < e->n; i++) {
        int bad = push(&e->x2, (double)(eos + 1));
        for (int64_t k = 0; k < e->lens2[i] - 1; k++, at++) bad |= push(&e->x2, tw.v[at]) || push(&e->y, tw.v[at]);
        if (bad || push(&e->y, (double)eos)) {
            ir_errf(err, errlen, "%s: out of memory", e->path);
            goto out;
        }
    }
    rc = finish(e, d, err, errlen);
out:
    free(xw);
    free(yw);
    free(tw.v);
    return rc;
}

int data_load_text_examples(Dataset *d, const char *path, const IrModule *m, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", path);
    Examples e = {.path = path, .m = m};
    char **xw = NULL, **yw = NULL;
    int64_t xn = 0, xcap = 0, yn = 0, ycap = 0, n;
    char *buf = NULL;
    int rc = -1;
    if (ex_model(&e, "text", err, errlen)) goto out;
    if (!e.len2 && (!e.x.ids || !e.y.ids)) {
        ir_errf(err, errlen,
                "%s: text data needs the input '%s' to be seq<int> and the target '%s' int or seq<int> (use "
                "csv for numbers)",
                path, e.x.io->name, e.y.io->name);
        goto out;
    }
    if (!(buf = (char *)data_read_file(path, &n, err, errlen))) goto out;
    if ((int64_t)strlen(buf) != n) {
        ir_errf(err, errlen, "%s: not a text file (contains a NUL byte)", path);
        goto out;
    }
    char *p = buf, *line;
    if (e.len2) {
        rc = s2s_lines(&e, d, buf, err, errlen);
        goto out;
    }
    for (int64_t line_no = 1; (line = next_line(&p)); line_no++) {
        if (blank(line)) {
            ir_errf(err, errlen, "%s:%lld: an empty line; every line is one example, LABEL<TAB>TOKENS", path,
                    (long long)line_no);
            goto out;
        }
        char *tab = strchr(line, '\t');
        if (!tab) {
            ir_errf(err, errlen, "%s:%lld: no tab; a line is LABEL<TAB>TOKENS, the tokens separated by spaces", path,
                    (long long)line_no);
            goto out;
        }
        *tab = 0;
        int64_t nl = words(line, &yw, &ycap, yn), nt = words(tab + 1, &xw, &xcap, xn);
        if (nl < 0 || nt < 0 || push_len(&e, nt)) {
            ir_errf(err, errlen, "%s: out of memory", path);
            goto out;
        }
        if (nt == 0) {
            ir_errf(err, errlen, "%s:%lld: no tokens after the tab (length 0; an example needs at least 1 step)", path,
                    (long long)line_no);
            goto out;
        }
        if (nt > e.max) {
            too_long(&e, line_no, nt, "tokens", err, errlen);
            goto out;
        }
        if (nl == 0 || (!e.y.seq && nl != 1) || (e.y.seq && nl != nt)) {
            if (e.y.seq)
                ir_errf(err, errlen, "%s:%lld: %lld tags for %lld tokens; the target '%s' (seq<int>) takes one a token",
                        path, (long long)line_no, (long long)nl, (long long)nt, e.y.io->name);
            else
                ir_errf(err, errlen, "%s:%lld: %lld labels before the tab; the target '%s' (int) is one an example",
                        path, (long long)line_no, (long long)nl, e.y.io->name);
            goto out;
        }
        xn += nt;
        yn += nl;
    }
    if (word_ids(&e.x, xw, xn) || word_ids(&e.y, yw, yn)) {
        ir_errf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    rc = finish(&e, d, err, errlen);
out:
    free(xw);
    free(yw);
    free(buf);
    ex_free(&e);
    if (rc) data_free(d);
    return rc;
}

/* ---- csv: a header, then one example a row ------------------------------ */

#define CSV_EX_MAX_COLS 1024

static char *trim(char *s)
{
    s += strspn(s, " \t");
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    return s;
}

/* The fields of a line split in place at commas, trimmed; their number. */
static int fields(char *line, char **f)
{
    int n = 0;
    for (char *p = line;; n++) {
        char *c = strchr(p, ',');
        if (c) *c = 0;
        if (n < CSV_EX_MAX_COLS) f[n] = trim(p);
        if (!c) return n + 1;
        p = c + 1;
    }
}

/* One number of column c at (line, step): an id is a whole number from 0
 * to 999999999, a float a decimal number finite in float32. */
static int number(const Examples *e, const Col *c, const char *s, int64_t line, int64_t step, double *v, char *err,
                  size_t errlen)
{
    if (c->ids) {
        size_t k = strspn(s, "0123456789");
        if (k == 0 || k > 9 || s[k])
            return ir_errf(err, errlen, "%s:%lld: column '%s', step %lld: '%s' is not an id (a whole number from 0)",
                           e->path, (long long)line, c->io->name, (long long)step, s);
        *v = (double)strtol(s, NULL, 10);
        return 0;
    }
    float f;
    const char *why = "is not a number";
    if (data_parse_number(s, &f, &why) != 1)
        return ir_errf(err, errlen, "%s:%lld: column '%s', step %lld: '%s' %s", e->path, (long long)line, c->io->name,
                       (long long)step, s, why);
    *v = f;
    return 0;
}

/* Field s of column c: steps separated by ';', each `width` numbers
 * separated by spaces; *steps receives their number. */
static int field(Examples *e, Col *c, char *s, int64_t line, int64_t *steps, char *err, size_t errlen)
{
    *steps = 0;
    if (!*s)
        return ir_errf(err, errlen, "%s:%lld: column '%s' is empty (length 0; %s)", e->path, (long long)line,
                       c->io->name, c->seq ? "an example needs at least 1 step" : "one value an example");
    for (char *p = s; p; (*steps)++) {
        char *semi = strchr(p, ';');
        if (semi) *semi = 0;
        int64_t k = 0;
        for (char *q = p + strspn(p, " \t"); *q; q += strspn(q, " \t"), k++) {
            char *num = q;
            q += strcspn(q, " \t");
            if (*q) *q++ = 0;
            double v = 0;
            if (number(e, c, num, line, *steps + 1, &v, err, errlen)) return -1;
            if (push(c, v)) return ir_errf(err, errlen, "%s: out of memory", e->path);
        }
        if (k != c->width)
            return ir_errf(err, errlen, "%s:%lld: column '%s', step %lld: %lld number%s, '%s' takes %lld a step",
                           e->path, (long long)line, c->io->name, (long long)*steps + 1, (long long)k,
                           k == 1 ? "" : "s", c->io->name, (long long)c->width);
        p = semi ? semi + 1 : NULL;
    }
    return 0;
}

int data_load_csv_examples(Dataset *d, const char *path, const IrModule *m, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", path);
    Examples e = {.path = path, .m = m};
    int64_t n;
    char *buf = NULL;
    int rc = -1, ncols = 0, xc = -1, yc = -1;
    if (ex_model(&e, "csv", err, errlen)) goto out;
    if (!(buf = (char *)data_read_file(path, &n, err, errlen))) goto out;
    if ((int64_t)strlen(buf) != n) {
        ir_errf(err, errlen, "%s: not a csv file (contains a NUL byte)", path);
        goto out;
    }
    char *p = buf, *line, *f[CSV_EX_MAX_COLS];
    for (int64_t line_no = 1; (line = next_line(&p)); line_no++) {
        if (blank(line)) continue; /* as in a csv time series */
        int nf = fields(line, f);
        if (nf > CSV_EX_MAX_COLS) {
            ir_errf(err, errlen, "%s:%lld: more than %d columns", path, (long long)line_no, CSV_EX_MAX_COLS);
            goto out;
        }
        if (!ncols) { /* the header */
            ncols = nf;
            for (int i = 0; i < nf; i++) {
                if (!strcmp(f[i], e.x.io->name) && xc < 0) xc = i;
                if (!strcmp(f[i], e.y.io->name) && yc < 0) yc = i;
            }
            if (xc < 0 || yc < 0) {
                ir_errf(err, errlen,
                        "%s:%lld: the first line names no column '%s' (the %s); csv data of examples starts with a "
                        "header naming the columns, such as %s,%s",
                        path, (long long)line_no, xc < 0 ? e.x.io->name : e.y.io->name, xc < 0 ? "input" : "target",
                        e.y.io->name, e.x.io->name);
                goto out;
            }
            continue;
        }
        if (nf != ncols) {
            ir_errf(err, errlen, "%s:%lld: %d columns, the header has %d", path, (long long)line_no, nf, ncols);
            goto out;
        }
        int64_t xs, ys;
        if (field(&e, &e.x, f[xc], line_no, &xs, err, errlen)) goto out;
        if (xs > e.max) {
            too_long(&e, line_no, xs, "steps", err, errlen);
            goto out;
        }
        if (field(&e, &e.y, f[yc], line_no, &ys, err, errlen)) goto out;
        if (ys != (e.y.seq ? xs : 1)) {
            ir_errf(err, errlen, "%s:%lld: column '%s' has %lld steps, the target takes %lld (%s)", path,
                    (long long)line_no, e.y.io->name, (long long)ys, (long long)(e.y.seq ? xs : 1),
                    e.y.seq ? "one a step of the input" : "one value an example");
            goto out;
        }
        if (push_len(&e, xs)) {
            ir_errf(err, errlen, "%s: out of memory", path);
            goto out;
        }
    }
    if (!ncols) {
        ir_errf(err, errlen, "%s: no header and no examples", path);
        goto out;
    }
    rc = finish(&e, d, err, errlen);
out:
    free(buf);
    ex_free(&e);
    if (rc) data_free(d);
    return rc;
}
