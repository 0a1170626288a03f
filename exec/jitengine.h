/* jitengine.h - running a module as LLVM-compiled machine code:
 * `rnnc run --engine=jit` (and grad, train, sample).
 *
 * jitengine_build() lowers and plans the module (kcompile.h) and compiles
 * it in-process with LLVM (llvm_jit.h): no C compiler, no files.  Running
 * is kfunc_run.h's, as for the C engine (cengine.h), whose notes on the
 * module apply here too: it should have been through optimize(), it must
 * outlive the engine, and a module with a loss needs every target. */
#ifndef RNNC_JITENGINE_H
#define RNNC_JITENGINE_H

#include <stddef.h>

#include "ir/ir.h"
#include "io/tensor.h"

typedef struct JitEngine JitEngine;

/* Seconds spent in each stage of building, for -v / --time-passes:
 * wall time, and the building thread's CPU time (the JIT compiles on the
 * calling thread), which a loaded machine inflates far less. */
typedef struct JitStages {
    double lower;    /* kcompile: lower, kfuse, memplan */
    double build;    /* the LLVM module */
    double optimize; /* the pass pipeline (llvm_target.c) */
    double codegen;  /* machine code */
} JitStages;

typedef struct JitTimes {
    double lower, build, optimize, codegen; /* wall, as JitStages */
    JitStages cpu;
} JitTimes;

/* Returns the compiled engine (times filled when not NULL), or NULL with a
 * message in err. */
JitEngine *jitengine_build(const IrModule *m, JitTimes *times, char *err, size_t errlen);

/* jitengine_build with the weights' packs made by a prepare function
 * (kcompile_prepared, lower/kprepare.h), which every run calls first -
 * unless jitengine_keep_packs() named that run's parameter map, whose
 * packs are then made once. */
JitEngine *jitengine_build_prepared(const IrModule *m, JitTimes *times, char *err, size_t errlen);
void jitengine_keep_packs(JitEngine *e, const TensorMap *params);

/* As cengine_run. */
int jitengine_run(JitEngine *e, const TensorMap *params, const TensorMap *inputs, TensorMap *outputs, char *err,
                  size_t errlen);

/* Frees the code and everything the JIT made.  NULL is fine. */
void jitengine_free(JitEngine *e);

#endif
