/* sema_layers.c - the built-in layers: rnn, lstm, gru (stacked,
 * bidirectional, with an initial state), dense, embedding, generate, and
 * final().
 *
 * Recurrent layers are built as scans whose bodies are the PyTorch
 * equations, with parameters added in PyTorch's state_dict order and
 * names, so that weights can be exchanged with torch.nn.RNN/LSTM/GRU:
 *   weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, then the
 *   *_l0_reverse ones if bidirectional, then layer 1, ...
 * Layer l > 0 reads the concatenated output of both directions of layer
 * l-1; each layer and direction is its own scan (the backward one with
 * reverse = 1). */
#include <math.h>
#include <string.h>

#include "frontend/sema_int.h"

enum { RK_RNN, RK_LSTM, RK_GRU };

static const char *rk_name(int k) { return k == RK_RNN ? "rnn" : k == RK_LSTM ? "lstm" : "gru"; }
static int rk_gates(int k) { return k == RK_RNN ? 1 : k == RK_LSTM ? 4 : 3; }
static int rk_states(int k) { return k == RK_LSTM ? 2 : 1; }

static IrType ty_bn(int64_t n)
{ /* f32[B, n] */
    int64_t d[2] = {IR_DIM_B, n};
    return ir_type(IR_F32, 2, d);
}

static IrValue *op2(Sema *s, IrOpKind k, IrValue *a, IrValue *b, IrType t)
{
    IrValue *ops[2] = {a, b};
    return sema_mk(s, k, ops, 2, t);
}

static IrValue *sl(Sema *s, IrValue *x, int64_t start, int64_t len, IrType t)
{
    IrValue *v = sema_mk(s, IR_SLICE, &x, 1, t);
    v->def->attrs.start = start;
    v->def->attrs.len = len;
    return v;
}

/* ---- arguments ------------------------------------------------------------------- */

int sema_pos_int_arg(Sema *s, const Arg *a, int64_t *out)
{
    if (!sema_is_int_num(a->value, out) || *out <= 0) {
        sema_err(s, a->value->loc, "'%s' must be a positive whole number", a->name ? a->name : "size");
        return 0;
    }
    if (*out >= SEMA_SIZE_LIMIT) {
        sema_err(s, a->value->loc, "'%s' is too large: %.17g (a size is at most 2^40 - 1)", a->name ? a->name : "size",
                 a->value->num);
        return 0;
    }
    return 1;
}

/* Checks the named arguments against `allowed` (NULL-terminated) and that
 * none is given twice. */
static int check_named(Sema *s, const Expr *e, const char *const *allowed)
{
    int ok = 1;
    for (int i = 0; i < e->nargs; i++) {
        const Arg *a = &e->args[i];
        if (!a->name) continue;
        int found = 0;
        for (int j = 0; allowed[j]; j++) found |= strcmp(a->name, allowed[j]) == 0;
        if (!found) {
            sema_err(s, a->loc, "unknown argument '%s' for '%s'", a->name, e->name);
            ok = 0;
            continue;
        }
        for (int j = 0; j < i; j++)
            if (e->args[j].name && strcmp(e->args[j].name, a->name) == 0) {
                sema_err(s, a->loc, "argument '%s' is given twice", a->name);
                ok = 0;
            }
    }
    return ok;
}

/* A flag given as a bare word (`bidirectional`) or as name=true/false. */
static int flag_arg(Sema *s, const Expr *e, const char *name, int *out)
{
    *out = 0;
    for (int i = 0; i < e->nargs; i++) {
        const Arg *a = &e->args[i];
        if (!a->name && a->value->kind == EX_IDENT && strcmp(a->value->name, name) == 0) *out = 1;
        if (a->name && strcmp(a->name, name) == 0) {
            const Expr *v = a->value;
            if (v->kind == EX_IDENT && (strcmp(v->name, "true") == 0 || strcmp(v->name, "false") == 0))
                *out = v->name[0] == 't';
            else if (v->kind == EX_NUM && (v->num == 0 || v->num == 1))
                *out = v->num == 1;
            else {
                sema_err(s, v->loc, "'%s' must be true or false", name);
                return 0;
            }
        }
    }
    return 1;
}

/* The positional arguments that are not flag words. */
static int positional_values(const Expr *e, const char *const *flags, const Arg **out, int max)
{
    int n = 0;
    for (int i = 0; i < e->nargs; i++) {
        const Arg *a = &e->args[i];
        if (a->name) continue;
        int is_flag = 0;
        for (int j = 0; flags[j]; j++) is_flag |= a->value->kind == EX_IDENT && strcmp(a->value->name, flags[j]) == 0;
        if (is_flag) continue;
        if (n < max) out[n] = a;
        n++;
    }
    return n;
}

static int word_arg(Sema *s, const Expr *e, const char *name, const char *const *words, int def)
{
    const Arg *a = sema_named_arg(e, name);
    if (!a) return def;
    if (a->value->kind == EX_IDENT)
        for (int i = 0; words[i]; i++)
            if (strcmp(a->value->name, words[i]) == 0) return i;
    char list[128] = "";
    for (int i = 0; words[i]; i++) {
        strncat(list, i ? " or " : "", sizeof list - strlen(list) - 1);
        strncat(list, words[i], sizeof list - strlen(list) - 1);
    }
    sema_err(s, a->value->loc, "'%s' must be %s", name, list);
    return -1;
}

