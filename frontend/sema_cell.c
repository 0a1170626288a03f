/* sema_cell.c - user-defined cells: checking a cell declaration and
 * building its uses.
 *
 * A cell is checked twice, for two kinds of mistakes:
 *  - once on its own (sema_check_cell), with every size name bound to a
 *    distinct placeholder: names, structure (one `out`, one h' per state)
 *    and the warnings.  Shape errors are not reported there, since the
 *    sizes are made up, and a cell with errors here is never instantiated;
 *  - at every use, with the real sizes: only shape errors, followed by a
 *    note pointing at the use.
 * A use at the model level is one scan whose body is the cell's statements
 * over [B, ...] values: states are carried values, sequence inputs are
 * stepped over, vector inputs are read every step, `out` is the per-step
 * output.  Applied to vectors only, the cell runs one step without a scan. */
#include <math.h>
#include <string.h>

#include "frontend/sema_int.h"

struct CellInst {
    const Decl *decl;
    const char *layer; /* the value's name: parameters are LAYER.NAME */
    const Expr *call;  /* NULL in the generic check               */
    int generic;
    SizeEnv env;
    SVal ret; /* batched [dims]                          */
    int nparams, nstates;
    const Stmt **pst, **sst; /* declarations, in source order           */
    SVal *pval;              /* unbatched parameter values              */
    SVal *sval;              /* batched state descriptions              */
};

int sema_cell_nstates(const CellInst *ci) { return ci->nstates; }
const SVal *sema_cell_ret(const CellInst *ci) { return &ci->ret; }

/* ---- sizes ----------------------------------------------------------------------- */

static void collect_sizes(const Expr *e, const char **names, int *n)
{
    if (!e) return;
    if (e->kind == EX_IDENT) {
        for (int i = 0; i < *n; i++)
            if (strcmp(names[i], e->name) == 0) return;
        if (*n < SEMA_MAX_SIZES) names[(*n)++] = e->name;
        return;
    }
    collect_sizes(e->lhs, names, n);
    collect_sizes(e->rhs, names, n);
}

static void collect_type_sizes(const TypeExpr *t, const char **names, int *n)
{
    if (!t) return;
    for (int i = 0; i < t->ndims; i++) collect_sizes(t->dims[i], names, n);
}

static int cell_sizes(const Decl *c, const char **names)
{
    int n = 0;
    for (int i = 0; i < c->ninputs; i++) collect_type_sizes(c->inputs[i].type, names, &n);
    collect_type_sizes(c->ret, names, &n);
    for (int i = 0; i < c->nbody; i++)
        if (c->body[i]->kind == ST_PARAM || c->body[i]->kind == ST_STATE)
            collect_type_sizes(c->body[i]->type, names, &n);
    return n;
}

static const char *env_str(Sema *s, const SizeEnv *env)
{
    char buf[256] = "";
    for (int i = 0; i < env->n; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof buf - len, "%s%s=%lld", i ? ", " : "", env->name[i], (long long)env->val[i]);
    }
    return sema_fmt(s, "%s", buf);
}

/* ---- parameters ----------------------------------------------------------------------- */

static int init_number(const Expr *e, double *out)
{
    if (e->kind == EX_NUM) {
        *out = e->num;
        return 1;
    }
    if (e->kind == EX_NEG && e->lhs->kind == EX_NUM) {
        *out = -e->lhs->num;
        return 1;
    }
    return 0;
}

