/* rnn_rnnc.c - rnnc's own column of the RNN benchmark (bench/rnn_bench.sh):
 * the time of a forward pass and of a training step of one RNN layer, as
 * models written in the .rnn language and compiled by an rnnc engine
 * (exec/engine.h: "c" by default, --engine NAME for another one), timed
 * through the engine's run() as `rnnc run` and `rnnc train` call it.
 *
 * The work is the baselines' (bench/rnn_torch.py, bench/rnn_onednn.cpp):
 * one layer, one direction, zero initial state, I = H, input [T, B, I].
 *   forward:  model { input x : seq<[I]>  h = CELL(x, hidden=H)  output h }
 *             The recurrent layer and nothing else; its output [T, B, H].
 *   training: model { input tok : seq<int>  target y : seq<[H]>
 *                     x = embedding(tok, vocab=16, dim=I)  h = CELL(x, hidden=H)
 *                     loss = mse(h, y) }
 *             through the training recipe (passes/pipeline.h: autodiff and
 *             train_step, SGD, lr 1e-3, no clipping), as `rnnc train` runs it:
 *             one run is forward, MSE loss, BPTT, and the SGD update, as in
 *             the baselines.  The baselines also compute the gradient with
 *             respect to the layer's input x (bench/rnn_flops.h counts it);
 *             rnnc differentiates only towards parameters, so the input
 *             comes from a 16-row embedding, whose gradient needs exactly
 *             that dx.  The embedding's own work (a gather and a
 *             scatter-add of B*T*I floats, an update of 16*I weights) is
 *             O(1/H) of the layer's and is left in.  The step also computes
 *             what `rnnc train` gets from it: the gradients' global norm
 *             (O(parameters)).
 * CELL is lstm, gru (PyTorch's form, oneDNN's lbr_gru) or rnn (tanh); or
 * one of the LSTM rows: lstm2, two stacked layers (lstm(..., layers=2));
 * ulstm and glstm, the same LSTM as a user-written cell, with one stacked
 * weight matrix per input (as examples/user_cell.rnn) or gate by gate
 * (ulstm_src, glstm_src below).  Only lstm2 has baselines (nn.LSTM with
 * num_layers=2, oneDNN's primitive with 2 layers); the user cells are
 * compared with the built-in lstm of the same size.
 *
 * Each timed call is engine->run() with the tensors already in memory: the
 * engine's checks and its allocation of the result tensors are in the
 * time, as they are in PyTorch's; compiling is not (done once before).
 * The new parameters a training step returns are the next step's, as in
 * `rnnc train`.
 *
 * Before timing, each configuration is checked once, untimed, against the
 * reference interpreter (ir/interp.h) on the first CHECK_T steps of the same
 * data, weights, batch and sizes: the forward output, the loss and every
 * gradient (--no-check skips it; the interpreter is slow at these sizes).
 *
 * Timing (the same as the baselines'): 2 warm-up calls; 3 repetitions of R
 * calls, R = 20, or fewer (at least 3) when 20 would take more than 0.7 s,
 * or more (up to 200) to fill 0.3 s; the best of the 3 medians, and
 * spread = (worst median - best median) / best.
 *
 * Output, one line per cell and shape (bench/rnn_bench.sh parses it):
 *   LABEL CELL I H B T threads=N fwd_ms=X fwd_spread=P% train_ms=Y train_spread=Q%
 *         fwd_base_mb=.. fwd_peak_mb=.. train_base_mb=.. train_peak_mb=..
 *         fwd_arena_mb=.. train_arena_mb=.. weights_mb=..
 * Memory (MiB; time_mem() below): base, the process's resident memory
 * before the function's first run (code, libraries, weights, inputs);
 * peak, the most resident during its timed runs (VmHWM, reset after one
 * untimed run, so that compiling is not in it); arena, the memory plan's
 * arena at these sizes (lower/memplan.h), and the weights, which the
 * compiled code reads in place.  Peak and base are left out where
 * /proc/self/clear_refs cannot reset the peak.
 * LABEL is --label's ("rnnc" by default; the script runs the C engine as
 * "rnnc" and the JIT as "jit"); threads = RNNC_THREADS (the runtime's own
 * default when unset).
 *
 * --compile-time instead prints how long the JIT takes to compile a model,
 * from its text to machine code, stage by stage (compile_time() below):
 *   compile CELL I H layers=L forward|train total_ms=X spread=P% front=..
 * by default for the case, a two-layer LSTM at H = 256.
 *
 * --lengths instead times the same models with `lengths` on their sequence
 * input (docs/language.md, "Lengths"), by default for an LSTM at I = H =
 * 256, B = 32, T = 100: a batch whose lengths are all T against batches
 * whose lengths are drawn uniform in [T/4, T] and in [T/4, T/2] (seeded),
 * padded to T, and prints one line for each drawn batch:
 *   LABEL CELL I H B T DRAW threads=N ideal=R max_len=M fwd_all_ms=X
 *     fwd_ms=Y fwd_ratio=Y/X train_all_ms=.. train_ms=.. train_ratio=..
 * ideal = sum(len) / (B T), the ratio of work proportional to the real
 * steps (cuDNN's packed sequences); max_len / T is what leaving out the
 * steps past the longest example gives (ir/lengths.h).
 *
 *   rnn_rnnc [--engine NAME] [--label NAME] [--no-check] [--forward-only] [--cpu-clock] [CELL I H B T]
 *   rnn_rnnc [--cpu-clock] --compile-time [CELL H LAYERS]   (--cpu-clock: the JIT's
 *       stages in the compiling thread's CPU time, the line marked clock=cpu)
 *   rnn_rnnc --lengths [--engine NAME] [CELL I H B T] */
