/* kir_eval.h - a test-only evaluator of kernel IR (kir/kir.h), for
 * checking the lowering against the graph-IR interpreter before any
 * emitter exists.
 *
 * It walks the statements as kir.h defines them: loops with their
 * induction variables, maps node by node, GEMM by the definition, and the
 * runtime calls written out naively here (so that the test depends on
 * nothing but kir.h).  Each temporary gets its own malloc'd buffer (no
 * memory plan), filled with NaN so that reading an element nobody wrote
 * shows up in the results; every element access is bounds-checked against
 * its buffer's size, and the first violation stops the run.
 *
 * Rounding: each map node is computed in double and rounded to float, so a
 * one-node map gives what the interpreter's F32 mode gives for that op;
 * accumulating outputs add in float (kir.h); GEMM and the calls sum in
 * double and round once, as the interpreter does.
 *
 * Packed B (KS_PACK_B, KS_GEMM.packed_b) is modelled, not run: the pack
 * is a plain copy of op(B), element (p, j) at [KEV_PACK_HDR + p*N + j],
 * after a header of KEV_PACK_HDR floats holding N and K (checked by the
 * product that reads it).  That fits the buffer kexpr_packed_b_floats
 * sizes, so bounds, data flow and the memory plan of the packed form are
 * checked here; the runtime's own layout is tested in test_sgemm.c and,
 * through emitted code, in test_emit_c.c.  The model pack fills its
 * buffer to the end (zeros after the data), since the runtime may write
 * all of the bound the buffer is sized by, and a packed product reads all
 * of it when checking a plan.
 *
 * One evaluator serves every kernel-IR test: the lowering's numbers
 * (test_lower.c), a fusion's bits (test_kfuse.c) and the memory plan
 * (test_memplan.c).  For the plan, kev_check_plan() runs the function in
 * one arena at the planned offsets with shadow memory beside it: each
 * 4-byte unit of the arena records which buffer's write it holds and
 * when.  A read of a temporary must find its own last write still there,
 * the temporaries one statement touches must not overlap, and none may
 * meet the SGEMM workspace - "buffers live at the same time do not share
 * memory", checked without trusting memplan's own liveness. */
#ifndef RNNC_KIR_EVAL_H
#define RNNC_KIR_EVAL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kir/kir.h"
#include "kir/kir_calls.h"
#include "runtime/rnnrt.h"

/* A 4-byte unit of the arena when checking a plan: the write it holds. */
typedef struct KEvUnit {
    int buf;       /* buffer id, -1: never written                   */
    int64_t epoch; /* the statement that wrote it                    */
} KEvUnit;

#define KEV_MAX_TOUCHED 64

typedef struct KEval {
    const KFunc *f;
    const int64_t *sym;
    int64_t *vars;
    void **mem;    /* by buffer id */
    int64_t *size; /* by buffer id, elements */
    char err[256];
    /* checking a plan (kev_check_plan); units is NULL otherwise */
    KEvUnit *units;                         /* per 4-byte unit of the arena                   */
    int64_t *toff;                          /* by buffer id: a temporary's byte offset        */
    int64_t **last;                         /* by buffer id, per element: the epoch of its last write, 0 never */
    int64_t epoch;                          /* the statement being run, counted from 1        */
    int uninit;                             /* reads of temporaries' elements never written    */
    int touched[KEV_MAX_TOUCHED], ntouched; /* temporaries this statement touches */
    int shadow_off;                         /* inside a GEMM's product, whose reads were checked once up front */
} KEval;

static inline int kev_fail(KEval *E, const char *what, const KBuf *b, int64_t i)
{
    if (!E->err[0])
        snprintf(E->err, sizeof E->err, "%s: element %lld of %s (size %lld)", what, (long long)i, b->name,
                 (long long)E->size[b->id]);
    return -1;
}

static inline int64_t kev_x(const KEval *E, const KExpr *e) { return kexpr_eval(e, E->sym, E->vars); }

static inline int kev_bytes_of(const KBuf *b) { return b->dtype == IR_I64 ? 8 : 4; }

