/* st_loader.h - loading and saving a model's weights, for the model API:
 * static functions, included by runtime/model_api.c only (and pasted
 * before it into a generated C file with the runtime inline).  The file
 * format, and every check of it, is runtime/st_format.c's, which rnnc
 * itself reads with (io/safetensors.c); what is here is the model's side:
 * the file read a piece at a time (the header, then each tensor wanted,
 * so a checkpoint's optimizer state is checked but never read), each
 * wanted tensor there as F32 with the model's shape, and the writing by
 * rnnc's rules for files (io/outfile.h; no signal handlers, no removal of
 * other processes' leftovers: a library leaves a process's signals alone),
 * with stdio and, on POSIX systems, stat(), readlink() and getpid().
 * Needs <errno.h>, <stdio.h>, <stdlib.h> and <string.h> before it. */
#include "runtime/st_format.h"

static const rt_st_entry *st_find(const rt_st_entry *es, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(es[i].name, name)) return &es[i];
    return NULL;
}

/* "[192, 32]" */
static const char *st_shape(int rank, const int64_t *dims, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (len < n) snprintf(buf + len, n - len, "]");
    return buf;
}

/* Every tensor of want[] there, F32, with its shape: 0 or RT_ST_WEIGHTS. */
static int st_check_wanted(const char *path, const rt_st_entry *es, int n, const rt_st_tensor *want, int nwant,
                           char *err, size_t errlen)
{
    for (int w = 0; w < nwant; w++) {
        const rt_st_entry *e = st_find(es, n, want[w].name);
        int same = e && e->rank == want[w].rank;
        for (int d = 0; same && d < e->rank; d++) same = e->shape[d] == want[w].dims[d];
        if (!e) return rt_st_errf(RT_ST_WEIGHTS, err, errlen, path, "missing parameter '%s'", want[w].name);
        if (e->dtype != RT_ST_F32)
            return rt_st_errf(RT_ST_WEIGHTS, err, errlen, path, "parameter '%s' has dtype %s, the model reads F32",
                              want[w].name, rt_st_dtype_name(e->dtype));
        if (!same) {
            char got[200], need[200];
            return rt_st_errf(RT_ST_WEIGHTS, err, errlen, path, "parameter '%s' has shape %s, the model needs %s",
                              want[w].name, st_shape(e->rank, e->shape, got, sizeof got),
                              st_shape(want[w].rank, want[w].dims, need, sizeof need));
        }
    }
    return 0;
}

/* Reads every tensor of want[] (F32, the shape given) into data[i].
 * Nothing is written into data unless the whole header is right and every
 * wanted tensor is there with its shape; a read error after that returns
 * RT_ST_IO with *partial set: the data is partly written. */
static int st_load(const char *path, const rt_st_tensor *want, float *const *data, int nwant, int *partial, char *err,
                   size_t errlen)
{
    const unsigned short one = 1;
    unsigned char len8[8] = {0};
    char *head = NULL;
    rt_st_entry *es = NULL;
    int n = 0, rc = 0;
    uint64_t hlen = 0;
    *partial = 0;
    if (*(const unsigned char *)&one != 1)
        return rt_st_errf(RT_ST_FORMAT, err, errlen, path, "big-endian hosts are not supported");
    FILE *f = fopen(path, "rb");
    if (!f) return rt_st_errf(RT_ST_IO, err, errlen, path, "cannot open: %s", strerror(errno));
    long size = fseek(f, 0, SEEK_END) ? -1 : ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET))
        rc = rt_st_errf(RT_ST_IO, err, errlen, path, "cannot read: %s", strerror(errno));
    else if (size >= 8 && fread(len8, 1, 8, f) != 8)
        rc = rt_st_errf(RT_ST_IO, err, errlen, path, "cannot read the header length");
    else
        rc = rt_st_header_len(path, (uint64_t)size, len8, &hlen, err, errlen);
    if (!rc && !(head = malloc((size_t)hlen + 1)))
        rc = rt_st_errf(RT_ST_NOMEM, err, errlen, path, "out of memory");
    else if (!rc && fread(head, 1, (size_t)hlen, f) != (size_t)hlen)
        rc = rt_st_errf(RT_ST_IO, err, errlen, path, "cannot read the header");
    if (!rc) rc = rt_st_parse(path, head, hlen, (uint64_t)size - 8 - hlen, &es, &n, err, errlen);
    if (!rc) rc = st_check_wanted(path, es, n, want, nwant, err, errlen);
    for (int w = 0; w < nwant && !rc; w++) {
        const rt_st_entry *e = st_find(es, n, want[w].name);
        size_t bytes = (size_t)(e->end - e->begin);
        *partial = 1;
        if (fseek(f, (long)(8 + hlen + e->begin), SEEK_SET) || fread(data[w], 1, bytes, f) != bytes)
            rc = rt_st_errf(RT_ST_IO, err, errlen, path, "cannot read tensor '%s'", want[w].name);
    }
    rt_st_free(es, n);
    free(head);
    fclose(f);
    return rc;
}

