/* nn_kernels.c - softmax, cross-entropy, embedding lookup, layer
 * normalization, their gradients and the SGD/Adam updates, as compiled
 * models call them (nn_kernels.h; the scalar activations live with their
 * array versions in vmath.c).
 *
 * Numerics follow the reference interpreter (ir/interp_ops.c), which works
 * in double: here each output element is computed in double from the float
 * inputs and rounded to float once, so a compiled model stays within about
 * half an ulp of the interpreter wherever the interpreter's inputs were the
 * same floats.  The one exception is rt_embedding_grad, which adds rows in
 * float in order of i (a double accumulator would need V x D of scratch).
 *
 * Ids are checked before anything is written: a fallible kernel that
 * returns RT_ERR_ID_RANGE has left every output as it was. */
#include "runtime/nn_kernels.h"

#include <math.h>
#include <string.h>

#include "runtime/cpu.h"
#include "runtime/rnnrt.h" /* must agree with nn_kernels.h */

/* 0 if every ids[i], i < n, is in [0, limit). */
static int nn_check_ids(int64_t n, const int64_t *ids, int64_t limit)
{
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= limit) return RT_ERR_ID_RANGE;
    return 0;
}

/* The largest element of a row (NaNs skipped, -inf for an empty row). */
static double nn_row_max(int64_t C, const float *x)
{
    double mx = -INFINITY;
    for (int64_t c = 0; c < C; c++)
        if (x[c] > mx) mx = x[c];
    return mx;
}

/* sum_c exp(x[c] - mx), in double.  Subtracting the row maximum keeps
 * every term in (0, 1]: logits of 1000 neither overflow nor lose the
 * distribution. */
static double nn_row_sumexp(int64_t C, const float *x, double mx)
{
    double s = 0.0;
    for (int64_t c = 0; c < C; c++) s += exp((double)x[c] - mx);
    return s;
}

/* y[c] = (exp(x[c] - mx) / s - (c == hot)) * scale, rounded once; hot = -1
 * for plain softmax.  exp is recomputed rather than kept in y: y may be x,
 * and a float copy would round twice. */
static void nn_row_softmax(int64_t C, const float *x, float *y, int64_t hot, double scale)
{
    double mx = nn_row_max(C, x);
    double s = nn_row_sumexp(C, x, mx);
    for (int64_t c = 0; c < C; c++) {
        double p = exp((double)x[c] - mx) / s;
        if (c == hot) p -= 1.0;
        y[c] = (float)(p * scale);
    }
}

RT_API void rt_softmax_rows(int64_t rows, int64_t C, const float *x, float *y)
{
    for (int64_t r = 0; r < rows; r++) nn_row_softmax(C, x + r * C, y + r * C, -1, 1.0);
}

/* -log softmax(row)[t] = logsumexp(row) - row[t], the logsumexp taken
 * around the row maximum; the mean over rows (NaN for no rows, as the
 * interpreter's 0/0). */
RT_API int rt_cross_entropy(int64_t rows, int64_t C, const float *logits, const int64_t *ids, float *out)
{
    if (nn_check_ids(rows, ids, C)) return RT_ERR_ID_RANGE;
    double total = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        const float *row = logits + r * C;
        double mx = nn_row_max(C, row);
        total += mx + log(nn_row_sumexp(C, row, mx)) - (double)row[ids[r]];
    }
    *out = rows > 0 ? (float)(total / (double)rows) : NAN;
    return 0;
}

RT_API int rt_cross_entropy_grad(int64_t rows, int64_t C, const float *logits, const int64_t *ids, float *g)
{
    if (nn_check_ids(rows, ids, C)) return RT_ERR_ID_RANGE;
    double scale = rows > 0 ? 1.0 / (double)rows : 0.0;
    for (int64_t r = 0; r < rows; r++) nn_row_softmax(C, logits + r * C, g + r * C, ids[r], scale);
    return 0;
}

/* rt_cross_entropy over the rows r with w[r] != 0, each loss times w[r],
 * divided by the sum of w (lengths: w is the mask of the real steps); a
 * row with w[r] == 0 is not read, so its id may be anything. */
RT_API int rt_cross_entropy_masked(int64_t rows, int64_t C, const float *logits, const int64_t *ids, const float *w,
                                   float *out)
{
    double total = 0.0, wsum = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        if (w[r] == 0.0f) continue;
        if (ids[r] < 0 || ids[r] >= C) return RT_ERR_ID_RANGE;
        const float *row = logits + r * C;
        double mx = nn_row_max(C, row);
        total += (double)w[r] * (mx + log(nn_row_sumexp(C, row, mx)) - (double)row[ids[r]]);
        wsum += (double)w[r];
    }
    *out = (float)(total / wsum);
    return 0;
}

