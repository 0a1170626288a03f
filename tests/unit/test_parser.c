/* test_parser.c - the lexer's tokens, the parse tree of every construct of
 * docs/language.md, syntax error messages and recovery, the AST printer,
 * and reentrancy (interleaved scanners, parallel parses). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/ast.h"
#include "parser.h"
#include "test_util.h"

/* ---- helpers ------------------------------------------------------------ */

/* Parse `src`; diagnostics go to a memory buffer returned in *msgs (if
 * not NULL; the caller frees it) and the error count to *nerr. */
static Program *parse(const char *src, int *nerr, char **msgs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    Diag d;
    diag_init(&d, "t.rnn", src, f);
    Program *p = parse_program("t.rnn", src, &d);
    fclose(f);
    if (nerr) *nerr = d.nerrors;
    if (msgs)
        *msgs = buf;
    else
        free(buf);
    return p;
}

/* Parse a program that must have no errors. */
static Program *parse_ok(const char *src)
{
    char *msgs;
    int nerr;
    Program *p = parse(src, &nerr, &msgs);
    if (nerr) fprintf(stderr, "unexpected errors:\n%s", msgs);
    assert_int_equal(nerr, 0);
    free(msgs);
    assert_non_null(p);
    return p;
}

static char *print_tree(const Program *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ast_print(p, f);
    fclose(f);
    return buf;
}

static void check_loc(SrcLoc l, int line, int col, int len)
{
    assert_int_equal(l.line, line);
    assert_int_equal(l.col, col);
    assert_int_equal(l.len, len);
}

static void check_ident(const Expr *e, const char *name)
{
    assert_non_null(e);
    assert_int_equal(e->kind, EX_IDENT);
    assert_string_equal(e->name, name);
}

static void check_num(const Expr *e, double v, int is_int)
{
    assert_non_null(e);
    assert_int_equal(e->kind, EX_NUM);
    /* Literals are parsed by strtod: exact for these short decimals. */
    assert_true(e->num == v);
    assert_int_equal(e->is_int, is_int);
}

static void check_binop(const Expr *e, int op)
{
    assert_non_null(e);
    assert_int_equal(e->kind, EX_BINOP);
    assert_int_equal(e->op, op);
}

/* ---- lexer ---------------------------------------------------------------- */

static void test_lexer_tokens(void **state)
{
    (void)state;
    const char *src = "model h' 3H 12 0.5 1e-3 .5 \"a\\\"b\\\\c\" -> # comment ( {\n"
                      "  init seq<int> @ ;";
    LexTok t[32];
    Diag d;
    diag_init(&d, "t.rnn", src, stderr);
    int n = lex_tokens(src, &d, t, 32);
    assert_int_equal(d.nerrors, 0);
    int want[] = {TOK_MODEL, TOK_PRIMED, TOK_NUMIDENT, TOK_NUM, TOK_NUM, TOK_NUM, TOK_NUM, TOK_STRING, TOK_ARROW,
                  TOK_INIT,  TOK_SEQ,    '<',          TOK_INT, '>',     '@',     ';',     TOK_YYEOF};
    assert_int_equal(n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < n; i++) assert_int_equal(t[i].kind, want[i]);

    assert_string_equal(t[1].str, "h'"); /* the prime is part of the token */
    check_loc(t[1].loc, 1, 7, 2);
    assert_true(t[2].num == 3); /* 3H = 3 * H */
    assert_string_equal(t[2].str, "H");
    assert_true(t[3].num == 12 && t[3].is_int);
    assert_true(t[4].num == 0.5 && !t[4].is_int);
    assert_true(t[5].num == 1e-3 && !t[5].is_int);
    assert_true(t[6].num == 0.5 && !t[6].is_int);
    assert_string_equal(t[7].str, "a\"b\\c"); /* escapes resolved */
    check_loc(t[7].loc, 1, 28, 9);
    /* The comment hid "( {"; `init` starts line 2. */
    check_loc(t[9].loc, 2, 3, 4);
    assert_true(t[9].first_on_line);
    assert_false(t[10].first_on_line);
}

