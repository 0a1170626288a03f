/* kfuse.h - fusing element-wise loops in kernel IR.
 *
 * Lowering writes one KS_MAP per graph-IR op: an LSTM step's gate
 * nonlinearities and state update are nine loops over [B, H], each
 * storing a temporary the next one loads.  kfuse() merges every run of
 * adjacent maps (in the same block) over the same index space into one
 * map with several outputs, and then drops the stores nobody reads:
 *
 *   - a later map's load of a buffer an earlier map stores, at the same
 *     element for every index (same offset and strides), becomes a use of
 *     the stored value: no load;
 *   - two maps are not merged if that would change what a load sees: the
 *     later map reads or writes what the earlier one writes at other
 *     elements, or what it accumulates into (a reduction is only complete
 *     after its whole loop), or writes what the earlier map reads;
 *     views of one buffer that never reach the same element do not count
 *     (the same strides, a constant apart, each row's block clear of the
 *     other's: a backward step's four gate gradients, column blocks of one
 *     [B, 4H] row, are one map since 2026-12-08, where they were four);
 *   - a map may first move down past GEMMs and packs that neither write
 *     what it reads nor touch what it writes, to merge with the map after
 *     them (a step's b_ih add, ahead of the recurrent GEMM, joins the map
 *     that reads the GEMM's result);
 *   - identical loads are made once;
 *   - a map whose results only the next map reads, in slices of the
 *     last dimension (a step's [B, G*H] pre-activations, read by the
 *     [B, H] gate map at G column offsets), is merged into that map: it
 *     computes each slice's sums itself, and the [B, G*H] buffer is
 *     neither stored nor loaded (kfuse_slice.c says when);
 *   - afterwards, a store into a temporary that no statement of the
 *     function reads is removed (the buffer then needs no memory), and a
 *     map left with no output is removed.
 *
 * Run before memplan().  The arithmetic is the same operations on the
 * same values in the same order per element, so results are bit-identical.
 * Returns the number of maps merged away. */
#ifndef RNNC_KFUSE_H
#define RNNC_KFUSE_H

#include "kir/kir.h"

int kfuse(KFunc *f);

#endif
