/* rt_source.h - the runtime as C source text, for --runtime=inline.
 *
 * The text is generated at build time (scripts/rt_source.sh, a Makefile
 * rule writing $(BUILD)/gen/rt_source_text.c) from the runtime's own files,
 * so it cannot drift from the library build.  A generated model file
 * pastes it before its own code and calls the functions rnnrt.h declares;
 * it needs libm and nothing else. */
#ifndef RNNC_RT_SOURCE_H
#define RNNC_RT_SOURCE_H

/* The runtime as one C text: rnnrt.h's declarations then the definitions
 * of cpu detection, sgemm (scalar, avx2, avx512 kernels), vmath and
 * nn_kernels, every external function `static` so two generated models
 * linked into one program do not clash.  It compiles alone as one
 * translation unit with `cc -std=c11 -Wall -Wextra -pedantic -Werror` (gcc
 * and clang), with no -m flags: the SIMD kernels carry target attributes
 * and run only where cpu detection allows.  Static storage; never NULL. */
const char *rt_source_text(void);

#endif
