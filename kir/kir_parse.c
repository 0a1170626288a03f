/* kir_parse.c - the text form of kernel IR read back (kir_parse.h): the
 * inverse of kir_print.c, line by line.
 *
 * The text is line-oriented, so the parser is too: each line is one
 * header entry, one statement's first line, one map node or output, or a
 * closing "}"; what follows a '#' outside a quoted string is the line's
 * comment, which is the origin of a statement and the `what` of a buffer.
 * Within a line a cursor reads tokens; the first error stops the parse
 * (longjmp to kfunc_parse, which frees what was built) with its line and
 * column.
 *
 * Everything built lives in the KFunc's arena, so an error frees it all
 * with kfunc_free(); expressions are built node by node, not through
 * kexpr_bin(), whose folding and reordering ("4 * T" for "T * 4") would
 * print differently. */
#include "kir/kir_parse.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kir/kir_calls.h"

/* Loop nesting the parser follows (far beyond any lowering's two). */
#define MAX_DEPTH 64
/* Loop variables t0 .. t(MAX_VAR - 1). */
#define MAX_VAR 100000

typedef struct Parser {
    const char *file;
    const char *next;           /* the start of the line after this one      */
    const char *line;           /* this line                                 */
    const char *cur, *end;      /* the cursor; the end of the code (before the comment) */
    const char *comment;        /* the comment's text after "# ", or NULL    */
    size_t      commentlen;
    int         lineno;
    KFunc      *f;
    IrModule   *m;
    int         open[MAX_DEPTH], nopen;  /* the variables of the enclosing loops */
    unsigned char *var_used;    /* by variable number: a loop has it         */
    int         max_var;
    char       *err;
    size_t      errlen;
    jmp_buf     fail;
} Parser;