static int param_init(Sema *s, const Stmt *st, const int64_t *d, int nd, IrInit *out)
{
    const Expr *e = st->init;
    out->a = 0;
    if (!e) {
        out->kind = nd >= 2 ? IR_INIT_XAVIER : IR_INIT_ZERO;
    } else if (e->kind == EX_IDENT && strcmp(e->name, "zero") == 0) {
        out->kind = IR_INIT_ZERO;
    } else if (e->kind == EX_IDENT && strcmp(e->name, "one") == 0) {
        out->kind = IR_INIT_ONE;
    } else if (e->kind == EX_IDENT && strcmp(e->name, "xavier") == 0) {
        out->kind = IR_INIT_XAVIER;
    } else if (e->kind == EX_IDENT && strcmp(e->name, "orthogonal") == 0) {
        if (nd < 2) {
            sema_err(s, e->loc, "orthogonal init needs a matrix, '%s' is a vector", st->names[0]);
            return 0;
        }
        out->kind = IR_INIT_ORTHOGONAL;
        out->a = 1.0;
    } else if (e->kind == EX_CALL &&
               (strcmp(e->name, "uniform") == 0 || strcmp(e->name, "normal") == 0 || strcmp(e->name, "const") == 0)) {
        double v;
        if (e->nargs != 1 || e->args[0].name || !init_number(e->args[0].value, &v)) {
            sema_err(s, e->loc, "%s(...) takes one number", e->name);
            return 0;
        }
        if (e->name[0] != 'c' && v <= 0) {
            sema_err(s, e->args[0].value->loc, "%s(...) needs a positive number", e->name);
            return 0;
        }
        out->kind = e->name[0] == 'u' ? IR_INIT_UNIFORM : e->name[0] == 'n' ? IR_INIT_NORMAL : IR_INIT_CONST;
        out->a = v;
    } else {
        sema_err(s, e->loc,
                 "unknown init: expected zero, one, xavier, orthogonal, uniform(a), normal(std) or const(v)");
        return 0;
    }
    if (out->kind == IR_INIT_XAVIER) {
        /* torch.nn.init: fan_in = d1 * receptive field, fan_out = d0 * receptive field */
        double rf = 1, fin, fout;
        for (int i = 2; i < nd; i++) rf *= (double)d[i];
        fin = nd >= 2 ? (double)d[1] * rf : (double)d[0];
        fout = (double)d[0] * rf;
        out->a = sqrt(6.0 / (fin + fout));
    }
    return 1;
}

/* ---- prepare: sizes, types, parameters ------------------------------------------------------ */

static int is_reserved_arg(const char *name, int gen)
{
    if (strcmp(name, "init") == 0) return 1;
    return gen && (strcmp(name, "steps") == 0 || strcmp(name, "feedback") == 0);
}

/* Binds a dimension expression that is a bare name to the size found. */
static void bind_dims(const TypeExpr *t, const SVal *v, SizeEnv *env)
{
    if (v->nd != t->ndims) return;
    for (int i = 0; i < t->ndims; i++) {
        int64_t old;
        const Expr *e = t->dims[i];
        if (e->kind == EX_IDENT && !sema_size_env_get(env, e->name, &old)) sema_size_env_set(env, e->name, v->d[i]);
    }
}

