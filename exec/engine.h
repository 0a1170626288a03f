/* engine.h - what runs a module: the training and sampling loops call one
 * function through this struct, so that the reference interpreter can be
 * replaced by a compiled backend (the C emitter, the LLVM JIT) without
 * touching the loops. */
#ifndef RNNC_ENGINE_H
#define RNNC_ENGINE_H

#include <stddef.h>

#include "ir/ir.h"
#include "io/tensor.h"

typedef struct Engine {
    const char *name;
    /* Runs m once: every output by name into `outputs` (cleared first by
     * the caller).  Returns 0, or -1 with a message. */
    int (*run)(const struct Engine *e, const IrModule *m, const TensorMap *params,
               const TensorMap *inputs, TensorMap *outputs, char *err, size_t errlen);
    void *ctx;     /* the engine's own state (compiled code), or NULL */
} Engine;

/* The reference interpreter in float32 (ir/interp.h). */
extern const Engine engine_interp;

/* The engine an --engine option names: "interp" (also for NULL), "c",
 * the module compiled to C by the system compiler (exec/cengine.h), or
 * "jit", compiled in-process by LLVM (exec/jitengine.h); a compiled
 * engine compiles each module once, on its first run.  Returns 0, or -1
 * with a message (an unknown name).  engine_close() frees what the engine
 * compiled. */
int  engine_open(const char *name, Engine *e, char *err, size_t errlen);
void engine_close(Engine *e);
int  engine_is_compiled(const Engine *e);

/* The engine when --engine is not given: $RNNC_ENGINE if set and not
 * empty, else "jit". */
const char *engine_default_name(void);

/* Marks compiled engine e as a default the user did not choose: a module
 * the compiled engines refuse for what it is (kcompile_refuses(), e.g. a
 * scan inside a scan) then runs on the interpreter, in float32, after a
 * one-line note on stderr, instead of failing.  An engine the user chose
 * keeps failing with the reason.  Nothing for the interpreter. */
void engine_allow_fallback(Engine *e);

/* Readies module m for engine e before its first run: for a compiled
 * engine optimize() (passes/pipeline.h), which keeps every output and the
 * loss.  A compiled module computes its loss on every run, so a caller
 * that will run without the targets passes keep_loss = 0: the loss and
 * the targets are dropped from m first (and the caller must not pass
 * target tensors).  The interpreter needs nothing and m is left as it
 * is.  Returns 0, or -1 with a message. */
int  engine_prepare(const Engine *e, IrModule *m, int keep_loss, char *err, size_t errlen);

#endif
