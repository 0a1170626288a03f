/* run_setup.h - what the commands that run a module share to set the run
 * up: the weights (from a file, or fresh as `rnnc init` makes them), the
 * -i NAME=x.npy inputs and the --precision option.
 *
 * Every function prints its own message ("rnnc: ..." or a usage error)
 * and returns 0, 1 (the user's input is wrong) or EXIT_USAGE, the
 * command's exit status. */
#ifndef RNNC_RUN_SETUP_H
#define RNNC_RUN_SETUP_H

#include <stdint.h>

#include "driver/cli.h"
#include "exec/engine.h"
#include "ir/interp.h"
#include "io/tensor.h"

/* --precision f32|f64 (default f32) into *prec. */
int run_precision(const Command *c, const CliArgs *a, IrPrecision *prec);

/* --engine interp|c|jit into *e (engine.h; engine_close() it).  Without
 * --engine: $RNNC_ENGINE, else jit (engine_default_name()), except that
 * --precision f64 picks the interpreter; an engine not chosen with
 * --engine falls back to the interpreter for a module it refuses
 * (engine_allow_fallback()).  The compiled engines compute in float32
 * only: --engine=c|jit with --precision f64 is a usage error. */
int run_engine(const Command *c, const CliArgs *a, IrPrecision prec, Engine *e);

/* Splits "NAME=path", the value of option `opt` ("-i", "-o"), into name
 * (n bytes) and *path. */
int run_binding(const Command *c, const char *opt, const char *v, char *name, size_t n, const char **path);

/* Reads every -i NAME=x.npy into `inputs`; a name given twice is an error. */
int run_read_inputs(const Command *c, const CliArgs *a, TensorMap *inputs);

/* Every name of inputs is an input or a target of m (the model as
 * declared, before a pipeline drops the targets a run does not need);
 * else an error naming the nearest one and listing them all. */
int run_check_input_names(const IrModule *m, const TensorMap *inputs);

/* Removes from w the training state of a checkpoint (opt:*, carry:*,
 * train:*), leaving the weights. */
void run_drop_train_state(TensorMap *w);

/* Reads the weights file `path` into w, a checkpoint's training state
 * dropped, and checks it against m's parameters.  With no path, a model
 * with parameters is an error that says how to make a weights file. */
int run_load_weights(const IrModule *m, const char *path, TensorMap *w);

/* Fresh weights for every parameter of m, exactly as `rnnc init --seed
 * seed` makes them. */
int run_init_weights(const IrModule *m, uint64_t seed, TensorMap *w);

#endif
