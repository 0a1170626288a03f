/* sgemm.c - rt_sgemm: argument checks, packing (per call, or once for
 * rt_sgemm_pack_b), the blocked loops around the micro-kernel, the small-M
 * loops around the rows/dots kernels, and the run-time choice of kernel and
 * algorithm (see sgemm_kernels.h for the algorithms,
 * sgemm_{scalar,avx2,avx512}.c for the kernels and sgemm_mt.c for the
 * split of one product over threads). */
#include "runtime/sgemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sgemm_kernels.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/* ---- packing ---------------------------------------------------------------- */

/* op(A)[i0.., p0..] (mc x kc) into row panels of mr: panel r holds rows
 * r*mr.. as kc columns of mr floats; rows past mc are zero. */
static void pack_a(int transa, const float *A, int64_t lda, int64_t i0, int64_t p0, int64_t mc, int64_t kc, int mr,
                   float *Ap)
{
    for (int64_t ir = 0; ir < mc; ir += mr) {
        int m = (int)min64(mr, mc - ir);
        float *dst = Ap + ir * kc;
        if (!transa) {
            /* op(A)[i][p] = A[i*lda + p]: mr row streams, each read in order. */
            const float *rows[64]; /* mr <= 64 for every kernel */
            for (int i = 0; i < m; i++) rows[i] = A + (i0 + ir + i) * lda + p0;
            for (int64_t p = 0; p < kc; p++) {
                for (int i = 0; i < m; i++) dst[p * mr + i] = rows[i][p];
                for (int i = m; i < mr; i++) dst[p * mr + i] = 0.0f;
            }
        } else {
            /* op(A)[i][p] = A[p*lda + i]: each column of the panel is contiguous. */
            for (int64_t p = 0; p < kc; p++) {
                const float *src = A + (p0 + p) * lda + i0 + ir;
                for (int i = 0; i < m; i++) dst[p * mr + i] = src[i];
                for (int i = m; i < mr; i++) dst[p * mr + i] = 0.0f;
            }
        }
    }
}

/* op(B)[p0.., j0..] (kc x nc) into column panels of nr: panel r holds
 * columns r*nr.. as kc rows of nr floats; columns past nc are zero. */
static void pack_b(const RtSgemmKernel *k, int transb, const float *B, int64_t ldb, int64_t p0, int64_t j0, int64_t kc,
                   int64_t nc, float *Bp)
{
    int nr = k->nr;
    RtSgemmPackT pack_t = transb ? rt_sgemm_pack_t_for(k) : NULL; /* 8 x 8 transposes (sgemm_pack.c) */
    for (int64_t jr = 0; jr < nc; jr += nr) {
        int n = (int)min64(nr, nc - jr);
        float *dst = Bp + jr * kc;
        if (pack_t && n == nr) {
            pack_t(B + (j0 + jr) * ldb + p0, ldb, kc, nr, dst);
        } else if (!transb) {
            /* op(B)[p][j] = B[p*ldb + j]: a row of the panel is contiguous. */
            for (int64_t p = 0; p < kc; p++) {
                memcpy(dst + p * nr, B + (p0 + p) * ldb + j0 + jr, (size_t)n * sizeof(float));
                for (int j = n; j < nr; j++) dst[p * nr + j] = 0.0f;
            }
        } else {
            /* op(B)[p][j] = B[j*ldb + p]: nr row streams, each read in order. */
            const float *cols[64]; /* nr <= 64 for every kernel */
            for (int j = 0; j < n; j++) cols[j] = B + (j0 + jr + j) * ldb + p0;
            for (int64_t p = 0; p < kc; p++) {
                for (int j = 0; j < n; j++) dst[p * nr + j] = cols[j][p];
                for (int j = n; j < nr; j++) dst[p * nr + j] = 0.0f;
            }
        }
    }
}

/* ---- the tile store shared by the kernels ----------------------------------- */

