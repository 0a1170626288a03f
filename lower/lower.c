/* lower.c - graph IR to kernel IR (lower.h): the module's arguments and
 * results as buffers, the walk over the body, and the copies into result
 * buffers of outputs that were not computed in place.  The ops are in
 * lower_ops.c and lower_kernels.c, scans in lower_scan.c, places and maps
 * in lower_place.c, the packing of loop-invariant GEMM operands (the last
 * step) in lower_pack.c. */
#include <stdio.h>
#include <stdlib.h>

#include "lower/lower_int.h"

static void count_uses(Lower *L, const IrBlock *b)
{
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        for (int k = 0; k < op->noperands; k++) {
            L->uses[op->operands[k]->id]++;
            L->user[op->operands[k]->id] = op;
        }
        if (op->kind == IR_SCAN && op->body) count_uses(L, op->body);
    }
    for (int k = 0; k < b->nyields; k++) L->uses[b->yields[k]->id]++;
}

/* A concat's parts computed in this block for it alone are written
 * straight into its columns: the concat's place is fixed before its parts
 * are lowered and each part gets its column range as destination, so the
 * concat itself copies only what came from elsewhere (a view, an
 * argument, a scan's result).  The gate gradients of an LSTM are four
 * such parts. */
static void place_concat_parts(Lower *L, const IrBlock *b)
{
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        if (op->kind != IR_CONCAT) continue;
        int rr = op->results[0]->type.rank, direct = 0;
        for (int k = 0; k < op->noperands; k++) {
            const IrValue *a = op->operands[k];
            direct += a->kind == IR_VAL_OP && a->def->parent == b && a->def->kind != IR_SCAN && L->uses[a->id] == 1 &&
                      L->dest[a->id].kind == PL_NONE;
        }
        if (!direct) continue;
        Place o = lw_out(L, op->results[0], lw_origin(L, op));
        const KExpr *col = kexpr_const(L->f, 0);
        for (int k = 0; k < op->noperands; k++) {
            const IrValue *a = op->operands[k];
            if (a->kind == IR_VAL_OP && a->def->parent == b && a->def->kind != IR_SCAN && L->uses[a->id] == 1 &&
                L->dest[a->id].kind == PL_NONE) {
                Place d = o;
                d.v.off = kexpr_bin(L->f, KE_ADD, o.v.off, kexpr_bin(L->f, KE_MUL, col, o.st[rr - 1]));
                L->dest[a->id] = d;
            }
            col = kexpr_bin(L->f, KE_ADD, col, lw_last(L, &a->type));
        }
    }
}

int lower_block(Lower *L, const IrBlock *b)
{
    place_concat_parts(L, b);
    for (int i = 0; i < b->nops; i++) {
        if (lower_op(L, b->ops[i])) return -1;
        if (L->bad)
            return ir_errf(L->err, L->errlen, "lower: internal error: %s at %s", L->bad, lw_origin(L, b->ops[i]));
    }
    return 0;
}

static void add_arg(Lower *L, const char *name, const IrValue *v, const char *kind)
{
    char what[160];
    KBuf *b = kfunc_buf(L->f, name, v->type.dtype, lw_numel(L, &v->type), KB_ARG);
    b->ext_name = kfunc_strdup(L->f, name);
    snprintf(what, sizeof what, "%s %s", kind, name);
    b->what = kfunc_strdup(L->f, what);
    L->pl[v->id] = lw_contig(L, b, kexpr_const(L->f, 0), &v->type);
}

static Place add_result(Lower *L, const char *name, const IrValue *v, const char *kind)
{
    char what[160];
    KBuf *b = kfunc_buf(L->f, name, v->type.dtype, lw_numel(L, &v->type), KB_RESULT);
    b->ext_name = kfunc_strdup(L->f, name);
    snprintf(what, sizeof what, "%s %s = %s", kind, name, lw_label(L, v));
    b->what = kfunc_strdup(L->f, what);
    Place p = lw_contig(L, b, kexpr_const(L->f, 0), &v->type);
    /* The op defining the value writes here; module arguments are copied. */
    if (v->kind == IR_VAL_OP && L->dest[v->id].kind == PL_NONE) L->dest[v->id] = p;
    return p;
}

