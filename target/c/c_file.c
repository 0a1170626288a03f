/* c_file.c - writes a compiled model's C file (c_file.h): lowers each
 * variant (lower -> memplan -> emit_c_func), pastes the runtime and the
 * runtime's model API code (with the safetensors code), embeds the
 * weights, and leaves the model's descriptor and API functions to
 * c_api.c. */
#include "target/c/c_file.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "target/api_slots.h"
#include "target/c/c_gen.h"
#include "target/c/emit_c.h"
#include "target/c/rt_source.h"
#include "ir/bind.h"

/* ---- names and sizes (c_gen.h) ----------------------------------------------- */

static const char *const c_keywords[] = {
    "auto",       "break",     "case",           "char",          "const",    "continue", "default",  "do",
    "double",     "else",      "enum",           "extern",        "float",    "for",      "goto",     "if",
    "inline",     "int",       "long",           "register",      "restrict", "return",   "short",    "signed",
    "sizeof",     "static",    "struct",         "switch",        "typedef",  "union",    "unsigned", "void",
    "volatile",   "while",     "_Alignas",       "_Alignof",      "_Atomic",  "_Bool",    "_Complex", "_Generic",
    "_Imaginary", "_Noreturn", "_Static_assert", "_Thread_local",
};

int c_is_identifier(const char *s)
{
    if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_') return 0;
    for (size_t i = 0; i < sizeof c_keywords / sizeof c_keywords[0]; i++)
        if (!strcmp(s, c_keywords[i])) return 0;
    return 1;
}

const char *cg_field(const char *name, char *buf, size_t n)
{
    int kw = 0;
    for (size_t i = 0; i < sizeof c_keywords / sizeof c_keywords[0]; i++) kw |= !strcmp(name, c_keywords[i]);
    snprintf(buf, n, "%s%s", name, kw ? "_" : "");
    for (char *c = buf; *c; c++)
        if (*c == '.') *c = '_'; /* "x.len", a lengths input: x_len */
    return buf;
}

const char *cg_ctype(IrDType dt) { return dt == IR_I64 ? "int64_t" : "float"; }

const char *cg_sym_field(const IrModule *m, int s) { return s == IR_SYM_BATCH ? "batch" : m->syms[s].name; }

/* ---- the kernels -------------------------------------------------------------- */

static int lower_var(CVar *v, const IrModule *m, const char *P, const char *kind, char *err, size_t errlen)
{
    v->m = m;
    if (!m) return 0;
    snprintf(v->fn, sizeof v->fn, "%s_kernel_%s", P, kind);
    snprintf(v->prep_fn, sizeof v->prep_fn, "%s_prepare", v->fn);
    char e[400];
    v->f = api_kernel_compile(m, kind, &v->prep, e, sizeof e);
    if (!v->f) return ir_errf(err, errlen, "the %s function of model '%s': %s", kind, m->name, e);
    return 0;
}

static int write_kernel(const CGen *g, const CVar *v, const char *what, char *err, size_t errlen)
{
    if (!v->m) return 0;
    fprintf(g->c, "\n/* ==== kernel: %s ==== */\n\n", what);
    int bad = 0;
    if (v->prep) { /* only runtime calls: one copy serves every CPU */
        fprintf(g->c, "/* The weights it reads packed, once after each change of the weights. */\n");
        bad |= emit_c_func(g->c, v->prep, v->prep_fn, 1, 0);
        fputc('\n', g->c);
    }
    bad |= emit_c_func(g->c, v->f, v->fn, 1, EMIT_C_ALL_PATHS);
    if (bad)
        return ir_errf(err, errlen, "the C emitter cannot write the %s function of model '%s'", v->f->name, v->m->name);
    return 0;
}

/* ---- embedded weights --------------------------------------------------------- */

/* A float as a C literal that reads back as the same float. */
static void put_float(FILE *out, float x)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%.9g", (double)x);
    fprintf(out, "%s%sf", buf, strpbrk(buf, ".e") ? "" : ".0");
}

