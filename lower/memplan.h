/* memplan.h - the memory plan: every temporary buffer of a KFunc gets a
 * fixed byte offset in one arena, so that running the function allocates
 * nothing.
 *
 * Liveness is computed over the whole function in statement order; a
 * buffer used inside a loop but defined before it stays live to the end
 * of that loop (the loop reads it again on the next iteration).  Buffers
 * whose live ranges do not overlap share memory.  Sizes are symbolic, so
 * offsets are KExprs (sums of KE_MAX of the sizes sharing a slot, each
 * rounded up to 64 bytes); KFunc.arena_bytes is the total, including the
 * SGEMM workspace (ws_offset, ws_bytes) when the function has a KS_GEMM.
 * Every expression grows with the symbols, so an arena sized for the
 * largest B and T serves every smaller call.  A temporary no statement
 * accesses (the fusion computes some values in its loops' registers) gets
 * no offset (NULL) and no memory.
 *
 * Returns 0, or -1 with a message. */
#ifndef RNNC_MEMPLAN_H
#define RNNC_MEMPLAN_H

#include <stddef.h>

#include "kir/kir.h"

int memplan(KFunc *f, char *err, size_t errlen);

/* The most size symbols a planned function may have (its liveness test
 * evaluates sizes at fixed values of each). */
#define MEMPLAN_MAX_SYMS 64

#endif