#define _DEFAULT_SOURCE /* glibc's malloc_trim */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "exec/jitengine.h"
#include "bench/rnn_flops.h"
#include "exec/engine.h"
#include "frontend/ast.h"
#include "frontend/diag.h"
#include "frontend/sema.h"
#include "ir/bind.h"
#include "lower/kcompile.h"
#include "passes/pipeline.h"
#include "exec/rng.h"
#include "runtime/threadpool.h"

#define VOCAB   16 /* rows of the embedding that feeds the training model */
#define CHECK_T 3  /* steps of the untimed check against the interpreter */

static int forward_only; /* --forward-only: the training step is not timed */

typedef struct Config {
    const char *cell;
    long i, h, b, t;
    int layers;  /* stacked layers: 1 in the table, 2 for --compile-time */
    int lengths; /* the sequence input declared with `lengths` (--lengths) */
} Config;

/* The benchmark's shapes (I = H, B, T), as in the baselines. */
static const long shapes[][3] = {{256, 1, 100}, {256, 32, 100}, {512, 64, 100}};
static const char *const cells[] = {"lstm", "gru", "rnn"};

/* ---- the models ------------------------------------------------------------------ */

/* A program parsed from text, and its model's IR.  The IR may point into
 * the program, so they are freed together. */
typedef struct Model {
    char *text;
    Program *prog;
    IrModule *m;
} Model;

static void model_free(Model *md)
{
    if (md->m) ir_free(md->m);
    if (md->prog) ast_free(md->prog);
    free(md->text);
    memset(md, 0, sizeof *md);
}

/* The user-written LSTM cells of the rows "ulstm" and "glstm": PyTorch's
 * LSTM equations (gate order i, f, g, o), one bias.  ulstm as
 * examples/user_cell.rnn writes it, one stacked weight matrix per input;
 * glstm gate by gate as the textbook does, eight products a step, which
 * passes/merge_linear.c joins into the built-in's two. */
static const char ulstm_src[] = "cell ulstm(x: [I]) -> [H] {\n"
                                "  param W: [4H, I]  param U: [4H, H]  param b: [4H]\n"
                                "  state h: [H] = 0\n  state c: [H] = 0\n"
                                "  i, f, g, o = split(W @ x + U @ h + b, 4)\n"
                                "  c' = sigmoid(f) * c + sigmoid(i) * tanh(g)\n"
                                "  h' = sigmoid(o) * tanh(c')\n  out h'\n}\n";
static const char glstm_src[] = "cell glstm(x: [I]) -> [H] {\n"
                                "  param Wi: [H, I]  param Wf: [H, I]  param Wg: [H, I]  param Wo: [H, I]\n"
                                "  param Ui: [H, H]  param Uf: [H, H]  param Ug: [H, H]  param Uo: [H, H]\n"
                                "  param bi: [H]  param bf: [H]  param bg: [H]  param bo: [H]\n"
                                "  state h: [H] = 0\n  state c: [H] = 0\n"
                                "  i = sigmoid(Wi @ x + Ui @ h + bi)\n  f = sigmoid(Wf @ x + Uf @ h + bf)\n"
                                "  g = tanh(Wg @ x + Ug @ h + bg)\n  o = sigmoid(Wo @ x + Uo @ h + bo)\n"
                                "  c' = f * c + i * g\n  h' = o * tanh(c')\n  out h'\n}\n";

/* The .rnn text of the forward or the training model (see the top): a
 * built-in cell with c->layers layers ("lstm2": lstm, 2), or a user cell
 * with its definition before the model. */
static char *model_text(const Config *c, int train)
{
    int user = !strcmp(c->cell, "ulstm") || !strcmp(c->cell, "glstm");
    char layer[128];
    if (user)
        snprintf(layer, sizeof layer, "%s(x, H=%ld)", c->cell, c->h);
    else
        snprintf(layer, sizeof layer, "%.4s(x, hidden=%ld, layers=%d)", c->cell, c->h, c->layers); /* lstm2: lstm */
    const char *cells = !user ? "" : !strcmp(c->cell, "ulstm") ? ulstm_src : glstm_src;
    const char *len = c->lengths ? " lengths" : "";
    size_t n = strlen(cells) + 512;
    char *s = malloc(n);
    if (!s) return NULL;
    if (train)
        snprintf(s, n,
                 "%smodel step {\n  input tok : seq<int>%s\n  target y : seq<[%ld]>\n"
                 "  x = embedding(tok, vocab=%d, dim=%ld)\n  h = %s\n  loss = mse(h, y)\n}\n",
                 cells, len, c->h, VOCAB, c->i, layer);
    else
        snprintf(s, n, "%smodel fwd {\n  input x : seq<[%ld]>%s\n  h = %s\n  output h\n}\n", cells, c->i, len, layer);
    return s;
}

