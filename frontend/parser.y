/* parser.y - the grammar of .rnn files (docs/language.md) and the syntax
 * error messages.
 *
 * A pure (reentrant) LALR(1) parser: all state lives in a ParseCtx that
 * parse_program() owns, so two parses in one process never interfere.
 * Statements have no separators, which works because no statement starts
 * with a token that could continue an expression.
 *
 * Error handling, in three parts:
 *  - messages: yyreport_syntax_error() turns the parser's expected-token
 *    set plus what the token stream says about the context (inside a
 *    call's parentheses, a dimension list, ...) into a human sentence;
 *  - recovery: `stmt: error` and `decl: error` resynchronise at the next
 *    token that can start a statement (a keyword, `}`, or a name at the
 *    start of a line after a complete line) or a declaration; the token
 *    filter yylex() skips to it.  So every broken statement gives one
 *    error and the next statement is parsed normally;
 *  - a missing `}` is seen by the filter (a `model`/`cell`/`train`
 *    keyword or the end of file inside braces): it reports it and
 *    supplies the `}` so the parse goes on without a cascade. */

%code top {
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
}

%code requires {
#include <stddef.h>
#include "frontend/ast.h"

/* A growable array in the program's arena (lists while parsing). */
typedef struct Vec { void *data; int n, cap; } Vec;
/* One left-hand-side name: `h` or `h'`. */
typedef struct LName { const char *name; int primed; SrcLoc loc; } LName;
typedef struct NumTok { double v; int is_int; } NumTok;
/* `3H` in a dimension list: 3 * H. */
typedef struct NumIdTok { double v; int numlen; const char *name, *text; } NumIdTok;
typedef struct DeclHead { Decl *decl; } DeclHead;
struct ParseCtx;
}

%define api.pure full
%define api.location.type {SrcLoc}
%define api.token.prefix {TOK_}
%define parse.error custom
%locations
%param {struct ParseCtx *ctx}

%union {
    NumTok      num;
    NumIdTok    numid;
    const char *str;
    Expr       *expr;
    TypeExpr   *type;
    Stmt       *stmt;
    Decl       *decl;
    Vec         vec;
    Arg         arg;
    LName       lname;
    CellInput   cin;
}

%code provides {
enum { BR_MAX = 32, TEXT_MAX = 48 };

/* An open bracket seen by the token filter: what it opened, for messages
 * such as "expected ')' after arguments of 'lstm'". */
typedef struct Bracket {
    char   kind;            /* '(' '[' '<'                                   */
    char   sub;             /* for '(': 'c' call, 'i' cell inputs, 'g' group */
    SrcLoc loc;
    char   name[TEXT_MAX];  /* the called function, for 'c'                  */
} Bracket;

enum { SKIP_NONE, SKIP_BODY, SKIP_TOP };

typedef struct ParseCtx {
    Diag            *diag;
    struct AstArena *arena;
    Program         *prog;
    Vec              decls;        /* Decl *                              */
    void            *scanner;      /* the flex scanner                    */

    /* Scanner position (lexer.l). */
    int  line, col, at_bol;
    char text[TEXT_MAX];           /* text of the token just scanned      */
    int  first_on_line;            /* it is the first token of its line   */

    /* Token filter (yylex in parser.y). */
    int     brace_depth;
    Bracket br[BR_MAX];
    int     nbr;                   /* may exceed BR_MAX; only BR_MAX kept */
    int     prev_tok, prev2_tok, cur_tok;
    SrcLoc  prev_loc, cur_loc;
    char    prev_text[TEXT_MAX], cur_text[TEXT_MAX];
    int     cur_sync_body, cur_sync_top;
    Bracket open_before;           /* innermost bracket before cur_tok    */
    int     has_open_before;
    int     skipping;              /* SKIP_*                              */
    int     has_pending;           /* a token held back behind a made-up '}' */
    int     pending_tok, pending_first;
    YYSTYPE pending_val;
    SrcLoc  pending_loc, open_brace;
    char    pending_text[TEXT_MAX];

    /* Parser. */
    int         in;                /* DeclKind being parsed, -1 outside   */
    const char *in_name;
    SrcLoc      last_err, last_kept;
    int         nodes, too_big;    /* expression nodes in this statement  */
} ParseCtx;

/* lexer.l */
int  lexer_open(ParseCtx *c, const char *src);
void lexer_close(ParseCtx *c);
int  lexer_next(ParseCtx *c, YYSTYPE *val, YYLTYPE *loc);

/* ast.c: arenas are made only here. */
struct AstArena *ast_arena_new(void);
void             ast_arena_free(struct AstArena *a);

/* For tests: the raw tokens of `src` (lexer errors go to `d`).  Returns
 * the number of tokens written to `out` (at most max), the last one being
 * TOK_YYEOF if it fits. */
typedef struct LexTok {
    int    kind;              /* TOK_* or a character such as '('       */
    SrcLoc loc;
    double num;               /* TOK_NUM, TOK_NUMIDENT                  */
    int    is_int;
    char   str[64];           /* identifier or string value             */
    int    first_on_line;
} LexTok;
int lex_tokens(const char *src, Diag *d, LexTok *out, int max);
}