static CellInst *prepare(Sema *s, const Decl *c, const Expr *call, const char *name, const SVal *inputs,
                         const SrcLoc *in_locs, int ninputs, int gen, int generic)
{
    CellCheck *cc = sema_cell_check_of(s, c);
    if (!cc || cc->bad) return NULL;
    CellInst *ci = sema_alloc(s, sizeof *ci);
    ci->decl = c;
    ci->layer = name;
    ci->call = call;
    ci->generic = generic;
    const char *sizes[SEMA_MAX_SIZES];
    int nsizes = cell_sizes(c, sizes), ok = 1, before = s->nerr;
    SrcLoc call_loc = call ? call->loc : c->name_loc;

    if (ninputs != c->ninputs) {
        sema_err(s, call_loc, "cell '%s' takes %d input%s, found %d", c->name, c->ninputs, c->ninputs == 1 ? "" : "s",
                 ninputs);
        return NULL;
    }
    if (generic) {
        /* distinct primes: sizes that must agree for every choice agree here */
        static const int64_t primes[] = {1009, 1013, 1019, 1021, 1031, 1033, 1039, 1049, 1051, 1061, 1063, 1069};
        for (int i = 0; i < nsizes; i++) sema_size_env_set(&ci->env, sizes[i], primes[i % 12] + 100 * (i / 12));
    }
    for (int i = 0; call && i < call->nargs; i++) {
        const Arg *a = &call->args[i];
        if (!a->name || is_reserved_arg(a->name, gen)) continue;
        int known = 0;
        for (int j = 0; j < nsizes; j++) known |= strcmp(sizes[j], a->name) == 0;
        int64_t v;
        if (!known) {
            char list[256] = "";
            for (int j = 0; j < nsizes; j++) {
                size_t len = strlen(list);
                snprintf(list + len, sizeof list - len, "%s%s", j ? ", " : "", sizes[j]);
            }
            sema_err(s, a->loc, "unknown argument '%s' for cell '%s'%s%s%s", a->name, c->name,
                     nsizes ? " (its sizes are " : "", list, nsizes ? ")" : "");
            ok = 0;
        } else if (sema_pos_int_arg(s, a, &v)) {
            sema_size_env_set(&ci->env, a->name, v);
        } else
            ok = 0;
    }
    for (int i = 0; i < ninputs; i++) {
        if (inputs[i].k != SV_VEC) {
            if (inputs[i].k != SV_ERR)
                sema_shape_err(s, in_locs[i],
                               "input '%s' of cell '%s' must be a vector or a sequence of vectors, found %s",
                               c->inputs[i].name, c->name, sema_val_str(s, &inputs[i]));
            ok = 0;
            continue;
        }
        bind_dims(c->inputs[i].type, &inputs[i], &ci->env);
    }
    if (!ok) return NULL;

    int saved_quiet = s->quiet_names;
    s->quiet_names = !generic;
    for (int i = 0; i < ninputs && ok; i++) {
        int64_t d[IR_MAX_RANK];
        int nd;
        const TypeExpr *t = c->inputs[i].type;
        if (t->kind != TY_VEC) {
            sema_err(s, t->loc, "a cell input is a vector type [dims]");
            ok = 0;
        } else if (!sema_type_dims(s, t, &ci->env, d, &nd)) {
            ok = 0;
        } else {
            SVal want = sema_vec(nd, d, 1);
            if (!sema_dims_eq(&want, &inputs[i])) {
                s->quiet_names = 0;
                sema_shape_err(s, in_locs[i], "input '%s' of cell '%s' is %s, found %s", c->inputs[i].name, c->name,
                               sema_val_str(s, &want), sema_val_str(s, &inputs[i]));
                s->quiet_names = !generic;
                ok = 0;
            }
        }
    }
    int64_t d[IR_MAX_RANK];
    int nd;
    if (ok && c->ret) {
        if (c->ret->kind != TY_VEC) {
            sema_err(s, c->ret->loc, "a cell returns a vector type [dims]");
            ok = 0;
        } else if (sema_type_dims(s, c->ret, &ci->env, d, &nd)) {
            ci->ret = sema_vec(nd, d, 1);
        } else
            ok = 0;
    }
    ci->pst = sema_alloc(s, sizeof(Stmt *) * (size_t)(c->nbody + 1));
    ci->sst = sema_alloc(s, sizeof(Stmt *) * (size_t)(c->nbody + 1));
    ci->pval = sema_alloc(s, sizeof(SVal) * (size_t)(c->nbody + 1));
    ci->sval = sema_alloc(s, sizeof(SVal) * (size_t)(c->nbody + 1));
    int typed = ok; /* report every bad param and state, but only once the sizes are known */
    for (int i = 0; i < c->nbody && typed; i++) {
        const Stmt *st = c->body[i];
        if (st->kind != ST_PARAM && st->kind != ST_STATE) continue;
        if (st->type->kind != TY_VEC) {
            sema_err(s, st->type->loc, "a %s has a vector or matrix type [dims]",
                     st->kind == ST_PARAM ? "param" : "state");
            ok = 0;
            continue;
        }
        if (!sema_type_dims(s, st->type, &ci->env, d, &nd)) {
            ok = 0;
            continue;
        }
        if (st->kind == ST_STATE) {
            ci->sst[ci->nstates] = st;
            ci->sval[ci->nstates++] = sema_vec(nd, d, 1);
            continue;
        }
        IrInit init;
        if (!param_init(s, st, d, nd, &init)) {
            ok = 0;
            continue;
        }
        SVal pv = sema_vec(nd, d, 0);
        int64_t pd[IR_MAX_RANK];
        for (int k = 0; k < nd; k++) pd[k] = d[k];
        pv.v = ir_add_param(s->m, ir_strdup(s->m, sema_fmt(s, "%s.%s", name, st->names[0])), ir_type(IR_F32, nd, pd),
                            init);
        ci->pst[ci->nparams] = st;
        ci->pval[ci->nparams++] = pv;
    }
    s->quiet_names = saved_quiet;
    if (!ok || s->nerr != before) {
        if (!generic && s->nerr != before)
            sema_note(s, call_loc, "in cell '%s' used here%s%s", c->name, ci->env.n ? " with " : "",
                      env_str(s, &ci->env));
        return NULL;
    }
    return ci;
}

