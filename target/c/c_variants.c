/* c_variants.c - the forward, step and training-step modules of a compiled
 * model (c_variants.h): sequences of existing passes, plus pruning the
 * module's lists of targets and outputs, which no pass does. */
#include "target/c/c_variants.h"

#include <stdio.h>
#include <string.h>

#include "passes/autodiff.h"
#include "passes/dce.h"
#include "passes/pipeline.h"
#include "passes/segment.h"
#include "passes/unroll.h"

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* Marks in `used` (by value id) every operand and yield of block b and of
 * the bodies nested in it. */
static void mark_uses(const IrBlock *b, unsigned char *used, int n)
{
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        for (int k = 0; k < op->noperands; k++)
            if (op->operands[k]->id >= 0 && op->operands[k]->id < n) used[op->operands[k]->id] = 1;
        if (op->body) mark_uses(op->body, used, n);
    }
    for (int i = 0; i < b->nyields; i++)
        if (b->yields[i]->id >= 0 && b->yields[i]->id < n) used[b->yields[i]->id] = 1;
}

/* Drops the targets nothing reads any more (after the loss is gone), so
 * that the forward function does not ask the caller for them. */
static int drop_unused_targets(IrModule *m, char *err, size_t errlen)
{
    unsigned char *used = ir_alloc(m, (size_t)(m->next_id > 0 ? m->next_id : 1));
    if (!used) return ir_errf(err, errlen, "out of memory");
    mark_uses(m->body, used, m->next_id);
    for (int i = 0; i < m->noutputs; i++) used[m->outputs[i].value->id] = 1;
    if (m->loss) used[m->loss->id] = 1;
    int n = 0;
    for (int i = 0; i < m->ntargets; i++)
        if (used[m->targets[i].value->id]) m->targets[n++] = m->targets[i];
    m->ntargets = n;
    return 0;
}

static int verified(const IrModule *m, const char *stage, char *err, size_t errlen)
{
    char buf[512] = "";
    FILE *f = tmpfile();
    int bad = ir_verify(m, stage, f ? f : stderr);
    if (!bad) {
        if (f) fclose(f);
        return 0;
    }
    if (f) {
        rewind(f);
        if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
        fclose(f);
        buf[strcspn(buf, "\n")] = '\0';
    }
    return ir_errf(err, errlen, "internal error: the %s module does not verify: %s", stage, buf);
}

int cvar_forward(IrModule *m, char *err, size_t errlen)
{
    m->loss = NULL;
    if (dce(m, err, errlen) < 0) return -1;
    if (drop_unused_targets(m, err, errlen)) return -1;
    if (verified(m, "forward", err, errlen)) return -1;
    return optimize(m, err, errlen);
}

/* The first op of block b (and the bodies in it) that makes stepping
 * meaningless, described; NULL if none. */
static const char *not_steppable(const IrBlock *b, int top)
{
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        if (op->kind == IR_SEQ_REVERSE) return "reverse(...) reads its sequence from the end";
        if (op->kind == IR_SCAN && top && op->attrs.reverse) return "a bidirectional or reverse layer reads its sequence from the end";
        if (op->kind == IR_SCAN && top && op->attrs.n_seq_in == 0) return "generate(...) runs its steps on its own";
        if (op->body) {
            const char *why = not_steppable(op->body, 0);
            if (why) return why;
        }
    }
    return NULL;
}

int cvar_can_step(const IrModule *m, const char **why)
{
    *why = NULL;
    if (m->nsyms < 2) {
        *why = "the model has no sequence input";
        return 0;
    }
    *why = not_steppable(m->body, 1);
    return *why == NULL;
}

int cvar_step(IrModule *m, char *err, size_t errlen)
{
    const char *why;
    if (!cvar_can_step(m, &why)) return ir_errf(err, errlen, "model '%s' has no streaming step: %s", m->name, why);
    m->loss = NULL;
    if (dce(m, err, errlen) < 0) return -1;
    if (drop_unused_targets(m, err, errlen)) return -1;
    if (segment_carry(m, err, errlen) < 0) return -1;
    if (unroll_specialize(m, 1, err, errlen)) return -1;
    if (verified(m, "step", err, errlen)) return -1;
    return optimize(m, err, errlen);
}

static int train_keeps(const char *name)
{
    return !strcmp(name, TRAIN_GRAD_NORM) || has_prefix(name, TRAIN_NEW_PREFIX) || has_prefix(name, SEGMENT_CARRY_PREFIX);
}

int cvar_train(IrModule *m, const TrainConfig *cfg, int carry, char *err, size_t errlen)
{
    if (!m->loss) return ir_errf(err, errlen, "model '%s' has no loss: there is nothing to train", m->name);
    if (!m->nparams) return ir_errf(err, errlen, "model '%s' has no parameters: there is nothing to train", m->name);
    if (carry && segment_carry(m, err, errlen) < 0) return -1;
    if (autodiff(m, err, errlen)) return -1;
    if (train_step(m, cfg, err, errlen)) return -1;
    int n = 0;
    for (int i = 0; i < m->noutputs; i++)
        if (train_keeps(m->outputs[i].name)) m->outputs[n++] = m->outputs[i];
    m->noutputs = n;
    if (dce(m, err, errlen) < 0) return -1;
    if (verified(m, "train", err, errlen)) return -1;
    return optimize(m, err, errlen);
}