/* ---- init= --------------------------------------------------------------------------- */

static Layer *layer_named(Sema *s, const Expr *e, const char *what)
{
    Name *n = sema_lookup(s, e->name);
    if (!n) {
        sema_err(s, e->loc, "undefined name '%s'", e->name);
        return NULL;
    }
    n->used = 1;
    if (!n->layer) {
        if (n->val.k != SV_ERR)
            sema_err(s, e->loc, "%s needs a recurrent layer (rnn, lstm, gru, generate or a cell), but '%s' is %s", what,
                     e->name,
                     n->kind == N_INPUT    ? "an input"
                     : n->kind == N_TARGET ? "a target"
                                           : "not one");
        return NULL;
    }
    return n->layer;
}

InitSpec sema_parse_init(Sema *s, const Expr *call)
{
    InitSpec in;
    memset(&in, 0, sizeof in);
    in.k = INIT_ZERO;
    const Arg *a = sema_named_arg(call, "init");
    if (!a) return in;
    const Expr *v = a->value;
    in.loc = v->loc;
    if (v->kind == EX_IDENT && strcmp(v->name, "zero") == 0) return in;
    if (v->kind == EX_IDENT && strcmp(v->name, "learned") == 0) {
        in.k = INIT_LEARNED;
        return in;
    }
    Name *n = v->kind == EX_IDENT ? sema_lookup(s, v->name) : NULL;
    if (n && n->layer) {
        n->used = 1;
        in.k = INIT_LAYER;
        in.from = n->layer;
        return in;
    }
    if (v->kind == EX_CALL && strcmp(v->name, "final") == 0 && v->nargs == 1 && !v->args[0].name &&
        v->args[0].value->kind == EX_IDENT) {
        in.k = INIT_LAYER;
        in.from = layer_named(s, v->args[0].value, "final()");
        in.bad = in.from == NULL;
        return in;
    }
    in.k = INIT_VALUE;
    in.val = sema_expr(s, v);
    in.bad = in.val.k == SV_ERR;
    return in;
}

const char *sema_layer_desc(Sema *s, const Layer *l)
{
    if (l->cell) return sema_fmt(s, "'%s' is a '%s' cell", l->name, l->kind);
    return sema_fmt(s, "'%s' is %s (%d layer%s, %d direction%s, hidden %lld)", l->name, l->kind, l->L,
                    l->L == 1 ? "" : "s", l->D, l->D == 1 ? "" : "s", (long long)l->H);
}

/* Initial states of a built-in: init[(l*D + dir)*ns + state]. */
static int builtin_init(Sema *s, const InitSpec *in, int kind, const char *name, int L, int D, int64_t H,
                        IrValue **init)
{
    int ns = rk_states(kind), n = L * D;
    if (in->bad) return 0;
    if (in->k == INIT_LAYER) {
        const Layer *f = in->from;
        if (f->cell || strcmp(f->kind, rk_name(kind)) != 0 || f->L != L || f->D != D || f->H != H) {
            sema_shape_err(s, in->loc, "init=%s: %s, but '%s' is %s (%d layer%s, %d direction%s, hidden %lld)", f->name,
                           sema_layer_desc(s, f), name, rk_name(kind), L, L == 1 ? "" : "s", D, D == 1 ? "" : "s",
                           (long long)H);
            return 0;
        }
        for (int i = 0; i < n * ns; i++) init[i] = f->final[i];
        return 1;
    }
    if (in->k == INIT_LEARNED) {
        int64_t pd[2] = {n, H};
        IrInit z = {IR_INIT_ZERO, 0};
        for (int st = 0; st < ns; st++) {
            IrValue *p = ir_add_param(s->m, ir_strdup(s->m, sema_fmt(s, "%s.%s", name, st ? "c0" : "h0")),
                                      ir_type(IR_F32, 2, pd), z);
            for (int i = 0; i < n; i++) {
                IrValue *row = sema_mk(s, IR_INDEX, &p, 1, ir_type(IR_F32, 1, &H));
                row->def->attrs.index = i;
                init[i * ns + st] = sema_mk(s, IR_BROADCAST, &row, 1, ty_bn(H));
            }
        }
        return 1;
    }
    IrValue *zero = ir_const(s->m, s->blk, 0.0, ty_bn(H));
    if (zero->def) zero->def->origin = s->origin;
    for (int i = 0; i < n * ns; i++) init[i] = zero;
    if (in->k == INIT_VALUE) {
        const SVal *v = &in->val;
        if (L != 1 || D != 1) {
            sema_shape_err(s, in->loc,
                           "init= with a value needs one layer and one direction; use init=learned or "
                           "another layer's name");
            return 0;
        }
        if (v->k != SV_VEC || v->nd != 1 || v->d[0] != H) {
            sema_shape_err(s, in->loc, "init= value is %s but the hidden state is [%lld]", sema_val_str(s, v),
                           (long long)H);
            return 0;
        }
        init[0] = sema_batched(s, v);
    }
    return 1;
}

