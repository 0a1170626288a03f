/* kir_parse.c - the text form of kernel IR read back (kir_parse.h): the
 * inverse of kir_print.c, line by line.
 *
 * The text is line-oriented, so the parser is too (lines and tokens are
 * kir_lex.c's): each line is one header entry, one statement's first
 * line, one map node or output, or a closing "}"; the line's comment is
 * the origin of a statement and the `what` of a buffer.  The first error
 * stops the parse (longjmp to kfunc_parse, which frees what was built)
 * with its line and column.
 *
 * Everything built lives in the KFunc's arena, so an error frees it all
 * with kfunc_free(); expressions are built node by node, not through
 * kexpr_bin(), whose folding and reordering ("4 * T" for "T * 4") would
 * print differently. */
#include "kir/kir_parse.h"

#include <stdlib.h>
#include <string.h>

#include "kir/kir_calls.h"
#include "kir/kir_lex.h"

/* Loop variables t0 .. t(MAX_VAR - 1). */
#define MAX_VAR 100000

/* ---- integer expressions ----------------------------------------------------- */

static const KExpr *mk(KParser *P, KExprKind k, int64_t v, int index, const KExpr *a, const KExpr *b)
{
    KExpr *e = kfunc_alloc(P->f, sizeof *e);
    e->kind = k;
    e->value = v;
    e->index = index;
    e->a = a;
    e->b = b;
    return e;
}

static const KExpr *expr(KParser *P);

/* A name in an expression: a size symbol, else tK, the variable of an
 * enclosing loop. */
static const KExpr *name_expr(KParser *P, const char *at, const char *name)
{
    for (int i = 0; P->m && i < P->m->nsyms; i++)
        if (!strcmp(P->m->syms[i].name, name)) return mk(P, KE_SYM, 0, i, NULL, NULL);
    if (name[0] == 't' && name[1] && strspn(name + 1, "0123456789") == strlen(name + 1) && strlen(name) < 8) {
        int v = atoi(name + 1);
        for (int k = 0; k < P->nopen; k++)
            if (P->open[k] == v) return mk(P, KE_VAR, 0, v, NULL, NULL);
        kp_fail_at(P, at, "%s is not the variable of an enclosing loop", name);
    }
    kp_fail_at(P, at, "unknown size symbol '%s'", name);
}

static const KExpr *atom(KParser *P)
{
    kp_skip(P);
    const char *at = P->cur;
    if (kp_accept(P, "(")) {
        const KExpr *e = expr(P);
        kp_expect(P, ")");
        return e;
    }
    if (at < P->end && (*at == '-' || (*at >= '0' && *at <= '9')))
        return mk(P, KE_CONST, kp_integer(P, "an integer"), 0, NULL, NULL);
    char name[128];
    kp_ident(P, name, sizeof name, "an expression");
    if (!strcmp(name, "max") && kp_accept(P, "(")) {
        const KExpr *a = expr(P);
        kp_expect(P, ",");
        const KExpr *b = expr(P);
        kp_expect(P, ")");
        return mk(P, KE_MAX, 0, 0, a, b);
    }
    return name_expr(P, at, name);
}

/* * and / group from the left, as the printer reads them. */
static const KExpr *product(KParser *P)
{
    const KExpr *e = atom(P);
    for (;;) {
        if (kp_accept(P, "*"))
            e = mk(P, KE_MUL, 0, 0, e, atom(P));
        else if (kp_accept(P, "/"))
            e = mk(P, KE_DIV, 0, 0, e, atom(P));
        else
            return e;
    }
}

static const KExpr *expr(KParser *P)
{
    const KExpr *e = product(P);
    for (;;) {
        if (kp_accept(P, "+"))
            e = mk(P, KE_ADD, 0, 0, e, product(P));
        else if (kp_accept(P, "-"))
            e = mk(P, KE_SUB, 0, 0, e, product(P));
        else
            return e;
    }
}

/* ---- buffers and views -------------------------------------------------------- */

static KBuf *find_buf(const KFunc *f, const char *name)
{
    for (int i = 0; i < f->nbufs; i++)
        if (!strcmp(f->bufs[i]->name, name)) return f->bufs[i];
    return NULL;
}

