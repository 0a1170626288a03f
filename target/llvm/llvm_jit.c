/* llvm_jit.c - build, optimize and JIT-compile one kernel function
 * (llvm_jit.h) with ORC LLJIT from the LLVM-C API.
 *
 * The module is built in the context of an ORC ThreadSafeContext from the
 * start, so that the optimized module can be handed to the JIT as it is.
 * Ownership: until codegen the LlvmJit owns the module; then the LLJIT
 * instance does, and disposing of it frees the module, the code and, with
 * our reference dropped, the context. */
#include "target/llvm/llvm_jit.h"

#include <llvm-c/Core.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/llvm/llvm_emit.h"
#include "target/llvm/llvm_target.h"
#include "runtime/rnnrt.h"
#include "runtime/sizes.h"

#define FN_NAME "rnnc_kernel"

struct LlvmJit {
    LLVMOrcThreadSafeContextRef tsc;
    LLVMContextRef ctx;
    LLVMTargetMachineRef tm; /* for the optimizer */
    LLVMModuleRef mod;       /* owned until codegen */
    LLVMOrcLLJITRef jit;
    KFuncFn fn;
};

/* ---- the runtime, by address ------------------------------------------------- */

typedef struct Extern {
    const char *name;
    uintptr_t addr;
} Extern;

/* Addresses of llvm_emit_externals in this program (a function pointer
 * converts to an integer: C11 6.3.2.3), each name once: two kinds of
 * calls.def may share a kernel, and the JIT takes one definition a name. */
static size_t externals(Extern *x, size_t cap)
{
    const Extern all[] = {
        {"rt_sgemm_ws", (uintptr_t)&rt_sgemm_ws},
        {"rt_sgemm_ws_packed", (uintptr_t)&rt_sgemm_ws_packed},
        {"rt_sgemm_pack_b", (uintptr_t)&rt_sgemm_pack_b},
        {"rt_size_eval", (uintptr_t)&rt_size_eval},
        {"rt_map_rows", (uintptr_t)&rt_map_rows},
#define KCALL(NAME, symbol, returns, args) {#symbol, (uintptr_t)&symbol},
#include "kir/calls.def"
        {"snprintf", (uintptr_t)&snprintf},
        {"logf", (uintptr_t)&logf},
        {"memset", (uintptr_t)&memset},
        {"memcpy", (uintptr_t)&memcpy},
        {"memmove", (uintptr_t)&memmove},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        size_t k = 0;
        while (k < n && k < cap && strcmp(x[k].name, all[i].name)) k++;
        if (k < n) continue;
        if (n < cap) x[n] = all[i];
        n++;
    }
    return n;
}

/* Every name the emitter may call has an address here (checked once, so
 * that a name added to llvm_emit_externals without one is an error, not
 * an unresolved symbol at run time). */
