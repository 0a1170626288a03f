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
 * mc is a multiple of MR and nc of NR.
 *
 * Pre-packed B (rt_sgemm_pack_b): a 64-byte header naming the path and NR
 * it was made for, then all of op(B) as ceil(N/NR) column panels of K x NR
 * (panel r at data + r*K*NR, zero-padded past N).  The blocked loops read
 * their kc x NR pieces in place; the small-M kernels stream whole panels. */
#ifndef RNNC_SGEMM_KERNELS_H
#define RNNC_SGEMM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/cpu.h"

/* C[0..m) x [0..n) (m <= MR, n <= NR) = alpha * Ap * Bp + beta * C, where Ap
 * is a packed MR x kc panel (column p at Ap + p*MR) and Bp a packed kc x NR
 * panel (row p at Bp + p*NR).  beta == 0: C is not read. */
typedef void (*RtSgemmUkr)(int64_t kc, const float *Ap, const float *Bp, float *C, int64_t ldc, int m, int n,
                           float alpha, float beta);

/* The small-M kernels.  With a handful of rows of A the MR-row tile wastes
 * most of its work and packing B costs more than the product, so for
 * M <= small_m the driver calls these on groups of at most RT_SGEMM_SMALL_ROWS
 * rows, each over all of K, with A read in place (no packing).
 *
 * rows: C[0..m) x [0..n) = alpha * A * B + beta * C, B read in nr-wide
 * chunks: element (p, j) at B[p*bs + (j/nr)*ps + j%nr].  Pre-packed panels
 * are bs = nr, ps = K*nr; a plain row-major B (transb = 0) is bs = ldb,
 * ps = nr.  Every chunk is read whole, so the caller makes sure ceil(n/nr)
 * chunks are readable (padded panels, or n a multiple of nr); only n
 * columns of C are written.  A's element (i, p) is A[i*ars + p*acs].
 *
 * dots: C[0..m) x [0..n) = alpha * A * B^T + beta * C with A's rows
 * contiguous (A[i*lda + p]) and B row-major n x K (B[j*ldb + p]): dot
 * products along K, for transb = 1 without packing. */
#define RT_SGEMM_SMALL_ROWS 4
typedef void (*RtSgemmRows)(int m, int64_t n, int64_t K, const float *A, int64_t ars, int64_t acs, const float *B,
                            int64_t bs, int64_t ps, float *C, int64_t ldc, float alpha, float beta);
typedef void (*RtSgemmDots)(int m, int64_t n, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                            float *C, int64_t ldc, float alpha, float beta);

typedef struct RtSgemmKernel {
    const char *name;
    int mr, nr;         /* register tile */
    int64_t mc, kc, nc; /* cache blocks */
    RtSgemmUkr ukr;     /* NULL if this build cannot compile the ISA */
    RtSgemmRows rows;   /* small M, see above */
    RtSgemmDots dots;
    /* M at or below which the small-M kernels beat the blocked loops (by
     * measurement, bench/gemm_bench --sweep): B plain (rows kernel), B
     * transposed (dots kernel), B pre-packed (rows kernel on panels). */
    int small_m_nn, small_m_nt, small_m_packed;
} RtSgemmKernel;

/* Full unrolling of the short constant-count loops over a register tile,
 * so that arrays of vector accumulators become registers (gcc and clang
 * keep them in memory otherwise). */
#if defined(__clang__)
#define RT_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define RT_UNROLL _Pragma("GCC unroll 16")
#else
#define RT_UNROLL
#endif

/* The batch-1 kernel of k's path (sgemm_matvec.c), an RtSgemmRows for
 * m = 1 and n a multiple of 4 * k->nr on pre-packed panels, or NULL (the
 * rows kernel serves). */
RT_API RtSgemmRows rt_sgemm_matvec_for(const RtSgemmKernel *k);

/* Packs one whole panel of a transposed B: dst[p*nr + j] = B[j*ldb + p]
 * for j < nr, p < kc (sgemm_pack.c). */
typedef void (*RtSgemmPackT)(const float *B, int64_t ldb, int64_t kc, int nr, float *dst);
/* The vector packer for k's panels, or NULL (pack_b's scalar loop serves). */
RT_API RtSgemmPackT rt_sgemm_pack_t_for(const RtSgemmKernel *k);

RT_EXTERN const RtSgemmKernel rt_sgemm_kernel_scalar;
RT_EXTERN const RtSgemmKernel rt_sgemm_kernel_avx2;
RT_EXTERN const RtSgemmKernel rt_sgemm_kernel_avx512;

/* The kernel for a path (NULL if its ukr was not compiled in). */
RT_API const RtSgemmKernel *rt_sgemm_kernel_for(RtCpuPath path);

