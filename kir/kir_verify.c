/* kir_verify.c - checks a KFunc for one set of symbol values: every view
 * every statement uses stays inside its buffer, map bodies are well formed
 * SSA, nothing writes an argument, i64 data is only copied, and (once
 * memplan has run) every temporary and the SGEMM workspace fit in the
 * arena.
 *
 * Views whose offsets depend on loop variables are checked with each
 * enclosing loop's variable at its first and at its last iteration: every
 * offset the lowering makes is affine in the variables with non-negative
 * coefficients, so those two cover the extremes.  Each problem is one line
 * "kir verifier: <message>" naming the statement by its origin.  The
 * checks never follow a pointer or a count they have not checked, so the
 * verifier can run on whatever a buggy lowering produces. */
#include "kir/kir.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kir/kir_calls.h"
#include "runtime/sgemm.h"

typedef struct Ctx {
    const KFunc *f;
    const int64_t *sym;
    FILE *out;
    int nproblems;
    int64_t *vars;        /* value of each loop variable            */
    unsigned char *bound; /* 1 while the loop is being walked       */
} Ctx;

static void problem(Ctx *c, const KStmt *s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(Ctx *c, const KStmt *s, const char *fmt, ...)
{
    c->nproblems++;
    if (!c->out) return;
    fprintf(c->out, "kir verifier: ");
    if (s)
        fprintf(c->out, "%s '%s': ",
                s->kind == KS_LOOP     ? "loop"
                : s->kind == KS_GEMM   ? "gemm"
                : s->kind == KS_MAP    ? "map"
                : s->kind == KS_PACK_B ? "pack_b"
                                       : "call",
                s->origin ? s->origin : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
    fputc('\n', c->out);
}

/* An expression is usable when every symbol exists and every loop variable
 * belongs to a loop being walked; depth bounds a malformed (cyclic) tree. */
static int expr_ok(const Ctx *c, const KExpr *e, int depth)
{
    if (!e || depth > 10000) return 0;
    switch (e->kind) {
    case KE_CONST: return 1;
    case KE_SYM: return e->index >= 0 && e->index < c->f->nsyms;
    case KE_VAR: return e->index >= 0 && e->index < c->f->nloops && c->bound[e->index];
    case KE_ADD:
    case KE_SUB:
    case KE_MUL:
    case KE_DIV:
    case KE_MAX: return expr_ok(c, e->a, depth + 1) && expr_ok(c, e->b, depth + 1);
    default: return 0;
    }
}

/* The value of e in *v; 0 (with a problem reported) when it cannot be
 * evaluated or is negative. */
static int eval(Ctx *c, const KStmt *s, const KExpr *e, const char *what, int64_t *v)
{
    if (!expr_ok(c, e, 0)) {
        problem(c, s, "%s: a missing expression, an unknown symbol or a variable of no enclosing loop", what);
        return 0;
    }
    *v = kexpr_eval(e, c->sym, c->vars);
    if (*v < 0) {
        problem(c, s, "%s is negative (%lld)", what, (long long)*v);
        return 0;
    }
    return 1;
}

static int buf_ok(const Ctx *c, const KBuf *b)
{
    return b && b->id >= 0 && b->id < c->f->nbufs && c->f->bufs[b->id] == b;
}

/* Elements [lo, hi] of v's buffer (offset added) must exist.  `write`
 * also rejects arguments, which are the caller's read-only memory. */
static void check_range(Ctx *c, const KStmt *s, KView v, int64_t lo, int64_t hi, IrDType want, int write,
                        const char *what)
{
    if (!buf_ok(c, v.buf)) {
        problem(c, s, "%s: not a buffer of this function", what);
        return;
    }
    if (v.buf->dtype != want)
        problem(c, s, "%s: %s is %s, expected %s", what, v.buf->name, v.buf->dtype == IR_I64 ? "i64" : "f32",
                want == IR_I64 ? "i64" : "f32");
    if (write && v.buf->kind == KB_ARG) problem(c, s, "%s: writes the argument %s", what, v.buf->name);
    int64_t off, size;
    if (!eval(c, s, v.off, what, &off) || !eval(c, s, v.buf->size, "buffer size", &size)) return;
    if (hi < lo) return; /* touches nothing */
    if (v.buf->kind == KB_TEMP && c->f->arena_bytes && !v.buf->offset)
        problem(c, s, "%s: %s has no place in the arena", what, v.buf->name);
    if (off + lo < 0 || off + hi >= size)
        problem(c, s, "%s: elements %lld .. %lld of %s, which has %lld", what, (long long)(off + lo),
                (long long)(off + hi), v.buf->name, (long long)size);
}

/* A strided view over dims: the lowest and highest element it reaches. */
static void check_strided(Ctx *c, const KStmt *s, const KStrided *v, const int64_t *dims, IrDType want, int write,
                          const char *what)
{
    int64_t lo = 0, hi = 0;
    for (int d = 0; d < s->rank; d++) {
        int64_t st;
        if (!eval(c, s, v->stride[d], "a stride", &st)) return;
        if (dims[d] == 0) return; /* an empty index space reads nothing */
        hi += (dims[d] - 1) * st;
    }
    check_range(c, s, v->v, lo, hi, want, write, what);
}

static void check_map(Ctx *c, const KStmt *s)
{
    if (s->rank < 0 || s->rank > KIR_MAX_RANK) {
        problem(c, s, "rank %d", s->rank);
        return;
    }
    if (s->nin < 0 || s->nnodes < 0 || s->nout < 0 || (s->nin && !s->in) || (s->nnodes && !s->nodes) ||
        (s->nout && !s->out)) {
        problem(c, s, "bad counts of inputs, nodes or outputs");
        return;
    }
    int64_t dims[KIR_MAX_RANK];
    for (int d = 0; d < s->rank; d++)
        if (!eval(c, s, s->dims[d], "a dimension", &dims[d])) return;
    char what[64];
    for (int i = 0; i < s->nin; i++) {
        snprintf(what, sizeof what, "input %d", i);
        IrDType dt = buf_ok(c, s->in[i].v.buf) ? s->in[i].v.buf->dtype : IR_F32;
        check_strided(c, s, &s->in[i], dims, dt, 0, what);
    }
    /* The type of each node: an i64 input node may only be stored. */
    for (int k = 0; k < s->nnodes; k++) {
        const KMapNode *n = &s->nodes[k];
        int nargs = 0;
        switch (n->op) {
        case KM_IN:
            if (n->a < 0 || n->a >= s->nin) problem(c, s, "node n%d reads input %d of %d", k, n->a, s->nin);
            break;
        case KM_CONST: break;
        case KM_EXPR: {
            int64_t v;
            eval(c, s, n->e, "a size node", &v);
            break;
        }
        default: /* the computing ops: their arity from kir/mapops.def */
            if ((int)n->op < 0 || n->op >= KM_NUM_KINDS)
                problem(c, s, "node n%d has op %d", k, (int)n->op);
            else
                nargs = kir_map_op_arity(n->op);
            break;
        }
        for (int j = 0; j < nargs; j++) {
            int a = j ? n->b : n->a;
            if (a < 0 || a >= k) {
                problem(c, s, "node n%d uses n%d (a node must use earlier nodes)", k, a);
                continue;
            }
            const KMapNode *src = &s->nodes[a];
            if (src->op == KM_IN && src->a >= 0 && src->a < s->nin && buf_ok(c, s->in[src->a].v.buf) &&
                s->in[src->a].v.buf->dtype == IR_I64)
                problem(c, s, "node n%d computes with the i64 input node n%d", k, a);
        }
    }
    for (int i = 0; i < s->nout; i++) {
        const KMapOut *o = &s->out[i];
        snprintf(what, sizeof what, "output %d", i);
        if (o->node < 0 || o->node >= s->nnodes) {
            problem(c, s, "%s stores node n%d of %d", what, o->node, s->nnodes);
            continue;
        }
        if (!buf_ok(c, o->at.v.buf)) {
            problem(c, s, "%s: not a buffer of this function", what);
            continue;
        }
        const KMapNode *n = &s->nodes[o->node];
        int i64_node = n->op == KM_IN && n->a >= 0 && n->a < s->nin && buf_ok(c, s->in[n->a].v.buf) &&
                       s->in[n->a].v.buf->dtype == IR_I64;
        if (o->at.v.buf->dtype == IR_I64 && (!i64_node || o->accumulate))
            problem(c, s, "%s: an i64 output must be a plain copy of an i64 input", what);
        if (o->at.v.buf->dtype == IR_F32 && i64_node)
            problem(c, s, "%s: stores the i64 node n%d into f32 %s", what, o->node, o->at.v.buf->name);
        check_strided(c, s, &o->at, dims, o->at.v.buf->dtype, 1, what);
    }
}

/* op(X) is rows x cols; X is stored `trans ? cols x rows : rows x cols`
 * with leading dimension ld. */
static void check_matrix(Ctx *c, const KStmt *s, KView v, int trans, int64_t rows, int64_t cols, const KExpr *lde,
                         int write, const char *what)
{
    int64_t ld;
    if (!eval(c, s, lde, what, &ld)) return;
    int64_t r = trans ? cols : rows, k = trans ? rows : cols;
    if (ld < k || ld < 1) problem(c, s, "%s: leading dimension %lld < %lld", what, (long long)ld, (long long)k);
    if (r == 0 || k == 0) return;
    check_range(c, s, v, 0, (r - 1) * ld + k - 1, IR_F32, write, what);
}

/* The pack of op(B) (K x N) that v views: rt_sgemm_packed_b_bytes(N, K)
 * bytes from v's offset, read or written. */
static void check_pack_range(Ctx *c, const KStmt *s, KView v, int64_t N, int64_t K, int write, const char *what)
{
    int64_t floats = (int64_t)((rt_sgemm_packed_b_bytes(N, K) + 3) / 4);
    check_range(c, s, v, 0, floats - 1, IR_F32, write, what);
}

/* Whether block b (recursively) has a KS_PACK_B filling buf for these N
 * and K (the runtime rejects a pack of other sizes at run time; this says
 * so before). */
static int has_pack(Ctx *c, const KBlock *b, const KBuf *buf, int64_t N, int64_t K)
{
    for (int i = 0; i < b->n; i++) {
        const KStmt *s = b->stmts[i];
        if (!s) continue;
        if (s->kind == KS_LOOP && has_pack(c, &s->body, buf, N, K)) return 1;
        if (s->kind == KS_PACK_B && s->C.buf == buf && expr_ok(c, s->N, 0) && expr_ok(c, s->K, 0) &&
            kexpr_eval(s->N, c->sym, c->vars) == N && kexpr_eval(s->K, c->sym, c->vars) == K)
            return 1;
    }
    return 0;
}

static void check_pack_b(Ctx *c, const KStmt *s)
{
    int64_t N, K;
    if (!eval(c, s, s->N, "N", &N) || !eval(c, s, s->K, "K", &K)) return;
    if (N > 0 && K > 0) check_matrix(c, s, s->B, s->transb, K, N, s->ldb, 0, "B");
    check_pack_range(c, s, s->C, N, K, 1, "the pack");
}

static void check_gemm(Ctx *c, const KStmt *s)
{
    int64_t M, N, K;
    if (!eval(c, s, s->M, "M", &M) || !eval(c, s, s->N, "N", &N) || !eval(c, s, s->K, "K", &K)) return;
    if (s->packed_b) {
        /* a prepared argument is packed by the prepare function, which
         * the runtime's header check ties to N and K at run time */
        if (buf_ok(c, s->B.buf) && !(s->B.buf->kind == KB_ARG && s->B.buf->prepared) &&
            !has_pack(c, &c->f->body, s->B.buf, N, K))
            problem(c, s, "B=%s is packed, but no pack_b fills it for N=%lld K=%lld", s->B.buf->name, (long long)N,
                    (long long)K);
        if (M > 0 && N > 0 && K > 0 && s->alpha != 0) check_pack_range(c, s, s->B, N, K, 0, "B (packed)");
    }
    if (s->alpha != 0 && K > 0) {
        check_matrix(c, s, s->A, s->transa, M, K, s->lda, 0, "A");
        if (!s->packed_b) check_matrix(c, s, s->B, s->transb, K, N, s->ldb, 0, "B");
    }
    check_matrix(c, s, s->C, 0, M, N, s->ldc, 1, "C");
    if (c->f->arena_bytes && M > 0 && N > 0 && K > 0) {
        int64_t ws;
        if (!c->f->ws_bytes || !eval(c, s, c->f->ws_bytes, "the workspace size", &ws))
            problem(c, s, "no SGEMM workspace planned");
        else if ((size_t)ws < rt_sgemm_workspace_size(M, N, K))
            problem(c, s, "the SGEMM workspace has %lld bytes, this call needs %zu", (long long)ws,
                    rt_sgemm_workspace_size(M, N, K));
    }
}

static void check_call(Ctx *c, const KStmt *s)
{
    KCallSig sig;
    if (kir_call_sig(s->call, &sig)) {
        problem(c, s, "unknown call kind %d", (int)s->call);
        return;
    }
    if (s->nptrs != sig.nptrs || s->nhp != sig.nhp) {
        problem(c, s, "%s takes %d pointers and %d hyperparameters, has %d and %d", sig.symbol, sig.nptrs, sig.nhp,
                s->nptrs, s->nhp);
        return;
    }
    int64_t v[KIR_CALL_MAX_INTS];
    for (int i = 0; i < sig.nints; i++)
        if (!eval(c, s, s->ints[i], "an integer argument", &v[i])) return;
    for (int i = 0; i < sig.nptrs; i++) {
        const KCallArg *p = sig.ptr_arg[i];
        char what[32];
        snprintf(what, sizeof what, "pointer %d", i);
        check_range(c, s, s->ptrs[i], 0, kir_call_ptr_len(p, v) - 1, p->dtype, p->write, what);
    }
}

static void check_block(Ctx *c, const KBlock *b, int depth);

static void check_loop(Ctx *c, const KStmt *s, int depth)
{
    if (s->var < 0 || s->var >= c->f->nloops || c->bound[s->var]) {
        problem(c, s, "loop variable t%d is not a fresh loop id (%d loops)", s->var, c->f->nloops);
        return;
    }
    int64_t n;
    if (!eval(c, s, s->count, "the trip count", &n) || n == 0) return; /* a loop that never runs touches nothing */
    int64_t at[2] = {0, n - 1};
    c->bound[s->var] = 1;
    for (int i = 0; i < (n > 1 ? 2 : 1); i++) {
        c->vars[s->var] = at[i];
        check_block(c, &s->body, depth + 1);
    }
    c->bound[s->var] = 0;
    c->vars[s->var] = 0;
}

static void check_block(Ctx *c, const KBlock *b, int depth)
{
    if (depth > 64) {
        problem(c, NULL, "loops nested deeper than 64");
        return;
    }
    for (int i = 0; i < b->n; i++) {
        const KStmt *s = b->stmts[i];
        if (!s) {
            problem(c, NULL, "a NULL statement");
            continue;
        }
        switch (s->kind) {
        case KS_LOOP: check_loop(c, s, depth); break;
        case KS_GEMM: check_gemm(c, s); break;
        case KS_PACK_B: check_pack_b(c, s); break;
        case KS_MAP: check_map(c, s); break;
        case KS_CALL: check_call(c, s); break;
        default: problem(c, s, "statement kind %d", (int)s->kind); break;
        }
    }
}

static int elem_bytes(IrDType t) { return t == IR_I64 ? 8 : 4; }

/* Buffers: the lists of arguments and results agree with the kinds, and
 * with a plan, temporaries and the workspace lie inside the arena. */
static void check_bufs(Ctx *c)
{
    const KFunc *f = c->f;
    for (int i = 0; i < f->nbufs; i++) {
        const KBuf *b = f->bufs[i];
        if (!b || b->id != i) {
            problem(c, NULL, "buffer %d has the wrong id", i);
            continue;
        }
        int64_t size;
        if (!eval(c, NULL, b->size, b->name, &size)) continue;
        if (b->kind == KB_ARG || b->kind == KB_RESULT) {
            KBuf *const *list = b->kind == KB_ARG ? f->args : f->results;
            int n = b->kind == KB_ARG ? f->nargs : f->nresults;
            if (b->index < 0 || b->index >= n || list[b->index] != b)
                problem(c, NULL, "%s is %s %d but not in that place of the list", b->name,
                        b->kind == KB_ARG ? "argument" : "result", b->index);
        } else if (b->kind == KB_TEMP && f->arena_bytes && b->offset) { /* none: nothing accesses it */
            int64_t off, arena;
            if (!eval(c, NULL, b->offset, b->name, &off) || !eval(c, NULL, f->arena_bytes, "the arena", &arena))
                continue;
            if (off % 64) problem(c, NULL, "%s is at byte %lld, not 64-byte aligned", b->name, (long long)off);
            if (off + size * elem_bytes(b->dtype) > arena)
                problem(c, NULL, "%s (bytes %lld .. %lld) is outside the arena of %lld bytes", b->name, (long long)off,
                        (long long)(off + size * elem_bytes(b->dtype)), (long long)arena);
        } else if (b->kind != KB_TEMP) {
            problem(c, NULL, "%s has kind %d", b->name, (int)b->kind);
        }
    }
    for (int i = 0; i < f->nargs; i++)
        if (!buf_ok(c, f->args[i]) || f->args[i]->kind != KB_ARG)
            problem(c, NULL, "argument %d is not an argument buffer of this function", i);
    for (int i = 0; i < f->nresults; i++)
        if (!buf_ok(c, f->results[i]) || f->results[i]->kind != KB_RESULT)
            problem(c, NULL, "result %d is not a result buffer of this function", i);
    if (f->arena_bytes && f->ws_bytes) {
        int64_t off, n, arena;
        if (eval(c, NULL, f->ws_offset, "the workspace offset", &off) &&
            eval(c, NULL, f->ws_bytes, "the workspace size", &n) &&
            eval(c, NULL, f->arena_bytes, "the arena", &arena)) {
            if (off % 64) problem(c, NULL, "the SGEMM workspace is at byte %lld, not 64-byte aligned", (long long)off);
            if (off + n > arena)
                problem(c, NULL, "the SGEMM workspace (bytes %lld .. %lld) is outside the arena of %lld bytes",
                        (long long)off, (long long)(off + n), (long long)arena);
        }
    }
}

int kfunc_verify(const KFunc *f, const int64_t *sym, FILE *out)
{
    Ctx c = {.f = f, .sym = sym, .out = out};
    int n = f->nloops > 0 ? f->nloops : 1;
    int64_t vars_small[64];
    unsigned char bound_small[64];
    int64_t *vars = n <= 64 ? vars_small : calloc((size_t)n, sizeof *vars);
    unsigned char *bound = n <= 64 ? bound_small : calloc((size_t)n, 1);
    if (!vars || !bound) {
        fprintf(out ? out : stderr, "kir verifier: out of memory\n");
        if (n > 64) free(vars), free(bound);
        return 1;
    }
    memset(vars, 0, (size_t)n * sizeof *vars);
    memset(bound, 0, (size_t)n);
    c.vars = vars;
    c.bound = bound;
    check_bufs(&c);
    check_block(&c, &f->body, 0);
    if (n > 64) {
        free(vars);
        free(bound);
    }
    return c.nproblems;
}
