/* dot.c - the Graphviz drawing of graph IR (`rnnc dump --format=dot`).
 *
 * Two pictures:
 *   unroll == 0  the graph as it is: one node per op, edges from operands,
 *                inputs/targets/params as distinct shapes, each scan a
 *                cluster with its body inside and a dashed back edge for
 *                every carried value;
 *   unroll == N  the "unfolded computational graph": every scan drawn as N
 *                copies of its body (clusters "t=0", "t=1", ...), the
 *                carried values of one step feeding the next, per-step
 *                inputs x[t] and outputs y[t] as their own nodes, and values
 *                defined outside the scan (shared weights) drawn once with
 *                an edge into every step.  A reverse scan runs from N-1 down.
 *
 * Node names are "v<id><suffix>", the suffix naming the unrolled step
 * ("_t2", nested: "_t2_t0"); a non-scan op's node is named after its first
 * result.  Edges are collected in a buffer and written after all nodes, at
 * the top level: an edge inside a cluster would pull a not-yet-declared
 * node into that cluster. */
#include "ir/ir.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH  32  /* a malformed body containing its own scan       */
#define MAX_UNROLL 256 /* more copies than this no one can read anyway  */
#define NAME_LEN   320 /* a node name: "v<id>" and up to MAX_DEPTH step suffixes */

/* The blocks being drawn, innermost first, and the node-name suffix of
 * the copy of each that is being drawn. */
typedef struct Frame {
    const IrBlock *b;
    const char *suffix;
    const struct Frame *up;
} Frame;

typedef struct Dot {
    const IrModule *m;
    FILE *out;   /* nodes and clusters                         */
    FILE *edges; /* edges, written at the end                  */
    int unroll;
    int nclusters;
    int depth;
    const IrOp *active[MAX_DEPTH]; /* the scans being drawn           */
    int nactive;
} Dot;

/* ---- names and labels -------------------------------------------------------- */

static void node_of(const IrValue *v, const Frame *f, char *buf, size_t n)
{
    const IrBlock *b = NULL;
    int id = v->id;
    if (v->kind == IR_VAL_OP && v->def) {
        b = v->def->parent;
        if (v->def->kind != IR_SCAN && v->def->nresults > 0 && v->def->results && v->def->results[0])
            id = v->def->results[0]->id;
    } else if (v->kind == IR_VAL_BLOCK_ARG) {
        b = v->block;
    }
    const char *suffix = "";
    for (; b && f; f = f->up)
        if (f->b == b) {
            suffix = f->suffix;
            break;
        }
    snprintf(buf, n, "v%d%s", id, suffix);
}

/* Writes s as the inside of a quoted dot string. */
static void put_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', out);
        fputc(*s, out);
    }
}

static const char *type_str(const IrModule *m, IrType t, char *buf, size_t n)
{
    int ok = (t.dtype == IR_F32 || t.dtype == IR_I64) && t.rank >= 0 && t.rank <= IR_MAX_RANK;
    for (int i = 0; ok && i < t.rank; i++) ok = t.dim[i] >= 0 || -t.dim[i] - 1 < m->nsyms;
    if (!ok) {
        snprintf(buf, n, "<bad type>");
        return buf;
    }
    return ir_type_str(m, t, buf, n);
}

/* "h" or "%12": how a value is named in labels. */
static const char *vname(const IrValue *v, char *buf, size_t n)
{
    if (v->name)
        snprintf(buf, n, "%s", v->name);
    else
        snprintf(buf, n, "%%%d", v->id);
    return buf;
}

static void indent(const Dot *d) { fprintf(d->out, "%*s", 2 * (d->depth + 1), ""); }

/* Opens a cluster (a subgraph Graphviz draws boxed) one level deeper, and
 * indents for its first line: the caller writes the label. */
static void cluster_begin(Dot *d)
{
    indent(d);
    fprintf(d->out, "subgraph \"cluster_%d\" {\n", d->nclusters++);
    d->depth++;
    indent(d);
}

static void cluster_end(Dot *d)
{
    d->depth--;
    indent(d);
    fputs("}\n", d->out);
}

/* One node: `"name" [label="line1\nline2" attrs];` */
static void node(const Dot *d, const char *name, const char *line1, const char *line2, const char *attrs)
{
    indent(d);
    fprintf(d->out, "\"%s\" [label=\"", name);
    put_escaped(d->out, line1);
    if (line2) {
        fputs("\\n", d->out);
        put_escaped(d->out, line2);
    }
    fprintf(d->out, "\"%s%s];\n", attrs && attrs[0] ? " " : "", attrs ? attrs : "");
}