/* What a model is built for: the recipe (passes/pipeline.h) it goes
 * through after sema. */
typedef enum { FORWARD, GRADIENT, TRAINING } Use;

/* Parses and builds one model, and makes it the forward pass, the
 * gradient (for the check) or the SGD training step; optimized with
 * `optimize`, as the engine will run it.  Returns 0, or -1 with the
 * messages printed. */
static int model_build(Model *md, const Config *c, Use use, int optimize)
{
    memset(md, 0, sizeof *md);
    int train = use != FORWARD;
    md->text = model_text(c, train);
    if (!md->text) return -1;
    Diag d;
    diag_init(&d, train ? "<training model>" : "<forward model>", md->text, stderr);
    md->prog = parse_program(d.filename, md->text, &d);
    if (md->prog && !diag_errors(&d)) md->m = sema_build(md->prog, NULL, &d);
    if (!md->m || diag_errors(&d)) return -1;
    char err[512];
    TrainConfig tc = train_config_default();
    tc.opt = OPT_SGD;
    tc.lr = 1e-3;
    PipeOpts po = {.optimize = optimize};
    if (use == FORWARD    ? pipeline_forward(md->m, 0, &po, err, sizeof err)
        : use == GRADIENT ? pipeline_grad(md->m, 0, &po, err, sizeof err)
                          : pipeline_train(md->m, &tc, &po, err, sizeof err)) {
        fprintf(stderr, "rnn_rnnc: %s\n", err);
        return -1;
    }
    return 0;
}

/* ---- tensors --------------------------------------------------------------------- */

static void die_oom(void)
{
    fprintf(stderr, "rnn_rnnc: out of memory\n");
    exit(1);
}

/* A new F32 tensor of the given shape, U(-a, a); put into map under name. */
static void put_uniform(TensorMap *map, const char *name, int rank, const int64_t *shape, float a, RtRng *rng)
{
    Tensor t;
    if (rt_tensor_alloc(&t, RT_F32, rank, shape)) die_oom();
    float *p = t.data;
    for (int64_t k = 0, n = rt_numel(&t); k < n; k++) p[k] = rt_rng_uniform_sym(rng, a);
    if (rt_map_put(map, name, &t)) die_oom();
}

/* Every parameter of m, U(-1/sqrt(H), 1/sqrt(H)) as PyTorch's and the
 * oneDNN baseline's; the same values for the same names and seed. */
static void init_params(const IrModule *m, long h, TensorMap *params)
{
    for (int k = 0; k < m->nparams; k++) {
        const IrParam *p = &m->params[k];
        RtRng rng;
        uint64_t seed = 7;
        for (const char *s = p->name; *s; s++) /* per name: both models agree */
            seed = seed * 31 + (unsigned char)*s;
        rt_rng_seed(&rng, seed);
        put_uniform(params, p->name, p->value->type.rank, p->value->type.dim, 1.0f / sqrtf((float)h), &rng);
    }
}

/* The inputs of config c over t steps: x [t, B, I] U(-1, 1) for the
 * forward model, tok [t, B] in [0, VOCAB) and y [t, B, H] U(-1, 1) for the
 * training one.  The first steps are the same for any t. */
static void make_inputs(const Config *c, long t, TensorMap *fwd, TensorMap *train)
{
    RtRng rng;
    rt_rng_seed(&rng, 11);
    put_uniform(fwd, "x", 3, (int64_t[]){t, c->b, c->i}, 1.0f, &rng);
    rt_rng_seed(&rng, 12);
    put_uniform(train, "y", 3, (int64_t[]){t, c->b, c->h}, 1.0f, &rng);
    Tensor tok;
    if (rt_tensor_alloc(&tok, RT_I64, 2, (int64_t[]){t, c->b})) die_oom();
    for (int64_t k = 0; k < t * c->b; k++) ((int64_t *)tok.data)[k] = (int64_t)(rt_rng_u64(&rng) % VOCAB);
    if (rt_map_put(train, "tok", &tok)) die_oom();
}

/* ---- the check against the interpreter ---------------------------------------------- */

/* The largest |a - b| / (atol + rtol |b|) over the tensor `name` of two
 * output maps (b: the interpreter's); HUGE_VAL when it is missing or the
 * shapes differ. */