/* ---- the step of a built-in cell -------------------------------------------------------- */

typedef struct Weights {
    IrValue *w_ih, *w_hh, *b_ih, *b_hh;
} Weights;

static void add_weights(Sema *s, const char *name, int kind, int l, int dir, int64_t I, int64_t H, Weights *w)
{
    int64_t G = rk_gates(kind) * H;
    const char *sfx = sema_fmt(s, "l%d%s", l, dir ? "_reverse" : "");
    IrInit u = {IR_INIT_UNIFORM, 1.0 / sqrt((double)H)};
    int64_t dih[2] = {G, I}, dhh[2] = {G, H};
    IrModule *m = s->m;
    w->w_ih = ir_add_param(m, ir_strdup(m, sema_fmt(s, "%s.weight_ih_%s", name, sfx)), ir_type(IR_F32, 2, dih), u);
    w->w_hh = ir_add_param(m, ir_strdup(m, sema_fmt(s, "%s.weight_hh_%s", name, sfx)), ir_type(IR_F32, 2, dhh), u);
    w->b_ih = ir_add_param(m, ir_strdup(m, sema_fmt(s, "%s.bias_ih_%s", name, sfx)), ir_type(IR_F32, 1, &G), u);
    w->b_hh = ir_add_param(m, ir_strdup(m, sema_fmt(s, "%s.bias_hh_%s", name, sfx)), ir_type(IR_F32, 1, &G), u);
}

/* One step in s->blk: x [B, I], st = {h} or {h, c}; writes the next states. */
static void builtin_step(Sema *s, int kind, int relu, const Weights *w, int64_t H, IrValue *x, IrValue **st,
                         IrValue **next)
{
    int64_t G = rk_gates(kind) * H;
    IrType tg = ty_bn(G), th = ty_bn(H);
    IrValue *gi = op2(s, IR_ADD, op2(s, IR_LINEAR, x, w->w_ih, tg), w->b_ih, tg);
    IrValue *gh = op2(s, IR_ADD, op2(s, IR_LINEAR, st[0], w->w_hh, tg), w->b_hh, tg);
    if (kind == RK_RNN) {
        IrValue *pre = op2(s, IR_ADD, gi, gh, tg);
        next[0] = sema_mk(s, relu ? IR_RELU : IR_TANH, &pre, 1, th);
    } else if (kind == RK_LSTM) {
        IrValue *g = op2(s, IR_ADD, gi, gh, tg);
        IrValue *i = sl(s, g, 0, H, th), *f = sl(s, g, H, H, th), *gg = sl(s, g, 2 * H, H, th),
                *o = sl(s, g, 3 * H, H, th);
        i = sema_mk(s, IR_SIGMOID, &i, 1, th);
        f = sema_mk(s, IR_SIGMOID, &f, 1, th);
        gg = sema_mk(s, IR_TANH, &gg, 1, th);
        o = sema_mk(s, IR_SIGMOID, &o, 1, th);
        /* Temporaries, not nested calls: C leaves the order of argument
         * evaluation open, and the order of ops must not depend on the compiler. */
        IrValue *fc = op2(s, IR_MUL, f, st[1], th);
        IrValue *ig = op2(s, IR_MUL, i, gg, th);
        IrValue *c = op2(s, IR_ADD, fc, ig, th);
        IrValue *tc = sema_mk(s, IR_TANH, &c, 1, th);
        next[0] = op2(s, IR_MUL, o, tc, th);
        next[1] = c;
    } else {
        /* One op a statement, so that the order of ops is the order written. */
        IrValue *ir = sl(s, gi, 0, H, th), *hr = sl(s, gh, 0, H, th);
        IrValue *r = op2(s, IR_ADD, ir, hr, th);
        IrValue *iz = sl(s, gi, H, H, th), *hz = sl(s, gh, H, H, th);
        IrValue *z = op2(s, IR_ADD, iz, hz, th);
        r = sema_mk(s, IR_SIGMOID, &r, 1, th);
        z = sema_mk(s, IR_SIGMOID, &z, 1, th);
        IrValue *in = sl(s, gi, 2 * H, H, th), *hn = sl(s, gh, 2 * H, H, th);
        IrValue *rhn = op2(s, IR_MUL, r, hn, th);
        IrValue *n = op2(s, IR_ADD, in, rhn, th);
        n = sema_mk(s, IR_TANH, &n, 1, th);
        IrValue *one = ir_const(s->m, s->blk, 1.0, th);
        if (one->def) one->def->origin = s->origin;
        IrValue *omz = op2(s, IR_SUB, one, z, th);
        IrValue *keep_n = op2(s, IR_MUL, omz, n, th);
        IrValue *keep_h = op2(s, IR_MUL, z, st[0], th);
        next[0] = op2(s, IR_ADD, keep_n, keep_h, th);
    }
}