/* An edge from value v (named in frame f) to node `to`. */
static void edge(const Dot *d, const IrValue *v, const Frame *f, const char *to, const char *label, const char *attrs)
{
    if (!v) return;
    char from[NAME_LEN];
    node_of(v, f, from, sizeof from);
    fprintf(d->edges, "  \"%s\" -> \"%s\"", from, to);
    if (label || attrs) {
        fputs(" [", d->edges);
        if (label) {
            fputs("label=\"", d->edges);
            put_escaped(d->edges, label);
            fputc('"', d->edges);
        }
        if (attrs) fprintf(d->edges, "%s%s", label ? " " : "", attrs);
        fputc(']', d->edges);
    }
    fputs(";\n", d->edges);
}

/* ---- ops ---------------------------------------------------------------------- */

static void draw_block(Dot *d, const IrBlock *b, const Frame *f);

static void draw_plain_op(Dot *d, const IrOp *op, const Frame *f)
{
    char name[NAME_LEN], label[128], type[128];
    const IrValue *r0 = op->nresults > 0 && op->results ? op->results[0] : NULL;
    if (!r0) return; /* nothing can use it, so nothing to draw */
    node_of(r0, f, name, sizeof name);
    const char *kind = ((int)op->kind >= 0 && op->kind < IR_NUM_OPS) ? ir_op_name(op->kind) : "?";
    switch (op->kind) {
    case IR_CONST: snprintf(label, sizeof label, "const %g", op->attrs.f); break;
    case IR_SLICE:
        snprintf(label, sizeof label, "slice [%lld, +%lld)", (long long)op->attrs.start, (long long)op->attrs.len);
        break;
    case IR_INDEX: snprintf(label, sizeof label, "index %lld", (long long)op->attrs.index); break;
    default: snprintf(label, sizeof label, "%s", kind); break;
    }
    node(d, name, label, type_str(d->m, r0->type, type, sizeof type), op->kind == IR_CONST ? "fillcolor=gray95" : NULL);
    for (int i = 0; op->operands && i < op->noperands; i++) edge(d, op->operands[i], f, name, NULL, NULL);
}

/* The nodes of the scan's results, drawn once outside the scan. */
static void draw_scan_results(Dot *d, const IrOp *op, const Frame *f)
{
    int nc = op->attrs.n_carried;
    for (int i = 0; op->results && i < op->nresults; i++) {
        const IrValue *r = op->results[i];
        if (!r) continue;
        char name[NAME_LEN], l1[128], nm[96], type[128];
        node_of(r, f, name, sizeof name);
        snprintf(l1, sizeof l1, "%s %s", i < nc ? "final" : "stacked", vname(r, nm, sizeof nm));
        node(d, name, l1, type_str(d->m, r->type, type, sizeof type), "shape=ellipse fillcolor=gray90");
    }
}

static int scan_shape_ok(const IrOp *op)
{
    const IrAttrs *a = &op->attrs;
    const IrBlock *b = op->body;
    return b && a->n_carried >= 0 && a->n_seq_in >= 0 && a->n_seq_out >= 0 &&
           op->noperands == a->n_carried + a->n_seq_in && op->operands && b->nargs == op->noperands &&
           (b->nargs == 0 || b->args) && b->nyields == a->n_carried + a->n_seq_out && (b->nyields == 0 || b->yields) &&
           op->nresults == b->nyields && (op->nresults == 0 || op->results);
}

static void scan_title(const IrOp *op, char *buf, size_t n, const char *extra)
{
    char steps[64] = "";
    if (op->attrs.n_seq_in == 0) snprintf(steps, sizeof steps, " steps=%lld", (long long)op->attrs.steps);
    snprintf(buf, n, "scan%s%s%s%s%s", steps, op->attrs.reverse ? " reverse" : "", extra, op->origin ? ": " : "",
             op->origin ? op->origin : "");
}

/* Opens the cluster of a whole scan, labelled with its title. */
static void scan_cluster_begin(Dot *d, const IrOp *op, const char *extra)
{
    char title[256];
    scan_title(op, title, sizeof title, extra);
    cluster_begin(d);
    fputs("label=\"", d->out);
    put_escaped(d->out, title);
    fputs("\"; style=\"rounded\"; color=gray40;\n", d->out);
}

/* The block args of a scan body, in the copy named by frame bf. `step`
 * is the unrolled step, or -1 when drawing the scan folded. */
static void draw_body_args(Dot *d, const IrOp *op, const Frame *bf, int step)
{
    int nc = op->attrs.n_carried;
    for (int i = 0; i < op->body->nargs; i++) {
        const IrValue *a = op->body->args[i];
        if (!a) continue;
        char name[NAME_LEN], l1[128], nm[96], type[128];
        node_of(a, bf, name, sizeof name);
        vname(a, nm, sizeof nm);
        if (i < nc)
            snprintf(l1, sizeof l1, "%s", nm);
        else if (step < 0)
            snprintf(l1, sizeof l1, "%s[t]", nm);
        else
            snprintf(l1, sizeof l1, "%s[%d]", nm, step);
        node(d, name, l1, type_str(d->m, a->type, type, sizeof type),
             i < nc ? "shape=ellipse fillcolor=lightcyan" : "shape=ellipse fillcolor=lightblue");
    }
}

