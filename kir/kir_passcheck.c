/* kir_passcheck.c - kfunc_verify() after a kernel-IR pass (kir_passcheck.h). */
#include "kir/kir_passcheck.h"

#include <stdlib.h>

/* The symbols kir_passcheck() fills in; a function with more is checked
 * at the first ones only, never read past. */
#define CHECK_SYMS 64

int kir_passcheck_enabled(void)
{
    const char *v = getenv("RNNC_VERIFY_KIR");
    return v && v[0] && !(v[0] == '0' && !v[1]);
}

/* The symbol values of check k: all 1, or B = 3 and each length 5 (at
 * most its maximum): small enough for any model, large enough that a
 * view wrong by a multiple of B or T is out of bounds. */
static void values(const KFunc *f, int k, int64_t *sym)
{
    for (int i = 0; i < f->nsyms && i < CHECK_SYMS; i++) {
        int64_t max = f->module && i < f->module->nsyms ? f->module->syms[i].max : 0;
        sym[i] = k == 0 ? 1 : i == 0 ? 3 : max > 0 && max < 5 ? max : 5;
    }
}

int kir_passcheck(const KFunc *f, const char *pass, FILE *out)
{
    int total = 0;
    if (f->nsyms > CHECK_SYMS) {
        if (out)
            fprintf(out, "kernel IR after %s: %d size symbols, more than the check's %d\n", pass, f->nsyms, CHECK_SYMS);
        return 1;
    }
    for (int k = 0; k < (f->nsyms ? 2 : 1); k++) { /* without symbols, one check is all */
        int64_t sym[CHECK_SYMS] = {0};
        values(f, k, sym);
        int n = kfunc_verify(f, sym, NULL);
        if (!n) continue;
        total += n;
        if (out) {
            fprintf(out, "kernel IR of '%s' invalid after the pass %s (%d problem%s%s", f->name ? f->name : "?", pass,
                    n, n == 1 ? "" : "s", f->nsyms ? " at" : "");
            for (int i = 0; i < f->nsyms; i++)
                fprintf(out, " %s=%lld", f->module && i < f->module->nsyms ? f->module->syms[i].name : "sym",
                        (long long)sym[i]);
            fprintf(out, "):\n");
            kfunc_verify(f, sym, out);
        }
    }
    return total;
}

void kir_passcheck_or_abort(const KFunc *f, const char *pass)
{
    if (!kir_passcheck_enabled() || !kir_passcheck(f, pass, stderr)) return;
    fprintf(stderr, "rnnc: RNNC_VERIFY_KIR: the kernel-IR pass %s broke the function; aborting\n", pass);
    abort();
}
