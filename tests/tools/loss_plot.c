/* loss_plot.c - draw several `rnnc train` loss logs in one SVG chart, to
 * compare runs (the adding problem's LSTM, GRU and RNN curves in
 * examples/curves/):
 *
 *   loss_plot [--linear] [--xlabel X] [--ylabel Y] OUT.svg "TITLE" NAME=RUN.loss.csv[:COL] ...
 *
 * Each CSV is `step,loss,grad_norm` with a header line, as `rnnc train`
 * writes it; the chart has one line a file (the loss against the step) on
 * a log y axis, drawn by driver/svg_plot.c, the writer of `rnnc train`'s
 * own .loss.svg.  Any CSV of numbers with a header line will do: `:COL`
 * takes y from column COL (0-based; default 1, the loss) against column 0,
 * and the options give a linear y axis and other axis labels, so the
 * examples gallery draws forecasts and gradient norms with it too
 * (examples/gallery/).  The Makefile links tools with librnnc.a only, and the
 * chart writer is part of the driver, so its one source file is included
 * here. */
#include "driver/svg_plot.c"

#define MAX_SERIES 8

/* Reads "step,loss,..." rows after the header into fresh arrays. */
static int read_log(const char *path, int col, double **xs, double **ys, int *n)
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
        double s, l = 0;
        char *p = line, *end;
        s = strtod(p, &end);
        int ok = end != p;
        for (int c = 1; ok && c <= col; c++) {
            p = strchr(end, ',');
            ok = p != NULL;
            if (ok) l = strtod(++p, &end), ok = end != p;
        }
        if (!ok) {
            fprintf(stderr, "%s:%d: not a row of at least %d numbers\n", path, lineno, col + 1);
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
    SvgPlot p = {.xlabel = "step", .ylabel = "training loss", .log_y = 1};
    int a = 1;
    for (; a < argc && argv[a][0] == '-' && argv[a][1] == '-'; a++) {
        if (!strcmp(argv[a], "--linear"))
            p.log_y = 0;
        else if (!strcmp(argv[a], "--xlabel") && a + 1 < argc)
            p.xlabel = argv[++a];
        else if (!strcmp(argv[a], "--ylabel") && a + 1 < argc)
            p.ylabel = argv[++a];
        else
            break;
    }
    if (argc - a < 3 || argc - a - 2 > MAX_SERIES) {
        fprintf(stderr,
                "usage: loss_plot [--linear] [--xlabel X] [--ylabel Y] OUT.svg TITLE NAME=FILE.csv[:COL] ... "
                "(at most %d)\n",
                MAX_SERIES);
        return 2;
    }
    const char *out = argv[a];
    p.title = argv[a + 1];
    SvgSeries s[MAX_SERIES] = {{0}};
    int ns = 0, rc = 1;
    for (int i = a + 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            fprintf(stderr, "loss_plot: '%s' is not NAME=FILE\n", argv[i]);
            goto done;
        }
        *eq = '\0';
        /* FILE:COL, when what follows the last ':' is a column number */
        int col = 1;
        char *colon = strrchr(eq + 1, ':'), *end;
        if (colon) {
            long c = strtol(colon + 1, &end, 10);
            if (end != colon + 1 && !*end && c >= 1 && c < 1000) col = (int)c, *colon = '\0';
        }
        double *x, *y;
        int n;
        if (read_log(eq + 1, col, &x, &y, &n)) goto done;
        s[ns++] = (SvgSeries){argv[i], x, y, n};
    }
    char err[512];
    if (svg_plot_write(out, &p, s, ns, err, sizeof err))
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
