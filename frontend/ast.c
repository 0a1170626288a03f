/* ast.c - the syntax tree's memory (one arena a program) and its printer.
 *
 * Every node, string and array of a Program lives in the program's arena:
 * the parser never frees a node on its own, error recovery simply drops
 * pointers, and ast_free() releases everything at once.
 *
 * ast_print() writes `rnnc dump --stage=ast`: one node a line, children
 * indented by two spaces.  Format:
 *
 *   model NAME @L:C                      a declaration and its keyword's position
 *   cell NAME @L:C                       followed by its inputs and return type:
 *     input x : [I] @L:C
 *     returns [H]
 *   train NAME @L:C
 *     input NAME : TYPE @L:C             statements, each with its position
 *     target NAME : TYPE @L:C
 *     assign a, b, h' @L:C               then the value as a child
 *     output NAME @L:C                   value child only if `= EXPR` given
 *     loss @L:C
 *     param NAME : TYPE @L:C             child `init <expr>` if given
 *     state NAME : TYPE @L:C             then the initial value
 *     out @L:C
 *     setting KEY @L:C
 *       num 65 | num 0.002 | str "x.txt" | ident h | ident h'
 *       binop + | neg                    operands as children
 *       call NAME                        arguments as children; a named one as
 *         arg NAME = <value>             `arg NAME = ` before its value's line
 *
 * Types print in source syntax with dimensions fully evaluated to infix
 * (`[3*H, I]`, `seq<int, 100>`). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "frontend/ast.h"

/* ---- arena -------------------------------------------------------------- */

typedef struct Chunk {
    struct Chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} Chunk;

struct AstArena {
    Chunk *head;
};

enum { CHUNK_SIZE = 64 * 1024, ALIGN = 16 };

/* Not in ast.h: only the parser creates arenas (declared in parser.y). */
struct AstArena *ast_arena_new(void);

struct AstArena *ast_arena_new(void) { return calloc(1, sizeof(struct AstArena)); }

