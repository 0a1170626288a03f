/* svg_plot.c - a small hand-written SVG line chart (see svg_plot.h).
 *
 * The chart is a frame with grid lines at "nice" ticks (1, 2 or 5 times a
 * power of ten on a linear axis, whole decades on a log axis), a title,
 * axis labels, one polyline per series and a legend to the right.  The
 * text is built in a growable buffer and written with
 * rt_write_file_atomic(), so a reader never sees half a file. */
#include "driver/svg_plot.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/tensor.h"

/* ---- a growable string ------------------------------------------------------------ */

typedef struct Buf {
    char *s;
    size_t n, cap;
    int oom;
} Buf;

static void bprintf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bprintf(Buf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = 2 * b->cap + (size_t)k + 256;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
}

/* Text content or attribute value with XML's special characters escaped. */
static void bescape(Buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': bprintf(b, "&amp;"); break;
        case '<': bprintf(b, "&lt;"); break;
        case '>': bprintf(b, "&gt;"); break;
        case '"': bprintf(b, "&quot;"); break;
        default: bprintf(b, "%c", *s); break;
        }
    }
}

/* ---- scales ------------------------------------------------------------------------ */

/* A tick spacing of 1, 2 or 5 times a power of ten, about span/5. */
static double nice_step(double span)
{
    double raw = span / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

typedef struct Axis {
    double lo, hi; /* data range shown (log10 of it on a log axis) */
    double p0, p1; /* pixel positions of lo and hi                 */
} Axis;

static double axis_px(const Axis *a, double v) { return a->p0 + (v - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0); }

/* Widens a degenerate range so that the scale is defined. */
static void axis_fix_range(Axis *a, int log_axis)
{
    if (!(a->lo <= a->hi)) {
        a->lo = 0;
        a->hi = 1;
    }               /* no points at all */
    if (log_axis) { /* whole decades */
        a->lo = floor(a->lo);
        a->hi = ceil(a->hi);
        if (a->hi - a->lo < 1) {
            a->lo -= 1;
            a->hi += 1;
        }
    } else if (a->hi - a->lo < 1e-12 * (fabs(a->lo) + fabs(a->hi)) || a->hi == a->lo) {
        double pad = a->lo != 0 ? fabs(a->lo) * 0.1 : 1;
        a->lo -= pad;
        a->hi += pad;
    }
}

static void tick_label(char *buf, size_t n, double v, int log_axis)
{
    if (log_axis) {
        int k = (int)lround(v);
        if (k >= -3 && k <= 4)
            snprintf(buf, n, "%g", pow(10, k));
        else
            snprintf(buf, n, "1e%d", k);
    } else {
        snprintf(buf, n, "%g", v);
    }
}

/* Grid lines and tick labels of one axis; vertical is the y axis. */
static void draw_ticks(Buf *b, const Axis *a, const Axis *other, int vertical, int log_axis)
{
    double step = log_axis ? ceil((a->hi - a->lo) / 8) : nice_step(a->hi - a->lo);
    double first = ceil(a->lo / step - 1e-9) * step;
    for (int i = 0; i < 64; i++) {
        double v = first + i * step;
        if (v > a->hi + step * 1e-9) break;
        if (fabs(v) < step * 1e-9) v = 0; /* "0", not "-1.1e-17" */
        double p = axis_px(a, v);
        char lab[32];
        tick_label(lab, sizeof lab, v, log_axis);
        if (vertical) {
            bprintf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n", other->p0, p,
                    other->p1, p);
            bprintf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", other->p0 - 6, p + 4, lab);
        } else {
            bprintf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n", p, other->p0, p,
                    other->p1);
            bprintf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", p, other->p0 + 16, lab);
        }
    }
}

/* ---- the chart --------------------------------------------------------------------- */

static const char *const colors[] = {
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
};
#define NCOLORS ((int)(sizeof colors / sizeof colors[0]))

static int point_ok(const SvgPlot *p, double x, double y) { return isfinite(x) && isfinite(y) && (!p->log_y || y > 0); }