/* "NAME[OFF": the caller reads what follows the offset. */
static KView view_open(KParser *P)
{
    kp_skip(P);
    const char *at = P->cur;
    char name[256];
    kp_ident(P, name, sizeof name, "a buffer name");
    KView v = {find_buf(P->f, name), NULL};
    if (!v.buf) kp_fail_at(P, at, "unknown buffer '%s'", name);
    kp_expect(P, "[");
    v.off = expr(P);
    return v;
}

/* "NAME[OFF; S0, ..., S(rank-1)]" ("NAME[OFF]" at rank 0). */
static KStrided strided(KParser *P, int rank)
{
    KStrided s = {.v = view_open(P)};
    for (int d = 0; d < rank; d++) {
        kp_skip(P);
        if (!kp_accept(P, d ? "," : ";"))
            kp_fail_at(P, P->cur, "expected '%s': a view in a map of rank %d has %d strides", d ? "," : ";", rank,
                       rank);
        s.stride[d] = expr(P);
    }
    kp_skip(P);
    if (!kp_accept(P, "]"))
        kp_fail_at(P, P->cur, "expected ']': a view in a map of rank %d has %d strides", rank, rank);
    return s;
}

/* "; ld EXPR]" after a GEMM operand's offset. */
static const KExpr *leading_dim(KParser *P)
{
    kp_expect(P, ";");
    kp_expect(P, "ld");
    const KExpr *e = expr(P);
    kp_expect(P, "]");
    return e;
}

static IrDType dtype(KParser *P)
{
    kp_skip(P);
    const char *at = P->cur;
    if (kp_accept(P, "f32")) return IR_F32;
    if (kp_accept(P, "i64")) return IR_I64;
    kp_fail_at(P, at, "expected an element type (f32 or i64)");
}

/* "arg NAME : DT[SIZE]  arg[I] "EXT" [prepared]", "result ... res[I] "EXT"",
 * "temp NAME : DT[SIZE] [@ OFFSET]"; the comment is what it holds. */
static void buffer_line(KParser *P, KBufKind kind)
{
    kp_skip(P);
    const char *at = P->cur;
    char name[256];
    kp_ident(P, name, sizeof name, "a buffer name");
    if (find_buf(P->f, name)) kp_fail_at(P, at, "buffer '%s' defined twice", name);
    kp_expect(P, ":");
    IrDType dt = dtype(P);
    kp_expect(P, "[");
    const KExpr *size = expr(P);
    kp_expect(P, "]");
    KBuf *b = kfunc_buf(P->f, name, dt, size, kind);
    if (strcmp(b->name, name)) kp_fail_at(P, at, "'%s' cannot be a buffer's name (it would be '%s')", name, b->name);
    if (kind == KB_TEMP) {
        if (kp_accept(P, "@")) b->offset = expr(P);
    } else {
        kp_expect(P, kind == KB_ARG ? "arg" : "res");
        kp_expect(P, "[");
        kp_skip(P);
        const char *iat = P->cur;
        int64_t index = kp_integer(P, "an index");
        if (index != b->index)
            kp_fail_at(P, iat, "%s[%lld] out of order: the %s buffers are numbered in their order, this is %s[%d]",
                       kind == KB_ARG ? "arg" : "res", (long long)index, kind == KB_ARG ? "arg" : "result",
                       kind == KB_ARG ? "arg" : "res", b->index);
        kp_expect(P, "]");
        kp_expect(P, "\"");
        const char *q = memchr(P->cur, '"', (size_t)(P->end - P->cur));
        if (!q) kp_fail_at(P, P->cur, "expected the closing '\"'");
        char *ext = kfunc_alloc(P->f, (size_t)(q - P->cur) + 1);
        memcpy(ext, P->cur, (size_t)(q - P->cur));
        b->ext_name = ext;
        P->cur = q + 1;
        if (kind == KB_ARG && kp_accept(P, "prepared")) b->prepared = 1;
    }
    kp_end_of_line(P);
    b->what = kp_comment(P);
}

/* "sym NAME [<= MAX]": B comes with the module; the others in order. */
static void sym_line(KParser *P)
{
    kp_skip(P);
    const char *at = P->cur;
    char name[128];
    kp_ident(P, name, sizeof name, "a symbol name");
    int64_t max = 0;
    if (kp_accept(P, "<=")) max = kp_integer(P, "the symbol's maximum");
    kp_end_of_line(P);
    if (!P->m) kp_fail_at(P, at, "a size symbol needs a module: 'kfunc NAME (module M) {'");
    int first = P->f->nsyms == 0;
    for (int i = 0; i < P->m->nsyms; i++)
        if (!strcmp(P->m->syms[i].name, name)) {
            if (i == 0 && first && max == 0) { /* the module's own B */
                P->f->nsyms = 1;
                return;
            }
            kp_fail_at(P, at, "symbol '%s' declared twice", name);
        }
    P->f->nsyms = ir_add_sym(P->m, name, max) + 1;
}

