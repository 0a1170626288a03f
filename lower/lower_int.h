/* lower_int.h - what the files of the lowering (lower.c, lower_place.c,
 * lower_ops.c, lower_kernels.c, lower_scan.c) share; not part of the
 * lower.h contract.
 *
 * Every graph-IR value gets a Place as it is lowered: a strided view of a
 * buffer, or a constant that has no memory until a consumer needs some.
 * An op writes its result where `dest` says when the value has one (the
 * result buffer of an output, row t of a scan's stacked output), so the
 * common cases need no copy; otherwise into a fresh temporary. */
#ifndef RNNC_LOWER_INT_H
#define RNNC_LOWER_INT_H

#include "kir/kir.h"
#include "lower/lower.h"
#include "ir/ir.h"

typedef enum { PL_NONE, PL_VIEW, PL_CONST } PlaceKind;

/* A value's elements: element (i0, ..., ir) of a view is
 * v.buf[v.off + sum_d i_d * st[d]], one stride per dimension of the
 * value's type; a constant has every element f. */
typedef struct Place {
    PlaceKind kind;
    KView v;
    const KExpr *st[KIR_MAX_RANK];
    double f;
} Place;

typedef struct Lower {
    KFunc *f;
    const IrModule *m;
    Place *pl;                /* by value id: where the value is            */
    Place *mat;               /* by value id: a constant's materialized copy */
    Place *dest;              /* by value id: where its op should write it  */
    unsigned char *dest_used; /* by value id: the op did write it there     */
    KBlock **cblk;            /* by value id: the block a const was lowered in */
    int *uses;                /* by value id: operand, yield, output uses   */
    const IrOp **user;        /* by value id: the (last) op using it        */
    unsigned char *deferred;  /* by value id: folded into its user (see lower_ops.c) */
    KBlock *cur;              /* statements go here                         */
    const IrOp *scan;         /* the scan whose body is being lowered       */
    Place *carry;             /* that scan's carry buffers                  */
    const char *bad;          /* an internal limit was hit (reported by lower_block) */
    char *err;
    size_t errlen;
} Lower;

/* ---- lower_place.c: places, sizes, temporaries, copies -------------------- */

const KExpr *lw_dim(Lower *L, int64_t d);
/* The elements of t; a count of LW_NUMEL_LIMIT or more sets L->bad. */
#define LW_NUMEL_LIMIT ((int64_t)1 << 48)
const KExpr *lw_numel(Lower *L, const IrType *t);
const KExpr *lw_lead(Lower *L, const IrType *t);  /* product of all dims but the last */
const KExpr *lw_last(Lower *L, const IrType *t);  /* the last dim */
const char *lw_label(Lower *L, const IrValue *v); /* "%h" or "%13"     */
const char *lw_origin(Lower *L, const IrOp *op);  /* "%13 = add (h: lstm l0)" */
/* A view of buf at off with row-major contiguous strides for type t. */
Place lw_contig(Lower *L, KBuf *buf, const KExpr *off, const IrType *t);
KBuf *lw_temp(Lower *L, const IrValue *v, const IrType *t, const char *what);
/* Where the op defining v writes it: its dest when it has one, else a new
 * temporary.  The result is also v's place. */
Place lw_out(Lower *L, const IrValue *v, const char *what);
/* lw_out for a kernel that writes v as rows (a GEMM's C, *ld its row
 * stride) or as one contiguous block (a runtime call): a dest of another
 * layout is not used and v gets a contiguous temporary instead. */
Place lw_out_rows(Lower *L, const IrValue *v, const KExpr **ld, const char *what);
Place lw_out_contig(Lower *L, const IrValue *v, const char *what);
/* v's place, with memory: a constant is filled into a temporary once, at
 * the front of the block it was defined in. */
Place lw_mem(Lower *L, const IrValue *v);
/* v's place with every dimension contiguous (row-major), copying if not. */
Place lw_contig_of(Lower *L, const IrValue *v, const char *origin);
/* v's place as rows: leading dims flatten to one row index with stride
 * *ld and the last dim is contiguous; copies first if not. */
Place lw_rows_of(Lower *L, const IrValue *v, const KExpr **ld, const char *origin);
int lw_same_view(const Place *a, const Place *b, int rank);
/* Row i of p (a value of rank `rank`): p's first index fixed at i. */
Place lw_row(Lower *L, const Place *p, const KExpr *i, int rank);
/* dst = src over the index space of t (src may be a constant). */
void lw_copy(Lower *L, const Place *dst, const Place *src, const IrType *t, const char *origin);
/* Moves the last statement of b to its front (one that reads nothing). */
void lw_to_front(KBlock *b);

/* ---- lower_place.c: building one KS_MAP ------------------------------------
 * mb_init fixes the index space (a type's dims; rank 0 becomes one
 * element of rank 1); operands and outputs are aligned to its trailing
 * dims, a missing or size-1 dim read with stride 0 (numpy broadcasting,
 * and for an accumulating output, a reduction over that dim). */

#define MB_MAX_IN    8
#define MB_MAX_NODES 32
#define MB_MAX_OUT   4

typedef struct MapB {
    Lower *L;
    int rank;
    const KExpr *dims[KIR_MAX_RANK];
    KStrided in[MB_MAX_IN];
    int nin;
    KMapNode nodes[MB_MAX_NODES];
    int nnodes;
    KMapOut out[MB_MAX_OUT];
    int nout;
} MapB;

void mb_init(MapB *mb, Lower *L, const IrType *space);
int mb_in(MapB *mb, const Place *p, const IrType *vt); /* node reading p */
int mb_op(MapB *mb, KMapOp op, int a, int b);
int mb_const(MapB *mb, double f);
int mb_expr(MapB *mb, const KExpr *e);
void mb_out(MapB *mb, const Place *p, const IrType *vt, int node, int accumulate);
KStmt *mb_emit(MapB *mb, const char *origin);

/* ---- the ops: lower.c, lower_ops.c, lower_kernels.c, lower_scan.c --------- */

int lower_block(Lower *L, const IrBlock *b);
int lower_op(Lower *L, const IrOp *op);
int lower_scan(Lower *L, const IrOp *op);
int lower_gemm(Lower *L, const IrOp *op, const char *org); /* linear, matmul_nn, linear_wgrad */
int lower_call(Lower *L, const IrOp *op, const char *org); /* the KS_CALL ops */
/* The carried index whose accumulator w (linear_wgrad, reduce_to) is
 * added into in place, or -1 (see lower_kernels.c). */
int lw_acc_carry(Lower *L, const IrValue *w);
/* The add of such a w into its accumulator. */
int lower_fused_acc(Lower *L, const IrOp *add, const char *org);
/* o (of type ot) += x (squared when asked) summed over the dims of x
 * that o lacks or has as 1: one accumulating map. */
void lw_accumulate(Lower *L, const Place *o, const IrType *ot, const IrValue *x, int square, const char *org);

#endif