static Layer *new_layer(Sema *s, const char *name, int kind, int L, int D, int64_t H)
{
    Layer *ly = sema_alloc(s, sizeof *ly);
    ly->name = name;
    ly->kind = rk_name(kind);
    ly->L = L;
    ly->D = D;
    ly->H = H;
    ly->ns = rk_states(kind);
    ly->state_names = sema_alloc(s, 2 * sizeof(char *));
    ly->state_names[0] = "h";
    ly->state_names[1] = "c";
    ly->state_vals = sema_alloc(s, 2 * sizeof(SVal));
    ly->state_vals[0] = ly->state_vals[1] = sema_vec(1, &H, 1);
    ly->final = sema_alloc(s, sizeof(IrValue *) * (size_t)(L * D * ly->ns));
    return ly;
}

/* ---- rnn / lstm / gru -------------------------------------------------------------------- */

/* The weights of a built-in cell of hidden size H (given by `ah`) on
 * inputs of I: each below the limit of a tensor, or an error at hidden=. */
static int builtin_sizes_ok(Sema *s, const Arg *ah, const char *name, int kind, int64_t I, int64_t H, int L, int D)
{
    int64_t G = rk_gates(kind) * H, ih[2] = {G, I}, hh[2] = {G, H}, deep[2] = {G, D * H};
    const char *cause = sema_fmt(s, "hidden=%lld", (long long)H);
    return sema_check_numel(s, ah->value->loc, cause, sema_fmt(s, "parameter '%s.weight_ih_l0'", name), ih, 2) &&
           sema_check_numel(s, ah->value->loc, cause, sema_fmt(s, "parameter '%s.weight_hh_l0'", name), hh, 2) &&
           (L < 2 ||
            sema_check_numel(s, ah->value->loc, cause, sema_fmt(s, "parameter '%s.weight_ih_l1'", name), deep, 2));
}

static SVal recurrent(Sema *s, const Expr *e, int kind, const char *name, Layer **layer_out)
{
    static const char *const named_rnn[] = {"hidden", "act",  "layers",  "bidirectional",
                                            "merge",  "init", "dropout", NULL};
    static const char *const named[] = {"hidden", "layers", "bidirectional", "merge", "init", "dropout", NULL};
    static const char *const flags[] = {"bidirectional", NULL};
    static const char *const acts[] = {"tanh", "relu", NULL};
    static const char *const merges[] = {"concat", "sum", NULL};
    const Arg *pos[2];
    int ok = check_named(s, e, kind == RK_RNN ? named_rnn : named);
    int npos = positional_values(e, flags, pos, 2);
    if (npos != 1) {
        sema_err(s, e->loc, "'%s' takes one input sequence, found %d positional arguments", e->name, npos);
        return sema_err_val();
    }
    SVal x = sema_expr(s, pos[0]->value);
    int64_t H = 0, L = 1;
    const Arg *ah = sema_named_arg(e, "hidden"), *al = sema_named_arg(e, "layers");
    if (!ah) {
        sema_err(s, e->loc, "'%s' needs the hidden size: %s(x, hidden=N)", e->name, e->name);
        ok = 0;
    } else if (!sema_pos_int_arg(s, ah, &H))
        ok = 0;
    if (al && !sema_pos_int_arg(s, al, &L)) ok = 0;
    if (L > 64) {
        sema_err(s, al->value->loc, "at most 64 layers");
        ok = 0;
    }
    /* dropout=: on each layer's output but the last's, as PyTorch */
    const Arg *ad = sema_named_arg(e, "dropout");
    double drop = 0;
    if (ad && !sema_dropout_p(s, ad->value, &drop)) ok = 0;
    if (ok && drop > 0 && L == 1)
        sema_warn(s, ad->value->loc, "dropout=%g acts between stacked layers: with one layer it does nothing", drop);
    int bidi, relu = word_arg(s, e, "act", acts, 0), merge = word_arg(s, e, "merge", merges, 0);
    if (!flag_arg(s, e, "bidirectional", &bidi) || relu < 0 || merge < 0) ok = 0;
    InitSpec in = sema_parse_init(s, e);
    if (x.k == SV_ERR || !ok) return sema_err_val();
    if (x.k != SV_SEQ || x.nd != 1) {
        sema_shape_err(s, pos[0]->value->loc, "'%s' needs a sequence of vectors seq<[I]>, found %s", e->name,
                       sema_val_str(s, &x));
        return sema_err_val();
    }
    int D = bidi ? 2 : 1, ns = rk_states(kind), n = (int)L * D;
    if (!builtin_sizes_ok(s, ah, name, kind, x.d[0], H, (int)L, D)) return sema_err_val();
    Weights *w = sema_alloc(s, sizeof(Weights) * (size_t)n);
    for (int l = 0; l < L; l++)
        for (int dir = 0; dir < D; dir++)
            add_weights(s, name, kind, l, dir, l == 0 ? x.d[0] : D * H, H, &w[l * D + dir]);
    IrValue **init = sema_alloc(s, sizeof(IrValue *) * (size_t)(n * ns));
    if (!builtin_init(s, &in, kind, name, (int)L, D, H, init)) return sema_err_val();

    Layer *ly = new_layer(s, name, kind, (int)L, D, H);
    const char *origin = s->origin;
    IrValue *inp = x.v, *outs[2] = {NULL, NULL}, *mask = sema_mask_of(s, x.t);
    int64_t sd[3] = {x.t, IR_DIM_B, H};
    for (int l = 0; l < L; l++) {
        for (int dir = 0; dir < D; dir++) {
            int idx = l * D + dir;
            const char *org =
                ir_strdup(s->m, sema_fmt(s, "%s: %s l%d%s", name, rk_name(kind), l, dir ? " reverse" : ""));
            IrValue *seqs[2] = {inp, mask};
            IrOp *scan = ir_scan_begin(s->m, s->blk, &init[idx * ns], ns, seqs, mask ? 2 : 1, dir, 0);
            scan->origin = org;
            IrBlock *outer = s->blk;
            s->blk = scan->body;
            s->origin = org;
            IrValue *next[3];
            builtin_step(s, kind, relu, &w[idx], H, scan->body->args[ns], scan->body->args, next);
            next[ns] = next[0];
            if (mask) sema_mask_step(s, scan->body->args[ns + 1], scan->body->args, next, ns, &next[ns]);
            s->blk = outer;
            ir_scan_finish(s->m, scan, next, ns, 1);
            for (int st = 0; st < ns; st++) ly->final[idx * ns + st] = scan->results[st];
            outs[dir] = scan->results[ns];
        }
        s->origin = ir_strdup(s->m, sema_fmt(s, "%s: %s l%d", name, rk_name(kind), l));
        if (D == 2 && (l + 1 < L || merge == 0)) {
            int64_t cd[3] = {x.t, IR_DIM_B, 2 * H};
            inp = sema_mk(s, IR_CONCAT, outs, 2, ir_type(IR_F32, 3, cd));
        } else if (D == 2) {
            inp = op2(s, IR_ADD, outs[0], outs[1], ir_type(IR_F32, 3, sd));
        } else {
            inp = outs[0];
        }
        if (l + 1 < L) inp = sema_dropout(s, inp, drop);
    }
    s->origin = origin;
    SVal r = x;
    r.d[0] = (D == 2 && merge == 0) ? 2 * H : H;
    r.v = inp;
    *layer_out = ly;
    return r;
}

