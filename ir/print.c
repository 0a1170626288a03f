/* print.c - the text form of graph IR: one op a line, MLIR-like.
 *
 *   module charlm {
 *     sym B
 *     sym T_tokens <= 4096
 *     input  %tokens : i64[T_tokens, B]
 *     param  %e.weight : f32[65, 64] init normal(1)
 *     %3 = embedding %e.weight, %tokens : f32[T_tokens, B, 64]   # e: embedding
 *     %h, %c, %h.1 = scan init(%4, %5) over(%3) : f32[B, 256], ... {
 *       ^body(%6 : f32[B, 256], %7 : f32[B, 256], %8 : f32[B, 64]):
 *         ...
 *         yield %20, %21 ; %20
 *     }
 *     output probs = %25
 *     loss = %26
 *   }
 *
 * The format is documented in docs/ir.md and matched by the golden tests,
 * so it must stay stable: change it only together with both.  The printer
 * never trusts the module (it is also used to look at modules the verifier
 * rejected): NULL pointers and bad types print as <null> / <bad type>. */
#include "ir/ir.h"
#include "ir/text_line.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Scan bodies deeper than this are not printed (a malformed module could
 * make a body contain its own scan). */
#define MAX_DEPTH 32

/* ---- printing names ------------------------------------------------------
 * Every value gets one display name, assigned in the order the printer
 * meets the values: its source name when it has one (made unique with a
 * ".1", ".2" suffix), else its id.  Names never start with a digit, so they
 * cannot collide with the ids of unnamed values. */

typedef struct Names {
    const IrValue **vals; /* open-addressing table keyed by pointer      */
    char **vname;         /* the name of vals[i]                         */
    char **used;          /* open-addressing set of names in use         */
    size_t cap;           /* size of both tables, a power of two         */
    size_t n;
} Names;

static size_t hash_ptr(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static size_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static const char *names_find(const Names *ns, const IrValue *v)
{
    if (!ns->cap) return NULL;
    for (size_t i = hash_ptr(v) & (ns->cap - 1);; i = (i + 1) & (ns->cap - 1)) {
        if (!ns->vals[i]) return NULL;
        if (ns->vals[i] == v) return ns->vname[i];
    }
}

static int names_taken(const Names *ns, const char *s)
{
    if (!ns->cap) return 0;
    for (size_t i = hash_str(s) & (ns->cap - 1);; i = (i + 1) & (ns->cap - 1)) {
        if (!ns->used[i]) return 0;
        if (strcmp(ns->used[i], s) == 0) return 1;
    }
}

/* Puts (v, name) into fresh tables; name is owned by the tables. */
static void names_insert(const IrValue **vals, char **vname, char **used, size_t cap, const IrValue *v, char *name)
{
    size_t i = hash_ptr(v) & (cap - 1);
    while (vals[i]) i = (i + 1) & (cap - 1);
    vals[i] = v;
    vname[i] = name;
    i = hash_str(name) & (cap - 1);
    while (used[i]) i = (i + 1) & (cap - 1);
    used[i] = name;
}

/* Keeps the tables at most half full. */
static int names_grow(Names *ns)
{
    if (2 * (ns->n + 1) <= ns->cap) return 1;
    size_t cap = ns->cap ? 2 * ns->cap : 256;
    const IrValue **vals = calloc(cap, sizeof *vals);
    char **vname = calloc(cap, sizeof *vname);
    char **used = calloc(cap, sizeof *used);
    if (!vals || !vname || !used) {
        free(vals), free(vname), free(used);
        return 0;
    }
    for (size_t i = 0; i < ns->cap; i++)
        if (ns->vals[i]) names_insert(vals, vname, used, cap, ns->vals[i], ns->vname[i]);
    free(ns->vals), free(ns->vname), free(ns->used);
    ns->vals = vals, ns->vname = vname, ns->used = used, ns->cap = cap;
    return 1;
}

/* A source name made printable: letters, digits, '_', '.' and '\'' are
 * kept, anything else becomes '_'; a leading digit gets a 'v' in front. */
static void sanitize(const char *src, char *dst, size_t n)
{
    size_t j = 0;
    if (isdigit((unsigned char)src[0]) && j + 1 < n) dst[j++] = 'v';
    for (size_t i = 0; src[i] && j + 1 < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[j++] = (isalnum(c) || c == '_' || c == '.' || c == '\'') ? (char)c : '_';
    }
    dst[j] = '\0';
}

static void names_add(Names *ns, const IrValue *v, const char *hint)
{
    if (!v || names_find(ns, v)) return;
    char base[128], cand[160];
    if (hint && hint[0]) {
        sanitize(hint, base, sizeof base);
        snprintf(cand, sizeof cand, "%s", base);
        for (int k = 1; names_taken(ns, cand); k++) snprintf(cand, sizeof cand, "%s.%d", base, k);
    } else {
        snprintf(cand, sizeof cand, "%d", v->id);
    }
    char *copy = malloc(strlen(cand) + 1);
    if (!copy || !names_grow(ns)) {
        free(copy);
        return; /* out of memory: the value prints as its id */
    }
    strcpy(copy, cand);
    names_insert(ns->vals, ns->vname, ns->used, ns->cap, v, copy);
    ns->n++;
}

static void names_free(Names *ns)
{
    for (size_t i = 0; i < ns->cap; i++) free(ns->vname[i]);
    free(ns->vals), free(ns->vname), free(ns->used);
}

/* Assigns names to everything in block b, in print order: each op's
 * results, then (for a scan) its body's arguments and ops. */
static void name_block(Names *ns, const IrBlock *b, int depth)
{
    if (!b || depth > MAX_DEPTH) return;
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops ? b->ops[i] : NULL;
        if (!op) continue;
        for (int r = 0; r < op->nresults && op->results; r++)
            if (op->results[r]) names_add(ns, op->results[r], op->results[r]->name);
        if (op->kind == IR_SCAN && op->body) {
            for (int a = 0; a < op->body->nargs && op->body->args; a++)
                if (op->body->args[a]) names_add(ns, op->body->args[a], op->body->args[a]->name);
            name_block(ns, op->body, depth + 1);
        }
    }
}

