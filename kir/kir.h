/* kir.h - the kernel IR: what a compiled module does, as buffers, loops
 * and calls of runtime kernels.
 *
 * Lowering (lower.h) turns one optimized graph-IR module into one KFunc.
 * Both emitters read it: the C emitter (emit_c.h) writes it as C, the
 * LLVM backend builds it with the LLVM-C API.  So nothing here is C
 * syntax: sizes are expression trees, loads and stores are strided views
 * of buffers, and element-wise work is a small SSA expression per map.
 *
 * A KFunc runs in one call:
 *
 *     int f(const int64_t *sym, const void *const *arg, void *const *res,
 *           void *arena, char *err, size_t errlen)
 *
 *   sym    the value of every size symbol of the module (sym[0] = B, then
 *          each sequence length, in IrModule.syms order)
 *   arg    one pointer per argument buffer (KFunc.args order: the module's
 *          inputs, targets, then parameters, as IrModule lists them)
 *   res    one pointer per result buffer (KFunc.results order: outputs in
 *          IrModule.outputs order, then the loss if the module has one)
 *   arena  KFunc.arena_bytes (evaluated with `sym`) bytes, 64-byte aligned:
 *          every temporary buffer lives there at its planned offset, plus
 *          the SGEMM packing workspace; the function allocates nothing
 *   returns 0, or a nonzero error code with a message in err (a token id
 *          out of range: the only failure the data can cause at run time)
 *
 * Element types: f32 and i64 (token ids), as IrDType.
 *
 * Integer expressions (KExpr) are trees over constants, the size symbols
 * and the induction variables of the enclosing loops.  All are >= 0 in a
 * valid program; DIV is floor division of non-negative values; MAX is used
 * by the memory plan.  kexpr_* constructors fold constants and the
 * identities x+0, x*1, x*0, so a fully static size is one KE_CONST.
 *
 * Everything lives in the KFunc's arena and is freed by kfunc_free(). */
#ifndef RNNC_KIR_H
#define RNNC_KIR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir/ir.h"

#define KIR_MAX_RANK IR_MAX_RANK

/* The most arguments of each sort a runtime call takes (kir_call_sig
 * rejects a calls.def line with more). */
#define KIR_CALL_MAX_INTS 4
#define KIR_CALL_MAX_PTRS 8
#define KIR_CALL_MAX_HP   5

/* ---- integer expressions ------------------------------------------------ */

typedef enum { KE_CONST, KE_SYM, KE_VAR, KE_ADD, KE_SUB, KE_MUL, KE_DIV, KE_MAX } KExprKind;

typedef struct KExpr {
    KExprKind kind;
    int64_t value;             /* KE_CONST                                  */
    int index;                 /* KE_SYM: symbol number; KE_VAR: loop id    */
    const struct KExpr *a, *b; /* binary kinds                              */
} KExpr;

/* ---- buffers ------------------------------------------------------------ */

typedef enum {
    KB_ARG,    /* caller's memory, read only: arg[index]                   */
    KB_RESULT, /* caller's memory, written: res[index]                     */
    KB_TEMP,   /* in the arena at `offset` (set by memplan)                */
} KBufKind;

typedef struct KBuf {
    int id;           /* index in KFunc.bufs                           */
    const char *name; /* a C-identifier-safe name: "h_weight_hh_l0", "gates", "t12" */
    const char *what; /* what it holds, for comments: "%13 = add (h: lstm l0)"; may be NULL */
    IrDType dtype;
    const KExpr *size; /* elements                                      */
    KBufKind kind;
    int index;            /* KB_ARG, KB_RESULT: position in arg[] / res[]  */
    const char *ext_name; /* KB_ARG, KB_RESULT: the module's name for it ("x", "h.weight_ih_l0", "loss") */
    const KExpr *offset;  /* KB_TEMP: byte offset in the arena (memplan)   */
    /* KB_ARG: a pack of a weight in rt_sgemm_pack_b's layout, made by the
     * function's prepare function (lower/kprepare.h) and kept by the
     * caller between calls; only packed GEMMs read it.  Printed as
     * `arg ... "EXT" prepared`. */
    int prepared;
} KBuf;

