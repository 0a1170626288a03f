/* fuzz_frontend.c - the whole compiler on any bytes, as `rnnc check`,
 * `dump`, `run`, `grad`, `train` and `compile` would take them up to the
 * kernel IR: parse, check every declaration, then for each model that
 * passes, sema's IR (verified), and each recipe of passes/pipeline.h
 * (forward, streaming step, gradients, training step, sampling) on a
 * copy, lowered, fused and planned by kcompile() with the kernel IR
 * verified after every kernel-IR pass (RNNC_VERIFY_KIR).
 *
 * A diagnostic or a recipe's error is a fine outcome; a crash, a
 * sanitizer report, a leak, an abort of a verifier or a time-out is a bug.
 * Inputs are capped at FZ_MAX_SOURCE bytes and FZ_MAX_MODELS models
 * lowered, and a model with more than FZ_MAX_OPS graph-IR ops (a legal
 * but huge unrolled program) is only checked: the fuzzer looks for
 * faults, not for slow compiles of big models. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/ast.h"
#include "frontend/diag.h"
#include "frontend/sema.h"
#include "ir/ir.h"
#include "kir/kir.h"
#include "lower/kcompile.h"
#include "passes/pipeline.h"
#include "passes/train_step.h"
#include "fuzz_util.h"

#define FZ_MAX_SOURCE (16 * 1024)
#define FZ_MAX_MODELS 2
#define FZ_MAX_OPS    2000

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    /* kcompile() verifies the kernel IR after each of its passes and
     * aborts where one breaks it, as in every test run */
    setenv("RNNC_VERIFY_KIR", "1", 1);
    return 0;
}

/* Lowers one recipe's module; the module is freed. */
static void lower(IrModule *m, const char *name)
{
    char err[512];
    KFunc *f = kcompile(m, name, err, sizeof err);
    if (!f) fprintf(fz_sink(), "%s: %s\n", name, err);
    kfunc_free(f);
    ir_free(m);
}

/* A recipe's error, shown with FUZZ_VERBOSE=1. */
static void refused(IrModule *c, const char *name, const char *err)
{
    fprintf(fz_sink(), "%s: %s\n", name, err);
    ir_free(c);
}

/* Every recipe of m on a copy each, then lowered. */
static void recipes(const IrModule *m)
{
    char err[512];
    PipeOpts opt = {.optimize = 1}, carry = {.carry = 1, .optimize = 1};
    IrModule *c = ir_clone(m);
    if (!pipeline_forward(c, 1, &opt, err, sizeof err)) {
        lower(c, "forward");
    } else {
        refused(c, "forward", err);
    }
    c = ir_clone(m);
    if (!pipeline_forward(c, 0, &carry, err, sizeof err)) {
        lower(c, "forward_carry");
    } else {
        refused(c, "forward_carry", err);
    }
    const char *why;
    if (pipeline_can_step(m, &why)) {
        c = ir_clone(m);
        if (!pipeline_step(c, &opt, err, sizeof err)) {
            lower(c, "step");
        } else {
            refused(c, "step", err);
        }
    }
    c = ir_clone(m);
    if (!pipeline_grad(c, 0, &opt, err, sizeof err)) {
        lower(c, "gradient");
    } else {
        refused(c, "gradient", err);
    }
    TrainConfig cfg = train_config_default();
    cfg.clip = CLIP_NORM;
    cfg.clip_value = 1;
    c = ir_clone(m);
    if (!pipeline_train(c, &cfg, &carry, err, sizeof err)) {
        lower(c, "train_step");
    } else {
        refused(c, "train_step", err);
    }
    c = ir_clone(m);
    if (!pipeline_sample(c, &opt, err, sizeof err)) {
        lower(c, "sample");
    } else {
        refused(c, "sample", err);
    }
}

static int count_ops(const IrModule *m);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FZ_MAX_SOURCE) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    /* a NUL byte: the driver reports it before parsing (driver/cli.c) */
    if (strlen(text) != size) {
        free(text);
        return 0;
    }
    Diag d;
    diag_init(&d, "fuzz.rnn", text, fz_sink());
    Program *p = parse_program("fuzz.rnn", text, &d);
    if (p && !diag_errors(&d) && sema_check(p, &d) == 0) {
        int lowered = 0;
        for (int i = 0; i < p->ndecls && lowered < FZ_MAX_MODELS; i++) {
            if (p->decls[i]->kind != DECL_MODEL) continue;
            Diag d2;
            diag_init(&d2, "fuzz.rnn", text, fz_sink());
            IrModule *m = sema_build(p, p->decls[i]->name, &d2);
            if (!m) continue;
            /* sema's IR is valid IR, always (driver/cli.c: "internal error") */
            if (ir_verify(m, "sema", stderr)) abort();
            if (count_ops(m) <= FZ_MAX_OPS) {
                recipes(m);
                lowered++;
            }
            ir_free(m);
        }
    }
    if (p) ast_free(p);
    free(text);
    return 0;
}

static int block_ops(const IrBlock *b)
{
    int n = b->nops;
    for (int i = 0; i < b->nops; i++)
        if (b->ops[i]->body) n += block_ops(b->ops[i]->body);
    return n;
}

/* Graph-IR ops of m, scan bodies included. */
static int count_ops(const IrModule *m) { return block_ops(m->body); }
