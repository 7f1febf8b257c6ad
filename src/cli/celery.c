/* `qdeck celery watch | workers [--json]`: a Celery fleet seen through its
 * events. `watch` runs the events collector (console/celery-collector.h)
 * headless until SIGTERM or SIGINT, writing each Celery worker into the
 * fleet registry; `workers` reads the fleet (control/fleet.h) and lists the
 * Celery workers and their task names' latency (merged histograms,
 * resilience/fleet-report.h), as a table or --json. */
#include <cJSON.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/app.h"
#include "console/celery-collector.h"
#include "control/fleet.h"
#include "core/clock.h"
#include "core/log.h"
#include "net/redis-open.h"
#include "resilience/fleet-report.h"

const char celery_usage[] =
    "usage: qdeck celery watch [--forget SECS] | workers [--json]\n"
    "watch: receive the Celery fleet's events (celeryev on the context's AMQP broker, else its Redis) and\n"
    "       keep each Celery worker in the fleet registry until SIGTERM/SIGINT (never turns events on)\n"
    "workers: the Celery workers and task names the fleet registry holds";

const struct arg_option celery_options[] = {
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_DOUBLE("forget", 0, "SECS", "watch: seconds a silent Celery worker stays listed (default 600)", 10, 86400, "s"),
    OPT_END,
};

static int celery_watch(struct app *app, const struct args *a)
{
    const struct context_config *ctx = app->ctx;
    if (!ctx || !ctx->redis)
        return fail(EXIT_USAGE, "celery watch writes the fleet into Redis: give --redis URL or set QDECK_REDIS_URL");
    struct celery_collector_options o = {
        .events_url = ctx->amqp ? ctx->amqp : ctx->redis,
        .redis_url = ctx->redis,
        .tls = &ctx->tls,
        .timeout = ctx->timeout,
        .limits = {.forget_after = args_double(a, "forget", 600)},
    };
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    char err[300];
    struct celery_collector *cc = celery_collector_start(&o, err, sizeof err);
    if (!cc)
        return fail(EXIT_USAGE, "%s", err);
    fprintf(stderr, "celery: watching events; stop with SIGTERM or ^C\n");
    int sig;
    sigwait(&stop_signals, &sig);
    struct celery_collector_status st;
    celery_collector_status(cc, &st);
    celery_collector_stop(cc);
    fprintf(stderr, "celery: %llu events, %llu unreadable messages, %zu workers, %llu in-flight entries evicted\n",
            (unsigned long long)st.counters.events, (unsigned long long)st.bad_messages, st.workers,
            (unsigned long long)st.counters.inflight_evicted);
    return EXIT_OK;
}

static cJSON *summary_json(const struct histogram_summary *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)s->count);
    cJSON_AddNumberToObject(o, "p50", (double)s->p50 / 1e6);
    cJSON_AddNumberToObject(o, "p90", (double)s->p90 / 1e6);
    cJSON_AddNumberToObject(o, "p99", (double)s->p99 / 1e6);
    cJSON_AddNumberToObject(o, "p999", (double)s->p999 / 1e6);
    cJSON_AddNumberToObject(o, "max", (double)s->max / 1e6);
    return o;
}

static void print_json(const struct fleet_table *t, const struct latency_table *lt, double now)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *ws = cJSON_AddArrayToObject(root, "workers");
    for (size_t i = 0; i < t->n; i++) {
        const struct fleet_worker *w = &t->workers[i];
        if (strcmp(w->kind, "celery") != 0)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", w->id);
        cJSON_AddStringToObject(o, "kind", w->kind);
        cJSON_AddStringToObject(o, "version", w->version);
        cJSON_AddNumberToObject(o, "pid", (double)w->pid);
        cJSON_AddStringToObject(o, "state", fleet_state_name(w->state));
        cJSON_AddNumberToObject(o, "active", (double)w->slots_busy);
        cJSON_AddNumberToObject(o, "concurrency", (double)w->slots_total);
        cJSON_AddNumberToObject(o, "processed", (double)w->processed);
        cJSON_AddNumberToObject(o, "failed", (double)w->failed);
        cJSON_AddNumberToObject(o, "heartbeat_age", now - w->last_beat);
        cJSON_AddStringToObject(o, "queues", w->queues);
        const cJSON *load = cJSON_GetObjectItemCaseSensitive(w->report, "loadavg");
        if (load)
            cJSON_AddItemToObject(o, "loadavg", cJSON_Duplicate(load, 1));
        cJSON_AddItemToArray(ws, o);
    }
    cJSON *tasks = cJSON_AddArrayToObject(root, "tasks");
    for (size_t i = 0; i < lt->n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", lt->rows[i].type);
        cJSON_AddNumberToObject(o, "workers", (double)lt->rows[i].workers);
        for (int k = 0; k < LATENCY_KINDS; k++)
            cJSON_AddItemToObject(o, latency_kind_keys[k], summary_json(&lt->rows[i].summary[k]));
        cJSON_AddItemToArray(tasks, o);
    }
    char *text = cJSON_Print(root);
    printf("%s\n", text);
    free(text);
    cJSON_Delete(root);
}

