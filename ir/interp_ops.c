/* interp_ops.c - the reference interpreter's kernel for every op but scan:
 * plain loops over arrays of doubles, written to be checked by eye.
 *
 * Each kernel works out its result's shape from its operands' concrete
 * shapes (never from the IR's type), so a wrong type from the builder or a
 * pass shows up as a mismatch in interp.c instead of being trusted.
 * Rounding to float32 is done by the caller, once per op. */
#include "ir/interp_ops.h"
#include "ir/op_eval.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rnnrt.h"

/* Like ir_errf (a mistake in the module: -1), for a mistake in the user's
 * data rather than in the module: -2. */
static int user_fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int user_fail(char *err, size_t n, const char *fmt, ...)
{
    if (err && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return -2;
}

/* ---- values --------------------------------------------------------------- */

int val_alloc(Val *v, int rank, const int64_t *shape, char *err, size_t errlen)
{
    int64_t n = 1;
    if (rank < 0 || rank > IR_MAX_RANK) return ir_errf(err, errlen, "rank %d is out of range", rank);
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0) return ir_errf(err, errlen, "negative dimension %lld", (long long)shape[i]);
        if (shape[i] && n > INT64_MAX / (int64_t)sizeof(double) / shape[i])
            return ir_errf(err, errlen, "tensor too large");
        n *= shape[i];
    }
    v->data = calloc(n ? (size_t)n : 1, sizeof(double));
    if (!v->data) return ir_errf(err, errlen, "out of memory for %lld values", (long long)n);
    v->state = VAL_PRESENT;
    v->rank = rank;
    for (int i = 0; i < IR_MAX_RANK; i++) v->shape[i] = i < rank ? shape[i] : 0;
    v->numel = n;
    return 0;
}

void val_free(Val *v)
{
    free(v->data);
    memset(v, 0, sizeof *v);
}

int val_copy(Val *dst, const Val *src, char *err, size_t errlen)
{
    if (val_alloc(dst, src->rank, src->shape, err, errlen)) return -1;
    if (src->numel) memcpy(dst->data, src->data, (size_t)src->numel * sizeof(double));
    return 0;
}

const char *val_shape_str(const Val *v, char *buf, size_t n)
{
    size_t k = 0;
    if (n == 0) return buf;
    k += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < v->rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)v->shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

int val_same_shape(const Val *a, const Val *b)
{
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

/* "[3, 1]": the multi-index of flat position i in a tensor of shape v. */
static const char *pos_str(const Val *v, int64_t i, char *buf, size_t n)
{
    return ir_index_str(v->rank, v->shape, i, buf, n);
}

/* An id must be an integer in [0, n); ids are held as doubles, so check
 * before any conversion to an integer type. */
static int id_ok(double x, int64_t n) { return x >= 0 && x < (double)n && x == floor(x); }

/* The product of dims [from, to) of v: rows before the last axis, etc. */
static int64_t prod(const Val *v, int from, int to)
{
    int64_t n = 1;
    for (int i = from; i < to; i++) n *= v->shape[i];
    return n;
}

/* ---- element-wise ------------------------------------------------------------ */

/* Strides of x when read at the indices of a result of rank r: x's dims are
 * aligned to the result's trailing dims, and a dim of 1 (or a missing
 * leading dim) is read with stride 0, which is numpy broadcasting. */
static void bcast_strides(const Val *x, int r, int64_t *st)
{
    int64_t s = 1;
    for (int i = r - 1; i >= 0; i--) {
        int xi = i - (r - x->rank);
        if (xi < 0 || x->shape[xi] == 1)
            st[i] = 0;
        else
            st[i] = s;
        if (xi >= 0) s *= x->shape[xi];
    }
}

/* Whether x's shape is the trailing dims of out's (a bias [H] against
 * [B, H], a scalar against anything): then the broadcast offset of out's
 * flat index i is just i % numel(x), without bcast_offset's divisions. */
static int is_suffix(const Val *x, const Val *out)
{
    if (x->rank > out->rank || x->numel == 0) return 0;
    for (int i = 1; i <= x->rank; i++)
        if (x->shape[x->rank - i] != out->shape[out->rank - i]) return 0;
    return 1;
}

/* Flat offset into x (strides st) of the result's flat index i. */
static int64_t bcast_offset(const Val *out, const int64_t *st, int64_t i)
{
    int64_t off = 0;
    for (int d = out->rank - 1; d >= 0; d--) {
        off += (i % out->shape[d]) * st[d];
        i /= out->shape[d];
    }
    return off;
}

static int k_binary(const IrOp *op, const Val *a, const Val *b, Val *out, char *err, size_t n)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    int64_t shape[IR_MAX_RANK];
    char sa[64], sb[64];
    for (int i = 1; i <= r; i++) {
        int64_t da = i <= a->rank ? a->shape[a->rank - i] : 1;
        int64_t db = i <= b->rank ? b->shape[b->rank - i] : 1;
        if (da != db && da != 1 && db != 1)
            return ir_errf(err, n, "%s: shapes %s and %s do not broadcast", ir_op_name(op->kind),
                           val_shape_str(a, sa, sizeof sa), val_shape_str(b, sb, sizeof sb));
        shape[r - i] = da == 1 ? db : da;
    }
    if (val_alloc(out, r, shape, err, n)) return -1;
    /* Operands of the result's own shape (most element-wise ops of a cell)
     * read element i directly: the same numbers, without the index
     * arithmetic of broadcasting, which dominated training's run time. */
    if (val_same_shape(a, out) && val_same_shape(b, out)) {
        for (int64_t i = 0; i < out->numel; i++) out->data[i] = ir_op_eval(op->kind, a->data[i], b->data[i]);
        return 0;
    }
    int64_t sta[IR_MAX_RANK], stb[IR_MAX_RANK];
    bcast_strides(a, r, sta);
    bcast_strides(b, r, stb);
    if (is_suffix(a, out) && is_suffix(b, out)) { /* e.g. x + bias, the same numbers faster */
        for (int64_t i = 0; i < out->numel; i++)
            out->data[i] = ir_op_eval(op->kind, a->data[i % a->numel], b->data[i % b->numel]);
        return 0;
    }
    for (int64_t i = 0; i < out->numel; i++)
        out->data[i] = ir_op_eval(op->kind, a->data[bcast_offset(out, sta, i)], b->data[bcast_offset(out, stb, i)]);
    return 0;
}

