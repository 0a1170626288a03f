/* c_file.h - one model as one C file with a small reentrant API: what
 * `rnnc compile` writes (docs/c-api.md describes the API it has).
 *
 * The file holds, in this order: the API declarations (or an #include of
 * the header written beside it), the runtime (its amalgamated source,
 * target/c/rt_source.h, or `#include "rnnrt.h"` to link with librnnrt.a),
 * the runtime's model API (runtime/model_api.h; its code, with the
 * safetensors reader and writer, inline or from librnnrt.a), one kernel
 * function for each variant (forward, and when given the streaming step
 * and the training step; see passes/pipeline.h) as emit_c.h writes them, the
 * embedded weights if any, the model's descriptor and the API functions
 * (c_api.c), which call the runtime's: it keeps every piece of state in
 * the model object: weights, the arena, the recurrent state of the step
 * and of truncated BPTT, the optimizer state.  No global state.
 *
 * Nothing in the file depends on a sequence length: the lengths are
 * arguments of NAME_create (the maxima, which size the arena) and of each
 * call. */
#ifndef RNNC_C_FILE_H
#define RNNC_C_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "ir/ir.h"
#include "passes/train_step.h"
#include "io/tensor.h"

typedef struct CFileOptions {
    const char *prefix;       /* starts every name of the API: "charlm" -> charlm_create */
    const char *source;       /* the .rnn file, named in the top comment                */
    const char *header;       /* the header as the .c includes it ("model.h"); NULL:
                                      the declarations are in the .c itself               */
    int runtime_link;         /* 1: #include "rnnrt.h"; 0: the runtime inline             */
    const TensorMap *weights; /* embed these (F32 or F64, by parameter name); NULL: none  */
    TrainConfig cfg;          /* the training step's settings (train only), described
                                      in the file's comments                                 */
    int tbptt;                /* train: carry the recurrent state across calls           */
} CFileOptions;

/* Writes the C file to `c` and, when h is not NULL, the header to h.
 * fwd is the forward module (pipeline_forward), step and train the other
 * variants or NULL; all built from the same model.  Returns 0, or -1 with
 * a message (a prefix that is not a C identifier, weights that do not fit,
 * an op the backend cannot lower). */
int c_file_write(FILE *c, FILE *h, const IrModule *fwd, const IrModule *step, const IrModule *train,
                 const CFileOptions *o, char *err, size_t errlen);

/* Writes only the header: the same text c_file_write writes to h for the
 * same modules and options (o->weights must be NULL).  The header of an
 * object file of `rnnc compile --emit=obj` (llvm_file.h), whose API has
 * the same functions. */
int c_file_write_header(FILE *h, const IrModule *fwd, const IrModule *step, const IrModule *train,
                        const CFileOptions *o, char *err, size_t errlen);

/* Is s usable as a C identifier (and so as a prefix)? */
int c_is_identifier(const char *s);

#endif
