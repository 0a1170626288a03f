/* dist_mpi.c - dist.h on MPI (Open MPI, or any MPI 3): the world is
 * MPI_COMM_WORLD, started only under a launcher (dist_launched_size), with
 * MPI_ERRORS_RETURN so that a failed collective is a message, not MPI's
 * own abort.  Only the thread that called dist_init calls MPI
 * (MPI_THREAD_FUNNELED: the engines' thread pools never do). */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver/dist.h"

static int started, world_rank, world_size = 1;
/* The non-blocking sums started since the last dist_wait_all
 * (dist_iallreduce_sum), their floats, and the floats of those arrived. */
static MPI_Request *reqs;
static int *counts, *idx;
static int nreqs, capreqs;
static size_t arrived;
/* RNNC_DIST_TIMEOUT's seconds, 0: none (dist.h) */
static double timeout_s;

int dist_available(void) { return 1; }

/* -1 with MPI's words for rc in err. */
static int fail(int rc, const char *what, char *err, size_t errlen)
{
    char s[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(rc, s, &n) != MPI_SUCCESS) snprintf(s, sizeof s, "MPI error %d", rc);
    snprintf(err, errlen, "%s failed on rank %d of %d: %s", what, world_rank, world_size, s);
    return -1;
}

int dist_init(char *err, size_t errlen)
{
    if (started || dist_launched_size(NULL) <= 1) return 0;
    int provided;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return fail(rc, "MPI_Init_thread", err, errlen);
    started = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    const char *t = getenv("RNNC_DIST_TIMEOUT");
    char *end = NULL;
    timeout_s = t && *t ? strtod(t, &end) : 0;
    if (t && *t && (*end || !(timeout_s >= 0) || timeout_s > 1e9)) {
        snprintf(err, errlen, "RNNC_DIST_TIMEOUT=%s: give the seconds a process waits for the others (0: for ever)", t);
        return -1;
    }
    return 0;
}

/* Waits for the n requests r (what: the collective, for messages):
 * MPI_Waitall, or with a timeout MPI_Testall until they are done or the
 * deadline has passed; a peer that died, or hangs, under a launcher that
 * does not end the others is then an error here, not a wait for ever. */
static int wait_reqs(int n, MPI_Request *r, const char *what, char *err, size_t errlen)
{
    int rc;
    if (timeout_s <= 0) {
        rc = MPI_Waitall(n, r, MPI_STATUSES_IGNORE);
        return rc == MPI_SUCCESS ? 0 : fail(rc, what, err, errlen);
    }
    double deadline = MPI_Wtime() + timeout_s;
    for (long tries = 0;; tries++) {
        int done = 0;
        rc = MPI_Testall(n, r, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) return fail(rc, what, err, errlen);
        if (done) return 0;
        if (MPI_Wtime() > deadline) {
            snprintf(err, errlen,
                     "%s on rank %d of %d: no answer from every process in %g s (RNNC_DIST_TIMEOUT): a process has "
                     "died or hangs",
                     what, world_rank, world_size, timeout_s);
            return -1;
        }
        /* spin for the short waits, then let the core go */
        if (tries > 1000) nanosleep(&(struct timespec){0, 50000}, NULL);
    }
}

void dist_finish(void)
{
    free(reqs);
    free(counts);
    free(idx);
    reqs = NULL;
    counts = idx = NULL;
    nreqs = capreqs = 0;
    if (started) MPI_Finalize();
    started = 0;
}

int dist_rank(void) { return world_rank; }
int dist_size(void) { return world_size; }

/* MPI counts are ints: a larger buffer goes in pieces of CHUNK elements. */
#define CHUNK ((size_t)1 << 28)

/* buf[0..n) (elements of `size` bytes, MPI type t) reduced by op on every
 * process, in pieces of CHUNK elements. */
