/* sema_shape.c - dimension expressions ([3H, I], [2*H + 1]), the
 * source-level description of values (SVal) and how it maps to IR types,
 * and the text of types in messages ("[6]", "seq<[4]>"). */
#include <stdio.h>
#include <string.h>

#include "frontend/sema_int.h"

int sema_size_env_get(const SizeEnv *env, const char *name, int64_t *out)
{
    if (!env) return 0;
    for (int i = 0; i < env->n; i++)
        if (strcmp(env->name[i], name) == 0) {
            *out = env->val[i];
            return 1;
        }
    return 0;
}

void sema_size_env_set(SizeEnv *env, const char *name, int64_t v)
{
    for (int i = 0; i < env->n; i++)
        if (strcmp(env->name[i], name) == 0) {
            env->val[i] = v;
            return;
        }
    if (env->n < SEMA_MAX_SIZES) {
        env->name[env->n] = name;
        env->val[env->n++] = v;
    }
}

int sema_is_int_num(const Expr *e, int64_t *out)
{
    if (e && e->kind == EX_NUM && e->is_int) {
        /* a literal past int64 saturates (the cast would be undefined):
         * the callers' limits reject it */
        *out = e->num >= 0x1p63 ? INT64_MAX : e->num < -0x1p63 ? INT64_MIN : (int64_t)e->num;
        return 1;
    }
    return 0;
}

#define DIM_LIMIT SEMA_SIZE_LIMIT

int sema_check_numel(Sema *s, SrcLoc loc, const char *cause, const char *what, const int64_t *d, int nd)
{
    /* in double: exact below 2^53, and it cannot wrap */
    double n = 1;
    for (int i = 0; i < nd; i++)
        if (d[i] >= 0) n *= (double)d[i];
    if (n < (double)SEMA_SIZE_LIMIT) return 1;
    char buf[200];
    size_t len = 0;
    buf[len++] = '[';
    for (int i = 0; i < nd && len < sizeof buf - 32; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "",
                                d[i] == IR_DIM_B ? "B"
                                : d[i] < 0       ? "T"
                                                 : sema_fmt(s, "%lld", (long long)d[i]));
    buf[len++] = ']';
    buf[len] = 0;
    sema_shape_err(s, loc, "%s%s%s %s has %.4g elements, more than a tensor may have (2^40 - 1)", cause ? cause : "",
                   cause ? ": " : "", what, buf, n);
    return 0;
}

int64_t sema_eval_dim(Sema *s, const Expr *e, const SizeEnv *env)
{
    int64_t a, b, v;
    switch (e->kind) {
    case EX_NUM:
        if (!e->is_int || e->num < 0) {
            sema_shape_err(s, e->loc, "a dimension must be a whole number, found %g", e->num);
            return -1;
        }
        if (e->num >= (double)DIM_LIMIT) {
            sema_shape_err(s, e->loc, "dimension %.17g is too large (at most 2^40 - 1)", e->num);
            return -1;
        }
        return (int64_t)e->num;
    case EX_IDENT:
        if (sema_size_env_get(env, e->name, &v)) return v;
        sema_shape_err(s, e->loc, "unknown size '%s'", e->name);
        return -1;
    case EX_NEG: sema_shape_err(s, e->loc, "a dimension cannot be negative"); return -1;
    case EX_BINOP:
        if (e->op == '@') break;
        a = sema_eval_dim(s, e->lhs, env);
        b = sema_eval_dim(s, e->rhs, env);
        if (a < 0 || b < 0) return -1;
        switch (e->op) {
        case '+': v = a + b; break;
        case '-': v = a - b; break;
        case '*': v = (a && b > DIM_LIMIT / a) ? DIM_LIMIT : a * b; break;
        default:
            if (b == 0 || a % b != 0) {
                sema_shape_err(s, e->loc, "size %lld is not divisible by %lld", (long long)a, (long long)b);
                return -1;
            }
            v = a / b;
        }
        if (v < 0 || v >= DIM_LIMIT) {
            sema_shape_err(s, e->loc, "dimension out of range (%lld)", (long long)v);
            return -1;
        }
        return v;
    default: break;
    }
    sema_shape_err(s, e->loc, "a dimension must be a number, a size name or +, -, * of them");
    return -1;
}