static int k_unary(const IrOp *op, const Val *x, Val *out, char *err, size_t n)
{
    if (val_alloc(out, x->rank, x->shape, err, n)) return -1;
    for (int64_t i = 0; i < x->numel; i++) out->data[i] = ir_op_eval(op->kind, x->data[i], 0);
    return 0;
}

/* out gets like's shape with the last dimension replaced by `last`: the
 * result of every op that works along rows (linear, concat, slice, ...). */
static int alloc_last_dim(Val *out, const Val *like, int64_t last, char *err, size_t n)
{
    int64_t shape[IR_MAX_RANK];
    memcpy(shape, like->shape, sizeof shape);
    shape[like->rank - 1] = last;
    return val_alloc(out, like->rank, shape, err, n);
}

/* ---- linear algebra and shapes ------------------------------------------------- */

/* y[r, j] = sum_k x[r, k] * W[j, k]: x W^T over every leading row. */
static int k_linear(const Val *x, const Val *w, Val *out, char *err, size_t n)
{
    char sx[64], sw[64];
    if (w->rank != 2 || x->rank < 1 || x->shape[x->rank - 1] != w->shape[1])
        return ir_errf(err, n, "linear: x %s does not fit W %s", val_shape_str(x, sx, sizeof sx),
                       val_shape_str(w, sw, sizeof sw));
    int64_t K = w->shape[1], N = w->shape[0], rows = prod(x, 0, x->rank - 1);
    if (alloc_last_dim(out, x, N, err, n)) return -1;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) s += x->data[r * K + k] * w->data[j * K + k];
            out->data[r * N + j] = s;
        }
    return 0;
}

static int k_concat(const Val *const *in, int nin, Val *out, char *err, size_t n)
{
    char s0[64], s1[64];
    const Val *a = in[0];
    if (a->rank < 1) return ir_errf(err, n, "concat of a scalar");
    int64_t total = 0;
    for (int i = 0; i < nin; i++) {
        int ok = in[i]->rank == a->rank;
        for (int d = 0; ok && d < a->rank - 1; d++) ok = in[i]->shape[d] == a->shape[d];
        if (!ok)
            return ir_errf(err, n, "concat: cannot join %s and %s", val_shape_str(a, s0, sizeof s0),
                           val_shape_str(in[i], s1, sizeof s1));
        total += in[i]->shape[a->rank - 1];
    }
    if (alloc_last_dim(out, a, total, err, n)) return -1;
    int64_t rows = prod(a, 0, a->rank - 1), o = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int i = 0; i < nin; i++) {
            int64_t w = in[i]->shape[a->rank - 1];
            for (int64_t k = 0; k < w; k++) out->data[o++] = in[i]->data[r * w + k];
        }
    return 0;
}

static int k_slice(const IrOp *op, const Val *x, Val *out, char *err, size_t n)
{
    char sx[64];
    int64_t start = op->attrs.start, len = op->attrs.len;
    if (x->rank < 1) return ir_errf(err, n, "slice of a scalar");
    int64_t w = x->shape[x->rank - 1];
    if (start < 0 || len < 0 || start > w || len > w - start)
        return ir_errf(err, n, "slice [%lld, +%lld) out of range of %s", (long long)start, (long long)len,
                       val_shape_str(x, sx, sizeof sx));
    if (alloc_last_dim(out, x, len, err, n)) return -1;
    int64_t rows = prod(x, 0, x->rank - 1);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < len; k++) out->data[r * len + k] = x->data[r * w + start + k];
    return 0;
}

static int k_broadcast(const Val *x, const Val *want, Val *out, char *err, size_t n)
{
    char sx[64], sw[64];
    int ok = x->rank <= want->rank;
    for (int i = 1; ok && i <= x->rank; i++) {
        int64_t dx = x->shape[x->rank - i], dw = want->shape[want->rank - i];
        ok = dx == dw || dx == 1;
    }
    if (!ok)
        return ir_errf(err, n, "broadcast: %s does not broadcast to %s", val_shape_str(x, sx, sizeof sx),
                       val_shape_str(want, sw, sizeof sw));
    if (val_alloc(out, want->rank, want->shape, err, n)) return -1;
    int64_t st[IR_MAX_RANK];
    bcast_strides(x, out->rank, st);
    for (int64_t i = 0; i < out->numel; i++) out->data[i] = x->data[bcast_offset(out, st, i)];
    return 0;
}

