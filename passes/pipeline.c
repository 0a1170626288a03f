/* pipeline.c - the recipes (pipeline.h): sequences of the passes, plus
 * pruning a module's lists of targets and outputs, which no pass does.
 * optimize() runs the optimization passes in order; each pass verifies its
 * own result and the pipeline verifies again under the pass's stage name,
 * so that a failure names the stage.  Each pass, with its verification, is
 * one --time-passes row (ir/timing.h). */
#include "passes/pipeline.h"

#include <stdio.h>
#include <string.h>

#include "ir/timing.h"
#include "passes/autodiff.h"
#include "passes/cse.h"
#include "passes/dce.h"
#include "passes/dropout.h"
#include "passes/fold.h"
#include "passes/history.h"
#include "passes/hoist.h"
#include "passes/merge_linear.h"
#include "passes/segment.h"
#include "passes/sink.h"
#include "passes/stack_share.h"
#include "passes/unroll.h"

static const struct {
    const char *name;
    int (*run)(IrModule *m, char *err, size_t errlen);
} passes[] = {
    {"hoist", hoist}, {"sink", sink}, {"fold", fold}, {"cse", cse}, {"stack_share", stack_share}, {"dce", dce},
};

int optimize(IrModule *m, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof passes / sizeof *passes; i++) {
        TimingMark t = timing_start();
        int rc = passes[i].run(m, err, errlen) < 0 ? -1 : 0;
        if (!rc && ir_verify(m, passes[i].name, stderr))
            rc = ir_errf(err, errlen, "internal error: %s broke the module", passes[i].name);
        timing_stop(&t, passes[i].name);
        if (rc) return -1;
    }
    return 0;
}

/* ---- pruning ------------------------------------------------------------------ */

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
 * that the caller is not asked for them. */
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

/* The loss, the ops only it needed (dce verifies the module with the
 * targets still listed) and then the targets nothing reads. */
static int drop_loss(IrModule *m, char *err, size_t errlen)
{
    m->loss = NULL;
    if (dce(m, err, errlen) < 0) return -1;
    return drop_unused_targets(m, err, errlen);
}

/* What the caller of a training step reads; the rest goes. */
static int train_keeps(const IrOutput *o)
{
    IrRole r = o->role;
    return r == IR_ROLE_GRAD_NORM || r == IR_ROLE_NEW_PARAM || r == IR_ROLE_NEW_OPT_STATE || r == IR_ROLE_CARRY ||
           !strcmp(o->name, PIPELINE_CE_LOGITS);
}

/* ... and of the gradient half of a data-parallel step: the gradients
 * instead of what the update makes of them. */
static int train_grad_keeps(const IrOutput *o)
{
    return o->role == IR_ROLE_GRAD || o->role == IR_ROLE_CARRY || !strcmp(o->name, PIPELINE_CE_LOGITS);
}

static int keep_outputs(IrModule *m, int (*keeps)(const IrOutput *), char *err, size_t errlen)
{
    int n = 0;
    for (int i = 0; i < m->noutputs; i++)
        if (keeps(&m->outputs[i])) m->outputs[n++] = m->outputs[i];
    m->noutputs = n;
    return dce(m, err, errlen) < 0 ? -1 : 0;
}

/* ---- the end of every recipe --------------------------------------------------- */

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

static int finish(IrModule *m, const char *stage, const PipeOpts *o, char *err, size_t errlen)
{
    if (verified(m, stage, err, errlen)) return -1;
    return o->optimize ? optimize(m, err, errlen) : 0;
}

/* ---- the recipes ------------------------------------------------------------------ */

/* The products of a scan body that share an input, as one GEMM: for the
 * recipes of whole sequences, optimizing (merge_linear.h says why not the
 * streaming ones).  Before autodiff, so the backward pass is merged too. */
static int merged(IrModule *m, const PipeOpts *o, char *err, size_t errlen)
{
    return o->optimize && merge_linear(m, err, errlen) < 0 ? -1 : 0;
}

/* o->ce_logits: added first, so that every pass after keeps it current.
 * Only a loss that is one cross_entropy has one set of logits to score. */
static void add_ce_logits(IrModule *m, const PipeOpts *o)
{
    if (o->ce_logits && m->loss && m->loss->def && m->loss->def->kind == IR_CROSS_ENTROPY)
        ir_add_output(m, PIPELINE_CE_LOGITS, m->loss->def->operands[0]);
}

int pipeline_forward(IrModule *m, int keep_loss, const PipeOpts *o, char *err, size_t errlen)
{
    if (keep_loss) add_ce_logits(m, o);
    if (dropout_off(m, err, errlen) < 0) return -1;
    if (!o->carry && merged(m, o, err, errlen)) return -1;
    if (!keep_loss && drop_loss(m, err, errlen)) return -1;
    if (o->carry && segment_carry(m, err, errlen) < 0) return -1;
    return finish(m, "forward", o, err, errlen);
}

/* The first op of block b (and the bodies in it) that makes stepping
 * meaningless, described; NULL if none. */
static const char *not_steppable(const IrBlock *b, int top)
{
    for (int i = 0; i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        if (op->kind == IR_SEQ_REVERSE) return "reverse(...) reads its sequence from the end";
        if (op->kind == IR_SCAN && top && op->attrs.reverse)
            return "a bidirectional or reverse layer reads its sequence from the end";
        if (op->kind == IR_SCAN && top && op->attrs.n_seq_in == 0) return "generate(...) runs its steps on its own";
        if (op->body) {
            const char *why = not_steppable(op->body, 0);
            if (why) return why;
        }
    }
    return NULL;
}

