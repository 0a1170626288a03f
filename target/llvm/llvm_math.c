/* llvm_math.c - runtime/vmath_inline.h's math linked into LLVM modules
 * (llvm_math.h). */
#include "target/llvm/llvm_math.h"

#include <llvm-c/BitReader.h>
#include <llvm-c/Linker.h>
#include <stdio.h>
#include <string.h>

/* The bitcode of target/llvm/bitcode/jit_math.c (the Makefile's
 * $(BUILD)/gen/jit_math_bc.c, written by scripts/c_bytes.sh). */
extern const unsigned char jit_math_bc[];
extern const size_t jit_math_bc_size;

static int is_math(LLVMValueRef fn)
{
    size_t len;
    const char *name = LLVMGetValueName2(fn, &len);
    return len > strlen(LLVM_MATH_PREFIX) && !strncmp(name, LLVM_MATH_PREFIX, strlen(LLVM_MATH_PREFIX));
}

static int linked(LLVMModuleRef mod)
{
    for (LLVMValueRef fn = LLVMGetFirstFunction(mod); fn; fn = LLVMGetNextFunction(fn))
        if (is_math(fn)) return 1;
    return 0;
}

static void add_attr(LLVMContextRef ctx, LLVMValueRef fn, const char *name)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(ctx, kind, 0));
}

/* clang wrote the build machine's default CPU on every function
 * ("x86-64", "+sse2,..."): for --target those are another architecture's
 * names (LLVM warns about them on every function it compiles), and the
 * inliner refuses a callee whose features are not a subset of the
 * caller's.  Without them the functions take the module's target machine's
 * CPU and features, as the kernel functions do, and always inline. */
static void make_target_neutral(LLVMValueRef fn)
{
    static const char *const attrs[] = {"target-cpu", "target-features", "tune-cpu"};
    for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++)
        LLVMRemoveStringAttributeAtIndex(fn, LLVMAttributeFunctionIndex, attrs[i], (unsigned)strlen(attrs[i]));
}

static int link_math(LLVMModuleRef mod, char *err, size_t errlen)
{
    LLVMContextRef ctx = LLVMGetModuleContext(mod);
    LLVMMemoryBufferRef buf =
        LLVMCreateMemoryBufferWithMemoryRange((const char *)jit_math_bc, jit_math_bc_size, "jit_math.bc", 0);
    LLVMModuleRef src = NULL;
    int bad = LLVMParseBitcodeInContext2(ctx, buf, &src); /* does not take buf */
    LLVMDisposeMemoryBuffer(buf);
    if (bad) {
        snprintf(err, errlen, "internal error: the JIT's math bitcode does not parse (built by another LLVM?)");
        return -1;
    }
    LLVMSetTarget(src, LLVMGetTarget(mod));
    LLVMSetDataLayout(src, LLVMGetDataLayoutStr(mod));
    for (LLVMValueRef fn = LLVMGetFirstFunction(src); fn; fn = LLVMGetNextFunction(fn)) make_target_neutral(fn);
    /* The functions are external in the bitcode (an internal one would be
     * linked only if mod already called it) and become internal after: no
     * symbol of an object file, and dropped once inlined. */
    if (LLVMLinkModules2(mod, src)) { /* destroys src */
        snprintf(err, errlen, "internal error: linking the JIT's math bitcode failed");
        return -1;
    }
    for (LLVMValueRef fn = LLVMGetFirstFunction(mod); fn; fn = LLVMGetNextFunction(fn))
        if (is_math(fn) && !LLVMIsDeclaration(fn)) {
            LLVMSetLinkage(fn, LLVMInternalLinkage);
            /* a call left in a loop would keep it scalar */
            add_attr(ctx, fn, "alwaysinline");
        }
    return 0;
}

LLVMValueRef llvm_math_fn(LLVMModuleRef mod, const char *name, char *err, size_t errlen)
{
    char full[128];
    snprintf(full, sizeof full, "%s%s", LLVM_MATH_PREFIX, name);
    LLVMValueRef fn = LLVMGetNamedFunction(mod, full);
    if (!fn && !linked(mod)) {
        if (link_math(mod, err, errlen)) return NULL;
        fn = LLVMGetNamedFunction(mod, full);
    }
    LLVMTypeRef f32 = LLVMFloatTypeInContext(LLVMGetModuleContext(mod));
    LLVMTypeRef t = fn ? LLVMGlobalGetValueType(fn) : NULL;
    if (!t || LLVMIsDeclaration(fn) || LLVMGetReturnType(t) != f32 || LLVMCountParamTypes(t) != 1 ||
        LLVMIsFunctionVarArg(t)) {
        snprintf(err, errlen,
                 "internal error: the JIT's math has no function float %s(float) "
                 "(target/llvm/bitcode/jit_math.c)",
                 full);
        return NULL;
    }
    LLVMTypeRef param;
    LLVMGetParamTypes(t, &param);
    if (param != f32) {
        snprintf(err, errlen, "internal error: %s does not take a float (target/llvm/bitcode/jit_math.c)", full);
        return NULL;
    }
    return fn;
}
