/* rng.c - xoshiro256** with a splitmix64 seeder (see rng.h).
 *
 * Reference: https://prng.di.unimi.it/xoshiro256starstar.c and
 * https://prng.di.unimi.it/splitmix64.c (public domain). */
#include "exec/rng.h"

#include <math.h>

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rt_rng_seed(RtRng *r, uint64_t seed)
{
    /* splitmix64 spreads even tiny seeds (0, 1, 2) over all 256 bits; its
     * outputs are a bijection of the counter, so four consecutive ones are
     * never all zero. */
    uint64_t x = seed;
    for (int i = 0; i < RT_RNG_STATE_WORDS; i++) r->s[i] = splitmix64(&x);
}

uint64_t rt_rng_u64(RtRng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float rt_rng_uniform(RtRng *r)
{
    /* The top bits are the best ones of xoshiro256**. */
    return (float)(rt_rng_u64(r) >> 40) * 0x1.0p-24f;
}

double rt_rng_uniform_f64(RtRng *r) { return (double)(rt_rng_u64(r) >> 11) * 0x1.0p-53; }

float rt_rng_uniform_sym(RtRng *r, float a)
{
    /* 2u - 1 is exact in float (u has 24 bits) and lies in [-1, 1); the
     * product with a rounds monotonically, so it stays within [-a, a]. */
    return a * (2.0f * rt_rng_uniform(r) - 1.0f);
}

float rt_rng_normal(RtRng *r)
{
    /* u1 in (0, 1] so log(u1) is finite; u2 in [0, 1). */
    double u1 = (double)((rt_rng_u64(r) >> 11) + 1) * 0x1.0p-53;
    double u2 = rt_rng_uniform_f64(r);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2));
}

void rt_rng_get_state(const RtRng *r, uint64_t out[RT_RNG_STATE_WORDS])
{
    for (int i = 0; i < RT_RNG_STATE_WORDS; i++) out[i] = r->s[i];
}

int rt_rng_set_state(RtRng *r, const uint64_t in[RT_RNG_STATE_WORDS])
{
    uint64_t any = 0;
    for (int i = 0; i < RT_RNG_STATE_WORDS; i++) any |= in[i];
    if (any == 0) return -1;
    for (int i = 0; i < RT_RNG_STATE_WORDS; i++) r->s[i] = in[i];
    return 0;
}