static void test_lexer_errors(void **state)
{
    (void)state;
    const char *src = "x $ y 99999999999999999999 'z \"open\n\xff";
    LexTok t[16];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    Diag d;
    diag_init(&d, "t.rnn", src, f);
    int n = lex_tokens(src, &d, t, 16);
    fclose(f);
    /* Lexing goes on after each error: x, $, y, number, ', z, "open, 0xff, EOF. */
    assert_int_equal(n, 9);
    assert_int_equal(t[1].kind, TOK_YYerror);
    assert_int_equal(t[2].kind, TOK_IDENT);
    assert_int_equal(t[3].kind, TOK_NUM);
    assert_int_equal(t[4].kind, TOK_YYerror);
    assert_int_equal(t[6].kind, TOK_YYerror);
    assert_int_equal(t[7].kind, TOK_YYerror);
    assert_int_equal(t[8].kind, TOK_YYEOF);
    assert_int_equal(d.nerrors, 5);
    assert_non_null(strstr(buf, "t.rnn:1:3: error: invalid character '$'\n"));
    assert_non_null(strstr(buf, "t.rnn:1:7: error: number 99999999999999999999 is too large\n"));
    assert_non_null(strstr(buf, "t.rnn:1:28: error: a prime (') must follow a name directly"));
    assert_non_null(strstr(buf, "t.rnn:1:31: error: unterminated string"));
    assert_non_null(strstr(buf, "t.rnn:2:1: error: invalid byte 0xff"));
    free(buf);
}

/* ---- every construct -------------------------------------------------------- */

/* The example programs of docs/language.md, together. */
static const char *doc_example = "# many-to-many: character language model\n"
                                 "model charlm {\n"
                                 "  input  tokens : seq<int>\n"
                                 "  target next   : seq<int>\n"
                                 "  e      = embedding(tokens, vocab=65, dim=64)\n"
                                 "  h      = lstm(e, hidden=256, layers=2)\n"
                                 "  logits = dense(h, 65)\n"
                                 "  output probs = softmax(logits)\n"
                                 "  loss   = cross_entropy(logits, next)\n"
                                 "}\n"
                                 "\n"
                                 "train charlm {\n"
                                 "  data = text(\"examples/data/shakespeare_tiny.txt\")\n"
                                 "  seq_len = 100   tbptt = 50   batch = 32\n"
                                 "  optimizer = adam(lr=0.002)   clip = norm(5.0)   epochs = 10\n"
                                 "}\n"
                                 "\n" TU_MYGRU_SRC;

static void test_doc_example_model(void **state)
{
    (void)state;
    Program *p = parse_ok(doc_example);
    assert_string_equal(p->filename, "t.rnn");
    assert_int_equal(p->ndecls, 3);

    const Decl *m = p->decls[0];
    assert_int_equal(m->kind, DECL_MODEL);
    assert_string_equal(m->name, "charlm");
    check_loc(m->loc, 2, 1, 5);
    check_loc(m->name_loc, 2, 7, 6);
    assert_int_equal(m->nbody, 7);

    const Stmt *s = m->body[0];
    assert_int_equal(s->kind, ST_INPUT);
    assert_int_equal(s->nnames, 1);
    assert_string_equal(s->names[0], "tokens");
    check_loc(s->loc, 3, 3, 5);
    check_loc(s->name_locs[0], 3, 10, 6);
    assert_int_equal(s->type->kind, TY_SEQ_INT);
    assert_null(s->type->maxlen);
    check_loc(s->type->loc, 3, 19, 3);

    s = m->body[1];
    assert_int_equal(s->kind, ST_TARGET);
    assert_string_equal(s->names[0], "next");

    s = m->body[2]; /* e = embedding(tokens, vocab=65, dim=64) */
    assert_int_equal(s->kind, ST_ASSIGN);
    assert_int_equal(s->nnames, 1);
    assert_string_equal(s->names[0], "e");
    assert_int_equal(s->primed[0], 0);
    const Expr *c = s->value;
    assert_int_equal(c->kind, EX_CALL);
    assert_string_equal(c->name, "embedding");
    check_loc(c->loc, 5, 12, 9);
    assert_int_equal(c->nargs, 3);
    assert_null(c->args[0].name);
    check_ident(c->args[0].value, "tokens");
    assert_string_equal(c->args[1].name, "vocab");
    check_loc(c->args[1].loc, 5, 30, 5);
    check_num(c->args[1].value, 65, 1);
    assert_string_equal(c->args[2].name, "dim");
    check_num(c->args[2].value, 64, 1);

    s = m->body[4]; /* logits = dense(h, 65) */
    assert_string_equal(s->value->name, "dense");
    assert_null(s->value->args[1].name);
    check_num(s->value->args[1].value, 65, 1);

    s = m->body[5];
    assert_int_equal(s->kind, ST_OUTPUT);
    assert_string_equal(s->names[0], "probs");
    assert_string_equal(s->value->name, "softmax");

    s = m->body[6];
    assert_int_equal(s->kind, ST_LOSS);
    check_loc(s->loc, 9, 3, 4);
    assert_string_equal(s->value->name, "cross_entropy");
    check_ident(s->value->args[1].value, "next");
    ast_free(p);
}