/* "arena EXPR bytes[; sgemm workspace @ OFF, N bytes]", "arena not
 * planned", or the derived "arena at ..." line, read over. */
static void arena_line(KParser *P)
{
    if (kp_accept(P, "not")) {
        kp_expect(P, "planned");
        kp_end_of_line(P);
        return;
    }
    if (kp_peek(P, "at") && kp_has(P->cur, P->end, "bytes for B=")) {
        P->cur = P->end;
        return;
    }
    P->f->arena_bytes = expr(P);
    kp_expect(P, "bytes");
    if (kp_accept(P, ";")) {
        kp_expect(P, "sgemm");
        kp_expect(P, "workspace");
        kp_expect(P, "@");
        P->f->ws_offset = expr(P);
        kp_expect(P, ",");
        P->f->ws_bytes = expr(P);
        kp_expect(P, "bytes");
    }
    kp_end_of_line(P);
}

/* ---- statements -------------------------------------------------------------- */

/* A growable array in the function's arena (the old copy is left there). */
static void *grow(KParser *P, void *p, int n, int *cap, size_t elem)
{
    if (n < *cap) return p;
    int c = *cap ? 2 * *cap : 8;
    void *q = kfunc_alloc(P->f, (size_t)c * elem);
    if (n) memcpy(q, p, (size_t)n * elem);
    *cap = c;
    return q;
}

static void block(KParser *P, KBlock *b);

/* "nK": the number K, or -1 when the cursor is not at one. */
static long node_number(KParser *P)
{
    kp_skip(P);
    const char *s = P->cur, *d = s + 1;
    if (s >= P->end || *s != 'n' || d >= P->end || *d < '0' || *d > '9') return -1;
    while (d < P->end && *d >= '0' && *d <= '9') d++;
    if (d < P->end && kp_ident_char(*d)) return -1;
    P->cur = d;
    return d - s > 9 ? 1000000000L : strtol(s + 1, NULL, 10);
}

/* "nK" referring to a node below `limit`. */
static int node_ref(KParser *P, int limit, const char *what)
{
    kp_skip(P);
    const char *at = P->cur;
    long k = node_number(P);
    if (k < 0) kp_fail_at(P, at, "expected a node (nK)");
    if (k >= limit && limit == 0)
        kp_fail_at(P, at, "%s n%ld is not an earlier node of the map (it has none yet)", what, k);
    if (k >= limit) kp_fail_at(P, at, "%s n%ld is not an earlier node of the map (n0 .. n%d)", what, k, limit - 1);
    return (int)k;
}

static KMapOp map_op(KParser *P)
{
    kp_skip(P);
    const char *at = P->cur;
    char name[64];
    kp_ident(P, name, sizeof name, "a map op");
    for (int op = 0; op < KM_NUM_KINDS; op++)
        if (!strcmp(kir_map_op_name((KMapOp)op), name)) return (KMapOp)op;
    kp_fail_at(P, at, "unknown map op '%s'", name);
}

static int same_strided(const KStrided *a, const KStrided *b, int rank)
{
    if (a->v.buf != b->v.buf || !kexpr_equal(a->v.off, b->v.off)) return 0;
    for (int d = 0; d < rank; d++)
        if (!kexpr_equal(a->stride[d], b->stride[d])) return 0;
    return 1;
}