static int define_runtime(LlvmJit *j, char *err, size_t errlen)
{
    Extern x[32];
    size_t n = externals(x, 32);
    if (n > 32) return snprintf(err, errlen, "internal error: the JIT binds at most 32 runtime symbols"), -1;
    for (const char *const *p = llvm_emit_externals; *p; p++) {
        size_t i = 0;
        while (i < n && strcmp(x[i].name, *p)) i++;
        if (i == n) return snprintf(err, errlen, "internal error: the JIT has no address for %s", *p), -1;
    }
    LLVMJITCSymbolMapPair pairs[32];
    for (size_t i = 0; i < n; i++) {
        pairs[i].Name = LLVMOrcLLJITMangleAndIntern(j->jit, x[i].name);
        pairs[i].Sym.Address = (LLVMOrcExecutorAddress)x[i].addr;
        pairs[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
        pairs[i].Sym.Flags.TargetFlags = 0;
    }
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(pairs, n);
    LLVMErrorRef e = LLVMOrcJITDylibDefine(LLVMOrcLLJITGetMainJITDylib(j->jit), mu);
    if (e) {
        LLVMOrcDisposeMaterializationUnit(mu);
        return llvm_error(e, "JIT: defining the runtime's symbols", err, errlen);
    }
    return 0;
}

/* ---- stages ---------------------------------------------------------------------- */

LlvmJit *llvm_jit_new(char *err, size_t errlen)
{
    LlvmJit *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    j->tm = llvm_target_machine(NULL, 1, err, errlen);
    if (!j->tm) {
        free(j);
        return NULL;
    }
    j->tsc = LLVMOrcCreateNewThreadSafeContext();
    j->ctx = LLVMOrcThreadSafeContextGetContext(j->tsc);
    return j;
}

int llvm_jit_build(LlvmJit *j, const KFunc *f, char *err, size_t errlen)
{
    if (j->mod || j->jit) return snprintf(err, errlen, "internal error: the JIT already holds a module"), -1;
    j->mod = LLVMModuleCreateWithNameInContext(f->name ? f->name : "kernel", j->ctx);
    llvm_target_apply(j->mod, j->tm);
    if (llvm_emit_func(j->mod, f, FN_NAME, err, errlen) || llvm_emit_verify(j->mod, err, errlen)) return -1;
    return 0;
}

int llvm_jit_optimize(LlvmJit *j, char *err, size_t errlen)
{
    if (!j->mod) return snprintf(err, errlen, "internal error: no module to optimize"), -1;
    return llvm_optimize(j->mod, j->tm, err, errlen);
}

KFuncFn llvm_jit_codegen(LlvmJit *j, char *err, size_t errlen)
{
    if (j->fn) return j->fn;
    if (!j->mod) {
        snprintf(err, errlen, "internal error: no module to compile");
        return NULL;
    }
    /* The JIT's own target machine: the host's, as the optimizer's;
     * position-independent, since the JIT's memory may lie anywhere (a
     * static model addresses data with 32-bit absolute relocations). */
    LLVMTargetMachineRef tm = llvm_target_machine(NULL, 1, err, errlen);
    if (!tm) return NULL;
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->jit, builder); /* takes the builder */
    if (e) {
        j->jit = NULL;
        llvm_error(e, "JIT: cannot create LLJIT", err, errlen);
        return NULL;
    }
    if (define_runtime(j, err, errlen)) return NULL;
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(j->mod, j->tsc);
    j->mod = NULL; /* the thread-safe module owns it */
    e = LLVMOrcLLJITAddLLVMIRModule(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), tsm);
    if (e) {
        llvm_error(e, "JIT: adding the module", err, errlen);
        return NULL;
    }
    LLVMOrcExecutorAddress addr = 0;
    e = LLVMOrcLLJITLookup(j->jit, &addr, FN_NAME);
    if (e) {
        llvm_error(e, "JIT: code generation failed", err, errlen);
        return NULL;
    }
    /* an integer converts to a function pointer (C11 6.3.2.3): the JIT
     * made the code at this address */
    j->fn = (KFuncFn)(uintptr_t)addr;
    return j->fn;
}

char *llvm_jit_ir_text(const LlvmJit *j)
{
    if (!j->mod) return NULL;
    char *s = LLVMPrintModuleToString(j->mod);
    char *copy = s ? malloc(strlen(s) + 1) : NULL;
    if (copy) strcpy(copy, s);
    LLVMDisposeMessage(s);
    return copy;
}

void llvm_jit_free(LlvmJit *j)
{
    if (!j) return;
    if (j->mod) LLVMDisposeModule(j->mod);
    if (j->jit) {
        LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->jit);
        if (e) LLVMConsumeError(e);
    }
    if (j->tsc) LLVMOrcDisposeThreadSafeContext(j->tsc);
    if (j->tm) LLVMDisposeTargetMachine(j->tm);
    free(j);
}

LlvmJit *llvm_jit_compile(const KFunc *f, KFuncFn *fn, char *err, size_t errlen)
{
    LlvmJit *j = llvm_jit_new(err, errlen);
    if (!j) return NULL;
    if (llvm_jit_build(j, f, err, errlen) || llvm_jit_optimize(j, err, errlen) ||
        !(*fn = llvm_jit_codegen(j, err, errlen))) {
        llvm_jit_free(j);
        return NULL;
    }
    return j;
}
