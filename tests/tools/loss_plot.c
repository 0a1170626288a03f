/* loss_plot.c - draw several `rnnc train` loss logs in one SVG chart, to
 * compare runs (the adding problem's LSTM, GRU and RNN curves in
 * examples/curves/):
 *
 *   loss_plot OUT.svg "TITLE" NAME=RUN.loss.csv [NAME=RUN.loss.csv ...]
 *
 * Each CSV is `step,loss,grad_norm` with a header line, as `rnnc train`
 * writes it; the chart has one line a file (the loss against the step) on
 * a log y axis, drawn by driver/svg_plot.c, the writer of `rnnc train`'s
 * own .loss.svg.  The Makefile links tools with librnnc.a only, and the
 * chart writer is part of the driver, so its one source file is included
 * here. */
#include "driver/svg_plot.c"

#define MAX_SERIES 8

/* Reads "step,loss,..." rows after the header into fresh arrays. */
static int read_log(const char *path, double **xs, double **ys, int *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char line[512];
    int cap = 0, rows = 0, lineno = 0;
    double *x = NULL, *y = NULL;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (lineno == 1) continue; /* the header */
        double s, l;
        if (sscanf(line, "%lf,%lf", &s, &l) != 2) {
            fprintf(stderr, "%s:%d: not a 'step,loss' row\n", path, lineno);
            goto bad;
        }
        if (rows == cap) {
            cap = cap ? 2 * cap : 256;
            double *nx = realloc(x, (size_t)cap * sizeof *x), *ny = nx ? realloc(y, (size_t)cap * sizeof *y) : NULL;
            if (nx) x = nx;
            if (ny) y = ny;
            if (!nx || !ny) {
                fprintf(stderr, "loss_plot: out of memory\n");
                goto bad;
            }
        }
        x[rows] = s;
        y[rows] = l;
        rows++;
    }
    fclose(f);
    *xs = x, *ys = y, *n = rows;
    return 0;
bad:
    fclose(f);
    free(x);
    free(y);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc - 3 > MAX_SERIES) {
        fprintf(stderr, "usage: loss_plot OUT.svg TITLE NAME=RUN.loss.csv ... (at most %d)\n", MAX_SERIES);
        return 2;
    }
    SvgSeries s[MAX_SERIES];
    int ns = 0, rc = 1;
    for (int i = 3; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            fprintf(stderr, "loss_plot: '%s' is not NAME=FILE\n", argv[i]);
            goto done;
        }
        *eq = '\0';
        double *x, *y;
        int n;
        if (read_log(eq + 1, &x, &y, &n)) goto done;
        s[ns++] = (SvgSeries){argv[i], x, y, n};
    }
    SvgPlot p = {.title = argv[2], .xlabel = "step", .ylabel = "training loss", .log_y = 1};
    char err[512];
    if (svg_plot_write(argv[1], &p, s, ns, err, sizeof err))
        fprintf(stderr, "loss_plot: %s\n", err);
    else
        rc = 0;
done:
    for (int i = 0; i < ns; i++) {
        free((double *)s[i].x);
        free((double *)s[i].y);
    }
    return rc;
}
