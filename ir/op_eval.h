/* op_eval.h - the value of each element-wise graph-IR op on numbers, in
 * double: the one definition of what those ops compute.  The interpreter
 * (ir/interp_ops.c) applies it to every element; the constant folders of
 * the frontend (sema_expr.c) and of the lowering (lower_ops.c) apply it
 * to constants, so a folded constant is the interpreter's value.  Inline
 * because the interpreter calls it once an element. */
#ifndef RNNC_IR_OP_EVAL_H
#define RNNC_IR_OP_EVAL_H

#include <math.h>

#include "ir/ir.h"

static inline double ir_sigmoid(double x)
{
    /* Two forms so that exp never overflows: exp(-x) for x >= 0, exp(x) below. */
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* PyTorch's F.softplus with beta 1 and threshold 20, its formula as it
 * writes it: x above the threshold, else log1p(exp(x)).  In double exp(x)
 * cannot overflow for x <= 20 and log1p keeps exp(x)'s full accuracy when
 * it is tiny (large negative x), so this is stable as it stands. */
static inline double ir_softplus(double x) { return x > 20 ? x : log1p(exp(x)); }

/* Unary ops read a, binary ops a and b; NaN for any other op. */
static inline double ir_op_eval(IrOpKind k, double a, double b)
{
    switch (k) {
    case IR_ADD: return a + b;
    case IR_SUB: return a - b;
    case IR_MUL: return a * b;
    case IR_DIV: return a / b;
    case IR_NEG: return -a;
    case IR_SIGMOID: return ir_sigmoid(a);
    case IR_TANH: return tanh(a);
    case IR_RELU: return a > 0 ? a : 0.0;
    case IR_EXP: return exp(a);
    case IR_LOG: return log(a);
    case IR_SOFTPLUS: return ir_softplus(a);
    case IR_SQRT: return sqrt(a);
    default: return NAN;
    }
}

#endif
