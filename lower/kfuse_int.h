/* kfuse_int.h - what kfuse.c shares with kfuse_slice.c: the view tests
 * and the clean-ups of a map, and the slice fusion itself. */
#ifndef RNNC_KFUSE_INT_H
#define RNNC_KFUSE_INT_H

#include "kir/kir.h"

/* Same buffer, same element at every index of a rank-r space. */
int kfuse_aligned(const KStrided *x, const KStrided *y, int rank);
/* Whether distinct indices of s's space reach distinct elements of x. */
int kfuse_injective(const KStmt *s, const KStrided *x);
/* Adds to reads[buf id] each access in b that reads the buffer (every
 * operand of a GEMM, pack or call counts). */
void kfuse_count_reads(const KBlock *b, int *reads);
/* Drops the nodes of map s no output needs and the inputs no node loads. */
void kfuse_prune_map(KStmt *s);

/* Merges a map into the next one when the next reads the first's results
 * in slices of the last dimension (kfuse_slice.c); returns how many. */
int kfuse_slices(KFunc *f);

#endif
