/* model_api.h - the model API of docs/c-api.md as model-independent code
 * (runtime/model_api.c, in librnnrt.a), driven by a constant per-model
 * descriptor.
 *
 * Both outputs of `rnnc compile` use it: a C file writes the descriptor
 * as static C data and NAME_create, NAME_forward, ... as thin functions
 * calling rnnrt_model_* with it (target/c/c_api.c), carrying this code as
 * text (or, with --runtime=link, from librnnrt.a); an object file of
 * --emit=obj|asm|llvm writes the same as LLVM constants and functions
 * (target/llvm/llvm_api.c) and links with librnnrt.a.  Both build the
 * descriptor from one description (target/api_slots.c: among others what
 * fills each argument slot of a kernel, as (kind, index) pairs).
 *
 * Layout: every field is an int64_t or a pointer, so the LLVM backend's
 * struct constants have the C compiler's layout on every target.  The
 * caller's structs are read as arrays: NAME_sizes as int64_t[nsizes]
 * (batch, then each length), NAME_inputs / NAME_outputs / NAME_targets as
 * arrays of pointers, one a field, in declaration order. */
#ifndef RNNC_MODEL_API_H
#define RNNC_MODEL_API_H

#include <stddef.h>
#include <stdint.h>

#define RNNRT_MODEL_DESC_VERSION 5 /* 3: prepare, packs; 4: inputs' kinds and shapes, per-example reset; 5: outputs' */
#define RNNRT_SHAPE_WORDS        5 /* rank, then 4 dims: >= 0 fixed, < 0 sizes field -d-1 */

/* The status codes: NAME_OK, NAME_ERR_ARG, ... of the header. */
enum {
    RNNRT_OK = 0,
    RNNRT_ERR_ARG = 1,
    RNNRT_ERR_NOMEM = 2,
    RNNRT_ERR_IO = 3,
    RNNRT_ERR_FORMAT = 4,
    RNNRT_ERR_WEIGHTS = 5,
    RNNRT_ERR_DATA = 6,
    RNNRT_ERR_NAN = 7,
    RNNRT_ERR_STATE = 8
};

/* What an input or a target is (rnnrt_model_desc's input_kinds). */
enum {
    RNNRT_IN_F32 = 0,    /* float data                                                     */
    RNNRT_IN_I64 = 1,    /* token ids                                                      */
    RNNRT_IN_LENGTHS = 2 /* "x.len": the caller gives int64_t lengths [B], the kernels read
                            the mask [T_x, B, 1] made of them (docs/language.md, "Lengths") */
};

/* What fills a kernel's argument or result slot. */
enum {
    RNNRT_SLOT_INPUT = 1,   /* field `index` of the caller's inputs                     */
    RNNRT_SLOT_TARGET,      /* field `index` of the caller's targets                    */
    RNNRT_SLOT_OUTPUT,      /* field `index` of the caller's outputs                    */
    RNNRT_SLOT_PARAM,       /* the current weights of parameter `index`                 */
    RNNRT_SLOT_PARAM_NEXT,  /* the other buffer of parameter `index` (the update)       */
    RNNRT_SLOT_CARRY,       /* recurrent state `index`: read [cur], write the other      */
    RNNRT_SLOT_OPT,         /* optimizer state `index`, the current buffer               */
    RNNRT_SLOT_OPT_NEXT,    /* optimizer state `index`, the other buffer                 */
    RNNRT_SLOT_RESET,       /* the kernel's "start afresh" flag (float, 1 or 0)          */
    RNNRT_SLOT_STEP_NUMBER, /* the update's number, from 1 (float)                       */
    RNNRT_SLOT_LOSS,        /* the loss (float)                                          */
    RNNRT_SLOT_GRAD_NORM,   /* the gradient norm (float)                                 */
    RNNRT_SLOT_DROPOUT_KEY, /* the dropout masks' key: int64_t (seed, steps done)        */
    RNNRT_SLOT_PACK         /* weight pack `index`, made by a prepare function           */
};

typedef int rnnrt_kernel_fn(const int64_t *sym, const void *const *arg, void *const *res, void *arena, char *err,
                            size_t errlen);

/* One kernel (forward, step or train); fn NULL: the model has none. */
typedef struct rnnrt_kernel_desc {
    rnnrt_kernel_fn *fn;
    const int64_t *arena; /* its arena bytes as words of runtime/sizes.h        */
    int64_t nsyms;        /* the kernel's symbols ...                                */
    const int64_t *sym;   /* ... as fields of the sizes (0 = batch)                  */
    int64_t nargs;
    const int64_t *args; /* nargs (kind, index) pairs                              */
    int64_t nresults;
    const int64_t *results; /* nresults (kind, index) pairs                           */
    int64_t ncarry;         /* recurrent state buffers (RNNRT_SLOT_CARRY) ...           */
    const int64_t *carry;   /* ... their shapes, RNNRT_SHAPE_WORDS each                */
    int64_t has_reset;      /* an RNNRT_SLOT_RESET argument: state carries over calls;
                               1: a float, 2: one float an example [B] (reset_example) */
    /* The kernel's prepare function (lower/kprepare.h), or NULL: it packs
     * the weights (its PARAM arguments) into the model's packs (its PACK
     * results), which the kernel reads as PACK arguments.  Run before the
     * kernel's first call with the current weights; it needs no arena. */
    rnnrt_kernel_fn *prepare;
    int64_t nprep_args;
    const int64_t *prep_args;
    int64_t nprep_results;
    const int64_t *prep_results;
} rnnrt_kernel_desc;

