/* jit_math.c - the scalar math of the LLVM target's element-wise maps, as
 * C that clang compiles to LLVM bitcode at build time (never compiled into
 * rnnc itself: the Makefile's LIB_SRCS take no subfolder of target/llvm/).
 *
 * Each line below defines rnnc_math_NAME(x) as runtime/vmath_inline.h's
 * rt_inline_NAME(x): the same C the C engine and an emitted C file run, so
 * the JIT and `rnnc compile --emit=llvm|asm|obj` get their bits from the
 * one definition.  llvm_math.c links the bitcode into each module, where
 * these become internal always-inline functions the map loops call
 * (llvm_emit.c: math_call), inlined and vectorized by the O2 pipeline.
 *
 * A new float(float) function in vmath_inline.h reaches the LLVM target
 * with one line here, RNNC_MATH(its name without rt_inline_); the map op
 * then calls it by that name. */
#include "runtime/vmath_inline.h"

#define RNNC_MATH(name)              \
    float rnnc_math_##name(float x); \
    float rnnc_math_##name(float x) { return rt_inline_##name(x); }

RNNC_MATH(expf)
RNNC_MATH(tanhf)
RNNC_MATH(sigmoidf)
RNNC_MATH(softplusf)
