/* cpu.c - CPUID/XGETBV feature detection and the RNNC_CPU override.
 *
 * Detection is idempotent and cheap, so the first-use initialisation needs no
 * lock: every thread that races computes the same answer and publishes it
 * with a C11 atomic store; readers load it with acquire order. */
#include "runtime/cpu.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if RT_X86
#include <cpuid.h>
#endif

#if RT_X86
/* XCR0, the OS-enabled register state; only valid when OSXSAVE is set. */
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

static RtCpuFeatures detect(void)
{
    RtCpuFeatures f;
    memset(&f, 0, sizeof f);
#if RT_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
    unsigned max_leaf = a;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    bool osxsave = (c >> 27) & 1;
    f.avx = (c >> 28) & 1;
    f.fma = (c >> 12) & 1;
    if (osxsave) {
        uint64_t xcr0 = read_xcr0();
        f.os_ymm = (xcr0 & 0x6) == 0x6;   /* bit 1 SSE, bit 2 AVX */
        f.os_zmm = (xcr0 & 0xe6) == 0xe6; /* plus 5 opmask, 6 ZMM_Hi256, 7 Hi16_ZMM */
    }
    if (max_leaf >= 7 && __get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f.avx2 = (b >> 5) & 1;
        f.avx512f = (b >> 16) & 1;
        f.avx512bw = (b >> 30) & 1;
        f.avx512vl = (b >> 31) & 1;
    }
#endif
    return f;
}

/* 0 = not yet detected, 1 = features valid. */
static atomic_int features_ready;
static RtCpuFeatures features;

RT_API const RtCpuFeatures *rt_cpu_features(void)
{
    if (!atomic_load_explicit(&features_ready, memory_order_acquire)) {
        /* Racing threads write identical bytes; the release store orders
         * them before the flag. */
        RtCpuFeatures f = detect();
        static atomic_flag writing = ATOMIC_FLAG_INIT;
        while (atomic_flag_test_and_set_explicit(&writing, memory_order_acquire))
            ;
        if (!atomic_load_explicit(&features_ready, memory_order_relaxed)) {
            features = f;
            atomic_store_explicit(&features_ready, 1, memory_order_release);
        }
        atomic_flag_clear_explicit(&writing, memory_order_release);
    }
    return &features;
}

RT_API bool rt_cpu_path_supported(RtCpuPath p)
{
    const RtCpuFeatures *f = rt_cpu_features();
    switch (p) {
    case RT_CPU_SCALAR: return true;
    case RT_CPU_AVX2: return f->avx && f->avx2 && f->fma && f->os_ymm;
    case RT_CPU_AVX512: return rt_cpu_path_supported(RT_CPU_AVX2) && f->avx512f && f->os_zmm;
    default: return false;
    }
}

RT_API RtCpuPath rt_cpu_best_path(void)
{
    for (int p = RT_CPU_NPATHS - 1; p > 0; p--)
        if (rt_cpu_path_supported((RtCpuPath)p)) return (RtCpuPath)p;
    return RT_CPU_SCALAR;
}

RT_API const char *rt_cpu_path_name(RtCpuPath p)
{
    switch (p) {
    case RT_CPU_SCALAR: return "scalar";
    case RT_CPU_AVX2: return "avx2";
    case RT_CPU_AVX512: return "avx512";
    default: return "?";
    }
}

/* The path RNNC_CPU asks for, clamped to what the CPU can run. */
RT_API RtCpuPath rt_cpu_path_for(const char *env)
{
    RtCpuPath best = rt_cpu_best_path();
    if (!env || !*env) return best;
    for (int p = 0; p < RT_CPU_NPATHS; p++) {
        if (strcmp(env, rt_cpu_path_name((RtCpuPath)p)) != 0) continue;
        if ((RtCpuPath)p > best) {
            fprintf(stderr, "rnnc: RNNC_CPU=%s: this CPU lacks it, using %s\n", env, rt_cpu_path_name(best));
            return best;
        }
        return (RtCpuPath)p;
    }
    fprintf(stderr, "rnnc: RNNC_CPU=%s: unknown (expected scalar, avx2 or avx512), using %s\n", env,
            rt_cpu_path_name(best));
    return best;
}

/* -1 until chosen.  A race may choose twice (and warn twice); both
 * get the same answer, so the first store wins and nothing else matters. */
static atomic_int chosen_path = -1;

RT_API RtCpuPath rt_cpu_path(void)
{
    int p = atomic_load_explicit(&chosen_path, memory_order_acquire);
    if (p < 0) {
        int expected = -1;
        p = (int)rt_cpu_path_for(getenv("RNNC_CPU"));
        if (!atomic_compare_exchange_strong(&chosen_path, &expected, p)) p = expected;
    }
    return (RtCpuPath)p;
}