static void test_doc_example_train(void **state)
{
    (void)state;
    Program *p = parse_ok(doc_example);
    const Decl *t = p->decls[1];
    assert_int_equal(t->kind, DECL_TRAIN);
    assert_string_equal(t->name, "charlm");
    assert_int_equal(t->nbody, 7);
    const char *keys[] = {"data", "seq_len", "tbptt", "batch", "optimizer", "clip", "epochs"};
    for (int i = 0; i < 7; i++) {
        assert_int_equal(t->body[i]->kind, ST_SETTING);
        assert_string_equal(t->body[i]->names[0], keys[i]);
    }
    const Expr *v = t->body[0]->value;
    assert_int_equal(v->kind, EX_CALL);
    assert_int_equal(v->args[0].value->kind, EX_STR);
    assert_string_equal(v->args[0].value->str, "examples/data/shakespeare_tiny.txt");
    check_num(t->body[1]->value, 100, 1);
    check_loc(t->body[2]->loc, 14, 19, 5);
    v = t->body[4]->value; /* adam(lr=0.002) */
    assert_string_equal(v->name, "adam");
    assert_string_equal(v->args[0].name, "lr");
    check_num(v->args[0].value, 0.002, 0);
    check_num(t->body[5]->value->args[0].value, 5.0, 0); /* norm(5.0) */
    ast_free(p);
}

static void test_doc_example_cell(void **state)
{
    (void)state;
    Program *p = parse_ok(doc_example);
    const Decl *c = p->decls[2];
    assert_int_equal(c->kind, DECL_CELL);
    assert_string_equal(c->name, "mygru");
    assert_int_equal(c->ninputs, 1);
    assert_string_equal(c->inputs[0].name, "x");
    check_loc(c->inputs[0].loc, 18, 12, 1);
    assert_int_equal(c->inputs[0].type->kind, TY_VEC);
    assert_int_equal(c->inputs[0].type->ndims, 1);
    check_ident(c->inputs[0].type->dims[0], "I");
    assert_int_equal(c->ret->kind, TY_VEC);
    check_ident(c->ret->dims[0], "H");
    assert_int_equal(c->nbody, 11);

    const Stmt *s = c->body[0]; /* param Wx: [3H, I] init xavier */
    assert_int_equal(s->kind, ST_PARAM);
    assert_string_equal(s->names[0], "Wx");
    assert_int_equal(s->type->ndims, 2);
    const Expr *d0 = s->type->dims[0];
    check_binop(d0, '*');
    check_num(d0->lhs, 3, 1);
    check_ident(d0->rhs, "H");
    check_loc(d0->lhs->loc, 19, 14, 1);
    check_loc(d0->rhs->loc, 19, 15, 1);
    check_ident(s->type->dims[1], "I");
    check_ident(s->init, "xavier");
    check_ident(c->body[1]->init, "orthogonal");
    check_ident(c->body[2]->init, "zero");

    s = c->body[3]; /* state h: [H] = 0 */
    assert_int_equal(s->kind, ST_STATE);
    assert_string_equal(s->names[0], "h");
    check_num(s->value, 0, 1);

    s = c->body[4]; /* xr, xz, xn = split(Wx @ x + b, 3) */
    assert_int_equal(s->kind, ST_ASSIGN);
    assert_int_equal(s->nnames, 3);
    assert_string_equal(s->names[2], "xn");
    check_loc(s->name_locs[2], 22, 11, 2);
    const Expr *a0 = s->value->args[0].value;
    check_binop(a0, '+'); /* (Wx @ x) + b */
    check_binop(a0->lhs, '@');
    check_ident(a0->lhs->lhs, "Wx");
    check_ident(a0->rhs, "b");
    check_loc(a0->loc, 22, 29, 1); /* a binop is at its operator */

    s = c->body[9]; /* h' = (1 - z) * n + z * h */
    assert_int_equal(s->kind, ST_ASSIGN);
    assert_string_equal(s->names[0], "h");
    assert_int_equal(s->primed[0], 1);
    check_binop(s->value, '+');
    check_binop(s->value->lhs, '*');
    check_binop(s->value->lhs->lhs, '-');

    s = c->body[10]; /* out h' */
    assert_int_equal(s->kind, ST_OUT);
    assert_int_equal(s->nnames, 0);
    check_ident(s->value, "h'");
    ast_free(p);
}

