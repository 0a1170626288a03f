/* step_norms.h - `rnnc grad --per-step`: the norm of the gradient reaching
 * each recurrent state at each time step, from the "stategrad:" outputs of
 * autodiff_with_state_grads() (passes/autodiff.h).  The vanishing or
 * exploding gradient picture, as a table and as an SVG chart. */
#ifndef RNNC_STEP_NORMS_H
#define RNNC_STEP_NORMS_H

#include <stddef.h>
#include <stdio.h>

#include "io/tensor.h"
#include "ir/ir.h"

/* One series a scan's carried value: norm[t] = ||dL/ds_t||_F, the
 * Frobenius norm over the batch and the state's units of the gradient of
 * the loss with respect to the state after step t. */
typedef struct StepSeries {
    char *name; /* "h: lstm l0: state 0" (the output's name without the prefix) */
    int64_t T;
    double *norm;
} StepSeries;

typedef struct StepNorms {
    StepSeries *s;
    int n;
} StepNorms;

/* Collects the tensor in outputs ([T, ...], F32 or F64) of every output
 * of m with role IR_ROLE_STATE_GRAD, in m's order, each named by what it
 * is the gradient of.  Returns 0, or -1 with a message in err (out of
 * memory, a tensor missing or of rank 0).  No such outputs gives n == 0. */
int step_norms_collect(const IrModule *m, const TensorMap *outputs, StepNorms *out, char *err, size_t errlen);
void step_norms_free(StepNorms *sn);

/* The table: a legend "[k] name" a series, then one row a step with each
 * series' norm ("-" past a series' end). */
void step_norms_print(const StepNorms *sn, FILE *out);

/* The chart (driver/svg_plot.h): step on x, norm on a log y axis, one line
 * a series; written atomically.  Returns 0, or -1 with a message in err. */
int step_norms_svg(const StepNorms *sn, const char *path, const char *title, char *err, size_t errlen);

#endif
