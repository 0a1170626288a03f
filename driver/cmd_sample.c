/* cmd_sample.c - `rnnc sample`: generate text from a character model
 * trained by `rnnc train` on text data.
 *
 * The module is the sampling recipe's (pipeline_sample): the forward
 * program without its loss, the state carried, so the recurrent state
 * flows from one call to the next: the prime text runs as one segment,
 * then every sampled character is fed back as a segment of one step.  The
 * logits are those the loss reads (the first operand of the
 * cross_entropy), exposed as an extra output; ids are drawn from
 * softmax(logits / temperature) over the checkpoint's vocabulary, or over
 * the one --vocab FILE defines (a model trained on npy token ids has
 * none in its checkpoint). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "driver/carry.h"
#include "driver/checkpoint.h"
#include "driver/cli.h"
#include "exec/engine.h"
#include "driver/run_setup.h"
#include "driver/train_data.h"
#include "ir/bind.h"
#include "passes/pipeline.h"

/* --vocab FILE: the vocabulary `rnnc train` builds from FILE as text data
 * (the sorted set of its bytes: data_load_text), replacing the
 * checkpoint's, which is only worth a warning when they differ. */
static int vocab_from_file(const char *path, TrainState *st, const char *wpath)
{
    Dataset d;
    char err[512];
    if (data_load_text(&d, path, err, sizeof err)) {
        data_free(&d);
        return cli_error("--vocab %s", err);
    }
    if (st->nvocab && (st->nvocab != d.nvocab || memcmp(st->vocab, d.vocab, (size_t)d.nvocab)))
        fprintf(stderr,
                "rnnc: warning: the vocabulary of %s (%d characters) differs from the one of %s (%d): "
                "using %s's\n",
                path, d.nvocab, wpath, st->nvocab, path);
    st->nvocab = d.nvocab;
    memcpy(st->vocab, d.vocab, (size_t)d.nvocab);
    data_free(&d);
    return 0;
}

