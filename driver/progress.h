/* progress.h - what `rnnc train` shows while it runs: on a terminal a
 * one-line bar redrawn with \r (step/total, loss, accuracy, steps/s, ETA); otherwise
 * (a log file, a pipe) a plain line every log_every steps.  Messages
 * (epoch summaries, warnings) go through progress_message so they never
 * end up in the middle of the bar. */
#ifndef RNNC_PROGRESS_H
#define RNNC_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct Progress {
    FILE *out;
    int tty;       /* redraw one line instead of logging         */
    int drawn;     /* the bar is on screen (needs clearing)      */
    int64_t total; /* steps of the whole run                     */
    int64_t first; /* step the run (or resume) started at        */
    int64_t log_every;
    double t0; /* monotonic seconds at the start             */
    double last_draw;
    double pad; /* the step's padding fraction (examples with lengths), NaN: none */
} Progress;

/* tty < 0: decide with isatty(fileno(out)). */
void progress_start(Progress *p, FILE *out, int tty, int64_t first, int64_t total, int64_t log_every);
/* After step `step` (1-based, counting updates) finished; acc is the
 * step's accuracy (a fraction), NaN when the model has none. */
void progress_step(Progress *p, int64_t step, double loss, double grad_norm, double acc);
/* The padding fraction progress_step shows next (NaN: none). */
void progress_set_padding(Progress *p, double pad);
void progress_message(Progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_end(Progress *p);

#endif
