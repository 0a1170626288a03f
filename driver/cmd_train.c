/* cmd_train.c - `rnnc train`: run a model's train block.
 *
 * The module that one step runs is built once by the training recipe
 * (pipeline_train: segment_carry with tbptt, autodiff, train_step), so a
 * single run of it computes the loss, the gradients, clipping and
 * the optimizer update ("new:<p>", "new:opt:<p>.<slot>") and the state to
 * carry into the next segment ("carry:<k>").  The loop here only moves
 * tensors: data in, new parameters and state back in for the next step.
 * It runs the module through an Engine (engine.h): the LLVM JIT by
 * default, compiled C, or the interpreter.
 *
 * Position in the data is (epoch, batch, segment).  Each epoch draws one
 * permutation of the items from the RNG; the checkpoint stores the RNG
 * state from before that draw, so a resumed run redraws the same
 * permutation and continues bit for bit.  Dropout's masks need no state:
 * each step's key is (the run's seed, the updates done), both in the
 * checkpoint (driver/dropout_key.h).
 *
 * Under mpirun (driver/dist.h), or with --deterministic or --micro-batch,
 * a step is driver/dist_step.h's instead: its two halves, the gradients of
 * this process's share of the batch and, after they are summed over the
 * processes, the update.  Then every process runs this loop in step, and
 * rank 0 alone evaluates, logs and writes files (docs/distributed.md). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/accuracy.h"
#include "driver/carry.h"
#include "driver/checkpoint.h"
#include "driver/cli.h"
#include "driver/dist.h"
#include "driver/dist_msgs.h"
#include "driver/dist_step.h"
#include "driver/dropout_key.h"
#include "driver/input_layout.h"
#include "exec/engine.h"
#include "driver/loss_log.h"
#include "driver/progress.h"
#include "driver/run_setup.h"
#include "driver/train_config.h"
#include "driver/train_data.h"
#include "ir/bind.h"
#include "ir/lengths.h"
#include "passes/history.h"
#include "passes/pipeline.h"

/* Set by Ctrl-C; the loop checks it between steps. */
static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct Trainer {
    const Engine *engine;
    IrModule *m;   /* the training step                        */
    IrModule *fwd; /* forward only (eval), same carries         */
    /* tbptt_back > tbptt (TBPTT(k1, k2)): the training step with the
     * "hist:" steps before the new ones (passes/history.h), for every
     * segment but the first, and the forward step without the loss that
     * moves the carried state to the next window's start. */
    IrModule *hist, *adv;
    TrainSettings ts;
    Dataset data;
    DataSplit train, eval;
    int64_t seg_len; /* tbptt k (k1)                              */
    int64_t back;    /* tbptt_back (k2 >= k1)                     */
    int64_t nseg;    /* segments of one sequence                  */
    int64_t total;   /* steps of the whole run                    */
    /* the target a cross_entropy loss reads, NULL: no accuracy (accuracy.h) */
    const char *acc_target;
    TrainState st;
    RtRng rng;
    int64_t *perm;
    int64_t *eval_perm;   /* the eval part sorted by length (data_sort_items) */
    const char *ckpt;     /* where checkpoints go                      */
    FILE *csv, *eval_csv; /* eval_csv: NULL without eval data         */
    char csv_path[700], eval_path[700], svg_path[700];
    Progress prog;
    int64_t good_step; /* step of the last checkpoint written/read, -1: none */
    const char *good_path;
    /* data-parallel (dist_step.h): dist set, steps run by ds; stop: some
     * process was interrupted (all stop after the same step) */
    int dist, deterministic, rank, stop;
    int agreed; /* dist_start has run: a failure now ends every process (MPI_Abort), but one all agree on */
    int64_t micro;
    DistStep ds;
    char err[1024];
} Trainer;

/* ---- small helpers ------------------------------------------------------------ */

static double scalar(const Tensor *t)
{
    return t->dtype == RT_F64 ? ((const double *)t->data)[0] : ((const float *)t->data)[0];
}

static int put_scalar(TensorMap *m, const char *name, float v)
{
    Tensor t;
    if (rt_tensor_alloc(&t, RT_F32, 0, NULL)) return -1;
    ((float *)t.data)[0] = v;
    if (rt_map_put(m, name, &t)) {
        rt_tensor_free(&t);
        return -1;
    }
    return 0;
}

/* The input with that role (the first), or NULL. */
static const IrInput *role_input(const IrModule *m, IrRole role)
{
    for (int i = 0; i < m->ninputs; i++)
        if (m->inputs[i].role == role) return &m->inputs[i];
    return NULL;
}

/* Moves the output `name` of `out` into map `dst` under `as`. */
static int take(TensorMap *out, const char *name, TensorMap *dst, const char *as)
{
    Tensor *t = rt_map_get(out, name);
    if (!t) return cli_error("internal error: the training step computed no '%s'", name);
    Tensor moved = *t;
    memset(t, 0, sizeof *t);
    if (rt_map_put(dst, as, &moved)) {
        rt_tensor_free(&moved);
        return cli_error("out of memory");
    }
    return 0;
}

/* ---- setting up ------------------------------------------------------------- */

/* A data file that cannot be opened is named as it was tried, with why,
 * and with where its name came from and what it is relative to: a name
 * in a train block is relative to the model file's folder, not to the
 * current directory (docs/training.md). */
static int open_check(const TrainSettings *ts, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        return 0;
    }
    return cli_error("cannot open the data file %s: %s\n  (%s)", path, strerror(errno), ts->data_note);
}

