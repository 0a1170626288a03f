/* kcompile.h - the backend's pipeline from an optimized graph-IR module to
 * kernel IR ready to emit: lower (lower.h), fuse element-wise loops
 * (kfuse.h), plan memory (memplan.h).  Every emitter (the C file, the C
 * engine, the LLVM JIT) and `rnnc dump --stage=kernel` start here, so they
 * all see the same program. */
#ifndef RNNC_KCOMPILE_H
#define RNNC_KCOMPILE_H

#include <stddef.h>

#include "backend/kir.h"
#include "ir/ir.h"

/* Returns the planned function (free with kfunc_free), or NULL with a
 * message in err. */
KFunc *kcompile(const IrModule *m, const char *name, char *err, size_t errlen);

#endif
