/* llvm_target.c - target machines and the optimization pipeline
 * (llvm_target.h). */
#include "target/llvm/llvm_target.h"

#include <llvm-c/Error.h>
#include <llvm-c/Support.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>
#include <stdio.h>

static pthread_once_t native_once = PTHREAD_ONCE_INIT, all_once = PTHREAD_ONCE_INIT;
static int native_failed;

/* -disable-lsr: LLVM's loop strength reduction takes most of the code
 * generation time of a training step (400 of 850 ms for a two-layer LSTM,
 * in the loops with many strided views); x86's addressing modes do
 * without it.  LLVM's options are process-wide: set once, before any
 * target machine exists. */
static void init_native(void)
{
    const char *argv[] = {"rnnc", "-disable-lsr"};
    LLVMParseCommandLineOptions(2, argv, NULL);
    native_failed = LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter() || LLVMInitializeNativeAsmParser();
}

/* Every target LLVM was built with, for --target. */
static void init_all(void)
{
    LLVMInitializeAllTargetInfos();
    LLVMInitializeAllTargets();
    LLVMInitializeAllTargetMCs();
    LLVMInitializeAllAsmPrinters();
    LLVMInitializeAllAsmParsers();
}

int llvm_error(LLVMErrorRef e, const char *what, char *err, size_t errlen)
{
    char *msg = LLVMGetErrorMessage(e);
    if (err && errlen) snprintf(err, errlen, "%s: %s", what, msg ? msg : "?");
    LLVMDisposeErrorMessage(msg);
    return -1;
}

LLVMTargetMachineRef llvm_target_machine(const char *triple, int pic, char *err, size_t errlen)
{
    pthread_once(&native_once, init_native);
    if (native_failed) {
        snprintf(err, errlen, "LLVM has no code generator for this machine");
        return NULL;
    }
    char *tt = NULL, *cpu = NULL, *features = NULL;
    if (triple) {
        pthread_once(&all_once, init_all);
        tt = LLVMNormalizeTargetTriple(triple);
    } else {
        char *def = LLVMGetDefaultTargetTriple();
        tt = LLVMNormalizeTargetTriple(def);
        LLVMDisposeMessage(def);
        cpu = LLVMGetHostCPUName();
        features = LLVMGetHostCPUFeatures();
    }
    LLVMTargetRef target = NULL;
    char *msg = NULL;
    LLVMTargetMachineRef tm = NULL;
    if (LLVMGetTargetFromTriple(tt, &target, &msg))
        snprintf(err, errlen, "unknown target '%s': %s", triple ? triple : tt, msg ? msg : "");
    else
        tm = LLVMCreateTargetMachine(target, tt, cpu ? cpu : "generic", features ? features : "",
                                     LLVMCodeGenLevelDefault, pic ? LLVMRelocPIC : LLVMRelocDefault,
                                     LLVMCodeModelDefault);
    if (target && !tm && !msg) snprintf(err, errlen, "LLVM cannot make a target machine for '%s'", tt);
    LLVMDisposeMessage(msg);
    LLVMDisposeMessage(tt);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    return tm;
}

void llvm_target_apply(LLVMModuleRef mod, LLVMTargetMachineRef tm)
{
    char *tt = LLVMGetTargetMachineTriple(tm);
    LLVMSetTarget(mod, tt);
    LLVMDisposeMessage(tt);
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(mod, dl);
    LLVMDisposeTargetData(dl);
}

/* The pipeline: LLVM's O1 function simplification, then the loop and SLP
 * vectorizers on their own.  Measured on the two-layer LSTM 256 training
 * step (bench/rnn_rnnc --compile-time; docs/jit.md, "Compile time"):
 * default<O2> spends 60% of the compile in the optimizer, most of it in
 * GVN, jump threading and the loop-access analyses over the one large
 * kernel function; O1 plus the vectorizers takes 0.6-0.85 of that time
 * and the code runs as fast (the runtime's GEMMs do the heavy work; the
 * JIT's own loops are element-wise maps, which the vectorizer handles
 * after either).  default<O1> alone is not enough: given through the C
 * API it leaves loops scalar (2.3x slower forward at B = 32), so the
 * vectorizers run as a second function pipeline, after loop-simplify and
 * lcssa (the form they need).  Interleaving and unrolling the vectorized
 * loops would double the compile time for little: the loops are 16 floats
 * wide (AVX-512) and mostly wait for memory.  No pass here may change a
 * float result (no fast-math flags are set), so the JIT stays bit-identical
 * to the C engine whatever the pipeline. */
#define PIPELINE                                                                                                 \
    "default<O1>,function(loop-simplify,lcssa,loop-vectorize<interleave-forced-only;no-vectorize-forced-only;>," \
    "instcombine,simplifycfg,slp-vectorizer,instcombine)"

int llvm_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, char *err, size_t errlen)
{
    LLVMPassBuilderOptionsRef o = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopInterleaving(o, 0);
    LLVMPassBuilderOptionsSetLoopUnrolling(o, 0);
    LLVMErrorRef e = LLVMRunPasses(mod, PIPELINE, tm, o);
    LLVMDisposePassBuilderOptions(o);
    return e ? llvm_error(e, "LLVM optimization failed", err, errlen) : 0;
}
