/* kcompile.c - lower, fuse, (split the weights' packs off,) plan
 * (kcompile.h).  After each pass the
 * function is verified when RNNC_VERIFY_KIR asks for it, as the test
 * suites do (kir/kir_passcheck.h). */
#include "lower/kcompile.h"

#include "kir/kir_passcheck.h"
#include "lower/kfuse.h"
#include "lower/kprepare.h"
#include "lower/lower.h"
#include "lower/memplan.h"
#include "ir/timing.h"

static KFunc *compile(const IrModule *m, const char *name, KFunc **prep, char *err, size_t errlen)
{
    /* lower() is lower_unpacked() then lower_pack_b(): called apart here,
     * so that each half is checked on its own */
    TimingMark t = timing_start();
    KFunc *f = lower_unpacked(m, name, err, errlen);
    if (f) {
        kir_passcheck_or_abort(f, "lower");
        lower_pack_b(f);
    }
    timing_stop(&t, "lower");
    if (!f) return NULL;
    kir_passcheck_or_abort(f, "pack");
    t = timing_start();
    kfuse(f);
    timing_stop(&t, "kfuse");
    kir_passcheck_or_abort(f, "kfuse");
    KFunc *p = NULL;
    if (prep) {
        p = kprepare_split(f);
        kir_passcheck_or_abort(f, "prepare");
        if (p) kir_passcheck_or_abort(p, "prepare");
    }
    t = timing_start();
    int rc = memplan(f, err, errlen);
    if (!rc && p) rc = memplan(p, err, errlen);
    timing_stop(&t, "memplan");
    if (!rc && (f->overflow || (p && p->overflow))) /* the packing or the plan wrapped a size */
        rc = ir_errf(err, errlen, "lower: a size overflows 64-bit integers (a tensor is too large)");
    /* The caller runs the prepare function without an arena (packing
     * needs none): a plan that asks for one is a bug here. */
    if (!rc && p && kexpr_eval(p->arena_bytes, NULL, NULL) != 0)
        rc = ir_errf(err, errlen, "lower: internal error: the prepare function of '%s' needs an arena", name);
    if (rc) {
        kfunc_free(f);
        if (p) kfunc_free(p);
        return NULL;
    }
    kir_passcheck_or_abort(f, "memplan");
    if (p) kir_passcheck_or_abort(p, "memplan");
    if (prep) *prep = p;
    return f;
}

KFunc *kcompile(const IrModule *m, const char *name, char *err, size_t errlen)
{
    return compile(m, name, NULL, err, errlen);
}

KFunc *kcompile_prepared(const IrModule *m, const char *name, KFunc **prep, char *err, size_t errlen)
{
    *prep = NULL;
    return compile(m, name, prep, err, errlen);
}

/* A scan nested inside another scan of block b, or NULL; depth counts the
 * scans around b. */
static const IrOp *nested_scan(const IrBlock *b, int depth)
{
    for (int i = 0; b && i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        if (op->kind != IR_SCAN) continue;
        if (depth > 0) return op;
        const IrOp *inner = nested_scan(op->body, depth + 1);
        if (inner) return inner;
    }
    return NULL;
}

int kcompile_refuses(const IrModule *m, char *why, size_t whylen)
{
    const IrOp *op = nested_scan(m->body, 0);
    if (op) {
        ir_errf(why, whylen, "a scan inside a scan, which the compiled engines run only unrolled");
        return 1;
    }
    if (m->nsyms > MEMPLAN_MAX_SYMS) {
        ir_errf(why, whylen, "%d size symbols, more than the compiled engines' %d", m->nsyms, MEMPLAN_MAX_SYMS);
        return 1;
    }
    return 0;
}
