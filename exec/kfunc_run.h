/* kfunc_run.h - running a compiled kernel function on tensors: what every
 * compiled engine (the C engine, cengine.h; the LLVM JIT, jitengine.h)
 * does around the call, in one place.
 *
 * The tensors are bound as the interpreter binds them (ir/bind.h, same
 * messages), the dtypes the kernel IR does not take converted (F64 -> F32,
 * I32 -> I64), every result allocated with its module value's shape, the
 * arena sized with KFunc.arena_bytes for the call's sizes (kept between
 * calls, grown when a call needs more) and the function called with kir.h's
 * signature. */
#ifndef RNNC_KFUNC_RUN_H
#define RNNC_KFUNC_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "kir/kir.h"
#include "ir/ir.h"
#include "io/tensor.h"

typedef struct KFuncRunner {
    const char *engine; /* "c", "jit": named in internal-error messages */
    const IrModule *m;  /* the module kf was lowered from */
    const KFunc *kf;    /* planned (memplan) */
    KFuncFn fn;         /* kf compiled */
    void *arena;        /* 64-byte aligned, arena_cap bytes */
    size_t arena_cap;
    /* kf's prepare function (kcompile_prepared, lower/kprepare.h) and its
     * compiled code, or NULL: it fills `packs` (one per prepared argument
     * of kf) from the weights before a run, unless `keep` is that run's
     * parameter map and the packs were made from it (packs_ready). */
    const KFunc *prep;
    KFuncFn prep_fn;
    void **packs;
    const TensorMap *keep;
    int packs_ready;
} KFuncRunner;

/* Runs the function once, as interp_run does (ir/interp.h): outputs
 * receives every output by name, and "loss" (rank 0) if the module has
 * one, as F32 tensors.  Returns 0, or -1 with a message in err (a bad
 * tensor, a token id out of range). */
int kfunc_run(KFuncRunner *r, const TensorMap *params, const TensorMap *inputs, TensorMap *outputs, char *err,
              size_t errlen);

/* The caller will pass `params` unchanged to every run from now on (NULL:
 * no promise): runs with that map reuse the packs the prepare function
 * made at the first of them; a run with another map packs again. */
void kfunc_runner_keep_packs(KFuncRunner *r, const TensorMap *params);

/* Frees the arena and the packs (the runner itself is the caller's). */
void kfunc_runner_release(KFuncRunner *r);

#endif