static int allreduce(void *buf, size_t n, size_t size, MPI_Datatype t, MPI_Op op, char *err, size_t errlen)
{
    if (world_size == 1) return 0;
    for (size_t at = 0; at < n; at += CHUNK) {
        int k = (int)(n - at < CHUNK ? n - at : CHUNK);
        char *p = (char *)buf + at * size;
        MPI_Request q;
        int rc = timeout_s > 0 ? MPI_Iallreduce(MPI_IN_PLACE, p, k, t, op, MPI_COMM_WORLD, &q)
                               : MPI_Allreduce(MPI_IN_PLACE, p, k, t, op, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return fail(rc, "MPI_Allreduce", err, errlen);
        if (timeout_s > 0 && wait_reqs(1, &q, "MPI_Allreduce", err, errlen)) return -1;
    }
    return 0;
}

int dist_allreduce_sum(float *buf, size_t n, char *err, size_t errlen)
{
    return allreduce(buf, n, sizeof *buf, MPI_FLOAT, MPI_SUM, err, errlen);
}

int dist_allreduce_sum_f64(double *buf, size_t n, char *err, size_t errlen)
{
    return allreduce(buf, n, sizeof *buf, MPI_DOUBLE, MPI_SUM, err, errlen);
}

int dist_iallreduce_sum(float *buf, size_t n, char *err, size_t errlen)
{
    if (world_size == 1) return 0;
    for (size_t at = 0; at < n; at += CHUNK) {
        if (nreqs == capreqs) {
            int cap = capreqs ? 2 * capreqs : 16;
            MPI_Request *r = realloc(reqs, (size_t)cap * sizeof *r);
            if (r) reqs = r;
            int *c = r ? realloc(counts, (size_t)cap * sizeof *c) : NULL;
            if (c) counts = c;
            int *x = c ? realloc(idx, (size_t)cap * sizeof *x) : NULL;
            if (!x) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            idx = x;
            capreqs = cap;
        }
        int k = (int)(n - at < CHUNK ? n - at : CHUNK);
        int rc = MPI_Iallreduce(MPI_IN_PLACE, buf + at, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &reqs[nreqs]);
        if (rc != MPI_SUCCESS) return fail(rc, "MPI_Iallreduce", err, errlen);
        counts[nreqs++] = k;
    }
    return 0;
}

int dist_progress(size_t *done, char *err, size_t errlen)
{
    int n = 0;
    /* the arrived ones become MPI_REQUEST_NULL, which later calls skip */
    int rc = nreqs ? MPI_Testsome(nreqs, reqs, &n, idx, MPI_STATUSES_IGNORE) : MPI_SUCCESS;
    for (int i = 0; rc == MPI_SUCCESS && n != MPI_UNDEFINED && i < n; i++) arrived += (size_t)counts[idx[i]];
    *done = arrived;
    return rc == MPI_SUCCESS ? 0 : fail(rc, "MPI_Testsome", err, errlen);
}

int dist_wait_all(char *err, size_t errlen)
{
    arrived = 0;
    if (!nreqs) return 0;
    int n = nreqs;
    nreqs = 0;
    return wait_reqs(n, reqs, "MPI_Iallreduce", err, errlen);
}

int dist_allgather(const float *send, size_t n, float *recv, char *err, size_t errlen)
{
    if (world_size == 1) {
        if (recv != send) memmove(recv, send, n * sizeof *send);
        return 0;
    }
    if (n > INT_MAX) {
        snprintf(err, errlen, "MPI_Allgather of %zu floats a process: more than MPI counts", n);
        return -1;
    }
    MPI_Request q;
    int rc = timeout_s > 0 ? MPI_Iallgather(send, (int)n, MPI_FLOAT, recv, (int)n, MPI_FLOAT, MPI_COMM_WORLD, &q)
                           : MPI_Allgather(send, (int)n, MPI_FLOAT, recv, (int)n, MPI_FLOAT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return fail(rc, "MPI_Allgather", err, errlen);
    return timeout_s > 0 ? wait_reqs(1, &q, "MPI_Allgather", err, errlen) : 0;
}

int dist_allmax(int64_t *v, int n, char *err, size_t errlen)
{
    return allreduce(v, (size_t)n, sizeof *v, MPI_INT64_T, MPI_MAX, err, errlen);
}

int dist_bcast(void *buf, size_t bytes, int root, char *err, size_t errlen)
{
    if (world_size == 1) return 0;
    for (size_t at = 0; at < bytes; at += CHUNK) {
        int k = (int)(bytes - at < CHUNK ? bytes - at : CHUNK);
        MPI_Request q;
        int rc = timeout_s > 0 ? MPI_Ibcast((char *)buf + at, k, MPI_BYTE, root, MPI_COMM_WORLD, &q)
                               : MPI_Bcast((char *)buf + at, k, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return fail(rc, "MPI_Bcast", err, errlen);
        if (timeout_s > 0 && wait_reqs(1, &q, "MPI_Bcast", err, errlen)) return -1;
    }
    return 0;
}

int dist_barrier(char *err, size_t errlen)
{
    if (world_size == 1) return 0;
    MPI_Request q;
    int rc = timeout_s > 0 ? MPI_Ibarrier(MPI_COMM_WORLD, &q) : MPI_Barrier(MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return fail(rc, "MPI_Barrier", err, errlen);
    return timeout_s > 0 ? wait_reqs(1, &q, "MPI_Barrier", err, errlen) : 0;
}

_Noreturn void dist_abort(int code)
{
    if (started) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}
