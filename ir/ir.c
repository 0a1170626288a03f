/* ir.c - building graph IR: the arena, modules, values, ops, scans, and
 * the type rule of every op (ir_infer_type), which both the builder and
 * the verifier use so that there is one definition of what an op accepts. */
#include "ir/ir.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ------------------------------------------------------------- */

/* Modules are built once and freed whole, so a bump allocator over a list
 * of chunks is all we need; nothing is freed individually. */
typedef struct IrChunk {
    struct IrChunk *next;
    size_t used, cap;
    max_align_t data[];
} IrChunk;

/* Capacities of the module's growable lists, kept in the private arena so
 * that the public IrModule stays plain data. */
typedef struct {
    int syms, inputs, targets, params, outputs;
} Caps;

struct IrArena {
    IrChunk *head;
    Caps caps;
};

static void *arena_alloc(struct IrArena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        IrChunk *c = malloc(sizeof *c + cap);
        if (!c) {
            fprintf(stderr, "rnnc: out of memory\n");
            exit(70);
        }
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = (char *)a->head->data + a->head->used;
    a->head->used += n;
    memset(p, 0, n);
    return p;
}

void *ir_alloc(IrModule *m, size_t n) { return arena_alloc(m->arena, n); }

const char *ir_strdup(IrModule *m, const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *p = ir_alloc(m, n);
    memcpy(p, s, n);
    return p;
}

/* Grow an arena array of `elem`-sized items to hold one more; arrays stay
 * small (params, ops of a block), so doubling with a copy is fine. */
static void *grow(IrModule *m, void *arr, int count, int *cap, size_t elem)
{
    if (count < *cap) return arr;
    int ncap = *cap ? *cap * 2 : 8;
    void *n = ir_alloc(m, (size_t)ncap * elem);
    if (count) memcpy(n, arr, (size_t)count * elem);
    *cap = ncap;
    return n;
}

/* ---- modules ----------------------------------------------------------- */

static Caps *caps_of(IrModule *m) { return &m->arena->caps; }

IrModule *ir_module_new(const char *name)
{
    struct IrArena *a = calloc(1, sizeof *a);
    if (!a) {
        fprintf(stderr, "rnnc: out of memory\n");
        exit(70);
    }
    IrModule *m = arena_alloc(a, sizeof *m);
    m->arena = a;
    m->name = ir_strdup(m, name ? name : "main");
    m->body = ir_alloc(m, sizeof *m->body);
    ir_add_sym(m, "B", 0);
    return m;
}

