/* sizes.h - size expressions as data, evaluated without wrapping.
 *
 * The bytes of working memory (the arena) a compiled kernel needs depend
 * on the sizes of a call (batch, sequence lengths): the kernel IR holds
 * them as an expression (kir/kir.h, KExpr).  The compiler writes that
 * expression as words in postfix order (kexpr_to_words); the model API
 * (model_api.c, NAME_create) and rnnc's own engines (exec/kfunc_run.c)
 * evaluate them here, with arithmetic that saturates at RT_SIZE_HUGE
 * instead of wrapping, so that absurd sizes (a maximum batch of 2^40)
 * give "too large" rather than a small wrapped arena and a write past
 * its end.  One evaluator for every engine, in C, where the generated
 * files can carry it as text.
 *
 * Words: w[0] is the count n of the words after it; then each term is
 * RT_SZ_CONST v, RT_SZ_SYM k (sym[k]) or an operator taking the two
 * values before it. */
#ifndef RNNC_SIZES_H
#define RNNC_SIZES_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/rnnrt.h" /* RT_API: static when the text is pasted */

enum { RT_SZ_CONST, RT_SZ_SYM, RT_SZ_ADD, RT_SZ_SUB, RT_SZ_MUL, RT_SZ_DIV, RT_SZ_MAX };

#define RT_SIZE_HUGE  INT64_MAX /* a size that saturated: too large for any machine */
#define RT_SIZE_DEPTH 64        /* the evaluation stack: deeper expressions are refused */

/* The value of the words w for the symbols sym (each >= 0): RT_SIZE_HUGE
 * when some step exceeds INT64_MAX, -1 when the words are malformed (a
 * bug in whoever wrote them). */
RT_API int64_t rt_size_eval(const int64_t *w, const int64_t *sym);

/* The bytes of memory this machine has (0 when unknown). */
RT_API uint64_t rt_size_machine_bytes(void);

/* bytes as "123 bytes", "4.5 MiB", "1.2 TiB" in buf; returns buf. */
RT_API const char *rt_size_str(int64_t bytes, char *buf, size_t n);

/* Whether bytes of working memory fit in limit bytes (0: this machine's
 * memory): 0 if so, else -1 with a message "WHAT needs 1.5 TiB of memory,
 * more than this machine's 24.0 GiB" (or "... than the limit of 1.0 MiB",
 * or "more than 8 EiB" for a saturated size). */
RT_API int rt_size_check(int64_t bytes, uint64_t limit, const char *what, char *err, size_t errlen);

#endif
