/* kir_lex.h - the lines and tokens of the kernel IR's text form, shared
 * by the parser's two files: kir_lex.c reads lines and tokens, kir_parse.c
 * the grammar (kir_parse.h is the interface).
 *
 * The text is line-oriented, as kir_print.c writes it: kp_next_line()
 * moves to the next line with code, past blank lines and lines that are
 * only a comment; the code ends where the comment starts, at the first
 * '#' outside a quoted name.  Tokens are read at the cursor, blanks
 * skipped first; every kp_ function that expects something and does not
 * find it fails the parse: a message "FILE:LINE:COL: ..." in P->err and a
 * longjmp to P->fail (kfunc_parse frees what was built). */
#ifndef RNNC_KIR_LEX_H
#define RNNC_KIR_LEX_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "kir/kir.h"
#include "ir/ir.h"

/* Loop nesting the parser follows (far beyond any lowering's two). */
#define KP_MAX_DEPTH 64

/* One parse: the text and the cursor (kir_lex.c), what is built and the
 * loops open around the cursor (kir_parse.c). */
typedef struct KParser {
    const char *file;
    const char *next;      /* the start of the line after this one      */
    const char *line;      /* this line                                 */
    const char *cur, *end; /* the cursor; the end of the code (before the comment) */
    const char *comment;   /* the comment's text after "# ", or NULL    */
    size_t commentlen;
    int lineno;
    KFunc *f;
    IrModule *m;
    int open[KP_MAX_DEPTH], nopen; /* the variables of the enclosing loops */
    unsigned char *var_used;       /* by variable number: a loop has it         */
    int max_var;
    char *err;
    size_t errlen;
    jmp_buf fail;
} KParser;

_Noreturn void kp_fail_at(KParser *P, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Moves to the next line with code; 0 at the end of the text. */
int kp_next_line(KParser *P);
/* The current line's comment as a string of P->f's, or NULL. */
const char *kp_comment(KParser *P);
int kp_ident_char(char c);
void kp_skip(KParser *P);
/* Whether the code at the cursor starts with lit (a literal ending in a
 * letter must end a word there); kp_accept also moves past it,
 * kp_expect fails without it. */
int kp_peek(KParser *P, const char *lit);
int kp_accept(KParser *P, const char *lit);
void kp_expect(KParser *P, const char *lit);
/* Fails unless the cursor is at the end of the line's code. */
void kp_end_of_line(KParser *P);
/* An identifier, or a run of characters up to a blank or bracket (a
 * function's or module's name), copied into buf; what names it in the
 * error. */
const char *kp_ident(KParser *P, char *buf, size_t n, const char *what);
const char *kp_word(KParser *P, char *buf, size_t n, const char *what);
int64_t kp_integer(KParser *P, const char *what);
/* A float as "%.9g" writes it, inf and nan too. */
double kp_number(KParser *P, const char *what);
/* Whether [s, e) contains lit. */
int kp_has(const char *s, const char *e, const char *lit);

#endif
