/* loss_log.c - the per-step loss CSV of `rnnc train` (loss_log.h). */
#include "driver/loss_log.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "driver/svg_plot.h"

#define HEADER          "step,loss,grad_norm\n"
#define HEADER_ACC      "step,loss,grad_norm,accuracy\n"
#define HEADER_EVAL     "step,eval_loss\n"
#define HEADER_EVAL_ACC "step,eval_loss,eval_accuracy\n"

void loss_log_path(const char *ckpt, const char *suffix, char *buf, size_t n)
{
    size_t len = strlen(ckpt);
    const char *ext = ".safetensors";
    size_t el = strlen(ext);
    if (len > el && !strcmp(ckpt + len - el, ext)) len -= el;
    snprintf(buf, n, "%.*s.%s", (int)len, ckpt, suffix);
}

/* The rows of an existing log up to step keep_upto, as one string. */
static char *kept_rows(const char *path, int64_t keep_upto)
{
    FILE *f = fopen(path, "r");
    size_t cap = 4096, n = 0;
    char *out = malloc(cap), line[512];
    if (!out) {
        if (f) fclose(f);
        return NULL;
    }
    out[0] = 0;
    if (!f) return out;
    while (fgets(line, sizeof line, f)) {
        char *end;
        long long step = strtoll(line, &end, 10);
        if (end == line || *end != ',' || step > keep_upto) continue; /* the header, or after the resume point */
        size_t l = strlen(line);
        if (n + l + 1 > cap) {
            cap = 2 * (n + l + 1);
            char *no = realloc(out, cap);
            if (!no) {
                free(out);
                fclose(f);
                return NULL;
            }
            out = no;
        }
        memcpy(out + n, line, l + 1);
        n += l;
    }
    fclose(f);
    return out;
}

/* loss_log_open and loss_log_open_eval: the same but for the header. */
static FILE *open_log(const char *path, const char *from, int64_t keep_upto, const char *header, char *err,
                      size_t errlen)
{
    /* Read before fopen(path, "w") truncates it: from may be path. */
    char *keep = from ? kept_rows(from, keep_upto) : NULL;
    if (from && !keep) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(keep);
        return NULL;
    }
    fputs(header, f);
    if (keep) fputs(keep, f);
    free(keep);
    fflush(f);
    return f;
}

FILE *loss_log_open(const char *path, const char *from, int64_t keep_upto, int acc, char *err, size_t errlen)
{
    return open_log(path, from, keep_upto, acc ? HEADER_ACC : HEADER, err, errlen);
}

FILE *loss_log_open_eval(const char *path, const char *from, int64_t keep_upto, int acc, char *err, size_t errlen)
{
    return open_log(path, from, keep_upto, acc ? HEADER_EVAL_ACC : HEADER_EVAL, err, errlen);
}

void loss_log_row(FILE *f, int64_t step, double loss, double grad_norm, double acc)
{
    /* %.9g: enough digits to tell every float32 apart, so two runs'
     * logs are equal exactly when their losses are. */
    fprintf(f, "%lld,%.9g,%.9g", (long long)step, loss, grad_norm);
    if (!isnan(acc)) fprintf(f, ",%.9g", acc);
    fputc('\n', f);
    fflush(f);
}

void loss_log_eval_row(FILE *f, int64_t step, double loss, double acc)
{
    fprintf(f, "%lld,%.9g", (long long)step, loss);
    if (!isnan(acc)) fprintf(f, ",%.9g", acc);
    fputc('\n', f);
    fflush(f);
}

/* The first two columns (step, loss) of a log's rows into *x, *y (malloc'ed,
 * *n points).  A file that does not exist is no points: a run without
 * eval data writes no eval log.  Returns 0, or -1 out of memory. */
static int read_curve(const char *path, double **xp, double **yp, int *np)
{
    size_t cap = 1024;
    int n = 0;
    double *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y);
    *xp = x;
    *yp = y;
    *np = 0;
    if (!x || !y) return -1;
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return 0;
    char line[512];
    int oom = 0;
    while (fgets(line, sizeof line, f)) {
        char *end, *end2;
        double step = strtod(line, &end);
        if (end == line || *end != ',') continue; /* the header */
        double loss = strtod(end + 1, &end2);
        if (end2 == end + 1) continue;
        if ((size_t)n == cap) {
            cap *= 2;
            double *nx = realloc(x, cap * sizeof *x), *ny = nx ? realloc(y, cap * sizeof *y) : NULL;
            if (nx) *xp = x = nx;
            if (ny) *yp = y = ny;
            if (!nx || !ny) {
                oom = 1;
                break;
            }
        }
        x[n] = step;
        y[n++] = loss;
    }
    fclose(f);
    *np = n;
    return oom ? -1 : 0;
}

int loss_log_svg(const char *csv_path, const char *eval_path, const char *svg_path, const char *title, int log_y,
                 char *err, size_t errlen)
{
    FILE *f = fopen(csv_path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", csv_path, strerror(errno));
        return -1;
    }
    fclose(f);
    SvgSeries sr[2] = {{"train loss", NULL, NULL, 0}, {"eval loss", NULL, NULL, 0}};
    double *x[2], *y[2];
    int rc = -1;
    int oom = read_curve(csv_path, &x[0], &y[0], &sr[0].n) | read_curve(eval_path, &x[1], &y[1], &sr[1].n);
    if (oom) {
        snprintf(err, errlen, "%s: out of memory", svg_path);
    } else {
        char t[300];
        snprintf(t, sizeof t, "training loss of %s", title);
        for (int i = 0; i < 2; i++) {
            sr[i].x = x[i];
            sr[i].y = y[i];
        }
        SvgPlot p = {.title = t, .xlabel = "step", .ylabel = "loss", .log_y = log_y}; /* log: "(log scale)" added */
        rc = svg_plot_write(svg_path, &p, sr, sr[1].n > 0 ? 2 : 1, err, errlen);
    }
    for (int i = 0; i < 2; i++) {
        free(x[i]);
        free(y[i]);
    }
    return rc;
}