/* A place in a buffer: element `off` of `buf`.  Strides (in elements) are
 * given where a view is used, per dimension of that use. */
typedef struct KView {
    KBuf *buf;
    const KExpr *off;
} KView;

/* ---- element-wise maps ---------------------------------------------------
 * A map runs over the index space dims[0] x ... x dims[rank-1] (row-major,
 * last dimension innermost).  Each input is a view plus one stride per
 * dimension (0 broadcasts); input i at index (i0, ..., ir) is
 * in[i].v.buf[off + sum_d i_d * stride_d].  The body is SSA: node k may use
 * nodes < k.  Each output stores (or, with `accumulate`, adds) one node's
 * value at its own strided view; an accumulating output with zero strides
 * on some dimensions is a reduction, summed in float in index order
 * (outputs are not zeroed by the map: a KS_MAP storing zeros comes first).
 * Outputs of i64 buffers only ever store a KM_IN node of an i64 input
 * (a copy); every other node is f32.  The node ops, KM_IN ... KM_RELU_GRAD,
 * and what each computes are kir/mapops.def's lines. */

typedef enum {
#define KM_OP(NAME, name, arity) KM_##NAME,
#include "kir/mapops.def"
    KM_NUM_KINDS
} KMapOp;

typedef struct KMapNode {
    KMapOp op;
    int a, b;       /* node numbers (KM_IN: input number)            */
    double f;       /* KM_CONST                                      */
    const KExpr *e; /* KM_EXPR                                       */
} KMapNode;

typedef struct KStrided {
    KView v;
    const KExpr *stride[KIR_MAX_RANK];
} KStrided;

typedef struct KMapOut {
    KStrided at;
    int node;
    int accumulate; /* 0: store; 1: += (reduction)                   */
} KMapOut;

/* ---- runtime kernel calls ------------------------------------------------
 * A KS_CALL runs one kernel of librnnrt on contiguous operands.  The kinds,
 * their functions and their argument lists are the lines of kir/calls.def;
 * kir_calls.h gives each as data (kir_call_sig). */

typedef enum {
#define KCALL(NAME, symbol, returns, args) KC_##NAME,
#include "kir/calls.def"
    KC_NUM_KINDS
} KCallKind;

/* ---- statements --------------------------------------------------------- */

typedef enum { KS_LOOP, KS_GEMM, KS_MAP, KS_CALL, KS_PACK_B } KStmtKind;

typedef struct KStmt KStmt;

typedef struct KBlock {
    KStmt **stmts;
    int n, cap;
} KBlock;

struct KStmt {
    KStmtKind kind;
    const char *origin; /* the graph-IR op it came from, for comments: "%36 = linear (h: lstm l0)" */

    /* KS_LOOP: for var in 0 .. count-1 (reverse: count-1 down to 0) */
    int var; /* loop id, referenced by KE_VAR               */
    const KExpr *count;
    int reverse;
    KBlock body;

    /* KS_GEMM: C = alpha op(A) op(B) + beta C, row-major, as rt_sgemm (sgemm.h).
     * packed_b: B views a buffer a KS_PACK_B filled for these N and K (the
     * runtime's rt_sgemm_pack_b layout); transb and ldb are unused and the
     * product is rt_sgemm_ws_packed.
     * KS_PACK_B: rt_sgemm_pack_b(transb, N, K, B, ldb, C): op(B), K x N, is
     * packed once into the buffer C views, of kexpr_packed_b_floats(N, K)
     * floats (a weight used by every step of a scan, packed before it). */
    int transa, transb, packed_b;
    const KExpr *M, *N, *K;
    float alpha, beta;
    KView A, B, C;
    const KExpr *lda, *ldb, *ldc;

