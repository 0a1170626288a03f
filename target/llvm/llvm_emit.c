/* llvm_emit.c - kernel IR to LLVM IR (llvm_emit.h).
 *
 * The function's entry block holds what depends only on the parameters:
 * the size symbols (sym[k]), a typed pointer for every buffer (arg[i],
 * res[i], arena + offset) and the accumulators' allocas (promoted to
 * registers by SROA).  It branches to the body, which follows the
 * statements in order.  Integer expressions are emitted where they are
 * used; LLVM's LICM and GVN hoist and share them.  Index arithmetic is
 * nsw and element addresses inbounds GEPs, as a C compiler makes them
 * from the C emitter's int64_t expressions (a valid program never
 * overflows them), which lets SCEV see unit strides. */
#include "target/llvm/llvm_emit.h"

#include <llvm-c/Analysis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kir/kir_calls.h"
#include "target/llvm/llvm_math.h"

/* SGEMM, every kernel of calls.def (a symbol two kinds share is listed
 * twice), and the C library functions the code calls. */
const char *const llvm_emit_externals[] = {
    "rt_sgemm_ws",     "rt_sgemm_ws_packed",
    "rt_sgemm_pack_b", "rt_size_eval",
    "rt_map_rows",
#define KCALL(NAME, symbol, returns, args) #symbol,
#include "kir/calls.def"
    "snprintf",        "logf",
    "memset",          "memcpy",
    "memmove",         NULL,
};

typedef struct LE {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;  /* the body */
    LLVMBuilderRef eb; /* the entry block: parameters' uses, allocas */
    const KFunc *f;
    LLVMValueRef fn;
    LLVMTypeRef i1, i8, i32, i64, f32, f64, vd, p8, pf32, pi64;
    LLVMValueRef p_sym, p_arg, p_res, p_arena, p_err, p_errlen;
    LLVMValueRef *syms; /* by symbol */
    LLVMValueRef *bufs; /* typed pointer by buffer id, NULL: unusable */
    LLVMValueRef *vars; /* current value of each loop variable */
    LLVMValueRef ws;    /* i8* SGEMM workspace, or NULL */
    LLVMValueRef ws_bytes;
    LLVMMetadataRef domain; /* alias scopes: one per buffer (see map_alias) */
    LLVMMetadataRef *scope; /* by buffer id, made on first use */
    unsigned md_scope, md_noalias;
    int nmaps; /* row functions made so far (map_rows_fn) */
    char *err;
    size_t errlen;
    int bad;
} LE;

static int le_fail(LE *e, const char *fmt, const char *what)
{
    if (!e->bad && e->err && e->errlen) snprintf(e->err, e->errlen, fmt, what ? what : "?");
    e->bad = 1;
    return -1;
}

static void init_types(LE *e)
{
    LLVMContextRef c = e->ctx;
    e->i1 = LLVMInt1TypeInContext(c);
    e->i8 = LLVMInt8TypeInContext(c);
    e->i32 = LLVMInt32TypeInContext(c);
    e->i64 = LLVMInt64TypeInContext(c);
    e->f32 = LLVMFloatTypeInContext(c);
    e->f64 = LLVMDoubleTypeInContext(c);
    e->vd = LLVMVoidTypeInContext(c);
    e->p8 = LLVMPointerType(e->i8, 0);
    e->pf32 = LLVMPointerType(e->f32, 0);
    e->pi64 = LLVMPointerType(e->i64, 0);
}

static LLVMValueRef ci64(LE *e, int64_t v) { return LLVMConstInt(e->i64, (unsigned long long)v, 1); }
static LLVMValueRef ci32(LE *e, int64_t v) { return LLVMConstInt(e->i32, (unsigned long long)v, 1); }
static LLVMValueRef cf32(LE *e, double v) { return LLVMConstReal(e->f32, (double)(float)v); }

static void add_attr(LE *e, LLVMValueRef fn, const char *name)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(e->ctx, kind, 0));
}

/* The declaration of an external function (added once). */
static LLVMValueRef extern_fn(LE *e, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, unsigned n, int vararg,
                              LLVMTypeRef *type)
{
    *type = LLVMFunctionType(ret, params, n, vararg);
    LLVMValueRef fn = LLVMGetNamedFunction(e->mod, name);
    if (!fn) {
        fn = LLVMAddFunction(e->mod, name, *type);
        add_attr(e, fn, "nounwind");
    }
    return fn;
}

/* ---- integer expressions ------------------------------------------------- */

static int is_const(const KExpr *x, int64_t v) { return !x || (!kexpr_has_free(x) && kexpr_eval(x, NULL, NULL) == v); }

/* Symbols and buffer pointers are made in the entry block on first use,
 * not all of them up front: a row function (map_rows_fn) touches a few of
 * the function's buffers, and each buffer's arena offset is a sum of
 * max() terms that LLVM would otherwise build, optimize and delete for
 * every buffer in every row function (the two-layer LSTM training step:
 * 11 row functions of ~2000 instructions, 1900 of them such prologue;
 * docs/jit.md, "Compile time"). */
static LLVMValueRef sym_value(LE *e, int k)
{
    if (!e->syms[k]) {
        const KFunc *f = e->f;
        LLVMValueRef p = LLVMBuildGEP2(e->eb, e->i64, e->p_sym, (LLVMValueRef[]){ci64(e, k)}, 1, "");
        const char *sn = f->module && k < f->module->nsyms ? f->module->syms[k].name : NULL;
        e->syms[k] = LLVMBuildLoad2(e->eb, e->i64, p, sn ? sn : "sym");
    }
    return e->syms[k];
}

