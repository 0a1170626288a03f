/* diag.h - diagnostics: `file:line:col: error: message`, the source line,
 * and a caret under the offending token.
 *
 * One Diag per file being compiled.  Errors and warnings are counted so the
 * driver can decide the exit status after every independent error has been
 * reported. */
#ifndef RNNC_DIAG_H
#define RNNC_DIAG_H

#include <stdio.h>

typedef struct SrcLoc {
    int line; /* 1-based; 0 means "no position" (whole-file messages) */
    int col;  /* 1-based, in bytes                                     */
    int len;  /* length of the token, for the ~~~ underline; >= 1      */
} SrcLoc;

typedef struct Diag {
    const char *filename;
    const char *source; /* the whole text, NUL-terminated; may be NULL */
    FILE *out;          /* stderr unless a test redirects it           */
    int nerrors;
    int nwarnings;
    int max_errors; /* stop printing after this many (0: 100)     */
} Diag;

void diag_init(Diag *d, const char *filename, const char *source, FILE *out);

void diag_error(Diag *d, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_warning(Diag *d, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A note attached to the previous error or warning ("previous definition
 * is here"). */
void diag_note(Diag *d, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static inline int diag_errors(const Diag *d) { return d->nerrors; }

#endif