    /* KS_MAP */
    int rank;
    const KExpr *dims[KIR_MAX_RANK];
    KStrided *in;
    int nin;
    KMapNode *nodes;
    int nnodes;
    KMapOut *out;
    int nout;

    /* KS_CALL: the arguments in kir/calls.def's order, each kind of
     * argument in its own array */
    KCallKind call;
    const KExpr *ints[KIR_CALL_MAX_INTS]; /* the integer arguments           */
    KView ptrs[KIR_CALL_MAX_PTRS];        /* the pointer arguments           */
    int nptrs;
    double hp[KIR_CALL_MAX_HP]; /* the hyperparameters             */
    int nhp;
};

/* ---- functions ---------------------------------------------------------- */

typedef struct KFunc {
    const char *name;       /* "forward", "train_step", ...                  */
    const IrModule *module; /* the module it was lowered from (symbol names and maxima) */
    int nsyms;
    KBuf **bufs;
    int nbufs, capbufs;
    KBuf **args;
    int nargs; /* kind KB_ARG, in arg[] order         */
    KBuf **results;
    int nresults; /* kind KB_RESULT, in res[] order      */
    KBlock body;
    int nloops;                        /* loop ids are 0 .. nloops-1            */
    const KExpr *arena_bytes;          /* set by memplan                        */
    const KExpr *ws_offset, *ws_bytes; /* SGEMM workspace in the arena (memplan) */
    struct KBlock **blocks;
    int nblocks, capblocks; /* every block with statements, for kfunc_free() */
    struct KArena *arena;
    /* Set when kexpr_bin folded constants past int64: the sizes are
     * wrong, and lower() and kcompile() fail. */
    int overflow;
} KFunc;

KFunc *kfunc_new(const char *name, const IrModule *m);
void kfunc_free(KFunc *f);
void *kfunc_alloc(KFunc *f, size_t n); /* zeroed, arena */
const char *kfunc_strdup(KFunc *f, const char *s);

const KExpr *kexpr_const(KFunc *f, int64_t v);
const KExpr *kexpr_sym(KFunc *f, int sym);
const KExpr *kexpr_var(KFunc *f, int loop);
/* Folds two constants; one that overflows int64 sets f->overflow (and
 * gives INT64_MAX) instead of wrapping. */
const KExpr *kexpr_bin(KFunc *f, KExprKind k, const KExpr *a, const KExpr *b);
/* The size in floats of a KS_PACK_B destination for op(B) K x N: an upper
 * bound of rt_sgemm_packed_b_bytes(N, K) / 4 on every CPU path. */
const KExpr *kexpr_packed_b_floats(KFunc *f, const KExpr *N, const KExpr *K);
/* The value of e with the given symbol values and loop variables (vars
 * may be NULL when e has none). */
int64_t kexpr_eval(const KExpr *e, const int64_t *sym, const int64_t *vars);
/* e as words in postfix order (runtime/sizes.h: w[0] the count, then
 * the terms), for rt_size_eval, which saturates instead of wrapping.
 * Writes at most cap words and returns how many e needs (so a caller may
 * size its array by asking with cap 0), or -1 when e reads a loop
 * variable or its evaluation would need more than RT_SIZE_DEPTH values
 * at once. */
int kexpr_to_words(const KExpr *e, int64_t *w, int cap);
/* Whether e reads a symbol or a loop variable (else kexpr_eval(e, NULL,
 * NULL) is its value, which the emitters write as a literal). */
int kexpr_has_free(const KExpr *e);
/* Whether a and b are the same tree (NULL equals only NULL): what the
 * fusion asks of two views, and the memory plan of two terms it adds. */
int kexpr_equal(const KExpr *a, const KExpr *b);
/* Whether a and b have the same value for all symbol and loop variable
 * values: kexpr_equal, or the same value at three points far apart (sizes
 * are polynomials in the symbols with small coefficients, so agreeing at
 * three unrelated points of large primes does not happen by accident).
 * The lowering asks it of sizes and strides it built by different routes
 * ("2 * (4 * B)" and "8 * B"). */
