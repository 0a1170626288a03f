/* cmd_export.c - `rnnc export`: the plain weights of a training checkpoint.
 *
 * A checkpoint of `rnnc train` is already a weights file for every command
 * (they skip its training state), but it is large (Adam's state is twice
 * the weights) and carries the run's position: a file to ship or to hand
 * to another tool should hold the parameters alone.  Export drops the
 * optimizer state (opt:*), the carried state (carry:*) and the run's
 * position and vocabulary (train:*), says so, and writes the rest through
 * the one file writer (atomic).  Given the model file, it also checks the
 * weights against the model's parameters, as `run -w` would. */
#include <string.h>

#include "driver/checkpoint.h"
#include "driver/cli.h"
#include "driver/run_setup.h"
#include "ir/bind.h"
#include "io/tensor.h"

/* What the checkpoint held besides the weights, counted for the note. */
typedef struct Dropped {
    int opt, carry, meta, vocab;
} Dropped;

static void count_dropped(const TensorMap *w, Dropped *d)
{
    memset(d, 0, sizeof *d);
    for (int i = 0; i < w->count; i++) {
        const char *n = w->names[i];
        d->opt += !strncmp(n, "opt:", 4);
        d->carry += !strncmp(n, "carry:", 6);
        d->meta += !strncmp(n, CKPT_META_PREFIX, strlen(CKPT_META_PREFIX));
        d->vocab += !strcmp(n, CKPT_VOCAB);
    }
}

/* "rnnc: note: ..." on stderr: the output cannot resume a run, and
 * without the vocabulary `rnnc sample` needs --vocab. */
static void note_dropped(const char *ckpt, const char *out, const Dropped *d)
{
    if (!d->opt && !d->carry && !d->meta) return;
    char what[256] = "";
    size_t n = 0;
    if (d->opt)
        n += (size_t)snprintf(what + n, sizeof what - n, "%d optimizer state tensor%s, ", d->opt,
                              d->opt == 1 ? "" : "s");
    if (d->carry && n < sizeof what)
        n += (size_t)snprintf(what + n, sizeof what - n, "%d carried state tensor%s, ", d->carry,
                              d->carry == 1 ? "" : "s");
    if (d->meta && n < sizeof what) snprintf(what + n, sizeof what - n, "the run's position and seed, ");
    n = strlen(what);
    if (n >= 2) what[n - 2] = 0; /* the last ", " */
    fprintf(stderr, "rnnc: note: dropped the training state of %s (%s): %s cannot resume training; --resume %s can\n",
            ckpt, what, out, ckpt);
    if (d->vocab)
        fprintf(stderr,
                "rnnc: note: dropped its vocabulary (train:vocab): give 'rnnc sample' the training text with "
                "--vocab, or sample from %s\n",
                ckpt);
}

static int run(const CliArgs *a)
{
    const char *ckpt = a->pos[0], *out = cli_get(a, "output"), *model = cli_get(a, "model");
    if (!out) return cli_usage_error(&cmd_export, "missing -o W.safetensors");
    if (model && a->npos < 2) return cli_usage_error(&cmd_export, "-m MODEL names a model of FILE.rnn: give FILE.rnn");

    char err[512];
    TensorMap w;
    rt_map_init(&w);
    Source s;
    memset(&s, 0, sizeof s);
    int rc = 1;
    if (rt_st_read(ckpt, &w, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }
    Dropped d;
    count_dropped(&w, &d);
    run_drop_train_state(&w);
    if (a->npos > 1) {
        if (source_load(&s, a->pos[1], model)) goto done;
        if (ir_bind_params(s.ir, &w, ckpt, err, sizeof err)) {
            cli_error("%s", err);
            goto done;
        }
    }
    if (w.count == 0) {
        cli_error("%s holds no weights", ckpt);
        goto done;
    }
    if (rt_st_write(out, &w, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }
    note_dropped(ckpt, out, &d);
    printf("wrote %d parameters%s%s%s to %s\n", w.count, s.ir ? " of model '" : "", s.ir ? s.ir->name : "",
           s.ir ? "'" : "", out);
    rc = 0;
done:
    rt_map_free(&w);
    source_free(&s);
    return rc;
}

static const CliOpt opts[] = {
    {"output", 'o', 1, "W.safetensors  where to write the weights"},
    {"model", 'm', 1, "NAME           with FILE.rnn: the model to check against (default: the first)"},
    {0},
};

const Command cmd_export = {
    .name = "export",
    .synopsis = "C.safetensors -o W.safetensors [FILE.rnn [-m MODEL]]",
    .summary = "write the plain weights of a training checkpoint",
    .details = "Writes the parameters of a checkpoint of 'rnnc train' (or of any weights\n"
               "file) to W.safetensors, without the optimizer state, the carried state\n"
               "and the run's position (opt:*, carry:*, train:*), and says what it\n"
               "dropped: the result is the weights alone, for run, sample, grad,\n"
               "compile or PyTorch, but cannot resume training. With FILE.rnn it also\n"
               "checks that they are exactly the model's parameters, with their shapes.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 2,
    .run = run,
};
