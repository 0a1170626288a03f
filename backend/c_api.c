/* c_api.c - the model API of a generated C file (docs/c-api.md): the
 * declarations (the header's body) and the functions that move a caller's
 * pointers and the model's own state into the kernels' argument arrays.
 *
 * Every kernel takes its buffers as arrays in the order its module lists
 * them (backend/kir.h); which C expression fills each slot is decided here,
 * at generation time, from the buffer's name: a user input or output is a
 * field of the caller's struct, "carry:<k>" is recurrent state the model
 * keeps in two buffers (read one, write the other, swap the pointers after
 * a good call), "opt:..." is optimizer state kept the same way, "new:<p>"
 * the other buffer of parameter p. */
#include <stdarg.h>
#include <string.h>

#include "backend/c_gen.h"
#include "passes/segment.h"
#include "passes/train_step.h"

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }
static int at_least_1(int n) { return n > 0 ? n : 1; }

static void out(const CGen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(const CGen *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(g->c, fmt, ap);
    va_end(ap);
}

/* ---- the model's state slots ------------------------------------------------------ */

static int is_carry(const char *name) { return has_prefix(name, SEGMENT_CARRY_PREFIX) && strcmp(name, SEGMENT_RESET_INPUT); }
static int is_opt(const char *name) { return has_prefix(name, TRAIN_OPT_PREFIX) && strcmp(name, TRAIN_STEP_INPUT); }

/* Position of input `name` among m's inputs that pass `pred`, or -1. */
static int slot(const IrModule *m, int (*pred)(const char *), const char *name)
{
    int k = 0;
    for (int i = 0; m && i < m->ninputs; i++) {
        if (!pred(m->inputs[i].name)) continue;
        if (!strcmp(m->inputs[i].name, name)) return k;
        k++;
    }
    return -1;
}

static int count(const IrModule *m, int (*pred)(const char *))
{
    int k = 0;
    for (int i = 0; m && i < m->ninputs; i++) k += pred(m->inputs[i].name);
    return k;
}

static const IrInput *find_input(const IrModule *m, const char *name)
{
    for (int i = 0; m && i < m->ninputs; i++)
        if (!strcmp(m->inputs[i].name, name)) return &m->inputs[i];
    return NULL;
}

static int has_input(const IrModule *m, const char *name) { return find_input(m, name) != NULL; }

static int param_index(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (!strcmp(m->params[i].name, name)) return i;
    return -1;
}

static int is_named(const IrInput *list, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i].name, name)) return 1;
    return 0;
}

static int is_output(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->noutputs; i++)
        if (!strcmp(m->outputs[i].name, name)) return 1;
    return 0;
}

/* The C expression that fills the slot of buffer `name` of variant v. */
static int bind(const CGen *g, const CVar *v, const char *name, int result, char *buf, size_t n, char *err, size_t errlen)
{
    const IrModule *m = v->m;
    const char *state = v == &g->step ? "step" : "train";
    char f[200];
    int k;
    if (!result && is_named(m->inputs, m->ninputs, name) && !has_prefix(name, SEGMENT_CARRY_PREFIX) && !has_prefix(name, TRAIN_OPT_PREFIX)) {
        snprintf(buf, n, "in->%s", cg_field(name, f, sizeof f));
    } else if (!result && is_named(m->targets, m->ntargets, name)) {
        snprintf(buf, n, "tg->%s", cg_field(name, f, sizeof f));
    } else if (!result && (k = param_index(g->base, name)) >= 0) {
        snprintf(buf, n, "m->w[%d]", k);
    } else if (!result && !strcmp(name, SEGMENT_RESET_INPUT)) {
        snprintf(buf, n, "&m->%s_reset", state);
    } else if (!result && !strcmp(name, TRAIN_STEP_INPUT)) {
        snprintf(buf, n, "&m->step_number");
    } else if ((k = slot(m, is_carry, name)) >= 0) {
        snprintf(buf, n, "m->%s_state[%sm->%s_cur][%d]", state, result ? "1 - " : "", state, k);
    } else if (!result && (k = slot(m, is_opt, name)) >= 0) {
        snprintf(buf, n, "m->opt[m->cur][%d]", k);
    } else if (result && has_prefix(name, TRAIN_NEW_PREFIX) && (k = slot(m, is_opt, name + strlen(TRAIN_NEW_PREFIX))) >= 0) {
        snprintf(buf, n, "m->opt[1 - m->cur][%d]", k);
    } else if (result && has_prefix(name, TRAIN_NEW_PREFIX) && (k = param_index(g->base, name + strlen(TRAIN_NEW_PREFIX))) >= 0) {
        snprintf(buf, n, "m->own[1 - m->cur][%d]", k);
    } else if (result && !strcmp(name, TRAIN_GRAD_NORM)) {
        snprintf(buf, n, "&m->grad_norm");
    } else if (result && !strcmp(name, "loss") && m->loss) {
        snprintf(buf, n, "&m->loss");
    } else if (result && is_output(g->base, name)) {
        snprintf(buf, n, "out->%s", cg_field(name, f, sizeof f));
    } else {
        return ir_errf(err, errlen, "internal error: the %s function has a buffer '%s' the API does not know", v->f->name, name);
    }
    return 0;
}

