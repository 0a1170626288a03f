/* lengths.h - per-example lengths of a run's sequences (docs/language.md,
 * "Lengths").
 *
 * A model with `input x : seq<...> lengths` has an input "x.len" of role
 * IR_ROLE_LENGTHS whose IR type is the mask f32[T_x, B, 1] (1 at the
 * steps t < len[b]).  The user gives lengths, one integer an example;
 * ir_lengths_apply() turns them into the mask before a run, on every
 * engine (exec/engine.c), so that no engine knows about lengths. */
#ifndef RNNC_LENGTHS_H
#define RNNC_LENGTHS_H

#include <stddef.h>

#include "ir/ir.h"
#include "io/tensor.h"

/* Whether m has an input of role IR_ROLE_LENGTHS. */
int ir_has_lengths(const IrModule *m);

/* The tensors to run m with: *use = in when m has no lengths; else a copy
 * in *own (which the caller frees with rt_map_free when *use == own) where
 * each lengths input "x.len" given as lengths [B] (I32 or I64, each in
 * 1..T_x, read off the tensor given for x) is the mask [T_x, B, 1], and
 * every sequence input and target of length T_x is zero at each
 * example's padded steps, which are never read (a NaN or an id out of
 * range there is no error).  "x.len" may also be given as the mask itself
 * (F32 or F64 [T_x, B, 1], each column ones then zeros, possibly all
 * zeros: a TBPTT segment past an example's end), so that applying this
 * to its own result changes nothing.  A tensor that is missing or of the wrong
 * shape is left to ir_bind_inputs() to report, except the lengths:
 *   "input 'x.len': 3 lengths for a batch of 2 (input 'x' is [5, 2, 4])"
 *   "input 'x.len': example 1 has length 7, more than the 5 steps of input 'x'"
 * Returns 0, or -1 with a message naming the input.
 *
 * Padding costs nothing past the longest example: when every length of
 * x.len is below T_x, the sequences of length T_x in *own (and the mask)
 * keep only their first max(len) steps (at least 1), so the run computes
 * no step after the batch's longest example; ir_lengths_pad_outputs()
 * then gives the outputs their T_x steps back.  Not when T_x is another
 * dim of an input, target or output, nor with per-step state gradients
 * (lengths.c, can_shrink).
 *
 * The examples run longest first (lengths_order.h): *own's tensors with
 * a batch dim are in that order, and ir_lengths_pad_outputs() puts the
 * outputs back in the caller's. */
int ir_lengths_apply(const IrModule *m, const TensorMap *in, TensorMap *own, const TensorMap **use, char *err,
                     size_t errlen);

/* After a run on what ir_lengths_apply() made of `given`: each output
 * with a batch dim back in `given`'s order of the examples, and each
 * output of a length T_x whose run had fewer steps than `given`'s T_x is
 * padded to T_x with zeros (the value of every output at a padded step).
 * Returns 0, or -1 (out of memory). */
int ir_lengths_pad_outputs(const IrModule *m, const TensorMap *given, TensorMap *out, char *err, size_t errlen);

#endif