static void test_types(void **state)
{
    (void)state;
    Program *p = parse_ok("model m {\n"
                          "  input a : seq<[2*H + 1, 4], 100>; input b : seq<int, 50>\n"
                          "  input c : int  input d : [(H - 1) / 2]\n"
                          "}\n");
    const Stmt **b = (const Stmt **)p->decls[0]->body;
    assert_int_equal(p->decls[0]->nbody, 4);
    const TypeExpr *t = b[0]->type;
    assert_int_equal(t->kind, TY_SEQ_VEC);
    assert_int_equal(t->ndims, 2);
    check_binop(t->dims[0], '+');
    check_binop(t->dims[0]->lhs, '*');
    check_num(t->dims[1], 4, 1);
    check_num(t->maxlen, 100, 1);
    t = b[1]->type;
    assert_int_equal(t->kind, TY_SEQ_INT);
    check_num(t->maxlen, 50, 1);
    assert_int_equal(b[2]->type->kind, TY_INT);
    t = b[3]->type;
    assert_int_equal(t->kind, TY_VEC);
    check_binop(t->dims[0], '/');
    check_binop(t->dims[0]->lhs, '-');
    ast_free(p);
}

static void test_expressions(void **state)
{
    (void)state;
    Program *p = parse_ok("cell c(x: [I], y: [I]) -> [H] {\n"
                          "  a = -x * 2 - -3\n"
                          "  b = k * W @ x / 2\n"
                          "  c = 1 - 2 - 3\n"
                          "  out a\n"
                          "}\n");
    const Decl *d = p->decls[0];
    assert_int_equal(d->ninputs, 2);
    assert_string_equal(d->inputs[1].name, "y");
    const Expr *e = d->body[0]->value; /* ((-x) * 2) - (-3) */
    check_binop(e, '-');
    check_binop(e->lhs, '*');
    assert_int_equal(e->lhs->lhs->kind, EX_NEG);
    check_ident(e->lhs->lhs->lhs, "x");
    assert_int_equal(e->rhs->kind, EX_NEG);
    check_num(e->rhs->lhs, 3, 1);
    e = d->body[1]->value; /* (k * (W @ x)) / 2 */
    check_binop(e, '/');
    check_binop(e->lhs, '*');
    check_binop(e->lhs->rhs, '@');
    e = d->body[2]->value; /* (1 - 2) - 3 */
    check_binop(e, '-');
    check_binop(e->lhs, '-');
    check_num(e->rhs, 3, 1);
    ast_free(p);
}