static int load_data(Trainer *tr)
{
    TrainSettings *ts = &tr->ts;
    int rc;
    int lengths = ir_has_lengths(tr->m);
    for (int i = 0; i < (ts->data_kind == DATA_NPY ? ts->ndata : 1); i++)
        if (open_check(ts, ts->data_kind == DATA_NPY ? ts->data_paths[i] : ts->data_path)) return 1;
    if (ts->data_fell_back)
        fprintf(stderr,
                "rnnc: note: a data file of the train block is not in the model file's folder; read %s of the current "
                "directory (docs/training.md)\n",
                ts->data_kind == DATA_NPY ? "the files" : ts->data_path);
    if (ts->data_kind == DATA_NPY) {
        const char *names[DATA_MAX_ARRAYS], *paths[DATA_MAX_ARRAYS];
        for (int i = 0; i < ts->ndata; i++) {
            names[i] = ts->data_names[i];
            paths[i] = ts->data_paths[i];
        }
        rc = data_load_npy(&tr->data, names, paths, ts->ndata, tr->err, sizeof tr->err);
    } else if (ts->data_kind == DATA_CSV) {
        /* a model with lengths takes examples, one a row; else a time series */
        rc = lengths ? data_load_csv_examples(&tr->data, ts->data_path, tr->m, tr->err, sizeof tr->err)
                     : data_load_csv(&tr->data, ts->data_path, tr->err, sizeof tr->err);
    } else {
        rc = lengths ? data_load_text_examples(&tr->data, ts->data_path, tr->m, tr->err, sizeof tr->err)
                     : data_load_text(&tr->data, ts->data_path, tr->err, sizeof tr->err);
    }
    if (rc || data_bind(&tr->data, tr->m, tr->err, sizeof tr->err)) return cli_error("%s", tr->err);
    input_layout_warn_data(&tr->data);
    if (ts->bucket && !tr->data.lengths)
        return cli_error("bucket = %lld sorts examples by their lengths, and model '%s' has no input with lengths",
                         (long long)ts->bucket, tr->m->name);
    if (!ts->seq_len) ts->seq_len = data_default_seq_len(&tr->data);
    if (!ts->seq_len) ts->seq_len = 50;
    /* examples with lengths cut into segments: a segment's loss is over
     * each example's steps in it, so the loss must be over the steps (a
     * tagger's); one label an example has no steps to cut */
    if (tr->data.nmore && ts->tbptt && ts->tbptt < ts->seq_len)
        return cli_error("tbptt = %lld: truncated BPTT of an encoder-decoder is not supported (model '%s' has inputs "
                         "with lengths of their own, '%s' and '%s'; each side's steps would need cutting of their own)",
                         (long long)ts->tbptt, tr->m->name, tr->data.len_input, tr->data.more[0].input);
    if (tr->data.lengths && ts->tbptt && ts->tbptt < ts->seq_len && !tr->data.cut_target)
        return cli_error("tbptt = %lld: truncated BPTT of examples with lengths needs a target at every step of "
                         "'%.*s' (a tagger's), whose loss each segment takes its part of; model '%s' has one target "
                         "value an example",
                         (long long)ts->tbptt, (int)strlen(tr->data.len_input) - 4, tr->data.len_input, tr->m->name);
    if (ts->tbptt > ts->seq_len)
        return cli_error("tbptt = %lld is longer than seq_len = %lld", (long long)ts->tbptt, (long long)ts->seq_len);
    if (train_settings_check_back(ts, tr->err, sizeof tr->err)) return cli_error("%s", tr->err);
    if (data_split(&tr->data, ts->eval, ts->batch, ts->seq_len, &tr->train, &tr->eval, tr->err, sizeof tr->err))
        return cli_error("%s", tr->err);
    tr->seg_len = ts->tbptt ? ts->tbptt : ts->seq_len;
    tr->back = ts->tbptt_back > tr->seg_len ? ts->tbptt_back : tr->seg_len;
    tr->nseg = (ts->seq_len + tr->seg_len - 1) / tr->seg_len;
    /* epochs x batches x segments, checked: a run has at most
     * TRAIN_MAX_INT steps, as `steps` (docs/training.md, "Limits") */
    int64_t per_epoch = 0, total = ts->steps;
    if (!ts->steps && (__builtin_mul_overflow(tr->train.nbatches, tr->nseg, &per_epoch) ||
                       __builtin_mul_overflow(ts->epochs, per_epoch, &total) || total > TRAIN_MAX_INT))
        return cli_error("epochs = %lld is too many: %lld epochs of %lld batches x %lld segments are %.4g steps, "
                         "more than a run may have (10^15)",
                         (long long)ts->epochs, (long long)ts->epochs, (long long)tr->train.nbatches,
                         (long long)tr->nseg, (double)ts->epochs * (double)tr->train.nbatches * (double)tr->nseg);
    tr->total = total;
    return 0;
}

/* The training step and the eval module (a copy made first: the recipes
 * rewrite their module in place), both as the engine runs them. */
static int build_modules(Trainer *tr)
{
    char err[512];
    /* Carry state across segments when a sequence is cut into several. */
    PipeOpts po = {.carry = tr->nseg > 1, .optimize = engine_optimizes(tr->engine), .ce_logits = !!tr->acc_target};
    if (tr->dist) {
        if (dist_step_init(&tr->ds, tr->engine, tr->m, &tr->ts.opt, &po, tr->ts.batch, tr->micro, tr->deterministic,
                           tr->back > tr->seg_len, err, sizeof err))
            return cli_error("%s", err);
        tr->ds.acc_target = tr->acc_target;
        tr->ds.len_input = tr->data.cut_target ? tr->data.len_input : NULL;
    }
    if (tr->eval.nbatches > 0) {
        tr->fwd = ir_clone(tr->m);
        if (pipeline_forward(tr->fwd, 1, &po, err, sizeof err)) return cli_error("%s", err);
    }
    if (tr->back > tr->seg_len && !tr->dist) { /* then there are segments: nseg > 1 */
        PipeOpts ph = po;
        ph.history = 1;
        tr->hist = ir_clone(tr->m);
        tr->adv = ir_clone(tr->m);
        if (pipeline_train(tr->hist, &tr->ts.opt, &ph, err, sizeof err) ||
            pipeline_forward(tr->adv, 0, &po, err, sizeof err))
            return cli_error("%s", err);
    }
    if (pipeline_train(tr->m, &tr->ts.opt, &po, err, sizeof err)) return cli_error("%s", err);
    return 0;
}

/* Weights from --resume, -w or a fresh initialization; optimizer state
 * from the checkpoint or zeros. */