int kexpr_same_value(const KExpr *a, const KExpr *b);
/* The value of e at test point k (0 <= k < KEXPR_PROBES) of those: every
 * symbol and loop variable set to a large, unrelated number.  A property
 * that holds at all of them holds for the program (as kexpr_same_value
 * argues): kfuse asks whether two offsets differ by a constant. */
#define KEXPR_PROBES 3
int64_t kexpr_probe(const KExpr *e, int k);
/* Writes e as an infix string ("(B * 64)", "t0 * B * 16") with symbol
 * names from f's module, for the printer and for comments. */
const char *kexpr_str(const KFunc *f, const KExpr *e, char *buf, size_t n);

/* A new buffer; name is made unique within f (a suffix _2, _3 ...). */
KBuf *kfunc_buf(KFunc *f, const char *name, IrDType dt, const KExpr *size, KBufKind kind);
KStmt *kblock_add(KFunc *f, KBlock *b, KStmtKind kind, const char *origin);

const char *kir_call_name(KCallKind k); /* "rt_softmax_rows", ...: its symbol */
const char *kir_map_op_name(KMapOp op); /* "add", "tanh", ...          */
/* How many node operands op reads: 0 (in, const, size), 1 or 2. */
int kir_map_op_arity(KMapOp op);
/* A map's node and output references are in range: what an emitter
 * checks before it builds anything from them (kir_map.c, like the two
 * below). */
int kir_map_ok(const KStmt *s);
/* Which nodes and inputs of map s its outputs need: live[k] (s->nnodes
 * entries) is 1 when an output stores node k or a live node uses it, and
 * in_live[i] (s->nin entries; in_live may be NULL) when a live node loads
 * input i.  Both arrays are overwritten.  What is not live is neither
 * computed nor loaded (its view need not even be valid): the fusion drops
 * it, the emitters skip it.  References out of range are ignored. */
void kir_map_live(const KStmt *s, unsigned char *live, unsigned char *in_live);
/* For accumulating output oi of map s, with in_live from kir_map_live:
 * the first dimension from which all its strides are zero, when some inner
 * dimension is reduced and nothing else in the map (no other output, no
 * live input) touches its buffer - the loops from there on add into one
 * element, which an emitter sums in a local and stores once, the same
 * additions in the same order; else -1 (it adds into memory at every
 * index). */
int kir_map_reduce_level(const KStmt *s, int oi, const unsigned char *in_live);
/* Whether map s may run ranges of its outer dimension (i0) on different
 * threads: every output writes elements no other i0 writes (a reduction
 * only over inner dimensions), and no buffer an output writes is read or
 * written at other elements by the map.  Then each i0 computes the same
 * operations in the same order on whichever thread runs it: the same
 * bits.  Both emitters ask it, so the C file and the JIT split alike. */
int kir_map_rows_split(const KStmt *s);
/* s as an identifier: letters, digits and '_', not starting with a digit
 * ("h.weight_ih_l0" -> "h_weight_ih_l0"), at most n - 1 characters. */
void kir_ident(char *d, size_t n, const char *s);

/* The signature above, as a type: what an engine calls once a target has
 * compiled the function. */
typedef int (*KFuncFn)(const int64_t *sym, const void *const *arg, void *const *res, void *arena, char *err,
                       size_t errlen);

/* The text form (`rnnc dump --stage=kernel`, docs/kernel-ir.md). */
void kfunc_print(const KFunc *f, FILE *out);

/* Checks that every view of every statement stays inside its buffer for
 * the given symbol values (loops are walked with their induction variables
 * at the first and last iteration), that map nodes refer backwards, and
 * that temporaries have offsets inside the arena.  Returns the number of
 * problems, each printed to `out`. */
int kfunc_verify(const KFunc *f, const int64_t *sym, FILE *out);

#endif
