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
