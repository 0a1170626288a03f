/* sema.h - semantic analysis: checks a parsed .rnn program (names, kinds,
 * shapes) and builds the graph IR of one of its models.
 *
 * Every independent error is reported through the Diag with its position;
 * an erroneous value gets an "error type" that silences follow-on errors,
 * so one mistake gives one message. */
#ifndef RNNC_SEMA_H
#define RNNC_SEMA_H

#include "frontend/ast.h"
#include "frontend/diag.h"
#include "ir/ir.h"

/* Checks program p and builds the IR of model `model_name` (NULL: the
 * only/first model).  Cells and train blocks of the file are checked too.
 * Reports every independent error through d; returns NULL if there were
 * errors (warnings do not count). */
IrModule *sema_build(const Program *p, const char *model_name, Diag *d);

/* Checks every declaration of the file (all models, cells, train blocks)
 * without keeping IR; returns the number of errors.  Used by `rnnc check`. */
int sema_check(const Program *p, Diag *d);

#endif
