/* bind.h - checking the tensors a run is given against a module: the
 * weights (every parameter, exactly its shape, nothing else) and the inputs
 * and targets (ranks, static dims, dtype kinds), resolving the sizes B and
 * T_* from the inputs' shapes.
 *
 * Shared by the interpreter and every backend so that all of them accept
 * and reject the same tensors with the same messages. */
#ifndef RNNC_BIND_H
#define RNNC_BIND_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"
#include "io/tensor.h"

/* Checks that `weights` holds exactly the parameters of m: each present,
 * F32 or F64, with exactly the parameter's shape, and no other tensor.
 * Messages start with weights_path (or "weights" if it is NULL):
 *   "w.safetensors: missing parameter 'logits.bias'"
 *   "w.safetensors: parameter 'h.weight_ih_l0' has shape [24, 5], the model needs [24, 4]"
 *   "w.safetensors: unexpected tensor 'foo' (not a parameter of model m)"
 * Returns 0, or -1 with the first problem in err. */
int ir_bind_params(const IrModule *m, const TensorMap *weights, const char *weights_path, char *err, size_t errlen);

/* Checks the inputs (and targets) of a run and resolves the module's size
 * symbols: sym_values[k] receives the value of symbol k (m->nsyms entries),
 * or -1 for a symbol that no given tensor determines.  Every input must be
 * given; targets must be given if need_targets, and are checked if given.
 * A name that is neither an input nor a target is an error.  Float values
 * may be F32 or F64, ids I32 or I64.  Every symbolic size must be at least
 * 1, agree across tensors, and stay within its declared maximum.
 *   "input 'x': expected rank 3 [T_x, B, 4], got [5, 3, 5]"
 * Returns 0, or -1 with the first problem in err. */
int ir_bind_inputs(const IrModule *m, const TensorMap *inputs, int64_t *sym_values, int need_targets, char *err,
                   size_t errlen);

/* Whether a run that needs `bytes` of memory at the sizes sym_values (as
 * ir_bind_inputs resolved them; RT_SIZE_HUGE when the count saturated)
 * fits this machine, or the limit RNNC_MEMORY_LIMIT sets (bytes, or with a
 * suffix K, M, G).  Checked by the interpreter and the compiled engines
 * before they allocate.  Returns 0, or -1 with a message naming the sizes:
 *   "the model at B=64, T_x=100000 needs 1.2 TiB of memory, more than
 *    this machine's 24.0 GiB" */
int ir_check_memory(const IrModule *m, const int64_t *sym_values, int64_t bytes, char *err, size_t errlen);

/* Writes a type's dims with symbol names, "[T_x, B, 4]", into buf. */
const char *ir_dims_str(const IrModule *m, const IrType *t, char *buf, size_t n);

/* The names of list (n of them) joined by ", " into buf, "none" if n = 0:
 * what an "unknown input" message lists. */
void ir_list_names(const IrInput *list, int n, char *buf, size_t len);

#endif