/* ---- dense, embedding ------------------------------------------------------------------------- */

static SVal dense(Sema *s, const Expr *e, const char *name)
{
    static const char *const named[] = {"bias", NULL};
    static const char *const none[] = {NULL};
    const Arg *pos[2];
    int ok = check_named(s, e, named), bias = 1;
    if (positional_values(e, none, pos, 2) != 2) {
        sema_err(s, e->loc, "'dense' takes an input and a size: dense(x, N)");
        return sema_err_val();
    }
    int64_t N = 0;
    const Arg *ab = sema_named_arg(e, "bias");
    if (ab) ok &= flag_arg(s, e, "bias", &bias);
    if (!sema_is_int_num(pos[1]->value, &N) || N <= 0) {
        sema_err(s, pos[1]->value->loc, "the size of 'dense' must be a positive whole number");
        ok = 0;
    } else if (N >= SEMA_SIZE_LIMIT) {
        sema_err(s, pos[1]->value->loc, "the size of 'dense' is too large: %.17g (a size is at most 2^40 - 1)",
                 pos[1]->value->num);
        ok = 0;
    }
    SVal x = sema_expr(s, pos[0]->value);
    if (x.k == SV_ERR || !ok) return sema_err_val();
    if ((x.k != SV_VEC && x.k != SV_SEQ) || x.nd < 1) {
        sema_shape_err(
            s, pos[0]->value->loc, "'dense' needs a vector or a sequence of vectors, found %s%s", sema_val_str(s, &x),
            x.k == SV_STATES ? "; final(layer, layer=-1) is the last layer's [B, D*H], both directions joined" : "");
        return sema_err_val();
    }
    int64_t F = x.d[x.nd - 1], wd[2] = {N, F};
    if (!sema_check_numel(s, pos[1]->value->loc, sema_fmt(s, "dense size %lld", (long long)N),
                          sema_fmt(s, "parameter '%s.weight'", name), wd, 2))
        return sema_err_val();
    IrInit u = {IR_INIT_UNIFORM, 1.0 / sqrt((double)F)};
    IrValue *W = ir_add_param(s->m, ir_strdup(s->m, sema_fmt(s, "%s.weight", name)), ir_type(IR_F32, 2, wd), u);
    IrValue *b =
        bias ? ir_add_param(s->m, ir_strdup(s->m, sema_fmt(s, "%s.bias", name)), ir_type(IR_F32, 1, &N), u) : NULL;
    const char *origin = s->origin;
    s->origin = ir_strdup(s->m, sema_fmt(s, "%s: dense", name));
    SVal r = x;
    r.d[r.nd - 1] = N;
    IrType t = sema_ir_type(&r);
    r.v = op2(s, IR_LINEAR, x.v, W, t);
    if (b) r.v = op2(s, IR_ADD, r.v, b, t);
    s->origin = origin;
    return r;
}

