/* kir_walk.h - what a kernel-IR statement reads and writes, in one place.
 *
 * Fusion (kfuse.c: which maps may move past a GEMM, which stores are
 * dead), the pack placement (lower_pack.c: what a loop writes), the memory
 * plan (memplan.c: live ranges, which write covers its buffer) and the C
 * emitter (what a function names) all ask the same question of a
 * statement: which views of which buffers does it touch, how, and over
 * what extent.  The answer is here, once, so that a new statement kind or a
 * new operand is taught to all of them in one place.  Runtime calls are
 * read from kir/calls.def: a pointer its line marks OUT is written, every
 * other one read.
 *
 * An access is a buffer, an element offset and an extent: element
 * (i0, ..., ir) of the index space dim[0] x ... x dim[rank-1] is element
 * off + sum_d i_d * stride[d] of the buffer.  The extents are the ones the
 * statement works on:
 *
 *   map input i / output i   the map's dims, the view's own strides
 *   gemm A, B, C             the matrix as stored: rows x cols with
 *                            strides (ld, 1); A is M x K (K x M with
 *                            transa), B K x N (N x K with transb), C M x N
 *   pack_b's B               as a gemm's B
 *   call pointer i           ints[f1] x ints[f2] elements (calls.def),
 *                            contiguous
 *   a pack (pack_b's C, a packed gemm's B)
 *                            no extent (rank 0, `pack` set): the runtime's
 *                            layout, at most kexpr_packed_b_floats(N, K)
 *                            floats, of which it writes what it needs
 *
 * A loop has no accesses of its own: its body's statements are walked by
 * whoever walks the block.  The order is fixed: a map's inputs, then its
 * outputs; a gemm's A, B, C; a pack's B, then the pack; a call's pointers
 * in calls.def's order. */
#ifndef RNNC_KIR_WALK_H
#define RNNC_KIR_WALK_H

#include "kir/kir.h"
#include "kir/kir_calls.h"

typedef enum {
    KACC_MAP_IN,  /* a map's input `index`                            */
    KACC_MAP_OUT, /* a map's output `index`                           */
    KACC_GEMM_A,
    KACC_GEMM_B, /* plain, or a pack (packed_b)                      */
    KACC_GEMM_C,
    KACC_PACK_SRC, /* the B a pack_b packs                             */
    KACC_PACK_DST, /* the pack it fills                                */
    KACC_CALL_PTR, /* a call's pointer `index`                         */
} KAccessRole;

typedef enum {
    KACC_READ,  /* reads the elements                               */
    KACC_WRITE, /* writes them without reading them first           */
    KACC_ACCUM, /* reads and writes them: a map's +=, a GEMM's C
                         with beta != 0                                   */
} KAccessMode;

typedef struct KAccess {
    KAccessRole role;
    int index; /* map input or output, call pointer; else 0 */
    KAccessMode mode;
    KBuf *buf;
    const KExpr *off; /* element offset                           */
    int rank;
    const KExpr *dim[KIR_MAX_RANK];
    const KExpr *stride[KIR_MAX_RANK];
    int pack;            /* the view is a pack (rank 0)              */
    const KCallArg *arg; /* a call pointer's parameter; NULL for a
                                   call of an unknown kind (then read)      */
} KAccess;

static inline int kacc_reads(const KAccess *a) { return a->mode != KACC_WRITE; }
static inline int kacc_writes(const KAccess *a) { return a->mode != KACC_READ; }

/* Walking one statement's accesses:
 *
 *     KAccessIter it;
 *     KAccess a;
 *     for (kir_access_begin(&it, s); kir_access_next(&it, &a);)
 *         ...
 *
 * The statement is not checked: a map's counts, a call's pointers are
 * taken as they are (a call's as many as it has, at most
 * KIR_CALL_MAX_PTRS). */
typedef struct KAccessIter {
    const KStmt *s;
    int pos;
    int sig_ok;
    KCallSig sig;
} KAccessIter;

void kir_access_begin(KAccessIter *it, const KStmt *s);
/* Fills *a with the next access and returns 1, or returns 0 at the end. */
int kir_access_next(KAccessIter *it, KAccess *a);

#endif
