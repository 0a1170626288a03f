/* loss_log.h - the per-step loss CSV of `rnnc train` ("step,loss,grad_norm",
 * and ",accuracy" for a cross_entropy classifier; one row an optimizer
 * update), written next to the checkpoint; with eval data the eval log
 * ("step,eval_loss" and ",eval_accuracy"; one row an evaluation); and the
 * SVG chart of both.  A resumed run keeps the rows up to the step it resumes from
 * and appends, so a run stopped and resumed writes the same file as one
 * that never stopped. */
#ifndef RNNC_LOSS_LOG_H
#define RNNC_LOSS_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "dir/ckpt.safetensors" -> "dir/ckpt.loss.csv" (suffix "loss.csv"). */
void loss_log_path(const char *ckpt, const char *suffix, char *buf, size_t n);

/* Opens the CSV `path` for writing, with the accuracy column if acc.
 * With `from` (the log of the run being resumed, possibly `path` itself)
 * the rows of `from` with step <= keep_upto come first; without, the file
 * starts empty.  NULL with a message. */
FILE *loss_log_open(const char *path, const char *from, int64_t keep_upto, int acc, char *err, size_t errlen);
/* The same for the eval log. */
FILE *loss_log_open_eval(const char *path, const char *from, int64_t keep_upto, int acc, char *err, size_t errlen);
/* One row; the accuracy only if it is a number (not NaN). */
void loss_log_row(FILE *f, int64_t step, double loss, double grad_norm, double acc);
/* One row of the eval log: the mean eval loss after `step` updates. */
void loss_log_eval_row(FILE *f, int64_t step, double loss, double acc);

/* Draws the loss column of the CSV at csv_path and, when eval_path is not
 * NULL and the file has rows, the eval log's as a second curve, as an SVG
 * line chart (driver/svg_plot.h) at svg_path, with a base-10 log loss axis
 * if log_y; `title` names the model.  Returns 0, or -1 with a message. */
int loss_log_svg(const char *csv_path, const char *eval_path, const char *svg_path, const char *title, int log_y,
                 char *err, size_t errlen);

#endif