/* ---- declarations ---------------------------------------------------------------- */

static void field_decl(const IrModule *m, FILE *h, const char *name, const IrType *t, int konst)
{
    char f[200], ty[200];
    fprintf(h, "    %s%s *%s; /* %s */\n", konst ? "const " : "", cg_ctype(t->dtype), cg_field(name, f, sizeof f),
            ir_type_str(m, *t, ty, sizeof ty));
}

void cg_api_decls(const CGen *g, FILE *h)
{
    const char *P = g->P;
    const IrModule *b = g->base;
    fprintf(h, "\n/* Every function that can fail returns one of these; %s_errmsg() says what\n"
               " * went wrong, naming the function (and the file, for weights). */\n"
               "enum {\n"
               "    %s_OK = 0,\n"
               "    %s_ERR_ARG = 1,     /* a NULL pointer, a size outside [1, maximum] */\n"
               "    %s_ERR_NOMEM = 2,   /* out of memory */\n"
               "    %s_ERR_IO = 3,      /* a file cannot be opened, read or written */\n"
               "    %s_ERR_FORMAT = 4,  /* a malformed safetensors file */\n"
               "    %s_ERR_WEIGHTS = 5, /* weights that do not fit: a missing tensor, another shape or dtype */\n"
               "    %s_ERR_DATA = 6,    /* bad input data: a token id out of range */\n"
               "    %s_ERR_NAN = 7,     /* training: the loss is not finite (the weights stay as they were) */\n"
               "    %s_ERR_STATE = 8    /* no weights yet: call %s_load_weights first */\n"
               "};\n",
            P, P, P, P, P, P, P, P, P, P, P);
    fprintf(h, "\n/* One model: its weights, its working memory and its state.  Models are\n"
               " * independent; one model must not be used by two threads at once. */\n"
               "typedef struct %s_model %s_model;\n", P, P);

    fprintf(h, "\n/* Sizes: the batch and the length of each sequence.  Arrays are time-major\n"
               " * and packed for the actual sizes: an input [T, B, F] holds T*B*F values. */\n"
               "typedef struct %s_sizes {\n    int64_t batch; /* B */\n", P);
    for (int s = 1; s < b->nsyms; s++) fprintf(h, "    int64_t %s; /* a sequence length */\n", b->syms[s].name);
    fprintf(h, "} %s_sizes;\n", P);

    fprintf(h, "\n/* The inputs (%s_step: one time step, so T = 1 in every shape). */\ntypedef struct %s_inputs {\n", P, P);
    for (int i = 0; i < b->ninputs; i++) field_decl(b, h, b->inputs[i].name, &b->inputs[i].value->type, 1);
    if (!b->ninputs) fprintf(h, "    char none; /* the model has no input */\n");
    fprintf(h, "} %s_inputs;\n", P);

    fprintf(h, "\n/* Where the outputs go: caller memory of the shapes given. */\ntypedef struct %s_outputs {\n", P);
    for (int i = 0; i < b->noutputs; i++) field_decl(b, h, b->outputs[i].name, &b->outputs[i].value->type, 0);
    if (!b->noutputs) fprintf(h, "    char none; /* the model has no output */\n");
    fprintf(h, "} %s_outputs;\n", P);

    if (g->train.m) {
        const IrModule *t = g->train.m;
        fprintf(h, "\n/* The targets of the loss, for %s_train_step. */\ntypedef struct %s_targets {\n", P, P);
        for (int i = 0; i < t->ntargets; i++) field_decl(t, h, t->targets[i].name, &t->targets[i].value->type, 1);
        if (!t->ntargets) fprintf(h, "    char none; /* the loss has no target */\n");
        fprintf(h, "} %s_targets;\n", P);
    }

    fprintf(h, "\n/* Makes a model for batches of up to max->batch and sequences of up to the\n"
               " * lengths in *max, which size its working memory (all of it allocated here).\n"
               " * %s.  On failure *model is NULL and\n"
               " * err (if not NULL) receives the message. */\n"
               "int %s_create(%s_model **model, const %s_sizes *max, char *err, size_t errlen);\n"
               "void %s_free(%s_model *m);          /* NULL is fine */\n"
               "const char *%s_errmsg(const %s_model *m); /* the last error's message, \"\" if none */\n",
            g->embedded ? "The weights are the ones embedded in the file" : "Load the weights before running it",
            P, P, P, P, P, P, P);
    fprintf(h, "\n/* Reads the weights from a safetensors file (F32 tensors under the\n"
               " * parameters' names, as `rnnc init` and `rnnc train` write them; other\n"
               " * tensors are ignored).  The whole file is checked first: on an error\n"
               " * the model keeps the weights it had.%s */\n"
               "int %s_load_weights(%s_model *m, const char *path);\n"
               "/* Writes the current weights as a safetensors file `rnnc run -w` reads. */\n"
               "int %s_save_weights(%s_model *m, const char *path);\n",
            g->train.m ? "  Loading resets the optimizer state and the step count." : "", P, P, P, P);
    fprintf(h, "\n/* The forward pass over whole sequences, from the initial state: the\n"
               " * sizes of this call (each within the maxima), the inputs, the outputs. */\n"
               "int %s_forward(%s_model *m, const %s_sizes *n, const %s_inputs *in, %s_outputs *out);\n",
            P, P, P, P, P);
    if (g->step.m)
        fprintf(h, "\n/* One time step for a batch of `batch` sequences: reads one step of each\n"
                   " * input ([B, ...]), writes one step of each output, and keeps the recurrent\n"
                   " * state in the model for the next call.  Steps 0..T-1 give what %s_forward\n"
                   " * gives over T steps.  A call with another batch size starts afresh. */\n"
                   "int %s_step(%s_model *m, int64_t batch, const %s_inputs *in, %s_outputs *out);\n",
                P, P, P, P, P);
    fprintf(h, "/* Forgets the recurrent state%s: the next call starts from the model's\n"
               " * initial state. */\nvoid %s_reset(%s_model *m);\n",
            g->step.m && g->train.m && g->o->tbptt ? " of %s_step and of %s_train_step" : "", P, P);
    if (g->train.m)
        fprintf(h, "\n/* One training step on a batch: the loss, its gradient by backpropagation\n"
                   " * through time, clipping and the optimizer update of the weights inside the\n"
                   " * model (the settings are the model's train block's, see the .c file's\n"
                   " * first comment).  *loss (if not NULL) receives the loss before the update.%s */\n"
                   "int %s_train_step(%s_model *m, const %s_sizes *n, const %s_inputs *in, const %s_targets *tg, float *loss);\n"
                   "float %s_grad_norm(const %s_model *m);    /* the last step's gradient norm, before clipping */\n"
                   "int64_t %s_steps_done(const %s_model *m); /* updates since the weights were loaded */\n",
                g->o->tbptt ? "\n * Truncated BPTT: the recurrent state carries over to the next call (its\n"
                              " * sequences continue this call's) until %s_reset or another batch size." : "",
                P, P, P, P, P, P, P, P, P);
    fprintf(h, "\n/* The parameters, in state_dict order: i in [0, %s_num_params()). */\n"
               "int %s_num_params(void);\n"
               "const char *%s_param_name(int i);        /* \"h.weight_ih_l0\"; NULL out of range */\n"
               "int %s_param_rank(int i);\n"
               "const int64_t *%s_param_dims(int i);      /* rank values */\n"
               "int64_t %s_param_numel(int i);\n"
               "const float *%s_param_data(const %s_model *m, int i); /* the current values; NULL before weights */\n",
            P, P, P, P, P, P, P, P);
}

