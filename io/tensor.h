/* tensor.h - host tensors and their files: safetensors and .npy.
 *
 * A Tensor owns its data (malloc'd, row-major, C order).  A TensorMap is an
 * ordered list of named tensors: the contents of one safetensors file, the
 * -i NAME=x.npy bindings of a run, or the outputs of one.
 *
 * Readers never trust a file: every size, offset and shape is checked
 * against the file's length before anything is read, and a failure returns
 * -1 with a message that names the file and the problem in `err`.
 * Writers go through io/outfile.h: a temporary file ".NAME.rnnc-tmp.PID"
 * renamed over the path, so an interrupted write leaves the old file
 * intact; special files (/dev/null, FIFOs) are written in place. */
#ifndef RNNC_TENSOR_H
#define RNNC_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define RT_MAX_RANK 8

typedef enum { RT_F32, RT_F64, RT_I32, RT_I64 } RtDType;

typedef struct Tensor {
    RtDType dtype;
    int rank;
    int64_t shape[RT_MAX_RANK];
    void *data; /* numel * rt_dtype_size(dtype) bytes, owned        */
} Tensor;

typedef struct TensorMap {
    int count, cap;
    char **names;    /* owned                                            */
    Tensor *tensors; /* owned                                            */
} TensorMap;

size_t rt_dtype_size(RtDType dt);
const char *rt_dtype_name(RtDType dt); /* "F32", "I64", ...        */
int64_t rt_numel(const Tensor *t);

/* Allocate zeroed data for the given shape. Returns 0, or -1 on overflow or
 * out of memory. */
int rt_tensor_alloc(Tensor *t, RtDType dt, int rank, const int64_t *shape);
void rt_tensor_free(Tensor *t);
/* Writes "[2, 3, 4]" into buf. */
const char *rt_shape_str(const Tensor *t, char *buf, size_t n);

void rt_map_init(TensorMap *m);
void rt_map_free(TensorMap *m);
/* Takes ownership of t's data (t is zeroed); replaces an existing name. */
int rt_map_put(TensorMap *m, const char *name, Tensor *t);
Tensor *rt_map_get(const TensorMap *m, const char *name);

/* .npy: float32, float64, int32, int64, little-endian, C order, format
 * version 1.0, 2.0 or 3.0. */
int rt_npy_read(const char *path, Tensor *out, char *err, size_t errlen);
int rt_npy_write(const char *path, const Tensor *t, char *err, size_t errlen);

/* safetensors: F32, F64, I32, I64; the header's __metadata__ is accepted
 * and ignored. Tensors are written in the map's order. */
int rt_st_read(const char *path, TensorMap *out, char *err, size_t errlen);
int rt_st_write(const char *path, const TensorMap *m, char *err, size_t errlen);

/* Shared by both writers: the parts, one after the other, to path by the
 * rules of io/outfile.h. */
int rt_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes, int nparts, char *err,
                         size_t errlen);

#endif