static int init_state(Trainer *tr, const char *resume, const char *wpath, uint64_t seed)
{
    TrainState *st = &tr->st;
    const IrModule *m = tr->m;
    int has_meta = 0;
    if (resume || wpath) {
        const char *path = resume ? resume : wpath;
        if (ckpt_read(path, m, st, &has_meta, tr->err, sizeof tr->err)) return cli_error("%s", tr->err);
        if (!resume) { /* -w: only the weights count */
            rt_map_free(&st->opt);
            rt_map_init(&st->opt);
            rt_map_free(&st->carry);
            rt_map_init(&st->carry);
            if (has_meta) ckpt_keep_params(st, m); /* a checkpoint of another optimizer's run */
            st->step = st->epoch = st->batch = st->segment = 0;
            st->epoch_loss = 0;
            st->epoch_steps = st->epoch_right = st->epoch_positions = 0;
            st->nvocab = 0;
        }
        /* --resume: the checks of checkpoint.c, which tests/fuzz/fuzz_checkpoint.c fuzzes */
        if (resume ? ckpt_check_resume(resume, m, st, has_meta, tr->ts.batch, tr->err, sizeof tr->err)
                   : ir_bind_params(m, &st->params, path, tr->err, sizeof tr->err))
            return cli_error("%s", tr->err);
    } else {
        ckpt_init(st);
        if (run_init_weights(m, seed, &st->params)) return 1;
    }
    if (resume) {
        if (st->batch >= tr->train.nbatches || st->segment >= tr->nseg)
            return cli_error(
                "%s: the checkpoint stopped at batch %lld, segment %lld, which the data and settings "
                "(%lld batches of %lld segments) do not have: resume with the same data, batch, seq_len and tbptt",
                resume, (long long)st->batch, (long long)st->segment, (long long)tr->train.nbatches,
                (long long)tr->nseg);
        rt_rng_set_state(&tr->rng, st->rng); /* checked by ckpt_check_resume */
        if (tr->data.kind == DATA_TEXT &&
            (st->nvocab != tr->data.nvocab || memcmp(st->vocab, tr->data.vocab, (size_t)st->nvocab)))
            return cli_error("%s: the checkpoint's vocabulary differs from the one of %s", resume, tr->data.path);
    } else {
        /* The data order has its own stream, apart from the init's. */
        rt_rng_seed(&tr->rng, seed ^ 0x9e3779b97f4a7c15ull);
    }
    if (tr->data.kind == DATA_TEXT) {
        st->nvocab = tr->data.nvocab;
        memcpy(st->vocab, tr->data.vocab, sizeof st->vocab);
    }
    /* Optimizer state: every "opt:<p>.<slot>" input, zeros when fresh. */
    for (int i = 0; i < m->ninputs; i++) {
        const IrInput *in = &m->inputs[i];
        if (in->role != IR_ROLE_OPT_STATE) continue;
        /* resumed: there, of its shape (ckpt_check_resume) */
        if (!rt_map_get(&st->opt, in->name) && carry_put_zeros(&st->opt, m, in->name, &in->value->type, 1)) return 1;
    }
    /* dropout's key: the seed of the run that wrote the checkpoint, which
     * holds it, so that a resume with another --seed still draws its masks */
    if (!resume || !st->has_seed) st->seed = (int64_t)seed;
    st->has_seed = 1;
    tr->good_step = resume ? st->step : -1;
    tr->good_path = resume;
    return 0;
}

/* Data-parallel: the processes agree that every one of them is set up
 * (failed: this one is not; one that failed has said why), so that a
 * failure of one before training ends all of them normally, not in a
 * collective the failed one never joins; then that they start from the
 * same state, and each takes its rows of a resumed carried state.
 * Returns 0, or 1 (every process then stops). */
static int dist_start(Trainer *tr, int failed)
{
    /* [0] some process failed, [1] rank 0 did, and has said so */
    int64_t f[2] = {failed, failed && !tr->rank};
    int rc = dist_allmax(f, 2, tr->err, sizeof tr->err);
    /* this process's messages, unless rank 0 has just said the same */
    dist_msgs_release(failed && !f[1]);
    if (rc) return cli_error("%s", tr->err);
    if (f[0]) return failed ? 1 : tr->rank ? 1 : cli_error("another process could not start training (above)");
    tr->agreed = 1;
    TrainState *st = &tr->st;
    uint64_t h = dist_hash_map(&st->params) * 0x100000001b3ull ^ dist_hash_map(&st->opt) ^ (uint64_t)st->step;
    if (dist_same(h, "the starting weights (of --resume, -w or the seed)", tr->err, sizeof tr->err) ||
        (st->carry.count && dist_step_scatter_carry(&tr->ds, &st->carry, tr->err, sizeof tr->err)))
        return cli_error("%s", tr->err);
    return 0;
}

/* ---- one segment ------------------------------------------------------------- */

/* Time steps of segment `seg` of batch j of part sp (the last may be
 * short): cut from seq_len steps, or with lengths from the batch's own,
 * its longest member's (data_batch_steps). */
static int64_t seg_steps(const Trainer *tr, const DataSplit *sp, const int64_t *perm, int64_t j, int64_t seg)
{
    int64_t t0 = seg * tr->seg_len, T = tr->nseg > 1 ? data_batch_steps(&tr->data, sp, perm, j) : sp->seq_len;
    return t0 + tr->seg_len > T ? T - t0 : tr->seg_len;
}

/* The segments of batch j: tr->nseg, or with lengths as many as its own
 * steps need (an example that ends early has none in the last ones). */
static int64_t batch_segments(const Trainer *tr, const DataSplit *sp, const int64_t *perm, int64_t j)
{
    if (tr->nseg == 1) return 1;
    return (data_batch_steps(&tr->data, sp, perm, j) + tr->seg_len - 1) / tr->seg_len;
}

/* Where the window of segment `seg` starts, TBPTT(k1, k2): k2 - k1 steps
 * before the segment, or at the sequence's start. */
static int64_t window_start(const Trainer *tr, int64_t seg)
{
    int64_t t = seg * tr->seg_len - (tr->back - tr->seg_len);
    return t > 0 ? t : 0;
}

/* The module that trains segment `seg`: with a history but at the start. */
static IrModule *train_module(const Trainer *tr, int64_t seg) { return tr->hist && seg > 0 ? tr->hist : tr->m; }

/* Steps [t0, t0 + n) of batch j, each tensor put into `in` as
 * prefix + its name if m has an input or target of that name (the step
 * without the loss reads no targets; the history only some inputs). */
static int data_into(Trainer *tr, const IrModule *m, const DataSplit *sp, const int64_t *perm, int64_t j, int64_t t0,
                     int64_t n, const char *prefix, TensorMap *in)
{
    TensorMap all;
    rt_map_init(&all);
    int rc = data_batch(&tr->data, sp, perm, j, t0, n, &all, tr->err, sizeof tr->err) ? cli_error("%s", tr->err) : 0;
    char name[300];
    for (int i = 0; i < all.count && !rc; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, all.names[i]);
        int has = ir_input_index(m, name) >= 0;
        for (int k = 0; k < m->ntargets && !has; k++) has = !strcmp(m->targets[k].name, name);
        if (has) rc = take(&all, all.names[i], in, name);
    }
    rt_map_free(&all);
    return rc;
}

/* The inputs of segment `seg` of batch j: data (and with a history its
 * steps from the window's start, "hist:<x>"), carried state (zeros and
 * reset = 1 at a sequence's start), optimizer state and step. */
static int segment_inputs(Trainer *tr, const IrModule *m, const DataSplit *sp, const int64_t *perm, int64_t j,
                          int64_t seg, const TensorMap *carry, int train, TensorMap *in)
{
    int64_t t0 = seg * tr->seg_len, s = m == tr->hist ? window_start(tr, seg) : t0;
    if (data_batch(&tr->data, sp, perm, j, t0, seg_steps(tr, sp, perm, j, seg), in, tr->err, sizeof tr->err))
        return cli_error("%s", tr->err);
    if (s < t0 && data_into(tr, m, sp, perm, j, s, t0 - s, HISTORY_PREFIX, in)) return 1;
    if (carry_inputs(m, s > 0 ? carry : NULL, data_batch_size(sp, j), in)) return 1;
    if (!train) return 0;
    for (int i = 0; i < tr->st.opt.count; i++) {
        Tensor copy;
        if (tensor_copy(&copy, &tr->st.opt.tensors[i])) return cli_error("out of memory");
        if (rt_map_put(in, tr->st.opt.names[i], &copy)) {
            rt_tensor_free(&copy);
            return cli_error("out of memory");
        }
    }
    const IrInput *step = role_input(m, IR_ROLE_OPT_STEP);
    if (step && put_scalar(in, step->name, (float)(tr->st.step + 1))) return cli_error("out of memory");
    if (dropout_key_put(m, in, tr->st.seed, tr->st.step)) return cli_error("out of memory");
    return 0;
}