/* ---- definitions ----------------------------------------------------------------- */

static void state_fields(const CGen *g)
{
    const IrModule *b = g->base;
    int np = at_least_1(b->nparams);
    out(g, "\nstruct %s_model {\n"
           "    %s_sizes max;                /* the maxima given to %s_create */\n"
           "    char err[512];               /* the last error */\n"
           "    unsigned char *arena_mem;    /* malloc'd; arena is it aligned to 64 bytes */\n"
           "    void *arena;                 /* every kernel's temporaries */\n"
           "    int have_weights;\n"
           "    const float *w[%d];           /* the weights the kernels read */\n"
           "    float *own[%d][%d];            /* the model's copies; with training two, used in turn */\n"
           "    int cur;                     /* own[cur] holds the weights */\n",
        g->P, g->P, g->P, np, g->train.m ? 2 : 1, np);
    if (g->step.m)
        out(g, "    /* step: the recurrent state, in two buffers each, read [step_cur] and write the other */\n"
               "    float *step_state[2][%d];\n    int step_cur, step_fresh;\n    int64_t step_batch;\n    float step_reset;\n",
            at_least_1(count(g->step.m, is_carry)));
    if (g->train.m)
        out(g, "    /* training: optimizer state (as the weights, [cur] current), carried state */\n"
               "    float *opt[2][%d];\n    float *train_state[2][%d];\n    int train_cur, train_fresh;\n    int64_t train_batch;\n"
               "    float train_reset, step_number, loss, grad_norm;\n    int64_t steps_done;\n",
            at_least_1(count(g->train.m, is_opt)), at_least_1(count(g->train.m, is_carry)));
    out(g, "};\n");
}

