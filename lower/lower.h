/* lower.h - graph IR to kernel IR.
 *
 * lower() turns one module (normally after optimize(), see
 * passes/pipeline.h; any verified module without nested scans works) into
 * one KFunc (kir.h) whose arguments are the module's inputs, targets and
 * parameters and whose results are its outputs and loss, in the orders
 * kir.h states.  Every top-level scan becomes a KS_LOOP; ops that only
 * re-address memory (slice, index, seq_last, broadcast, reshape of
 * contiguous data, a scan's per-step inputs and stacked outputs) become
 * views, not copies; linear and its gradients become KS_GEMM; element-wise
 * ops become KS_MAP; the rest KS_CALL; a GEMM in a loop whose B operand
 * is loop-invariant reads B packed once before the loop (KS_PACK_B).
 * Temporaries are KB_TEMP buffers with no offset yet: run memplan()
 * (memplan.h) before emitting.
 *
 * Returns the function, or NULL with a message in err (an op the backend
 * does not lower yet names itself). */
#ifndef RNNC_LOWER_H
#define RNNC_LOWER_H

#include <stddef.h>

#include "kir/kir.h"
#include "ir/ir.h"

KFunc *lower(const IrModule *m, const char *name, char *err, size_t errlen);

/* The two halves of lower(), for tests comparing the two forms.
 * lower_unpacked: every GEMM reads its B operand as it is.  lower_pack_b:
 * each GEMM inside a loop whose B does not change over the loop (the
 * recurrent weights) reads a pack of it (KS_GEMM.packed_b) that a
 * KS_PACK_B fills once before the loop (lower_pack.c). */
KFunc *lower_unpacked(const IrModule *m, const char *name, char *err, size_t errlen);
void lower_pack_b(KFunc *f);

#endif