/* x as an i64 value in builder b (NULL: 0). */
static LLVMValueRef expr_in(LE *e, LLVMBuilderRef b, const KExpr *x)
{
    if (!x || !kexpr_has_free(x)) return ci64(e, x ? kexpr_eval(x, NULL, NULL) : 0);
    switch (x->kind) {
    case KE_SYM:
        if (x->index < 0 || x->index >= e->f->nsyms) {
            le_fail(e, "kernel IR: symbol out of range in %s", e->f->name);
            return ci64(e, 0);
        }
        return sym_value(e, x->index);
    case KE_VAR:
        if (x->index < 0 || x->index >= e->f->nloops || !e->vars[x->index]) {
            le_fail(e, "kernel IR: a loop variable used outside its loop in %s", e->f->name);
            return ci64(e, 0);
        }
        return e->vars[x->index];
    default: break;
    }
    LLVMValueRef a = expr_in(e, b, x->a), c = expr_in(e, b, x->b);
    switch (x->kind) {
    case KE_ADD: return LLVMBuildNSWAdd(b, a, c, "");
    case KE_SUB: return LLVMBuildNSWSub(b, a, c, "");
    case KE_MUL: return LLVMBuildNSWMul(b, a, c, "");
    case KE_DIV: return LLVMBuildSDiv(b, a, c, "");
    case KE_MAX: return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, a, c, ""), a, c, "");
    default: le_fail(e, "kernel IR: unknown expression kind in %s", e->f->name); return ci64(e, 0);
    }
}

static LLVMValueRef expr(LE *e, const KExpr *x) { return expr_in(e, e->b, x); }

/* ---- buffers --------------------------------------------------------------- */

static LLVMTypeRef elem_type(LE *e, const KBuf *b) { return b->dtype == IR_I64 ? e->i64 : e->f32; }

static LLVMValueRef buf_ptr(LE *e, const KBuf *b)
{
    if (b && b->id >= 0 && b->id < e->f->nbufs && !e->bufs[b->id]) {
        LLVMValueRef raw = NULL;
        if (!e->p_arena) {
            /* a row function: only the map's buffers are bound */
        } else if (b->kind == KB_ARG || b->kind == KB_RESULT) {
            LLVMValueRef base = b->kind == KB_ARG ? e->p_arg : e->p_res;
            LLVMValueRef p = LLVMBuildGEP2(e->eb, e->p8, base, (LLVMValueRef[]){ci64(e, b->index)}, 1, "");
            raw = LLVMBuildLoad2(e->eb, e->p8, p, "");
        } else if (b->offset) {
            raw =
                LLVMBuildInBoundsGEP2(e->eb, e->i8, e->p_arena, (LLVMValueRef[]){expr_in(e, e->eb, b->offset)}, 1, "");
        }
        if (raw) e->bufs[b->id] = LLVMBuildBitCast(e->eb, raw, LLVMPointerType(elem_type(e, b), 0), b->name);
    }
    if (!b || b->id < 0 || b->id >= e->f->nbufs || !e->bufs[b->id]) {
        le_fail(e, "kernel IR: buffer '%s' has no memory (not planned by memplan?)", b ? b->name : NULL);
        return LLVMConstNull(e->pf32);
    }
    return e->bufs[b->id];
}

/* The SGEMM workspace, in the entry block of the kernel function (row
 * functions run no GEMM). */
static void entry_workspace(LE *e)
{
    const KFunc *f = e->f;
    if (f->ws_offset && f->ws_bytes) {
        e->ws =
            LLVMBuildInBoundsGEP2(e->eb, e->i8, e->p_arena, (LLVMValueRef[]){expr_in(e, e->eb, f->ws_offset)}, 1, "ws");
        e->ws_bytes = expr_in(e, e->eb, f->ws_bytes);
    }
}

/* The address of element idx of b. */
static LLVMValueRef elem_ptr(LE *e, const KBuf *b, LLVMValueRef idx)
{
    return LLVMBuildInBoundsGEP2(e->b, elem_type(e, b), buf_ptr(e, b), &idx, 1, "");
}

/* A view as a pointer of type `to` (a call's argument). */
static LLVMValueRef view_ptr(LE *e, const KView *v, LLVMTypeRef to)
{
    if (!v->buf) return LLVMConstNull(to);
    LLVMValueRef p = elem_ptr(e, v->buf, expr(e, v->off));
    return LLVMTypeOf(p) == to ? p : LLVMBuildBitCast(e->b, p, to, "");
}

/* ---- control flow -------------------------------------------------------------- */

typedef struct Loop {
    LLVMBasicBlockRef head, exit;
    LLVMValueRef phi, count;
    int reverse;
} Loop;

static LLVMBasicBlockRef new_block(LE *e, const char *name)
{
    return LLVMAppendBasicBlockInContext(e->ctx, e->fn, name);
}

/* for (i = 0; i < count; i++) or, reversed, from count - 1 down to 0;
 * the body follows until loop_end.  Returns the induction variable. */
static LLVMValueRef loop_begin(LE *e, Loop *L, LLVMValueRef count, int reverse, const char *name)
{
    L->count = count;
    L->reverse = reverse;
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(e->b);
    LLVMValueRef start = reverse ? LLVMBuildNSWSub(e->b, count, ci64(e, 1), "") : ci64(e, 0);
    L->head = new_block(e, name);
    L->exit = new_block(e, "");
    LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSGT, count, ci64(e, 0), ""), L->head, L->exit);
    LLVMPositionBuilderAtEnd(e->b, L->head);
    L->phi = LLVMBuildPhi(e->b, e->i64, name);
    LLVMAddIncoming(L->phi, &start, &pre, 1);
    return L->phi;
}