static int write_weights(const CGen *g, const TensorMap *w, char *err, size_t errlen)
{
    const IrModule *m = g->base;
    fprintf(g->c, "\n/* ==== embedded weights (rnnc compile --embed-weights) ==== */\n");
    for (int i = 0; i < m->nparams; i++) {
        float *f = api_param_floats(m, w, i, err, errlen);
        if (!f) return -1;
        int64_t n = rt_numel(rt_map_get(w, m->params[i].name));
        char ty[128];
        fprintf(g->c, "\n/* %s: %s */\nstatic const float %s_embedded_%d[%lld] = {", m->params[i].name,
                ir_type_str(m, m->params[i].value->type, ty, sizeof ty), g->P, i, (long long)(n > 0 ? n : 1));
        for (int64_t k = 0; k < n; k++) {
            fputs(k % 8 ? " " : "\n    ", g->c);
            put_float(g->c, f[k]);
            if (k + 1 < n) fputc(',', g->c);
        }
        fputs(n > 0 ? "\n};\n" : "0};\n", g->c);
        free(f);
    }
    return 0;
}

/* ---- the file ------------------------------------------------------------------- */

static void header_file(const CGen *g, FILE *h)
{
    char guard[200];
    size_t k = 0;
    for (const char *p = g->P; *p && k + 8 < sizeof guard; p++) guard[k++] = (char)toupper((unsigned char)*p);
    snprintf(guard + k, sizeof guard - k, "_H");
    fprintf(h,
            "/* %s - the C API of model '%s' (%s), generated by `rnnc compile`:\n"
            " * docs/c-api.md describes it. */\n"
            "#ifndef %s\n#define %s\n\n#include <stddef.h>\n#include <stdint.h>\n\n"
            "#ifdef __cplusplus\nextern \"C\" {\n#endif\n",
            g->o->header ? g->o->header : "header", g->base->name, g->o->source ? g->o->source : "?", guard, guard);
    cg_api_decls(g, h);
    fprintf(h, "\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

static void top_comment(const CGen *g)
{
    const TrainConfig *c = &g->o->cfg;
    fprintf(g->c, "/* Model '%s' of %s as C, generated by `rnnc compile`: do not edit.\n *\n", g->base->name,
            g->o->source ? g->o->source : "?");
    fprintf(g->c,
            " * The API (docs/c-api.md) is %s: %s_create, %s_load_weights,\n"
            " * %s_forward,%s%s %s_free.  No global state: each model object\n"
            " * holds all of its own.\n *\n",
            g->o->header ? "in the header" : "declared below", g->P, g->P, g->P, g->step.m ? " _step," : "",
            g->train.m ? " _train_step," : "", g->P);
    fprintf(g->c, " * Kernels: forward%s%s.",
            g->step.m ? ", step (one time step,\n * the recurrent state kept in the model)" : "",
            g->train.m ? ", train step" : "");
    if (g->train.m) {
        fprintf(g->c, "\n * Training: %s lr %g", c->opt == OPT_ADAM ? "Adam" : "SGD", c->lr);
        if (c->opt == OPT_ADAM)
            fprintf(g->c, " betas (%g, %g) eps %g", c->beta1, c->beta2, c->eps);
        else if (c->momentum)
            fprintf(g->c, " momentum %g", c->momentum);
        if (c->weight_decay) fprintf(g->c, " weight decay %g", c->weight_decay);
        if (c->clip != CLIP_NONE)
            fprintf(g->c, ", clipping by %s %g", c->clip == CLIP_NORM ? "global norm" : "value", c->clip_value);
        fprintf(g->c, ",\n * %s.",
                g->o->tbptt ? "truncated BPTT: the recurrent state carries over from one call to the next"
                            : "every call starts from the initial state");
    }
    fprintf(g->c, "\n *\n * Build: cc -std=c11 -O2 -c %s.c%s\n */\n", g->P,
            g->o->runtime_link ? " -I<dir of rnnrt.h>, link with librnnrt.a -lm"
                               : ", link with -lm (the runtime is inside)");
}

int c_file_write_header(FILE *h, const IrModule *fwd, const IrModule *step, const IrModule *train,
                        const CFileOptions *o, char *err, size_t errlen)
{
    if (!c_is_identifier(o->prefix))
        return ir_errf(err, errlen, "prefix '%s' is not a C identifier", o->prefix ? o->prefix : "");
    CGen g;
    memset(&g, 0, sizeof g);
    g.o = o;
    g.P = o->prefix;
    g.base = fwd;
    g.embedded = o->weights != NULL;
    g.fwd.m = fwd;
    g.step.m = step;
    g.train.m = train;
    header_file(&g, h);
    return 0;
}

int c_file_write(FILE *c, FILE *h, const IrModule *fwd, const IrModule *step, const IrModule *train,
                 const CFileOptions *o, char *err, size_t errlen)
{
    if (!c_is_identifier(o->prefix))
        return ir_errf(err, errlen, "prefix '%s' is not a C identifier", o->prefix ? o->prefix : "");
    if (o->weights && ir_bind_params(fwd, o->weights, "the embedded weights", err, errlen)) return -1;
    CGen g;
    memset(&g, 0, sizeof g);
    g.c = c;
    g.o = o;
    g.P = o->prefix;
    g.base = fwd;
    g.embedded = o->weights != NULL;
    int rc = -1;
    if (lower_var(&g.fwd, fwd, g.P, "forward", err, errlen) || lower_var(&g.step, step, g.P, "step", err, errlen) ||
        lower_var(&g.train, train, g.P, "train", err, errlen))
        goto done;

    if (h) header_file(&g, h);
    top_comment(&g);
    if (o->header) {
        fprintf(c, "\n#include \"%s\"\n", o->header);
    } else {
        fprintf(c, "\n/* ==== the API ==== */\n\n#include <stddef.h>\n#include <stdint.h>\n");
        cg_api_decls(&g, c);
    }
    fputs("\n#include <errno.h>\n#include <math.h>\n#include <stdarg.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
          "#include <string.h>\n\n",
          c);
    if (o->runtime_link) {
        fputs("/* The runtime: rnnrt.h and librnnrt.a, from `make install`. */\n#include \"rnnrt.h\"\n", c);
        fputs("\n/* ==== runtime/vmath_inline.h: the activations the loops inline ==== */\n", c);
        fputs(vmath_inline_text(), c);
    } else {
        fputs(rt_source_text(), c);
    }
    /* The model API's code (runtime/model_api.c): from librnnrt.a, or here. */
    fputs("\n/* ==== the model API of the runtime (runtime/model_api.h) ==== */\n", c);
    if (!o->runtime_link) fputs("#define RNNRT_MODEL_API RT_API\n", c);
    fputs(model_api_decls_text(), c);
    if (!o->runtime_link) {
        fputs("\n/* ==== runtime/st_json.c, st_format.c, st_loader.h, model_api.c ==== */\n", c);
        fputs(model_api_text(), c);
    }
    if (write_kernel(&g, &g.fwd, "the forward pass over T steps", err, errlen) ||
        write_kernel(&g, &g.step, "one time step, the recurrent state in and out", err, errlen) ||
        write_kernel(&g, &g.train, "one training step: loss, BPTT, clipping, the optimizer update", err, errlen))
        goto done;
    if (o->weights && write_weights(&g, o->weights, err, errlen)) goto done;
    if (cg_api_defs(&g, err, errlen)) goto done;
    rc = 0;
done:;
    CVar *vs[3] = {&g.fwd, &g.step, &g.train};
    for (int i = 0; i < 3; i++) {
        if (vs[i]->f) kfunc_free(vs[i]->f);
        if (vs[i]->prep) kfunc_free(vs[i]->prep);
    }
    return rc;
}
