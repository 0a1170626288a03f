/* diag.c - print diagnostics in the `file:line:col: error: message` form,
 * followed by the source line and a caret (`^~~~`) under the token.
 *
 *   charlm.rnn:3:9: error: expected ')' after arguments of 'f'
 *     x = f(a, b
 *             ^
 *
 * The source line is printed as it is in the file; the caret line copies
 * the line's tabs so the caret stays under the token whatever the tab
 * width of the terminal.  A position with line 0 is a whole-file message
 * and prints no source line. */
#include <stdarg.h>
#include <string.h>

#include "frontend/diag.h"

void diag_init(Diag *d, const char *filename, const char *source, FILE *out)
{
    memset(d, 0, sizeof *d);
    d->filename = filename;
    d->source = source;
    d->out = out ? out : stderr;
}

/* Start of line `line` (1-based) in the source, or NULL if the file has
 * fewer lines.  Linear in the file size: diagnostics are rare. */
static const char *find_line(const char *src, int line)
{
    if (!src || line < 1) return NULL;
    const char *p = src;
    for (int l = 1; l < line; l++) {
        p = strchr(p, '\n');
        if (!p) return NULL;
        p++;
    }
    /* A position on the empty "line" after a final newline has no text. */
    if (*p == '\0' && line > 1) return NULL;
    return p;
}

static void print_source_line(const Diag *d, SrcLoc loc)
{
    const char *line = find_line(d->source, loc.line);
    if (!line) return;
    int n = 0;
    while (line[n] && line[n] != '\n') n++;
    if (n > 0 && line[n - 1] == '\r') /* CRLF files */
        n--;
    fprintf(d->out, "%.*s\n", n, line);

    /* Caret line: a tab where the source has one, so columns line up, and
     * nothing for UTF-8 continuation bytes, so a multi-byte character
     * takes one column as on a terminal. */
    int col = loc.col < 1 ? 1 : loc.col;
    for (int i = 0; i < col - 1; i++) {
        unsigned char ch = i < n ? (unsigned char)line[i] : ' ';
        if ((ch & 0xC0) == 0x80) continue;
        fputc(ch == '\t' ? '\t' : ' ', d->out);
    }
    fputc('^', d->out);
    /* The underline stops at the end of the line: a token never spans
     * lines, but a caller's length might be generous. */
    int len = loc.len < 1 ? 1 : loc.len;
    for (int i = col; i < col - 1 + len && i < n; i++)
        if (((unsigned char)line[i] & 0xC0) != 0x80) fputc('~', d->out);
    fputc('\n', d->out);
}

static int error_limit(const Diag *d) { return d->max_errors > 0 ? d->max_errors : 100; }

/* Prints one diagnostic, unless the error limit has been passed: then
 * everything is hidden, warnings and the notes of hidden errors too. */
static void vreport(Diag *d, SrcLoc loc, const char *kind, const char *fmt, va_list ap)
{
    if (d->nerrors > error_limit(d)) return;
    const char *file = d->filename ? d->filename : "<input>";
    if (loc.line > 0)
        fprintf(d->out, "%s:%d:%d: %s: ", file, loc.line, loc.col < 1 ? 1 : loc.col, kind);
    else
        fprintf(d->out, "%s: %s: ", file, kind);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    if (loc.line > 0) print_source_line(d, loc);
}

void diag_error(Diag *d, SrcLoc loc, const char *fmt, ...)
{
    d->nerrors++;
    /* Past the limit errors are still counted (the exit status depends on
     * it), and the first hidden one says that the rest are hidden. */
    if (d->nerrors == error_limit(d) + 1)
        fprintf(d->out, "%s: note: too many errors; the rest are not shown\n", d->filename ? d->filename : "<input>");
    va_list ap;
    va_start(ap, fmt);
    vreport(d, loc, "error", fmt, ap);
    va_end(ap);
}

void diag_warning(Diag *d, SrcLoc loc, const char *fmt, ...)
{
    d->nwarnings++;
    va_list ap;
    va_start(ap, fmt);
    vreport(d, loc, "warning", fmt, ap);
    va_end(ap);
}

void diag_note(Diag *d, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(d, loc, "note", fmt, ap);
    va_end(ap);
}