static void loop_end(LE *e, Loop *L)
{
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(e->b);
    LLVMValueRef next, more;
    if (L->reverse) {
        next = LLVMBuildNSWSub(e->b, L->phi, ci64(e, 1), "");
        more = LLVMBuildICmp(e->b, LLVMIntSGE, next, ci64(e, 0), "");
    } else {
        next = LLVMBuildNSWAdd(e->b, L->phi, ci64(e, 1), "");
        more = LLVMBuildICmp(e->b, LLVMIntSLT, next, L->count, "");
    }
    LLVMBuildCondBr(e->b, more, L->head, L->exit);
    LLVMAddIncoming(L->phi, &next, &latch, 1);
    LLVMMoveBasicBlockAfter(L->exit, latch);
    LLVMPositionBuilderAtEnd(e->b, L->exit);
}

/* if (rc != 0) { snprintf(err, errlen, "%s", "WHAT in ORIGIN"); return 1; } */
static void check_rc(LE *e, LLVMValueRef rc, const char *what, const char *origin)
{
    LLVMBasicBlockRef fail = new_block(e, "fail"), ok = new_block(e, "");
    LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntNE, rc, ci32(e, 0), ""), fail, ok);
    LLVMPositionBuilderAtEnd(e->b, fail);
    char msg[512];
    snprintf(msg, sizeof msg, "%s in %s", what, origin ? origin : "?");
    LLVMTypeRef ft, params[3] = {e->p8, e->i64, e->p8};
    LLVMValueRef sn = extern_fn(e, "snprintf", e->i32, params, 3, 1, &ft);
    LLVMValueRef args[4] = {e->p_err, e->p_errlen, LLVMBuildGlobalStringPtr(e->b, "%s", "fmt"),
                            LLVMBuildGlobalStringPtr(e->b, msg, "msg")};
    LLVMBuildCall2(e->b, ft, sn, args, 4, "");
    LLVMBuildRet(e->b, ci32(e, 1));
    LLVMMoveBasicBlockAfter(ok, fail);
    LLVMPositionBuilderAtEnd(e->b, ok);
}

/* ---- runtime calls ------------------------------------------------------------ */

static void emit_gemm(LE *e, const KStmt *s)
{
    if (!e->ws) le_fail(e, "kernel IR function '%s' has a GEMM but no SGEMM workspace (not planned)", e->f->name);
    LLVMTypeRef ft;
    LLVMValueRef rc;
    if (s->packed_b) {
        LLVMTypeRef p[13] = {e->i32, e->i64, e->i64,  e->i64, e->f32, e->pf32, e->i64,
                             e->p8,  e->f32, e->pf32, e->i64, e->p8,  e->i64};
        LLVMValueRef fn = extern_fn(e, "rt_sgemm_ws_packed", e->i32, p, 13, 0, &ft);
        LLVMValueRef a[13] = {ci32(e, !!s->transa),
                              expr(e, s->M),
                              expr(e, s->N),
                              expr(e, s->K),
                              cf32(e, s->alpha),
                              view_ptr(e, &s->A, e->pf32),
                              expr(e, s->lda),
                              view_ptr(e, &s->B, e->p8),
                              cf32(e, s->beta),
                              view_ptr(e, &s->C, e->pf32),
                              expr(e, s->ldc),
                              e->ws ? e->ws : LLVMConstNull(e->p8),
                              e->ws ? e->ws_bytes : ci64(e, 0)};
        rc = LLVMBuildCall2(e->b, ft, fn, a, 13, "");
    } else {
        LLVMTypeRef p[15] = {e->i32,  e->i32, e->i64, e->i64,  e->i64, e->f32, e->pf32, e->i64,
                             e->pf32, e->i64, e->f32, e->pf32, e->i64, e->p8,  e->i64};
        LLVMValueRef fn = extern_fn(e, "rt_sgemm_ws", e->i32, p, 15, 0, &ft);
        LLVMValueRef a[15] = {ci32(e, !!s->transa),
                              ci32(e, !!s->transb),
                              expr(e, s->M),
                              expr(e, s->N),
                              expr(e, s->K),
                              cf32(e, s->alpha),
                              view_ptr(e, &s->A, e->pf32),
                              expr(e, s->lda),
                              view_ptr(e, &s->B, e->pf32),
                              expr(e, s->ldb),
                              cf32(e, s->beta),
                              view_ptr(e, &s->C, e->pf32),
                              expr(e, s->ldc),
                              e->ws ? e->ws : LLVMConstNull(e->p8),
                              e->ws ? e->ws_bytes : ci64(e, 0)};
        rc = LLVMBuildCall2(e->b, ft, fn, a, 15, "");
    }
    check_rc(e, rc, "sgemm failed (bad sizes or too small a workspace)", s->origin);
}

static void emit_pack_b(LE *e, const KStmt *s)
{
    LLVMTypeRef ft, p[6] = {e->i32, e->i64, e->i64, e->pf32, e->i64, e->p8};
    LLVMValueRef fn = extern_fn(e, "rt_sgemm_pack_b", e->vd, p, 6, 0, &ft);
    LLVMValueRef a[6] = {ci32(e, !!s->transb),        expr(e, s->N),   expr(e, s->K),
                         view_ptr(e, &s->B, e->pf32), expr(e, s->ldb), view_ptr(e, &s->C, e->p8)};
    LLVMBuildCall2(e->b, ft, fn, a, 6, "");
}

/* The kernel calls.def names with its parameters in the prototype's
 * order: integers as i64, pointers typed by their dtype, hyperparameters
 * as doubles; a parameter the kernel IR leaves out as a null pointer or 0.
 * A fallible kernel's nonzero return fails the function. */
