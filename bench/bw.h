/* bw.h - the read bandwidth of one core from a buffer that stays in its
 * caches (bench/bw_probe.c prints it by size; gemm_bench --matvec divides
 * by it).  Header-only, like peak.h, so that every benchmark can include it. */
#ifndef RNNC_BENCH_BW_H
#define RNNC_BENCH_BW_H

#include <stdlib.h>

#include "bench/peak.h"

static volatile float bw_sink;

/* Sums n floats (n a multiple of 128) forwards (dir 0) or backwards, 128
 * floats a chunk. */
#if PEAK_X86
/* Eight named accumulators (an array of vectors stays in memory at -O2). */
#define SUM8(T, ld, add, W)                                                                                   \
    T s0 = s_zero, s1 = s_zero, s2 = s_zero, s3 = s_zero, s4 = s_zero, s5 = s_zero, s6 = s_zero, s7 = s_zero; \
    for (int64_t c = 0; c < n; c += 8 * W) {                                                                  \
        const float *p = a + (dir ? n - 8 * W - c : c);                                                       \
        s0 = add(s0, ld(p)), s1 = add(s1, ld(p + W)), s2 = add(s2, ld(p + 2 * W));                            \
        s3 = add(s3, ld(p + 3 * W)), s4 = add(s4, ld(p + 4 * W)), s5 = add(s5, ld(p + 5 * W));                \
        s6 = add(s6, ld(p + 6 * W)), s7 = add(s7, ld(p + 7 * W));                                             \
    }                                                                                                         \
    s0 = add(add(add(s0, s1), add(s2, s3)), add(add(s4, s5), add(s6, s7)))
__attribute__((target("avx512f"))) static void sum512(const float *a, int64_t n, int dir)
{
    const __m512 s_zero = _mm512_setzero_ps();
    SUM8(__m512, _mm512_load_ps, _mm512_add_ps, 16);
    bw_sink = _mm512_reduce_add_ps(s0);
}
__attribute__((target("avx2"))) static void sum256(const float *a, int64_t n, int dir)
{
    const __m256 s_zero = _mm256_setzero_ps();
    SUM8(__m256, _mm256_load_ps, _mm256_add_ps, 8);
    float t[8];
    _mm256_storeu_ps(t, s0);
    bw_sink = t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#undef SUM8
#endif
static void sum_scalar(const float *a, int64_t n, int dir)
{
    float s[8] = {0};
    for (int64_t c = 0; c < n; c += 8) {
        const float *p = a + (dir ? n - 8 - c : c);
        for (int i = 0; i < 8; i++) s[i] += p[i];
    }
    bw_sink = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

static void sum(RtCpuPath path, const float *a, int64_t n, int dir)
{
#if PEAK_X86
    if (path == RT_CPU_AVX512) return sum512(a, n, dir);
    if (path == RT_CPU_AVX2) return sum256(a, n, dir);
#endif
    sum_scalar(a, n, dir);
}

/* GB/s reading n floats: best of 5 medians of `reps` passes (after a
 * warm-up pass); zigzag alternates the direction from pass to pass. */
static double bw_read_gbs(RtCpuPath path, const float *a, int64_t n, int zigzag)
{
    int reps = (int)(64 * 1024 * 1024 / (n * 4)); /* ~64 MiB a median */
    if (reps < 11) reps = 11;
    if (reps > 2001) reps = 2001;
    double *t = malloc((size_t)reps * sizeof *t), best = 1e30;
    if (!t) exit(1);
    sum(path, a, n, 0);
    for (int round = 0; round < 5; round++) {
        for (int r = 0; r < reps; r++) {
            double t0 = peak_now();
            sum(path, a, n, zigzag ? r & 1 : 0);
            t[r] = peak_now() - t0;
        }
        qsort(t, (size_t)reps, sizeof *t, peak_cmp);
        if (t[reps / 2] < best) best = t[reps / 2];
    }
    free(t);
    return (double)n * 4.0 / best * 1e-9;
}

/* The L2 read bandwidth: bw_read_gbs on a 384 KiB buffer (past L1, well
 * inside any L2 of 512 KiB or more), GB/s. */
static inline double bw_l2_gbs(RtCpuPath path)
{
    int64_t n = 384 * 256;
    float *a = aligned_alloc(64, (size_t)n * 4);
    if (!a) return 0;
    for (int64_t j = 0; j < n; j++) a[j] = (float)(j & 7);
    double g = bw_read_gbs(path, a, n, 0);
    free(a);
    return g;
}

#endif
