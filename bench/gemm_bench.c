/* gemm_bench.c - rt_sgemm's speed as GFLOP/s and as a fraction of the
 * single-core FP32 peak measured in the same run (bench/peak.h).
 *
 * Square sizes, and the shapes an RNN step multiplies: C[B, 4H] = X[B, H] *
 * W^T with W stored [4H, H] (transb = 1), for batch B in {1, 32, 64}.  FLOPs
 * are 2*M*N*K per call.  Each configuration: warm-up, then the median of at
 * least 20 timed calls (more for tiny ones, up to ~50 ms), best median of 3
 * repetitions.  Uses rt_sgemm as callers do, so RNNC_CPU picks the path.
 *
 * The recurrent-step table compares, for the same shapes, what a step can
 * call: the blocked loops repacking W every call (the algorithm before the
 * small-M path), rt_sgemm_ws (unpacked W, algorithm chosen by M) and
 * rt_sgemm_ws_packed (W packed once).  `gemm_bench --sweep` times the small-M
 * and blocked algorithms for M = 1..64, which is how the small_m_*
 * thresholds in sgemm_*.c were chosen.  `--threads N` runs rt_sgemm on N
 * threads (sgemm_mt.c; default 1, 0 = RNNC_THREADS or every core); the
 * peak stays one core's.  `--matvec` times the batch-1 step's two orders
 * of walking packed W against the L2 bandwidth (bench/bw.h).  Prints; never asserts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bw.h"
#include "runtime/cpu.h"
#include "exec/rng.h"
#include "runtime/sgemm.h"
#include "runtime/sgemm_kernels.h"

typedef struct Shape {
    const char *what;
    int ta, tb;
    int64_t M, N, K;
} Shape;

static const Shape shapes[] = {
    {"square", 0, 0, 256, 256, 256},   {"square", 0, 0, 512, 512, 512},   {"square", 0, 0, 1024, 1024, 1024},
    {"rnn B=1", 0, 1, 1, 1024, 256},   {"rnn B=1", 0, 1, 1, 2048, 512},   {"rnn B=32", 0, 1, 32, 1024, 256},
    {"rnn B=32", 0, 1, 32, 2048, 512}, {"rnn B=64", 0, 1, 64, 1024, 256}, {"rnn B=64", 0, 1, 64, 2048, 512},
};

static float *random_matrix(RtRng *r, int64_t n)
{
    float *m = malloc((size_t)n * sizeof(float));
    if (!m) {
        fprintf(stderr, "gemm_bench: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++) m[i] = rt_rng_uniform_sym(r, 1.0f);
    return m;
}

/* One call of the thing being timed. */
typedef struct Call {
    const Shape *s;
    const float *A, *B;
    float *C;
    enum { PLAIN, WS_ALGO, PACKED_ALGO } kind;
    RtSgemmAlgo algo;
    const void *packed;
    void *ws;
    size_t ws_bytes;
} Call;

static void call_once(const Call *c)
{
    const Shape *s = c->s;
    int64_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    int rc = 0;
    switch (c->kind) {
    case PLAIN: rt_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, c->A, lda, c->B, ldb, 0.0f, c->C, s->N); break;
    case WS_ALGO:
        rc = rt_sgemm_run(rt_cpu_path(), c->algo, s->ta, s->tb, s->M, s->N, s->K, 1.0f, c->A, lda, c->B, ldb, 0.0f,
                          c->C, s->N, c->ws, c->ws_bytes);
        break;
    case PACKED_ALGO:
        rc = rt_sgemm_packed_run(rt_cpu_path(), c->algo, s->ta, s->M, s->N, s->K, 1.0f, c->A, lda, c->packed, 0.0f,
                                 c->C, s->N, c->ws, c->ws_bytes);
        break;
    }
    if (rc) {
        fprintf(stderr, "gemm_bench: sgemm failed\n");
        exit(1);
    }
}

/* Median seconds per call: best of 3 medians of >= 20 calls. */
static double time_call(const Call *c)
{
    double t0 = peak_now();
    for (int i = 0; i < 3; i++) /* warm-up */
        call_once(c);
    double one = (peak_now() - t0) / 3;
    int runs = 20;
    while (runs < 2000 && runs * one < 0.05) runs *= 2;
    double *t = malloc((size_t)runs * sizeof(double)), best = 1e30;
    if (!t) exit(1);
    for (int rep = 0; rep < 3; rep++) {
        for (int i = 0; i < runs; i++) {
            double a = peak_now();
            call_once(c);
            t[i] = peak_now() - a;
        }
        qsort(t, (size_t)runs, sizeof t[0], peak_cmp);
        if (t[runs / 2] < best) best = t[runs / 2];
    }
    free(t);
    return best;
}

/* "model name" from /proc/cpuinfo, or "unknown". */
static void cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(buf, n, "%s", strchr(line, ':') + 2);
            buf[strcspn(buf, "\n")] = '\0';
            break;
        }
    fclose(f);
}

static double gflops_of(const Shape *s, double sec)
{
    return 2.0 * (double)s->M * (double)s->N * (double)s->K / sec * 1e-9;
}

