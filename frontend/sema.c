/* sema.c - semantic analysis entry points: the declarations of a file
 * (names of models and cells, train blocks), the statements of a model,
 * and the shared services of the sema_*.c files (memory, messages, names).
 *
 * A model is checked by building its IR: every statement is evaluated to a
 * source-level description (SVal) and, when it is correct, to IR ops.  An
 * error gives the value the error type SV_ERR, which stays silent in every
 * later use, so each independent mistake is reported once. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/sema_int.h"
#include "frontend/train_keys.h"

/* ---- memory: a list of chunks freed with the Sema ---------------------- */

typedef struct SemaMem {
    struct SemaMem *next;
    size_t used, cap;
    max_align_t data[];
} SemaMem;

void *sema_alloc(Sema *s, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!s->mem || s->mem->used + n > s->mem->cap) {
        size_t cap = n > 65536 ? n : 65536;
        SemaMem *c = malloc(sizeof *c + cap);
        if (!c) {
            fprintf(stderr, "rnnc: out of memory\n");
            exit(1);
        }
        c->next = s->mem;
        c->used = 0;
        c->cap = cap;
        s->mem = c;
    }
    char *p = (char *)s->mem->data + s->mem->used;
    s->mem->used += n;
    memset(p, 0, n);
    return p;
}

static void sema_free_mem(Sema *s)
{
    while (s->mem) {
        SemaMem *n = s->mem->next;
        free(s->mem);
        s->mem = n;
    }
    free(s->names);
    s->names = NULL;
}

const char *sema_fmt(Sema *s, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t n = strlen(buf) + 1;
    char *p = sema_alloc(s, n);
    memcpy(p, buf, n);
    return p;
}

/* ---- messages ------------------------------------------------------------ */

enum { MSG_ERROR, MSG_WARNING, MSG_NOTE };

static void report(Sema *s, int kind, int print, SrcLoc loc, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (kind == MSG_NOTE) {
        if (s->last_printed) diag_note(s->d, loc, "%s", buf);
        return;
    }
    /* a silenced warning leaves the last error's notes attached to it */
    if (!print && kind == MSG_WARNING) return;
    s->last_printed = print;
    if (!print) return;
    if (kind == MSG_ERROR)
        diag_error(s->d, loc, "%s", buf);
    else
        diag_warning(s->d, loc, "%s", buf);
}

void sema_err(Sema *s, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    s->nerr++;
    va_start(ap, fmt);
    report(s, MSG_ERROR, !s->quiet_names, loc, fmt, ap);
    va_end(ap);
}

/* Shape errors are not counted in a cell's generic check: its sizes are
 * placeholders there, and the real sizes are checked at each use. */
void sema_shape_err(Sema *s, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    if (!s->quiet_shape) s->nerr++;
    va_start(ap, fmt);
    report(s, MSG_ERROR, !s->quiet_shape, loc, fmt, ap);
    va_end(ap);
}

void sema_warn(Sema *s, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(s, MSG_WARNING, !s->quiet_names, loc, fmt, ap);
    va_end(ap);
}

void sema_note(Sema *s, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(s, MSG_NOTE, 1, loc, fmt, ap);
    va_end(ap);
}

/* ---- names ---------------------------------------------------------------- */

Name *sema_lookup(Sema *s, const char *name)
{
    for (int i = s->nnames - 1; i >= s->scope_base; i--)
        if (strcmp(s->names[i]->name, name) == 0) return s->names[i];
    return NULL;
}

Name *sema_define(Sema *s, const char *name, SrcLoc loc, NameKind k)
{
    Name *old = sema_lookup(s, name);
    if (old) {
        sema_err(s, loc, "redefinition of '%s'", name);
        sema_note(s, old->loc, "previous definition of '%s' is here", name);
        return NULL;
    }
    if (s->nnames == s->capnames) {
        s->capnames = s->capnames ? 2 * s->capnames : 32;
        Name **nn = realloc(s->names, (size_t)s->capnames * sizeof *nn);
        if (!nn) {
            fprintf(stderr, "rnnc: out of memory\n");
            exit(1);
        }
        s->names = nn;
    }
    Name *n = sema_alloc(s, sizeof *n);
    n->name = name;
    n->loc = loc;
    n->kind = k;
    n->val = sema_err_val();
    s->names[s->nnames++] = n;
    return n;
}

