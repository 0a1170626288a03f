/* timing.c - the stage timer (timing.h): a small table of rows by name,
 * guarded by a mutex, filled only when the driver switched it on. */
#include "ir/timing.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#define MAX_STAGES 64

typedef struct Row {
    const char *name;
    double seconds;
    long calls;
} Row;

/* Set once by the driver before any stage runs (and before any thread
 * starts), read by every bracket: no lock needed to test it. */
static int enabled;
static double wall0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Row rows[MAX_STAGES];
static int nrows;
/* The time of the stages finished inside the current one, on this thread. */
static _Thread_local double children;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void timing_enable(void)
{
    enabled = 1;
    wall0 = now();
}

int timing_enabled(void) { return enabled; }

TimingMark timing_start(void)
{
    TimingMark m = {0, 0};
    if (!enabled) return m;
    m.outer = children;
    children = 0;
    m.t0 = now();
    return m;
}

void timing_stop(const TimingMark *m, const char *stage)
{
    if (!enabled || m->t0 == 0) return;
    double elapsed = now() - m->t0;
    double self = elapsed - children;
    /* The enclosing stage sees this one, children and all, as a child. */
    children = m->outer + elapsed;
    pthread_mutex_lock(&lock);
    int i = 0;
    while (i < nrows && strcmp(rows[i].name, stage)) i++;
    if (i == nrows && nrows < MAX_STAGES) rows[nrows++] = (Row){stage, 0, 0};
    if (i < nrows) {
        rows[i].seconds += self;
        rows[i].calls++;
    }
    pthread_mutex_unlock(&lock);
}

void timing_report(FILE *out)
{
    if (!enabled) return;
    double total = now() - wall0, staged = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nrows; i++) staged += rows[i].seconds;
    /* % of the whole command; guard a clock too coarse to see it. */
    double pct = total > 0 ? 100.0 / total : 0;
    fprintf(out, "===- rnnc: time per stage (--time-passes) -===\n");
    fprintf(out, "%11s %7s %6s  %s\n", "ms", "%", "calls", "stage");
    for (int i = 0; i < nrows; i++)
        fprintf(out, "%11.3f %6.1f%% %6ld  %s\n", 1e3 * rows[i].seconds, pct * rows[i].seconds, rows[i].calls,
                rows[i].name);
    double other = total > staged ? total - staged : 0;
    fprintf(out, "%11.3f %6.1f%% %6s  %s\n", 1e3 * other, pct * other, "", "other (files, set-up, between stages)");
    fprintf(out, "%11.3f %6.1f%% %6s  %s\n", 1e3 * total, total > 0 ? 100.0 : 0.0, "",
            "total (the command, after start-up)");
    nrows = 0;
    pthread_mutex_unlock(&lock);
}
