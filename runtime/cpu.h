/* cpu.h - run-time CPU feature detection and the choice of kernel path.
 *
 * The runtime's fast kernels come in one flavour per instruction set; which
 * one runs is decided here, at run time, by CPUID and XGETBV (the CPU must
 * have the instructions AND the OS must save the wide registers on a context
 * switch).  Nothing is decided at build time, so one binary runs everywhere.
 *
 * The environment variable RNNC_CPU=scalar|avx2|avx512 forces a path (tests
 * use it to exercise the portable kernels on any machine).  Asking for a path
 * the CPU lacks falls back to the best one it has, with a warning on stderr:
 * a forced path must never turn into SIGILL. */
#ifndef RNNC_CPU_H
#define RNNC_CPU_H

#include <stdbool.h>

#include "runtime/rnnrt.h"

/* RT_X86, RT_TARGET and RtCpuPath are in rnnrt.h: generated code uses them
 * too. */

typedef struct RtCpuFeatures {
    bool avx, avx2, fma; /* CPUID bits */
    bool avx512f, avx512vl, avx512bw;
    bool os_ymm; /* XCR0 has SSE and AVX state */
    bool os_zmm; /* XCR0 also has opmask, ZMM_Hi256, Hi16_ZMM */
} RtCpuFeatures;

/* What this CPU and OS support (detected once; thread-safe). */
RT_API const RtCpuFeatures *rt_cpu_features(void);

/* The best path the CPU supports, ignoring RNNC_CPU. */
RT_API RtCpuPath rt_cpu_best_path(void);

/* The path RNNC_CPU=value selects on this CPU (NULL or "" = the best);
 * warns on stderr about an unknown value or one the CPU lacks. */
RT_API RtCpuPath rt_cpu_path_for(const char *value);

/* Whether this CPU can run path p. */
RT_API bool rt_cpu_path_supported(RtCpuPath p);

/* "scalar", "avx2", "avx512". */
RT_API const char *rt_cpu_path_name(RtCpuPath p);

#endif