CellInst *sema_cell_prepare(Sema *s, const Decl *c, const Expr *call, const char *name, const SVal *inputs,
                            const SrcLoc *in_locs, int ninputs, int gen)
{
    return prepare(s, c, call, name, inputs, in_locs, ninputs, gen, 0);
}

/* ---- initial states --------------------------------------------------------------------------- */

static int declared_init(Sema *s, CellInst *ci, int i, IrValue **out)
{
    const Stmt *st = ci->sst[i];
    const SVal *sv = &ci->sval[i];
    const Expr *e = st->value;
    double num;
    if (!e) {
        *out = ir_const(s->m, s->blk, 0.0, sema_ir_type(sv));
    } else if (init_number(e, &num)) {
        *out = ir_const(s->m, s->blk, num, sema_ir_type(sv));
    } else if (e->kind == EX_IDENT) {
        int p = -1;
        for (int k = 0; k < ci->nparams; k++)
            if (strcmp(ci->pst[k]->names[0], e->name) == 0) p = k;
        if (p < 0) {
            sema_err(s, e->loc, "the initial value of state '%s' must be a number or a param, '%s' is neither",
                     st->names[0], e->name);
            return 0;
        }
        if (!sema_dims_eq(&ci->pval[p], sv)) {
            sema_shape_err(s, e->loc, "state '%s' is %s but its initial value '%s' is %s", st->names[0],
                           sema_val_str(s, sv), e->name, sema_val_str(s, &ci->pval[p]));
            return 0;
        }
        *out = sema_batched(s, &ci->pval[p]);
        return 1;
    } else {
        sema_err(s, e->loc, "the initial value of state '%s' must be a number or a param", st->names[0]);
        return 0;
    }
    if ((*out)->def) (*out)->def->origin = s->origin;
    return 1;
}

int sema_cell_initial_states(Sema *s, CellInst *ci, const Expr *call, IrValue **init)
{
    const Decl *c = ci->decl;
    InitSpec in;
    memset(&in, 0, sizeof in);
    if (call) in = sema_parse_init(s, call);
    if (in.bad) return 0;
    if (in.k == INIT_LEARNED) {
        sema_err(s, in.loc, "init=learned is for built-in layers; a cell gives its states' initial values itself");
        return 0;
    }
    if (in.k == INIT_LAYER) {
        const Layer *f = in.from;
        if (f->cell != c) {
            sema_shape_err(s, in.loc, "init=%s: %s, but '%s' is a '%s' cell", f->name, sema_layer_desc(s, f), ci->layer,
                           c->name);
            return 0;
        }
        for (int i = 0; i < ci->nstates; i++) {
            if (!sema_dims_eq(&f->state_vals[i], &ci->sval[i])) {
                sema_shape_err(s, in.loc, "init=%s: state '%s' is %s there but %s here", f->name, f->state_names[i],
                               sema_val_str(s, &f->state_vals[i]), sema_val_str(s, &ci->sval[i]));
                return 0;
            }
            init[i] = f->final[i];
        }
        return 1;
    }
    int saved = s->quiet_names, ok = 1;
    s->quiet_names = !ci->generic;
    for (int i = 0; i < ci->nstates; i++) ok &= declared_init(s, ci, i, &init[i]);
    s->quiet_names = saved;
    if (!ok) return 0;
    if (in.k == INIT_VALUE) {
        if (ci->nstates == 0) {
            sema_err(s, in.loc, "cell '%s' has no state to initialize", c->name);
            return 0;
        }
        if (in.val.k != SV_VEC || !sema_dims_eq(&in.val, &ci->sval[0])) {
            sema_shape_err(s, in.loc, "init= value is %s but state '%s' is %s", sema_val_str(s, &in.val),
                           ci->sst[0]->names[0], sema_val_str(s, &ci->sval[0]));
            return 0;
        }
        init[0] = sema_batched(s, &in.val);
    }
    return 1;
}