static void name_module(Names *ns, const IrModule *m)
{
    for (int i = 0; i < m->ninputs && m->inputs; i++)
        if (m->inputs[i].value)
            names_add(ns, m->inputs[i].value, m->inputs[i].value->name ? m->inputs[i].value->name : m->inputs[i].name);
    for (int i = 0; i < m->ntargets && m->targets; i++)
        if (m->targets[i].value)
            names_add(ns, m->targets[i].value,
                      m->targets[i].value->name ? m->targets[i].value->name : m->targets[i].name);
    for (int i = 0; i < m->nparams && m->params; i++)
        if (m->params[i].value)
            names_add(ns, m->params[i].value, m->params[i].value->name ? m->params[i].value->name : m->params[i].name);
    name_block(ns, m->body, 0);
}

/* ---- output helpers ------------------------------------------------------
 * A line is built in a buffer first so that the origin comment can be
 * aligned after it. */

static void put_value(TextLine *l, const Names *ns, const IrValue *v)
{
    if (!v) {
        line_put(l, "<null>");
        return;
    }
    const char *name = names_find(ns, v);
    if (name)
        line_put(l, "%%%s", name);
    else
        line_put(l, "%%%d", v->id); /* a value the module does not define */
}

/* A type is only handed to ir_type_str() when it is well formed. */
static void put_type(TextLine *l, const IrModule *m, IrType t)
{
    if (t.rank < 0 || t.rank > IR_MAX_RANK || (t.dtype != IR_F32 && t.dtype != IR_I64)) {
        line_put(l, "<bad type>");
        return;
    }
    for (int i = 0; i < t.rank; i++)
        if (t.dim[i] < 0 && -t.dim[i] - 1 >= m->nsyms) {
            line_put(l, "<bad type>");
            return;
        }
    char buf[256];
    line_put(l, "%s", ir_type_str(m, t, buf, sizeof buf));
}

static void put_value_type(TextLine *l, const IrModule *m, const IrValue *v)
{
    if (v)
        put_type(l, m, v->type);
    else
        line_put(l, "<null>");
}

/* A number printed so that it reads back to the same double. */
static void put_number(TextLine *l, double f)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.9g", f);
    line_put(l, "%s", buf);
}

/* " name=value": a hyperparameter of a training-step op. */
static void put_hp(TextLine *l, const char *name, double f)
{
    line_put(l, " %s=", name);
    put_number(l, f);
}

static const char *op_name(IrOpKind k)
{
    if ((int)k < 0 || k >= IR_NUM_OPS) return "<bad op>";
    return ir_op_name(k);
}

/* ---- ops ------------------------------------------------------------------ */

static void print_block(const IrModule *m, const Names *ns, const IrBlock *b, int depth, FILE *out);

static void put_operand_list(TextLine *l, const Names *ns, IrValue *const *vs, int from, int to)
{
    for (int i = from; i < to; i++) {
        if (i > from) line_put(l, ", ");
        put_value(l, ns, vs ? vs[i] : NULL);
    }
}