static int k_stack(const Val *const *in, int nin, Val *out, char *err, size_t n)
{
    char s0[64], s1[64];
    const Val *a = in[0];
    if (a->rank + 1 > IR_MAX_RANK) return ir_errf(err, n, "stack: result above rank %d", IR_MAX_RANK);
    for (int i = 1; i < nin; i++)
        if (!val_same_shape(a, in[i]))
            return ir_errf(err, n, "stack: cannot stack %s and %s", val_shape_str(a, s0, sizeof s0),
                           val_shape_str(in[i], s1, sizeof s1));
    int64_t shape[IR_MAX_RANK] = {nin};
    for (int d = 0; d < a->rank; d++) shape[d + 1] = a->shape[d];
    if (val_alloc(out, a->rank + 1, shape, err, n)) return -1;
    for (int i = 0; i < nin; i++)
        if (a->numel) memcpy(out->data + i * a->numel, in[i]->data, (size_t)a->numel * sizeof(double));
    return 0;
}

/* ---- dropout ---------------------------------------------------------------------------- */

/* The mask of key (seed, step) and the op's index: 0 or 1/(1-p) each
 * element (docs/ir.md, "Dropout").  Which elements are kept is the
 * runtime's draw, rt_dropout_mask (the one every engine calls); the scale
 * is exact here, and the caller rounds it to float in F32, as the
 * runtime does. */
static int k_dropout_mask(const IrOp *op, const Val *key, const Val *want, Val *out, char *err, size_t n)
{
    if (key->numel != 2)
        return ir_errf(err, n, "dropout_mask: the key has %lld elements, not 2", (long long)key->numel);
    if (val_alloc(out, want->rank, want->shape, err, n)) return -1;
    double p = op->attrs.p, scale = 1.0 / (1.0 - p);
    int64_t k[2] = {(int64_t)key->data[0], (int64_t)key->data[1]};
    float *kept = malloc((size_t)(out->numel ? out->numel : 1) * sizeof *kept);
    if (!kept) return ir_errf(err, n, "out of memory for a dropout mask of %lld elements", (long long)out->numel);
    rt_dropout_mask(out->numel, 2, op->attrs.index, k, kept, p);
    for (int64_t i = 0; i < out->numel; i++) out->data[i] = kept[i] != 0.0f ? scale : 0.0;
    free(kept);
    return 0;
}

/* The same elements in the same order under the declared shape. */
static int k_reshape(const Val *x, const Val *want, Val *out, char *err, size_t n)
{
    char sx[64], sw[64];
    if (x->numel != want->numel)
        return ir_errf(err, n, "reshape: %s has %lld elements, %s needs %lld", val_shape_str(x, sx, sizeof sx),
                       (long long)x->numel, val_shape_str(want, sw, sizeof sw), (long long)want->numel);
    if (val_alloc(out, want->rank, want->shape, err, n)) return -1;
    if (out->numel) memcpy(out->data, x->data, (size_t)out->numel * sizeof(double));
    return 0;
}

/* x[index] of the leading axis; seq_last is the same with index T-1. */
static int take(const char *what, const Val *x, int64_t index, Val *out, char *err, size_t n)
{
    char sx[64];
    if (x->rank < 1 || index < 0 || index >= x->shape[0])
        return ir_errf(err, n, "%s: index %lld out of range of %s", what, (long long)index,
                       val_shape_str(x, sx, sizeof sx));
    if (val_alloc(out, x->rank - 1, x->shape + 1, err, n)) return -1;
    if (out->numel) memcpy(out->data, x->data + index * out->numel, (size_t)out->numel * sizeof(double));
    return 0;
}

/* With the mask m [T, B, 1] (lengths), example b's first len steps (len
 * the ones in m[:, b]) reversed and 0 after them. */
static int k_seq_reverse(const Val *x, const Val *m, Val *out, char *err, size_t n)
{
    if (x->rank < 1) return ir_errf(err, n, "seq_reverse of a scalar");
    if (m && (x->rank < 2 || m->numel != x->shape[0] * x->shape[1]))
        return ir_errf(err, n, "seq_reverse: the mask does not fit the sequence");
    if (val_alloc(out, x->rank, x->shape, err, n)) return -1;
    int64_t T = x->shape[0], step = prod(x, 1, x->rank);
    if (!m) {
        for (int64_t t = 0; t < T; t++)
            for (int64_t k = 0; k < step; k++) out->data[t * step + k] = x->data[(T - 1 - t) * step + k];
        return 0;
    }
    int64_t B = x->shape[1], row = step / B;
    for (int64_t b = 0; b < B; b++) {
        int64_t len = 0;
        for (int64_t t = 0; t < T; t++) len += m->data[t * B + b] != 0;
        for (int64_t t = 0; t < len; t++)
            for (int64_t k = 0; k < row; k++)
                out->data[(t * B + b) * row + k] = x->data[((len - 1 - t) * B + b) * row + k];
    }
    return 0;
}

static int k_seq_mean(const Val *x, Val *out, char *err, size_t n)
{
    if (x->rank < 1 || x->shape[0] < 1) return ir_errf(err, n, "seq_mean of an empty sequence");
    if (val_alloc(out, x->rank - 1, x->shape + 1, err, n)) return -1;
    int64_t T = x->shape[0], step = out->numel;
    for (int64_t k = 0; k < step; k++) {
        double s = 0;
        for (int64_t t = 0; t < T; t++) s += x->data[t * step + k];
        out->data[k] = s / (double)T;
    }
    return 0;
}

/* ---- neural-network ops ------------------------------------------------------------- */