static void emit_call(LE *e, const KStmt *s)
{
    KCallSig sig;
    LLVMTypeRef pt[24];
    LLVMValueRef av[24];
    if (kir_call_sig(s->call, &sig) || s->nptrs != sig.nptrs || s->nhp < sig.nhp ||
        sig.nargs > (int)(sizeof pt / sizeof *pt)) {
        le_fail(e, "kernel IR: a call of the wrong shape in '%s'", s->origin);
        return;
    }
    int ni = 0, np = 0, nh = 0, n = 0;
    for (int i = 0; i < sig.nargs; i++, n++) {
        switch (sig.args[i].kind) {
        case KA_INT:
            pt[n] = e->i64;
            av[n] = expr(e, s->ints[ni++]);
            break;
        case KA_PTR:
            pt[n] = sig.args[i].dtype == IR_I64 ? e->pi64 : e->pf32;
            av[n] = view_ptr(e, &s->ptrs[np++], pt[n]);
            break;
        case KA_HP:
            pt[n] = e->f64;
            av[n] = LLVMConstReal(e->f64, s->hp[nh++]);
            break;
        case KA_NULL:
            pt[n] = e->pf32;
            av[n] = LLVMConstNull(e->pf32);
            break;
        case KA_ZERO:
            pt[n] = e->f64;
            av[n] = LLVMConstReal(e->f64, 0.0);
            break;
        }
    }
    LLVMTypeRef ft;
    LLVMValueRef fn = extern_fn(e, sig.symbol, sig.fallible ? e->i32 : e->vd, pt, (unsigned)n, 0, &ft);
    LLVMValueRef rc = LLVMBuildCall2(e->b, ft, fn, av, (unsigned)n, "");
    if (sig.fallible) check_rc(e, rc, "token id out of range", s->origin);
}

/* ---- activations: runtime/vmath_inline.h's C ------------------------------------
 * exp, tanh and sigmoid are calls of the functions llvm_math.h links into
 * the module from the bitcode of that C: internal and always-inline, so
 * the O2 pipeline inlines them into the loop and vectorizes it. */

/* rnnc_math_NAME(x), NAME as in target/llvm/bitcode/jit_math.c. */
static LLVMValueRef math_call(LE *e, const char *name, LLVMValueRef x)
{
    char msg[256];
    LLVMValueRef fn = llvm_math_fn(e->mod, name, msg, sizeof msg);
    if (!fn) {
        le_fail(e, "%s", msg);
        return cf32(e, 0.0);
    }
    return LLVMBuildCall2(e->b, LLVMGlobalGetValueType(fn), fn, &x, 1, "");
}

/* llvm.<name>.f32, built with b */
static LLVMValueRef intrinsic_f32_at(LE *e, LLVMBuilderRef b, const char *name, LLVMValueRef x)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(e->mod, id, &e->f32, 1);
    return LLVMBuildCall2(b, LLVMIntrinsicGetType(e->ctx, id, &e->f32, 1), fn, &x, 1, "");
}

static LLVMValueRef intrinsic_f32(LE *e, const char *name, LLVMValueRef x)
{
    return intrinsic_f32_at(e, e->b, name, x);
}

/* ---- alias scopes ------------------------------------------------------------------
 * Within one statement, two different buffers never overlap: arguments and
 * results are the caller's separate tensors, temporaries lie in the arena
 * where memplan() keeps those one statement touches apart.  Each buffer is
 * an alias scope, and every load and store of a map says which it
 * accesses (!alias.scope) and that it touches none of the map's other
 * buffers (!noalias).  Without this LLVM would have to compare every pair
 * of pointers at run time before it vectorizes a loop, and gives up on a
 * fused LSTM cell's dozen of them. */

#define MAP_BUFS (2 * 64)

typedef struct MapAlias {
    const KBuf *buf[MAP_BUFS];
    LLVMValueRef scope[MAP_BUFS], noalias[MAP_BUFS];
    int n;
} MapAlias;

static LLVMMetadataRef buf_scope(LE *e, const KBuf *b)
{
    if (!e->scope[b->id]) {
        char name[64];
        snprintf(name, sizeof name, "buf%d", b->id);
        LLVMMetadataRef ops[2] = {LLVMMDStringInContext2(e->ctx, name, strlen(name)), e->domain};
        e->scope[b->id] = LLVMMDNodeInContext2(e->ctx, ops, 2);
    }
    return e->scope[b->id];
}

static void buf_add(const KBuf **buf, int *n, const KBuf *b)
{
    for (int i = 0; i < *n; i++)
        if (buf[i] == b) return;
    if (*n < MAP_BUFS) buf[(*n)++] = b;
}

/* Every buffer map s reads (live inputs) or writes, each once, in a fixed
 * order (a row function's context lists them so); their number. */
static int map_buffers(const KStmt *s, const unsigned char *live, const KBuf **buf)
{
    int n = 0;
    for (int k = 0; k < s->nnodes; k++)
        if (live[k] && s->nodes[k].op == KM_IN) buf_add(buf, &n, s->in[s->nodes[k].a].v.buf);
    for (int o = 0; o < s->nout; o++) buf_add(buf, &n, s->out[o].at.v.buf);
    return n;
}

/* The scope lists of every buffer map s reads (live inputs) or writes. */
static void map_alias(LE *e, const KStmt *s, const unsigned char *live, MapAlias *ma)
{
    ma->n = map_buffers(s, live, ma->buf);
    LLVMMetadataRef others[MAP_BUFS];
    for (int i = 0; i < ma->n; i++) {
        int n = 0;
        for (int j = 0; j < ma->n; j++)
            if (j != i) others[n++] = buf_scope(e, ma->buf[j]);
        LLVMMetadataRef self = buf_scope(e, ma->buf[i]);
        ma->scope[i] = LLVMMetadataAsValue(e->ctx, LLVMMDNodeInContext2(e->ctx, &self, 1));
        ma->noalias[i] = n ? LLVMMetadataAsValue(e->ctx, LLVMMDNodeInContext2(e->ctx, others, (size_t)n)) : NULL;
    }
}