const Decl *sema_find_cell(Sema *s, const char *name)
{
    for (int i = 0; i < s->p->ndecls; i++) {
        const Decl *d = s->p->decls[i];
        if (d->kind == DECL_CELL && d->name && strcmp(d->name, name) == 0) return d;
    }
    return NULL;
}

CellCheck *sema_cell_check_of(Sema *s, const Decl *c)
{
    for (int i = 0; i < s->ncells; i++)
        if (s->cells[i].decl == c) return &s->cells[i];
    return NULL;
}

void sema_materialize_target(Sema *s, Name *n, int have_len, int64_t len)
{
    const TypeExpr *t = n->type;
    int64_t dims[IR_MAX_RANK];
    int nd = 0;
    n->pending = 0;
    if (!sema_type_dims(s, t, NULL, dims, &nd)) return; /* stays SV_ERR */
    SVal v = sema_err_val();
    switch (t->kind) {
    case TY_VEC: v = sema_vec(nd, dims, 1); break;
    case TY_INT: v.k = SV_INT; break;
    case TY_SEQ_VEC:
        v = sema_vec(nd, dims, 0);
        v.k = SV_SEQ;
        break;
    case TY_SEQ_INT: v.k = SV_SEQ_INT; break;
    }
    if (v.k == SV_SEQ || v.k == SV_SEQ_INT) {
        if (have_len)
            v.t = len;
        else {
            int64_t max = 4096;
            if (t->maxlen && (max = sema_eval_dim(s, t->maxlen, NULL)) <= 0) return;
            v.t = IR_DIM_SYM(ir_add_sym(s->m, sema_fmt(s, "T_%s", n->name), max));
        }
    }
    v.v = ir_add_target(s->m, n->name, sema_ir_type(&v));
    n->val = v;
}

/* ---- models --------------------------------------------------------------- */

static const char *stmt_keyword(StmtKind k)
{
    switch (k) {
    case ST_INPUT: return "input";
    case ST_TARGET: return "target";
    case ST_ASSIGN: return "assignment";
    case ST_OUTPUT: return "output";
    case ST_LOSS: return "loss";
    case ST_PARAM: return "param";
    case ST_STATE: return "state";
    case ST_OUT: return "out";
    case ST_SETTING: return "setting";
    }
    return "?";
}

/* `input x : seq<...> lengths`: the input "x.len", given as one length
 * an example (ir/lengths.h) and run as the mask of x's steps, 1 where
 * t < len[b], [T_x, B, 1] so that it broadcasts over a step's [B, H].
 * Every value with x's length symbol gets it (sema_mask_of). */
static void model_lengths(Sema *s, const Stmt *st, const SVal *x)
{
    if (x->k != SV_SEQ && x->k != SV_SEQ_INT) {
        sema_err(s, st->lengths_loc, "'lengths' is for sequence inputs; '%s' is %s", st->names[0], sema_val_str(s, x));
        return;
    }
    int64_t d[3] = {x->t, IR_DIM_B, 1};
    ir_add_role_input(s->m, sema_fmt(s, "%s.len", st->names[0]), ir_type(IR_F32, 3, d), IR_ROLE_LENGTHS);
}

IrValue *sema_mask_of(Sema *s, int64_t t)
{
    if (t >= 0 || s->in_cell) return NULL;
    for (int i = 0; i < s->m->ninputs; i++) {
        const IrInput *in = &s->m->inputs[i];
        if (in->role == IR_ROLE_LENGTHS && in->value->type.dim[0] == t) return in->value;
    }
    return NULL;
}

