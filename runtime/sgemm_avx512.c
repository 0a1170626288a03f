/* sgemm_avx512.c - the AVX-512F SGEMM micro-kernel, 6 x 32.
 *
 * Compiled for AVX-512F by a target attribute (see sgemm_avx2.c) and only
 * ever called after cpu.c has found AVX-512F and OS support for ZMM and opmask
 * state.  Only AVX-512F instructions are used (no VL/BW): partial tiles go
 * through the shared scalar store, so no masks are needed.
 *
 * Registers: 6 rows x 2 ZMM = 12 accumulators + 2 for B + 1 broadcast, of
 * 32.  A 6-row tile keeps the waste small for the short M of RNN batches
 * while 12 chains still cover the FMA latency (4 cycles x 2 FMAs per cycle
 * = 8).
 *
 * Blocking (Zen 5: 48 KiB L1d, 1 MiB L2 a core): kc = 256 makes the
 * 32-wide B panel 32 KiB of L1, in equal slices of K (sgemm.c); mc = 144
 * makes A's block 144 KiB of L2; nc = 2048 makes B's block 2 MiB.  kc was
 * 192 until 2026-12-07: each slice of K ends with a pass over C, and the
 * longer slice gained 2-10% on large shapes (docs/performance.md).
 *
 * Small M (sgemm_kernels.h): the same rows and dots kernels as in
 * sgemm_avx2.c with ZMM registers and 32-wide panels; with 32 registers
 * there is room for more chains: rows np = 4, 3, 2, 2 for m = 1..4 (8, 12,
 * 12, 16 accumulators), dots r = 8, 6, 4, 4 rows of B.
 *
 * Tested and measured on an AVX-512 EPYC (Zen 5); the tests run it wherever
 * the CPU has it. */
#include "runtime/sgemm_kernels.h"

#if RT_X86
#include <immintrin.h>

#define MR 6
#define NR 32

#define STORE_ROW(i, lo, hi)                                           \
    do {                                                               \
        float *c_ = C + (i)*ldc;                                       \
        __m512 l_ = _mm512_mul_ps(va, lo), h_ = _mm512_mul_ps(va, hi); \
        if (beta != 0.0f) {                                            \
            l_ = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c_), l_);         \
            h_ = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c_ + 16), h_);    \
        }                                                              \
        _mm512_storeu_ps(c_, l_);                                      \
        _mm512_storeu_ps(c_ + 16, h_);                                 \
    } while (0)

RT_TARGET("avx512f")
static void ukr_avx512(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n, float alpha,
                       float beta)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
    __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
    __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
    /* The tile of C is read (beta != 0: every kc slice after the first)
     * and written only after the loop, and a large C (1024 x 1024, 4 MiB)
     * is not in L2: fetch it now, so the misses overlap the FMAs instead of
     * stalling the stores (1024^3: 77 -> 82% of peak, docs/performance.md). */
    for (int i = 0; i < m; i++) {
        _mm_prefetch((const char *)(C + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(C + i * ldc + 16), _MM_HINT_T0);
    }
    for (int64_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(Bp), b1 = _mm512_loadu_ps(Bp + 16);
        __m512 a;
        a = _mm512_set1_ps(Ap[0]);
        c00 = _mm512_fmadd_ps(a, b0, c00);
        c01 = _mm512_fmadd_ps(a, b1, c01);
        a = _mm512_set1_ps(Ap[1]);
        c10 = _mm512_fmadd_ps(a, b0, c10);
        c11 = _mm512_fmadd_ps(a, b1, c11);
        a = _mm512_set1_ps(Ap[2]);
        c20 = _mm512_fmadd_ps(a, b0, c20);
        c21 = _mm512_fmadd_ps(a, b1, c21);
        a = _mm512_set1_ps(Ap[3]);
        c30 = _mm512_fmadd_ps(a, b0, c30);
        c31 = _mm512_fmadd_ps(a, b1, c31);
        a = _mm512_set1_ps(Ap[4]);
        c40 = _mm512_fmadd_ps(a, b0, c40);
        c41 = _mm512_fmadd_ps(a, b1, c41);
        a = _mm512_set1_ps(Ap[5]);
        c50 = _mm512_fmadd_ps(a, b0, c50);
        c51 = _mm512_fmadd_ps(a, b1, c51);
        Ap += MR;
        Bp += NR;
    }
    if (m == MR && n == NR) {
        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
        STORE_ROW(0, c00, c01);
        STORE_ROW(1, c10, c11);
        STORE_ROW(2, c20, c21);
        STORE_ROW(3, c30, c31);
        STORE_ROW(4, c40, c41);
        STORE_ROW(5, c50, c51);
        return;
    }
    float t[MR * NR];
    _mm512_storeu_ps(t + 0 * NR, c00), _mm512_storeu_ps(t + 0 * NR + 16, c01);
    _mm512_storeu_ps(t + 1 * NR, c10), _mm512_storeu_ps(t + 1 * NR + 16, c11);
    _mm512_storeu_ps(t + 2 * NR, c20), _mm512_storeu_ps(t + 2 * NR + 16, c21);
    _mm512_storeu_ps(t + 3 * NR, c30), _mm512_storeu_ps(t + 3 * NR + 16, c31);
    _mm512_storeu_ps(t + 4 * NR, c40), _mm512_storeu_ps(t + 4 * NR + 16, c41);
    _mm512_storeu_ps(t + 5 * NR, c50), _mm512_storeu_ps(t + 5 * NR + 16, c51);
    rt_sgemm_store_tile(t, NR, C, ldc, m, n, alpha, beta);
}

