/* lengths_order.h - the order a run with lengths takes its examples in
 * (docs/architecture.md, "Lengths and the work of padding").
 *
 * The examples of a batch run longest first: a stable sort by the
 * lengths of the model's first lengths input, so that the examples still
 * running at step t are the rows [0, n_t) of every [T, B, ...] array
 * (n_t = #{b : len[b] > t}).  ir_lengths_apply() gathers the inputs and
 * targets into that order in the copy it makes of them anyway (no second
 * copy: a fresh buffer's first touch is what a copy costs here), and
 * ir_lengths_pad_outputs() scatters the outputs back: the caller sees its
 * own order.  Each example's arithmetic is the same op for op in any
 * row; only what sums over the batch (the loss, the parameters'
 * gradients) adds the examples in another order. */
#ifndef RNNC_LENGTHS_ORDER_H
#define RNNC_LENGTHS_ORDER_H

#include <stdint.h>

#include "ir/ir.h"
#include "io/tensor.h"

/* The order of a run of m on the tensors `in` (the caller's, lengths as
 * given): order[i] = the caller's example that runs as row i.  Returns
 * the batch B and a malloc'd order when it is not the caller's order, 0
 * (and *order = NULL) when the run keeps the caller's order: no lengths,
 * one example, the lengths already non-increasing, lengths that are not
 * valid (the run reports them), or dropout (its masks are drawn by
 * position in the batch: runtime/dropout.c), or -1 (out of memory). */
int64_t ir_lengths_order(const IrModule *m, const TensorMap *in, int64_t **order);

/* *own = a copy of every tensor of `in` (rt_map_free it), those that are
 * an input or target of m (or the lengths given for a lengths input, [B]
 * or the mask [T, B, 1]) in the run's order along their batch dim: row i
 * is the caller's row order[i] (order NULL: a plain copy).  Returns 0, or
 * -1 (out of memory, *own freed). */
int ir_lengths_copy(const IrModule *m, const TensorMap *in, TensorMap *own, const int64_t *order, int64_t B);

/* The inverse for the outputs of a run: each output of m with a batch
 * dim gets back the caller's order. */
int ir_lengths_scatter(const IrModule *m, TensorMap *out, const int64_t *order, int64_t B);

#endif