/* Marks a load or store of buffer b. */
static LLVMValueRef tag(LE *e, const MapAlias *ma, const KBuf *b, LLVMValueRef inst)
{
    for (int i = 0; i < ma->n; i++)
        if (ma->buf[i] == b) {
            LLVMSetMetadata(inst, e->md_scope, ma->scope[i]);
            if (ma->noalias[i]) LLVMSetMetadata(inst, e->md_noalias, ma->noalias[i]);
        }
    return inst;
}

/* ---- maps ------------------------------------------------------------------------ */

static int is_unary(KMapOp op) { return kir_map_op_arity(op) == 1; }

/* The element index off + sum_{d < upto} i_d * stride_d of a view. */
static LLVMValueRef strided_index(LE *e, const KStrided *v, const LLVMValueRef *idx, int upto)
{
    LLVMValueRef at = expr(e, v->v.off);
    for (int d = 0; d < upto; d++) {
        if (is_const(v->stride[d], 0)) continue;
        LLVMValueRef term =
            is_const(v->stride[d], 1) ? idx[d] : LLVMBuildNSWMul(e->b, idx[d], expr(e, v->stride[d]), "");
        at = LLVMBuildNSWAdd(e->b, at, term, "");
    }
    return at;
}

static LLVMValueRef to_float(LE *e, LLVMValueRef v)
{
    return LLVMTypeOf(v) == e->f32 ? v : LLVMBuildSIToFP(e->b, v, e->f32, "");
}

/* A value as the element type t of the buffer it is stored to. */
static LLVMValueRef as_type(LE *e, LLVMValueRef v, LLVMTypeRef t)
{
    if (LLVMTypeOf(v) == t) return v;
    return t == e->f32 ? LLVMBuildSIToFP(e->b, v, t, "") : LLVMBuildFPToSI(e->b, v, t, "");
}

static LLVMValueRef add_of(LE *e, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMTypeOf(a) == e->f32 ? LLVMBuildFAdd(e->b, a, b, "") : LLVMBuildAdd(e->b, a, b, "");
}

static LLVMValueRef emit_node(LE *e, const KStmt *s, int k, LLVMValueRef *val, const LLVMValueRef *idx,
                              const MapAlias *ma)
{
    const KMapNode *nd = &s->nodes[k];
    LLVMBuilderRef b = e->b;
    if (nd->op == KM_IN) {
        const KStrided *in = &s->in[nd->a];
        LLVMValueRef p = elem_ptr(e, in->v.buf, strided_index(e, in, idx, s->rank));
        return tag(e, ma, in->v.buf, LLVMBuildLoad2(b, elem_type(e, in->v.buf), p, ""));
    }
    if (nd->op == KM_CONST) return cf32(e, nd->f);
    if (nd->op == KM_EXPR) return LLVMBuildSIToFP(b, expr(e, nd->e), e->f32, "");
    LLVMValueRef a = to_float(e, val[nd->a]);
    LLVMValueRef c = is_unary(nd->op) ? NULL : to_float(e, val[nd->b]);
    LLVMValueRef zero = cf32(e, 0.0);
    switch (nd->op) {
    case KM_ADD: return LLVMBuildFAdd(b, a, c, "");
    case KM_SUB: return LLVMBuildFSub(b, a, c, "");
    case KM_MUL: return LLVMBuildFMul(b, a, c, "");
    case KM_DIV: return LLVMBuildFDiv(b, a, c, "");
    case KM_MIN: return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a, c, ""), a, c, "");
    case KM_MAX: return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, a, c, ""), a, c, "");
    case KM_NEG: return LLVMBuildFNeg(b, a, "");
    case KM_EXP: return math_call(e, "expf", a);
    case KM_LOG: return intrinsic_f32(e, "llvm.log", a);
    case KM_TANH: return math_call(e, "tanhf", a);
    case KM_SIGMOID: return math_call(e, "sigmoidf", a);
    case KM_RELU: return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, a, zero, ""), a, zero, "");
    case KM_SQRT: return intrinsic_f32(e, "llvm.sqrt", a);
    case KM_SOFTPLUS: return math_call(e, "softplusf", a);
    case KM_RELU_GRAD: return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, c, zero, ""), a, zero, "");
    default: le_fail(e, "kernel IR: unknown map op in '%s'", s->origin); return zero;
    }
}

/* Map s; with r0 set (a row function, map_rows_fn), its outer loop runs
 * only rows r0 .. r1 - 1. */