static SVal embedding(Sema *s, const Expr *e, const char *name)
{
    static const char *const named[] = {"vocab", "dim", NULL};
    static const char *const none[] = {NULL};
    const Arg *pos[1];
    int ok = check_named(s, e, named);
    if (positional_values(e, none, pos, 1) != 1) {
        sema_err(s, e->loc, "'embedding' takes the ids: embedding(ids, vocab=V, dim=D)");
        return sema_err_val();
    }
    int64_t V = 0, D = 0;
    const Arg *av = sema_named_arg(e, "vocab"), *ad = sema_named_arg(e, "dim");
    if (!av || !ad) {
        sema_err(s, e->loc, "'embedding' needs %s: embedding(ids, vocab=V, dim=D)",
                 !av && !ad ? "vocab= and dim="
                 : !av      ? "vocab="
                            : "dim=");
        ok = 0;
    }
    if (av && !sema_pos_int_arg(s, av, &V)) ok = 0;
    if (ad && !sema_pos_int_arg(s, ad, &D)) ok = 0;
    SVal ids = sema_expr(s, pos[0]->value);
    if (ids.k == SV_ERR || !ok) return sema_err_val();
    if (ids.k != SV_INT && ids.k != SV_SEQ_INT) {
        sema_shape_err(s, pos[0]->value->loc, "'embedding' needs int or seq<int> ids, found %s", sema_val_str(s, &ids));
        return sema_err_val();
    }
    int64_t wd[2] = {V, D};
    if (!sema_check_numel(s, av->value->loc, sema_fmt(s, "vocab=%lld, dim=%lld", (long long)V, (long long)D),
                          sema_fmt(s, "parameter '%s.weight'", name), wd, 2))
        return sema_err_val();
    IrInit nrm = {IR_INIT_NORMAL, 1.0};
    IrValue *W = ir_add_param(s->m, ir_strdup(s->m, sema_fmt(s, "%s.weight", name)), ir_type(IR_F32, 2, wd), nrm);
    SVal r = sema_vec(1, &D, 1);
    if (ids.k == SV_SEQ_INT) {
        r.k = SV_SEQ;
        r.batched = 0;
        r.t = ids.t;
    }
    const char *origin = s->origin;
    s->origin = ir_strdup(s->m, sema_fmt(s, "%s: embedding", name));
    r.v = op2(s, IR_EMBEDDING, W, ids.v, sema_ir_type(&r));
    s->origin = origin;
    return r;
}

/* ---- generate ------------------------------------------------------------------------------------ */