static void tables(const CGen *g)
{
    const IrModule *b = g->base;
    int np = at_least_1(b->nparams);
    out(g, "\n/* The parameters: names, shapes, sizes. */\nstatic const char *const %s_pnames[%d] = {", g->P, np);
    for (int i = 0; i < b->nparams; i++) out(g, "%s\"%s\"", i ? ", " : "", b->params[i].name);
    if (!b->nparams) out(g, "\"\"");
    out(g, "};\nstatic const int %s_pranks[%d] = {", g->P, np);
    for (int i = 0; i < b->nparams; i++) out(g, "%s%d", i ? ", " : "", b->params[i].value->type.rank);
    if (!b->nparams) out(g, "0");
    out(g, "};\nstatic const int64_t %s_pdims[%d][%d] = {", g->P, np, IR_MAX_RANK);
    for (int i = 0; i < b->nparams; i++) {
        const IrType *t = &b->params[i].value->type;
        out(g, "%s{", i ? ", " : "");
        for (int d = 0; d < IR_MAX_RANK; d++) out(g, "%s%lld", d ? ", " : "", (long long)(d < t->rank ? t->dim[d] : 0));
        out(g, "}");
    }
    if (!b->nparams) out(g, "{0}");
    out(g, "};\nstatic const int64_t %s_pnumel[%d] = {", g->P, np);
    for (int i = 0; i < b->nparams; i++) out(g, "%s%lld", i ? ", " : "", (long long)cg_static_numel(&b->params[i].value->type));
    if (!b->nparams) out(g, "0");
    out(g, "};\nenum { %s_NPARAMS = %d };\n", g->P, b->nparams);
}

static void helpers(const CGen *g)
{
    const char *P = g->P;
    const IrModule *b = g->base;
    out(g, "\nstatic int %s_fail(%s_model *m, int code, const char *fmt, ...)\n{\n"
           "    va_list ap;\n    va_start(ap, fmt);\n    vsnprintf(m->err, sizeof m->err, fmt, ap);\n    va_end(ap);\n    return code;\n}\n",
        P, P);
    out(g, "\nstatic float *%s_falloc(size_t n) { return calloc(n ? n : 1, sizeof(float)); }\n", P);
    out(g, "\ntypedef int %s_kernel(const int64_t *, const void *const *, void *const *, void *, char *, size_t);\n", P);
    out(g, "\n/* Runs a kernel; its only failure is bad data (a token id out of range). */\n"
           "static int %s_call(%s_model *m, const char *fn, %s_kernel *k, const int64_t *sym, const void *const *arg, void *const *res)\n{\n"
           "    char kerr[256] = \"\";\n"
           "    if (k(sym, arg, res, m->arena, kerr, sizeof kerr)) return %s_fail(m, %s_ERR_DATA, \"%%s: %%s\", fn, kerr);\n"
           "    m->err[0] = '\\0';\n    return %s_OK;\n}\n",
        P, P, P, P, P, P);
    /* The sizes of a call, within the maxima. */
    out(g, "\nstatic int %s_check(%s_model *m, const char *fn, const %s_sizes *n)\n{\n"
           "    if (!m->have_weights) return %s_fail(m, %s_ERR_STATE, \"%%s: the model has no weights: call %s_load_weights first\", fn);\n"
           "    if (!n) return %s_fail(m, %s_ERR_ARG, \"%%s: the sizes are NULL\", fn);\n",
        P, P, P, P, P, P, P, P);
    for (int s = 0; s < b->nsyms; s++) {
        const char *f = cg_sym_field(b, s);
        out(g, "    if (n->%s < 1 || n->%s > m->max.%s)\n"
               "        return %s_fail(m, %s_ERR_ARG, \"%%s: %s = %%lld is outside [1, %%lld], the maximum given to %s_create\", fn,\n"
               "                       (long long)n->%s, (long long)m->max.%s);\n",
            f, f, f, P, P, f, P, f, f);
    }
    out(g, "    return %s_OK;\n}\n", P);
    char f[200];
    out(g, "\nstatic int %s_check_in(%s_model *m, const char *fn, const %s_inputs *in)\n{\n"
           "    if (!in) return %s_fail(m, %s_ERR_ARG, \"%%s: the inputs are NULL\", fn);\n",
        P, P, P, P, P);
    for (int i = 0; i < b->ninputs; i++)
        out(g, "    if (!in->%s) return %s_fail(m, %s_ERR_ARG, \"%%s: input '%s' is NULL\", fn);\n", cg_field(b->inputs[i].name, f, sizeof f), P, P, b->inputs[i].name);
    if (!b->ninputs) out(g, "    (void)fn;\n");
    out(g, "    return %s_OK;\n}\n", P);
    out(g, "\nstatic int %s_check_out(%s_model *m, const char *fn, const %s_outputs *out)\n{\n"
           "    if (!out) return %s_fail(m, %s_ERR_ARG, \"%%s: the outputs are NULL\", fn);\n",
        P, P, P, P, P);
    for (int i = 0; i < b->noutputs; i++)
        out(g, "    if (!out->%s) return %s_fail(m, %s_ERR_ARG, \"%%s: output '%s' is NULL\", fn);\n", cg_field(b->outputs[i].name, f, sizeof f), P, P, b->outputs[i].name);
    if (!b->noutputs) out(g, "    (void)fn;\n");
    out(g, "    return %s_OK;\n}\n", P);
}

