/* sema_expr.c - expressions: names, numbers, + - * / @, and the functions
 * that create no parameters (activations, softmax, concat, split, slice,
 * last, mean, reverse, losses).  Layer calls are in sema_layers.c and
 * sema_cell.c; they are only allowed as the whole right-hand side of an
 * assignment, because their parameters are named after the value.
 *
 * Values are described by SVal; a correct operation also emits its IR op
 * into s->blk (the model body, or a scan body inside a cell). */
#include <string.h>

#include "frontend/sema_int.h"
#include "ir/op_eval.h"

static const char *const layer_names[] = {"rnn", "lstm", "gru", "dense", "embedding", "generate"};

int sema_is_layer_call(Sema *s, const Expr *e)
{
    if (!e || e->kind != EX_CALL) return 0;
    for (size_t i = 0; i < sizeof layer_names / sizeof *layer_names; i++)
        if (strcmp(e->name, layer_names[i]) == 0) return 1;
    return sema_find_cell(s, e->name) != NULL;
}

const Arg *sema_named_arg(const Expr *call, const char *name)
{
    for (int i = 0; i < call->nargs; i++)
        if (call->args[i].name && strcmp(call->args[i].name, name) == 0) return &call->args[i];
    return NULL;
}

IrValue *sema_mk(Sema *s, IrOpKind k, IrValue **ops, int n, IrType t)
{
    IrOp *op = ir_op(s->m, s->blk, k, ops, n, &t, 1);
    op->origin = s->origin;
    return op->results[0];
}

IrValue *sema_materialize(Sema *s, SVal num, const SVal *like)
{
    IrValue *v = ir_const(s->m, s->blk, num.num, sema_ir_type(like));
    if (v->def) v->def->origin = s->origin;
    return v;
}

IrValue *sema_batched(Sema *s, const SVal *v)
{
    if (v->k != SV_VEC || v->batched) return v->v;
    SVal b = *v;
    b.batched = 1;
    return sema_mk(s, IR_BROADCAST, (IrValue **)&v->v, 1, sema_ir_type(&b));
}

static const char *opname(int op)
{
    switch (op) {
    case '+': return "+";
    case '-': return "-";
    case '*': return "*";
    case '/': return "/";
    default: return "@";
    }
}

static const char *describe(Sema *s, const Expr *e, const char *fallback)
{
    if (e && e->kind == EX_IDENT) return sema_fmt(s, "'%s'", e->name);
    return fallback;
}

static SVal matmul(Sema *s, SVal a, SVal b, SrcLoc loc, const Expr *le, const Expr *re)
{
    if (a.k != SV_VEC || a.batched || a.nd != 2) {
        if (a.k == SV_NUM || a.k == SV_VEC || a.k == SV_SEQ)
            sema_shape_err(s, loc, "the left side of '@' must be a matrix parameter [M, N], found %s%s",
                           a.k == SV_VEC && a.batched ? "a per-example value " : "", sema_val_str(s, &a));
        else
            sema_shape_err(s, loc, "the left side of '@' must be a matrix parameter, found %s", sema_val_str(s, &a));
        return sema_err_val();
    }
    if (b.k != SV_VEC || b.nd != 1) {
        sema_shape_err(s, loc, "the right side of '@' must be a vector [N], found %s", sema_val_str(s, &b));
        return sema_err_val();
    }
    if (a.d[1] != b.d[0]) {
        sema_shape_err(s, loc, "matrix %s is %s but %s is %s", describe(s, le, "on the left"), sema_val_str(s, &a),
                       describe(s, re, "the vector"), sema_val_str(s, &b));
        return sema_err_val();
    }
    SVal r = sema_vec(1, &a.d[0], b.batched);
    IrValue *ops[2] = {b.v, a.v};
    r.v = sema_mk(s, IR_LINEAR, ops, 2, sema_ir_type(&r));
    return r;
}

static double fold(int op, double a, double b)
{
    switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    default: return a / b;
    }
}

static int arith_kind_ok(Sema *s, const SVal *v, int op, SrcLoc loc)
{
    if (v->k == SV_INT || v->k == SV_SEQ_INT) {
        sema_shape_err(s, loc, "'%s' on token ids (%s): embed them first", opname(op), sema_val_str(s, v));
        return 0;
    }
    if (v->k == SV_STATES) {
        sema_shape_err(s, loc,
                       "'%s' on %s: final(layer) of a built-in layer can only be an output or an init= value; "
                       "final(layer, layer=-1) is the last layer's [B, D*H], usable anywhere",
                       opname(op), sema_val_str(s, v));
        return 0;
    }
    return 1;
}

