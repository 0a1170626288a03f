/* emit_c.c - kernel IR as C (emit_c.h): one KFunc becomes one readable C
 * function.
 *
 * The function starts by naming what it uses: the size symbols as
 * `const int64_t B = sym[0];`, every buffer as a typed pointer (arguments
 * const, temporaries at their planned arena offset), each with a comment
 * saying what it holds.  Then one C statement (or block) per kernel-IR
 * statement, each preceded by a comment with its graph-IR origin:
 *
 *   KS_LOOP  for (int64_t t0 = 0; t0 < T_x; t0++) { ... }   (reverse: counts
 *            down); loop variables are t<loop id>, as kexpr_str() prints them
 *   KS_MAP   a loop nest i0, i1, ... over the map's dims, row-major, so that
 *            the innermost loop walks unit strides where the views do and
 *            gcc/clang vectorize it; each live node is a local
 *            `const float n3 = ...;`
 *   KS_GEMM  rt_sgemm_ws(..., arena workspace), its result checked; with
 *            packed_b, rt_sgemm_ws_packed on the pack a KS_PACK_B made
 *   KS_PACK_B  rt_sgemm_pack_b (a failed pack is reported by the packed
 *            product that reads it)
 *   KS_CALL  the runtime kernel kir_call_name() names, fallible ones checked
 *
 * Only what is used is declared (no unused-variable warnings); the
 * parameters a function does not need are cast to void.  Names that could
 * clash (a buffer called "t0", "B" or "for") get a suffix.
 *
 * Floating-point semantics the emitted code fixes:
 *   - every map node is its own statement, so no compiler contracts
 *     a*b+c into an FMA within the C standard's FP_CONTRACT rules (the
 *     engine also compiles with -ffp-contract=off);
 *   - KM_MIN(a, b) is `a < b ? a : b` and KM_MAX(a, b) is `a > b ? a : b`:
 *     when either operand is NaN the result is b.  So min(c, 1) maps a NaN
 *     c to 1 (the interpreter's clip_scale) and max(-k, min(k, x)) passes a
 *     NaN x through (its clamp).  fminf/fmaxf would drop the NaN instead;
 *   - an accumulating output whose strides are zero over the innermost
 *     dims of the map (a reduction) is summed in a local float that starts
 *     from the stored value and is written back once: the same additions in
 *     the same (index) order as adding into memory, without the reload. */
#include "target/c/emit_c.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kir/kir_calls.h"
#include "kir/kir_walk.h"

typedef struct Emit {
    FILE *out;
    const KFunc *f;
    char **bname; /* C name of each buffer, by id */
    char **sname; /* C name of each symbol */
    unsigned char *buf_used, *sym_used;
    unsigned char *var_used;    /* loop variables a map reads (map_params) */
    unsigned char *buf_written; /* buffers a map writes (map_params) */
    FILE *fn_out;               /* where the map functions go, before the body */
    const char *fname;          /* the function's name: maps are <fname>_map<k> */
    int nmaps;
    int split;      /* the map being written runs rows rt_r0..rt_r1 (emit_map) */
    unsigned paths; /* emit_c_func's: which copies to write */
    int uses_err;   /* a fallible call or a gemm writes err */
    int uses_ws;    /* a gemm uses the arena's workspace */
    int ind;        /* indentation level */
    int bad;        /* an unknown kind was met */
    /* memplan's slot sizes (KE_MAX subexpressions of the arena offsets),
     * each declared once as `const int64_t slot<k> = ...;` and named in
     * the offsets, which would otherwise repeat them many times */
    char **slot_text;
    int nslots;
} Emit;

/* The copies of a function's body (and of its maps' wrappers): on x86
 * with GNU C one compiled for AVX-512 and one for AVX2 when `paths` asks
 * for them, and the portable one, compiled as the file's flags say.  NAME
 * runs the copy the runtime's CPU path (rt_cpu_path, RNNC_CPU) names, else
 * the portable one.  The copies differ only in how wide the compiler
 * vectorizes the maps: the same float operations, so the same bits on
 * every path.  The ISA copies have FMA ("avx2,fma"; avx512f implies it) so
 * that the activations' explicit fmaf (vmath_inline.h) is one instruction;
 * nothing else is contracted (each map node is its own statement, and
 * put_gcc_options turns gcc's contraction off), and the portable copy's
 * fmaf, a libm call, rounds the same.  With
 * EMIT_C_NO_FALLBACK and one instruction set (the C engine, whose own
 * process chose the path, which never changes) that copy is the only one
 * and NAME calls it: the portable copy, which would never run, is not
 * compiled at all. */
typedef struct Copy {
    RtCpuPath path;
    const char *target, *suffix, *label; /* target: NULL for the portable copy */
} Copy;

enum { NCOPIES = 3, COPY_MARK = '\001' };

static const Copy copies[NCOPIES] = {
    {RT_CPU_AVX512, "avx512f", "_avx512", "RT_CPU_AVX512"},
    {RT_CPU_AVX2, "avx2,fma", "_avx2", "RT_CPU_AVX2"},
    {RT_CPU_SCALAR, NULL, "_portable", NULL},
};

static int isa_copies(unsigned paths)
{
    int n = 0;
    for (int c = 0; c < NCOPIES; c++) n += copies[c].target && (paths >> copies[c].path & 1);
    return n;
}

static int only_isa_copy(unsigned paths) { return (paths & EMIT_C_NO_FALLBACK) && isa_copies(paths) == 1; }

static int copy_wanted(unsigned paths, int c)
{
    return copies[c].target ? (int)(paths >> copies[c].path & 1) : !only_isa_copy(paths);
}

/* An instruction set's copy is written inside `#if RT_X86`, unless it is
 * the only copy. */
static int copy_guarded(unsigned paths, int c) { return copies[c].target && !only_isa_copy(paths); }

/* ---- names ------------------------------------------------------------------ */

