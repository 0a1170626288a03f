/* dist_step.h - one step of data-parallel training (docs/distributed.md).
 *
 * The global batch (the train block's `batch`, B) is cut into
 * micro-batches of `micro` examples, numbered q = 0 .. B/micro - 1 in
 * batch order; process r of N runs the L = B/(N micro) of them from
 * q = r L, each with the gradient half of the training step
 * (pipeline_train_grad), and keeps each one's carried state.  A
 * micro-batch's loss is a mean over its examples (or, a tagger's, its
 * real steps): its gradient g_q, weighed by what it is a mean over, w_q,
 * is summed into one buffer with the loss and the accuracy's counts:
 *
 *     [ w g (every parameter, in order) | w | w loss | right | positions | stop | arrived ]
 *
 * (the counts each as two floats, dist_step.c)
 *
 * and the buffers of all processes summed: by one MPI_Allreduce (the
 * default: MPI's order of the sum), or, deterministic, by gathering every
 * micro-batch's buffer (MPI_Allgather) and adding them in the order of q
 * on every process, so that the sum, and every bit of the run after it,
 * is the same for every N that divides B / micro, one process included.
 * The gradient of the batch is then sum(w g) / sum(w), the loss of the
 * batch sum(w loss) / sum(w), and every process runs the update half
 * (pipeline_update) on it: its clipping sees the global norm, and every
 * process applies the same update to the same weights.  `stop` is a
 * process's Ctrl-C, so that all of them stop after the same step;
 * `arrived` the floats of the overlap's sums that had arrived when the
 * process's run ended. */
#ifndef RNNC_DIST_STEP_H
#define RNNC_DIST_STEP_H

#include <stddef.h>
#include <stdint.h>

#include "driver/checkpoint.h"
#include "exec/engine.h"
#include "io/tensor.h"
#include "ir/ir.h"
#include "passes/pipeline.h"

typedef struct DistStep {
    const Engine *engine;
    IrModule *grad, *update;
    /* TBPTT(k1, k2) (tbptt_back): the gradient half with the window's
     * "hist:" steps, and the forward step without the loss that moves each
     * micro-batch's state to the next window's start (cmd_train.c's
     * advance(), a micro-batch at a time); NULL without a history */
    IrModule *hist, *adv;
    int rank, size, deterministic;
    int64_t batch, micro, local; /* B, examples a run, this process's runs */
    const char *acc_target;      /* a classifier's target, or NULL          */
    const char *len_input;       /* a tagger's lengths "<x>.len", or NULL    */
    TensorMap *carry;            /* [local]: each micro-batch's state        */
    size_t ngrad;                /* floats of the gradients                  */
    float *buf, *all;            /* local / gathered reduction buffers       */
    /* the overlap (docs/distributed.md): the sum of each gradient started
     * as the backward pass of the process's last micro-batch finishes it
     * (an engine with run_hooked, not --deterministic, more than one
     * process, and RNNC_DIST_OVERLAP not 0); off[i]: parameter i's place
     * in the buffer, started[i]: its sum is under way */
    int overlap;
    size_t *off;
    unsigned char *started;
    int64_t early, late; /* floats of gradients whose sums started in / after the runs */
    int64_t hidden;      /* floats whose sums had arrived when the run ended (the processes' mean) */
    /* seconds in dist_step_run, and in its sum (the collective: waiting for
     * the slowest process, and the communication), and the steps, all
     * but the run's first (it compiles the modules) */
    double t_step, t_sum;
    int64_t nsteps;
    int first_done;
} DistStep;

/* What a step gives its caller. */
typedef struct DistResult {
    double loss, grad_norm;
    int64_t right, positions; /* a classifier's, else 0 and 0 */
    int stop;                 /* some process was interrupted */
} DistResult;

/* Builds both halves from a copy of m (sema's module) for the world of
 * dist.h; micro 0: B/N; history: also ds->hist and ds->adv (po->carry
 * set).  Refuses a batch that the processes, or a share that micro, do
 * not divide.  Returns 0, or -1 with a message. */
int dist_step_init(DistStep *ds, const Engine *e, const IrModule *m, const TrainConfig *cfg, const PipeOpts *po,
                   int64_t batch, int64_t micro, int deterministic, int history, char *err, size_t errlen);

/* A segment of TBPTT(k1, k2) (cmd_train.c's windows): which module, and
 * where each micro-batch's state goes after the step. */
typedef struct DistWindow {
    int history;          /* the segment has "hist:" steps in data: run ds->hist */
    const TensorMap *adv; /* the whole batch's steps from this window's start to the next one's (ds->adv's inputs) */
    int reset_next;       /* the next window starts the sequence: the state becomes zeros */
} DistWindow;
void dist_step_free(DistStep *ds);

/* One step on `data`, the whole batch's tensors of the segment (from
 * data_batch): carry_in 0 starts the sequences afresh, last 1 drops the
 * state after it; win (NULL: no history) a TBPTT(k1, k2) segment's, whose
 * state is moved on by win->adv (or reset) with the weights before the
 * update instead of taken from the step.  On a finite loss, the updated
 * parameters and optimizer state replace st's.  Returns 0, 2 when the
 * loss is not finite (st as it was), or -1 with a message. */
int dist_step_run(DistStep *ds, const TensorMap *data, int carry_in, int last, const DistWindow *win, TrainState *st,
                  int stop, DistResult *r, char *err, size_t errlen);

/* The carried state of the whole batch, every process's micro-batches in
 * place (collective; the checkpoint's), into `full` (emptied first). */
int dist_step_gather_carry(DistStep *ds, TensorMap *full, char *err, size_t errlen);
/* Each micro-batch's rows of a whole batch's state (a resumed checkpoint's). */
int dist_step_scatter_carry(DistStep *ds, const TensorMap *full, char *err, size_t errlen);

/* A 64-bit FNV-1a hash of every tensor of m, names and bytes, in order. */
uint64_t dist_hash_map(const TensorMap *m);
/* Whether every process has the same hash h (collective): 0, or -1 with a
 * message naming `what`. */
int dist_same(uint64_t h, const char *what, char *err, size_t errlen);

#endif
