/* sgemm_pack.c - packing a transposed B (B stored N x K, op(B) = B^T) into
 * column panels with 8 x 8 vector transposes.
 *
 * A model's weights W are stored [out, in] and multiplied as x W^T, so
 * every pack of W for the forward products (W_ih^T for the input
 * projection, W_hh^T for the steps) is this case: panel element (p, j) is
 * B[j*ldb + p], a gather across nr rows.  The scalar loop moves one float
 * per load and store; training repacks W_ih^T and W_hh^T at every step
 * (the weights change), and at batch 1 that was 8% of an LSTM 256
 * training step (perf, docs/performance.md, "Batch 1: where the time
 * goes").  Here 8 rows of 8 floats are loaded, transposed in registers and
 * stored as 8 rows of the panel.  A copy: the pack has the same bits as
 * the scalar loop's (test_sgemm's test_pack_transposed compares them).
 *
 * rt_sgemm_pack_t_for gives the packer of a kernel whose panels are a
 * multiple of 8 wide (the AVX2 and AVX-512 paths; AVX is all it needs), or
 * NULL (the scalar path keeps the loop in sgemm.c). */
#include "runtime/sgemm_kernels.h"

#if RT_X86
#include <immintrin.h>

/* Panel rows p0..p0+7, columns j0..j0+7: dst[(p0 + i) * nr + j0 + r] =
 * B[(j0 + r) * ldb + p0 + i]. */
RT_TARGET("avx") static void pack_t_8x8(const float *B, int64_t ldb, float *dst, int64_t nr)
{
    __m256 r0 = _mm256_loadu_ps(B), r1 = _mm256_loadu_ps(B + ldb), r2 = _mm256_loadu_ps(B + 2 * ldb),
           r3 = _mm256_loadu_ps(B + 3 * ldb), r4 = _mm256_loadu_ps(B + 4 * ldb), r5 = _mm256_loadu_ps(B + 5 * ldb),
           r6 = _mm256_loadu_ps(B + 6 * ldb), r7 = _mm256_loadu_ps(B + 7 * ldb);
    /* pairs of rows interleaved, then pairs of pairs, then the 128-bit halves */
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),
           s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),
           s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)),
           s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)),
           s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(dst + nr, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(dst + 2 * nr, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(dst + 3 * nr, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(dst + 4 * nr, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(dst + 5 * nr, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(dst + 6 * nr, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(dst + 7 * nr, _mm256_permute2f128_ps(s3, s7, 0x31));
}

/* One whole panel: nr (a multiple of 8) rows of B from B, kc of their
 * columns; dst[p * nr + j] = B[j * ldb + p]. */
RT_TARGET("avx") static void pack_t_avx(const float *B, int64_t ldb, int64_t kc, int nr, float *dst)
{
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8)
        for (int j = 0; j < nr; j += 8) pack_t_8x8(B + j * ldb + p, ldb, dst + p * nr + j, nr);
    for (; p < kc; p++)
        for (int j = 0; j < nr; j++) dst[p * nr + j] = B[j * ldb + p];
}
#endif

RT_API RtSgemmPackT rt_sgemm_pack_t_for(const RtSgemmKernel *k)
{
#if RT_X86
    if ((k == &rt_sgemm_kernel_avx512 || k == &rt_sgemm_kernel_avx2) && k->nr % 8 == 0) return pack_t_avx;
#endif
    (void)k;
    return NULL;
}