/* ---- small M (see sgemm_avx2.c, of which this is the ZMM twin) -------------- */

#define SMALL  RT_SGEMM_SMALL_ROWS
#define INLINE static inline __attribute__((always_inline))

RT_TARGET("avx512f")
INLINE void rows_tile_avx512(const int m, const int np, int64_t K, const float *A, int64_t ars, int64_t acs,
                             const float *B, int64_t bs, int64_t ps, float *C, int64_t ldc, int64_t n, float alpha,
                             float beta)
{
    __m512 acc[SMALL][8];
    RT_UNROLL for (int i = 0; i < m; i++) RT_UNROLL for (int v = 0; v < 2 * np; v++) acc[i][v] = _mm512_setzero_ps();
    for (int64_t p = 0; p < K; p++) {
        __m512 b[8];
        RT_UNROLL for (int q = 0; q < np; q++)
        {
            b[2 * q] = _mm512_loadu_ps(B + q * ps + p * bs);
            b[2 * q + 1] = _mm512_loadu_ps(B + q * ps + p * bs + 16);
        }
        RT_UNROLL for (int i = 0; i < m; i++)
        {
            __m512 a = _mm512_set1_ps(A[i * ars + p * acs]);
            RT_UNROLL for (int v = 0; v < 2 * np; v++) acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    RT_UNROLL for (int q = 0; q < np; q++)
    {
        float *cq = C + q * NR;
        if (n - q * NR >= NR) {
            RT_UNROLL for (int i = 0; i < m; i++)
            {
                float *c = cq + i * ldc;
                __m512 lo = _mm512_mul_ps(va, acc[i][2 * q]);
                __m512 hi = _mm512_mul_ps(va, acc[i][2 * q + 1]);
                if (beta != 0.0f) {
                    lo = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c), lo);
                    hi = _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + 16), hi);
                }
                _mm512_storeu_ps(c, lo);
                _mm512_storeu_ps(c + 16, hi);
            }
        } else { /* the last, partial panel */
            float t[SMALL * NR];
            RT_UNROLL for (int i = 0; i < m; i++)
            {
                _mm512_storeu_ps(t + i * NR, acc[i][2 * q]);
                _mm512_storeu_ps(t + i * NR + 16, acc[i][2 * q + 1]);
            }
            rt_sgemm_store_tile(t, NR, cq, ldc, m, (int)(n - q * NR), alpha, beta);
        }
    }
}

RT_TARGET("avx512f")
static void rows_avx512(int m, int64_t n, int64_t K, const float *A, int64_t ars, int64_t acs, const float *B,
                        int64_t bs, int64_t ps, float *C, int64_t ldc, float alpha, float beta)
{
    int64_t j = 0;
#define ROWS(m_, np_) rows_tile_avx512(m_, np_, K, A, ars, acs, B + j / NR * ps, bs, ps, C + j, ldc, n - j, alpha, beta)
    switch (m) {
    case 1:
        for (; j + 3 * NR < n; j += 4 * NR) ROWS(1, 4);
        break;
    case 2:
        for (; j + 2 * NR < n; j += 3 * NR) ROWS(2, 3);
        break;
    case 3:
        for (; j + NR < n; j += 2 * NR) ROWS(3, 2);
        break;
    default:
        for (; j + NR < n; j += 2 * NR) ROWS(4, 2);
        break;
    }
    for (; j < n; j += NR) {
        switch (m) {
        case 1: ROWS(1, 1); break;
        case 2: ROWS(2, 1); break;
        case 3: ROWS(3, 1); break;
        default: ROWS(4, 1); break;
        }
    }
#undef ROWS
}

