/* text_line.c - see text_line.h. */
#include "ir/text_line.h"

#include <stdarg.h>

void line_put(TextLine *l, const char *fmt, ...)
{
    if (l->len >= sizeof l->buf - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, sizeof l->buf - l->len, fmt, ap);
    va_end(ap);
    if (n > 0) l->len += (size_t)n;
    if (l->len > sizeof l->buf - 1) l->len = sizeof l->buf - 1;
}

void line_indent(TextLine *l, int depth) { line_put(l, "%*s", 2 * (depth + 1), ""); }

void line_end(TextLine *l, const char *origin, FILE *out)
{
    fwrite(l->buf, 1, l->len, out);
    if (origin && origin[0]) {
        size_t col = l->len;
        do {
            fputc(' ', out);
            col++;
        } while (col < TEXT_LINE_ORIGIN_COL || col < l->len + 2);
        fprintf(out, "# %s", origin);
    }
    fputc('\n', out);
    l->len = 0;
}
