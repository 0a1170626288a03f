/* interp_ops.h - private to the reference interpreter: its value type (an
 * array of doubles with a concrete shape) and the kernel of every op but
 * scan, which interp.c runs itself because it evaluates a block. */
#ifndef RNNC_INTERP_OPS_H
#define RNNC_INTERP_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* UNSET: not computed yet (a use before its definition is an internal
 * error).  ABSENT: depends on a target that was not given, so it is never
 * computed; ops on it are absent too. */
typedef enum { VAL_UNSET, VAL_PRESENT, VAL_ABSENT } ValState;

typedef struct Val {
    ValState state;
    int rank;
    int64_t shape[IR_MAX_RANK];
    int64_t numel;
    double *data; /* numel doubles, owned; ids are stored as doubles */
} Val;

/* Allocates zeroed data for the shape and marks v present.  Returns 0, or
 * -1 with a message (a size that overflows, out of memory). */
int val_alloc(Val *v, int rank, const int64_t *shape, char *err, size_t errlen);
void val_free(Val *v); /* back to UNSET   */
int val_copy(Val *dst, const Val *src, char *err, size_t errlen);
const char *val_shape_str(const Val *v, char *buf, size_t n); /* "[2, 3]" */
int val_same_shape(const Val *a, const Val *b);

/* Computes the single result of a non-scan op into out (which must be
 * UNSET) from its present operands in[0..op->noperands).  want holds the
 * result's declared shape with every size resolved (no data): const,
 * broadcast, reduce_to and reshape take their shape from it, every other kernel computes its
 * shape from the operands alone so that the caller can check the IR's type
 * against it.  Returns 0, -1 with a message about a malformed module, or
 * -2 with a message about the data (an id out of range). */
int interp_kernel(const IrModule *m, const IrOp *op, const Val *const *in, const Val *want, Val *out, char *err,
                  size_t errlen);

/* The same for the multi-result optimizer update ops (sgd_update,
 * adam_update): computes outs[0..op->nresults), each UNSET on entry; on
 * failure the caller frees whatever was allocated. */
int interp_kernel_update(const IrModule *m, const IrOp *op, const Val *const *in, Val *outs, char *err, size_t errlen);

#endif
