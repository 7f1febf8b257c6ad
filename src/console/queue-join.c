/* Queue rows joined with the fleet and the guardrails (see queue-join.h). */
#include "console/queue-join.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "celery/state.h"
#include "core/xalloc.h"

static int by_addr(const void *a, const void *b)
{
    return strcmp(((const struct queue_fleet_row *)a)->addr, ((const struct queue_fleet_row *)b)->addr);
}

/* One (queue, worker) pair of the fleet, before they are grouped by queue. */
struct pair {
    const char *addr;
    const struct fleet_worker *w;
    double rate;        /* NAN: not reported */
    bool alone;         /* the worker consumes this queue only */
};

static int pair_by_addr(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    int c = strcmp(x->addr, y->addr);
    return c ? c : strcmp(x->w->id, y->w->id);
}

static bool listed(const cJSON *array, const char *s)
{
    const cJSON *e;
    if (!cJSON_IsArray(array))
        return false;
    cJSON_ArrayForEach(e, array)
        if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0)
            return true;
    return false;
}

/* A Celery worker's report names its queues as one string of bare names
 * ("a, b", from one active_queues) and the ones a guardrail paused on it
 * as "paused_queues": each queue it still consumes becomes an address on
 * its broker (amqp:, or redis: when its events came through Redis), in a
 * JSON array the caller frees. NULL when the report says nothing. */
static cJSON *celery_queue_addrs(const struct fleet_worker *w)
{
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(w->report, "queues");
    if (!cJSON_IsString(names))
        return NULL;
    const cJSON *source = cJSON_GetObjectItemCaseSensitive(w->report, "events_source");
    const char *scheme = cJSON_IsString(source) && strncmp(source->valuestring, "redis", 5) == 0 ? "redis" : "amqp";
    const cJSON *paused = cJSON_GetObjectItemCaseSensitive(w->report, "paused_queues");
    const char *paused_list = cJSON_IsString(paused) ? paused->valuestring : "";
    cJSON *addrs = cJSON_CreateArray();
    char *list = xstrdup(names->valuestring), *save = NULL;
    for (char *q = strtok_r(list, ", ", &save); q; q = strtok_r(NULL, ", ", &save)) {
        char addr[320];
        if (celery_queue_listed(paused_list, q))
            continue;   /* cancel_consumer: it reads nothing from it */
        snprintf(addr, sizeof addr, "%s:%s", scheme, q);
        cJSON_AddItemToArray(addrs, cJSON_CreateString(addr));
    }
    free(list);
    return addrs;
}

/* Pairs sorted by queue, then grouped: O(p log p) for p pairs, so a fleet
 * of 100 workers on 1,000 queues costs a sort, not a scan per queue. */
void queue_fleet_build(const struct fleet_table *t, struct queue_fleet *out)
{
    memset(out, 0, sizeof *out);
    struct pair *pairs = NULL;
    size_t np = 0, cap = 0;
    cJSON *celery = cJSON_CreateArray();   /* the Celery workers' addresses, kept until grouped */
    for (size_t i = 0; t && i < t->n; i++) {
        const struct fleet_worker *w = &t->workers[i];
        const cJSON *queues = cJSON_GetObjectItemCaseSensitive(w->report, "queues");
        if (w->state == FLEET_RUNNING && cJSON_IsString(queues) && (queues = celery_queue_addrs(w)))
            cJSON_AddItemToArray(celery, (cJSON *)queues);
        if (w->state != FLEET_RUNNING || !cJSON_IsArray(queues))
            continue;
        const cJSON *rates = cJSON_GetObjectItemCaseSensitive(w->report, "queue_rate"), *q;
        const cJSON *paused = cJSON_GetObjectItemCaseSensitive(w->report, "paused");
        bool alone = cJSON_GetArraySize(queues) == 1;
        cJSON_ArrayForEach(q, queues)
        {
            if (!cJSON_IsString(q) || listed(paused, q->valuestring))
                continue;   /* paused by its guardrail: it reads nothing from it (as RabbitMQ counts) */
            if (np == cap) {
                cap = cap ? cap * 2 : 64;
                pairs = xrealloc(pairs, cap * sizeof *pairs);
            }
            const cJSON *rate = cJSON_GetObjectItemCaseSensitive(rates, q->valuestring);
            pairs[np++] = (struct pair){q->valuestring, w, cJSON_IsNumber(rate) ? rate->valuedouble : NAN, alone};
        }
    }
    if (np > 1)
        qsort(pairs, np, sizeof *pairs, pair_by_addr);
    out->rows = np ? xcalloc(np, sizeof *out->rows) : NULL;
    for (size_t i = 0; i < np; i++) {
        const struct pair *p = &pairs[i];
        if (i > 0 && p->w == pairs[i - 1].w && strcmp(p->addr, pairs[i - 1].addr) == 0)
            continue;   /* a queue a worker lists twice is one consumer */
        struct queue_fleet_row *r = &out->rows[out->n - (out->n > 0)];
        if (!out->n || strcmp(r->addr, p->addr) != 0) {
            r = &out->rows[out->n++];
            *r = (struct queue_fleet_row){.addr = xstrdup(p->addr), .rate_out = NAN};
        }
        r->consumers++;
        char *joined = r->workers ? xasprintf("%s, %s", r->workers, p->w->id) : xstrdup(p->w->id);
        free(r->workers);
        r->workers = joined;
        if (!isnan(p->rate))
            r->rate_out = (isnan(r->rate_out) ? 0 : r->rate_out) + p->rate;
        if (p->alone && r->slots >= 0 && p->w->slots_total > 0 && p->w->slots_busy >= 0) {
            r->busy += p->w->slots_busy;
            r->slots += p->w->slots_total;
        } else {
            r->busy = r->slots = -1;   /* slots shared with another queue: no utilisation */
        }
    }
    free(pairs);
    cJSON_Delete(celery);
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
