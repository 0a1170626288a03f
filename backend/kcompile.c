/* kcompile.c - lower, fuse, plan (kcompile.h). */
#include "backend/kcompile.h"

#include "backend/kfuse.h"
#include "backend/lower.h"
#include "backend/memplan.h"

KFunc *kcompile(const IrModule *m, const char *name, char *err, size_t errlen)
{
    KFunc *f = lower(m, name, err, errlen);
    if (!f) return NULL;
    kfuse(f);
    if (memplan(f, err, errlen)) {
        kfunc_free(f);
        return NULL;
    }
    return f;
}
