/* randmodel.c - write a random valid rnnc model and data for it, for the
 * differential tests (tests/diff/run.sh).
 *
 *   randmodel SEED OUTDIR
 *
 * writes OUTDIR/model.rnn, one .npy file per input and target, OUTDIR/args
 * (the `-i NAME=OUTDIR/NAME.npy` bindings, one a line) and OUTDIR/outputs
 * (the names to ask for with -o, one a line: every `output`, then `loss`
 * when the model has one).  Everything is deterministic from SEED.
 *
 * The models are small (hidden 1..24, batch 1..4, 1..9 steps, input widths
 * 1..12) and cover the whole language: built-in rnn/lstm/gru layers
 * (activations, stacking, bidirectional with both merges, every init=),
 * user cells built from primitives with one or more states, and the
 * many-to-many, many-to-one, one-to-many, one-to-one and encoder-decoder
 * topologies with embeddings, dense layers, softmax, softplus, dropout=
 * of stacked layers, the two losses and final().  (Not layernorm: of a vector whose elements are
 * nearly equal it divides their rounding differences by sqrt(1e-5), which
 * no tolerance between engines could state.)  Cells are written with symbolic sizes (I, H, K, M) and every
 * dimension is a sum of sizes and positive constants, so a cell is valid
 * for every size it is used with.  Values are kept bounded (state updates
 * go through tanh/sigmoid/gates, exp only of a tanh, log only of a
 * positive value, division only by something >= 0.5) so two engines'
 * rounding differences stay small and comparable.
 *
 * About a third of the sequence inputs are declared with `lengths`
 * (docs/language.md, "Lengths"), drawn from a second generator so that
 * the models of the other draws stay as they were: their lengths
 * (NAME.len, 1..T) are in the data, and their padded steps, and those of
 * the targets of the same length, hold NaN or ids out of range, which
 * rnnc must never read. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/rng.h"
#include "io/tensor.h"

/* ---------------------------------------------------------------- basics */

static RtRng rng;
static RtRng lrng; /* lengths: a stream of their own (see the top) */

static int rnd(int n) { return (int)(rt_rng_u64(&rng) % (uint64_t)n); }
static int range(int lo, int hi) { return lo + rnd(hi - lo + 1); }
static int chance(int pct) { return rnd(100) < pct; }

/* Every string lives in one arena, freed at exit, so the recursive
 * expression builders can return text without ownership bookkeeping. */
static char arena[1 << 22];
static size_t arena_used;

static const char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(arena + arena_used, sizeof arena - arena_used, f, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof arena - arena_used) {
        fprintf(stderr, "randmodel: out of text space\n");
        exit(1);
    }
    const char *s = arena + arena_used;
    arena_used += (size_t)n + 1;
    return s;
}

/* Append-only text buffer: a cell's params, a cell's body, the model. */
typedef struct {
    char s[1 << 16];
    size_t n;
} Buf;

static void put(Buf *b, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(b->s + b->n, sizeof b->s - b->n, f, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof b->s - b->n) {
        fprintf(stderr, "randmodel: model text too long\n");
        exit(1);
    }
    b->n += (size_t)n;
}

/* A small positive number, written in the lexer's various forms. */
static const char *number(void)
{
    static const char *nums[] = {"0.5", "2", ".25", "1.5", "1e-1", "0.75", "3", "1"};
    return nums[rnd(8)];
}

/* A factor: at most 1.  A larger one inside a cell raises the gain of its
 * recurrence above 1 and turns rounding differences into large gradient
 * differences over a few steps. */
static const char *factor(void)
{
    static const char *nums[] = {"0.5", ".25", "0.75", "1", "1e-1", "0.9"};
    return nums[rnd(6)];
}

/* A divisor: at least 1, so a division never blows a value up (a model
 * whose values grow large makes float32 rounding look like a bug). */
static const char *divisor(void)
{
    static const char *nums[] = {"2", "1.5", "4", "1e0", "3"};
    return nums[rnd(5)];
}

/* ------------------------------------------------------ symbolic sizes */

/* A dimension inside a cell: h*H + i*I + k*K + m*M + c. */
typedef struct {
    int h, i, k, m, c;
} Dim;

static Dim dim(int h, int i, int k, int m, int c) { return (Dim){h, i, k, m, c}; }
static int dim_eq(Dim a, Dim b) { return a.h == b.h && a.i == b.i && a.k == b.k && a.m == b.m && a.c == b.c; }
static Dim dim_add(Dim a, Dim b) { return dim(a.h + b.h, a.i + b.i, a.k + b.k, a.m + b.m, a.c + b.c); }
static int dim_units(Dim a) { return a.h + a.i + a.k + a.m + a.c; }

/* In a type, 2H may be written so; in an expression (slice bounds) only 2*H. */
static const char *dim_text(Dim d, int in_type)
{
    const char *s = "";
    const int co[4] = {d.h, d.i, d.k, d.m};
    const char *nm[4] = {"H", "I", "K", "M"};
    for (int j = 0; j < 4; j++) {
        if (!co[j]) continue;
        const char *term = co[j] == 1              ? nm[j]
                           : in_type && chance(50) ? fmt("%d%s", co[j], nm[j])
                                                   : fmt("%d*%s", co[j], nm[j]);
        s = *s ? fmt("%s + %s", s, term) : term;
    }
    if (d.c || !*s) s = *s ? fmt("%s + %d", s, d.c) : fmt("%d", d.c);
    return s;
}

static const char *dim_str(Dim d) { return dim_text(d, 1); }

typedef struct {
    int H, I, K, M;
} Sizes;

