/* kir_print.c - the text form of kernel IR (`rnnc dump --stage=kernel`,
 * docs/kernel-ir.md): a header with the symbols and every buffer, the
 * memory plan, then the statements, one a line (a map's body one node a
 * line), each with its graph-IR origin as a trailing "# comment".
 *
 *   kfunc forward (module tiny) {
 *     sym B
 *     sym T_x <= 16
 *     arg    x : f32[3 * T_x * B]  arg[0] "x"
 *     temp   t3 : f32[4 * B] @ 0                                 # %9 = linear
 *     arena 16 * B + 65536 bytes; sgemm workspace @ 16 * B, 65536 bytes
 *     arena at T_x=16: 65552 bytes for B=1, 66560 for B=64
 *     for t0 in 0 .. T_x {                                       # h: rnn layer 0
 *       gemm C=t3[0; ld 4] A=h[0; ld 4] B=w[0; ld 4]^T (M=B, N=4, K=4) alpha=1 beta=0
 *       map [B, 4] {
 *         n0 = in t3[0; 4, 1]
 *         n1 = tanh n0
 *         out h[0; 4, 1] = n1
 *       }
 *     }
 *   }
 *
 * Like ir/print.c it never trusts what it prints: a NULL expression prints
 * as <null>, a node or input number out of range as "?N", so a function the
 * verifier rejects can still be looked at. */
#include "kir/kir.h"
#include "kir/kir_calls.h"
#include "ir/text_line.h"

#include <stdarg.h>
#include <string.h>

/* The reference batch sizes at which the header evaluates the arena. */
#define REF_B_SMALL 1
#define REF_B_LARGE 64

/* Whether e prints with a '/' outside any bracket: "a / b", "a / b * c". */
static int top_div(const KExpr *e) { return e && (e->kind == KE_DIV || (e->kind == KE_MUL && top_div(e->a))); }

/* An integer expression in infix, with the brackets it needs to read back
 * the same: * and / group left to right and / is floor division, so a
 * quotient on the right of * is bracketed ("64 * ((16 * B + 63) / 64)"),
 * as is a product or quotient on the right of /, and a sum inside a
 * product or on the right of -.  (kexpr_str() leaves out the first kind,
 * which reads as a different value.) */
static void put_expr_rec(TextLine *l, const KFunc *f, const KExpr *e, int depth)
{
    if (!e || depth > 1000) {
        line_put(l, "<null>");
        return;
    }
    switch (e->kind) {
    case KE_CONST: line_put(l, "%lld", (long long)e->value); return;
    case KE_SYM:
        if (f->module && e->index >= 0 && e->index < f->module->nsyms)
            line_put(l, "%s", f->module->syms[e->index].name);
        else
            line_put(l, "sym%d", e->index);
        return;
    case KE_VAR: line_put(l, "t%d", e->index); return;
    case KE_MAX:
        line_put(l, "max(");
        put_expr_rec(l, f, e->a, depth + 1);
        line_put(l, ", ");
        put_expr_rec(l, f, e->b, depth + 1);
        line_put(l, ")");
        return;
    case KE_ADD:
    case KE_SUB:
    case KE_MUL:
    case KE_DIV: break;
    default: line_put(l, "<bad expr>"); return;
    }
    int prod = e->kind == KE_MUL || e->kind == KE_DIV;
    int lsum = e->a && (e->a->kind == KE_ADD || e->a->kind == KE_SUB);
    int rk = e->b ? (int)e->b->kind : -1;
    int rpar = prod ? rk == KE_ADD || rk == KE_SUB || top_div(e->b) || (e->kind == KE_DIV && rk == KE_MUL)
                    : e->kind == KE_SUB && (rk == KE_ADD || rk == KE_SUB);
    if (prod && lsum) line_put(l, "(");
    put_expr_rec(l, f, e->a, depth + 1);
    if (prod && lsum) line_put(l, ")");
    line_put(l, "%s", e->kind == KE_ADD ? " + " : e->kind == KE_SUB ? " - " : e->kind == KE_MUL ? " * " : " / ");
    if (rpar) line_put(l, "(");
    put_expr_rec(l, f, e->b, depth + 1);
    if (rpar) line_put(l, ")");
}