static SVal generate(Sema *s, const Expr *e, const char *name, Layer **layer_out)
{
    static const char *const named[] = {"steps", "hidden", "act", "layers", "init", "feedback", NULL};
    static const char *const flags[] = {"feedback", NULL};
    static const char *const acts[] = {"tanh", "relu", NULL};
    const Arg *pos[2];
    int npos = positional_values(e, flags, pos, 2);
    if (npos != 2 || pos[0]->value->kind != EX_IDENT) {
        sema_err(s, e->loc, "generate takes a cell and a first input: generate(lstm, x0, steps=N, hidden=H)");
        return sema_err_val();
    }
    const char *cname = pos[0]->value->name;
    const Decl *cell = sema_find_cell(s, cname);
    int kind = strcmp(cname, "rnn") == 0    ? RK_RNN
               : strcmp(cname, "lstm") == 0 ? RK_LSTM
               : strcmp(cname, "gru") == 0  ? RK_GRU
                                            : -1;
    if (kind < 0 && !cell) {
        sema_err(s, pos[0]->value->loc, "generate needs a cell: rnn, lstm, gru or a cell name, found '%s'", cname);
        return sema_err_val();
    }
    int ok = 1, feedback;
    if (!cell) ok = check_named(s, e, named);
    if (!flag_arg(s, e, "feedback", &feedback)) ok = 0;
    int64_t steps = 0, H = 0, L = 1;
    const Arg *as = sema_named_arg(e, "steps");
    if (!as) {
        sema_err(s, e->loc, "generate needs the number of steps: steps=N");
        ok = 0;
    } else if (!sema_pos_int_arg(s, as, &steps))
        ok = 0;
    int relu = 0;
    if (!cell) {
        const Arg *ah = sema_named_arg(e, "hidden"), *al = sema_named_arg(e, "layers");
        if (!ah) {
            sema_err(s, e->loc, "generate(%s, ...) needs the hidden size: hidden=N", cname);
            ok = 0;
        } else if (!sema_pos_int_arg(s, ah, &H))
            ok = 0;
        if (al && !sema_pos_int_arg(s, al, &L)) ok = 0;
        if (L > 64) {
            sema_err(s, al->value->loc, "at most 64 layers");
            ok = 0;
        }
        if ((relu = word_arg(s, e, "act", acts, 0)) < 0) ok = 0;
        const Arg *aa = sema_named_arg(e, "act");
        if (aa && kind != RK_RNN) {
            sema_err(s, aa->loc, "'act' is only for rnn, not %s", cname);
            ok = 0;
        }
    }
    SVal x0 = sema_expr(s, pos[1]->value);
    if (x0.k == SV_ERR || !ok) return sema_err_val();
    if (x0.k != SV_VEC || x0.nd != 1) {
        sema_shape_err(s, pos[1]->value->loc, "generate starts from a vector [F], found %s", sema_val_str(s, &x0));
        return sema_err_val();
    }
    x0.v = sema_batched(s, &x0);
    x0.batched = 1;
    int64_t F = x0.d[0];
    if (!cell && !builtin_sizes_ok(s, sema_named_arg(e, "hidden"), name, kind, F, H, (int)L, 1)) return sema_err_val();
    const char *origin = s->origin;
    s->origin = ir_strdup(s->m, sema_fmt(s, "%s: generate %s", name, cname));

    /* the cell: its parameters, initial states and state types */
    CellInst *ci = NULL;
    Weights *w = NULL;
    int ns, nst; /* states per layer, all states */
    IrValue **init;
    int64_t out_dim;
    if (cell) {
        ci = sema_cell_prepare(s, cell, e, name, &x0, &pos[1]->value->loc, 1, 1);
        if (!ci) {
            s->origin = origin;
            return sema_err_val();
        }
        const SVal *ret = sema_cell_ret(ci);
        if (ret->nd != 1) {
            sema_shape_err(s, e->loc, "generate needs a cell that returns a vector, '%s' returns %s", cname,
                           sema_val_str(s, ret));
            s->origin = origin;
            return sema_err_val();
        }
        out_dim = ret->d[0];
        ns = nst = sema_cell_nstates(ci);
    } else {
        w = sema_alloc(s, sizeof(Weights) * (size_t)L);
        for (int l = 0; l < L; l++) add_weights(s, name, kind, l, 0, l == 0 ? F : H, H, &w[l]);
        out_dim = H;
        ns = rk_states(kind);
        nst = (int)L * ns;
    }
    int64_t rd[3] = {steps, IR_DIM_B, feedback ? F : out_dim};
    if (!sema_check_numel(s, as->value->loc, sema_fmt(s, "steps=%lld", (long long)steps), "the output", rd, 3)) {
        s->origin = origin;
        return sema_err_val();
    }
    IrValue *hw = NULL, *hb = NULL;
    if (feedback) {
        int64_t wd[2] = {F, out_dim};
        IrInit u = {IR_INIT_UNIFORM, 1.0 / sqrt((double)out_dim)};
        hw = ir_add_param(s->m, ir_strdup(s->m, sema_fmt(s, "%s.head.weight", name)), ir_type(IR_F32, 2, wd), u);
        hb = ir_add_param(s->m, ir_strdup(s->m, sema_fmt(s, "%s.head.bias", name)), ir_type(IR_F32, 1, &F), u);
    }
    init = sema_alloc(s, sizeof(IrValue *) * (size_t)(nst + 1));
    if (cell) {
        if (!sema_cell_initial_states(s, ci, e, init)) {
            s->origin = origin;
            return sema_err_val();
        }
    } else {
        InitSpec in = sema_parse_init(s, e);
        if (!builtin_init(s, &in, kind, name, (int)L, 1, H, init)) {
            s->origin = origin;
            return sema_err_val();
        }
    }
    int nc = nst + (feedback ? 1 : 0);
    if (feedback) init[nst] = x0.v;

    IrOp *scan = ir_scan_begin(s->m, s->blk, init, nc, NULL, 0, 0, steps);
    scan->origin = s->origin;
    IrBlock *outer = s->blk;
    s->blk = scan->body;
    IrValue **y = sema_alloc(s, sizeof(IrValue *) * (size_t)(nc + 1));
    IrValue *inp = feedback ? scan->body->args[nst] : x0.v, *out = NULL;
    int good = 1;
    if (cell) {
        SVal in = x0;
        in.v = inp;
        SVal o;
        good = sema_cell_step(s, ci, &in, scan->body->args, y, &o);
        out = o.v;
    } else {
        for (int l = 0; l < L; l++) {
            builtin_step(s, kind, relu, &w[l], H, inp, &scan->body->args[l * ns], &y[l * ns]);
            inp = y[l * ns];
        }
        out = inp;
    }
    if (good && feedback) {
        IrType tf = ty_bn(F);
        out = op2(s, IR_ADD, op2(s, IR_LINEAR, out, hw, tf), hb, tf);
        y[nst] = out;
    }
    s->blk = outer;
    s->origin = origin;
    if (!good) return sema_err_val();
    y[nc] = out;
    ir_scan_finish(s->m, scan, y, nc, 1);

    Layer *ly;
    if (cell) {
        ly = sema_cell_layer(s, ci, scan->results);
    } else {
        ly = new_layer(s, name, kind, (int)L, 1, H);
        for (int i = 0; i < nst; i++) ly->final[i] = scan->results[i];
    }
    *layer_out = ly;
    int64_t od = feedback ? F : out_dim;
    SVal r = sema_vec(1, &od, 0);
    r.k = SV_SEQ;
    r.t = steps;
    r.v = scan->results[nc];
    return r;
}