RT_API void rt_sgemm_store_tile(const float *t, int nr, float *C, int64_t ldc, int m, int n, float alpha, float beta)
{
    for (int i = 0; i < m; i++) {
        float *c = C + i * ldc;
        const float *r = t + i * nr;
        if (beta == 0.0f)
            for (int j = 0; j < n; j++) c[j] = alpha * r[j];
        else
            for (int j = 0; j < n; j++) c[j] = alpha * r[j] + beta * c[j];
    }
}

/* ---- the blocked driver ----------------------------------------------------- */

/* Floats of packing space for kernel k: one mc x kc block of A and one
 * kc x nc block of B, each rounded up to whole panels.  The A part is a
 * multiple of 16 floats so that B starts 64-byte aligned too. */
static size_t a_floats(const RtSgemmKernel *k, int64_t M, int64_t K)
{
    return (size_t)round_up(round_up(min64(k->mc, M), k->mr) * min64(k->kc, K), 16);
}
static size_t ws_floats(const RtSgemmKernel *k, int64_t M, int64_t N, int64_t K)
{
    return a_floats(k, M, K) + (size_t)(round_up(min64(k->nc, N), k->nr) * min64(k->kc, K));
}

/* The slice of K the blocked loops take at a time: at most the kernel's
 * kc, in equal slices (K = 1024 with kc = 256: 4 x 256; K = 300: 2 x 150
 * rather than 256 + 44).  Every slice ends with a pass over the C block,
 * which a short last slice pays for with few FMAs.  A function of K alone,
 * so that every strip of a split product sums in the same order. */
static int64_t balanced_kc(const RtSgemmKernel *k, int64_t K)
{
    int64_t slices = (K + k->kc - 1) / k->kc;
    return slices > 1 ? (K + slices - 1) / slices : K;
}

/* The loops of Goto's algorithm, outermost first: nc columns of C, kc of the
 * inner dimension (pack B), mc rows (pack A), then NR x MR tiles.  With Bpk
 * (pre-packed panels of all K rows, see sgemm_kernels.h) B is not packed:
 * the kernel reads its kc x NR piece of each panel in place. */
static void blocked(const RtSgemmKernel *k, int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb, const float *Bpk, float beta, float *C,
                    int64_t ldc, float *ws)
{
    float *Ap = ws;
    float *Bp = ws + a_floats(k, M, K);
    int64_t kcb = balanced_kc(k, K);
    for (int64_t jc = 0; jc < N; jc += k->nc) {
        int64_t nc = min64(k->nc, N - jc);
        for (int64_t pc = 0; pc < K; pc += kcb) {
            int64_t kc = min64(kcb, K - pc);
            /* After the first kc slice C holds a partial sum: accumulate. */
            float b = pc == 0 ? beta : 1.0f;
            /* Panel r of this block starts at bblk + r * pstride. */
            const float *bblk = Bp;
            int64_t pstride = kc * k->nr;
            if (Bpk) {
                bblk = Bpk + jc / k->nr * K * k->nr + pc * k->nr; /* nc % nr == 0 */
                pstride = K * k->nr;
            } else {
                pack_b(k, transb, B, ldb, pc, jc, kc, nc, Bp);
            }
            for (int64_t ic = 0; ic < M; ic += k->mc) {
                int64_t mc = min64(k->mc, M - ic);
                pack_a(transa, A, lda, ic, pc, mc, kc, k->mr, Ap);
                for (int64_t jr = 0; jr < nc; jr += k->nr) {
                    int n = (int)min64(k->nr, nc - jr);
                    const float *bpanel = bblk + jr / k->nr * pstride;
                    for (int64_t ir = 0; ir < mc; ir += k->mr) {
                        int m = (int)min64(k->mr, mc - ir);
                        k->ukr(kc, Ap + ir * kc, bpanel, C + (ic + ir) * ldc + jc + jr, ldc, m, n, alpha, b);
                    }
                }
            }
        }
    }
}

/* ---- the small-M driver ----------------------------------------------------- */

/* Floats of workspace the small-M loops need: a copy of a transposed A's
 * rows for the dot kernel, kc columns at a time (a_floats covers it). */
