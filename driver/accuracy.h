/* accuracy.h - the accuracy `rnnc train` reports for a classifier: the
 * fraction of positions whose argmax over the logits is the target id.
 *
 * The model's loss must be one cross_entropy(logits, t) with t a target
 * (or input) of the model: its logits come out of the training step and
 * the eval pass as the output PIPELINE_CE_LOGITS (passes/pipeline.h), and
 * t is in the batch the driver fed.  The language has no ignored class
 * (no ignore_index), so every position of t counts. */
#ifndef RNNC_ACCURACY_H
#define RNNC_ACCURACY_H

#include <stdint.h>

#include "io/tensor.h"
#include "ir/ir.h"

/* The name of the target the loss's cross_entropy reads, or NULL when the
 * loss is no cross_entropy of a target as it is (then no accuracy). */
const char *acc_target_name(const IrModule *m);

/* Adds to *correct the positions of target (I32 or I64 ids, any shape)
 * whose row of logits (F32 or F64, the target's shape and C classes) has
 * its first maximum at the id, and to *n the positions.  Returns 0, or -1
 * when the shapes do not fit (nothing is added). */
int acc_count(const Tensor *logits, const Tensor *target, int64_t *correct, int64_t *n);

/* The same over the real steps only of a sequence target [T, B] whose
 * examples have lengths len [B] (I64): position (t, b) counts when
 * t < len[b]; or len is a TBPTT segment's mask [T, B, 1] (F32): when
 * its (t, b) is not 0 (len NULL: every position, acc_count). */
int acc_count_lengths(const Tensor *logits, const Tensor *target, const Tensor *len, int64_t *correct, int64_t *n);

#endif
