/* dist_shard.h - a process's share of a batch: the rows of the batch axis
 * of every tensor a training step takes (data, lengths, carried state),
 * cut out of the whole batch's tensors, and put back together in batch
 * order (the carried state a checkpoint holds).  The batch axis of a
 * tensor is where its module input's type has B (IR_DIM_B); a lengths
 * input "<x>.len" is given as [B]. */
#ifndef RNNC_DIST_SHARD_H
#define RNNC_DIST_SHARD_H

#include <stdint.h>

#include "io/tensor.h"
#include "ir/ir.h"

/* The batch axis of the tensor m takes as input or target `name`, or -1
 * (m has no such input, or its type has no B: the same for every share). */
int shard_axis(const IrModule *m, const char *name);

/* The same for a tensor of that rank: a lengths input given as its mask
 * [T, B, 1] (rank 3) has B on axis 1, given as [B] on axis 0. */
int shard_axis_of(const IrModule *m, const char *name, int rank);

/* dst = rows [lo, hi) of src's axis (0 <= lo < hi <= its extent).
 * Returns 0, or -1 out of memory. */
int shard_slice(Tensor *dst, const Tensor *src, int axis, int64_t lo, int64_t hi);

/* Copies part (all of dst but for axis, which has hi - lo rows) into rows
 * [lo, hi) of dst's axis. */
void shard_place(Tensor *dst, const Tensor *part, int axis, int64_t lo);

/* Every tensor of `in` that m takes with a batch axis, cut to rows
 * [lo, hi), into `out` under its name (the others copied whole).
 * Returns 0, or -1 out of memory. */
int shard_map(const IrModule *m, const TensorMap *in, int64_t lo, int64_t hi, TensorMap *out);

#endif