static double excess(const TensorMap *a, const TensorMap *b, const char *name, double rtol, double atol)
{
    const Tensor *x = rt_map_get(a, name), *y = rt_map_get(b, name);
    if (!x || !y || x->dtype != RT_F32 || y->dtype != RT_F32 || rt_numel(x) != rt_numel(y)) return HUGE_VAL;
    double worst = 0;
    const float *p = x->data, *q = y->data;
    for (int64_t k = 0, n = rt_numel(x); k < n; k++) {
        double e = fabs((double)p[k] - q[k]) / (atol + rtol * fabs((double)q[k]));
        if (!(e <= worst)) worst = isnan(e) ? HUGE_VAL : e;
    }
    return worst;
}

/* Runs mc with engine e and mi (the same model, not optimized) with the
 * interpreter on the same tensors, and compares the forward output "h",
 * the "loss" and every "grad:" output; *worst receives the largest
 * error as a fraction of its tolerance.
 * Tolerances (the differential tests', tests/diff/run.sh, with the
 * absolute part raised for these larger sums): the engines sum the I + H
 * products of a pre-activation in different orders (blocked, FMA) and
 * evaluate tanh/sigmoid with runtime/vmath.h's polynomials, each a few ulp;
 * over CHECK_T steps that stays ~1e-6 relative, so RTOL 1e-4 has a margin
 * of ~100.  Elements that cancel to near 0 keep the absolute error of their
 * largest terms: ~1e-6 for values (terms ~1), ~1e-7 for gradients (the
 * MSE's 2/N scales them to ~1e-4 .. 1e-2): ATOL 1e-5 and 1e-6. */
static int check_module(const Engine *e, const IrModule *mc, const IrModule *mi, const TensorMap *params,
                        const TensorMap *inputs, const char *what, double *worst)
{
    TensorMap oc, oi;
    rt_map_init(&oc);
    rt_map_init(&oi);
    char err[512];
    int rc = -1;
    if (e->run(e, mc, params, inputs, &oc, err, sizeof err) ||
        engine_interp.run(&engine_interp, mi, params, inputs, &oi, err, sizeof err)) {
        fprintf(stderr, "rnn_rnnc: %s: %s\n", what, err);
        goto done;
    }
    for (int k = -1; k < mi->noutputs; k++) {
        if (k < 0 && !mi->loss) continue;
        const char *name = k < 0 ? "loss" : mi->outputs[k].name;
        int grad = k >= 0 && mi->outputs[k].role == IR_ROLE_GRAD;
        double x = excess(&oc, &oi, name, 1e-4, grad ? 1e-6 : 1e-5);
        *worst = fmax(*worst, x);
        if (!(x <= 1)) {
            fprintf(stderr, "rnn_rnnc: %s: engine '%s' and the interpreter differ on '%s' (%.3g x the tolerance)\n",
                    what, e->name, name, x);
            goto done;
        }
    }
    rc = 0;
done:
    rt_map_free(&oc);
    rt_map_free(&oi);
    return rc;
}

/* ---- timing ------------------------------------------------------------------------- */

typedef struct Timing {
    double ms, spread_pct;
} Timing;

typedef int (*Op)(void *ctx);