int pipeline_can_step(const IrModule *m, const char **why)
{
    *why = NULL;
    if (m->nsyms < 2) {
        *why = "the model has no sequence input";
        return 0;
    }
    *why = not_steppable(m->body, 1);
    return *why == NULL;
}

int pipeline_step(IrModule *m, const PipeOpts *o, char *err, size_t errlen)
{
    const char *why;
    if (!pipeline_can_step(m, &why)) return ir_errf(err, errlen, "model '%s' has no streaming step: %s", m->name, why);
    if (dropout_off(m, err, errlen) < 0) return -1;
    if (drop_loss(m, err, errlen)) return -1;
    if (segment_carry_ex(m, o->reset_per_example, err, errlen) < 0) return -1;
    if (unroll_specialize(m, 1, err, errlen)) return -1;
    return finish(m, "step", o, err, errlen);
}

/* The gradient recipes' state across calls: segment_carry() with
 * o->carry, then with o->history the steps before (history_prefix()). */
static int carried(IrModule *m, const PipeOpts *o, char *err, size_t errlen)
{
    if (!o->carry) return 0;
    if (segment_carry(m, err, errlen) < 0) return -1;
    if (!o->history) return 0;
    const char *why = NULL;
    if (!pipeline_can_step(m, &why))
        return ir_errf(err, errlen, "model '%s' cannot keep a history for tbptt_back: %s", m->name, why);
    return history_prefix(m, err, errlen);
}

int pipeline_grad(IrModule *m, int per_step, const PipeOpts *o, char *err, size_t errlen)
{
    if (dropout_train(m, err, errlen) < 0 || merged(m, o, err, errlen)) return -1;
    if (carried(m, o, err, errlen)) return -1;
    if ((per_step ? autodiff_with_state_grads : autodiff)(m, err, errlen)) return -1;
    return finish(m, "grad", o, err, errlen);
}

/* What both training recipes begin with: the loss's logits kept, dropout,
 * merged products, the carried state, autodiff. */
static int differentiated(IrModule *m, const PipeOpts *o, char *err, size_t errlen)
{
    if (!m->loss) return ir_errf(err, errlen, "model '%s' has no loss: there is nothing to train", m->name);
    if (!m->nparams) return ir_errf(err, errlen, "model '%s' has no parameters: there is nothing to train", m->name);
    add_ce_logits(m, o);
    if (dropout_train(m, err, errlen) < 0 || merged(m, o, err, errlen)) return -1;
    if (carried(m, o, err, errlen)) return -1;
    return autodiff(m, err, errlen) ? -1 : 0;
}

int pipeline_train(IrModule *m, const TrainConfig *cfg, const PipeOpts *o, char *err, size_t errlen)
{
    if (differentiated(m, o, err, errlen)) return -1;
    if (train_step(m, cfg, err, errlen)) return -1;
    if (keep_outputs(m, train_keeps, err, errlen)) return -1;
    return finish(m, "train", o, err, errlen);
}

int pipeline_train_grad(IrModule *m, const PipeOpts *o, char *err, size_t errlen)
{
    if (differentiated(m, o, err, errlen)) return -1;
    if (keep_outputs(m, train_grad_keeps, err, errlen)) return -1;
    return finish(m, "train grad", o, err, errlen);
}

IrModule *pipeline_update(const IrModule *m, const TrainConfig *cfg, const PipeOpts *o, char *err, size_t errlen)
{
    if (!m->nparams) {
        ir_errf(err, errlen, "model '%s' has no parameters: there is nothing to train", m->name);
        return NULL;
    }
    IrModule *u = ir_module_new(m->name);
    for (int i = 0; i < m->nparams; i++) {
        const IrParam *p = &m->params[i];
        IrValue *pv = ir_add_param(u, p->name, p->value->type, p->init);
        char name[512];
        snprintf(name, sizeof name, AUTODIFF_GRAD_PREFIX "%s", p->name);
        /* the gradient is given: train_step() finds it as autodiff's output */
        IrValue *g = ir_add_input(u, name, pv->type);
        ir_add_role_output(u, name, g, IR_ROLE_GRAD, u->params[i].name);
    }
    if (train_step(u, cfg, err, errlen) || keep_outputs(u, train_keeps, err, errlen) ||
        finish(u, "update", o, err, errlen)) {
        ir_free(u);
        return NULL;
    }
    return u;
}

/* The value whose softmax gives the next token's probabilities. */
static IrValue *find_logits(const IrModule *m)
{
    for (int i = 0; i < m->body->nops; i++)
        if (m->body->ops[i]->kind == IR_CROSS_ENTROPY) return m->body->ops[i]->operands[0];
    for (int i = 0; i < m->noutputs; i++) {
        IrValue *v = m->outputs[i].value;
        if (v->type.dtype == IR_F32 && v->type.rank == 3)
            return v->def && v->def->kind == IR_SOFTMAX ? v->def->operands[0] : v;
    }
    return NULL;
}

int pipeline_sample(IrModule *m, const PipeOpts *o, char *err, size_t errlen)
{
    IrValue *lv = find_logits(m);
    if (lv) ir_add_output(m, PIPELINE_LOGITS, lv);
    PipeOpts carried = *o;
    carried.carry = 1;
    return pipeline_forward(m, 0, &carried, err, errlen);
}