/* rt_sgemm on a forced path (the tests run every path the CPU has).  The
 * caller must check rt_cpu_path_supported(path) first; a path whose kernel
 * is missing falls back to scalar. */
RT_API void rt_sgemm_on(RtCpuPath path, int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Which algorithm: the kernel's own choice by M, or forced (tests cover
 * both on every shape; the benchmark finds the crossover). */
/* RT_SGEMM_STREAM: pre-packed B and at most RT_SGEMM_SMALL_ROWS rows (a
 * batch-1 step), B streamed once per call in the order that keeps it in
 * L2 from call to call (sgemm.c, small_packed); what AUTO picks there.
 * RT_SGEMM_SMALL is then the same kernel in plain order, for comparison;
 * other shapes take STREAM as SMALL. */
typedef enum RtSgemmAlgo { RT_SGEMM_AUTO, RT_SGEMM_SMALL, RT_SGEMM_BLOCKED, RT_SGEMM_STREAM } RtSgemmAlgo;

/* rt_sgemm_ws on a forced path and algorithm; ws NULL means allocate. */
RT_API int rt_sgemm_run(RtCpuPath path, RtSgemmAlgo algo, int transa, int transb, int64_t M, int64_t N, int64_t K,
                        float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                        int64_t ldc, void *ws, size_t ws_bytes);

/* rt_sgemm_pack_b and rt_sgemm_ws_packed on a forced path and algorithm
 * (the packed-run rejects a pack made for another path). */
RT_API void rt_sgemm_pack_b_on(RtCpuPath path, int transb, int64_t N, int64_t K, const float *B, int64_t ldb,
                               void *packed);
RT_API size_t rt_sgemm_packed_b_bytes_on(RtCpuPath path, int64_t N, int64_t K); /* exact */
RT_API int rt_sgemm_packed_run(RtCpuPath path, RtSgemmAlgo algo, int transa, int64_t M, int64_t N, int64_t K,
                               float alpha, const float *A, int64_t lda, const void *packed_b, float beta, float *C,
                               int64_t ldc, void *ws, size_t ws_bytes);

/* ---- one product as data, for the split over threads (sgemm_mt.c) ---- */

/* A checked product with its kernel and algorithm chosen: C = alpha op(A)
 * op(B) + beta C, B either plain (B, ldb, transb) or pre-packed (Bpk:
 * the panels, past the header). */
#define RT_SGEMM_JOB_STREAM 2
typedef struct RtSgemmJob {
    const RtSgemmKernel *k;
    int small; /* the small-M algorithm, else the blocked loops; RT_SGEMM_JOB_STREAM: RT_SGEMM_STREAM */
    int transa, transb;
    int64_t M, N, K;
    float alpha;
    const float *A;
    int64_t lda;
    const float *B;
    int64_t ldb;
    const float *Bpk;
    float beta;
    float *C;
    int64_t ldc;
} RtSgemmJob;

/* Rows [i0, i1) x columns [j0, j1) of j with workspace ws (sgemm.c); i0 a
 * multiple of mr and of RT_SGEMM_SMALL_ROWS, j0 of nr, for the same bits
 * as the whole product. */
RT_API void rt_sgemm_strip(const RtSgemmJob *j, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float *ws);
/* Floats of workspace rt_sgemm_strip needs for any strip of j. */
RT_API size_t rt_sgemm_job_ws_floats(const RtSgemmJob *j);

/* Runs j, split into strips over the rt_sgemm threads when it is big
 * enough to pay, else whole on the calling thread (ws: the caller's
 * workspace, rt_sgemm_job_ws_floats(j) floats).  Bit-identical results
 * for any thread count (sgemm_mt.c). */
RT_API void rt_sgemm_mt(const RtSgemmJob *j, float *ws);

/* The threads rt_sgemm uses: RNNC_THREADS (threadpool.h), read at the
 * first product big enough to split.  rt_sgemm_set_threads(n) changes it
 * (n <= 0: back to RNNC_THREADS) for tests and benchmarks; it must not
 * run while another thread is in rt_sgemm. */
RT_API int rt_sgemm_threads(void);
RT_API void rt_sgemm_set_threads(int n);
/* The size from which a product is split and the least work per strip
 * (FLOPs; <= 0: the measured defaults of sgemm_mt.c), so that tests can
 * split small products; the same caveat. */
RT_API void rt_sgemm_set_split_flops(double min_flops, double strip_flops);

/* The store of a partial tile: t is an MR x NR tile (row stride nr) of
 * alpha-free products; writes C[i][j] = alpha*t + beta*C for i < m, j < n. */
RT_API void rt_sgemm_store_tile(const float *t, int nr, float *C, int64_t ldc, int m, int n, float alpha, float beta);

#endif
