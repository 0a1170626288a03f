/* test_llvm_math.c - the math linked into LLVM modules from C
 * (target/llvm/llvm_math.h).
 *
 *   - llvm_math_fn links the bitcode once per module: its functions are
 *     internal, always-inline, without clang's target-cpu/-features, the
 *     module keeps its triple and data layout, a second lookup links
 *     nothing, a name the bitcode lacks is an error;
 *   - the bitcode is target-neutral: in a module for AArch64 (not the
 *     machine clang compiled it on) a map calling exp, tanh and sigmoid is
 *     inlined and vectorized by the O2 pipeline, as for the host.
 * That the JIT's exp/tanh/sigmoid give rt_expf's, rt_tanhf's and
 * rt_sigmoidf's bits, inlined, in vector code, is test_llvm_jit.c's
 * test_activations_bitwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>

#include "ir/ir.h"
#include "kir/kir.h"
#include "target/llvm/llvm_emit.h"
#include "target/llvm/llvm_math.h"
#include "target/llvm/llvm_target.h"

static int count_functions(LLVMModuleRef mod)
{
    int n = 0;
    for (LLVMValueRef fn = LLVMGetFirstFunction(mod); fn; fn = LLVMGetNextFunction(fn)) n++;
    return n;
}

static int has_fn_attr(LLVMValueRef fn, const char *name)
{
    return LLVMGetStringAttributeAtIndex(fn, LLVMAttributeFunctionIndex, name, (unsigned)strlen(name)) != NULL;
}

static void test_link_once(void **state)
{
    (void)state;
    char err[512] = "";
    LLVMTargetMachineRef tm = llvm_target_machine(NULL, 1, err, sizeof err);
    if (!tm) fail_msg("target machine: %s", err);
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("m", ctx);
    llvm_target_apply(mod, tm);
    char *triple = strdup(LLVMGetTarget(mod)), *layout = strdup(LLVMGetDataLayoutStr(mod));
    assert_int_equal(count_functions(mod), 0);

    LLVMValueRef ex = llvm_math_fn(mod, "expf", err, sizeof err);
    if (!ex) fail_msg("expf: %s", err);
    int n = count_functions(mod);
    assert_true(n >= 3); /* expf, tanhf, sigmoidf */
    static const char *const names[] = {"expf", "tanhf", "sigmoidf"};
    unsigned always = LLVMGetEnumAttributeKindForName("alwaysinline", 12);
    for (int i = 0; i < 3; i++) {
        LLVMValueRef fn = llvm_math_fn(mod, names[i], err, sizeof err);
        if (!fn) fail_msg("%s: %s", names[i], err);
        assert_false(LLVMIsDeclaration(fn));
        assert_int_equal(LLVMGetLinkage(fn), LLVMInternalLinkage);
        assert_non_null(LLVMGetEnumAttributeAtIndex(fn, LLVMAttributeFunctionIndex, always));
        assert_false(has_fn_attr(fn, "target-cpu"));
        assert_false(has_fn_attr(fn, "target-features"));
        assert_false(has_fn_attr(fn, "tune-cpu"));
    }
    assert_ptr_equal(llvm_math_fn(mod, "expf", err, sizeof err), ex);
    assert_int_equal(count_functions(mod), n); /* linked once */
    assert_string_equal(LLVMGetTarget(mod), triple);
    assert_string_equal(LLVMGetDataLayoutStr(mod), layout);

    err[0] = 0;
    assert_null(llvm_math_fn(mod, "nosuchf", err, sizeof err));
    assert_non_null(strstr(err, LLVM_MATH_PREFIX "nosuchf"));
    assert_int_equal(count_functions(mod), n);

    char *msg = NULL;
    assert_int_equal(LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg), 0);
    LLVMDisposeMessage(msg);
    free(triple);
    free(layout);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    LLVMDisposeTargetMachine(tm);
}

/* y_k = f_k(x) for exp, tanh, sigmoid over n elements, for an AArch64
 * module: the calls must be gone from the optimized IR (inlined) and the
 * loop vectorized (NEON: 4 floats). */
static void test_inlined_for_another_target(void **state)
{
    (void)state;
    char err[512] = "";
    LLVMTargetMachineRef tm = llvm_target_machine("aarch64-unknown-linux-gnu", 1, err, sizeof err);
    if (!tm) skip(); /* an LLVM built without AArch64 */
    IrModule *m = ir_module_new("act");
    ir_add_sym(m, "N", 0);
    KFunc *f = kfunc_new("act", m);
    const KExpr *N = kexpr_sym(f, 0);
    KBuf *x = kfunc_buf(f, "x", IR_F32, N, KB_ARG);
    KBuf *y[3];
    static const char *const yname[3] = {"ye", "yt", "ys"};
    for (int o = 0; o < 3; o++) {
        y[o] = kfunc_buf(f, yname[o], IR_F32, N, KB_RESULT);
        y[o]->ext_name = yname[o];
    }
    x->ext_name = "x";
    f->arena_bytes = kexpr_const(f, 0);
    KStmt *s = kblock_add(f, &f->body, KS_MAP, "test map");
    s->rank = 1;
    s->dims[0] = N;
    s->nin = 1;
    s->nnodes = 4;
    s->nout = 3;
    s->in = kfunc_alloc(f, sizeof *s->in);
    s->nodes = kfunc_alloc(f, 4 * sizeof *s->nodes);
    s->out = kfunc_alloc(f, 3 * sizeof *s->out);
    s->in[0].v.buf = x;
    s->in[0].v.off = kexpr_const(f, 0);
    s->in[0].stride[0] = kexpr_const(f, 1);
    s->nodes[0].op = KM_IN;
    static const KMapOp ops[3] = {KM_EXP, KM_TANH, KM_SIGMOID};
    for (int o = 0; o < 3; o++) {
        s->nodes[o + 1].op = ops[o];
        s->nodes[o + 1].a = 0;
        s->out[o].at.v.buf = y[o];
        s->out[o].at.v.off = kexpr_const(f, 0);
        s->out[o].at.stride[0] = kexpr_const(f, 1);
        s->out[o].node = o + 1;
    }

    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("act", ctx);
    llvm_target_apply(mod, tm);
    if (llvm_emit_func(mod, f, "act", err, sizeof err) || llvm_emit_verify(mod, err, sizeof err) ||
        llvm_optimize(mod, tm, err, sizeof err))
        fail_msg("%s", err);
    char *ir = LLVMPrintModuleToString(mod);
    if (strstr(ir, LLVM_MATH_PREFIX)) fail_msg("the math was not inlined:\n%s", ir);
    if (!strstr(ir, "<4 x float>")) fail_msg("no vector code:\n%s", ir);
    LLVMDisposeMessage(ir);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    LLVMDisposeTargetMachine(tm);
    kfunc_free(f);
    ir_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_once),
        cmocka_unit_test(test_inlined_for_another_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