static size_t small_ws_floats(const RtSgemmKernel *k, int transa, int transb, int64_t K)
{
    return transa && transb ? (size_t)(RT_SGEMM_SMALL_ROWS * min64(k->kc, K)) : 0;
}

/* C[0..m) x [0..n) for plain row-major B (transb = 0), n < NR columns left
 * over by the rows kernel (which reads whole chunks): plain C. */
static void rows_tail(int m, int64_t n, int64_t K, const float *A, int64_t ars, int64_t acs, const float *B,
                      int64_t ldb, float *C, int64_t ldc, float alpha, float beta)
{
    for (int i = 0; i < m; i++) {
        float s[64] = {0}; /* n < nr <= 64 */
        for (int64_t p = 0; p < K; p++) {
            float a = A[i * ars + p * acs];
            for (int64_t j = 0; j < n; j++) s[j] += a * B[p * ldb + j];
        }
        rt_sgemm_store_tile(s, 64, C + i * ldc, ldc, 1, (int)n, alpha, beta);
    }
}

/* Small M, B unpacked: groups of up to RT_SGEMM_SMALL_ROWS rows, each
 * streaming all of B once.  transb = 0 reads B's rows in nr-wide chunks
 * (rows kernel), transb = 1 takes dot products along B's rows (dots
 * kernel, which needs A's rows contiguous: a transposed A is copied into
 * ws kc columns at a time, C accumulating over the slices). */
static void small_unpacked(const RtSgemmKernel *k, int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha,
                           const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                           float *ws)
{
    int64_t ars = transa ? 1 : lda, acs = transa ? lda : 1;
    for (int64_t i0 = 0; i0 < M; i0 += RT_SGEMM_SMALL_ROWS) {
        int m = (int)min64(RT_SGEMM_SMALL_ROWS, M - i0);
        const float *a = A + i0 * ars;
        float *c = C + i0 * ldc;
        if (!transb) {
            int64_t nfull = N / k->nr * k->nr;
            if (nfull > 0) k->rows(m, nfull, K, a, ars, acs, B, ldb, k->nr, c, ldc, alpha, beta);
            if (nfull < N) rows_tail(m, N - nfull, K, a, ars, acs, B + nfull, ldb, c + nfull, ldc, alpha, beta);
        } else if (!transa) {
            k->dots(m, N, K, a, lda, B, ldb, c, ldc, alpha, beta);
        } else {
            for (int64_t pc = 0; pc < K; pc += k->kc) {
                int64_t kc = min64(k->kc, K - pc);
                for (int i = 0; i < m; i++)
                    for (int64_t p = 0; p < kc; p++) ws[i * kc + p] = a[(pc + p) * lda + i];
                k->dots(m, N, kc, ws, kc, B + pc, ldb, c, ldc, alpha, pc == 0 ? beta : 1.0f);
            }
        }
    }
}

/* Which way the next one-group product walks its panels (see
 * small_packed); per thread, so that threads never share it.  Any value
 * gives the same bits. */
static _Thread_local unsigned zigzag_flip;

/* Small M, B pre-packed: the rows kernel over whole panels.
 *
 * With one group of rows (M <= RT_SGEMM_SMALL_ROWS: a recurrent step at
 * batch 1-4) each call streams all of B once, and the next call (the next
 * step) streams it again.  When B is about the size of L2 (1 MiB at
 * LSTM 256, on a 1 MiB L2), walking it the same way every call evicts each
 * panel just before it is needed again; walking it forwards one call and
 * backwards the next starts each call on the panels read last, still in
 * L2.  Panels go to the kernel in groups of 4 (the widest the kernels take
 * at M = 1, so the tiles are the same); every column is still one sum over
 * K in order, so the result is the same bits either way.  At M = 1 whole
 * groups go to the batch-1 kernel (sgemm_matvec.c), the same bits again. */
