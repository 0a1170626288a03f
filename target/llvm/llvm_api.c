/* llvm_api.c - the model API as LLVM globals and functions (llvm_api.h).
 *
 * The descriptor is runtime/model_api.h's rnnrt_model_desc, built as an
 * LLVM struct constant whose fields are all i64 or pointers (so LLVM lays
 * it out as C does), with the tables it points to as private constants.
 * Each API function is a wrapper: `int PREFIX_forward(m, n, in, out)` is
 * `return rnnrt_model_forward(m, n, in, out);`, and the functions that
 * need the model's tables before there is a model (create, the parameter
 * getters) pass the descriptor first. */
#include "target/llvm/llvm_api.h"

#include <llvm-c/Target.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct LA {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    const char *P;
    LLVMTypeRef i32, i64, f32, vd, p8, pp8, pi64, size;
    int nglobals;
    char *err;
    size_t errlen;
} LA;

static LLVMValueRef ci64(LA *a, int64_t v) { return LLVMConstInt(a->i64, (unsigned long long)v, 1); }

/* A private constant global holding init. */
static LLVMValueRef private_global(LA *a, LLVMValueRef init, const char *what)
{
    char name[300];
    snprintf(name, sizeof name, "%s_api_%s.%d", a->P, what, a->nglobals++);
    LLVMValueRef g = LLVMAddGlobal(a->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
    return g;
}

/* The same, its address as type `as`. */
static LLVMValueRef private_const(LA *a, LLVMValueRef init, LLVMTypeRef as, const char *what)
{
    return LLVMConstBitCast(private_global(a, init, what), as);
}

static LLVMValueRef cstr(LA *a, const char *s)
{
    return private_const(a, LLVMConstStringInContext(a->ctx, s, (unsigned)strlen(s), 0), a->p8, "str");
}

/* An i64 table; NULL when empty. */
static LLVMValueRef i64_table(LA *a, const int64_t *v, int n, const char *what)
{
    if (n <= 0) return LLVMConstNull(a->pi64);
    LLVMValueRef vals[1024], *p = n <= 1024 ? vals : malloc(sizeof *p * (size_t)n);
    if (!p) return LLVMConstNull(a->pi64);
    for (int i = 0; i < n; i++) p[i] = ci64(a, v[i]);
    LLVMValueRef r = private_const(a, LLVMConstArray(a->i64, p, (unsigned)n), a->pi64, what);
    if (p != vals) free(p);
    return r;
}

/* Embedded weights (--embed-weights): each parameter's floats as one
 * private constant of raw bytes in the target's byte order - a single
 * data string is far smaller to build than an array of float constants -
 * aligned to 64 bytes for the kernels' vector loads; then the table of
 * pointers the descriptor holds.  NULL when there are none. */
static LLVMValueRef embedded_table(LA *a, const ApiDesc *d)
{
    if (!d->embedded || d->nparams <= 0) return LLVMConstNull(a->pp8);
    const uint32_t one = 1;
    int swap =
        (*(const unsigned char *)&one == 1) != (LLVMByteOrder(LLVMGetModuleDataLayout(a->mod)) == LLVMLittleEndian);
    LLVMValueRef *ptrs = malloc(sizeof *ptrs * (size_t)d->nparams);
    if (!ptrs) return NULL;
    for (int i = 0; i < d->nparams; i++) {
        size_t n = (size_t)(d->param_numel[i] > 0 ? d->param_numel[i] : 1), bytes = n * sizeof(float);
        unsigned char *b = calloc(bytes, 1);
        if (!b) {
            free(ptrs);
            return NULL;
        }
        if (d->param_numel[i] > 0) memcpy(b, d->embedded[i], bytes);
        for (size_t k = 0; swap && k < bytes; k += 4) {
            unsigned char t0 = b[k], t1 = b[k + 1];
            b[k] = b[k + 3], b[k + 1] = b[k + 2], b[k + 2] = t1, b[k + 3] = t0;
        }
        LLVMValueRef init = LLVMConstStringInContext(a->ctx, (const char *)b, (unsigned)bytes, 1);
        free(b);
        LLVMValueRef g = private_global(a, init, "weights");
        LLVMSetAlignment(g, 64);
        ptrs[i] = LLVMConstBitCast(g, a->p8);
    }
    LLVMValueRef r = private_const(a, LLVMConstArray(a->p8, ptrs, (unsigned)d->nparams), a->pp8, "embedded");
    free(ptrs);
    return r;
}

/* A table of strings; NULL when empty. */
static LLVMValueRef str_table(LA *a, const char *const *s, int n)
{
    if (n <= 0) return LLVMConstNull(a->pp8);
    LLVMValueRef *p = malloc(sizeof *p * (size_t)n);
    if (!p) return LLVMConstNull(a->pp8);
    for (int i = 0; i < n; i++) p[i] = cstr(a, s[i]);
    LLVMValueRef r = private_const(a, LLVMConstArray(a->p8, p, (unsigned)n), a->pp8, "names");
    free(p);
    return r;
}

/* rnnrt_kernel_desc of k. */
static int kernel_desc(LA *a, LLVMTypeRef ty, const ApiKernel *k, LLVMValueRef *out)
{
    if (!k->m) {
        *out = LLVMConstNull(ty);
        return 0;
    }
    /* the words the arena function reads (llvm_emit_arena_func) */
    char words[320];
    snprintf(words, sizeof words, "%s_words", k->arena_fn ? k->arena_fn : "");
    LLVMValueRef fn = LLVMGetNamedFunction(a->mod, k->fn), arena = LLVMGetNamedGlobal(a->mod, words);
    LLVMValueRef prep = k->prep ? LLVMGetNamedFunction(a->mod, k->prep_fn) : NULL;
    if (!fn || !arena || (k->prep && !prep))
        return ir_errf(a->err, a->errlen, "internal error: no function %s in the module", k->fn);
    int pa = k->prep ? k->prep->nargs : 0, pr = k->prep ? k->prep->nresults : 0;
    LLVMValueRef f[] = {
        LLVMConstBitCast(fn, a->p8),
        LLVMConstBitCast(arena, a->pi64),
        ci64(a, k->nsyms),
        i64_table(a, k->sym, k->nsyms, "sym"),
        ci64(a, k->f->nargs),
        i64_table(a, k->args, 2 * k->f->nargs, "arg"),
        ci64(a, k->f->nresults),
        i64_table(a, k->results, 2 * k->f->nresults, "res"),
        ci64(a, k->ncarry),
        i64_table(a, k->carry, k->ncarry * RNNRT_SHAPE_WORDS, "carry"),
        ci64(a, k->has_reset),
        prep ? LLVMConstBitCast(prep, a->p8) : LLVMConstNull(a->p8),
        ci64(a, pa),
        i64_table(a, k->prep_args, 2 * pa, "parg"),
        ci64(a, pr),
        i64_table(a, k->prep_results, 2 * pr, "pres"),
    };
    *out = LLVMConstNamedStruct(ty, f, sizeof f / sizeof f[0]);
    return 0;
}

/* sig: the return type then the parameters: v void, i int, l int64_t,
 * f float, p a pointer, z size_t. */
static LLVMTypeRef sig_type(LA *a, char c)
{
    switch (c) {
    case 'v': return a->vd;
    case 'i': return a->i32;
    case 'l': return a->i64;
    case 'f': return a->f32;
    case 'z': return a->size;
    default: return a->p8;
    }
}

/* PREFIX_name(params) { return rt(desc?, params); } */
static void wrapper(LA *a, const char *name, const char *rt, const char *sig, LLVMValueRef desc)
{
    LLVMTypeRef params[8], rparams[9];
    int n = (int)strlen(sig) - 1, d = desc != NULL;
    for (int i = 0; i < n; i++) params[i] = rparams[i + d] = sig_type(a, sig[1 + i]);
    if (d) rparams[0] = a->p8;
    LLVMTypeRef ret = sig_type(a, sig[0]);
    LLVMTypeRef rty = LLVMFunctionType(ret, rparams, (unsigned)(n + d), 0);
    LLVMValueRef callee = LLVMGetNamedFunction(a->mod, rt);
    if (!callee) callee = LLVMAddFunction(a->mod, rt, rty);
    char fname[300];
    snprintf(fname, sizeof fname, "%s_%s", a->P, name);
    LLVMValueRef fn = LLVMAddFunction(a->mod, fname, LLVMFunctionType(ret, params, (unsigned)n, 0));
    LLVMBuilderRef b = LLVMCreateBuilderInContext(a->ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(a->ctx, fn, "entry"));
    LLVMValueRef args[9];
    if (d) args[0] = desc;
    for (int i = 0; i < n; i++) args[i + d] = LLVMGetParam(fn, (unsigned)i);
    LLVMValueRef r = LLVMBuildCall2(b, rty, callee, args, (unsigned)(n + d), "");
    if (sig[0] == 'v')
        LLVMBuildRetVoid(b);
    else
        LLVMBuildRet(b, r);
    LLVMDisposeBuilder(b);
}

int llvm_api_emit(LLVMModuleRef mod, const ApiDesc *d, char *err, size_t errlen)
{
    LA a;
    memset(&a, 0, sizeof a);
    a.ctx = LLVMGetModuleContext(mod);
    a.mod = mod;
    a.P = d->prefix;
    a.err = err;
    a.errlen = errlen;
    a.i32 = LLVMInt32TypeInContext(a.ctx);
    a.i64 = LLVMInt64TypeInContext(a.ctx);
    a.f32 = LLVMFloatTypeInContext(a.ctx);
    a.vd = LLVMVoidTypeInContext(a.ctx);
    a.p8 = LLVMPointerType(LLVMInt8TypeInContext(a.ctx), 0);
    a.pp8 = LLVMPointerType(a.p8, 0);
    a.pi64 = LLVMPointerType(a.i64, 0);
    a.size = LLVMIntPtrTypeInContext(a.ctx, LLVMGetModuleDataLayout(mod));

    /* rnnrt_kernel_desc and rnnrt_model_desc (model_api.h), field by field. */
    LLVMTypeRef kty = LLVMStructCreateNamed(a.ctx, "rnnrt_kernel_desc");
    LLVMTypeRef kf[] = {a.p8,  a.pi64, a.i64, a.pi64, a.i64, a.pi64, a.i64, a.pi64,
                        a.i64, a.pi64, a.i64, a.p8,   a.i64, a.pi64, a.i64, a.pi64};
    LLVMStructSetBody(kty, kf, sizeof kf / sizeof kf[0], 0);
    LLVMTypeRef mty = LLVMStructCreateNamed(a.ctx, "rnnrt_model_desc");
    LLVMTypeRef mf[] = {a.i64, a.p8,  a.i64,  a.pp8,  a.i64,  a.pp8,  a.i64,  a.pp8, a.i64,  a.pp8,
                        a.i64, a.pp8, a.pi64, a.pi64, a.i64,  a.pi64, a.pp8,  a.i64, a.pi64, kty,
                        kty,   kty,   a.pi64, a.pi64, a.pi64, a.pi64, a.pi64, a.pi64};
    LLVMStructSetBody(mty, mf, sizeof mf / sizeof mf[0], 0);

    /* The tables, in a fixed order (their globals are numbered). */
    LLVMValueRef ks[3] = {NULL, NULL, NULL}, tab[16];
    for (int v = 0; v < 3; v++)
        if (kernel_desc(&a, kty, &d->k[v], &ks[v])) return -1;
    tab[0] = cstr(&a, d->prefix);
    tab[1] = str_table(&a, d->size_names, d->nsizes);
    tab[2] = str_table(&a, d->input_names, d->ninputs);
    tab[3] = str_table(&a, d->output_names, d->noutputs);
    tab[4] = str_table(&a, d->target_names, d->ntargets);
    tab[5] = str_table(&a, d->param_names, d->nparams);
    tab[6] = i64_table(&a, d->param_shapes, d->nparams * RNNRT_SHAPE_WORDS, "pshape");
    tab[7] = i64_table(&a, d->param_numel, d->nparams, "pnumel");
    tab[8] = i64_table(&a, d->opt, d->nopt * RNNRT_SHAPE_WORDS, "opt");
    tab[9] = i64_table(&a, d->pack_floats, d->npacks, "packs");
    tab[10] = i64_table(&a, d->input_kinds, d->ninputs, "ikinds");
    tab[11] = i64_table(&a, d->input_shapes, d->ninputs * RNNRT_SHAPE_WORDS, "ishapes");
    tab[12] = i64_table(&a, d->target_kinds, d->ntargets, "tkinds");
    tab[13] = i64_table(&a, d->target_shapes, d->ntargets * RNNRT_SHAPE_WORDS, "tshapes");
    tab[14] = i64_table(&a, d->output_kinds, d->noutputs, "okinds");
    tab[15] = i64_table(&a, d->output_shapes, d->noutputs * RNNRT_SHAPE_WORDS, "oshapes");
    LLVMValueRef emb = embedded_table(&a, d);
    if (!emb) {
        snprintf(err, errlen, "out of memory for the embedded weights");
        return -1;
    }
    LLVMValueRef f[] = {
        ci64(&a, RNNRT_MODEL_DESC_VERSION),
        tab[0],
        ci64(&a, d->nsizes),
        tab[1],
        ci64(&a, d->ninputs),
        tab[2],
        ci64(&a, d->noutputs),
        tab[3],
        ci64(&a, d->ntargets),
        tab[4],
        ci64(&a, d->nparams),
        tab[5],
        tab[6],
        tab[7],
        ci64(&a, d->nopt),
        tab[8],
        emb,
        ci64(&a, d->npacks),
        tab[9],
        ks[0],
        ks[1],
        ks[2],
        tab[10],
        tab[11],
        tab[12],
        tab[13],
        tab[14],
        tab[15],
    };
    char name[300];
    snprintf(name, sizeof name, "%s_desc", d->prefix);
    LLVMValueRef desc = LLVMAddGlobal(mod, mty, name);
    LLVMSetInitializer(desc, LLVMConstNamedStruct(mty, f, sizeof f / sizeof f[0]));
    LLVMSetGlobalConstant(desc, 1);
    LLVMSetLinkage(desc, LLVMInternalLinkage);
    LLVMValueRef dp = LLVMConstBitCast(desc, a.p8);

    /* The API: the header's functions, in its order. */
    wrapper(&a, "create", "rnnrt_model_create", "ipppz", dp);
    wrapper(&a, "free", "rnnrt_model_free", "vp", NULL);
    wrapper(&a, "errmsg", "rnnrt_model_errmsg", "pp", NULL);
    wrapper(&a, "load_weights", "rnnrt_model_load_weights", "ipp", NULL);
    wrapper(&a, "save_weights", "rnnrt_model_save_weights", "ipp", NULL);
    wrapper(&a, "forward", "rnnrt_model_forward", "ipppp", NULL);
    if (d->k[1].m) wrapper(&a, "step", "rnnrt_model_step", "iplpp", NULL);
    if (d->k[1].m && d->k[1].has_reset == 2) wrapper(&a, "reset_example", "rnnrt_model_reset_example", "ipl", NULL);
    wrapper(&a, "reset", "rnnrt_model_reset", "vp", NULL);
    if (d->k[2].m) {
        wrapper(&a, "train_step", "rnnrt_model_train_step", "ippppp", NULL);
        wrapper(&a, "grad_norm", "rnnrt_model_grad_norm", "fp", NULL);
        wrapper(&a, "steps_done", "rnnrt_model_steps_done", "lp", NULL);
        wrapper(&a, "set_seed", "rnnrt_model_set_seed", "vpl", NULL);
    }
    wrapper(&a, "num_params", "rnnrt_model_num_params", "i", dp);
    wrapper(&a, "param_name", "rnnrt_model_param_name", "pi", dp);
    wrapper(&a, "param_rank", "rnnrt_model_param_rank", "ii", dp);
    wrapper(&a, "param_dims", "rnnrt_model_param_dims", "pi", dp);
    wrapper(&a, "param_numel", "rnnrt_model_param_numel", "li", dp);
    wrapper(&a, "param_data", "rnnrt_model_param_data", "ppi", NULL);
    return 0;
}
