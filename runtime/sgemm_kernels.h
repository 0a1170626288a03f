/* sgemm_kernels.h - inside rt_sgemm: the per-ISA micro-kernels and their
 * cache blocking, for sgemm.c, the sgemm_*.c kernels and the tests.
 *
 * The algorithm is Goto's (as in BLIS): op(B) is packed kc x nc at a time
 * into column panels NR wide, op(A) mc x kc at a time into row panels MR tall,
 * both zero-padded to whole panels, and a register-blocked micro-kernel
 * multiplies one MR x kc panel by one kc x NR panel into an MR x NR tile of C.
 * The padding means the kernel's inner loop never has an edge case; only the
 * final store of a partial tile does (it goes through rt_sgemm_store_tile).
 *
 * Cache blocking (per kernel, see each sgemm_*.c):
 *   kc  - the kc x NR panel of B stays in L1 (32 KiB here) while every A
 *         panel of the block streams past it;
 *   mc  - the mc x kc block of A stays in L2 (512 KiB per core here);
 *   nc  - the kc x nc block of B stays in L3.
 * mc is a multiple of MR and nc of NR. */
#ifndef RNNC_SGEMM_KERNELS_H
#define RNNC_SGEMM_KERNELS_H

#include <stdint.h>

#include "runtime/cpu.h"

/* C[0..m) x [0..n) (m <= MR, n <= NR) = alpha * Ap * Bp + beta * C, where Ap
 * is a packed MR x kc panel (column p at Ap + p*MR) and Bp a packed kc x NR
 * panel (row p at Bp + p*NR).  beta == 0: C is not read. */
typedef void (*RtSgemmUkr)(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc,
                           int m, int n, float alpha, float beta);

typedef struct RtSgemmKernel {
    const char *name;
    int mr, nr;           /* register tile */
    int64_t mc, kc, nc;   /* cache blocks */
    RtSgemmUkr ukr;       /* NULL if this build cannot compile the ISA */
} RtSgemmKernel;

RT_EXTERN const RtSgemmKernel rt_sgemm_kernel_scalar;
RT_EXTERN const RtSgemmKernel rt_sgemm_kernel_avx2;
RT_EXTERN const RtSgemmKernel rt_sgemm_kernel_avx512;

/* The kernel for a path (NULL if its ukr was not compiled in). */
RT_API const RtSgemmKernel *rt_sgemm_kernel_for(RtCpuPath path);

/* rt_sgemm on a forced path (the tests run every path the CPU has).  The
 * caller must check rt_cpu_path_supported(path) first; a path whose kernel
 * is missing falls back to scalar. */
RT_API void rt_sgemm_on(RtCpuPath path, int transa, int transb, int64_t M, int64_t N, int64_t K,
                 float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                 float beta, float *C, int64_t ldc);

/* The store of a partial tile: t is an MR x NR tile (row stride nr) of
 * alpha-free products; writes C[i][j] = alpha*t + beta*C for i < m, j < n. */
RT_API void rt_sgemm_store_tile(const float *t, int nr, float *C, int64_t ldc, int m, int n,
                         float alpha, float beta);

#endif
