/* peak.h - the machine's own FP32 FMA peak on one core, measured in the
 * benchmark's own run (BENCHMARKING.md: every figure is a ratio to a limit
 * measured on the same machine at the same time).
 *
 * A loop of independent FMA chains, enough of them to cover the FMA latency
 * at two FMAs per cycle: 12 chains of 256-bit FMAs (latency 4-5 cycles x 2
 * pipes = 10 needed), or 16 chains of 512-bit FMAs on AVX-512.  Each chain
 * is c = c * m + a with m just below 1, so nothing overflows or denormalizes;
 * the inputs come through volatiles so nothing is constant-folded, and each
 * chain starts from a different value so none can be merged with another.
 * (Check with objdump that the loop holds all the FMAs.)
 * Header-only (static functions) so that every benchmark can include it. */
#ifndef RNNC_BENCH_PEAK_H
#define RNNC_BENCH_PEAK_H

#include <stdint.h>
#include <time.h>

#include "runtime/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PEAK_X86 1
#else
#define PEAK_X86 0
#endif

static double peak_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile float peak_in_m = 0.999999f, peak_in_a = 1e-7f;
/* Each chain starts from its own value: chains that start equal compute
 * equal values, and the compiler merges them into one (it did). */
static float peak_start(int j) { return (float)(j + 1) * peak_in_a; }
static volatile float peak_sink;

#if PEAK_X86
/* FLOPs done: iters * 12 chains * 8 lanes * 2. */
__attribute__((target("avx2,fma"))) static double peak_avx2_run(int64_t iters)
{
    __m256 m = _mm256_set1_ps(peak_in_m), a = _mm256_set1_ps(peak_in_a);
    __m256 c0 = _mm256_set1_ps(peak_start(0)), c1 = _mm256_set1_ps(peak_start(1));
    __m256 c2 = _mm256_set1_ps(peak_start(2)), c3 = _mm256_set1_ps(peak_start(3));
    __m256 c4 = _mm256_set1_ps(peak_start(4)), c5 = _mm256_set1_ps(peak_start(5));
    __m256 c6 = _mm256_set1_ps(peak_start(6)), c7 = _mm256_set1_ps(peak_start(7));
    __m256 c8 = _mm256_set1_ps(peak_start(8)), c9 = _mm256_set1_ps(peak_start(9));
    __m256 c10 = _mm256_set1_ps(peak_start(10)), c11 = _mm256_set1_ps(peak_start(11));
    for (int64_t i = 0; i < iters; i++) {
        c0 = _mm256_fmadd_ps(c0, m, a);
        c1 = _mm256_fmadd_ps(c1, m, a);
        c2 = _mm256_fmadd_ps(c2, m, a);
        c3 = _mm256_fmadd_ps(c3, m, a);
        c4 = _mm256_fmadd_ps(c4, m, a);
        c5 = _mm256_fmadd_ps(c5, m, a);
        c6 = _mm256_fmadd_ps(c6, m, a);
        c7 = _mm256_fmadd_ps(c7, m, a);
        c8 = _mm256_fmadd_ps(c8, m, a);
        c9 = _mm256_fmadd_ps(c9, m, a);
        c10 = _mm256_fmadd_ps(c10, m, a);
        c11 = _mm256_fmadd_ps(c11, m, a);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    peak_sink = out[0];
    return (double)iters * 12 * 8 * 2;
}

/* FLOPs done: iters * 16 chains * 16 lanes * 2.  Written out, not as a
 * loop over an array: gcc -O2 keeps such an array in memory. */
#define PEAK_Z(j) __m512 z##j = _mm512_set1_ps(peak_start(j))
#define PEAK_F(j) z##j = _mm512_fmadd_ps(z##j, m, a)
__attribute__((target("avx512f"))) static double peak_avx512_run(int64_t iters)
{
    __m512 m = _mm512_set1_ps(peak_in_m), a = _mm512_set1_ps(peak_in_a);
    PEAK_Z(0);
    PEAK_Z(1);
    PEAK_Z(2);
    PEAK_Z(3);
    PEAK_Z(4);
    PEAK_Z(5);
    PEAK_Z(6);
    PEAK_Z(7);
    PEAK_Z(8);
    PEAK_Z(9);
    PEAK_Z(10);
    PEAK_Z(11);
    PEAK_Z(12);
    PEAK_Z(13);
    PEAK_Z(14);
    PEAK_Z(15);
    for (int64_t i = 0; i < iters; i++) {
        PEAK_F(0);
        PEAK_F(1);
        PEAK_F(2);
        PEAK_F(3);
        PEAK_F(4);
        PEAK_F(5);
        PEAK_F(6);
        PEAK_F(7);
        PEAK_F(8);
        PEAK_F(9);
        PEAK_F(10);
        PEAK_F(11);
        PEAK_F(12);
        PEAK_F(13);
        PEAK_F(14);
        PEAK_F(15);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(z0, z1), _mm512_add_ps(z2, z3)),
                             _mm512_add_ps(_mm512_add_ps(z4, z5), _mm512_add_ps(z6, z7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(z8, z9), _mm512_add_ps(z10, z11)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(z12, z13), _mm512_add_ps(z14, z15)));
    float out[16];
    _mm512_storeu_ps(out, s);
    peak_sink = out[0];
    return (double)iters * 16 * 16 * 2;
}
#endif

/* Which FMA loop peak_gflops runs. */
static const char *peak_what(void)
{
    if (rt_cpu_path_supported(RT_CPU_AVX512)) return "16 chains of 512-bit FMA";
    if (rt_cpu_path_supported(RT_CPU_AVX2)) return "12 chains of 256-bit FMA";
    return "no FMA unit used (scalar CPU)";
}

static int peak_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The single-core FP32 peak in GFLOP/s: the best of 3 medians of 21 timed
 * runs of about 10 ms each, after a warm-up (0 if the CPU has no FMA). */
static double peak_gflops(void)
{
#if PEAK_X86
    double (*run)(int64_t) = NULL;
    if (rt_cpu_path_supported(RT_CPU_AVX512))
        run = peak_avx512_run;
    else if (rt_cpu_path_supported(RT_CPU_AVX2))
        run = peak_avx2_run;
    if (!run) return 0;
    int64_t iters = 1000000; /* ~10 ms at a few GHz */
    run(iters);              /* warm-up: clocks up, code in cache */
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double g[21];
        for (int i = 0; i < 21; i++) {
            double t0 = peak_now();
            double flops = run(iters);
            g[i] = flops / (peak_now() - t0) * 1e-9;
        }
        qsort(g, 21, sizeof g[0], peak_cmp);
        if (g[10] > best) best = g[10];
    }
    return best;
#else
    return 0;
#endif
}

#endif