/* g[r] = w[r] (softmax(logits[r]) - onehot(ids[r])) / sum of w; zeros
 * where w[r] == 0, whose id is not read. */
RT_API int rt_cross_entropy_masked_grad(int64_t rows, int64_t C, const float *logits, const int64_t *ids,
                                        const float *w, float *g)
{
    double wsum = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        if (w[r] != 0.0f && (ids[r] < 0 || ids[r] >= C)) return RT_ERR_ID_RANGE;
        wsum += (double)w[r];
    }
    for (int64_t r = 0; r < rows; r++) {
        if (w[r] == 0.0f)
            memset(g + r * C, 0, (size_t)C * sizeof(float));
        else
            nn_row_softmax(C, logits + r * C, g + r * C, ids[r], (double)w[r] / wsum);
    }
    return 0;
}

/* Each example's first len steps in reverse order and zeros after them,
 * for floats (float) and ids (int64_t); out may be x (the steps are
 * swapped in pairs then). */
#define NN_SEQ_REVERSE_MASKED(NAME, TYPE)                                                                     \
    RT_API void NAME(int64_t T, int64_t n, int64_t B, const TYPE *x, const float *m, TYPE *out)               \
    {                                                                                                         \
        if (B <= 0 || T <= 0) return;                                                                         \
        int64_t row = n / B;                                                                                  \
        for (int64_t b = 0; b < B; b++) {                                                                     \
            int64_t len = 0;                                                                                  \
            for (int64_t t = 0; t < T; t++) len += m[t * B + b] != 0.0f;                                      \
            for (int64_t t = 0; t < len / 2 + len % 2; t++) {                                                 \
                TYPE *lo = out + (t * B + b) * row, *hi = out + ((len - 1 - t) * B + b) * row;                \
                const TYPE *xlo = x + (t * B + b) * row, *xhi = x + ((len - 1 - t) * B + b) * row;            \
                for (int64_t k = 0; k < row; k++) { /* both ends read before either is written */             \
                    TYPE a = xlo[k], c = xhi[k];                                                              \
                    lo[k] = c;                                                                                \
                    hi[k] = a;                                                                                \
                }                                                                                             \
            }                                                                                                 \
            for (int64_t t = len; t < T; t++) memset(out + (t * B + b) * row, 0, (size_t)row * sizeof(TYPE)); \
        }                                                                                                     \
    }
NN_SEQ_REVERSE_MASKED(rt_seq_reverse_masked, float)
NN_SEQ_REVERSE_MASKED(rt_seq_reverse_masked_ids, int64_t)
#undef NN_SEQ_REVERSE_MASKED

RT_API int rt_embedding(int64_t n, int64_t D, int64_t V, const float *table, const int64_t *ids, float *out)
{
    if (nn_check_ids(n, ids, V)) return RT_ERR_ID_RANGE;
    if (D <= 0) return 0;
    for (int64_t i = 0; i < n; i++) memcpy(out + i * D, table + ids[i] * D, (size_t)D * sizeof(float));
    return 0;
}

RT_API int rt_embedding_grad(int64_t n, int64_t D, int64_t V, const int64_t *ids, const float *g, float *out)
{
    if (nn_check_ids(n, ids, V)) return RT_ERR_ID_RANGE;
    if (D <= 0 || V <= 0) return 0;
    memset(out, 0, (size_t)V * (size_t)D * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        float *o = out + ids[i] * D;
        const float *gi = g + i * D;
        for (int64_t k = 0; k < D; k++) o[k] += gi[k];
    }
    return 0;
}

/* The mean and 1 / sqrt(biased variance + eps) of a row of n, in double:
 * two passes (the mean, then the squares around it), so a row far from 0
 * loses nothing to cancellation.  An empty row gives 0 and 1/sqrt(eps). */
static void nn_row_moments(int64_t n, const float *x, double eps, double *mean, double *rstd)
{
    double s = 0.0, q = 0.0;
    for (int64_t c = 0; c < n; c++) s += x[c];
    double mu = n ? s / (double)n : 0.0;
    for (int64_t c = 0; c < n; c++) {
        double d = (double)x[c] - mu;
        q += d * d;
    }
    *mean = mu;
    *rstd = 1.0 / sqrt((n ? q / (double)n : 0.0) + eps);
}

/* Each row's moments are taken before any of it is written, and each
 * element reads x[c] before writing y[c], so y may be x. */
RT_API void rt_layernorm_rows(int64_t rows, int64_t n, const float *x, float *y, double eps)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        double mu, rs;
        nn_row_moments(n, xr, eps, &mu, &rs);
        for (int64_t c = 0; c < n; c++) yr[c] = (float)(((double)xr[c] - mu) * rs);
    }
}

/* From x rather than from a saved 1/sqrt(var + eps): the graph IR's op has
 * one result, the recomputation is two passes over a row the gradient
 * reads three times anyway, and it gives the forward's moments exactly
 * (a saved float would be rounded).  Both sums come before any write. */
