/* checkpoint.h - the training checkpoint: one safetensors file holding
 * everything `rnnc train --resume` needs to continue bit for bit, and what
 * `rnnc sample` needs to map ids back to characters.
 *
 * Tensor names in the file:
 *   <param>              the weights, under the parameters' own names (so
 *                        the file is also a weights file for run/grad
 *                        after dropping the rest; rnnc sample reads it)
 *   opt:<p>.<slot>       optimizer state (passes/train_step.h's names)
 *   carry:<k>            the carried recurrent state, only mid-sequence
 *   train:step           I64 [1]  optimizer updates done
 *   train:epoch          I64 [1]  the current epoch (0-based)
 *   train:batch          I64 [1]  the next batch of the epoch
 *   train:segment        I64 [1]  the next TBPTT segment of that batch
 *   train:rng            I64 [4]  RNG state at the start of the epoch
 *                                 (xoshiro words bit-cast to int64)
 *   train:seed           I64 [1]  the run's seed, the first word of the
 *                                 dropout masks' key (driver/dropout_key.h)
 *   train:vocab          I32 [V]  text data: the byte of each token id
 *   train:epoch_loss     F64 [1]  the sum of the current epoch's step losses
 *   train:epoch_steps    I64 [1]  ... and their number, so that a resumed
 *                                 run's epoch summary is the whole epoch's
 *   train:epoch_right    I64 [1]  a classifier's positions right in the
 *   train:epoch_positions I64 [1] epoch so far, of so many (accuracy)
 * The file is written to a temporary name and renamed (rt_st_write). */
#ifndef RNNC_CHECKPOINT_H
#define RNNC_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "exec/rng.h"
#include "io/tensor.h"
#include "ir/ir.h"

#define CKPT_META_PREFIX "train:"
#define CKPT_VOCAB       "train:vocab"

typedef struct TrainState {
    int64_t step, epoch, batch, segment;
    uint64_t rng[RT_RNG_STATE_WORDS];
    TensorMap params; /* by parameter name                       */
    TensorMap opt;    /* "opt:<p>.<slot>"                         */
    TensorMap carry;  /* "carry:<k>"; empty at a sequence start    */
    unsigned char vocab[256];
    int nvocab;   /* 0: no vocabulary (not text data)         */
    int64_t seed; /* the run's seed: dropout's key ...        */
    int has_seed; /* ... read from the checkpoint (older ones have none) */
    /* the current epoch so far, for its summary: the sum of the steps'
     * losses, the steps, and a classifier's positions right of counted */
    double epoch_loss;
    int64_t epoch_steps, epoch_right, epoch_positions;
} TrainState;

void ckpt_init(TrainState *s);
void ckpt_free(TrainState *s);

/* Deep copy of t. Returns 0, or -1 out of memory. */
int tensor_copy(Tensor *dst, const Tensor *src);

int ckpt_write(const char *path, const TrainState *s, char *err, size_t errlen);
/* Reads a checkpoint (or a plain weights file: then every counter is 0 and
 * has_meta is 0) for module m, whose inputs' roles (ir.h) sort the
 * entries: one named as an IR_ROLE_OPT_STATE input goes into s->opt, as
 * an IR_ROLE_CARRY input into s->carry, any other into s->params (where
 * ir_bind_params() says if it is no parameter of m).  Returns 0 or -1 with
 * a message naming the file. */
int ckpt_read(const char *path, const IrModule *m, TrainState *s, int *has_meta, char *err, size_t errlen);

/* The checks of a checkpoint given to `rnnc train --resume` that need
 * only the training step m (ckpt_read has sorted the entries by m's
 * roles) and the run's batch size: it is one (it has 'train:' entries,
 * has_meta), every entry is a parameter of m or state of its training
 * step, the parameters are all there with their shapes (ir_bind_params),
 * the RNG state is one the generator can have, every optimizer state m
 * takes is there, F32 of its shape, and a checkpoint that stopped
 * mid-sequence has every carried state, F32 of its shape with B = batch
 * (else the first step would refuse it, without naming the file).  What
 * else depends on the data (the batch and segment, the vocabulary) is the
 * caller's.  Returns 0, or -1 with a message naming the file. */
int ckpt_check_resume(const char *path, const IrModule *m, const TrainState *s, int has_meta, int64_t batch, char *err,
                      size_t errlen);

/* Drops from s->params every entry that is not a parameter of m: for a
 * caller that wants only the weights of a training checkpoint, whose
 * optimizer or carried state m does not take. */
void ckpt_keep_params(TrainState *s, const IrModule *m);

#endif