static void print_scan(const IrModule *m, const Names *ns, const IrOp *op, int depth, FILE *out)
{
    TextLine l = {.len = 0};
    const IrAttrs *a = &op->attrs;
    int nc = a->n_carried, ns_in = a->n_seq_in;
    line_indent(&l, depth);
    put_operand_list(&l, ns, op->results, 0, op->nresults);
    line_put(&l, " = scan");
    /* Operands split by the attrs; a malformed count prints them all. */
    if (nc >= 0 && ns_in >= 0 && nc + ns_in == op->noperands) {
        line_put(&l, " init(");
        put_operand_list(&l, ns, op->operands, 0, nc);
        line_put(&l, ")");
        if (ns_in > 0) {
            line_put(&l, " over(");
            put_operand_list(&l, ns, op->operands, nc, nc + ns_in);
            line_put(&l, ")");
        }
    } else {
        line_put(&l, " operands(");
        put_operand_list(&l, ns, op->operands, 0, op->noperands);
        line_put(&l, ") carried=%d seq_in=%d", nc, ns_in);
    }
    if (ns_in == 0) /* with sequences the trip count is theirs */
        line_put(&l, " steps=%lld", (long long)a->steps);
    if (a->reverse) line_put(&l, " reverse");
    line_put(&l, " :");
    for (int r = 0; r < op->nresults; r++) {
        line_put(&l, r ? ", " : " ");
        put_value_type(&l, m, op->results ? op->results[r] : NULL);
    }
    line_put(&l, " {");
    line_end(&l, op->origin, out);

    const IrBlock *b = op->body;
    if (!b) {
        line_indent(&l, depth + 1);
        line_put(&l, "<no body>");
        line_end(&l, NULL, out);
    } else if (depth + 1 > MAX_DEPTH) {
        line_indent(&l, depth + 1);
        line_put(&l, "<scans nested too deeply>");
        line_end(&l, NULL, out);
    } else {
        line_indent(&l, depth);
        line_put(&l, "^body(");
        for (int i = 0; i < b->nargs; i++) {
            if (i) line_put(&l, ", ");
            const IrValue *v = b->args ? b->args[i] : NULL;
            put_value(&l, ns, v);
            line_put(&l, " : ");
            put_value_type(&l, m, v);
        }
        line_put(&l, "):");
        line_end(&l, NULL, out);
        print_block(m, ns, b, depth + 1, out);
        /* yield: next carried values ; this step's outputs */
        line_indent(&l, depth + 1);
        line_put(&l, "yield ");
        int ny = b->nyields, split = nc;
        if (split < 0 || split > ny) split = ny;
        put_operand_list(&l, ns, b->yields, 0, split);
        line_put(&l, split > 0 ? " ; " : "; ");
        put_operand_list(&l, ns, b->yields, split, ny);
        while (l.len > 0 && l.buf[l.len - 1] == ' ') l.len--; /* no trailing blank when there are no step outputs */
        line_end(&l, NULL, out);
    }
    line_indent(&l, depth);
    line_put(&l, "}");
    line_end(&l, NULL, out);
}

static void print_op(const IrModule *m, const Names *ns, const IrOp *op, int depth, FILE *out)
{
    if (op->kind == IR_SCAN) {
        print_scan(m, ns, op, depth, out);
        return;
    }
    TextLine l = {.len = 0};
    line_indent(&l, depth);
    if (op->nresults > 0) {
        put_operand_list(&l, ns, op->results, 0, op->nresults);
        line_put(&l, " = ");
    }
    line_put(&l, "%s", op_name(op->kind));
    if (op->noperands > 0) {
        line_put(&l, " ");
        put_operand_list(&l, ns, op->operands, 0, op->noperands);
    }
    switch (op->kind) {
    case IR_CONST:
        line_put(&l, " ");
        put_number(&l, op->attrs.f);
        break;
    case IR_SLICE: line_put(&l, " start=%lld len=%lld", (long long)op->attrs.start, (long long)op->attrs.len); break;
    case IR_INDEX: line_put(&l, " index=%lld", (long long)op->attrs.index); break;
    case IR_CLIP_SCALE:
    case IR_CLAMP: put_hp(&l, "bound", op->attrs.bound); break;
    case IR_SGD_UPDATE:
        put_hp(&l, "lr", op->attrs.lr);
        put_hp(&l, "momentum", op->attrs.momentum);
        put_hp(&l, "weight_decay", op->attrs.weight_decay);
        break;
    case IR_LAYERNORM:
    case IR_LAYERNORM_GRAD: put_hp(&l, "eps", op->attrs.eps); break;
    case IR_DROPOUT: put_hp(&l, "p", op->attrs.p); break;
    case IR_DROPOUT_MASK:
        put_hp(&l, "p", op->attrs.p);
        line_put(&l, " index=%lld", (long long)op->attrs.index);
        break;
    case IR_ADAM_UPDATE:
        put_hp(&l, "lr", op->attrs.lr);
        put_hp(&l, "beta1", op->attrs.beta1);
        put_hp(&l, "beta2", op->attrs.beta2);
        put_hp(&l, "eps", op->attrs.eps);
        put_hp(&l, "weight_decay", op->attrs.weight_decay);
        break;
    default: break;
    }
    if (op->nresults > 0) {
        line_put(&l, " :");
        for (int r = 0; r < op->nresults; r++) {
            line_put(&l, r ? ", " : " ");
            put_value_type(&l, m, op->results ? op->results[r] : NULL);
        }
    }
    line_end(&l, op->origin, out);
}

