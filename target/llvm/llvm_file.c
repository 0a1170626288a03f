/* llvm_file.c - a model's kernel functions and its API to an LLVM IR,
 * assembly or object file (llvm_file.h). */
#include "target/llvm/llvm_file.h"

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "target/llvm/llvm_api.h"
#include "target/llvm/llvm_emit.h"
#include "target/llvm/llvm_target.h"
#include "ir/timing.h"

int llvm_file_kind(const char *name)
{
    static const char *const names[3] = {"llvm", "asm", "obj"};
    for (int k = 0; k < 3; k++)
        if (name && !strcmp(name, names[k])) return k;
    return -1;
}

/* Compiles a variant and adds its kernel and arena functions to mod; k
 * keeps what the API needs (k->f is freed by the caller). */
static int add_variant(LLVMModuleRef mod, const IrModule *m, const char *prefix, const char *kind, ApiKernel *k,
                       char *fn, char *arena, char *prep_fn, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    if (!m) return 0;
    char e[512];
    KFunc *prep = NULL;
    KFunc *f = api_kernel_compile(m, kind, &prep, e, sizeof e);
    if (!f) return ir_errf(err, errlen, "the %s function of model '%s': %s", kind, m->name, e);
    snprintf(fn, 256, "%s_kernel_%s", prefix, kind);
    snprintf(arena, 300, "%s_arena", fn);
    snprintf(prep_fn, 300, "%s_prepare", fn);
    k->m = m;
    k->f = f;
    k->fn = fn;
    k->arena_fn = arena;
    k->prep = prep;
    k->prep_fn = prep ? prep_fn : NULL;
    int rc = llvm_emit_func(mod, f, fn, e, sizeof e) || llvm_emit_arena_func(mod, f, arena, e, sizeof e) ||
             (prep && llvm_emit_func(mod, prep, prep_fn, e, sizeof e));
    return rc ? ir_errf(err, errlen, "the %s function of model '%s': %s", kind, m->name, e) : 0;
}

int llvm_file_write(FILE *out, const char *path, LlvmFileKind kind, const char *triple, const char *prefix,
                    const IrModule *fwd, const IrModule *step, const IrModule *train, int api, const TensorMap *weights,
                    char *err, size_t errlen)
{
    LLVMTargetMachineRef tm = llvm_target_machine(triple, 1, err, errlen);
    if (!tm) return -1;
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext(prefix, ctx);
    llvm_target_apply(mod, tm);
    int rc = -1;
    char *msg = NULL;
    char fn[3][256], arena[3][300], prep_fn[3][300];
    ApiKernel k[3];
    ApiDesc desc;
    memset(k, 0, sizeof k);
    memset(&desc, 0, sizeof desc);
    /* the stages as the JIT's rows of -v (kcompile times its own) */
    TimingMark t = timing_start();
    if (add_variant(mod, fwd, prefix, "forward", &k[0], fn[0], arena[0], prep_fn[0], err, errlen) ||
        add_variant(mod, step, prefix, "step", &k[1], fn[1], arena[1], prep_fn[1], err, errlen) ||
        add_variant(mod, train, prefix, "train", &k[2], fn[2], arena[2], prep_fn[2], err, errlen) ||
        (api && (api_desc_build(&desc, prefix, k, err, errlen) ||
                 (weights && api_desc_embed(&desc, weights, err, errlen)) || llvm_api_emit(mod, &desc, err, errlen))) ||
        llvm_emit_verify(mod, err, errlen))
        goto done;
    timing_stop(&t, "LLVM IR build");
    t = timing_start();
    if (llvm_optimize(mod, tm, err, errlen)) goto done;
    timing_stop(&t, "LLVM optimize");
    t = timing_start();
    /* Made in memory, then written to out: out may be a FIFO or a
     * temporary file of io/outfile.h, which only rnnc names. */
    if (kind == LLVM_FILE_IR) {
        char *text = LLVMPrintModuleToString(mod);
        size_t n = strlen(text);
        int short_write = fwrite(text, 1, n, out) != n;
        LLVMDisposeMessage(text);
        if (short_write) {
            ir_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            goto done;
        }
    } else {
        LLVMMemoryBufferRef buf = NULL;
        if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, kind == LLVM_FILE_ASM ? LLVMAssemblyFile : LLVMObjectFile,
                                                &msg, &buf)) {
            ir_errf(err, errlen, "cannot write %s: %s", path, msg ? msg : "?");
            goto done;
        }
        size_t n = LLVMGetBufferSize(buf);
        int short_write = fwrite(LLVMGetBufferStart(buf), 1, n, out) != n;
        LLVMDisposeMemoryBuffer(buf);
        if (short_write) {
            ir_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            goto done;
        }
    }
    timing_stop(&t, kind == LLVM_FILE_IR ? "LLVM IR write" : "LLVM codegen");
    rc = 0;
done:
    api_desc_free(&desc);
    for (int i = 0; i < 3; i++) {
        if (k[i].f) kfunc_free((KFunc *)k[i].f);
        if (k[i].prep) kfunc_free((KFunc *)k[i].prep);
    }
    LLVMDisposeMessage(msg);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    LLVMDisposeTargetMachine(tm);
    return rc;
}
