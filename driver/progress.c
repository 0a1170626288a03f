/* progress.c - the progress display of `rnnc train` (progress.h). */
#include "driver/progress.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Seconds on a monotonic clock. */
static double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "1h02m", "3m04s", "12s"; "?" when unknown. */
static const char *progress_duration(double secs, char *buf, size_t n)
{
    if (!(secs >= 0) || secs > 1e8) {
        snprintf(buf, n, "?");
        return buf;
    }
    long s = (long)(secs + 0.5);
    if (s >= 3600)
        snprintf(buf, n, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(buf, n, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buf, n, "%lds", s);
    return buf;
}

void progress_start(Progress *p, FILE *out, int tty, int64_t first, int64_t total, int64_t log_every)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = tty < 0 ? isatty(fileno(out)) : tty;
    p->first = first;
    p->total = total;
    p->log_every = log_every > 0 ? log_every : 1;
    p->t0 = progress_now();
    p->pad = NAN;
}

static void clear_bar(Progress *p)
{
    if (p->drawn) fprintf(p->out, "\r\033[K");
    p->drawn = 0;
}

void progress_set_padding(Progress *p, double pad) { p->pad = pad; }

void progress_step(Progress *p, int64_t step, double loss, double grad_norm, double acc)
{
    char ac[80] = "";
    if (!isnan(acc)) snprintf(ac, sizeof ac, "  accuracy %.2f%%", 100 * acc);
    if (!isnan(p->pad)) snprintf(ac + strlen(ac), sizeof ac - strlen(ac), "  padding %.1f%%", 100 * p->pad);
    double now = progress_now(), el = now - p->t0;
    double rate = el > 0 ? (double)(step - p->first) / el : 0;
    char eta[32];
    progress_duration(rate > 0 ? (double)(p->total - step) / rate : -1, eta, sizeof eta);
    if (p->tty) {
        /* Redraw at most 20 times a second: a fast model would otherwise
         * spend its time in the terminal. */
        if (step != p->total && now - p->last_draw < 0.05) return;
        p->last_draw = now;
        enum { WIDTH = 24 };
        int fill = p->total > 0 ? (int)((double)WIDTH * (double)step / (double)p->total) : 0;
        char bar[WIDTH + 1];
        for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
        bar[WIDTH] = 0;
        fprintf(p->out, "\r\033[K[%s] %lld/%lld  loss %.4f%s  %.1f steps/s  ETA %s", bar, (long long)step,
                (long long)p->total, loss, ac, rate, eta);
        p->drawn = 1;
    } else if (step % p->log_every == 0 || step == p->total) {
        fprintf(p->out, "step %lld/%lld  loss %.6f%s  grad_norm %.4g  %.1f steps/s  ETA %s\n", (long long)step,
                (long long)p->total, loss, ac, grad_norm, rate, eta);
    }
    fflush(p->out);
}

void progress_message(Progress *p, const char *fmt, ...)
{
    clear_bar(p);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
    fflush(p->out);
}

void progress_end(Progress *p)
{
    if (p->drawn) fputc('\n', p->out);
    p->drawn = 0;
    fflush(p->out);
}