void ir_free(IrModule *m)
{
    if (!m) return;
    struct IrArena *a = m->arena;
    for (IrChunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

int ir_add_sym(IrModule *m, const char *name, int64_t max)
{
    m->syms = grow(m, m->syms, m->nsyms, &caps_of(m)->syms, sizeof *m->syms);
    m->syms[m->nsyms].name = ir_strdup(m, name);
    m->syms[m->nsyms].max = max;
    return m->nsyms++;
}

static IrValue *new_value(IrModule *m, IrValueKind kind, IrType t, const char *name)
{
    IrValue *v = ir_alloc(m, sizeof *v);
    v->id = m->next_id++;
    v->kind = kind;
    v->type = t;
    v->name = ir_strdup(m, name);
    return v;
}

static IrValue *add_named(IrModule *m, IrInput **list, int *n, int *cap, IrValueKind kind, const char *name, IrType t)
{
    *list = grow(m, *list, *n, cap, sizeof **list);
    IrValue *v = new_value(m, kind, t, name);
    (*list)[*n].name = v->name;
    (*list)[*n].value = v;
    (*n)++;
    return v;
}

IrValue *ir_add_input(IrModule *m, const char *name, IrType t)
{
    return add_named(m, &m->inputs, &m->ninputs, &caps_of(m)->inputs, IR_VAL_INPUT, name, t);
}

IrValue *ir_add_role_input(IrModule *m, const char *name, IrType t, IrRole role)
{
    IrValue *v = ir_add_input(m, name, t);
    m->inputs[m->ninputs - 1].role = role;
    return v;
}

IrValue *ir_add_target(IrModule *m, const char *name, IrType t)
{
    return add_named(m, &m->targets, &m->ntargets, &caps_of(m)->targets, IR_VAL_TARGET, name, t);
}

IrValue *ir_add_param(IrModule *m, const char *name, IrType t, IrInit init)
{
    m->params = grow(m, m->params, m->nparams, &caps_of(m)->params, sizeof *m->params);
    IrValue *v = new_value(m, IR_VAL_PARAM, t, name);
    m->params[m->nparams].name = v->name;
    m->params[m->nparams].value = v;
    m->params[m->nparams].init = init;
    m->nparams++;
    return v;
}

void ir_add_output(IrModule *m, const char *name, IrValue *v)
{
    m->outputs = grow(m, m->outputs, m->noutputs, &caps_of(m)->outputs, sizeof *m->outputs);
    m->outputs[m->noutputs].name = ir_strdup(m, name);
    m->outputs[m->noutputs].value = v;
    m->noutputs++;
}

void ir_add_role_output(IrModule *m, const char *name, IrValue *v, IrRole role, const char *of)
{
    ir_add_output(m, name, v);
    m->outputs[m->noutputs - 1].role = role;
    m->outputs[m->noutputs - 1].of = ir_strdup(m, of);
}

int ir_input_index(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->ninputs; i++)
        if (!strcmp(m->inputs[i].name, name)) return i;
    return -1;
}

int ir_output_index(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->noutputs; i++)
        if (!strcmp(m->outputs[i].name, name)) return i;
    return -1;
}

/* ---- ops ---------------------------------------------------------------- */

void ir_block_append(IrModule *m, IrBlock *b, IrOp *op)
{
    b->ops = grow(m, b->ops, b->nops, &b->capops, sizeof *b->ops);
    b->ops[b->nops++] = op;
    op->parent = b;
}

void ir_block_take_ops(IrBlock *b, IrBlock *from)
{
    b->ops = from->ops;
    b->nops = from->nops;
    b->capops = from->capops;
    for (int i = 0; i < b->nops; i++) b->ops[i]->parent = b;
}

static IrOp *new_op(IrModule *m, IrOpKind k, IrValue **operands, int noperands, const IrType *result_types,
                    int nresults)
{
    IrOp *op = ir_alloc(m, sizeof *op);
    op->kind = k;
    op->noperands = noperands;
    op->operands = ir_alloc(m, (size_t)(noperands ? noperands : 1) * sizeof *op->operands);
    if (noperands) memcpy(op->operands, operands, (size_t)noperands * sizeof *operands);
    op->nresults = nresults;
    op->results = ir_alloc(m, (size_t)(nresults ? nresults : 1) * sizeof *op->results);
    for (int i = 0; i < nresults; i++) {
        IrValue *v = new_value(m, IR_VAL_OP, result_types[i], NULL);
        v->def = op;
        v->def_index = i;
        op->results[i] = v;
    }
    return op;
}

IrOp *ir_op(IrModule *m, IrBlock *b, IrOpKind k, IrValue **operands, int noperands, const IrType *result_types,
            int nresults)
{
    IrOp *op = new_op(m, k, operands, noperands, result_types, nresults);
    ir_block_append(m, b, op);
    return op;
}

/* Builder misuse is a compiler bug, not a user error: say so and stop. */
static IrValue *infer_and_build(IrModule *m, IrBlock *b, IrOpKind k, IrValue **ops, int n, const IrAttrs *attrs)
{
    IrType t;
    char err[256];
    if (!ir_infer_type(m, k, ops, n, attrs, &t, err, sizeof err)) {
        fprintf(stderr, "rnnc: internal error: building '%s': %s\n", ir_op_name(k), err);
        abort();
    }
    IrOp *op = ir_op(m, b, k, ops, n, &t, 1);
    if (attrs) op->attrs = *attrs;
    return op->results[0];
}

