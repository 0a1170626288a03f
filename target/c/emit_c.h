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
 * The body is written once per instruction set: `name_avx512`, `name_avx2`
 * (on x86 with GNU C, target attributes) and `name_portable`, and `name`
 * runs the one rt_cpu_path() names, so that the compiler vectorizes the
 * element-wise loops to the machine's width whatever flags the file is
 * compiled with.  Each map is an always-inlined function with one
 * never-inlined wrapper per copy, compiled for its instruction set: many
 * small functions compile much faster than one body holding every loop.
 * `paths` says which copies to write (bits 1 << RtCpuPath):
 * EMIT_C_ALL_PATHS for a file that must run anywhere; the C engine, which
 * knows the machine, asks for the one it will run and adds
 * EMIT_C_NO_FALLBACK: then that copy is the only one and `name` calls it
 * (the portable copy, which would never run, is not compiled at all).
 *
 * The arena's size is not code: kexpr_to_words writes f->arena_bytes as
 * data that runtime/sizes.h evaluates without wrapping.
 *
 * The file around them (runtime inline or #include "rnnrt.h", the model
 * API) is written by target/c/c_file.c. */
#ifndef RNNC_EMIT_C_H
#define RNNC_EMIT_C_H

#include <stdio.h>

#include "kir/kir.h"
#include "runtime/rnnrt.h"

#define EMIT_C_ALL_PATHS   ((1u << RT_CPU_AVX2) | (1u << RT_CPU_AVX512))
#define EMIT_C_NO_FALLBACK (1u << 31)

int emit_c_func(FILE *out, const KFunc *f, const char *name, int is_static, unsigned paths);

#endif
