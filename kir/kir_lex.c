/* kir_lex.c - the lines and tokens of the kernel IR's text form, for the
 * parser (kir_lex.h, kir_parse.c): which lines hold code, where a line's
 * comment starts, and the cursor's tokens, each failing with the line
 * and column. */
#include "kir/kir_lex.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void kp_fail_at(KParser *P, const char *at, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int col = at && P->line && at >= P->line ? (int)(at - P->line) + 1 : 1;
    if (P->err && P->errlen) snprintf(P->err, P->errlen, "%s:%d:%d: %s", P->file, P->lineno, col, msg);
    longjmp(P->fail, 1);
}

/* ---- lines ---------------------------------------------------------------- */

static int kp_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Moves to the next line with code on it, past blank lines and lines that
 * are only a comment (a test's CHECK lines).  Returns 0 at the end of the
 * text. */
int kp_next_line(KParser *P)
{
    while (*P->next) {
        const char *s = P->next, *e = strchr(s, '\n');
        if (!e) e = s + strlen(s);
        P->next = *e ? e + 1 : e;
        P->lineno++;
        const char *q = s;
        while (q < e && kp_blank(*q)) q++;
        if (q == e || *q == '#') continue;
        P->line = s;
        P->cur = q;
        /* the comment starts at the first '#' outside a quoted name */
        const char *c = q;
        for (int quoted = 0; c < e && (quoted || *c != '#'); c++)
            if (*c == '"') quoted = !quoted;
        P->end = c;
        while (P->end > q && kp_blank(P->end[-1])) P->end--;
        P->comment = NULL;
        if (c < e) {
            c++;
            if (c < e && *c == ' ') c++;
            const char *ce = e;
            if (ce > c && ce[-1] == '\r') ce--;
            P->comment = c;
            P->commentlen = (size_t)(ce - c);
        }
        return 1;
    }
    P->line = P->cur = P->end = P->next;
    P->lineno++;
    P->comment = NULL;
    return 0;
}

/* The line's comment as a string of the function's, or NULL. */
const char *kp_comment(KParser *P)
{
    if (!P->comment || !P->commentlen) return NULL;
    char *s = kfunc_alloc(P->f, P->commentlen + 1);
    memcpy(s, P->comment, P->commentlen);
    return s;
}

/* ---- tokens --------------------------------------------------------------- */

static int kp_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
int kp_ident_char(char c) { return kp_ident_start(c) || (c >= '0' && c <= '9'); }

void kp_skip(KParser *P)
{
    while (P->cur < P->end && kp_blank(*P->cur)) P->cur++;
}

/* Whether the code at the cursor starts with lit; a literal ending in a
 * letter must end a word there ("packed", not "packedx"). */
int kp_peek(KParser *P, const char *lit)
{
    kp_skip(P);
    size_t n = strlen(lit);
    if ((size_t)(P->end - P->cur) < n || memcmp(P->cur, lit, n)) return 0;
    return !(kp_ident_char(lit[n - 1]) && P->cur + n < P->end && kp_ident_char(P->cur[n]));
}

int kp_accept(KParser *P, const char *lit)
{
    if (!kp_peek(P, lit)) return 0;
    P->cur += strlen(lit);
    return 1;
}

void kp_expect(KParser *P, const char *lit)
{
    if (!kp_accept(P, lit)) kp_fail_at(P, P->cur, "expected '%s'", lit);
}

void kp_end_of_line(KParser *P)
{
    kp_skip(P);
    if (P->cur < P->end)
        kp_fail_at(P, P->cur, "unexpected '%.*s' at the end of the line",
                   (int)(P->end - P->cur > 20 ? 20 : P->end - P->cur), P->cur);
}

/* An identifier, copied into buf (n bytes); `what` names it in the error. */
const char *kp_ident(KParser *P, char *buf, size_t n, const char *what)
{
    kp_skip(P);
    const char *s = P->cur;
    if (s >= P->end || !kp_ident_start(*s)) kp_fail_at(P, s, "expected %s", what);
    while (P->cur < P->end && kp_ident_char(*P->cur)) P->cur++;
    if ((size_t)(P->cur - s) >= n) kp_fail_at(P, s, "%s too long", what);
    memcpy(buf, s, (size_t)(P->cur - s));
    buf[P->cur - s] = 0;
    return buf;
}

/* A run of characters up to a blank or bracket: a function's or module's name. */
const char *kp_word(KParser *P, char *buf, size_t n, const char *what)
{
    kp_skip(P);
    const char *s = P->cur;
    while (P->cur < P->end && !kp_blank(*P->cur) && !strchr("(){}", *P->cur)) P->cur++;
    if (P->cur == s) kp_fail_at(P, s, "expected %s", what);
    if ((size_t)(P->cur - s) >= n) kp_fail_at(P, s, "%s too long", what);
    memcpy(buf, s, (size_t)(P->cur - s));
    buf[P->cur - s] = 0;
    return buf;
}

int64_t kp_integer(KParser *P, const char *what)
{
    kp_skip(P);
    const char *s = P->cur;
    const char *d = s + (s < P->end && *s == '-');
    if (d >= P->end || *d < '0' || *d > '9') kp_fail_at(P, s, "expected %s", what);
    errno = 0;
    char *e;
    long long v = strtoll(s, &e, 10);
    if (errno || e > P->end) kp_fail_at(P, s, "%s out of range", what);
    P->cur = e;
    return v;
}

/* A float as "%.9g" writes it, including inf and nan. */
double kp_number(KParser *P, const char *what)
{
    kp_skip(P);
    const char *s = P->cur;
    char buf[64];
    size_t n = 0;
    while (s + n < P->end && n < sizeof buf - 1 && (kp_ident_char(s[n]) || strchr(".+-", s[n]))) n++;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *e;
    double v = strtod(buf, &e);
    if (n == 0 || e != buf + n) kp_fail_at(P, s, "expected %s (a number)", what);
    P->cur = s + n;
    return v;
}

/* Whether [s, e) contains lit. */
int kp_has(const char *s, const char *e, const char *lit)
{
    size_t n = strlen(lit);
    for (; (size_t)(e - s) >= n; s++)
        if (!memcmp(s, lit, n)) return 1;
    return 0;
}