%code {
static int  yylex(YYSTYPE *val, YYLTYPE *loc, ParseCtx *c);
static void yyerror(YYLTYPE *loc, ParseCtx *c, const char *msg);

#define YYLLOC_DEFAULT(Cur, Rhs, N)                     \
    do {                                                \
        if (N) (Cur) = YYRHSLOC(Rhs, 1);                \
        else   (Cur) = YYRHSLOC(Rhs, 0);                \
    } while (0)

static void vec_push(ParseCtx *c, Vec *v, const void *elem, size_t esz);
static Expr *mk_expr(ParseCtx *c, ExprKind k, SrcLoc loc);
static Expr *mk_binop(ParseCtx *c, int op, SrcLoc loc, Expr *l, Expr *r);
static Expr *mk_numid(ParseCtx *c, NumIdTok t, SrcLoc loc);
static TypeExpr *mk_type(ParseCtx *c, TypeKind k, SrcLoc loc, Vec dims, Expr *maxlen);
static Stmt *mk_stmt(ParseCtx *c, StmtKind k, SrcLoc loc, const char *name, SrcLoc name_loc);
static Stmt *finish_stmt(ParseCtx *c, Stmt *s);
static Stmt *finish_assign(ParseCtx *c, Vec names, Expr *value);
static void recover(ParseCtx *c, int *yychar_p, int mode, int *errok);
}

%token <str>   IDENT     "identifier"
%token <str>   PRIMED    "primed name"
%token <str>   STRING    "string"
%token <num>   NUM       "number"
%token <numid> NUMIDENT  "number-name product"
%token MODEL "model" CELL "cell" TRAIN "train" INPUT "input" TARGET "target"
       OUTPUT "output" LOSS "loss" PARAM "param" STATE "state" OUT "out"
       INIT "init" SEQ "seq" INT "int" LENGTHS "lengths" ARROW "->"

%left '+' '-'
%left '*' '/'
%left '@'          /* W @ x binds tighter than * and /: a * W @ x = a * (W @ x) */
%precedence NEG

%type <expr>  expr primary call dim init_spec
%type <type>  type
%type <vec>   args dims lhs body cell_inputs
%type <arg>   arg
%type <lname> lname
%type <stmt>  stmt
%type <decl>  head decl
%type <cin>   cell_input
%type <str>   arg_name

%%

program
    : %empty
    | program decl          { if ($2) vec_push(ctx, &ctx->decls, &$2, sizeof $2); }
    ;

decl
    : head '{' body '}'     {
                              $$ = $1;
                              $$->body = $3.data; $$->nbody = $3.n;
                              ctx->in = -1; ctx->brace_depth = 0;
                            }
    | error                 {
                              int ok = 0;
                              $$ = NULL;
                              recover(ctx, &yychar, SKIP_TOP, &ok);
                              if (ok) yyerrok;
                              ctx->in = -1;
                            }
    ;

head
    : MODEL IDENT           {
                              $$ = ast_alloc(ctx->arena, sizeof *$$);
                              $$->kind = DECL_MODEL; $$->loc = @1;
                              $$->name = $2; $$->name_loc = @2;
                              ctx->in = DECL_MODEL; ctx->in_name = $2;
                            }
    | TRAIN IDENT           {
                              $$ = ast_alloc(ctx->arena, sizeof *$$);
                              $$->kind = DECL_TRAIN; $$->loc = @1;
                              $$->name = $2; $$->name_loc = @2;
                              ctx->in = DECL_TRAIN; ctx->in_name = $2;
                            }
    | CELL IDENT '(' cell_inputs ')' ARROW type {
                              $$ = ast_alloc(ctx->arena, sizeof *$$);
                              $$->kind = DECL_CELL; $$->loc = @1;
                              $$->name = $2; $$->name_loc = @2;
                              $$->inputs = $4.data; $$->ninputs = $4.n;
                              $$->ret = $7;
                              ctx->in = DECL_CELL; ctx->in_name = $2;
                            }
    ;

cell_inputs
    : cell_input                    { $$ = (Vec){0}; vec_push(ctx, &$$, &$1, sizeof $1); }
    | cell_inputs ',' cell_input    { $$ = $1; vec_push(ctx, &$$, &$3, sizeof $3); }
    ;

cell_input
    : IDENT ':' type        { $$ = (CellInput){ .name = $1, .loc = @1, .type = $3 }; }
    ;

body
    : %empty                { $$ = (Vec){0}; }
    | body stmt             { $$ = $1; if ($2) vec_push(ctx, &$$, &$2, sizeof $2); }
    | body ';'              { $$ = $1; }
    ;

