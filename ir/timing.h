/* timing.h - the compiler's opt-in stage timer, for `rnnc -v` /
 * `--time-passes`.
 *
 * One recorder for the process: the driver switches it on before a command
 * (timing_enable) and prints the table after it (timing_report).  A stage
 * brackets itself where it is implemented, so no flag is threaded through
 * the compiler:
 *
 *     TimingMark t = timing_start();
 *     ... the stage ...
 *     timing_stop(&t, "lower");
 *
 * Off (the default), a bracket is a load and a branch: no clock is read.
 *
 * Brackets nest: a row holds a stage's own time, without the stages
 * bracketed inside it (a thread-local sum of the children's time is set
 * aside at each start), so the rows add up to the time spent in stages
 * and nothing is counted twice.  Times add up per name: a command that
 * compiles two modules shows one "lower" row called twice.  Recording
 * takes a mutex, so stages may run on several threads; a bracket must
 * start and stop on the same thread.  A stage that fails may return
 * without its stop (the command is ending): the only harm is that the
 * enclosing stage, if any, counts its children's time as its own.
 *
 * Stage names must live as long as the process (string literals). */
#ifndef RNNC_TIMING_H
#define RNNC_TIMING_H

#include <stdio.h>

typedef struct TimingMark {
    double t0;    /* when the stage started; 0 when timing is off        */
    double outer; /* the enclosing stage's children's time so far         */
} TimingMark;

/* Starts recording (and the command's wall clock, the table's total). */
void timing_enable(void);
int timing_enabled(void);

TimingMark timing_start(void);
void timing_stop(const TimingMark *m, const char *stage);

/* Prints the table (stage, ms, % of the command's wall time, calls), an
 * "other" row for the time outside every stage and the total, then
 * forgets every row.  Nothing when timing is off. */
void timing_report(FILE *out);

#endif