/* `int64_t sym[] = {...}` of variant v with sizes read from `sizes`. */
static void sym_array(const CGen *g, const CVar *v, const char *sizes, const char *name)
{
    out(g, "int64_t %s[%d] = {", name, at_least_1(v->m->nsyms));
    for (int s = 0; s < v->m->nsyms; s++) out(g, "%s%s%s", s ? ", " : "", sizes, cg_sym_field(v->m, s));
    out(g, "};\n");
}

/* Declares arg[] and res[] of variant v and fills them. */
static int fill_slots(const CGen *g, const CVar *v, char *err, size_t errlen)
{
    char e[300];
    out(g, "    const void *arg[%d];\n    void *res[%d];\n", at_least_1(v->f->nargs), at_least_1(v->f->nresults));
    for (int i = 0; i < v->f->nargs; i++) {
        if (bind(g, v, v->f->args[i]->ext_name, 0, e, sizeof e, err, errlen)) return -1;
        out(g, "    arg[%d] = %s; /* %s */\n", i, e, v->f->args[i]->ext_name);
    }
    for (int i = 0; i < v->f->nresults; i++) {
        if (bind(g, v, v->f->results[i]->ext_name, 1, e, sizeof e, err, errlen)) return -1;
        out(g, "    res[%d] = %s; /* %s */\n", i, e, v->f->results[i]->ext_name);
    }
    return 0;
}

