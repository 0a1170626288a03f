/* ops.c - what ir/ops.def says about each graph-IR op, as functions: its
 * name, its class, how many operands and results it may have, and which
 * element-wise ops a cell may call by name. */
#include "ir/ir.h"

#include <string.h>

static const char *const op_names[IR_NUM_OPS] = {
#define IR_OP(NAME, name, min, max, nres) [IR_##NAME] = name,
#include "ir/ops.def"
};

static const IrOpClass op_classes[IR_NUM_OPS] = {
#define IR_UNARY(NAME, name, fn, kmap)    [IR_##NAME] = IR_CLASS_UNARY,
#define IR_BINARY(NAME, name, kmap)       [IR_##NAME] = IR_CLASS_BINARY,
#define IR_OP(NAME, name, min, max, nres) [IR_##NAME] = IR_CLASS_OTHER,
#include "ir/ops.def"
};

static const struct {
    int min, max, nres;
} op_counts[IR_NUM_OPS] = {
#define IR_OP(NAME, name, min, max, nres) [IR_##NAME] = {min, max, nres},
#include "ir/ops.def"
};

static const unsigned char op_is_function[IR_NUM_OPS] = {
#define IR_UNARY(NAME, name, fn, kmap) [IR_##NAME] = fn,
#define IR_OP(NAME, name, min, max, nres)
#include "ir/ops.def"
};

static int known(IrOpKind k) { return (int)k >= 0 && k < IR_NUM_OPS; }

const char *ir_op_name(IrOpKind k) { return known(k) ? op_names[k] : "?"; }

IrOpClass ir_op_class(IrOpKind k) { return known(k) ? op_classes[k] : IR_CLASS_OTHER; }

int ir_op_is_elementwise(IrOpKind k)
{
    IrOpClass c = ir_op_class(k);
    return c == IR_CLASS_UNARY || c == IR_CLASS_BINARY;
}

void ir_op_operand_range(IrOpKind k, int *min, int *max)
{
    *min = known(k) ? op_counts[k].min : 0;
    *max = known(k) ? op_counts[k].max : 0;
}

int ir_op_nresults(IrOpKind k, int noperands)
{
    if (!known(k)) return 1;
    if (k == IR_SGD_UPDATE) return noperands == 3 ? 2 : 1; /* p' and, with momentum, mom' */
    return op_counts[k].nres == IR_NRES_VARIES ? 1 : op_counts[k].nres;
}

IrOpKind ir_op_function(const char *name)
{
    for (int k = 0; k < IR_NUM_OPS; k++)
        if (op_is_function[k] && strcmp(op_names[k], name) == 0) return (IrOpKind)k;
    return IR_NUM_OPS;
}
