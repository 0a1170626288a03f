/* llvm_jit.h - one kernel function compiled in-process by LLVM: the
 * machine code `rnnc --engine=jit` runs.
 *
 * Three stages, separate so that a caller can time each:
 *   llvm_jit_build     the KFunc as an LLVM module (llvm_emit.h), verified;
 *   llvm_jit_optimize  LLVM's default<O2> pipeline for the host CPU
 *                      (llvm_target.h), loops vectorized;
 *   llvm_jit_codegen   an ORC LLJIT instance generates machine code and
 *                      returns the function's address.
 * The runtime functions the code calls (llvm_emit_externals: SGEMM, the
 * nn kernels, logf, memset ...) are defined in the JIT as absolute symbols
 * at their addresses in the running program, so rnnc needs no -rdynamic
 * and the code runs the same runtime as the interpreter and the C engine.
 *
 * llvm_jit_free releases everything: the module, the LLJIT instance and
 * its code, the context, the target machine. */
#ifndef RNNC_LLVM_JIT_H
#define RNNC_LLVM_JIT_H

#include <stddef.h>

#include "kir/kir.h"

typedef struct LlvmJit LlvmJit;

/* A JIT for the host.  NULL with a message in err. */
LlvmJit *llvm_jit_new(char *err, size_t errlen);

/* Stage 1: f (planned, kcompile.h) as the module's one function. */
int llvm_jit_build(LlvmJit *j, const KFunc *f, char *err, size_t errlen);

/* Stage 2. */
int llvm_jit_optimize(LlvmJit *j, char *err, size_t errlen);

/* Stage 3: the compiled function, valid until llvm_jit_free; NULL with a
 * message. */
KFuncFn llvm_jit_codegen(LlvmJit *j, char *err, size_t errlen);

/* The module as LLVM IR text, before codegen (free() it); NULL after. */
char *llvm_jit_ir_text(const LlvmJit *j);

/* NULL is fine. */
void llvm_jit_free(LlvmJit *j);

/* The three stages in one: the JIT holding f's code in *fn, or NULL with a
 * message. */
LlvmJit *llvm_jit_compile(const KFunc *f, KFuncFn *fn, char *err, size_t errlen);

#endif
