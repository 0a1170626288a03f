/* sema_int.h - what the sema_*.c files share: the checker's state, the
 * description of a value it computes for every expression, and helpers.
 * Private to frontend/sema*.c; the API is sema.h.
 *
 * The files: sema.c (entry points, models, train blocks, names),
 * sema_shape.c (dimension expressions, types, messages), sema_expr.c
 * (expressions and functions), sema_layers.c (built-in layers),
 * sema_cell.c (user-defined cells). */
#ifndef RNNC_SEMA_INT_H
#define RNNC_SEMA_INT_H

#include "frontend/sema.h"

/* What an expression is, at the source level.  SV_ERR is the "error type":
 * an operation with an erroneous operand is erroneous too and says nothing,
 * so that one mistake gives one message. */
typedef enum {
    SV_ERR,
    SV_NUM,     /* a number known at compile time (num)                    */
    SV_VEC,     /* [d...]: [B, d...] if batched, else a parameter [d...]  */
    SV_INT,     /* int ids, i64[B]                                         */
    SV_SEQ,     /* seq<[d...]>: [t, B, d...]                               */
    SV_SEQ_INT, /* seq<int>: i64[t, B]                                     */
    SV_STATES,  /* final(layer) of a built-in: [t = L*D, B, d0]            */
    SV_SCALAR,  /* a loss                                                  */
} SvKind;

typedef struct SVal {
    SvKind k;
    int batched; /* SV_VEC only                               */
    int nd;      /* element dims, without T and B             */
    int64_t d[IR_MAX_RANK];
    int64_t t;  /* SV_SEQ*: length (constant, or IR_DIM_SYM) */
    double num; /* SV_NUM                                    */
    IrValue *v; /* the IR value (NULL for SV_NUM/SV_ERR)     */
} SVal;

typedef struct Layer Layer;

typedef enum { N_INPUT, N_TARGET, N_VALUE, N_PARAM, N_STATE, N_NEXT } NameKind;

/* A name visible in a model or a cell body. */
typedef struct Name {
    const char *name;
    SrcLoc loc;
    NameKind kind;
    SVal val;
    int used;
    int pending;          /* N_TARGET whose IR value is not made yet   */
    const TypeExpr *type; /* N_TARGET: its declared type               */
    Layer *layer;         /* the value of a recurrent layer            */
    int has_next;         /* N_STATE: h' was assigned                  */
    int silent;           /* no "unused" warning                       */
} Name;

/* A recurrent layer's final states, for final() and init=. */
struct Layer {
    const char *name;
    const char *kind;         /* "rnn", "lstm", "gru", or a cell's name    */
    const Decl *cell;         /* user cell, or NULL                        */
    int L, D;                 /* layers, directions                        */
    int64_t H;                /* hidden size (built-ins)                   */
    int ns;                   /* states per layer and direction            */
    const char **state_names; /* ns                                        */
    SVal *state_vals;         /* ns: batched [B, dims] descriptions        */
    IrValue **final;          /* L*D*ns: final[(l*D + dir)*ns + s]         */
};

#define SEMA_MAX_SIZES 64
typedef struct SizeEnv {
    int n;
    const char *name[SEMA_MAX_SIZES];
    int64_t val[SEMA_MAX_SIZES];
} SizeEnv;

typedef struct CellCheck {
    const Decl *decl;
    int bad; /* the generic check found errors           */
} CellCheck;

typedef struct Sema {
    const Program *p;
    Diag *d;
    IrModule *m;  /* module being built (scratch for a cell check) */
    IrBlock *blk; /* where new ops go                          */
    Name **names;
    int nnames, capnames;
    int scope_base; /* lookups see names[scope_base..nnames)     */
    int in_cell;
    const SizeEnv *sizes; /* in a cell body: its size names (slice bounds) */
    int quiet_shape;      /* generic cell check: sizes are placeholders */
    int quiet_names;      /* cell instance: names were checked once     */
    int last_printed;     /* the last error/warning was printed         */
    int nerr;             /* errors, printed or not                    */
    const char *origin;   /* IrOp.origin of ops made now               */
    struct SemaMem *mem;
    CellCheck *cells;
    int ncells;
} Sema;

