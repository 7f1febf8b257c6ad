/* Capacity, live; see capacity.h. */
#include "console/capacity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/erlang.h"
#include "core/histogram.h"
#include "core/xalloc.h"

#define MAX_SLOTS_ASKED 100000   /* the inverse of Erlang C looks no further */
#define MIN_INTERVAL 1.0         /* seconds between readings that make a rate */

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static bool live(const struct fleet_worker *w) { return w->state == FLEET_RUNNING && w->report; }

static size_t totals_of(const struct fleet_table *t, struct capacity_type_totals *out)
{
    size_t n = 0;
    for (size_t i = 0; t && i < t->n; i++) {
        if (!live(&t->workers[i]))
            continue;
        const cJSON *lat = cJSON_GetObjectItemCaseSensitive(t->workers[i].report, "latency"), *ty;
        cJSON_ArrayForEach(ty, lat)
        {
            size_t k = 0;
            while (k < n && strcmp(out[k].type, ty->string) != 0)
                k++;
            if (k == n) {
                if (n == CAPACITY_MAX_TYPES)
                    continue;
                memset(&out[n], 0, sizeof out[n]);
                snprintf(out[n].type, sizeof out[n].type, "%s", ty->string);
                n++;
            }
            out[k].ok += num(ty, "processed");
            out[k].attempts += num(ty, "processed") + num(ty, "failed");
            out[k].tokens_in += num(ty, "tokens_in");
            out[k].tokens_out += num(ty, "tokens_out");
        }
    }
    return n;
}

void capacity_observe(struct capacity_tracker *tr, const struct fleet_table *t)
{
    if (!t || (tr->at > 0 && t->taken_at - tr->at < MIN_INTERVAL))
        return;
    struct capacity_type_totals now[CAPACITY_MAX_TYPES];
    size_t n = totals_of(t, now);
    double lambda[CAPACITY_MAX_TYPES], ok[CAPACITY_MAX_TYPES], tin[CAPACITY_MAX_TYPES], tout[CAPACITY_MAX_TYPES];
    bool rated[CAPACITY_MAX_TYPES];
    double dt = t->taken_at - tr->at;
    for (size_t i = 0; i < n; i++) {
        rated[i] = false;
        for (size_t k = 0; tr->at > 0 && k < tr->n; k++) {
            if (strcmp(tr->last[k].type, now[i].type) != 0)
                continue;
            /* a worker gone or restarted makes totals fall: no rate from that pair */
            if (now[i].attempts >= tr->last[k].attempts && now[i].tokens_in >= tr->last[k].tokens_in &&
                now[i].tokens_out >= tr->last[k].tokens_out && now[i].ok >= tr->last[k].ok) {
                lambda[i] = (now[i].attempts - tr->last[k].attempts) / dt;
                ok[i] = (now[i].ok - tr->last[k].ok) / dt;
                tin[i] = (now[i].tokens_in - tr->last[k].tokens_in) / dt;
                tout[i] = (now[i].tokens_out - tr->last[k].tokens_out) / dt;
                rated[i] = true;
            }
        }
    }
    memcpy(tr->last, now, n * sizeof now[0]);
    memcpy(tr->lambda, lambda, n * sizeof lambda[0]);
    memcpy(tr->ok_rate, ok, n * sizeof ok[0]);
    memcpy(tr->tin_rate, tin, n * sizeof tin[0]);
    memcpy(tr->tout_rate, tout, n * sizeof tout[0]);
    memcpy(tr->rated, rated, n * sizeof rated[0]);
    tr->n = n;
    tr->at = t->taken_at;
}

/* Mean run time (s) of the given types' merged histograms on worker w's
 * report (type NULL: all types), added into *sum_s and *count. */
static void add_run(const cJSON *report, const char *type, struct histogram *scratch, double *sum_s, double *count)
{
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(report, "latency"), *ty;
    cJSON_ArrayForEach(ty, lat)
    {
        if (type && strcmp(ty->string, type) != 0)
            continue;
        const cJSON *enc = cJSON_GetObjectItemCaseSensitive(ty, "run");
        if (!cJSON_IsString(enc) || histogram_decode(scratch, enc->valuestring) < 0)
            continue;
        struct histogram_summary s;
        histogram_summarize(scratch, &s);
        *sum_s += s.mean * (double)s.count / 1e6;
        *count += (double)s.count;
    }
}

static bool serves_queue(const cJSON *report, const char *addr, int *nqueues)
{
    const cJSON *qs = cJSON_GetObjectItemCaseSensitive(report, "queues"), *q;
    bool found = false;
    *nqueues = 0;
    cJSON_ArrayForEach(q, qs)
    {
        (*nqueues)++;
        if (cJSON_IsString(q) && strcmp(q->valuestring, addr) == 0)
            found = true;
    }
    return found;
}

/* ρ, the Erlang C wait, drain time and what it takes to hold target. */
static void queueing(struct capacity_row *r, double target)
{
    double c_mu = r->slots * r->mu;
    r->rho = isfinite(r->lambda) && c_mu > 0 ? r->lambda / c_mu : NAN;
    r->wait = isfinite(r->lambda) && r->mu > 0 ? erlang_wait(r->lambda, r->mu, r->slots) : NAN;
    double lam = isfinite(r->lambda) ? r->lambda : 0;
    if (isfinite(r->depth))
        r->drain = r->depth <= 0 ? 0 : c_mu > lam && r->mu > 0 ? r->depth / (c_mu - lam) : INFINITY;
    r->slots_needed = isfinite(r->lambda) ? erlang_slots_for_wait(r->lambda, r->mu, target, MAX_SLOTS_ASKED) : -1;
    if (r->slots_needed >= 0) {
        r->more_slots = r->slots_needed > r->slots ? r->slots_needed - r->slots : 0;
        r->more_workers = r->worker_slots > 0 ? (r->more_slots + r->worker_slots - 1) / r->worker_slots : 0;
    }
}