SVal sema_binop(Sema *s, int op, SVal a, SVal b, SrcLoc loc, const Expr *le, const Expr *re)
{
    if (a.k == SV_ERR || b.k == SV_ERR) return sema_err_val();
    if (op == '@') return matmul(s, a, b, loc, le, re);
    if (!arith_kind_ok(s, &a, op, loc) || !arith_kind_ok(s, &b, op, loc)) return sema_err_val();
    if (a.k == SV_NUM && b.k == SV_NUM) {
        if (op == '/' && b.num == 0) {
            sema_shape_err(s, loc, "division by zero");
            return sema_err_val();
        }
        a.num = fold(op, a.num, b.num);
        return a;
    }
    SVal r;
    if (a.k == SV_NUM || b.k == SV_NUM) {
        r = a.k == SV_NUM ? b : a;
        if (a.k == SV_NUM)
            a.v = sema_materialize(s, a, &b);
        else
            b.v = sema_materialize(s, b, &a);
    } else {
        if (a.k != b.k) {
            sema_shape_err(s, loc, "cannot combine %s and %s with '%s'", sema_val_str(s, &a), sema_val_str(s, &b),
                           opname(op));
            return sema_err_val();
        }
        if (!sema_dims_eq(&a, &b)) {
            sema_shape_err(s, loc, "shape mismatch in '%s': %s vs %s", opname(op), sema_dims_str(s, a.d, a.nd),
                           sema_dims_str(s, b.d, b.nd));
            return sema_err_val();
        }
        if (a.k == SV_SEQ && a.t != b.t) {
            sema_shape_err(s, loc, "sequence lengths differ in '%s': %s vs %s", opname(op), sema_len_str(s, a.t),
                           sema_len_str(s, b.t));
            return sema_err_val();
        }
        r = a;
        r.batched = a.batched || b.batched;
    }
    IrOpKind k = op == '+' ? IR_ADD : op == '-' ? IR_SUB : op == '*' ? IR_MUL : IR_DIV;
    IrValue *ops[2] = {a.v, b.v};
    r.v = sema_mk(s, k, ops, 2, sema_ir_type(&r));
    return r;
}

/* ---- names ------------------------------------------------------------------ */

static int is_function_name(const char *n)
{
    static const char *const fns[] = {"softmax", "layernorm", "concat", "split",         "slice", "last",
                                      "mean",    "reverse",   "final",  "cross_entropy", "mse",   "dropout"};
    if (ir_op_function(n) != IR_NUM_OPS) return 1; /* sigmoid, tanh, ...: ir/ops.def */
    for (size_t i = 0; i < sizeof fns / sizeof *fns; i++)
        if (strcmp(n, fns[i]) == 0) return 1;
    for (size_t i = 0; i < sizeof layer_names / sizeof *layer_names; i++)
        if (strcmp(n, layer_names[i]) == 0) return 1;
    return 0;
}

static SVal ident(Sema *s, const Expr *e)
{
    Name *n = sema_lookup(s, e->name);
    if (!n) {
        size_t len = strlen(e->name);
        if (len > 1 && e->name[len - 1] == '\'')
            sema_err(s, e->loc, "%s is used before it is assigned (or '%.*s' is not a state)", e->name, (int)(len - 1),
                     e->name);
        else if (is_function_name(e->name) || sema_find_cell(s, e->name))
            sema_err(s, e->loc, "'%s' is a function: call it as %s(...)", e->name, e->name);
        else
            sema_err(s, e->loc, "undefined name '%s'", e->name);
        return sema_err_val();
    }
    n->used = 1;
    if (n->pending) sema_materialize_target(s, n, 0, 0);
    return n->val;
}

/* ---- functions ----------------------------------------------------------------- */

/* Checks that the call has between min and max positional arguments and no
 * named ones; reports the first problem. */