/* A classifier's positions right and counted in one run: the logits it
 * output against the target it was fed (accuracy.h). */
static void count_right(const Trainer *tr, const TensorMap *in, const TensorMap *out, int64_t *right, int64_t *n)
{
    const Tensor *lg = tr->acc_target ? rt_map_get(out, PIPELINE_CE_LOGITS) : NULL;
    const Tensor *t = lg ? rt_map_get(in, tr->acc_target) : NULL;
    /* a tagger's padded steps are no positions */
    const Tensor *len =
        tr->data.cut_target && t && t->rank == 2 ? rt_map_get(in, data_target_lengths(&tr->data)) : NULL;
    if (t) acc_count_lengths(lg, t, len, right, n);
}

/* TBPTT(k1, k2): the carried state from the start of segment seg's
 * window to the next one's, by the forward step without the loss over
 * the steps between, with the weights of the update's forward (tr->st's,
 * not yet replaced), so that it is the state that forward went through
 * (but without dropout: the forward step has none). */
static int advance(Trainer *tr, int64_t j, int64_t seg)
{
    int64_t s = window_start(tr, seg), s2 = window_start(tr, seg + 1);
    if (s2 == 0) { /* the next window starts the sequence too: reset, and */
        /* zeros for a checkpoint, which holds a state inside a sequence */
        rt_map_free(&tr->st.carry);
        rt_map_init(&tr->st.carry);
        for (int i = 0; i < tr->adv->ninputs; i++) {
            const IrInput *c = &tr->adv->inputs[i];
            if (c->role == IR_ROLE_CARRY &&
                carry_put_zeros(&tr->st.carry, tr->adv, c->name, &c->value->type, data_batch_size(&tr->train, j)))
                return 1;
        }
        return 0;
    }
    TensorMap in, out;
    rt_map_init(&in);
    rt_map_init(&out);
    int rc = data_into(tr, tr->adv, &tr->train, tr->perm, j, s, s2 - s, "", &in);
    if (!rc) rc = carry_inputs(tr->adv, s > 0 ? &tr->st.carry : NULL, data_batch_size(&tr->train, j), &in);
    if (!rc && tr->engine->run(tr->engine, tr->adv, &tr->st.params, &in, &out, tr->err, sizeof tr->err))
        rc = cli_error("step %lld: the state to the next window: %s", (long long)tr->st.step + 1, tr->err);
    if (!rc) rc = carry_take(tr->adv, &out, &tr->st.carry);
    rt_map_free(&in);
    rt_map_free(&out);
    return rc;
}

/* Runs one training step; *loss and *gnorm receive its values, *right and
 * *n the positions classified right and counted (0 and 0: no accuracy).
 * The new parameters and state are moved into tr->st only if the loss is
 * finite, so that a NaN leaves the last good state in place. */
static int train_segment(Trainer *tr, int64_t j, int64_t seg, double *loss, double *gnorm, int64_t *right, int64_t *n)
{
    TensorMap in, out;
    rt_map_init(&in);
    rt_map_init(&out);
    int rc = 1;
    IrModule *m = train_module(tr, seg);
    if (segment_inputs(tr, m, &tr->train, tr->perm, j, seg, &tr->st.carry, 1, &in)) goto done;
    if (tr->engine->run(tr->engine, m, &tr->st.params, &in, &out, tr->err, sizeof tr->err)) {
        cli_error("step %lld: %s", (long long)tr->st.step + 1, tr->err);
        goto done;
    }
    const Tensor *l = rt_map_get(&out, "loss"), *g = NULL;
    for (int i = 0; i < m->noutputs; i++)
        if (m->outputs[i].role == IR_ROLE_GRAD_NORM) g = rt_map_get(&out, m->outputs[i].name);
    if (!l || !g) {
        cli_error("internal error: the training step computed no loss or grad_norm");
        goto done;
    }
    *loss = scalar(l);
    *gnorm = scalar(g);
    *right = *n = 0;
    count_right(tr, &in, &out, right, n);
    if (!isfinite(*loss)) {
        rc = 2;
        goto done;
    }
    /* The carried state matters only inside a sequence; with a history
     * it is moved on before the weights it was computed with go. */
    if (seg + 1 < batch_segments(tr, &tr->train, tr->perm, j)) {
        if (tr->hist ? advance(tr, j, seg) : carry_take(m, &out, &tr->st.carry)) goto done;
    } else {
        rt_map_free(&tr->st.carry);
        rt_map_init(&tr->st.carry);
    }
    /* The new parameters and optimizer state, under the names of what
     * they replace. */
    for (int i = 0; i < m->noutputs; i++) {
        const IrOutput *o = &m->outputs[i];
        if (o->role == IR_ROLE_NEW_PARAM && take(&out, o->name, &tr->st.params, o->of)) goto done;
        if (o->role == IR_ROLE_NEW_OPT_STATE && take(&out, o->name, &tr->st.opt, o->of)) goto done;
    }
    rc = 0;
done:
    rt_map_free(&in);
    rt_map_free(&out);
    return rc;
}

/* train_segment's data-parallel form (dist_step.h): the whole batch's data
 * of the segment, of which dist_step_run runs this process's share. */