/* A state's name for the label of its edges: the body argument's name. */
static const char *state_label(const IrOp *op, int i, char *buf, size_t n)
{
    const IrValue *a = op->body->args[i];
    if (a && a->name)
        snprintf(buf, n, "%s", a->name);
    else
        snprintf(buf, n, "state %d", i);
    return buf;
}

static void draw_scan_folded(Dot *d, const IrOp *op, const Frame *f)
{
    const IrBlock *b = op->body;
    int nc = op->attrs.n_carried;
    char name[NAME_LEN], lab[160];
    scan_cluster_begin(d, op, "");

    Frame bf = {.b = b, .suffix = f->suffix, .up = f};
    draw_body_args(d, op, &bf, -1);
    draw_block(d, b, &bf);
    cluster_end(d);
    draw_scan_results(d, op, f);

    for (int i = 0; i < op->noperands; i++) {
        if (!b->args[i]) continue;
        node_of(b->args[i], &bf, name, sizeof name);
        edge(d, op->operands[i], f, name, i < nc ? "init" : "[t]", NULL);
    }
    for (int i = 0; i < b->nyields; i++) {
        if (!op->results[i]) continue;
        if (i < nc && b->args[i]) { /* the back edge: next step's state */
            node_of(b->args[i], &bf, name, sizeof name);
            edge(d, b->yields[i], &bf, name, state_label(op, i, lab, sizeof lab),
                 "style=dashed color=blue constraint=false");
        }
        node_of(op->results[i], f, name, sizeof name);
        edge(d, b->yields[i], &bf, name, i < nc ? "final" : "stack", "style=dotted");
    }
}

static void draw_scan_unrolled(Dot *d, const IrOp *op, const Frame *f)
{
    const IrBlock *b = op->body;
    int nc = op->attrs.n_carried, N = d->unroll;
    char extra[64], name[NAME_LEN], lab[160], nm[96], type[128];
    snprintf(extra, sizeof extra, ", unrolled over %d steps", N);
    draw_scan_results(d, op, f);
    scan_cluster_begin(d, op, extra);

    char prev_suffix[256] = "";
    for (int s = 0; s < N; s++) {
        int k = op->attrs.reverse ? N - 1 - s : s;
        char suffix[256];
        snprintf(suffix, sizeof suffix, "%s_t%d", f->suffix, k);
        Frame bf = {.b = b, .suffix = suffix, .up = f};
        Frame pf = {.b = b, .suffix = prev_suffix, .up = f};

        cluster_begin(d);
        fprintf(d->out, "label=\"t=%d\"; style=\"rounded,dashed\"; color=gray60;\n", k);
        draw_body_args(d, op, &bf, k);
        draw_block(d, b, &bf);
        /* y[k]: this step's outputs. */
        for (int j = nc; j < b->nyields; j++) {
            const IrValue *y = b->yields[j], *r = op->results[j];
            if (!y || !r) continue;
            snprintf(name, sizeof name, "y%d%s", r->id, suffix);
            snprintf(lab, sizeof lab, "%s[%d]", vname(r, nm, sizeof nm), k);
            node(d, name, lab, type_str(d->m, y->type, type, sizeof type), "shape=ellipse fillcolor=palegreen");
            edge(d, y, &bf, name, NULL, NULL);
            char to[NAME_LEN];
            node_of(r, f, to, sizeof to);
            fprintf(d->edges, "  \"%s\" -> \"%s\" [style=dotted];\n", name, to);
        }
        cluster_end(d);

        for (int i = 0; i < op->noperands; i++) {
            if (!b->args[i]) continue;
            node_of(b->args[i], &bf, name, sizeof name);
            if (i >= nc) { /* x[k] taken from the whole sequence */
                snprintf(lab, sizeof lab, "[%d]", k);
                edge(d, op->operands[i], f, name, lab, "style=dotted");
            } else if (s == 0) {
                edge(d, op->operands[i], f, name, "init", NULL);
            } else { /* the state flows from the previous step */
                edge(d, b->yields[i], &pf, name, state_label(op, i, lab, sizeof lab), "color=blue penwidth=2");
            }
        }
        snprintf(prev_suffix, sizeof prev_suffix, "%s", suffix);
    }
    cluster_end(d);

    Frame lf = {.b = b, .suffix = prev_suffix, .up = f}; /* the last step drawn */
    for (int i = 0; i < nc; i++) {
        if (!op->results[i]) continue;
        node_of(op->results[i], f, name, sizeof name);
        edge(d, N > 0 ? b->yields[i] : op->operands[i], N > 0 ? &lf : f, name, "final", "style=dotted");
    }
}

