/* outfile.c - every file rnnc writes (outfile.h): in place for special
 * files, else a temporary file renamed over the target; the temporary
 * names kept in a table that a signal handler can read. */
#include "io/outfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_TAG        ".rnnc-tmp."
#define NAME_MAX_BYTES 255 /* the longest file name of Linux file systems */

/* ---- the table of live temporary files -------------------------------- */

/* A slot is 0 (free), 1 (claimed, its name being written) or 2 (live:
 * the handler unlinks it).  Atomic ints are lock-free, so the handler may
 * read them. */
#define SLOTS 32
static char slot_path[SLOTS][4096];
static atomic_int slot_state[SLOTS];

static void on_fatal_signal(int sig)
{
    int saved = errno;
    for (int i = 0; i < SLOTS; i++)
        if (atomic_load(&slot_state[i]) == 2) unlink(slot_path[i]);
    errno = saved;
    /* SA_RESETHAND made the disposition the default again: the signal
     * ends the process as it would have without this handler. */
    raise(sig);
}

/* At each open: the handler for the signals whose disposition is the
 * default (a program's own handler, such as `rnnc train`'s SIGINT, stays;
 * a handler set back to the default gets this one again), and SIGXFSZ
 * ignored so that a size limit is an error, not a kill. */
static void set_handlers(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old) != 0) continue;
        if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(sigs[i], &sa, NULL);
    }
    struct sigaction old;
    if (sigaction(SIGXFSZ, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
        signal(SIGXFSZ, SIG_IGN);
}

/* A slot holding name (not yet live), or -1 when the table is full. */
static int slot_claim(const char *name)
{
    if (strlen(name) >= sizeof slot_path[0]) return -1;
    for (int i = 0; i < SLOTS; i++) {
        int expect = 0;
        if (atomic_compare_exchange_strong(&slot_state[i], &expect, 1)) {
            strcpy(slot_path[i], name);
            atomic_store(&slot_state[i], 2);
            return i;
        }
    }
    return -1;
}

static void slot_release(int i)
{
    if (i >= 0) atomic_store(&slot_state[i], 0);
}

/* ---- names ------------------------------------------------------------ */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* The folder of path ("." for a bare name, "/" for "/x"), malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return dup_str(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

static const char *base_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* ".NAME.rnnc-tmp." with NAME cut so that the PID still fits a name. */
static void tmp_prefix(const char *base, char *buf, size_t n)
{
    int keep = (int)strlen(base);
    int room = NAME_MAX_BYTES - 1 - (int)strlen(TMP_TAG) - 20;
    if (keep > room) keep = room;
    snprintf(buf, n, ".%.*s%s", keep, base, TMP_TAG);
}

int out_tmp_name(const char *target, long pid, char *buf, size_t n)
{
    char *dir = dir_of(target), prefix[NAME_MAX_BYTES + 1];
    if (!dir) return -1;
    tmp_prefix(base_of(target), prefix, sizeof prefix);
    int len = snprintf(buf, n, "%s/%s%ld", dir, prefix, pid);
    free(dir);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

/* path with every symbolic link of its last name followed, malloc'd; NULL
 * with errno set (ELOOP after 40 links, ENOMEM). */
static char *resolve_links(const char *path)
{
    char *p = dup_str(path);
    for (int hops = 0; p; hops++) {
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode)) return p;
        if (hops == 40) {
            free(p);
            errno = ELOOP;
            return NULL;
        }
        char link[4096];
        ssize_t n = readlink(p, link, sizeof link - 1);
        if (n < 0) return p;
        link[n] = '\0';
        char *next;
        if (link[0] == '/' || !strchr(p, '/')) {
            next = dup_str(link);
        } else {
            size_t dl = (size_t)(strrchr(p, '/') - p) + 1;
            next = malloc(dl + (size_t)n + 1);
            if (next) {
                memcpy(next, p, dl);
                memcpy(next + dl, link, (size_t)n + 1);
            }
        }
        free(p);
        p = next;
    }
    errno = ENOMEM;
    return NULL;
}

/* Removes dir's temporary files of base whose process is gone: ours
 * (.BASE.rnnc-tmp.PID), and those of rnnc before io/outfile.c, which named
 * them BASE.tmp.PID and left them behind when killed. */
static void remove_dead_leftovers(const char *dir, const char *base)
{
    char prefix[NAME_MAX_BYTES + 1], old[NAME_MAX_BYTES + 1];
    tmp_prefix(base, prefix, sizeof prefix);
    snprintf(old, sizeof old, "%s.tmp.", base);
    size_t pl = strlen(prefix), ol = strlen(old);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t skip = !strncmp(e->d_name, prefix, pl) ? pl : !strncmp(e->d_name, old, ol) ? ol : 0;
        if (!skip) continue;
        const char *digits = e->d_name + skip;
        char *end;
        long pid = strtol(digits, &end, 10);
        if (end == digits || *end || *digits < '0' || *digits > '9' || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (EPERM: someone else's) */
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *full = malloc(n);
        if (!full) break;
        snprintf(full, n, "%s/%s", dir, e->d_name);
        unlink(full);
        free(full);
    }
    closedir(d);
}

/* After the rename, sync the folder so the new name itself is durable.
 * Best effort: some file systems refuse fsync on folders. */
static void sync_dir_of(const char *path)
{
    char *dir = dir_of(path);
    int fd = dir ? open(dir, O_RDONLY) : -1;
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* ---- the writer --------------------------------------------------------- */

static void out_clear(OutFile *o)
{
    free(o->path);
    free(o->target);
    free(o->tmp);
    memset(o, 0, sizeof *o);
    o->slot = -1;
}

/* Special files are written in place: a device, a FIFO, a socket, and
 * the names of open descriptors (/dev/stdout may be a link to a regular
 * file the shell opened: it is the descriptor that is meant). */
static int writes_in_place(const char *path)
{
    if (!strncmp(path, "/proc/", 6) || !strncmp(path, "/dev/fd/", 8) || !strcmp(path, "/dev/stdout") ||
        !strcmp(path, "/dev/stderr"))
        return 1;
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

int out_open(OutFile *o, const char *path, char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->slot = -1;
    o->path = dup_str(path);
    if (!o->path) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    set_handlers();
    if (writes_in_place(path)) {
        o->f = fopen(path, "wb");
        if (!o->f) {
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            out_clear(o);
            return -1;
        }
        return 0;
    }

    o->target = resolve_links(path);
    if (!o->target) {
        snprintf(err, errlen, "%s: cannot follow the link: %s", path, strerror(errno));
        out_clear(o);
        return -1;
    }
    char *dir = dir_of(o->target);
    size_t tn = strlen(o->target) + NAME_MAX_BYTES + 2;
    o->tmp = malloc(tn);
    if (!dir || !o->tmp || out_tmp_name(o->target, (long)getpid(), o->tmp, tn)) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(dir);
        out_clear(o);
        return -1;
    }
    remove_dead_leftovers(dir, base_of(o->target));

    /* In the table before it exists: a signal at any moment after open()
     * finds its name. */
    o->slot = slot_claim(o->tmp);
    int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0 && errno == EEXIST) {
        /* left by an earlier process with this PID */
        unlink(o->tmp);
        fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    }
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create a temporary file in %s: %s", path, dir, strerror(errno));
        free(dir);
        slot_release(o->slot);
        out_clear(o);
        return -1;
    }
    free(dir);
    struct stat st;
    if (stat(o->target, &st) == 0 && S_ISREG(st.st_mode)) (void)fchmod(fd, st.st_mode & 07777);
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        out_abort(o);
        return -1;
    }
    return 0;
}