RT_API void rt_layernorm_grad_rows(int64_t rows, int64_t n, const float *x, const float *dy, float *dx, double eps)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n, *gr = dy + r * n;
        float *dr = dx + r * n;
        double mu, rs, sg = 0.0, sgx = 0.0;
        nn_row_moments(n, xr, eps, &mu, &rs);
        for (int64_t c = 0; c < n; c++) {
            sg += gr[c];
            sgx += (double)gr[c] * (((double)xr[c] - mu) * rs);
        }
        double mg = n ? sg / (double)n : 0.0, mgx = n ? sgx / (double)n : 0.0;
        for (int64_t c = 0; c < n; c++) {
            double xh = ((double)xr[c] - mu) * rs;
            dr[c] = (float)(rs * ((double)gr[c] - mg - xh * mgx));
        }
    }
}

/* The SGD (and Adam) update of a vector of elements at once on the AVX paths: the
 * scalar loop's double operations below, one instruction each in the same
 * order (each element is converted to double exactly, and the result
 * rounded to float once, as the (float) cast does), so the same bits on
 * every path (test_nn_kernels' test_sgd_paths).  The scalar loop did one
 * element at a time with a branch on mom inside: at batch 1 the update of
 * an LSTM 256's 526 K parameters was 9% of its training step (perf,
 * docs/performance.md).  No FMA: gcc could contract a mul and an add of
 * vectors under -ffp-contract=fast (gnu modes), hence the pragma; each
 * operation is its own statement for clang's FP_CONTRACT.  Returns how
 * many leading elements it did. */
#if RT_X86
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
#define NN_SGD_KERNEL(name, isa, VD, VF, X, XF, W)                                                                 \
    RT_TARGET(isa)                                                                                                 \
    static int64_t name(int64_t n, const float *p, const float *g, const float *mom, float *out_p, float *out_mom, \
                        double lr, double mu, double wd)                                                           \
    {                                                                                                              \
        const VD vlr = X##_set1_pd(lr), vmu = X##_set1_pd(mu), vwd = X##_set1_pd(wd);                              \
        int64_t i = 0;                                                                                             \
        for (; i + W <= n; i += W) {                                                                               \
            VD pi = X##_cvtps_pd(XF##_loadu_ps(p + i));                                                            \
            VD gi = X##_cvtps_pd(XF##_loadu_ps(g + i));                                                            \
            VD t = X##_mul_pd(vwd, pi);                                                                            \
            VD d = X##_add_pd(gi, t);                                                                              \
            if (mom) {                                                                                             \
                VD m = X##_cvtps_pd(XF##_loadu_ps(mom + i));                                                       \
                VD u = X##_mul_pd(vmu, m);                                                                         \
                d = X##_add_pd(u, d);                                                                              \
                XF##_storeu_ps(out_mom + i, X##_cvtpd_ps(d));                                                      \
            }                                                                                                      \
            VD s = X##_mul_pd(vlr, d);                                                                             \
            VF r = X##_cvtpd_ps(X##_sub_pd(pi, s));                                                                \
            XF##_storeu_ps(out_p + i, r);                                                                          \
        }                                                                                                          \
        return i;                                                                                                  \
    }
NN_SGD_KERNEL(nn_sgd_avx512, "avx512f", __m512d, __m256, _mm512, _mm256, 8)
NN_SGD_KERNEL(nn_sgd_avx2, "avx2", __m256d, __m128, _mm256, _mm, 4)
#undef NN_SGD_KERNEL
/* Adam likewise: rt_adam_update_on's loop, operation by operation (sqrt
 * and division are correctly rounded in vectors as in scalars). */