static void small_packed(const RtSgemmKernel *k, int zigzag, int transa, int64_t M, int64_t N, int64_t K, float alpha,
                         const float *A, int64_t lda, const float *Bpk, float beta, float *C, int64_t ldc)
{
    int64_t ars = transa ? 1 : lda, acs = transa ? lda : 1;
    if (zigzag && M <= RT_SGEMM_SMALL_ROWS) {
        int64_t w = 4 * (int64_t)k->nr, ngroups = (N + w - 1) / w;
        int back = (int)(zigzag_flip++ & 1);
        RtSgemmRows mv = M == 1 ? rt_sgemm_matvec_for(k) : NULL;
        for (int64_t g = 0; g < ngroups; g++) {
            int64_t j = (back ? ngroups - 1 - g : g) * w;
            RtSgemmRows f = mv && N - j >= w ? mv : k->rows;
            f((int)M, min64(w, N - j), K, A, ars, acs, Bpk + j * K, k->nr, K * k->nr, C + j, ldc, alpha, beta);
        }
        return;
    }
    for (int64_t i0 = 0; i0 < M; i0 += RT_SGEMM_SMALL_ROWS) {
        int m = (int)min64(RT_SGEMM_SMALL_ROWS, M - i0);
        k->rows(m, N, K, A + i0 * ars, ars, acs, Bpk, k->nr, K * k->nr, C + i0 * ldc, ldc, alpha, beta);
    }
}

/* packed: B pre-packed; else transb says which small kernel would run.
 * With B pre-packed, the small-M kernels also win at any M when the inner
 * dimension is long (K >= 2 kc) and at least N: an input gradient g W of
 * all steps at once (M = T*B, N = I, K = G*H).  There the blocked loops
 * pack A and update all of C once per kc slice of K, while the rows kernel
 * sums all of K in registers; measured on the AVX-512 EPYC (one thread,
 * docs/performance.md): M = 3200, N = 256, K = 1024 193 vs 137 GFLOP/s,
 * K = 768 185 vs 137; M = 6400, N = 512, K = 2048 159 vs 137; K = 512
 * 170 vs 157.  (N = 1024, K = 256, a forward projection, stays blocked:
 * 185 vs 173.) */
static int use_small(const RtSgemmKernel *k, RtSgemmAlgo algo, int64_t M, int64_t N, int64_t K, int packed, int transb)
{
    if (algo == RT_SGEMM_STREAM) return packed && M <= RT_SGEMM_SMALL_ROWS ? RT_SGEMM_JOB_STREAM : 1;
    if (algo != RT_SGEMM_AUTO) return algo == RT_SGEMM_SMALL;
    if (packed && M <= RT_SGEMM_SMALL_ROWS) return RT_SGEMM_JOB_STREAM;
    if (packed && K >= 2 * k->kc && K >= N) return 1;
    return M <= (packed ? k->small_m_packed : transb ? k->small_m_nt : k->small_m_nn);
}

/* ---- argument checks and entry points --------------------------------------- */

/* Checks the arguments; 0 if rt_sgemm may proceed.  B is not checked when
 * it is pre-packed (B == NULL, ldb == 0 from the packed entry). */
static int check_args(int transa, int transb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                      const float *B, int64_t ldb, const float *C, int64_t ldc, int packed)
{
    const char *bad = NULL;
    if (M < 0 || N < 0 || K < 0)
        bad = "negative size";
    else if (lda < 1 || lda < (transa ? M : K))
        bad = "lda smaller than a row of A";
    else if (!packed && (ldb < 1 || ldb < (transb ? K : N)))
        bad = "ldb smaller than a row of B";
    else if (ldc < 1 || ldc < N)
        bad = "ldc smaller than a row of C";
    else if ((M > 0 && N > 0 && !C) || (M > 0 && N > 0 && K > 0 && (!A || !B)))
        bad = "NULL matrix";
    if (bad) {
        fprintf(stderr, "rt_sgemm: %s (M=%lld N=%lld K=%lld lda=%lld ldb=%lld ldc=%lld)\n", bad, (long long)M,
                (long long)N, (long long)K, (long long)lda, (long long)ldb, (long long)ldc);
        return -1;
    }
    return 0;
}