/* ---- the body: one step --------------------------------------------------------------------------- */

static Name *state_of(Sema *s, const char *name)
{
    Name *n = sema_lookup(s, name);
    return n && n->kind == N_STATE ? n : NULL;
}

static void assign_next(Sema *s, const Stmt *st, int i, SVal v)
{
    const char *nm = st->names[i];
    Name *sn = state_of(s, nm);
    if (!sn) {
        sema_err(s, st->name_locs[i], "'%s' is not a state: only a state has a next value %s'", nm, nm);
        return;
    }
    const char *pn = sema_fmt(s, "%s'", nm);
    Name *old = sema_lookup(s, pn);
    if (old) {
        sema_err(s, st->name_locs[i], "state '%s' gets a next value twice", nm);
        sema_note(s, old->loc, "first assigned here");
        return;
    }
    Name *n = sema_define(s, pn, st->name_locs[i], N_NEXT);
    sn->has_next = 1;
    n->used = 1;
    if (v.k == SV_ERR) return;
    if (v.k == SV_NUM) {
        v.v = sema_materialize(s, v, &sn->val);
        v.nd = sn->val.nd;
        for (int k = 0; k < v.nd; k++) v.d[k] = sn->val.d[k];
        v.k = SV_VEC;
        v.batched = 1;
    }
    if (v.k != SV_VEC || !sema_dims_eq(&v, &sn->val)) {
        sema_shape_err(s, st->value ? st->value->loc : st->loc,
                       "the next value of state '%s' is %s but the state is %s", nm, sema_val_str(s, &v),
                       sema_val_str(s, &sn->val));
        return;
    }
    v.v = sema_batched(s, &v);
    v.batched = 1;
    n->val = v;
}

static void cell_assign(Sema *s, const Stmt *st)
{
    SVal vals[16];
    int nn = st->nnames;
    if (nn > 16) {
        sema_err(s, st->loc, "too many names on the left (at most 16)");
        return;
    }
    if (nn > 1)
        sema_split_assign(s, st, vals);
    else
        vals[0] = sema_expr(s, st->value);
    for (int i = 0; i < nn; i++) {
        if (st->primed && st->primed[i]) {
            assign_next(s, st, i, vals[i]);
            continue;
        }
        Name *n = sema_define(s, st->names[i], st->name_locs[i], N_VALUE);
        if (n) n->val = vals[i];
        if (n && vals[i].v && !vals[i].v->name) vals[i].v->name = ir_strdup(s->m, n->name);
    }
}