static int k_embedding(const IrOp *op, const Val *table, const Val *ids, Val *out, char *err, size_t n)
{
    char st[64], lab[64], pos[64];
    if (table->rank != 2)
        return ir_errf(err, n, "embedding: table %s is not a matrix", val_shape_str(table, st, sizeof st));
    if (ids->rank + 1 > IR_MAX_RANK) return ir_errf(err, n, "embedding: ids of too high a rank");
    int64_t V = table->shape[0], D = table->shape[1];
    for (int64_t i = 0; i < ids->numel; i++)
        if (!id_ok(ids->data[i], V))
            return user_fail(err, n, "token id %.17g at %s out of range [0, %lld) in embedding '%s'", ids->data[i],
                             pos_str(ids, i, pos, sizeof pos), (long long)V, ir_op_label(op, lab, sizeof lab));
    int64_t shape[IR_MAX_RANK];
    for (int d = 0; d < ids->rank; d++) shape[d] = ids->shape[d];
    shape[ids->rank] = D;
    if (val_alloc(out, ids->rank + 1, shape, err, n)) return -1;
    for (int64_t i = 0; i < ids->numel; i++) {
        int64_t row = (int64_t)ids->data[i];
        for (int64_t k = 0; k < D; k++) out->data[i * D + k] = table->data[row * D + k];
    }
    return 0;
}

/* Subtracting the row's maximum first keeps every exp() in (0, 1], so
 * logits of 1000 neither overflow nor lose the distribution. */
static int k_softmax(const Val *x, Val *out, char *err, size_t n)
{
    if (x->rank < 1) return ir_errf(err, n, "softmax of a scalar");
    if (val_alloc(out, x->rank, x->shape, err, n)) return -1;
    int64_t C = x->shape[x->rank - 1], rows = prod(x, 0, x->rank - 1);
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x->data + r * C;
        double *yr = out->data + r * C, mx = -INFINITY, s = 0;
        for (int64_t c = 0; c < C; c++) mx = xr[c] > mx ? xr[c] : mx;
        for (int64_t c = 0; c < C; c++) s += yr[c] = exp(xr[c] - mx);
        for (int64_t c = 0; c < C; c++) yr[c] /= s;
    }
    return 0;
}

/* The mean and 1 / sqrt(biased variance + eps) of a row of n: two passes,
 * as runtime/nn_kernels.c. */
static void row_moments(const double *x, int64_t n, double eps, double *mean, double *rstd)
{
    double s = 0, q = 0;
    for (int64_t c = 0; c < n; c++) s += x[c];
    double mu = n ? s / (double)n : 0;
    for (int64_t c = 0; c < n; c++) q += (x[c] - mu) * (x[c] - mu);
    *mean = mu;
    *rstd = 1.0 / sqrt((n ? q / (double)n : 0) + eps);
}

/* F.layer_norm over the last axis without weight and bias. */
static int k_layernorm(const IrOp *op, const Val *x, Val *out, char *err, size_t n)
{
    if (x->rank < 1) return ir_errf(err, n, "layernorm of a scalar");
    if (val_alloc(out, x->rank, x->shape, err, n)) return -1;
    int64_t C = x->shape[x->rank - 1], rows = prod(x, 0, x->rank - 1);
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x->data + r * C;
        double mu, rs;
        row_moments(xr, C, op->attrs.eps, &mu, &rs);
        for (int64_t c = 0; c < C; c++) out->data[r * C + c] = (xr[c] - mu) * rs;
    }
    return 0;
}

/* dx = r (g - mean(g) - xh mean(g xh)) per row, xh = (x - mean) r: the
 * vector-Jacobian product of layernorm, since dxh/dx = r (I - 1/n - xh xh^T / n). */
static int k_layernorm_grad(const IrOp *op, const Val *g, const Val *x, Val *out, char *err, size_t n)
{
    char sg[64], sx[64];
    if (!val_same_shape(g, x) || x->rank < 1)
        return ir_errf(err, n, "layernorm_grad: shapes %s and %s", val_shape_str(g, sg, sizeof sg),
                       val_shape_str(x, sx, sizeof sx));
    if (val_alloc(out, x->rank, x->shape, err, n)) return -1;
    int64_t C = x->shape[x->rank - 1], rows = prod(x, 0, x->rank - 1);
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x->data + r * C, *gr = g->data + r * C;
        double mu, rs, sgs = 0, sgx = 0;
        row_moments(xr, C, op->attrs.eps, &mu, &rs);
        for (int64_t c = 0; c < C; c++) {
            sgs += gr[c];
            sgx += gr[c] * (xr[c] - mu) * rs;
        }
        double mg = C ? sgs / (double)C : 0, mgx = C ? sgx / (double)C : 0;
        for (int64_t c = 0; c < C; c++) out->data[r * C + c] = rs * (gr[c] - mg - (xr[c] - mu) * rs * mgx);
    }
    return 0;
}

/* mean over positions of -log softmax(logits)[t] = logsumexp(logits) - logits[t],
 * with the logsumexp taken around the row's maximum (see softmax). */
/* Shared by cross_entropy and its gradient: logits [..., C] fit ids [...]
 * (and the weights w, if given), and every id of a row with a weight
 * other than 0 is a class in [0, C). */
