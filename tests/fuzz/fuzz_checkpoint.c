/* fuzz_checkpoint.c - a checkpoint given to `rnnc train --resume`, or
 * weights to -w, on any bytes: ckpt_read (driver/checkpoint.c: the
 * safetensors reader, then every 'train:' entry, the others sorted by the
 * training step's roles), then the checks of --resume
 * (ckpt_check_resume) and of -w (ckpt_keep_params, ir_bind_params), as
 * driver/cmd_train.c's init_state makes them.
 *
 * The training step is that of a small LSTM model (Adam, the state
 * carried between TBPTT segments), so a checkpoint has parameters,
 * optimizer state, carried state and every counter.
 *
 * FUZZ_WRITE_SEED=PATH: writes a valid checkpoint of that model to PATH
 * and exits (tests/fuzz/run.sh makes the seed corpus with it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/checkpoint.h"
#include "frontend/ast.h"
#include "frontend/sema.h"
#include "ir/bind.h"
#include "passes/pipeline.h"
#include "passes/train_step.h"
#include "fuzz_util.h"

static const char model_src[] = "model k {\n"
                                "  input  x : seq<[2]>\n"
                                "  target y : seq<[1]>\n"
                                "  h    = lstm(x, hidden=2)\n"
                                "  yhat = dense(h, 1)\n"
                                "  output yhat\n"
                                "  loss = mse(yhat, y)\n"
                                "}\n";

static IrModule *step; /* the training step, built once */

/* A zero tensor of IR type ty, B = 1, into map under name. */
static void put_zeros(TensorMap *map, const char *name, const IrType *ty)
{
    int64_t shape[RT_MAX_RANK];
    for (int k = 0; k < ty->rank; k++) shape[k] = ty->dim[k] < 0 ? 1 : ty->dim[k];
    Tensor t;
    if (rt_tensor_alloc(&t, RT_F32, ty->rank, shape) || rt_map_put(map, name, &t)) abort();
}

/* A checkpoint of `step` that ckpt_check_resume accepts, mid-sequence. */
static void write_seed(const char *path)
{
    TrainState s;
    ckpt_init(&s);
    s.step = 3, s.epoch = 1, s.batch = 0, s.segment = 1;
    s.rng[0] = 1;
    s.nvocab = 2, s.vocab[0] = 'a', s.vocab[1] = 'b';
    for (int i = 0; i < step->nparams; i++) put_zeros(&s.params, step->params[i].name, &step->params[i].value->type);
    for (int i = 0; i < step->ninputs; i++) {
        const IrInput *in = &step->inputs[i];
        if (in->role == IR_ROLE_OPT_STATE) put_zeros(&s.opt, in->name, &in->value->type);
        if (in->role == IR_ROLE_CARRY) put_zeros(&s.carry, in->name, &in->value->type);
    }
    char err[512];
    if (ckpt_write(path, &s, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    ckpt_free(&s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    Diag d;
    diag_init(&d, "model.rnn", model_src, stderr);
    Program *p = parse_program("model.rnn", model_src, &d);
    step = p ? sema_build(p, NULL, &d) : NULL;
    char err[512];
    TrainConfig cfg = train_config_default();
    PipeOpts po = {.carry = 1};
    if (!step || pipeline_train(step, &cfg, &po, err, sizeof err)) {
        fprintf(stderr, "fuzz_checkpoint: the model does not build\n");
        abort();
    }
    ast_free(p);
    const char *seed = getenv("FUZZ_WRITE_SEED");
    if (seed) {
        write_seed(seed);
        exit(0);
    }
    return 0;
}

/* A message must name the file. */
static void named(const char *err, const char *path)
{
    if (!strstr(err, path)) {
        fprintf(stderr, "fuzz_checkpoint: the message does not name the file: %s\n", err);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write("ckpt.safetensors", data, size);
    char err[1024] = "";
    TrainState s;
    int has_meta;
    if (ckpt_read(path, step, &s, &has_meta, err, sizeof err)) {
        named(err, path);
        return 0;
    }
    if (ckpt_check_resume(path, step, &s, has_meta, 1, err, sizeof err)) named(err, path);
    /* as -w: the weights alone */
    if (has_meta) ckpt_keep_params(&s, step);
    if (ir_bind_params(step, &s.params, path, err, sizeof err)) named(err, path);
    ckpt_free(&s);
    return 0;
}