/* When checking a plan: an access to element i of b (in bounds).  A read
 * must find b's own last write of that element in every unit it covers;
 * a write records itself.  A read of an element never written is counted
 * (a lowering bug, not a plan bug), not failed. */
static inline void kev_shadow(KEval *E, const KBuf *b, int64_t i, int read, int write)
{
    if (!E->units || E->shadow_off || b->kind != KB_TEMP) return;
    int t = 0;
    while (t < E->ntouched && E->touched[t] != b->id) t++;
    if (t == E->ntouched && t < KEV_MAX_TOUCHED) E->touched[E->ntouched++] = b->id;
    int64_t es = kev_bytes_of(b), u0 = (E->toff[b->id] + i * es) / 4;
    if (read && !E->last[b->id][i]) {
        E->uninit++;
    } else if (read) {
        for (int64_t u = u0; u < u0 + es / 4; u++)
            if (E->units[u].buf != b->id || E->units[u].epoch != E->last[b->id][i]) {
                if (!E->err[0])
                    snprintf(E->err, sizeof E->err, "%s[%lld] was overwritten by %s before this read", b->name,
                             (long long)i, E->units[u].buf >= 0 ? E->f->bufs[E->units[u].buf]->name : "?");
                return;
            }
    }
    if (write) {
        E->last[b->id][i] = E->epoch;
        for (int64_t u = u0; u < u0 + es / 4; u++) E->units[u] = (KEvUnit){b->id, E->epoch};
    }
}

/* Element i of b as a double; NAN (and an error) out of bounds or in a
 * temporary the plan gave no place. */
static inline double kev_load(KEval *E, const KBuf *b, int64_t i)
{
    if (i < 0 || i >= E->size[b->id] || !E->mem[b->id]) {
        kev_fail(E, "load out of bounds", b, i);
        return NAN;
    }
    kev_shadow(E, b, i, 1, 0);
    return b->dtype == IR_I64 ? (double)((int64_t *)E->mem[b->id])[i] : ((float *)E->mem[b->id])[i];
}

static inline void kev_store(KEval *E, const KBuf *b, int64_t i, double v, int acc)
{
    if (i < 0 || i >= E->size[b->id] || !E->mem[b->id]) {
        kev_fail(E, "store out of bounds", b, i);
        return;
    }
    kev_shadow(E, b, i, acc, 1);
    if (b->dtype == IR_I64)
        ((int64_t *)E->mem[b->id])[i] = (int64_t)v;
    else if (acc)
        ((float *)E->mem[b->id])[i] = ((float *)E->mem[b->id])[i] + (float)v;
    else
        ((float *)E->mem[b->id])[i] = (float)v;
}

/* A pointer argument of n elements at view v, bounds-checked. */
static inline void *kev_ptr(KEval *E, KView v, int64_t n)
{
    int64_t off = kev_x(E, v.off);
    if (off < 0 || n < 0 || off + n > E->size[v.buf->id] || !E->mem[v.buf->id]) {
        kev_fail(E, "call argument out of bounds (or a temporary without a place)", v.buf, off + n - 1);
        return NULL;
    }
    return v.buf->dtype == IR_I64 ? (void *)((int64_t *)E->mem[v.buf->id] + off)
                                  : (void *)((float *)E->mem[v.buf->id] + off);
}

static inline double kev_node(KMapOp op, double a, double b, double f, int64_t e)
{
    double r;
    switch (op) {
    case KM_CONST: r = f; break;
    case KM_EXPR: r = (double)e; break;
    case KM_ADD: r = a + b; break;
    case KM_SUB: r = a - b; break;
    case KM_MUL: r = a * b; break;
    case KM_DIV: r = a / b; break;
    case KM_MIN: r = a < b ? a : b; break;
    case KM_MAX: r = a > b ? a : b; break;
    case KM_NEG: r = -a; break;
    case KM_EXP: r = exp(a); break;
    case KM_LOG: r = log(a); break;
    case KM_TANH: r = tanh(a); break;
    case KM_SIGMOID: r = a >= 0 ? 1.0 / (1.0 + exp(-a)) : exp(a) / (1.0 + exp(a)); break;
    case KM_RELU: r = a > 0 ? a : 0.0; break;
    case KM_SQRT: r = sqrt(a); break;
    case KM_RELU_GRAD: r = b > 0 ? a : 0.0; break;
    default: r = NAN; break;
    }
    return (double)(float)r;
}