static int dim_eval(Dim d, Sizes z) { return d.h * z.H + d.i * z.I + d.k * z.K + d.m * z.M + d.c; }

/* A random part p of d with 0 < p < d, so that d = p + (d - p). */
static Dim dim_part(Dim d)
{
    for (;;) {
        Dim p = dim(rnd(d.h + 1), rnd(d.i + 1), rnd(d.k + 1), rnd(d.m + 1), rnd(d.c + 1));
        int u = dim_units(p);
        if (u > 0 && u < dim_units(d)) return p;
    }
}

static Dim dim_sub(Dim a, Dim b) { return dim(a.h - b.h, a.i - b.i, a.k - b.k, a.m - b.m, a.c - b.c); }

/* ---------------------------------------------------------------- cells */

typedef struct {
    const char *name;
    Dim d;
    int uses;
} CVar;

#define MAX_STATES 4

typedef struct {
    char name[16];
    int has_k, has_m; /* a second input v: [K]; an inner size M */
    int nstates;
    const char *state[MAX_STATES];
    Dim state_dim[MAX_STATES];
} Cell;

typedef struct {
    Buf params, body;
    CVar vars[128];
    int nvars, nparams, ntmp;
} CellGen;

static Cell cells[8];
static int ncells;

static void cvar_add(CellGen *g, const char *name, Dim d)
{
    if (g->nvars < 128) g->vars[g->nvars++] = (CVar){name, d, 0};
}

/* A variable of dimension d, preferring the least used; NULL if none. */
static const char *cvar_pick(CellGen *g, Dim d)
{
    int best = -1, n = 0;
    for (int j = 0; j < g->nvars; j++) {
        if (!dim_eq(g->vars[j].d, d)) continue;
        n++;
        if (best < 0 || (chance(70) ? g->vars[j].uses < g->vars[best].uses : chance(50))) best = j;
    }
    if (!n) return NULL;
    g->vars[best].uses++;
    return g->vars[best].name;
}

static const char *new_param(CellGen *g, Dim rows, const Dim *cols)
{
    const char *name = fmt("%s%d", cols ? "W" : "b", g->nparams++);
    const char *init = "";
    if (cols) {
        static const char *mi[] = {"", " init xavier", " init orthogonal", " init uniform(0.4)", " init normal(0.3)",
                                   ""};
        init = mi[rnd(6)];
        put(&g->params, "  param %s: [%s, %s]%s\n", name, dim_str(rows), dim_str(*cols), init);
    } else {
        static const char *vi[] = {
            "", " init zero", " init one", " init uniform(0.5)", " init normal(0.2)", " init const(0.3)"};
        init = vi[rnd(6)];
        put(&g->params, "  param %s: [%s]%s\n", name, dim_str(rows), init);
    }
    return name;
}

static const char *cexpr(CellGen *g, Dim t, int depth);

/* W @ src (+ b): the cell's way to change width and mix features. */
static const char *cmatmul(CellGen *g, Dim t, int depth)
{
    const char *src;
    Dim sd;
    int r = rnd(100);
    if (r < 45 || g->nvars < 2) {
        CVar *v = &g->vars[rnd(g->nvars)];
        v->uses++;
        src = v->name;
        sd = v->d;
    } else if (r < 80 || depth <= 0) {
        CVar *a = &g->vars[rnd(g->nvars)], *b = &g->vars[rnd(g->nvars)];
        a->uses++, b->uses++;
        src = fmt("concat(%s, %s)", a->name, b->name);
        sd = dim_add(a->d, b->d);
    } else {
        sd = g->vars[rnd(g->nvars)].d;
        src = cexpr(g, sd, depth - 1);
    }
    const char *w = new_param(g, t, &sd);
    const char *left = w;
    if (chance(6)) /* an expression of parameters on the left */
        left = fmt("(%s + %s)", w, new_param(g, t, &sd));
    const char *e = fmt("(%s @ %s)", left, src);
    if (chance(40)) e = fmt("(%s + %s)", e, new_param(g, t, NULL));
    return e;
}

static const char *cleaf(CellGen *g, Dim t)
{
    const char *v = chance(65) ? cvar_pick(g, t) : NULL;
    return v ? v : cmatmul(g, t, 0);
}

static const char *cexpr(CellGen *g, Dim t, int depth)
{
    if (depth <= 0) return cleaf(g, t);
    int r = rnd(100);
    if (r < 20) return cleaf(g, t);
    if (r < 40) {
        const char *a = cexpr(g, t, depth - 1);
        switch (rnd(8)) {
        case 0: return fmt("sigmoid(%s)", a);
        case 1: return fmt("tanh(%s)", a);
        case 2: return fmt("relu(%s)", a);
        case 3: return fmt("exp(tanh(%s))", a);
        case 4: return fmt("log(sigmoid(%s) + 1)", a);
        case 5: return fmt("log(%s * %s + 1)", a, a);
        case 6: return fmt("-%s", a);
        default: return fmt("softplus(%s)", a);
        }
    }
    if (r < 65) {
        const char *a = cexpr(g, t, depth - 1);
        switch (rnd(8)) {
        case 0: return fmt("(%s + %s)", a, cexpr(g, t, depth - 1));
        case 1: return fmt("(%s - %s)", a, cexpr(g, t, depth - 1));
        case 2: return fmt("(%s * %s)", a, cexpr(g, t, depth - 1));
        case 3: return fmt("(%s / (sigmoid(%s) + 1))", a, cexpr(g, t, depth - 1));
        case 4: return fmt("(%s * %s)", factor(), a);
        case 5: return fmt("(%s + %s)", a, number());
        case 6: return fmt("(%s - %s)", number(), a);
        default: return fmt("(%s / %s)", a, divisor());
        }
    }
    if (r < 75) { /* a slice of something wider */
        Dim extra = chance(60) ? dim(0, 0, 0, 0, range(1, 3)) : chance(50) ? dim(1, 0, 0, 0, 0) : dim(0, 1, 0, 0, 0);
        const char *big = cexpr(g, dim_add(t, extra), depth - 1);
        Dim off = chance(50) ? dim(0, 0, 0, 0, 0) : extra;
        if (extra.c > 1 && chance(30)) off = dim(0, 0, 0, 0, rnd(extra.c + 1));
        return fmt("slice(%s, %s, %s)", big, dim_text(off, 0), dim_text(t, 0));
    }
    if (r < 87 && dim_units(t) >= 2) {
        Dim p = dim_part(t);
        return fmt("concat(%s, %s)", cexpr(g, p, depth - 1), cexpr(g, dim_sub(t, p), depth - 1));
    }
    return cmatmul(g, t, depth - 1);
}

