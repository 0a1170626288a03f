/* sgemm_scalar.c - the portable SGEMM micro-kernel: plain C, the reference
 * the vector kernels are tested against, and the path on CPUs without AVX2.
 *
 * A 4 x 8 tile of accumulators lives in a local array small enough for the
 * compiler to keep in registers (and to vectorize with whatever the baseline
 * ISA offers).  Blocking: the 8-wide B panel of kc = 256 is 8 KiB (L1); the
 * 128 x 256 block of A is 128 KiB (L2); nc = 2048 keeps B's block at 2 MiB. */
#include "runtime/sgemm_kernels.h"

/* Macros, not an enum, so that each kernel file's MR and NR end with it
 * (#undef below) when the runtime is one translation unit. */
#define MR 4
#define NR 8

static void ukr_scalar(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc,
                       int m, int n, float alpha, float beta) {
    float t[MR * NR] = {0};
    for (int64_t p = 0; p < kc; p++) {
        const float *a = Ap + p * MR, *b = Bp + p * NR;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                t[i * NR + j] += a[i] * b[j];
    }
    rt_sgemm_store_tile(t, NR, C, ldc, m, n, alpha, beta);
}

RT_API const RtSgemmKernel rt_sgemm_kernel_scalar = {
    .name = "scalar", .mr = MR, .nr = NR, .mc = 128, .kc = 256, .nc = 2048, .ukr = ukr_scalar,
};

#undef MR
#undef NR