static int positional(Sema *s, const Expr *e, int min, int max)
{
    int n = 0;
    for (int i = 0; i < e->nargs; i++) {
        if (e->args[i].name) {
            sema_err(s, e->args[i].loc, "unknown argument '%s' for '%s'", e->args[i].name, e->name);
            return 0;
        }
        n++;
    }
    if (n < min || n > max) {
        if (min == max)
            sema_err(s, e->loc, "'%s' takes %d argument%s, found %d", e->name, min, min == 1 ? "" : "s", n);
        else if (max > 100)
            sema_err(s, e->loc, "'%s' takes at least %d arguments, found %d", e->name, min, n);
        else
            sema_err(s, e->loc, "'%s' takes %d to %d arguments, found %d", e->name, min, max, n);
        return 0;
    }
    return 1;
}

static int want_float(Sema *s, const SVal *v, SrcLoc loc, const char *fn)
{
    if (v->k == SV_ERR) return 0;
    if (v->k == SV_VEC || v->k == SV_SEQ) return 1;
    if (v->k == SV_STATES) /* the PyTorch user's h_n[-1]: say how to write it */
        sema_shape_err(s, loc,
                       "'%s' needs a vector or a sequence of vectors, found %s; final(layer, layer=-1) is "
                       "the last layer's [B, D*H], both directions joined",
                       fn, sema_val_str(s, v));
    else
        sema_shape_err(s, loc, "'%s' needs a vector or a sequence of vectors, found %s", fn, sema_val_str(s, v));
    return 0;
}

static SVal unary(Sema *s, const Expr *e, IrOpKind k)
{
    if (!positional(s, e, 1, 1)) return sema_err_val();
    SVal a = sema_expr(s, e->args[0].value);
    int rowwise = k == IR_SOFTMAX || k == IR_LAYERNORM; /* over a vector's elements */
    if (a.k == SV_NUM && !rowwise) {
        if (k == IR_LOG && a.num <= 0) {
            sema_shape_err(s, e->loc, "log of %g", a.num);
            return sema_err_val();
        }
        a.num = ir_op_eval(k, a.num, 0); /* the interpreter's value */
        return a;
    }
    if (a.k == SV_SCALAR && !rowwise) {
        a.v = sema_mk(s, k, &a.v, 1, sema_ir_type(&a));
        return a;
    }
    if (!want_float(s, &a, e->args[0].value->loc, e->name)) return sema_err_val();
    a.v = sema_mk(s, k, &a.v, 1, sema_ir_type(&a));
    if (k == IR_LAYERNORM && a.v && a.v->def) a.v->def->attrs.eps = 1e-5; /* F.layer_norm's default */
    return a;
}

/* ---- dropout ------------------------------------------------------------------- */

int sema_dropout_p(Sema *s, const Expr *e, double *p)
{
    SVal v = sema_expr(s, e);
    if (v.k == SV_ERR) return 0;
    if (v.k != SV_NUM) { /* the mask's probability is fixed in the module */
        sema_err(s, e->loc, "the dropout probability must be a number, found %s", sema_val_str(s, &v));
        return 0;
    }
    if (!(v.num >= 0 && v.num < 1)) {
        sema_err(s, e->loc, "the dropout probability must be in [0, 1), found %g", v.num);
        return 0;
    }
    *p = v.num;
    return 1;
}

IrValue *sema_dropout(Sema *s, IrValue *x, double p)
{
    if (p == 0) return x; /* PyTorch's p = 0: the identity, in training too */
    IrValue *y = sema_mk(s, IR_DROPOUT, &x, 1, x->type);
    y->def->attrs.p = p;
    return y;
}

/* dropout(x, p) or dropout(x, p=P): an op the recipes rewrite (passes/dropout.h). */
static SVal dropout(Sema *s, const Expr *e)
{
    const Expr *xe = NULL, *pe = NULL;
    int bad = 0;
    for (int i = 0; i < e->nargs && !bad; i++) {
        const Arg *a = &e->args[i];
        if (a->name && strcmp(a->name, "p") != 0) {
            sema_err(s, a->loc, "unknown argument '%s' for 'dropout'", a->name);
            bad = 1;
        } else if (!a->name && !xe) {
            xe = a->value;
        } else if (!pe) {
            pe = a->value;
        } else {
            bad = 1;
        }
    }
    if (bad || !xe || !pe) {
        if (!bad || e->nargs > 2) sema_err(s, e->loc, "'dropout' takes a value and a probability: dropout(x, p)");
        return sema_err_val();
    }
    SVal x = sema_expr(s, xe);
    double p = 0;
    int ok = sema_dropout_p(s, pe, &p);
    if (!want_float(s, &x, xe->loc, "dropout") || !ok) return sema_err_val();
    x.v = sema_dropout(s, x.v, p);
    return x;
}