static void create_fn(const CGen *g)
{
    const char *P = g->P;
    const IrModule *b = g->base;
    char sz[300];
    out(g, "\nint %s_create(%s_model **model, const %s_sizes *max, char *err, size_t errlen)\n{\n"
           "    %s_model *m;\n    size_t bytes = 0, a;\n", P, P, P, P);
    out(g, "    if (model) *model = NULL;\n"
           "    if (!model || !max) {\n        if (err && errlen) snprintf(err, errlen, \"%s_create: NULL argument\");\n        return %s_ERR_ARG;\n    }\n",
        P, P);
    for (int s = 0; s < b->nsyms; s++)
        out(g, "    if (max->%s < 1) {\n        if (err && errlen) snprintf(err, errlen, \"%s_create: the maximum %s must be at least 1, not %%lld\", (long long)max->%s);\n"
               "        return %s_ERR_ARG;\n    }\n",
            cg_sym_field(b, s), P, cg_sym_field(b, s), cg_sym_field(b, s), P);
    out(g, "    m = calloc(1, sizeof *m);\n    if (!m) goto nomem;\n    m->max = *max;\n");
    out(g, "    /* One arena for every kernel: the most any of them needs at the maxima. */\n");
    const CVar *vars[3] = { &g->fwd, &g->step, &g->train };
    for (int k = 0; k < 3; k++) {
        if (!vars[k]->m) continue;
        out(g, "    {\n        ");
        sym_array(g, vars[k], "max->", "sym");
        out(g, "        a = %s(sym);\n        if (a > bytes) bytes = a;\n    }\n", vars[k]->arena);
    }
    out(g, "    if (bytes > (size_t)-1 - 64) goto nomem;\n"
           "    m->arena_mem = malloc(bytes + 64);\n    if (!m->arena_mem) goto nomem;\n"
           "    m->arena = m->arena_mem + (64 - (size_t)((uintptr_t)m->arena_mem %% 64)) %% 64;\n");
    /* Weights: own copies unless they are embedded and never change. */
    int sets = g->train.m ? 2 : 1;
    if (g->embedded) {
        out(g, "    /* The embedded weights%s. */\n", g->train.m ? ", copied: training changes them" : ", read in place");
        for (int i = 0; i < b->nparams; i++) {
            if (g->train.m)
                out(g, "    if (!(m->own[0][%d] = %s_falloc(%lld))) goto nomem;\n"
                       "    memcpy(m->own[0][%d], %s_embedded_%d, sizeof(float) * %lld);\n    m->w[%d] = m->own[0][%d];\n",
                    i, P, (long long)cg_static_numel(&b->params[i].value->type), i, P, i,
                    (long long)cg_static_numel(&b->params[i].value->type), i, i);
            else
                out(g, "    m->w[%d] = %s_embedded_%d;\n", i, P, i);
        }
        out(g, "    m->have_weights = 1;\n");
    }
    if (!g->embedded || g->train.m) {
        out(g, "    for (int s = %d; s < %d; s++)\n        for (int i = 0; i < %s_NPARAMS; i++)\n"
               "            if (!(m->own[s][i] = %s_falloc((size_t)%s_pnumel[i]))) goto nomem;\n",
            g->embedded ? 1 : 0, sets, P, P, P);
        if (!g->embedded) out(g, "    for (int i = 0; i < %s_NPARAMS; i++) m->w[i] = m->own[0][i];\n", P);
    }
    if (g->step.m) {
        const IrModule *s = g->step.m;
        out(g, "    /* The step's recurrent state, for max->batch sequences. */\n");
        for (int i = 0; i < s->ninputs; i++) {
            int k = slot(s, is_carry, s->inputs[i].name);
            if (k < 0) continue;
            cg_numel(s, &s->inputs[i].value->type, "max->", sz, sizeof sz);
            out(g, "    if (!(m->step_state[0][%d] = %s_falloc(%s)) || !(m->step_state[1][%d] = %s_falloc(%s))) goto nomem;\n",
                k, P, sz, k, P, sz);
        }
        out(g, "    m->step_fresh = 1;\n");
    }
    if (g->train.m) {
        const IrModule *t = g->train.m;
        out(g, "    /* Optimizer state (zeros before the first step) and the carried state. */\n");
        for (int i = 0; i < t->ninputs; i++) {
            const char *name = t->inputs[i].name;
            int k = slot(t, is_opt, name), c = slot(t, is_carry, name);
            if (k < 0 && c < 0) continue;
            cg_numel(t, &t->inputs[i].value->type, "max->", sz, sizeof sz);
            const char *arr = k >= 0 ? "opt" : "train_state";
            out(g, "    if (!(m->%s[0][%d] = %s_falloc(%s)) || !(m->%s[1][%d] = %s_falloc(%s))) goto nomem; /* %s */\n",
                arr, k >= 0 ? k : c, P, sz, arr, k >= 0 ? k : c, P, sz, name);
        }
        out(g, "    m->train_fresh = 1;\n");
    }
    out(g, "    *model = m;\n    return %s_OK;\nnomem:\n    %s_free(m);\n"
           "    if (err && errlen) snprintf(err, errlen, \"%s_create: out of memory\");\n    return %s_ERR_NOMEM;\n}\n",
        P, P, P, P);

    out(g, "\nvoid %s_free(%s_model *m)\n{\n    if (!m) return;\n    for (int s = 0; s < %d; s++)\n"
           "        for (int i = 0; i < %s_NPARAMS; i++) free(m->own[s][i]);\n",
        P, P, sets, P);
    if (g->step.m)
        out(g, "    for (int i = 0; i < %d; i++) {\n        free(m->step_state[0][i]);\n        free(m->step_state[1][i]);\n    }\n",
            count(g->step.m, is_carry));
    if (g->train.m)
        out(g, "    for (int i = 0; i < %d; i++) {\n        free(m->opt[0][i]);\n        free(m->opt[1][i]);\n    }\n"
               "    for (int i = 0; i < %d; i++) {\n        free(m->train_state[0][i]);\n        free(m->train_state[1][i]);\n    }\n",
            count(g->train.m, is_opt), count(g->train.m, is_carry));
    out(g, "    free(m->arena_mem);\n    free(m);\n}\n");
    out(g, "\nconst char *%s_errmsg(const %s_model *m) { return m ? m->err : \"no model (NULL)\"; }\n", P, P);
}