static int dist_segment(Trainer *tr, int64_t j, int64_t seg, double *loss, double *gnorm, int64_t *right, int64_t *n)
{
    TensorMap data, adv;
    rt_map_init(&data);
    rt_map_init(&adv);
    DistResult r;
    /* TBPTT(k1, k2): the window's history steps with the segment's, and
     * the steps to the next window's start (advance()'s, a micro-batch at
     * a time in dist_step.c) */
    int64_t t0 = seg * tr->seg_len, s = window_start(tr, seg), s2 = window_start(tr, seg + 1);
    int last = seg + 1 == batch_segments(tr, &tr->train, tr->perm, j);
    DistWindow win = {.history = s < t0, .adv = tr->ds.adv && !last ? &adv : NULL, .reset_next = s2 == 0};
    int rc = data_batch(&tr->data, &tr->train, tr->perm, j, t0, seg_steps(tr, &tr->train, tr->perm, j, seg), &data,
                        tr->err, sizeof tr->err)
                 ? -1
                 : 0;
    if (!rc && win.history && data_into(tr, tr->ds.hist, &tr->train, tr->perm, j, s, t0 - s, HISTORY_PREFIX, &data))
        rc = -2;
    if (!rc && win.adv && !win.reset_next && data_into(tr, tr->ds.adv, &tr->train, tr->perm, j, s, s2 - s, "", &adv))
        rc = -2;
    if (!rc)
        rc = dist_step_run(&tr->ds, &data, s > 0, last, tr->ds.hist ? &win : NULL, &tr->st, interrupted, &r, tr->err,
                           sizeof tr->err);
    rt_map_free(&data);
    rt_map_free(&adv);
    if (rc == -2) return 1; /* data_into said it */
    if (rc < 0) return cli_error("step %lld: %s", (long long)tr->st.step + 1, tr->err);
    *loss = r.loss;
    *gnorm = r.grad_norm;
    *right = r.right;
    *n = r.positions;
    tr->stop = r.stop;
    return rc;
}

/* An eval segment's loss and weight and its positions right and counted,
 * kept apart per segment (evaluate()). */
enum { EV_LOSS, EV_WEIGHT, EV_RIGHT, EV_POS, EV_FAILED, EV_N };

/* Eval batch j's segments on this process: their values into v (EV_N a
 * segment, tr->nseg a batch).  Returns 0 or 1 (said). */
static int eval_batch(Trainer *tr, int64_t j, double *v)
{
    TensorMap carry;
    rt_map_init(&carry);
    int rc = 0;
    for (int64_t seg = 0; seg < batch_segments(tr, &tr->eval, tr->eval_perm, j) && !rc; seg++) {
        TensorMap in, out;
        rt_map_init(&in);
        rt_map_init(&out);
        rc = segment_inputs(tr, tr->fwd, &tr->eval, tr->eval_perm, j, seg, &carry, 0, &in);
        if (!rc && tr->engine->run(tr->engine, tr->fwd, &tr->st.params, &in, &out, tr->err, sizeof tr->err))
            rc = cli_error("eval: %s", tr->err);
        const Tensor *l = rc ? NULL : rt_map_get(&out, "loss");
        if (!rc && !l) rc = cli_error("internal error: eval computed no loss");
        if (!rc) {
            double *x = v + (size_t)(j * tr->nseg + seg) * EV_N;
            int64_t right = 0, npos = 0;
            x[EV_LOSS] = scalar(l);
            x[EV_WEIGHT] = data_loss_weight(&tr->data, &tr->eval, tr->eval_perm, j, seg * tr->seg_len,
                                            seg_steps(tr, &tr->eval, tr->eval_perm, j, seg));
            count_right(tr, &in, &out, &right, &npos);
            x[EV_RIGHT] = (double)right;
            x[EV_POS] = (double)npos;
            rc = carry_take(tr->fwd, &out, &carry);
        }
        rt_map_free(&in);
        rt_map_free(&out);
    }
    rt_map_free(&carry);
    return rc;
}

/* Mean loss over the eval part (weighted by positions, so it is the loss
 * of the whole part), or NAN if there is none; *acc the accuracy over it,
 * NAN without one.  Data-parallel, process r evaluates the batches j with
 * j mod N = r, and one sum gives every process every segment's values
 * (each from one process, the others' zeros: exact), which all add up in
 * one process's order: the same bits for every N. */
static int evaluate(Trainer *tr, double *mean, double *acc)
{
    *mean = *acc = NAN;
    if (!tr->fwd || tr->eval.nbatches == 0) return 0;
    int n = tr->dist ? dist_size() : 1;
    size_t len = (size_t)(tr->eval.nbatches * tr->nseg) * EV_N;
    double *v = calloc(len, sizeof *v);
    if (!v) return cli_error("out of memory");
    int rc = 0;
    for (int64_t j = tr->rank; j < tr->eval.nbatches && !rc; j += n) rc = eval_batch(tr, j, v);
    v[EV_FAILED] += rc; /* so that all learn of a failure */
    if (n > 1 && dist_allreduce_sum_f64(v, len, tr->err, sizeof tr->err)) {
        free(v);
        return cli_error("eval: %s", tr->err);
    }
    if (v[EV_FAILED] > 0) {
        free(v);
        return 1; /* the process that failed said why */
    }
    double sum = 0, weight = 0;
    int64_t right = 0, npos = 0;
    for (int64_t j = 0; j < tr->eval.nbatches; j++)
        for (int64_t seg = 0; seg < batch_segments(tr, &tr->eval, tr->eval_perm, j); seg++) {
            const double *x = v + (size_t)(j * tr->nseg + seg) * EV_N;
            sum += x[EV_LOSS] * x[EV_WEIGHT];
            weight += x[EV_WEIGHT];
            right += (int64_t)x[EV_RIGHT];
            npos += (int64_t)x[EV_POS];
        }
    free(v);
    if (weight > 0) *mean = sum / weight;
    if (npos > 0) *acc = (double)right / (double)npos;
    if (weight > 0 && tr->eval_csv) loss_log_eval_row(tr->eval_csv, tr->st.step, *mean, *acc);
    return 0;
}

/* The checkpoint, and the loss chart drawn from the CSV so far (a chart
 * that cannot be written is only a warning: training goes on). */
static int write_checkpoint(Trainer *tr)
{
    if (tr->dist) { /* every process: the same weights? the whole batch's state; rank 0 writes */
        uint64_t h = dist_hash_map(&tr->st.params) * 0x100000001b3ull ^ dist_hash_map(&tr->st.opt);
        char what[80];
        snprintf(what, sizeof what, "the weights after step %lld", (long long)tr->st.step);
        if (dist_same(h, what, tr->err, sizeof tr->err) ||
            dist_step_gather_carry(&tr->ds, &tr->st.carry, tr->err, sizeof tr->err))
            return cli_error("error: %s", tr->err);
        if (tr->rank) return 0;
    }
    if (ckpt_write(tr->ckpt, &tr->st, tr->err, sizeof tr->err)) return cli_error("%s", tr->err);
    tr->good_step = tr->st.step;
    tr->good_path = tr->ckpt;
    if (loss_log_svg(tr->csv_path, tr->eval_csv ? tr->eval_path : NULL, tr->svg_path, tr->m->name, tr->ts.plot_log,
                     tr->err, sizeof tr->err))
        progress_message(&tr->prog, "rnnc: warning: %s", tr->err);
    return 0;
}

/* ---- the loop ------------------------------------------------------------------ */

/* "  accuracy 45.12%", or "" without one (NaN). */
static const char *acc_str(double acc, char *buf, size_t n)
{
    buf[0] = 0;
    if (!isnan(acc)) snprintf(buf, n, "  accuracy %.2f%%", 100 * acc);
    return buf;
}

