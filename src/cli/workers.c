/* `qdeck workers [--json]`: the Workers view (3) as a command — one row per
 * worker of the fleet from the heartbeats in the worker registry
 * (control/fleet.h): kind, state (LOST, ERROR with its health, running,
 * stopped), host and pid, queues, busy/total slots, processed, failed,
 * retried, dead-lettered, parked, and how long ago it last beat. Sorted as
 * the view sorts by state: lost first, then unhealthy, running, stopped.
 * Exit 3 when the control plane (Redis) cannot be reached. */
#include <cjson/cJSON.h>
#include <math.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "celery/state.h"
#include "cli/app.h"
#include "control/fleet.h"
#include "core/clock.h"
#include "core/xalloc.h"

int cli_read_fleet(struct app *app, struct fleet_table **out)
{
    redisContext *c;
    int rc = control_connect(app, &c);
    if (rc != EXIT_OK)
        return rc;
    char err[512];
    if (fleet_read(c, NULL, clock_wall(), out, err, sizeof err) < 0) {
        redisFree(c);
        return fail(EXIT_UNREACHABLE, "worker registry: %s", err);
    }
    redisFree(c);
    return EXIT_OK;
}

const char *worker_state_text(const struct fleet_worker *w)
{
    if (w->state == FLEET_LOST)
        return "LOST";
    return fleet_worker_unhealthy(w) ? "ERROR" : fleet_state_name(w->state);
}

static int state_rank(const struct fleet_worker *w)
{
    return w->state == FLEET_LOST ? 0 : fleet_worker_unhealthy(w) ? 1 : w->state == FLEET_RUNNING ? 2 : 3;
}

static int by_state(const void *a, const void *b)
{
    const struct fleet_worker *x = *(const struct fleet_worker *const *)a, *y = *(const struct fleet_worker *const *)b;
    int c = state_rank(x) - state_rank(y);
    return c ? c : strcmp(x->id, y->id);
}

static cJSON *worker_json(const struct fleet_worker *w, double now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", w->id);
    cJSON_AddStringToObject(o, "kind", w->kind ? w->kind : "qdeck");
    cJSON_AddStringToObject(o, "state", worker_state_text(w));
    cJSON_AddStringToObject(o, "host", w->host);
    if (w->pid < 0)
        cJSON_AddNullToObject(o, "pid");
    else
        cJSON_AddNumberToObject(o, "pid", (double)w->pid);
    cJSON_AddStringToObject(o, "version", w->version);
    cJSON *queues = cJSON_AddArrayToObject(o, "queues");
    const cJSON *listed = cJSON_GetObjectItemCaseSensitive(w->report, "queues"), *q;
    if (cJSON_IsString(listed)) {   /* a Celery worker's: "a,b" */
        for (const char *p = listed->valuestring; *p;) {
            size_t len = strcspn(p, ",");
            if (len) {
                char *name = xstrndup(p, len);
                cJSON_AddItemToArray(queues, cJSON_CreateString(name));
                free(name);
            }
            p += len + (p[len] == ',');
        }
        listed = NULL;
    }
    if (!cJSON_IsArray(listed))
        listed = NULL;
    cJSON_ArrayForEach(q, listed)
        if (cJSON_IsString(q))
            cJSON_AddItemToArray(queues, cJSON_CreateString(q->valuestring));
    json_add_count(o, "slots_busy", w->slots_busy);
    json_add_count(o, "slots_total", w->slots_total);
    json_add_count(o, "in_flight", w->in_flight);
    json_add_count(o, "processed", w->processed);
    json_add_count(o, "failed", w->failed);
    json_add_count(o, "retried", w->retried);
    json_add_count(o, "dead_lettered", w->dead_lettered);
    json_add_count(o, "parked", w->parked);
    cJSON_AddStringToObject(o, "health", w->health ? w->health : "");
    json_add_real(o, "started_at", w->started_at);
    json_add_real(o, "last_beat", w->last_beat);
    json_add_real(o, "beat_age", now - w->last_beat);
    json_add_real(o, "interval", w->interval);
    /* a Celery worker's clock against qdeck's, from its heartbeats */
    const cJSON *offset = cJSON_GetObjectItemCaseSensitive(w->report, "clock_offset");
    if (cJSON_IsNumber(offset)) {
        json_add_real(o, "clock_offset", offset->valuedouble);
        cJSON_AddBoolToObject(o, "clock_skew", fabs(offset->valuedouble) > CELERY_SKEW_TOLERANCE);
    }
    return o;
}

static void count_text(char *buf, size_t len, int64_t v)
{
    if (v < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%lld", (long long)v);
}

static void print_table(const struct fleet_worker *const *rows, size_t n, double now)
{
    if (!n) {
        fprintf(stderr, "no workers in the registry\n");
        return;
    }
    printf("%-28s %-6s %-7s %-22s %-9s %8s %7s %7s %7s %7s %7s  %s\n", "WORKER", "KIND", "STATE", "HOST:PID",
           "SLOTS", "PROC", "FAIL", "RETRY", "DLQ", "PARKED", "BEAT", "QUEUES");
    for (size_t i = 0; i < n; i++) {
        const struct fleet_worker *w = rows[i];
        char where[96], slots[40], proc[24], failed[24], retried[24], dlq[24], parked[24], beat[24];
        if (w->pid >= 0)
            snprintf(where, sizeof where, "%s:%ld", w->host, w->pid);
        else
            snprintf(where, sizeof where, "%s", w->host);
        if (w->slots_total > 0 && w->slots_busy >= 0)
            snprintf(slots, sizeof slots, "%lld/%lld", (long long)w->slots_busy, (long long)w->slots_total);
        else
            snprintf(slots, sizeof slots, "-");
        count_text(proc, sizeof proc, w->processed);
        count_text(failed, sizeof failed, w->failed);
        count_text(retried, sizeof retried, w->retried);
        count_text(dlq, sizeof dlq, w->dead_lettered);
        count_text(parked, sizeof parked, w->parked);
        double age = now - w->last_beat;
        format_duration(age < 0 ? 0 : age, beat, sizeof beat);
        bool unhealthy = fleet_worker_unhealthy(w);
        printf("%-28s %-6s %-7s %-22s %-9s %8s %7s %7s %7s %7s %7s  %s\n", w->id, w->kind ? w->kind : "qdeck",
               worker_state_text(w), where, slots, proc, failed, retried, dlq, parked, beat,
               unhealthy ? w->health : w->queues);
    }
}

int cmd_workers(struct app *app, const struct args *a)
{
    if (a->nwords > 1)
        return fail(EXIT_USAGE, "workers: unknown argument '%s' (usage: qdeck workers [--json])", a->words[1]);
    struct fleet_table *t;
    int rc = cli_read_fleet(app, &t);
    if (rc != EXIT_OK)
        return rc;
    const struct fleet_worker **rows = xcalloc(t->n ? t->n : 1, sizeof *rows);
    for (size_t i = 0; i < t->n; i++)
        rows[i] = &t->workers[i];
    qsort(rows, t->n, sizeof *rows, by_state);
    double now = clock_wall();
    if (args_flag(a, "json")) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < t->n; i++)
            cJSON_AddItemToArray(arr, worker_json(rows[i], now));
        print_json(arr);
    } else {
        print_table(rows, t->n, now);
    }
    free(rows);
    fleet_table_free(t);
    return EXIT_OK;
}