stmt
    : INPUT IDENT ':' type  {
                              $$ = mk_stmt(ctx, ST_INPUT, @1, $2, @2);
                              $$->type = $4;
                              $$ = finish_stmt(ctx, $$);
                            }
    | INPUT IDENT ':' type LENGTHS {
                              $$ = mk_stmt(ctx, ST_INPUT, @1, $2, @2);
                              $$->type = $4;
                              $$->lengths = 1;
                              $$->lengths_loc = @5;
                              $$ = finish_stmt(ctx, $$);
                            }
    | TARGET IDENT ':' type {
                              $$ = mk_stmt(ctx, ST_TARGET, @1, $2, @2);
                              $$->type = $4;
                              $$ = finish_stmt(ctx, $$);
                            }
    | TARGET IDENT ':' type LENGTHS {
                              /* a target's steps are those of what the loss compares it with */
                              diag_error(ctx->diag, @5, "a target has the lengths of what the loss compares it "
                                                        "with: 'lengths' is for inputs");
                              $$ = mk_stmt(ctx, ST_TARGET, @1, $2, @2);
                              $$->type = $4;
                              $$ = finish_stmt(ctx, $$);
                            }
    | OUTPUT IDENT '=' expr {
                              $$ = mk_stmt(ctx, ST_OUTPUT, @1, $2, @2);
                              $$->value = $4;
                              $$ = finish_stmt(ctx, $$);
                            }
    | OUTPUT IDENT          {
                              $$ = mk_stmt(ctx, ST_OUTPUT, @1, $2, @2);
                              $$ = finish_stmt(ctx, $$);
                            }
    | LOSS '=' expr         {
                              /* The value is named "loss", like any other. */
                              $$ = mk_stmt(ctx, ST_LOSS, @1, "loss", @1);
                              $$->value = $3;
                              $$ = finish_stmt(ctx, $$);
                            }
    | PARAM IDENT ':' type  {
                              $$ = mk_stmt(ctx, ST_PARAM, @1, $2, @2);
                              $$->type = $4;
                              $$ = finish_stmt(ctx, $$);
                            }
    | PARAM IDENT ':' type INIT init_spec {
                              $$ = mk_stmt(ctx, ST_PARAM, @1, $2, @2);
                              $$->type = $4; $$->init = $6;
                              $$ = finish_stmt(ctx, $$);
                            }
    | STATE IDENT ':' type '=' expr {
                              $$ = mk_stmt(ctx, ST_STATE, @1, $2, @2);
                              $$->type = $4; $$->value = $6;
                              $$ = finish_stmt(ctx, $$);
                            }
    | OUT expr              {
                              $$ = mk_stmt(ctx, ST_OUT, @1, NULL, @1);
                              $$->value = $2;
                              $$ = finish_stmt(ctx, $$);
                            }
    | lhs '=' expr          { $$ = finish_assign(ctx, $1, $3); }
    | error                 {
                              int ok = 0;
                              $$ = NULL;
                              ctx->nodes = 0; ctx->too_big = 0;
                              recover(ctx, &yychar, SKIP_BODY, &ok);
                              if (ok) yyerrok;
                            }
    ;

lhs
    : lname                 { $$ = (Vec){0}; vec_push(ctx, &$$, &$1, sizeof $1); }
    | lhs ',' lname         { $$ = $1; vec_push(ctx, &$$, &$3, sizeof $3); }
    ;

lname
    : IDENT                 { $$ = (LName){ $1, 0, @1 }; }
    | PRIMED                {
                              /* The token's text includes the prime; the
                               * statement stores the bare name. */
                              $$ = (LName){ ast_strdup(ctx->arena, $1, strlen($1) - 1), 1, @1 };
                            }
    ;

init_spec
    : IDENT                 { $$ = mk_expr(ctx, EX_IDENT, @1); $$->name = $1; }
    | call                  { $$ = $1; }
    ;

type
    : '[' dims ']'                      { $$ = mk_type(ctx, TY_VEC, @1, $2, NULL); }
    | INT                               { $$ = mk_type(ctx, TY_INT, @1, (Vec){0}, NULL); }
    | SEQ '<' INT '>'                   { $$ = mk_type(ctx, TY_SEQ_INT, @1, (Vec){0}, NULL); }
    | SEQ '<' INT ',' dim '>'           { $$ = mk_type(ctx, TY_SEQ_INT, @1, (Vec){0}, $5); }
    | SEQ '<' '[' dims ']' '>'          { $$ = mk_type(ctx, TY_SEQ_VEC, @1, $4, NULL); }
    | SEQ '<' '[' dims ']' ',' dim '>'  { $$ = mk_type(ctx, TY_SEQ_VEC, @1, $4, $7); }
    ;

dims
    : dim                   { $$ = (Vec){0}; vec_push(ctx, &$$, &$1, sizeof $1); }
    | dims ',' dim          { $$ = $1; vec_push(ctx, &$$, &$3, sizeof $3); }
    ;

/* Dimension expressions: integers, size names, 3H, + - * / and parens. */
dim
    : dim '+' dim           { $$ = mk_binop(ctx, '+', @2, $1, $3); }
    | dim '-' dim           { $$ = mk_binop(ctx, '-', @2, $1, $3); }
    | dim '*' dim           { $$ = mk_binop(ctx, '*', @2, $1, $3); }
    | dim '/' dim           { $$ = mk_binop(ctx, '/', @2, $1, $3); }
    | '-' dim %prec NEG     { $$ = mk_expr(ctx, EX_NEG, @1); $$->lhs = $2; }
    | '(' dim ')'           { $$ = $2; }
    | NUM                   { $$ = mk_expr(ctx, EX_NUM, @1); $$->num = $1.v; $$->is_int = $1.is_int; }
    | IDENT                 { $$ = mk_expr(ctx, EX_IDENT, @1); $$->name = $1; }
    | NUMIDENT              { $$ = mk_numid(ctx, $1, @1); }
    ;

expr
    : expr '+' expr         { $$ = mk_binop(ctx, '+', @2, $1, $3); }
    | expr '-' expr         { $$ = mk_binop(ctx, '-', @2, $1, $3); }
    | expr '*' expr         { $$ = mk_binop(ctx, '*', @2, $1, $3); }
    | expr '/' expr         { $$ = mk_binop(ctx, '/', @2, $1, $3); }
    | expr '@' expr         { $$ = mk_binop(ctx, '@', @2, $1, $3); }
    | '-' expr %prec NEG    { $$ = mk_expr(ctx, EX_NEG, @1); $$->lhs = $2; }
    | primary               { $$ = $1; }
    ;