#define NN_ADAM_KERNEL(name, isa, VD, X, XF, W)                                                                  \
    RT_TARGET(isa)                                                                                               \
    static int64_t name(int64_t n, const float *p, const float *g, const float *m, const float *v, float *out_p, \
                        float *out_m, float *out_v, double b1, double b2, double e, double wd, double step_size, \
                        double bc2_sqrt)                                                                         \
    {                                                                                                            \
        const VD vb1 = X##_set1_pd(b1), vb2 = X##_set1_pd(b2), ve = X##_set1_pd(e), vwd = X##_set1_pd(wd);       \
        const VD c1 = X##_set1_pd(1.0 - b1), c2 = X##_set1_pd(1.0 - b2), vss = X##_set1_pd(step_size);           \
        const VD vbc = X##_set1_pd(bc2_sqrt);                                                                    \
        int64_t i = 0;                                                                                           \
        for (; i + W <= n; i += W) {                                                                             \
            VD pi = X##_cvtps_pd(XF##_loadu_ps(p + i));                                                          \
            VD t = X##_mul_pd(vwd, pi);                                                                          \
            VD d = X##_add_pd(X##_cvtps_pd(XF##_loadu_ps(g + i)), t);                                            \
            VD a = X##_mul_pd(vb1, X##_cvtps_pd(XF##_loadu_ps(m + i)));                                          \
            VD b = X##_mul_pd(c1, d);                                                                            \
            VD mi = X##_add_pd(a, b);                                                                            \
            VD a2 = X##_mul_pd(vb2, X##_cvtps_pd(XF##_loadu_ps(v + i)));                                         \
            VD b2d = X##_mul_pd(c2, d);                                                                          \
            VD b2dd = X##_mul_pd(b2d, d);                                                                        \
            VD vi = X##_add_pd(a2, b2dd);                                                                        \
            XF##_storeu_ps(out_m + i, X##_cvtpd_ps(mi));                                                         \
            XF##_storeu_ps(out_v + i, X##_cvtpd_ps(vi));                                                         \
            VD num = X##_mul_pd(vss, mi);                                                                        \
            VD den = X##_add_pd(X##_div_pd(X##_sqrt_pd(vi), vbc), ve);                                           \
            VD q = X##_div_pd(num, den);                                                                         \
            XF##_storeu_ps(out_p + i, X##_cvtpd_ps(X##_sub_pd(pi, q)));                                          \
        }                                                                                                        \
        return i;                                                                                                \
    }
NN_ADAM_KERNEL(nn_adam_avx512, "avx512f", __m512d, _mm512, _mm256, 8)
NN_ADAM_KERNEL(nn_adam_avx2, "avx2", __m256d, _mm256, _mm, 4)
#undef NN_ADAM_KERNEL
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
#endif

/* Each element reads all its inputs before writing, so an output may be
 * its input (the same array; not a shifted one). */
RT_API void rt_sgd_update_on(RtCpuPath path, int64_t n, const float *p, const float *g, const float *mom, float *out_p,
                             float *out_mom, double lr, double momentum, double weight_decay)
{
    double lr_ = lr, mu = momentum, wd = weight_decay;
    int64_t i = 0;
#if RT_X86
    if (path == RT_CPU_AVX512)
        i = nn_sgd_avx512(n, p, g, mom, out_p, out_mom, lr_, mu, wd);
    else if (path == RT_CPU_AVX2)
        i = nn_sgd_avx2(n, p, g, mom, out_p, out_mom, lr_, mu, wd);
#endif
    (void)path;
    for (; i < n; i++) {
        double pi = p[i];
        double d = (double)g[i] + wd * pi;
        if (mom) {
            d = mu * (double)mom[i] + d;
            out_mom[i] = (float)d;
        }
        out_p[i] = (float)(pi - lr_ * d);
    }
}

RT_API void rt_sgd_update(int64_t n, const float *p, const float *g, const float *mom, float *out_p, float *out_mom,
                          double lr, double momentum, double weight_decay)
{
    rt_sgd_update_on(rt_cpu_path(), n, p, g, mom, out_p, out_mom, lr, momentum, weight_decay);
}

RT_API void rt_adam_update_on(RtCpuPath path, int64_t n, const float *p, const float *g, const float *m, const float *v,
                              const float *step, float *out_p, float *out_m, float *out_v, double lr, double beta1,
                              double beta2, double eps, double weight_decay)
{
    double b1 = beta1, b2 = beta2, e = eps, wd = weight_decay;
    double t = *step;
    double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
    double step_size = (double)lr / bc1, bc2_sqrt = sqrt(bc2);
    int64_t i = 0;
#if RT_X86
    if (path == RT_CPU_AVX512)
        i = nn_adam_avx512(n, p, g, m, v, out_p, out_m, out_v, b1, b2, e, wd, step_size, bc2_sqrt);
    else if (path == RT_CPU_AVX2)
        i = nn_adam_avx2(n, p, g, m, v, out_p, out_m, out_v, b1, b2, e, wd, step_size, bc2_sqrt);
#endif
    (void)path;
    for (; i < n; i++) {
        double pi = p[i];
        double d = (double)g[i] + wd * pi;
        double mi = b1 * (double)m[i] + (1.0 - b1) * d;
        double vi = b2 * (double)v[i] + (1.0 - b2) * d * d;
        out_m[i] = (float)mi;
        out_v[i] = (float)vi;
        out_p[i] = (float)(pi - step_size * mi / (sqrt(vi) / bc2_sqrt + e));
    }
}

RT_API void rt_adam_update(int64_t n, const float *p, const float *g, const float *m, const float *v, const float *step,
                           float *out_p, float *out_m, float *out_v, double lr, double beta1, double beta2, double eps,
                           double weight_decay)
{
    rt_adam_update_on(rt_cpu_path(), n, p, g, m, v, step, out_p, out_m, out_v, lr, beta1, beta2, eps, weight_decay);
}
