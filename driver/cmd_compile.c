/* cmd_compile.c - `rnnc compile`: one .rnn model in, one C file out (and
 * optionally its header), with the API of docs/c-api.md; or with
 * --emit=llvm|asm|obj the same API as LLVM IR, assembly or an object file
 * (target/llvm/llvm_file.h) and the same header.
 *
 * The model is built by sema once and cloned for each variant the file
 * holds, made by its recipe (passes/pipeline.h): the forward pass, the
 * streaming step when the model reads its sequences forwards, and with
 * --train the training step configured by the model's train block.
 * target/c/c_file.c writes them.
 * Both files are written by io/outfile.h (temporary names renamed, or in
 * place for special files) and committed only once both are written in
 * full, so a failure leaves no half-written file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "target/c/c_file.h"
#include "target/c/c_gen.h"
#include "target/llvm/llvm_file.h"
#include "driver/cli.h"
#include "driver/cli_hint.h"
#include "driver/run_setup.h"
#include "driver/train_config.h"
#include "ir/bind.h"
#include "ir/timing.h"
#include "io/outfile.h"
#include "io/tensor.h"
#include "passes/pipeline.h"

static const Decl *find_train_block(const Program *p, const char *model)
{
    for (int i = 0; i < p->ndecls; i++)
        if (p->decls[i]->kind == DECL_TRAIN && p->decls[i]->name && !strcmp(p->decls[i]->name, model))
            return p->decls[i];
    return NULL;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Opens path by the rules of io/outfile.h; out_commit() puts it in place. */
static FILE *open_out(OutFile *o, const char *path)
{
    char err[1200];
    if (out_open(o, path, err, sizeof err)) {
        cli_error("%s", err);
        return NULL;
    }
    return o->f;
}

/* Two inputs that would be one field of NAME_inputs: the lengths "x.len"
 * is the field x_len (c_gen.h, cg_field), which an input may be called. */
static int field_clash(const IrModule *m)
{
    char f1[200], f2[200];
    for (int i = 0; i < m->ninputs; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(cg_field(m->inputs[i].name, f1, sizeof f1), cg_field(m->inputs[j].name, f2, sizeof f2))) {
                cli_error("inputs '%s' and '%s' of model '%s' would both be the field '%s' of the C API's inputs: "
                          "rename '%s'",
                          m->inputs[j].name, m->inputs[i].name, m->name, f1,
                          strchr(m->inputs[i].name, '.') ? m->inputs[j].name : m->inputs[i].name);
                return 1;
            }
    return 0;
}

