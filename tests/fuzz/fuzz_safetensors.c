/* fuzz_safetensors.c - the safetensors reader (runtime/st_format.c,
 * st_json.c, through io/safetensors.c) on any bytes.
 *
 * The bytes are a file; rt_st_read must accept it or refuse it with a
 * message naming it, never read out of bounds or leak.  An accepted file
 * is written back with rt_st_write and read again, and must come back the
 * same, in the same order. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/tensor.h"
#include "fuzz_util.h"

static int same(const TensorMap *x, const TensorMap *y)
{
    if (x->count != y->count) return 0;
    for (int i = 0; i < x->count; i++) {
        const Tensor *a = &x->tensors[i], *b = &y->tensors[i];
        if (strcmp(x->names[i], y->names[i]) || a->dtype != b->dtype || a->rank != b->rank) return 0;
        for (int k = 0; k < a->rank; k++)
            if (a->shape[k] != b->shape[k]) return 0;
        size_t n = (size_t)rt_numel(a) * rt_dtype_size(a->dtype);
        if (n && memcmp(a->data, b->data, n)) return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write("in.safetensors", data, size);
    char err[512] = "";
    TensorMap m;
    if (rt_st_read(path, &m, err, sizeof err)) {
        if (!strstr(err, path)) {
            fprintf(stderr, "fuzz_safetensors: the message does not name the file: %s\n", err);
            abort();
        }
        return 0;
    }
    char out[320];
    snprintf(out, sizeof out, "%s/out.safetensors", fz_tmpdir());
    TensorMap back;
    if (rt_st_write(out, &m, err, sizeof err) || rt_st_read(out, &back, err, sizeof err)) {
        fprintf(stderr, "fuzz_safetensors: an accepted file does not write and read back: %s\n", err);
        abort();
    }
    if (!same(&m, &back)) {
        fprintf(stderr, "fuzz_safetensors: the tensors read back differ\n");
        abort();
    }
    unlink(out);
    rt_map_free(&back);
    rt_map_free(&m);
    return 0;
}