static void weights_fns(const CGen *g)
{
    const char *P = g->P;
    out(g, "\nint %s_load_weights(%s_model *m, const char *path)\n{\n"
           "    st_want want[%d];\n    int rc, partial;\n"
           "    if (!m) return %s_ERR_ARG;\n"
           "    if (!path) return %s_fail(m, %s_ERR_ARG, \"%s_load_weights: the path is NULL\");\n",
        P, P, at_least_1(g->base->nparams), P, P, P, P);
    if (g->embedded && !g->train.m)
        out(g, "    /* The weights were read in place from the embedded arrays: copies now. */\n"
               "    for (int i = 0; i < %s_NPARAMS; i++)\n"
               "        if (!m->own[0][i] && !(m->own[0][i] = %s_falloc((size_t)%s_pnumel[i])))\n"
               "            return %s_fail(m, %s_ERR_NOMEM, \"%s_load_weights: out of memory\");\n",
            P, P, P, P, P, P);
    out(g, "    for (int i = 0; i < %s_NPARAMS; i++) {\n"
           "        want[i].name = %s_pnames[i];\n        want[i].rank = %s_pranks[i];\n"
           "        want[i].dims = %s_pdims[i];\n        want[i].data = m->own[m->cur][i];\n    }\n"
           "    rc = st_load(path, want, %s_NPARAMS, &partial, m->err, sizeof m->err);\n"
           "    if (rc) {\n        if (partial) m->have_weights = 0; /* half read: unusable */\n        return rc;\n    }\n"
           "    for (int i = 0; i < %s_NPARAMS; i++) m->w[i] = m->own[m->cur][i];\n"
           "    m->have_weights = 1;\n",
        P, P, P, P, P, P);
    if (g->train.m) {
        out(g, "    /* New weights: the optimizer starts afresh. */\n");
        const IrModule *t = g->train.m;
        for (int i = 0; i < t->ninputs; i++) {
            int k = slot(t, is_opt, t->inputs[i].name);
            if (k >= 0)
                out(g, "    memset(m->opt[m->cur][%d], 0, sizeof(float) * %lld);\n", k,
                    (long long)cg_static_numel(&t->inputs[i].value->type));
        }
        out(g, "    m->steps_done = 0;\n");
    }
    out(g, "    %s_reset(m);\n    m->err[0] = '\\0';\n    return %s_OK;\n}\n", P, P);

    out(g, "\nint %s_save_weights(%s_model *m, const char *path)\n{\n"
           "    st_want have[%d];\n    char err[512];\n    int rc;\n"
           "    if (!m) return %s_ERR_ARG;\n"
           "    if (!path) return %s_fail(m, %s_ERR_ARG, \"%s_save_weights: the path is NULL\");\n"
           "    if (!m->have_weights) return %s_fail(m, %s_ERR_STATE, \"%s_save_weights: the model has no weights\");\n"
           "    for (int i = 0; i < %s_NPARAMS; i++) {\n"
           "        have[i].name = %s_pnames[i];\n        have[i].rank = %s_pranks[i];\n"
           "        have[i].dims = %s_pdims[i];\n        have[i].data = NULL;\n    }\n"
           "    rc = st_save(path, have, m->w, %s_NPARAMS, err, sizeof err);\n"
           "    if (rc) snprintf(m->err, sizeof m->err, \"%%s\", err);\n"
           "    return rc;\n}\n",
        P, P, at_least_1(g->base->nparams), P, P, P, P, P, P, P, P, P, P, P, P);

    out(g, "\nint %s_num_params(void) { return %s_NPARAMS; }\n"
           "const char *%s_param_name(int i) { return i >= 0 && i < %s_NPARAMS ? %s_pnames[i] : NULL; }\n"
           "int %s_param_rank(int i) { return i >= 0 && i < %s_NPARAMS ? %s_pranks[i] : -1; }\n"
           "const int64_t *%s_param_dims(int i) { return i >= 0 && i < %s_NPARAMS ? %s_pdims[i] : NULL; }\n"
           "int64_t %s_param_numel(int i) { return i >= 0 && i < %s_NPARAMS ? %s_pnumel[i] : -1; }\n"
           "const float *%s_param_data(const %s_model *m, int i)\n{\n"
           "    return m && m->have_weights && i >= 0 && i < %s_NPARAMS ? m->w[i] : NULL;\n}\n",
        P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P);
}

static int forward_fn(const CGen *g, char *err, size_t errlen)
{
    const char *P = g->P;
    out(g, "\nint %s_forward(%s_model *m, const %s_sizes *n, const %s_inputs *in, %s_outputs *out)\n{\n"
           "    int rc;\n    if (!m) return %s_ERR_ARG;\n"
           "    if ((rc = %s_check(m, \"%s_forward\", n)) || (rc = %s_check_in(m, \"%s_forward\", in)) ||\n"
           "        (rc = %s_check_out(m, \"%s_forward\", out)))\n        return rc;\n    ",
        P, P, P, P, P, P, P, P, P, P, P, P);
    sym_array(g, &g->fwd, "n->", "sym");
    if (fill_slots(g, &g->fwd, err, errlen)) return -1;
    out(g, "    return %s_call(m, \"%s_forward\", %s, sym, arg, res);\n}\n", P, P, g->fwd.fn);
    return 0;
}

/* Zeroes the state a call reads ([cur]) when it starts afresh: the reset
 * input multiplies it by 0, which would keep a NaN left from before. */
static void zero_state(const CGen *g, const CVar *v, const char *state, const char *sizes)
{
    char sz[300];
    for (int i = 0; i < v->m->ninputs; i++) {
        int k = slot(v->m, is_carry, v->m->inputs[i].name);
        if (k < 0) continue;
        cg_numel(v->m, &v->m->inputs[i].value->type, sizes, sz, sizeof sz);
        out(g, "        memset(m->%s_state[m->%s_cur][%d], 0, sizeof(float) * %s);\n", state, state, k, sz);
    }
}