/* "epoch 3: train loss 1.23  accuracy 61.20%  eval loss 1.10  accuracy
 * 63.05%"; no eval part (or eval_every, which evaluates on its own
 * schedule), no eval loss; no classifier, no accuracy. */
static void epoch_summary(Trainer *tr, const char *part, double train_loss, double train_acc, double eval_loss,
                          double eval_acc)
{
    char ev[96] = "", a1[40], a2[40], pad[40] = "";
    if (!isnan(eval_loss)) snprintf(ev, sizeof ev, "  eval loss %.6f%s", eval_loss, acc_str(eval_acc, a2, sizeof a2));
    if (tr->data.lengths) {
        /* the epoch's batches so far, from its order (so a resumed run's is the whole epoch's) */
        int64_t real = 0, all = 0, nb = tr->st.batch ? tr->st.batch : tr->train.nbatches;
        for (int64_t j = 0; j < nb; j++) data_batch_padding(&tr->data, &tr->train, tr->perm, j, &real, &all);
        snprintf(pad, sizeof pad, "  padding %.1f%%", 100 * (1 - (double)real / (double)all));
    }
    progress_message(&tr->prog, "epoch %lld%s: train loss %.6f%s%s%s", (long long)tr->st.epoch + 1, part, train_loss,
                     acc_str(train_acc, a1, sizeof a1), pad, ev);
}

/* eval_every: "step 20: eval loss 1.10" after every eval_every-th step. */
static int eval_at_step(Trainer *tr)
{
    double ev, acc;
    char a[40];
    if (evaluate(tr, &ev, &acc)) return 1;
    if (!isnan(ev))
        progress_message(&tr->prog, "step %lld: eval loss %.6f%s", (long long)tr->st.step, ev,
                         acc_str(acc, a, sizeof a));
    return 0;
}

/* The order of an epoch's items in perm, drawn from rng: the shuffle,
 * then bucketing from the same stream (nothing drawn with shuffle = false). */
static int epoch_order(const Trainer *tr, int64_t *perm, RtRng *rng)
{
    data_shuffle(perm, tr->train.nitems, tr->ts.no_shuffle ? NULL : rng);
    return data_bucket(&tr->data, &tr->train, perm, tr->ts.bucket, tr->ts.no_shuffle ? NULL : rng);
}

/* The updates of a run of `epochs` over examples with lengths cut into
 * TBPTT segments: a batch has the segments its longest member needs, so
 * an epoch's count depends on its order.  The orders the loop will draw
 * are drawn ahead from a copy of the generator (at the current epoch's
 * start, tr->rng), from the position of a resumed run on: a pass over
 * the items per epoch, which the loop makes again anyway. */
static int lengths_total(Trainer *tr)
{
    const TrainState *st = &tr->st;
    if (!tr->data.lengths || tr->nseg == 1 || tr->ts.steps) return 0;
    RtRng rng = tr->rng;
    int64_t *perm = malloc((size_t)tr->train.nitems * sizeof *perm), total = st->step;
    int bad = !perm;
    for (int64_t e = st->epoch; !bad && e < tr->ts.epochs; e++) {
        bad = epoch_order(tr, perm, &rng);
        for (int64_t j = e == st->epoch ? st->batch : 0; !bad && j < tr->train.nbatches; j++)
            total += batch_segments(tr, &tr->train, perm, j) - (e == st->epoch && j == st->batch ? st->segment : 0);
    }
    free(perm);
    if (bad) return cli_error("out of memory");
    tr->total = total;
    return 0;
}

/* right / n, NaN for no positions. */
static double fraction(int64_t right, int64_t n) { return n > 0 ? (double)right / (double)n : NAN; }

static int train_loop(Trainer *tr)
{
    TrainState *st = &tr->st;
    const int64_t eval_every = tr->ts.eval_every;
    /* The epoch so far lives in st, so that a checkpoint holds it and a
     * resumed run's summary covers the whole epoch, not its own steps. */
    int evaluated = 0;
    while (st->step < tr->total) {
        /* The epoch's permutation, drawn from the RNG state at its start
         * (kept in st->rng: the checkpoint's copy). */
        if (st->batch == 0 && st->segment == 0)
            rt_rng_get_state(&tr->rng, st->rng);
        else if (rt_rng_set_state(&tr->rng, st->rng))
            return cli_error("internal error: RNG state");
        /* shuffle = false keeps the order and draws nothing, so the
         * RNG state a checkpoint stores is the same either way. */
        if (epoch_order(tr, tr->perm, &tr->rng)) return cli_error("out of memory");
        evaluated = 0;
        while (st->batch < tr->train.nbatches && st->step < tr->total) {
            if (tr->dist ? tr->stop : interrupted) {
                progress_message(&tr->prog, "interrupted at step %lld: writing the checkpoint %s", (long long)st->step,
                                 tr->ckpt);
                if (write_checkpoint(tr)) return 1;
                progress_message(&tr->prog, "resume with: rnnc train ... --resume %s", tr->ckpt);
                return 130;
            }
            double loss, gnorm;
            int64_t right, npos, real = 0, all = 0;
            if (tr->data.lengths) {
                data_batch_padding(&tr->data, &tr->train, tr->perm, st->batch, &real, &all);
                progress_set_padding(&tr->prog, 1 - (double)real / (double)all);
            }
            int rc =
                (tr->dist ? dist_segment : train_segment)(tr, st->batch, st->segment, &loss, &gnorm, &right, &npos);
            if (rc == 2) {
                progress_end(&tr->prog);
                /* every process has the same loss: all stop here, rank 0 says why */
                tr->agreed = 0;
                if (tr->rank) return 1;
                /* "error:" as well: the tests and docs/training.md look for it. */
                if (tr->good_path)
                    cli_error("error: loss is %s at step %lld; the last good checkpoint is %s (step %lld)",
                              isnan(loss) ? "NaN" : "Inf", (long long)st->step + 1, tr->good_path,
                              (long long)tr->good_step);
                else
                    cli_error("error: loss is %s at step %lld; no checkpoint was written before it "
                              "(set checkpoint_every)",
                              isnan(loss) ? "NaN" : "Inf", (long long)st->step + 1);
                return 1;
            }
            if (rc) return 1;
            st->step++;
            if (++st->segment == batch_segments(tr, &tr->train, tr->perm, st->batch)) {
                st->segment = 0;
                st->batch++;
            }
            st->epoch_loss += loss;
            st->epoch_steps++;
            st->epoch_right += right;
            st->epoch_positions += npos;
            if (tr->csv) loss_log_row(tr->csv, st->step, loss, gnorm, fraction(right, npos));
            progress_step(&tr->prog, st->step, loss, gnorm, fraction(right, npos));
            if (eval_every && (st->step % eval_every == 0 || st->step == tr->total) && eval_at_step(tr)) return 1;
            if (st->batch == tr->train.nbatches) {
                /* Epoch done: the next one starts from the RNG as it is. */
                double ev = NAN, eacc = NAN;
                if (!eval_every && evaluate(tr, &ev, &eacc)) return 1;
                epoch_summary(tr, "", st->epoch_loss / (double)st->epoch_steps,
                              fraction(st->epoch_right, st->epoch_positions), ev, eacc);
                st->epoch_loss = 0;
                st->epoch_steps = st->epoch_right = st->epoch_positions = 0;
                evaluated = 1;
                st->epoch++;
                st->batch = 0;
                rt_rng_get_state(&tr->rng, st->rng);
            }
            if (tr->ts.checkpoint_every && st->step % tr->ts.checkpoint_every == 0 && st->step < tr->total &&
                write_checkpoint(tr))
                return 1;
            if (st->batch == 0 && st->segment == 0) break; /* a new epoch: draw its permutation */
        }
    }
    if (!evaluated && st->epoch_steps > 0) {
        double ev = NAN, eacc = NAN;
        if (!eval_every && evaluate(tr, &ev, &eacc)) return 1;
        epoch_summary(tr, " (part)", st->epoch_loss / (double)st->epoch_steps,
                      fraction(st->epoch_right, st->epoch_positions), ev, eacc);
    }
    return 0;
}