static void print_table(const struct fleet_table *t, const struct latency_table *lt, double now)
{
    printf("%-28s %-8s %7s %9s %9s %7s %6s  %s\n", "WORKER", "STATE", "PID", "ACTIVE", "PROCESSED", "FAILED", "BEAT",
           "VERSION");
    for (size_t i = 0; i < t->n; i++) {
        const struct fleet_worker *w = &t->workers[i];
        if (strcmp(w->kind, "celery") != 0)
            continue;
        char active[32], age[16];
        snprintf(active, sizeof active, "%lld/%s", (long long)w->slots_busy, w->slots_total >= 0 ? "" : "?");
        if (w->slots_total >= 0)
            snprintf(active, sizeof active, "%lld/%lld", (long long)w->slots_busy, (long long)w->slots_total);
        format_duration(now - w->last_beat, age, sizeof age);
        printf("%-28s %-8s %7ld %9s %9lld %7lld %6s  %s\n", w->id, fleet_state_name(w->state), w->pid, active,
               (long long)w->processed, (long long)w->failed, age, w->version);
    }
    printf("\n%-32s %8s %9s %9s %9s %9s\n", "TASK", "RUNS", "RUN p50", "p99", "max", "WAIT p50");
    for (size_t i = 0; i < lt->n; i++) {
        const struct histogram_summary *run = &lt->rows[i].summary[LATENCY_RUN];
        const struct histogram_summary *wait = &lt->rows[i].summary[LATENCY_WAIT];
        printf("%-32s %8llu %8.1fms %8.1fms %8.1fms %8.1fms\n", lt->rows[i].type, (unsigned long long)run->count,
               run->p50 / 1e3, run->p99 / 1e3, run->max / 1e3, wait->p50 / 1e3);
    }
}

static int celery_workers(struct app *app, const struct args *a)
{
    if (!app->ctx || !app->ctx->redis)
        return fail(EXIT_USAGE, "the fleet lives in Redis: give --redis URL or set QDECK_REDIS_URL");
    char err[300];
    redisContext *c = redis_open(app->ctx->redis, app->ctx->timeout, 0, err, sizeof err);
    if (!c)
        return fail(EXIT_UNREACHABLE, "%s", err);
    double now = clock_wall();
    struct fleet_table *t;
    if (fleet_read(c, NULL, now, &t, err, sizeof err) < 0) {
        redisFree(c);
        return fail(EXIT_UNREACHABLE, "%s", err);
    }
    redisFree(c);
    const cJSON **reports = calloc(t->n ? t->n : 1, sizeof *reports);
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->workers[i].kind, "celery") == 0)
            reports[n++] = t->workers[i].report;
    struct latency_table lt;
    latency_table_build((const cJSON *const *)reports, n, &lt);
    if (args_flag(a, "json"))
        print_json(t, &lt, now);
    else
        print_table(t, &lt, now);
    latency_table_free(&lt);
    free(reports);
    fleet_table_free(t);
    return EXIT_OK;
}

int cmd_celery(struct app *app, const struct args *a)
{
    const char *verb = a->nwords > 1 ? a->words[1] : "";
    if (strcmp(verb, "watch") == 0)
        return celery_watch(app, a);
    if (strcmp(verb, "workers") == 0)
        return celery_workers(app, a);
    return fail(EXIT_USAGE, "qdeck celery: %s%s (want watch or workers)", verb[0] ? "unknown subcommand " : "no subcommand",
                verb);
}