static int check_class_ids(const IrOp *op, const Val *lg, const Val *ids, const Val *w, char *err, size_t n)
{
    char sl[64], si[64], lab[64], pos[64];
    int ok = lg->rank == ids->rank + 1;
    for (int d = 0; ok && d < ids->rank; d++) ok = lg->shape[d] == ids->shape[d];
    if (!ok)
        return ir_errf(err, n, "%s: logits %s do not fit ids %s", ir_op_name(op->kind),
                       val_shape_str(lg, sl, sizeof sl), val_shape_str(ids, si, sizeof si));
    if (w && !val_same_shape(w, ids))
        return ir_errf(err, n, "%s: weights %s do not fit ids %s", ir_op_name(op->kind),
                       val_shape_str(w, sl, sizeof sl), val_shape_str(ids, si, sizeof si));
    int64_t C = lg->shape[lg->rank - 1];
    for (int64_t i = 0; i < ids->numel; i++)
        if ((!w || w->data[i] != 0) && !id_ok(ids->data[i], C))
            return user_fail(err, n, "target id %.17g at %s out of range [0, %lld) in cross_entropy '%s'", ids->data[i],
                             pos_str(ids, i, pos, sizeof pos), (long long)C, ir_op_label(op, lab, sizeof lab));
    return 0;
}

/* The sum of the rows' weights: their count without weights. */
static double weight_sum(const Val *ids, const Val *w)
{
    if (!w) return (double)ids->numel;
    double s = 0;
    for (int64_t i = 0; i < w->numel; i++) s += w->data[i];
    return s;
}

/* With weights w (lengths: the mask), the sum of w * loss over the rows
 * over the sum of w; a row of weight 0 is not read. */
static int k_cross_entropy(const IrOp *op, const Val *lg, const Val *ids, const Val *w, Val *out, char *err, size_t n)
{
    int rc = check_class_ids(op, lg, ids, w, err, n);
    if (rc) return rc;
    int64_t C = lg->shape[lg->rank - 1];
    if (val_alloc(out, 0, NULL, err, n)) return -1;
    double total = 0;
    for (int64_t i = 0; i < ids->numel; i++) {
        if (w && w->data[i] == 0) continue;
        const double *row = lg->data + i * C;
        double mx = -INFINITY, s = 0;
        for (int64_t c = 0; c < C; c++) mx = row[c] > mx ? row[c] : mx;
        for (int64_t c = 0; c < C; c++) s += exp(row[c] - mx);
        double l = mx + log(s) - row[(int64_t)ids->data[i]];
        total += w ? w->data[i] * l : l;
    }
    out->data[0] = total / weight_sum(ids, w);
    return 0;
}

static int k_mse(const Val *y, const Val *t, Val *out, char *err, size_t n)
{
    char sy[64], st[64];
    if (!val_same_shape(y, t))
        return ir_errf(err, n, "mse: shapes %s and %s differ", val_shape_str(y, sy, sizeof sy),
                       val_shape_str(t, st, sizeof st));
    if (val_alloc(out, 0, NULL, err, n)) return -1;
    double s = 0;
    for (int64_t i = 0; i < y->numel; i++) s += (y->data[i] - t->data[i]) * (y->data[i] - t->data[i]);
    out->data[0] = s / (double)y->numel;
    return 0;
}

/* ---- gradient ops (made by passes/autodiff.c) ------------------------------------------ */

/* out[r, k] = sum_j g[r, j] W[j, k]: g W over every leading row. */
static int k_matmul_nn(const Val *g, const Val *w, Val *out, char *err, size_t n)
{
    char sg[64], sw[64];
    if (w->rank != 2 || g->rank < 1 || g->shape[g->rank - 1] != w->shape[0])
        return ir_errf(err, n, "matmul_nn: g %s does not fit W %s", val_shape_str(g, sg, sizeof sg),
                       val_shape_str(w, sw, sizeof sw));
    int64_t N = w->shape[0], K = w->shape[1], rows = prod(g, 0, g->rank - 1);
    if (alloc_last_dim(out, g, K, err, n)) return -1;
    /* j outside k, so that W is read along its rows; each out[r, k] still
     * adds its terms in the order j = 0, 1, ..., onto the zeros of val_alloc. */
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < N; j++) {
            double gj = g->data[r * N + j];
            for (int64_t k = 0; k < K; k++) out->data[r * K + k] += gj * w->data[j * K + k];
        }
    return 0;
}

/* out[j, k] = sum_r g[r, j] x[r, k]: the weight gradient of linear, summed
 * over every leading row (batch, and time when hoisted). */
static int k_linear_wgrad(const Val *g, const Val *x, Val *out, char *err, size_t n)
{
    char sg[64], sx[64];
    int ok = g->rank >= 1 && g->rank == x->rank;
    for (int d = 0; ok && d < g->rank - 1; d++) ok = g->shape[d] == x->shape[d];
    if (!ok)
        return ir_errf(err, n, "linear_wgrad: g %s and x %s differ in their rows", val_shape_str(g, sg, sizeof sg),
                       val_shape_str(x, sx, sizeof sx));
    int64_t N = g->shape[g->rank - 1], K = x->shape[x->rank - 1], rows = prod(g, 0, g->rank - 1);
    int64_t shape[2] = {N, K};
    if (val_alloc(out, 2, shape, err, n)) return -1;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < N; j++) {
            double gj = g->data[r * N + j];
            for (int64_t k = 0; k < K; k++) out->data[j * K + k] += gj * x->data[r * K + k];
        }
    return 0;
}

/* The reverse of broadcast: every element of x is added into the element
 * of the result that broadcasting would have read it from. */
