/* test_outfile.c - the writer every output of rnnc goes through
 * (io/outfile.h): temporary names, special files written in place,
 * symbolic links followed, leftovers of dead processes removed, the
 * temporary file gone after an error or a fatal signal, errors that name
 * the file.  Run from the repo root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/outfile.h"
#include "io/tensor.h"
#include "test_util.h"

/* The model API's writer (static functions), which follows the same rules
 * without io/: st_save. */
#include "runtime/st_loader.h"

/* How many names in the scratch directory hold ".rnnc-tmp.". */
static int count_tmp_files(void)
{
    DIR *d = opendir(tu_tmpdir);
    int n = 0;
    struct dirent *e;
    if (!d) return -1;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".rnnc-tmp.")) n++;
    closedir(d);
    return n;
}

static void write_text(const char *path, const char *text)
{
    char err[512];
    OutFile o;
    assert_int_equal(out_open(&o, path, err, sizeof err), 0);
    assert_int_equal(out_write(&o, text, strlen(text)), 0);
    assert_int_equal(out_commit(&o, err, sizeof err), 0);
}

static void assert_file_text(const char *path, const char *text)
{
    size_t n;
    unsigned char *now = tu_read_file(path, &n);
    assert_non_null(now);
    assert_int_equal(n, strlen(text));
    assert_memory_equal(now, text, n);
    free(now);
}

/* A PID no process has: a child that has exited and been reaped. */
static long dead_pid(void)
{
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) _exit(0);
    assert_int_equal(waitpid(p, NULL, 0), p);
    return (long)p;
}

static void test_tmp_names(void **state)
{
    (void)state;
    char buf[600];
    assert_int_equal(out_tmp_name("dir/ckpt.safetensors", 42, buf, sizeof buf), 0);
    assert_string_equal(buf, "dir/.ckpt.safetensors.rnnc-tmp.42");
    assert_int_equal(out_tmp_name("y.npy", 7, buf, sizeof buf), 0);
    assert_string_equal(buf, "./.y.npy.rnnc-tmp.7");
    assert_int_equal(out_tmp_name("/x", 1, buf, sizeof buf), 0);
    assert_string_equal(buf, "//.x.rnnc-tmp.1");
    /* A long name is cut so that the temporary name is still a name. */
    char longname[300];
    memset(longname, 'a', 254);
    longname[254] = '\0';
    assert_int_equal(out_tmp_name(longname, 2147483647L, buf, sizeof buf), 0);
    assert_true(strlen(buf) - 2 <= 255);
    assert_int_equal(out_tmp_name("d/x", 1, buf, 8), -1);
}

/* The temporary file is beside the target while it is written, under the
 * recognizable name; a commit renames it, an abort removes it. */
static void test_commit_and_abort(void **state)
{
    (void)state;
    char path[512], tmp[600], err[512];
    tu_tmp_path(path, sizeof path, "a.bin");
    tu_write_file(path, "old", 3);
    chmod(path, 0640);
    OutFile o;
    assert_int_equal(out_open(&o, path, err, sizeof err), 0);
    assert_int_equal(out_tmp_name(path, (long)getpid(), tmp, sizeof tmp), 0);
    assert_string_equal(o.tmp, tmp);
    assert_int_equal(access(tmp, F_OK), 0);
    fprintf(o.f, "new %d", 1);
    out_abort(&o);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_file_text(path, "old");

    write_text(path, "new");
    assert_file_text(path, "new");
    assert_int_equal(count_tmp_files(), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640); /* the old file's mode */
    out_abort(&o);                              /* an empty one: nothing */
}