static void model_input(Sema *s, const Stmt *st)
{
    Name *n = sema_define(s, st->names[0], st->name_locs[0], st->kind == ST_INPUT ? N_INPUT : N_TARGET);
    if (!n) return;
    n->type = st->type;
    if (st->kind == ST_TARGET) {
        /* A target's IR value is made at its first use, which gives a
         * sequence target the length of what the loss compares it with. */
        n->pending = 1;
        int64_t dims[IR_MAX_RANK];
        int nd;
        if (!sema_type_dims(s, st->type, NULL, dims, &nd)) {
            n->pending = 0;
            n->used = 1;
        }
        return;
    }
    n->used = 1; /* inputs need no warning: the caller feeds them anyway */
    int64_t dims[IR_MAX_RANK];
    int nd = 0;
    if (!sema_type_dims(s, st->type, NULL, dims, &nd)) return;
    SVal v = sema_vec(nd, dims, 1);
    if (st->type->kind == TY_INT) v.k = SV_INT;
    if (st->type->kind == TY_SEQ_VEC || st->type->kind == TY_SEQ_INT) {
        int64_t max = 4096;
        if (st->type->maxlen && (max = sema_eval_dim(s, st->type->maxlen, NULL)) <= 0) {
            if (max == 0) sema_err(s, st->type->maxlen->loc, "a sequence needs at least one step");
            return;
        }
        v.k = st->type->kind == TY_SEQ_VEC ? SV_SEQ : SV_SEQ_INT;
        v.batched = 0;
        v.t = IR_DIM_SYM(ir_add_sym(s->m, sema_fmt(s, "T_%s", n->name), max));
    }
    v.v = ir_add_input(s->m, n->name, sema_ir_type(&v));
    n->val = v;
    if (st->lengths) model_lengths(s, st, &v);
}

/* Gives an IR value its source name (for dumps) unless it has one. */
static void name_value(Sema *s, IrValue *v, const char *name)
{
    if (v && !v->name) v->name = ir_strdup(s->m, name);
}

static void model_assign(Sema *s, const Stmt *st, int is_output)
{
    for (int i = 0; i < st->nnames; i++)
        if (st->primed && st->primed[i]) {
            sema_err(s, st->name_locs[i], "%s' is a next state value, which only a cell can have", st->names[i]);
            return;
        }
    if (st->nnames > 1) {
        SVal outs[16];
        if (st->nnames > 16) {
            sema_err(s, st->name_locs[16], "too many names on the left (at most 16)");
            return;
        }
        sema_split_assign(s, st, outs);
        for (int i = 0; i < st->nnames; i++) {
            Name *n = sema_define(s, st->names[i], st->name_locs[i], N_VALUE);
            if (!n) continue;
            n->val = outs[i];
            name_value(s, outs[i].v, n->name);
        }
        return;
    }
    s->origin = ir_strdup(s->m, st->names[0]);
    Layer *layer = NULL;
    SVal v = sema_rhs(s, st->value, st->names[0], st->name_locs[0], &layer);
    s->origin = NULL;
    Name *n = sema_define(s, st->names[0], st->name_locs[0], N_VALUE);
    if (!n) return;
    if (v.k == SV_NUM && is_output) {
        sema_err(s, st->value->loc, "an output must be a tensor, found a number");
        v = sema_err_val();
    }
    n->val = v;
    n->layer = layer;
    name_value(s, v.v, n->name);
    if (is_output) {
        n->used = 1;
        if (v.k != SV_ERR) ir_add_output(s->m, n->name, sema_output_value(s, &v));
    }
}

static void model_output(Sema *s, const Stmt *st, const char **outs, SrcLoc *out_locs, int *nouts)
{
    for (int i = 0; i < *nouts; i++)
        if (strcmp(outs[i], st->names[0]) == 0) {
            sema_err(s, st->name_locs[0], "'%s' is already an output", st->names[0]);
            sema_note(s, out_locs[i], "first output here");
            return;
        }
    outs[*nouts] = st->names[0];
    out_locs[(*nouts)++] = st->name_locs[0];
    if (st->value) {
        model_assign(s, st, 1);
        return;
    }
    Name *n = sema_lookup(s, st->names[0]);
    if (!n) {
        sema_err(s, st->name_locs[0], "undefined name '%s'", st->names[0]);
        return;
    }
    n->used = 1;
    if (n->pending) sema_materialize_target(s, n, 0, 0);
    if (n->val.k == SV_ERR) return;
    ir_add_output(s->m, n->name, sema_output_value(s, &n->val));
}

/* ---- the limit of a tensor ------------------------------------------------- */

/* The first value of block b from op `from` on (scan bodies included)
 * with too many elements, or NULL. */