static int k_reduce_to(const Val *x, const Val *want, Val *out, char *err, size_t n)
{
    char sx[64], sw[64];
    int ok = want->rank <= x->rank;
    for (int i = 1; ok && i <= want->rank; i++) {
        int64_t dw = want->shape[want->rank - i], dx = x->shape[x->rank - i];
        ok = dw == dx || dw == 1;
    }
    if (!ok)
        return ir_errf(err, n, "reduce_to: %s does not reduce to %s", val_shape_str(x, sx, sizeof sx),
                       val_shape_str(want, sw, sizeof sw));
    if (val_alloc(out, want->rank, want->shape, err, n)) return -1;
    int64_t st[IR_MAX_RANK];
    bcast_strides(out, x->rank, st);
    if (is_suffix(out, x)) { /* e.g. a bias gradient summed over the batch */
        for (int64_t i = 0; i < x->numel; i++) out->data[i % out->numel] += x->data[i];
        return 0;
    }
    for (int64_t i = 0; i < x->numel; i++) out->data[bcast_offset(x, st, i)] += x->data[i];
    return 0;
}

static int k_relu_grad(const Val *g, const Val *x, Val *out, char *err, size_t n)
{
    char sg[64], sx[64];
    if (!val_same_shape(g, x))
        return ir_errf(err, n, "relu_grad: shapes %s and %s differ", val_shape_str(g, sg, sizeof sg),
                       val_shape_str(x, sx, sizeof sx));
    if (val_alloc(out, g->rank, g->shape, err, n)) return -1;
    for (int64_t i = 0; i < g->numel; i++) out->data[i] = x->data[i] > 0 ? g->data[i] : 0.0;
    return 0;
}

/* (softmax(logits) - onehot(ids)) / numel(ids): the gradient of the mean
 * cross entropy; the ids were checked by the forward op, but a pass may
 * move things, so check again. */
static int k_cross_entropy_grad(const IrOp *op, const Val *lg, const Val *ids, const Val *w, Val *out, char *err,
                                size_t n)
{
    int rc = check_class_ids(op, lg, ids, w, err, n);
    if (rc) return rc;
    int64_t C = lg->shape[lg->rank - 1];
    if (k_softmax(lg, out, err, n)) return -1;
    double total = weight_sum(ids, w), scale = total != 0 ? 1.0 / total : 0.0;
    for (int64_t i = 0; i < ids->numel; i++) {
        double *row = out->data + i * C, ws = w ? w->data[i] * scale : scale;
        if (ws != 0) row[(int64_t)ids->data[i]] -= 1.0;
        for (int64_t c = 0; c < C; c++) row[c] *= ws;
    }
    return 0;
}

static int k_mse_grad(const Val *y, const Val *t, Val *out, char *err, size_t n)
{
    char sy[64], st[64];
    if (!val_same_shape(y, t))
        return ir_errf(err, n, "mse_grad: shapes %s and %s differ", val_shape_str(y, sy, sizeof sy),
                       val_shape_str(t, st, sizeof st));
    if (val_alloc(out, y->rank, y->shape, err, n)) return -1;
    for (int64_t i = 0; i < y->numel; i++) out->data[i] = 2.0 * (y->data[i] - t->data[i]) / (double)y->numel;
    return 0;
}

/* d table[id] += g row, for every position. */
static int k_embedding_grad(const IrOp *op, const Val *table, const Val *ids, const Val *g, Val *out, char *err,
                            size_t n)
{
    char st[64], sg[64], lab[64], pos[64];
    if (table->rank != 2 || g->rank != ids->rank + 1 || g->shape[g->rank - 1] != table->shape[1] ||
        g->numel != ids->numel * table->shape[1])
        return ir_errf(err, n, "embedding_grad: g %s does not fit table %s", val_shape_str(g, sg, sizeof sg),
                       val_shape_str(table, st, sizeof st));
    int64_t V = table->shape[0], D = table->shape[1];
    for (int64_t i = 0; i < ids->numel; i++)
        if (!id_ok(ids->data[i], V))
            return user_fail(err, n, "token id %.17g at %s out of range [0, %lld) in embedding '%s'", ids->data[i],
                             pos_str(ids, i, pos, sizeof pos), (long long)V, ir_op_label(op, lab, sizeof lab));
    if (val_alloc(out, 2, table->shape, err, n)) return -1;
    for (int64_t i = 0; i < ids->numel; i++) {
        int64_t row = (int64_t)ids->data[i];
        for (int64_t k = 0; k < D; k++) out->data[row * D + k] += g->data[i * D + k];
    }
    return 0;
}

/* The gradient of seq_last (only step T-1 gets g) or of seq_mean (every
 * step gets g / T); s supplies the shape [T, ...]. */
static int k_seq_grad(IrOpKind k, const Val *g, const Val *s, Val *out, char *err, size_t n)
{
    char sg[64], ss[64];
    int ok = s->rank == g->rank + 1 && s->shape[0] >= 1;
    for (int d = 0; ok && d < g->rank; d++) ok = s->shape[d + 1] == g->shape[d];
    if (!ok)
        return ir_errf(err, n, "%s: g %s is not one step of %s", ir_op_name(k), val_shape_str(g, sg, sizeof sg),
                       val_shape_str(s, ss, sizeof ss));
    if (val_alloc(out, s->rank, s->shape, err, n)) return -1;
    int64_t T = s->shape[0], step = g->numel;
    for (int64_t t = 0; t < T; t++) {
        if (k == IR_SEQ_LAST_GRAD && t != T - 1) continue;
        double scale = k == IR_SEQ_MEAN_GRAD ? 1.0 / (double)T : 1.0;
        for (int64_t i = 0; i < step; i++) out->data[t * step + i] = g->data[i] * scale;
    }
    return 0;
}

