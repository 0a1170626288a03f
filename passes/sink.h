/* sink.h - sums over time leave the loop: the weight gradients of BPTT
 * become one GEMM after the backward scan.
 *
 * Autodiff accumulates each weight's gradient in a carried value of the
 * backward scan:
 *
 *     acc' = acc + linear_wgrad(g_t, x_t)      (a [N, K] outer product a step)
 *     acc' = acc + reduce_to(g_t)              (a bias: a row sum a step)
 *
 * At small batch each step's term is a rank-B update that reads and writes
 * the whole [N, K] accumulator: memory-bound, far from the GEMM peak.  The
 * sum over steps of linear_wgrad(g_t, x_t) is linear_wgrad of the stacked
 * [T, B, N] and [T, B, K] sequences (linear_wgrad sums over every leading
 * row), one GEMM with K = T*B; likewise reduce_to over the stacked g.
 *
 * sink() rewrites every such carried accumulator of every top-level scan:
 * g_t (and x_t) become stacked per-step outputs of the scan (a step of a
 * sequence operand is read from that operand instead, and a value stacked
 * for two accumulators is stacked once); the carried value is left in
 * place but passes through unchanged (yield acc), so the scan's final
 * value is the initial one; after the scan, init + linear_wgrad(G, X)
 * (or just the sum when init is the constant 0) replaces every use of the
 * final value.  The body ops that only fed the accumulator are left for
 * dce.
 *
 * The accumulator must be read by nothing but its one add, and the add by
 * nothing but the yield; anything else is left as it is.  The sum is the
 * same sum in another order, so results agree with the unrewritten module
 * to rounding.  Returns the number of accumulators rewritten, or -1 with a
 * message in err (only if the result does not verify: a compiler bug).
 *
 * Likewise a per-step product with a loop-invariant weight that is only
 * stacked as a step output, y_t = matmul_nn(g_t, W) (the input gradient dx
 * of a backward step, M = B rows a step) or linear(g_t, W): g_t is stacked
 * (or read from its sequence) and matmul_nn(G, W) over all T*B rows runs
 * once after the scan, which loses that output.  Every element is the same
 * dot product as before; the count includes these rewrites. */
#ifndef RNNC_SINK_H
#define RNNC_SINK_H

#include <stddef.h>

#include "ir/ir.h"

int sink(IrModule *m, char *err, size_t errlen);

#endif
