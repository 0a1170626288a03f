/* api_slots.h - what fills each argument and result slot of a model's
 * kernels in the model API (docs/c-api.md): decided once here, from the
 * role (ir.h) of the input or output of the buffer's name, for both API
 * writers - the C file's functions (c_api.c, as C expressions) and an
 * object file's descriptor (llvm_api.c, as the (kind, index) pairs
 * runtime/model_api.c reads).
 *
 * A user input or output is a field of the caller's struct, "carry:<k>"
 * recurrent state the model keeps in two buffers (read one, write the
 * other, swap after a good call), "opt:..." optimizer state kept the same
 * way, "new:<p>" the other buffer of parameter p.  Internal to target/. */
#ifndef RNNC_API_SLOTS_H
#define RNNC_API_SLOTS_H

#include <stdint.h>

#include "kir/kir.h"
#include "ir/ir.h"
#include "runtime/model_api.h"
#include "io/tensor.h"

typedef struct ApiSlot {
    int kind;  /* RNNRT_SLOT_*; 0: a buffer the API does not know   */
    int index; /* the field, parameter, carry or optimizer state     */
} ApiSlot;

/* The slot of buffer `name` (an argument, or with result a result) of the
 * kernel of variant module m; base is the forward module, whose sizes,
 * inputs, outputs and parameters the API's structs hold. */
ApiSlot api_slot(const IrModule *base, const IrModule *m, const char *name, int result);

/* Position of input `name` among m's inputs of that role, or -1; how
 * many there are (IR_ROLE_CARRY: recurrent state carried between calls,
 * IR_ROLE_OPT_STATE: optimizer state). */
int api_index(const IrModule *m, IrRole role, const char *name);
int api_count(const IrModule *m, IrRole role);

/* Does m read the "start afresh" input (its state carries over calls)?
 * 0 no, 1 one flag, 2 one flag an example (segment_carry_ex). */
int api_has_reset(const IrModule *m);

/* The field of the sizes (0 = batch) holding m's symbol s: the base's
 * symbol of the same name; -1 if none. */
int api_size_field(const IrModule *base, const IrModule *m, int s);

/* ---- the descriptor ------------------------------------------------------------
 * runtime/model_api.h's rnnrt_model_desc as plain data, for the two
 * writers to print: the C file (c_api.c, static C data) and the object
 * file (llvm_api.c, LLVM constants).  Names point into the modules. */

typedef struct ApiKernel {
    const IrModule *m; /* NULL: the model has no such kernel            */
    const KFunc *f;
    const char *fn;       /* its function's name                          */
    const char *arena_fn; /* --emit=obj: its arena function's, NULL in C   */
    const KFunc *prep;    /* its prepare function (kprepare.h), or NULL    */
    const char *prep_fn;
    int64_t *prep_args, *prep_results; /* prep's (kind, index) pairs        */
    int nsyms;
    int64_t *sym;            /* the sizes field of each symbol                */
    int64_t *args, *results; /* f->nargs, f->nresults (kind, index) pairs */
    int ncarry;
    int64_t *carry; /* RNNRT_SHAPE_WORDS each                        */
    int has_reset;
    int64_t *arena; /* f->arena_bytes as words (runtime/sizes.h)     */
    int narena;
} ApiKernel;

typedef struct ApiDesc {
    const char *prefix;
    int nsizes, ninputs, noutputs, ntargets, nparams, nopt;
    const char **size_names, **input_names, **output_names, **target_names, **param_names;
    int64_t *param_shapes, *param_numel, *opt;
    ApiKernel k[3];          /* forward (the base module), step, train        */
    int npacks;              /* the weights' packs the model keeps, one per key */
    const char **pack_names; /* their keys (kprepare.h)                  */
    int64_t *pack_floats;    /* their sizes                                */
    float **embedded;        /* nparams arrays (--embed-weights), or NULL     */
    /* RNNRT_IN_* and the shape words of each input, target and output */
    int64_t *input_kinds, *input_shapes, *target_kinds, *target_shapes, *output_kinds, *output_shapes;
} ApiDesc;

/* Compiles the kernel of variant `kind` ("forward", "step", "train") of
 * the API (kcompile.h), for both writers alike.  The forward pass and the
 * step read the same weights call after call: they keep their packs
 * (kcompile_prepared; *prep is the prepare function, or NULL).  The
 * training step gets new weights at every call and packs them itself
 * (*prep NULL).  NULL with a message in err. */
KFunc *api_kernel_compile(const IrModule *m, const char *kind, KFunc **prep, char *err, size_t errlen);

/* Fills d for the kernels in k[0..2] (m, f, fn and arena_fn set by the
 * caller, and prep and prep_fn when the kernel has a prepare function;
 * k[0] is the forward pass, whose module is the base).  A prepared
 * argument of a kernel and a result of a prepare function is pack slot p
 * (RNNRT_SLOT_PACK), p numbering the distinct keys of all kernels in
 * order, so that the forward pass and the step share the packs of the
 * same weights.  Returns
 * 0, or -1 with a message (a buffer the API does not know: a bug); then
 * and after use api_desc_free. */
int api_desc_build(ApiDesc *d, const char *prefix, const ApiKernel k[3], char *err, size_t errlen);
void api_desc_free(ApiDesc *d);

/* ---- embedded weights (--embed-weights) ------------------------------------------
 * Parameter i of m in w (F32 or F64 by name, already checked against m by
 * ir_bind_params) as a new float array, as the file will hold it.  Returns
 * NULL with a message naming the parameter and the element when a value
 * is a NaN or does not fit a float (an infinity), or when out of memory. */
float *api_param_floats(const IrModule *m, const TensorMap *w, int i, char *err, size_t errlen);

/* Checks w against d's base module's parameters (ir_bind_params: names,
 * shapes) and fills d->embedded, which api_desc_free frees.  Returns 0, or
 * -1 with a message. */
int api_desc_embed(ApiDesc *d, const TensorMap *w, char *err, size_t errlen);

#endif
