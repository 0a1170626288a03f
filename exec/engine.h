/* engine.h - what runs a module: every command (run, grad, train, sample)
 * calls one function through this struct, so that the reference
 * interpreter and the compiled backends (the C emitter, the LLVM JIT) are
 * interchangeable: a command derives its module with a recipe
 * (passes/pipeline.h), optimized as engine_optimizes() says, and runs it
 * with e->run, whichever engine e is. */
#ifndef RNNC_ENGINE_H
#define RNNC_ENGINE_H

#include <stddef.h>

#include "ir/ir.h"
#include "ir/run_hook.h"
#include "io/tensor.h"

typedef struct Engine {
    const char *name;
    /* Runs m once: every output by name into `outputs` (cleared first by
     * the caller).  Returns 0, or -1 with a message. */
    int (*run)(const struct Engine *e, const IrModule *m, const TensorMap *params, const TensorMap *inputs,
               TensorMap *outputs, char *err, size_t errlen);
    void *ctx; /* the engine's own state (compiled code), or NULL */
    /* run, telling hook of each output as soon as it is final
     * (ir/run_hook.h), for the overlap of data-parallel training; NULL for
     * an engine whose run hands its outputs back only at its end (the
     * compiled ones: one kernel call makes them all). */
    int (*run_hooked)(const struct Engine *e, const IrModule *m, const TensorMap *params, const TensorMap *inputs,
                      TensorMap *outputs, const RunHook *hook, char *err, size_t errlen);
} Engine;

/* The reference interpreter (ir/interp.h), in float32 and in float64
 * (`--precision f64`). */
extern const Engine engine_interp;
extern const Engine engine_interp_f64;

/* The engine an --engine option names: "interp" (also for NULL), "c",
 * the module compiled to C by the system compiler (exec/cengine.h), or
 * "jit", compiled in-process by LLVM (exec/jitengine.h); a compiled
 * engine compiles each module once, on its first run.  Returns 0, or -1
 * with a message (an unknown name).  engine_close() frees what the engine
 * compiled. */
int engine_open(const char *name, Engine *e, char *err, size_t errlen);
void engine_close(Engine *e);
int engine_is_compiled(const Engine *e);

/* The engine when --engine is not given: $RNNC_ENGINE if set and not
 * empty, else "jit". */
const char *engine_default_name(void);

/* Marks compiled engine e as a default the user did not choose: a module
 * the compiled engines refuse for what it is (kcompile_refuses(), e.g. a
 * scan inside a scan) then runs on the interpreter, in float32, after a
 * one-line note on stderr, instead of failing.  An engine the user chose
 * keeps failing with the reason.  Nothing for the interpreter. */
void engine_allow_fallback(Engine *e);

/* The caller will pass `params`, unchanged, to the runs of e from now on
 * (NULL: no such promise any more), as `rnnc sample` does with its
 * checkpoint's weights: a compiled engine then compiles the modules it
 * compiles after this call with the weights' packs made by a prepare
 * function (lower/kprepare.h), and runs with this map make them once
 * instead of at every run.  A run with another map packs its own weights
 * (correct, not faster); modules compiled before pack at every run.
 * Nothing for the interpreter. */
void engine_fix_params(Engine *e, const TensorMap *params);

/* Whether e runs its modules optimized: the recipes' PipeOpts.optimize
 * (passes/pipeline.h).  A compiled engine does; the interpreter, the
 * oracle that the compiled code is tested against, runs a module as the
 * passes made it. */
int engine_optimizes(const Engine *e);

#endif