static void emit_map_range(LE *e, const KStmt *s, LLVMValueRef r0, LLVMValueRef r1)
{
    if (!kir_map_ok(s)) {
        le_fail(e, "kernel IR: a malformed map in '%s'", s->origin);
        return;
    }
    /* a dead node is not computed, a dead input not loaded (its view need
     * not be valid), and a reduction sums in a local as the C emitter's
     * does: both ask kir_map_live and kir_map_reduce_level */
    unsigned char *live = calloc((size_t)s->nnodes + 1, 1), *in_live = calloc((size_t)s->nin + 1, 1);
    int *red = calloc((size_t)s->nout + 1, sizeof *red);
    LLVMValueRef *acc = calloc((size_t)s->nout + 1, sizeof *acc);
    LLVMValueRef *val = calloc((size_t)s->nnodes + 1, sizeof *val);
    MapAlias *ma = malloc(sizeof *ma);
    if (!live || !in_live || !red || !acc || !val || !ma) {
        le_fail(e, "out of memory emitting '%s'", s->origin);
        goto done;
    }
    kir_map_live(s, live, in_live);
    map_alias(e, s, live, ma);
    for (int o = 0; o < s->nout; o++) {
        red[o] = kir_map_reduce_level(s, o, in_live);
        if (red[o] >= 0) acc[o] = LLVMBuildAlloca(e->eb, elem_type(e, s->out[o].at.v.buf), "acc");
    }
    LLVMValueRef idx[KIR_MAX_RANK];
    Loop L[KIR_MAX_RANK];
    static const char *const iname[KIR_MAX_RANK > 8 ? KIR_MAX_RANK : 8] = {"i0", "i1", "i2", "i3",
                                                                           "i4", "i5", "i6", "i7"};
    for (int d = 0; d <= s->rank; d++) {
        /* local sums of the outputs reduced over dims d.. start from memory */
        for (int o = 0; o < s->nout; o++) {
            if (red[o] != d) continue;
            const KStrided *at = &s->out[o].at;
            LLVMTypeRef t = elem_type(e, at->v.buf);
            LLVMValueRef p = elem_ptr(e, at->v.buf, strided_index(e, at, idx, d));
            LLVMBuildStore(e->b, tag(e, ma, at->v.buf, LLVMBuildLoad2(e->b, t, p, "")), acc[o]);
        }
        if (d == s->rank) break;
        if (d == 0 && r0) /* i0 = r0 + (0 .. r1 - r0 - 1) */
            idx[0] = LLVMBuildNSWAdd(e->b, loop_begin(e, &L[0], LLVMBuildNSWSub(e->b, r1, r0, ""), 0, "r"), r0, "i0");
        else
            idx[d] = loop_begin(e, &L[d], expr(e, s->dims[d]), 0, iname[d]);
    }
    for (int k = 0; k < s->nnodes; k++)
        if (live[k]) val[k] = emit_node(e, s, k, val, idx, ma);
    for (int o = 0; o < s->nout; o++) {
        const KMapOut *mo = &s->out[o];
        LLVMTypeRef t = elem_type(e, mo->at.v.buf);
        LLVMValueRef v = as_type(e, val[mo->node], t);
        if (red[o] >= 0) {
            LLVMBuildStore(e->b, add_of(e, LLVMBuildLoad2(e->b, t, acc[o], ""), v), acc[o]);
            continue;
        }
        LLVMValueRef p = elem_ptr(e, mo->at.v.buf, strided_index(e, &mo->at, idx, s->rank));
        if (mo->accumulate) v = add_of(e, tag(e, ma, mo->at.v.buf, LLVMBuildLoad2(e->b, t, p, "")), v);
        tag(e, ma, mo->at.v.buf, LLVMBuildStore(e->b, v, p));
    }
    for (int d = s->rank - 1; d >= 0; d--) {
        loop_end(e, &L[d]);
        for (int o = 0; o < s->nout; o++) {
            if (red[o] != d) continue;
            const KStrided *at = &s->out[o].at;
            LLVMTypeRef t = elem_type(e, at->v.buf);
            LLVMValueRef p = elem_ptr(e, at->v.buf, strided_index(e, at, idx, d));
            tag(e, ma, at->v.buf, LLVMBuildStore(e->b, LLVMBuildLoad2(e->b, t, acc[o], ""), p));
        }
    }
done:
    free(live);
    free(in_live);
    free(red);
    free(acc);
    free(val);
    free(ma);
}

/* ---- maps over the threads ------------------------------------------------------- */
/* A map kir_map_rows_split allows becomes, as in the C emitter, a row
 * function void NAME.mapK(i8 *ctx, i64 r0, i64 r1) running its rows r0 ..
 * r1 - 1, and a call of rt_map_rows, which splits the rows over the pool
 * when the map is big enough (else one call of all of them).  The context
 * is an array of i64 in the caller's frame: sym, the value of every loop
 * variable, then the pointer to each buffer the map touches (map_buffers'
 * order), made once in the caller; the row function reads its symbols
 * from sym and rebuilds no arena offset (which made each row function
 * ~2000 instructions before LLVM deleted most of them; docs/jit.md,
 * "Compile time").  The map's float operations are emitted as they are
 * inline, so a row gives the same bits on any thread. */

enum { CTX_SYM, CTX_VARS };

static LLVMValueRef entry_ctx_word(LE *e, LLVMValueRef ctx, int i)
{
    LLVMValueRef p = LLVMBuildInBoundsGEP2(e->eb, e->i64, ctx, (LLVMValueRef[]){ci64(e, i)}, 1, "");
    return LLVMBuildLoad2(e->eb, e->i64, p, "");
}

/* The row function of map s touching buffers buf[0 .. nbuf - 1], or NULL
 * (e->bad set). */