static void test_calls_and_outputs(void **state)
{
    (void)state;
    Program *p = parse_ok("model m {\n"
                          "  input x : seq<[8]>\n"
                          "  h = gru(x, hidden=16, bidirectional, merge=sum, init=learned)\n"
                          "  g = generate(mygru, last(h), steps=5, hidden=16, feedback)\n"
                          "  output h\n"
                          "  output f = final(h, c); z = f()\n"
                          "}\n");
    const Decl *d = p->decls[0];
    assert_int_equal(d->nbody, 6);
    const Expr *c = d->body[1]->value;
    assert_int_equal(c->nargs, 5);
    assert_null(c->args[2].name);
    check_ident(c->args[2].value, "bidirectional"); /* sema's to interpret */
    assert_string_equal(c->args[4].name, "init");   /* `init` the keyword, as a name */
    check_ident(c->args[4].value, "learned");
    c = d->body[2]->value;
    check_ident(c->args[0].value, "mygru");
    assert_int_equal(c->args[1].value->kind, EX_CALL);
    assert_string_equal(c->args[1].value->name, "last");
    const Stmt *s = d->body[3];
    assert_int_equal(s->kind, ST_OUTPUT);
    assert_string_equal(s->names[0], "h");
    assert_null(s->value);
    s = d->body[4];
    assert_int_equal(s->kind, ST_OUTPUT);
    assert_string_equal(s->value->name, "final");
    c = d->body[5]->value;
    assert_int_equal(c->kind, EX_CALL);
    assert_int_equal(c->nargs, 0);
    ast_free(p);
}

static void test_param_init_call(void **state)
{
    (void)state;
    Program *p = parse_ok("cell c(x: [I]) -> [H] {\n"
                          "  param W: [H, I] init uniform(0.1)\n"
                          "  param v: [H]\n"
                          "  state s: [H] = v\n"
                          "  s' = W @ x + s\n"
                          "  out s'\n"
                          "}\n");
    const Stmt *s = p->decls[0]->body[0];
    assert_int_equal(s->init->kind, EX_CALL);
    assert_string_equal(s->init->name, "uniform");
    check_num(s->init->args[0].value, 0.1, 0);
    assert_null(p->decls[0]->body[1]->init);
    check_ident(p->decls[0]->body[2]->value, "v");
    ast_free(p);
}

static void test_empty_and_comments(void **state)
{
    (void)state;
    Program *p = parse_ok("");
    assert_int_equal(p->ndecls, 0);
    ast_free(p);
    p = parse_ok("# nothing here\n\n   # at all\n");
    assert_int_equal(p->ndecls, 0);
    ast_free(p);
    p = parse_ok("model m { }\r\ncell c(x: [1]) -> [1] { out x }");
    assert_int_equal(p->ndecls, 2);
    assert_int_equal(p->decls[0]->nbody, 0);
    ast_free(p);
}

/* ---- ast_print ---------------------------------------------------------------- */

static void test_ast_print(void **state)
{
    (void)state;
    Program *p = parse_ok("model charlm {\n"
                          "  input tokens : seq<int>\n"
                          "  e = embedding(tokens, vocab=65)\n"
                          "  y = -e * 2.5 + \"s\"\n"
                          "}\n"
                          "cell c(x: [3H, I]) -> [H] {\n"
                          "  param W: [H, I] init normal(0.01)\n"
                          "  a, b' = split(x, 2)\n"
                          "  out b'\n"
                          "}\n");
    char *text = print_tree(p);
    assert_string_equal(text, "model charlm @1:1\n"
                              "  input tokens : seq<int> @2:3\n"
                              "  assign e @3:3\n"
                              "    call embedding\n"
                              "      ident tokens\n"
                              "      arg vocab = num 65\n"
                              "  assign y @4:3\n"
                              "    binop +\n"
                              "      binop *\n"
                              "        neg\n"
                              "          ident e\n"
                              "        num 2.5\n"
                              "      str \"s\"\n"
                              "cell c @6:1\n"
                              "  input x : [3*H, I] @6:8\n"
                              "  returns [H]\n"
                              "  param W : [H, I] @7:3\n"
                              "    init call normal\n"
                              "      num 0.01\n"
                              "  assign a, b' @8:3\n"
                              "    call split\n"
                              "      ident x\n"
                              "      num 2\n"
                              "  out @9:3\n"
                              "    ident b'\n");
    free(text);
    ast_free(p);
}

/* ---- errors -------------------------------------------------------------------- */

