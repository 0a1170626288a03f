/* init.h - parameter initializers: fill a float buffer of a given shape.
 *
 * Plain enums and arguments only (no IR types): the driver maps each
 * IrInit {kind, a} to one call of rt_init_fill.  The kinds are listed in
 * the same order as IrInitKind so that mapping is a cast, but nothing
 * depends on that.  Every random initializer draws from the caller's
 * RtRng in element order, so a seed determines the result exactly. */
#ifndef RNNC_INIT_H
#define RNNC_INIT_H

#include <stddef.h>
#include <stdint.h>

#include "exec/rng.h"

typedef enum {
    RT_INIT_ZERO,       /* 0                                                */
    RT_INIT_ONE,        /* 1                                                */
    RT_INIT_UNIFORM,    /* U(-a, a)                                         */
    RT_INIT_NORMAL,     /* N(0, a^2): a is the standard deviation           */
    RT_INIT_XAVIER,     /* U(-b, b), b = sqrt(6 / (fan_in + fan_out)) from
                            the shape when a == 0; a > 0 is a bound the
                            frontend already resolved (IrInit's meaning)     */
    RT_INIT_ORTHOGONAL, /* a * (orthonormal rows or columns); a == 0 means 1 */
    RT_INIT_CONST,      /* every element = a                                */
} RtInitKind;

/* Fills data (numel(shape) floats).  Returns 0, or -1 with a message in
 * err for a bad shape, a bad argument (negative or non-finite bound or
 * std, orthogonal of rank < 2) or out of memory. */
int rt_init_fill(float *data, int rank, const int64_t *shape, RtInitKind kind, double a, RtRng *rng, char *err,
                 size_t errlen);

void rt_init_const(float *data, int64_t n, float v);
void rt_init_uniform(float *data, int64_t n, float a, RtRng *rng);
void rt_init_normal(float *data, int64_t n, float std, RtRng *rng);

/* PyTorch's fans: for rank >= 2, fan_in = shape[1] * r and fan_out =
 * shape[0] * r where r is the product of shape[2:]; for rank 1 both are
 * shape[0]; for rank 0 both are 1. */
void rt_init_fans(int rank, const int64_t *shape, double *fan_in, double *fan_out);
/* sqrt(6 / (fan_in + fan_out)), or 0 for an empty shape. */
double rt_init_xavier_bound(int rank, const int64_t *shape);

/* torch.nn.init.orthogonal_: view the tensor as [shape[0], rest], take the
 * QR of a standard normal matrix (transposed if it is wide) with R's
 * diagonal made positive, and scale by gain.  A [r, c] result has
 * orthonormal rows if r < c, orthonormal columns otherwise.  QR is modified
 * Gram-Schmidt in double with one re-orthogonalization pass. */
int rt_init_orthogonal(float *data, int rank, const int64_t *shape, float gain, RtRng *rng, char *err, size_t errlen);

#endif
