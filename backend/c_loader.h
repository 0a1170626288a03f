/* c_loader.h - the safetensors code a generated model file carries: a
 * strict reader (st_load) and a writer (st_save), libc only, all static.
 *
 * What it defines, for the model API that c_file.c writes after it:
 *
 *   enum { ST_NOMEM = 2, ST_IO = 3, ST_FORMAT = 4, ST_WEIGHTS = 5 };
 *   typedef struct st_want { const char *name; int rank;
 *                            const int64_t *dims; float *data; } st_want;
 *   static int st_load(const char *path, const st_want *want, int nwant,
 *                      int *partial, char *err, size_t errlen);
 *   static int st_save(const char *path, const st_want *have,
 *                      const float *const *data, int n, char *err, size_t errlen);
 *
 * Both return 0 or one of the ST_ codes with "path: message" in err.
 * st_load checks the whole file (header length, the JSON, every entry,
 * the data layout) and that every wanted tensor is there as F32 with the
 * wanted shape before it writes into any `data` (*partial says whether a
 * failure came after that); other tensors are checked and skipped.  st_save writes path.tmp and renames it.  The text needs
 * <errno.h>, <stdarg.h>, <stddef.h>, <stdint.h>, <stdio.h>, <stdlib.h>
 * and <string.h> included before it. */
#ifndef RNNC_C_LOADER_H
#define RNNC_C_LOADER_H

#include <stdio.h>

void c_loader_write(FILE *out);

#endif