/* A pre-activation for state s: usually reads the inputs and the state
 * through one matrix, so the recurrence is real, plus more terms. */
static const char *cpre(CellGen *g, Dim t, const char *src, Dim sd)
{
    const char *w = new_param(g, t, &sd);
    const char *e = fmt("(%s @ %s)", w, src);
    if (chance(70)) e = fmt("(%s + %s)", e, cexpr(g, t, range(0, 2)));
    return e;
}

static Dim state_dim(const Cell *c, int first)
{
    if (first && chance(80)) return dim(1, 0, 0, 0, 0);
    switch (rnd(6)) {
    case 0: return dim(2, 0, 0, 0, 0);
    case 1: return c->has_m ? dim(0, 0, 0, 1, 0) : dim(1, 0, 0, 0, 0);
    case 2: return dim(0, 0, 0, 0, range(1, 5));
    case 3: return dim(1, 0, 0, 0, 1);
    default: return dim(1, 0, 0, 0, 0);
    }
}

/* Writes a new cell into `out` and returns its index. `single` asks for
 * one input (generate() feeds a cell one input). */
static int gen_cell(Buf *out, int single)
{
    Cell *c = &cells[ncells];
    snprintf(c->name, sizeof c->name, "cell%d", ncells);
    c->has_k = !single && chance(30);
    c->has_m = chance(30);
    c->nstates = chance(55) ? 1 : range(2, 3);
    static const char *snames[] = {"h", "c", "s", "q"};
    for (int j = 0; j < c->nstates; j++) {
        c->state[j] = snames[j];
        c->state_dim[j] = state_dim(c, j == 0);
    }

    static CellGen g;
    memset(&g, 0, sizeof g);
    cvar_add(&g, "x", dim(0, 1, 0, 0, 0));
    if (c->has_k) cvar_add(&g, "v", dim(0, 0, 1, 0, 0));
    Buf states = {.n = 0};
    for (int j = 0; j < c->nstates; j++) {
        const char *init = "0";
        int r = rnd(10);
        if (r == 0)
            init = "0.5";
        else if (r == 1)
            init = "-1";
        else if (r == 2)
            init = new_param(&g, c->state_dim[j], NULL);
        put(&states, "  state %s: [%s] = %s\n", c->state[j], dim_str(c->state_dim[j]), init);
        cvar_add(&g, c->state[j], c->state_dim[j]);
    }
    /* The inner size M must appear in a type, or M= at the call is an error. */
    if (c->has_m) {
        const char *u = fmt("u%d", g.ntmp++);
        put(&g.body, "  %s = tanh(%s)\n", u, cmatmul(&g, dim(0, 0, 0, 1, 0), 1));
        cvar_add(&g, u, dim(0, 0, 0, 1, 0));
    }
    for (int n = rnd(3); n > 0; n--) { /* intermediate values */
        Dim cand[] = {dim(1, 0, 0, 0, 0),           dim(0, 1, 0, 0, 0),
                      dim(2, 0, 0, 0, 0),           dim(1, 1, 0, 0, 0),
                      dim(0, 0, 0, 0, range(1, 4)), c->has_m ? dim(0, 0, 0, 1, 0) : dim(1, 0, 0, 0, 1)};
        Dim d = cand[rnd(6)];
        if (chance(35)) {
            int k = range(2, 4);
            Dim whole = dim(k * d.h, k * d.i, k * d.k, k * d.m, k * d.c);
            const char *names[4];
            for (int j = 0; j < k; j++) names[j] = fmt("p%d", g.ntmp++);
            put(&g.body, "  %s", names[0]);
            for (int j = 1; j < k; j++) put(&g.body, ", %s", names[j]);
            put(&g.body, " = split(%s, %d)\n", cexpr(&g, whole, 2), k);
            for (int j = 0; j < k; j++) cvar_add(&g, names[j], d);
        } else {
            const char *t = fmt("t%d", g.ntmp++);
            put(&g.body, "  %s = %s\n", t, cexpr(&g, d, 2));
            cvar_add(&g, t, d);
        }
    }
    /* Next values: bounded updates of (inputs, state) through a matrix. */
    for (int j = 0; j < c->nstates; j++) {
        const char *s = c->state[j];
        Dim d = c->state_dim[j];
        const char *src = fmt("concat(x, %s)", s);
        Dim sd = dim_add(dim(0, 1, 0, 0, 0), d);
        if (c->has_k) {
            src = fmt("concat(x, v, %s)", s);
            sd = dim_add(sd, dim(0, 0, 1, 0, 0));
        }
        const char *e;
        switch (rnd(10)) {
        case 0:
        case 1:
        case 2: e = fmt("tanh(%s)", cpre(&g, d, src, sd)); break;
        case 3: e = fmt("sigmoid(%s)", cpre(&g, d, src, sd)); break;
        case 4:
        case 5: {
            const char *z = fmt("z%d", g.ntmp++);
            put(&g.body, "  %s = sigmoid(%s)\n", z, cpre(&g, d, src, sd));
            e = fmt("%s * %s + (1 - %s) * tanh(%s)", z, s, z, cexpr(&g, d, 2));
            break;
        }
        case 6:
        case 7:
            e = fmt("sigmoid(%s) * %s + sigmoid(%s) * tanh(%s)", cpre(&g, d, src, sd), s, cexpr(&g, d, 1),
                    cexpr(&g, d, 2));
            break;
        case 8: e = fmt("relu(tanh(%s))", cpre(&g, d, src, sd)); break; /* bounded */
        default: e = fmt("0.5 * %s + 0.5 * tanh(%s)", s, cpre(&g, d, src, sd)); break;
        }
        put(&g.body, "  %s' = %s\n", s, e);
        cvar_add(&g, fmt("%s'", s), d);
    }
    const char *o = NULL;
    if (chance(55))
        for (int j = 0; j < c->nstates && !o; j++)
            if (dim_eq(c->state_dim[j], dim(1, 0, 0, 0, 0))) o = fmt("%s'", c->state[j]);
    if (!o) o = chance(50) ? fmt("tanh(%s)", cexpr(&g, dim(1, 0, 0, 0, 0), 2)) : cexpr(&g, dim(1, 0, 0, 0, 0), 2);
    /* Intermediates nothing read yet feed the output, so every value and
     * parameter matters for the loss (and check gives no warning); a tanh
     * around the sum keeps the output of order 1. */
    const char *extra = "";
    for (int j = 0; j < g.nvars; j++)
        if (!g.vars[j].uses && g.vars[j].name[strlen(g.vars[j].name) - 1] != '\'' && strcmp(g.vars[j].name, "x") &&
            strcmp(g.vars[j].name, "v")) {
            int isstate = 0;
            for (int k = 0; k < c->nstates; k++) isstate |= !strcmp(g.vars[j].name, c->state[k]);
            if (isstate) continue;
            Dim hd = dim(1, 0, 0, 0, 0);
            extra = fmt("%s + (%s @ %s)", extra, new_param(&g, hd, &g.vars[j].d), g.vars[j].name);
        }
    if (*extra) o = fmt("tanh(%s%s)", o, extra);
    put(&g.body, "  out %s\n", o);

    put(out, "cell %s(x: [I]%s) -> [H] {\n", c->name, c->has_k ? ", v: [K]" : "");
    put(out, "%s%s%s}\n\n", g.params.s, states.s, g.body.s);
    return ncells++;
}

