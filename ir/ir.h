/* ir.h - the graph IR: typed values with static shapes, ops, and `scan`
 * for time.
 *
 * A module is one function.  Its arguments are the model's inputs, targets
 * and parameters; its body is a block of ops in definition order (every
 * operand is defined before use); its results are the named outputs and
 * the loss.
 *
 * Shapes are static except for two kinds of symbolic size, both known when
 * the program runs: the batch size B and the length of each input
 * sequence.  A dimension >= 0 is a constant; a dimension < 0 names the
 * module's size symbol number (-dim - 1), see ir_sym().  Symbol 0 is always
 * the batch size B.  Each sequence length symbol carries a declared maximum.
 *
 * Time is the `scan` op.  Its operands are the initial carried values
 * followed by the sequences it steps over ([T, ...] each); its body block's
 * arguments are the carried values followed by one step of each sequence;
 * the body yields the next carried values followed by this step's outputs;
 * the scan's results are the final carried values followed by the stacked
 * per-step outputs ([T, ...] each).  The body may use values defined
 * outside the scan (weights, a context vector) directly.  With `reverse`
 * the steps run from T-1 down to 0 and outputs are stored at their own
 * step's index, as in a bidirectional layer's backward direction.  A scan
 * with no sequence operand runs `steps` times (one-to-many generation).
 *
 * Everything of a module lives in its arena and is freed by ir_free(). */
#ifndef RNNC_IR_H
#define RNNC_IR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define IR_MAX_RANK   4
#define IR_SYM_BATCH  0        /* symbol number of B                      */
#define IR_DIM_B      (-1)     /* the dimension value that means B        */
#define IR_DIM_SYM(k) (-(k)-1) /* the dimension value of symbol k         */

typedef enum { IR_F32, IR_I64 } IrDType;

typedef struct IrType {
    IrDType dtype;
    int rank; /* 0 for a scalar (the loss)             */
    int64_t dim[IR_MAX_RANK];
} IrType;

/* The ops, from ir/ops.def: IR_CONST, IR_ADD, ..., IR_RESHAPE, in the
 * table's order.  What each means is on its line there. */
#define IR_ANY_NUMBER  (1 << 30) /* ops.def: no bound on the operand count  */
#define IR_NRES_VARIES (-1)      /* ops.def: the result count depends on the operands */
typedef enum {
#define IR_OP(NAME, name, min, max, nres) IR_##NAME,
#include "ir/ops.def"
    IR_NUM_OPS
} IrOpKind;

typedef struct IrOp IrOp;
typedef struct IrBlock IrBlock;

typedef enum { IR_VAL_OP, IR_VAL_BLOCK_ARG, IR_VAL_INPUT, IR_VAL_TARGET, IR_VAL_PARAM } IrValueKind;

typedef struct IrValue {
    int id; /* unique in the module; printed %id            */
    IrValueKind kind;
    IrType type;
    const char *name; /* source name hint for printing; may be NULL   */
    IrOp *def;        /* IR_VAL_OP: the op and which of its results    */
    int def_index;
    IrBlock *block; /* IR_VAL_BLOCK_ARG: the block and arg index     */
    int arg_index;
} IrValue;

typedef struct IrAttrs {
    double f;           /* IR_CONST fill value                          */
    int64_t start, len; /* IR_SLICE                                     */
    int64_t index;      /* IR_INDEX                                     */
    int n_carried;      /* IR_SCAN: carried values                      */
    int n_seq_in;       /* IR_SCAN: sequence operands                   */
    int n_seq_out;      /* IR_SCAN: stacked per-step outputs            */
    int reverse;        /* IR_SCAN                                      */
    int64_t steps;      /* IR_SCAN with n_seq_in == 0: trip count       */
    /* training-step ops; PyTorch's names and meanings (docs/training.md) */
    double bound;        /* IR_CLIP_SCALE: max norm; IR_CLAMP: max |x|   */
    double lr;           /* IR_SGD_UPDATE, IR_ADAM_UPDATE                */
    double momentum;     /* IR_SGD_UPDATE                                */
    double weight_decay; /* IR_SGD_UPDATE, IR_ADAM_UPDATE: g += wd * p   */
    double beta1, beta2; /* IR_ADAM_UPDATE                               */
    double eps;          /* IR_ADAM_UPDATE, IR_LAYERNORM(_GRAD)          */
    double p;            /* IR_DROPOUT, IR_DROPOUT_MASK: drop probability; the
                            mask's number in its module is `index`      */
} IrAttrs;

