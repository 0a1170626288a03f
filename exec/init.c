/* init.c - parameter initializers (see init.h). */
#include "exec/init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

/* numel of a shape, or -1 if a dimension is negative or it overflows. */
static int64_t shape_numel(int rank, const int64_t *shape)
{
    int64_t n = 1;
    if (rank < 0) return -1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] != 0 && n > INT64_MAX / shape[i]) return -1;
        n *= shape[i];
    }
    return n;
}

void rt_init_const(float *data, int64_t n, float v)
{
    for (int64_t i = 0; i < n; i++) data[i] = v;
}

void rt_init_uniform(float *data, int64_t n, float a, RtRng *rng)
{
    for (int64_t i = 0; i < n; i++) data[i] = rt_rng_uniform_sym(rng, a);
}

void rt_init_normal(float *data, int64_t n, float std, RtRng *rng)
{
    for (int64_t i = 0; i < n; i++) data[i] = std * rt_rng_normal(rng);
}

void rt_init_fans(int rank, const int64_t *shape, double *fan_in, double *fan_out)
{
    if (rank <= 0) {
        *fan_in = *fan_out = 1;
    } else if (rank == 1) {
        *fan_in = *fan_out = (double)shape[0];
    } else {
        double receptive = 1;
        for (int i = 2; i < rank; i++) receptive *= (double)shape[i];
        *fan_in = (double)shape[1] * receptive;
        *fan_out = (double)shape[0] * receptive;
    }
}

double rt_init_xavier_bound(int rank, const int64_t *shape)
{
    double fi, fo;
    rt_init_fans(rank, shape, &fi, &fo);
    return fi + fo > 0 ? sqrt(6.0 / (fi + fo)) : 0.0;
}

/* Fills v (length m) with standard normals. */
static void draw_normal(double *v, int64_t m, RtRng *rng)
{
    for (int64_t i = 0; i < m; i++) v[i] = rt_rng_normal(rng);
}

int rt_init_orthogonal(float *data, int rank, const int64_t *shape, float gain, RtRng *rng, char *err, size_t errlen)
{
    if (rank < 2) {
        set_err(err, errlen, "orthogonal init needs a tensor of at least 2 dimensions");
        return -1;
    }
    int64_t numel = shape_numel(rank, shape);
    if (numel < 0) {
        set_err(err, errlen, "orthogonal init: invalid shape");
        return -1;
    }
    if (numel == 0) return 0;
    int64_t rows = shape[0], cols = numel / rows;
    /* Work on the tall orientation: n vectors of length m, m >= n. */
    int wide = rows < cols;
    int64_t m = wide ? cols : rows, n = wide ? rows : cols;
    if ((uint64_t)m * (uint64_t)n > SIZE_MAX / sizeof(double)) {
        set_err(err, errlen, "orthogonal init: out of memory");
        return -1;
    }
    double *q = malloc((size_t)(m * n) * sizeof *q);
    if (!q) {
        set_err(err, errlen, "orthogonal init: out of memory");
        return -1;
    }
    /* Draw the [rows, cols] normal matrix in row-major order (as PyTorch
     * does), storing vector j of the tall orientation at q + j*m: for a
     * tall matrix the vectors are its columns, for a wide one its rows. */
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            double z = rt_rng_normal(rng);
            if (wide)
                q[i * m + j] = z;
            else
                q[j * m + i] = z;
        }
    for (int64_t j = 0; j < n; j++) {
        double *v = q + j * m;
        for (int tries = 0;; tries++) {
            /* Two passes of modified Gram-Schmidt ("twice is enough") keep
             * the result orthonormal to ~1e-15 even for square matrices. */
            for (int pass = 0; pass < 2; pass++)
                for (int64_t k = 0; k < j; k++) {
                    const double *u = q + k * m;
                    double r = 0;
                    for (int64_t i = 0; i < m; i++) r += u[i] * v[i];
                    for (int64_t i = 0; i < m; i++) v[i] -= r * u[i];
                }
            double norm = 0;
            for (int64_t i = 0; i < m; i++) norm += v[i] * v[i];
            norm = sqrt(norm);
            /* A normal vector almost never falls in the span of the others;
             * if it does (numerically), draw it again. */
            if (norm > 1e-8) {
                for (int64_t i = 0; i < m; i++) v[i] /= norm;
                break;
            }
            if (tries == 100) {
                free(q);
                set_err(err, errlen, "orthogonal init: could not draw an independent vector");
                return -1;
            }
            draw_normal(v, m, rng);
        }
    }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) data[i * cols + j] = gain * (float)(wide ? q[i * m + j] : q[j * m + i]);
    free(q);
    return 0;
}

int rt_init_fill(float *data, int rank, const int64_t *shape, RtInitKind kind, double a, RtRng *rng, char *err,
                 size_t errlen)
{
    int64_t n = shape_numel(rank, shape);
    if (n < 0) {
        set_err(err, errlen, "init: invalid shape");
        return -1;
    }
    if (!isfinite(a)) {
        set_err(err, errlen, "init: argument is not finite");
        return -1;
    }
    switch (kind) {
    case RT_INIT_ZERO: rt_init_const(data, n, 0.0f); return 0;
    case RT_INIT_ONE: rt_init_const(data, n, 1.0f); return 0;
    case RT_INIT_CONST: rt_init_const(data, n, (float)a); return 0;
    case RT_INIT_UNIFORM:
    case RT_INIT_NORMAL:
        if (a < 0) {
            set_err(err, errlen,
                    kind == RT_INIT_UNIFORM ? "uniform init: bound must be >= 0" : "normal init: std must be >= 0");
            return -1;
        }
        if (kind == RT_INIT_UNIFORM)
            rt_init_uniform(data, n, (float)a, rng);
        else
            rt_init_normal(data, n, (float)a, rng);
        return 0;
    case RT_INIT_XAVIER: {
        if (a < 0) {
            set_err(err, errlen, "xavier init: bound must be >= 0");
            return -1;
        }
        double bound = a > 0 ? a : rt_init_xavier_bound(rank, shape);
        rt_init_uniform(data, n, (float)bound, rng);
        return 0;
    }
    case RT_INIT_ORTHOGONAL: return rt_init_orthogonal(data, rank, shape, a == 0 ? 1.0f : (float)a, rng, err, errlen);
    }
    set_err(err, errlen, "init: unknown kind");
    return -1;
}
