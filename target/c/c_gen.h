/* c_gen.h - what the two halves of the C file writer share: c_file.c
 * (lowering the variants, the runtime, the kernels, the embedded weights)
 * and c_api.c (the API's declarations, the model's descriptor and the
 * API functions).
 * Internal to target/. */
#ifndef RNNC_C_GEN_H
#define RNNC_C_GEN_H

#include <stdio.h>

#include "target/c/c_file.h"
#include "kir/kir.h"
#include "ir/ir.h"

/* One kernel of the file: a variant's module, its kernel IR, and the
 * names of its two C functions. */
typedef struct CVar {
    const IrModule *m; /* NULL: the file has no such variant      */
    KFunc *f;
    char fn[160];      /* "charlm_kernel_forward"                  */
    KFunc *prep;       /* its prepare function (kprepare.h), or NULL */
    char prep_fn[180]; /* "charlm_kernel_forward_prepare"        */
} CVar;

typedef struct CGen {
    FILE *c;
    const CFileOptions *o;
    const char *P;        /* the prefix                               */
    const IrModule *base; /* the forward module: sizes, inputs, outputs, parameters */
    CVar fwd, step, train;
    int embedded;
} CGen;

/* The C type of an element: "float", "int64_t". */
const char *cg_ctype(IrDType dt);

/* name as a C identifier for a struct field: itself, or with a trailing
 * '_' when it is a C keyword; '.' as '_' (a lengths input "x.len": x_len). */
const char *cg_field(const char *name, char *buf, size_t n);

/* The sizes field of symbol s of m: "batch" for B, else its name. */
const char *cg_sym_field(const IrModule *m, int s);

/* c_api.c: the declarations (the header's body); the model's descriptor
 * and the API functions, which call runtime/model_api.c. */
void cg_api_decls(const CGen *g, FILE *out);
int cg_api_defs(const CGen *g, char *err, size_t errlen);

#endif
