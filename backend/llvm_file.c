/* llvm_file.c - kernel functions to an LLVM IR, assembly or object file
 * (llvm_file.h). */
#include "backend/llvm_file.h"

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>
#include <stdio.h>
#include <string.h>

#include "backend/kcompile.h"
#include "backend/llvm_emit.h"
#include "backend/llvm_target.h"

int llvm_file_kind(const char *name) {
    static const char *const names[3] = {"llvm", "asm", "obj"};
    for (int k = 0; k < 3; k++)
        if (name && !strcmp(name, names[k]))
            return k;
    return -1;
}

/* Adds the variant's kernel and arena functions to mod. */
static int add_variant(LLVMModuleRef mod, const IrModule *m, const char *prefix, const char *kind, char *err,
                       size_t errlen) {
    if (!m)
        return 0;
    char e[512], fn[256], arena[300];
    KFunc *f = kcompile(m, kind, e, sizeof e);
    if (!f)
        return ir_errf(err, errlen, "the %s function of model '%s': %s", kind, m->name, e);
    snprintf(fn, sizeof fn, "%s_kernel_%s", prefix, kind);
    snprintf(arena, sizeof arena, "%s_arena", fn);
    int rc = llvm_emit_func(mod, f, fn, e, sizeof e) || llvm_emit_arena_func(mod, f, arena, e, sizeof e);
    kfunc_free(f);
    return rc ? ir_errf(err, errlen, "the %s function of model '%s': %s", kind, m->name, e) : 0;
}

int llvm_file_write(const char *path, LlvmFileKind kind, const char *triple, const char *prefix,
                    const IrModule *fwd, const IrModule *step, const IrModule *train, char *err, size_t errlen) {
    LLVMTargetMachineRef tm = llvm_target_machine(triple, 1, err, errlen);
    if (!tm)
        return -1;
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext(prefix, ctx);
    llvm_target_apply(mod, tm);
    int rc = -1;
    char *msg = NULL;
    if (add_variant(mod, fwd, prefix, "forward", err, errlen) || add_variant(mod, step, prefix, "step", err, errlen) ||
        add_variant(mod, train, prefix, "train", err, errlen) || llvm_emit_verify(mod, err, errlen) ||
        llvm_optimize(mod, tm, err, errlen))
        goto done;
    char file[4096]; /* LLVMTargetMachineEmitToFile takes a char * */
    snprintf(file, sizeof file, "%s", path);
    if (kind == LLVM_FILE_IR ? LLVMPrintModuleToFile(mod, file, &msg)
                             : LLVMTargetMachineEmitToFile(tm, mod, file,
                                                           kind == LLVM_FILE_ASM ? LLVMAssemblyFile : LLVMObjectFile,
                                                           &msg)) {
        ir_errf(err, errlen, "cannot write %s: %s", path, msg ? msg : "?");
        goto done;
    }
    rc = 0;
done:
    LLVMDisposeMessage(msg);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    LLVMDisposeTargetMachine(tm);
    return rc;
}
