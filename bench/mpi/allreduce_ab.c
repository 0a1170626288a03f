/* allreduce_ab.c - the allreduce's alpha and beta on this machine's MPI
 * (docs/distributed.md, "Cost model"): the time of MPI_Allreduce (float
 * sum, in place, as driver/dist_mpi.c calls it) of 1 float and of each
 * size given, in floats, many repeats each.
 *
 *   mpirun -np N allreduce_ab [REPEATS] FLOATS...
 *
 * Each repeat starts together (a barrier) and takes the slowest process's
 * time (MPI_MAX), so that a repeat's time is the collective's, not one
 * process's early exit.  Rank 0 prints, per size, the median of the repeats
 * (a loaded machine's outliers leave it alone) and, from the 1-float and
 * the largest size, the ring allreduce's parameters:
 *
 *     t(n bytes) = 2 (N - 1) alpha + 2 (N - 1) / N  n beta
 *
 * alpha = t(4 B) / (2 (N - 1)) (the 4 bytes' own share is negligible), and
 * beta = (t(n) - t(4 B)) / (2 (N - 1) / N n).  Built with MPI's flags when
 * the build finds MPI (the Makefile); not part of rnnc. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median seconds of `reps` allreduces of n floats. */
static double median_time(float *buf, int n, int reps, double *scratch)
{
    for (int r = -2; r < reps; r++) { /* two untimed: connections, caches */
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double t = MPI_Wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (r >= 0) scratch[r] = t;
    }
    qsort(scratch, (size_t)reps, sizeof *scratch, cmp);
    return scratch[reps / 2];
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int reps = argc > 1 ? atoi(argv[1]) : 0;
    if (reps < 1 || argc < 3) {
        if (!rank) fprintf(stderr, "usage: mpirun -np N allreduce_ab REPEATS FLOATS...\n");
        MPI_Finalize();
        return 2;
    }
    long most = 1;
    for (int i = 2; i < argc; i++)
        if (atol(argv[i]) > most) most = atol(argv[i]);
    float *buf = calloc((size_t)most, sizeof *buf);
    double *scratch = malloc((size_t)reps * sizeof *scratch);
    if (!buf || !scratch) {
        fprintf(stderr, "out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    double t1 = median_time(buf, 1, reps, scratch), tn = t1;
    if (!rank) printf("allreduce N=%d floats=1 bytes=4 median_us=%.2f\n", size, 1e6 * t1);
    for (int i = 2; i < argc; i++) {
        int n = atoi(argv[i]);
        if (n < 1) continue;
        double t = median_time(buf, n, reps, scratch);
        if (n == most) tn = t;
        if (!rank) printf("allreduce N=%d floats=%d bytes=%ld median_us=%.2f\n", size, n, 4L * n, 1e6 * t);
    }
    if (!rank && size > 1) {
        double alpha = t1 / (2.0 * (size - 1)), bytes = 4.0 * (double)most;
        double beta = (tn - t1) / (2.0 * (size - 1) / size * bytes);
        printf("alpha_us=%.3f beta_ns_per_byte=%.4f bandwidth_GBps=%.2f\n", 1e6 * alpha, 1e9 * beta,
               beta > 0 ? 1e-9 / beta : 0.0);
    }
    free(buf);
    free(scratch);
    MPI_Finalize();
    return 0;
}