static void put_expr(TextLine *l, const KFunc *f, const KExpr *e) { put_expr_rec(l, f, e, 0); }

static const char *dtype_name(IrDType t) { return t == IR_F32 ? "f32" : t == IR_I64 ? "i64" : "?"; }

/* "name[off" - the caller closes the bracket after any strides. */
static void put_view_open(TextLine *l, const KFunc *f, KView v)
{
    line_put(l, "%s[", v.buf && v.buf->name ? v.buf->name : "<null>");
    put_expr(l, f, v.off);
}

static void put_strided(TextLine *l, const KFunc *f, const KStrided *s, int rank)
{
    put_view_open(l, f, s->v);
    for (int d = 0; d < rank && d < KIR_MAX_RANK; d++) {
        line_put(l, d ? ", " : "; ");
        put_expr(l, f, s->stride[d]);
    }
    line_put(l, "]");
}

/* ---- header ------------------------------------------------------------- */

static void print_buf(const KFunc *f, const KBuf *b, FILE *out)
{
    TextLine l = {.len = 0};
    static const char *const kinds[] = {"arg   ", "result", "temp  "};
    line_indent(&l, 0);
    line_put(&l, "%s %s : %s[", b->kind <= KB_TEMP ? kinds[b->kind] : "?     ", b->name ? b->name : "<null>",
             dtype_name(b->dtype));
    put_expr(&l, f, b->size);
    line_put(&l, "]");
    if (b->kind == KB_ARG || b->kind == KB_RESULT) {
        line_put(&l, "  %s[%d] \"%s\"", b->kind == KB_ARG ? "arg" : "res", b->index, b->ext_name ? b->ext_name : "");
        if (b->kind == KB_ARG && b->prepared) line_put(&l, " prepared");
    } else if (b->offset) {
        line_put(&l, " @ ");
        put_expr(&l, f, b->offset);
    }
    line_end(&l, b->what, out);
}

/* The arena evaluated with every length symbol at its declared maximum,
 * for a small and a large batch: what a caller allocates once. */
static void print_arena_at_max(const KFunc *f, FILE *out)
{
    int64_t sym[64] = {0};
    int n = f->nsyms < 64 ? f->nsyms : 64;
    TextLine l = {.len = 0};
    line_indent(&l, 0);
    line_put(&l, "arena at");
    int any = 0;
    for (int i = 1; i < n; i++) {
        sym[i] = f->module && i < f->module->nsyms && f->module->syms[i].max > 0 ? f->module->syms[i].max : 1;
        if (f->module && i < f->module->nsyms)
            line_put(&l, "%s%s=%lld", any++ ? ", " : " ", f->module->syms[i].name, (long long)sym[i]);
    }
    line_put(&l, any ? ": " : " ");
    sym[0] = REF_B_SMALL;
    long long small = (long long)kexpr_eval(f->arena_bytes, sym, NULL);
    sym[0] = REF_B_LARGE;
    long long large = (long long)kexpr_eval(f->arena_bytes, sym, NULL);
    line_put(&l, "%lld bytes for B=%d, %lld for B=%d", small, REF_B_SMALL, large, REF_B_LARGE);
    line_end(&l, NULL, out);
}

/* ---- statements --------------------------------------------------------- */

static void print_block(const KFunc *f, const KBlock *b, int depth, FILE *out);