void *ast_alloc(struct AstArena *a, size_t n)
{
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (n == 0) n = ALIGN;
    Chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
        c = malloc(sizeof(Chunk) + size);
        if (!c) {
            /* The tree cannot be built without memory; there is no
             * sensible way to continue a compile. */
            fputs("rnnc: out of memory\n", stderr);
            abort();
        }
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

const char *ast_strdup(struct AstArena *a, const char *s, size_t n)
{
    char *p = ast_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void ast_arena_free(struct AstArena *a);

void ast_arena_free(struct AstArena *a)
{
    if (!a) return;
    Chunk *c = a->head;
    while (c) {
        Chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

void ast_free(Program *p)
{
    if (p) ast_arena_free(p->arena); /* p itself lives in the arena */
}

/* ---- printing ------------------------------------------------------------ */

static void indent(FILE *out, int depth)
{
    for (int i = 0; i < depth; i++) fputs("  ", out);
}

/* Shortest decimal text that reads back as the same double. */
static void print_num(FILE *out, double v, int is_int)
{
    if (is_int && fabs(v) < 9007199254740992.0) {
        fprintf(out, "%.0f", v);
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, sizeof buf, "%.17g", v);
    /* 5.0 stays visibly a real number, as it was written. */
    if (!strpbrk(buf, ".eEn")) strcat(buf, ".0");
    fputs(buf, out);
}

static void print_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* Binding strength, for the parentheses of infix printing. */
static int prec(const Expr *e)
{
    if (e->kind == EX_BINOP) {
        switch (e->op) {
        case '+':
        case '-': return 1;
        case '*':
        case '/': return 2;
        default: return 3; /* '@' binds tighter than * and / */
        }
    }
    if (e->kind == EX_NEG) return 4;
    return 5;
}

/* An expression in source syntax (used for dimensions and inline values). */
static void print_infix(FILE *out, const Expr *e)
{
    if (!e) {
        fputs("?", out);
        return;
    }
    switch (e->kind) {
    case EX_NUM: print_num(out, e->num, e->is_int); break;
    case EX_STR: print_str(out, e->str); break;
    case EX_IDENT: fputs(e->name, out); break;
    case EX_NEG: {
        fputc('-', out);
        int paren = prec(e->lhs) < 4;
        if (paren) fputc('(', out);
        print_infix(out, e->lhs);
        if (paren) fputc(')', out);
        break;
    }
    case EX_BINOP: {
        /* Left associative: the right operand needs parentheses at equal
         * strength too (a - (b - c)). */
        int lp = prec(e->lhs) < prec(e), rp = prec(e->rhs) <= prec(e);
        if (lp) fputc('(', out);
        print_infix(out, e->lhs);
        if (lp) fputc(')', out);
        if (e->op == '@' || e->op == '+' || e->op == '-')
            fprintf(out, " %c ", e->op);
        else
            fputc(e->op, out);
        if (rp) fputc('(', out);
        print_infix(out, e->rhs);
        if (rp) fputc(')', out);
        break;
    }
    case EX_CALL:
        fprintf(out, "%s(", e->name);
        for (int i = 0; i < e->nargs; i++) {
            if (i) fputs(", ", out);
            if (e->args[i].name) fprintf(out, "%s=", e->args[i].name);
            print_infix(out, e->args[i].value);
        }
        fputc(')', out);
        break;
    }
}

static void print_type(FILE *out, const TypeExpr *t)
{
    if (!t) {
        fputs("?", out);
        return;
    }
    if (t->kind == TY_SEQ_VEC || t->kind == TY_SEQ_INT) fputs("seq<", out);
    if (t->kind == TY_INT || t->kind == TY_SEQ_INT) {
        fputs("int", out);
    } else {
        fputc('[', out);
        for (int i = 0; i < t->ndims; i++) {
            if (i) fputs(", ", out);
            print_infix(out, t->dims[i]);
        }
        fputc(']', out);
    }
    if (t->kind == TY_SEQ_VEC || t->kind == TY_SEQ_INT) {
        if (t->maxlen) {
            fputs(", ", out);
            print_infix(out, t->maxlen);
        }
        fputc('>', out);
    }
}

/* One expression node a line; `prefix` goes before the node's own text
 * (used for `arg NAME = ` and `init `). */
static void print_expr(FILE *out, const Expr *e, int depth, const char *prefix)
{
    indent(out, depth);
    fputs(prefix, out);
    if (!e) {
        fputs("<missing>\n", out);
        return;
    }
    switch (e->kind) {
    case EX_NUM:
        fputs("num ", out);
        print_num(out, e->num, e->is_int);
        fputc('\n', out);
        break;
    case EX_STR:
        fputs("str ", out);
        print_str(out, e->str);
        fputc('\n', out);
        break;
    case EX_IDENT: fprintf(out, "ident %s\n", e->name); break;
    case EX_NEG:
        fputs("neg\n", out);
        print_expr(out, e->lhs, depth + 1, "");
        break;
    case EX_BINOP:
        fprintf(out, "binop %c\n", e->op);
        print_expr(out, e->lhs, depth + 1, "");
        print_expr(out, e->rhs, depth + 1, "");
        break;
    case EX_CALL:
        fprintf(out, "call %s\n", e->name);
        for (int i = 0; i < e->nargs; i++) {
            const Arg *a = &e->args[i];
            if (a->name) {
                char buf[300];
                snprintf(buf, sizeof buf, "arg %s = ", a->name);
                print_expr(out, a->value, depth + 1, buf);
            } else {
                print_expr(out, a->value, depth + 1, "");
            }
        }
        break;
    }
}

static void print_loc(FILE *out, SrcLoc loc) { fprintf(out, " @%d:%d\n", loc.line, loc.col); }

static void print_stmt(FILE *out, const Stmt *s, int depth)
{
    static const char *const kw[] = {
        [ST_INPUT] = "input",   [ST_TARGET] = "target", [ST_ASSIGN] = "assign",
        [ST_OUTPUT] = "output", [ST_LOSS] = "loss",     [ST_PARAM] = "param",
        [ST_STATE] = "state",   [ST_OUT] = "out",       [ST_SETTING] = "setting",
    };
    indent(out, depth);
    fputs(kw[s->kind], out);
    /* A loss is named "loss" by the parser; printing it twice says nothing. */
    for (int i = 0; i < s->nnames && s->kind != ST_LOSS; i++)
        fprintf(out, "%s %s%s", i ? "," : "", s->names[i], s->primed && s->primed[i] ? "'" : "");
    if (s->type) {
        fputs(" : ", out);
        print_type(out, s->type);
    }
    if (s->lengths) fputs(" lengths", out);
    print_loc(out, s->loc);
    if (s->init) print_expr(out, s->init, depth + 1, "init ");
    if (s->value) print_expr(out, s->value, depth + 1, "");
}

void ast_print(const Program *p, FILE *out)
{
    static const char *const kw[] = {
        [DECL_MODEL] = "model",
        [DECL_CELL] = "cell",
        [DECL_TRAIN] = "train",
    };
    if (!p) return;
    for (int i = 0; i < p->ndecls; i++) {
        const Decl *d = p->decls[i];
        fprintf(out, "%s %s", kw[d->kind], d->name);
        print_loc(out, d->loc);
        for (int j = 0; j < d->ninputs; j++) {
            fprintf(out, "  input %s : ", d->inputs[j].name);
            print_type(out, d->inputs[j].type);
            print_loc(out, d->inputs[j].loc);
        }
        if (d->ret) {
            fputs("  returns ", out);
            print_type(out, d->ret);
            fputc('\n', out);
        }
        for (int j = 0; j < d->nbody; j++) print_stmt(out, d->body[j], 1);
    }
}