/* C = beta * C, the whole job when alpha == 0 or K == 0 (BLAS reads neither
 * A nor B then; beta == 0 clears C without reading it). */
static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

RT_API const RtSgemmKernel *rt_sgemm_kernel_for(RtCpuPath path)
{
    const RtSgemmKernel *k = &rt_sgemm_kernel_scalar;
    if (path == RT_CPU_AVX2)
        k = &rt_sgemm_kernel_avx2;
    else if (path == RT_CPU_AVX512)
        k = &rt_sgemm_kernel_avx512;
    return k->ukr ? k : NULL;
}

/* The path whose kernel actually runs for `path`: itself, or scalar if its
 * kernel was not compiled in. */
static RtCpuPath effective_path(RtCpuPath path) { return rt_sgemm_kernel_for(path) ? path : RT_CPU_SCALAR; }

/* Points *w at `need` bytes: the caller's ws (checked), or allocated into
 * *own (need == 0 and no ws: *w = NULL, nothing will be stored).  -1 on
 * failure, with a message. */
static int get_ws(size_t need, void *ws, size_t ws_bytes, float **w, void **own)
{
    *own = NULL;
    *w = ws;
    if (ws) {
        if (ws_bytes < need || ((uintptr_t)ws & 63)) {
            fprintf(stderr, "rt_sgemm: workspace of %zu bytes at %p: need %zu, 64-byte aligned\n", ws_bytes, ws, need);
            return -1;
        }
        return 0;
    }
    if (need == 0) return 0;
    *own = *w = aligned_alloc(64, (size_t)round_up((int64_t)need, 64));
    if (!*own) {
        fprintf(stderr, "rt_sgemm: out of memory for %zu bytes of packing space\n", need);
        return -1;
    }
    return 0;
}

/* ---- one product, whole or a strip of it (sgemm_mt.c runs strips on threads) -- */

/* Rows [i0, i1) x columns [j0, j1) of the product j describes, with ws
 * (the workspace of one single-threaded product of the whole).  A strip
 * starting at a multiple of the kernel's nr (columns) or of mr and the
 * small-M group (rows) computes every element exactly as the whole
 * product does: the same kernel, the same tiles, the same order over K. */
RT_API void rt_sgemm_strip(const RtSgemmJob *j, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float *ws)
{
    const RtSgemmKernel *k = j->k;
    int64_t M = i1 - i0, N = j1 - j0;
    const float *A = j->A + (j->transa ? i0 : i0 * j->lda);
    float *C = j->C + i0 * j->ldc + j0;
    if (M <= 0 || N <= 0) return;
    if (j->Bpk) {
        const float *Bpk = j->Bpk + j0 * j->K; /* j0 % nr == 0: panel j0 / nr */
        if (j->small)
            small_packed(k, j->small == RT_SGEMM_JOB_STREAM, j->transa, M, N, j->K, j->alpha, A, j->lda, Bpk, j->beta,
                         C, j->ldc);
        else
            blocked(k, j->transa, 0, M, N, j->K, j->alpha, A, j->lda, NULL, 0, Bpk, j->beta, C, j->ldc, ws);
        return;
    }
    const float *B = j->B + (j->transb ? j0 * j->ldb : j0);
    if (j->small)
        small_unpacked(k, j->transa, j->transb, M, N, j->K, j->alpha, A, j->lda, B, j->ldb, j->beta, C, j->ldc, ws);
    else
        blocked(k, j->transa, j->transb, M, N, j->K, j->alpha, A, j->lda, B, j->ldb, NULL, j->beta, C, j->ldc, ws);
}

/* Floats of workspace one strip of j needs (at most the whole product's). */
RT_API size_t rt_sgemm_job_ws_floats(const RtSgemmJob *j)
{
    if (j->Bpk) return j->small ? 0 : a_floats(j->k, j->M, j->K);
    return j->small ? small_ws_floats(j->k, j->transa, j->transb, j->K) : ws_floats(j->k, j->M, j->N, j->K);
}