static LLVMValueRef map_rows_fn(LE *e, const KStmt *s, const KBuf *const *buf, int nbuf)
{
    LE saved = *e;
    const KFunc *f = e->f;
    size_t len = 0;
    const char *fname = LLVMGetValueName2(e->fn, &len);
    char name[320];
    snprintf(name, sizeof name, "%.*s.map%d", (int)(len < 256 ? len : 256), fname, e->nmaps++);
    LLVMTypeRef params[3] = {e->p8, e->i64, e->i64};
    LLVMValueRef fn = LLVMAddFunction(e->mod, name, LLVMFunctionType(e->vd, params, 3, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    add_attr(e, fn, "nounwind");
    e->fn = fn;
    e->syms = calloc((size_t)f->nsyms + 1, sizeof *e->syms);
    e->bufs = calloc((size_t)f->nbufs + 1, sizeof *e->bufs);
    e->vars = calloc((size_t)f->nloops + 1, sizeof *e->vars);
    e->b = LLVMCreateBuilderInContext(e->ctx);
    e->eb = LLVMCreateBuilderInContext(e->ctx);
    /* no arguments, results or arena here: buf_ptr finds every buffer
     * the map touches already bound */
    e->p_arg = e->p_res = e->p_arena = NULL;
    if (e->syms && e->bufs && e->vars) {
        LLVMBasicBlockRef entry = new_block(e, "entry"), body = new_block(e, "body");
        LLVMPositionBuilderAtEnd(e->eb, entry);
        LLVMPositionBuilderAtEnd(e->b, body);
        LLVMValueRef ctx = LLVMBuildBitCast(e->eb, LLVMGetParam(fn, 0), e->pi64, "ctx");
        e->p_sym = LLVMBuildIntToPtr(e->eb, entry_ctx_word(e, ctx, CTX_SYM), e->pi64, "sym");
        for (int k = 0; k < f->nloops; k++)
            if (saved.vars[k]) e->vars[k] = entry_ctx_word(e, ctx, CTX_VARS + k);
        for (int i = 0; i < nbuf; i++)
            e->bufs[buf[i]->id] = LLVMBuildIntToPtr(e->eb, entry_ctx_word(e, ctx, CTX_VARS + f->nloops + i),
                                                    LLVMPointerType(elem_type(e, buf[i]), 0), buf[i]->name);
        emit_map_range(e, s, LLVMGetParam(fn, 1), LLVMGetParam(fn, 2));
        LLVMBuildRetVoid(e->b);
        LLVMBuildBr(e->eb, body);
    } else {
        le_fail(e, "out of memory emitting '%s'", s->origin);
    }
    free(e->syms);
    free(e->bufs);
    free(e->vars);
    LLVMDisposeBuilder(e->b);
    LLVMDisposeBuilder(e->eb);
    int bad = e->bad, nmaps = e->nmaps;
    *e = saved;
    e->bad = bad;
    e->nmaps = nmaps;
    return bad ? NULL : fn;
}

/* Map s: through rt_map_rows when its rows may split, else inline. */
static void emit_map(LE *e, const KStmt *s)
{
    if (!kir_map_rows_split(s)) {
        emit_map_range(e, s, NULL, NULL);
        return;
    }
    unsigned char *live = calloc((size_t)s->nnodes + 1, 1);
    if (!live) {
        le_fail(e, "out of memory emitting '%s'", s->origin);
        return;
    }
    kir_map_live(s, live, NULL);
    int nlive = 0;
    for (int j = 0; j < s->nnodes; j++) nlive += live[j];
    const KBuf *buf[MAP_BUFS];
    int nbuf = map_buffers(s, live, buf);
    free(live);
    LLVMValueRef fn = map_rows_fn(e, s, buf, nbuf);
    if (!fn) return;
    /* the context: in the entry block, filled here with this step's values */
    int nloops = e->f->nloops, nwords = CTX_VARS + nloops + nbuf;
    LLVMValueRef ctx =
        LLVMBuildBitCast(e->b, LLVMBuildAlloca(e->eb, LLVMArrayType(e->i64, (unsigned)nwords), "mapctx"), e->pi64, "");
    for (int i = 0; i < nwords; i++) {
        LLVMValueRef v = i == CTX_SYM ? LLVMBuildPtrToInt(e->b, e->p_sym, e->i64, "")
                         : i < CTX_VARS + nloops
                             ? e->vars[i - CTX_VARS]
                             : LLVMBuildPtrToInt(e->b, buf_ptr(e, buf[i - CTX_VARS - nloops]), e->i64, "");
        if (!v) continue; /* a loop not around this map */
        LLVMBuildStore(e->b, v, LLVMBuildInBoundsGEP2(e->b, e->i64, ctx, (LLVMValueRef[]){ci64(e, i)}, 1, ""));
    }
    /* work per row: the inner dimensions' elements times the live nodes,
     * as the C emitter passes it */
    LLVMValueRef work = ci64(e, nlive);
    for (int d = 1; d < s->rank; d++) work = LLVMBuildNSWMul(e->b, work, expr(e, s->dims[d]), "");
    LLVMTypeRef rowfn = LLVMPointerType(LLVMGlobalGetValueType(fn), 0);
    LLVMTypeRef ft, p[4] = {e->i64, e->i64, rowfn, e->p8};
    LLVMValueRef rt = extern_fn(e, "rt_map_rows", e->vd, p, 4, 0, &ft);
    LLVMValueRef args[4] = {expr(e, s->dims[0]), work, fn, LLVMBuildBitCast(e->b, ctx, e->p8, "")};
    LLVMBuildCall2(e->b, ft, rt, args, 4, "");
}

/* ---- statements and functions ----------------------------------------------------- */

static void emit_block(LE *e, const KBlock *blk)
{
    for (int i = 0; i < blk->n && !e->bad; i++) {
        const KStmt *s = blk->stmts[i];
        switch (s->kind) {
        case KS_LOOP: {
            if (s->var < 0 || s->var >= e->f->nloops) {
                le_fail(e, "kernel IR: a loop id out of range in '%s'", s->origin);
                return;
            }
            Loop L;
            char name[32];
            snprintf(name, sizeof name, "t%d", s->var);
            e->vars[s->var] = loop_begin(e, &L, expr(e, s->count), s->reverse, name);
            emit_block(e, &s->body);
            loop_end(e, &L);
            e->vars[s->var] = NULL;
            break;
        }
        case KS_GEMM: emit_gemm(e, s); break;
        case KS_PACK_B: emit_pack_b(e, s); break;
        case KS_MAP: emit_map(e, s); break;
        case KS_CALL: emit_call(e, s); break;
        default: le_fail(e, "kernel IR: a statement of unknown kind in '%s'", s->origin); break;
        }
    }
}

static int le_init(LE *e, LLVMModuleRef mod, const KFunc *f, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->mod = mod;
    e->ctx = LLVMGetModuleContext(mod);
    e->f = f;
    e->err = err;
    e->errlen = errlen;
    init_types(e);
    e->syms = calloc((size_t)f->nsyms + 1, sizeof *e->syms);
    e->bufs = calloc((size_t)f->nbufs + 1, sizeof *e->bufs);
    e->vars = calloc((size_t)f->nloops + 1, sizeof *e->vars);
    e->scope = calloc((size_t)f->nbufs + 1, sizeof *e->scope);
    LLVMMetadataRef dname = LLVMMDStringInContext2(e->ctx, "rnnc buffers", 12);
    e->domain = LLVMMDNodeInContext2(e->ctx, &dname, 1);
    e->md_scope = LLVMGetMDKindIDInContext(e->ctx, "alias.scope", 11);
    e->md_noalias = LLVMGetMDKindIDInContext(e->ctx, "noalias", 7);
    e->b = LLVMCreateBuilderInContext(e->ctx);
    e->eb = LLVMCreateBuilderInContext(e->ctx);
    if (!e->syms || !e->bufs || !e->vars || !e->scope) return le_fail(e, "out of memory emitting %s", f->name);
    return 0;
}

static void le_done(LE *e)
{
    free(e->syms);
    free(e->bufs);
    free(e->vars);
    free(e->scope);
    if (e->b) LLVMDisposeBuilder(e->b);
    if (e->eb) LLVMDisposeBuilder(e->eb);
}

/* On failure the half-built function is removed from the module. */
static int le_finish(LE *e)
{
    int rc = e->bad ? -1 : 0;
    if (rc && e->fn) LLVMDeleteFunction(e->fn);
    le_done(e);
    return rc;
}

int llvm_emit_func(LLVMModuleRef mod, const KFunc *f, const char *name, char *err, size_t errlen)
{
    LE e;
    if (le_init(&e, mod, f, err, errlen)) return le_finish(&e);
    if (LLVMGetNamedFunction(mod, name)) {
        le_fail(&e, "the module already has a function %s", name);
        return le_finish(&e);
    }
    LLVMTypeRef params[6] = {e.pi64, LLVMPointerType(e.p8, 0), LLVMPointerType(e.p8, 0), e.p8, e.p8, e.i64};
    e.fn = LLVMAddFunction(mod, name, LLVMFunctionType(e.i32, params, 6, 0));
    add_attr(&e, e.fn, "nounwind");
    static const char *const pname[6] = {"sym", "arg", "res", "arena", "err", "errlen"};
    LLVMValueRef *pv[6] = {&e.p_sym, &e.p_arg, &e.p_res, &e.p_arena, &e.p_err, &e.p_errlen};
    for (int k = 0; k < 6; k++) {
        *pv[k] = LLVMGetParam(e.fn, (unsigned)k);
        LLVMSetValueName2(*pv[k], pname[k], strlen(pname[k]));
    }
    LLVMBasicBlockRef entry = new_block(&e, "entry"), body = new_block(&e, "body");
    LLVMPositionBuilderAtEnd(e.eb, entry);
    LLVMPositionBuilderAtEnd(e.b, body);
    entry_workspace(&e);
    emit_block(&e, &f->body);
    LLVMBuildRet(e.b, ci32(&e, 0));
    LLVMBuildBr(e.eb, body);
    return le_finish(&e);
}

int llvm_emit_arena_func(LLVMModuleRef mod, const KFunc *f, const char *name, char *err, size_t errlen)
{
    LE e;
    if (le_init(&e, mod, f, err, errlen)) return le_finish(&e);
    int n = f->arena_bytes ? kexpr_to_words(f->arena_bytes, NULL, 0) : -1;
    int64_t *w = n > 1 ? malloc(sizeof *w * (size_t)n) : NULL;
    LLVMValueRef *c = n > 1 ? malloc(sizeof *c * (size_t)n) : NULL;
    if (!w || !c || kexpr_to_words(f->arena_bytes, w, n) != n || LLVMGetNamedFunction(mod, name)) {
        le_fail(&e, "the arena size cannot be written, or a second function %s", name);
    } else {
        /* the words, a constant global NAME_words, read by the API's
         * descriptor too */
        for (int i = 0; i < n; i++) c[i] = ci64(&e, w[i]);
        char gname[320];
        snprintf(gname, sizeof gname, "%s_words", name);
        LLVMTypeRef aty = LLVMArrayType(e.i64, (unsigned)n);
        LLVMValueRef g = LLVMAddGlobal(mod, aty, gname);
        LLVMSetInitializer(g, LLVMConstArray(e.i64, c, (unsigned)n));
        LLVMSetGlobalConstant(g, 1);
        LLVMSetLinkage(g, LLVMPrivateLinkage);
        e.fn = LLVMAddFunction(mod, name, LLVMFunctionType(e.i64, &e.pi64, 1, 0));
        add_attr(&e, e.fn, "nounwind");
        LLVMPositionBuilderAtEnd(e.eb, new_block(&e, "entry"));
        LLVMTypeRef ft, p[2] = {e.pi64, e.pi64};
        LLVMValueRef ev = extern_fn(&e, "rt_size_eval", e.i64, p, 2, 0, &ft);
        LLVMValueRef args[2] = {LLVMBuildBitCast(e.eb, g, e.pi64, ""), LLVMGetParam(e.fn, 0)};
        LLVMBuildRet(e.eb, LLVMBuildCall2(e.eb, ft, ev, args, 2, ""));
    }
    free(w);
    free(c);
    return le_finish(&e);
}

int llvm_emit_verify(LLVMModuleRef mod, char *err, size_t errlen)
{
    char *msg = NULL;
    int bad = LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg);
    if (bad && err && errlen) snprintf(err, errlen, "LLVM module does not verify (a bug in rnnc): %s", msg ? msg : "");
    LLVMDisposeMessage(msg);
    return bad ? -1 : 0;
}
