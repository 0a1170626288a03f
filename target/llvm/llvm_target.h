/* llvm_target.h - the LLVM target machine and pass pipeline rnnc uses,
 * shared by the JIT (llvm_jit.h) and `rnnc compile --emit=llvm|asm|obj`.
 *
 * The host machine is the running CPU with every feature it has
 * (LLVMGetHostCPUName / LLVMGetHostCPUFeatures: AVX-512 where present);
 * another triple gets that target's generic CPU.  Code is generated at
 * -O2 with LLVM's default floating-point options, which never contract
 * a*b+c into an FMA unless the IR asks (llvm_emit.h never does), and
 * without loop strength reduction (llvm_target.c says why). */
#ifndef RNNC_LLVM_TARGET_H
#define RNNC_LLVM_TARGET_H

#include <stddef.h>

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/TargetMachine.h>

/* A target machine for triple (NULL: the host, its CPU and features),
 * position-independent when pic is set.  NULL with a message in err (an
 * unknown triple).  Dispose with LLVMDisposeTargetMachine. */
LLVMTargetMachineRef llvm_target_machine(const char *triple, int pic, char *err, size_t errlen);

/* Gives mod tm's triple and data layout (before optimizing it). */
void llvm_target_apply(LLVMModuleRef mod, LLVMTargetMachineRef tm);

/* LLVM's default<O2> pipeline for tm, loop and SLP vectorization on,
 * vectorized loops neither interleaved nor unrolled (compile time).
 * Returns 0, or -1 with a message. */
int llvm_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, char *err, size_t errlen);

/* The message of an LLVMErrorRef (consumed) into err; returns -1. */
int llvm_error(LLVMErrorRef e, const char *what, char *err, size_t errlen);

#endif