int out_write(OutFile *o, const void *p, size_t n)
{
    if (o->err) return -1;
    if (n == 0) return 0;
    errno = 0;
    if (fwrite(p, 1, n, o->f) != n) {
        o->err = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

int out_commit(OutFile *o, char *err, size_t errlen)
{
    const char *what = o->err ? "write" : NULL;
    int bad = o->err;
    errno = 0;
    if (fflush(o->f) != 0 && !what) {
        what = "write";
        bad = errno ? errno : EIO;
    }
    if (!what && ferror(o->f)) {
        what = "write";
        bad = EIO;
    }
    if (!what && o->tmp && fsync(fileno(o->f)) != 0) {
        what = "fsync";
        bad = errno;
    }
    if (fclose(o->f) != 0 && !what) {
        what = "close";
        bad = errno;
    }
    o->f = NULL;
    if (!what && o->tmp && rename(o->tmp, o->target) != 0) {
        what = "rename";
        bad = errno;
    }
    if (what) {
        snprintf(err, errlen, "%s: %s failed: %s", o->path, what, strerror(bad));
        out_abort(o);
        return -1;
    }
    slot_release(o->slot);
    if (o->tmp) sync_dir_of(o->target);
    out_clear(o);
    return 0;
}

void out_abort(OutFile *o)
{
    if (!o->path) return;
    if (o->f) fclose(o->f);
    if (o->tmp) unlink(o->tmp);
    slot_release(o->slot);
    out_clear(o);
}