int sema_cell_step(Sema *s, CellInst *ci, const SVal *inputs, IrValue **states, IrValue **next, SVal *out)
{
    const Decl *c = ci->decl;
    int saved_n = s->nnames, saved_base = s->scope_base, saved_cell = s->in_cell, saved_quiet = s->quiet_names;
    int before = s->nerr, good = 1;
    const Stmt *out_st = NULL;
    SVal outv = sema_err_val();

    const SizeEnv *saved_sizes = s->sizes;
    s->scope_base = s->nnames;
    s->in_cell = 1;
    s->sizes = &ci->env;
    s->quiet_names = !ci->generic;
    for (int i = 0; i < c->ninputs; i++) {
        Name *n = sema_define(s, c->inputs[i].name, c->inputs[i].loc, N_VALUE);
        if (n) {
            n->val = inputs[i];
            n->used = 1;
        }
    }
    int np = 0, nst = 0;
    for (int i = 0; i < c->nbody; i++) {
        const Stmt *st = c->body[i];
        if (st->kind != ST_PARAM && st->kind != ST_STATE) continue;
        Name *n = sema_define(s, st->names[0], st->name_locs[0], st->kind == ST_PARAM ? N_PARAM : N_STATE);
        if (!n) continue;
        if (st->kind == ST_PARAM) {
            n->val = ci->pval[np++];
            /* a param that gives a state its initial value is used */
            for (int k = 0; k < c->nbody; k++) {
                const Stmt *o = c->body[k];
                if (o->kind == ST_STATE && o->value && o->value->kind == EX_IDENT &&
                    strcmp(o->value->name, n->name) == 0)
                    n->used = 1;
            }
        } else {
            n->val = ci->sval[nst];
            n->val.v = states[nst++];
        }
    }
    for (int i = 0; i < c->nbody; i++) {
        const Stmt *st = c->body[i];
        switch (st->kind) {
        case ST_PARAM:
        case ST_STATE: break;
        case ST_ASSIGN: cell_assign(s, st); break;
        case ST_OUT:
            if (out_st) {
                sema_err(s, st->loc, "a cell has one 'out'");
                sema_note(s, out_st->loc, "first 'out' here");
                break;
            }
            out_st = st;
            outv = sema_expr(s, st->value);
            break;
        default:
            sema_err(s, st->loc, "this statement is not allowed in a cell (only param, state, assignments and out)");
        }
    }
    if (!out_st) {
        sema_err(s, c->name_loc, "cell '%s' has no 'out' statement", c->name);
        good = 0;
    } else if (outv.k == SV_ERR) {
        good = 0;
    } else {
        if (outv.k == SV_NUM) {
            outv.v = sema_materialize(s, outv, &ci->ret);
            outv = (SVal){.k = SV_VEC, .batched = 1, .nd = ci->ret.nd, .v = outv.v};
            for (int k = 0; k < ci->ret.nd; k++) outv.d[k] = ci->ret.d[k];
        }
        if (outv.k != SV_VEC || !sema_dims_eq(&outv, &ci->ret)) {
            sema_shape_err(s, out_st->value->loc, "cell '%s' returns %s but 'out' is %s", c->name,
                           sema_val_str(s, &ci->ret), sema_val_str(s, &outv));
            good = 0;
        } else {
            outv.v = sema_batched(s, &outv);
            outv.batched = 1;
        }
    }
    /* next values: h' if assigned, else the state itself; warnings */
    for (int i = s->scope_base; i < s->nnames; i++) {
        Name *n = s->names[i];
        if (n->kind == N_PARAM && !n->used)
            sema_warn(s, n->loc, "parameter '%s' is never used", n->name);
        else if (n->kind == N_VALUE && !n->used && n->name[0] != '_')
            sema_warn(s, n->loc, "value '%s' is assigned but never used", n->name);
    }
    for (int i = 0; i < ci->nstates; i++) {
        const char *nm = ci->sst[i]->names[0];
        Name *sn = NULL, *nx = NULL;
        for (int k = s->scope_base; k < s->nnames; k++) {
            if (s->names[k]->kind == N_STATE && strcmp(s->names[k]->name, nm) == 0) sn = s->names[k];
            if (s->names[k]->kind == N_NEXT && strncmp(s->names[k]->name, nm, strlen(nm)) == 0 &&
                strcmp(s->names[k]->name + strlen(nm), "'") == 0)
                nx = s->names[k];
        }
        if (sn && !sn->has_next)
            sema_warn(s, sn->loc, "state '%s' never changes (it has no %s' = ... assignment)", nm, nm);
        if (nx) {
            if (nx->val.k == SV_ERR) good = 0;
            next[i] = nx->val.v;
        } else {
            next[i] = states[i];
        }
    }
    if (s->nerr != before) good = 0;
    if (!ci->generic && s->nerr != before) {
        s->quiet_names = 0;
        sema_note(s, ci->call ? ci->call->loc : c->name_loc, "in cell '%s' used here with %s", c->name,
                  env_str(s, &ci->env));
    }
    s->nnames = saved_n;
    s->scope_base = saved_base;
    s->in_cell = saved_cell;
    s->sizes = saved_sizes;
    s->quiet_names = saved_quiet;
    *out = outv;
    return good && outv.k != SV_ERR;
}