primary
    : NUM                   { $$ = mk_expr(ctx, EX_NUM, @1); $$->num = $1.v; $$->is_int = $1.is_int; }
    | STRING                { $$ = mk_expr(ctx, EX_STR, @1); $$->str = $1; }
    | IDENT                 { $$ = mk_expr(ctx, EX_IDENT, @1); $$->name = $1; }
    | PRIMED                { $$ = mk_expr(ctx, EX_IDENT, @1); $$->name = $1; /* "h'" */ }
    | NUMIDENT              {
                              diag_error(ctx->diag, @1,
                                         "'%s' (a number followed by a name) is only allowed in dimensions; write %.*s*%s",
                                         $1.text, $1.numlen, $1.text, $1.name);
                              $$ = mk_numid(ctx, $1, @1);
                            }
    | call                  { $$ = $1; }
    | '(' expr ')'          { $$ = $2; }
    ;

call
    : IDENT '(' ')'         { $$ = mk_expr(ctx, EX_CALL, @1); $$->name = $1; }
    | IDENT '(' args ')'    {
                              $$ = mk_expr(ctx, EX_CALL, @1); $$->name = $1;
                              $$->args = $3.data; $$->nargs = $3.n;
                            }
    ;

args
    : arg                   { $$ = (Vec){0}; vec_push(ctx, &$$, &$1, sizeof $1); }
    | args ',' arg          { $$ = $1; vec_push(ctx, &$$, &$3, sizeof $3); }
    ;

arg
    : expr                  { $$ = (Arg){ .name = NULL, .loc = $1 ? $1->loc : @1, .value = $1 }; }
    | arg_name '=' expr     { $$ = (Arg){ .name = $1, .loc = @1, .value = $3 }; }
    ;

/* `init` is a keyword (param ... init xavier) but also a layer option. */
arg_name
    : IDENT                 { $$ = $1; }
    | INIT                  { $$ = "init"; }
    ;

%%

/* ---- building the tree ----------------------------------------------------- */

/* More nodes than this in one statement is surely not a model, and a tree
 * that deep would overflow the stack of every recursive pass. */
enum { MAX_STMT_NODES = 10000 };

static void vec_push(ParseCtx *c, Vec *v, const void *elem, size_t esz)
{
    if (v->n == v->cap) {
        int ncap = v->cap ? 2 * v->cap : 4;
        void *nd = ast_alloc(c->arena, (size_t)ncap * esz);
        if (v->n)
            memcpy(nd, v->data, (size_t)v->n * esz);
        v->data = nd;
        v->cap = ncap;
    }
    memcpy((char *)v->data + (size_t)v->n * esz, elem, esz);
    v->n++;
}

static Expr *mk_expr(ParseCtx *c, ExprKind k, SrcLoc loc)
{
    if (++c->nodes > MAX_STMT_NODES && !c->too_big) {
        c->too_big = 1;
        diag_error(c->diag, loc, "statement too large (more than %d expression nodes)",
                   MAX_STMT_NODES);
    }
    Expr *e = ast_alloc(c->arena, sizeof *e);
    e->kind = k;
    e->loc = loc;
    return e;
}

static Expr *mk_binop(ParseCtx *c, int op, SrcLoc loc, Expr *l, Expr *r)
{
    Expr *e = mk_expr(c, EX_BINOP, loc);
    e->op = op;
    e->lhs = l;
    e->rhs = r;
    return e;
}

/* `3H` -> 3 * H, with each part's own position. */
static Expr *mk_numid(ParseCtx *c, NumIdTok t, SrcLoc loc)
{
    SrcLoc nl = { loc.line, loc.col, t.numlen };
    SrcLoc il = { loc.line, loc.col + t.numlen, loc.len - t.numlen > 0 ? loc.len - t.numlen : 1 };
    Expr *n = mk_expr(c, EX_NUM, nl);
    n->num = t.v;
    n->is_int = 1;
    Expr *id = mk_expr(c, EX_IDENT, il);
    id->name = t.name;
    return mk_binop(c, '*', loc, n, id);
}

static TypeExpr *mk_type(ParseCtx *c, TypeKind k, SrcLoc loc, Vec dims, Expr *maxlen)
{
    TypeExpr *t = ast_alloc(c->arena, sizeof *t);
    t->kind = k;
    t->loc = loc;
    t->dims = dims.data;
    t->ndims = dims.n;
    t->maxlen = maxlen;
    return t;
}

static Stmt *mk_stmt(ParseCtx *c, StmtKind k, SrcLoc loc, const char *name, SrcLoc name_loc)
{
    Stmt *s = ast_alloc(c->arena, sizeof *s);
    s->kind = k;
    s->loc = loc;
    if (name) {
        s->names = ast_alloc(c->arena, sizeof *s->names);
        s->name_locs = ast_alloc(c->arena, sizeof *s->name_locs);
        s->primed = ast_alloc(c->arena, sizeof *s->primed);
        s->names[0] = name;
        s->name_locs[0] = name_loc;
        s->nnames = 1;
    }
    return s;
}

static const char *decl_word(int kind)
{
    return kind == DECL_MODEL ? "model" : kind == DECL_CELL ? "cell" : "train";
}

/* Check that the statement belongs in the declaration being parsed; a
 * misplaced one is reported here and dropped, so sema never sees it. */
