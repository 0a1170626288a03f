/* rnnrt.h - the rnnc runtime as generated C code sees it: the one header a
 * model emitted with --runtime=link includes, next to librnnrt.a.
 *
 * Self-contained on purpose (only <stddef.h> and <stdint.h>): it is
 * installed alone to $(PREFIX)/include.  The runtime's own headers
 * (sgemm.h, vmath.h, nn_kernels.h) repeat these declarations with their
 * full documentation and include this file, so the compiler checks that
 * the two agree.  In --runtime=inline mode this text is the first part of
 * the amalgamation (target/c/rt_source.h), where RT_API is `static`.
 *
 * Conventions: row-major float32 arrays, int64 ids; the fallible kernels
 * return 0 or RT_ERR_ID_RANGE; nothing here keeps state between calls
 * except the read-once CPU path choice (race-free), so all of it is
 * reentrant. */
#ifndef RNNC_RNNRT_H
#define RNNC_RNNRT_H

#include <stddef.h>
#include <stdint.h>

/* RT_API marks every runtime function generated code may call; RT_EXTERN
 * the runtime's declarations of its own internal tables.  A library build
 * leaves them as ordinary external declarations; the amalgamation defines
 * them first as `static`, so two models carrying the runtime link into one
 * program without a clash. */
#ifndef RT_API
#define RT_API
#endif
#ifndef RT_EXTERN
#define RT_EXTERN extern
#endif

#define RT_ERR_ID_RANGE 2

/* ---- the CPU path (runtime/cpu.h) ----------------------------------------
 * Whether the x86 SIMD code is built: an x86 target and GNU C (gcc,
 * clang), whose target attributes compile AVX2 and AVX-512 functions in a
 * translation unit built for the baseline ISA.  That is what lets the
 * whole runtime, and a generated model, be one file compiled with no -m
 * flags; cpu.c makes sure those functions only run on a CPU that has the
 * instructions. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define RT_X86         1
#define RT_TARGET(isa) __attribute__((target(isa)))
#else
#define RT_X86 0
#endif

/* A function to inline wherever it is called, whatever the optimization
 * level: the scalar activations (vmath_inline.h) and a generated model's
 * element-wise loops, which must be compiled inside each per-ISA wrapper
 * of them to be vectorized for it.  RT_NOINLINE: those wrappers, kept
 * apart so that the compiler optimizes many small functions rather than
 * one huge one (target/c/emit_c.c). */
#if defined(__GNUC__)
#define RT_ALWAYS_INLINE static inline __attribute__((always_inline, unused))
#define RT_NOINLINE      __attribute__((noinline))
#else
#define RT_ALWAYS_INLINE static inline
#define RT_NOINLINE
#endif

/* Ordered: a larger path needs everything a smaller one needs. */
typedef enum RtCpuPath {
    RT_CPU_SCALAR = 0, /* portable C */
    RT_CPU_AVX2 = 1,   /* AVX2 + FMA3, OS saves YMM state */
    RT_CPU_AVX512 = 2, /* AVX-512F, OS saves ZMM/opmask state */
    RT_CPU_NPATHS = 3
} RtCpuPath;

/* The path the runtime uses: the best this CPU and OS support, or the one
 * the environment variable RNNC_CPU=scalar|avx2|avx512 asks for (read once,
 * at the first call; later changes to the environment are ignored). */
RT_API RtCpuPath rt_cpu_path(void);

/* ---- SGEMM (runtime/sgemm.h) ---------------------------------------------
 * C = alpha op(A) op(B) + beta C, row-major, BLAS semantics; beta == 0
 * never reads C.  Bad arguments print to stderr and leave C unchanged. */
