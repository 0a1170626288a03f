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

/* LLVM's options, process-wide: set once, before any target machine
 * exists (measured on the two-layer LSTM 256 training step, bench/rnn_rnnc
 * --cpu-clock --compile-time; docs/jit.md, "Compile time"):
 *  -disable-lsr: loop strength reduction took most of the code generation
 *   time (400 of 850 ms, in the loops with many strided views); x86's
 *   addressing modes do without it.
 *  -enable-epilogue-vectorization=false: no second, narrower vector loop
 *   for a loop's remainder (the inner sizes are mostly multiples of 16);
 *   7-10% less code generation.
 *  -fast-isel: instructions selected without SelectionDAG where FastISel
 *   can (the scalar code around the loops; vector code falls back to
 *   SelectionDAG), the register allocator and scheduler unchanged: codegen
 *   15-20% cheaper, the run time the same within noise (docs/performance.md,
 *   "JIT compile time").
 * None changes a float result: instruction selection keeps each
 * operation (no fast-math flags, no contraction). */
static void init_native(void)
{
    const char *argv[] = {"rnnc", "-disable-lsr", "-enable-epilogue-vectorization=false", "-fast-isel"};
    LLVMParseCommandLineOptions(sizeof argv / sizeof *argv, argv, NULL);
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

/* The pipeline, measured on the two-layer LSTM 256 training step
 * (bench/rnn_rnnc --compile-time; docs/jit.md, "Compile time"): the math
 * functions inlined (they are alwaysinline, llvm_math.c), then one
 * function pipeline of the passes that pay - sroa (the reductions' local
 * sums), early-cse and instcombine (the index arithmetic), simplifycfg,
 * the loop vectorizer (in loop-simplify and lcssa form) and SLP - and
 * nothing else.  default<O2> spent 60% of the compile in the optimizer
 * (GVN, jump threading, the loop-access analyses over one large kernel
 * function); default<O1> followed by the vectorizers (until 2026-12-08)
 * ran the inliner's function simplification, indvars, loop rotation,
 * LICM and the rest, and took 2.5-3x this pipeline's time with the same
 * run time: the runtime's GEMMs do the heavy work, the JIT's own loops
 * are element-wise maps, already rotated and simple as emitted, and
 * codegen's MachineLICM hoists their invariant addresses.  default<O1>
 * alone is not enough: given through the C API it leaves loops scalar.
 * Interleaving and unrolling the vectorized loops would double the
 * compile time for little: the loops are 16 floats wide (AVX-512) and
 * mostly wait for memory.  No pass here may change a float result (no
 * fast-math flags are set), so the JIT stays bit-identical to the C
 * engine whatever the pipeline. */
#define PIPELINE                                                                         \
    "always-inline,function(sroa,early-cse,instcombine,simplifycfg,loop-simplify,lcssa," \
    "loop-vectorize<interleave-forced-only;no-vectorize-forced-only;>,instcombine,simplifycfg,slp-vectorizer)"

int llvm_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, char *err, size_t errlen)
{
    LLVMPassBuilderOptionsRef o = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopInterleaving(o, 0);
    LLVMPassBuilderOptionsSetLoopUnrolling(o, 0);
    LLVMErrorRef e = LLVMRunPasses(mod, PIPELINE, tm, o);
    LLVMDisposePassBuilderOptions(o);
    return e ? llvm_error(e, "LLVM optimization failed", err, errlen) : 0;
}