struct IrOp {
    IrOpKind kind;
    IrValue **operands;
    int noperands;
    IrValue **results;
    int nresults;
    IrAttrs attrs;
    IrBlock *body;      /* IR_SCAN only                                 */
    IrBlock *parent;    /* the block this op is in                      */
    const char *origin; /* what source construct made it: "h: lstm layer 0", for dumps; may be NULL */
};

struct IrBlock {
    IrValue **args; /* scan bodies: carried then per-step inputs     */
    int nargs;
    IrOp **ops;
    int nops, capops;
    IrValue **yields; /* scan bodies: next carried then step outputs   */
    int nyields;
    IrOp *owner; /* the scan op owning this block; NULL at top    */
};

/* How `rnnc init` fills a parameter. Bounds are resolved by the frontend so
 * that the initializer needs no knowledge of layers. */
typedef enum {
    IR_INIT_ZERO,       /* 0                                              */
    IR_INIT_ONE,        /* 1                                              */
    IR_INIT_UNIFORM,    /* U(-a, a)                                       */
    IR_INIT_NORMAL,     /* N(0, a^2)                                      */
    IR_INIT_XAVIER,     /* U(-a, a), a = sqrt(6 / (fan_in + fan_out))     */
    IR_INIT_ORTHOGONAL, /* orthogonal rows/cols, gain a (default 1)       */
    IR_INIT_CONST,      /* every element = a                              */
} IrInitKind;

typedef struct IrInit {
    IrInitKind kind;
    double a;
} IrInit;

typedef struct IrSym {
    const char *name; /* "B", or "T_tokens" for input tokens           */
    int64_t max;      /* declared maximum; 0 for B (unbounded)         */
} IrSym;

/* What an input or output is for: set by the pass that adds it, read by
 * whoever feeds or collects it (the training loop, the model API), so that
 * nothing learns a role from a name.  The names keep their prefixes
 * ("carry:0", "new:W") as the tensor names users see (docs/ir.md). */
typedef enum IrRole {
    IR_ROLE_DATA,          /* an input or target the caller gives; an `output` */
    IR_ROLE_RESET,         /* input "carry:reset": 1 starts the state afresh (segment.h) */
    IR_ROLE_CARRY,         /* "carry:<k>": state from the last call (input), for the next (output) */
    IR_ROLE_OPT_STATE,     /* input "opt:<p>.<slot>": optimizer state (train_step.h) */
    IR_ROLE_OPT_STEP,      /* input "opt:step": the step number, from 1 */
    IR_ROLE_GRAD,          /* output "grad:<p>": d loss / d p (autodiff.h) */
    IR_ROLE_STATE_GRAD,    /* output "stategrad:...": per-step gradient of a carried value */
    IR_ROLE_GRAD_NORM,     /* output "grad_norm": global norm before clipping */
    IR_ROLE_NEW_PARAM,     /* output "new:<p>": parameter p after the update */
    IR_ROLE_NEW_OPT_STATE, /* output "new:opt:<p>.<slot>": that input after the update */
    IR_ROLE_DROPOUT_KEY,   /* input "dropout:key", i64[2]: (seed, step) the masks are drawn from (dropout.h) */
    IR_ROLE_LENGTHS,       /* input "<x>.len": f32[T_x, B, 1], 1 at an example's real steps, 0 past
                              its length; given as lengths [B] (ir/lengths.h) */
} IrRole;

