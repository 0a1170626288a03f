/* lengths.c - per-example lengths into masks before a run (lengths.h).
 *
 * The mask, not the lengths, is what the graph IR reads (frontend/
 * sema_mask.c), so every engine runs a model with lengths as any other.
 * Zeroing the padded steps of the inputs and targets is what makes
 * "padded steps are never read" hold: the masked ops multiply them by 0,
 * which a NaN or an infinity there would survive, and a cross-entropy or
 * an embedding would index an id there. */
#include "ir/lengths.h"
#include "ir/lengths_order.h"

#include <stdlib.h>
#include <string.h>

int ir_has_lengths(const IrModule *m)
{
    for (int i = 0; i < m->ninputs; i++)
        if (m->inputs[i].role == IR_ROLE_LENGTHS) return 1;
    return 0;
}

/* The sequence whose steps a lengths input counts: the first data input
 * of the mask's length symbol (x itself, declared before x.len). */
static const IrInput *counted(const IrModule *m, const IrInput *len)
{
    for (int i = 0; i < m->ninputs; i++) {
        const IrInput *in = &m->inputs[i];
        if (in->role == IR_ROLE_DATA && in->value->type.rank >= 2 && in->value->type.dim[0] == len->value->type.dim[0])
            return in;
    }
    return NULL;
}

/* len[b] of the lengths tensor given for `len`, checked against x's
 * tensor: the count is its batch, each value in 1..T. */
static int read_lengths(const IrInput *len, const IrInput *xin, const Tensor *lt, const Tensor *x, int64_t *out,
                        char *err, size_t errlen)
{
    char ls[128], xs[128];
    int64_t T = x->shape[0], B = x->shape[1];
    if (lt->dtype != RT_I32 && lt->dtype != RT_I64)
        return ir_errf(err, errlen, "input '%s': lengths must be integers (I32 or I64), got %s", len->name,
                       rt_dtype_name(lt->dtype));
    if (lt->rank != 1 || lt->shape[0] != B)
        return ir_errf(err, errlen,
                       "input '%s': %s lengths for a batch of %lld (input '%s' is %s); give one an example", len->name,
                       rt_shape_str(lt, ls, sizeof ls), (long long)B, xin->name, rt_shape_str(x, xs, sizeof xs));
    for (int64_t b = 0; b < B; b++) {
        int64_t v = lt->dtype == RT_I32 ? ((const int32_t *)lt->data)[b] : ((const int64_t *)lt->data)[b];
        if (v < 1)
            return ir_errf(err, errlen, "input '%s': example %lld has length %lld; a length must be at least 1",
                           len->name, (long long)b, (long long)v);
        if (v > T)
            return ir_errf(err, errlen,
                           "input '%s': example %lld has length %lld, more than the %lld steps of input '%s'",
                           len->name, (long long)b, (long long)v, (long long)T, xin->name);
        out[b] = v;
    }
    return 0;
}

/* A mask given as such ([T, B, 1] floats, what this file makes: a
 * segment of TBPTT, where an example may have no step left): its lengths,
 * each column ones then zeros. */
static int read_mask(const IrInput *len, const IrInput *xin, const Tensor *mt, const Tensor *x, int64_t *out, char *err,
                     size_t errlen)
{
    char ms[128], xs[128];
    int64_t T = x->shape[0], B = x->shape[1];
    if (mt->rank != 3 || mt->shape[0] != T || mt->shape[1] != B || mt->shape[2] != 1)
        return ir_errf(err, errlen, "input '%s': a mask %s does not fit input '%s' %s; give one length an example",
                       len->name, rt_shape_str(mt, ms, sizeof ms), xin->name, rt_shape_str(x, xs, sizeof xs));
    for (int64_t b = 0; b < B; b++) {
        out[b] = 0;
        for (int64_t t = 0; t < T; t++) {
            double v =
                mt->dtype == RT_F32 ? ((const float *)mt->data)[t * B + b] : ((const double *)mt->data)[t * B + b];
            if (v == 1 && out[b] == t)
                out[b]++;
            else if (v != 0)
                return ir_errf(err, errlen, "input '%s': the mask of example %lld is not ones then zeros", len->name,
                               (long long)b);
        }
    }
    return 0;
}

