/* tensors_close.c - are two tensor files equal within a tolerance?
 *
 *   tensors_close A B ATOL RTOL
 *
 * A and B are both .npy arrays, or both .safetensors files (then every
 * tensor, matched by name, and the same set of names).  Same shapes, and
 * every element |a - b| <= ATOL + RTOL * |b| (numpy's isclose; NaN equals
 * only NaN at the same place).  Prints the largest difference of each
 * tensor; exits 0 if all are close, 1 if not, 2 on a usage or file error.
 * Used by tests/engine/run.sh to compare the compiled C engine with the
 * interpreter. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/tensor.h"

static double elem(const Tensor *t, int64_t i)
{
    switch (t->dtype) {
    case RT_F32: return ((const float *)t->data)[i];
    case RT_F64: return ((const double *)t->data)[i];
    case RT_I32: return ((const int32_t *)t->data)[i];
    case RT_I64: return (double)((const int64_t *)t->data)[i];
    }
    return NAN;
}

/* Compares one pair; prints one line; 0 if close. */
static int close_enough(const char *name, const Tensor *a, const Tensor *b, double atol, double rtol)
{
    char sa[128], sb[128];
    int same = a->rank == b->rank;
    for (int d = 0; same && d < a->rank; d++) same = a->shape[d] == b->shape[d];
    if (!same) {
        printf("%s: shapes differ: %s vs %s\n", name, rt_shape_str(a, sa, sizeof sa), rt_shape_str(b, sb, sizeof sb));
        return 1;
    }
    double worst = 0, excess = 0;
    int64_t at = -1, n = rt_numel(a);
    for (int64_t i = 0; i < n; i++) {
        double x = elem(a, i), y = elem(b, i);
        if (isnan(x) || isnan(y)) {
            if (isnan(x) != isnan(y) && at < 0) {
                at = i;
                excess = INFINITY;
            }
            continue;
        }
        double d = fabs(x - y), over = d - (atol + rtol * fabs(y));
        if (d > worst) worst = d;
        if (over > excess) {
            excess = over;
            at = i;
        }
    }
    printf("%s: %lld elements, max |a - b| = %.3g", name, (long long)n, worst);
    if (at >= 0) printf(", NOT CLOSE at element %lld: %.9g vs %.9g", (long long)at, elem(a, at), elem(b, at));
    printf("\n");
    return at >= 0;
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: tensors_close A B ATOL RTOL  (both .npy or both .safetensors)\n");
        return 2;
    }
    double atol = atof(argv[3]), rtol = atof(argv[4]);
    char err[512];
    TensorMap a, b;
    rt_map_init(&a);
    rt_map_init(&b);
    int rc = 2;
    if (ends_with(argv[1], ".safetensors")) {
        if (rt_st_read(argv[1], &a, err, sizeof err) || rt_st_read(argv[2], &b, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            goto done;
        }
    } else {
        Tensor ta, tb;
        if (rt_npy_read(argv[1], &ta, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            goto done;
        }
        if (rt_map_put(&a, "array", &ta)) {
            rt_tensor_free(&ta);
            goto done;
        }
        if (rt_npy_read(argv[2], &tb, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            goto done;
        }
        if (rt_map_put(&b, "array", &tb)) {
            rt_tensor_free(&tb);
            goto done;
        }
    }
    rc = 0;
    if (a.count != b.count) {
        printf("%d tensors vs %d\n", a.count, b.count);
        rc = 1;
    }
    for (int i = 0; i < a.count; i++) {
        const Tensor *tb = rt_map_get(&b, a.names[i]);
        if (!tb) {
            printf("%s: only in %s\n", a.names[i], argv[1]);
            rc = 1;
            continue;
        }
        rc |= close_enough(a.names[i], &a.tensors[i], tb, atol, rtol);
    }
done:
    rt_map_free(&a);
    rt_map_free(&b);
    return rc;
}
