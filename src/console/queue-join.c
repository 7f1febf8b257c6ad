/* Queue rows joined with the fleet and the guardrails (see queue-join.h). */
#include "console/queue-join.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

static int by_addr(const void *a, const void *b)
{
    return strcmp(((const struct queue_fleet_row *)a)->addr, ((const struct queue_fleet_row *)b)->addr);
}

static struct queue_fleet_row *row_for(struct queue_fleet *qf, size_t *cap, const char *addr)
{
    for (size_t i = 0; i < qf->n; i++)   /* while building: few queues per fleet */
        if (strcmp(qf->rows[i].addr, addr) == 0)
            return &qf->rows[i];
    if (qf->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        qf->rows = xrealloc(qf->rows, *cap * sizeof *qf->rows);
    }
    struct queue_fleet_row *r = &qf->rows[qf->n++];
    *r = (struct queue_fleet_row){.addr = xstrdup(addr), .rate_out = NAN, .busy = 0, .slots = 0};
    return r;
}

static void append_worker(struct queue_fleet_row *r, const char *id)
{
    char *joined = r->workers ? xasprintf("%s, %s", r->workers, id) : xstrdup(id);
    free(r->workers);
    r->workers = joined;
}

void queue_fleet_build(const struct fleet_table *t, struct queue_fleet *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    for (size_t i = 0; t && i < t->n; i++) {
        const struct fleet_worker *w = &t->workers[i];
        const cJSON *queues = cJSON_GetObjectItemCaseSensitive(w->report, "queues");
        if (w->state != FLEET_RUNNING || !cJSON_IsArray(queues))
            continue;
        const cJSON *rates = cJSON_GetObjectItemCaseSensitive(w->report, "queue_rate"), *q;
        bool alone = cJSON_GetArraySize(queues) == 1;
        cJSON_ArrayForEach(q, queues)
        {
            if (!cJSON_IsString(q))
                continue;
            struct queue_fleet_row *r = row_for(out, &cap, q->valuestring);
            r->consumers++;
            append_worker(r, w->id);
            const cJSON *rate = cJSON_GetObjectItemCaseSensitive(rates, q->valuestring);
            if (cJSON_IsNumber(rate))
                r->rate_out = (isnan(r->rate_out) ? 0 : r->rate_out) + rate->valuedouble;
            if (alone && r->slots >= 0 && w->slots_total > 0 && w->slots_busy >= 0) {
                r->busy += w->slots_busy;
                r->slots += w->slots_total;
            } else {
                r->busy = r->slots = -1;   /* slots shared with another queue: no utilisation */
            }
        }
    }
    if (out->n > 1)
        qsort(out->rows, out->n, sizeof *out->rows, by_addr);
}

void queue_fleet_free(struct queue_fleet *qf)
{
    for (size_t i = 0; i < qf->n; i++) {
        free(qf->rows[i].addr);
        free(qf->rows[i].workers);
    }
    free(qf->rows);
    memset(qf, 0, sizeof *qf);
}

const struct queue_fleet_row *queue_fleet_find(const struct queue_fleet *qf, const char *addr)
{
    if (!qf || !qf->n)
        return NULL;
    struct queue_fleet_row key = {.addr = (char *)addr};
    return bsearch(&key, qf->rows, qf->n, sizeof *qf->rows, by_addr);
}

static char *shed_reason(const struct shed_guardrails *g, const struct queue_stat *q)
{
    char text[96] = "";
    size_t used = 0;
    int64_t depth = q->total >= 0 ? q->total : q->ready;
    if (g->priority_below >= 0)
        used += (size_t)snprintf(text + used, sizeof text - used, "priority<%d", g->priority_below);
    if (g->max_depth >= 0 && depth >= 0 && depth >= g->max_depth && used < sizeof text)
        used += (size_t)snprintf(text + used, sizeof text - used, "%smax_depth %ld", used ? ", " : "", g->max_depth);
    return used ? xstrdup(text) : NULL;
}

struct snapshot *queue_join(const struct snapshot *s, const struct queue_fleet *qf, const struct policy *p)
{
    struct snapshot *out = snapshot_copy_rows(s);
    out->taken_at = s->taken_at;
    out->collect_seconds = s->collect_seconds;
    out->server = s->server ? xstrdup(s->server) : NULL;
    out->discovery = s->discovery ? xstrdup(s->discovery) : NULL;
    out->truncated = s->truncated;
    for (size_t i = 0; i < out->nqueues; i++) {
        struct queue_stat *q = &out->queues[i];
        const struct queue_fleet_row *r = queue_fleet_find(qf, q->addr);
        free(q->workers);
        q->workers = r && r->workers ? xstrdup(r->workers) : NULL;
        if (q->kind != QUEUE_AMQP && qf) {
            q->consumers = r ? r->consumers : 0;
            q->rate_out = r ? r->rate_out : 0;
            q->utilisation = r && r->slots > 0 ? (double)r->busy / (double)r->slots : NAN;
        }
        free(q->shed);
        q->shed = NULL;
        q->paused = false;
        if (p) {
            struct shed_guardrails g;
            policy_shed_guardrails(p, q->addr, -1, &g);
            q->paused = g.paused;
            q->shed = shed_reason(&g, q);
        }
    }
    snapshot_seal(out);
    return out;
}
