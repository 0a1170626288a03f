/* kir_map.c - what a map's body says about itself (kir.h): whether its
 * references are in range, which nodes and inputs its outputs need, and
 * which accumulating outputs may sum in a local.  The fusion (dropping
 * what no output needs) and both emitters (computing and loading only
 * that, and keeping a reduction in a register) ask these questions; the
 * answers are here once so that they cannot disagree. */
#include "kir/kir.h"

#include <string.h>

int kir_map_ok(const KStmt *s)
{
    if (s->rank < 0 || s->rank > KIR_MAX_RANK) return 0;
    for (int k = 0; k < s->nnodes; k++) {
        const KMapNode *nd = &s->nodes[k];
        if (nd->op < 0 || nd->op >= KM_NUM_KINDS) return 0;
        if (nd->op == KM_IN) {
            if (nd->a < 0 || nd->a >= s->nin || !s->in[nd->a].v.buf) return 0;
        } else if (kir_map_op_arity(nd->op) > 0) {
            if (nd->a < 0 || nd->a >= k) return 0;
            if (kir_map_op_arity(nd->op) == 2 && (nd->b < 0 || nd->b >= k)) return 0;
        }
    }
    for (int o = 0; o < s->nout; o++)
        if (s->out[o].node < 0 || s->out[o].node >= s->nnodes || !s->out[o].at.v.buf) return 0;
    return 1;
}

void kir_map_live(const KStmt *s, unsigned char *live, unsigned char *in_live)
{
    memset(live, 0, (size_t)(s->nnodes > 0 ? s->nnodes : 0));
    if (in_live) memset(in_live, 0, (size_t)(s->nin > 0 ? s->nin : 0));
    for (int o = 0; o < s->nout; o++)
        if (s->out[o].node >= 0 && s->out[o].node < s->nnodes) live[s->out[o].node] = 1;
    /* SSA: a node uses only earlier nodes, so one backward sweep settles it */
    for (int k = s->nnodes - 1; k >= 0; k--) {
        if (!live[k]) continue;
        const KMapNode *nd = &s->nodes[k];
        int arity = kir_map_op_arity(nd->op);
        if (arity >= 2 && nd->b >= 0 && nd->b < k) live[nd->b] = 1;
        if (arity >= 1 && nd->a >= 0 && nd->a < k) live[nd->a] = 1;
        if (in_live && nd->op == KM_IN && nd->a >= 0 && nd->a < s->nin) in_live[nd->a] = 1;
    }
}

/* A stride that is zero whatever the symbols (a missing one counts as 0,
 * as the emitters print it). */
static int zero_stride(const KExpr *x) { return !x || (!kexpr_has_free(x) && kexpr_eval(x, NULL, NULL) == 0); }

int kir_map_reduce_level(const KStmt *s, int oi, const unsigned char *in_live)
{
    const KMapOut *mo = &s->out[oi];
    if (!mo->accumulate) return -1;
    /* The local holds the only up-to-date copy of the sum while the inner
     * loops run: nothing else in the map may read or write its buffer. */
    for (int o = 0; o < s->nout; o++)
        if (o != oi && s->out[o].at.v.buf == mo->at.v.buf) return -1;
    for (int i = 0; i < s->nin; i++)
        if (in_live[i] && s->in[i].v.buf == mo->at.v.buf) return -1;
    int k = s->rank;
    while (k > 0 && zero_stride(mo->at.stride[k - 1])) k--;
    return k < s->rank ? k : -1;
}

/* Whether views a and b are the same elements at every index. */
static int same_view(const KStrided *a, const KStrided *b, int rank)
{
    if (a->v.buf != b->v.buf || !kexpr_same_value(a->v.off, b->v.off)) return 0;
    for (int d = 0; d < rank; d++)
        if (zero_stride(a->stride[d]) != zero_stride(b->stride[d]) ||
            (!zero_stride(a->stride[d]) && !kexpr_same_value(a->stride[d], b->stride[d])))
            return 0;
    return 1;
}

static int64_t eval_or_zero(const KExpr *x, const int64_t *sym, const int64_t *vars)
{
    return x ? kexpr_eval(x, sym, vars) : 0;
}

/* Whether output view at writes disjoint elements for different i0, at
 * symbol values sym: the inner dimensions it does not reduce walk a dense
 * row-major block of `span` elements, and rows are at least that far
 * apart. */
static int rows_apart(const KStmt *s, const KStrided *at, const int64_t *sym, const int64_t *vars)
{
    int64_t span = 1;
    for (int d = s->rank - 1; d >= 1; d--) {
        if (zero_stride(at->stride[d])) continue;
        if (eval_or_zero(at->stride[d], sym, vars) != span) return 0;
        span *= eval_or_zero(s->dims[d], sym, vars);
    }
    return !zero_stride(at->stride[0]) && eval_or_zero(at->stride[0], sym, vars) >= span;
}

int kir_map_rows_split(const KStmt *s)
{
    if (!kir_map_ok(s) || s->rank < 1 || s->nout < 1) return 0;
    unsigned char live[256], in_live[256];
    if (s->nnodes > 256 || s->nin > 256) return 0;
    kir_map_live(s, live, in_live);
    /* every output: disjoint rows; one sharing its buffer with another
     * output or a live input only at the very same elements (a row then
     * reads and writes only its own) */
    for (int o = 0; o < s->nout; o++) {
        const KStrided *at = &s->out[o].at;
        for (int p = 0; p < s->nout; p++)
            if (p != o && s->out[p].at.v.buf == at->v.buf && !same_view(&s->out[p].at, at, s->rank)) return 0;
        for (int i = 0; i < s->nin; i++)
            if (in_live[i] && s->in[i].v.buf == at->v.buf && !same_view(&s->in[i], at, s->rank)) return 0;
    }
    /* the sizes are polynomials in the symbols with small coefficients:
     * checked at three unrelated points, as kexpr_same_value checks */
    static const int64_t pts[3] = {7919, 2741, 101};
    int64_t sym[64], vars[64];
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 64; i++) sym[i] = vars[i] = pts[k] + 13 * i;
        for (int o = 0; o < s->nout; o++)
            if (!rows_apart(s, &s->out[o].at, sym, vars)) return 0;
    }
    return 1;
}
