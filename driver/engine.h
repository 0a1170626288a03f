/* engine.h - what runs a module: the training and sampling loops call one
 * function through this struct, so that the reference interpreter can be
 * replaced by a compiled backend (the C emitter, the LLVM JIT) without
 * touching the loops. */
#ifndef RNNC_ENGINE_H
#define RNNC_ENGINE_H

#include <stddef.h>

#include "ir/ir.h"
#include "runtime/tensor.h"

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

#endif