static const char *const reserved[] = {
    /* C11 keywords */
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "_Alignas",
    "_Alignof",
    "_Atomic",
    "_Bool",
    "_Complex",
    "_Generic",
    "_Imaginary",
    "_Noreturn",
    "_Static_assert",
    "_Thread_local",
    /* the function's parameters and what the body calls or names */
    "sym",
    "arg",
    "res",
    "arena",
    "err",
    "errlen",
    "rc",
    "logf",
    "sqrtf",
    "snprintf",
    "int64_t",
    "size_t",
    "NULL",
    "INFINITY",
    "NAN",
    "main",
};

/* Locals the emitter makes: t<k> loop variables, i<k> map indices, n<k>
 * map nodes, acc<k> reduction accumulators. */
static int is_local_pattern(const char *s)
{
    size_t p = 0;
    if (!strncmp(s, "acc", 3))
        p = 3;
    else if (s[0] == 't' || s[0] == 'i' || s[0] == 'n')
        p = 1;
    else
        return 0;
    if (!s[p]) return 0;
    for (; s[p]; p++)
        if (s[p] < '0' || s[p] > '9') return 0;
    return 1;
}

static int is_reserved(const char *s)
{
    if (!strncmp(s, "rt_", 3) || !strncmp(s, "__", 2) || is_local_pattern(s)) return 1;
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (!strcmp(reserved[i], s)) return 1;
    return 0;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int name_clash(char **names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], s)) return 1;
    return 0;
}

/* Symbols first (their names are what a reader knows: B, T_x), then
 * buffers, each made unique against everything named before it. */
static int make_names(Emit *e)
{
    const KFunc *f = e->f;
    int total = f->nsyms + f->nbufs;
    char **all = calloc((size_t)total + 1, sizeof *all);
    if (!all) return -1;
    char base[128], cand[160];
    for (int k = 0; k < f->nsyms; k++) {
        const char *src = f->module && k < f->module->nsyms ? f->module->syms[k].name : NULL;
        if (src)
            kir_ident(base, sizeof base, src);
        else
            snprintf(base, sizeof base, "sym%d_", k);
        snprintf(cand, sizeof cand, "%s", base);
        if (is_reserved(cand)) snprintf(cand, sizeof cand, "%s_sym", base);
        for (int j = 2; name_clash(all, k, cand); j++) snprintf(cand, sizeof cand, "%s_sym%d", base, j);
        e->sname[k] = all[k] = xstrdup(cand);
        if (!all[k]) goto fail;
    }
    for (int b = 0; b < f->nbufs; b++) {
        kir_ident(base, sizeof base, f->bufs[b]->name);
        snprintf(cand, sizeof cand, "%s", base);
        if (is_reserved(cand)) snprintf(cand, sizeof cand, "%s_buf", base);
        for (int j = 2; name_clash(all, f->nsyms + b, cand); j++) snprintf(cand, sizeof cand, "%s_buf%d", base, j);
        e->bname[b] = all[f->nsyms + b] = xstrdup(cand);
        if (!all[f->nsyms + b]) goto fail;
    }
    free(all);
    return 0;
fail:
    free(all); /* the names themselves are freed with e */
    return -1;
}

/* ---- what is used ------------------------------------------------------------- */

static void use_expr(Emit *e, const KExpr *x)
{
    if (!x) return;
    if (x->kind == KE_SYM && x->index >= 0 && x->index < e->f->nsyms) e->sym_used[x->index] = 1;
    if (x->kind == KE_VAR && e->var_used && x->index >= 0 && x->index < e->f->nloops) e->var_used[x->index] = 1;
    use_expr(e, x->a);
    use_expr(e, x->b);
}

/* Marks what access a names: its buffer, offset, extents and strides -
 * all of which the statement prints (a map's indices and loop bounds, a
 * GEMM's sizes and leading dimensions, a call's integers) - and, when
 * e->buf_written is set, the buffer as written. */
static void use_access(Emit *e, const KAccess *a)
{
    if (!a->buf) return;
    e->buf_used[a->buf->id] = 1;
    if (e->buf_written && kacc_writes(a)) e->buf_written[a->buf->id] = 1;
    use_expr(e, a->off);
    for (int d = 0; d < a->rank; d++) {
        if (d > 0 || !e->split) use_expr(e, a->dim[d]); /* see use_map */
        use_expr(e, a->stride[d]);
    }
}

/* Marks what map s reads and writes: its sizes, loop variables (when
 * e->var_used is set) and buffers (written ones in e->buf_written, when
 * set).  An input no live node loads is not read, so not marked: it
 * would be an unused parameter of the map's function. */
static void use_map(Emit *e, const KStmt *s)
{
    unsigned char *live = calloc((size_t)s->nnodes + 1, 1), *in_live = calloc((size_t)s->nin + 1, 1);
    if (!live || !in_live) {
        e->bad = 1;
        goto done;
    }
    kir_map_live(s, live, in_live);
    /* a split map's function runs rows rt_r0..rt_r1: the caller reads dims[0] */
    for (int d = e->split ? 1 : 0; d < s->rank; d++) use_expr(e, s->dims[d]);
    for (int k = 0; k < s->nnodes; k++)
        if (live[k] && s->nodes[k].op == KM_EXPR) use_expr(e, s->nodes[k].e);
    KAccessIter it;
    KAccess a;
    for (kir_access_begin(&it, s); kir_access_next(&it, &a);)
        if (a.role != KACC_MAP_IN || in_live[a.index]) use_access(e, &a);
done:
    free(live);
    free(in_live);
}

static void use_block(Emit *e, const KBlock *b)
{
    for (int i = 0; i < b->n; i++) {
        const KStmt *s = b->stmts[i];
        if (s->kind == KS_LOOP) {
            use_expr(e, s->count);
            use_block(e, &s->body);
            continue;
        }
        if (s->kind == KS_MAP) {
            use_map(e, s);
            continue;
        }
        KAccessIter it;
        KAccess a;
        for (kir_access_begin(&it, s); kir_access_next(&it, &a);) use_access(e, &a);
        if (s->kind == KS_GEMM) {
            use_expr(e, e->f->ws_offset);
            use_expr(e, e->f->ws_bytes);
            e->uses_err = 1;
            e->uses_ws = 1;
        } else if (s->kind == KS_CALL) {
            for (int k = 0; k < KIR_CALL_MAX_INTS; k++) /* every integer is printed, named by a count or not */
                use_expr(e, s->ints[k]);
            KCallSig sig;
            if (!kir_call_sig(s->call, &sig) && sig.fallible) e->uses_err = 1;
        }
    }
}

