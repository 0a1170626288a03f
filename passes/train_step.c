/* train_step.c - appends one step of training to a differentiated module
 * (see train_step.h): the global gradient norm, clipping, and the
 * optimizer update of every parameter, all as IR ops, so that whichever
 * engine runs the module (the interpreter, later the C and LLVM backends)
 * also runs the optimizer; nothing of it is hand code in the driver.
 *
 * The ops (docs/ir.md, equations in docs/training.md):
 *   sumsq(g0, g1, ...)      the squared global norm, one fused reduction
 *   sqrt                    the norm, output "grad_norm"
 *   clip_scale(norm)        min(1, max_norm / (norm + 1e-6)), times each g
 *   clamp(g)                clip by value
 *   sgd_update / adam_update  one fused kernel per parameter, whose
 *                           results are the new parameter and new state. */
#include "passes/train_step.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "passes/autodiff.h"

TrainConfig train_config_default(void)
{
    TrainConfig c = {
        .opt = OPT_ADAM,
        .lr = 1e-3,
        .momentum = 0,
        .weight_decay = 0,
        .beta1 = 0.9,
        .beta2 = 0.999,
        .eps = 1e-8,
        .clip = CLIP_NONE,
        .clip_value = 0,
    };
    return c;
}

/* ---- checking the request ------------------------------------------------------- */

/* The ranges PyTorch's optimizers accept (they raise ValueError outside
 * them); a NaN fails every comparison and so every check. */
static int check_config(const TrainConfig *c, char *err, size_t n)
{
    if (c->opt != OPT_SGD && c->opt != OPT_ADAM) return ir_errf(err, n, "unknown optimizer %d", (int)c->opt);
    if (!(c->lr >= 0 && isfinite(c->lr))) return ir_errf(err, n, "learning rate %g must be >= 0", c->lr);
    if (!(c->weight_decay >= 0 && isfinite(c->weight_decay)))
        return ir_errf(err, n, "weight decay %g must be >= 0", c->weight_decay);
    if (c->opt == OPT_SGD && !(c->momentum >= 0 && isfinite(c->momentum)))
        return ir_errf(err, n, "momentum %g must be >= 0", c->momentum);
    if (c->opt == OPT_ADAM) {
        if (!(c->beta1 >= 0 && c->beta1 < 1)) return ir_errf(err, n, "beta1 %g must be in [0, 1)", c->beta1);
        if (!(c->beta2 >= 0 && c->beta2 < 1)) return ir_errf(err, n, "beta2 %g must be in [0, 1)", c->beta2);
        if (!(c->eps >= 0 && isfinite(c->eps))) return ir_errf(err, n, "eps %g must be >= 0", c->eps);
    }
    switch (c->clip) {
    case CLIP_NONE: break;
    case CLIP_NORM:
    case CLIP_VALUE:
        if (!(c->clip_value > 0 && isfinite(c->clip_value)))
            return ir_errf(err, n, "clip %s %g must be a positive number", c->clip == CLIP_NORM ? "norm" : "value",
                           c->clip_value);
        break;
    default: return ir_errf(err, n, "unknown clipping mode %d", (int)c->clip);
    }
    return 0;
}

/* The gradient autodiff made for parameter p, or NULL. */
static IrValue *grad_of(const IrModule *m, const IrParam *p)
{
    for (int i = 0; i < m->noutputs; i++)
        if (m->outputs[i].role == IR_ROLE_GRAD && !strcmp(m->outputs[i].of, p->name)) return m->outputs[i].value;
    return NULL;
}

/* Does m have an input or output this pass adds? */
static int has_train_step(const IrModule *m)
{
    for (int i = 0; i < m->ninputs; i++)
        if (m->inputs[i].role == IR_ROLE_OPT_STEP || m->inputs[i].role == IR_ROLE_OPT_STATE) return 1;
    for (int i = 0; i < m->noutputs; i++)
        if (m->outputs[i].role == IR_ROLE_GRAD_NORM || m->outputs[i].role == IR_ROLE_NEW_PARAM) return 1;
    return 0;
}

/* ---- building ---------------------------------------------------------------------- */

/* A one-result op with attrs, its type inferred: the ops made here always
 * fit (their operands are gradients of their own parameters). */
static IrValue *op_attrs(IrModule *m, IrOpKind k, IrValue **ops, int n, const IrAttrs *a)
{
    IrType t;
    char e[256];
    if (!ir_infer_type(m, k, ops, n, a, &t, e, sizeof e)) {
        fprintf(stderr, "rnnc: internal error: train_step: '%s': %s\n", ir_op_name(k), e);
        return NULL;
    }
    IrOp *op = ir_op(m, m->body, k, ops, n, &t, 1);
    op->attrs = *a;
    op->origin = "train step";
    return op->results[0];
}

/* Adds state input "opt:<p>.<slot>" with p's type. */
static IrValue *state_input(IrModule *m, const IrParam *p, const char *slot)
{
    char name[512];
    snprintf(name, sizeof name, TRAIN_OPT_PREFIX "%s.%s", p->name, slot);
    return ir_add_role_input(m, name, p->value->type, IR_ROLE_OPT_STATE);
}

