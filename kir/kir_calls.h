/* kir_calls.h - the signature of each runtime call a KS_CALL makes (the
 * table in kir.h's KCallKind comments, as data): how many integer
 * arguments and hyperparameters it takes, and for each pointer argument how
 * many elements the kernel touches, their type, and whether it writes them.
 * Shared by the verifier, the memory plan and the tests, so that the three
 * agree on what a call reads and writes. */
#ifndef RNNC_KIR_CALLS_H
#define RNNC_KIR_CALLS_H

#include "kir/kir.h"

/* A pointer argument of `f1 * f2` elements, f = the number of an integer
 * argument or -1 for a factor of 1. */
typedef struct KCallPtr {
    signed char f1, f2;
    char        i64;     /* ids (int64), else f32                       */
    char        write;   /* the kernel writes every one of its elements */
} KCallPtr;

/* The signature of kind k (SGD depends on nptrs: 3 without momentum, 5
 * with).  Returns the number of pointers, or -1 for an unknown kind. */
static inline int kir_call_sig(KCallKind k, int nptrs, int *nints, int *nhp, const KCallPtr **ptrs) {
    static const KCallPtr softmax[] = {{0, 1, 0, 0}, {0, 1, 0, 1}};
    static const KCallPtr ce[] = {{0, 1, 0, 0}, {0, -1, 1, 0}, {-1, -1, 0, 1}};
    static const KCallPtr ceg[] = {{0, 1, 0, 0}, {0, -1, 1, 0}, {0, 1, 0, 1}};
    static const KCallPtr emb[] = {{2, 1, 0, 0}, {0, -1, 1, 0}, {0, 1, 0, 1}};
    static const KCallPtr embg[] = {{0, -1, 1, 0}, {0, 1, 0, 0}, {2, 1, 0, 1}};
    static const KCallPtr sgd[] = {{0, -1, 0, 0}, {0, -1, 0, 0}, {0, -1, 0, 1}};
    static const KCallPtr sgdm[] = {{0, -1, 0, 0}, {0, -1, 0, 0}, {0, -1, 0, 0}, {0, -1, 0, 1}, {0, -1, 0, 1}};
    static const KCallPtr adam[] = {{0, -1, 0, 0},  {0, -1, 0, 0}, {0, -1, 0, 0}, {0, -1, 0, 0},
                                    {-1, -1, 0, 0}, {0, -1, 0, 1}, {0, -1, 0, 1}, {0, -1, 0, 1}};
    *nhp = 0;
    switch (k) {
    case KC_SOFTMAX: *nints = 2; *ptrs = softmax; return 2;
    case KC_CROSS_ENTROPY: *nints = 2; *ptrs = ce; return 3;
    case KC_CROSS_ENTROPY_GRAD: *nints = 2; *ptrs = ceg; return 3;
    case KC_EMBEDDING: *nints = 3; *ptrs = emb; return 3;
    case KC_EMBEDDING_GRAD: *nints = 3; *ptrs = embg; return 3;
    case KC_SGD:
        *nints = 1;
        if (nptrs == 5) {
            *nhp = 3;
            *ptrs = sgdm;
            return 5;
        }
        *nhp = 2;
        *ptrs = sgd;
        return 3;
    case KC_ADAM: *nints = 1; *nhp = 5; *ptrs = adam; return 8;
    default: return -1;
    }
}

/* The element count of pointer p given the call's integer values. */
static inline int64_t kir_call_ptr_len(const KCallPtr *p, const int64_t *ints) {
    return (p->f1 >= 0 ? ints[(int)p->f1] : 1) * (p->f2 >= 0 ? ints[(int)p->f2] : 1);
}

#endif