/* ---- printing pieces ---------------------------------------------------------- */

static void indent(Emit *e)
{
    for (int i = 0; i < e->ind; i++) fputs("    ", e->out);
}

/* Text for a comment: never closes it early, one line. */
static void put_comment_text(FILE *out, const char *s)
{
    for (char prev = 0; s && *s; prev = *s++) {
        if (*s == '/' && prev == '*') fputc(' ', out);
        fputc(*s == '\n' ? ' ' : *s, out);
    }
}

static void comment_line(Emit *e, const char *s)
{
    indent(e);
    fputs("/* ", e->out);
    put_comment_text(e->out, s ? s : "(no origin)");
    fputs(" */\n", e->out);
}

/* The text as the inside of a C string literal for a printf format (so
 * '%' is doubled too). */
static void put_format_text(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '%')
            fputs("%%", out);
        else if (c < 32 || c >= 127)
            fprintf(out, "\\%03o", c);
        else
            fputc(c, out);
    }
}

static void put_int(FILE *out, int64_t v)
{
    /* int64_t arithmetic throughout: a constant beyond int gets LL */
    if (v > 2147483647 || v < -2147483647)
        fprintf(out, "%lldLL", (long long)v);
    else
        fprintf(out, "%lld", (long long)v);
}

static void put_expr_rec(const Emit *e, const KExpr *x, int top);

/* The C text of a KE_MAX node, its operands printed with the slots named
 * so far: what `slot<k>` stands for (a fresh string, or NULL). */
static char *max_text(const Emit *e, const KExpr *x)
{
    char *t = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&t, &len);
    if (!mem) return NULL;
    Emit tmp = *e;
    tmp.out = mem;
    fputc('(', mem);
    put_expr_rec(&tmp, x->a, 1);
    fputs(") > (", mem);
    put_expr_rec(&tmp, x->b, 1);
    fputs(") ? (", mem);
    put_expr_rec(&tmp, x->a, 1);
    fputs(") : (", mem);
    put_expr_rec(&tmp, x->b, 1);
    fputc(')', mem);
    fclose(mem);
    return t;
}

/* The slot number of a KE_MAX node, or -1. */
static int slot_of(const Emit *e, const KExpr *x)
{
    char *t = max_text(e, x);
    int k = -1;
    for (int i = 0; t && i < e->nslots; i++)
        if (!strcmp(e->slot_text[i], t)) {
            k = i;
            break;
        }
    free(t);
    return k;
}