static int run(const CliArgs *a)
{
    const char *outp = cli_get(a, "output"), *hpath = cli_get(a, "header"), *wpath = cli_get(a, "weights");
    const char *rt = cli_get(a, "runtime"), *model = cli_get(a, "model");
    int embed = cli_has(a, "embed-weights"), train = cli_has(a, "train");
    if (!outp) return cli_usage_error(&cmd_compile, "missing -o FILE.c");
    char hint[128];
    if (rt && strcmp(rt, "inline") && strcmp(rt, "link")) {
        static const char *const choices[] = {"inline", "link", NULL};
        cli_hint_value(rt, choices, hint, sizeof hint);
        return cli_usage_error(&cmd_compile, "--runtime must be inline or link, not '%s'%s", rt, hint);
    }
    if (embed != (wpath != NULL))
        return cli_usage_error(
            &cmd_compile, "%s",
            embed ? "--embed-weights needs the weights: -w W.safetensors"
                  : "-w is for --embed-weights (without it the program loads its weights at run time)");
    const char *emit = cli_get(a, "emit"), *target = cli_get(a, "target");
    int lk = -1; /* --emit=llvm|asm|obj: the kernels through LLVM (target/llvm/llvm_file.h) */
    if (emit && strcmp(emit, "c") && (lk = llvm_file_kind(emit)) < 0) {
        static const char *const choices[] = {"c", "llvm", "asm", "obj", NULL};
        cli_hint_value(emit, choices, hint, sizeof hint);
        return cli_usage_error(&cmd_compile, "--emit must be c, llvm, asm or obj, not '%s'%s", emit, hint);
    }
    if (target && lk < 0) return cli_usage_error(&cmd_compile, "--target is for --emit=llvm, asm or obj");
    int no_api = cli_has(a, "no-api");
    if (lk >= 0 && rt) return cli_usage_error(&cmd_compile, "--runtime is for --emit=c");
    if (no_api && lk < 0) return cli_usage_error(&cmd_compile, "--no-api is for --emit=llvm, asm or obj");
    if (no_api && embed) return cli_usage_error(&cmd_compile, "--no-api writes no API: no --embed-weights");
    if (no_api && hpath) return cli_usage_error(&cmd_compile, "--no-api writes no API: no --header");
    const char *prefix = cli_get(a, "prefix");
    if (prefix && !c_is_identifier(prefix))
        return cli_usage_error(&cmd_compile, "--prefix '%s' is not a C identifier", prefix);

    Source s;
    TensorMap weights;
    rt_map_init(&weights);
    IrModule *step = NULL, *trainm = NULL;
    FILE *c = NULL, *h = NULL;
    OutFile co = {.slot = -1}, ho = {.slot = -1};
    char err[1200];
    int rc = source_load(&s, a->pos[0], model);
    if (rc) goto done;
    rc = 1;
    IrModule *fwd = s.ir;
    const char *name = fwd->name;
    if (!prefix) prefix = name;
    if (!c_is_identifier(prefix)) {
        cli_error("model name '%s' is a C keyword: give another prefix with --prefix", name);
        goto done;
    }

    if (field_clash(fwd)) goto done;

    CFileOptions o;
    memset(&o, 0, sizeof o);
    o.prefix = prefix;
    o.source = a->pos[0];
    o.header = hpath ? base_name(hpath) : NULL;
    o.runtime_link = rt && !strcmp(rt, "link");
    o.cfg = train_config_default();

    /* The step and the training step start from copies of their own:
     * every pass rewrites its module in place.  Compiled code runs the
     * optimized modules. */
    const char *why;
    PipeOpts po = {.optimize = 1};
    if (pipeline_can_step(fwd, &why)) {
        step = ir_clone(fwd);
        PipeOpts so = {.optimize = 1, .reset_per_example = 1}; /* NAME_reset_example */
        if (pipeline_step(step, &so, err, sizeof err)) {
            cli_error("%s", err);
            goto done;
        }
    }
    if (train) {
        TrainSettings ts;
        train_settings_default(&ts);
        if (train_settings_block(&ts, find_train_block(s.prog, name), a->pos[0], err, sizeof err)) {
            cli_error("%s", err);
            goto done;
        }
        if (ts.lr > 0) ts.opt.lr = ts.lr;
        o.cfg = ts.opt;
        /* tbptt shorter than the sequences: the state flows from one call
         * (one segment) to the next, as `rnnc train` carries it. */
        o.tbptt = ts.tbptt > 0 && (!ts.seq_len || ts.tbptt < ts.seq_len);
        /* TBPTT(k1, k2) needs the steps before each call's (passes/history.h),
         * which the C API has no argument for yet (docs/c-api.md). */
        if (ts.tbptt_back > ts.tbptt && o.tbptt) {
            cli_error("--train: the train block of '%s' sets tbptt_back = %lld > tbptt = %lld, which the compiled "
                      "training step does not support yet (it back-propagates tbptt steps); train it with rnnc train",
                      name, (long long)ts.tbptt_back, (long long)ts.tbptt);
            goto done;
        }
        trainm = ir_clone(fwd);
        PipeOpts to = {.carry = o.tbptt, .optimize = 1};
        if (pipeline_train(trainm, &o.cfg, &to, err, sizeof err)) {
            cli_error("%s", err);
            goto done;
        }
    }
    /* The forward function takes no targets: the loss is left out. */
    if (pipeline_forward(fwd, 0, &po, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }
    if (wpath) {
        /* checked here against the model, so that a message names the file */
        if (run_load_weights(fwd, wpath, &weights)) goto done;
        o.weights = &weights;
    }
    if (lk >= 0) {
        /* The kernels and the API through LLVM, with the C file's header. */
        if (!(c = open_out(&co, outp))) goto done;
        if (llvm_file_write(c, outp, (LlvmFileKind)lk, target, prefix, fwd, step, trainm, !no_api, o.weights, err,
                            sizeof err)) {
            cli_error("%s", err);
            goto done;
        }
        if (hpath) {
            if (!(h = open_out(&ho, hpath))) goto done;
            if (c_file_write_header(h, fwd, step, trainm, &o, err, sizeof err)) {
                cli_error("%s", err);
                goto done;
            }
        }
        goto commit;
    }
    if (!(c = open_out(&co, outp))) goto done;
    if (hpath && !(h = open_out(&ho, hpath))) goto done;
    TimingMark t = timing_start();
    if (c_file_write(c, h, fwd, step, trainm, &o, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }
    timing_stop(&t, "C emit");
commit: /* every file written in full: now they replace the old ones */
    if (out_commit(&co, err, sizeof err) || (hpath && out_commit(&ho, err, sizeof err))) {
        cli_error("%s", err);
        goto done;
    }
    rc = 0;
done:
    out_abort(&co);
    out_abort(&ho);
    rt_map_free(&weights);
    if (step) ir_free(step);
    if (trainm) ir_free(trainm);
    source_free(&s);
    return rc;
}

static const CliOpt opts[] = {
    {"output", 'o', 1, "FILE.c         the C file to write"},
    {"header", 0, 1, "FILE.h         also write the API's declarations there (the .c includes it)"},
    {"prefix", 0, 1, "NAME           start every API name with NAME_ (default: the model's name)"},
    {"train", 0, 0, "               also compile the training step (the model's train block's settings)"},
    {"weights", 'w', 1, "W.safetensors  the weights to embed (with --embed-weights)"},
    {"embed-weights", 0, 0, "               put the weights into the file as static arrays"},
    {"runtime", 0, 1,
     "inline|link    carry the runtime inside the file (default), or #include \"rnnrt.h\"\n"
     "                              and link with librnnrt.a"},
    {"model", 'm', 1, "NAME           the model (default: the first)"},
    {"emit", 0, 1,
     "c|llvm|asm|obj write C (default), or the kernels and the API as LLVM IR,\n"
     "                              assembly or an object file to link with librnnrt.a\n"
     "                              (the same header; docs/jit.md)"},
    {"target", 0, 1, "TRIPLE         with --emit=llvm|asm|obj: for this target (default: this machine)"},
    {"no-api", 0, 0, "               with --emit=llvm|asm|obj: only the kernel functions, no API"},
    CLI_OPT_TIME_PASSES,
    {0},
};

const Command cmd_compile = {
    .name = "compile",
    .synopsis = "FILE -o model.c [--header model.h] [--prefix NAME] [--train] [-w W.safetensors --embed-weights] "
                "[--runtime=inline|link] [--emit=c|llvm|asm|obj] [--target TRIPLE] [--no-api]",
    .summary = "compile a model to one C file with a small API (create, forward, step, train)",
    .details = "Writes FILE's model as one C file that compiles alone with any C11\n"
               "compiler (-std=c11 -Wall -Wextra -pedantic, no warning) and needs only\n"
               "libc and libm: the runtime (SGEMM, vector math, kernels) is inside it,\n"
               "or with --runtime=link comes from rnnrt.h and librnnrt.a (make install).\n"
               "The API: NAME_create (sizes: maximum batch and sequence lengths),\n"
               "NAME_load_weights (safetensors) or weights embedded with --embed-weights,\n"
               "NAME_forward over T steps, NAME_step one time step with the recurrent\n"
               "state kept in the model (for models that read their sequences forwards),\n"
               "NAME_reset and NAME_reset_example (one example of the batch afresh),\n"
               "NAME_save_weights and the weight getters, NAME_free; with\n"
               "--train also NAME_train_step (loss, BPTT, clipping, the optimizer of the\n"
               "model's train block; defaults: Adam, lr 1e-3). Every function returns a\n"
               "status code, NAME_errmsg says what failed. No global state. An input\n"
               "declared with `lengths` takes them as a field x_len (one an example).\n"
               "docs/c-api.md describes it all; examples/deploy/ is a program using it.\n"
               "With --emit=obj (asm, llvm) the same API comes as an object file, built\n"
               "by LLVM without a C compiler: link it with librnnrt.a -lm -lpthread and\n"
               "use the header --header writes (docs/jit.md).",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
