/* clone.c - ir_clone(): a deep copy of a module (ir.h).
 *
 * The copy is built with the ordinary builders and then given the
 * original's value ids, so that it prints, lowers and numbers its buffers
 * exactly as the original would: a recipe that clones a module instead of
 * running sema again gets the same module.  Every string is copied into
 * the new arena, so the copy outlives both the original and the syntax
 * tree that sema's names may point into. */
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

typedef struct Cloner {
    IrModule *m;   /* the copy                                 */
    IrValue **map; /* original value id -> its copy            */
    int n;         /* the original's next_id                   */
} Cloner;

/* A clone of a verified module finds every value it uses defined before;
 * anything else is a bug in whoever built the original. */
static IrValue *mapped(const Cloner *c, const IrValue *v)
{
    if (!v) return NULL;
    if (v->id < 0 || v->id >= c->n || !c->map[v->id]) {
        fprintf(stderr, "rnnc: internal error: ir_clone: value %%%d used before its definition\n", v->id);
        abort();
    }
    return c->map[v->id];
}

/* Gives copy v the identity of original o and records it. */
static void same_as(Cloner *c, IrValue *v, const IrValue *o)
{
    v->id = o->id;
    v->name = ir_strdup(c->m, o->name);
    if (o->id >= 0 && o->id < c->n) c->map[o->id] = v;
}

static void clone_block(Cloner *c, const IrBlock *src, IrBlock *dst);

/* A scan's body: its arguments, its ops, its yields. */
static IrBlock *clone_body(Cloner *c, const IrBlock *src, IrOp *owner)
{
    IrBlock *b = ir_alloc(c->m, sizeof *b);
    b->owner = owner;
    b->nargs = src->nargs;
    b->args = ir_alloc(c->m, (size_t)(src->nargs ? src->nargs : 1) * sizeof *b->args);
    for (int i = 0; i < src->nargs; i++) {
        IrValue *v = ir_alloc(c->m, sizeof *v);
        *v = *src->args[i];
        v->block = b;
        v->def = NULL;
        same_as(c, v, src->args[i]);
        b->args[i] = v;
    }
    clone_block(c, src, b);
    return b;
}

static void clone_block(Cloner *c, const IrBlock *src, IrBlock *dst)
{
    for (int i = 0; i < src->nops; i++) {
        const IrOp *o = src->ops[i];
        IrValue **operands = ir_alloc(c->m, (size_t)(o->noperands ? o->noperands : 1) * sizeof *operands);
        IrType *types = ir_alloc(c->m, (size_t)(o->nresults ? o->nresults : 1) * sizeof *types);
        for (int k = 0; k < o->noperands; k++) operands[k] = mapped(c, o->operands[k]);
        for (int k = 0; k < o->nresults; k++) types[k] = o->results[k]->type;
        IrOp *op = ir_op(c->m, dst, o->kind, operands, o->noperands, types, o->nresults);
        op->attrs = o->attrs;
        op->origin = ir_strdup(c->m, o->origin);
        for (int k = 0; k < o->nresults; k++) same_as(c, op->results[k], o->results[k]);
        if (o->body) op->body = clone_body(c, o->body, op);
    }
    dst->nyields = src->nyields;
    dst->yields = ir_alloc(c->m, (size_t)(src->nyields ? src->nyields : 1) * sizeof *dst->yields);
    for (int i = 0; i < src->nyields; i++) dst->yields[i] = mapped(c, src->yields[i]);
}

/* Inputs and targets: the list's name and the value's are kept apart, as a
 * pass may rename one of them. */
static void clone_inputs(Cloner *c, const IrInput *src, int n, int targets)
{
    for (int i = 0; i < n; i++) {
        IrType t = src[i].value->type;
        IrValue *v =
            targets ? ir_add_target(c->m, src[i].name, t) : ir_add_role_input(c->m, src[i].name, t, src[i].role);
        IrInput *dst = targets ? &c->m->targets[c->m->ntargets - 1] : &c->m->inputs[c->m->ninputs - 1];
        dst->name = ir_strdup(c->m, src[i].name);
        dst->role = src[i].role;
        same_as(c, v, src[i].value);
    }
}

IrModule *ir_clone(const IrModule *src)
{
    Cloner c = {ir_module_new(src->name), NULL, src->next_id};
    c.map = calloc((size_t)(c.n > 0 ? c.n : 1), sizeof *c.map);
    if (!c.map) {
        fprintf(stderr, "rnnc: out of memory\n");
        exit(70);
    }
    IrModule *m = c.m;
    /* Symbol 0 (B) exists in every new module. */
    m->syms[0].name = ir_strdup(m, src->syms[0].name);
    m->syms[0].max = src->syms[0].max;
    for (int i = 1; i < src->nsyms; i++) ir_add_sym(m, src->syms[i].name, src->syms[i].max);
    clone_inputs(&c, src->inputs, src->ninputs, 0);
    clone_inputs(&c, src->targets, src->ntargets, 1);
    for (int i = 0; i < src->nparams; i++) {
        const IrParam *p = &src->params[i];
        IrValue *v = ir_add_param(m, p->name, p->value->type, p->init);
        m->params[i].name = ir_strdup(m, p->name);
        same_as(&c, v, p->value);
    }
    clone_block(&c, src->body, m->body);
    for (int i = 0; i < src->noutputs; i++) {
        const IrOutput *o = &src->outputs[i];
        ir_add_role_output(m, o->name, mapped(&c, o->value), o->role, o->of);
    }
    m->loss = mapped(&c, src->loss);
    m->next_id = src->next_id;
    free(c.map);
    return m;
}
