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

/* Whether kcompile() refuses m for what it is, not for a fault: a scan
 * inside a scan (lower runs nested time loops only once unrolled) or more
 * size symbols than memplan() handles.  Returns 1 with the reason in why,
 * else 0.  The driver runs such a module on the interpreter when the user
 * did not choose the engine (exec/engine.h). */
int kcompile_refuses(const IrModule *m, char *why, size_t whylen);

#endif
