/* train_data_int.h - what train_data.c shares with train_data_seqs.c:
 * reading a whole file and the csv number rules. */
#ifndef RNNC_TRAIN_DATA_INT_H
#define RNNC_TRAIN_DATA_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* The whole file, NUL-terminated, *len its size; NULL with a message
 * naming the file. */
unsigned char *data_read_file(const char *path, int64_t *len, char *err, size_t errlen);

/* A field as a float: 1; 0 when it is no number at all (a header's
 * word); -1 when strtod reads it but it is not a decimal number finite in
 * float32 (nan, inf, 0x10, 1e999), which *why says. */
int data_parse_number(const char *s, float *out, const char **why);

/* The op of m's top-level body of kind k reading v as operand `idx`. */
const IrOp *data_find_use(const IrModule *m, IrOpKind k, const IrValue *v, int idx);

#endif
