/* sgemm_avx2.c - the AVX2 + FMA SGEMM micro-kernel, 6 x 16.
 *
 * Compiled for AVX2 + FMA by target attributes (no -m flags, so the
 * runtime can be one translation unit) and only ever called after cpu.c
 * has found AVX2, FMA and OS support for YMM state.
 *
 * Registers: 6 rows x 2 YMM = 12 accumulators, 2 for the B row, 1 for the
 * broadcast of an A element: 15 of the 16 YMM registers.  12 independent
 * FMA chains cover the FMA latency (4-5 cycles) at 2 FMAs per cycle.
 *
 * Blocking: kc = 256 makes the 16-wide B panel 16 KiB, half of the 32 KiB
 * L1, while 6 x 256 A panels (6 KiB) stream through; mc = 144 (a multiple of
 * 6) makes A's block 144 KiB of the 512 KiB L2; nc = 2048 makes B's block
 * 2 MiB, in L3.
 *
 * Small M (sgemm_kernels.h): the rows kernel keeps m <= 4 rows x np panels
 * of C in registers over all of K, streaming np panels of B at once and
 * broadcasting A: np = 4, 2, 2, 1 for m = 1..4, i.e. 8, 8, 12, 8
 * accumulators, enough independent chains for the FMA latency while B
 * itself is the bottleneck (each element of B is used m times).  The dots
 * kernel holds m rows of A x r rows of B (r = 8, 4, 3, 2), 8 lanes of K at a
 * time, and reduces each accumulator across lanes at the end. */
#include "runtime/sgemm_kernels.h"

#if RT_X86
#include <immintrin.h>

#define MR 6
#define NR 16

/* One row of the tile into C: alpha * acc (+ beta * C). */
#define STORE_ROW(i, lo, hi)                                           \
    do {                                                               \
        float *c_ = C + (i)*ldc;                                       \
        __m256 l_ = _mm256_mul_ps(va, lo), h_ = _mm256_mul_ps(va, hi); \
        if (beta != 0.0f) {                                            \
            l_ = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c_), l_);         \
            h_ = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c_ + 8), h_);     \
        }                                                              \
        _mm256_storeu_ps(c_, l_);                                      \
        _mm256_storeu_ps(c_ + 8, h_);                                  \
    } while (0)

RT_TARGET("avx2,fma")
static void ukr_avx2(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n, float alpha,
                     float beta)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_loadu_ps(Bp), b1 = _mm256_loadu_ps(Bp + 8);
        __m256 a;
        a = _mm256_broadcast_ss(Ap + 0);
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(Ap + 1);
        c10 = _mm256_fmadd_ps(a, b0, c10);
        c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(Ap + 2);
        c20 = _mm256_fmadd_ps(a, b0, c20);
        c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(Ap + 3);
        c30 = _mm256_fmadd_ps(a, b0, c30);
        c31 = _mm256_fmadd_ps(a, b1, c31);
        a = _mm256_broadcast_ss(Ap + 4);
        c40 = _mm256_fmadd_ps(a, b0, c40);
        c41 = _mm256_fmadd_ps(a, b1, c41);
        a = _mm256_broadcast_ss(Ap + 5);
        c50 = _mm256_fmadd_ps(a, b0, c50);
        c51 = _mm256_fmadd_ps(a, b1, c51);
        Ap += MR;
        Bp += NR;
    }
    if (m == MR && n == NR) {
        __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
        STORE_ROW(0, c00, c01);
        STORE_ROW(1, c10, c11);
        STORE_ROW(2, c20, c21);
        STORE_ROW(3, c30, c31);
        STORE_ROW(4, c40, c41);
        STORE_ROW(5, c50, c51);
        return;
    }
    /* A partial tile: spill, then store only the valid part. */
    float t[MR * NR];
    _mm256_storeu_ps(t + 0 * NR, c00), _mm256_storeu_ps(t + 0 * NR + 8, c01);
    _mm256_storeu_ps(t + 1 * NR, c10), _mm256_storeu_ps(t + 1 * NR + 8, c11);
    _mm256_storeu_ps(t + 2 * NR, c20), _mm256_storeu_ps(t + 2 * NR + 8, c21);
    _mm256_storeu_ps(t + 3 * NR, c30), _mm256_storeu_ps(t + 3 * NR + 8, c31);
    _mm256_storeu_ps(t + 4 * NR, c40), _mm256_storeu_ps(t + 4 * NR + 8, c41);
    _mm256_storeu_ps(t + 5 * NR, c50), _mm256_storeu_ps(t + 5 * NR + 8, c51);
    rt_sgemm_store_tile(t, NR, C, ldc, m, n, alpha, beta);
}