/* Three broken statements give three errors, and the good statements
 * around them are still in the tree. */
static void test_recovery_counts(void **state)
{
    (void)state;
    int nerr;
    char *msgs;
    Program *p = parse("model m {\n"
                       "  input x : seq<[4]>\n"
                       "  h = lstm(x, hidden=8\n"
                       "  y = dense(h, 2)\n"
                       "  z = 3 +\n"
                       "  loss = mse(y, )\n"
                       "  w = y * 2\n"
                       "}\n"
                       "model n { input q : int }\n",
                       &nerr, &msgs);
    assert_int_equal(nerr, 3);
    assert_non_null(strstr(msgs, "t.rnn:3:23: error: expected ')' after arguments of 'lstm'\n"));
    assert_non_null(strstr(msgs, "t.rnn:5:10: error: expected an expression after '+', found keyword 'loss'\n"));
    assert_non_null(strstr(msgs, "t.rnn:6:17: error: expected an argument after ',', found ')'\n"));
    assert_int_equal(p->ndecls, 2);
    const Decl *d = p->decls[0];
    assert_int_equal(d->nbody, 3); /* input x, y = ..., w = ... */
    assert_string_equal(d->body[1]->names[0], "y");
    assert_string_equal(d->body[2]->names[0], "w");
    assert_string_equal(p->decls[1]->name, "n");
    free(msgs);
    ast_free(p);
}

/* Lexical errors recover too, without a second message for the same
 * mistake. */
static void test_lexical_recovery(void **state)
{
    (void)state;
    int nerr;
    char *msgs;
    Program *p = parse("model m {\n"
                       "  x = f(a b)\n"
                       "  y = $ + 2\n"
                       "  s = \"abc\n"
                       "  q = 1\n"
                       "}\n",
                       &nerr, &msgs);
    assert_int_equal(nerr, 3);
    assert_string_equal(msgs, "t.rnn:2:11: error: expected ',' or ')' after argument of 'f', found 'b'\n"
                              "  x = f(a b)\n"
                              "          ^\n"
                              "t.rnn:3:7: error: invalid character '$'\n"
                              "  y = $ + 2\n"
                              "      ^\n"
                              "t.rnn:4:7: error: unterminated string (a string ends with '\"' on the same line)\n"
                              "  s = \"abc\n"
                              "      ^~~~\n");
    assert_int_equal(p->decls[0]->nbody, 1);
    assert_string_equal(p->decls[0]->body[0]->names[0], "q");
    free(msgs);
    ast_free(p);
}

/* A missing '}' is one error with a note, and the next declaration is
 * parsed normally. */
static void test_missing_brace(void **state)
{
    (void)state;
    int nerr;
    char *msgs;
    Program *p = parse("cell c(x: [I]) -> [H] {\n"
                       "  out x\n"
                       "model m { input x: int }\n",
                       &nerr, &msgs);
    assert_int_equal(nerr, 1);
    assert_string_equal(msgs, "t.rnn:3:1: error: unexpected 'model' inside cell 'c' (missing '}'?)\n"
                              "model m { input x: int }\n"
                              "^~~~~\n"
                              "t.rnn:1:23: note: the body that is not closed starts here\n"
                              "cell c(x: [I]) -> [H] {\n"
                              "                      ^\n");
    assert_int_equal(p->ndecls, 2);
    assert_int_equal(p->decls[0]->nbody, 1);
    assert_string_equal(p->decls[1]->name, "m");
    free(msgs);
    ast_free(p);

    p = parse("model m {\n  input x: int\n", &nerr, &msgs);
    assert_int_equal(nerr, 1);
    assert_non_null(strstr(msgs, "t.rnn:2:15: error: expected '}' at end of file to close model 'm'\n"));
    free(msgs);
    ast_free(p);
}

