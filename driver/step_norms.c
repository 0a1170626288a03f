/* step_norms.c - per-step state gradient norms: table and chart (see
 * step_norms.h). */
#include "driver/step_norms.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "driver/svg_plot.h"

static double elem(const Tensor *t, int64_t i)
{
    return t->dtype == RT_F64 ? ((const double *)t->data)[i] : ((const float *)t->data)[i];
}

int step_norms_collect(const IrModule *m, const TensorMap *outputs, StepNorms *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int n = 0;
    for (int i = 0; i < m->noutputs; i++) n += m->outputs[i].role == IR_ROLE_STATE_GRAD;
    if (!n) return 0;
    out->s = calloc((size_t)n, sizeof *out->s);
    if (!out->s) goto oom;
    for (int i = 0; i < m->noutputs; i++) {
        const IrOutput *o = &m->outputs[i];
        if (o->role != IR_ROLE_STATE_GRAD) continue;
        const Tensor *t = rt_map_get(outputs, o->name);
        if (!t || t->rank < 1 || (t->dtype != RT_F32 && t->dtype != RT_F64)) {
            snprintf(err, errlen, "internal error: state gradient '%s' is not a float sequence", o->name);
            step_norms_free(out);
            return -1;
        }
        StepSeries *s = &out->s[out->n++];
        s->T = t->shape[0];
        s->name = strdup(o->of);
        s->norm = calloc((size_t)(s->T ? s->T : 1), sizeof *s->norm);
        if (!s->name || !s->norm) goto oom;
        /* Sum of squares in double over each step's [B, ...] slice. */
        int64_t per = s->T ? rt_numel(t) / s->T : 0;
        for (int64_t k = 0; k < s->T; k++) {
            double ss = 0;
            for (int64_t j = 0; j < per; j++) {
                double v = elem(t, k * per + j);
                ss += v * v;
            }
            s->norm[k] = sqrt(ss);
        }
    }
    return 0;
oom:
    step_norms_free(out);
    snprintf(err, errlen, "out of memory");
    return -1;
}

void step_norms_free(StepNorms *sn)
{
    for (int i = 0; i < sn->n; i++) {
        free(sn->s[i].name);
        free(sn->s[i].norm);
    }
    free(sn->s);
    memset(sn, 0, sizeof *sn);
}

void step_norms_print(const StepNorms *sn, FILE *out)
{
    if (!sn->n) {
        fprintf(out, "per-step state gradients: the model has no recurrent state that reaches the loss\n");
        return;
    }
    fprintf(out, "per-step state gradient norms ||dL/ds_t|| (Frobenius over batch and units):\n");
    int64_t T = 0;
    for (int k = 0; k < sn->n; k++) {
        fprintf(out, "  [%d] %s\n", k + 1, sn->s[k].name);
        if (sn->s[k].T > T) T = sn->s[k].T;
    }
    fprintf(out, "step");
    for (int k = 0; k < sn->n; k++) {
        char h[16];
        snprintf(h, sizeof h, "[%d]", k + 1);
        fprintf(out, " %13s", h);
    }
    fprintf(out, "\n");
    for (int64_t t = 0; t < T; t++) {
        fprintf(out, "%4lld", (long long)t);
        for (int k = 0; k < sn->n; k++) {
            if (t < sn->s[k].T)
                fprintf(out, " %13.6e", sn->s[k].norm[t]);
            else
                fprintf(out, " %13s", "-");
        }
        fprintf(out, "\n");
    }
}

int step_norms_svg(const StepNorms *sn, const char *path, const char *title, char *err, size_t errlen)
{
    int64_t T = 0;
    for (int k = 0; k < sn->n; k++)
        if (sn->s[k].T > T) T = sn->s[k].T;
    double *x = malloc((size_t)(T ? T : 1) * sizeof *x);
    SvgSeries *ss = calloc((size_t)(sn->n ? sn->n : 1), sizeof *ss);
    if (!x || !ss) {
        free(x);
        free(ss);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (int64_t t = 0; t < T; t++) x[t] = (double)t;
    for (int k = 0; k < sn->n; k++) ss[k] = (SvgSeries){sn->s[k].name, x, sn->s[k].norm, (int)sn->s[k].T};
    SvgPlot p = {.title = title, .xlabel = "time step t", .ylabel = "||dL/ds_t|| (state gradient norm)", .log_y = 1};
    int rc = svg_plot_write(path, &p, ss, sn->n, err, errlen);
    free(x);
    free(ss);
    return rc;
}