static Stmt *finish_stmt(ParseCtx *c, Stmt *s)
{
    static const char *const kw[] = {
        [ST_INPUT] = "input", [ST_TARGET] = "target", [ST_ASSIGN] = "assign",
        [ST_OUTPUT] = "output", [ST_LOSS] = "loss", [ST_PARAM] = "param",
        [ST_STATE] = "state", [ST_OUT] = "out", [ST_SETTING] = "setting",
    };
    int too_big = c->too_big;
    c->nodes = 0;
    c->too_big = 0;
    if (too_big)
        return NULL;
    switch (c->in) {
    case DECL_MODEL:
        if (s->kind == ST_PARAM || s->kind == ST_STATE || s->kind == ST_OUT) {
            diag_error(c->diag, s->loc, "'%s' is only allowed inside a cell, not in model '%s'",
                       kw[s->kind], c->in_name);
            return NULL;
        }
        break;
    case DECL_CELL:
        if (s->kind == ST_INPUT) {
            diag_error(c->diag, s->loc,
                       "'input' is not allowed inside cell '%s'; a cell's inputs are listed after its name: cell %s(x: [I]) -> [H]",
                       c->in_name, c->in_name);
            return NULL;
        }
        if (s->kind == ST_TARGET || s->kind == ST_OUTPUT || s->kind == ST_LOSS) {
            diag_error(c->diag, s->loc, "'%s' is only allowed inside a model, not in cell '%s'",
                       kw[s->kind], c->in_name);
            return NULL;
        }
        break;
    case DECL_TRAIN:
        if (s->kind != ST_SETTING) {
            diag_error(c->diag, s->loc,
                       "'%s' is not allowed in train '%s'; a train block holds settings: name = value",
                       kw[s->kind], c->in_name);
            return NULL;
        }
        break;
    default:
        break;
    }
    return s;
}

static Stmt *finish_assign(ParseCtx *c, Vec names, Expr *value)
{
    LName *ln = names.data;
    if (c->in == DECL_TRAIN) {
        if (names.n != 1 || ln[0].primed) {
            diag_error(c->diag, ln[names.n > 1 ? 1 : 0].loc,
                       "a setting in train '%s' is a single name: name = value", c->in_name);
            c->nodes = 0;
            c->too_big = 0;
            return NULL;
        }
        Stmt *s = mk_stmt(c, ST_SETTING, ln[0].loc, ln[0].name, ln[0].loc);
        s->value = value;
        return finish_stmt(c, s);
    }
    if (c->in == DECL_MODEL) {
        for (int i = 0; i < names.n; i++) {
            if (ln[i].primed) {
                diag_error(c->diag, ln[i].loc,
                           "%s' (a state's next value) is only meaningful inside a cell",
                           ln[i].name);
                c->nodes = 0;
                c->too_big = 0;
                return NULL;
            }
        }
    }
    Stmt *s = ast_alloc(c->arena, sizeof *s);
    s->kind = ST_ASSIGN;
    s->loc = ln[0].loc;
    s->nnames = names.n;
    s->names = ast_alloc(c->arena, (size_t)names.n * sizeof *s->names);
    s->name_locs = ast_alloc(c->arena, (size_t)names.n * sizeof *s->name_locs);
    s->primed = ast_alloc(c->arena, (size_t)names.n * sizeof *s->primed);
    for (int i = 0; i < names.n; i++) {
        s->names[i] = ln[i].name;
        s->name_locs[i] = ln[i].loc;
        s->primed[i] = ln[i].primed;
    }
    s->value = value;
    return finish_stmt(c, s);
}

/* ---- the token filter ---------------------------------------------------------- */

static int is_decl_kw(int t) { return t == TOK_MODEL || t == TOK_CELL || t == TOK_TRAIN; }

static int is_stmt_kw(int t)
{
    return t == TOK_INPUT || t == TOK_TARGET || t == TOK_OUTPUT || t == TOK_LOSS ||
           t == TOK_PARAM || t == TOK_STATE || t == TOK_OUT;
}

/* A token after which a line break does not end a statement: the
 * expression or list obviously goes on. */
static int continues(int t)
{
    return t == ',' || t == '(' || t == '[' || t == '=' || t == '+' || t == '-' ||
           t == '*' || t == '/' || t == '@' || t == '<' || t == ':' || t == TOK_ARROW ||
           t == TOK_INIT;
}

static void copy_text(char *dst, const char *src)
{
    snprintf(dst, TEXT_MAX, "%s", src);
}

/* Record token `t` in the filter's view of the stream: previous tokens,
 * open brackets and whether a statement may start here. */
static void note_token(ParseCtx *c, int t, SrcLoc loc, int first, const char *text)
{
    c->prev2_tok = c->prev_tok;
    c->prev_tok = c->cur_tok;
    c->prev_loc = c->cur_loc;
    memcpy(c->prev_text, c->cur_text, TEXT_MAX);
    c->cur_tok = t;
    c->cur_loc = loc;
    copy_text(c->cur_text, text);

    c->has_open_before = c->nbr > 0 && c->nbr <= BR_MAX;
    if (c->has_open_before)
        c->open_before = c->br[c->nbr - 1];

    /* `model model`: the second keyword is a misused name, not a fresh
     * declaration to resynchronise on. */
    c->cur_sync_top = (is_decl_kw(t) && !is_decl_kw(c->prev_tok)) || t == TOK_YYEOF;
    c->cur_sync_body = t == '}' || t == ';' || is_stmt_kw(t) || t == TOK_YYEOF ||
                       ((t == TOK_IDENT || t == TOK_PRIMED) && first && !continues(c->prev_tok));

    Bracket *top = c->nbr > 0 && c->nbr <= BR_MAX ? &c->br[c->nbr - 1] : NULL;
    switch (t) {
    case '(': case '[': case '<':
        if (t == '<' && c->prev_tok != TOK_SEQ)
            break;
        if (c->nbr < BR_MAX) {
            Bracket *b = &c->br[c->nbr];
            memset(b, 0, sizeof *b);
            b->kind = (char)t;
            b->loc = loc;
            if (t == '(') {
                b->sub = c->prev_tok == TOK_IDENT ? (c->prev2_tok == TOK_CELL ? 'i' : 'c') : 'g';
                copy_text(b->name, c->prev_text);
            }
        }
        c->nbr++;
        break;
    case ')': case ']': case '>':
        if (c->nbr > BR_MAX)
            c->nbr--;
        else if (top && top->kind == (t == ')' ? '(' : t == ']' ? '[' : '<'))
            c->nbr--;
        break;
    case '{':
        c->nbr = 0;
        c->brace_depth++;
        c->open_brace = loc;
        break;
    case '}':
        c->nbr = 0;
        if (c->brace_depth > 0)
            c->brace_depth--;
        break;
    default:
        if (is_decl_kw(t) || is_stmt_kw(t))
            c->nbr = 0;
        break;
    }
}