static void *alloc64(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "gemm_bench: out of memory\n");
        exit(1);
    }
    return p;
}

/* The three ways a step can multiply by W, for one shape: seconds each. */
static void time_step(const Shape *s, RtRng *r, double sec[4], RtSgemmAlgo small_vs_blocked)
{
    float *A = random_matrix(r, s->M * s->K);
    float *B = random_matrix(r, s->K * s->N);
    float *C = random_matrix(r, s->M * s->N);
    size_t ws_bytes = rt_sgemm_workspace_size(s->M, s->N, s->K);
    void *ws = alloc64(ws_bytes);
    void *packed = alloc64(rt_sgemm_packed_b_bytes(s->N, s->K));
    rt_sgemm_pack_b(s->tb, s->N, s->K, B, s->tb ? s->K : s->N, packed);
    Call c = {.s = s, .A = A, .B = B, .C = C, .packed = packed, .ws = ws, .ws_bytes = ws_bytes};
    if (small_vs_blocked == RT_SGEMM_AUTO) {
        c.kind = WS_ALGO, c.algo = RT_SGEMM_BLOCKED;
        sec[0] = time_call(&c);
        c.algo = RT_SGEMM_AUTO;
        sec[1] = time_call(&c);
        c.kind = PACKED_ALGO;
        sec[2] = time_call(&c);
    } else { /* sweep: [unpacked small, unpacked blocked, packed small, packed blocked] */
        c.kind = WS_ALGO, c.algo = RT_SGEMM_SMALL;
        sec[0] = time_call(&c);
        c.algo = RT_SGEMM_BLOCKED;
        sec[1] = time_call(&c);
        c.kind = PACKED_ALGO, c.algo = RT_SGEMM_SMALL;
        sec[2] = time_call(&c);
        c.algo = RT_SGEMM_BLOCKED;
        sec[3] = time_call(&c);
    }
    free(packed);
    free(ws);
    free(A);
    free(B);
    free(C);
}

/* The recurrent step C[B, 4H] = h[B, H] W_hh^T, three ways. */
static void step_table(RtRng *r, double peak)
{
    printf("\nrecurrent step C[B,4H] = h[B,H] * W[4H,H]^T (nt), GFLOP/s (%% of peak)\n");
    printf("%-9s %5s %5s %5s | %9s %16s | %9s %16s | %9s %16s\n", "shape", "M", "N", "K", "us", "blocked+repack", "us",
           "rt_sgemm_ws", "us", "ws_packed");
    static const int64_t Hs[] = {256, 512}, Bs[] = {1, 32, 64};
    for (int h = 0; h < 2; h++)
        for (int b = 0; b < 3; b++) {
            Shape s = {"step", 0, 1, Bs[b], 4 * Hs[h], Hs[h]};
            double sec[4];
            time_step(&s, r, sec, RT_SGEMM_AUTO);
            char what[32];
            snprintf(what, sizeof what, "H=%lld B=%lld", (long long)Hs[h], (long long)Bs[b]);
            printf("%-9s %5lld %5lld %5lld", what, (long long)s.M, (long long)s.N, (long long)s.K);
            for (int k = 0; k < 3; k++) {
                double g = gflops_of(&s, sec[k]);
                printf(" | %9.1f %8.1f (%4.1f%%)", sec[k] * 1e6, g, peak > 0 ? 100.0 * g / peak : 0.0);
            }
            printf("\n");
        }
}

/* Small-M vs blocked for M = 1..64: the data behind the small_m_* thresholds. */
static void sweep(RtRng *r, int tb)
{
    printf("\nsmall-M sweep, %s, microseconds per call: unpacked small / blocked, "
           "packed small / blocked\n",
           tb ? "nt: W[4H,H]^T" : "nn: W[H,4H]");
    static const int64_t Hs[] = {256, 512};
    static const int64_t Ms[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 16, 24, 32, 48, 64};
    for (int h = 0; h < 2; h++)
        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++) {
            int64_t M = Ms[mi];
            Shape s = {"sweep", 0, tb, M, 4 * Hs[h], Hs[h]};
            double sec[4];
            time_step(&s, r, sec, RT_SGEMM_SMALL);
            printf("H=%-4lld M=%-3lld %9.1f %9.1f %s | %9.1f %9.1f %s\n", (long long)Hs[h], (long long)M, sec[0] * 1e6,
                   sec[1] * 1e6, sec[0] <= sec[1] ? "small" : "blocked", sec[2] * 1e6, sec[3] * 1e6,
                   sec[2] <= sec[3] ? "small" : "blocked");
        }
}

/* The batch-1 step h[1, H] W[4H, H]^T with W packed, plain order (SMALL)
 * against L2-keeping order (STREAM, what AUTO runs), interleaved, 5
 * rounds each, against the L2 read bandwidth measured in the same run:
 * GB/s of W streamed and that as a fraction of L2's. */
