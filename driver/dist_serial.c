/* dist_serial.c - dist.h for a build without MPI: a world of one process,
 * whose collectives are copies.  Under a launcher of several processes it
 * refuses to start: each would train a copy of its own and write the same
 * files, which is never what the user meant. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/dist.h"

int dist_available(void) { return 0; }

int dist_init(char *err, size_t errlen)
{
    int n = dist_launched_size(NULL);
    if (n > 1) {
        snprintf(err, errlen,
                 "this rnnc was built without MPI, and a launcher started %d copies of it: each would train "
                 "a model of its own. For data-parallel training install Open MPI (apt-get install "
                 "libopenmpi-dev openmpi-bin, or as root: sh scripts/deps.sh) and rebuild rnnc (make), "
                 "then run mpirun -np N rnnc train ... (docs/distributed.md)",
                 n);
        return -1;
    }
    return 0;
}

void dist_finish(void) {}
int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }

int dist_allreduce_sum(float *buf, size_t n, char *err, size_t errlen)
{
    (void)buf, (void)n, (void)err, (void)errlen;
    return 0;
}

int dist_allreduce_sum_f64(double *buf, size_t n, char *err, size_t errlen)
{
    (void)buf, (void)n, (void)err, (void)errlen;
    return 0;
}

int dist_iallreduce_sum(float *buf, size_t n, char *err, size_t errlen)
{
    return dist_allreduce_sum(buf, n, err, errlen);
}

int dist_progress(size_t *arrived, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    *arrived = 0; /* nothing is sent */
    return 0;
}

int dist_wait_all(char *err, size_t errlen)
{
    (void)err, (void)errlen;
    return 0;
}

int dist_allgather(const float *send, size_t n, float *recv, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    if (recv != send) memmove(recv, send, n * sizeof *send);
    return 0;
}

int dist_allmax(int64_t *v, int n, char *err, size_t errlen)
{
    (void)v, (void)n, (void)err, (void)errlen;
    return 0;
}

int dist_bcast(void *buf, size_t bytes, int root, char *err, size_t errlen)
{
    (void)buf, (void)bytes, (void)root, (void)err, (void)errlen;
    return 0;
}

int dist_barrier(char *err, size_t errlen)
{
    (void)err, (void)errlen;
    return 0;
}

_Noreturn void dist_abort(int code) { exit(code); }