static void print_map(const KFunc *f, const KStmt *s, int depth, FILE *out)
{
    TextLine l = {.len = 0};
    line_indent(&l, depth);
    line_put(&l, "map [");
    for (int d = 0; d < s->rank && d < KIR_MAX_RANK; d++) {
        if (d) line_put(&l, ", ");
        put_expr(&l, f, s->dims[d]);
    }
    line_put(&l, "] {");
    line_end(&l, s->origin, out);
    for (int k = 0; k < s->nnodes; k++) {
        const KMapNode *n = &s->nodes[k];
        line_indent(&l, depth + 1);
        line_put(&l, "n%d = %s", k, kir_map_op_name(n->op));
        switch (n->op) {
        case KM_IN:
            if (n->a >= 0 && n->a < s->nin) {
                line_put(&l, " ");
                put_strided(&l, f, &s->in[n->a], s->rank);
            } else
                line_put(&l, " ?%d", n->a);
            break;
        case KM_CONST: line_put(&l, " %.9g", n->f); break;
        case KM_EXPR:
            line_put(&l, " ");
            put_expr(&l, f, n->e);
            break;
        default:
            if (kir_map_op_arity(n->op) == 2)
                line_put(&l, " n%d, n%d", n->a, n->b);
            else
                line_put(&l, " n%d", n->a);
            break;
        }
        line_end(&l, NULL, out);
    }
    for (int k = 0; k < s->nout; k++) {
        line_indent(&l, depth + 1);
        line_put(&l, "out ");
        put_strided(&l, f, &s->out[k].at, s->rank);
        line_put(&l, " %s n%d", s->out[k].accumulate ? "+=" : "=", s->out[k].node);
        line_end(&l, NULL, out);
    }
    line_indent(&l, depth);
    line_put(&l, "}");
    line_end(&l, NULL, out);
}

static void print_gemm(const KFunc *f, const KStmt *s, int depth, FILE *out)
{
    TextLine l = {.len = 0};
    line_indent(&l, depth);
    line_put(&l, "gemm C=");
    put_view_open(&l, f, s->C);
    line_put(&l, "; ld ");
    put_expr(&l, f, s->ldc);
    line_put(&l, "] A=");
    put_view_open(&l, f, s->A);
    line_put(&l, "; ld ");
    put_expr(&l, f, s->lda);
    line_put(&l, "]%s B=", s->transa ? "^T" : "");
    put_view_open(&l, f, s->B);
    if (s->packed_b) {
        line_put(&l, "] packed (M=");
    } else {
        line_put(&l, "; ld ");
        put_expr(&l, f, s->ldb);
        line_put(&l, "]%s (M=", s->transb ? "^T" : "");
    }
    put_expr(&l, f, s->M);
    line_put(&l, ", N=");
    put_expr(&l, f, s->N);
    line_put(&l, ", K=");
    put_expr(&l, f, s->K);
    line_put(&l, ") alpha=%.9g beta=%.9g", s->alpha, s->beta);
    line_end(&l, s->origin, out);
}

/* pack_b C=W_pk[0] B=W[0; ld 4]^T (N=16, K=4) */
static void print_pack_b(const KFunc *f, const KStmt *s, int depth, FILE *out)
{
    TextLine l = {.len = 0};
    line_indent(&l, depth);
    line_put(&l, "pack_b C=");
    put_view_open(&l, f, s->C);
    line_put(&l, "] B=");
    put_view_open(&l, f, s->B);
    line_put(&l, "; ld ");
    put_expr(&l, f, s->ldb);
    line_put(&l, "]%s (N=", s->transb ? "^T" : "");
    put_expr(&l, f, s->N);
    line_put(&l, ", K=");
    put_expr(&l, f, s->K);
    line_put(&l, ")");
    line_end(&l, s->origin, out);
}