/* sema.c: memory, messages, names */
void *sema_alloc(Sema *s, size_t n); /* zeroed, freed with the Sema */
const char *sema_fmt(Sema *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sema_err(Sema *s, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sema_shape_err(Sema *s, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sema_warn(Sema *s, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sema_note(Sema *s, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
Name *sema_lookup(Sema *s, const char *name);
Name *sema_define(Sema *s, const char *name, SrcLoc loc, NameKind k); /* NULL if taken (reported) */
const Decl *sema_find_cell(Sema *s, const char *name);
CellCheck *sema_cell_check_of(Sema *s, const Decl *c);
void sema_materialize_target(Sema *s, Name *n, int have_len, int64_t len);
/* The mask of the sequences of length t ([t, B, 1]: 1 at an example's
 * real steps, from `input x : ... lengths`), or NULL when they have no
 * lengths.  docs/language.md, "Lengths". */
IrValue *sema_mask_of(Sema *s, int64_t t);

/* sema_shape.c */
/* The limits of docs/language.md, "Limits": every size (a dimension, a
 * `hidden=`, a `dense` size, `vocab`, `dim`, a cell's size, `steps=`) is
 * below 2^40, and so is every tensor's number of elements without its
 * batch and time dimensions.  Their products then fit int64 with room to
 * spare for B and T, and the lowering's sizes never wrap. */
#define SEMA_SIZE_LIMIT ((int64_t)1 << 40)
/* Whether the dims d (negative ones, B and T, not counted) have fewer
 * elements than SEMA_SIZE_LIMIT; else a shape error at loc: "<cause>:
 * <what> [d] has N elements, ..." (cause may be NULL). */
int sema_check_numel(Sema *s, SrcLoc loc, const char *cause, const char *what, const int64_t *d, int nd);
int64_t sema_eval_dim(Sema *s, const Expr *e, const SizeEnv *env); /* -1: error (reported) */
int sema_type_dims(Sema *s, const TypeExpr *t, const SizeEnv *env, int64_t *dims, int *nd);
int sema_size_env_get(const SizeEnv *env, const char *name, int64_t *out);
void sema_size_env_set(SizeEnv *env, const char *name, int64_t v);
IrType sema_ir_type(const SVal *v);               /* the IR type of a described value */
const char *sema_val_str(Sema *s, const SVal *v); /* "[6]", "seq<[4]>", "int", "a number" */
const char *sema_dims_str(Sema *s, const int64_t *d, int nd);
const char *sema_len_str(Sema *s, int64_t t); /* "T_x" or "12" */
int sema_dims_eq(const SVal *a, const SVal *b);
SVal sema_err_val(void);
SVal sema_vec(int nd, const int64_t *d, int batched);
int sema_is_int_num(const Expr *e, int64_t *out);

/* sema_expr.c */
SVal sema_expr(Sema *s, const Expr *e);
/* The right-hand side of `name = e`: layer calls are allowed here. */
SVal sema_rhs(Sema *s, const Expr *e, const char *name, SrcLoc name_loc, Layer **layer_out);
IrValue *sema_mk(Sema *s, IrOpKind k, IrValue **ops, int n, IrType t);
/* The probability of dropout(x, p) or dropout=p: a number in [0, 1), else
 * an error at e and 0. */
int sema_dropout_p(Sema *s, const Expr *e, double *p);
/* x with dropout p: a `dropout` op (passes/dropout.h), or x itself for p = 0. */
IrValue *sema_dropout(Sema *s, IrValue *x, double p);
IrValue *sema_materialize(Sema *s, SVal num, const SVal *like); /* a number as a tensor like `like` */
IrValue *sema_batched(Sema *s, const SVal *v);                  /* broadcast a parameter vector to [B, ...] */
SVal sema_binop(Sema *s, int op, SVal a, SVal b, SrcLoc loc, const Expr *le, const Expr *re);
int sema_is_layer_call(Sema *s, const Expr *e);
const Arg *sema_named_arg(const Expr *call, const char *name);
int sema_split_assign(Sema *s, const Stmt *st, SVal *outs); /* a, b = split(x, 2) */

/* sema_layers.c */
/* init= of a recurrent layer or a cell: zero, learned, another layer's
 * final states, or a value for h0. */
enum { INIT_ZERO, INIT_LEARNED, INIT_LAYER, INIT_VALUE };
typedef struct InitSpec {
    int k;
    Layer *from; /* INIT_LAYER                                */
    SVal val;    /* INIT_VALUE                                */
    SrcLoc loc;
    int bad; /* reported already                          */
} InitSpec;
InitSpec sema_parse_init(Sema *s, const Expr *call);
const char *sema_layer_desc(Sema *s, const Layer *l);
int sema_pos_int_arg(Sema *s, const Arg *a, int64_t *out);
SVal sema_layer_call(Sema *s, const Expr *e, const char *name, SrcLoc name_loc, Layer **layer_out);
SVal sema_final(Sema *s, const Expr *e);

/* sema_mask.c: sequences with lengths (docs/language.md, "Lengths"); m is
 * sema_mask_of()'s mask, or one step of it ([B, 1]) inside a scan body. */
/* In a scan body: each next state blended with its old value by the
 * step's mask m (kept past an example's end), and *out times m. */
void sema_mask_step(Sema *s, IrValue *m, IrValue **states, IrValue **next, int nstates, IrValue **out);
SVal sema_masked_last(Sema *s, SVal x, IrValue *mask); /* the value at each example's last step */
SVal sema_masked_mean(Sema *s, SVal x, IrValue *mask); /* the mean over each example's steps */
/* What an `output` of v gives: a sequence with lengths is 0 at the
 * padded steps (a layer's outputs are already; dense(h) is not). */
IrValue *sema_output_value(Sema *s, const SVal *v);
IrValue *sema_masked_mse(Sema *s, IrValue *y, IrValue *t, IrValue *mask); /* over the real steps */
IrValue *sema_masked_cross_entropy(Sema *s, IrValue *logits, IrValue *ids, IrValue *mask);

/* sema_cell.c */
void sema_check_cell(Sema *s, CellCheck *cc); /* names, structure, warnings */
/* A user cell applied at the model level (or inside generate). */
SVal sema_cell_call(Sema *s, const Decl *c, const Expr *e, const char *name, Layer **layer_out);
/* The pieces of a cell use, for generate() in sema_layers.c too:
 * prepare (sizes, parameters), initial states, one step, the layer record.
 * `inputs` describe one step ([B, dims] vectors); `gen` allows the named
 * arguments of generate(). */
typedef struct CellInst CellInst;
CellInst *sema_cell_prepare(Sema *s, const Decl *c, const Expr *call, const char *name, const SVal *inputs,
                            const SrcLoc *in_locs, int ninputs, int gen);
int sema_cell_nstates(const CellInst *ci);
const SVal *sema_cell_ret(const CellInst *ci);
int sema_cell_initial_states(Sema *s, CellInst *ci, const Expr *call, IrValue **init);
int sema_cell_step(Sema *s, CellInst *ci, const SVal *inputs, IrValue **states, IrValue **next, SVal *out);
Layer *sema_cell_layer(Sema *s, CellInst *ci, IrValue **final);

#endif
