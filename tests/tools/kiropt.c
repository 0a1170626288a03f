/* kiropt.c - run kernel-IR passes on kernel IR written as text, as LLVM's
 * `opt` runs IR passes: what the FileCheck tests of one pass
 * (the .kir files of tests/golden) feed.
 *
 *   kiropt [-p PASS]... FILE|-
 *
 * Reads FILE (- is stdin) as `rnnc dump --stage=kernel` prints kernel IR
 * (kir/kir_parse.h), runs each PASS in the order given, verifies the
 * function after each one (kfunc_verify, as RNNC_VERIFY_KIR does in
 * kcompile; kir/kir_passcheck.h), and prints the result with
 * kfunc_print().  With no pass it prints what it read: a round trip.
 *
 *   pack     lower_pack_b: recurrent GEMMs read a pack made before the loop
 *   kfuse    kfuse: fuse adjacent maps over one index space, drop dead stores
 *   memplan  memplan: give every temporary its offset in the arena
 *   verify   only the verifier (the input itself)
 *
 * Exit status: 0; 1 when the text does not parse, a pass fails or the
 * verifier rejects a result (its problems on stderr); 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kir/kir.h"
#include "kir/kir_parse.h"
#include "kir/kir_passcheck.h"
#include "lower/kfuse.h"
#include "lower/lower.h"
#include "lower/memplan.h"

#define MAX_PASSES 16

static void usage(void)
{
    fprintf(stderr, "usage: kiropt [-p pack|kfuse|memplan|verify]... FILE|-\n");
    exit(2);
}

static char *read_all(FILE *in)
{
    size_t n = 0, cap = 1 << 16;
    char *s = malloc(cap);
    for (size_t r; s && (r = fread(s + n, 1, cap - n - 1, in)) > 0;) {
        n += r;
        if (cap - n < 2) {
            char *t = realloc(s, cap *= 2);
            if (!t) free(s);
            s = t;
        }
    }
    if (s) s[n] = 0;
    return s;
}

/* Runs pass `name` on f; returns 0, or -1 with a message printed. */
static int run_pass(KFunc *f, const char *name)
{
    char err[512];
    if (!strcmp(name, "pack"))
        lower_pack_b(f);
    else if (!strcmp(name, "kfuse"))
        kfuse(f);
    else if (!strcmp(name, "memplan")) {
        if (memplan(f, err, sizeof err)) {
            fprintf(stderr, "kiropt: memplan: %s\n", err);
            return -1;
        }
    } else if (strcmp(name, "verify")) {
        fprintf(stderr, "kiropt: unknown pass '%s' (pack, kfuse, memplan, verify)\n", name);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *passes[MAX_PASSES], *path = NULL;
    int npasses = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-p") && i + 1 < argc) {
            if (npasses == MAX_PASSES) usage();
            passes[npasses++] = argv[++i];
        } else if (!strncmp(a, "--pass=", 7)) {
            if (npasses == MAX_PASSES) usage();
            passes[npasses++] = a + 7;
        } else if (a[0] == '-' && a[1]) {
            usage();
        } else if (!path) {
            path = a;
        } else {
            usage();
        }
    }
    if (!path) usage();
    FILE *in = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!in) {
        perror(path);
        return 1;
    }
    char *text = read_all(in);
    if (in != stdin) fclose(in);
    if (!text) {
        fprintf(stderr, "kiropt: cannot read %s\n", path);
        return 1;
    }
    char err[512];
    IrModule *m = NULL;
    KFunc *f = kfunc_parse(strcmp(path, "-") ? path : "<stdin>", text, &m, err, sizeof err);
    free(text);
    if (!f) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < npasses && !rc; i++)
        if (run_pass(f, passes[i]) || kir_passcheck(f, passes[i], stderr)) rc = 1;
    if (!rc) kfunc_print(f, stdout);
    kfunc_free(f);
    ir_free(m);
    return rc;
}
