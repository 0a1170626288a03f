/* kprepare.h - weights packed once, not at every call.
 *
 * A compiled model's forward pass and streaming step read the same
 * weights call after call until the caller changes them, yet a function
 * packs every weight matrix its GEMMs read (lower_pack.c) each time it
 * runs: at B = 1 and T = 1, packing W_hh^T of an LSTM 256 costs five times
 * the step itself.  kprepare_split() moves that work into a second
 * function, the "prepare" function, which the caller runs once when the
 * weights are set (runtime/model_api.c: at the first call after
 * NAME_create, NAME_load_weights or a training step) and whose results it
 * keeps; the function itself then reads the packs as arguments.
 *
 * The one rule of what is packed once (kprepare_once()): the B operand of
 * a top-level GEMM or pack that is a parameter of the module, read with a
 * fixed offset, leading dimension and sizes (no symbol, no loop
 * variable), so that the pack depends on the weights alone.  Joined
 * weights count as weights too: a temporary that only top-level maps of
 * parameters write (passes/merge_linear.c's joined [W_i; W_f; W_g; W_o]
 * of a cell written gate by gate) and that only such packs read; those
 * maps move into the prepare function with the packs, the joined matrix
 * becomes one of its results (and a prepared argument of the function,
 * which nothing there reads), so the function neither copies nor packs
 * it.  Packs of anything else - a value computed in the call, a B whose
 * view moves with T or B - stay in the function.  Both targets (the C file, the LLVM
 * object) get the two functions from here, and nothing else decides.
 *
 * Only callers whose weights stay fixed between calls split: the training
 * step changes the weights at every call, and packs them in the call as
 * before (kcompile() vs kcompile_prepared(), kcompile.h). */
#ifndef RNNC_KPREPARE_H
#define RNNC_KPREPARE_H

#include "kir/kir.h"

/* Whether buffer b of f holds a parameter of f's module (an argument
 * that changes only when the caller sets the weights). */
int kprepare_is_weight(const KFunc *f, const KBuf *b);

/* Whether the top-level statement s (a KS_PACK_B, or a KS_GEMM whose B
 * is not packed) reads a weight that the prepare function can pack once:
 * kprepare_is_weight(B) and B's offset, ldb, N and K fixed. */
int kprepare_once(const KFunc *f, const KStmt *s);

/* Splits f (lowered, packed and fused, not yet planned): every top-level
 * KS_PACK_B that kprepare_once() accepts moves into the new function
 * `NAME_prepare`, and every top-level GEMM it accepts gets a pack there
 * too; in f, each such pack becomes an argument marked `prepared`
 * (kir.h), appended after the module's arguments, which the GEMMs read.
 * Equal packs (the same weight, view and sizes) are one.  The prepare
 * function's arguments are the weights it reads, its results the packs,
 * in the order of f's prepared arguments, each named (ext_name) by a key
 * that is the same for the same pack in every function of the module
 * ("pack h.weight_hh_l0^T [0, ld 256] N=1024 K=256"), so that a caller
 * keeps one copy for all of them.  Returns the prepare function (not
 * planned), or NULL when f packs nothing once (f unchanged). */
KFunc *kprepare_split(KFunc *f);

#endif