typedef struct IrParam {
    const char *name;
    IrValue *value;
    IrInit init;
} IrParam;
typedef struct IrInput {
    const char *name;
    IrValue *value;
    IrRole role;
} IrInput; /* inputs and targets */
/* `of` names what the output is the next value or the gradient of: the
 * parameter (GRAD, NEW_PARAM), the input (CARRY, NEW_OPT_STATE) or the
 * carried value (STATE_GRAD: "h: lstm l0: state 1"); NULL for the others. */
typedef struct IrOutput {
    const char *name;
    IrValue *value;
    IrRole role;
    const char *of;
} IrOutput;

typedef struct IrModule {
    const char *name;
    IrSym *syms;
    int nsyms;
    IrInput *inputs;
    int ninputs; /* kind IR_VAL_INPUT             */
    IrInput *targets;
    int ntargets; /* kind IR_VAL_TARGET            */
    IrParam *params;
    int nparams; /* in state_dict order           */
    IrBlock *body;
    IrOutput *outputs;
    int noutputs;  /* `output` statements, in order */
    IrValue *loss; /* scalar, or NULL               */
    int next_id;
    struct IrArena *arena;
} IrModule;

/* ---- building --------------------------------------------------------- */

IrModule *ir_module_new(const char *name);
void ir_free(IrModule *m);
void *ir_alloc(IrModule *m, size_t n); /* zeroed, arena      */
const char *ir_strdup(IrModule *m, const char *s);

int ir_add_sym(IrModule *m, const char *name, int64_t max); /* returns symbol number */
IrValue *ir_add_input(IrModule *m, const char *name, IrType t);
IrValue *ir_add_target(IrModule *m, const char *name, IrType t);
IrValue *ir_add_param(IrModule *m, const char *name, IrType t, IrInit init);
void ir_add_output(IrModule *m, const char *name, IrValue *v);
/* The same with a role (the ones above add IR_ROLE_DATA). */
IrValue *ir_add_role_input(IrModule *m, const char *name, IrType t, IrRole role);
void ir_add_role_output(IrModule *m, const char *name, IrValue *v, IrRole role, const char *of);
/* Index of m's input / output of that name, or -1. */
int ir_input_index(const IrModule *m, const char *name);
int ir_output_index(const IrModule *m, const char *name);

/* A deep copy of m in an arena of its own: symbols, lists (with their
 * roles), every value (same ids and names), op, attribute and scan body.
 * The copy prints as m does and shares nothing with it, so a recipe can
 * derive a second module from the first without building it again. */
IrModule *ir_clone(const IrModule *m);

/* Append an op to block b.  Result types are given by the caller (the
 * frontend knows them; ir_infer_type() computes them for the simple ops). */
IrOp *ir_op(IrModule *m, IrBlock *b, IrOpKind k, IrValue **operands, int noperands, const IrType *result_types,
            int nresults);
/* Appends an op that already exists (made by ir_op, moved from another
 * block by a pass) to block b and makes b its parent. */
void ir_block_append(IrModule *m, IrBlock *b, IrOp *op);
/* Block b's ops become those of `from` (a block a pass built anew, in the
 * same arena), each with b as its parent; `from` is then not used. */
void ir_block_take_ops(IrBlock *b, IrBlock *from);
/* One-result helpers; the result type is inferred with ir_infer_type(). */
/* "[3, 1]": the multi-index of flat element i of a row-major tensor of
 * that shape, for messages. */
const char *ir_index_str(int rank, const int64_t *shape, int64_t i, char *buf, size_t n);
/* How messages name an op: its result's name ('e', 'loss'), else its
 * origin ("h: lstm l0"), else its result's id ("%12"). */