/* Statements in the wrong kind of block are reported by the parser. */
static void test_misplaced_statements(void **state)
{
    (void)state;
    int nerr;
    char *msgs;
    Program *p = parse("model m { input x : int  param W : [3]  h' = 2  out x }\n"
                       "cell c(x: [I]) -> [H] { input z : int  loss = 3  out x }\n"
                       "train m { input x: int  a, b = 3  lr = 0.1 }\n",
                       &nerr, &msgs);
    assert_int_equal(nerr, 7);
    assert_non_null(strstr(msgs, "t.rnn:1:26: error: 'param' is only allowed inside a cell, not in model 'm'\n"));
    assert_non_null(strstr(msgs, "t.rnn:1:41: error: h' (a state's next value) is only meaningful inside a cell\n"));
    assert_non_null(strstr(msgs, "t.rnn:2:40: error: 'loss' is only allowed inside a model, not in cell 'c'\n"));
    assert_non_null(strstr(msgs, "t.rnn:3:28: error: a setting in train 'm' is a single name: name = value\n"));
    /* Dropped statements leave the rest. */
    assert_int_equal(p->decls[0]->nbody, 1);
    assert_int_equal(p->decls[1]->nbody, 1);
    assert_int_equal(p->decls[2]->nbody, 1);
    assert_string_equal(p->decls[2]->body[0]->names[0], "lr");
    free(msgs);
    ast_free(p);
}

