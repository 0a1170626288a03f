/* dropout.c - the dropout mask (rnnrt.h: rt_dropout_mask), the one kernel
 * behind every compiled model's `dropout_mask` (kir/calls.def).
 *
 * The mask is a pure function of (key, index, element): key is the
 * training run's (seed, step), index numbers the dropout in its module
 * (passes/dropout.c), element is the flat row-major position.  A counter-
 * based draw like this needs no RNG state, so the interpreter, compiled C,
 * the JIT and a compiled train_step draw the same mask from the same key
 * without sharing anything, and a resumed run (whose checkpoint holds the
 * step) draws the masks of a run that never stopped.  The draw is
 * splitmix64's: the stream s = mix(mix(mix(seed) ^ step) ^ index), then
 * element i's word is mix(s + (i + 1) * golden), whose top 24 bits u are
 * uniform on [0, 2^24).  The element is dropped when u < floor(p 2^24),
 * so P(drop) is within 2^-24 below p, and kept elements are scaled by
 * 1/(1 - p) rounded once to float (PyTorch's inverted dropout).
 *
 * The reference interpreter calls it too (ir/interp_ops.c,
 * k_dropout_mask), for which elements are kept. */
#include "runtime/rnnrt.h"

#define RT_DROPOUT_GOLDEN 0x9e3779b97f4a7c15ull

/* splitmix64's output function of the state x. */
static uint64_t rt_dropout_mix(uint64_t x)
{
    uint64_t z = x + RT_DROPOUT_GOLDEN;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

RT_API void rt_dropout_mask(int64_t n, int64_t nkey, int64_t index, const int64_t *key, float *out, double p)
{
    (void)nkey; /* always 2: the count the kernel IR checks the key with */
    uint64_t s = rt_dropout_mix((uint64_t)key[0]);
    s = rt_dropout_mix(s ^ (uint64_t)key[1]);
    s = rt_dropout_mix(s ^ (uint64_t)index);
    uint64_t thr = (uint64_t)(p * 16777216.0);
    float scale = (float)(1.0 / (1.0 - p));
    for (int64_t i = 0; i < n; i++) {
        uint64_t u = rt_dropout_mix(s + (uint64_t)(i + 1) * RT_DROPOUT_GOLDEN) >> 40;
        out[i] = u >= thr ? scale : 0.0f;
    }
}
