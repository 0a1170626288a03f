/* llvm_emit.h - kernel IR as LLVM IR: one KFunc becomes one LLVM function
 * in an LLVMModuleRef, built with the LLVM-C API (LLVM 14).
 *
 * The function has kir.h's generic signature
 *
 *     i32 NAME(i64* sym, i8** arg, i8** res, i8* arena, i8* err, i64 errlen)
 *
 * and means what the C emitter's function means (emit_c.h), bit for bit
 * where the C engine is exact:
 *   - loops are LLVM loops over an i64 induction variable; a map is a loop
 *     nest, row-major, with one scalar float operation per node, so that
 *     LLVM's loop vectorizer turns the innermost unit-stride loop into
 *     SIMD code;
 *   - no instruction carries fast-math flags: nothing is reassociated and
 *     no a*b+c becomes an FMA (the C engine's -ffp-contract=off), so a
 *     reduction adds in index order;
 *   - KM_MIN / KM_MAX are `a < b ? a : b` / `a > b ? a : b` (b when either
 *     is NaN); KM_EXP, KM_TANH, KM_SIGMOID and KM_SOFTPLUS call
 *     runtime/vmath_inline.h's rt_inline_expf / _tanhf / _sigmoidf /
 *     _softplusf, linked into mod as bitcode
 *     compiled from that C (llvm_math.h; straight-line, so they vectorize
 *     once inlined), and give rt_expf's, rt_tanhf's and rt_sigmoidf's
 *     bits (softplus rt_inline_softplusf's); KM_LOG is llvm.log.f32 (the C library's logf, as in C) and
 *     KM_SQRT llvm.sqrt.f32;
 *   - GEMMs call rt_sgemm_ws with the arena's workspace (rt_sgemm_pack_b /
 *     rt_sgemm_ws_packed for packed weights), the other kernels the
 *     runtime function kir_call_name() names; a failing call writes the C
 *     engine's message to err and the function returns 1.
 * Runtime functions are external declarations (llvm_emit_externals lists
 * every name the module may call, for the JIT to resolve).
 *
 * mod's target triple and data layout must be set before (llvm_target_apply):
 * the math's bitcode takes them.  The module is not verified nor optimized
 * here (llvm_jit.h). */
#ifndef RNNC_LLVM_EMIT_H
#define RNNC_LLVM_EMIT_H

#include <stddef.h>

#include <llvm-c/Core.h>

#include "kir/kir.h"

/* Adds f to mod as the external function `name`.  f must have been through
 * memplan() (kcompile.h).  Returns 0, or -1 with a message in err (a
 * temporary without an offset, a statement of an unknown kind). */
int llvm_emit_func(LLVMModuleRef mod, const KFunc *f, const char *name, char *err, size_t errlen);

/* The NULL-terminated names of every external function an emitted module
 * may call: the runtime's kernels, and what LLVM itself may call (logf for
 * llvm.log.f32, memset/memcpy/memmove for loops it recognizes, snprintf
 * for error messages). */
extern const char *const llvm_emit_externals[];

/* LLVMVerifyModule: 0, or -1 with LLVM's message in err. */
/* Adds `i64 name(i64* sym)`, f's arena bytes for the sizes in sym: a call
 * of the runtime's rt_size_eval (runtime/sizes.h: INT64_MAX when they
 * exceed int64) on a constant global `name_words` holding f->arena_bytes
 * as words (kexpr_to_words), which the model API's descriptor points to. */
int llvm_emit_arena_func(LLVMModuleRef mod, const KFunc *f, const char *name, char *err, size_t errlen);

int llvm_emit_verify(LLVMModuleRef mod, char *err, size_t errlen);

#endif
