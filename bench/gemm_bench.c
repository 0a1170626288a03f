/* gemm_bench.c - rt_sgemm's speed as GFLOP/s and as a fraction of the
 * single-core FP32 peak measured in the same run (bench/peak.h).
 *
 * Square sizes, and the shapes an RNN step multiplies: C[B, 4H] = X[B, H] *
 * W^T with W stored [4H, H] (transb = 1), for batch B in {1, 32, 64}.  FLOPs
 * are 2*M*N*K per call.  Each configuration: warm-up, then the median of at
 * least 20 timed calls (more for tiny ones, up to ~50 ms), best median of 3
 * repetitions.  Uses rt_sgemm as callers do, so RNNC_CPU picks the path.
 * Prints; never asserts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/peak.h"
#include "runtime/cpu.h"
#include "runtime/rng.h"
#include "runtime/sgemm.h"
#include "runtime/sgemm_kernels.h"

typedef struct Shape {
    const char *what;
    int ta, tb;
    int64_t M, N, K;
} Shape;

static const Shape shapes[] = {
    {"square", 0, 0, 256, 256, 256},
    {"square", 0, 0, 512, 512, 512},
    {"square", 0, 0, 1024, 1024, 1024},
    {"rnn B=1", 0, 1, 1, 1024, 256},
    {"rnn B=1", 0, 1, 1, 2048, 512},
    {"rnn B=32", 0, 1, 32, 1024, 256},
    {"rnn B=32", 0, 1, 32, 2048, 512},
    {"rnn B=64", 0, 1, 64, 1024, 256},
    {"rnn B=64", 0, 1, 64, 2048, 512},
};

static float *random_matrix(RtRng *r, int64_t n) {
    float *m = malloc((size_t)n * sizeof(float));
    if (!m) {
        fprintf(stderr, "gemm_bench: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++)
        m[i] = rt_rng_uniform_sym(r, 1.0f);
    return m;
}

/* Median seconds per call: best of 3 medians of >= 20 calls. */
static double time_shape(const Shape *s, const float *A, const float *B, float *C) {
    int64_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    double t0 = peak_now();
    for (int i = 0; i < 3; i++) /* warm-up */
        rt_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
    double one = (peak_now() - t0) / 3;
    int runs = 20;
    while (runs < 2000 && runs * one < 0.05)
        runs *= 2;
    double *t = malloc((size_t)runs * sizeof(double)), best = 1e30;
    if (!t)
        exit(1);
    for (int rep = 0; rep < 3; rep++) {
        for (int i = 0; i < runs; i++) {
            double a = peak_now();
            rt_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
            t[i] = peak_now() - a;
        }
        qsort(t, (size_t)runs, sizeof t[0], peak_cmp);
        if (t[runs / 2] < best)
            best = t[runs / 2];
    }
    free(t);
    return best;
}

/* "model name" from /proc/cpuinfo, or "unknown". */
static void cpu_model(char *buf, size_t n) {
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(buf, n, "%s", strchr(line, ':') + 2);
            buf[strcspn(buf, "\n")] = '\0';
            break;
        }
    fclose(f);
}

int main(void) {
    char model[256];
    cpu_model(model, sizeof model);
    const RtCpuFeatures *f = rt_cpu_features();
    RtCpuPath path = rt_cpu_path();
    const RtSgemmKernel *k = rt_sgemm_kernel_for(path);
    printf("rnnc SGEMM benchmark, single thread\n");
    printf("cpu: %s\n", model);
    printf("flags: avx=%d avx2=%d fma=%d avx512f=%d avx512vl=%d avx512bw=%d os_ymm=%d "
           "os_zmm=%d\n",
           f->avx, f->avx2, f->fma, f->avx512f, f->avx512vl, f->avx512bw, f->os_ymm, f->os_zmm);
    printf("path: %s (best %s), micro-kernel %dx%d, blocks mc=%lld kc=%lld nc=%lld\n",
           rt_cpu_path_name(path), rt_cpu_path_name(rt_cpu_best_path()), k ? k->mr : 0,
           k ? k->nr : 0, k ? (long long)k->mc : 0, k ? (long long)k->kc : 0,
           k ? (long long)k->nc : 0);
    double peak = peak_gflops();
    printf("FP32 peak, 1 core (%s): %.1f GFLOP/s\n\n", peak_what(), peak);

    printf("%-9s %-2s %5s %5s %5s %10s %9s %7s\n", "shape", "op", "M", "N", "K", "time(us)",
           "GFLOP/s", "%peak");
    RtRng r;
    rt_rng_seed(&r, 7);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const Shape *s = &shapes[i];
        float *A = random_matrix(&r, s->M * s->K);
        float *B = random_matrix(&r, s->K * s->N);
        float *C = random_matrix(&r, s->M * s->N);
        double sec = time_shape(s, A, B, C);
        double gflops = 2.0 * (double)s->M * (double)s->N * (double)s->K / sec * 1e-9;
        printf("%-9s %c%c %5lld %5lld %5lld %10.1f %9.1f %6.1f%%\n", s->what, s->ta ? 't' : 'n',
               s->tb ? 't' : 'n', (long long)s->M, (long long)s->N, (long long)s->K, sec * 1e6,
               gflops, peak > 0 ? 100.0 * gflops / peak : 0.0);
        free(A);
        free(B);
        free(C);
    }
    printf("\nFLOPs = 2*M*N*K per call; median of >= 20 calls after warm-up, best of 3.\n");
    return 0;
}