static void print_block(const IrModule *m, const Names *ns, const IrBlock *b, int depth, FILE *out)
{
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops ? b->ops[i] : NULL;
        if (!op) {
            TextLine l = {.len = 0};
            line_indent(&l, depth);
            line_put(&l, "<null op>");
            line_end(&l, NULL, out);
            continue;
        }
        print_op(m, ns, op, depth, out);
    }
}

/* ---- the module ----------------------------------------------------------- */

static void put_init(TextLine *l, IrInit init)
{
    switch (init.kind) {
    case IR_INIT_ZERO: line_put(l, "zero"); break;
    case IR_INIT_ONE: line_put(l, "one"); break;
    case IR_INIT_UNIFORM:
        line_put(l, "uniform(");
        put_number(l, init.a);
        line_put(l, ")");
        break;
    case IR_INIT_NORMAL:
        line_put(l, "normal(");
        put_number(l, init.a);
        line_put(l, ")");
        break;
    case IR_INIT_XAVIER: line_put(l, "xavier"); break;
    case IR_INIT_ORTHOGONAL:
        line_put(l, "orthogonal(");
        put_number(l, init.a);
        line_put(l, ")");
        break;
    case IR_INIT_CONST:
        line_put(l, "const(");
        put_number(l, init.a);
        line_put(l, ")");
        break;
    default: line_put(l, "<bad init>"); break;
    }
}

static void print_arg(const IrModule *m, const Names *ns, const char *what, const IrValue *v, const IrInit *init,
                      FILE *out)
{
    TextLine l = {.len = 0};
    line_indent(&l, 0);
    line_put(&l, "%-6s ", what);
    put_value(&l, ns, v);
    line_put(&l, " : ");
    put_value_type(&l, m, v);
    if (init) {
        line_put(&l, " init ");
        put_init(&l, *init);
    }
    line_end(&l, NULL, out);
}

void ir_print(const IrModule *m, FILE *out)
{
    if (!m) {
        fprintf(out, "<null module>\n");
        return;
    }
    Names ns = {0};
    name_module(&ns, m);
    TextLine l = {.len = 0};

    line_put(&l, "module %s {", m->name ? m->name : "<unnamed>");
    line_end(&l, NULL, out);
    for (int i = 0; i < m->nsyms && m->syms; i++) {
        line_indent(&l, 0);
        line_put(&l, "sym %s", m->syms[i].name ? m->syms[i].name : "<unnamed>");
        if (m->syms[i].max > 0) line_put(&l, " <= %lld", (long long)m->syms[i].max);
        line_end(&l, NULL, out);
    }
    for (int i = 0; i < m->ninputs && m->inputs; i++) print_arg(m, &ns, "input", m->inputs[i].value, NULL, out);
    for (int i = 0; i < m->ntargets && m->targets; i++) print_arg(m, &ns, "target", m->targets[i].value, NULL, out);
    for (int i = 0; i < m->nparams && m->params; i++)
        print_arg(m, &ns, "param", m->params[i].value, &m->params[i].init, out);

    if (m->body) print_block(m, &ns, m->body, 0, out);

    for (int i = 0; i < m->noutputs && m->outputs; i++) {
        line_indent(&l, 0);
        line_put(&l, "output %s = ", m->outputs[i].name ? m->outputs[i].name : "<unnamed>");
        put_value(&l, &ns, m->outputs[i].value);
        line_end(&l, NULL, out);
    }
    if (m->loss) {
        line_indent(&l, 0);
        line_put(&l, "loss = ");
        put_value(&l, &ns, m->loss);
        line_end(&l, NULL, out);
    }
    line_put(&l, "}");
    line_end(&l, NULL, out);
    names_free(&ns);
}