/* --cpu-clock (or RNN_BENCH_CLOCK=cpu): the process's CPU time instead
 * of the wall clock, for one-thread A/B comparisons on a loaded machine
 * (it leaves out the time other processes held the core; cache
 * interference stays; with two threads it sums both).  make bench uses
 * wall time. */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void)
{
    static int env_read;
    if (!env_read) {
        const char *c = getenv("RNN_BENCH_CLOCK");
        if (c && !strcmp(c, "cpu")) bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        env_read = 1;
    }
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Best median of 3 repetitions, as described at the top.  A failed call
 * ends the program (its message already printed). */
static Timing time_op(Op op, void *ctx)
{
    if (op(ctx)) exit(1);
    double t0 = now();
    if (op(ctx)) exit(1);
    double one = fmax(now() - t0, 1e-7);
    int runs = 20;
    if (runs * one > 0.7) runs = (int)fmax(3, ceil(0.7 / one));
    if (runs * one < 0.3) runs = (int)fmin(200, ceil(0.3 / one));
    double *t = malloc((size_t)runs * sizeof *t), best = HUGE_VAL, worst = 0;
    if (!t) die_oom();
    for (int rep = 0; rep < 3; rep++) {
        for (int k = 0; k < runs; k++) {
            double a = now();
            if (op(ctx)) exit(1);
            t[k] = now() - a;
        }
        qsort(t, (size_t)runs, sizeof *t, cmp_double);
        best = fmin(best, t[runs / 2]);
        worst = fmax(worst, t[runs / 2]);
    }
    free(t);
    return (Timing){best * 1e3, 100.0 * (worst - best) / best};
}

/* One timed call: a run of m on params and inputs; for a training step the
 * "new:<p>" results replace the parameters, as `rnnc train` does. */
typedef struct Call {
    const Engine *e;
    const IrModule *m;
    TensorMap *params;
    const TensorMap *inputs;
    int train;
} Call;

static int run_call(void *ctx)
{
    Call *c = ctx;
    TensorMap out;
    rt_map_init(&out);
    char err[512];
    int rc = c->e->run(c->e, c->m, c->params, c->inputs, &out, err, sizeof err);
    if (rc) fprintf(stderr, "rnn_rnnc: %s\n", err);
    for (int k = 0; !rc && c->train && k < c->m->noutputs; k++) {
        const IrOutput *o = &c->m->outputs[k];
        if (o->role != IR_ROLE_NEW_PARAM) continue;
        Tensor *t = rt_map_get(&out, o->name);
        if (!t || rt_map_put(c->params, o->of, t)) {
            fprintf(stderr, "rnn_rnnc: the training step gave no '%s'\n", o->name);
            rc = -1;
        }
    }
    rt_map_free(&out);
    return rc;
}

/* ---- memory --------------------------------------------------------------------- */

/* A field of /proc/self/status in KiB ("VmRSS", "VmHWM"), or -1 where
 * there is none (not Linux). */
static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(key);
    while (v < 0 && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

/* Starts a measurement of peak resident memory: gives the heap's free
 * pages back (what the check and the compilers freed would otherwise
 * count) and resets VmHWM to the current RSS (writing 5 to clear_refs,
 * Linux 4.0 on).  Returns the RSS in KiB, or -1 when the peak cannot be
 * reset (then no peak is reported). */
static long peak_start(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int bad = fputs("5", f) < 0;
    bad |= fclose(f) != 0;
    return bad ? -1 : status_kib("VmRSS");
}

/* The memory plan's arena, in bytes, of m as a compiled engine runs it on
 * these inputs (exec/kfunc_run.c sizes it the same way: kcompile, the
 * size symbols from the inputs, arena_bytes evaluated); -1 on an error. */
static double arena_bytes(const IrModule *m, const TensorMap *inputs)
{
    char err[512];
    KFunc *kf = kcompile(m, "bench", err, sizeof err);
    int64_t *sym = malloc(sizeof *sym * (size_t)(m->nsyms ? m->nsyms : 1));
    double v = -1;
    if (kf && sym && !ir_bind_inputs(m, inputs, sym, m->loss != NULL, err, sizeof err)) {
        for (int k = 0; k < m->nsyms; k++)
            if (sym[k] < 0) sym[k] = 1;
        v = (double)kexpr_eval(kf->arena_bytes, sym, NULL);
    }
    free(sym);
    if (kf) kfunc_free(kf);
    return v;
}

/* Bytes of the float tensors in map. */
static double map_bytes(const TensorMap *map)
{
    double v = 0;
    for (int k = 0; k < map->count; k++) v += 4.0 * (double)rt_numel(&map->tensors[k]);
    return v;
}

/* The memory of one timed function: the RSS before its timing, the peak
 * during it (KiB, -1: unknown) and its arena (bytes). */
typedef struct Mem {
    long base_kib, peak_kib;
    double arena;
} Mem;

/* Times call with time_op, measuring its memory: the RSS before its
 * first run (code, libraries, the weights and inputs), then one untimed
 * run, so that compiling (the JIT compiles in this process) is not in
 * the peak, which is reset after it; the peak then holds the arena, the
 * results each call allocates and the compiled code. */
static Timing time_mem(Call *call, Mem *mem)
{
    mem->base_kib = peak_start();
    if (run_call(call)) exit(1);
    long ok = peak_start();
    Timing t = time_op(run_call, call);
    mem->peak_kib = ok < 0 || mem->base_kib < 0 ? -1 : status_kib("VmHWM");
    mem->arena = arena_bytes(call->m, call->inputs);
    return t;
}
/* ---- one configuration -------------------------------------------------------------- */

/* Opens the engine called name into *e: one per configuration, since the
 * C engine caches its compiled code by module address, and a later module
 * may get a freed one's address.  0, or -1 (message printed). */
static int engine_for(const char *name, Engine *e)
{
    char err[512];
    if (!engine_open(name, e, err, sizeof err)) return 0;
    fprintf(stderr, "rnn_rnnc: %s\n", err);
    return -1;
}

static void maps_init(TensorMap *const *maps, size_t n)
{
    for (size_t k = 0; k < n; k++) rt_map_init(maps[k]);
}

/* Builds, checks (unless !check) and times config c with the engine
 * named `engine`; prints its line.  Returns 0 or -1 (messages printed). */
static int bench(const char *engine, const char *label, const Config *c, int threads, int check)
{
    Model fc = {0}, tc = {0}, fi = {0}, gc = {0}, gi = {0}; /* compiled and interpreted copies */
    TensorMap fparams, tparams, fin, tin, fin_chk, tin_chk;
    TensorMap *maps[] = {&fparams, &tparams, &fin, &tin, &fin_chk, &tin_chk};
    maps_init(maps, sizeof maps / sizeof *maps);
    int rc = -1;
    Engine eng, *e = NULL;
    if (engine_for(engine, &eng)) goto done;
    e = &eng;
    /* The check compares the gradients (the training step's outputs are
     * the updated parameters, which hide them behind lr). */
    int opt = engine_optimizes(e);
    if (model_build(&fc, c, FORWARD, opt) || model_build(&tc, c, TRAINING, opt) ||
        (check &&
         (model_build(&fi, c, FORWARD, 0) || model_build(&gc, c, GRADIENT, opt) || model_build(&gi, c, GRADIENT, 0))))
        goto done;
    init_params(fc.m, c->h, &fparams);
    init_params(tc.m, c->h, &tparams);
    make_inputs(c, c->t, &fin, &tin);
    if (check) {
        long steps = c->t < CHECK_T ? c->t : CHECK_T;
        make_inputs(c, steps, &fin_chk, &tin_chk);
        char what[128];
        snprintf(what, sizeof what, "%s I=%ld H=%ld B=%ld T=%ld", c->cell, c->i, c->h, c->b, steps);
        double worst = 0;
        if (check_module(e, fc.m, fi.m, &fparams, &fin_chk, what, &worst) ||
            check_module(e, gc.m, gi.m, &tparams, &tin_chk, what, &worst))
            goto done;
        printf("# %s %s: output, loss and gradients as the interpreter's within %.2g of the tolerance\n", label, what,
               worst);
    }
    Call fwd = {e, fc.m, &fparams, &fin, 0}, train = {e, tc.m, &tparams, &tin, 1};
    Mem mf, mt = {0};
    mt.peak_kib = -1;
    Timing tf = time_mem(&fwd, &mf);
    Timing tt = forward_only ? (Timing){0, 0} : time_mem(&train, &mt);
    printf("%s %s %ld %ld %ld %ld threads=%d fwd_ms=%.4f fwd_spread=%.1f%% train_ms=%.4f "
           "train_spread=%.1f%%",
           label, c->cell, c->i, c->h, c->b, c->t, threads, tf.ms, tf.spread_pct, tt.ms, tt.spread_pct);
    if (mf.peak_kib >= 0 && mt.peak_kib >= 0)
        printf(" fwd_base_mb=%.1f fwd_peak_mb=%.1f train_base_mb=%.1f train_peak_mb=%.1f", mf.base_kib / 1024.0,
               mf.peak_kib / 1024.0, mt.base_kib / 1024.0, mt.peak_kib / 1024.0);
    printf(" fwd_arena_mb=%.2f train_arena_mb=%.2f weights_mb=%.2f\n", mf.arena / (1 << 20), mt.arena / (1 << 20),
           map_bytes(&fparams) / (1 << 20));
    fflush(stdout);
    rc = 0;
done:
    if (e) engine_close(e); /* before the modules it compiled */
    for (size_t k = 0; k < sizeof maps / sizeof *maps; k++) rt_map_free(maps[k]);
    Model *models[] = {&fc, &tc, &fi, &gc, &gi};
    for (size_t k = 0; k < sizeof models / sizeof *models; k++) model_free(models[k]);
    return rc;
}

/* ---- lengths (--lengths) ------------------------------------------------------------ */

/* The lengths of a batch of B, put as "x.len" into fin and "tok.len" into
 * tin: all T (lo = hi = T), or drawn uniform in [lo, hi], seeded; their
 * sum and maximum. */
static void put_lengths(const Config *c, long lo, long hi, TensorMap *fin, TensorMap *tin, long *sum, long *most)
{
    RtRng rng;
    rt_rng_seed(&rng, 14);
    Tensor a, b;
    int64_t n = c->b;
    if (rt_tensor_alloc(&a, RT_I64, 1, &n) || rt_tensor_alloc(&b, RT_I64, 1, &n)) die_oom();
    *sum = *most = 0;
    for (long k = 0; k < c->b; k++) {
        long v = lo + (long)(rt_rng_u64(&rng) % (uint64_t)(hi - lo + 1));
        ((int64_t *)a.data)[k] = ((int64_t *)b.data)[k] = v;
        *sum += v;
        *most = v > *most ? v : *most;
    }
    if (rt_map_put(fin, "x.len", &a) || rt_map_put(tin, "tok.len", &b)) die_oom();
}

/* Times config c's forward pass and training step (models with lengths)
 * on a batch whose lengths are all T, then on each drawn batch; prints a
 * line for each (see the top).  Returns 0 or -1 (messages printed). */
static int bench_lengths(const char *engine, const char *label, const Config *c, int threads)
{
    static const char *const draws[] = {"uniform[T/4,T]", "uniform[T/4,T/2]"};
    const long lo[] = {c->t / 4 > 0 ? c->t / 4 : 1, c->t / 4 > 0 ? c->t / 4 : 1};
    const long hi[] = {c->t, c->t / 2 > lo[1] ? c->t / 2 : lo[1]};
    Model fc = {0}, tc = {0};
    TensorMap fparams, tparams, fin, tin;
    TensorMap *maps[] = {&fparams, &tparams, &fin, &tin};
    maps_init(maps, sizeof maps / sizeof *maps);
    int rc = -1;
    Engine eng, *e = NULL;
    if (engine_for(engine, &eng)) goto done;
    e = &eng;
    if (model_build(&fc, c, FORWARD, engine_optimizes(e)) || model_build(&tc, c, TRAINING, engine_optimizes(e)))
        goto done;
    init_params(fc.m, c->h, &fparams);
    init_params(tc.m, c->h, &tparams);
    make_inputs(c, c->t, &fin, &tin);
    long sum, most;
    put_lengths(c, c->t, c->t, &fin, &tin, &sum, &most);
    Call fwd = {e, fc.m, &fparams, &fin, 0}, train = {e, tc.m, &tparams, &tin, 1};
    Timing full_f = time_op(run_call, &fwd), full_t = time_op(run_call, &train);
    for (size_t d = 0; d < sizeof draws / sizeof *draws; d++) {
        put_lengths(c, lo[d], hi[d], &fin, &tin, &sum, &most);
        Timing tf = time_op(run_call, &fwd), tt = time_op(run_call, &train);
        printf("%s %s %ld %ld %ld %ld %s threads=%d ideal=%.3f max_len=%ld fwd_all_ms=%.3f fwd_ms=%.3f "
               "fwd_ratio=%.3f train_all_ms=%.3f train_ms=%.3f train_ratio=%.3f\n",
               label, c->cell, c->i, c->h, c->b, c->t, draws[d], threads, (double)sum / (double)(c->b * c->t), most,
               full_f.ms, tf.ms, tf.ms / full_f.ms, full_t.ms, tt.ms, tt.ms / full_t.ms);
        fflush(stdout);
    }
    rc = 0;
done:
    if (e) engine_close(e);
    for (size_t k = 0; k < sizeof maps / sizeof *maps; k++) rt_map_free(maps[k]);
    model_free(&fc);
    model_free(&tc);
    return rc;
}

/* ---- compile time (--compile-time) ------------------------------------------------- */

#define COMPILE_REPS 7 /* fresh compiles; the median is reported */

/* One compile of config c's training (train = 1) or forward model with the
 * JIT, from the .rnn text to machine code, in ms per stage: [0] the front
 * end (parse, sema; for training autodiff and the SGD step), [1] the
 * optimization passes (optimize), [2] lowering, kernel fusion and
 * the memory plan, [3] building the LLVM module, [4] LLVM's optimization,
 * [5] code generation.  Returns 0, or -1 (messages printed). */
static int compile_once(const Engine *jit, const Config *c, int train, double ms[6])
{
    Model md = {0};
    char err[512];
    int rc = -1;
    double t0 = now();
    if (model_build(&md, c, train ? TRAINING : FORWARD, 0)) goto done;
    double t1 = now(); /* the recipe's last step, optimize(), timed alone */
    if (engine_optimizes(jit) && optimize(md.m, err, sizeof err)) {
        fprintf(stderr, "rnn_rnnc: %s\n", err);
        goto done;
    }
    double t2 = now();
    JitTimes jt;
    JitEngine *je = jitengine_build(md.m, &jt, err, sizeof err);
    if (!je) {
        fprintf(stderr, "rnn_rnnc: %s\n", err);
        goto done;
    }
    jitengine_free(je);
    /* with --cpu-clock, the JIT's stages in the compiling thread's CPU time */
    const JitStages *js =
        bench_clock == CLOCK_MONOTONIC ? &(JitStages){jt.lower, jt.build, jt.optimize, jt.codegen} : &jt.cpu;
    double stage[6] = {t1 - t0, t2 - t1, js->lower, js->build, js->optimize, js->codegen};
    for (int k = 0; k < 6; k++) ms[k] = 1e3 * stage[k];
    rc = 0;
done:
    model_free(&md);
    return rc;
}

/* Prints the JIT's compile time of config c's forward and training models:
 * the median of COMPILE_REPS fresh compiles (after one untimed, which
 * loads LLVM's code and data into the caches), its stages, and the spread
 * (slowest - fastest) / median.  The target: a two-layer LSTM
 * training step at H = 256 in under 100 ms (issue 18 item 5; it was 300 ms).
 * Reported, never asserted.  Returns 0, or 1. */
static int compile_time(const Config *c)
{
    static const char *const names[6] = {"front", "passes", "lower", "llvm_build", "llvm_opt", "codegen"};
    Engine jit;
    char err[512];
    if (engine_open("jit", &jit, err, sizeof err)) {
        fprintf(stderr, "rnn_rnnc: %s\n", err);
        return 1;
    }
    int rc = 0;
    for (int train = 0; train <= 1 && !rc; train++) {
        double ms[COMPILE_REPS + 1][6], total[COMPILE_REPS + 1];
        for (int r = 0; r <= COMPILE_REPS && !rc; r++) {
            rc = compile_once(&jit, c, train, ms[r]);
            total[r] = 0;
            for (int k = 0; k < 6; k++) total[r] += ms[r][k];
        }
        if (rc) break;
        /* the median run (of the timed ones: [1..REPS]) and its stages */
        int order[COMPILE_REPS];
        for (int r = 0; r < COMPILE_REPS; r++) order[r] = r + 1;
        for (int a = 1; a < COMPILE_REPS; a++) /* insertion sort by total */
            for (int b = a; b > 0 && total[order[b]] < total[order[b - 1]]; b--) {
                int x = order[b];
                order[b] = order[b - 1];
                order[b - 1] = x;
            }
        int med = order[COMPILE_REPS / 2];
        double spread = (total[order[COMPILE_REPS - 1]] - total[order[0]]) / total[med];
        printf("compile %s %ld %ld layers=%d %s total_ms=%.1f spread=%.0f%%%s", c->cell, c->i, c->h, c->layers,
               train ? "train" : "forward", total[med], 100 * spread,
               bench_clock == CLOCK_MONOTONIC ? "" : " clock=cpu");
        for (int k = 0; k < 6; k++) printf(" %s=%.1f", names[k], ms[med][k]);
        printf("\n");
        fflush(stdout);
    }
    engine_close(&jit);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: rnn_rnnc [--engine NAME] [--label NAME] [--no-check] [--forward-only] [--cpu-clock]\n"
                    "                [CELL I H B T]   (CELL: lstm, gru, rnn, lstm2, ulstm or glstm)\n"
                    "       rnn_rnnc [--cpu-clock] --compile-time [lstm|gru|rnn H LAYERS]\n"
                    "       rnn_rnnc --lengths [--engine NAME] [--label NAME] [lstm|gru|rnn I H B T]\n");
    return 2;
}

/* Reads n positive integers (at most 1 << 20) from argv into v; 0 or -1. */
static int read_sizes(char **argv, int n, long *const *v)
{
    for (int k = 0; k < n; k++) {
        char *end;
        *v[k] = strtol(argv[k], &end, 10);
        if (*end || *v[k] <= 0 || *v[k] > 1 << 20) return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *engine = "c", *label = "rnnc";
    int check = 1, compile = 0, lengths = 0, a = 1;
    for (; a < argc && argv[a][0] == '-'; a++) {
        if (!strcmp(argv[a], "--engine") && a + 1 < argc)
            engine = argv[++a];
        else if (!strncmp(argv[a], "--engine=", 9))
            engine = argv[a] + 9;
        else if (!strcmp(argv[a], "--label") && a + 1 < argc)
            label = argv[++a];
        else if (!strcmp(argv[a], "--no-check"))
            check = 0;
        else if (!strcmp(argv[a], "--cpu-clock"))
            bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        else if (!strcmp(argv[a], "--forward-only"))
            forward_only = 1;
        else if (!strcmp(argv[a], "--compile-time"))
            compile = 1;
        else if (!strcmp(argv[a], "--lengths"))
            lengths = 1;
        else
            return usage();
    }
    if (compile) { /* by default the case: a two-layer LSTM, H = 256 */
        Config c = {"lstm", 256, 256, 1, 1, 2, 0};
        long layers = 2;
        if (argc - a == 3) {
            c.cell = argv[a];
            if (read_sizes(argv + a + 1, 2, (long *const[]){&c.h, &layers}) || layers > 16 || !rnn_flops_gates(c.cell))
                return usage();
            c.i = c.h;
            c.layers = (int)layers;
        } else if (argc != a) {
            return usage();
        }
        return compile_time(&c);
    }
    Config configs[sizeof cells / sizeof *cells * sizeof shapes / sizeof *shapes];
    int n = 0;
    if (lengths && argc == a) /* the case */
        configs[n++] = (Config){"lstm", 256, 256, 32, 100, 1, 1};
    else if (argc - a == 5) {
        Config c = {argv[a], 0, 0, 0, 0, rnn_flops_layers(argv[a]), lengths};
        if (read_sizes(argv + a + 1, 4, (long *const[]){&c.i, &c.h, &c.b, &c.t}) || !rnn_flops_gates(c.cell))
            return usage();
        configs[n++] = c;
    } else if (argc == a) {
        for (size_t ci = 0; ci < sizeof cells / sizeof *cells; ci++)
            for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
                configs[n++] = (Config){cells[ci], shapes[s][0], shapes[s][0], shapes[s][1], shapes[s][2], 1, 0};
    } else {
        return usage();
    }
    Engine e; /* only to check the name before anything is built */
    char err[512];
    if (engine_open(engine, &e, err, sizeof err)) {
        fprintf(stderr, "rnn_rnnc: %s\n", err);
        return 2;
    }
    engine_close(&e);
    int threads = rt_pool_threads_for(getenv("RNNC_THREADS"));
    printf("# %s: rnnc engine %s; %s\n", label, engine,
           check && !lengths ? "each configuration checked against the interpreter first" : "not checked");
    fflush(stdout);
    int rc = 0;
    for (int k = 0; k < n && !rc; k++)
        rc = (lengths ? bench_lengths(engine, label, &configs[k], threads)
                      : bench(engine, label, &configs[k], threads, check))
                 ? 1
                 : 0;
    return rc;
}