static void matvec_table(RtRng *r)
{
    RtCpuPath path = rt_cpu_path();
    double l2 = bw_l2_gbs(path);
    printf("\nbatch-1 step, W packed, us per call (best median of 5 rounds) and GB/s of W; L2 read: %.1f GB/s\n", l2);
    printf("%-6s %8s | %9s %7s %6s | %9s %7s %6s\n", "H", "W KiB", "plain", "GB/s", "%L2", "stream", "GB/s", "%L2");
    static const int64_t Hs[] = {128, 256, 384, 512};
    for (size_t h = 0; h < sizeof Hs / sizeof Hs[0]; h++) {
        Shape s = {"matvec", 0, 1, 1, 4 * Hs[h], Hs[h]};
        float *A = random_matrix(r, s.K), *B = random_matrix(r, s.K * s.N), *C = random_matrix(r, s.N);
        void *packed = alloc64(rt_sgemm_packed_b_bytes(s.N, s.K));
        rt_sgemm_pack_b(1, s.N, s.K, B, s.K, packed);
        Call c = {.s = &s, .A = A, .B = B, .C = C, .kind = PACKED_ALGO, .packed = packed};
        double best[2] = {1e30, 1e30};
        for (int round = 0; round < 5; round++)
            for (int a = 0; a < 2; a++) {
                c.algo = a ? RT_SGEMM_STREAM : RT_SGEMM_SMALL;
                double t = time_call(&c);
                if (t < best[a]) best[a] = t;
            }
        double bytes = (double)(s.N * s.K) * 4;
        printf("%-6lld %8.0f", (long long)Hs[h], bytes / 1024);
        for (int a = 0; a < 2; a++)
            printf(" | %9.2f %7.1f %5.0f%%", best[a] * 1e6, bytes / best[a] * 1e-9,
                   l2 > 0 ? 100 * bytes / best[a] * 1e-9 / l2 : 0.0);
        printf("\n");
        free(packed);
        free(A);
        free(B);
        free(C);
    }
}

int main(int argc, char **argv)
{
    int do_sweep = 0, do_matvec = 0, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sweep"))
            do_sweep = 1;
        else if (!strcmp(argv[i], "--matvec"))
            do_matvec = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: gemm_bench [--sweep | --matvec] [--threads N]\n");
            return 2;
        }
    }
    rt_sgemm_set_threads(threads); /* <= 0: RNNC_THREADS, default every core */
    char model[256];
    cpu_model(model, sizeof model);
    const RtCpuFeatures *f = rt_cpu_features();
    RtCpuPath path = rt_cpu_path();
    const RtSgemmKernel *k = rt_sgemm_kernel_for(path);
    printf("rnnc SGEMM benchmark, %d thread%s\n", rt_sgemm_threads(), rt_sgemm_threads() > 1 ? "s" : "");
    printf("cpu: %s\n", model);
    printf("flags: avx=%d avx2=%d fma=%d avx512f=%d avx512vl=%d avx512bw=%d os_ymm=%d "
           "os_zmm=%d\n",
           f->avx, f->avx2, f->fma, f->avx512f, f->avx512vl, f->avx512bw, f->os_ymm, f->os_zmm);
    printf("path: %s (best %s), micro-kernel %dx%d, blocks mc=%lld kc=%lld nc=%lld, "
           "small_m nn %d nt %d packed %d\n",
           rt_cpu_path_name(path), rt_cpu_path_name(rt_cpu_best_path()), k ? k->mr : 0, k ? k->nr : 0,
           k ? (long long)k->mc : 0, k ? (long long)k->kc : 0, k ? (long long)k->nc : 0, k ? k->small_m_nn : 0,
           k ? k->small_m_nt : 0, k ? k->small_m_packed : 0);
    RtRng r;
    rt_rng_seed(&r, 7);
    if (do_sweep) {
        sweep(&r, 1);
        sweep(&r, 0);
        return 0;
    }
    if (do_matvec) {
        matvec_table(&r);
        return 0;
    }
    double peak = peak_gflops();
    printf("FP32 peak, 1 core (%s): %.1f GFLOP/s\n\n", peak_what(), peak);

    printf("%-9s %-2s %5s %5s %5s %10s %9s %7s\n", "shape", "op", "M", "N", "K", "time(us)", "GFLOP/s", "%peak");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const Shape *s = &shapes[i];
        float *A = random_matrix(&r, s->M * s->K);
        float *B = random_matrix(&r, s->K * s->N);
        float *C = random_matrix(&r, s->M * s->N);
        Call c = {.s = s, .A = A, .B = B, .C = C, .kind = PLAIN};
        double sec = time_call(&c);
        double gflops = gflops_of(s, sec);
        printf("%-9s %c%c %5lld %5lld %5lld %10.1f %9.1f %6.1f%%\n", s->what, s->ta ? 't' : 'n', s->tb ? 't' : 'n',
               (long long)s->M, (long long)s->N, (long long)s->K, sec * 1e6, gflops,
               peak > 0 ? 100.0 * gflops / peak : 0.0);
        free(A);
        free(B);
        free(C);
    }
    step_table(&r, peak);
    printf("\nFLOPs = 2*M*N*K per call; median of >= 20 calls after warm-up, best of 3.\n");
    return 0;
}