SVal sema_layer_call(Sema *s, const Expr *e, const char *name, SrcLoc name_loc, Layer **layer_out)
{
    (void)name_loc;
    *layer_out = NULL;
    if (strcmp(e->name, "rnn") == 0) return recurrent(s, e, RK_RNN, name, layer_out);
    if (strcmp(e->name, "lstm") == 0) return recurrent(s, e, RK_LSTM, name, layer_out);
    if (strcmp(e->name, "gru") == 0) return recurrent(s, e, RK_GRU, name, layer_out);
    if (strcmp(e->name, "dense") == 0) return dense(s, e, name);
    if (strcmp(e->name, "embedding") == 0) return embedding(s, e, name);
    if (strcmp(e->name, "generate") == 0) return generate(s, e, name, layer_out);
    return sema_cell_call(s, sema_find_cell(s, e->name), e, name, layer_out);
}

/* ---- final(layer [, state] [, layer=N]) ----------------------------------------------------------- */

/* The number of `layer=N` in final(h, layer=N): N counts from 0 at the
 * bottom, a negative N from the top (-1 the last layer), as Python indexes
 * PyTorch's h_n.  -1 and an error (reported) give *out = -1 / 0. */
static int final_layer_arg(Sema *s, const Expr *e, int L, int *out)
{
    SVal n = sema_expr(s, e);
    if (n.k == SV_ERR) return 0;
    if (n.k != SV_NUM || n.num != (double)(int64_t)n.num) {
        sema_err(s, e->loc, "final: layer= needs a whole number, e.g. layer=-1 for the last layer");
        return 0;
    }
    int64_t k = (int64_t)n.num;
    if (k < -L || k >= L) {
        sema_err(s, e->loc, "final: layer %lld is out of range: the layer has %d layer%s (0 to %d, or -%d to -1)",
                 (long long)k, L, L == 1 ? "" : "s", L - 1, L);
        return 0;
    }
    *out = (int)(k < 0 ? k + L : k);
    return 1;
}

/* One layer's final state st as an ordinary value [B, D*H]: the directions
 * joined, forward first, as PyTorch's cat(h_n[-2], h_n[-1]) for the last. */
static SVal final_of_layer(Sema *s, const Layer *ly, int l, int st)
{
    int64_t dh = ly->D * ly->H;
    SVal r = sema_vec(1, &dh, 1);
    IrValue *dirs[2];
    for (int d = 0; d < ly->D; d++) dirs[d] = ly->final[(l * ly->D + d) * ly->ns + st];
    r.v = ly->D == 1 ? dirs[0] : sema_mk(s, IR_CONCAT, dirs, ly->D, sema_ir_type(&r));
    return r;
}

SVal sema_final(Sema *s, const Expr *e)
{
    int npos = 0;
    const Expr *layer_e = NULL;
    for (int i = 0; i < e->nargs; i++) {
        if (e->args[i].name && strcmp(e->args[i].name, "layer") == 0 && !layer_e) {
            layer_e = e->args[i].value;
            continue;
        }
        if (e->args[i].name) {
            sema_err(s, e->args[i].loc, "unknown argument '%s' for 'final' (it takes layer=)", e->args[i].name);
            return sema_err_val();
        }
        if (layer_e) {
            sema_err(s, e->args[i].loc, "final: the layer name and state name come before layer=");
            return sema_err_val();
        }
        npos++;
    }
    if (npos < 1 || npos > 2 || e->args[0].value->kind != EX_IDENT ||
        (npos == 2 && e->args[1].value->kind != EX_IDENT)) {
        sema_err(s, e->loc,
                 "final takes a layer name, optionally a state name and layer=N: final(h), final(h, c), "
                 "final(h, layer=-1)");
        return sema_err_val();
    }
    Layer *ly = layer_named(s, e->args[0].value, "final()");
    if (!ly) return sema_err_val();
    int st = 0;
    if (npos == 2) {
        const char *sn = e->args[1].value->name;
        st = -1;
        for (int i = 0; i < ly->ns; i++)
            if (strcmp(ly->state_names[i], sn) == 0) st = i;
        if (st < 0) {
            sema_err(s, e->args[1].value->loc, "'%s' has no state '%s'", ly->name, sn);
            return sema_err_val();
        }
    }
    if (ly->cell) {
        if (layer_e) {
            sema_err(s, layer_e->loc, "final: layer= is for the built-in rnn, lstm and gru; '%s' is a %s cell",
                     ly->name, ly->kind);
            return sema_err_val();
        }
        SVal r = ly->state_vals[st];
        r.v = ly->final[st];
        return r;
    }
    if (layer_e) {
        int l = 0;
        if (!final_layer_arg(s, layer_e, ly->L, &l)) return sema_err_val();
        return final_of_layer(s, ly, l, st);
    }
    int n = ly->L * ly->D;
    IrValue **vals = sema_alloc(s, sizeof(IrValue *) * (size_t)n);
    for (int i = 0; i < n; i++) vals[i] = ly->final[i * ly->ns + st];
    SVal r = sema_vec(1, &ly->H, 0);
    r.k = SV_STATES;
    r.t = n;
    r.v = sema_mk(s, IR_STACK, vals, n, sema_ir_type(&r));
    return r;
}