RT_TARGET("avx512f")
INLINE void dots_tile_avx512(const int m, const int r, int64_t K, const float *A, int64_t lda, const float *B,
                             int64_t ldb, float *C, int64_t ldc, float alpha, float beta)
{
    __m512 acc[SMALL][8];
    RT_UNROLL for (int i = 0; i < m; i++) RT_UNROLL for (int t = 0; t < r; t++) acc[i][t] = _mm512_setzero_ps();
    int64_t K16 = K / 16 * 16;
    for (int64_t p = 0; p < K16; p += 16) {
        __m512 a[SMALL];
        RT_UNROLL for (int i = 0; i < m; i++) a[i] = _mm512_loadu_ps(A + i * lda + p);
        RT_UNROLL for (int t = 0; t < r; t++)
        {
            __m512 w = _mm512_loadu_ps(B + t * ldb + p);
            RT_UNROLL for (int i = 0; i < m; i++) acc[i][t] = _mm512_fmadd_ps(a[i], w, acc[i][t]);
        }
    }
    RT_UNROLL for (int i = 0; i < m; i++) RT_UNROLL for (int t = 0; t < r; t++)
    {
        float s = _mm512_reduce_add_ps(acc[i][t]);
        for (int64_t p = K16; p < K; p++) /* the K % 16 tail */
            s += A[i * lda + p] * B[t * ldb + p];
        float *c = C + i * ldc + t;
        *c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
    }
}

RT_TARGET("avx512f")
static void dots_avx512(int m, int64_t n, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                        int64_t ldc, float alpha, float beta)
{
    int64_t j = 0;
#define DOTS(m_, r_) dots_tile_avx512(m_, r_, K, A, lda, B + j * ldb, ldb, C + j, ldc, alpha, beta)
    switch (m) {
    case 1:
        for (; j + 8 <= n; j += 8) DOTS(1, 8);
        break;
    case 2:
        for (; j + 6 <= n; j += 6) DOTS(2, 6);
        break;
    case 3:
        for (; j + 4 <= n; j += 4) DOTS(3, 4);
        break;
    default:
        for (; j + 4 <= n; j += 4) DOTS(4, 4);
        break;
    }
    for (; j < n; j++) {
        switch (m) {
        case 1: DOTS(1, 1); break;
        case 2: DOTS(2, 1); break;
        case 3: DOTS(3, 1); break;
        default: DOTS(4, 1); break;
        }
    }
#undef DOTS
}

/* small_m_*: measured with gemm_bench --sweep on an AVX-512 EPYC (Zen 5,
 * 2026-12, docs/performance.md), H = 256 and 512, M = 1..64.  nt: the dots
 * kernel beats packing a transposed W at every M swept (up to 1.6x at 64).
 * nn: the rows kernel wins to M = 16, ties at 32, loses from 24 on.
 * packed: small wins at H = 256 to M = 64 (but for the multiples of 6 the
 * 6-row tile fills exactly) and at H = 512 to M = 16, tying at 32; 32
 * keeps the batch-32 step (15% faster at H = 256) on the small path. */
RT_API const RtSgemmKernel rt_sgemm_kernel_avx512 = {
    .name = "avx512",
    .mr = MR,
    .nr = NR,
    .mc = 144,
    .kc = 256,
    .nc = 2048,
    .ukr = ukr_avx512,
    .rows = rows_avx512,
    .dots = dots_avx512,
    .small_m_nn = 16,
    .small_m_nt = 64,
    .small_m_packed = 32,
};
#undef SMALL
#undef INLINE
#undef MR
#undef NR
#undef STORE_ROW
#else
/* Not x86 (or not GNU C): no kernel (see sgemm_avx2.c). */
RT_API const RtSgemmKernel rt_sgemm_kernel_avx512 = {.name = "avx512", .mr = 1, .nr = 1, .ukr = 0};
#endif
