/* llvm_math.h - the scalar math of the LLVM target's maps, from C.
 *
 * exp, tanh, sigmoid (and whatever target/llvm/bitcode/jit_math.c lists)
 * are runtime/vmath_inline.h's C functions, compiled to LLVM bitcode by
 * clang at build time and embedded in rnnc as bytes.  llvm_math_fn() parses
 * that bitcode into a module's context, gives it the module's target triple
 * and data layout, removes the target attributes clang wrote (so that it
 * inlines into code for any CPU), links it into the module
 * (LLVMLinkModules2) and makes its functions internal and always-inline:
 * the O2 pipeline inlines them into the map loops and vectorizes the loops,
 * then drops the functions.  One definition of the math for the C engine,
 * an emitted C file, the JIT and `rnnc compile --emit=llvm|asm|obj`. */
#ifndef RNNC_LLVM_MATH_H
#define RNNC_LLVM_MATH_H

#include <stddef.h>

#include <llvm-c/Core.h>

/* The prefix of the bitcode's functions: NAME is rnnc_math_NAME. */
#define LLVM_MATH_PREFIX "rnnc_math_"

/* The function `float rnnc_math_NAME(float)` of mod (NAME as in
 * jit_math.c: "expf", "tanhf", "sigmoidf"), linking the bitcode into mod
 * first if it is not there yet; set mod's target triple and data layout
 * before the first call.  NULL with a message in err if the bitcode does
 * not parse or link, or has no such float(float) function. */
LLVMValueRef llvm_math_fn(LLVMModuleRef mod, const char *name, char *err, size_t errlen);

#endif