/* Runs j with the caller's workspace (or one allocated here), on threads
 * when it pays (sgemm_mt.c).  -1 if the workspace is bad. */
static int run_job(const RtSgemmJob *j, void *ws, size_t ws_bytes)
{
    void *own;
    float *w;
    if (get_ws(rt_sgemm_job_ws_floats(j) * sizeof(float), ws, ws_bytes, &w, &own)) return -1;
    rt_sgemm_mt(j, w);
    free(own);
    return 0;
}

RT_API int rt_sgemm_run(RtCpuPath path, RtSgemmAlgo algo, int transa, int transb, int64_t M, int64_t N, int64_t K,
                        float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                        int64_t ldc, void *ws, size_t ws_bytes)
{
    const RtSgemmKernel *k = rt_sgemm_kernel_for(effective_path(path));
    if (check_args(transa, transb, M, N, K, A, lda, B, ldb, C, ldc, 0)) return -1;
    if (M == 0 || N == 0) return 0;
    if (alpha == 0.0f || K == 0) {
        scale_c(M, N, beta, C, ldc);
        return 0;
    }
    RtSgemmJob j = {
        k, use_small(k, algo, M, N, K, 0, transb), transa, transb, M, N, K, alpha, A, lda, B, ldb, NULL, beta, C, ldc};
    return run_job(&j, ws, ws_bytes);
}

RT_API void rt_sgemm_on(RtCpuPath path, int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    rt_sgemm_run(path, RT_SGEMM_AUTO, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, 0);
}