/* ---------------------------------------------------------------- model */

enum { VEC, SEQ, INT, SEQINT };

typedef struct {
    int kind, f, grp; /* grp: which sequence length (index into steps[]) */
} Ty;

typedef struct {
    const char *text;
    Ty ty;
} Val;

typedef struct {
    const char *name;
    Ty ty;
    int maxid;  /* ids are in [0, maxid) */
    int target; /* a target, not an input */
} Data;

/* What a recurrent layer is, for final() and for init= of a decoder. */
typedef struct {
    const char *name;
    int kind; /* 0 rnn, 1 lstm, 2 gru, 3 user cell */
    int cell, layers, dirs, hidden;
    Sizes z;
} Layer;

static Buf model;
static int B, steps[8], ngrp;
static int has_lens[8];    /* the sequence input of group g has lengths */
static int64_t lens[8][4]; /* and these, one an example (B <= 4) */
static Data data[16];
static int ndata;
static const char *outputs[16];
static int noutputs;
static Layer layers[16];
static int nlayers;
static int nnames;

static const char *new_name(const char *prefix) { return fmt("%s%d", prefix, nnames++); }
static Ty ty(int kind, int f, int grp) { return (Ty){kind, f, grp}; }
static int ty_eq(Ty a, Ty b)
{
    return a.kind == b.kind && a.f == b.f && (a.kind == VEC || a.kind == INT || a.grp == b.grp);
}
static int new_grp(int t)
{
    steps[ngrp] = t;
    return ngrp++;
}

static void output(const char *name, const char *expr)
{
    if (noutputs >= 15) return;
    if (expr)
        put(&model, "  output %s = %s\n", name, expr);
    else
        put(&model, "  output %s\n", name);
    outputs[noutputs++] = name;
}

static const char *declare(const char *kw, const char *prefix, Ty t, int maxid)
{
    const char *name = new_name(prefix);
    const char *type;
    int bound = chance(20) ? 9 : 0;
    switch (t.kind) {
    case VEC: type = fmt("[%d]", t.f); break;
    case INT: type = "int"; break;
    case SEQ: type = bound ? fmt("seq<[%d], %d>", t.f, bound) : fmt("seq<[%d]>", t.f); break;
    default: type = bound ? fmt("seq<int, %d>", bound) : "seq<int>"; break;
    }
    if (!strcmp(kw, "input") && (t.kind == SEQ || t.kind == SEQINT) && rt_rng_u64(&lrng) % 100 < 35) {
        has_lens[t.grp] = 1;
        type = fmt("%s lengths", type);
    }
    put(&model, "  %s %s : %s\n", kw, name, type);
    data[ndata++] = (Data){name, t, maxid, !strcmp(kw, "target")};
    return name;
}

