/* emit_c.h - kernel IR as C.
 *
 * emit_c_func() writes one KFunc as one C function with the signature
 * kir.h gives, named `name`:
 *
 *     int name(const int64_t *sym, const void *const *arg, void *const *res,
 *              void *arena, char *err, size_t errlen)
 *
 * preceded by `static` when is_static.  The body names every buffer
 * (`float *h_weight_hh_l0 = (float *)arg[3];`), writes each loop as a C
 * loop and each map as a call of a function of its own (`name_map3`: the
 * loop nest, its buffers restrict parameters, always inlined), and says in
 * a comment which graph-IR op each statement came from.  The C it writes
 * compiles with no warning under -std=c11 -Wall -Wextra -pedantic on gcc
 * and clang, and calls only the runtime declared in runtime/rnnrt.h
 * (SGEMM, nn_kernels.h) and the inline activations of vmath_inline.h.
 *
 * The body is `name_body`; `name` runs it, or on x86 a copy of it compiled
 * for AVX2 or AVX-512 (target attributes; rt_cpu_path() chooses at run
 * time), so that the compiler vectorizes the element-wise loops to the
 * machine's width whatever flags the file is compiled with.  `paths` says
 * which copies to write (bits 1 << RtCpuPath): EMIT_C_ALL_PATHS for a file
 * that must run anywhere; the C engine, which knows the machine, writes
 * only the one it will run, to save compile time, and adds
 * EMIT_C_NO_FALLBACK: then `name` calls that copy unconditionally and the
 * portable body is never compiled on its own (half the compile time; the
 * engine's process chose the path, and rt_cpu_path() never changes).
 *
 * emit_c_arena_func() writes `size_t name(const int64_t *sym)` returning
 * f->arena_bytes for those sizes.
 *
 * The file around them (runtime inline or #include "rnnrt.h", the model
 * API) is written by target/c/c_file.c. */
#ifndef RNNC_EMIT_C_H
#define RNNC_EMIT_C_H

#include <stdio.h>

#include "kir/kir.h"
#include "runtime/rnnrt.h"

#define EMIT_C_ALL_PATHS ((1u << RT_CPU_AVX2) | (1u << RT_CPU_AVX512))
#define EMIT_C_NO_FALLBACK (1u << 31)

int emit_c_func(FILE *out, const KFunc *f, const char *name, int is_static, unsigned paths);
int emit_c_arena_func(FILE *out, const KFunc *f, const char *name, int is_static);

#endif