#if defined(__unix__) || defined(__APPLE__)
#include <sys/stat.h>
#include <unistd.h>
/* declared by <unistd.h> only under POSIX feature macros, which a file
 * compiled with -std=c11 does not have */
ssize_t readlink(const char *path, char *buf, size_t len);
#define ST_POSIX 1
#endif

/* The file st_save replaces (malloc'd): path, or when path is a symbolic
 * link, the file it names, each link followed in turn (to 40). */
static char *st_target(const char *path)
{
    size_t n = strlen(path) + 1;
    char *p = malloc(n);
    if (!p) return NULL;
    memcpy(p, path, n);
#ifdef ST_POSIX
    for (int hops = 0; hops < 40; hops++) {
        char link[4096];
        ssize_t len = readlink(p, link, sizeof link - 1);
        if (len < 0) break; /* not a link */
        link[len] = '\0';
        const char *slash = strrchr(p, '/');
        size_t dl = link[0] == '/' || !slash ? 0 : (size_t)(slash - p) + 1;
        char *next = malloc(dl + (size_t)len + 1);
        if (!next) {
            free(p);
            return NULL;
        }
        memcpy(next, p, dl);
        memcpy(next + dl, link, (size_t)len + 1);
        free(p);
        p = next;
    }
#endif
    return p;
}

/* A special file (a device such as /dev/null, a FIFO), or the name of an
 * open descriptor (/dev/stdout, /dev/fd/N, /proc/...), is written in
 * place, never replaced. */
static int st_in_place(const char *path)
{
    if (!strncmp(path, "/proc/", 6) || !strncmp(path, "/dev/fd/", 8) || !strcmp(path, "/dev/stdout") ||
        !strcmp(path, "/dev/stderr"))
        return 1;
#ifdef ST_POSIX
    {
        struct stat st;
        return stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
    }
#else
    return 0;
#endif
}

/* Writes data[i] as tensor have[i] (F32) of a safetensors file, by rnnc's
 * rules for its own files (io/outfile.h): to ".NAME.rnnc-tmp.PID" beside
 * the file (a symbolic link's target), then renamed over it; the
 * temporary file removed on failure; a special file written in place. */
static int st_save(const char *path, const rt_st_tensor *have, const float *const *data, int n, char *err,
                   size_t errlen)
{
    size_t hlen = 0; /* set by st_header; 0 keeps gcc -O1 from warning */
    char *h = NULL, *target = st_target(path), *tmp = NULL;
    int in_place = st_in_place(path), rc;
    long pid = 0;
#ifdef ST_POSIX
    pid = (long)getpid();
#endif
    if (target && !in_place) {
        const char *slash = strrchr(target, '/');
        int dl = slash ? (int)(slash - target) + 1 : 0;
        size_t tlen = strlen(target) + 40;
        if ((tmp = malloc(tlen)) != NULL) snprintf(tmp, tlen, "%.*s.%.200s.rnnc-tmp.%ld", dl, target, target + dl, pid);
    }
    rc = target && (in_place || tmp) ? rt_st_header(path, have, n, &h, &hlen, err, errlen)
                                     : rt_st_errf(RT_ST_NOMEM, err, errlen, path, "out of memory");
    if (!rc) {
        FILE *f = fopen(in_place ? path : tmp, "wb");
        int ok = f && fwrite(h, 1, hlen, f) == hlen;
        for (int i = 0; ok && i < n; i++) {
            size_t numel = 1;
            for (int d = 0; d < have[i].rank; d++) numel *= (size_t)have[i].dims[d];
            ok = fwrite(data[i], sizeof(float), numel, f) == numel;
        }
        if (f && fclose(f)) ok = 0;
        if (ok && !in_place && rename(tmp, target)) ok = 0;
        if (!ok) {
            rc = rt_st_errf(RT_ST_IO, err, errlen, path, "cannot write: %s", strerror(errno));
            if (tmp) remove(tmp);
        }
    }
    free(h);
    free(tmp);
    free(target);
    return rc;
}
