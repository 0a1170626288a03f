/* sema_mask.c - per-example lengths (docs/language.md, "Lengths"): the
 * graph IR of a recurrence, a sequence function and a loss over sequences
 * whose input was declared with `lengths`.
 *
 * Lengths are a mask m[t, b] = (t < len[b]), an input of type
 * [T, B, 1] (sema.c, model_lengths), and everything below is made of
 * ordinary ops on it, so that every engine, autodiff (BPTT), the
 * optimization passes and TBPTT's segments need nothing of their own:
 *
 *   state   s_t = m_t * cell(s_{t-1}, x_t) + (s_{t-1} - m_t * s_{t-1})
 *   output  y_t = m_t * out_t
 *   last    the state of a scan c_t = m_t * y_t + (c_{t-1} - m_t * c_{t-1})
 *   mean    mean_t(m_t * y_t) / mean_t(m_t)
 *   mse     mse(m * y, m * t) / mse(m, 0)
 *   cross-entropy  cross_entropy(logits, ids, m) with the mask as the
 *           rows' weights (ir/ops.def): the mean over the real steps,
 *           PyTorch's ignore_index; a padded step's id is never read
 *   output  m * y for a sequence output of the model
 *
 * The state is carried unchanged past an example's end, so a layer's
 * final state is its state at the example's last step; a reverse scan,
 * run from T - 1 down, keeps its initial state until step len - 1 and
 * starts there: PyTorch's packed sequences.  The blend is exact where
 * m is 0 or 1 (a + (b - b) is a for finite b), so a padded batch gives
 * the states of each example run alone, bit for bit in the interpreter
 * (tests/unit/test_lengths.c).  The inputs' padded steps are zeros
 * (ir/lengths.c), so the cell's values there are finite. */
#include "frontend/sema_int.h"

static IrValue *op2(Sema *s, IrOpKind k, IrValue *a, IrValue *b, IrType t)
{
    IrValue *ops[2] = {a, b};
    return sema_mk(s, k, ops, 2, t);
}

/* The mask m ([..., B, 1]) reshaped to broadcast over a value of rank
 * `rank` with the same leading dims ([..., B, 1, 1] for [..., B, d0, d1]):
 * broadcasting aligns trailing dims. */
static IrValue *mask_for(Sema *s, IrValue *m, int rank)
{
    if (rank <= m->type.rank) return m;
    IrType t = m->type;
    for (int i = t.rank; i < rank; i++) t.dim[i] = 1;
    t.rank = rank;
    return sema_mk(s, IR_RESHAPE, &m, 1, t);
}

/* m * a + (b - m * b): a where m is 1, b where m is 0, exactly (a + 0,
 * 0 + b for finite a and b).  Every op has the state's shape, none the
 * mask's [B, 1], so that the lowering fuses the blend into the cell's
 * element-wise map (a [B, 1] map of 1 - m between them kept it apart). */
static IrValue *blend(Sema *s, IrValue *m, IrValue *a, IrValue *b)
{
    IrValue *mm = mask_for(s, m, a->type.rank);
    IrValue *fresh = op2(s, IR_MUL, mm, a, a->type);
    IrValue *gone = op2(s, IR_MUL, mm, b, b->type);
    IrValue *old = op2(s, IR_SUB, b, gone, b->type);
    return op2(s, IR_ADD, fresh, old, a->type);
}

void sema_mask_step(Sema *s, IrValue *m, IrValue **states, IrValue **next, int nstates, IrValue **out)
{
    for (int i = 0; i < nstates; i++) next[i] = blend(s, m, next[i], states[i]);
    IrValue *mo = mask_for(s, m, (*out)->type.rank);
    *out = op2(s, IR_MUL, mo, *out, (*out)->type);
}

SVal sema_masked_last(Sema *s, SVal x, IrValue *mask)
{
    SVal r = x;
    r.k = SV_VEC;
    r.batched = 1;
    IrType t = sema_ir_type(&r);
    IrValue *c0 = ir_const(s->m, s->blk, 0.0, t);
    if (c0->def) c0->def->origin = s->origin;
    IrValue *seqs[2] = {x.v, mask};
    IrOp *scan = ir_scan_begin(s->m, s->blk, &c0, 1, seqs, 2, 0, 0);
    scan->origin = s->origin;
    IrBlock *outer = s->blk;
    s->blk = scan->body;
    IrValue *next = blend(s, scan->body->args[2], scan->body->args[1], scan->body->args[0]);
    s->blk = outer;
    ir_scan_finish(s->m, scan, &next, 1, 0);
    r.v = scan->results[0];
    return r;
}

SVal sema_masked_mean(Sema *s, SVal x, IrValue *mask)
{
    SVal r = x;
    r.k = SV_VEC;
    r.batched = 1;
    IrType t = sema_ir_type(&r);
    IrValue *mx = op2(s, IR_MUL, mask_for(s, mask, x.v->type.rank), x.v, x.v->type);
    IrValue *sum = sema_mk(s, IR_SEQ_MEAN, &mx, 1, t);
    int64_t d[2] = {IR_DIM_B, 1};
    IrValue *count = sema_mk(s, IR_SEQ_MEAN, &mask, 1, ir_type(IR_F32, 2, d));
    r.v = op2(s, IR_DIV, sum, mask_for(s, count, t.rank), t);
    return r;
}

IrValue *sema_masked_mse(Sema *s, IrValue *y, IrValue *t, IrValue *mask)
{
    IrType sc = ir_type(IR_F32, 0, NULL);
    IrValue *mm = mask_for(s, mask, y->type.rank);
    IrValue *my = op2(s, IR_MUL, mm, y, y->type), *mt = op2(s, IR_MUL, mm, t, t->type);
    IrValue *sq = op2(s, IR_MSE, my, mt, sc);
    IrValue *zero = ir_const(s->m, s->blk, 0.0, mask->type);
    if (zero->def) zero->def->origin = s->origin;
    IrValue *frac = op2(s, IR_MSE, mask, zero, sc); /* real steps / (T B) */
    return op2(s, IR_DIV, sq, frac, sc);
}

IrValue *sema_output_value(Sema *s, const SVal *v)
{
    IrValue *mask = v->k == SV_SEQ ? sema_mask_of(s, v->t) : NULL;
    if (!mask || (v->v->def && v->v->def->kind == IR_SCAN)) return v->v; /* a recurrence masks its outputs */
    return op2(s, IR_MUL, mask_for(s, mask, v->v->type.rank), v->v, v->v->type);
}

IrValue *sema_masked_cross_entropy(Sema *s, IrValue *logits, IrValue *ids, IrValue *mask)
{
    IrType wt = ids->type; /* the mask [T, B, 1] as the ids' [T, B] */
    wt.dtype = IR_F32;
    IrValue *w = sema_mk(s, IR_RESHAPE, &mask, 1, wt);
    IrValue *ops[3] = {logits, ids, w};
    return sema_mk(s, IR_CROSS_ENTROPY, ops, 3, ir_type(IR_F32, 0, NULL));
}