static void state_output(IrModule *m, const IrParam *p, const char *slot, IrValue *v)
{
    char name[520], of[512];
    snprintf(of, sizeof of, TRAIN_OPT_PREFIX "%s.%s", p->name, slot);
    snprintf(name, sizeof name, TRAIN_NEW_PREFIX "%s", of);
    ir_add_role_output(m, name, v, IR_ROLE_NEW_OPT_STATE, of);
    v->name = ir_strdup(m, name);
}

/* The update of parameter p with gradient g (already clipped). */
static void update_param(IrModule *m, const TrainConfig *c, const IrParam *p, IrValue *g, IrValue *step)
{
    IrAttrs a = {.lr = c->lr, .weight_decay = c->weight_decay};
    IrValue *ops[5] = {p->value, g};
    int nops = 2;
    const char *slots[2];
    int nslots = 0;
    IrOpKind k;
    if (c->opt == OPT_SGD) {
        k = IR_SGD_UPDATE;
        a.momentum = c->momentum;
        if (c->momentum != 0) slots[nslots++] = "mom"; /* plain SGD keeps no state */
    } else {
        k = IR_ADAM_UPDATE;
        a.beta1 = c->beta1, a.beta2 = c->beta2, a.eps = c->eps;
        slots[nslots++] = "m";
        slots[nslots++] = "v";
    }
    for (int s = 0; s < nslots; s++) ops[nops++] = state_input(m, p, slots[s]);
    if (k == IR_ADAM_UPDATE) ops[nops++] = step;

    IrType types[3] = {p->value->type, p->value->type, p->value->type};
    IrOp *op = ir_op(m, m->body, k, ops, nops, types, 1 + nslots);
    op->attrs = a;
    op->origin = "train step";

    char name[512];
    snprintf(name, sizeof name, TRAIN_NEW_PREFIX "%s", p->name);
    ir_add_role_output(m, name, op->results[0], IR_ROLE_NEW_PARAM, p->name);
    op->results[0]->name = ir_strdup(m, name);
    for (int s = 0; s < nslots; s++) state_output(m, p, slots[s], op->results[1 + s]);
}

int train_step(IrModule *m, const TrainConfig *cfg, char *err, size_t errlen)
{
    if (check_config(cfg, err, errlen)) return -1;
    if (m->nparams == 0) return ir_errf(err, errlen, "train step: model %s has no parameters to train", m->name);

    /* One gradient per parameter, from autodiff; a module that already has
     * a train step would get a second set of same-named inputs. */
    IrValue **grads = ir_alloc(m, (size_t)m->nparams * sizeof *grads);
    for (int i = 0; i < m->nparams; i++) {
        grads[i] = grad_of(m, &m->params[i]);
        if (!grads[i])
            return ir_errf(err, errlen, "train step: no output '" AUTODIFF_GRAD_PREFIX "%s': run autodiff first",
                           m->params[i].name);
    }
    if (has_train_step(m)) return ir_errf(err, errlen, "train step: model %s already has a train step", m->name);

    /* The norm before clipping, as clip_grad_norm_ returns it. */
    IrAttrs none = {0};
    IrValue *sumsq = op_attrs(m, IR_SUMSQ, grads, m->nparams, &none);
    IrValue *norm = sumsq ? op_attrs(m, IR_SQRT, &sumsq, 1, &none) : NULL;
    if (!norm) return ir_errf(err, errlen, "train step: internal error building the gradient norm");
    norm->name = ir_strdup(m, TRAIN_GRAD_NORM);
    ir_add_role_output(m, TRAIN_GRAD_NORM, norm, IR_ROLE_GRAD_NORM, NULL);

    IrAttrs clip = {.bound = cfg->clip_value};
    IrValue *scale = NULL;
    if (cfg->clip == CLIP_NORM && !(scale = op_attrs(m, IR_CLIP_SCALE, &norm, 1, &clip)))
        return ir_errf(err, errlen, "train step: internal error building the clip");
    for (int i = 0; i < m->nparams; i++) {
        IrValue *g = grads[i];
        if (cfg->clip == CLIP_NORM) {
            IrValue *ops[2] = {g, scale};
            g = op_attrs(m, IR_MUL, ops, 2, &none);
        } else if (cfg->clip == CLIP_VALUE) {
            g = op_attrs(m, IR_CLAMP, &g, 1, &clip);
        }
        if (!g) return ir_errf(err, errlen, "train step: internal error clipping '%s'", m->params[i].name);
        grads[i] = g;
    }

    IrValue *step = NULL;
    if (cfg->opt == OPT_ADAM)
        step = ir_add_role_input(m, TRAIN_STEP_INPUT, (IrType){.dtype = IR_F32, .rank = 0}, IR_ROLE_OPT_STEP);
    for (int i = 0; i < m->nparams; i++) update_param(m, cfg, &m->params[i], grads[i], step);

    if (ir_verify(m, "train_step", stderr))
        return ir_errf(err, errlen, "train step: internal error: the module does not verify (see above)");
    return 0;
}