int sema_type_dims(Sema *s, const TypeExpr *t, const SizeEnv *env, int64_t *dims, int *nd)
{
    int ok = 1;
    *nd = 0;
    if (t->ndims > IR_MAX_RANK - 1 || (t->kind == TY_SEQ_VEC && t->ndims > IR_MAX_RANK - 2)) {
        sema_err(s, t->loc, "too many dimensions (at most %d)",
                 t->kind == TY_SEQ_VEC ? IR_MAX_RANK - 2 : IR_MAX_RANK - 1);
        return 0;
    }
    for (int i = 0; i < t->ndims; i++) {
        int64_t v = sema_eval_dim(s, t->dims[i], env);
        if (v < 0) {
            ok = 0;
            continue;
        }
        if (v == 0) {
            sema_shape_err(s, t->dims[i]->loc, "a dimension must be positive, found 0");
            ok = 0;
            continue;
        }
        dims[(*nd)++] = v;
    }
    /* A cell's generic check has placeholder sizes: its uses check theirs. */
    if (ok && !s->quiet_shape && !sema_check_numel(s, t->loc, NULL, "type", dims, *nd)) ok = 0;
    return ok;
}

SVal sema_err_val(void)
{
    SVal v;
    memset(&v, 0, sizeof v);
    v.k = SV_ERR;
    return v;
}

SVal sema_vec(int nd, const int64_t *d, int batched)
{
    SVal v = sema_err_val();
    v.k = SV_VEC;
    v.nd = nd;
    v.batched = batched;
    for (int i = 0; i < nd; i++) v.d[i] = d[i];
    return v;
}

int sema_dims_eq(const SVal *a, const SVal *b)
{
    if (a->nd != b->nd) return 0;
    for (int i = 0; i < a->nd; i++)
        if (a->d[i] != b->d[i]) return 0;
    return 1;
}

IrType sema_ir_type(const SVal *v)
{
    IrType t;
    memset(&t, 0, sizeof t);
    t.dtype = IR_F32;
    int r = 0;
    switch (v->k) {
    case SV_SEQ:
    case SV_SEQ_INT:
    case SV_STATES:
        t.dim[r++] = v->t;
        t.dim[r++] = IR_DIM_B;
        break;
    case SV_INT: t.dim[r++] = IR_DIM_B; break;
    case SV_VEC:
        if (v->batched) t.dim[r++] = IR_DIM_B;
        break;
    default: break;
    }
    if (v->k == SV_INT || v->k == SV_SEQ_INT)
        t.dtype = IR_I64;
    else if (v->k != SV_SCALAR)
        for (int i = 0; i < v->nd && r < IR_MAX_RANK; i++) t.dim[r++] = v->d[i];
    t.rank = r;
    return t;
}

const char *sema_dims_str(Sema *s, const int64_t *d, int nd)
{
    char buf[160];
    size_t n = 0;
    buf[n++] = '[';
    for (int i = 0; i < nd && n < sizeof buf - 24; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%lld", i ? ", " : "", (long long)d[i]);
    buf[n++] = ']';
    buf[n] = 0;
    return sema_fmt(s, "%s", buf);
}

const char *sema_len_str(Sema *s, int64_t t)
{
    if (t >= 0) return sema_fmt(s, "%lld", (long long)t);
    int k = (int)(-t - 1);
    if (s->m && k < s->m->nsyms && s->m->syms[k].name) return s->m->syms[k].name;
    return "?";
}

const char *sema_val_str(Sema *s, const SVal *v)
{
    switch (v->k) {
    case SV_ERR: return "an erroneous value";
    case SV_NUM: return "a number";
    case SV_VEC: return sema_dims_str(s, v->d, v->nd);
    case SV_INT: return "int";
    case SV_SEQ: return sema_fmt(s, "seq<%s>", sema_dims_str(s, v->d, v->nd));
    case SV_SEQ_INT: return "seq<int>";
    case SV_STATES:
        return sema_fmt(s, "final states [%lld, B, %lld]", (long long)v->t, (long long)(v->nd ? v->d[0] : 0));
    case SV_SCALAR: return "a loss";
    }
    return "?";
}