/* A sequence to read: float features, or token ids through an embedding. */
static Val seq_source(void)
{
    int grp = new_grp(range(1, 9));
    if (chance(70)) {
        int f = range(1, 12);
        return (Val){declare("input", "x", ty(SEQ, f, grp), 0), ty(SEQ, f, grp)};
    }
    int vocab = range(2, 20), d = range(1, 12);
    const char *ids = declare("input", "ids", ty(SEQINT, 1, grp), vocab);
    const char *e = new_name("e");
    put(&model, "  %s = embedding(%s, vocab=%d, dim=%d)\n", e, ids, vocab, d);
    return (Val){e, ty(SEQ, d, grp)};
}

static Val vec_source(void)
{
    if (chance(75)) {
        int f = range(1, 12);
        return (Val){declare("input", "x", ty(VEC, f, 0), 0), ty(VEC, f, 0)};
    }
    int vocab = range(2, 20), d = range(1, 12);
    const char *id = declare("input", "id", ty(INT, 1, 0), vocab);
    const char *e = new_name("e");
    put(&model, "  %s = embedding(%s, vocab=%d, dim=%d)\n", e, id, vocab, d);
    return (Val){e, ty(VEC, d, 0)};
}

static const char *act_of(const char *x)
{
    static const char *a[] = {"tanh", "sigmoid", "relu", "softmax"};
    int r = rnd(5);
    return r == 4 ? fmt("exp(tanh(%s))", x) : fmt("%s(%s)", a[r], x);
}

/* A [n] vector computed from `from` (a vector or a sequence) by a dense
 * layer: for init= values. */
static Val vec_of_width(Val from, int n)
{
    const char *src = from.text;
    if (from.ty.kind == SEQ) src = fmt(chance(50) ? "last(%s)" : "mean(%s)", from.text);
    const char *z = new_name("z");
    put(&model, "  %s = dense(%s, %d)\n", z, src, n);
    return (Val){chance(50) ? fmt("tanh(%s)", z) : z, ty(VEC, n, 0)};
}

static Sizes user_sizes(const Cell *c, int I, int K)
{
    Sizes z = {range(1, 24), I, K, c->has_m ? range(1, 12) : 0};
    return z;
}

static const char *sizes_args(const Cell *c, Sizes z)
{
    return c->has_m ? fmt("H=%d, M=%d", z.H, z.M) : fmt("H=%d", z.H);
}

/* An existing cell to reuse (40%) or a new one. */
static int pick_cell(Buf *cellsrc, int single)
{
    if (ncells && chance(40)) {
        int j = rnd(ncells);
        if (!single || !cells[j].has_k) return j;
    }
    if (ncells >= 8)
        for (int j = 0; j < ncells; j++)
            if (!single || !cells[j].has_k) return j;
    return gen_cell(cellsrc, single);
}

/* init= for a built-in layer: an encoder's final state (from), a [H]
 * value computed from `ctx` (one layer and direction only), or
 * zero/learned/nothing. */
static const char *builtin_init(Val src, int L, int D, int H, const Layer *from, const Val *ctx)
{
    if (from) return fmt(", init=%s", chance(50) ? from->name : fmt("final(%s)", from->name));
    if (ctx && L == 1 && D == 1) return fmt(", init=%s", vec_of_width(*ctx, H).text);
    int r = rnd(10);
    if (r < 2) return ", init=learned";
    if (r < 3) return ", init=zero";
    if (r < 5 && L == 1 && D == 1) return fmt(", init=%s", vec_of_width(src, H).text);
    return "";
}

/* A built-in recurrent layer over src; `like` copies kind/layers/dirs/
 * hidden from an encoder and starts from its final state. */
static Val builtin_layer(Val src, const Layer *like, const Val *ctx)
{
    int kind = like ? like->kind : rnd(3);
    int H = like ? like->hidden : range(1, 24);
    int L = like ? like->layers : ctx || chance(60) ? 1 : range(2, 3);
    int D = like ? like->dirs : !ctx && chance(30) ? 2 : 1;
    static const char *kinds[] = {"rnn", "lstm", "gru"};
    const char *name = new_name("h");
    const char *opts = "";
    if (kind == 0 && chance(60)) opts = fmt(", act=%s", chance(50) ? "tanh" : "relu");
    if (L > 1 || chance(20)) opts = fmt("%s, layers=%d", opts, L);
    /* dropout between the layers of half the stacks, chosen by what is
     * drawn already, so that every seed's random stream stays as it was */
    if (L > 1 && H % 2 == 0) opts = fmt("%s, dropout=0.25", opts);
    int width = H;
    if (D == 2) {
        opts = fmt("%s, %s", opts, chance(50) ? "bidirectional" : "bidirectional=true");
        int sum = chance(35);
        if (sum)
            opts = fmt("%s, merge=sum", opts);
        else if (chance(30))
            opts = fmt("%s, merge=concat", opts);
        width = sum ? H : 2 * H;
    }
    const char *init = builtin_init(src, L, D, H, like, ctx);
    put(&model, "  %s = %s(%s, hidden=%d%s%s)\n", name, kinds[kind], src.text, H, opts, init);
    layers[nlayers++] = (Layer){name, kind, -1, L, D, H, {0, 0, 0, 0}};
    return (Val){name, ty(SEQ, width, src.ty.grp)};
}

/* A context argument for a cell's second input v: [K]: a vector, or a
 * sequence of the same length as x (stepped with it). */