/* ---- the command ---------------------------------------------------------------- */

static const Decl *find_train_block(const Program *p, const char *model)
{
    for (int i = 0; i < p->ndecls; i++)
        if (p->decls[i]->kind == DECL_TRAIN && p->decls[i]->name && !strcmp(p->decls[i]->name, model))
            return p->decls[i];
    return NULL;
}

/* run's body; a failure of one process under mpirun ends them all
 * (run), so none waits for ever in a collective. */
static int train(const CliArgs *a, int *agreed);

static int run(const CliArgs *a)
{
    char err[1200];
    if (dist_init(err, sizeof err)) return cli_error("%s", err);
    /* the others' messages while they set up: the same as rank 0's */
    if (dist_rank() > 0) dist_msgs_hold();
    int agreed = 0, rc = train(a, &agreed);
    dist_msgs_release(0);
    if (rc == 1 && agreed && dist_size() > 1) dist_abort(1);
    dist_finish();
    return rc;
}

static int train(const CliArgs *a, int *agreed)
{
    Trainer tr;
    memset(&tr, 0, sizeof tr);
    FILE *shown = stderr; /* what the user sees: rank 0's alone */
    ckpt_init(&tr.st);
    train_settings_default(&tr.ts);
    Source s;
    const char *resume = cli_get(a, "resume"), *wpath = cli_get(a, "weights");
    if (resume && wpath) return cli_usage_error(&cmd_train, "give --resume or -w, not both");
    long long seed_opt = -1;
    if (cli_has(a, "seed") && cli_int(&cmd_train, "seed", cli_get(a, "seed"), &seed_opt)) return EXIT_USAGE;
    if (cli_has(a, "seed") && seed_opt < 0) return cli_usage_error(&cmd_train, "--seed must be non-negative");
    long long micro = 0;
    if (cli_has(a, "micro-batch") && cli_int(&cmd_train, "micro-batch", cli_get(a, "micro-batch"), &micro))
        return EXIT_USAGE;
    if (cli_has(a, "micro-batch") && micro < 1) return cli_usage_error(&cmd_train, "--micro-batch must be positive");
    tr.micro = micro;
    tr.deterministic = cli_has(a, "deterministic");
    tr.rank = dist_rank();
    tr.dist = dist_size() > 1 || tr.deterministic || micro;
    Engine eng;
    if (run_engine(&cmd_train, a, IR_PREC_F32, &eng)) return EXIT_USAGE;
    tr.engine = &eng;

    int rc = source_load(&s, a->pos[0], cli_get(a, "model"));
    if (rc) goto done;
    rc = 1;
    tr.m = s.ir;
    const Decl *block = find_train_block(s.prog, tr.m->name);
    if (train_settings_block(&tr.ts, block, a->pos[0], tr.err, sizeof tr.err)) {
        cli_error("%s", tr.err);
        goto done;
    }
    for (int i = 0; i < a->nopts; i++)
        if (!strcmp(a->opt[i]->name, "set") && train_settings_set(&tr.ts, a->val[i], tr.err, sizeof tr.err)) {
            cli_error("%s", tr.err);
            goto done;
        }
    if (seed_opt >= 0) tr.ts.seed = seed_opt;
    if (train_settings_finish(&tr.ts, tr.err, sizeof tr.err)) {
        cli_error("%s%s", tr.err, block ? "" : " (the model has no train block)");
        goto done;
    }
    if (!tr.m->loss) {
        cli_error("model '%s' has no loss: there is nothing to train", tr.m->name);
        goto done;
    }
    if (!tr.m->nparams) {
        cli_error("model '%s' has no parameters: there is nothing to train", tr.m->name);
        goto done;
    }
    if (load_data(&tr)) goto done;
    tr.acc_target = acc_target_name(tr.m);
    if (build_modules(&tr)) goto done;
    if (init_state(&tr, resume, wpath, (uint64_t)tr.ts.seed)) goto done;
    tr.perm = malloc((size_t)tr.train.nitems * sizeof *tr.perm);
    tr.eval_perm = malloc((size_t)(tr.eval.nitems ? tr.eval.nitems : 1) * sizeof *tr.eval_perm);
    if (!tr.perm || !tr.eval_perm || data_sort_items(&tr.data, &tr.eval, tr.eval_perm)) {
        cli_error("out of memory");
        goto done;
    }
    if (lengths_total(&tr)) goto done;

    char def[600];
    char *csvp = tr.csv_path;
    tr.ckpt = cli_get(a, "output");
    if (!tr.ckpt) tr.ckpt = resume;
    if (!tr.ckpt) {
        snprintf(def, sizeof def, "%s.ckpt.safetensors", tr.m->name);
        tr.ckpt = def;
    }
    loss_log_path(tr.ckpt, "loss.csv", csvp, sizeof tr.csv_path);
    loss_log_path(tr.ckpt, "loss.svg", tr.svg_path, sizeof tr.svg_path);
    if (tr.rank) {
        shown = fopen("/dev/null", "w");
        if (!shown) {
            cli_error("cannot open /dev/null: %s", strerror(errno));
            goto done;
        }
        goto start;
    }
    char oldcsv[700];
    if (resume) loss_log_path(resume, "loss.csv", oldcsv, sizeof oldcsv);
    tr.csv = loss_log_open(csvp, resume ? oldcsv : NULL, tr.st.step, tr.acc_target != NULL, tr.err, sizeof tr.err);
    if (!tr.csv) {
        cli_error("%s", tr.err);
        goto done;
    }
    if (tr.eval.nbatches > 0) { /* the eval curve of the chart, kept across a resume like the CSV */
        /* The resumed run's rows up to its step, but the one at that step
         * only if the schedule made it: the end of a run (mid-epoch, or
         * between eval_every steps) evaluates too, and a run that never
         * stopped has no such row. */
        int64_t at = tr.st.step;
        int sched = tr.ts.eval_every ? at % tr.ts.eval_every == 0 : tr.st.batch == 0 && tr.st.segment == 0;
        loss_log_path(tr.ckpt, "eval.csv", tr.eval_path, sizeof tr.eval_path);
        if (resume) loss_log_path(resume, "eval.csv", oldcsv, sizeof oldcsv);
        tr.eval_csv = loss_log_open_eval(tr.eval_path, resume ? oldcsv : NULL, sched ? at : at - 1,
                                         tr.acc_target != NULL, tr.err, sizeof tr.err);
        if (!tr.eval_csv) {
            cli_error("%s", tr.err);
            goto done;
        }
    }

    if (tr.dist)
        fprintf(stderr, "data-parallel: %d process%s, %lld examples of each batch a process, %lld a run%s\n",
                dist_size(), dist_size() > 1 ? "es" : "", (long long)(tr.ts.batch / dist_size()),
                (long long)tr.ds.micro, tr.deterministic ? ", summed in a fixed order (--deterministic)" : "");
    char tb[64] = "";
    if (tr.nseg > 1) snprintf(tb, sizeof tb, " in %lld segments of <= %lld", (long long)tr.nseg, (long long)tr.seg_len);
    fprintf(stderr, "training model '%s' on %s: %lld steps, %lld batches an epoch of %lld x %s%lld steps%s, %s lr %g\n",
            tr.m->name, tr.data.path, (long long)tr.total, (long long)tr.train.nbatches, (long long)tr.ts.batch,
            tr.data.lengths ? "up to " : "", (long long)tr.ts.seq_len, tb, tr.ts.opt.opt == OPT_ADAM ? "adam" : "sgd",
            tr.ts.opt.lr);
    if (resume) fprintf(stderr, "resuming from %s at step %lld\n", resume, (long long)tr.st.step);

start:
    if (tr.dist && dist_start(&tr, 0)) goto done;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old);
    progress_start(&tr.prog, shown, -1, tr.st.step, tr.total, tr.ts.log_every);
    rc = train_loop(&tr);
    progress_end(&tr.prog);
    sigaction(SIGINT, &old, NULL);
    if (rc) goto done;
    rc = 1;
    if (write_checkpoint(&tr)) goto done;
    fprintf(shown, "wrote %s (step %lld), %s and %s\n", tr.ckpt, (long long)tr.st.step, csvp, tr.svg_path);
    if (tr.dist && tr.ds.nsteps)
        fprintf(shown,
                "data-parallel: %.2f ms a step, %.2f ms of it in the sum of the %s of %zu floats (%.1f%%: "
                "waiting for every process, and the communication)\n",
                1e3 * tr.ds.t_step / (double)tr.ds.nsteps, 1e3 * tr.ds.t_sum / (double)tr.ds.nsteps,
                tr.deterministic ? "gathered micro-batches" : "allreduce", tr.ds.ngrad,
                100 * tr.ds.t_sum / tr.ds.t_step);
    if (tr.dist && tr.ds.nsteps && tr.ds.overlap)
        fprintf(shown,
                "data-parallel: overlapped: %.1f%% of the gradients' floats were being summed while the backward "
                "pass ran, %.1f%% had arrived before it ended (the processes' mean); the sum's time above is the "
                "wait after it\n",
                100.0 * (double)tr.ds.early / (double)(tr.ds.early + tr.ds.late),
                100.0 * (double)tr.ds.hidden / (double)(tr.ds.early + tr.ds.late));
    rc = 0;