static const IrValue *too_large_in(const IrBlock *b, int from)
{
    for (int i = from; b && i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        for (int r = 0; r < op->nresults; r++) {
            const IrType *t = &op->results[r]->type;
            double n = 1;
            for (int d = 0; d < t->rank; d++)
                if (t->dim[d] >= 0) n *= (double)t->dim[d];
            if (n >= (double)SEMA_SIZE_LIMIT) return op->results[r];
        }
        const IrValue *v = op->body ? too_large_in(op->body, 0) : NULL;
        if (v) return v;
    }
    return NULL;
}

/* What the module had before a statement. */
typedef struct Mark {
    int nops, nparams, ninputs, ntargets, nerr;
} Mark;

static Mark mark(const Sema *s)
{
    Mark k = {s->m->body->nops, s->m->nparams, s->m->ninputs, s->m->ntargets, s->nerr};
    return k;
}

/* The backstop of the limits: the sizes a statement gives are checked
 * where they are written (sema_layers.c, sema_type_dims), but a value may
 * still grow past the limit through the ops that make it (a matmul of two
 * large parameters, a concat of concats, a cell's parameter).  So every
 * value a statement made, with no error reported, is checked after it,
 * and an error at the statement stops the module before the lowering
 * could overflow. */
static void check_made(Sema *s, const Mark *k, SrcLoc loc)
{
    if (s->nerr != k->nerr) return;
    const IrModule *m = s->m;
    const IrValue *v = too_large_in(m->body, k->nops);
    const char *what = "a value";
    for (int i = k->nparams; !v && i < m->nparams; i++)
        if (!sema_check_numel(s, loc, NULL, sema_fmt(s, "parameter '%s'", m->params[i].name),
                              m->params[i].value->type.dim, m->params[i].value->type.rank))
            return;
    for (int i = k->ninputs; !v && i < m->ninputs; i++)
        if (!sema_check_numel(s, loc, NULL, sema_fmt(s, "input '%s'", m->inputs[i].name), m->inputs[i].value->type.dim,
                              m->inputs[i].value->type.rank))
            return;
    for (int i = k->ntargets; !v && i < m->ntargets; i++)
        if (!sema_check_numel(s, loc, NULL, sema_fmt(s, "target '%s'", m->targets[i].name),
                              m->targets[i].value->type.dim, m->targets[i].value->type.rank))
            return;
    if (v && v->name) what = sema_fmt(s, "value '%s'", v->name);
    if (v) sema_check_numel(s, loc, NULL, what, v->type.dim, v->type.rank);
}

static IrModule *build_model(Sema *s, const Decl *md)
{
    IrModule *m = ir_module_new(md->name);
    const char *outs[256];
    SrcLoc out_locs[256];
    int nouts = 0, ninputs = 0;
    SrcLoc loss_loc = {0, 0, 0};
    int have_loss = 0;

    int errors_before = s->d->nerrors;
    s->m = m;
    s->blk = m->body;
    s->nnames = 0;
    s->scope_base = 0;
    s->in_cell = 0;
    for (int i = 0; i < md->nbody; i++) {
        const Stmt *st = md->body[i];
        Mark k = mark(s);
        switch (st->kind) {
        case ST_INPUT:
            ninputs++;
            model_input(s, st);
            break;
        case ST_TARGET: model_input(s, st); break;
        case ST_ASSIGN: model_assign(s, st, 0); break;
        case ST_OUTPUT:
            if (nouts == 256) {
                sema_err(s, st->loc, "too many outputs");
                break;
            }
            model_output(s, st, outs, out_locs, &nouts);
            break;
        case ST_LOSS: {
            if (have_loss) {
                sema_err(s, st->loc, "the model has a loss already");
                sema_note(s, loss_loc, "first loss here");
            }
            SVal v = sema_expr(s, st->value);
            if (v.k != SV_ERR && v.k != SV_SCALAR) {
                sema_shape_err(s, st->value->loc,
                               "the loss must be a scalar such as cross_entropy(...) or mse(...), found %s",
                               sema_val_str(s, &v));
            } else if (v.k == SV_SCALAR && !have_loss) {
                m->loss = v.v;
                name_value(s, v.v, "loss");
            }
            if (!have_loss) loss_loc = st->loc;
            have_loss = 1;
            break;
        }
        default:
            sema_err(s, st->loc, "'%s' is only allowed in a %s", stmt_keyword(st->kind),
                     st->kind == ST_SETTING ? "train block" : "cell");
        }
        check_made(s, &k, st->value ? st->value->loc : st->loc);
    }
    if (ninputs == 0) sema_err(s, md->name_loc, "model '%s' has no input", md->name);
    for (int i = 0; i < s->nnames; i++) {
        Name *n = s->names[i];
        if (n->kind == N_TARGET && n->pending)
            sema_err(s, n->loc, "target '%s' is never used (a target is what the loss compares with)", n->name);
        /* After an error a use may have gone unrecorded: no "unused" noise then. */
        else if (n->kind == N_VALUE && !n->used && !n->silent && n->name[0] != '_' && s->d->nerrors == errors_before)
            sema_warn(s, n->loc, "value '%s' is assigned but never used", n->name);
    }
    s->m = NULL;
    s->blk = NULL;
    return m;
}