static int step_fn(const CGen *g, char *err, size_t errlen)
{
    const char *P = g->P;
    out(g, "\nint %s_step(%s_model *m, int64_t batch, const %s_inputs *in, %s_outputs *out)\n{\n"
           "    int rc;\n    %s_sizes n;\n    if (!m) return %s_ERR_ARG;\n"
           "    n = m->max;\n    n.batch = batch;\n"
           "    if ((rc = %s_check(m, \"%s_step\", &n)) || (rc = %s_check_in(m, \"%s_step\", in)) ||\n"
           "        (rc = %s_check_out(m, \"%s_step\", out)))\n        return rc;\n"
           "    if (m->step_fresh || batch != m->step_batch) {\n",
        P, P, P, P, P, P, P, P, P, P, P, P);
    zero_state(g, &g->step, "step", "n.");
    out(g, "        m->step_reset = 1.0f;\n        m->step_batch = batch;\n    } else {\n        m->step_reset = 0.0f;\n    }\n    ");
    sym_array(g, &g->step, "n.", "sym");
    if (fill_slots(g, &g->step, err, errlen)) return -1;
    out(g, "    if ((rc = %s_call(m, \"%s_step\", %s, sym, arg, res))) return rc;\n"
           "    m->step_cur ^= 1;\n    m->step_fresh = 0;\n    return %s_OK;\n}\n",
        P, P, g->step.fn, P);
    return 0;
}

static int train_fn(const CGen *g, char *err, size_t errlen)
{
    const char *P = g->P;
    const IrModule *t = g->train.m;
    char f[200];
    out(g, "\nint %s_train_step(%s_model *m, const %s_sizes *n, const %s_inputs *in, const %s_targets *tg, float *loss)\n{\n"
           "    int rc;\n    if (!m) return %s_ERR_ARG;\n"
           "    if ((rc = %s_check(m, \"%s_train_step\", n)) || (rc = %s_check_in(m, \"%s_train_step\", in))) return rc;\n"
           "    if (!tg) return %s_fail(m, %s_ERR_ARG, \"%s_train_step: the targets are NULL\");\n",
        P, P, P, P, P, P, P, P, P, P, P, P, P);
    for (int i = 0; i < t->ntargets; i++)
        out(g, "    if (!tg->%s) return %s_fail(m, %s_ERR_ARG, \"%s_train_step: target '%s' is NULL\");\n",
            cg_field(t->targets[i].name, f, sizeof f), P, P, P, t->targets[i].name);
    if (has_input(t, SEGMENT_RESET_INPUT)) {
        out(g, "    /* Truncated BPTT: continue from the last call's state unless told otherwise. */\n"
               "    if (m->train_fresh || n->batch != m->train_batch) {\n");
        zero_state(g, &g->train, "train", "n->");
        out(g, "        m->train_reset = 1.0f;\n        m->train_batch = n->batch;\n    } else {\n        m->train_reset = 0.0f;\n    }\n");
    }
    out(g, "    m->step_number = (float)(m->steps_done + 1); /* Adam's bias correction counts from 1 */\n    ");
    sym_array(g, &g->train, "n->", "sym");
    if (fill_slots(g, &g->train, err, errlen)) return -1;
    out(g, "    if ((rc = %s_call(m, \"%s_train_step\", %s, sym, arg, res))) return rc;\n"
           "    if (!isfinite(m->loss))\n"
           "        return %s_fail(m, %s_ERR_NAN, \"%s_train_step: the loss is %%s at step %%lld: the weights stay as they were\",\n"
           "                       isnan(m->loss) ? \"NaN\" : \"infinite\", (long long)m->steps_done + 1);\n"
           "    /* The new weights and optimizer state were written to the other buffers. */\n"
           "    m->cur ^= 1;\n    for (int i = 0; i < %s_NPARAMS; i++) m->w[i] = m->own[m->cur][i];\n",
        P, P, g->train.fn, P, P, P, P);
    if (has_input(t, SEGMENT_RESET_INPUT)) out(g, "    m->train_cur ^= 1;\n    m->train_fresh = 0;\n");
    out(g, "    m->steps_done++;\n    if (loss) *loss = m->loss;\n    return %s_OK;\n}\n", P);
    out(g, "\nfloat %s_grad_norm(const %s_model *m) { return m ? m->grad_norm : 0.0f; }\n"
           "int64_t %s_steps_done(const %s_model *m) { return m ? m->steps_done : 0; }\n",
        P, P, P, P);
    return 0;
}

static void reset_fn(const CGen *g)
{
    out(g, "\nvoid %s_reset(%s_model *m)\n{\n    if (!m) return;\n", g->P, g->P);
    if (g->step.m) out(g, "    m->step_fresh = 1;\n");
    if (g->train.m && has_input(g->train.m, SEGMENT_RESET_INPUT)) out(g, "    m->train_fresh = 1;\n");
    out(g, "}\n");
}

int cg_api_defs(const CGen *g, char *err, size_t errlen)
{
    out(g, "\n/* ==== the model API ==== */\n");
    state_fields(g);
    tables(g);
    helpers(g);
    create_fn(g);
    reset_fn(g);
    weights_fns(g);
    if (forward_fn(g, err, errlen)) return -1;
    if (g->step.m && step_fn(g, err, errlen)) return -1;
    if (g->train.m && train_fn(g, err, errlen)) return -1;
    return 0;
}