static void draw_scan(Dot *d, const IrOp *op, const Frame *f)
{
    if (!scan_shape_ok(op)) {
        char name[NAME_LEN];
        snprintf(name, sizeof name, "bad_scan_%d", d->nclusters++);
        node(d, name, "malformed scan", NULL, "color=red");
        return;
    }
    int cycle = 0;
    for (int i = 0; i < d->nactive; i++) cycle |= d->active[i] == op;
    if (cycle || d->depth >= MAX_DEPTH || d->nactive >= MAX_DEPTH) {
        char name[NAME_LEN];
        snprintf(name, sizeof name, "deep_scan_%d", d->nclusters++);
        node(d, name, cycle ? "scan inside its own body" : "scans nested too deeply", NULL, "color=red");
        return;
    }
    d->active[d->nactive++] = op;
    if (d->unroll > 0)
        draw_scan_unrolled(d, op, f);
    else
        draw_scan_folded(d, op, f);
    d->nactive--;
}

static void draw_block(Dot *d, const IrBlock *b, const Frame *f)
{
    for (int i = 0; b->ops && i < b->nops; i++) {
        const IrOp *op = b->ops[i];
        if (!op) continue;
        if (op->kind == IR_SCAN)
            draw_scan(d, op, f);
        else
            draw_plain_op(d, op, f);
    }
}

/* ---- the module ---------------------------------------------------------------- */

static void draw_args(Dot *d, const IrInput *list, int n, const char *what, const char *attrs)
{
    for (int i = 0; list && i < n; i++) {
        const IrValue *v = list[i].value;
        if (!v) continue;
        char name[NAME_LEN], l1[160], type[128];
        node_of(v, NULL, name, sizeof name);
        snprintf(l1, sizeof l1, "%s %s", what, list[i].name ? list[i].name : "?");
        node(d, name, l1, type_str(d->m, v->type, type, sizeof type), attrs);
    }
}

void ir_print_dot(const IrModule *m, int unroll_steps, FILE *out)
{
    if (!m) {
        fputs("digraph empty {}\n", out);
        return;
    }
    char *ebuf = NULL;
    size_t elen = 0;
    FILE *edges = open_memstream(&ebuf, &elen);
    if (!edges) {
        fputs("digraph empty { label=\"out of memory\" }\n", out);
        return;
    }
    Dot d = {.m = m, .out = out, .edges = edges, .unroll = unroll_steps};
    if (d.unroll < 0) d.unroll = 0;
    if (d.unroll > MAX_UNROLL) d.unroll = MAX_UNROLL;

    fputs("digraph \"", out);
    put_escaped(out, m->name ? m->name : "module");
    fputs("\" {\n", out);
    fputs("  rankdir=TB;\n"
          "  node [shape=box style=\"rounded,filled\" fillcolor=white fontname=\"Helvetica\" fontsize=10];\n"
          "  edge [fontname=\"Helvetica\" fontsize=9];\n",
          out);

    draw_args(&d, m->inputs, m->ninputs, "input", "shape=invhouse fillcolor=lightblue");
    draw_args(&d, m->targets, m->ntargets, "target", "shape=invhouse fillcolor=mistyrose");
    for (int i = 0; m->params && i < m->nparams; i++) {
        const IrValue *v = m->params[i].value;
        if (!v) continue;
        char name[NAME_LEN], type[128];
        node_of(v, NULL, name, sizeof name);
        node(&d, name, m->params[i].name ? m->params[i].name : "?", type_str(m, v->type, type, sizeof type),
             "shape=cylinder fillcolor=lightyellow");
    }

    Frame top = {.b = m->body, .suffix = "", .up = NULL};
    if (m->body) draw_block(&d, m->body, &top);

    for (int i = 0; m->outputs && i < m->noutputs; i++) {
        char name[64], l1[160];
        snprintf(name, sizeof name, "output_%d", i);
        snprintf(l1, sizeof l1, "output %s", m->outputs[i].name ? m->outputs[i].name : "?");
        node(&d, name, l1, NULL, "shape=house fillcolor=palegreen");
        edge(&d, m->outputs[i].value, &top, name, NULL, NULL);
    }
    if (m->loss) {
        node(&d, "loss", "loss", NULL, "shape=house fillcolor=salmon");
        edge(&d, m->loss, &top, "loss", NULL, NULL);
    }

    fclose(edges);
    if (ebuf) fwrite(ebuf, 1, elen, out);
    free(ebuf);
    fputs("}\n", out);
}