static SVal concat(Sema *s, const Expr *e)
{
    if (!positional(s, e, 2, 1 << 20)) return sema_err_val();
    SVal parts[64];
    IrValue *ops[64];
    if (e->nargs > 64) {
        sema_err(s, e->loc, "too many arguments to concat");
        return sema_err_val();
    }
    int bad = 0, batched = 0;
    for (int i = 0; i < e->nargs; i++) {
        parts[i] = sema_expr(s, e->args[i].value);
        if (parts[i].k == SV_ERR || !want_float(s, &parts[i], e->args[i].value->loc, "concat"))
            bad = 1;
        else if (parts[i].batched)
            batched = 1;
    }
    if (bad) return sema_err_val();
    SVal r = parts[0];
    r.batched = parts[0].k == SV_VEC ? batched : 0;
    int64_t last = 0;
    for (int i = 0; i < e->nargs; i++) {
        const SVal *p = &parts[i];
        int same = p->k == r.k && p->nd == r.nd && (p->k != SV_SEQ || p->t == r.t);
        for (int j = 0; same && j + 1 < p->nd; j++) same = p->d[j] == r.d[j];
        if (!same) {
            sema_shape_err(s, e->args[i].value->loc, "concat: %s does not fit %s (only the last dimension may differ)",
                           sema_val_str(s, p), sema_val_str(s, &parts[0]));
            return sema_err_val();
        }
        last += p->d[p->nd - 1];
        ops[i] = batched ? sema_batched(s, p) : p->v;
    }
    r.d[r.nd - 1] = last;
    r.v = sema_mk(s, IR_CONCAT, ops, e->nargs, sema_ir_type(&r));
    return r;
}

static SVal slice(Sema *s, const Expr *e)
{
    if (!positional(s, e, 3, 3)) return sema_err_val();
    SVal x = sema_expr(s, e->args[0].value);
    /* bounds are dimension expressions: numbers, or a cell's sizes (H, 2*H) */
    int64_t start = sema_eval_dim(s, e->args[1].value, s->sizes);
    int64_t len = sema_eval_dim(s, e->args[2].value, s->sizes);
    if (start < 0 || len < 0) return sema_err_val();
    if (len == 0) {
        sema_shape_err(s, e->args[2].value->loc, "slice of length 0");
        return sema_err_val();
    }
    if (!want_float(s, &x, e->args[0].value->loc, "slice")) return sema_err_val();
    int64_t n = x.d[x.nd - 1];
    if (start + len > n) {
        sema_shape_err(s, e->loc, "slice [%lld, %lld) is out of range of %s", (long long)start,
                       (long long)(start + len), sema_val_str(s, &x));
        return sema_err_val();
    }
    SVal r = x;
    r.d[r.nd - 1] = len;
    r.v = sema_mk(s, IR_SLICE, &x.v, 1, sema_ir_type(&r));
    r.v->def->attrs.start = start;
    r.v->def->attrs.len = len;
    return r;
}

int sema_split_assign(Sema *s, const Stmt *st, SVal *outs)
{
    const Expr *e = st->value;
    for (int i = 0; i < st->nnames; i++) outs[i] = sema_err_val();
    if (!e || e->kind != EX_CALL || strcmp(e->name, "split") != 0) {
        sema_err(s, st->loc, "%d names on the left need split(x, %d) on the right", st->nnames, st->nnames);
        return 0;
    }
    if (!positional(s, e, 2, 2)) return 0;
    SVal x = sema_expr(s, e->args[0].value);
    int64_t parts;
    if (!sema_is_int_num(e->args[1].value, &parts) || parts < 1) {
        sema_err(s, e->args[1].value->loc, "split(x, n) needs a whole number n");
        return 0;
    }
    if (parts != st->nnames) {
        sema_err(s, e->args[1].value->loc, "split into %lld parts but %d names on the left", (long long)parts,
                 st->nnames);
        return 0;
    }
    if (!want_float(s, &x, e->args[0].value->loc, "split")) return 0;
    int64_t n = x.d[x.nd - 1];
    if (n % parts != 0) {
        sema_shape_err(s, e->loc, "cannot split %s into %lld equal parts", sema_val_str(s, &x), (long long)parts);
        return 0;
    }
    for (int i = 0; i < parts; i++) {
        SVal r = x;
        r.d[r.nd - 1] = n / parts;
        r.v = sema_mk(s, IR_SLICE, &x.v, 1, sema_ir_type(&r));
        r.v->def->attrs.start = i * (n / parts);
        r.v->def->attrs.len = n / parts;
        outs[i] = r;
    }
    return 1;
}

