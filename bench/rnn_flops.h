/* rnn_flops.h - the one definition of how much work an RNN benchmark run
 * does, so that every GFLOP/s figure of the RNN benchmark (rnnc, PyTorch,
 * oneDNN alike: bench/rnn_bench.sh gets the counts from bench/rnn_flops.c)
 * divides the same number.
 *
 * Forward, one layer, one direction, sequence length T, batch B, input size
 * I, hidden size H, G gate blocks (LSTM 4, GRU 3, vanilla RNN 1):
 *
 *     fwd   = 2 * G * H * (I + H) * B * T
 *
 * i.e. per step the gate pre-activations [B, G*H] = x_t W_ih^T + h_{t-1}
 * W_hh^T, two GEMMs of 2*B*G*H*I and 2*B*G*H*H flops.  L stacked layers
 * add (L - 1) * 2 * G * H * (H + H) * B * T: the layers above the first
 * read the H outputs of the one below.  Element-wise work
 * (biases, activations, the cell update) is O(B*G*H) per step, 1/(I+H) of the
 * GEMMs or less, and is not counted: it is not what the peak measures.
 *
 *     train = 3 * fwd
 *
 * the forward pass plus a backward pass doing two GEMMs per forward GEMM
 * (the gradient with respect to the GEMM's input and to its weights).  The
 * loss, its gradient and the SGD update are O(parameters + outputs) and are
 * not counted either.
 *
 * Header-only (static inline functions): C and C++ may include it. */
#ifndef RNNC_BENCH_RNN_FLOPS_H
#define RNNC_BENCH_RNN_FLOPS_H

#include <string.h>

/* Gate blocks of a cell named "lstm", "gru" or "rnn" (vanilla, tanh); 0 for
 * any other name.  The benchmark's other rows are LSTMs: "lstm2", two
 * stacked layers; "ulstm", a user-written cell with one stacked weight
 * matrix per input (examples/user_cell.rnn); "glstm", a user cell written
 * gate by gate (W_i @ x, ..., U_o @ h). */
static inline int rnn_flops_gates(const char *cell)
{
    if (!strcmp(cell, "lstm") || !strcmp(cell, "lstm2") || !strcmp(cell, "ulstm") || !strcmp(cell, "glstm")) return 4;
    if (!strcmp(cell, "gru")) return 3;
    if (!strcmp(cell, "rnn")) return 1;
    return 0;
}

/* Stacked layers of a benchmark cell: 2 for "lstm2", else 1. */
static inline int rnn_flops_layers(const char *cell) { return strcmp(cell, "lstm2") ? 1 : 2; }

/* FLOPs of one forward pass over the whole sequence (0 for an unknown cell). */
static inline double rnn_flops_forward(const char *cell, long i, long h, long b, long t)
{
    double g = rnn_flops_gates(cell), rows = (double)b * (double)t;
    return 2.0 * g * (double)h * rows * ((double)(i + h) + (rnn_flops_layers(cell) - 1) * 2.0 * (double)h);
}

/* FLOPs of one training step: forward and backward. */
static inline double rnn_flops_train(const char *cell, long i, long h, long b, long t)
{
    return 3.0 * rnn_flops_forward(cell, i, h, b, t);
}

#endif