static SrcLoc after_prev(const ParseCtx *c)
{
    SrcLoc l = { c->prev_loc.line, c->prev_loc.col + c->prev_loc.len, 1 };
    return l;
}

static void missing_brace(ParseCtx *c, int t, SrcLoc loc)
{
    SrcLoc where = loc;
    if (t == TOK_YYEOF) {
        where = (SrcLoc){ c->cur_loc.line, c->cur_loc.col + c->cur_loc.len, 1 };
        if (c->in >= 0)
            diag_error(c->diag, where, "expected '}' at end of file to close %s '%s'",
                       decl_word(c->in), c->in_name);
        else
            diag_error(c->diag, where, "expected '}' at end of file");
    } else if (c->in >= 0) {
        diag_error(c->diag, where, "unexpected '%s' inside %s '%s' (missing '}'?)",
                   c->text, decl_word(c->in), c->in_name);
    } else {
        diag_error(c->diag, where, "expected '}' before '%s'", c->text);
    }
    if (c->open_brace.line > 0)
        diag_note(c->diag, c->open_brace, "the body that is not closed starts here");
    c->last_err = where;
}

/* The parser's yylex: the raw tokens of lexer.l, with skipping during
 * error recovery and a made-up '}' where one is missing. */
static int yylex(YYSTYPE *val, YYLTYPE *loc, ParseCtx *c)
{
    for (;;) {
        int t, first;
        char text[TEXT_MAX];
        if (c->has_pending) {
            c->has_pending = 0;
            t = c->pending_tok;
            *val = c->pending_val;
            *loc = c->pending_loc;
            first = c->pending_first;
            copy_text(text, c->pending_text);
        } else {
            t = lexer_next(c, val, loc);
            first = c->first_on_line;
            copy_text(text, c->text);
        }

        if (c->brace_depth > 0 && (is_decl_kw(t) || t == TOK_YYEOF)) {
            int skipping_top = c->skipping == SKIP_TOP;
            if (!skipping_top)
                missing_brace(c, t, *loc);
            c->brace_depth = 0;
            if (!skipping_top) {
                /* Hand the parser a '}' now and the keyword next time. */
                c->has_pending = 1;
                c->pending_tok = t;
                c->pending_val = *val;
                c->pending_loc = *loc;
                c->pending_first = first;
                copy_text(c->pending_text, text);
                t = '}';
                copy_text(text, "}");
                first = 0;
                c->brace_depth = 1;   /* note_token takes it back to 0 */
            }
        }

        note_token(c, t, *loc, first, text);
        if (c->skipping != SKIP_NONE) {
            int sync = c->skipping == SKIP_BODY ? c->cur_sync_body : c->cur_sync_top;
            if (!sync)
                continue;
            c->skipping = SKIP_NONE;
            c->nbr = 0;
        }
        return t;
    }
}

/* Called from `stmt: error` and `decl: error` once the parser has popped
 * back to a statement (declaration) boundary.  Keep the lookahead if a
 * statement can start there; otherwise drop it and let the filter skip to
 * the next such token.  *errok says whether errors may be reported again
 * at once (not at end of file, so that recovery always terminates). */
static void recover(ParseCtx *c, int *yychar_p, int mode, int *errok)
{
    int la = *yychar_p;
    *errok = 1;
    if (la == TOK_YYEMPTY) {
        c->skipping = mode;
        return;
    }
    if (la == TOK_YYEOF) {
        *errok = 0;
        return;
    }
    int sync = mode == SKIP_BODY ? c->cur_sync_body : c->cur_sync_top;
    int same = c->cur_loc.line == c->last_kept.line && c->cur_loc.col == c->last_kept.col;
    if (sync && !same && la != TOK_YYUNDEF) {
        c->last_kept = c->cur_loc;
        c->nbr = 0;
        return;
    }
    *yychar_p = TOK_YYEMPTY;
    c->skipping = mode;
}

/* ---- messages --------------------------------------------------------------------- */

static void yyerror(YYLTYPE *loc, ParseCtx *c, const char *msg)
{
    /* Only "memory exhausted" reaches here (parse.error custom). */
    if (strstr(msg, "exhausted"))
        diag_error(c->diag, *loc, "nested too deeply");
    else
        diag_error(c->diag, *loc, "%s", msg);
}

/* How the token just read looks in a message: 'foo', number 3, ... */
static void describe_found(const ParseCtx *c, char *buf, size_t n)
{
    int t = c->cur_tok;
    if (t == TOK_YYEOF)
        snprintf(buf, n, "end of file");
    else if (t == TOK_NUM || t == TOK_NUMIDENT)
        snprintf(buf, n, "number %s", c->cur_text);
    else if (t == TOK_STRING)
        snprintf(buf, n, "a string");
    else if (t >= TOK_MODEL && t <= TOK_INT)
        snprintf(buf, n, "keyword '%s'", c->cur_text);
    else
        snprintf(buf, n, "'%s'", c->cur_text);
}