/* ---- small M ---------------------------------------------------------------- */

#define SMALL  RT_SGEMM_SMALL_ROWS
#define INLINE static inline __attribute__((always_inline))

/* C[0..m) x [0..min(n, np*NR)) from np panels at B, B + ps, ...; m and np
 * are constants after inlining, so acc and b are registers. */
RT_TARGET("avx2,fma")
INLINE
void rows_tile_avx2(const int m, const int np, int64_t K, const float *A, int64_t ars, int64_t acs, const float *B,
                    int64_t bs, int64_t ps, float *C, int64_t ldc, int64_t n, float alpha, float beta)
{
    __m256 acc[SMALL][8];
    RT_UNROLL for (int i = 0; i < m; i++) RT_UNROLL for (int v = 0; v < 2 * np; v++) acc[i][v] = _mm256_setzero_ps();
    for (int64_t p = 0; p < K; p++) {
        __m256 b[8];
        RT_UNROLL for (int q = 0; q < np; q++)
        {
            b[2 * q] = _mm256_loadu_ps(B + q * ps + p * bs);
            b[2 * q + 1] = _mm256_loadu_ps(B + q * ps + p * bs + 8);
        }
        RT_UNROLL for (int i = 0; i < m; i++)
        {
            __m256 a = _mm256_broadcast_ss(A + i * ars + p * acs);
            RT_UNROLL for (int v = 0; v < 2 * np; v++) acc[i][v] = _mm256_fmadd_ps(a, b[v], acc[i][v]);
        }
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    RT_UNROLL for (int q = 0; q < np; q++)
    {
        float *cq = C + q * NR;
        if (n - q * NR >= NR) {
            RT_UNROLL for (int i = 0; i < m; i++)
            {
                float *c = cq + i * ldc;
                __m256 lo = _mm256_mul_ps(va, acc[i][2 * q]);
                __m256 hi = _mm256_mul_ps(va, acc[i][2 * q + 1]);
                if (beta != 0.0f) {
                    lo = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), lo);
                    hi = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), hi);
                }
                _mm256_storeu_ps(c, lo);
                _mm256_storeu_ps(c + 8, hi);
            }
        } else { /* the last, partial panel */
            float t[SMALL * NR];
            RT_UNROLL for (int i = 0; i < m; i++)
            {
                _mm256_storeu_ps(t + i * NR, acc[i][2 * q]);
                _mm256_storeu_ps(t + i * NR + 8, acc[i][2 * q + 1]);
            }
            rt_sgemm_store_tile(t, NR, cq, ldc, m, (int)(n - q * NR), alpha, beta);
        }
    }
}

