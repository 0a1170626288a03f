/* sgemm.c - rt_sgemm: argument checks, packing, the blocked loops around the
 * micro-kernel, and the run-time choice of kernel (see sgemm_kernels.h for
 * the algorithm and sgemm_{scalar,avx2,avx512}.c for the kernels). */
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
static void pack_a(int transa, const float *A, int64_t lda, int64_t i0, int64_t p0, int64_t mc,
                   int64_t kc, int mr, float *Ap) {
    for (int64_t ir = 0; ir < mc; ir += mr) {
        int m = (int)min64(mr, mc - ir);
        float *dst = Ap + ir * kc;
        if (!transa) {
            /* op(A)[i][p] = A[i*lda + p]: mr row streams, each read in order. */
            const float *rows[64]; /* mr <= 64 for every kernel */
            for (int i = 0; i < m; i++)
                rows[i] = A + (i0 + ir + i) * lda + p0;
            for (int64_t p = 0; p < kc; p++) {
                for (int i = 0; i < m; i++)
                    dst[p * mr + i] = rows[i][p];
                for (int i = m; i < mr; i++)
                    dst[p * mr + i] = 0.0f;
            }
        } else {
            /* op(A)[i][p] = A[p*lda + i]: each column of the panel is contiguous. */
            for (int64_t p = 0; p < kc; p++) {
                const float *src = A + (p0 + p) * lda + i0 + ir;
                for (int i = 0; i < m; i++)
                    dst[p * mr + i] = src[i];
                for (int i = m; i < mr; i++)
                    dst[p * mr + i] = 0.0f;
            }
        }
    }
}

/* op(B)[p0.., j0..] (kc x nc) into column panels of nr: panel r holds
 * columns r*nr.. as kc rows of nr floats; columns past nc are zero. */
static void pack_b(int transb, const float *B, int64_t ldb, int64_t p0, int64_t j0, int64_t kc,
                   int64_t nc, int nr, float *Bp) {
    for (int64_t jr = 0; jr < nc; jr += nr) {
        int n = (int)min64(nr, nc - jr);
        float *dst = Bp + jr * kc;
        if (!transb) {
            /* op(B)[p][j] = B[p*ldb + j]: a row of the panel is contiguous. */
            for (int64_t p = 0; p < kc; p++) {
                memcpy(dst + p * nr, B + (p0 + p) * ldb + j0 + jr, (size_t)n * sizeof(float));
                for (int j = n; j < nr; j++)
                    dst[p * nr + j] = 0.0f;
            }
        } else {
            /* op(B)[p][j] = B[j*ldb + p]: nr row streams, each read in order. */
            const float *cols[64]; /* nr <= 64 for every kernel */
            for (int j = 0; j < n; j++)
                cols[j] = B + (j0 + jr + j) * ldb + p0;
            for (int64_t p = 0; p < kc; p++) {
                for (int j = 0; j < n; j++)
                    dst[p * nr + j] = cols[j][p];
                for (int j = n; j < nr; j++)
                    dst[p * nr + j] = 0.0f;
            }
        }
    }
}

/* ---- the tile store shared by the kernels ----------------------------------- */

RT_API void rt_sgemm_store_tile(const float *t, int nr, float *C, int64_t ldc, int m, int n,
                         float alpha, float beta) {
    for (int i = 0; i < m; i++) {
        float *c = C + i * ldc;
        const float *r = t + i * nr;
        if (beta == 0.0f)
            for (int j = 0; j < n; j++)
                c[j] = alpha * r[j];
        else
            for (int j = 0; j < n; j++)
                c[j] = alpha * r[j] + beta * c[j];
    }
}

/* ---- the driver ------------------------------------------------------------- */

/* Floats of packing space for kernel k: one mc x kc block of A and one
 * kc x nc block of B, each rounded up to whole panels.  The A part is a
 * multiple of 16 floats so that B starts 64-byte aligned too. */
static size_t a_floats(const RtSgemmKernel *k, int64_t M, int64_t K) {
    return (size_t)round_up(round_up(min64(k->mc, M), k->mr) * min64(k->kc, K), 16);
}
static size_t ws_floats(const RtSgemmKernel *k, int64_t M, int64_t N, int64_t K) {
    return a_floats(k, M, K) + (size_t)(round_up(min64(k->nc, N), k->nr) * min64(k->kc, K));
}

/* The loops of Goto's algorithm, outermost first: nc columns of C, kc of the
 * inner dimension (pack B), mc rows (pack A), then NR x MR tiles. */
static void blocked(const RtSgemmKernel *k, int transa, int transb, int64_t M, int64_t N,
                    int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float beta, float *C, int64_t ldc, float *ws) {
    float *Ap = ws;
    float *Bp = ws + a_floats(k, M, K);
    for (int64_t jc = 0; jc < N; jc += k->nc) {
        int64_t nc = min64(k->nc, N - jc);
        for (int64_t pc = 0; pc < K; pc += k->kc) {
            int64_t kc = min64(k->kc, K - pc);
            /* After the first kc slice C holds a partial sum: accumulate. */
            float b = pc == 0 ? beta : 1.0f;
            pack_b(transb, B, ldb, pc, jc, kc, nc, k->nr, Bp);
            for (int64_t ic = 0; ic < M; ic += k->mc) {
                int64_t mc = min64(k->mc, M - ic);
                pack_a(transa, A, lda, ic, pc, mc, kc, k->mr, Ap);
                for (int64_t jr = 0; jr < nc; jr += k->nr) {
                    int n = (int)min64(k->nr, nc - jr);
                    for (int64_t ir = 0; ir < mc; ir += k->mr) {
                        int m = (int)min64(k->mr, mc - ir);
                        k->ukr(kc, Ap + ir * kc, Bp + jr * kc, C + (ic + ir) * ldc + jc + jr,
                               ldc, m, n, alpha, b);
                    }
                }
            }
        }
    }
}