static struct capacity_row *add_row(struct capacity_table *out, size_t *cap)
{
    if (out->n == *cap)
        out->rows = xrealloc(out->rows, (*cap = *cap ? *cap * 2 : 16) * sizeof *out->rows);
    struct capacity_row *r = &out->rows[out->n++];
    *r = (struct capacity_row){.lambda = NAN, .mu = NAN, .rho = NAN, .wait = NAN, .depth = NAN, .drain = NAN,
                               .slots_needed = -1, .more_slots = -1, .more_workers = -1, .tokens_per_min = NAN,
                               .cost_per_min = NAN, .cost_per_success = NAN};
    return r;
}

void capacity_build(const struct capacity_tracker *tr, const struct fleet_table *t, const struct config *cfg,
                    const struct capacity_queue *queues, size_t nqueues, double target_wait,
                    struct capacity_table *out)
{
    *out = (struct capacity_table){.target_wait = target_wait};
    size_t cap = 0;
    struct histogram *scratch = histogram_new();
    for (size_t k = 0; k < tr->n; k++) {
        const char *type = tr->last[k].type;
        struct capacity_row *r = add_row(out, &cap);
        snprintf(r->name, sizeof r->name, "%s", type);
        double sum = 0, count = 0;
        for (size_t i = 0; t && i < t->n; i++) {
            const struct fleet_worker *w = &t->workers[i];
            if (!live(w) || !cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(w->report, "latency"), type))
                continue;
            r->slots += w->slots_total > 0 ? (int)w->slots_total : 0;
            if (w->slots_total > r->worker_slots)
                r->worker_slots = (int)w->slots_total;
            add_run(w->report, type, scratch, &sum, &count);
        }
        r->mu = count > 0 && sum > 0 ? count / sum : NAN;
        if (tr->rated[k]) {
            r->lambda = tr->lambda[k];
            const struct task_config *tc = cfg ? config_task(cfg, type) : NULL;
            double pin = tc ? tc->price_in : 0, pout = tc ? tc->price_out : 0;
            r->tokens_per_min = (tr->tin_rate[k] + tr->tout_rate[k]) * 60;
            r->cost_per_min = (tr->tin_rate[k] * pin + tr->tout_rate[k] * pout) / 1e6 * 60;
            r->cost_per_success = tr->ok_rate[k] > 0 ? r->cost_per_min / 60 / tr->ok_rate[k] : NAN;
        }
        queueing(r, target_wait);
    }
    for (size_t q = 0; q < nqueues; q++) {
        struct capacity_row *r = add_row(out, &cap);
        r->queue = true;
        snprintf(r->name, sizeof r->name, "%s", queues[q].addr);
        r->depth = queues[q].depth;
        double sum = 0, count = 0, served = 0;
        bool rated = false;
        for (size_t i = 0; t && i < t->n; i++) {
            const struct fleet_worker *w = &t->workers[i];
            int nq = 0;
            if (!live(w) || !serves_queue(w->report, queues[q].addr, &nq))
                continue;
            /* a worker on several queues: an equal share of its slots and work */
            r->slots += w->slots_total > 0 ? (int)(w->slots_total / (nq > 0 ? nq : 1)) : 0;
            if (w->slots_total > r->worker_slots)
                r->worker_slots = (int)w->slots_total;
            if (isfinite(w->rate)) {
                served += w->rate / (nq > 0 ? nq : 1);
                rated = true;
            }
            add_run(w->report, NULL, scratch, &sum, &count);
        }
        r->mu = count > 0 && sum > 0 ? count / sum : NAN;
        if (isfinite(queues[q].rate_in) && queues[q].rate_in > 0)
            r->lambda = queues[q].rate_in;
        else if (rated)
            r->lambda = served + (isfinite(queues[q].growth) && queues[q].growth > 0 ? queues[q].growth : 0);
        queueing(r, target_wait);
    }
    histogram_free(scratch);
}

void capacity_table_free(struct capacity_table *t)
{
    free(t->rows);
    t->rows = NULL;
    t->n = 0;
}

static void add_figure(cJSON *o, const char *name, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

cJSON *capacity_json(const struct capacity_table *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "target_wait", t->target_wait);
    cJSON *types = cJSON_AddArrayToObject(o, "types"), *queues = cJSON_AddArrayToObject(o, "queues");
    for (size_t i = 0; i < t->n; i++) {
        const struct capacity_row *r = &t->rows[i];
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, r->queue ? "queue" : "type", r->name);
        add_figure(row, "lambda", r->lambda);
        add_figure(row, "mu", r->mu);
        cJSON_AddNumberToObject(row, "slots", r->slots);
        add_figure(row, "rho", r->rho);
        add_figure(row, "wait", r->wait);
        if (r->queue) {
            add_figure(row, "depth", r->depth);
            add_figure(row, "drain_time", r->drain);
        }
        if (r->slots_needed >= 0) {
            cJSON_AddNumberToObject(row, "slots_needed", r->slots_needed);
            cJSON_AddNumberToObject(row, "more_workers", r->more_workers);
        } else {
            cJSON_AddNullToObject(row, "slots_needed");
            cJSON_AddNullToObject(row, "more_workers");
        }
        if (!r->queue) {
            add_figure(row, "tokens_per_min", r->tokens_per_min);
            add_figure(row, "cost_per_min", r->cost_per_min);
            add_figure(row, "cost_per_success", r->cost_per_success);
        }
        cJSON_AddItemToArray(r->queue ? queues : types, row);
    }
    return o;
}