RT_API void rt_sgemm(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                     const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* Bytes of 64-byte aligned workspace rt_sgemm_ws needs for these sizes. */
RT_API size_t rt_sgemm_workspace_size(int64_t M, int64_t N, int64_t K);
/* rt_sgemm without malloc; 0, or -1 on bad arguments / too small a ws. */
RT_API int rt_sgemm_ws(int transa, int transb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                       int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, void *ws,
                       size_t ws_bytes);
/* B packed once (rt_sgemm_pack_b into rt_sgemm_packed_b_bytes(N, K) bytes)
 * for many products: rt_sgemm_ws_packed is rt_sgemm_ws with that pack for
 * op(B); -1 also for a pack of other N, K or CPU path. */
/* At most 64 + 4 * (N + RT_SGEMM_NR_MAX) * K bytes: a 64-byte header and
 * op(B) in panels of the widest path's nr (32, AVX-512) columns. */
#define RT_SGEMM_NR_MAX 32
RT_API size_t rt_sgemm_packed_b_bytes(int64_t N, int64_t K);
RT_API void rt_sgemm_pack_b(int transb, int64_t N, int64_t K, const float *B, int64_t ldb, void *packed);
RT_API int rt_sgemm_ws_packed(int transa, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                              const void *packed_b, float beta, float *C, int64_t ldc, void *ws, size_t ws_bytes);

/* ---- vector math (runtime/vmath.h) ---------------------------------------
 * y[i] = f(x[i]) for i < n; y may equal x.  Bit-identical on every path. */
RT_API void rt_vexp(float *y, const float *x, int64_t n);
RT_API void rt_vtanh(float *y, const float *x, int64_t n);
RT_API void rt_vsigmoid(float *y, const float *x, int64_t n);

/* ---- neural-network kernels (runtime/nn_kernels.h) ----------------------- */
RT_API void rt_softmax_rows(int64_t rows, int64_t C, const float *x, float *y);
RT_API int rt_cross_entropy(int64_t rows, int64_t C, const float *logits, const int64_t *ids, float *out);
RT_API int rt_cross_entropy_grad(int64_t rows, int64_t C, const float *logits, const int64_t *ids, float *g);
RT_API int rt_cross_entropy_masked(int64_t rows, int64_t C, const float *logits, const int64_t *ids, const float *w,
                                   float *out);
RT_API int rt_cross_entropy_masked_grad(int64_t rows, int64_t C, const float *logits, const int64_t *ids,
                                        const float *w, float *g);
RT_API void rt_seq_reverse_masked(int64_t T, int64_t n, int64_t B, const float *x, const float *m, float *out);
RT_API void rt_seq_reverse_masked_ids(int64_t T, int64_t n, int64_t B, const int64_t *x, const float *m, int64_t *out);
RT_API int rt_embedding(int64_t n, int64_t D, int64_t V, const float *table, const int64_t *ids, float *out);
RT_API int rt_embedding_grad(int64_t n, int64_t D, int64_t V, const int64_t *ids, const float *g, float *out);
RT_API void rt_layernorm_rows(int64_t rows, int64_t n, const float *x, float *y, double eps);
RT_API void rt_layernorm_grad_rows(int64_t rows, int64_t n, const float *x, const float *dy, float *dx, double eps);
RT_API void rt_sgd_update(int64_t n, const float *p, const float *g, const float *mom, float *out_p, float *out_mom,
                          double lr, double momentum, double weight_decay);
RT_API void rt_adam_update(int64_t n, const float *p, const float *g, const float *m, const float *v, const float *step,
                           float *out_p, float *out_m, float *out_v, double lr, double beta1, double beta2, double eps,
                           double weight_decay);
/* out[i] = 0 or 1/(1-p): the dropout mask of (key[0..1], index) for
 * i < n (runtime/dropout.c); nkey is 2. */
RT_API void rt_dropout_mask(int64_t n, int64_t nkey, int64_t index, const int64_t *key, float *out, double p);

/* The scalar activations: the same bits as rt_vexp / rt_vtanh /
 * rt_vsigmoid give for the same input.  Generated element-wise loops call
 * their inline definitions (runtime/vmath_inline.h: rt_inline_expf, ...). */
RT_API float rt_expf(float x);
RT_API float rt_tanhf(float x);
RT_API float rt_sigmoidf(float x);

/* ---- element-wise maps over the threads (runtime/sgemm_mt.c) -------------
 * fn(ctx, begin, end) runs rows [begin, end) of a generated map.
 * rt_map_rows runs rows [0, rows) of it: split into one contiguous range
 * per thread of rt_sgemm's pool when rows * row_work (the map's element
 * count times its operations per element) is large enough to pay for the
 * hand-off, else - one thread, a small map, or the pool busy with another
 * caller - as one fn(ctx, 0, rows) on the calling thread.  A row is
 * computed by the same code either way, so the bits do not depend on the
 * split. */
typedef void (*RtMapRowsFn)(void *ctx, int64_t begin, int64_t end);
RT_API void rt_map_rows(int64_t rows, int64_t row_work, RtMapRowsFn fn, void *ctx);

#endif
