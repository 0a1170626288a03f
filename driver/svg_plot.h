/* svg_plot.h - a small hand-written SVG line chart: one or more series of
 * (x, y) points, a title, axis labels, a linear or base-10 log y axis, a
 * legend.  No library: the chart is a string of SVG text.
 *
 * Used by `rnnc grad --per-step-svg` (gradient norm per time step, log y)
 * and meant for `rnnc train`'s loss curve too:
 *
 *     double x[] = {1, 2, 3}, y[] = {2.3, 1.7, 1.2};
 *     SvgSeries s = { "train", x, y, 3 };
 *     SvgPlot p = { .title = "loss", .xlabel = "step", .ylabel = "loss" };
 *     if (svg_plot_write("loss.svg", &p, &s, 1, err, sizeof err)) ...
 *
 * Points whose x or y is not finite, and with log_y points whose y <= 0,
 * are skipped (the line joins their neighbours), so each series is exactly
 * one <polyline> element, in the order given. */
#ifndef RNNC_SVG_PLOT_H
#define RNNC_SVG_PLOT_H

#include <stddef.h>

typedef struct SvgSeries {
    const char *name;    /* legend text; NULL for none                   */
    const double *x, *y; /* n points                                      */
    int n;
} SvgSeries;

typedef struct SvgPlot {
    const char *title; /* each may be NULL                              */
    const char *xlabel, *ylabel;
    int log_y;         /* base-10 log scale for y                       */
    int width, height; /* pixels; 0 for the default 720 x 440      */
} SvgPlot;

/* The chart as a NUL-terminated malloc'ed string (the caller frees it),
 * its length in *len if len is not NULL; NULL when out of memory. */
char *svg_plot_render(const SvgPlot *p, const SvgSeries *s, int nseries, size_t *len);

/* Renders and writes to path atomically (a temporary file renamed).
 * Returns 0, or -1 with a message in err. */
int svg_plot_write(const char *path, const SvgPlot *p, const SvgSeries *s, int nseries, char *err, size_t errlen);

#endif