/* Zeroes x[t, b, ...] for t >= len[b] if x is a sequence of `sym`. */
static void zero_padding(const IrType *t, int64_t sym, Tensor *x, const int64_t *len, int64_t T, int64_t B)
{
    if (t->rank < 2 || t->dim[0] != sym || t->dim[1] != IR_DIM_B || x->rank != t->rank || x->shape[0] != T ||
        x->shape[1] != B)
        return;
    size_t row = rt_dtype_size(x->dtype);
    for (int d = 2; d < x->rank; d++) row *= (size_t)x->shape[d];
    for (int64_t s = 0; s < T; s++)
        for (int64_t b = 0; b < B; b++)
            if (s >= len[b]) memset((char *)x->data + (size_t)(s * B + b) * row, 0, row);
}

static const IrType *declared(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->ninputs; i++)
        if (!strcmp(m->inputs[i].name, name))
            return m->inputs[i].role == IR_ROLE_DATA ? &m->inputs[i].value->type : NULL;
    for (int i = 0; i < m->ntargets; i++)
        if (!strcmp(m->targets[i].name, name)) return &m->targets[i].value->type;
    return NULL;
}

/* Whether type t has length symbol sym in a dim other than its first. */
static int sym_inside(const IrType *t, int64_t sym)
{
    for (int d = 1; d < t->rank; d++)
        if (t->dim[d] == sym) return 1;
    return 0;
}

/* Whether the steps of length symbol sym past the longest example may be
 * left out of a run: every value at such a step is 0 (an output), carried
 * unchanged (a state) or weighted 0 (a loss), so a run over the first
 * max(len) steps gives the same results, and the outputs are padded back
 * with zeros (ir_lengths_pad_outputs).  Not when sym is a dim other than
 * the time dim of an input, target or output (its rows would not be a
 * prefix), nor with per-step state gradients (rnnc grad --per-step),
 * whose padded steps hold the gradient flowing to the final state. */
static int can_shrink(const IrModule *m, int64_t sym)
{
    for (int i = 0; i < m->ninputs; i++)
        if (sym_inside(&m->inputs[i].value->type, sym)) return 0;
    for (int i = 0; i < m->ntargets; i++)
        if (sym_inside(&m->targets[i].value->type, sym)) return 0;
    for (int i = 0; i < m->noutputs; i++) {
        const IrType *t = &m->outputs[i].value->type;
        if (sym_inside(t, sym) || (m->outputs[i].role == IR_ROLE_STATE_GRAD && t->rank && t->dim[0] == sym)) return 0;
    }
    return 1;
}

/* The steps a run of lengths lens[0..B) needs: the longest (at least 1, a
 * TBPTT segment past every example's end has none), or T when the steps
 * after it cannot be left out. */
static int64_t run_steps(const IrModule *m, int64_t sym, const int64_t *lens, int64_t T, int64_t B)
{
    int64_t most = 1;
    for (int64_t b = 0; b < B; b++)
        if (lens[b] > most) most = lens[b];
    return most < T && can_shrink(m, sym) ? most : T;
}

/* Keeps the first `steps` steps of own's sequences of length symbol sym
 * ([T, B, ...] time-major: a prefix of the data, which stays allocated). */
static void cut_steps(const IrModule *m, int64_t sym, TensorMap *own, int64_t T, int64_t steps)
{
    for (int i = 0; i < own->count; i++) {
        const IrType *ty = declared(m, own->names[i]);
        Tensor *x = &own->tensors[i];
        if (ty && ty->rank >= 2 && ty->dim[0] == sym && x->rank == ty->rank && x->shape[0] == T) x->shape[0] = steps;
    }
}

/* One lengths input: its mask into own, own's sequences of its length cut
 * to the steps the run needs, and their padding zeroed.  The lengths are
 * read and checked in `in` (an error names the caller's example); own
 * holds the tensors in the run's order, row i the caller's order[i]
 * (order NULL: the caller's order). */