static SVal seq_fn(Sema *s, const Expr *e, IrOpKind k)
{
    if (!positional(s, e, 1, 1)) return sema_err_val();
    SVal x = sema_expr(s, e->args[0].value);
    if (x.k == SV_ERR) return x;
    if (x.k != SV_SEQ && !(k == IR_SEQ_REVERSE && x.k == SV_SEQ_INT)) {
        sema_shape_err(s, e->args[0].value->loc, "'%s' needs a sequence, found %s", e->name, sema_val_str(s, &x));
        return sema_err_val();
    }
    IrValue *mask = sema_mask_of(s, x.t);
    if (mask && k == IR_SEQ_LAST) return sema_masked_last(s, x, mask);
    if (mask && k == IR_SEQ_MEAN) return sema_masked_mean(s, x, mask);
    if (mask) { /* each example within its length */
        IrValue *ops[2] = {x.v, mask};
        SVal r = x;
        r.v = sema_mk(s, IR_SEQ_REVERSE, ops, 2, sema_ir_type(&r));
        return r;
    }
    SVal r = x;
    if (k != IR_SEQ_REVERSE) {
        r.k = SV_VEC;
        r.batched = 1;
    }
    r.v = sema_mk(s, k, &x.v, 1, sema_ir_type(&r));
    return r;
}

/* Evaluates the two operands of a loss; a pending target takes the length
 * of the other operand. */
static int loss_operands(Sema *s, const Expr *e, SVal *y, SVal *t)
{
    if (!positional(s, e, 2, 2)) return 0;
    const Expr *ex[2] = {e->args[0].value, e->args[1].value};
    SVal v[2];
    int first = 0;
    Name *n0 = ex[0]->kind == EX_IDENT ? sema_lookup(s, ex[0]->name) : NULL;
    if (n0 && n0->pending) first = 1;
    v[first] = sema_expr(s, ex[first]);
    int other = 1 - first;
    Name *n = ex[other]->kind == EX_IDENT ? sema_lookup(s, ex[other]->name) : NULL;
    if (n && n->pending) {
        int seq = n->type->kind == TY_SEQ_VEC || n->type->kind == TY_SEQ_INT;
        int have = seq && (v[first].k == SV_SEQ || v[first].k == SV_SEQ_INT);
        sema_materialize_target(s, n, have, v[first].t);
    }
    v[other] = sema_expr(s, ex[other]);
    *y = v[0];
    *t = v[1];
    return y->k != SV_ERR && t->k != SV_ERR;
}

static SVal loss(Sema *s, const Expr *e, int ce)
{
    SVal y, t;
    if (!loss_operands(s, e, &y, &t)) return sema_err_val();
    SrcLoc yl = e->args[0].value->loc, tl = e->args[1].value->loc;
    if (ce) {
        if (!((y.k == SV_VEC && y.batched) || y.k == SV_SEQ) || y.nd != 1) {
            sema_shape_err(s, yl, "cross_entropy needs logits [C] or seq<[C]>, found %s", sema_val_str(s, &y));
            return sema_err_val();
        }
        SvKind want = y.k == SV_SEQ ? SV_SEQ_INT : SV_INT;
        if (t.k != want) {
            sema_shape_err(s, tl, "cross_entropy of %s logits needs %s ids, found %s", sema_val_str(s, &y),
                           want == SV_INT ? "int" : "seq<int>", sema_val_str(s, &t));
            return sema_err_val();
        }
    } else {
        if (!want_float(s, &y, yl, "mse")) return sema_err_val();
        if (t.k != y.k || !sema_dims_eq(&y, &t)) {
            sema_shape_err(s, tl, "mse compares %s with %s: they must have the same type", sema_val_str(s, &y),
                           sema_val_str(s, &t));
            return sema_err_val();
        }
        if (y.k == SV_VEC && (!y.batched || !t.batched)) {
            sema_shape_err(s, e->loc, "mse needs per-example values, not parameters");
            return sema_err_val();
        }
    }
    if ((y.k == SV_SEQ) && y.t != t.t) {
        sema_shape_err(s, tl, "sequence lengths differ in %s: %s vs %s", e->name, sema_len_str(s, y.t),
                       sema_len_str(s, t.t));
        return sema_err_val();
    }
    SVal r = sema_err_val();
    r.k = SV_SCALAR;
    IrValue *mask = y.k == SV_SEQ ? sema_mask_of(s, y.t) : NULL;
    if (mask) {
        r.v = ce ? sema_masked_cross_entropy(s, y.v, t.v, mask) : sema_masked_mse(s, y.v, t.v, mask);
        return r;
    }
    IrValue *ops[2] = {y.v, t.v};
    r.v = sema_mk(s, ce ? IR_CROSS_ENTROPY : IR_MSE, ops, 2, sema_ir_type(&r));
    return r;
}

