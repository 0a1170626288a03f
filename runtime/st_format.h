/* st_format.h - the safetensors format: the one reader of its header and
 * the one writer of it, for rnnc (io/safetensors.c: weights, checkpoints,
 * gradients) and for every compiled model (runtime/st_loader.h, the model
 * API's load and save).  In the runtime because a generated C file
 * carries it as text (scripts/c_text.sh): libc only.
 *
 * The file: 8 bytes little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...,
 *    "__metadata__": {"key": "string", ...}}
 * then the data region, each tensor's bytes [b, e) of it.
 *
 * The reader trusts nothing: a header length within the file and at most
 * RT_ST_MAX_HEADER, strict JSON (st_json.h), a header object without
 * duplicate keys, __metadata__ an object of strings, each entry an object
 * with no duplicate key and a known dtype (the four read: F32, F64, I32,
 * I64), a shape of at most RT_ST_MAX_RANK non-negative integers whose
 * byte size fits in int64_t, integer data_offsets inside the data region
 * spanning exactly that size, and tensors that tile the data region (no
 * overlap, no hole, nothing after the last).  It reads the header only:
 * the caller has the bytes (rnnc reads the whole file, a model seeks to
 * each tensor it wants).  Every message starts with the file's name.
 *
 * The writer lays out the header as the reference writer does: compact
 * JSON, the tensors in the order given, spaces to a multiple of 8. */
#ifndef RNNC_ST_FORMAT_H
#define RNNC_ST_FORMAT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/rnnrt.h" /* RT_API: static when the text is pasted */

/* Failures, as the model API's statuses (RNNRT_ERR_*, model_api.h). */
enum { RT_ST_NOMEM = 2, RT_ST_IO = 3, RT_ST_FORMAT = 4, RT_ST_WEIGHTS = 5 };

#define RT_ST_MAX_RANK   8
#define RT_ST_MAX_HEADER 100000000u /* bytes: 100 MB */

/* The dtypes read, in the order of io/tensor.h's RtDType. */
enum { RT_ST_F32, RT_ST_F64, RT_ST_I32, RT_ST_I64, RT_ST_NREAD };

typedef struct rt_st_entry { /* one tensor of a header */
    char *name;              /* decoded, malloc'd */
    int dtype;               /* RT_ST_F32 ... */
    int rank;
    int64_t shape[RT_ST_MAX_RANK];
    uint64_t begin, end; /* its bytes in the data region */
    int index;           /* its place in the header */
} rt_st_entry;

typedef struct rt_st_tensor { /* one tensor to write */
    const char *name;
    int dtype;
    int rank;
    const int64_t *dims;
} rt_st_tensor;

/* "F32", ... ("?" for another number); its bytes an element (0 for
 * another number). */
RT_API const char *rt_st_dtype_name(int dtype);
RT_API size_t rt_st_dtype_size(int dtype);

/* The bytes of a tensor of this dtype and shape: 0, or -1 if the dtype is
 * not one read, a dimension is negative or the size does not fit in
 * int64_t (so a hostile shape never wraps to a small size). */
RT_API int rt_st_nbytes(int dtype, int rank, const int64_t *dims, uint64_t *bytes);

/* "<path>: <message>" into err (err may be NULL); returns code. */
RT_API int rt_st_verrf(int code, char *err, size_t errlen, const char *path, const char *fmt, va_list ap);
#if defined(__GNUC__)
RT_API int rt_st_errf(int code, char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#endif
RT_API int rt_st_errf(int code, char *err, size_t errlen, const char *path, const char *fmt, ...);

/* The header length of a file of file_size bytes that starts with len8
 * (read only when file_size >= 8): 0 with *hlen, or RT_ST_FORMAT when the
 * file is empty or too short, or the length is past its end or over
 * RT_ST_MAX_HEADER. */
RT_API int rt_st_header_len(const char *path, uint64_t file_size, const unsigned char *len8, uint64_t *hlen, char *err,
                            size_t errlen);

/* Checks the header head[0, hlen) of a file whose data region has
 * data_len bytes, all of it (above).  0 with the tensors in *es (in data
 * order: by offset, then header order), *n of them, for rt_st_free; or
 * RT_ST_FORMAT or RT_ST_NOMEM with the message. */
RT_API int rt_st_parse(const char *path, const char *head, uint64_t hlen, uint64_t data_len, rt_st_entry **es, int *n,
                       char *err, size_t errlen);
RT_API void rt_st_free(rt_st_entry *es, int n);

/* The first bytes of a file holding ts[0..n): the 8-byte length and the
 * header, malloc'd in *out, *len bytes; the data follows in the same
 * order.  0, or RT_ST_FORMAT for a tensor named __metadata__, a dtype not
 * written or a shape too large, or RT_ST_NOMEM. */
RT_API int rt_st_header(const char *path, const rt_st_tensor *ts, int n, char **out, size_t *len, char *err,
                        size_t errlen);

#endif