typedef struct rnnrt_model_desc {
    int64_t version;               /* RNNRT_MODEL_DESC_VERSION                        */
    const char *prefix;            /* "forecast": starts every message                */
    int64_t nsizes;                /* fields of NAME_sizes                            */
    const char *const *size_names; /* "batch", "T_x"                                  */
    int64_t ninputs;
    const char *const *input_names;
    int64_t noutputs;
    const char *const *output_names;
    int64_t ntargets; /* train: the targets                              */
    const char *const *target_names;
    int64_t nparams;
    const char *const *param_names; /* state_dict names, in order                      */
    const int64_t *param_shapes;    /* RNNRT_SHAPE_WORDS each, fixed dims              */
    const int64_t *param_numel;
    int64_t nopt;                 /* train: optimizer state buffers ...              */
    const int64_t *opt;           /* ... their shapes                                */
    const float *const *embedded; /* the weights in the program, or NULL             */
    int64_t npacks;               /* packed weights the model keeps ...              */
    const int64_t *pack_floats;   /* ... the floats of each                          */
    rnnrt_kernel_desc forward, step, train;
    /* RNNRT_IN_* and the shape (RNNRT_SHAPE_WORDS each) of each input and
     * target; a lengths input has its mask's, [T_x, B, 1]: the sequences
     * of its T_x are zeroed at each example's padded steps (copies of the
     * caller's), which are never read, as rnnc's own ir/lengths.c does. */
    const int64_t *input_kinds, *input_shapes;
    const int64_t *target_kinds, *target_shapes;
    /* The same of each output (RNNRT_IN_F32 or RNNRT_IN_I64): a call over
     * whole sequences runs to the longest example and zeroes the rest of
     * the outputs of its length (docs/c-api.md, "Lengths"). */
    const int64_t *output_kinds, *output_shapes;
} rnnrt_model_desc;

typedef struct rnnrt_model rnnrt_model;

/* RNNRT_MODEL_API: nothing in librnnrt.a; a generated C file that carries
 * this code (--runtime=inline) defines it as `static` first. */
#ifndef RNNRT_MODEL_API
#define RNNRT_MODEL_API
#endif

/* The API of docs/c-api.md; d must outlive the model.  sizes, inputs,
 * outputs and targets are the caller's NAME_ structs. */
RNNRT_MODEL_API int rnnrt_model_create(const rnnrt_model_desc *d, rnnrt_model **model, const int64_t *max, char *err,
                                       size_t errlen);
RNNRT_MODEL_API void rnnrt_model_free(rnnrt_model *m);
RNNRT_MODEL_API const char *rnnrt_model_errmsg(const rnnrt_model *m);
RNNRT_MODEL_API int rnnrt_model_load_weights(rnnrt_model *m, const char *path);
RNNRT_MODEL_API int rnnrt_model_save_weights(rnnrt_model *m, const char *path);
RNNRT_MODEL_API int rnnrt_model_forward(rnnrt_model *m, const int64_t *n, const void *const *in, void *const *out);
RNNRT_MODEL_API int rnnrt_model_step(rnnrt_model *m, int64_t batch, const void *const *in, void *const *out);
RNNRT_MODEL_API void rnnrt_model_reset(rnnrt_model *m);
RNNRT_MODEL_API int rnnrt_model_reset_example(rnnrt_model *m, int64_t b);
RNNRT_MODEL_API int rnnrt_model_train_step(rnnrt_model *m, const int64_t *n, const void *const *in,
                                           const void *const *tg, float *loss);
RNNRT_MODEL_API float rnnrt_model_grad_norm(const rnnrt_model *m);
RNNRT_MODEL_API int64_t rnnrt_model_steps_done(const rnnrt_model *m);
RNNRT_MODEL_API void rnnrt_model_set_seed(rnnrt_model *m, int64_t seed);
RNNRT_MODEL_API int rnnrt_model_num_params(const rnnrt_model_desc *d);
RNNRT_MODEL_API const char *rnnrt_model_param_name(const rnnrt_model_desc *d, int i);
RNNRT_MODEL_API int rnnrt_model_param_rank(const rnnrt_model_desc *d, int i);
RNNRT_MODEL_API const int64_t *rnnrt_model_param_dims(const rnnrt_model_desc *d, int i);
RNNRT_MODEL_API int64_t rnnrt_model_param_numel(const rnnrt_model_desc *d, int i);
RNNRT_MODEL_API const float *rnnrt_model_param_data(const rnnrt_model *m, int i);

#endif
