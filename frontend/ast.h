/* ast.h - the syntax tree of a .rnn file, as the parser builds it.
 *
 * The tree is deliberately close to the text: names are strings, sizes are
 * expressions, calls keep positional and named arguments apart.  Meaning
 * (which call is a layer, what a shape is) is decided by sema.c, which
 * reads this tree and builds graph IR from it.  Every node carries the
 * source position its diagnostics point at.
 *
 * All nodes live in one arena (ast_arena) and are freed together by
 * ast_free(); nothing in the tree owns anything on its own. */
#ifndef RNNC_AST_H
#define RNNC_AST_H

#include <stddef.h>
#include "frontend/diag.h"

/* ---- expressions ------------------------------------------------------ */

typedef enum {
    EX_NUM,   /* 3, 0.5, 1e-3                    (num, is_int)           */
    EX_STR,   /* "examples/data/x.txt"           (str)                   */
    EX_IDENT, /* h, tanh, concat                  (name)                 */
    EX_BINOP, /* lhs op rhs, op one of + - * / @  (op, lhs, rhs)         */
    EX_NEG,   /* -lhs                                                   */
    EX_CALL,  /* name(args)                       (name, args, nargs)    */
} ExprKind;

typedef struct Expr Expr;

typedef struct Arg {
    const char *name; /* NULL for a positional argument                 */
    SrcLoc loc;       /* of the name if named, else of the value        */
    Expr *value;
} Arg;

struct Expr {
    ExprKind kind;
    SrcLoc loc; /* the operator for EX_BINOP/EX_NEG, else the token */
    double num;
    int is_int;       /* EX_NUM written without '.' or exponent           */
    const char *str;  /* EX_STR, without quotes, escapes resolved         */
    const char *name; /* EX_IDENT, EX_CALL                                */
    int op;           /* EX_BINOP: '+', '-', '*', '/', '@'                */
    Expr *lhs, *rhs;
    Arg *args; /* EX_CALL                                          */
    int nargs;
};

/* ---- types ------------------------------------------------------------ */

/* Dimension sizes are expressions so that a cell can say [3H, I] (parsed as
 * 3*H), [2*H + 1] or [64]; sema evaluates them once the size names are
 * bound. */
typedef enum {
    TY_VEC,     /* [d0, d1, ...]      one value per batch element (or a matrix param) */
    TY_INT,     /* int                one id per batch element            */
    TY_SEQ_VEC, /* seq<[d...]>        a vector per step and batch element */
    TY_SEQ_INT, /* seq<int>           an id per step and batch element    */
} TypeKind;

typedef struct TypeExpr {
    TypeKind kind;
    SrcLoc loc;
    Expr **dims;
    int ndims;
    Expr *maxlen; /* seq<..., N>: at most N steps; NULL if not given   */
} TypeExpr;

/* ---- statements ------------------------------------------------------- */

typedef enum {
    ST_INPUT,   /* input  NAME : TYPE [lengths]                           */
    ST_TARGET,  /* target NAME : TYPE                                     */
    ST_ASSIGN,  /* a, b' = EXPR     (names, primed, value)                 */
    ST_OUTPUT,  /* output NAME = EXPR   or   output NAME   (value NULL)    */
    ST_LOSS,    /* loss = EXPR                                            */
    ST_PARAM,   /* param NAME : TYPE [init INIT]  (INIT: ident or call)    */
    ST_STATE,   /* state NAME : TYPE = EXPR                               */
    ST_OUT,     /* out EXPR            (the cell's per-step output)        */
    ST_SETTING, /* train block:  key = EXPR                               */
} StmtKind;

typedef struct Stmt {
    StmtKind kind;
    SrcLoc loc;         /* the keyword, or the first name of an assign   */
    const char **names; /* left-hand side; one name for all but ST_ASSIGN */
    SrcLoc *name_locs;
    int *primed; /* ST_ASSIGN: names[i] was written NAME'         */
    int nnames;
    TypeExpr *type; /* ST_INPUT, ST_TARGET, ST_PARAM, ST_STATE       */
    Expr *value;    /* right-hand side, state init, out, setting     */
    Expr *init;     /* ST_PARAM: init xavier | uniform(0.1) | NULL   */
    int lengths;    /* ST_INPUT: `lengths` written after the type    */
    SrcLoc lengths_loc;
} Stmt;

/* ---- declarations ----------------------------------------------------- */

typedef enum { DECL_MODEL, DECL_CELL, DECL_TRAIN } DeclKind;

typedef struct CellInput {
    const char *name;
    SrcLoc loc;
    TypeExpr *type;
} CellInput;

typedef struct Decl {
    DeclKind kind;
    SrcLoc loc; /* the keyword                                  */
    const char *name;
    SrcLoc name_loc;
    CellInput *inputs; /* DECL_CELL: cell NAME(x: [I], ...) -> [H]     */
    int ninputs;
    TypeExpr *ret; /* DECL_CELL                                    */
    Stmt **body;
    int nbody;
} Decl;

typedef struct Program {
    const char *filename;
    Decl **decls;
    int ndecls;
    struct AstArena *arena;
} Program;

/* Parse `source` (NUL-terminated, named `filename` in messages).  Every
 * syntax error is reported through `d`; the parser recovers at statement
 * boundaries so that independent errors are all reported.  Returns the
 * program (possibly partial) or NULL if nothing could be built; callers
 * check diag_errors(d) before using it. */
Program *parse_program(const char *filename, const char *source, Diag *d);
void ast_free(Program *p);

/* Allocation inside the program's arena (used by the parser). */
void *ast_alloc(struct AstArena *a, size_t n);
const char *ast_strdup(struct AstArena *a, const char *s, size_t n);

/* `rnnc dump --stage=ast`: an indented, one-node-a-line tree. */
void ast_print(const Program *p, FILE *out);

#endif