IrValue *ir_op1(IrModule *m, IrBlock *b, IrOpKind k, IrValue *a) { return infer_and_build(m, b, k, &a, 1, NULL); }

IrValue *ir_op2(IrModule *m, IrBlock *b, IrOpKind k, IrValue *a, IrValue *c)
{
    IrValue *ops[2] = {a, c};
    return infer_and_build(m, b, k, ops, 2, NULL);
}

IrValue *ir_const(IrModule *m, IrBlock *b, double f, IrType t)
{
    IrOp *op = ir_op(m, b, IR_CONST, NULL, 0, &t, 1);
    op->attrs.f = f;
    return op->results[0];
}

IrValue *ir_slice(IrModule *m, IrBlock *b, IrValue *x, int64_t start, int64_t len)
{
    IrAttrs a = {.start = start, .len = len};
    return infer_and_build(m, b, IR_SLICE, &x, 1, &a);
}

void ir_replace_uses(IrBlock *b, const IrValue *from, IrValue *to)
{
    for (int i = 0; i < b->nops; i++) {
        IrOp *op = b->ops[i];
        for (int k = 0; k < op->noperands; k++)
            if (op->operands[k] == from) op->operands[k] = to;
        if (op->body) ir_replace_uses(op->body, from, to);
    }
    for (int i = 0; i < b->nyields; i++)
        if (b->yields[i] == from) b->yields[i] = to;
}

/* ---- scans -------------------------------------------------------------- */

IrOp *ir_scan_begin(IrModule *m, IrBlock *b, IrValue **carried, int n_carried, IrValue **seqs, int n_seq, int reverse,
                    int64_t steps)
{
    int n = n_carried + n_seq;
    IrValue **ops = ir_alloc(m, (size_t)(n ? n : 1) * sizeof *ops);
    for (int i = 0; i < n_carried; i++) ops[i] = carried[i];
    for (int i = 0; i < n_seq; i++) ops[n_carried + i] = seqs[i];
    IrOp *op = new_op(m, IR_SCAN, ops, n, NULL, 0);
    op->attrs.n_carried = n_carried;
    op->attrs.n_seq_in = n_seq;
    op->attrs.reverse = reverse;
    op->attrs.steps = n_seq ? -1 : steps;

    IrBlock *body = ir_alloc(m, sizeof *body);
    body->owner = op;
    body->nargs = n;
    body->args = ir_alloc(m, (size_t)(n ? n : 1) * sizeof *body->args);
    for (int i = 0; i < n; i++) {
        IrType t = ops[i]->type;
        if (i >= n_carried) { /* one step of a sequence: drop the time dim */
            for (int d = 1; d < t.rank; d++) t.dim[d - 1] = t.dim[d];
            t.rank--;
        }
        IrValue *v = new_value(m, IR_VAL_BLOCK_ARG, t, ops[i]->name);
        v->block = body;
        v->arg_index = i;
        body->args[i] = v;
    }
    op->body = body;
    ir_block_append(m, b, op);
    return op;
}

void ir_scan_finish(IrModule *m, IrOp *scan, IrValue **yields, int n_carried, int n_seq_out)
{
    IrBlock *body = scan->body;
    int n = n_carried + n_seq_out;
    body->nyields = n;
    body->yields = ir_alloc(m, (size_t)(n ? n : 1) * sizeof *body->yields);
    if (n) memcpy(body->yields, yields, (size_t)n * sizeof *yields);
    scan->attrs.n_seq_out = n_seq_out;

    /* Time dim of stacked outputs: the sequences' own, or the constant trip count. */
    int64_t tdim = scan->attrs.n_seq_in ? scan->operands[scan->attrs.n_carried]->type.dim[0] : scan->attrs.steps;
    scan->nresults = n;
    scan->results = ir_alloc(m, (size_t)(n ? n : 1) * sizeof *scan->results);
    for (int i = 0; i < n; i++) {
        IrType t = yields[i]->type;
        if (i >= n_carried) {
            for (int d = t.rank; d > 0; d--) t.dim[d] = t.dim[d - 1];
            t.dim[0] = tdim;
            t.rank++;
        }
        IrValue *v = new_value(m, IR_VAL_OP, t, i < n_carried ? scan->operands[i]->name : yields[i]->name);
        v->def = scan;
        v->def_index = i;
        scan->results[i] = v;
    }
}