/* ---- train blocks ----------------------------------------------------------- */

/* Every key and what its value may be are in the table of train_keys.h,
 * which `rnnc train` checks --set overrides with too. */
static void check_setting(Sema *s, const char *key, SrcLoc kloc, const Expr *e)
{
    char msg[512];
    const TrainKey *k = train_key_find(key);
    if (!k) {
        train_key_unknown(key, msg, sizeof msg);
        sema_err(s, kloc, "%s", msg);
        return;
    }
    SrcLoc at;
    if (train_key_check(k, e, &at, msg, sizeof msg)) sema_err(s, at, "%s", msg);
}

/* The setting `key` of train block t with an integer value, or NULL. */
static const Stmt *int_setting(const Decl *t, const char *key, double *v)
{
    for (int i = 0; i < t->nbody; i++) {
        const Stmt *st = t->body[i];
        if (st->kind == ST_SETTING && st->value && !strcmp(st->names[0], key) && train_value_number(st->value, v))
            return st;
    }
    return NULL;
}

/* tbptt_back (k2) against tbptt (k1) and seq_len, at tbptt_back's value:
 * the checks of train_settings_check_back() (driver/train_config.h) that
 * a block alone can fail. */
static void check_tbptt_back(Sema *s, const Decl *t)
{
    double k1 = 0, k2 = 0, len = 0;
    const Stmt *back = int_setting(t, "tbptt_back", &k2);
    if (!back || k2 < 1) return;
    const Stmt *fwd = int_setting(t, "tbptt", &k1), *sl = int_setting(t, "seq_len", &len);
    SrcLoc at = back->value->loc;
    if (!fwd)
        sema_err(s, back->name_locs[0], "tbptt_back needs tbptt, the new steps of each update (tbptt <= tbptt_back)");
    else if (k1 >= 1 && k2 < k1)
        sema_err(s, at,
                 "tbptt_back = %.0f is shorter than tbptt = %.0f: an update back-propagates at least its new steps", k2,
                 k1);
    else if (sl && len >= 1 && k2 > len)
        sema_err(s, at, "tbptt_back = %.0f is longer than seq_len = %.0f", k2, len);
}

static void check_train(Sema *s, const Decl *t, int index)
{
    const Decl *model = NULL;
    for (int i = 0; i < s->p->ndecls; i++) {
        const Decl *d = s->p->decls[i];
        if (d->kind == DECL_MODEL && d->name && strcmp(d->name, t->name) == 0) model = d;
    }
    if (!model) {
        sema_err(s, t->name_loc, "train block names no model: '%s' is not a model", t->name);
    } else {
        for (int i = 0; i < index; i++) {
            const Decl *o = s->p->decls[i];
            if (o->kind == DECL_TRAIN && o->name && strcmp(o->name, t->name) == 0) {
                sema_err(s, t->name_loc, "second train block for model '%s'", t->name);
                sema_note(s, o->name_loc, "first train block here");
                break;
            }
        }
    }
    for (int i = 0; i < t->nbody; i++) {
        const Stmt *st = t->body[i];
        if (st->kind != ST_SETTING) {
            sema_err(s, st->loc, "a train block holds only settings (key = value)");
            continue;
        }
        int dup = 0;
        for (int j = 0; j < i && !dup; j++) {
            const Stmt *o = t->body[j];
            if (o->kind == ST_SETTING && strcmp(o->names[0], st->names[0]) == 0) {
                sema_err(s, st->name_locs[0], "setting '%s' is given twice", st->names[0]);
                sema_note(s, o->name_locs[0], "first given here");
                dup = 1;
            }
        }
        if (!dup && st->value) check_setting(s, st->names[0], st->name_locs[0], st->value);
    }
    check_tbptt_back(s, t);
}