/* "map [DIMS] {", its nodes and outputs one a line, "}". */
static void map_stmt(KParser *P, KStmt *s)
{
    kp_expect(P, "[");
    if (!kp_accept(P, "]")) {
        do {
            if (s->rank == KIR_MAX_RANK) kp_fail_at(P, P->cur, "a map has at most %d dimensions", KIR_MAX_RANK);
            s->dims[s->rank++] = expr(P);
        } while (kp_accept(P, ","));
        kp_expect(P, "]");
    }
    kp_expect(P, "{");
    kp_end_of_line(P);
    int capin = 0, capnodes = 0, capout = 0;
    for (;;) {
        if (!kp_next_line(P)) kp_fail_at(P, P->cur, "the map has no closing '}'");
        if (kp_accept(P, "}")) break;
        if (kp_accept(P, "out")) {
            s->out = grow(P, s->out, s->nout, &capout, sizeof *s->out);
            KMapOut *o = &s->out[s->nout];
            o->at = strided(P, s->rank);
            if (kp_accept(P, "+="))
                o->accumulate = 1;
            else
                kp_expect(P, "=");
            o->node = node_ref(P, s->nnodes, "the output's");
            s->nout++;
            kp_end_of_line(P);
            continue;
        }
        kp_skip(P);
        const char *at = P->cur;
        long k = node_number(P);
        if (k < 0) kp_fail_at(P, at, "expected a node 'nK = ...', an output 'out ...' or '}'");
        if (k != s->nnodes) kp_fail_at(P, at, "expected node n%d: nodes are numbered in order", s->nnodes);
        kp_expect(P, "=");
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
                if (same_strided(&s->in[i], &v, s->rank)) n->a = i;
            if (n->a < 0) {
                s->in = grow(P, s->in, s->nin, &capin, sizeof *s->in);
                s->in[s->nin] = v;
                n->a = s->nin++;
            }
            break;
        }
        case KM_CONST: n->f = kp_number(P, "the constant"); break;
        case KM_EXPR: n->e = expr(P); break;
        default:
            n->a = node_ref(P, s->nnodes, "operand");
            if (kir_map_op_arity(n->op) == 2) {
                kp_expect(P, ",");
                n->b = node_ref(P, s->nnodes, "operand");
            }
            break;
        }
        s->nnodes++;
        kp_end_of_line(P);
    }
    kp_end_of_line(P);
}

/* gemm C=V[OFF; ld E] A=V[OFF; ld E][^T] B=V[OFF; ld E][^T] (M=E, N=E, K=E) alpha=F beta=F,
 * or with B=V[OFF] packed */
static void gemm_stmt(KParser *P, KStmt *s)
{
    kp_expect(P, "C");
    kp_expect(P, "=");
    s->C = view_open(P);
    s->ldc = leading_dim(P);
    kp_expect(P, "A");
    kp_expect(P, "=");
    s->A = view_open(P);
    s->lda = leading_dim(P);
    s->transa = kp_accept(P, "^T");
    kp_expect(P, "B");
    kp_expect(P, "=");
    s->B = view_open(P);
    if (kp_accept(P, "]")) {
        kp_expect(P, "packed");
        s->packed_b = 1;
    } else {
        s->ldb = leading_dim(P);
        s->transb = kp_accept(P, "^T");
    }
    kp_expect(P, "(");
    kp_expect(P, "M");
    kp_expect(P, "=");
    s->M = expr(P);
    kp_expect(P, ",");
    kp_expect(P, "N");
    kp_expect(P, "=");
    s->N = expr(P);
    kp_expect(P, ",");
    kp_expect(P, "K");
    kp_expect(P, "=");
    s->K = expr(P);
    kp_expect(P, ")");
    kp_expect(P, "alpha");
    kp_expect(P, "=");
    s->alpha = (float)kp_number(P, "alpha");
    kp_expect(P, "beta");
    kp_expect(P, "=");
    s->beta = (float)kp_number(P, "beta");
    kp_end_of_line(P);
}

/* pack_b C=V[OFF] B=V[OFF; ld E][^T] (N=E, K=E) */
static void pack_stmt(KParser *P, KStmt *s)
{
    kp_expect(P, "C");
    kp_expect(P, "=");
    s->C = view_open(P);
    kp_expect(P, "]");
    kp_expect(P, "B");
    kp_expect(P, "=");
    s->B = view_open(P);
    s->ldb = leading_dim(P);
    s->transb = kp_accept(P, "^T");
    kp_expect(P, "(");
    kp_expect(P, "N");
    kp_expect(P, "=");
    s->N = expr(P);
    kp_expect(P, ",");
    kp_expect(P, "K");
    kp_expect(P, "=");
    s->K = expr(P);
    kp_expect(P, ")");
    kp_end_of_line(P);
}

/* call SYMBOL(name=E, ...; V[OFF], ...[; hp=F, ...]).  Two kinds may share
 * a symbol (SGD with and without momentum): the kind is the one whose
 * signature has these integers, this many pointers and these
 * hyperparameters. */
