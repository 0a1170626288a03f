/* kir_passcheck.h - the verifier after every kernel-IR pass, in tests.
 *
 * kcompile() (lower/kcompile.c) runs lowering, packing, fusion and the
 * memory plan one after the other; a pass that leaves the function broken
 * shows up, without this, only where something later trips over it - an
 * emitter, a wrong number, a sanitizer report.  With RNNC_VERIFY_KIR set
 * in the environment (tests/run_all.sh sets it for every suite, so every
 * test binary and every `rnnc` the suites run does this), kfunc_verify()
 * runs after each pass and a problem aborts with the pass's name.
 *
 * The verifier checks one set of symbol values at a time; these checks
 * use two: every symbol 1, and B = 3 with each length at 5 or its
 * declared maximum if smaller. */
#ifndef RNNC_KIR_PASSCHECK_H
#define RNNC_KIR_PASSCHECK_H

#include <stdio.h>

#include "kir/kir.h"

/* Whether RNNC_VERIFY_KIR is set (to anything but "" or "0"). */
int kir_passcheck_enabled(void);

/* Verifies f as the pass `pass` left it, at the symbol values above.
 * Returns the number of problems, printed to out after one line naming
 * the pass and the values (out may be NULL). */
int kir_passcheck(const KFunc *f, const char *pass, FILE *out);

/* kir_passcheck() when enabled; any problem is printed to stderr and
 * aborts: a pass made kernel IR the verifier rejects. */
void kir_passcheck_or_abort(const KFunc *f, const char *pass);

#endif