static int apply_one(const IrModule *m, const IrInput *len, const TensorMap *in, const int64_t *order, TensorMap *own,
                     char *err, size_t errlen)
{
    const IrInput *xin = counted(m, len);
    const Tensor *lt = rt_map_get(in, len->name), *x = xin ? rt_map_get(in, xin->name) : NULL;
    if (!lt || !x || x->rank < 2) return 0; /* missing or misshapen: ir_bind_inputs says so */
    int64_t T = x->shape[0], B = x->shape[1];
    int64_t *given = malloc((size_t)(B > 0 ? B : 1) * sizeof *given),
            *lens = malloc((size_t)(B > 0 ? B : 1) * sizeof *lens);
    if (!given || !lens) {
        free(given);
        free(lens);
        return ir_errf(err, errlen, "out of memory");
    }
    int is_mask = (lt->dtype == RT_F32 || lt->dtype == RT_F64) && lt->rank == 3;
    if (is_mask ? read_mask(len, xin, lt, x, given, err, errlen) : read_lengths(len, xin, lt, x, given, err, errlen)) {
        free(given);
        free(lens);
        return -1;
    }
    for (int64_t b = 0; b < B; b++) lens[b] = given[order ? order[b] : b];
    free(given);
    int64_t sym = len->value->type.dim[0], steps = run_steps(m, sym, lens, T, B);
    Tensor mask;
    int64_t shape[3] = {steps, B, 1};
    if (rt_tensor_alloc(&mask, RT_F32, 3, shape)) {
        free(lens);
        return ir_errf(err, errlen, "out of memory");
    }
    for (int64_t t = 0; t < steps; t++)
        for (int64_t b = 0; b < B; b++) ((float *)mask.data)[t * B + b] = t < lens[b] ? 1.0f : 0.0f;
    rt_map_put(own, len->name, &mask);
    cut_steps(m, sym, own, T, steps);
    for (int i = 0; i < own->count; i++) {
        const IrType *ty = declared(m, own->names[i]);
        if (ty) zero_padding(ty, sym, &own->tensors[i], lens, steps, B);
    }
    free(lens);
    return 0;
}

int ir_lengths_apply(const IrModule *m, const TensorMap *in, TensorMap *own, const TensorMap **use, char *err,
                     size_t errlen)
{
    *use = in;
    if (!ir_has_lengths(m)) return 0;
    /* a copy, longest first (lengths_order.h): the examples still running
     * at a step are the first rows */
    int64_t *order, B = ir_lengths_order(m, in, &order);
    if (B < 0 || ir_lengths_copy(m, in, own, order, B)) {
        free(order);
        return ir_errf(err, errlen, "out of memory");
    }
    for (int i = 0; i < m->ninputs; i++)
        if (m->inputs[i].role == IR_ROLE_LENGTHS && apply_one(m, &m->inputs[i], in, order, own, err, errlen)) {
            free(order);
            rt_map_free(own);
            return -1;
        }
    free(order);
    *use = own;
    return 0;
}

int ir_lengths_pad_outputs(const IrModule *m, const TensorMap *given, TensorMap *out, char *err, size_t errlen)
{
    int64_t *order, B = ir_lengths_order(m, given, &order); /* the order ir_lengths_apply ran in */
    int bad = B < 0 || (order && ir_lengths_scatter(m, out, order, B));
    free(order);
    if (bad) return ir_errf(err, errlen, "out of memory");
    for (int i = 0; i < m->ninputs; i++) {
        const IrInput *len = &m->inputs[i], *xin = len->role == IR_ROLE_LENGTHS ? counted(m, len) : NULL;
        const Tensor *x = xin ? rt_map_get(given, xin->name) : NULL;
        if (!x || x->rank < 2) continue;
        for (int k = 0; k < m->noutputs; k++) {
            const IrType *ty = &m->outputs[k].value->type;
            Tensor *o = rt_map_get(out, m->outputs[k].name);
            if (!o || !ty->rank || ty->dim[0] != len->value->type.dim[0] || !o->rank || o->shape[0] >= x->shape[0])
                continue;
            Tensor full;
            int64_t shape[RT_MAX_RANK];
            memcpy(shape, o->shape, sizeof shape);
            shape[0] = x->shape[0];
            if (rt_tensor_alloc(&full, o->dtype, o->rank, shape)) return ir_errf(err, errlen, "out of memory");
            memcpy(full.data, o->data, (size_t)rt_numel(o) * rt_dtype_size(o->dtype)); /* the rest stays 0 */
            rt_tensor_free(o);
            *o = full;
        }
    }
    return 0;
}
