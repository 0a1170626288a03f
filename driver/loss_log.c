/* loss_log.c - the per-step loss CSV of `rnnc train` (loss_log.h). */
#include "driver/loss_log.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "driver/svg_plot.h"

#define HEADER     "step,loss,grad_norm\n"
#define HEADER_ACC "step,loss,grad_norm,accuracy\n"

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

FILE *loss_log_open(const char *path, const char *from, int64_t keep_upto, int acc, char *err, size_t errlen)
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
    fputs(acc ? HEADER_ACC : HEADER, f);
    if (keep) fputs(keep, f);
    free(keep);
    fflush(f);
    return f;
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

int loss_log_svg(const char *csv_path, const char *svg_path, const char *title, char *err, size_t errlen)
{
    FILE *f = fopen(csv_path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", csv_path, strerror(errno));
        return -1;
    }
    size_t cap = 1024;
    int n = 0;
    double *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y);
    char line[512];
    int rc = -1, oom = !x || !y;
    while (!oom && fgets(line, sizeof line, f)) {
        char *end, *end2;
        double step = strtod(line, &end);
        if (end == line || *end != ',') continue; /* the header */
        double loss = strtod(end + 1, &end2);
        if (end2 == end + 1) continue;
        if ((size_t)n == cap) {
            cap *= 2;
            double *nx = realloc(x, cap * sizeof *x), *ny = nx ? realloc(y, cap * sizeof *y) : NULL;
            if (nx) x = nx;
            if (ny) y = ny;
            if (!nx || !ny) {
                oom = 1;
                break;
            }
        }
        x[n] = step;
        y[n++] = loss;
    }
    fclose(f);
    if (oom) {
        snprintf(err, errlen, "%s: out of memory", svg_path);
    } else {
        char t[300];
        snprintf(t, sizeof t, "training loss of %s", title);
        SvgSeries sr = {"train loss", x, y, n};
        SvgPlot p = {.title = t, .xlabel = "step", .ylabel = "loss"};
        rc = svg_plot_write(svg_path, &p, &sr, 1, err, errlen);
    }
    free(x);
    free(y);
    return rc;
}