void ir_scan_drop_output(IrOp *scan, int k)
{
    IrBlock *body = scan->body;
    int y = scan->attrs.n_carried + k;
    for (int i = y; i + 1 < body->nyields; i++) body->yields[i] = body->yields[i + 1];
    body->nyields--;
    for (int i = y; i + 1 < scan->nresults; i++) {
        scan->results[i] = scan->results[i + 1];
        scan->results[i]->def_index = i;
    }
    scan->nresults--;
    scan->attrs.n_seq_out--;
}

/* ---- types -------------------------------------------------------------- */

IrType ir_type(IrDType dt, int rank, const int64_t *dims)
{
    IrType t = {.dtype = dt, .rank = rank};
    for (int i = 0; i < rank && i < IR_MAX_RANK; i++) t.dim[i] = dims[i];
    return t;
}

int ir_type_eq(IrType a, IrType b)
{
    if (a.dtype != b.dtype || a.rank != b.rank) return 0;
    for (int i = 0; i < a.rank; i++)
        if (a.dim[i] != b.dim[i]) return 0;
    return 1;
}

static size_t dim_str(const IrModule *m, int64_t d, char *buf, size_t n)
{
    if (d >= 0) return (size_t)snprintf(buf, n, "%lld", (long long)d);
    int s = (int)(-d - 1);
    if (m && s < m->nsyms) return (size_t)snprintf(buf, n, "%s", m->syms[s].name);
    return (size_t)snprintf(buf, n, "?%d", s);
}

const char *ir_type_str(const IrModule *m, IrType t, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "%s[", t.dtype == IR_F32 ? "f32" : "i64");
    for (int i = 0; i < t.rank && k < n; i++) {
        if (i) k += (size_t)snprintf(buf + k, n - k, ", ");
        if (k < n) k += dim_str(m, t.dim[i], buf + k, n - k);
    }
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* ---- errors ------------------------------------------------------------- */

int ir_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- type rules ----------------------------------------------------------- */

/* ir_errf() for the type rules, which return 0 on failure (1: it fits). */
static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && n) vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return 0;
}

/* numpy broadcasting over trailing dims: each pair of aligned dims must be
 * equal or one of them 1 (a constant 1, never a symbol). */
static int broadcast(const IrModule *m, IrType a, IrType b, IrType *out, char *err, size_t n)
{
    IrType r = a.rank >= b.rank ? a : b;
    for (int i = 1; i <= a.rank && i <= b.rank; i++) {
        int64_t da = a.dim[a.rank - i], db = b.dim[b.rank - i];
        if (da == db) continue;
        if (da == 1)
            r.dim[r.rank - i] = db;
        else if (db == 1)
            r.dim[r.rank - i] = da;
        else {
            char sa[96], sb[96];
            return fail(err, n, "shapes %s and %s do not broadcast", ir_type_str(m, a, sa, sizeof sa),
                        ir_type_str(m, b, sb, sizeof sb));
        }
    }
    *out = r;
    return 1;
}

static int want_f32(IrValue *v, const char *what, char *err, size_t n)
{
    if (v->type.dtype != IR_F32) return fail(err, n, "%s must be f32", what);
    return 1;
}