static SVal call(Sema *s, const Expr *e)
{
    IrOpKind fn = ir_op_function(e->name); /* sigmoid, tanh, ...: ir/ops.def */
    if (fn != IR_NUM_OPS) return unary(s, e, fn);
    if (strcmp(e->name, "softmax") == 0) return unary(s, e, IR_SOFTMAX);
    if (strcmp(e->name, "layernorm") == 0) return unary(s, e, IR_LAYERNORM);
    if (strcmp(e->name, "concat") == 0) return concat(s, e);
    if (strcmp(e->name, "slice") == 0) return slice(s, e);
    if (strcmp(e->name, "split") == 0) {
        sema_err(s, e->loc, "split gives several values: assign them, as in a, b = split(x, 2)");
        return sema_err_val();
    }
    if (!s->in_cell) {
        if (strcmp(e->name, "last") == 0) return seq_fn(s, e, IR_SEQ_LAST);
        if (strcmp(e->name, "mean") == 0) return seq_fn(s, e, IR_SEQ_MEAN);
        if (strcmp(e->name, "reverse") == 0) return seq_fn(s, e, IR_SEQ_REVERSE);
        if (strcmp(e->name, "final") == 0) return sema_final(s, e);
        if (strcmp(e->name, "cross_entropy") == 0) return loss(s, e, 1);
        if (strcmp(e->name, "mse") == 0) return loss(s, e, 0);
        if (strcmp(e->name, "dropout") == 0) return dropout(s, e);
        if (sema_is_layer_call(s, e)) {
            sema_err(s, e->loc, "'%s' creates parameters named after its value: assign it to a name, as in y = %s(...)",
                     e->name, e->name);
            return sema_err_val();
        }
    } else if (is_function_name(e->name) || sema_find_cell(s, e->name)) {
        sema_err(s, e->loc, "'%s' cannot be used inside a cell", e->name);
        return sema_err_val();
    }
    sema_err(s, e->loc, "unknown function '%s'", e->name);
    return sema_err_val();
}

SVal sema_expr(Sema *s, const Expr *e)
{
    if (!e) return sema_err_val();
    SVal v;
    switch (e->kind) {
    case EX_NUM:
        v = sema_err_val();
        v.k = SV_NUM;
        v.num = e->num;
        return v;
    case EX_STR: sema_err(s, e->loc, "a string is not a value here"); return sema_err_val();
    case EX_IDENT: return ident(s, e);
    case EX_NEG:
        v = sema_expr(s, e->lhs);
        if (v.k == SV_ERR) return v;
        if (v.k == SV_NUM) {
            v.num = -v.num;
            return v;
        }
        if (!arith_kind_ok(s, &v, '-', e->loc)) return sema_err_val();
        v.v = sema_mk(s, IR_NEG, &v.v, 1, sema_ir_type(&v));
        return v;
    case EX_BINOP: {
        SVal a = sema_expr(s, e->lhs);
        SVal b = sema_expr(s, e->rhs);
        return sema_binop(s, e->op, a, b, e->loc, e->lhs, e->rhs);
    }
    case EX_CALL: return call(s, e);
    }
    return sema_err_val();
}

SVal sema_rhs(Sema *s, const Expr *e, const char *name, SrcLoc name_loc, Layer **layer_out)
{
    *layer_out = NULL;
    if (!s->in_cell && sema_is_layer_call(s, e)) return sema_layer_call(s, e, name, name_loc, layer_out);
    return sema_expr(s, e);
}