typedef struct Expected {
    yysymbol_kind_t sym[YYNTOKENS];
    int n;
} Expected;

static int has(const Expected *e, yysymbol_kind_t k)
{
    for (int i = 0; i < e->n; i++)
        if (e->sym[i] == k)
            return 1;
    return 0;
}

/* Character tokens have no enum name; find them by their bison name. */
static int has_char(const Expected *e, char ch)
{
    char want[4] = { '\'', ch, '\'', 0 };
    for (int i = 0; i < e->n; i++)
        if (strcmp(yysymbol_name(e->sym[i]), want) == 0)
            return 1;
    return 0;
}

static int starts_expr(int t)
{
    return t == TOK_IDENT || t == TOK_NUM || t == TOK_STRING || t == TOK_PRIMED ||
           t == TOK_NUMIDENT || t == '(' || t == '-';
}

/* A human name for an expected token in the fallback list. */
static void sym_name(yysymbol_kind_t k, char *buf, size_t n)
{
    const char *s = yysymbol_name(k);
    if (s[0] == '"')
        snprintf(buf, n, "'%.*s'", (int)strlen(s) - 2, s + 1);
    else if (k == YYSYMBOL_IDENT)
        snprintf(buf, n, "a name");
    else
        snprintf(buf, n, "%s", s);
}

static int yyreport_syntax_error(const yypcontext_t *yc, ParseCtx *c)
{
    Expected e;
    e.n = yypcontext_expected_tokens(yc, e.sym, YYNTOKENS);
    if (e.n < 0)
        e.n = 0;

    int t = c->cur_tok;
    SrcLoc at = c->cur_loc;
    /* A missing token is shown right after the previous one when the
     * parser only noticed on a later line. */
    int later = c->prev_loc.line > 0 && (t == TOK_YYEOF || c->cur_loc.line > c->prev_loc.line);
    SrcLoc miss = later ? after_prev(c) : at;

    char found[TEXT_MAX + 16], prev[TEXT_MAX + 4], msg[512];
    describe_found(c, found, sizeof found);
    if (c->prev_loc.line > 0)
        snprintf(prev, sizeof prev, "'%s'", c->prev_text);
    else
        snprintf(prev, sizeof prev, "the start of the file");

    const Bracket *ob = c->has_open_before ? &c->open_before : NULL;
    SrcLoc loc = miss;
    const Bracket *note = NULL;

    if (has(&e, YYSYMBOL_MODEL) && has(&e, YYSYMBOL_CELL)) {
        snprintf(msg, sizeof msg, "expected 'model', 'cell' or 'train', found %s", found);
        loc = at;
    } else if (has_char(&e, '}') && has(&e, YYSYMBOL_IDENT)) {
        /* At a statement boundary. */
        loc = at;
        if (!later && c->prev_tok != '{' && c->prev_tok != ';' && c->prev_tok != '}')
            snprintf(msg, sizeof msg, "expected an operator or a new statement after %s, found %s",
                     prev, found);
        else if (c->in == DECL_TRAIN)
            snprintf(msg, sizeof msg, "expected a setting (name = value), found %s", found);
        else if (c->in == DECL_CELL)
            snprintf(msg, sizeof msg,
                     "expected a statement (param, state, name = expression, out), found %s", found);
        else
            snprintf(msg, sizeof msg,
                     "expected a statement (input, target, name = expression, output, loss), found %s",
                     found);
    } else if (has(&e, YYSYMBOL_NUM) && has(&e, YYSYMBOL_IDENT) && !starts_expr(t)) {
        if (ob && (ob->kind == '[' || ob->kind == '<'))
            snprintf(msg, sizeof msg, "expected a dimension after %s, found %s", prev, found);
        else if (ob && ob->kind == '(' && ob->sub == 'c' && (c->prev_tok == '(' || c->prev_tok == ','))
            snprintf(msg, sizeof msg, "expected an argument after %s, found %s", prev, found);
        else
            snprintf(msg, sizeof msg, "expected an expression after %s, found %s", prev, found);
    } else if (has_char(&e, '[') && has(&e, YYSYMBOL_INT)) {
        if (c->prev_tok == '<')
            snprintf(msg, sizeof msg, "expected 'int' or '[dims]' after 'seq<', found %s", found);
        else
            snprintf(msg, sizeof msg, "expected a type ('[dims]', 'int' or 'seq<...>') after %s, found %s",
                     prev, found);
    } else if (has_char(&e, ')') && ob && ob->kind == '(') {
        note = ob;
        if (ob->sub == 'c' && has_char(&e, ',') && !later && starts_expr(t)) {
            snprintf(msg, sizeof msg, "expected ',' or ')' after argument of '%s', found %s",
                     ob->name, found);
            note = NULL;
        } else if (ob->sub == 'c') {
            snprintf(msg, sizeof msg, "expected ')' after arguments of '%s'", ob->name);
        } else if (ob->sub == 'i') {
            snprintf(msg, sizeof msg, "expected ',' or ')' after the inputs of cell '%s', found %s",
                     ob->name, found);
        } else {
            snprintf(msg, sizeof msg, "expected ')', found %s", found);
        }
    } else if (has_char(&e, ']') && ob && ob->kind == '[') {
        note = ob;
        snprintf(msg, sizeof msg, "expected ',' or ']' in dimension list, found %s", found);
    } else if (has_char(&e, '>') && ob && ob->kind == '<') {
        note = ob;
        snprintf(msg, sizeof msg, "expected '>' to close 'seq<', found %s", found);
    } else if (has_char(&e, '=') && e.n <= 2) {
        if (c->in == DECL_CELL && (c->prev_tok == ']' || c->prev_tok == '>' || c->prev_tok == TOK_INT))
            snprintf(msg, sizeof msg, "expected '=' and the state's initial value after its type, found %s",
                     found);
        else if (c->prev_tok == TOK_LOSS)
            snprintf(msg, sizeof msg, "expected '=' after 'loss', found %s", found);
        else if (c->in == DECL_TRAIN)
            snprintf(msg, sizeof msg, "expected '=' after setting %s, found %s", prev, found);
        else if (t == '(')
            snprintf(msg, sizeof msg,
                     "expected '=' after %s, found '(': a call must be assigned to a name", prev);
        else
            snprintf(msg, sizeof msg, "expected '=' after %s, found %s", prev, found);
    } else if (has_char(&e, ':') && e.n == 1) {
        snprintf(msg, sizeof msg, "expected ':' and a type after %s, found %s", prev, found);
    } else if (has(&e, YYSYMBOL_IDENT) && e.n <= 2 && c->prev_tok == TOK_INIT) {
        snprintf(msg, sizeof msg,
                 "expected an initializer after 'init' (zero, one, xavier, orthogonal, uniform(a), normal(std), const(v)), found %s",
                 found);
    } else if (has(&e, YYSYMBOL_IDENT) && e.n == 1 && ob && ob->kind == '(' && ob->sub == 'i') {
        snprintf(msg, sizeof msg, "expected a cell input (name: [dims]) after %s, found %s", prev, found);
    } else if (has(&e, YYSYMBOL_IDENT) && e.n == 1) {
        snprintf(msg, sizeof msg, "expected a name after %s, found %s", prev, found);
    } else if (has_char(&e, '{') && e.n == 1) {
        snprintf(msg, sizeof msg, "expected '{' after %s, found %s", prev, found);
    } else if (has(&e, YYSYMBOL_ARROW) && e.n == 1) {
        snprintf(msg, sizeof msg, "expected '->' and the return type after the cell's inputs, found %s",
                 found);
    } else if (has_char(&e, '(') && e.n == 1) {
        snprintf(msg, sizeof msg, "expected '(' and the inputs after cell %s, found %s", prev, found);
    } else if (has_char(&e, '<') && e.n == 1) {
        snprintf(msg, sizeof msg, "expected '<' after 'seq', found %s", found);
    } else if (e.n >= 1 && e.n <= 4) {
        char list[256] = "", name[64];
        for (int i = 0; i < e.n; i++) {
            sym_name(e.sym[i], name, sizeof name);
            size_t len = strlen(list);
            snprintf(list + len, sizeof list - len, "%s%s", i == 0 ? "" : i == e.n - 1 ? " or " : ", ",
                     name);
        }
        snprintf(msg, sizeof msg, "expected %s after %s, found %s", list, prev, found);
    } else {
        snprintf(msg, sizeof msg, "unexpected %s", found);
        loc = at;
    }

    /* One position, one error: a follow-on complaint at the same token
     * would only repeat the first. */
    if (loc.line == c->last_err.line && loc.col == c->last_err.col)
        return 0;
    c->last_err = loc;
    diag_error(c->diag, loc, "%s", msg);
    if (note && note->loc.line > 0)
        diag_note(c->diag, note->loc, "to match this '%c'", note->kind);
    return 0;
}