int ir_infer_type(const IrModule *m, IrOpKind k, IrValue **o, int no, const IrAttrs *attrs, IrType *out, char *err,
                  size_t n)
{
    static const IrAttrs none;
    if (!attrs) attrs = &none;
    for (int i = 0; i < no; i++)
        if (!o[i]) return fail(err, n, "operand %d is missing", i);
    char s1[96], s2[96];

    switch (k) {
    case IR_CONST: return fail(err, n, "const has no operands to infer from");
#define IR_BINARY(NAME, name, kmap) case IR_##NAME:
#define IR_OP(NAME, name, min, max, nres)
#include "ir/ops.def"
        if (no != 2) return fail(err, n, "expects 2 operands, got %d", no);
        if (!want_f32(o[0], "left operand", err, n) || !want_f32(o[1], "right operand", err, n)) return 0;
        return broadcast(m, o[0]->type, o[1]->type, out, err, n);
#define IR_UNARY(NAME, name, fn, kmap) case IR_##NAME:
#define IR_OP(NAME, name, min, max, nres)
#include "ir/ops.def"
    case IR_SOFTMAX:
    case IR_LAYERNORM:
        if (no != 1) return fail(err, n, "expects 1 operand, got %d", no);
        if (!want_f32(o[0], "operand", err, n)) return 0;
        if ((k == IR_SOFTMAX || k == IR_LAYERNORM) && o[0]->type.rank < 1)
            return fail(err, n, "%s of a scalar", ir_op_name(k));
        *out = o[0]->type;
        return 1;
    case IR_LINEAR: {
        if (no != 2) return fail(err, n, "expects 2 operands (x, W), got %d", no);
        IrType x = o[0]->type, w = o[1]->type;
        if (!want_f32(o[0], "x", err, n) || !want_f32(o[1], "W", err, n)) return 0;
        if (w.rank != 2) return fail(err, n, "W must be a matrix, got %s", ir_type_str(m, w, s1, sizeof s1));
        if (x.rank < 1 || x.dim[x.rank - 1] != w.dim[1])
            return fail(err, n, "x %s does not fit W %s", ir_type_str(m, x, s1, sizeof s1),
                        ir_type_str(m, w, s2, sizeof s2));
        *out = x;
        out->dim[x.rank - 1] = w.dim[0];
        return 1;
    }
    case IR_CONCAT: {
        if (no < 1) return fail(err, n, "concat needs operands");
        IrType r = o[0]->type;
        if (r.rank < 1) return fail(err, n, "concat of a scalar");
        for (int i = 1; i < no; i++) {
            IrType t = o[i]->type;
            int ok = t.rank == r.rank && t.dtype == r.dtype;
            for (int d = 0; ok && d < r.rank - 1; d++) ok = t.dim[d] == r.dim[d];
            if (!ok || t.dim[t.rank - 1] < 0)
                return fail(err, n, "cannot concat %s and %s", ir_type_str(m, r, s1, sizeof s1),
                            ir_type_str(m, t, s2, sizeof s2));
            r.dim[r.rank - 1] += t.dim[t.rank - 1];
        }
        *out = r;
        return 1;
    }
    case IR_SLICE: {
        if (no != 1) return fail(err, n, "expects 1 operand, got %d", no);
        IrType t = o[0]->type;
        if (t.rank < 1) return fail(err, n, "slice of a scalar");
        int64_t last = t.dim[t.rank - 1];
        if (attrs->start < 0 || attrs->len < 1 || last < 0 || attrs->start + attrs->len > last)
            return fail(err, n, "slice [%lld, +%lld) out of range of %s", (long long)attrs->start,
                        (long long)attrs->len, ir_type_str(m, t, s1, sizeof s1));
        t.dim[t.rank - 1] = attrs->len;
        *out = t;
        return 1;
    }
    case IR_BROADCAST: return fail(err, n, "broadcast takes its result type from the builder");
    case IR_STACK: {
        if (no < 1) return fail(err, n, "stack needs operands");
        IrType r = o[0]->type;
        if (r.rank >= IR_MAX_RANK) return fail(err, n, "stack would exceed rank %d", IR_MAX_RANK);
        for (int i = 1; i < no; i++)
            if (!ir_type_eq(o[i]->type, r))
                return fail(err, n, "cannot stack %s and %s", ir_type_str(m, r, s1, sizeof s1),
                            ir_type_str(m, o[i]->type, s2, sizeof s2));
        for (int d = r.rank; d > 0; d--) r.dim[d] = r.dim[d - 1];
        r.dim[0] = no;
        r.rank++;
        *out = r;
        return 1;
    }
    case IR_INDEX: {
        if (no != 1) return fail(err, n, "expects 1 operand, got %d", no);
        IrType t = o[0]->type;
        if (t.rank < 1 || t.dim[0] < 0 || attrs->index < 0 || attrs->index >= t.dim[0])
            return fail(err, n, "index %lld out of range of %s", (long long)attrs->index,
                        ir_type_str(m, t, s1, sizeof s1));
        for (int d = 1; d < t.rank; d++) t.dim[d - 1] = t.dim[d];
        t.rank--;
        *out = t;
        return 1;
    }
    case IR_SCAN: return fail(err, n, "scan types come from its body");
    case IR_SEQ_LAST:
    case IR_SEQ_MEAN:
    case IR_SEQ_REVERSE: {
        if (k == IR_SEQ_REVERSE && no == 2) { /* the mask of lengths: [T, B, 1] of [T, B, ...] (floats or ids) */
            IrType s = o[0]->type, mk = o[1]->type;
            if (!want_f32(o[1], "mask", err, n)) return 0;
            if (s.rank < 2 || mk.rank != 3 || mk.dim[0] != s.dim[0] || mk.dim[1] != s.dim[1] || mk.dim[2] != 1)
                return fail(err, n, "mask %s does not fit %s", ir_type_str(m, mk, s1, sizeof s1),
                            ir_type_str(m, s, s2, sizeof s2));
            no = 1;
        }
        if (no != 1) return fail(err, n, "expects 1 operand, got %d", no);
        IrType t = o[0]->type;
        if (t.rank < 2) return fail(err, n, "expects a sequence, got %s", ir_type_str(m, t, s1, sizeof s1));
        if (k == IR_SEQ_MEAN && !want_f32(o[0], "operand", err, n)) return 0;
        if (k != IR_SEQ_REVERSE) {
            for (int d = 1; d < t.rank; d++) t.dim[d - 1] = t.dim[d];
            t.rank--;
        }
        *out = t;
        return 1;
    }
    case IR_EMBEDDING: {
        if (no != 2) return fail(err, n, "expects 2 operands (table, ids), got %d", no);
        IrType tab = o[0]->type, ids = o[1]->type;
        if (tab.rank != 2 || tab.dtype != IR_F32) return fail(err, n, "table must be an f32 matrix");
        if (ids.dtype != IR_I64) return fail(err, n, "ids must be i64");
        if (ids.rank >= IR_MAX_RANK) return fail(err, n, "ids of too high a rank");
        IrType r = ids;
        r.dtype = IR_F32;
        r.dim[r.rank++] = tab.dim[1];
        *out = r;
        return 1;
    }
    case IR_CROSS_ENTROPY:
    case IR_MSE: {
        if (k == IR_CROSS_ENTROPY && no == 3) { /* the weights of the rows (lengths): the ids' shape */
            IrType w = o[2]->type;
            w.dtype = IR_I64;
            if (o[2]->type.dtype != IR_F32 || !ir_type_eq(w, o[1]->type))
                return fail(err, n, "weights %s do not match ids %s", ir_type_str(m, o[2]->type, s1, sizeof s1),
                            ir_type_str(m, o[1]->type, s2, sizeof s2));
            no = 2;
        }
        if (no != 2) return fail(err, n, "expects 2 operands, got %d", no);
        IrType a = o[0]->type, b = o[1]->type;
        if (!want_f32(o[0], "prediction", err, n)) return 0;
        int ok;
        if (k == IR_CROSS_ENTROPY) {
            ok = b.dtype == IR_I64 && a.rank == b.rank + 1;
            for (int d = 0; ok && d < b.rank; d++) ok = a.dim[d] == b.dim[d];
        } else {
            ok = ir_type_eq(a, b);
        }
        if (!ok)
            return fail(err, n, "%s and %s do not match", ir_type_str(m, a, s1, sizeof s1),
                        ir_type_str(m, b, s2, sizeof s2));
        *out = (IrType){.dtype = IR_F32, .rank = 0};
        return 1;
    }
    case IR_MATMUL_NN: {
        if (no != 2) return fail(err, n, "expects 2 operands (g, W), got %d", no);
        IrType g = o[0]->type, w = o[1]->type;
        if (!want_f32(o[0], "g", err, n) || !want_f32(o[1], "W", err, n)) return 0;
        if (w.rank != 2 || g.rank < 1 || g.dim[g.rank - 1] != w.dim[0])
            return fail(err, n, "g %s does not fit W %s", ir_type_str(m, g, s1, sizeof s1),
                        ir_type_str(m, w, s2, sizeof s2));
        *out = g;
        out->dim[g.rank - 1] = w.dim[1];
        return 1;
    }
    case IR_LINEAR_WGRAD: {
        if (no != 2) return fail(err, n, "expects 2 operands (g, x), got %d", no);
        IrType g = o[0]->type, x = o[1]->type;
        if (!want_f32(o[0], "g", err, n) || !want_f32(o[1], "x", err, n)) return 0;
        int ok = g.rank >= 1 && g.rank == x.rank;
        for (int d = 0; ok && d < g.rank - 1; d++) ok = g.dim[d] == x.dim[d];
        if (!ok)
            return fail(err, n, "g %s and x %s differ in their rows", ir_type_str(m, g, s1, sizeof s1),
                        ir_type_str(m, x, s2, sizeof s2));
        int64_t d2[2] = {g.dim[g.rank - 1], x.dim[x.rank - 1]};
        *out = ir_type(IR_F32, 2, d2);
        return 1;
    }
    case IR_DROPOUT:
        if (no != 1) return fail(err, n, "expects 1 operand, got %d", no);
        if (!want_f32(o[0], "operand", err, n)) return 0;
        if (!(attrs->p >= 0 && attrs->p < 1)) return fail(err, n, "dropout p=%g is not in [0, 1)", attrs->p);
        *out = o[0]->type;
        return 1;
    case IR_DROPOUT_MASK: return fail(err, n, "dropout_mask takes its result type from the builder");
    case IR_REDUCE_TO: return fail(err, n, "reduce_to takes its result type from the builder");
    case IR_RESHAPE: return fail(err, n, "reshape takes its result type from the builder");
    case IR_RELU_GRAD:
    case IR_MSE_GRAD:
    case IR_LAYERNORM_GRAD:
        if (no != 2) return fail(err, n, "expects 2 operands, got %d", no);
        if (k == IR_LAYERNORM_GRAD && o[1]->type.rank < 1) return fail(err, n, "layernorm_grad of a scalar");
        if (!want_f32(o[0], "first operand", err, n) || !want_f32(o[1], "second operand", err, n)) return 0;
        if (!ir_type_eq(o[0]->type, o[1]->type))
            return fail(err, n, "%s and %s differ", ir_type_str(m, o[0]->type, s1, sizeof s1),
                        ir_type_str(m, o[1]->type, s2, sizeof s2));
        *out = o[0]->type;
        return 1;
    case IR_CROSS_ENTROPY_GRAD: {
        IrType t;
        if (!ir_infer_type(m, IR_CROSS_ENTROPY, o, no, attrs, &t, err, n)) return 0;
        *out = o[0]->type;
        return 1;
    }
    case IR_EMBEDDING_GRAD: {
        if (no != 3) return fail(err, n, "expects 3 operands (table, ids, g), got %d", no);
        IrType e;
        if (!ir_infer_type(m, IR_EMBEDDING, o, 2, attrs, &e, err, n)) return 0;
        if (!ir_type_eq(e, o[2]->type))
            return fail(err, n, "g %s is not the embedding's type %s", ir_type_str(m, o[2]->type, s1, sizeof s1),
                        ir_type_str(m, e, s2, sizeof s2));
        *out = o[0]->type;
        return 1;
    }
    case IR_SEQ_LAST_GRAD:
    case IR_SEQ_MEAN_GRAD: {
        if (no != 2) return fail(err, n, "expects 2 operands (g, s), got %d", no);
        IrType g = o[0]->type, s = o[1]->type;
        if (!want_f32(o[0], "g", err, n)) return 0;
        int ok = s.rank == g.rank + 1;
        for (int d = 0; ok && d < g.rank; d++) ok = s.dim[d + 1] == g.dim[d];
        if (!ok)
            return fail(err, n, "g %s is not one step of %s", ir_type_str(m, g, s1, sizeof s1),
                        ir_type_str(m, s, s2, sizeof s2));
        *out = s;
        out->dtype = IR_F32;
        return 1;
    }
    /* ---- the training step (passes/train_step.c) ---- */
    case IR_SUMSQ:
        if (no < 1) return fail(err, n, "sumsq needs operands");
        for (int i = 0; i < no; i++)
            if (!want_f32(o[i], "every operand", err, n)) return 0;
        *out = (IrType){.dtype = IR_F32, .rank = 0};
        return 1;
    case IR_CLAMP: /* (sqrt is with the unary ops above) */
        if (no != 1) return fail(err, n, "expects 1 operand, got %d", no);
        if (!want_f32(o[0], "operand", err, n)) return 0;
        *out = o[0]->type;
        return 1;
    case IR_CLIP_SCALE:
        if (no != 1) return fail(err, n, "expects 1 operand (the norm), got %d", no);
        if (o[0]->type.dtype != IR_F32 || o[0]->type.rank != 0)
            return fail(err, n, "the norm must be f32[], got %s", ir_type_str(m, o[0]->type, s1, sizeof s1));
        *out = o[0]->type;
        return 1;
    case IR_SGD_UPDATE:
    case IR_ADAM_UPDATE: {
        /* p, g and the state slots all have p's type; Adam's step is f32[]. */
        int adam = k == IR_ADAM_UPDATE;
        if (adam ? no != 5 : (no != 2 && no != 3))
            return fail(err, n,
                        adam ? "expects 5 operands (p, g, m, v, step), got %d"
                             : "expects 2 or 3 operands (p, g[, mom]), got %d",
                        no);
        if (!want_f32(o[0], "the parameter", err, n)) return 0;
        int nstate = adam ? 3 : no - 1;
        for (int i = 1; i <= nstate; i++)
            if (!ir_type_eq(o[i]->type, o[0]->type))
                return fail(err, n, "operand %d %s is not the parameter's type %s", i,
                            ir_type_str(m, o[i]->type, s1, sizeof s1), ir_type_str(m, o[0]->type, s2, sizeof s2));
        if (adam && (o[4]->type.dtype != IR_F32 || o[4]->type.rank != 0))
            return fail(err, n, "the step must be f32[], got %s", ir_type_str(m, o[4]->type, s1, sizeof s1));
        *out = o[0]->type;
        return 1;
    }
    default: return fail(err, n, "unknown op kind %d", (int)k);
    }
}

const char *ir_op_label(const IrOp *op, char *buf, size_t n)
{
    const IrValue *r = op->nresults ? op->results[0] : NULL;
    if (r && r->name)
        snprintf(buf, n, "%s", r->name);
    else if (op->origin)
        snprintf(buf, n, "%s", op->origin);
    else if (r)
        snprintf(buf, n, "%%%d", r->id);
    else
        snprintf(buf, n, "?");
    return buf;
}

const char *ir_index_str(int rank, const int64_t *shape, int64_t i, char *buf, size_t n)
{
    int64_t idx[16]; /* any tensor's rank (io/tensor.h's limit is 8) */
    if (rank < 0 || rank > 16) {
        snprintf(buf, n, "[?]");
        return buf;
    }
    for (int d = rank - 1; d >= 0; d--) {
        idx[d] = shape[d] ? i % shape[d] : 0;
        i = shape[d] ? i / shape[d] : 0;
    }
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < rank && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)idx[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}