Layer *sema_cell_layer(Sema *s, CellInst *ci, IrValue **final)
{
    Layer *ly = sema_alloc(s, sizeof *ly);
    ly->name = ci->layer;
    ly->kind = ci->decl->name;
    ly->cell = ci->decl;
    ly->L = ly->D = 1;
    ly->ns = ci->nstates;
    ly->state_names = sema_alloc(s, sizeof(char *) * (size_t)(ci->nstates + 1));
    ly->state_vals = ci->sval;
    ly->final = sema_alloc(s, sizeof(IrValue *) * (size_t)(ci->nstates + 1));
    for (int i = 0; i < ci->nstates; i++) {
        ly->state_names[i] = ci->sst[i]->names[0];
        ly->final[i] = final[i];
    }
    return ly;
}

/* ---- a use at the model level ------------------------------------------------------------------------- */

SVal sema_cell_call(Sema *s, const Decl *c, const Expr *e, const char *name, Layer **layer_out)
{
    SVal in[32], step[32];
    SrcLoc locs[32];
    int n = 0, bad = 0;
    int64_t t = 0;
    int have_seq = 0;
    for (int i = 0; i < e->nargs; i++) {
        if (e->args[i].name) continue;
        if (n == 32) {
            sema_err(s, e->args[i].loc, "too many inputs");
            return sema_err_val();
        }
        locs[n] = e->args[i].value->loc;
        in[n] = sema_expr(s, e->args[i].value);
        if (in[n].k == SV_ERR) bad = 1;
        step[n] = in[n];
        if (in[n].k == SV_SEQ) {
            if (have_seq && in[n].t != t) {
                sema_shape_err(s, locs[n], "the sequences given to '%s' have different lengths: %s vs %s", c->name,
                               sema_len_str(s, t), sema_len_str(s, in[n].t));
                bad = 1;
            }
            have_seq = 1;
            t = in[n].t;
            step[n].k = SV_VEC;
            step[n].batched = 1;
        }
        n++;
    }
    if (bad) return sema_err_val();
    CellInst *ci = prepare(s, c, e, name, step, locs, n, 0, 0);
    if (!ci) return sema_err_val();
    const char *origin = s->origin;
    s->origin = ir_strdup(s->m, sema_fmt(s, "%s: %s", name, c->name));
    IrValue **init = sema_alloc(s, sizeof(IrValue *) * (size_t)(ci->nstates + 1));
    IrValue **next = sema_alloc(s, sizeof(IrValue *) * (size_t)(ci->nstates + 2));
    if (!sema_cell_initial_states(s, ci, e, init)) {
        s->origin = origin;
        return sema_err_val();
    }
    SVal out, r;
    if (!have_seq) {
        for (int i = 0; i < n; i++) {
            step[i].v = sema_batched(s, &step[i]);
            step[i].batched = 1;
        }
        int good = sema_cell_step(s, ci, step, init, next, &out);
        s->origin = origin;
        if (!good) return sema_err_val();
        *layer_out = sema_cell_layer(s, ci, next);
        return out;
    }
    IrValue *seqs[33]; /* and the mask */
    int nseq = 0;
    for (int i = 0; i < n; i++) {
        if (in[i].k == SV_SEQ)
            seqs[nseq++] = in[i].v;
        else {
            step[i].v = sema_batched(s, &step[i]);
            step[i].batched = 1;
        }
    }
    IrValue *mask = sema_mask_of(s, t);
    if (mask) seqs[nseq] = mask;
    IrOp *scan = ir_scan_begin(s->m, s->blk, init, ci->nstates, seqs, nseq + (mask != NULL), 0, 0);
    scan->origin = s->origin;
    for (int i = 0; i < ci->nstates; i++) /* dumps show %h, %c, not %17 */
        scan->body->args[i]->name = ir_strdup(s->m, ci->sst[i]->names[0]);
    IrBlock *outer = s->blk;
    s->blk = scan->body;
    for (int i = 0, k = 0; i < n; i++)
        if (in[i].k == SV_SEQ) step[i].v = scan->body->args[ci->nstates + k++];
    int good = sema_cell_step(s, ci, step, scan->body->args, next, &out);
    s->blk = outer;
    s->origin = origin;
    if (!good) return sema_err_val();
    next[ci->nstates] = out.v;
    if (mask) {
        const char *o = s->origin;
        s->origin = scan->origin;
        s->blk = scan->body;
        sema_mask_step(s, scan->body->args[ci->nstates + nseq], scan->body->args, next, ci->nstates,
                       &next[ci->nstates]);
        s->blk = outer;
        s->origin = o;
    }
    ir_scan_finish(s->m, scan, next, ci->nstates, 1);
    *layer_out = sema_cell_layer(s, ci, scan->results);
    r = ci->ret;
    r.k = SV_SEQ;
    r.batched = 0;
    r.t = t;
    r.v = scan->results[ci->nstates];
    return r;
}

