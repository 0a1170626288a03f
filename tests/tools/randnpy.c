/* randnpy.c - make a small random .npy array, for example inputs and tests.
 *
 *   randnpy f32 7x2x8 out.npy [SEED]        uniform in [-1, 1)
 *   randnpy i64 7x2 out.npy [SEED] [MAX] [MIN]
 *                                           ids uniform in [MIN, MAX), MAX default 10,
 *                                           MIN default 0 (lengths: 1)
 *
 * Deterministic for a seed, so committed data can be remade exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/tensor.h"

/* splitmix64: tiny, good enough for test data. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "f32") && strcmp(argv[1], "i64"))) {
        fprintf(stderr, "usage: randnpy f32|i64 DxDx... out.npy [SEED] [MAX] [MIN]\n");
        return 2;
    }
    int64_t shape[RT_MAX_RANK];
    int rank = 0;
    for (char *p = argv[2]; *p && rank < RT_MAX_RANK;) {
        char *end;
        shape[rank++] = strtoll(p, &end, 10);
        if (end == p || shape[rank - 1] < 0) {
            fprintf(stderr, "randnpy: bad shape '%s'\n", argv[2]);
            return 2;
        }
        p = *end == 'x' ? end + 1 : end;
        if (*end && *end != 'x') {
            fprintf(stderr, "randnpy: bad shape '%s'\n", argv[2]);
            return 2;
        }
    }
    uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    long long max = argc > 5 ? atoll(argv[5]) : 10;
    long long min = argc > 6 ? atoll(argv[6]) : 0;
    if (max < 1) max = 1;
    if (min < 0 || min >= max) min = 0;
    int is_int = !strcmp(argv[1], "i64");
    Tensor t;
    if (rt_tensor_alloc(&t, is_int ? RT_I64 : RT_F32, rank, shape)) {
        fprintf(stderr, "randnpy: out of memory\n");
        return 1;
    }
    int64_t n = rt_numel(&t);
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = next(&seed);
        if (is_int)
            ((int64_t *)t.data)[i] = min + (int64_t)(r % (uint64_t)(max - min));
        else
            ((float *)t.data)[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    char err[512];
    int rc = rt_npy_write(argv[3], &t, err, sizeof err);
    if (rc) fprintf(stderr, "randnpy: %s\n", err);
    rt_tensor_free(&t);
    return rc ? 1 : 0;
}