static Val cell_context(Val x)
{
    if (x.ty.kind == SEQ && chance(40))
        return (Val){chance(50) ? fmt("tanh(%s)", x.text) : fmt("reverse(%s)", x.text), x.ty};
    if (x.ty.kind == SEQ && chance(50)) return (Val){fmt("mean(%s)", x.text), ty(VEC, x.ty.f, 0)};
    return vec_source();
}

/* A user-cell layer over src (a sequence, or a vector for one step). */
static Val user_layer(Buf *cellsrc, Val src, const Layer *like)
{
    int ci = like ? like->cell : pick_cell(cellsrc, 0);
    const Cell *c = &cells[ci];
    const char *args = src.text;
    int K = 0;
    if (c->has_k) {
        Val v = cell_context(src);
        args = fmt("%s, %s", args, v.text);
        K = v.ty.f;
    }
    Sizes z = user_sizes(c, src.ty.f, K);
    if (like) {
        z.H = like->z.H;
        z.M = like->z.M;
    }
    const char *init = "";
    if (like)
        init = fmt(", init=%s", like->name);
    else if (chance(20))
        init = fmt(", init=%s", vec_of_width(src, dim_eval(c->state_dim[0], z)).text);
    const char *name = new_name("g");
    put(&model, "  %s = %s(%s, %s%s)\n", name, c->name, args, sizes_args(c, z), init);
    layers[nlayers++] = (Layer){name, 3, ci, 1, 1, z.H, z};
    return (Val){name, src.ty.kind == SEQ ? ty(SEQ, z.H, src.ty.grp) : ty(VEC, z.H, 0)};
}

static Val recurrent(Buf *cellsrc, Val src)
{
    return chance(55) ? builtin_layer(src, NULL, NULL) : user_layer(cellsrc, src, NULL);
}

/* One per-step transformation of v (a sequence or a vector). */
static Val transform(Val v, Val *others, int nothers)
{
    const char *name = new_name("a");
    switch (rnd(8)) {
    case 0:
    case 1: {
        int n = range(1, 12);
        put(&model, "  %s = dense(%s, %d%s)\n", name, v.text, n, chance(20) ? ", bias=false" : "");
        return (Val){name, ty(v.ty.kind, n, v.ty.grp)};
    }
    case 2: put(&model, "  %s = %s\n", name, act_of(v.text)); return (Val){name, v.ty};
    case 3:
        if (v.ty.kind == SEQ) {
            put(&model, "  %s = reverse(%s)\n", name, v.text);
            return (Val){name, v.ty};
        }
        break;
    case 4:
        for (int j = 0; j < nothers; j++)
            if (others[j].ty.kind == v.ty.kind && (v.ty.kind == VEC || others[j].ty.grp == v.ty.grp) &&
                v.ty.f + others[j].ty.f <= 40) {
                put(&model, "  %s = concat(%s, %s)\n", name, v.text, others[j].text);
                return (Val){name, ty(v.ty.kind, v.ty.f + others[j].ty.f, v.ty.grp)};
            }
        break;
    case 5:
        if (v.ty.f % 2 == 0) {
            const char *b = new_name("a");
            put(&model, "  %s, %s = split(%s, 2)\n", name, b, v.text);
            const char *op = chance(50) ? "+" : "*";
            const char *c = new_name("a");
            put(&model, "  %s = %s %s %s\n", c, name, op, chance(50) ? b : fmt("sigmoid(%s)", b));
            return (Val){c, ty(v.ty.kind, v.ty.f / 2, v.ty.grp)};
        }
        if (v.ty.f > 1) {
            int len = range(1, v.ty.f - 1), off = rnd(v.ty.f - len + 1);
            put(&model, "  %s = slice(%s, %d, %d)\n", name, v.text, off, len);
            return (Val){name, ty(v.ty.kind, len, v.ty.grp)};
        }
        break;
    case 6:
        for (int j = 0; j < nothers; j++)
            if (ty_eq(others[j].ty, v.ty) && strcmp(others[j].text, v.text)) {
                static const char *ops[] = {"+", "-", "*"};
                put(&model, "  %s = %s %s %s\n", name, v.text, ops[rnd(3)], others[j].text);
                return (Val){name, v.ty};
            }
        break;
    default: break;
    }
    put(&model, "  %s = %s * %s + %s\n", name, v.text, number(), number());
    return (Val){name, v.ty};
}

/* A loss on v against a new target (cross_entropy after a dense, or mse),
 * with the usual outputs. Returns the loss expression. */
static const char *head(Val v, int want_output)
{
    if (chance(55)) {
        int C = range(2, 10);
        const char *logits = new_name("logits");
        put(&model, "  %s = dense(%s, %d)\n", logits, v.text, C);
        if (want_output) output(new_name("probs"), fmt("softmax(%s)", logits));
        const char *t = declare("target", "y", ty(v.ty.kind == SEQ ? SEQINT : INT, 1, v.ty.grp), C);
        return fmt("cross_entropy(%s, %s)", logits, t);
    }
    Val y = v;
    if (chance(60)) {
        const char *yh = new_name("yhat");
        int n = range(1, 8);
        put(&model, "  %s = dense(%s, %d)\n", yh, v.text, n);
        y = (Val){yh, ty(v.ty.kind, n, v.ty.grp)};
    }
    if (want_output && strcmp(y.text, v.text))
        output(y.text, NULL);
    else if (want_output)
        output(new_name("o"), v.text);
    const char *t = declare("target", "y", y.ty, 0);
    return fmt("mse(%s, %s)", y.text, t);
}

