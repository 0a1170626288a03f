/* kir.c - building kernel IR: the arena, integer expressions (folded as
 * they are built, compared, evaluated), buffers and statements.  Printing
 * and verifying are in kir_print.c and kir_verify.c, what a statement
 * reads and writes in kir_walk.c, what a map's body needs in kir_map.c. */
#include "kir/kir.h"

#include "runtime/sizes.h"

#include <stdlib.h>
#include <string.h>

/* A chunked bump allocator, as the graph IR's (ir/ir.c). */
typedef struct KChunk {
    struct KChunk *next;
    size_t used, cap;
    max_align_t data[];
} KChunk;

struct KArena {
    KChunk *head;
};

void *kfunc_alloc(KFunc *f, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    KChunk *c = f->arena->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        c = malloc(sizeof *c + cap);
        if (!c) {
            fprintf(stderr, "rnnc: out of memory\n");
            abort();
        }
        c->next = f->arena->head;
        c->used = 0;
        c->cap = cap;
        f->arena->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

const char *kfunc_strdup(KFunc *f, const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = kfunc_alloc(f, n);
    memcpy(d, s, n);
    return d;
}

KFunc *kfunc_new(const char *name, const IrModule *m)
{
    struct KArena *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    KFunc tmp = {.arena = a};
    KFunc *f = kfunc_alloc(&tmp, sizeof *f);
    f->arena = a;
    f->name = kfunc_strdup(f, name);
    f->module = m;
    f->nsyms = m ? m->nsyms : 0;
    return f;
}

void kfunc_free(KFunc *f)
{
    if (!f) return;
    free(f->bufs);
    free(f->args);
    free(f->results);
    struct KArena *a = f->arena;
    /* Blocks' statement arrays are malloc'd (they grow); free them first. */
    for (int i = 0; i < f->nblocks; i++) free(f->blocks[i]->stmts);
    free(f->blocks);
    for (KChunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

/* ---- integer expressions ------------------------------------------------ */

static const KExpr *mk(KFunc *f, KExprKind k, int64_t v, int index, const KExpr *a, const KExpr *b)
{
    KExpr *e = kfunc_alloc(f, sizeof *e);
    e->kind = k;
    e->value = v;
    e->index = index;
    e->a = a;
    e->b = b;
    return e;
}

const KExpr *kexpr_const(KFunc *f, int64_t v) { return mk(f, KE_CONST, v, 0, NULL, NULL); }
const KExpr *kexpr_sym(KFunc *f, int sym) { return mk(f, KE_SYM, 0, sym, NULL, NULL); }
const KExpr *kexpr_var(KFunc *f, int loop) { return mk(f, KE_VAR, 0, loop, NULL, NULL); }

static int is_const(const KExpr *e, int64_t v) { return e->kind == KE_CONST && e->value == v; }

const KExpr *kexpr_bin(KFunc *f, KExprKind k, const KExpr *a, const KExpr *b)
{
    if (a->kind == KE_CONST && b->kind == KE_CONST) {
        int64_t x = a->value, y = b->value, r = 0;
        int wrapped = 0;
        switch (k) {
        case KE_ADD: wrapped = __builtin_add_overflow(x, y, &r); break;
        case KE_SUB: wrapped = __builtin_sub_overflow(x, y, &r); break;
        case KE_MUL: wrapped = __builtin_mul_overflow(x, y, &r); break;
        case KE_DIV:
            wrapped = x == INT64_MIN && y == -1;
            r = y && !wrapped ? x / y : 0;
            break;
        case KE_MAX: r = x > y ? x : y; break;
        default: break;
        }
        if (wrapped) {
            f->overflow = 1;
            r = INT64_MAX;
        }
        return kexpr_const(f, r);
    }
    switch (k) {
    case KE_ADD:
        if (is_const(a, 0)) return b;
        if (is_const(b, 0)) return a;
        break;
    case KE_SUB:
        if (is_const(b, 0)) return a;
        break;
    case KE_MUL:
        if (is_const(a, 0) || is_const(b, 0)) return kexpr_const(f, 0);
        if (is_const(a, 1)) return b;
        if (is_const(b, 1)) return a;
        /* constants first: "64 * B" reads better and folds further */
        if (b->kind == KE_CONST) {
            const KExpr *t = a;
            a = b;
            b = t;
        }
        break;
    case KE_DIV:
        if (is_const(b, 1)) return a;
        break;
    case KE_MAX:
        if (a == b) return a;
        break;
    default: break;
    }
    return mk(f, k, 0, 0, a, b);
}

int kexpr_has_free(const KExpr *e)
{
    if (!e) return 0;
    if (e->kind == KE_SYM || e->kind == KE_VAR) return 1;
    return kexpr_has_free(e->a) || kexpr_has_free(e->b);
}

int kexpr_equal(const KExpr *a, const KExpr *b)
{
    if (a == b) return 1;
    if (!a || !b || a->kind != b->kind) return 0;
    switch (a->kind) {
    case KE_CONST: return a->value == b->value;
    case KE_SYM:
    case KE_VAR: return a->index == b->index;
    default: return kexpr_equal(a->a, b->a) && kexpr_equal(a->b, b->b);
    }
}

int64_t kexpr_probe(const KExpr *e, int k)
{
    static const int64_t pts[KEXPR_PROBES][8] = {
        {7919, 104729, 1299709, 15485863, 179424673, 7727, 4721, 3371},
        {2741, 6133, 9973, 13499, 17393, 21011, 24749, 28657},
        {101, 211, 307, 401, 503, 601, 701, 809},
    };
    int64_t sym[64], vars[64];
    for (int i = 0; i < 64; i++) sym[i] = vars[i] = pts[k][i % 8] + i;
    return kexpr_eval(e, sym, vars);
}

int kexpr_same_value(const KExpr *a, const KExpr *b)
{
    if (kexpr_equal(a, b)) return 1;
    for (int k = 0; k < KEXPR_PROBES; k++)
        if (kexpr_probe(a, k) != kexpr_probe(b, k)) return 0;
    return 1;
}

int64_t kexpr_eval(const KExpr *e, const int64_t *sym, const int64_t *vars)
{
    switch (e->kind) {
    case KE_CONST: return e->value;
    case KE_SYM: return sym[e->index];
    case KE_VAR: return vars ? vars[e->index] : 0;
    default: break;
    }
    int64_t x = kexpr_eval(e->a, sym, vars), y = kexpr_eval(e->b, sym, vars);
    switch (e->kind) {
    case KE_ADD: return x + y;
    case KE_SUB: return x - y;
    case KE_MUL: return x * y;
    case KE_DIV: return y ? x / y : 0;
    case KE_MAX: return x > y ? x : y;
    default: return 0;
    }
}

/* Postfix words of e from w[*n] on (written while *n < cap); returns the
 * evaluation depth e needs, or -1 for a loop variable. */
static int put_words(const KExpr *e, int64_t *w, int cap, int *n)
{
    static const int64_t op[] = {
        [KE_ADD] = RT_SZ_ADD, [KE_SUB] = RT_SZ_SUB, [KE_MUL] = RT_SZ_MUL, [KE_DIV] = RT_SZ_DIV, [KE_MAX] = RT_SZ_MAX};
    if (e->kind == KE_VAR) return -1;
    if (e->kind == KE_CONST || e->kind == KE_SYM) {
        if (*n < cap) w[*n] = e->kind == KE_CONST ? RT_SZ_CONST : RT_SZ_SYM;
        if (*n + 1 < cap) w[*n + 1] = e->kind == KE_CONST ? e->value : e->index;
        *n += 2;
        return 1;
    }
    int da = put_words(e->a, w, cap, n);
    int db = da < 0 ? -1 : put_words(e->b, w, cap, n);
    if (db < 0) return -1;
    if (*n < cap) w[*n] = op[e->kind];
    ++*n;
    return da > db + 1 ? da : db + 1;
}

int kexpr_to_words(const KExpr *e, int64_t *w, int cap)
{
    int n = 1;
    int depth = put_words(e, w, cap, &n);
    if (depth < 0 || depth > RT_SIZE_DEPTH) return -1;
    if (cap > 0) w[0] = n - 1;
    return n;
}

/* Appends to buf at *len, never past n - 1. */
static void put(char *buf, size_t n, size_t *len, const char *s)
{
    while (*s && *len + 1 < n) buf[(*len)++] = *s++;
    buf[*len < n ? *len : n - 1] = 0;
}

static int is_sum(const KExpr *e) { return e->kind == KE_ADD || e->kind == KE_SUB; }

static void str_rec(const KFunc *f, const KExpr *e, char *buf, size_t n, size_t *len, int paren)
{
    char tmp[48];
    switch (e->kind) {
    case KE_CONST:
        snprintf(tmp, sizeof tmp, "%lld", (long long)e->value);
        put(buf, n, len, tmp);
        return;
    case KE_SYM:
        if (f && f->module && e->index < f->module->nsyms)
            put(buf, n, len, f->module->syms[e->index].name);
        else {
            snprintf(tmp, sizeof tmp, "sym%d", e->index);
            put(buf, n, len, tmp);
        }
        return;
    case KE_VAR:
        snprintf(tmp, sizeof tmp, "t%d", e->index);
        put(buf, n, len, tmp);
        return;
    case KE_MAX:
        put(buf, n, len, "max(");
        str_rec(f, e->a, buf, n, len, 0);
        put(buf, n, len, ", ");
        str_rec(f, e->b, buf, n, len, 0);
        put(buf, n, len, ")");
        return;
    default: break;
    }
    /* Left to right with * and / binding tighter than + and -: a left
     * operand needs brackets only when it is a sum inside a product; a
     * right operand when it is a sum under - * /, or a product or
     * quotient under / (and a quotient under *, since floor division does
     * not associate with multiplication). */
    int prod = !is_sum(e);
    if (paren) put(buf, n, len, "(");
    str_rec(f, e->a, buf, n, len, prod && is_sum(e->a));
    put(buf, n, len, e->kind == KE_ADD ? " + " : e->kind == KE_SUB ? " - " : e->kind == KE_MUL ? " * " : " / ");
    int rb = e->b->kind;
    int right = (is_sum(e->b) && e->kind != KE_ADD) || (e->kind == KE_DIV && (rb == KE_MUL || rb == KE_DIV)) ||
                (e->kind == KE_MUL && rb == KE_DIV);
    str_rec(f, e->b, buf, n, len, right);
    if (paren) put(buf, n, len, ")");
}

const char *kexpr_str(const KFunc *f, const KExpr *e, char *buf, size_t n)
{
    size_t len = 0;
    if (n == 0) return buf;
    buf[0] = 0;
    str_rec(f, e, buf, n, &len, 0);
    return buf;
}

/* ---- buffers and statements --------------------------------------------- */

static void *grow(void *p, int *cap, int need, size_t elem)
{
    if (need <= *cap) return p;
    int c = *cap ? *cap * 2 : 16;
    while (c < need) c *= 2;
    void *q = realloc(p, (size_t)c * elem);
    if (!q) {
        fprintf(stderr, "rnnc: out of memory\n");
        abort();
    }
    *cap = c;
    return q;
}

static int name_taken(const KFunc *f, const char *s)
{
    for (int i = 0; i < f->nbufs; i++)
        if (!strcmp(f->bufs[i]->name, s)) return 1;
    return 0;
}

/* Makes s a C identifier: letters, digits and '_', not starting with a
 * digit ("h.weight_ih_l0" -> "h_weight_ih_l0", "grad:h" -> "grad_h"). */
void kir_ident(char *d, size_t n, const char *s)
{
    size_t j = 0;
    if (!s || !*s) s = "t";
    if (*s >= '0' && *s <= '9' && j + 1 < n) d[j++] = 'v';
    for (; *s && j + 1 < n; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        d[j++] = ok ? c : '_';
    }
    d[j] = 0;
}

KBuf *kfunc_buf(KFunc *f, const char *name, IrDType dt, const KExpr *size, KBufKind kind)
{
    char base[96], uniq[112];
    kir_ident(base, sizeof base, name);
    snprintf(uniq, sizeof uniq, "%s", base);
    for (int k = 2; name_taken(f, uniq); k++) snprintf(uniq, sizeof uniq, "%s_%d", base, k);
    KBuf *b = kfunc_alloc(f, sizeof *b);
    b->id = f->nbufs;
    b->name = kfunc_strdup(f, uniq);
    b->dtype = dt;
    b->size = size;
    b->kind = kind;
    b->index = -1;
    f->bufs = grow(f->bufs, &f->capbufs, f->nbufs + 1, sizeof *f->bufs);
    f->bufs[f->nbufs++] = b;
    if (kind == KB_ARG || kind == KB_RESULT) {
        KBuf ***list = kind == KB_ARG ? &f->args : &f->results;
        int *cnt = kind == KB_ARG ? &f->nargs : &f->nresults;
        KBuf **q = realloc(*list, (size_t)(*cnt + 1) * sizeof **list);
        if (!q) {
            fprintf(stderr, "rnnc: out of memory\n");
            abort();
        }
        *list = q;
        b->index = *cnt;
        q[(*cnt)++] = b;
    }
    return b;
}

KStmt *kblock_add(KFunc *f, KBlock *b, KStmtKind kind, const char *origin)
{
    if (b->cap == 0) {
        /* remember the block so that kfunc_free() frees its array */
        int cap = f->capblocks;
        f->blocks = grow(f->blocks, &cap, f->nblocks + 1, sizeof *f->blocks);
        f->capblocks = cap;
        f->blocks[f->nblocks++] = b;
    }
    b->stmts = grow(b->stmts, &b->cap, b->n + 1, sizeof *b->stmts);
    KStmt *s = kfunc_alloc(f, sizeof *s);
    s->kind = kind;
    s->origin = kfunc_strdup(f, origin);
    if (kind == KS_LOOP) s->var = f->nloops++;
    b->stmts[b->n++] = s;
    return s;
}

const char *kir_map_op_name(KMapOp op)
{
    static const char *const names[KM_NUM_KINDS] = {
#define KM_OP(NAME, name, arity) [KM_##NAME] = name,
#include "kir/mapops.def"
    };
    return op >= 0 && op < KM_NUM_KINDS ? names[op] : "?";
}

int kir_map_op_arity(KMapOp op)
{
    static const int arity[KM_NUM_KINDS] = {
#define KM_OP(NAME, name, arity) [KM_##NAME] = arity,
#include "kir/mapops.def"
    };
    return op >= 0 && op < KM_NUM_KINDS ? arity[op] : 1;
}

/* rnnrt.h's bound on rt_sgemm_packed_b_bytes, in floats: a 64-byte header
 * (16 floats) and K rows of N padded to the widest panel (RT_SGEMM_NR_MAX
 * = 32, the AVX-512 kernel's nr).  tests/unit/test_sgemm.c checks the
 * bound against the runtime. */
const KExpr *kexpr_packed_b_floats(KFunc *f, const KExpr *N, const KExpr *K)
{
    const KExpr *padded = kexpr_bin(f, KE_ADD, N, kexpr_const(f, 32));
    return kexpr_bin(f, KE_ADD, kexpr_bin(f, KE_MUL, padded, K), kexpr_const(f, 16));
}