/* A few more messages, exactly. */
static void test_messages(void **state)
{
    (void)state;
    static const struct {
        const char *src, *want;
    } cases[] = {
        {"modle m { }", "t.rnn:1:1: error: expected 'model', 'cell' or 'train', found 'modle'\n"},
        {"model { }", "t.rnn:1:7: error: expected a name after 'model', found '{'\n"},
        {"model m { input x int }", "t.rnn:1:19: error: expected ':' and a type after 'x', found keyword 'int'\n"},
        {"model m { input x : [ ] }", "t.rnn:1:23: error: expected a dimension after '[', found ']'\n"},
        {"model m { y = 3x }",
         "t.rnn:1:15: error: '3x' (a number followed by a name) is only allowed in dimensions; write 3*x\n"},
        {"model m { x = 1 2 }",
         "t.rnn:1:17: error: expected an operator or a new statement after '1', found number 2\n"},
        {"model m { f(x) }",
         "t.rnn:1:12: error: expected '=' after 'f', found '(': a call must be assigned to a name\n"},
        {"cell c(x: [I]) [H] { out x }",
         "t.rnn:1:16: error: expected '->' and the return type after the cell's inputs, found '['\n"},
        {"train t { lr 3 }", "t.rnn:1:14: error: expected '=' after setting 'lr', found number 3\n"},
        {"model m { input x : seq<int }", "t.rnn:1:29: error: expected '>' to close 'seq<', found '}'\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int nerr;
        char *msgs;
        Program *p = parse(cases[i].src, &nerr, &msgs);
        assert_int_equal(nerr, 1);
        /* The first line of the output is the message. */
        char *nl = strchr(msgs, '\n');
        assert_non_null(nl);
        nl[1] = '\0';
        assert_string_equal(msgs, cases[i].want);
        free(msgs);
        ast_free(p);
    }
}

/* Pathological input: no crash, one clear error. */
static void test_too_deep(void **state)
{
    (void)state;
    enum { N = 20000 };
    char *src = malloc(2 * N + 64);
    strcpy(src, "model m { x = ");
    size_t k = strlen(src);
    for (int i = 0; i < N; i++) src[k++] = '(';
    src[k++] = '1';
    for (int i = 0; i < N; i++) src[k++] = ')';
    strcpy(src + k, " }");
    int nerr;
    char *msgs;
    Program *p = parse(src, &nerr, &msgs);
    assert_int_equal(nerr, 1);
    assert_non_null(strstr(msgs, "error: nested too deeply"));
    free(msgs);
    ast_free(p);

    /* A flat but enormous statement is refused rather than handed on as a
     * tree too deep for recursive passes. */
    k = strlen("model m { x = ");
    for (int i = 0; i < N; i++) {
        src[k++] = 'a';
        src[k++] = '+';
    }
    strcpy(src + k, "a }");
    p = parse(src, &nerr, &msgs);
    assert_int_equal(nerr, 1);
    assert_non_null(strstr(msgs, "error: statement too large"));
    assert_int_equal(p->decls[0]->nbody, 0);
    free(msgs);
    ast_free(p);
    free(src);
}

/* ---- reentrancy ------------------------------------------------------------------ */

/* Two scanners read alternately: neither sees the other's position or
 * text. */
static void test_interleaved_scanners(void **state)
{
    (void)state;
    const char *sa = "model a {\n  x = 1\n}";
    const char *sb = "cell  b(y: [2]) -> [2] { out y }";
    Diag d;
    diag_init(&d, "t.rnn", NULL, stderr);
    ParseCtx ca, cb;
    memset(&ca, 0, sizeof ca);
    memset(&cb, 0, sizeof cb);
    ca.diag = cb.diag = &d;
    ca.arena = ast_arena_new();
    cb.arena = ast_arena_new();
    assert_int_equal(lexer_open(&ca, sa), 0);
    assert_int_equal(lexer_open(&cb, sb), 0);
    YYSTYPE v;
    SrcLoc la, lb;
    assert_int_equal(lexer_next(&ca, &v, &la), TOK_MODEL);
    assert_int_equal(lexer_next(&cb, &v, &lb), TOK_CELL);
    assert_int_equal(lexer_next(&ca, &v, &la), TOK_IDENT);
    assert_string_equal(v.str, "a");
    assert_int_equal(lexer_next(&cb, &v, &lb), TOK_IDENT);
    assert_string_equal(v.str, "b");
    check_loc(lb, 1, 7, 1);
    assert_int_equal(lexer_next(&ca, &v, &la), '{');
    assert_int_equal(lexer_next(&ca, &v, &la), TOK_IDENT);
    check_loc(la, 2, 3, 1); /* a's newline did not move b */
    assert_int_equal(lexer_next(&cb, &v, &lb), '(');
    check_loc(lb, 1, 8, 1);
    lexer_close(&ca);
    lexer_close(&cb);
    ast_arena_free(ca.arena);
    ast_arena_free(cb.arena);
    assert_int_equal(d.nerrors, 0);
}

typedef struct {
    const char *src;
    const char *want; /* the tree printed by a lone parse */
    int ok;
} ParseJob;

static void *parse_many(void *arg)
{
    ParseJob *j = arg;
    j->ok = 1;
    for (int i = 0; i < 200 && j->ok; i++) {
        Diag d;
        FILE *sink = fopen("/dev/null", "w");
        diag_init(&d, "t.rnn", j->src, sink);
        Program *p = parse_program("t.rnn", j->src, &d);
        char *text = print_tree(p);
        if (strcmp(text, j->want) != 0) j->ok = 0;
        free(text);
        ast_free(p);
        fclose(sink);
    }
    return NULL;
}

/* Two threads parse different files at the same time, many times, and
 * always get the tree a lone parse gives. */
static void test_parallel_parses(void **state)
{
    (void)state;
    const char *other = "model m {\n  input x : seq<[4]>\n  h = rnn(x, hidden=3\n  output h\n}\n";
    ParseJob jobs[2] = {{doc_example, NULL, 0}, {other, NULL, 0}};
    for (int i = 0; i < 2; i++) {
        Program *p = parse(jobs[i].src, NULL, NULL);
        jobs[i].want = print_tree(p);
        ast_free(p);
    }
    pthread_t th[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, parse_many, &jobs[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_true(jobs[i].ok);
        free((char *)jobs[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lexer_tokens),
        cmocka_unit_test(test_lexer_errors),
        cmocka_unit_test(test_doc_example_model),
        cmocka_unit_test(test_doc_example_train),
        cmocka_unit_test(test_doc_example_cell),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_expressions),
        cmocka_unit_test(test_calls_and_outputs),
        cmocka_unit_test(test_param_init_call),
        cmocka_unit_test(test_empty_and_comments),
        cmocka_unit_test(test_ast_print),
        cmocka_unit_test(test_recovery_counts),
        cmocka_unit_test(test_lexical_recovery),
        cmocka_unit_test(test_missing_brace),
        cmocka_unit_test(test_misplaced_statements),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_too_deep),
        cmocka_unit_test(test_interleaved_scanners),
        cmocka_unit_test(test_parallel_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
