/* kir_calls.h - the runtime calls of kir/calls.def as data: for each kind
 * its function, whether it can fail, and its parameters in the prototype's
 * order, each an integer, a pointer (with how many elements the kernel
 * touches, their type and whether it writes them), a hyperparameter, or a
 * constant the kernel IR leaves out.  The verifier, the walker over reads
 * and writes (kir_walk.h), the printer, both emitters and the tests'
 * evaluator read calls from here, so that they agree on what a call
 * passes, reads and writes. */
#ifndef RNNC_KIR_CALLS_H
#define RNNC_KIR_CALLS_H

#include "kir/kir.h"

typedef enum {
    KA_INT,  /* int64_t: KStmt.ints[k]                                 */
    KA_PTR,  /* a pointer: KStmt.ptrs[k]                               */
    KA_HP,   /* double: KStmt.hp[k]                                    */
    KA_NULL, /* a float pointer passed as NULL, not in the kernel IR   */
    KA_ZERO, /* a double passed as 0, not in the kernel IR             */
} KCallArgKind;

typedef struct KCallArg {
    KCallArgKind kind;
    const char *name;   /* the parameter's name ("rows", "logits", "lr"); NULL for KA_NULL, KA_ZERO */
    signed char f1, f2; /* KA_PTR: ints[f1] * ints[f2] elements, -1 a factor of 1 */
    IrDType dtype;      /* KA_PTR: IR_F32 or IR_I64                    */
    char write;         /* KA_PTR: the kernel writes every one of its elements */
} KCallArg;

typedef struct KCallSig {
    const char *symbol;   /* "rt_softmax_rows"                        */
    int fallible;         /* returns int: 0 or RT_ERR_ID_RANGE        */
    const KCallArg *args; /* the prototype's parameters, in order     */
    int nargs;
    /* The parameters the kernel IR supplies, by sort: a KStmt of this kind
     * has nints integers, nptrs pointers and nhp hyperparameters, and
     * ints[k] is the parameter int_arg[k] (so for ptrs and hp). */
    int nints, nptrs, nhp;
    const KCallArg *int_arg[KIR_CALL_MAX_INTS];
    const KCallArg *ptr_arg[KIR_CALL_MAX_PTRS];
    const KCallArg *hp_arg[KIR_CALL_MAX_HP];
} KCallSig;

/* Fills *sig for kind k.  Returns 0, or -1 for a kind outside the table
 * (or a calls.def line with more arguments of a sort than KStmt holds). */
int kir_call_sig(KCallKind k, KCallSig *sig);

/* The element count of pointer parameter p given the call's integer values. */
static inline int64_t kir_call_ptr_len(const KCallArg *p, const int64_t *ints)
{
    return (p->f1 >= 0 ? ints[(int)p->f1] : 1) * (p->f2 >= 0 ? ints[(int)p->f2] : 1);
}

#endif
