/* dist.h - the processes of a data-parallel `rnnc train` (docs/distributed.md):
 * who this process is among them, and the few collectives the training
 * loop needs.  Two implementations, one linked: driver/dist_mpi.c when the
 * build found MPI (the Makefile), driver/dist_serial.c otherwise, a world
 * of one process; so the loop has no #ifdefs.
 *
 * A process started by a launcher (mpirun, srun) sees it in its
 * environment (dist_launched_size()); only then does dist_init() start
 * MPI, so a plain `rnnc train`, and every other command, never touches it.
 * Every collective must be called by every process in the same order;
 * each returns 0, or -1 with a message in err (MPI's error string).
 * With RNNC_DIST_TIMEOUT=S (seconds, read by dist_init; 0 or unset: for
 * ever) a collective that has not completed after S seconds fails
 * instead of waiting on a process that died under a launcher that does
 * not end the others (it then runs non-blocking, MPI_Test'ed). */
#ifndef RNNC_DIST_H
#define RNNC_DIST_H

#include <stddef.h>
#include <stdint.h>

/* The number of processes a launcher says it started (Open MPI's
 * OMPI_COMM_WORLD_SIZE, PMI's PMI_SIZE, a SLURM step's
 * SLURM_STEP_NUM_TASKS under srun), or 1 when none did; reads only the
 * environment (env NULL: the process's, else a NULL-terminated list of
 * "NAME=VALUE" strings, for the tests). */
int dist_launched_size(char *const *env);

/* Whether this build can train on many processes (it found MPI). */
int dist_available(void);

/* Starts the world: with MPI under a launcher, MPI_Init; else a world of
 * one.  A build without MPI under a launcher of more than one process
 * refuses, saying how to get distributed training, rather than train N
 * copies side by side.  Returns 0 or -1 with a message. */
int dist_init(char *err, size_t errlen);
/* Ends it (MPI_Finalize); a no-op in a world of one. */
void dist_finish(void);

int dist_rank(void);
int dist_size(void);

/* buf[0..n) = the element-wise sum of every process's buf (MPI_Allreduce:
 * its order of the sum is MPI's). */
int dist_allreduce_sum(float *buf, size_t n, char *err, size_t errlen);
/* The same in doubles (the evaluation's per-segment values). */
int dist_allreduce_sum_f64(double *buf, size_t n, char *err, size_t errlen);
/* The same sum without waiting for it (MPI_Iallreduce), for the overlap
 * of the sum with the backward pass: buf must not be touched until
 * dist_wait_all() has returned.  Every process starts the same sums in the
 * same order.  dist_progress() lets the sums under way move (MPI moves a
 * non-blocking collective only inside its own calls: MPI_Testall);
 * dist_wait_all() waits for every one started.  No-ops in a world of one. */
int dist_iallreduce_sum(float *buf, size_t n, char *err, size_t errlen);
int dist_progress(size_t *arrived, char *err,
                  size_t errlen); /* *arrived: floats of the sums started that have arrived */
int dist_wait_all(char *err, size_t errlen);
/* recv[r * n .. (r + 1) * n) = process r's send[0..n), on every process. */
int dist_allgather(const float *send, size_t n, float *recv, char *err, size_t errlen);
/* v = the largest of every process's v (agreeing on a failure, a stop). */
int dist_allmax(int64_t *v, int n, char *err, size_t errlen);
/* Process root's buf[0..bytes) on every process. */
int dist_bcast(void *buf, size_t bytes, int root, char *err, size_t errlen);
int dist_barrier(char *err, size_t errlen);
/* Ends every process of the world at once, with exit status code: for a
 * failure that one process has and the others would wait on for ever. */
_Noreturn void dist_abort(int code);

#endif
