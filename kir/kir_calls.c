/* kir_calls.c - kir/calls.def as data (kir_calls.h) and the names of the
 * calls.  Each line of the table becomes an array of its parameters; the
 * sorts are counted when a signature is asked for, which keeps the table
 * one line per call. */
#include "kir/kir_calls.h"

#include <string.h>

#define KARG_INT(name)                     {KA_INT, #name, -1, -1, IR_F32, 0},
#define KARG_PTR(name, f1, f2, dtype, rw)  {KA_PTR, #name, f1, f2, IR_##dtype, KARG_##rw},
#define KARG_HP(name)                      {KA_HP, #name, -1, -1, IR_F32, 0},
#define KARG_NULL                          {KA_NULL, NULL, -1, -1, IR_F32, 0},
#define KARG_ZERO                          {KA_ZERO, NULL, -1, -1, IR_F32, 0},
#define KARG_IN                            0
#define KARG_OUT                           1
#define KCALL(NAME, symbol, returns, args) static const KCallArg args_##NAME[] = {args};
#include "kir/calls.def"
#undef KARG_IN
#undef KARG_OUT

#define KRET_void 0
#define KRET_int  1

static const struct {
    const char *symbol;
    int fallible;
    const KCallArg *args;
    int nargs;
} calls[KC_NUM_KINDS] = {
#define KCALL(NAME, symbol, returns, args) \
    [KC_##NAME] = {#symbol, KRET_##returns, args_##NAME, (int)(sizeof args_##NAME / sizeof *args_##NAME)},
#include "kir/calls.def"
};

int kir_call_sig(KCallKind k, KCallSig *sig)
{
    memset(sig, 0, sizeof *sig);
    if (k < 0 || k >= KC_NUM_KINDS) return -1;
    sig->symbol = calls[k].symbol;
    sig->fallible = calls[k].fallible;
    sig->args = calls[k].args;
    sig->nargs = calls[k].nargs;
    for (int i = 0; i < sig->nargs; i++) {
        const KCallArg *a = &sig->args[i];
        switch (a->kind) {
        case KA_INT:
            if (sig->nints == KIR_CALL_MAX_INTS) return -1;
            sig->int_arg[sig->nints++] = a;
            break;
        case KA_PTR:
            if (sig->nptrs == KIR_CALL_MAX_PTRS || a->f1 >= sig->nints || a->f2 >= sig->nints)
                return -1; /* a count must name an integer parameter before it */
            sig->ptr_arg[sig->nptrs++] = a;
            break;
        case KA_HP:
            if (sig->nhp == KIR_CALL_MAX_HP) return -1;
            sig->hp_arg[sig->nhp++] = a;
            break;
        case KA_NULL:
        case KA_ZERO: break;
        }
    }
    return 0;
}

const char *kir_call_name(KCallKind k) { return k >= 0 && k < KC_NUM_KINDS ? calls[k].symbol : "?"; }
