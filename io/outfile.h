/* outfile.h - the one way rnnc writes a file: .npy, safetensors (weights,
 * checkpoints), svg plots, step norms, C files, headers, LLVM IR,
 * assembly and object files all go through out_open()/out_commit() (or
 * rt_write_file_atomic(), io/tensor.h, which is built on them).
 *
 * The rules (docs/cli.md, "Output files"):
 * - A regular file (or a name not there yet) is written to a temporary
 *   file beside it, ".NAME.rnnc-tmp.PID", then renamed over NAME, so a
 *   reader never sees half a file and a failure leaves the old file as
 *   it was.  The new file keeps the old one's permission bits.
 * - A symbolic link is followed (each link in turn, to 40): the file it
 *   names is replaced, with its temporary file in that file's folder, and
 *   the link stays a link.
 * - Anything else that is there (a character or block device such as
 *   /dev/null, a FIFO, a socket), and the names of open descriptors
 *   (/dev/stdout, /dev/stderr, /dev/fd/N, anything under /proc/), is
 *   written in place: opened, truncated and written, never replaced.
 * - A temporary file is removed on every error, and on SIGINT, SIGTERM
 *   and SIGHUP when those would end the process (their handler is the
 *   default one): the live temporary names are kept in a signal-safe
 *   table, unlinked by the handler, which then re-raises the signal.
 *   SIGXFSZ is ignored, so a file size limit is a write error (EFBIG).
 * - Temporary files of the same output left by a process that is gone
 *   (kill -9, a crash) are removed at the next write of that output.
 * - Every error message names the file as given. */
#ifndef RNNC_OUTFILE_H
#define RNNC_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct OutFile {
    FILE *f;      /* write here (buffered) */
    char *path;   /* as given: for messages */
    char *target; /* the file written or replaced: path with links resolved */
    char *tmp;    /* the temporary file, NULL when written in place */
    int slot;     /* the temporary name's slot in the signal table, or -1 */
    int err;      /* the first errno of a failed out_write() */
} OutFile;

/* Opens path for writing by the rules above.  Returns 0, or -1 with a
 * message in err (o is then empty and needs no out_abort). */
int out_open(OutFile *o, const char *path, char *err, size_t errlen);

/* Writes n bytes; a failure is remembered and reported by out_commit(). */
int out_write(OutFile *o, const void *p, size_t n);

/* Flushes, syncs and closes the file, then renames the temporary file
 * into place.  Returns 0, or -1 with a message in err, the temporary
 * file removed and the old file untouched.  o is empty after it. */
int out_commit(OutFile *o, char *err, size_t errlen);

/* Closes and removes the temporary file (the old file stays).  o is empty
 * after it; an empty o is a no-op. */
void out_abort(OutFile *o);

/* For tests: the temporary name of target's output for process pid,
 * ".NAME.rnnc-tmp.PID" in target's folder, into buf (n bytes).  Returns
 * 0, or -1 when it does not fit. */
int out_tmp_name(const char *target, long pid, char *buf, size_t n);

#endif