static _Noreturn void fail_at(Parser *P, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static _Noreturn void fail_at(Parser *P, const char *at, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int col = at && P->line && at >= P->line ? (int)(at - P->line) + 1 : 1;
    if (P->err && P->errlen)
        snprintf(P->err, P->errlen, "%s:%d:%d: %s", P->file, P->lineno, col, msg);
    longjmp(P->fail, 1);
}

/* ---- lines ---------------------------------------------------------------- */

static int blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Moves to the next line with code on it, past blank lines and lines that
 * are only a comment (a test's CHECK lines).  Returns 0 at the end of the
 * text. */
static int next_line(Parser *P) {
    while (*P->next) {
        const char *s = P->next, *e = strchr(s, '\n');
        if (!e)
            e = s + strlen(s);
        P->next = *e ? e + 1 : e;
        P->lineno++;
        const char *q = s;
        while (q < e && blank(*q))
            q++;
        if (q == e || *q == '#')
            continue;
        P->line = s;
        P->cur = q;
        /* the comment starts at the first '#' outside a quoted name */
        const char *c = q;
        for (int quoted = 0; c < e && (quoted || *c != '#'); c++)
            if (*c == '"')
                quoted = !quoted;
        P->end = c;
        while (P->end > q && blank(P->end[-1]))
            P->end--;
        P->comment = NULL;
        if (c < e) {
            c++;
            if (c < e && *c == ' ')
                c++;
            const char *ce = e;
            if (ce > c && ce[-1] == '\r')
                ce--;
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
static const char *comment(Parser *P) {
    if (!P->comment || !P->commentlen)
        return NULL;
    char *s = kfunc_alloc(P->f, P->commentlen + 1);
    memcpy(s, P->comment, P->commentlen);
    return s;
}

/* ---- tokens --------------------------------------------------------------- */

static int ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }

static void skip(Parser *P) {
    while (P->cur < P->end && blank(*P->cur))
        P->cur++;
}

/* Whether the code at the cursor starts with lit; a literal ending in a
 * letter must end a word there ("packed", not "packedx"). */
static int peek(Parser *P, const char *lit) {
    skip(P);
    size_t n = strlen(lit);
    if ((size_t)(P->end - P->cur) < n || memcmp(P->cur, lit, n))
        return 0;
    return !(ident_char(lit[n - 1]) && P->cur + n < P->end && ident_char(P->cur[n]));
}

static int accept(Parser *P, const char *lit) {
    if (!peek(P, lit))
        return 0;
    P->cur += strlen(lit);
    return 1;
}

static void expect(Parser *P, const char *lit) {
    if (!accept(P, lit))
        fail_at(P, P->cur, "expected '%s'", lit);
}

static void end_of_line(Parser *P) {
    skip(P);
    if (P->cur < P->end)
        fail_at(P, P->cur, "unexpected '%.*s' at the end of the line", (int)(P->end - P->cur > 20 ? 20 : P->end - P->cur),
                P->cur);
}

/* An identifier, copied into buf (n bytes); `what` names it in the error. */
static const char *ident(Parser *P, char *buf, size_t n, const char *what) {
    skip(P);
    const char *s = P->cur;
    if (s >= P->end || !ident_start(*s))
        fail_at(P, s, "expected %s", what);
    while (P->cur < P->end && ident_char(*P->cur))
        P->cur++;
    if ((size_t)(P->cur - s) >= n)
        fail_at(P, s, "%s too long", what);
    memcpy(buf, s, (size_t)(P->cur - s));
    buf[P->cur - s] = 0;
    return buf;
}

/* A run of characters up to a blank or bracket: a function's or module's name. */
static const char *word(Parser *P, char *buf, size_t n, const char *what) {
    skip(P);
    const char *s = P->cur;
    while (P->cur < P->end && !blank(*P->cur) && !strchr("(){}", *P->cur))
        P->cur++;
    if (P->cur == s)
        fail_at(P, s, "expected %s", what);
    if ((size_t)(P->cur - s) >= n)
        fail_at(P, s, "%s too long", what);
    memcpy(buf, s, (size_t)(P->cur - s));
    buf[P->cur - s] = 0;
    return buf;
}

static int64_t integer(Parser *P, const char *what) {
    skip(P);
    const char *s = P->cur;
    const char *d = s + (s < P->end && *s == '-');
    if (d >= P->end || *d < '0' || *d > '9')
        fail_at(P, s, "expected %s", what);
    errno = 0;
    char *e;
    long long v = strtoll(s, &e, 10);
    if (errno || e > P->end)
        fail_at(P, s, "%s out of range", what);
    P->cur = e;
    return v;
}

/* A float as "%.9g" writes it, including inf and nan. */
static double number(Parser *P, const char *what) {
    skip(P);
    const char *s = P->cur;
    char buf[64];
    size_t n = 0;
    while (s + n < P->end && n < sizeof buf - 1 && (ident_char(s[n]) || strchr(".+-", s[n])))
        n++;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *e;
    double v = strtod(buf, &e);
    if (n == 0 || e != buf + n)
        fail_at(P, s, "expected %s (a number)", what);
    P->cur = s + n;
    return v;
}

/* ---- integer expressions ----------------------------------------------------- */

static const KExpr *mk(Parser *P, KExprKind k, int64_t v, int index, const KExpr *a, const KExpr *b) {
    KExpr *e = kfunc_alloc(P->f, sizeof *e);
    e->kind = k;
    e->value = v;
    e->index = index;
    e->a = a;
    e->b = b;
    return e;
}

static const KExpr *expr(Parser *P);

/* A name in an expression: a size symbol, else tK, the variable of an
 * enclosing loop. */
static const KExpr *name_expr(Parser *P, const char *at, const char *name) {
    for (int i = 0; P->m && i < P->m->nsyms; i++)
        if (!strcmp(P->m->syms[i].name, name))
            return mk(P, KE_SYM, 0, i, NULL, NULL);
    if (name[0] == 't' && name[1] && strspn(name + 1, "0123456789") == strlen(name + 1) && strlen(name) < 8) {
        int v = atoi(name + 1);
        for (int k = 0; k < P->nopen; k++)
            if (P->open[k] == v)
                return mk(P, KE_VAR, 0, v, NULL, NULL);
        fail_at(P, at, "%s is not the variable of an enclosing loop", name);
    }
    fail_at(P, at, "unknown size symbol '%s'", name);
}

static const KExpr *atom(Parser *P) {
    skip(P);
    const char *at = P->cur;
    if (accept(P, "(")) {
        const KExpr *e = expr(P);
        expect(P, ")");
        return e;
    }
    if (at < P->end && (*at == '-' || (*at >= '0' && *at <= '9')))
        return mk(P, KE_CONST, integer(P, "an integer"), 0, NULL, NULL);
    char name[128];
    ident(P, name, sizeof name, "an expression");
    if (!strcmp(name, "max") && accept(P, "(")) {
        const KExpr *a = expr(P);
        expect(P, ",");
        const KExpr *b = expr(P);
        expect(P, ")");
        return mk(P, KE_MAX, 0, 0, a, b);
    }
    return name_expr(P, at, name);
}

/* * and / group from the left, as the printer reads them. */
static const KExpr *product(Parser *P) {
    const KExpr *e = atom(P);
    for (;;) {
        if (accept(P, "*"))
            e = mk(P, KE_MUL, 0, 0, e, atom(P));
        else if (accept(P, "/"))
            e = mk(P, KE_DIV, 0, 0, e, atom(P));
        else
            return e;
    }
}

static const KExpr *expr(Parser *P) {
    const KExpr *e = product(P);
    for (;;) {
        if (accept(P, "+"))
            e = mk(P, KE_ADD, 0, 0, e, product(P));
        else if (accept(P, "-"))
            e = mk(P, KE_SUB, 0, 0, e, product(P));
        else
            return e;
    }
}

/* ---- buffers and views -------------------------------------------------------- */

static KBuf *find_buf(const KFunc *f, const char *name) {
    for (int i = 0; i < f->nbufs; i++)
        if (!strcmp(f->bufs[i]->name, name))
            return f->bufs[i];
    return NULL;
}

/* "NAME[OFF": the caller reads what follows the offset. */
static KView view_open(Parser *P) {
    skip(P);
    const char *at = P->cur;
    char name[256];
    ident(P, name, sizeof name, "a buffer name");
    KView v = {find_buf(P->f, name), NULL};
    if (!v.buf)
        fail_at(P, at, "unknown buffer '%s'", name);
    expect(P, "[");
    v.off = expr(P);
    return v;
}

/* "NAME[OFF; S0, ..., S(rank-1)]" ("NAME[OFF]" at rank 0). */
static KStrided strided(Parser *P, int rank) {
    KStrided s = {.v = view_open(P)};
    for (int d = 0; d < rank; d++) {
        skip(P);
        if (!accept(P, d ? "," : ";"))
            fail_at(P, P->cur, "expected '%s': a view in a map of rank %d has %d strides", d ? "," : ";", rank, rank);
        s.stride[d] = expr(P);
    }
    skip(P);
    if (!accept(P, "]"))
        fail_at(P, P->cur, "expected ']': a view in a map of rank %d has %d strides", rank, rank);
    return s;
}

/* "; ld EXPR]" after a GEMM operand's offset. */
static const KExpr *leading_dim(Parser *P) {
    expect(P, ";");
    expect(P, "ld");
    const KExpr *e = expr(P);
    expect(P, "]");
    return e;
}

static IrDType dtype(Parser *P) {
    skip(P);
    const char *at = P->cur;
    if (accept(P, "f32"))
        return IR_F32;
    if (accept(P, "i64"))
        return IR_I64;
    fail_at(P, at, "expected an element type (f32 or i64)");
}

/* "arg NAME : DT[SIZE]  arg[I] "EXT"", "result ... res[I] "EXT"",
 * "temp NAME : DT[SIZE] [@ OFFSET]"; the comment is what it holds. */
static void buffer_line(Parser *P, KBufKind kind) {
    skip(P);
    const char *at = P->cur;
    char name[256];
    ident(P, name, sizeof name, "a buffer name");
    if (find_buf(P->f, name))
        fail_at(P, at, "buffer '%s' defined twice", name);
    expect(P, ":");
    IrDType dt = dtype(P);
    expect(P, "[");
    const KExpr *size = expr(P);
    expect(P, "]");
    KBuf *b = kfunc_buf(P->f, name, dt, size, kind);
    if (strcmp(b->name, name))
        fail_at(P, at, "'%s' cannot be a buffer's name (it would be '%s')", name, b->name);
    if (kind == KB_TEMP) {
        if (accept(P, "@"))
            b->offset = expr(P);
    } else {
        expect(P, kind == KB_ARG ? "arg" : "res");
        expect(P, "[");
        skip(P);
        const char *iat = P->cur;
        int64_t index = integer(P, "an index");
        if (index != b->index)
            fail_at(P, iat, "%s[%lld] out of order: the %s buffers are numbered in their order, this is %s[%d]",
                    kind == KB_ARG ? "arg" : "res", (long long)index, kind == KB_ARG ? "arg" : "result",
                    kind == KB_ARG ? "arg" : "res", b->index);
        expect(P, "]");
        expect(P, "\"");
        const char *q = memchr(P->cur, '"', (size_t)(P->end - P->cur));
        if (!q)
            fail_at(P, P->cur, "expected the closing '\"'");
        char *ext = kfunc_alloc(P->f, (size_t)(q - P->cur) + 1);
        memcpy(ext, P->cur, (size_t)(q - P->cur));
        b->ext_name = ext;
        P->cur = q + 1;
    }
    end_of_line(P);
    b->what = comment(P);
}

/* "sym NAME [<= MAX]": B comes with the module; the others in order. */
static void sym_line(Parser *P) {
    skip(P);
    const char *at = P->cur;
    char name[128];
    ident(P, name, sizeof name, "a symbol name");
    int64_t max = 0;
    if (accept(P, "<="))
        max = integer(P, "the symbol's maximum");
    end_of_line(P);
    if (!P->m)
        fail_at(P, at, "a size symbol needs a module: 'kfunc NAME (module M) {'");
    int first = P->f->nsyms == 0;
    for (int i = 0; i < P->m->nsyms; i++)
        if (!strcmp(P->m->syms[i].name, name)) {
            if (i == 0 && first && max == 0) { /* the module's own B */
                P->f->nsyms = 1;
                return;
            }
            fail_at(P, at, "symbol '%s' declared twice", name);
        }
    P->f->nsyms = ir_add_sym(P->m, name, max) + 1;
}

/* Whether [s, e) contains lit. */
static int has(const char *s, const char *e, const char *lit) {
    size_t n = strlen(lit);
    for (; (size_t)(e - s) >= n; s++)
        if (!memcmp(s, lit, n))
            return 1;
    return 0;
}

/* "arena EXPR bytes[; sgemm workspace @ OFF, N bytes]", "arena not
 * planned", or the derived "arena at ..." line, read over. */
static void arena_line(Parser *P) {
    if (accept(P, "not")) {
        expect(P, "planned");
        end_of_line(P);
        return;
    }
    if (peek(P, "at") && has(P->cur, P->end, "bytes for B=")) {
        P->cur = P->end;
        return;
    }
    P->f->arena_bytes = expr(P);
    expect(P, "bytes");
    if (accept(P, ";")) {
        expect(P, "sgemm");
        expect(P, "workspace");
        expect(P, "@");
        P->f->ws_offset = expr(P);
        expect(P, ",");
        P->f->ws_bytes = expr(P);
        expect(P, "bytes");
    }
    end_of_line(P);
}

/* ---- statements -------------------------------------------------------------- */

/* A growable array in the function's arena (the old copy is left there). */
static void *grow(Parser *P, void *p, int n, int *cap, size_t elem) {
    if (n < *cap)
        return p;
    int c = *cap ? 2 * *cap : 8;
    void *q = kfunc_alloc(P->f, (size_t)c * elem);
    if (n)
        memcpy(q, p, (size_t)n * elem);
    *cap = c;
    return q;
}

static void block(Parser *P, KBlock *b);

/* "nK": the number K, or -1 when the cursor is not at one. */
static long node_number(Parser *P) {
    skip(P);
    const char *s = P->cur, *d = s + 1;
    if (s >= P->end || *s != 'n' || d >= P->end || *d < '0' || *d > '9')
        return -1;
    while (d < P->end && *d >= '0' && *d <= '9')
        d++;
    if (d < P->end && ident_char(*d))
        return -1;
    P->cur = d;
    return d - s > 9 ? 1000000000L : strtol(s + 1, NULL, 10);
}

/* "nK" referring to a node below `limit`. */
static int node_ref(Parser *P, int limit, const char *what) {
    skip(P);
    const char *at = P->cur;
    long k = node_number(P);
    if (k < 0)
        fail_at(P, at, "expected a node (nK)");
    if (k >= limit && limit == 0)
        fail_at(P, at, "%s n%ld is not an earlier node of the map (it has none yet)", what, k);
    if (k >= limit)
        fail_at(P, at, "%s n%ld is not an earlier node of the map (n0 .. n%d)", what, k, limit - 1);
    return (int)k;
}

static KMapOp map_op(Parser *P) {
    skip(P);
    const char *at = P->cur;
    char name[64];
    ident(P, name, sizeof name, "a map op");
    for (int op = 0; op < KM_NUM_KINDS; op++)
        if (!strcmp(kir_map_op_name((KMapOp)op), name))
            return (KMapOp)op;
    fail_at(P, at, "unknown map op '%s'", name);
}

/* Whether a and b are the same expression, node by node. */
static int same_expr(const KExpr *a, const KExpr *b) {
    if (!a || !b)
        return a == b;
    return a->kind == b->kind && a->value == b->value && a->index == b->index && same_expr(a->a, b->a) &&
           same_expr(a->b, b->b);
}

static int same_strided(const KStrided *a, const KStrided *b, int rank) {
    if (a->v.buf != b->v.buf || !same_expr(a->v.off, b->v.off))
        return 0;
    for (int d = 0; d < rank; d++)
        if (!same_expr(a->stride[d], b->stride[d]))
            return 0;
    return 1;
}

/* "map [DIMS] {", its nodes and outputs one a line, "}". */
static void map_stmt(Parser *P, KStmt *s) {
    expect(P, "[");
    if (!accept(P, "]")) {
        do {
            if (s->rank == KIR_MAX_RANK)
                fail_at(P, P->cur, "a map has at most %d dimensions", KIR_MAX_RANK);
            s->dims[s->rank++] = expr(P);
        } while (accept(P, ","));
        expect(P, "]");
    }
    expect(P, "{");
    end_of_line(P);
    int capin = 0, capnodes = 0, capout = 0;
    for (;;) {
        if (!next_line(P))
            fail_at(P, P->cur, "the map has no closing '}'");
        if (accept(P, "}"))
            break;
        if (accept(P, "out")) {
            s->out = grow(P, s->out, s->nout, &capout, sizeof *s->out);
            KMapOut *o = &s->out[s->nout];
            o->at = strided(P, s->rank);
            if (accept(P, "+="))
                o->accumulate = 1;
            else
                expect(P, "=");
            o->node = node_ref(P, s->nnodes, "the output's");
            s->nout++;
            end_of_line(P);
            continue;
        }
        skip(P);
        const char *at = P->cur;
        long k = node_number(P);
        if (k < 0)
            fail_at(P, at, "expected a node 'nK = ...', an output 'out ...' or '}'");
        if (k != s->nnodes)
            fail_at(P, at, "expected node n%d: nodes are numbered in order", s->nnodes);
        expect(P, "=");
        s->nodes = grow(P, s->nodes, s->nnodes, &capnodes, sizeof *s->nodes);
        KMapNode *n = &s->nodes[s->nnodes];
        n->op = map_op(P);
        switch (n->op) {
        case KM_IN: {
            /* one input per distinct view: nodes loading the same element
             * share it, as kfuse leaves them */
            KStrided v = strided(P, s->rank);
            n->a = -1;
            for (int i = 0; i < s->nin && n->a < 0; i++)
                if (same_strided(&s->in[i], &v, s->rank))
                    n->a = i;
            if (n->a < 0) {
                s->in = grow(P, s->in, s->nin, &capin, sizeof *s->in);
                s->in[s->nin] = v;
                n->a = s->nin++;
            }
            break;
        }
        case KM_CONST: n->f = number(P, "the constant"); break;
        case KM_EXPR: n->e = expr(P); break;
        default:
            n->a = node_ref(P, s->nnodes, "operand");
            if (kir_map_op_arity(n->op) == 2) {
                expect(P, ",");
                n->b = node_ref(P, s->nnodes, "operand");
            }
            break;
        }
        s->nnodes++;
        end_of_line(P);
    }
    end_of_line(P);
}

/* gemm C=V[OFF; ld E] A=V[OFF; ld E][^T] B=V[OFF; ld E][^T] (M=E, N=E, K=E) alpha=F beta=F,
 * or with B=V[OFF] packed */
static void gemm_stmt(Parser *P, KStmt *s) {
    expect(P, "C");
    expect(P, "=");
    s->C = view_open(P);
    s->ldc = leading_dim(P);
    expect(P, "A");
    expect(P, "=");
    s->A = view_open(P);
    s->lda = leading_dim(P);
    s->transa = accept(P, "^T");
    expect(P, "B");
    expect(P, "=");
    s->B = view_open(P);
    if (accept(P, "]")) {
        expect(P, "packed");
        s->packed_b = 1;
    } else {
        s->ldb = leading_dim(P);
        s->transb = accept(P, "^T");
    }
    expect(P, "(");
    expect(P, "M");
    expect(P, "=");
    s->M = expr(P);
    expect(P, ",");
    expect(P, "N");
    expect(P, "=");
    s->N = expr(P);
    expect(P, ",");
    expect(P, "K");
    expect(P, "=");
    s->K = expr(P);
    expect(P, ")");
    expect(P, "alpha");
    expect(P, "=");
    s->alpha = (float)number(P, "alpha");
    expect(P, "beta");
    expect(P, "=");
    s->beta = (float)number(P, "beta");
    end_of_line(P);
}

/* pack_b C=V[OFF] B=V[OFF; ld E][^T] (N=E, K=E) */
static void pack_stmt(Parser *P, KStmt *s) {
    expect(P, "C");
    expect(P, "=");
    s->C = view_open(P);
    expect(P, "]");
    expect(P, "B");
    expect(P, "=");
    s->B = view_open(P);
    s->ldb = leading_dim(P);
    s->transb = accept(P, "^T");
    expect(P, "(");
    expect(P, "N");
    expect(P, "=");
    s->N = expr(P);
    expect(P, ",");
    expect(P, "K");
    expect(P, "=");
    s->K = expr(P);
    expect(P, ")");
    end_of_line(P);
}

/* call SYMBOL(name=E, ...; V[OFF], ...[; hp=F, ...]).  Two kinds may share
 * a symbol (SGD with and without momentum): the kind is the one whose
 * signature has these integers, this many pointers and these
 * hyperparameters. */
static void call_stmt(Parser *P, KStmt *s) {
    skip(P);
    const char *at = P->cur;
    char sym[128];
    ident(P, sym, sizeof sym, "the runtime function");
    expect(P, "(");
    char inames[KIR_CALL_MAX_INTS][64];
    const KExpr *ivals[KIR_CALL_MAX_INTS];
    int nints = 0;
    if (!peek(P, ";")) {
        do {
            if (nints == KIR_CALL_MAX_INTS)
                fail_at(P, P->cur, "a call has at most %d integer arguments", KIR_CALL_MAX_INTS);
            ident(P, inames[nints], sizeof inames[nints], "an integer argument's name");
            expect(P, "=");
            ivals[nints++] = expr(P);
        } while (accept(P, ","));
    }
    expect(P, ";");
    if (!peek(P, ";") && !peek(P, ")")) {
        do {
            if (s->nptrs == KIR_CALL_MAX_PTRS)
                fail_at(P, P->cur, "a call has at most %d pointer arguments", KIR_CALL_MAX_PTRS);
            s->ptrs[s->nptrs] = view_open(P);
            expect(P, "]");
            s->nptrs++;
        } while (accept(P, ","));
    }
    char hnames[KIR_CALL_MAX_HP][64];
    if (accept(P, ";")) {
        do {
            if (s->nhp == KIR_CALL_MAX_HP)
                fail_at(P, P->cur, "a call has at most %d hyperparameters", KIR_CALL_MAX_HP);
            ident(P, hnames[s->nhp], sizeof hnames[s->nhp], "a hyperparameter's name");
            expect(P, "=");
            s->hp[s->nhp] = number(P, "the hyperparameter");
            s->nhp++;
        } while (accept(P, ","));
    }
    expect(P, ")");
    end_of_line(P);
    int known = 0;
    for (int k = 0; k < KC_NUM_KINDS; k++) {
        KCallSig sig;
        if (kir_call_sig((KCallKind)k, &sig) || strcmp(sig.symbol, sym))
            continue;
        known = 1;
        int fits = sig.nptrs == s->nptrs && sig.nhp == s->nhp && sig.nints == nints;
        for (int i = 0; fits && i < s->nhp; i++)
            fits = !strcmp(sig.hp_arg[i]->name, hnames[i]);
        for (int i = 0; fits && i < nints; i++) {
            int slot = -1;
            for (int j = 0; j < sig.nints; j++)
                if (!strcmp(sig.int_arg[j]->name, inames[i]))
                    slot = j;
            if (slot < 0 || s->ints[slot]) {
                fits = 0;
                break;
            }
            s->ints[slot] = ivals[i];
        }
        if (fits) {
            s->call = (KCallKind)k;
            return;
        }
        memset(s->ints, 0, sizeof s->ints);
    }
    if (!known)
        fail_at(P, at, "unknown runtime call '%s' (kir/calls.def)", sym);
    fail_at(P, at, "no call of %s takes these arguments (kir/calls.def)", sym);
}

/* "for tK in 0 .. COUNT [reverse] {", its body, "}". */
static void loop_stmt(Parser *P, KStmt *s) {
    skip(P);
    const char *at = P->cur;
    char name[32];
    ident(P, name, sizeof name, "the loop variable (tK)");
    char *e = NULL;
    long v = name[0] == 't' && name[1] >= '0' && name[1] <= '9' ? strtol(name + 1, &e, 10) : -1;
    if (v < 0 || *e)
        fail_at(P, at, "expected the loop variable (tK)");
    if (v >= MAX_VAR)
        fail_at(P, at, "loop variable %s: at most t%d", name, MAX_VAR - 1);
    if (!P->var_used)
        P->var_used = kfunc_alloc(P->f, MAX_VAR);
    if (P->var_used[v])
        fail_at(P, at, "loop variable %s belongs to another loop: each loop has its own", name);
    if (P->nopen == MAX_DEPTH)
        fail_at(P, at, "loops nested deeper than %d", MAX_DEPTH);
    P->var_used[v] = 1;
    if (v > P->max_var)
        P->max_var = (int)v;
    s->var = (int)v;
    expect(P, "in");
    expect(P, "0");
    expect(P, "..");
    s->count = expr(P);
    s->reverse = accept(P, "reverse");
    expect(P, "{");
    end_of_line(P);
    P->open[P->nopen++] = s->var;
    block(P, &s->body);
    P->nopen--;
}

/* The statement whose first line is the current one. */
static void statement(Parser *P, KBlock *b) {
    skip(P);
    const char *at = P->cur;
    static const struct {
        const char *word;
        KStmtKind   kind;
    } kinds[] = {{"for", KS_LOOP}, {"gemm", KS_GEMM}, {"pack_b", KS_PACK_B}, {"map", KS_MAP}, {"call", KS_CALL}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (!accept(P, kinds[i].word))
            continue;
        KStmt *s = kblock_add(P->f, b, kinds[i].kind, comment(P));
        switch (kinds[i].kind) {
        case KS_LOOP: loop_stmt(P, s); break;
        case KS_GEMM: gemm_stmt(P, s); break;
        case KS_PACK_B: pack_stmt(P, s); break;
        case KS_MAP: map_stmt(P, s); break;
        case KS_CALL: call_stmt(P, s); break;
        }
        return;
    }
    fail_at(P, at, "expected a statement (for, gemm, pack_b, map, call) or '}'");
}

/* Statements up to the line "}" that closes the block. */
static void block(Parser *P, KBlock *b) {
    for (;;) {
        if (!next_line(P))
            fail_at(P, P->cur, "the text ends inside a block: a '}' is missing");
        if (accept(P, "}")) {
            end_of_line(P);
            return;
        }
        statement(P, b);
    }
}

/* ---- the function ------------------------------------------------------------------ */

static void function(Parser *P) {
    if (!next_line(P))
        fail_at(P, P->cur, "expected 'kfunc NAME (module M) {'");
    expect(P, "kfunc");
    char name[256], mod[256];
    word(P, name, sizeof name, "the function's name");
    if (accept(P, "(")) {
        expect(P, "module");
        word(P, mod, sizeof mod, "the module's name");
        expect(P, ")");
        P->m = ir_module_new(mod);
    }
    expect(P, "{");
    end_of_line(P);
    P->f = kfunc_new(name, P->m);
    if (!P->f)
        fail_at(P, P->cur, "out of memory");
    P->f->nsyms = 0; /* counted as the sym lines come */
    P->max_var = -1;
    /* the header, in its order: symbols, buffers, the plan; then statements */
    enum { SYMS, BUFS, ARENA, BODY } phase = SYMS;
    for (;;) {
        if (!next_line(P))
            fail_at(P, P->cur, "the text ends inside the function: a '}' is missing");
        skip(P);
        const char *at = P->cur;
        if (accept(P, "}")) {
            end_of_line(P);
            break;
        }
        if (phase <= BUFS && accept(P, "sym")) {
            if (phase > SYMS)
                fail_at(P, at, "the symbols come before the buffers");
            sym_line(P);
        } else if (phase <= BUFS && accept(P, "arg")) {
            phase = BUFS;
            buffer_line(P, KB_ARG);
        } else if (phase <= BUFS && accept(P, "result")) {
            phase = BUFS;
            buffer_line(P, KB_RESULT);
        } else if (phase <= BUFS && accept(P, "temp")) {
            phase = BUFS;
            buffer_line(P, KB_TEMP);
        } else if (phase <= ARENA && accept(P, "arena")) {
            phase = ARENA;
            arena_line(P);
        } else {
            phase = BODY;
            statement(P, &P->f->body);
        }
    }
    /* Before the sym lines, B was the module's already (printed first). */
    if (P->m && P->f->nsyms < P->m->nsyms)
        P->f->nsyms = P->m->nsyms;
    P->f->nloops = P->max_var + 1;
    if (next_line(P))
        fail_at(P, P->cur, "text after the function's closing '}'");
}

KFunc *kfunc_parse(const char *file, const char *text, IrModule **module, char *err, size_t errlen) {
    if (module)
        *module = NULL;
    Parser *P = calloc(1, sizeof *P);
    if (!P) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", file);
        return NULL;
    }
    P->file = file ? file : "<kir>";
    P->next = text ? text : "";
    P->err = err;
    P->errlen = errlen;
    if (setjmp(P->fail)) {
        kfunc_free(P->f);
        ir_free(P->m);
        free(P);
        return NULL;
    }
    function(P);
    KFunc *f = P->f;
    if (module)
        *module = P->m;
    free(P);
    return f;
}