static void call_stmt(KParser *P, KStmt *s)
{
    kp_skip(P);
    const char *at = P->cur;
    char sym[128];
    kp_ident(P, sym, sizeof sym, "the runtime function");
    kp_expect(P, "(");
    char inames[KIR_CALL_MAX_INTS][64];
    const KExpr *ivals[KIR_CALL_MAX_INTS];
    int nints = 0;
    if (!kp_peek(P, ";")) {
        do {
            if (nints == KIR_CALL_MAX_INTS)
                kp_fail_at(P, P->cur, "a call has at most %d integer arguments", KIR_CALL_MAX_INTS);
            kp_ident(P, inames[nints], sizeof inames[nints], "an integer argument's name");
            kp_expect(P, "=");
            ivals[nints++] = expr(P);
        } while (kp_accept(P, ","));
    }
    kp_expect(P, ";");
    if (!kp_peek(P, ";") && !kp_peek(P, ")")) {
        do {
            if (s->nptrs == KIR_CALL_MAX_PTRS)
                kp_fail_at(P, P->cur, "a call has at most %d pointer arguments", KIR_CALL_MAX_PTRS);
            s->ptrs[s->nptrs] = view_open(P);
            kp_expect(P, "]");
            s->nptrs++;
        } while (kp_accept(P, ","));
    }
    char hnames[KIR_CALL_MAX_HP][64];
    if (kp_accept(P, ";")) {
        do {
            if (s->nhp == KIR_CALL_MAX_HP)
                kp_fail_at(P, P->cur, "a call has at most %d hyperparameters", KIR_CALL_MAX_HP);
            kp_ident(P, hnames[s->nhp], sizeof hnames[s->nhp], "a hyperparameter's name");
            kp_expect(P, "=");
            s->hp[s->nhp] = kp_number(P, "the hyperparameter");
            s->nhp++;
        } while (kp_accept(P, ","));
    }
    kp_expect(P, ")");
    kp_end_of_line(P);
    int known = 0;
    for (int k = 0; k < KC_NUM_KINDS; k++) {
        KCallSig sig;
        if (kir_call_sig((KCallKind)k, &sig) || strcmp(sig.symbol, sym)) continue;
        known = 1;
        int fits = sig.nptrs == s->nptrs && sig.nhp == s->nhp && sig.nints == nints;
        for (int i = 0; fits && i < s->nhp; i++) fits = !strcmp(sig.hp_arg[i]->name, hnames[i]);
        for (int i = 0; fits && i < nints; i++) {
            int slot = -1;
            for (int j = 0; j < sig.nints; j++)
                if (!strcmp(sig.int_arg[j]->name, inames[i])) slot = j;
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
    if (!known) kp_fail_at(P, at, "unknown runtime call '%s' (kir/calls.def)", sym);
    kp_fail_at(P, at, "no call of %s takes these arguments (kir/calls.def)", sym);
}

/* "for tK in 0 .. COUNT [reverse] {", its body, "}". */
static void loop_stmt(KParser *P, KStmt *s)
{
    kp_skip(P);
    const char *at = P->cur;
    char name[32];
    kp_ident(P, name, sizeof name, "the loop variable (tK)");
    char *e = NULL;
    long v = name[0] == 't' && name[1] >= '0' && name[1] <= '9' ? strtol(name + 1, &e, 10) : -1;
    if (v < 0 || *e) kp_fail_at(P, at, "expected the loop variable (tK)");
    if (v >= MAX_VAR) kp_fail_at(P, at, "loop variable %s: at most t%d", name, MAX_VAR - 1);
    if (!P->var_used) P->var_used = kfunc_alloc(P->f, MAX_VAR);
    if (P->var_used[v]) kp_fail_at(P, at, "loop variable %s belongs to another loop: each loop has its own", name);
    if (P->nopen == KP_MAX_DEPTH) kp_fail_at(P, at, "loops nested deeper than %d", KP_MAX_DEPTH);
    P->var_used[v] = 1;
    if (v > P->max_var) P->max_var = (int)v;
    s->var = (int)v;
    kp_expect(P, "in");
    kp_expect(P, "0");
    kp_expect(P, "..");
    s->count = expr(P);
    s->reverse = kp_accept(P, "reverse");
    kp_expect(P, "{");
    kp_end_of_line(P);
    P->open[P->nopen++] = s->var;
    block(P, &s->body);
    P->nopen--;
}

/* The statement whose first line is the current one. */
static void statement(KParser *P, KBlock *b)
{
    kp_skip(P);
    const char *at = P->cur;
    static const struct {
        const char *word;
        KStmtKind kind;
    } kinds[] = {{"for", KS_LOOP}, {"gemm", KS_GEMM}, {"pack_b", KS_PACK_B}, {"map", KS_MAP}, {"call", KS_CALL}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (!kp_accept(P, kinds[i].word)) continue;
        KStmt *s = kblock_add(P->f, b, kinds[i].kind, kp_comment(P));
        switch (kinds[i].kind) {
        case KS_LOOP: loop_stmt(P, s); break;
        case KS_GEMM: gemm_stmt(P, s); break;
        case KS_PACK_B: pack_stmt(P, s); break;
        case KS_MAP: map_stmt(P, s); break;
        case KS_CALL: call_stmt(P, s); break;
        }
        return;
    }
    kp_fail_at(P, at, "expected a statement (for, gemm, pack_b, map, call) or '}'");
}

/* Statements up to the line "}" that closes the block. */
static void block(KParser *P, KBlock *b)
{
    for (;;) {
        if (!kp_next_line(P)) kp_fail_at(P, P->cur, "the text ends inside a block: a '}' is missing");
        if (kp_accept(P, "}")) {
            kp_end_of_line(P);
            return;
        }
        statement(P, b);
    }
}

/* ---- the function ------------------------------------------------------------------ */

static void function(KParser *P)
{
    if (!kp_next_line(P)) kp_fail_at(P, P->cur, "expected 'kfunc NAME (module M) {'");
    kp_expect(P, "kfunc");
    char name[256], mod[256];
    kp_word(P, name, sizeof name, "the function's name");
    if (kp_accept(P, "(")) {
        kp_expect(P, "module");
        kp_word(P, mod, sizeof mod, "the module's name");
        kp_expect(P, ")");
        P->m = ir_module_new(mod);
    }
    kp_expect(P, "{");
    kp_end_of_line(P);
    P->f = kfunc_new(name, P->m);
    if (!P->f) kp_fail_at(P, P->cur, "out of memory");
    P->f->nsyms = 0; /* counted as the sym lines come */
    P->max_var = -1;
    /* the header, in its order: symbols, buffers, the plan; then statements */
    enum { SYMS, BUFS, ARENA, BODY } phase = SYMS;
    for (;;) {
        if (!kp_next_line(P)) kp_fail_at(P, P->cur, "the text ends inside the function: a '}' is missing");
        kp_skip(P);
        const char *at = P->cur;
        if (kp_accept(P, "}")) {
            kp_end_of_line(P);
            break;
        }
        if (phase <= BUFS && kp_accept(P, "sym")) {
            if (phase > SYMS) kp_fail_at(P, at, "the symbols come before the buffers");
            sym_line(P);
        } else if (phase <= BUFS && kp_accept(P, "arg")) {
            phase = BUFS;
            buffer_line(P, KB_ARG);
        } else if (phase <= BUFS && kp_accept(P, "result")) {
            phase = BUFS;
            buffer_line(P, KB_RESULT);
        } else if (phase <= BUFS && kp_accept(P, "temp")) {
            phase = BUFS;
            buffer_line(P, KB_TEMP);
        } else if (phase <= ARENA && kp_accept(P, "arena")) {
            phase = ARENA;
            arena_line(P);
        } else {
            phase = BODY;
            statement(P, &P->f->body);
        }
    }
    /* Before the sym lines, B was the module's already (printed first). */
    if (P->m && P->f->nsyms < P->m->nsyms) P->f->nsyms = P->m->nsyms;
    P->f->nloops = P->max_var + 1;
    if (kp_next_line(P)) kp_fail_at(P, P->cur, "text after the function's closing '}'");
}

KFunc *kfunc_parse(const char *file, const char *text, IrModule **module, char *err, size_t errlen)
{
    if (module) *module = NULL;
    KParser *P = calloc(1, sizeof *P);
    if (!P) {
        if (err && errlen) snprintf(err, errlen, "%s: out of memory", file);
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
    if (module) *module = P->m;
    free(P);
    return f;
}
