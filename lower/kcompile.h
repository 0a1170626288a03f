/* kcompile.h - the backend's pipeline from an optimized graph-IR module to
 * kernel IR ready to emit: lower (lower.h), fuse element-wise loops
 * (kfuse.h), plan memory (memplan.h).  Every emitter (the C file, the C
 * engine, the LLVM JIT) and `rnnc dump --stage=kernel` start here, so they
 * all see the same program. */
#ifndef RNNC_KCOMPILE_H
#define RNNC_KCOMPILE_H

#include <stddef.h>

#include "kir/kir.h"
#include "ir/ir.h"

/* Returns the planned function (free with kfunc_free), or NULL with a
 * message in err. */
KFunc *kcompile(const IrModule *m, const char *name, char *err, size_t errlen);

/* kcompile() for a caller that keeps the weights' packs between calls
 * (lower/kprepare.h): after the fusion the packs of the weights move into
 * *prep, the planned prepare function (NULL when there are none; its
 * arena is 0 bytes), whose results the caller passes to the function as
 * its prepared arguments.  Only for a function that does not change the
 * weights it reads (the forward pass, the streaming step: not a training
 * step, which gets new weights at every call and packs them in it). */
KFunc *kcompile_prepared(const IrModule *m, const char *name, KFunc **prep, char *err, size_t errlen);

/* Whether kcompile() refuses m for what it is, not for a fault: a scan
 * inside a scan (lower runs nested time loops only once unrolled) or more
 * size symbols than memplan() handles.  Returns 1 with the reason in why,
 * else 0.  The driver runs such a module on the interpreter when the user
 * did not choose the engine (exec/engine.h). */
int kcompile_refuses(const IrModule *m, char *why, size_t whylen);

#endif
