/* bw_probe.c - how fast one core reads a buffer that stays in its caches:
 * the limit of a batch-1 RNN step, which streams its packed recurrent
 * weights (1 MiB at LSTM 256, 4 MiB at 512) once a step and does 2 FLOPs
 * per 4-byte element (docs/performance.md, "Batch 1").
 *
 *     bw_probe [--zigzag]
 *
 * For each buffer size, from 16 KiB (L1) to 16 MiB (past L2 and L3), the
 * best of 5 medians of repeated whole-buffer sums with 8 independent
 * 512-bit (or 256-bit) accumulators, as GB/s.  The plateau at 256-512 KiB is
 * the L2 read bandwidth the matrix-vector kernel is measured against.
 * --zigzag also reads each buffer alternately forwards and backwards, the
 * order a batch-1 step walks packed W in (runtime/sgemm.c, small_packed): a
 * buffer a little larger than L2 then keeps the half read last.
 * Run it pinned (taskset -c 0).  Prints; never asserts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bw.h"

int main(int argc, char **argv)
{
    int zigzag = argc > 1 && !strcmp(argv[1], "--zigzag");
    if (argc > 1 && !zigzag) {
        fprintf(stderr, "usage: bw_probe [--zigzag]\n");
        return 2;
    }
    RtCpuPath path = rt_cpu_path();
    static const int kib[] = {16, 64, 256, 384, 512, 768, 896, 1024, 1280, 1536, 2048, 4096, 16384};
    double peak = peak_gflops();
    printf("FP32 FMA peak, 1 core (%s): %.1f GFLOP/s\n", peak_what(), peak);
    printf("read bandwidth of one core, path %s, GB/s (best of 5 medians)\n", rt_cpu_path_name(path));
    printf("%9s | %10s%s\n", "KiB", "forwards", zigzag ? " | fwd/back alternating" : "");
    for (size_t i = 0; i < sizeof kib / sizeof kib[0]; i++) {
        int64_t n = (int64_t)kib[i] * 256;
        float *a = aligned_alloc(64, (size_t)n * 4);
        if (!a) return 1;
        for (int64_t j = 0; j < n; j++) a[j] = (float)(j & 7);
        printf("%9d | %10.1f", kib[i], bw_read_gbs(path, a, n, 0));
        if (zigzag) printf(" | %10.1f", bw_read_gbs(path, a, n, 1));
        printf("\n");
        free(a);
    }
    return 0;
}