/* ---- declarations ------------------------------------------------------------ */

/* With the element-wise functions of ir/ops.def (ir_op_function). */
static const char *const builtin_names[] = {"rnn",       "lstm",   "gru",           "dense", "embedding", "softmax",
                                            "layernorm", "concat", "split",         "slice", "last",      "mean",
                                            "reverse",   "final",  "cross_entropy", "mse",   "generate",  "dropout"};

static void check_decls(Sema *s)
{
    const Program *p = s->p;
    s->cells = sema_alloc(s, sizeof(CellCheck) * (size_t)(p->ndecls + 1));
    s->ncells = 0;
    for (int i = 0; i < p->ndecls; i++) {
        const Decl *d = p->decls[i];
        if (!d->name || d->kind == DECL_TRAIN) continue;
        for (int j = 0; j < i; j++) {
            const Decl *o = p->decls[j];
            if (o->name && o->kind != DECL_TRAIN && strcmp(o->name, d->name) == 0) {
                sema_err(s, d->name_loc, "redefinition of %s '%s'", d->kind == DECL_CELL ? "cell" : "model", d->name);
                sema_note(s, o->name_loc, "previous definition of '%s' is here", d->name);
                break;
            }
        }
        if (d->kind == DECL_CELL) {
            int builtin = ir_op_function(d->name) != IR_NUM_OPS;
            for (size_t k = 0; k < sizeof builtin_names / sizeof *builtin_names; k++)
                builtin |= strcmp(d->name, builtin_names[k]) == 0;
            if (builtin) sema_err(s, d->name_loc, "cell '%s' has the name of a built-in function", d->name);
            s->cells[s->ncells++].decl = d;
        }
    }
    for (int i = 0; i < s->ncells; i++) sema_check_cell(s, &s->cells[i]);
}

static void sema_init(Sema *s, const Program *p, Diag *d)
{
    memset(s, 0, sizeof *s);
    s->p = p;
    s->d = d;
}

static void verify_debug(IrModule *m)
{
#ifndef NDEBUG
    ir_verify(m, "sema", stderr);
#else
    (void)m;
#endif
}

IrModule *sema_build(const Program *p, const char *model_name, Diag *d)
{
    Sema s;
    if (!p) return NULL;
    sema_init(&s, p, d);
    check_decls(&s);
    for (int i = 0; i < p->ndecls; i++)
        if (p->decls[i]->kind == DECL_TRAIN && p->decls[i]->name) check_train(&s, p->decls[i], i);
    const Decl *model = NULL;
    for (int i = 0; i < p->ndecls && !model; i++) {
        const Decl *dc = p->decls[i];
        if (dc->kind == DECL_MODEL && dc->name && (!model_name || strcmp(dc->name, model_name) == 0)) model = dc;
    }
    IrModule *m = NULL;
    if (!model) {
        SrcLoc none = {0, 0, 1};
        if (model_name)
            sema_err(&s, none, "no model named '%s' in the file", model_name);
        else
            sema_err(&s, none, "the file has no model");
    } else {
        m = build_model(&s, model);
    }
    if (s.nerr && m) {
        ir_free(m);
        m = NULL;
    }
    if (m) verify_debug(m);
    sema_free_mem(&s);
    return m;
}

int sema_check(const Program *p, Diag *d)
{
    Sema s;
    if (!p) return 0;
    sema_init(&s, p, d);
    check_decls(&s);
    for (int i = 0; i < p->ndecls; i++) {
        const Decl *dc = p->decls[i];
        if (dc->kind == DECL_TRAIN && dc->name) check_train(&s, dc, i);
        if (dc->kind != DECL_MODEL || !dc->name) continue;
        int before = s.nerr;
        IrModule *m = build_model(&s, dc);
        if (s.nerr == before) verify_debug(m);
        ir_free(m);
    }
    int n = s.nerr;
    sema_free_mem(&s);
    return n;
}
