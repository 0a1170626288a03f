/* merge_linear.h - products that share an input become one GEMM.
 *
 * A cell written gate by gate, as the textbook writes an LSTM
 * (i = sigmoid(Wi @ x + Ui @ h + bi), f = ..., g = ..., o = ...), makes
 * one `linear` per gate and input: four GEMMs of N = H a step where the
 * built-in lstm has one of N = 4H.  Each is a call of its own streaming
 * its own weights, and at H = 256, B = 32 each is below the size at which
 * the runtime splits a GEMM over two threads (runtime/sgemm_mt.c), so the
 * second core idles.  In every scan body, merge_linear() rewrites the
 * linears that read the same input value with parameter weights [N_i, K]
 * as one: the weights joined row after row (each reshaped to [N_i K], the
 * concat, reshaped to [sum N_i, K]: the same row-major bytes), one
 * linear, and a slice of its result for each.  It runs before autodiff,
 * so the backward pass gets one matmul_nn and one linear_wgrad too; hoist
 * then moves the joined weights, which read parameters only, out of the
 * loop (computed once a call), and the input projections of all gates
 * become one GEMM over all T*B rows.
 *
 * The recipes that call it (passes/pipeline.c) are those of whole
 * sequences; the streaming ones (step, sample), which run one step a call,
 * would join the weights at every call.  (A function compiled for fixed
 * weights, the C API's forward pass, joins them once, in its prepare
 * function: lower/kprepare.h.)  The forward products are the
 * same sums in the same order, so the outputs do not change; backward,
 * dh sums the gates' contributions inside one product instead of adding
 * one product per gate, a reordering within float tolerance.  Returns the
 * number of linears merged away, or -1 with a message (a module that does
 * not verify: a compiler bug). */
#ifndef RNNC_MERGE_LINEAR_H
#define RNNC_MERGE_LINEAR_H

#include <stddef.h>

#include "ir/ir.h"

int merge_linear(IrModule *m, char *err, size_t errlen);

#endif
