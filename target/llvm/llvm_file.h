/* llvm_file.h - a model's kernel functions and its API as one LLVM IR,
 * assembly or object file: `rnnc compile --emit=llvm|asm|obj`.
 *
 * Each variant given (forward, step, train: passes/pipeline.h) is compiled
 * (kcompile.h) and emitted (llvm_emit.h) as two external functions with
 * the C file's names (c_file.c):
 *
 *     int     PREFIX_kernel_KIND(const int64_t *sym, const void *const *arg,
 *                                void *const *res, void *arena, char *err,
 *                                size_t errlen);
 *     int64_t PREFIX_kernel_KIND_arena(const int64_t *sym);
 *
 * calling the runtime (rnnrt.h, librnnrt.a).  The module is optimized as
 * the JIT's is (llvm_target.h), for the host CPU with all its features, or
 * for TRIPLE's generic CPU; code is position-independent.
 *
 * With api, the module also has the C backend's API (PREFIX_create,
 * PREFIX_forward, ...: the header `rnnc compile --header` writes) as
 * functions calling runtime/model_api.c with the model's descriptor
 * (llvm_api.h): the object, librnnrt.a and libc make the program. */
#ifndef RNNC_LLVM_FILE_H
#define RNNC_LLVM_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "ir/ir.h"
#include "io/tensor.h"

typedef enum { LLVM_FILE_IR, LLVM_FILE_ASM, LLVM_FILE_OBJ } LlvmFileKind;

/* "llvm", "asm", "obj" -> kind; -1 for another name. */
int llvm_file_kind(const char *name);

/* Writes the file to out (path: its name, for messages).  step and train may be NULL; triple NULL is the host; api:
 * also the model API; weights (with api, else NULL): put into the file as
 * the C file's --embed-weights does (F32 or F64 by parameter name).
 * Returns 0, or -1 with a message in err. */
int llvm_file_write(FILE *out, const char *path, LlvmFileKind kind, const char *triple, const char *prefix,
                    const IrModule *fwd, const IrModule *step, const IrModule *train, int api, const TensorMap *weights,
                    char *err, size_t errlen);

#endif
