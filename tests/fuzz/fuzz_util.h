/* fuzz_util.h - what the libFuzzer targets (tests/fuzz/fuzz_*.c) share:
 * a private scratch directory for the readers that take a path, writing
 * an input there, a sink for diagnostics, and a fixed model parsed once.
 *
 * Each target is one translation unit, so the helpers are static inline
 * (a target that uses some of them has no unused-function warning).  The
 * scratch directory is $TMPDIR/rnnc_fuzz.XXXXXX, removed at exit: the
 * readers open files by name, and a file per process keeps parallel
 * fuzzers (-jobs, -workers) apart. */
#ifndef RNNC_FUZZ_UTIL_H
#define RNNC_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fz_dir[256];
static char fz_files[8][320];
static int fz_nfiles;

static void fz_cleanup(void)
{
    for (int i = 0; i < fz_nfiles; i++) unlink(fz_files[i]);
    if (fz_dir[0]) rmdir(fz_dir);
}

/* The scratch directory, made on the first call. */
static inline const char *fz_tmpdir(void)
{
    if (!fz_dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(fz_dir, sizeof fz_dir, "%s/rnnc_fuzz.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(fz_dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fz_cleanup);
    }
    return fz_dir;
}

/* Writes size bytes to NAME in the scratch directory (replacing it) and
 * returns its path, valid until the next call with the same name. */
static inline const char *fz_write(const char *name, const uint8_t *data, size_t size)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s", fz_tmpdir(), name);
    int known = 0;
    for (int i = 0; i < fz_nfiles && !known; i++) known = !strcmp(fz_files[i], path);
    if (!known && fz_nfiles < 8) snprintf(fz_files[fz_nfiles++], sizeof fz_files[0], "%s", path);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        perror(path);
        abort();
    }
    for (int i = 0; i < fz_nfiles; i++)
        if (!strcmp(fz_files[i], path)) return fz_files[i];
    static char spare[320]; /* more than 8 names: still works, not removed */
    snprintf(spare, sizeof spare, "%s", path);
    return spare;
}

/* Where diagnostics go: /dev/null, opened once (FUZZ_VERBOSE=1: stderr). */
static inline FILE *fz_sink(void)
{
    static FILE *sink;
    if (!sink) sink = getenv("FUZZ_VERBOSE") ? stderr : fopen("/dev/null", "w");
    if (!sink) abort();
    return sink;
}

#endif