static void final_outputs(void)
{
    for (int j = 0; j < nlayers; j++) {
        if (!chance(30)) continue;
        const Layer *l = &layers[j];
        if (l->kind == 1 && chance(50))
            output(new_name("fc"), fmt("final(%s, c)", l->name));
        else if (l->kind == 3 && cells[l->cell].nstates > 1 && chance(50))
            output(new_name("fs"), fmt("final(%s, %s)", l->name, cells[l->cell].state[1]));
        else
            output(new_name("fh"), fmt("final(%s)", l->name));
    }
}

/* The trunk of a sequence model: 1..3 recurrent layers with optional
 * per-step transformations between them. */
static Val trunk(Buf *cellsrc, Val x)
{
    Val seen[8];
    int nseen = 0;
    seen[nseen++] = x;
    Val v = x;
    int n = range(1, 3);
    for (int j = 0; j < n; j++) {
        if (chance(35)) v = transform(v, seen, nseen);
        v = recurrent(cellsrc, v);
        if (nseen < 8) seen[nseen++] = v;
    }
    if (chance(30)) v = transform(v, seen, nseen);
    return v;
}

/* The many-to-one reductions of a sequence value. */
static Val pool(Val h)
{
    const Layer *l = nlayers ? &layers[nlayers - 1] : NULL;
    if (l && l->kind == 3 && strcmp(l->name, h.text) == 0 && chance(40)) {
        const Cell *c = &cells[l->cell];
        int s = rnd(c->nstates);
        const char *e = s == 0 && chance(50) ? fmt("final(%s)", l->name) : fmt("final(%s, %s)", l->name, c->state[s]);
        return (Val){e, ty(VEC, dim_eval(c->state_dim[s], l->z), 0)};
    }
    return (Val){fmt(chance(50) ? "last(%s)" : "mean(%s)", h.text), ty(VEC, h.ty.f, 0)};
}

static void gen_model(Buf *cellsrc, int topo)
{
    const char *loss = NULL;
    int with_loss = chance(92);
    switch (topo) {
    case 0: { /* many-to-many */
        Val h = trunk(cellsrc, seq_source());
        if (with_loss)
            loss = head(h, 1);
        else
            output(h.text, NULL);
        break;
    }
    case 1: { /* many-to-one */
        Val h = trunk(cellsrc, seq_source());
        Val p = pool(h);
        if (chance(40)) {
            const char *z = new_name("z");
            int w = range(1, 12);
            put(&model, "  %s = dense(%s, %d)\n", z, p.text, w);
            p = (Val){fmt("%s(%s)", chance(50) ? "tanh" : "relu", z), ty(VEC, w, 0)};
        }
        if (with_loss)
            loss = head(p, 1);
        else
            output(new_name("pooled"), p.text);
        break;
    }
    case 2: { /* one-to-many */
        Val x0 = vec_source();
        int N = range(1, 9), grp = new_grp(N), fb = chance(40);
        const char *name = new_name("gen");
        int width;
        if (chance(55)) {
            int kind = rnd(3), H = range(1, 24), L = chance(70) ? 1 : range(2, 3);
            static const char *kinds[] = {"rnn", "lstm", "gru"};
            const char *opts = "";
            if (kind == 0 && chance(50)) opts = ", act=relu";
            if (L > 1) opts = fmt("%s, layers=%d", opts, L);
            if (fb) opts = fmt("%s, feedback", opts);
            int r = rnd(10);
            if (r < 2)
                opts = fmt("%s, init=learned", opts);
            else if (r < 4 && L == 1)
                opts = fmt("%s, init=%s", opts, vec_of_width(x0, H).text);
            put(&model, "  %s = generate(%s, %s, steps=%d, hidden=%d%s)\n", name, kinds[kind], x0.text, N, H, opts);
            layers[nlayers++] = (Layer){name, kind, -1, L, 1, H, {0, 0, 0, 0}};
            width = fb ? x0.ty.f : H;
        } else {
            int ci = pick_cell(cellsrc, 1);
            const Cell *c = &cells[ci];
            Sizes z = user_sizes(c, x0.ty.f, 0);
            const char *init = chance(20) ? fmt(", init=%s", vec_of_width(x0, dim_eval(c->state_dim[0], z)).text) : "";
            put(&model, "  %s = generate(%s, %s, steps=%d, %s%s%s)\n", name, c->name, x0.text, N, sizes_args(c, z),
                fb ? ", feedback" : "", init);
            layers[nlayers++] = (Layer){name, 3, ci, 1, 1, z.H, z};
            width = fb ? x0.ty.f : z.H;
        }
        Val y = {name, ty(SEQ, width, grp)};
        if (chance(30)) y = transform(y, NULL, 0);
        output(name, NULL);
        if (with_loss)
            loss = head(y, 1);
        else if (strcmp(y.text, name))
            output(y.text, NULL);
        break;
    }
    case 3: { /* one-to-one */
        Val v = vec_source();
        Val seen[4] = {v};
        int n = range(1, 3);
        for (int j = 0; j < n; j++) {
            if (chance(20)) {
                v = user_layer(cellsrc, v, NULL); /* a cell on a vector runs one step */
            } else {
                const char *z = new_name("z");
                int w = range(1, 16);
                put(&model, "  %s = dense(%s, %d)\n", z, v.text, w);
                v = (Val){z, ty(VEC, w, 0)};
                if (chance(70)) {
                    const char *a = new_name("a");
                    put(&model, "  %s = %s\n", a, act_of(z));
                    v = (Val){a, v.ty};
                }
            }
            if (j < 3) seen[j + 1] = v;
            if (chance(25)) v = transform(v, seen, j + 2);
        }
        if (with_loss)
            loss = head(v, 1);
        else
            output(v.text, NULL);
        break;
    }
    default: { /* encoder-decoder */
        Val src = seq_source();
        if (chance(30)) src = (Val){fmt("reverse(%s)", src.text), src.ty};
        Val enc = recurrent(cellsrc, src);
        const Layer el = layers[nlayers - 1];
        Val tgt = seq_source();
        Val dec;
        if (el.kind == 3)
            dec = user_layer(cellsrc, tgt, &el);
        else if (chance(25))
            dec = builtin_layer(tgt, NULL, &enc); /* init= an expression of the encoder's output */
        else
            dec = builtin_layer(tgt, &el, NULL);
        if (chance(30)) dec = transform(dec, &enc, 1);
        if (with_loss) {
            loss = head(dec, 1);
            if (chance(20)) loss = fmt("%s + %s", loss, head(pool(enc), 0));
        } else
            output(dec.text, NULL);
        break;
    }
    }
    final_outputs();
    if (loss) put(&model, "  loss = %s\n", loss);
}

