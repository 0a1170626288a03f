/* deploy_test.h - what the deploy suite's C programs (stream.c,
 * dropout_api.c, lengths_api.c) share: a check that prints "ok" or
 * "FAIL" and remembers a failure, the largest difference of two float
 * arrays, and an array written as .npy.  Each program is one translation
 * unit with its generated model, so these are static inline: a program
 * that does not call one gets no "unused" warning under -Wall -Wextra
 * -pedantic -Werror. */
#ifndef DEPLOY_TEST_H
#define DEPLOY_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

static int failed; /* set by check(); the program's exit status */

static inline void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) failed = 1;
}

static inline double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

/* DIR/NAME as .npy (version 1.0): descr '<f4' or '<i8' (el bytes an
 * element), shape [n0, n1, n2] of rank r (0: a scalar).  The data is also
 * appended to `also` when it is not NULL (a program's one binary of
 * everything it wrote, compared byte for byte between builds). */
static inline int write_npy(FILE *also, const char *dir, const char *name, const void *p, const char *descr, size_t el,
                            int r, int n0, int n1, int n2)
{
    char path[1024], hdr[160], shape[64];
    int dims[3] = {n0, n1, n2}, len = 0;
    size_t count = 1;
    for (int i = 0; i < r; i++) {
        len += snprintf(shape + len, sizeof shape - (size_t)len, "%d%s", dims[i], r == 1 ? "," : i + 1 < r ? ", " : "");
        count *= (size_t)dims[i];
    }
    shape[len] = '\0';
    int h = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape);
    int pad = 64 - (10 + h + 1) % 64;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    unsigned short hl = (unsigned short)(h + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(hl & 0xff, f);
    fputc(hl >> 8, f);
    fputs(hdr, f);
    fprintf(f, "%*s\n", pad, "");
    fwrite(p, el, count, f);
    if (also) fwrite(p, el, count, also);
    return fclose(f);
}

#endif
