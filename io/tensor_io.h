/* tensor_io.h - private helpers shared by the tensor file readers and
 * writers (npy.c, safetensors.c), implemented in tensor.c.
 *
 * Not part of the public runtime API: generated code and the driver use
 * tensor.h only. */
#ifndef RNNC_TENSOR_IO_H
#define RNNC_TENSOR_IO_H

#include <stddef.h>
#include <stdint.h>

#include "io/tensor.h"

/* Formats "<path>: <message>" into err (err may be NULL). */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void rt_errf(char *err, size_t errlen, const char *path, const char *fmt, ...);

/* Reads the whole file into a malloc'd buffer (one spare NUL byte after the
 * end, so text parsers may peek).  Returns 0, or -1 with a message. */
int rt_read_whole_file(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen);

/* The start shared by the tensor file readers: refuses a big-endian host,
 * reads the whole file as rt_read_whole_file does, and refuses an empty
 * one.  Returns 0 with *buf to free, or -1 with a message. */
int rt_read_tensor_file(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen);

/* Byte size of a tensor of this dtype and shape.  Returns 0, or -1 if a
 * dimension is negative or the size does not fit in int64 (so that a
 * hostile shape can never wrap around to a small allocation). */
int rt_shape_bytes(RtDType dt, int rank, const int64_t *shape, uint64_t *bytes);

/* 1 on a little-endian host.  The file formats are little-endian and the
 * readers copy bytes as they are, so a big-endian host is refused. */
int rt_host_is_little_endian(void);

#endif