/* ----------------------------------------------------------------- data */

static int write_data(const char *dir)
{
    char path[4096], err[512];
    FILE *args = fopen(fmt("%s/args", dir), "w");
    if (!args) {
        perror(fmt("%s/args", dir));
        return -1;
    }
    for (int j = 0; j < ndata; j++) {
        const Data *d = &data[j];
        int64_t shape[3];
        int rank = 0;
        if (d->ty.kind == SEQ || d->ty.kind == SEQINT) shape[rank++] = steps[d->ty.grp];
        shape[rank++] = B;
        if (d->ty.kind == SEQ || d->ty.kind == VEC) shape[rank++] = d->ty.f;
        int is_int = d->ty.kind == INT || d->ty.kind == SEQINT;
        int seq = d->ty.kind == SEQ || d->ty.kind == SEQINT, padded = seq && has_lens[d->ty.grp];
        int64_t row = is_int ? 1 : d->ty.f; /* elements of one example at one step */
        Tensor t;
        if (rt_tensor_alloc(&t, is_int ? RT_I64 : RT_F32, rank, shape)) {
            fprintf(stderr, "randmodel: out of memory\n");
            return -1;
        }
        for (int64_t i = 0; i < rt_numel(&t); i++) {
            if (is_int)
                ((int64_t *)t.data)[i] = rnd(d->maxid);
            else
                ((float *)t.data)[i] = rt_rng_uniform_sym(&rng, 1.0f);
            int64_t step = i / row / B, b = i / row % B;
            if (padded && step >= lens[d->ty.grp][b]) { /* never read */
                if (is_int)
                    ((int64_t *)t.data)[i] = d->maxid + 1000;
                else
                    ((float *)t.data)[i] = NAN;
            }
        }
        snprintf(path, sizeof path, "%s/%s.npy", dir, d->name);
        int rc = rt_npy_write(path, &t, err, sizeof err);
        rt_tensor_free(&t);
        if (rc) {
            fprintf(stderr, "randmodel: %s\n", err);
            fclose(args);
            return -1;
        }
        fprintf(args, "-i %s=%s\n", d->name, path);
        if (padded && !d->target) { /* NAME.len: the lengths */
            int64_t n = B;
            if (rt_tensor_alloc(&t, RT_I64, 1, &n)) return -1;
            memcpy(t.data, lens[d->ty.grp], (size_t)B * sizeof(int64_t));
            snprintf(path, sizeof path, "%s/%s.len.npy", dir, d->name);
            rc = rt_npy_write(path, &t, err, sizeof err);
            rt_tensor_free(&t);
            if (rc) {
                fprintf(stderr, "randmodel: %s\n", err);
                fclose(args);
                return -1;
            }
            fprintf(args, "-i %s.len=%s\n", d->name, path);
        }
    }
    fclose(args);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: randmodel SEED OUTDIR\n");
        return 2;
    }
    char *end;
    unsigned long long seed = strtoull(argv[1], &end, 10);
    if (end == argv[1] || *end) {
        fprintf(stderr, "randmodel: bad seed '%s'\n", argv[1]);
        return 2;
    }
    rt_rng_seed(&rng, seed);
    rt_rng_seed(&lrng, seed ^ 0x6c656e67746873ull);
    const char *dir = argv[2];

    static Buf cellsrc;
    B = range(1, 4);
    int topo = rnd(5);
    static const char *topos[] = {"many-to-many", "many-to-one", "one-to-many", "one-to-one", "encoder-decoder"};
    gen_model(&cellsrc, topo);

    FILE *f = fopen(fmt("%s/model.rnn", dir), "w");
    if (!f) {
        perror(fmt("%s/model.rnn", dir));
        return 1;
    }
    fprintf(f, "# randmodel %llu: %s, batch %d\n\n%smodel m {\n%s}\n", seed, topos[topo], B, cellsrc.s, model.s);
    fclose(f);
    for (int g = 0; g < ngrp; g++) /* each example's length, 1..T */
        for (int b = 0; b < B; b++) lens[g][b] = 1 + (int64_t)(rt_rng_u64(&lrng) % (uint64_t)steps[g]);
    if (write_data(dir)) return 1;
    f = fopen(fmt("%s/outputs", dir), "w");
    if (!f) {
        perror(fmt("%s/outputs", dir));
        return 1;
    }
    for (int j = 0; j < noutputs; j++) fprintf(f, "%s\n", outputs[j]);
    if (strstr(model.s, "  loss = ")) fprintf(f, "loss\n");
    fclose(f);
    return 0;
}
