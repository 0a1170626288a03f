/* nn_kernels.h - the runtime kernels that compiled models call besides
 * SGEMM: softmax, cross-entropy, embedding lookup, layer normalization
 * and their gradients, the optimizer updates, and the scalar activations
 * that element-wise loops inline.
 *
 * These are what the kernel IR's KS_CALL statements name (kir/calls.def,
 * one line each), so the C emitter and the LLVM JIT call the same code.
 * Every array is contiguous row-major float32 (ids: int64).  The fallible
 * kernels return 0, or RT_ERR_ID_RANGE when an id is outside [0, limit)
 * (nothing is written past the first bad id's row; the caller reports it).
 *
 * Numerics follow ir/interp_ops.c (the reference): softmax and
 * cross-entropy subtract the row maximum before exp; every sum is
 * accumulated in double and rounded once; the optimizer updates use
 * PyTorch's equations (passes/train_step.h). */
#ifndef RNNC_NN_KERNELS_H
#define RNNC_NN_KERNELS_H

#include <stdint.h>

#include "runtime/cpu.h"

#define RT_ERR_ID_RANGE 2

/* y[r] = softmax(x[r]) for each of `rows` rows of C; y may equal x. */
void rt_softmax_rows(int64_t rows, int64_t C, const float *x, float *y);

/* *out = mean over rows of -log softmax(logits[r])[ids[r]]. */
int rt_cross_entropy(int64_t rows, int64_t C, const float *logits, const int64_t *ids, float *out);

/* g[r] = (softmax(logits[r]) - onehot(ids[r])) / rows. */
int rt_cross_entropy_grad(int64_t rows, int64_t C, const float *logits, const int64_t *ids, float *g);

/* The same over the rows with w[r] != 0, weighted by w[r] and divided by
 * the sum of w (lengths); rows with w[r] == 0 are not read. */
int rt_cross_entropy_masked(int64_t rows, int64_t C, const float *logits, const int64_t *ids, const float *w,
                            float *out);
int rt_cross_entropy_masked_grad(int64_t rows, int64_t C, const float *logits, const int64_t *ids, const float *w,
                                 float *g);

/* x [T, B, ...] (n = B * row floats a step): example b's first len[b]
 * steps reversed, zeros after them, len[b] the ones in m[:, b] (the mask
 * of lengths, [T, B]); out may be x. */
void rt_seq_reverse_masked(int64_t T, int64_t n, int64_t B, const float *x, const float *m, float *out);
void rt_seq_reverse_masked_ids(int64_t T, int64_t n, int64_t B, const int64_t *x, const float *m, int64_t *out);

/* out[i] = table[ids[i]] (rows of D) for i < n; table has V rows. */
int rt_embedding(int64_t n, int64_t D, int64_t V, const float *table, const int64_t *ids, float *out);

/* out (V x D) = 0, then out[ids[i]] += g[i] for i < n, in order of i. */
int rt_embedding_grad(int64_t n, int64_t D, int64_t V, const int64_t *ids, const float *g, float *out);

/* y[r] = (x[r] - mean) / sqrt(var + eps) for each of `rows` rows of n,
 * var the biased variance of the row: F.layer_norm(x, (n,), eps=eps)
 * without weight and bias.  y may equal x. */
void rt_layernorm_rows(int64_t rows, int64_t n, const float *x, float *y, double eps);

/* The x-gradient of rt_layernorm_rows: with xh = (x - mean) r and
 * r = 1 / sqrt(var + eps) recomputed from x, per row
 * dx = r (dy - mean(dy) - xh mean(dy xh)).  dx may equal x or dy. */
void rt_layernorm_grad_rows(int64_t rows, int64_t n, const float *x, const float *dy, float *dx, double eps);

/* torch.optim.SGD on n elements (dampening 0, no Nesterov), as
 * ir/interp_ops.c: d = g + wd p; with momentum (mom != NULL):
 * mom' = momentum mom + d, d = mom' (the state starts at zero, so the first
 * step gives mom' = d, as PyTorch's clone of the first gradient);
 * p' = p - lr d.  out_mom is unused without momentum.
 * out_p may equal p, out_mom may equal mom. */
void rt_sgd_update(int64_t n, const float *p, const float *g, const float *mom, float *out_p, float *out_mom, double lr,
                   double momentum, double weight_decay);
/* The same on a forced CPU path (the AVX ones do 4 or 8 elements at a
 * time, with the same bits; the tests compare every path). */
void rt_sgd_update_on(RtCpuPath path, int64_t n, const float *p, const float *g, const float *mom, float *out_p,
                      float *out_mom, double lr, double momentum, double weight_decay);

/* torch.optim.Adam on n elements (amsgrad off), t = *step (1 for the
 * first; a whole number >= 1, which the caller guarantees), in PyTorch's
 * order of operations as ir/interp_ops.c:
 * d = g + wd p; m' = b1 m + (1-b1) d; v' = b2 v + (1-b2) d^2;
 * p' = p - (lr / (1-b1^t)) m' / (sqrt(v') / sqrt(1-b2^t) + eps).
 * Outputs may equal their inputs. */
void rt_adam_update(int64_t n, const float *p, const float *g, const float *m, const float *v, const float *step,
                    float *out_p, float *out_m, float *out_v, double lr, double beta1, double beta2, double eps,
                    double weight_decay);
/* The same on a forced CPU path (as rt_sgd_update_on). */
void rt_adam_update_on(RtCpuPath path, int64_t n, const float *p, const float *g, const float *m, const float *v,
                       const float *step, float *out_p, float *out_m, float *out_v, double lr, double beta1,
                       double beta2, double eps, double weight_decay);

/* The scalar activations that generated element-wise loops call: the same
 * float operations as vmath.h's portable path, so a compiled loop gives
 * the bits rt_vtanh etc. give. */
float rt_expf(float x);
float rt_tanhf(float x);
float rt_sigmoidf(float x);

#endif
