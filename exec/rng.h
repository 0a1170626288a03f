/* rng.h - the runtime's seeded, deterministic random number generator.
 *
 * xoshiro256** (Blackman & Vigna) seeded through splitmix64: fast, 256 bits
 * of state, and the same sequence on every platform for the same seed.
 * There is no global state: the caller owns an RtRng and passes it in, and
 * can save and restore it as RT_RNG_STATE_WORDS uint64s (training
 * checkpoints do, so a resumed run draws the same numbers bit for bit). */
#ifndef RNNC_RNG_H
#define RNNC_RNG_H

#include <stdint.h>

#define RT_RNG_STATE_WORDS 4

typedef struct RtRng {
    uint64_t s[RT_RNG_STATE_WORDS];
} RtRng;

/* Any seed, including 0, gives a valid state. */
void rt_rng_seed(RtRng *r, uint64_t seed);

uint64_t rt_rng_u64(RtRng *r);
/* Uniform in [0, 1): 24 random bits, so every value is exactly a float. */
float rt_rng_uniform(RtRng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rt_rng_uniform_f64(RtRng *r);
/* Uniform in [-a, a): |result| <= a always holds, even after rounding. */
float rt_rng_uniform_sym(RtRng *r, float a);
/* Standard normal N(0, 1) by the Box-Muller transform, computed in double.
 * Each call consumes exactly two u64 draws (the second Box-Muller value is
 * not cached, so the state words alone capture everything). */
float rt_rng_normal(RtRng *r);

void rt_rng_get_state(const RtRng *r, uint64_t out[RT_RNG_STATE_WORDS]);
/* Returns -1 (and leaves r unchanged) for the all-zero state, which
 * xoshiro can never leave; 0 otherwise. */
int rt_rng_set_state(RtRng *r, const uint64_t in[RT_RNG_STATE_WORDS]);

#endif
