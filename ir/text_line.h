/* text_line.h - one line of a text dump, built in a buffer first so that
 * the trailing "# origin" comment can be aligned after it: what the
 * graph-IR printer (ir/print.c) and the kernel-IR printer
 * (kir/kir_print.c) share, so that the two dumps read alike. */
#ifndef RNNC_TEXT_LINE_H
#define RNNC_TEXT_LINE_H

#include <stddef.h>
#include <stdio.h>

/* Column where the origin comment starts when the text is shorter: it
 * keeps origins in one readable column. */
#define TEXT_LINE_ORIGIN_COL 64

typedef struct TextLine {
    char buf[8192]; /* a longer line is cut here */
    size_t len;
} TextLine;

/* Appends printf-style text. */
void line_put(TextLine *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Two spaces per level, plus one level. */
void line_indent(TextLine *l, int depth);
/* Writes the line and "# origin" (if any) to out, and empties it. */
void line_end(TextLine *l, const char *origin, FILE *out);

#endif
