/* Least-squares service fits per type (see fit.h). Two passes: the means,
 * then the centred sums, which keeps the slope exact for large token counts. */
#include "sim/fit.h"

#include <math.h>
#include <stdlib.h>

#include "core/xalloc.h"

static void failure_profiles(const struct sim_trace *tr, struct sim_fit *f)
{
    size_t nt = tr->types.n;
    double *first = xmalloc((nt ? nt : 1) * sizeof *first), *last = xmalloc((nt ? nt : 1) * sizeof *last);
    for (size_t k = 0; k < nt; k++)
        first[k] = INFINITY, last[k] = -INFINITY;
    for (size_t i = 0; i < tr->n; i++) {
        const struct sim_record *r = &tr->recs[i];
        first[r->type] = fmin(first[r->type], r->t);
        last[r->type] = fmax(last[r->type], r->t);
    }
    size_t **counts = xcalloc(nt ? nt : 1, sizeof *counts);
    for (size_t k = 0; k < nt; k++) {
        struct sim_failures *p = &f[k].fail;
        double span = last[k] - first[k];
        p->start = first[k];
        p->width = fmax(1.0, 20.0 * span / (double)(f[k].attempts ? f[k].attempts : 1));
        p->n = (size_t)(span / p->width) + 1;
        p->share = xcalloc(p->n, sizeof *p->share);
        counts[k] = xcalloc(p->n, sizeof *counts[k]);
    }
    for (size_t i = 0; i < tr->n; i++) {
        const struct sim_record *r = &tr->recs[i];
        struct sim_failures *p = &f[r->type].fail;
        size_t b = (size_t)((r->t - p->start) / p->width);
        if (b >= p->n)
            b = p->n - 1;
        counts[r->type][b]++;
        p->share[b] += r->outcome == SIM_FAIL || r->outcome == SIM_TIMEOUT;
    }
    for (size_t k = 0; k < nt; k++) {
        struct sim_failures *p = &f[k].fail;
        for (size_t b = 0; b < p->n; b++)
            p->share[b] = counts[k][b] ? p->share[b] / (double)counts[k][b] : b ? p->share[b - 1] : 0;
        free(counts[k]);
    }
    free(counts);
    free(first);
    free(last);
}

double sim_failure_share(const struct sim_fit *f, double t)
{
    const struct sim_failures *p = &f->fail;
    if (!p->n || t < p->start)
        return p->n ? p->share[0] : 0;
    size_t b = (size_t)((t - p->start) / p->width);
    return p->share[b < p->n ? b : p->n - 1];
}

void sim_fit_free(struct sim_fit *fits, size_t ntypes)
{
    for (size_t k = 0; fits && k < ntypes; k++)
        free(fits[k].fail.share);
    free(fits);
}

struct sim_fit *sim_fit_trace(const struct sim_trace *tr)
{
    size_t nt = tr->types.n;
    struct sim_fit *f = xcalloc(nt ? nt : 1, sizeof *f);
    double *sx = xcalloc(nt ? nt : 1, sizeof *sx), *sy = xcalloc(nt ? nt : 1, sizeof *sy);
    for (size_t i = 0; i < tr->n; i++) {
        const struct sim_record *r = &tr->recs[i];
        struct sim_fit *t = &f[r->type];
        t->attempts++;
        if (r->outcome == SIM_FAIL || r->outcome == SIM_TIMEOUT)
            t->failures++;
        if (r->outcome != SIM_OK)
            continue;
        t->n++;
        sx[r->type] += r->tokens_out;
        sy[r->type] += r->service;
    }
    double *sxx = xcalloc(nt ? nt : 1, sizeof *sxx), *sxy = xcalloc(nt ? nt : 1, sizeof *sxy),
           *syy = xcalloc(nt ? nt : 1, sizeof *syy);
    for (size_t k = 0; k < nt; k++)
        if (f[k].n) {
            f[k].mean_tokens_out = sx[k] / (double)f[k].n;
            f[k].mean_service = sy[k] / (double)f[k].n;
        }
    for (size_t i = 0; i < tr->n; i++) {
        const struct sim_record *r = &tr->recs[i];
        if (r->outcome != SIM_OK)
            continue;
        double dx = r->tokens_out - f[r->type].mean_tokens_out, dy = r->service - f[r->type].mean_service;
        sxx[r->type] += dx * dx;
        sxy[r->type] += dx * dy;
        syy[r->type] += dy * dy;
    }
    for (size_t k = 0; k < nt; k++) {
        struct sim_fit *t = &f[k];
        t->b = sxx[k] > 0 ? sxy[k] / sxx[k] : 0;
        t->a = t->mean_service - t->b * t->mean_tokens_out;
        double ssres = syy[k] - t->b * sxy[k];
        if (ssres < 0)
            ssres = 0;
        t->rmse = t->n ? sqrt(ssres / (double)t->n) : 0;
        t->r2 = syy[k] > 0 ? 1 - ssres / syy[k] : NAN;
    }
    failure_profiles(tr, f);
    free(sx);
    free(sy);
    free(sxx);
    free(sxy);
    free(syy);
    return f;
}

void sim_fit_print(FILE *out, const struct sim_trace *tr, const struct sim_fit *fits)
{
    for (size_t k = 0; k < tr->types.n; k++) {
        const struct sim_fit *f = &fits[k];
        fprintf(out, "fit %s: service = %.6g + %.6g*tokens_out s (%zu ok attempts, rmse %.4g s", tr->types.names[k],
                f->a, f->b, f->n, f->rmse);
        if (isnan(f->r2))
            fprintf(out, ", R² n/a)");
        else
            fprintf(out, ", R² %.4f)", f->r2);
        fprintf(out, "; %zu of %zu attempts failed\n", f->failures, f->attempts);
    }
}