/* Checks the arguments; 0 if rt_sgemm may proceed. */
static int check_args(int transa, int transb, int64_t M, int64_t N, int64_t K, const float *A,
                      int64_t lda, const float *B, int64_t ldb, const float *C, int64_t ldc) {
    const char *bad = NULL;
    if (M < 0 || N < 0 || K < 0)
        bad = "negative size";
    else if (lda < 1 || lda < (transa ? M : K))
        bad = "lda smaller than a row of A";
    else if (ldb < 1 || ldb < (transb ? K : N))
        bad = "ldb smaller than a row of B";
    else if (ldc < 1 || ldc < N)
        bad = "ldc smaller than a row of C";
    else if ((M > 0 && N > 0 && !C) || (M > 0 && N > 0 && K > 0 && (!A || !B)))
        bad = "NULL matrix";
    if (bad) {
        fprintf(stderr, "rt_sgemm: %s (M=%lld N=%lld K=%lld lda=%lld ldb=%lld ldc=%lld)\n", bad,
                (long long)M, (long long)N, (long long)K, (long long)lda, (long long)ldb,
                (long long)ldc);
        return -1;
    }
    return 0;
}

/* C = beta * C, the whole job when alpha == 0 or K == 0 (BLAS reads neither
 * A nor B then; beta == 0 clears C without reading it). */
static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

RT_API const RtSgemmKernel *rt_sgemm_kernel_for(RtCpuPath path) {
    const RtSgemmKernel *k = &rt_sgemm_kernel_scalar;
    if (path == RT_CPU_AVX2)
        k = &rt_sgemm_kernel_avx2;
    else if (path == RT_CPU_AVX512)
        k = &rt_sgemm_kernel_avx512;
    return k->ukr ? k : NULL;
}

/* The kernel for a path, falling back to scalar if it was not compiled in. */
static const RtSgemmKernel *kernel_or_scalar(RtCpuPath path) {
    const RtSgemmKernel *k = rt_sgemm_kernel_for(path);
    return k ? k : &rt_sgemm_kernel_scalar;
}

/* Everything after the choice of kernel; ws is NULL to allocate. */
static int sgemm_with(const RtSgemmKernel *k, int transa, int transb, int64_t M, int64_t N,
                      int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                      int64_t ldb, float beta, float *C, int64_t ldc, void *ws,
                      size_t ws_bytes) {
    if (check_args(transa, transb, M, N, K, A, lda, B, ldb, C, ldc))
        return -1;
    if (M == 0 || N == 0)
        return 0;
    if (alpha == 0.0f || K == 0) {
        scale_c(M, N, beta, C, ldc);
        return 0;
    }
    size_t need = ws_floats(k, M, N, K) * sizeof(float);
    void *own = NULL;
    if (!ws) {
        own = aligned_alloc(64, round_up((int64_t)need, 64));
        if (!own) {
            fprintf(stderr, "rt_sgemm: out of memory for %zu bytes of packing space\n", need);
            return -1;
        }
        ws = own;
    } else if (ws_bytes < need || ((uintptr_t)ws & 63)) {
        fprintf(stderr, "rt_sgemm: workspace of %zu bytes at %p: need %zu, 64-byte aligned\n",
                ws_bytes, ws, need);
        return -1;
    }
    blocked(k, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ws);
    free(own);
    return 0;
}

RT_API void rt_sgemm_on(RtCpuPath path, int transa, int transb, int64_t M, int64_t N, int64_t K,
                 float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                 float beta, float *C, int64_t ldc) {
    sgemm_with(kernel_or_scalar(path), transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C,
               ldc, NULL, 0);
}

RT_API void rt_sgemm(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
              int64_t ldc) {
    rt_sgemm_on(rt_cpu_path(), transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* The largest need over the kernels this CPU may use, so one workspace
 * serves whichever path rt_cpu_path picks. */
RT_API size_t rt_sgemm_workspace_size(int64_t M, int64_t N, int64_t K) {
    if (M <= 0 || N <= 0 || K <= 0)
        return 0;
    size_t need = 0;
    for (int p = 0; p < RT_CPU_NPATHS; p++) {
        const RtSgemmKernel *k = rt_sgemm_kernel_for((RtCpuPath)p);
        if (k && ws_floats(k, M, N, K) * sizeof(float) > need)
            need = ws_floats(k, M, N, K) * sizeof(float);
    }
    return need;
}

RT_API int rt_sgemm_ws(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha,
                const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                int64_t ldc, void *ws, size_t ws_bytes) {
    if (!ws) {
        fprintf(stderr, "rt_sgemm_ws: NULL workspace\n");
        return -1;
    }
    return sgemm_with(kernel_or_scalar(rt_cpu_path()), transa, transb, M, N, K, alpha, A, lda,
                      B, ldb, beta, C, ldc, ws, ws_bytes);
}