static void print_call(const KFunc *f, const KStmt *s, int depth, FILE *out)
{
    TextLine l = {.len = 0};
    line_indent(&l, depth);
    /* integer arguments and hyperparameters by their names in calls.def;
     * a kind outside the table prints without them */
    KCallSig sig;
    if (kir_call_sig(s->call, &sig)) sig.nints = sig.nhp = 0;
    line_put(&l, "call %s(", kir_call_name(s->call));
    for (int i = 0, n = 0; i < KIR_CALL_MAX_INTS; i++) {
        if (!s->ints[i]) continue;
        const char *name = i < sig.nints ? sig.int_arg[i]->name : NULL;
        line_put(&l, "%s%s%s", n++ ? ", " : "", name ? name : "", name ? "=" : "");
        put_expr(&l, f, s->ints[i]);
    }
    line_put(&l, ";");
    for (int i = 0; i < s->nptrs && i < KIR_CALL_MAX_PTRS; i++) {
        line_put(&l, i ? ", " : " ");
        put_view_open(&l, f, s->ptrs[i]);
        line_put(&l, "]");
    }
    if (s->nhp > 0) {
        line_put(&l, ";");
        for (int i = 0; i < s->nhp && i < KIR_CALL_MAX_HP; i++)
            line_put(&l, "%s%s=%.9g", i ? ", " : " ", i < sig.nhp ? sig.hp_arg[i]->name : "hp", s->hp[i]);
    }
    line_put(&l, ")");
    line_end(&l, s->origin, out);
}

static void print_block(const KFunc *f, const KBlock *b, int depth, FILE *out)
{
    for (int i = 0; i < b->n; i++) {
        const KStmt *s = b->stmts[i];
        TextLine l = {.len = 0};
        switch (s->kind) {
        case KS_LOOP:
            line_indent(&l, depth);
            line_put(&l, "for t%d in 0 .. ", s->var);
            put_expr(&l, f, s->count);
            line_put(&l, "%s {", s->reverse ? " reverse" : "");
            line_end(&l, s->origin, out);
            print_block(f, &s->body, depth + 1, out);
            line_indent(&l, depth);
            line_put(&l, "}");
            line_end(&l, NULL, out);
            break;
        case KS_GEMM: print_gemm(f, s, depth, out); break;
        case KS_PACK_B: print_pack_b(f, s, depth, out); break;
        case KS_MAP: print_map(f, s, depth, out); break;
        case KS_CALL: print_call(f, s, depth, out); break;
        default:
            line_indent(&l, depth);
            line_put(&l, "<bad statement kind %d>", (int)s->kind);
            line_end(&l, s->origin, out);
            break;
        }
    }
}

void kfunc_print(const KFunc *f, FILE *out)
{
    TextLine l = {.len = 0};
    line_put(&l, "kfunc %s", f->name ? f->name : "?");
    if (f->module && f->module->name) line_put(&l, " (module %s)", f->module->name);
    line_put(&l, " {");
    line_end(&l, NULL, out);
    for (int i = 0; i < f->nsyms; i++) {
        line_indent(&l, 0);
        if (f->module && i < f->module->nsyms) {
            line_put(&l, "sym %s", f->module->syms[i].name);
            if (f->module->syms[i].max > 0) line_put(&l, " <= %lld", (long long)f->module->syms[i].max);
        } else
            line_put(&l, "sym sym%d", i);
        line_end(&l, NULL, out);
    }
    for (int i = 0; i < f->nbufs; i++) print_buf(f, f->bufs[i], out);
    line_indent(&l, 0);
    if (f->arena_bytes) {
        line_put(&l, "arena ");
        put_expr(&l, f, f->arena_bytes);
        line_put(&l, " bytes");
        if (f->ws_bytes) {
            line_put(&l, "; sgemm workspace @ ");
            put_expr(&l, f, f->ws_offset);
            line_put(&l, ", ");
            put_expr(&l, f, f->ws_bytes);
            line_put(&l, " bytes");
        }
        line_end(&l, NULL, out);
        print_arena_at_max(f, out);
    } else {
        line_put(&l, "arena not planned");
        line_end(&l, NULL, out);
    }
    print_block(f, &f->body, 0, out);
    fputs("}\n", out);
}