/* ---- the training step (made by passes/train_step.c) ------------------------------------ */

/* The sum of the squares of every element of every operand: the squared
 * global gradient norm. */
static int k_sumsq(const Val *const *in, int nin, Val *out, char *err, size_t n)
{
    if (val_alloc(out, 0, NULL, err, n)) return -1;
    double s = 0;
    for (int i = 0; i < nin; i++)
        for (int64_t k = 0; k < in[i]->numel; k++) s += in[i]->data[k] * in[i]->data[k];
    out->data[0] = s;
    return 0;
}

/* torch.nn.utils.clip_grad_norm_: clip_coef = max_norm / (norm + 1e-6),
 * clamped to at most 1, so gradients below the bound are left alone. */
static int k_clip_scale(const IrOp *op, const Val *norm, Val *out, char *err, size_t n)
{
    if (norm->rank != 0) return ir_errf(err, n, "clip_scale: the norm is not a scalar");
    if (val_alloc(out, 0, NULL, err, n)) return -1;
    double c = op->attrs.bound / (norm->data[0] + 1e-6);
    out->data[0] = c < 1.0 ? c : 1.0;
    return 0;
}

/* torch.nn.utils.clip_grad_value_: each element into [-bound, bound]. */
static int k_clamp(const IrOp *op, const Val *x, Val *out, char *err, size_t n)
{
    double b = op->attrs.bound;
    if (val_alloc(out, x->rank, x->shape, err, n)) return -1;
    for (int64_t i = 0; i < x->numel; i++) {
        double v = x->data[i];
        out->data[i] = v > b ? b : v < -b ? -b : v;
    }
    return 0;
}

/* torch.optim.SGD (dampening 0, no Nesterov), element by element:
 *   d = g + wd * p;  with momentum: buf = mu * buf + d, d = buf;  p' = p - lr * d
 * A zero buffer on the first step gives buf = d, as PyTorch's clone. */
static int k_sgd_update(const IrOp *op, const Val *const *in, Val *outs, char *err, size_t n)
{
    const Val *p = in[0], *g = in[1], *mom = op->noperands == 3 ? in[2] : NULL;
    double lr = op->attrs.lr, mu = op->attrs.momentum, wd = op->attrs.weight_decay;
    if (val_alloc(&outs[0], p->rank, p->shape, err, n)) return -1;
    if (mom && val_alloc(&outs[1], p->rank, p->shape, err, n)) return -1;
    for (int64_t i = 0; i < p->numel; i++) {
        double d = g->data[i] + wd * p->data[i];
        if (mom) {
            d = mu * mom->data[i] + d;
            outs[1].data[i] = d;
        }
        outs[0].data[i] = p->data[i] - lr * d;
    }
    return 0;
}

/* torch.optim.Adam (amsgrad off), in PyTorch's own order of operations:
 *   d = g + wd * p;  m' = b1 m + (1 - b1) d;  v' = b2 v + (1 - b2) d^2
 *   p' = p - (lr / (1 - b1^t)) * m' / (sqrt(v') / sqrt(1 - b2^t) + eps)
 * with t the step number, 1 on the first step. */
static int k_adam_update(const IrOp *op, const Val *const *in, Val *outs, char *err, size_t n)
{
    const Val *p = in[0], *g = in[1], *m = in[2], *v = in[3], *step = in[4];
    double lr = op->attrs.lr, b1 = op->attrs.beta1, b2 = op->attrs.beta2;
    double eps = op->attrs.eps, wd = op->attrs.weight_decay;
    if (step->rank != 0) return ir_errf(err, n, "adam_update: the step is not a scalar");
    double t = step->data[0];
    if (!(t >= 1) || t != floor(t)) return user_fail(err, n, "adam_update: step %.17g is not a whole number >= 1", t);
    double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
    double step_size = lr / bc1, bc2_sqrt = sqrt(bc2);
    for (int r = 0; r < 3; r++)
        if (val_alloc(&outs[r], p->rank, p->shape, err, n)) return -1;
    for (int64_t i = 0; i < p->numel; i++) {
        double d = g->data[i] + wd * p->data[i];
        double mi = b1 * m->data[i] + (1.0 - b1) * d;
        double vi = b2 * v->data[i] + (1.0 - b2) * d * d;
        outs[1].data[i] = mi;
        outs[2].data[i] = vi;
        outs[0].data[i] = p->data[i] - step_size * mi / (sqrt(vi) / bc2_sqrt + eps);
    }
    return 0;
}

/* The operands of an update op all have the parameter's shape (but the step). */
static int same_shapes(const IrOp *op, const Val *const *in, int nstate, char *err, size_t n)
{
    char s0[64], s1[64];
    for (int i = 1; i <= nstate; i++)
        if (!val_same_shape(in[0], in[i]))
            return ir_errf(err, n, "%s: operand %d %s is not the parameter's shape %s", ir_op_name(op->kind), i,
                           val_shape_str(in[i], s1, sizeof s1), val_shape_str(in[0], s0, sizeof s0));
    return 0;
}