RT_TARGET("avx2,fma")
static void rows_avx2(int m, int64_t n, int64_t K, const float *A, int64_t ars, int64_t acs, const float *B, int64_t bs,
                      int64_t ps, float *C, int64_t ldc, float alpha, float beta)
{
    int64_t j = 0;
#define ROWS(m_, np_) rows_tile_avx2(m_, np_, K, A, ars, acs, B + j / NR * ps, bs, ps, C + j, ldc, n - j, alpha, beta)
    /* Groups of np panels while all of them exist, then single panels. */
    switch (m) {
    case 1:
        for (; j + 3 * NR < n; j += 4 * NR) ROWS(1, 4);
        break;
    case 2:
        for (; j + NR < n; j += 2 * NR) ROWS(2, 2);
        break;
    case 3:
        for (; j + NR < n; j += 2 * NR) ROWS(3, 2);
        break;
    default: break;
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

RT_TARGET("avx2,fma") INLINE float hsum_avx2(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* C[0..m) x [0..r) = dot products of m rows of A with r rows of B. */
RT_TARGET("avx2,fma")
INLINE void dots_tile_avx2(const int m, const int r, int64_t K, const float *A, int64_t lda, const float *B,
                           int64_t ldb, float *C, int64_t ldc, float alpha, float beta)
{
    __m256 acc[SMALL][8];
    RT_UNROLL for (int i = 0; i < m; i++) RT_UNROLL for (int t = 0; t < r; t++) acc[i][t] = _mm256_setzero_ps();
    int64_t K8 = K / 8 * 8;
    for (int64_t p = 0; p < K8; p += 8) {
        __m256 a[SMALL];
        RT_UNROLL for (int i = 0; i < m; i++) a[i] = _mm256_loadu_ps(A + i * lda + p);
        RT_UNROLL for (int t = 0; t < r; t++)
        {
            __m256 w = _mm256_loadu_ps(B + t * ldb + p);
            RT_UNROLL for (int i = 0; i < m; i++) acc[i][t] = _mm256_fmadd_ps(a[i], w, acc[i][t]);
        }
    }
    RT_UNROLL for (int i = 0; i < m; i++) RT_UNROLL for (int t = 0; t < r; t++)
    {
        float s = hsum_avx2(acc[i][t]);
        for (int64_t p = K8; p < K; p++) /* the K % 8 tail */
            s += A[i * lda + p] * B[t * ldb + p];
        float *c = C + i * ldc + t;
        *c = beta == 0.0f ? alpha * s : alpha * s + beta * *c;
    }
}

RT_TARGET("avx2,fma")
static void dots_avx2(int m, int64_t n, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                      int64_t ldc, float alpha, float beta)
{
    int64_t j = 0;
#define DOTS(m_, r_) dots_tile_avx2(m_, r_, K, A, lda, B + j * ldb, ldb, C + j, ldc, alpha, beta)
    switch (m) {
    case 1:
        for (; j + 8 <= n; j += 8) DOTS(1, 8);
        break;
    case 2:
        for (; j + 4 <= n; j += 4) DOTS(2, 4);
        break;
    case 3:
        for (; j + 3 <= n; j += 3) DOTS(3, 3);
        break;
    default:
        for (; j + 2 <= n; j += 2) DOTS(4, 2);
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

/* small_m_*: from bench/gemm_bench --sweep at H = 256, 512 (docs/performance.md).
 * Pre-packed, the 4-row groups run at the speed of the 6x16 tile (B streams
 * from L3 fast enough) without its padding rows, so they win up to M = 16
 * (and tie above; the blocked loops read B once, safer for bigger B).  With
 * plain B the blocked loops pay for packing B each call: the dots kernel
 * (transb) wins up to M = 32, the rows kernel reading B's rows with stride
 * ldb (transb = 0) up to M = 8. */
RT_API const RtSgemmKernel rt_sgemm_kernel_avx2 = {
    .name = "avx2",
    .mr = MR,
    .nr = NR,
    .mc = 144,
    .kc = 256,
    .nc = 2048,
    .ukr = ukr_avx2,
    .rows = rows_avx2,
    .dots = dots_avx2,
    .small_m_nn = 8,
    .small_m_nt = 32,
    .small_m_packed = 16,
};
#undef SMALL
#undef INLINE
#undef MR
#undef NR
#undef STORE_ROW
#else
/* Not x86 (or not GNU C): no kernel, and rt_sgemm_kernel_for reports the
 * path as unavailable. */
RT_API const RtSgemmKernel rt_sgemm_kernel_avx2 = {.name = "avx2", .mr = 1, .nr = 1, .ukr = 0};
#endif
