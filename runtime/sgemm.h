/* sgemm.h - the runtime's single-precision matrix multiply.
 *
 * Row-major with BLAS semantics:
 *
 *     C = alpha * op(A) * op(B) + beta * C
 *
 * op(A) is M x K: A itself (transa == 0, M rows of lda >= K floats) or the
 * transpose of a K x M matrix (transa != 0, K rows of lda >= M floats).
 * op(B) is K x N likewise (ldb >= N, or ldb >= K when transposed); C is M x N
 * with ldc >= N.  beta == 0 means C is write-only: whatever it held (NaN
 * included) is overwritten, never read.  alpha == 0 or K == 0 means A and B
 * are not read.  Elements of C outside the M x N block are never touched.
 *
 * The kernel (portable, AVX2+FMA or AVX-512, see cpu.h) is chosen at run time,
 * and so is the algorithm: blocked (Goto) loops, or for a few rows of A
 * (an RNN step at small batch) kernels that stream B once with all rows in
 * registers.
 * Single-threaded and reentrant: each call owns its packing buffers.  Invalid
 * arguments (negative sizes, too-small leading dimensions) print a message to
 * stderr and leave C unchanged. */
#ifndef RNNC_SGEMM_H
#define RNNC_SGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/rnnrt.h" /* must agree with these declarations */

RT_API void rt_sgemm(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                     const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* The same with caller-provided packing space, for callers that multiply
 * many times (one RNN step after another) and want no malloc per call.
 * rt_sgemm_workspace_size gives the bytes needed for these sizes (any
 * transposes); ws must hold that many and be 64-byte aligned.  Returns 0, or
 * -1 on invalid arguments or too small a workspace (C unchanged). */
RT_API size_t rt_sgemm_workspace_size(int64_t M, int64_t N, int64_t K);
RT_API int rt_sgemm_ws(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                       int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, void *ws,
                       size_t ws_bytes);

/* Pre-packed B, for a B used many times (the recurrent weights W_hh of
 * every step): rt_sgemm_pack_b stores op(B) (K x N, transb as above) in the
 * layout the kernel of the current CPU path reads fastest, with a small
 * header recording that path, N and K.  packed must hold
 * rt_sgemm_packed_b_bytes(N, K) bytes (enough for any path; 64-byte
 * alignment is best, 4 suffices).  Bad arguments print to stderr and leave
 * a header that rt_sgemm_ws_packed rejects.
 *
 * rt_sgemm_ws_packed is rt_sgemm_ws with B replaced by such a pack: ws
 * (64-byte aligned, rt_sgemm_workspace_size(M, N, K) bytes suffice) only
 * holds packed A.  Returns 0, or -1 (C unchanged) on bad arguments, too
 * small a workspace, or a pack made for other N, K or another CPU path
 * (RNNC_CPU applies to both calls, so in one process they always agree). */
RT_API size_t rt_sgemm_packed_b_bytes(int64_t N, int64_t K);
RT_API void rt_sgemm_pack_b(int transb, int64_t N, int64_t K, const float *B, int64_t ldb, void *packed);
RT_API int rt_sgemm_ws_packed(int transa, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                              const void *packed_b, float beta, float *C, int64_t ldc, void *ws, size_t ws_bytes);

#endif
