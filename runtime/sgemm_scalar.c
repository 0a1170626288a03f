/* sgemm_scalar.c - the portable SGEMM micro-kernel: plain C, the reference
 * the vector kernels are tested against, and the path on CPUs without AVX2.
 *
 * A 4 x 8 tile of accumulators lives in a local array small enough for the
 * compiler to keep in registers (and to vectorize with whatever the baseline
 * ISA offers).  Blocking: the 8-wide B panel of kc = 256 is 8 KiB (L1); the
 * 128 x 256 block of A is 128 KiB (L2); nc = 2048 keeps B's block at 2 MiB.
 *
 * The small-M kernels (rows, dots; see sgemm_kernels.h) are the plain loops:
 * they define the semantics the vector versions are tested against. */
#include "runtime/sgemm_kernels.h"

/* Macros, not an enum, so that each kernel file's MR and NR end with it
 * (#undef below) when the runtime is one translation unit. */
#define MR 4
#define NR 8

static void ukr_scalar(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n, float alpha,
                       float beta)
{
    float t[MR * NR] = {0};
    for (int64_t p = 0; p < kc; p++) {
        const float *a = Ap + p * MR, *b = Bp + p * NR;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) t[i * NR + j] += a[i] * b[j];
    }
    rt_sgemm_store_tile(t, NR, C, ldc, m, n, alpha, beta);
}

/* Whole NR-wide chunks of B, all m rows at once. */
static void rows_scalar(int m, int64_t n, int64_t K, const float *A, int64_t ars, int64_t acs, const float *B,
                        int64_t bs, int64_t ps, float *C, int64_t ldc, float alpha, float beta)
{
    for (int64_t j = 0; j < n; j += NR) {
        const float *b = B + j / NR * ps;
        float t[RT_SGEMM_SMALL_ROWS * NR] = {0};
        for (int64_t p = 0; p < K; p++)
            for (int i = 0; i < m; i++) {
                float a = A[i * ars + p * acs];
                for (int jj = 0; jj < NR; jj++) t[i * NR + jj] += a * b[p * bs + jj];
            }
        rt_sgemm_store_tile(t, NR, C + j, ldc, m, n - j < NR ? (int)(n - j) : NR, alpha, beta);
    }
}

static void dots_scalar(int m, int64_t n, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                        int64_t ldc, float alpha, float beta)
{
    for (int i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float s = 0.0f;
            for (int64_t p = 0; p < K; p++) s += A[i * lda + p] * B[j * ldb + p];
            rt_sgemm_store_tile(&s, 1, C + i * ldc + j, ldc, 1, 1, alpha, beta);
        }
}

/* small_m_*: not measured (the scalar path is the fallback, not a target);
 * up to MR rows the small kernels do no more arithmetic than the tile and
 * skip the packing. */
RT_API const RtSgemmKernel rt_sgemm_kernel_scalar = {
    .name = "scalar",
    .mr = MR,
    .nr = NR,
    .mc = 128,
    .kc = 256,
    .nc = 2048,
    .ukr = ukr_scalar,
    .rows = rows_scalar,
    .dots = dots_scalar,
    .small_m_nn = MR,
    .small_m_nt = MR,
    .small_m_packed = MR,
};

#undef MR
#undef NR