/* Names every KE_MAX node under x, inner ones first. */
static void collect_slots(Emit *e, const KExpr *x)
{
    if (!x || !kexpr_has_free(x)) return;
    collect_slots(e, x->a);
    collect_slots(e, x->b);
    if (x->kind != KE_MAX || slot_of(e, x) >= 0) return;
    char *t = max_text(e, x);
    char **grown = t ? realloc(e->slot_text, (size_t)(e->nslots + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(t);
        e->bad = 1;
        return;
    }
    e->slot_text = grown;
    e->slot_text[e->nslots++] = t;
}

static void declare_slots(Emit *e)
{
    for (int k = 0; k < e->nslots; k++) {
        indent(e);
        fprintf(e->out, "const int64_t slot%d = %s;\n", k, e->slot_text[k]);
    }
}

/* An integer expression in C, every binary operation in parentheses
 * except the outermost; subtrees without symbols or loop variables are
 * printed as their value. */
static void put_expr_rec(const Emit *e, const KExpr *x, int top)
{
    FILE *out = e->out;
    if (!kexpr_has_free(x)) {
        int64_t v = kexpr_eval(x, NULL, NULL);
        if (v < 0 && !top) fputc('(', out);
        put_int(out, v);
        if (v < 0 && !top) fputc(')', out);
        return;
    }
    switch (x->kind) {
    case KE_SYM: fputs(x->index >= 0 && x->index < e->f->nsyms ? e->sname[x->index] : "0", out); return;
    case KE_VAR: fprintf(out, "t%d", x->index); return;
    case KE_MAX:
        if (e->nslots) {
            int k = slot_of(e, x);
            if (k >= 0) {
                fprintf(out, "slot%d", k);
                return;
            }
        }
        fputs(top ? "" : "(", out);
        fputc('(', out);
        put_expr_rec(e, x->a, 1);
        fputs(") > (", out);
        put_expr_rec(e, x->b, 1);
        fputs(") ? (", out);
        put_expr_rec(e, x->a, 1);
        fputs(") : (", out);
        put_expr_rec(e, x->b, 1);
        fputc(')', out);
        fputs(top ? "" : ")", out);
        return;
    default: break;
    }
    const char *op = x->kind == KE_ADD ? " + " : x->kind == KE_SUB ? " - " : x->kind == KE_MUL ? " * " : " / ";
    if (!top) fputc('(', out);
    put_expr_rec(e, x->a, 0);
    fputs(op, out);
    put_expr_rec(e, x->b, 0);
    if (!top) fputc(')', out);
}

static void put_expr(const Emit *e, const KExpr *x)
{
    if (!x)
        fputc('0', e->out);
    else
        put_expr_rec(e, x, 1);
}

static int is_zero(const KExpr *x) { return !x || (!kexpr_has_free(x) && kexpr_eval(x, NULL, NULL) == 0); }
static int is_one(const KExpr *x) { return x && !kexpr_has_free(x) && kexpr_eval(x, NULL, NULL) == 1; }

/* buf + off, or buf alone at offset 0 (a pointer argument). */
static void put_ptr(const Emit *e, const KView *v)
{
    if (!v->buf) {
        fputs("NULL", e->out);
        return;
    }
    fputs(e->bname[v->buf->id], e->out);
    if (!is_zero(v->off)) {
        fputs(" + ", e->out);
        put_expr_rec(e, v->off, 0);
    }
}

/* The element index off + sum_d i_d * stride_d of a strided view in a map
 * (terms with stride 0 dropped, "* 1" not written). */
static void put_index(const Emit *e, const KStrided *s, int rank)
{
    int any = 0;
    if (!is_zero(s->v.off)) {
        put_expr_rec(e, s->v.off, 0);
        any = 1;
    }
    for (int d = 0; d < rank; d++) {
        if (is_zero(s->stride[d])) continue;
        if (any) fputs(" + ", e->out);
        fprintf(e->out, "i%d", d);
        if (!is_one(s->stride[d])) {
            fputs(" * ", e->out);
            put_expr_rec(e, s->stride[d], 0);
        }
        any = 1;
    }
    if (!any) fputc('0', e->out);
}

/* A float constant as a C literal that reads back as the same float. */
static void put_float(FILE *out, double v)
{
    float fv = (float)v;
    if (isnan(fv)) {
        fputs("NAN", out);
        return;
    }
    if (isinf(fv)) {
        fputs(fv < 0 ? "(-INFINITY)" : "INFINITY", out);
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.9g", (double)fv);
    if (!strpbrk(buf, ".en")) strcat(buf, ".0");
    if (buf[0] == '-')
        fprintf(out, "(%sf)", buf);
    else
        fprintf(out, "%sf", buf);
}

/* A double constant as a C literal that reads back as the same double:
 * the optimizers' hyperparameters, which the runtime takes as doubles (the
 * interpreter and the JIT pass the kernel IR's doubles; rounding them to
 * float here would move a learning rate like 0.1 by half an ulp). */
static void put_double(FILE *out, double v)
{
    if (isnan(v) || isinf(v)) { /* float's NAN and INFINITY convert exactly */
        put_float(out, v);
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    if (!strpbrk(buf, ".en")) strcat(buf, ".0");
    fprintf(out, buf[0] == '-' ? "(%s)" : "%s", buf);
}

static const char *ctype(IrDType dt) { return dt == IR_I64 ? "int64_t" : "float"; }

/* ---- statements --------------------------------------------------------------- */

static void emit_block(Emit *e, const KBlock *b);

static void emit_loop(Emit *e, const KStmt *s)
{
    comment_line(e, s->origin);
    indent(e);
    if (s->reverse) {
        fprintf(e->out, "for (int64_t t%d = ", s->var);
        put_expr_rec(e, s->count, 0);
        fprintf(e->out, " - 1; t%d >= 0; t%d--) {\n", s->var, s->var);
    } else {
        fprintf(e->out, "for (int64_t t%d = 0; t%d < ", s->var, s->var);
        put_expr_rec(e, s->count, 0);
        fprintf(e->out, "; t%d++) {\n", s->var);
    }
    e->ind++;
    emit_block(e, &s->body);
    e->ind--;
    indent(e);
    fputs("}\n", e->out);
}

static void emit_fail(Emit *e, const char *what, const char *origin)
{
    indent(e);
    fputs("snprintf(err, errlen, \"", e->out);
    put_format_text(e->out, what);
    fputs(" in ", e->out);
    put_format_text(e->out, origin ? origin : "?");
    fputs("\");\n", e->out);
    indent(e);
    fputs("return 1;\n", e->out);
}

static void emit_gemm(Emit *e, const KStmt *s)
{
    FILE *out = e->out;
    if (!e->f->ws_offset || !e->f->ws_bytes) { /* memplan() was not run */
        e->bad = 1;
        return;
    }
    comment_line(e, s->origin);
    indent(e);
    if (s->packed_b)
        fprintf(out, "if (rt_sgemm_ws_packed(%d, ", s->transa ? 1 : 0);
    else
        fprintf(out, "if (rt_sgemm_ws(%d, %d, ", s->transa ? 1 : 0, s->transb ? 1 : 0);
    const char *cont = s->packed_b ? "                       " : "                ";
    put_expr(e, s->M);
    fputs(", ", out);
    put_expr(e, s->N);
    fputs(", ", out);
    put_expr(e, s->K);
    fputs(", ", out);
    put_float(out, s->alpha);
    fputs(",\n", out);
    indent(e);
    fputs(cont, out);
    put_ptr(e, &s->A);
    fputs(", ", out);
    put_expr(e, s->lda);
    fputs(", ", out);
    put_ptr(e, &s->B);
    fputs(", ", out);
    if (!s->packed_b) {
        put_expr(e, s->ldb);
        fputs(", ", out);
    }
    put_float(out, s->beta);
    fputs(",\n", out);
    indent(e);
    fputs(cont, out);
    put_ptr(e, &s->C);
    fputs(", ", out);
    put_expr(e, s->ldc);
    fputs(", (char *)arena + ", out);
    put_expr_rec(e, e->f->ws_offset, 0);
    fputs(", (size_t)", out);
    put_expr_rec(e, e->f->ws_bytes, 0);
    fputs(")) {\n", out);
    e->ind++;
    emit_fail(e, "sgemm failed (bad sizes or too small a workspace)", s->origin);
    e->ind--;
    indent(e);
    fputs("}\n", out);
}

static void emit_pack_b(Emit *e, const KStmt *s)
{
    FILE *out = e->out;
    comment_line(e, s->origin);
    indent(e);
    fprintf(out, "rt_sgemm_pack_b(%d, ", s->transb ? 1 : 0);
    put_expr(e, s->N);
    fputs(", ", out);
    put_expr(e, s->K);
    fputs(", ", out);
    put_ptr(e, &s->B);
    fputs(", ", out);
    put_expr(e, s->ldb);
    fputs(", ", out);
    put_ptr(e, &s->C);
    fputs(");\n", out);
}

/* The kernel calls.def names, its parameters in the prototype's order
 * (a parameter the kernel IR leaves out as NULL or 0); a fallible one
 * inside `if (...)` that fails the function. */
static void emit_call(Emit *e, const KStmt *s)
{
    FILE *out = e->out;
    KCallSig sig;
    if (kir_call_sig(s->call, &sig) || s->nptrs != sig.nptrs || s->nhp < sig.nhp) {
        e->bad = 1;
        return;
    }
    comment_line(e, s->origin);
    indent(e);
    if (sig.fallible) fputs("if (", out);
    fprintf(out, "%s(", sig.symbol);
    for (int i = 0, ni = 0, np = 0, nh = 0; i < sig.nargs; i++) {
        if (i) fputs(", ", out);
        switch (sig.args[i].kind) {
        case KA_INT: put_expr(e, s->ints[ni++]); break;
        case KA_PTR: put_ptr(e, &s->ptrs[np++]); break;
        case KA_HP: put_double(out, s->hp[nh++]); break;
        case KA_NULL: fputs("NULL", out); break;
        case KA_ZERO: put_double(out, 0); break;
        }
    }
    fputs(sig.fallible ? ")) {\n" : ");\n", out);
    if (sig.fallible) {
        e->ind++;
        emit_fail(e, "token id out of range", s->origin);
        e->ind--;
        indent(e);
        fputs("}\n", out);
    }
}

static void emit_node(Emit *e, const KStmt *s, int k)
{
    FILE *out = e->out;
    const KMapNode *nd = &s->nodes[k];
    indent(e);
    if (nd->op == KM_IN) {
        const KStrided *in = &s->in[nd->a];
        fprintf(out, "const %s n%d = %s[", ctype(in->v.buf->dtype), k, e->bname[in->v.buf->id]);
        put_index(e, in, s->rank);
        fputs("];\n", out);
        return;
    }
    fprintf(out, "const float n%d = ", k);
    switch (nd->op) {
    case KM_CONST: put_float(out, nd->f); break;
    case KM_EXPR:
        fputs("(float)(", out);
        put_expr(e, nd->e);
        fputc(')', out);
        break;
    case KM_ADD: fprintf(out, "n%d + n%d", nd->a, nd->b); break;
    case KM_SUB: fprintf(out, "n%d - n%d", nd->a, nd->b); break;
    case KM_MUL: fprintf(out, "n%d * n%d", nd->a, nd->b); break;
    case KM_DIV: fprintf(out, "n%d / n%d", nd->a, nd->b); break;
    case KM_MIN: fprintf(out, "n%d < n%d ? n%d : n%d", nd->a, nd->b, nd->a, nd->b); break;
    case KM_MAX: fprintf(out, "n%d > n%d ? n%d : n%d", nd->a, nd->b, nd->a, nd->b); break;
    case KM_NEG: fprintf(out, "-n%d", nd->a); break;
    case KM_EXP: fprintf(out, "rt_inline_expf(n%d)", nd->a); break;
    case KM_LOG: fprintf(out, "logf(n%d)", nd->a); break;
    case KM_TANH: fprintf(out, "rt_inline_tanhf(n%d)", nd->a); break;
    case KM_SIGMOID: fprintf(out, "rt_inline_sigmoidf(n%d)", nd->a); break;
    case KM_RELU: fprintf(out, "n%d > 0.0f ? n%d : 0.0f", nd->a, nd->a); break;
    case KM_SQRT: fprintf(out, "sqrtf(n%d)", nd->a); break;
    case KM_SOFTPLUS: fprintf(out, "rt_inline_softplusf(n%d)", nd->a); break;
    case KM_RELU_GRAD: fprintf(out, "n%d > 0.0f ? n%d : 0.0f", nd->b, nd->a); break;
    default:
        e->bad = 1;
        fputc('0', out);
        break;
    }
    fputs(";\n", out);
}

/* The loop nest of map s, at e's indentation: a map function's body. */
static void emit_map_loops(Emit *e, const KStmt *s)
{
    FILE *out = e->out;
    unsigned char *live = calloc((size_t)s->nnodes + 1, 1), *in_live = calloc((size_t)s->nin + 1, 1);
    int *red = calloc((size_t)s->nout + 1, sizeof *red); /* loop level of each local sum, -1: none */
    if (!live || !in_live || !red) {
        free(live);
        free(in_live);
        free(red);
        e->bad = 1;
        return;
    }
    kir_map_live(s, live, in_live);
    for (int o = 0; o < s->nout; o++) red[o] = kir_map_reduce_level(s, o, in_live);
    for (int d = 0; d <= s->rank; d++) {
        /* local sums of the outputs reduced over dims d.. start here */
        for (int o = 0; o < s->nout; o++) {
            if (red[o] != d) continue;
            indent(e);
            fprintf(out, "float acc%d = %s[", o, e->bname[s->out[o].at.v.buf->id]);
            put_index(e, &s->out[o].at, s->rank);
            fputs("];\n", out);
        }
        if (d == s->rank) break;
        indent(e);
        if (e->split && d == 0) {
            fputs("for (int64_t i0 = rt_r0; i0 < rt_r1", out);
        } else {
            fprintf(out, "for (int64_t i%d = 0; i%d < ", d, d);
            put_expr_rec(e, s->dims[d], 0);
        }
        fprintf(out, "; i%d++) {\n", d);
        e->ind++;
    }
    for (int k = 0; k < s->nnodes; k++)
        if (live[k]) emit_node(e, s, k);
    for (int o = 0; o < s->nout; o++) {
        const KMapOut *mo = &s->out[o];
        indent(e);
        if (red[o] >= 0) {
            fprintf(out, "acc%d += n%d;\n", o, mo->node);
            continue;
        }
        fprintf(out, "%s[", e->bname[mo->at.v.buf->id]);
        put_index(e, &mo->at, s->rank);
        fprintf(out, "] %s n%d;\n", mo->accumulate ? "+=" : "=", mo->node);
    }
    for (int d = s->rank - 1; d >= 0; d--) {
        e->ind--;
        indent(e);
        fputs("}\n", out);
        for (int o = 0; o < s->nout; o++) {
            if (red[o] != d) continue;
            indent(e);
            fprintf(out, "%s[", e->bname[s->out[o].at.v.buf->id]);
            put_index(e, &s->out[o].at, s->rank);
            fprintf(out, "] = acc%d;\n", o);
        }
    }
    free(live);
    free(in_live);
    free(red);
}

/* How put_map_params prints the map's sizes, loop variables and buffers. */
typedef enum {
    MP_ARGS,   /* the arguments of a call: "B, x, y"                         */
    MP_DECL,   /* the parameters: "const int64_t B, const float *restrict x" */
    MP_FIELDS, /* its context struct's members: "int64_t B; const float *x;" */
    MP_FROM,   /* the arguments, from that struct: "rt_c->B, rt_c->x"              */
} MapParams;

/* Prints the parameters, arguments or context fields (MapParams) of a map
 * function: the sizes, loop variables and buffers m (a map's own Emit)
 * marked, in that order.  Every buffer is a restrict pointer: within one
 * statement two buffers never overlap (arguments and results are the
 * caller's separate tensors; memplan keeps the temporaries one statement
 * touches apart), so the compiler need not check at run time before it
 * vectorizes, and without restrict it gives up on a fused LSTM cell's
 * dozen of pointers.  A map split over the threads (m->split) takes its
 * range of rows last, as rt_r0 and rt_r1 (rt_ names are never a
 * buffer's). */
static void put_map_params(const Emit *m, MapParams how)
{
    FILE *out = m->out;
    const char *sep = "", *next = how == MP_FIELDS ? " " : ", ";
    const char *ints = how == MP_DECL ? "const int64_t " : how == MP_FIELDS ? "int64_t " : "";
    const char *from = how == MP_FROM ? "rt_c->" : "", *end = how == MP_FIELDS ? ";" : "";
    for (int k = 0; k < m->f->nsyms; k++)
        if (m->sym_used[k]) {
            fprintf(out, "%s%s%s%s%s", sep, ints, from, m->sname[k], end);
            sep = next;
        }
    for (int k = 0; k < m->f->nloops; k++)
        if (m->var_used[k]) {
            fprintf(out, "%s%s%st%d%s", sep, ints, from, k, end);
            sep = next;
        }
    for (int i = 0; i < m->f->nbufs; i++) {
        if (!m->buf_used[i]) continue;
        const KBuf *b = m->f->bufs[i];
        const char *cq = m->buf_written[i] ? "" : "const ";
        if (how == MP_DECL)
            fprintf(out, "%s%s%s *restrict %s", sep, cq, ctype(b->dtype), m->bname[i]);
        else if (how == MP_FIELDS)
            fprintf(out, "%s%s%s *%s;", sep, cq, ctype(b->dtype), m->bname[i]);
        else
            fprintf(out, "%s%s%s", sep, from, m->bname[i]);
        sep = next;
    }
    if (m->split && how == MP_DECL)
        fprintf(out, "%sconst int64_t rt_r0, const int64_t rt_r1", sep);
    else if (m->split && how == MP_ARGS)
        fprintf(out, "%srt_r0, rt_r1", sep);
    else if (!*sep && how == MP_DECL)
        fputs("void", out);
}

/* The call of a map split over the threads, in the body: its arguments in
 * a context struct, and rt_map_rows with the map's rows, its work per row
 * (the inner dimensions' elements times its live nodes, which the runtime
 * weighs against the hand-off) and the copy's row function. */
static void emit_map_rows_call(Emit *e, Emit *m, const KStmt *s, int k, int nlive)
{
    FILE *out = e->out;
    indent(e);
    fputs("{\n", out);
    e->ind++;
    indent(e);
    fprintf(out, "struct %s_map%d_ctx rt_c = {", e->fname, k);
    m->out = out;
    m->split = 0; /* the fields, without the rows */
    put_map_params(m, MP_ARGS);
    m->split = 1;
    fputs("};\n", out);
    indent(e);
    fputs("rt_map_rows(", out);
    put_expr(e, s->dims[0]);
    fprintf(out, ", (int64_t)%d", nlive);
    for (int d = 1; d < s->rank; d++) {
        fputs(" * (", out);
        put_expr(e, s->dims[d]);
        fputc(')', out);
    }
    fprintf(out, ", %s_map%d%c_rows, &rt_c);\n", e->fname, k, COPY_MARK);
    e->ind--;
    indent(e);
    fputs("}\n", out);
}

/* A map becomes a function of its own, written to e->fn_out before the
 * body, and a call of it here.  The function, always inlined, exists for
 * its restrict parameters (put_map_params); each copy of the body
 * (put_copies) calls a never-inlined wrapper of it compiled for that
 * copy's instruction set, in which it is vectorized to that width.  Kept
 * apart so, the compiler optimizes many small functions rather than one
 * body holding every map, which takes it a third of the time (measured
 * on a 3-layer LSTM's training step, gcc 12 -O2: 1.7 s -> 0.6 s); the
 * float operations are the same.  The call is written with the byte
 * COPY_MARK where the wrapper's suffix goes.
 *
 * A map whose rows may run on different threads (kir_map_rows_split)
 * takes a range of rows [rt_r0, rt_r1), and each copy gets a row function
 * (RtMapRowsFn) that unpacks a context struct into the wrapper's
 * arguments; the body calls rt_map_rows, which splits the rows over the
 * pool when the map is big enough, else runs them all in one call. */
static void emit_map(Emit *e, const KStmt *s)
{
    if (!kir_map_ok(s)) {
        e->bad = 1;
        return;
    }
    Emit m = *e;
    m.out = e->fn_out;
    m.ind = 1;
    m.nslots = 0; /* a KE_MAX in an index is written out in full */
    m.split = kir_map_rows_split(s);
    m.buf_used = calloc((size_t)e->f->nbufs + 1, 1);
    m.buf_written = calloc((size_t)e->f->nbufs + 1, 1);
    m.sym_used = calloc((size_t)e->f->nsyms + 1, 1);
    m.var_used = calloc((size_t)e->f->nloops + 1, 1);
    unsigned char *live = calloc((size_t)s->nnodes + 1, 1);
    if (!m.buf_used || !m.buf_written || !m.sym_used || !m.var_used || !live) {
        e->bad = 1;
        goto done;
    }
    use_map(&m, s);
    kir_map_live(s, live, NULL);
    int nlive = 0;
    for (int j = 0; j < s->nnodes; j++) nlive += live[j];
    int k = e->nmaps++;
    m.ind = 0;
    comment_line(&m, s->origin);
    m.ind = 1;
    if (m.split) {
        fprintf(m.out, "struct %s_map%d_ctx { ", e->fname, k);
        put_map_params(&m, MP_FIELDS);
        fputs(" };\n", m.out);
    }
    fprintf(m.out, "RT_ALWAYS_INLINE void %s_map%d(", e->fname, k);
    put_map_params(&m, MP_DECL);
    fputs(")\n{\n", m.out);
    emit_map_loops(&m, s);
    fputs("}\n", m.out);
    int guarded = 0;
    for (int c = 0; c < NCOPIES; c++) {
        if (!copy_wanted(e->paths, c)) continue;
        if (copy_guarded(e->paths, c) != guarded) fputs((guarded = !guarded) ? "#if RT_X86\n" : "#endif\n", m.out);
        if (copies[c].target) fprintf(m.out, "RT_TARGET(\"%s\") ", copies[c].target);
        fprintf(m.out, "RT_NOINLINE static void %s_map%d%s(", e->fname, k, copies[c].suffix);
        put_map_params(&m, MP_DECL);
        fprintf(m.out, ") { %s_map%d(", e->fname, k);
        put_map_params(&m, MP_ARGS);
        fputs("); }\n", m.out);
        if (!m.split) continue;
        fprintf(m.out, "static void %s_map%d%s_rows(void *rt_ctx, int64_t rt_r0, int64_t rt_r1)\n{\n", e->fname, k,
                copies[c].suffix);
        fprintf(m.out, "    const struct %s_map%d_ctx *rt_c = rt_ctx;\n    %s_map%d%s(", e->fname, k, e->fname, k,
                copies[c].suffix);
        put_map_params(&m, MP_FROM);
        fputs(", rt_r0, rt_r1);\n}\n", m.out); /* a map has outputs: a buffer precedes */
    }
    if (guarded) fputs("#endif\n", m.out);
    fputc('\n', m.out);
    e->bad |= m.bad;

    comment_line(e, s->origin);
    if (m.split) {
        emit_map_rows_call(e, &m, s, k, nlive);
        goto done;
    }
    indent(e);
    fprintf(e->out, "%s_map%d%c(", e->fname, k, COPY_MARK);
    m.out = e->out;
    put_map_params(&m, MP_ARGS);
    fputs(");\n", e->out);
done:
    free(m.buf_used);
    free(m.buf_written);
    free(m.sym_used);
    free(m.var_used);
    free(live);
}

static void emit_block(Emit *e, const KBlock *b)
{
    for (int i = 0; i < b->n; i++) {
        const KStmt *s = b->stmts[i];
        switch (s->kind) {
        case KS_LOOP: emit_loop(e, s); break;
        case KS_GEMM: emit_gemm(e, s); break;
        case KS_PACK_B: emit_pack_b(e, s); break;
        case KS_MAP: emit_map(e, s); break;
        case KS_CALL: emit_call(e, s); break;
        default: e->bad = 1; break;
        }
    }
}

/* ---- functions ---------------------------------------------------------------- */

static int emit_init(Emit *e, FILE *out, const KFunc *f)
{
    memset(e, 0, sizeof *e);
    e->out = out;
    e->f = f;
    e->bname = calloc((size_t)f->nbufs + 1, sizeof *e->bname);
    e->sname = calloc((size_t)f->nsyms + 1, sizeof *e->sname);
    e->buf_used = calloc((size_t)f->nbufs + 1, 1);
    e->sym_used = calloc((size_t)f->nsyms + 1, 1);
    if (!e->bname || !e->sname || !e->buf_used || !e->sym_used) return -1;
    return make_names(e);
}

static void emit_done(Emit *e)
{
    for (int i = 0; e->bname && i < e->f->nbufs; i++) free(e->bname[i]);
    for (int i = 0; e->sname && i < e->f->nsyms; i++) free(e->sname[i]);
    free(e->bname);
    free(e->sname);
    free(e->buf_used);
    free(e->sym_used);
    for (int k = 0; k < e->nslots; k++) free(e->slot_text[k]);
    free(e->slot_text);
}

static void declare_syms(Emit *e)
{
    for (int k = 0; k < e->f->nsyms; k++)
        if (e->sym_used[k]) {
            indent(e);
            fprintf(e->out, "const int64_t %s = sym[%d];\n", e->sname[k], k);
        }
}

static int any(const unsigned char *used, int n)
{
    for (int i = 0; i < n; i++)
        if (used[i]) return 1;
    return 0;
}

static void declare_buf(Emit *e, const KBuf *b)
{
    FILE *out = e->out;
    const char *t = ctype(b->dtype), *n = e->bname[b->id];
    indent(e);
    switch (b->kind) {
    case KB_ARG: fprintf(out, "const %s *%s = (const %s *)arg[%d];", t, n, t, b->index); break;
    case KB_RESULT: fprintf(out, "%s *%s = (%s *)res[%d];", t, n, t, b->index); break;
    case KB_TEMP:
        fprintf(out, "%s *%s = (%s *)(void *)((char *)arena + ", t, n, t);
        put_expr_rec(e, b->offset, 0);
        fputs(");", out);
        break;
    }
    const char *what = b->kind == KB_TEMP ? b->what : b->ext_name;
    if (what) {
        fputs(" /* ", out);
        put_comment_text(out, what);
        fputs(" */", out);
    }
    fputc('\n', out);
}

/* The gcc options for a function's code, whatever the file's flags:
 * contraction off (gcc in GNU mode fuses a*b + c across statements on an
 * FMA target, which would round differently from the other engines; clang
 * never contracts across statements), and the vectorizer's "dynamic" cost
 * model, with which -O2 also vectorizes a loop whose length is not a
 * multiple of the vector width (gcc 12's -O2 default, "very cheap", leaves
 * those scalar; clang vectorizes them anyway). */
static void put_gcc_options(FILE *out, int push)
{
    fputs("#if defined(__GNUC__) && !defined(__clang__)\n", out);
    fputs(push ? "#pragma GCC push_options\n#pragma GCC optimize(\"fp-contract=off\", \"vect-cost-model=dynamic\")\n"
               : "#pragma GCC pop_options\n",
          out);
    fputs("#endif\n", out);
}

static const char *const fn_params = "const int64_t *sym, const void *const *arg, void *const *res, void *arena, "
                                     "char *err, size_t errlen";
static const char *const fn_args = "sym, arg, res, arena, err, errlen";

/* Writes the body text once per copy, as NAME_<suffix>, with each
 * COPY_MARK in it replaced by the copy's suffix. */
static void put_copies(FILE *out, const char *name, const char *text, size_t len, unsigned paths)
{
    for (int c = 0; c < NCOPIES; c++) {
        if (!copy_wanted(paths, c)) continue;
        int guarded = copy_guarded(paths, c);
        if (guarded) fputs("#if RT_X86\n", out);
        if (copies[c].target) fprintf(out, "RT_TARGET(\"%s\") ", copies[c].target);
        fprintf(out, "static int %s%s(%s)\n", name, copies[c].suffix, fn_params);
        for (size_t i = 0; i < len; i++)
            if (text[i] == COPY_MARK)
                fputs(copies[c].suffix, out);
            else
                fputc(text[i], out);
        if (guarded) fputs("#endif\n", out);
        fputc('\n', out);
    }
}

static void put_dispatch(FILE *out, const char *name, int is_static, unsigned paths)
{
    fprintf(out, "%sint %s(const int64_t *sym, const void *const *arg, void *const *res,\n", is_static ? "static " : "",
            name);
    fprintf(out, "%*svoid *arena, char *err, size_t errlen)\n{\n", (int)(strlen(name) + (is_static ? 12 : 5)), "");
    if (isa_copies(paths) && !only_isa_copy(paths)) {
        fputs("#if RT_X86\n    switch (rt_cpu_path()) {\n", out);
        for (int c = 0; c < NCOPIES; c++)
            if (copies[c].target && copy_wanted(paths, c))
                fprintf(out, "    case %s:\n        return %s%s(%s);\n", copies[c].label, name, copies[c].suffix,
                        fn_args);
        fputs("    default:\n        break;\n    }\n#endif\n", out);
    }
    for (int c = 0; c < NCOPIES; c++)
        if (copy_wanted(paths, c) && !copy_guarded(paths, c))
            fprintf(out, "    return %s%s(%s);\n}\n", name, copies[c].suffix, fn_args);
}

int emit_c_func(FILE *out, const KFunc *f, const char *name, int is_static, unsigned paths)
{
    Emit e;
    int rc = -1;
    char *text = NULL;
    size_t len = 0;
    FILE *body = NULL;
    if (emit_init(&e, out, f)) goto done;
    use_block(&e, &f->body);
    /* a temporary without an offset has not been through memplan() */
    for (int i = 0; i < f->nbufs; i++)
        if (e.buf_used[i] && f->bufs[i]->kind == KB_TEMP && !f->bufs[i]->offset) goto done;
    for (int i = 0; i < f->nbufs; i++)
        if (e.buf_used[i] && f->bufs[i]->kind == KB_TEMP) {
            use_expr(&e, f->bufs[i]->offset);
            collect_slots(&e, f->bufs[i]->offset);
        }
    if (e.uses_ws) collect_slots(&e, f->ws_offset);

    fprintf(out, "/* %s: kernel IR function '%s' of model '%s' */\n", name, f->name ? f->name : "?",
            f->module && f->module->name ? f->module->name : "?");
    put_gcc_options(out, 1);
    fputc('\n', out);
    e.paths = paths;
    /* the maps' functions go straight to out while the body, which calls
     * them, is printed to memory and follows them */
    body = open_memstream(&text, &len);
    if (!body) goto done;
    e.out = body;
    e.fn_out = out;
    e.fname = name;
    fputs("{\n", body);
    e.ind = 1;
    int uses_arena = 0, uses_arg = 0, uses_res = 0;
    for (int i = 0; i < f->nbufs; i++) {
        if (!e.buf_used[i]) continue;
        uses_arena |= f->bufs[i]->kind == KB_TEMP;
        uses_arg |= f->bufs[i]->kind == KB_ARG;
        uses_res |= f->bufs[i]->kind == KB_RESULT;
    }
    uses_arena |= e.uses_ws; /* a gemm's packing workspace */
    /* parameters the body does not read */
    if (!any(e.sym_used, f->nsyms)) fputs("    (void)sym;\n", body);
    if (!uses_arg) fputs("    (void)arg;\n", body);
    if (!uses_res) fputs("    (void)res;\n", body);
    if (!uses_arena) fputs("    (void)arena;\n", body);
    if (!e.uses_err) fputs("    (void)err;\n    (void)errlen;\n", body);
    if (any(e.sym_used, f->nsyms)) {
        comment_line(&e, "sizes");
        declare_syms(&e);
    }
    if (e.nslots) {
        comment_line(&e, "arena slots: the bytes of the largest buffer sharing each (memplan)");
        declare_slots(&e);
    }
    static const KBufKind order[3] = {KB_ARG, KB_RESULT, KB_TEMP};
    static const char *const heads[3] = {"arguments", "results", "temporaries (arena)"};
    for (int k = 0; k < 3; k++) {
        int head = 0;
        for (int i = 0; i < f->nbufs; i++) {
            const KBuf *b = f->bufs[i];
            if (!e.buf_used[i] || b->kind != order[k]) continue;
            if (!head++) comment_line(&e, heads[k]);
            declare_buf(&e, b);
        }
    }
    fputc('\n', body);
    emit_block(&e, &f->body);
    fputs("    return 0;\n}\n\n", body);
    if (ferror(body)) e.bad = 1;
    fclose(body);
    body = NULL;
    put_copies(out, name, text, len, paths);
    put_dispatch(out, name, is_static, paths);
    put_gcc_options(out, 0);
    rc = e.bad || ferror(out) ? -1 : 0;
done:
    if (body) fclose(body);
    free(text);
    emit_done(&e);
    return rc;
}
