/* rnn_flops.c - prints the work bench/rnn_flops.h counts for one RNN
 * benchmark configuration, so that bench/rnn_bench.sh computes every
 * GFLOP/s figure (whichever program measured the time) from that one
 * definition.
 *
 *   rnn_flops CELL I H B T   ->   "fwd_flops=... train_flops=..."
 *
 * CELL is one of rnn_flops.h's names: lstm, gru, rnn, lstm2, ulstm, glstm. */
#include <stdio.h>
#include <stdlib.h>

#include "bench/rnn_flops.h"

int main(int argc, char **argv)
{
    if (argc != 6 || !rnn_flops_gates(argv[1])) {
        fprintf(stderr, "usage: rnn_flops lstm|gru|rnn|lstm2|ulstm|glstm I H B T\n");
        return 2;
    }
    long v[4];
    for (int k = 0; k < 4; k++) {
        char *end;
        v[k] = strtol(argv[k + 2], &end, 10);
        if (*end || v[k] <= 0) {
            fprintf(stderr, "rnn_flops: '%s' is not a positive integer\n", argv[k + 2]);
            return 2;
        }
    }
    printf("fwd_flops=%.0f train_flops=%.0f\n", rnn_flops_forward(argv[1], v[0], v[1], v[2], v[3]),
           rnn_flops_train(argv[1], v[0], v[1], v[2], v[3]));
    return 0;
}