/* ---- entry points ----------------------------------------------------------------- */

static int init_ctx(ParseCtx *c, const char *filename, const char *source, Diag *d)
{
    memset(c, 0, sizeof *c);
    c->diag = d;
    c->in = -1;
    c->arena = ast_arena_new();
    if (!c->arena)
        return -1;
    c->prog = ast_alloc(c->arena, sizeof *c->prog);
    c->prog->filename = filename;
    c->prog->arena = c->arena;
    if (lexer_open(c, source ? source : "") != 0) {
        ast_arena_free(c->arena);
        return -1;
    }
    return 0;
}

Program *parse_program(const char *filename, const char *source, Diag *d)
{
    ParseCtx c;
    if (init_ctx(&c, filename, source, d) != 0)
        return NULL;
    yyparse(&c);
    lexer_close(&c);
    c.prog->decls = c.decls.data;
    c.prog->ndecls = c.decls.n;
    return c.prog;
}

int lex_tokens(const char *src, Diag *d, LexTok *out, int max)
{
    ParseCtx c;
    if (init_ctx(&c, "<tokens>", src, d) != 0)
        return 0;
    int n = 0;
    for (;;) {
        YYSTYPE v;
        SrcLoc loc;
        memset(&v, 0, sizeof v);
        int t = lexer_next(&c, &v, &loc);
        if (n < max) {
            LexTok *k = &out[n++];
            memset(k, 0, sizeof *k);
            k->kind = t;
            k->loc = loc;
            k->first_on_line = c.first_on_line;
            if (t == TOK_NUM) {
                k->num = v.num.v;
                k->is_int = v.num.is_int;
            } else if (t == TOK_NUMIDENT) {
                k->num = v.numid.v;
                k->is_int = 1;
                snprintf(k->str, sizeof k->str, "%s", v.numid.name);
            } else if (t == TOK_IDENT || t == TOK_PRIMED || t == TOK_STRING) {
                snprintf(k->str, sizeof k->str, "%s", v.str);
            }
        }
        if (t == TOK_YYEOF || n >= max)
            break;
    }
    lexer_close(&c);
    ast_arena_free(c.arena);
    return n;
}