static inline int kev_map(KEval *E, const KStmt *s)
{
    int64_t dims[KIR_MAX_RANK], idx[KIR_MAX_RANK] = {0}, total = 1;
    for (int d = 0; d < s->rank; d++) {
        dims[d] = kev_x(E, s->dims[d]);
        total *= dims[d];
    }
    /* fused maps (lower/kfuse.h) hold a whole cell's element-wise work */
    int64_t inoff[128], instr[128][KIR_MAX_RANK], outoff[64], outstr[64][KIR_MAX_RANK];
    if (s->nin > 128 || s->nout > 64 || s->nnodes > 512) {
        snprintf(E->err, sizeof E->err, "map too large for the evaluator");
        return -1;
    }
    for (int i = 0; i < s->nin; i++) {
        inoff[i] = kev_x(E, s->in[i].v.off);
        for (int d = 0; d < s->rank; d++) instr[i][d] = kev_x(E, s->in[i].stride[d]);
    }
    for (int o = 0; o < s->nout; o++) {
        outoff[o] = kev_x(E, s->out[o].at.v.off);
        for (int d = 0; d < s->rank; d++) outstr[o][d] = kev_x(E, s->out[o].at.stride[d]);
    }
    double val[512];
    for (int64_t n = 0; n < total; n++) {
        for (int k = 0; k < s->nnodes; k++) {
            const KMapNode *nd = &s->nodes[k];
            if (nd->op == KM_IN) {
                int64_t at = inoff[nd->a];
                for (int d = 0; d < s->rank; d++) at += idx[d] * instr[nd->a][d];
                val[k] = kev_load(E, s->in[nd->a].v.buf, at);
                continue;
            }
            int unary = nd->op >= KM_NEG && nd->op <= KM_SQRT;
            int leaf = nd->op == KM_CONST || nd->op == KM_EXPR;
            if (!leaf && (nd->a < 0 || nd->a >= k || (!unary && (nd->b < 0 || nd->b >= k)))) {
                snprintf(E->err, sizeof E->err, "map node %d refers forward", k);
                return -1;
            }
            val[k] = kev_node(nd->op, leaf ? 0 : val[nd->a], leaf || unary ? 0 : val[nd->b], nd->f,
                              nd->op == KM_EXPR ? kev_x(E, nd->e) : 0);
        }
        for (int o = 0; o < s->nout; o++) {
            int64_t at = outoff[o];
            for (int d = 0; d < s->rank; d++) at += idx[d] * outstr[o][d];
            kev_store(E, s->out[o].at.v.buf, at, val[s->out[o].node], s->out[o].accumulate);
        }
        if (E->err[0]) return -1;
        for (int d = s->rank - 1; d >= 0; d--) {
            if (++idx[d] < dims[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

#define KEV_PACK_HDR 16

static inline int kev_pack_b(KEval *E, const KStmt *s)
{
    int64_t N = kev_x(E, s->N), K = kev_x(E, s->K), ldb = kev_x(E, s->ldb);
    int64_t b0 = kev_x(E, s->B.off), c0 = kev_x(E, s->C.off);
    kev_store(E, s->C.buf, c0, (double)N, 0);
    kev_store(E, s->C.buf, c0 + 1, (double)K, 0);
    for (int64_t p = 0; p < K; p++)
        for (int64_t j = 0; j < N; j++)
            kev_store(E, s->C.buf, c0 + KEV_PACK_HDR + p * N + j,
                      kev_load(E, s->B.buf, b0 + (s->transb ? j * ldb + p : p * ldb + j)), 0);
    /* the runtime may write up to the buffer's bound: so does the model */
    for (int64_t e = c0 + 2; e < c0 + KEV_PACK_HDR && !E->err[0]; e++) kev_store(E, s->C.buf, e, 0, 0);
    for (int64_t e = c0 + KEV_PACK_HDR + N * K; e < E->size[s->C.buf->id] && !E->err[0]; e++)
        kev_store(E, s->C.buf, e, 0, 0);
    return E->err[0] ? -1 : 0;
}

static inline int kev_gemm(KEval *E, const KStmt *s)
{
    int64_t M = kev_x(E, s->M), N = kev_x(E, s->N), K = kev_x(E, s->K);
    int64_t lda = kev_x(E, s->lda), ldb = s->packed_b ? N : kev_x(E, s->ldb), ldc = kev_x(E, s->ldc);
    int64_t a0 = kev_x(E, s->A.off), b0 = kev_x(E, s->B.off), c0 = kev_x(E, s->C.off);
    int tb = s->transb;
    if (s->packed_b) { /* the model's pack (see the top): op(B) row-major after the header */
        if (kev_load(E, s->B.buf, b0) != (double)N || kev_load(E, s->B.buf, b0 + 1) != (double)K) {
            if (!E->err[0])
                snprintf(E->err, sizeof E->err, "gemm reads %s, not packed for N=%lld K=%lld", s->B.buf->name,
                         (long long)N, (long long)K);
            return -1;
        }
        /* checking a plan, the product reads all of the pack (see the top) */
        for (int64_t e = b0; E->units && e < E->size[s->B.buf->id] && !E->err[0]; e++) kev_load(E, s->B.buf, e);
        b0 += KEV_PACK_HDR;
        tb = 0;
    }
    /* checking a plan, each element of A and op(B) is checked once here,
     * not M N K times in the product */
    for (int64_t i = 0; E->units && i < M; i++)
        for (int64_t k = 0; k < K; k++) kev_load(E, s->A.buf, a0 + (s->transa ? k * lda + i : i * lda + k));
    for (int64_t k = 0; E->units && !s->packed_b && k < K; k++)
        for (int64_t j = 0; j < N; j++) kev_load(E, s->B.buf, b0 + (tb ? j * ldb + k : k * ldb + j));
    if (E->err[0]) return -1;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            E->shadow_off = 1;
            for (int64_t k = 0; k < K; k++) {
                double a = kev_load(E, s->A.buf, a0 + (s->transa ? k * lda + i : i * lda + k));
                double b = kev_load(E, s->B.buf, b0 + (tb ? j * ldb + k : k * ldb + j));
                acc += a * b;
            }
            E->shadow_off = 0;
            double c = s->beta != 0 ? s->beta * kev_load(E, s->C.buf, c0 + i * ldc + j) : 0;
            kev_store(E, s->C.buf, c0 + i * ldc + j, (double)(float)(s->alpha * (double)(float)acc) + c, 0);
            if (E->err[0]) return -1;
        }
    return 0;
}

/* softmax of one row of C into y, in double. */
static inline void kev_softmax_row(const float *x, double *y, int64_t C)
{
    double mx = -INFINITY, s = 0;
    for (int64_t c = 0; c < C; c++) mx = x[c] > mx ? x[c] : mx;
    for (int64_t c = 0; c < C; c++) s += y[c] = exp(x[c] - mx);
    for (int64_t c = 0; c < C; c++) y[c] /= s;
}

/* The kernel of call s written out naively, in double, on the bound
 * integers I and pointers P.  A kind without a model here fails the run. */
/* Each example's first len steps reversed, the rest zero (len: its ones
 * in the mask m [T, B]): rt_seq_reverse_masked(_ids), for elements of es
 * bytes in rows of b / c (out may be x). */
static void kev_reverse_masked(const void *x, const float *m, void *out, int64_t a, int64_t b, int64_t c, size_t es)
{
    int64_t row = c ? b / c : 0, total = a * b;
    char *tmp = calloc((size_t)(total > 0 ? total : 1), es);
    for (int64_t bb = 0; bb < c; bb++) {
        int64_t len = 0;
        for (int64_t t = 0; t < a; t++) len += m[t * c + bb] != 0.0f;
        for (int64_t t = 0; t < len; t++)
            memcpy(tmp + (size_t)((t * c + bb) * row) * es,
                   (const char *)x + (size_t)(((len - 1 - t) * c + bb) * row) * es, (size_t)row * es);
    }
    memcpy(out, tmp, (size_t)total * es);
    free(tmp);
}

static inline int kev_kernel(KEval *E, const KStmt *s, const KCallSig *callsig, const int64_t *I, void *const *P)
{
    KCallSig sig = *callsig;
    const double *hp = s->hp;
    int64_t a = I[0], b = I[1], c = I[2];
    switch (s->call) {
    case KC_SOFTMAX: {
        const float *x = P[0];
        float *y = P[1];
        double *row = malloc((size_t)(b ? b : 1) * sizeof *row);
        for (int64_t r = 0; r < a; r++) {
            kev_softmax_row(x + r * b, row, b);
            for (int64_t k = 0; k < b; k++) y[r * b + k] = (float)row[k];
        }
        free(row);
        return 0;
    }
    case KC_CROSS_ENTROPY:
    case KC_CROSS_ENTROPY_GRAD:
    case KC_CROSS_ENTROPY_MASKED:
    case KC_CROSS_ENTROPY_MASKED_GRAD: {
        int masked = s->call == KC_CROSS_ENTROPY_MASKED || s->call == KC_CROSS_ENTROPY_MASKED_GRAD;
        int grad = s->call == KC_CROSS_ENTROPY_GRAD || s->call == KC_CROSS_ENTROPY_MASKED_GRAD;
        const float *lg = P[0], *w = masked ? P[2] : NULL;
        const int64_t *ids = P[1];
        float *out = P[masked ? 3 : 2];
        double *row = malloc((size_t)(b ? b : 1) * sizeof *row), total = 0, wsum = 0;
        for (int64_t r = 0; r < a; r++) wsum += w ? (double)w[r] : 1.0;
        for (int64_t r = 0; r < a; r++) {
            double wr = w ? (double)w[r] : 1.0;
            if (wr == 0) {
                if (grad)
                    for (int64_t k = 0; k < b; k++) out[r * b + k] = 0.0f;
                continue;
            }
            if (ids[r] < 0 || ids[r] >= b) {
                free(row);
                snprintf(E->err, sizeof E->err, "id %lld out of range", (long long)ids[r]);
                return 2;
            }
            kev_softmax_row(lg + r * b, row, b);
            total += -wr * log(row[ids[r]]);
            if (grad) {
                row[ids[r]] -= 1.0;
                for (int64_t k = 0; k < b; k++) out[r * b + k] = (float)(wr * row[k] / wsum);
            }
        }
        if (!grad) *out = (float)(total / wsum);
        free(row);
        return 0;
    }
    case KC_SEQ_REVERSE_MASKED:     /* a = T, b = B * row, c = B */
    case KC_SEQ_REVERSE_MASKED_IDS: /* as above, for ids */
        kev_reverse_masked(P[0], P[1], P[2], a, b, c,
                           s->call == KC_SEQ_REVERSE_MASKED ? sizeof(float) : sizeof(int64_t));
        return 0;
    case KC_EMBEDDING:
    case KC_EMBEDDING_GRAD: {
        int grad = s->call == KC_EMBEDDING_GRAD;
        const float *table = grad ? NULL : P[0], *g = grad ? P[1] : NULL;
        const int64_t *ids = P[grad ? 0 : 1];
        float *out = P[2];
        if (grad) memset(out, 0, (size_t)(c * b) * sizeof *out);
        for (int64_t i = 0; i < a; i++) {
            if (ids[i] < 0 || ids[i] >= c) {
                snprintf(E->err, sizeof E->err, "id %lld out of range", (long long)ids[i]);
                return 2;
            }
            for (int64_t k = 0; k < b; k++) {
                if (grad)
                    out[ids[i] * b + k] += g[i * b + k];
                else
                    out[i * b + k] = table[ids[i] * b + k];
            }
        }
        return 0;
    }
    case KC_SGD:
    case KC_SGD_MOMENTUM: {
        int mom = s->call == KC_SGD_MOMENTUM;
        const float *p = P[0], *g = P[1], *m = mom ? P[2] : NULL;
        float *op = P[mom ? 3 : 2], *om = mom ? P[4] : NULL;
        double lr = hp[0], mu = mom ? hp[1] : 0, wd = hp[mom ? 2 : 1];
        for (int64_t i = 0; i < a; i++) {
            double d = g[i] + wd * p[i];
            if (mom) {
                d = mu * m[i] + d;
                om[i] = (float)d;
            }
            op[i] = (float)(p[i] - lr * d);
        }
        return 0;
    }
    case KC_ADAM: {
        const float *p = P[0], *g = P[1], *m = P[2], *v = P[3], *step = P[4];
        float *op = P[5], *om = P[6], *ov = P[7];
        double lr = hp[0], b1 = hp[1], b2 = hp[2], eps = hp[3], wd = hp[4], t = *step;
        double ss = lr / (1.0 - pow(b1, t)), bc2 = sqrt(1.0 - pow(b2, t));
        for (int64_t i = 0; i < a; i++) {
            double d = g[i] + wd * p[i];
            double mi = b1 * m[i] + (1.0 - b1) * d, vi = b2 * v[i] + (1.0 - b2) * d * d;
            om[i] = (float)mi;
            ov[i] = (float)vi;
            op[i] = (float)(p[i] - ss * mi / (sqrt(vi) / bc2 + eps));
        }
        return 0;
    }
    case KC_DROPOUT_MASK: /* the draw itself: test_dropout checks it against the interpreter's */
        rt_dropout_mask(a, b, c, P[0], P[1], hp[0]);
        return 0;
    default: snprintf(E->err, sizeof E->err, "%s: no model in kir_eval.h", sig.symbol); return -1;
    }
}

/* A call: its integers and pointers bound from calls.def's signature
 * (each pointer bounds-checked for the elements the kernel touches), then
 * the kernel.  Checking a plan, the kernel reads every element of its
 * input pointers and then writes every element of its outputs, as
 * calls.def says. */
static inline int kev_call(KEval *E, const KStmt *s)
{
    KCallSig sig;
    if (kir_call_sig(s->call, &sig) || s->nptrs != sig.nptrs || s->nhp != sig.nhp) {
        snprintf(E->err, sizeof E->err, "call %d of the wrong shape", (int)s->call);
        return -1;
    }
    int64_t I[KIR_CALL_MAX_INTS] = {0}, len[KIR_CALL_MAX_PTRS], off[KIR_CALL_MAX_PTRS];
    void *P[KIR_CALL_MAX_PTRS];
    for (int k = 0; k < sig.nints; k++) I[k] = kev_x(E, s->ints[k]);
    for (int k = 0; k < sig.nptrs; k++) {
        if (s->ptrs[k].buf->dtype != sig.ptr_arg[k]->dtype) {
            snprintf(E->err, sizeof E->err, "%s: pointer %d of the wrong type", sig.symbol, k);
            return -1;
        }
        len[k] = kir_call_ptr_len(sig.ptr_arg[k], I);
        off[k] = kev_x(E, s->ptrs[k].off);
        if (!(P[k] = kev_ptr(E, s->ptrs[k], len[k]))) return -1;
    }
    for (int k = 0; k < sig.nptrs && E->units; k++)
        for (int64_t e = 0; e < len[k] && !sig.ptr_arg[k]->write; e++) kev_shadow(E, s->ptrs[k].buf, off[k] + e, 1, 0);
    int rc = kev_kernel(E, s, &sig, I, P);
    for (int k = 0; k < sig.nptrs && E->units && !rc; k++)
        for (int64_t e = 0; e < len[k] && sig.ptr_arg[k]->write; e++) kev_shadow(E, s->ptrs[k].buf, off[k] + e, 0, 1);
    return rc ? rc : E->err[0] ? -1 : 0;
}

/* Checking a plan: the temporaries one statement touches are live at
 * once, so their memory must not overlap. */
static inline int kev_check_touched(KEval *E, const KStmt *s)
{
    for (int a = 0; a < E->ntouched; a++)
        for (int b = a + 1; b < E->ntouched; b++) {
            const KBuf *x = E->f->bufs[E->touched[a]], *y = E->f->bufs[E->touched[b]];
            int64_t xe = E->toff[x->id] + E->size[x->id] * kev_bytes_of(x);
            int64_t ye = E->toff[y->id] + E->size[y->id] * kev_bytes_of(y);
            if (E->toff[x->id] < ye && E->toff[y->id] < xe) {
                snprintf(E->err, sizeof E->err, "'%s' touches %s and %s, which overlap", s->origin ? s->origin : "",
                         x->name, y->name);
                return -1;
            }
        }
    return 0;
}

static inline int kev_block(KEval *E, const KBlock *b)
{
    for (int i = 0; i < b->n; i++) {
        const KStmt *s = b->stmts[i];
        int rc = 0;
        E->epoch++;
        E->ntouched = 0;
        switch (s->kind) {
        case KS_LOOP: {
            int64_t n = kev_x(E, s->count);
            for (int64_t k = 0; k < n && !rc; k++) {
                E->vars[s->var] = s->reverse ? n - 1 - k : k;
                rc = kev_block(E, &s->body);
            }
            break;
        }
        case KS_GEMM: rc = kev_gemm(E, s); break;
        case KS_PACK_B: rc = kev_pack_b(E, s); break;
        case KS_MAP: rc = kev_map(E, s); break;
        case KS_CALL: rc = kev_call(E, s); break;
        }
        if (!rc && E->units && s->kind != KS_LOOP) rc = kev_check_touched(E, s);
        if (rc) return rc;
    }
    return 0;
}

/* Runs f as kir.h's calling convention describes.  With arena NULL every
 * temporary gets memory of its own; otherwise temporaries live in arena
 * at the offsets memplan() gave them, sharing memory as planned (arena
 * reaches at least to the end of the last one; the SGEMM workspace after
 * them is never touched), and with `check` the plan is checked as the top
 * says;
 * *uninit, when given, counts the reads of elements never written.
 * Returns 0, or nonzero with a message in err. */
static inline int kev_exec(const KFunc *f, const int64_t *sym, void *const *arg, void *const *res, void *arena,
                           int check, int *uninit, char *err, size_t errlen)
{
    KEval E = {.f = f, .sym = sym};
    E.vars = calloc((size_t)f->nloops + 1, sizeof *E.vars);
    E.mem = calloc((size_t)f->nbufs + 1, sizeof *E.mem);
    E.size = calloc((size_t)f->nbufs + 1, sizeof *E.size);
    E.toff = calloc((size_t)f->nbufs + 1, sizeof *E.toff);
    E.last = calloc((size_t)f->nbufs + 1, sizeof *E.last);
    int64_t arena_bytes = arena ? kexpr_eval(f->arena_bytes, sym, NULL) : 0;
    int64_t ws_off = arena_bytes, ws_end = arena_bytes;
    if (arena && f->ws_bytes) {
        ws_off = kexpr_eval(f->ws_offset, sym, NULL);
        ws_end = ws_off + kexpr_eval(f->ws_bytes, sym, NULL);
    }
    int rc = 0;
    int64_t temps_end = 0; /* the shadow covers the temporaries, not the workspace after them */
    for (int i = 0; i < f->nbufs; i++) {
        const KBuf *b = f->bufs[i];
        E.size[i] = kexpr_eval(b->size, sym, NULL);
        if (b->kind == KB_ARG)
            E.mem[i] = arg[b->index];
        else if (b->kind == KB_RESULT)
            E.mem[i] = res[b->index];
        else if (arena && !b->offset) {
            E.mem[i] = NULL; /* no place: nothing may access it (kev_view, kev_elem) */
        } else if (arena) {
            /* a plan puts every temporary inside the arena, clear of the workspace */
            int64_t off = b->offset ? kexpr_eval(b->offset, sym, NULL) : -1, end = off + E.size[i] * kev_bytes_of(b);
            if (!b->offset || off < 0 || end > arena_bytes || (end > off && off < ws_end && ws_off < end)) {
                if (!E.err[0])
                    snprintf(E.err, sizeof E.err,
                             "%s (bytes %lld .. %lld) is outside the arena of %lld bytes or "
                             "meets the SGEMM workspace",
                             b->name, (long long)off, (long long)end, (long long)arena_bytes);
                rc = -1;
                continue;
            }
            E.toff[i] = off;
            E.mem[i] = (char *)arena + off;
            if (end > temps_end) temps_end = end;
            if (check) E.last[i] = calloc((size_t)E.size[i] + 1, sizeof **E.last);
        } else {
            E.mem[i] = malloc((size_t)(E.size[i] ? E.size[i] : 1) * 8);
            for (int64_t k = 0; k < E.size[i]; k++) {
                if (b->dtype == IR_I64)
                    ((int64_t *)E.mem[i])[k] = -1;
                else
                    ((float *)E.mem[i])[k] = NAN;
            }
        }
    }
    if (arena && check) {
        E.units = malloc(((size_t)temps_end / 4 + 1) * sizeof *E.units);
        for (int64_t u = 0; u <= temps_end / 4; u++) E.units[u] = (KEvUnit){-1, 0};
    }
    if (!rc) rc = kev_block(&E, &f->body);
    if (rc && err && errlen) snprintf(err, errlen, "%s", E.err);
    if (uninit) *uninit = E.uninit;
    for (int i = 0; i < f->nbufs; i++) {
        if (!arena && f->bufs[i]->kind == KB_TEMP) free(E.mem[i]);
        free(E.last[i]);
    }
    free(E.vars);
    free(E.mem);
    free(E.size);
    free(E.toff);
    free(E.last);
    free(E.units);
    return rc;
}

static inline int kev_run_in(const KFunc *f, const int64_t *sym, void *const *arg, void *const *res, void *arena,
                             char *err, size_t errlen)
{
    return kev_exec(f, sym, arg, res, arena, 0, NULL, err, errlen);
}

static inline int kev_run(const KFunc *f, const int64_t *sym, void *const *arg, void *const *res, char *err,
                          size_t errlen)
{
    return kev_exec(f, sym, arg, res, NULL, 0, NULL, err, errlen);
}

/* Checks the memory plan of f (memplan() has run) at the symbol values
 * sym by running it in one NaN-filled arena with shadow memory (see the
 * top), on arguments of 0.25 (token ids 0: in range for any vocabulary).
 * Returns the number of problems found (the run stops at the first),
 * printed to stderr unless quiet; *uninit, when given, counts reads of
 * temporaries' elements no statement wrote before. */
static inline int kev_check_plan(const KFunc *f, const int64_t *sym, int *uninit, int quiet)
{
    void **arg = calloc((size_t)f->nargs + 1, sizeof *arg), **res = calloc((size_t)f->nresults + 1, sizeof *res);
    for (int i = 0; i < f->nargs + f->nresults; i++) {
        const KBuf *b = i < f->nargs ? f->args[i] : f->results[i - f->nargs];
        int64_t n = kexpr_eval(b->size, sym, NULL);
        void *p = malloc((size_t)(n ? n : 1) * 8);
        for (int64_t k = 0; k < n; k++) {
            if (b->dtype == IR_I64)
                ((int64_t *)p)[k] = 0;
            else
                ((float *)p)[k] = i < f->nargs ? 0.25f : NAN;
        }
        if (i < f->nargs)
            arg[i] = p;
        else
            res[i - f->nargs] = p;
    }
    /* memory for the temporaries only: nothing here touches the SGEMM
     * workspace, which kev_exec checks no temporary meets */
    int64_t bytes = 0;
    for (int i = 0; i < f->nbufs; i++) {
        const KBuf *b = f->bufs[i];
        if (b->kind != KB_TEMP || !b->offset) continue;
        int64_t end = kexpr_eval(b->offset, sym, NULL) + kexpr_eval(b->size, sym, NULL) * kev_bytes_of(b);
        if (end > bytes) bytes = end;
    }
    float *arena = malloc((size_t)bytes + 8);
    for (int64_t k = 0; k < bytes / 4; k++) arena[k] = NAN;
    char err[256] = "";
    int rc = kev_exec(f, sym, arg, res, arena, 1, uninit, err, sizeof err);
    if (rc && !quiet) fprintf(stderr, "kev_check_plan: %s\n", err);
    for (int i = 0; i < f->nargs; i++) free(arg[i]);
    for (int i = 0; i < f->nresults; i++) free(res[i]);
    free(arg);
    free(res);
    free(arena);
    return rc ? 1 : 0;
}

#endif