/* /dev/null stays the character device (rnnc once replaced it, as root). */
static void test_dev_null_in_place(void **state)
{
    (void)state;
    char err[512];
    OutFile o;
    assert_int_equal(out_open(&o, "/dev/null", err, sizeof err), 0);
    assert_null(o.tmp);
    assert_int_equal(out_write(&o, "x", 1), 0);
    assert_int_equal(out_commit(&o, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
}

/* A FIFO outside /dev is written in place: the reader gets the bytes and
 * the FIFO is still a FIFO. */
static void test_fifo_in_place(void **state)
{
    (void)state;
    char path[512], err[512], buf[16] = "";
    tu_tmp_path(path, sizeof path, "fifo");
    assert_int_equal(mkfifo(path, 0600), 0);
    int rd = open(path, O_RDONLY | O_NONBLOCK); /* a reader, so the writer's open does not wait */
    assert_true(rd >= 0);
    OutFile o;
    assert_int_equal(out_open(&o, path, err, sizeof err), 0);
    assert_null(o.tmp);
    assert_int_equal(out_write(&o, "hello", 5), 0);
    assert_int_equal(out_commit(&o, err, sizeof err), 0);
    assert_int_equal(read(rd, buf, sizeof buf - 1), 5);
    assert_string_equal(buf, "hello");
    close(rd);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    unlink(path);
}

/* A link to a link to a file: the file gets the new bytes, both links
 * stay links; a dangling link makes the file it names. */
static void test_symlinks_followed(void **state)
{
    (void)state;
    char file[512], l1[512], l2[512], dang[512], made[512];
    tu_tmp_path(file, sizeof file, "real.bin");
    tu_tmp_path(l1, sizeof l1, "l1.bin");
    tu_tmp_path(l2, sizeof l2, "l2.bin");
    tu_write_file(file, "old", 3);
    assert_int_equal(symlink("real.bin", l1), 0); /* relative to the link's folder */
    assert_int_equal(symlink(l1, l2), 0);         /* absolute */
    write_text(l2, "via links");
    assert_file_text(file, "via links");
    struct stat st;
    assert_int_equal(lstat(l1, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(l2, &st), 0);
    assert_true(S_ISLNK(st.st_mode));

    tu_tmp_path(dang, sizeof dang, "dangling.bin");
    tu_tmp_path(made, sizeof made, "made.bin");
    assert_int_equal(symlink("made.bin", dang), 0);
    write_text(dang, "made");
    assert_file_text(made, "made");
    assert_int_equal(lstat(dang, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(count_tmp_files(), 0);

    /* a loop of links is an error that names the path */
    char la[512], lb[512], err[512];
    tu_tmp_path(la, sizeof la, "loop_a");
    tu_tmp_path(lb, sizeof lb, "loop_b");
    assert_int_equal(symlink("loop_b", la), 0);
    assert_int_equal(symlink("loop_a", lb), 0);
    OutFile o;
    assert_int_equal(out_open(&o, la, err, sizeof err), -1);
    assert_non_null(strstr(err, la));
    unlink(la);
    unlink(lb);
}

/* The next write of an output removes its temporary files whose process
 * is gone, and only those. */
static void test_dead_leftovers_removed(void **state)
{
    (void)state;
    char path[512], dead[600], live[600], other[600], odd[600];
    tu_tmp_path(path, sizeof path, "ckpt.safetensors");
    assert_int_equal(out_tmp_name(path, dead_pid(), dead, sizeof dead), 0);
    assert_int_equal(out_tmp_name(path, (long)getppid(), live, sizeof live), 0);
    tu_tmp_path(other, sizeof other, ".other.bin.rnnc-tmp.1");
    snprintf(odd, sizeof odd, "%s/.ckpt.safetensors.rnnc-tmp.12x", tu_tmpdir);
    tu_write_file(dead, "x", 1);
    tu_write_file(live, "x", 1);
    tu_write_file(other, "x", 1);
    tu_write_file(odd, "x", 1);
    write_text(path, "new");
    assert_int_equal(access(dead, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);
    assert_int_equal(access(other, F_OK), 0);
    assert_int_equal(access(odd, F_OK), 0);
    unlink(live);
    unlink(other);
    unlink(odd);
    /* a leftover under this process's own PID (an earlier process's) */
    char mine[600];
    assert_int_equal(out_tmp_name(path, (long)getpid(), mine, sizeof mine), 0);
    tu_write_file(mine, "stale", 5);
    write_text(path, "newer");
    assert_file_text(path, "newer");
    assert_int_equal(count_tmp_files(), 0);
}

/* SIGTERM while the temporary file is open: the handler removes it and
 * the process still dies of SIGTERM; the old file stays. */
static void test_signal_removes_tmp(void **state)
{
    (void)state;
    char path[512];
    tu_tmp_path(path, sizeof path, "sig.bin");
    tu_write_file(path, "old", 3);
    const int sigs[3] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        pid_t p = fork();
        assert_true(p >= 0);
        if (p == 0) {
            /* a child of a test harness may inherit an ignored SIGINT */
            signal(sigs[i], SIG_DFL);
            char err[512];
            OutFile o;
            if (out_open(&o, path, err, sizeof err)) _exit(3);
            out_write(&o, "partial", 7);
            fflush(o.f);
            raise(sigs[i]);
            _exit(4); /* not reached */
        }
        int status;
        assert_int_equal(waitpid(p, &status, 0), p);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), sigs[i]);
        assert_int_equal(count_tmp_files(), 0);
        assert_file_text(path, "old");
    }
}

/* A program's own handler stays (rnnc train's SIGINT). */
static int got_usr;
static void own_handler(int sig)
{
    (void)sig;
    got_usr = 1;
}

static void test_own_handler_kept(void **state)
{
    (void)state;
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        char path[512], err[512];
        tu_tmp_path(path, sizeof path, "own.bin");
        signal(SIGHUP, own_handler);
        OutFile o;
        if (out_open(&o, path, err, sizeof err)) _exit(3);
        raise(SIGHUP);
        int rc = got_usr && !out_commit(&o, err, sizeof err) ? 0 : 5;
        unlink(path);
        _exit(rc);
    }
    int status;
    assert_int_equal(waitpid(p, &status, 0), p);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(count_tmp_files(), 0);
}

/* A file size limit (as a full disk): the error names the file and says
 * why, found at the commit even when the writes went through stdio's
 * buffer; the old file stays and the temporary file goes. */
static void test_size_limit_at_commit(void **state)
{
    (void)state;
    char path[512], err[512];
    tu_tmp_path(path, sizeof path, "limit.bin");
    tu_write_file(path, "old", 3);
    struct rlimit saved, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    OutFile o;
    assert_int_equal(out_open(&o, path, err, sizeof err), 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    for (int i = 0; i < 2000; i++) fprintf(o.f, "line %d\n", i);
    int rc = out_commit(&o, err, sizeof err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, strerror(EFBIG)));
    assert_file_text(path, "old");
    assert_int_equal(count_tmp_files(), 0);
}

/* A missing folder: the error names the path. */
static void test_missing_folder(void **state)
{
    (void)state;
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/no/such/x.bin", tu_tmpdir);
    OutFile o;
    assert_int_equal(out_open(&o, path, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, strerror(ENOENT)));
}

/* A compiled model's NAME_save_weights (st_save): /dev/null and a FIFO in
 * place, a link's target replaced, the temporary name, errors name the
 * file; what it writes reads back. */
static void test_model_save_rules(void **state)
{
    (void)state;
    const int64_t dims[1] = {3};
    const rt_st_tensor have[1] = {{"w", RT_ST_F32, 1, dims}};
    const float w[3] = {1, 2, 3};
    const float *data[1] = {w};
    char err[512], real[512], link[512], fifo[512], missing[600];
    assert_int_equal(st_save("/dev/null", have, data, 1, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));

    tu_tmp_path(real, sizeof real, "model_real.safetensors");
    tu_tmp_path(link, sizeof link, "model_link.safetensors");
    tu_write_file(real, "old", 3);
    assert_int_equal(symlink("model_real.safetensors", link), 0);
    assert_int_equal(st_save(link, have, data, 1, err, sizeof err), 0);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    float back[3] = {0, 0, 0};
    float *const into[1] = {back};
    int partial;
    assert_int_equal(st_load(real, have, into, 1, &partial, err, sizeof err), 0);
    assert_memory_equal(back, w, sizeof w);
    assert_int_equal(count_tmp_files(), 0);

    tu_tmp_path(fifo, sizeof fifo, "model_fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    assert_int_equal(st_save(fifo, have, data, 1, err, sizeof err), 0);
    unsigned char buf[256];
    assert_true(read(rd, buf, sizeof buf) > 12);
    close(rd);
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    unlink(fifo);

    snprintf(missing, sizeof missing, "%s/no/such/m.safetensors", tu_tmpdir);
    assert_int_not_equal(st_save(missing, have, data, 1, err, sizeof err), 0);
    assert_non_null(strstr(err, missing));
    assert_int_equal(count_tmp_files(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tmp_names),
        cmocka_unit_test(test_commit_and_abort),
        cmocka_unit_test(test_dev_null_in_place),
        cmocka_unit_test(test_fifo_in_place),
        cmocka_unit_test(test_symlinks_followed),
        cmocka_unit_test(test_dead_leftovers_removed),
        cmocka_unit_test(test_signal_removes_tmp),
        cmocka_unit_test(test_own_handler_kept),
        cmocka_unit_test(test_size_limit_at_commit),
        cmocka_unit_test(test_missing_folder),
        cmocka_unit_test(test_model_save_rules),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