/* Draws an id from softmax(logits[0..n) / temp). */
static int draw(const float *logits, int n, double temp, RtRng *rng)
{
    double mx = -INFINITY, sum = 0, p[256];
    for (int i = 0; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    for (int i = 0; i < n; i++) sum += p[i] = exp(((double)logits[i] - mx) / temp);
    double u = rt_rng_uniform_f64(rng) * sum;
    for (int i = 0; i < n; i++) {
        if (u < p[i]) return i;
        u -= p[i];
    }
    return n - 1; /* rounding left u just above the total */
}

typedef struct Sampler {
    const Engine *engine;
    IrModule *m;
    const char *input; /* the seq<int> input's name               */
    TensorMap *params;
    TensorMap carry;
    int64_t classes; /* size of the logits' last axis           */
    char err[512];
} Sampler;

/* Runs ids[0..n) as one segment (reset = 1 if first); writes the logits
 * of the last step into last[0..classes). */
static int feed(Sampler *sp, const int64_t *ids, int64_t n, int first, float *last)
{
    TensorMap in, out;
    rt_map_init(&in);
    rt_map_init(&out);
    int rc = 1;
    Tensor x;
    int64_t shape[2] = {n, 1};
    if (rt_tensor_alloc(&x, RT_I64, 2, shape)) {
        cli_error("out of memory");
        goto done;
    }
    memcpy(x.data, ids, (size_t)n * sizeof *ids);
    if (rt_map_put(&in, sp->input, &x)) {
        rt_tensor_free(&x);
        cli_error("out of memory");
        goto done;
    }
    if (carry_inputs(sp->m, first ? NULL : &sp->carry, 1, &in)) goto done;
    if (sp->engine->run(sp->engine, sp->m, sp->params, &in, &out, sp->err, sizeof sp->err)) {
        cli_error("%s", sp->err);
        goto done;
    }
    const Tensor *lg = rt_map_get(&out, PIPELINE_LOGITS);
    if (!lg || lg->dtype != RT_F32) {
        cli_error("internal error: no logits");
        goto done;
    }
    memcpy(last, (const float *)lg->data + (n - 1) * sp->classes, (size_t)sp->classes * sizeof *last);
    if (carry_take(sp->m, &out, &sp->carry)) goto done;
    rc = 0;
done:
    rt_map_free(&in);
    rt_map_free(&out);
    return rc;
}

static int run(const CliArgs *a)
{
    const char *wpath = cli_get(a, "weights");
    if (!wpath) return cli_usage_error(&cmd_sample, "missing -w CHECKPOINT.safetensors (made by rnnc train)");
    long long seed = 0, steps = 200;
    if (cli_has(a, "seed") && cli_int(&cmd_sample, "seed", cli_get(a, "seed"), &seed)) return EXIT_USAGE;
    if (cli_has(a, "steps") && cli_int(&cmd_sample, "steps", cli_get(a, "steps"), &steps)) return EXIT_USAGE;
    if (steps < 0) return cli_usage_error(&cmd_sample, "--steps must be non-negative");
    double temp = 1.0;
    const char *ts = cli_get(a, "temperature");
    if (ts) {
        char *end;
        errno = 0;
        temp = strtod(ts, &end);
        if (!*ts || *end || errno || !(temp > 0) || !isfinite(temp))
            return cli_usage_error(&cmd_sample, "--temperature needs a positive number, got '%s'", ts);
    }
    const char *prime = cli_get(a, "prime");
    Engine eng;
    if (run_engine(&cmd_sample, a, IR_PREC_F32, &eng)) return EXIT_USAGE;

    Source s;
    TrainState st;
    ckpt_init(&st);
    Sampler sp;
    memset(&sp, 0, sizeof sp);
    rt_map_init(&sp.carry);
    int64_t *ids = NULL;
    float *logits = NULL;
    int rc = source_load(&s, a->pos[0], cli_get(a, "model"));
    if (rc) goto done;
    rc = 1;
    IrModule *m = s.ir;
    char err[512];
    int has_meta;
    /* the weights only: the trainer's optimizer state is no input here */
    if (ckpt_read(wpath, m, &st, &has_meta, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }
    ckpt_keep_params(&st, m);
    if (cli_has(a, "vocab") && vocab_from_file(cli_get(a, "vocab"), &st, wpath)) goto done;
    if (st.nvocab == 0) {
        cli_error("%s: no vocabulary ('" CKPT_VOCAB "'): give the text whose characters are the ids with "
                  "--vocab FILE, or a checkpoint of rnnc train on text(...) data, which holds it",
                  wpath);
        goto done;
    }
    if (m->ninputs != 1 || m->inputs[0].value->type.dtype != IR_I64 || m->inputs[0].value->type.rank != 2) {
        cli_error("sample needs a character model with one seq<int> input; model '%s' has %d input%s", m->name,
                  m->ninputs, m->ninputs == 1 ? "" : "s");
        goto done;
    }
    /* sampling gives no targets: the module leaves the loss out */
    PipeOpts po = {.optimize = engine_optimizes(&eng)};
    if (pipeline_sample(m, &po, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }
    int lk = ir_output_index(m, PIPELINE_LOGITS);
    const IrValue *lv = lk >= 0 ? m->outputs[lk].value : NULL;
    if (!lv || lv->type.rank != 3 || lv->type.dim[2] < st.nvocab) {
        cli_error("model '%s' has no logits over the %d characters of the vocabulary (a cross_entropy loss or "
                  "an output [T, B, C] with C >= %d)",
                  m->name, st.nvocab, st.nvocab);
        goto done;
    }
    if (ir_bind_params(m, &st.params, wpath, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }
    sp.engine = &eng;
    sp.m = m;
    sp.input = m->inputs[0].name;
    sp.params = &st.params;
    sp.classes = lv->type.dim[2];
    /* one character a run, on the same weights: a compiled engine packs
     * them once (engine.h) */
    engine_fix_params(&eng, &st.params);

    /* The prime's characters as ids; without one, start from a newline
     * (or the first character) and do not print it. */
    size_t plen = prime ? strlen(prime) : 0;
    int id_of[256];
    for (int c = 0; c < 256; c++) id_of[c] = -1;
    for (int i = 0; i < st.nvocab; i++) id_of[st.vocab[i]] = i;
    ids = malloc((plen ? plen : 1) * sizeof *ids);
    logits = malloc((size_t)sp.classes * sizeof *logits);
    if (!ids || !logits) {
        cli_error("out of memory");
        goto done;
    }
    for (size_t i = 0; i < plen; i++) {
        int id = id_of[(unsigned char)prime[i]];
        if (id < 0) {
            cli_error("--prime: character '%c' (byte %d) is not in the model's vocabulary", prime[i],
                      (unsigned char)prime[i]);
            goto done;
        }
        ids[i] = id;
    }
    if (!plen) ids[0] = id_of['\n'] >= 0 ? id_of['\n'] : 0;
    RtRng rng;
    rt_rng_seed(&rng, (uint64_t)seed);
    if (feed(&sp, ids, plen ? (int64_t)plen : 1, 1, logits)) goto done;
    fwrite(prime ? prime : "", 1, plen, stdout);
    for (long long i = 0; i < steps; i++) {
        int64_t id = draw(logits, st.nvocab, temp, &rng);
        putchar(st.vocab[id]);
        if (i + 1 < steps && feed(&sp, &id, 1, 0, logits)) goto done;
    }
    putchar('\n');
    rc = 0;
done:
    fflush(stdout);
    free(ids);
    free(logits);
    rt_map_free(&sp.carry);
    ckpt_free(&st);
    engine_close(&eng);
    source_free(&s);
    return rc;
}

static const CliOpt opts[] = {
    {"weights", 'w', 1, "C.safetensors  a checkpoint written by rnnc train on text data"},
    {"steps", 'n', 1, "N              characters to generate (default 200)"},
    {"temperature", 't', 1, "T              divide the logits by T before the softmax (default 1)"},
    {"prime", 'p', 1, "TEXT           text to start from (printed first)"},
    {"vocab", 0, 1, "FILE           the vocabulary: FILE's distinct bytes, sorted, as train builds it from text"},
    {"seed", 0, 1, "N              seed of the sampling (default 0)"},
    {"model", 'm', 1, "NAME           the model (default: the first)"},
    {"engine", 0, 1, "interp|c|jit   run with the interpreter, compiled C or the LLVM JIT (default jit)"},
    CLI_OPT_TIME_PASSES,
    {0},
};

const Command cmd_sample = {
    .name = "sample",
    .synopsis = "FILE -w C.safetensors [--vocab FILE] [--steps N] [--temperature T] [--prime TEXT] [--seed N]",
    .summary = "generate text from a character model trained with rnnc train",
    .details = "Feeds the prime text to FILE's model with the weights of checkpoint C, then\n"
               "draws each next character from softmax(logits / T) and feeds it back,\n"
               "carrying the recurrent state from step to step. The checkpoint must hold\n"
               "the vocabulary of the text the model was trained on, or --vocab FILE give\n"
               "it: FILE's distinct bytes in increasing order are ids 0, 1, ... (as train\n"
               "numbers text data). Prints the prime and the generated characters to stdout.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
