/* cengine.h - running a module as compiled C: `rnnc run --engine=c`.
 *
 * cengine_build() lowers the module (lower/lower.h), plans its memory
 * (memplan.h), writes one C file - the runtime's declarations (rnnrt.h),
 * its inline activations (runtime/vmath_inline.h) and the emitted function
 * (emit_c.h) - into a private temporary directory, compiles it with the
 * system C compiler as a shared object and loads it.  The object's calls of
 * the runtime (SGEMM, the NN kernels, rt_cpu_path) resolve at dlopen to the
 * runtime linked into rnnc itself, which exports its rt_* symbols for that
 * (the Makefile's RT_EXPORT): the same code the JIT and the interpreter
 * call, and no second copy of the runtime to compile for every model (it
 * was 90% of each compile).  The compiler inlines the branch-free
 * activations into the maps and vectorizes them.  Only the clone of the
 * body for the CPU it runs on is emitted (emit_c.h: the AVX-512, AVX2 or
 * portable one, as rt_cpu_path() picks), which keeps the compile to one
 * copy of the code.
 *
 * The compiler is $RNNC_CC if set (it may carry flags: "clang -O3"),
 * else "cc".  It is run as
 *     CC -std=c11 -O2 -fPIC -shared -ffp-contract=off -o model.so model.c -lm
 * (-ffp-contract=off: no a*b+c becomes an FMA, so the loops round as the
 * interpreter in float32 mode does, op by op).
 *
 * The module should have been through a recipe with optimize
 * (passes/pipeline.h); cengine_build does not change it and keeps a
 * pointer to it: it must outlive the engine.  A module with a loss computes it on every run, so
 * cengine_run then needs every target (a caller that wants the outputs
 * without targets derives the module without its loss:
 * pipeline_forward(m, 0, ...), passes/pipeline.h). */
#ifndef RNNC_CENGINE_H
#define RNNC_CENGINE_H

#include <stddef.h>

#include "ir/ir.h"
#include "io/tensor.h"

typedef struct CEngine CEngine;

/* Returns the loaded engine, or NULL with a message in err.  Without a
 * C compiler the message is "--engine=c needs a C compiler (cc): ...". */
CEngine *cengine_build(const IrModule *m, char *err, size_t errlen);

/* cengine_build with the weights' packs made by a prepare function
 * (kcompile_prepared, lower/kprepare.h), written into the same C file,
 * which every run calls first - unless cengine_keep_packs() named that
 * run's parameter map, whose packs are then made once. */
CEngine *cengine_build_prepared(const IrModule *m, char *err, size_t errlen);
void cengine_keep_packs(CEngine *e, const TensorMap *params);

/* Runs the module once, as interp_run does (ir/interp.h): params and
 * inputs are checked by ir/bind.h with the same messages (ids may be I32
 * or I64, floats F32 or F64: converted on the way in); outputs receives
 * every output by name, and "loss" (rank 0) if the module has one, as F32
 * tensors.  The arena is kept between runs and grown when the sizes need
 * more.  Returns 0, or -1 with a message in err (a bad tensor, a token id
 * out of range). */
int cengine_run(CEngine *e, const TensorMap *params, const TensorMap *inputs, TensorMap *outputs, char *err,
                size_t errlen);

/* The generated C file's path (for debugging; exists until cengine_free). */
const char *cengine_source_path(const CEngine *e);

/* Unloads the code and removes the temporary directory.  NULL is fine. */
void cengine_free(CEngine *e);

#endif