/* ---- the generic check of a declaration ------------------------------------------------------------------- */

void sema_check_cell(Sema *s, CellCheck *cc)
{
    const Decl *c = cc->decl;
    IrModule *saved_m = s->m;
    IrBlock *saved_blk = s->blk;
    int saved_n = s->nnames, saved_base = s->scope_base, before = s->nerr;
    IrModule *m = ir_module_new("cell");
    s->m = m;
    s->blk = m->body;
    s->quiet_shape = 1;
    s->scope_base = s->nnames;

    SizeEnv env = {0};
    const char *sizes[SEMA_MAX_SIZES];
    int nsizes = cell_sizes(c, sizes);
    static const int64_t primes[] = {1009, 1013, 1019, 1021, 1031, 1033, 1039, 1049, 1051, 1061, 1063, 1069};
    for (int i = 0; i < nsizes; i++) sema_size_env_set(&env, sizes[i], primes[i % 12] + 100 * (i / 12));
    SVal *in = sema_alloc(s, sizeof(SVal) * (size_t)(c->ninputs + 1));
    SrcLoc *locs = sema_alloc(s, sizeof(SrcLoc) * (size_t)(c->ninputs + 1));
    int ok = 1;
    for (int i = 0; i < c->ninputs; i++) {
        int64_t d[IR_MAX_RANK];
        int nd;
        locs[i] = c->inputs[i].loc;
        if (c->inputs[i].type->kind != TY_VEC) {
            sema_err(s, c->inputs[i].type->loc, "a cell input is a vector type [dims]");
            ok = 0;
            continue;
        }
        if (!sema_type_dims(s, c->inputs[i].type, &env, d, &nd)) {
            ok = 0;
            continue;
        }
        in[i] = sema_vec(nd, d, 1);
        in[i].v = ir_add_input(m, "x", sema_ir_type(&in[i]));
    }
    if (!c->ret) {
        sema_err(s, c->name_loc, "cell '%s' needs a return type: cell %s(x: [I]) -> [H]", c->name, c->name);
        ok = 0;
    }
    if (ok) {
        cc->bad = 0; /* prepare() refuses bad cells */
        CellInst *ci = prepare(s, c, NULL, c->name, in, locs, c->ninputs, 0, 1);
        IrValue **init = ci ? sema_alloc(s, sizeof(IrValue *) * (size_t)(ci->nstates + 1)) : NULL;
        IrValue **next = ci ? sema_alloc(s, sizeof(IrValue *) * (size_t)(ci->nstates + 1)) : NULL;
        SVal out;
        if (ci && sema_cell_initial_states(s, ci, NULL, init)) sema_cell_step(s, ci, in, init, next, &out);
    }
    cc->bad = s->nerr != before;
    ir_free(m);
    s->m = saved_m;
    s->blk = saved_blk;
    s->quiet_shape = 0;
    s->nnames = saved_n;
    s->scope_base = saved_base;
}