RT_API void rt_sgemm(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                     const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    rt_sgemm_on(rt_cpu_path(), transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* The largest need over the kernels this CPU may use, so one workspace
 * serves whichever path rt_cpu_path picks (the small-M loops need less). */
RT_API size_t rt_sgemm_workspace_size(int64_t M, int64_t N, int64_t K)
{
    if (M <= 0 || N <= 0 || K <= 0) return 0;
    size_t need = 0;
    for (int p = 0; p < RT_CPU_NPATHS; p++) {
        const RtSgemmKernel *k = rt_sgemm_kernel_for((RtCpuPath)p);
        if (k && ws_floats(k, M, N, K) * sizeof(float) > need) need = ws_floats(k, M, N, K) * sizeof(float);
    }
    return need;
}

RT_API int rt_sgemm_ws(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                       int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, void *ws,
                       size_t ws_bytes)
{
    if (!ws) {
        fprintf(stderr, "rt_sgemm_ws: NULL workspace\n");
        return -1;
    }
    return rt_sgemm_run(rt_cpu_path(), RT_SGEMM_AUTO, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ws,
                        ws_bytes);
}

/* ---- pre-packed B ----------------------------------------------------------- */

/* The header in front of the panels: 64 bytes, so that 64-byte aligned
 * storage gives 64-byte aligned panels.  Copied with memcpy: the caller
 * only promises float alignment. */
#define PACK_MAGIC 0x52534742u /* "BGSR" */
#define PACK_HDR   64
typedef struct PackHdr {
    uint32_t magic; /* PACK_MAGIC, or 0 for a failed pack */
    int32_t path;   /* the effective RtCpuPath whose kernel it was made for */
    int32_t nr;     /* panel width */
    int32_t unused;
    int64_t N, K;
} PackHdr;

static size_t pack_floats(const RtSgemmKernel *k, int64_t N, int64_t K) { return (size_t)(round_up(N, k->nr) * K); }

RT_API size_t rt_sgemm_packed_b_bytes_on(RtCpuPath path, int64_t N, int64_t K)
{
    const RtSgemmKernel *k = rt_sgemm_kernel_for(effective_path(path));
    return PACK_HDR + (N > 0 && K > 0 ? pack_floats(k, N, K) * sizeof(float) : 0);
}

/* The most any compiled kernel needs, so a pack fits whatever path runs. */
RT_API size_t rt_sgemm_packed_b_bytes(int64_t N, int64_t K)
{
    size_t most = 0;
    for (int p = 0; p < RT_CPU_NPATHS; p++) {
        size_t b = rt_sgemm_packed_b_bytes_on((RtCpuPath)p, N, K);
        most = b > most ? b : most;
    }
    return most;
}

RT_API void rt_sgemm_pack_b_on(RtCpuPath path, int transb, int64_t N, int64_t K, const float *B, int64_t ldb,
                               void *packed)
{
    if (!packed) {
        fprintf(stderr, "rt_sgemm_pack_b: NULL destination\n");
        return;
    }
    RtCpuPath eff = effective_path(path);
    const RtSgemmKernel *k = rt_sgemm_kernel_for(eff);
    PackHdr h = {0, (int32_t)eff, k->nr, 0, N, K};
    if (N < 0 || K < 0 || (N > 0 && K > 0 && (!B || ldb < 1 || ldb < (transb ? K : N)))) {
        fprintf(stderr, "rt_sgemm_pack_b: bad arguments (N=%lld K=%lld ldb=%lld)\n", (long long)N, (long long)K,
                (long long)ldb);
    } else {
        h.magic = PACK_MAGIC;
        if (N > 0 && K > 0) pack_b(k, transb, B, ldb, 0, 0, K, N, (float *)((char *)packed + PACK_HDR));
    }
    memcpy(packed, &h, sizeof h);
}

RT_API void rt_sgemm_pack_b(int transb, int64_t N, int64_t K, const float *B, int64_t ldb, void *packed)
{
    rt_sgemm_pack_b_on(rt_cpu_path(), transb, N, K, B, ldb, packed);
}

RT_API int rt_sgemm_packed_run(RtCpuPath path, RtSgemmAlgo algo, int transa, int64_t M, int64_t N, int64_t K,
                               float alpha, const float *A, int64_t lda, const void *packed_b, float beta, float *C,
                               int64_t ldc, void *ws, size_t ws_bytes)
{
    RtCpuPath eff = effective_path(path);
    const RtSgemmKernel *k = rt_sgemm_kernel_for(eff);
    const float *Bpk = packed_b ? (const float *)((const char *)packed_b + PACK_HDR) : NULL;
    if (check_args(transa, 0, M, N, K, A, lda, Bpk, 0, C, ldc, 1)) return -1;
    if (M == 0 || N == 0) return 0;
    if (alpha == 0.0f || K == 0) {
        scale_c(M, N, beta, C, ldc);
        return 0;
    }
    PackHdr h;
    memcpy(&h, packed_b, sizeof h);
    if (h.magic != PACK_MAGIC || h.path != (int32_t)eff || h.nr != k->nr || h.N != N || h.K != K) {
        fprintf(stderr,
                "rt_sgemm_ws_packed: the pack is for N=%lld K=%lld on path %s (nr %d)%s, "
                "the call for N=%lld K=%lld on %s\n",
                (long long)h.N, (long long)h.K, rt_cpu_path_name((RtCpuPath)h.path), h.nr,
                h.magic == PACK_MAGIC ? "" : " and not valid", (long long)N, (long long)K, rt_cpu_path_name(eff));
        return -1;
    }
    RtSgemmJob j = {k,  use_small(k, algo, M, N, K, 1, 0), transa, 0, M, N, K, alpha, A, lda, NULL, 0, Bpk, beta, C,
                    ldc};
    return run_job(&j, ws, ws_bytes);
}

RT_API int rt_sgemm_ws_packed(int transa, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                              const void *packed_b, float beta, float *C, int64_t ldc, void *ws, size_t ws_bytes)
{
    if (!ws) {
        fprintf(stderr, "rt_sgemm_ws_packed: NULL workspace\n");
        return -1;
    }
    return rt_sgemm_packed_run(rt_cpu_path(), RT_SGEMM_AUTO, transa, M, N, K, alpha, A, lda, packed_b, beta, C, ldc, ws,
                               ws_bytes);
}
