/* c_api.c - the model API of a generated C file (docs/c-api.md): the
 * declarations (the header's body), the model's descriptor and the API
 * functions.
 *
 * The functions are model-independent code, runtime/model_api.c, which
 * the file carries as text (or links from librnnrt.a); what is the
 * model's is its descriptor (api_slots.h builds it: among others which
 * buffer fills each argument slot of each kernel), written here as static
 * data, and the NAME_* functions, which turn the caller's structs into
 * arrays and call the runtime with it.  An object file of --emit=obj has
 * the same descriptor and functions as LLVM IR (llvm_api.c). */
#include <stdarg.h>
#include <string.h>

#include "target/api_slots.h"
#include "target/c/c_gen.h"

static int at_least_1(int n) { return n > 0 ? n : 1; }

static void out(const CGen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(const CGen *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(g->c, fmt, ap);
    va_end(ap);
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
    fprintf(h,
            "\n/* Every function that can fail returns one of these; %s_errmsg() says what\n"
            " * went wrong, naming the function (and the file, for weights). */\n"
            "enum {\n"
            "    %s_OK = 0,\n"
            "    %s_ERR_ARG = 1,     /* a NULL pointer, a size outside [1, maximum] */\n"
            "    %s_ERR_NOMEM = 2,   /* out of memory */\n"
            "    %s_ERR_IO = 3,      /* a file cannot be opened, read or written */\n"
            "    %s_ERR_FORMAT = 4,  /* a malformed safetensors file */\n"
            "    %s_ERR_WEIGHTS = 5, /* weights that do not fit: a missing tensor, another shape or dtype */\n"
            "    %s_ERR_DATA = 6,    /* bad input data: a token id out of range, a length */\n"
            "    %s_ERR_NAN = 7,     /* training: the loss is not finite (the weights stay as they were) */\n"
            "    %s_ERR_STATE = 8    /* no weights yet: call %s_load_weights first */\n"
            "};\n",
            P, P, P, P, P, P, P, P, P, P, P);
    fprintf(h,
            "\n/* One model: its weights, its working memory and its state.  Models are\n"
            " * independent; one model must not be used by two threads at once. */\n"
            "typedef struct %s_model %s_model;\n",
            P, P);

    fprintf(h,
            "\n/* Sizes: the batch and the length of each sequence.  Arrays are time-major\n"
            " * and packed for the actual sizes: an input [T, B, F] holds T*B*F values. */\n"
            "typedef struct %s_sizes {\n    int64_t batch; /* B */\n",
            P);
    for (int s = 1; s < b->nsyms; s++) fprintf(h, "    int64_t %s; /* a sequence length */\n", b->syms[s].name);
    fprintf(h, "} %s_sizes;\n", P);

    fprintf(h, "\n/* The inputs (%s_step: one time step, so T = 1 in every shape). */\ntypedef struct %s_inputs {\n", P,
            P);
    for (int i = 0; i < b->ninputs; i++) {
        char f[200], sym[64];
        if (b->inputs[i].role != IR_ROLE_LENGTHS) {
            field_decl(b, h, b->inputs[i].name, &b->inputs[i].value->type, 1);
            continue;
        }
        /* the caller's lengths, of which the API makes the mask the kernels read */
        snprintf(sym, sizeof sym, "%s", cg_sym_field(b, (int)(-b->inputs[i].value->type.dim[0] - 1)));
        fprintf(h, "    const int64_t *%s; /* [B] each example's length in 1..%s",
                cg_field(b->inputs[i].name, f, sizeof f), sym);
        if (g->step.m)
            fprintf(h,
                    "; in %s_step 1, or 0\n"
                    "                          for an example with no step now (NULL: 1 for all)",
                    P);
        fprintf(h, " */\n");
    }
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

    fprintf(h,
            "\n/* Makes a model for batches of up to max->batch and sequences of up to the\n"
            " * lengths in *max, which size its working memory (all of it allocated here).\n"
            " * %s.  On failure *model is NULL and\n"
            " * err (if not NULL) receives the message. */\n"
            "int %s_create(%s_model **model, const %s_sizes *max, char *err, size_t errlen);\n"
            "void %s_free(%s_model *m);          /* NULL is fine */\n"
            "const char *%s_errmsg(const %s_model *m); /* the last error's message, \"\" if none */\n",
            g->embedded ? "The weights are the ones embedded in the file" : "Load the weights before running it", P, P,
            P, P, P, P, P);
    fprintf(h,
            "\n/* Reads the weights from a safetensors file (F32 tensors under the\n"
            " * parameters' names, as `rnnc init` and `rnnc train` write them; other\n"
            " * tensors are ignored).  The whole file is checked first: on an error\n"
            " * the model keeps the weights it had.%s */\n"
            "int %s_load_weights(%s_model *m, const char *path);\n"
            "/* Writes the current weights as a safetensors file `rnnc run -w` reads. */\n"
            "int %s_save_weights(%s_model *m, const char *path);\n",
            g->train.m ? "  Loading resets the optimizer state and the step count." : "", P, P, P, P);
    fprintf(h,
            "\n/* The forward pass over whole sequences, from the initial state: the\n"
            " * sizes of this call (each within the maxima), the inputs, the outputs. */\n"
            "int %s_forward(%s_model *m, const %s_sizes *n, const %s_inputs *in, %s_outputs *out);\n",
            P, P, P, P, P);
    if (g->step.m)
        fprintf(h,
                "\n/* One time step for a batch of `batch` sequences: reads one step of each\n"
                " * input ([B, ...]), writes one step of each output, and keeps the recurrent\n"
                " * state in the model for the next call.  Steps 0..T-1 give what %s_forward\n"
                " * gives over T steps.  A call with another batch size starts afresh. */\n"
                "int %s_step(%s_model *m, int64_t batch, const %s_inputs *in, %s_outputs *out);\n",
                P, P, P, P, P);
    if (g->step.m && api_has_reset(g->step.m) == 2)
        fprintf(h,
                "/* Example b of the batch (0 <= b < max->batch) starts afresh at the next\n"
                " * %s_step, from the model's initial state; the others continue.  A server\n"
                " * starts a new stream in slot b with it. */\n"
                "int %s_reset_example(%s_model *m, int64_t b);\n",
                P, P, P);
    fprintf(h,
            "/* Forgets the recurrent state%s: the next call starts from the model's\n"
            " * initial state. */\nvoid %s_reset(%s_model *m);\n",
            g->step.m && g->train.m && g->o->tbptt ? " of %s_step and of %s_train_step" : "", P, P);
    if (g->train.m) {
        /* the tbptt sentence names NAME_reset, so it is formatted first */
        char tbptt_note[256] = "";
        if (g->o->tbptt)
            snprintf(tbptt_note, sizeof tbptt_note,
                     "\n * Truncated BPTT: the recurrent state carries over to the next call (its\n"
                     " * sequences continue this call's) until %s_reset or another batch size.",
                     P);
        fprintf(h,
                "\n/* One training step on a batch: the loss, its gradient by backpropagation\n"
                " * through time, clipping and the optimizer update of the weights inside the\n"
                " * model (the settings are the model's train block's, see the .c file's\n"
                " * first comment).  *loss (if not NULL) receives the loss before the update.%s */\n"
                "int %s_train_step(%s_model *m, const %s_sizes *n, const %s_inputs *in, const %s_targets *tg, float "
                "*loss);\n"
                "float %s_grad_norm(const %s_model *m);    /* the last step's gradient norm, before clipping */\n"
                "int64_t %s_steps_done(const %s_model *m); /* updates since the weights were loaded */\n"
                "/* The seed of the dropout masks (rnnc train --seed): 0 until set. */\n"
                "void %s_set_seed(%s_model *m, int64_t seed);\n",
                tbptt_note, P, P, P, P, P, P, P, P, P, P, P);
    }
    fprintf(h,
            "\n/* The parameters, in state_dict order: i in [0, %s_num_params()). */\n"
            "int %s_num_params(void);\n"
            "const char *%s_param_name(int i);        /* \"h.weight_ih_l0\"; NULL out of range */\n"
            "int %s_param_rank(int i);\n"
            "const int64_t *%s_param_dims(int i);      /* rank values */\n"
            "int64_t %s_param_numel(int i);\n"
            "const float *%s_param_data(const %s_model *m, int i); /* the current values; NULL before weights */\n",
            P, P, P, P, P, P, P, P);
}

/* ---- definitions: the descriptor and the functions -------------------------------- */

static void i64_array(const CGen *g, const char *name, const int64_t *v, int n)
{
    if (n <= 0) return;
    out(g, "static const int64_t %s_desc_%s[%d] = {", g->P, name, n);
    for (int i = 0; i < n; i++) out(g, "%s%lld", i ? ", " : "", (long long)v[i]);
    out(g, "};\n");
}

static void str_array(const CGen *g, const char *name, const char *const *v, int n)
{
    if (n <= 0) return;
    out(g, "static const char *const %s_desc_%s[%d] = {", g->P, name, n);
    for (int i = 0; i < n; i++) out(g, "%s\"%s\"", i ? ", " : "", v[i]);
    out(g, "};\n");
}

/* "P_desc_name", or "NULL" for an empty table. */
static const char *ref(const CGen *g, const char *name, int n, char *buf, size_t len)
{
    if (n <= 0) return "NULL";
    snprintf(buf, len, "%s_desc_%s", g->P, name);
    return buf;
}

static void kernel_tables(const CGen *g, const ApiKernel *k, const char *kind)
{
    char name[64];
    if (!k->m) return;
    snprintf(name, sizeof name, "%s_sym", kind);
    i64_array(g, name, k->sym, k->nsyms);
    snprintf(name, sizeof name, "%s_args", kind);
    i64_array(g, name, k->args, 2 * k->f->nargs);
    snprintf(name, sizeof name, "%s_results", kind);
    i64_array(g, name, k->results, 2 * k->f->nresults);
    snprintf(name, sizeof name, "%s_carry", kind);
    i64_array(g, name, k->carry, k->ncarry * RNNRT_SHAPE_WORDS);
    snprintf(name, sizeof name, "%s_arena", kind);
    i64_array(g, name, k->arena, k->narena);
    if (k->prep) {
        snprintf(name, sizeof name, "%s_prep_args", kind);
        i64_array(g, name, k->prep_args, 2 * k->prep->nargs);
        snprintf(name, sizeof name, "%s_prep_results", kind);
        i64_array(g, name, k->prep_results, 2 * k->prep->nresults);
    }
}

static void kernel_init(const CGen *g, const ApiKernel *k, const char *kind)
{
    char n[7][64], b[7][200];
    if (!k->m) {
        out(g, "    { NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL },\n");
        return;
    }
    snprintf(n[6], sizeof n[6], "%s_arena", kind);
    snprintf(n[0], sizeof n[0], "%s_sym", kind);
    snprintf(n[1], sizeof n[1], "%s_args", kind);
    snprintf(n[2], sizeof n[2], "%s_results", kind);
    snprintf(n[3], sizeof n[3], "%s_carry", kind);
    snprintf(n[4], sizeof n[4], "%s_prep_args", kind);
    snprintf(n[5], sizeof n[5], "%s_prep_results", kind);
    int pa = k->prep ? k->prep->nargs : 0, pr = k->prep ? k->prep->nresults : 0;
    out(g, "    { %s, %s, %d, %s, %d, %s, %d, %s, %d, %s, %d,\n", k->fn, ref(g, n[6], k->narena, b[6], sizeof b[6]),
        k->nsyms, ref(g, n[0], k->nsyms, b[0], sizeof b[0]), k->f->nargs, ref(g, n[1], k->f->nargs, b[1], sizeof b[1]),
        k->f->nresults, ref(g, n[2], k->f->nresults, b[2], sizeof b[2]), k->ncarry,
        ref(g, n[3], k->ncarry, b[3], sizeof b[3]), k->has_reset);
    out(g, "      %s, %d, %s, %d, %s }, /* %s */\n", k->prep ? k->prep_fn : "NULL", pa,
        ref(g, n[4], pa, b[4], sizeof b[4]), pr, ref(g, n[5], pr, b[5], sizeof b[5]), kind);
}

/* The descriptor as static data: what runtime/model_api.c reads. */
static void descriptor(const CGen *g, const ApiDesc *d)
{
    const char *P = g->P;
    static const char *const kinds[3] = {"forward", "step", "train"};
    char b[10][200];
    out(g, "\n/* The model's descriptor (runtime/model_api.h): sizes, inputs, outputs,\n"
           " * targets, parameters; for each kernel its functions, the sizes it reads,\n"
           " * what fills each argument and result slot ((kind, index) pairs, RNNRT_SLOT_*)\n"
           " * and the shapes of its state (rank, dims; a size as -(field + 1)). */\n");
    str_array(g, "size_names", d->size_names, d->nsizes);
    str_array(g, "input_names", d->input_names, d->ninputs);
    str_array(g, "output_names", d->output_names, d->noutputs);
    str_array(g, "target_names", d->target_names, d->ntargets);
    str_array(g, "param_names", d->param_names, d->nparams);
    i64_array(g, "param_shapes", d->param_shapes, d->nparams * RNNRT_SHAPE_WORDS);
    i64_array(g, "param_numel", d->param_numel, d->nparams);
    i64_array(g, "opt_shapes", d->opt, d->nopt * RNNRT_SHAPE_WORDS);
    if (d->npacks) {
        int64_t bytes = 0;
        out(g, "/* The weights packed for the products (runtime/sgemm.h), kept by the model:\n");
        for (int p = 0; p < d->npacks; p++) {
            out(g, " *   %s: %lld bytes\n", d->pack_names[p], (long long)(4 * d->pack_floats[p]));
            bytes += 4 * d->pack_floats[p];
        }
        out(g, " * %lld bytes in all, allocated by %s_create. */\n", (long long)bytes, g->P);
    }
    i64_array(g, "pack_floats", d->pack_floats, d->npacks);
    if (g->embedded && d->nparams) {
        out(g, "static const float *const %s_desc_embedded_weights[%d] = {", P, d->nparams);
        for (int i = 0; i < d->nparams; i++) out(g, "%s%s_embedded_%d", i ? ", " : "", P, i);
        out(g, "};\n");
    }
    i64_array(g, "input_kinds", d->input_kinds, d->ninputs);
    i64_array(g, "input_shapes", d->input_shapes, d->ninputs * RNNRT_SHAPE_WORDS);
    i64_array(g, "target_kinds", d->target_kinds, d->ntargets);
    i64_array(g, "target_shapes", d->target_shapes, d->ntargets * RNNRT_SHAPE_WORDS);
    i64_array(g, "output_kinds", d->output_kinds, d->noutputs);
    i64_array(g, "output_shapes", d->output_shapes, d->noutputs * RNNRT_SHAPE_WORDS);
    for (int v = 0; v < 3; v++) kernel_tables(g, &d->k[v], kinds[v]);
    out(g, "static const rnnrt_model_desc %s_desc = {\n    RNNRT_MODEL_DESC_VERSION, \"%s\",\n", P, P);
    out(g, "    %d, %s, %d, %s, %d, %s, %d, %s,\n", d->nsizes, ref(g, "size_names", d->nsizes, b[0], sizeof b[0]),
        d->ninputs, ref(g, "input_names", d->ninputs, b[1], sizeof b[1]), d->noutputs,
        ref(g, "output_names", d->noutputs, b[2], sizeof b[2]), d->ntargets,
        ref(g, "target_names", d->ntargets, b[3], sizeof b[3]));
    out(g, "    %d, %s, %s, %s, %d, %s, %s,\n", d->nparams, ref(g, "param_names", d->nparams, b[4], sizeof b[4]),
        ref(g, "param_shapes", d->nparams, b[5], sizeof b[5]), ref(g, "param_numel", d->nparams, b[6], sizeof b[6]),
        d->nopt, ref(g, "opt_shapes", d->nopt, b[7], sizeof b[7]),
        g->embedded ? ref(g, "embedded_weights", d->nparams, b[8], sizeof b[8]) : "NULL");
    out(g, "    %d, %s,\n", d->npacks, ref(g, "pack_floats", d->npacks, b[9], sizeof b[9]));
    for (int v = 0; v < 3; v++) kernel_init(g, &d->k[v], kinds[v]);
    char c[6][200];
    out(g, "    %s, %s, %s, %s,\n", ref(g, "input_kinds", d->ninputs, c[0], sizeof c[0]),
        ref(g, "input_shapes", d->ninputs, c[1], sizeof c[1]), ref(g, "target_kinds", d->ntargets, c[2], sizeof c[2]),
        ref(g, "target_shapes", d->ntargets, c[3], sizeof c[3]));
    out(g, "    %s, %s\n};\n", ref(g, "output_kinds", d->noutputs, c[4], sizeof c[4]),
        ref(g, "output_shapes", d->noutputs, c[5], sizeof c[5]));
}

/* "const int64_t ns[N] = {n ? n->batch : 0, ...};" */
static void sizes_array(const CGen *g, const char *var, const char *arg)
{
    const IrModule *b = g->base;
    out(g, "    const int64_t %s[%d] = {", var, at_least_1(b->nsyms));
    for (int s = 0; s < b->nsyms; s++) out(g, "%s%s ? %s->%s : 0", s ? ", " : "", arg, arg, cg_sym_field(b, s));
    out(g, "};\n");
}

/* "const void *const ip[N] = {in ? in->x : NULL, ...};" for a struct of pointers. */
static void ptr_array(const CGen *g, const char *decl, const char *var, const char *arg, const IrInput *list, int n)
{
    char f[200];
    out(g, "    %s%s[%d] = {", decl, var, at_least_1(n));
    for (int i = 0; i < n; i++)
        out(g, "%s%s ? %s->%s : NULL", i ? ", " : "", arg, arg, cg_field(list[i].name, f, sizeof f));
    if (!n) out(g, "NULL");
    out(g, "};\n");
}

static void out_array(const CGen *g)
{
    const IrModule *b = g->base;
    char f[200];
    out(g, "    void *const op[%d] = {", at_least_1(b->noutputs));
    for (int i = 0; i < b->noutputs; i++)
        out(g, "%sout ? out->%s : NULL", i ? ", " : "", cg_field(b->outputs[i].name, f, sizeof f));
    if (!b->noutputs) out(g, "NULL");
    out(g, "};\n");
}

static void functions(const CGen *g)
{
    const char *P = g->P;
    const IrModule *b = g->base;
    out(g, "\n/* The API: each function converts its arguments and calls runtime/model_api.c. */\n");
    out(g,
        "int %s_create(%s_model **model, const %s_sizes *max, char *err, size_t errlen)\n{\n"
        "    rnnrt_model *m = NULL;\n    int rc;\n",
        P, P, P);
    sizes_array(g, "mx", "max");
    out(g,
        "    rc = rnnrt_model_create(&%s_desc, model ? &m : NULL, max ? mx : NULL, err, errlen);\n"
        "    if (model) *model = (%s_model *)m;\n    return rc;\n}\n",
        P, P);
    out(g,
        "void %s_free(%s_model *m) { rnnrt_model_free((rnnrt_model *)m); }\n"
        "const char *%s_errmsg(const %s_model *m) { return rnnrt_model_errmsg((const rnnrt_model *)m); }\n"
        "int %s_load_weights(%s_model *m, const char *path) { return rnnrt_model_load_weights((rnnrt_model *)m, path); "
        "}\n"
        "int %s_save_weights(%s_model *m, const char *path) { return rnnrt_model_save_weights((rnnrt_model *)m, path); "
        "}\n"
        "void %s_reset(%s_model *m) { rnnrt_model_reset((rnnrt_model *)m); }\n",
        P, P, P, P, P, P, P, P, P, P);
    out(g, "\nint %s_forward(%s_model *m, const %s_sizes *n, const %s_inputs *in, %s_outputs *out)\n{\n", P, P, P, P,
        P);
    sizes_array(g, "ns", "n");
    ptr_array(g, "const void *const ", "ip", "in", b->inputs, b->ninputs);
    out_array(g);
    out(g, "    return rnnrt_model_forward((rnnrt_model *)m, n ? ns : NULL, in ? ip : NULL, out ? op : NULL);\n}\n");
    if (g->step.m) {
        out(g, "\nint %s_step(%s_model *m, int64_t batch, const %s_inputs *in, %s_outputs *out)\n{\n", P, P, P, P);
        ptr_array(g, "const void *const ", "ip", "in", b->inputs, b->ninputs);
        out_array(g);
        out(g, "    return rnnrt_model_step((rnnrt_model *)m, batch, in ? ip : NULL, out ? op : NULL);\n}\n");
        if (api_has_reset(g->step.m) == 2)
            out(g,
                "int %s_reset_example(%s_model *m, int64_t b) { return rnnrt_model_reset_example((rnnrt_model *)m, "
                "b); }\n",
                P, P);
    }
    if (g->train.m) {
        const IrModule *t = g->train.m;
        out(g,
            "\nint %s_train_step(%s_model *m, const %s_sizes *n, const %s_inputs *in, const %s_targets *tg, float "
            "*loss)\n{\n",
            P, P, P, P, P);
        sizes_array(g, "ns", "n");
        ptr_array(g, "const void *const ", "ip", "in", b->inputs, b->ninputs);
        ptr_array(g, "const void *const ", "tp", "tg", t->targets, t->ntargets);
        out(g, "    return rnnrt_model_train_step((rnnrt_model *)m, n ? ns : NULL, in ? ip : NULL, tg ? tp : NULL, "
               "loss);\n}\n");
        out(g,
            "float %s_grad_norm(const %s_model *m) { return rnnrt_model_grad_norm((const rnnrt_model *)m); }\n"
            "int64_t %s_steps_done(const %s_model *m) { return rnnrt_model_steps_done((const rnnrt_model *)m); }\n"
            "void %s_set_seed(%s_model *m, int64_t seed) { rnnrt_model_set_seed((rnnrt_model *)m, seed); }\n",
            P, P, P, P, P, P);
    }
    out(g,
        "\nint %s_num_params(void) { return rnnrt_model_num_params(&%s_desc); }\n"
        "const char *%s_param_name(int i) { return rnnrt_model_param_name(&%s_desc, i); }\n"
        "int %s_param_rank(int i) { return rnnrt_model_param_rank(&%s_desc, i); }\n"
        "const int64_t *%s_param_dims(int i) { return rnnrt_model_param_dims(&%s_desc, i); }\n"
        "int64_t %s_param_numel(int i) { return rnnrt_model_param_numel(&%s_desc, i); }\n"
        "const float *%s_param_data(const %s_model *m, int i) { return rnnrt_model_param_data((const rnnrt_model *)m, "
        "i); }\n",
        P, P, P, P, P, P, P, P, P, P, P, P);
}

int cg_api_defs(const CGen *g, char *err, size_t errlen)
{
    ApiKernel k[3];
    ApiDesc d;
    const CVar *v[3] = {&g->fwd, &g->step, &g->train};
    memset(k, 0, sizeof k);
    for (int i = 0; i < 3; i++) {
        k[i].m = v[i]->m;
        k[i].f = v[i]->f;
        k[i].fn = v[i]->fn;
        k[i].prep = v[i]->prep;
        k[i].prep_fn = v[i]->prep_fn;
    }
    int rc = api_desc_build(&d, g->P, k, err, errlen);
    if (!rc) {
        out(g, "\n/* ==== the model API ==== */\n");
        descriptor(g, &d);
        functions(g);
    }
    api_desc_free(&d);
    return rc;
}
