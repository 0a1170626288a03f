/* rnn_peak.c - the machine's FP32 FMA peak on 1 core and on all cores, in
 * the RNN benchmark's own run (bench/rnn_bench.sh divides every GFLOP/s
 * figure by the peak for the same number of threads).
 *
 * One core: peak_gflops() of bench/peak.h.  N cores: N processes run
 * peak_gflops() at the same time and the sum of their results is the
 * N-core peak (processes, not threads: peak.h keeps its sink in a static,
 * which concurrent threads would race on).  Each one measures for ~0.2 s
 * (64 runs of ~2.5 ms), and fork() starts them within microseconds of each
 * other, so they overlap all but a negligible part of the time.
 *
 *   rnn_peak [N]   (N defaults to the online CPUs)
 * prints
 *   cpu: MODEL
 *   flags: avx2=.. fma=.. avx512f=..
 *   peak threads=1 gflops=X
 *   peak threads=N gflops=Y */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/peak.h"
#include "runtime/cpu.h"

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

/* The sum of peak_gflops() over n processes running at once; -1 on a
 * failed fork, pipe or child. */
static double peak_parallel(int n)
{
    int fd[2];
    if (pipe(fd)) return -1;
    for (int k = 0; k < n; k++) {
        pid_t pid = fork();
        if (pid < 0) return -1;
        if (pid == 0) {
            double g = peak_gflops();
            /* One write of 8 bytes to a pipe is atomic (< PIPE_BUF). */
            _exit(write(fd[1], &g, sizeof g) == (ssize_t)sizeof g ? 0 : 1);
        }
    }
    close(fd[1]);
    double sum = 0, g;
    int got = 0;
    while (read(fd[0], &g, sizeof g) == (ssize_t)sizeof g) {
        sum += g;
        got++;
    }
    close(fd[0]);
    int ok = 1, status;
    for (int k = 0; k < n; k++)
        if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) ok = 0;
    return ok && got == n ? sum : -1;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1 || n > 1024) {
        fprintf(stderr, "usage: rnn_peak [THREADS]\n");
        return 2;
    }
    char model[256];
    cpu_model(model, sizeof model);
    const RtCpuFeatures *f = rt_cpu_features();
    printf("cpu: %s\n", model);
    printf("flags: avx=%d avx2=%d fma=%d avx512f=%d (peak loop: %s)\n", f->avx, f->avx2, f->fma, f->avx512f,
           peak_what());
    fflush(stdout); /* before fork: children must not print it again */
    printf("peak threads=1 gflops=%.1f\n", peak_gflops());
    fflush(stdout);
    if (n > 1) {
        double g = peak_parallel((int)n);
        if (g < 0) {
            fprintf(stderr, "rnn_peak: measuring on %ld processes failed\n", n);
            return 1;
        }
        printf("peak threads=%ld gflops=%.1f\n", n, g);
    }
    return 0;
}