char *svg_plot_render(const SvgPlot *p, const SvgSeries *s, int nseries, size_t *len)
{
    int W = p->width > 0 ? p->width : 720, H = p->height > 0 ? p->height : 440;
    int legend = 0;
    for (int k = 0; k < nseries; k++) legend |= s[k].name != NULL;

    /* Data ranges over the points that can be drawn. */
    Axis ax = {.lo = INFINITY, .hi = -INFINITY}, ay = {.lo = INFINITY, .hi = -INFINITY};
    for (int k = 0; k < nseries; k++)
        for (int i = 0; i < s[k].n; i++) {
            double x = s[k].x[i], y = s[k].y[i];
            if (!point_ok(p, x, y)) continue;
            double v = p->log_y ? log10(y) : y;
            if (x < ax.lo) ax.lo = x;
            if (x > ax.hi) ax.hi = x;
            if (v < ay.lo) ay.lo = v;
            if (v > ay.hi) ay.hi = v;
        }
    axis_fix_range(&ax, 0);
    axis_fix_range(&ay, p->log_y);
    if (!p->log_y) { /* a little air above and below the lines */
        double pad = 0.05 * (ay.hi - ay.lo);
        ay.lo -= pad;
        ay.hi += pad;
    }
    ax.p0 = 80;
    ax.p1 = W - (legend ? 230 : 30);
    if (ax.p1 < ax.p0 + 50) ax.p1 = ax.p0 + 50;
    ay.p0 = H - 55; /* y grows downwards in SVG: lo is at the bottom */
    ay.p1 = 40;

    Buf b = {0};
    bprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    bprintf(&b,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    bprintf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    if (p->title) {
        bprintf(&b, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", W / 2.0);
        bescape(&b, p->title);
        bprintf(&b, "</text>\n");
    }
    /* A frame: the plot area's corners in pixels. */
    Axis fx = {.p0 = ax.p0, .p1 = ax.p1}, fy = {.p0 = ay.p0, .p1 = ay.p1};
    draw_ticks(&b, &ay, &fx, 1, p->log_y);
    draw_ticks(&b, &ax, &fy, 0, 0);
    bprintf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", ax.p0,
            ay.p1, ax.p1 - ax.p0, ay.p0 - ay.p1);
    if (p->xlabel) {
        bprintf(&b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", (ax.p0 + ax.p1) / 2, H - 14);
        bescape(&b, p->xlabel);
        bprintf(&b, "</text>\n");
    }
    if (p->ylabel) {
        double cy = (ay.p0 + ay.p1) / 2;
        bprintf(&b, "<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.1f)\">", cy, cy);
        bescape(&b, p->ylabel);
        if (p->log_y) bprintf(&b, " (log scale)");
        bprintf(&b, "</text>\n");
    }

    for (int k = 0; k < nseries; k++) {
        const char *c = colors[k % NCOLORS];
        int drawn = 0;
        bprintf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"", c);
        for (int i = 0; i < s[k].n; i++) {
            double x = s[k].x[i], y = s[k].y[i];
            if (!point_ok(p, x, y)) continue;
            bprintf(&b, "%s%.2f,%.2f", drawn++ ? " " : "", axis_px(&ax, x), axis_px(&ay, p->log_y ? log10(y) : y));
        }
        bprintf(&b, "\"/>\n");
        if (drawn <= 60) { /* few points: mark them, so a single point shows */
            bprintf(&b, "<g fill=\"%s\">", c);
            for (int i = 0; i < s[k].n; i++) {
                double x = s[k].x[i], y = s[k].y[i];
                if (point_ok(p, x, y))
                    bprintf(&b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\"/>", axis_px(&ax, x),
                            axis_px(&ay, p->log_y ? log10(y) : y));
            }
            bprintf(&b, "</g>\n");
        }
        if (s[k].name) {
            double ly = ay.p1 + 8 + 18 * k, lx = ax.p1 + 14;
            bprintf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                    lx, ly, lx + 22, ly, c);
            bprintf(&b, "<text x=\"%.1f\" y=\"%.1f\">", lx + 28, ly + 4);
            bescape(&b, s[k].name);
            bprintf(&b, "</text>\n");
        }
    }
    bprintf(&b, "</svg>\n");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    if (len) *len = b.n;
    return b.s;
}

int svg_plot_write(const char *path, const SvgPlot *p, const SvgSeries *s, int nseries, char *err, size_t errlen)
{
    size_t n;
    char *text = svg_plot_render(p, s, nseries, &n);
    if (!text) {
        snprintf(err, errlen, "%s: out of memory drawing the chart", path);
        return -1;
    }
    const void *parts[1] = {text};
    int rc = rt_write_file_atomic(path, parts, &n, 1, err, errlen);
    free(text);
    return rc ? -1 : 0;
}