int interp_kernel_update(const IrModule *m, const IrOp *op, const Val *const *in, Val *outs, char *err, size_t errlen)
{
    (void)m;
    if (op->nresults != ir_op_nresults(op->kind, op->noperands))
        return ir_errf(err, errlen, "%s: %d results for %d operands", ir_op_name(op->kind), op->nresults,
                       op->noperands);
    switch (op->kind) {
    case IR_SGD_UPDATE:
        if (op->noperands < 2 || op->noperands > 3) break;
        if (same_shapes(op, in, op->noperands - 1, err, errlen)) return -1;
        return k_sgd_update(op, in, outs, err, errlen);
    case IR_ADAM_UPDATE:
        if (op->noperands != 5) break;
        if (same_shapes(op, in, 3, err, errlen)) return -1;
        return k_adam_update(op, in, outs, err, errlen);
    default: return ir_errf(err, errlen, "no multi-result kernel for op %s", ir_op_name(op->kind));
    }
    return ir_errf(err, errlen, "%s: %d operands", ir_op_name(op->kind), op->noperands);
}

/* ---- dispatch --------------------------------------------------------------------------- */

/* The operand count ir/ops.def allows op, checked once for every kernel. */
static int want_operands(const IrOp *op, char *err, size_t n)
{
    int lo, hi;
    ir_op_operand_range(op->kind, &lo, &hi);
    if (op->noperands >= lo && op->noperands <= hi) return 0;
    return ir_errf(err, n, "%s: %d operands", ir_op_name(op->kind), op->noperands);
}

int interp_kernel(const IrModule *m, const IrOp *op, const Val *const *in, const Val *want, Val *out, char *err,
                  size_t errlen)
{
    (void)m;
    if (want_operands(op, err, errlen)) return -1;
    switch (op->kind) {
    case IR_CONST:
        if (val_alloc(out, want->rank, want->shape, err, errlen)) return -1;
        for (int64_t i = 0; i < out->numel; i++) out->data[i] = op->attrs.f;
        return 0;
#define IR_BINARY(NAME, name, kmap) case IR_##NAME:
#define IR_OP(NAME, name, min, max, nres)
#include "ir/ops.def"
        return k_binary(op, in[0], in[1], out, err, errlen);
#define IR_UNARY(NAME, name, fn, kmap) case IR_##NAME:
#define IR_OP(NAME, name, min, max, nres)
#include "ir/ops.def"
        return k_unary(op, in[0], out, err, errlen);
    case IR_LINEAR: return k_linear(in[0], in[1], out, err, errlen);
    case IR_CONCAT: return k_concat(in, op->noperands, out, err, errlen);
    case IR_SLICE: return k_slice(op, in[0], out, err, errlen);
    case IR_BROADCAST: return k_broadcast(in[0], want, out, err, errlen);
    case IR_STACK: return k_stack(in, op->noperands, out, err, errlen);
    case IR_INDEX: return take("index", in[0], op->attrs.index, out, err, errlen);
    case IR_SEQ_LAST: return take("seq_last", in[0], in[0]->rank ? in[0]->shape[0] - 1 : 0, out, err, errlen);
    case IR_SEQ_REVERSE: return k_seq_reverse(in[0], op->noperands > 1 ? in[1] : NULL, out, err, errlen);
    case IR_SEQ_MEAN: return k_seq_mean(in[0], out, err, errlen);
    case IR_EMBEDDING: return k_embedding(op, in[0], in[1], out, err, errlen);
    case IR_SOFTMAX: return k_softmax(in[0], out, err, errlen);
    case IR_LAYERNORM: return k_layernorm(op, in[0], out, err, errlen);
    case IR_CROSS_ENTROPY: return k_cross_entropy(op, in[0], in[1], op->noperands > 2 ? in[2] : NULL, out, err, errlen);
    case IR_MSE: return k_mse(in[0], in[1], out, err, errlen);
    case IR_MATMUL_NN: return k_matmul_nn(in[0], in[1], out, err, errlen);
    case IR_LINEAR_WGRAD: return k_linear_wgrad(in[0], in[1], out, err, errlen);
    case IR_REDUCE_TO: return k_reduce_to(in[0], want, out, err, errlen);
    case IR_RELU_GRAD: return k_relu_grad(in[0], in[1], out, err, errlen);
    case IR_CROSS_ENTROPY_GRAD:
        return k_cross_entropy_grad(op, in[0], in[1], op->noperands > 2 ? in[2] : NULL, out, err, errlen);
    case IR_MSE_GRAD: return k_mse_grad(in[0], in[1], out, err, errlen);
    case IR_EMBEDDING_GRAD: return k_embedding_grad(op, in[0], in[1], in[2], out, err, errlen);
    case IR_LAYERNORM_GRAD: return k_layernorm_grad(op, in[0], in[1], out, err, errlen);
    case IR_SEQ_LAST_GRAD:
    case IR_SEQ_MEAN_GRAD: return k_seq_grad(op->kind, in[0], in[1], out, err, errlen);
    case IR_SUMSQ: return k_sumsq(in, op->noperands, out, err, errlen);
    case IR_CLIP_SCALE: return k_clip_scale(op, in[0], out, err, errlen);
    case IR_CLAMP: return k_clamp(op, in[0], out, err, errlen);
    case IR_RESHAPE: return k_reshape(in[0], want, out, err, errlen);
    case IR_DROPOUT: return val_copy(out, in[0], err, errlen); /* as in inference: dropout.h */
    case IR_DROPOUT_MASK: return k_dropout_mask(op, in[0], want, out, err, errlen);
    case IR_SGD_UPDATE:
    case IR_ADAM_UPDATE: /* interp_kernel_update() */
    case IR_SCAN:
    case IR_NUM_OPS: break;
    }
    return ir_errf(err, errlen, "no kernel for op %s", ir_op_name(op->kind));
}