static int lower_module(Lower *L)
{
    const IrModule *m = L->m;
    for (int i = 0; i < m->ninputs; i++) add_arg(L, m->inputs[i].name, m->inputs[i].value, "input");
    for (int i = 0; i < m->ntargets; i++) add_arg(L, m->targets[i].name, m->targets[i].value, "target");
    for (int i = 0; i < m->nparams; i++) add_arg(L, m->params[i].name, m->params[i].value, "param");

    int nres = m->noutputs + (m->loss ? 1 : 0);
    Place *res = calloc((size_t)(nres ? nres : 1), sizeof *res);
    if (!res) return ir_errf(L->err, L->errlen, "out of memory");
    for (int k = 0; k < m->noutputs; k++) res[k] = add_result(L, m->outputs[k].name, m->outputs[k].value, "output");
    if (m->loss) res[m->noutputs] = add_result(L, "loss", m->loss, "loss");
    if (L->bad) {
        free(res);
        return ir_errf(L->err, L->errlen, "lower: %s among the arguments and results", L->bad);
    }

    L->cur = &L->f->body;
    int rc = lower_block(L, m->body);
    for (int k = 0; rc == 0 && k < nres; k++) {
        const IrValue *v = k < m->noutputs ? m->outputs[k].value : m->loss;
        const char *name = k < m->noutputs ? m->outputs[k].name : "loss";
        if (L->pl[v->id].kind == PL_NONE) {
            rc = ir_errf(L->err, L->errlen, "lower: internal error: output %s has no value", name);
            break;
        }
        if (lw_same_view(&L->pl[v->id], &res[k], v->type.rank)) continue;
        char what[160];
        snprintf(what, sizeof what, "output %s = %s", name, lw_label(L, v));
        lw_copy(L, &res[k], &L->pl[v->id], &v->type, what);
    }
    free(res);
    return rc;
}

KFunc *lower(const IrModule *m, const char *name, char *err, size_t errlen)
{
    KFunc *f = lower_unpacked(m, name, err, errlen);
    if (f) lower_pack_b(f);
    if (f && f->overflow) {
        ir_errf(err, errlen, "lower: a size overflows 64-bit integers (a tensor is too large)");
        kfunc_free(f);
        return NULL;
    }
    return f;
}

KFunc *lower_unpacked(const IrModule *m, const char *name, char *err, size_t errlen)
{
    Lower L = {.m = m, .err = err, .errlen = errlen};
    L.f = kfunc_new(name, m);
    size_t n = (size_t)(m->next_id > 0 ? m->next_id : 1);
    L.pl = calloc(n, sizeof *L.pl);
    L.mat = calloc(n, sizeof *L.mat);
    L.dest = calloc(n, sizeof *L.dest);
    L.dest_used = calloc(n, 1);
    L.cblk = calloc(n, sizeof *L.cblk);
    L.uses = calloc(n, sizeof *L.uses);
    L.user = calloc(n, sizeof *L.user);
    L.deferred = calloc(n, 1);
    int rc = -1;
    if (!L.f || !L.pl || !L.mat || !L.dest || !L.dest_used || !L.cblk || !L.uses || !L.user || !L.deferred) {
        ir_errf(err, errlen, "out of memory");
    } else {
        count_uses(&L, m->body);
        for (int k = 0; k < m->noutputs; k++) L.uses[m->outputs[k].value->id]++;
        if (m->loss) L.uses[m->loss->id]++;
        rc = lower_module(&L);
        if (rc == 0 && L.f->overflow)
            rc = ir_errf(err, errlen, "lower: a size overflows 64-bit integers (a tensor is too large)");
    }
    free(L.pl);
    free(L.mat);
    free(L.dest);
    free(L.dest_used);
    free(L.cblk);
    free(L.uses);
    free(L.user);
    free(L.deferred);
    if (rc) {
        kfunc_free(L.f);
        return NULL;
    }
    return L.f;
}
