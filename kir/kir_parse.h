/* kir_parse.h - reading the text form of kernel IR back into a KFunc.
 *
 * kfunc_print() (kir_print.c) writes a function as text; kfunc_parse()
 * reads that text, so that print(parse(print(f))) is print(f) for every
 * function the compiler makes.  What it is for: tests of one kernel-IR
 * pass written as text, as LLVM's tests feed `opt` (tests/tools/kiropt.c,
 * the .kir files of tests/golden), and kernel IR written by hand.
 * docs/kernel-ir.md, "The text form", has the grammar.
 *
 * Beyond what the printer writes, the parser accepts: any blanks between
 * tokens, blank lines, lines whose first non-blank character is '#' (the
 * FileCheck directives of a test), and a function without the "arena"
 * line (not planned).  The "arena at ..." line is derived from the rest,
 * so it is read over, not checked.
 *
 * What the text does not hold comes out as the printer leaves it unread:
 * the `in` array of a map is one input per distinct view its `in` nodes
 * read, in node order; a packed GEMM's transb and ldb (unused) are 0 and
 * NULL.  Integer
 * expressions are built as written (left-associative, not folded), so
 * "T * 4 * B" stays that product and prints back the same. */
#ifndef RNNC_KIR_PARSE_H
#define RNNC_KIR_PARSE_H

#include <stddef.h>

#include "kir/kir.h"
#include "ir/ir.h"

/* Parses text (named `file` in messages) into a function.  The symbols'
 * names and maxima need a module: the parser makes one from the
 * "(module M)" and "sym" lines and returns it in *module (NULL when the
 * text names none); free the function first, then the module (ir_free).
 * Returns NULL on the first error, with "file:LINE:COL: message" in err. */
KFunc *kfunc_parse(const char *file, const char *text, IrModule **module, char *err, size_t errlen);

#endif