done:
    /* a failure before dist_start: the others learn of it there */
    if (rc && tr.dist && !tr.agreed && dist_size() > 1) dist_start(&tr, 1);
    *agreed = tr.agreed;
    if (shown && shown != stderr) fclose(shown);
    if (tr.csv) fclose(tr.csv);
    if (tr.eval_csv) fclose(tr.eval_csv);
    free(tr.perm);
    free(tr.eval_perm);
    dist_step_free(&tr.ds);
    data_free(&tr.data);
    ckpt_free(&tr.st);
    engine_close(&eng); /* before the modules it compiled */
    if (tr.fwd) ir_free(tr.fwd);
    if (tr.hist) ir_free(tr.hist);
    if (tr.adv) ir_free(tr.adv);
    source_free(&s);
    return rc;
}

static const CliOpt opts[] = {
    {"set", 0, 1, "KEY=VALUE      override a train setting (repeatable): --set lr=0.01"},
    {"output", 'o', 1, "C.safetensors  the checkpoint (default: --resume's, else MODEL.ckpt.safetensors)"},
    {"resume", 0, 1, "C.safetensors  continue a run from its checkpoint"},
    {"weights", 'w', 1, "W.safetensors  start from these weights (default: fresh, as rnnc init)"},
    {"seed", 0, 1, "N              the seed (overrides the train block's)"},
    {"model", 'm', 1, "NAME           the model (default: the first)"},
    {"engine", 0, 1, "interp|c|jit   run with the interpreter, compiled C or the LLVM JIT (default jit)"},
    {"deterministic", 0, 0, "               sum the gradients of micro-batches in a fixed order (docs/distributed.md)"},
    {"micro-batch", 0, 1, "M              examples a gradient run (default: batch / processes)"},
    CLI_OPT_TIME_PASSES,
    {0},
};

const Command cmd_train = {
    .name = "train",
    .synopsis = "FILE [--set KEY=VALUE ...] [-o C.safetensors] [--resume C.safetensors] [-w W.safetensors] [--seed N] "
                "[--deterministic] [--micro-batch M]",
    .summary = "train a model as its train block says",
    .details = "Runs the train block of FILE's model: loads the data, and runs one step of\n"
               "training (forward, backpropagation through time, clipping, the optimizer)\n"
               "for every batch, or every TBPTT segment of it, with the engine (default\n"
               "the LLVM JIT, see rnnc help run). Shows progress, evaluates on the\n"
               "held-out part after every epoch (or every eval_every steps), writes the\n"
               "loss of every step to C.loss.csv, and a checkpoint (the weights,\n"
               "optimizer state and position) every checkpoint_every steps, at\n"
               "the end and on Ctrl-C. --resume continues exactly where it stopped.\n"
               "docs/training.md describes the settings and the data formats.\n"
               "Under mpirun -np N the N processes train one model, each computing\n"
               "batch / N examples of every batch (docs/distributed.md).",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