const char *ir_op_label(const IrOp *op, char *buf, size_t n);
IrValue *ir_op1(IrModule *m, IrBlock *b, IrOpKind k, IrValue *a);
IrValue *ir_op2(IrModule *m, IrBlock *b, IrOpKind k, IrValue *a, IrValue *c);
IrValue *ir_const(IrModule *m, IrBlock *b, double f, IrType t);
IrValue *ir_slice(IrModule *m, IrBlock *b, IrValue *x, int64_t start, int64_t len);
/* Every use of `from` in block b and the bodies in it (operands and
 * yields) reads `to` instead. */
void ir_replace_uses(IrBlock *b, const IrValue *from, IrValue *to);

/* A scan: create it with its operands, then fill the body (whose args
 * exist already), then ir_scan_finish() with the yields, which makes the
 * results. */
IrOp *ir_scan_begin(IrModule *m, IrBlock *b, IrValue **carried, int n_carried, IrValue **seqs, int n_seq, int reverse,
                    int64_t steps);
void ir_scan_finish(IrModule *m, IrOp *scan, IrValue **yields, int n_carried, int n_seq_out);
/* Removes stacked output k (0-based among the stacked ones) of scan: its
 * yield and its result, the later ones moving down.  Nothing may read the
 * result any more. */
void ir_scan_drop_output(IrOp *scan, int k);

/* Result type of a non-scan op from its operands and attrs; returns 0 and
 * writes a message into err if the operands do not fit.  For the
 * multi-result update ops it is the type of every result. */
int ir_infer_type(const IrModule *m, IrOpKind k, IrValue **operands, int noperands, const IrAttrs *attrs, IrType *out,
                  char *err, size_t errlen);
/* How many results a non-scan op of kind k with noperands operands has:
 * 1, but 2 for sgd_update with a momentum operand and 3 for adam_update
 * (ir/ops.def). */
int ir_op_nresults(IrOpKind k, int noperands);

/* ---- types ------------------------------------------------------------- */

IrType ir_type(IrDType dt, int rank, const int64_t *dims);
int ir_type_eq(IrType a, IrType b);
/* Writes "f32[T_x, B, 64]" into buf. */
const char *ir_type_str(const IrModule *m, IrType t, char *buf, size_t n);

/* ---- ops: what ir/ops.def says (ir/ops.c) ------------------------------ */

typedef enum { IR_CLASS_UNARY, IR_CLASS_BINARY, IR_CLASS_OTHER } IrOpClass;

const char *ir_op_name(IrOpKind k); /* "add", "scan", ...       */
IrOpClass ir_op_class(IrOpKind k);
/* The element-wise ops: unary and binary (broadcasting) on f32. */
int ir_op_is_elementwise(IrOpKind k);
/* The operand counts a non-scan op of kind k may have (max IR_ANY_NUMBER:
 * no bound). */
void ir_op_operand_range(IrOpKind k, int *min, int *max);
/* The unary element-wise op a cell may call by this name, or IR_NUM_OPS.
 * (Their value on numbers: ir/op_eval.h.) */
IrOpKind ir_op_function(const char *name);

/* ---- errors ------------------------------------------------------------ */

/* Formats a message into err (when err is not NULL and errlen > 0) and
 * returns -1: the one way every function with an (err, errlen) pair and a
 * 0 / -1 result reports a problem, `return ir_errf(err, errlen, ...)`. */
int ir_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- checking and printing -------------------------------------------- */

/* Checks definitions before uses, operand counts, every type against
 * ir_infer_type(), scan structure.  Returns the number of problems, each
 * printed as "ir verifier: <stage>: message" to `out`. */
int ir_verify(const IrModule *m, const char *stage, FILE *out);

/* The text form, one op a line (docs/ir.md). */
void ir_print(const IrModule *m, FILE *out);
/* Graphviz.  unroll_steps == 0 draws scans as clusters; N > 0 draws every
 * scan unfolded over N steps, one copy of its body per step, with values
 * defined outside (shared weights) drawn once. */
void ir_print_dot(const IrModule *m, int unroll_steps, FILE *out);

#endif
