/* `qdeck celery watch | workers [--json]`: a Celery fleet seen through its
 * events; `qdeck celery ping | rate-limit TASK RATE | pool-grow N |
 * pool-shrink N | add-consumer QUEUE | cancel-consumer QUEUE | revoke ID
 * [--terminate] | shutdown WORKER | enable-events [--worker NAME]`: Celery's
 * remote control (celery/pidbox.h), every worker's reply as a table or
 * --json; all but ping refused under --read-only, and audited. `watch` runs the events collector (console/celery-collector.h)
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
#include "celery/pidbox.h"
#include "control/audit.h"
#include "control/fleet.h"
#include "core/clock.h"
#include "core/log.h"
#include "net/redis-open.h"
#include "resilience/fleet-report.h"

const char celery_usage[] =
    "usage: qdeck celery watch [--forget SECS] | workers [--json]\n"
    "       qdeck celery ping | rate-limit TASK RATE | pool-grow N | pool-shrink N | add-consumer QUEUE |\n"
    "                    cancel-consumer QUEUE | revoke ID [--terminate] | shutdown WORKER | enable-events\n"
    "                    [--worker NAME]... [--wait SECS] [--json]\n"
    "watch: receive the Celery fleet's events (celeryev on the context's AMQP broker, else its Redis) and\n"
    "       keep each Celery worker in the fleet registry until SIGTERM/SIGINT (never turns events on)\n"
    "workers: the Celery workers and task names the fleet registry holds\n"
    "the others: Celery's remote control (pidbox) on the context's AMQP broker, else its Redis; every\n"
    "worker's reply (default: all workers, for --wait seconds); refused under --read-only but ping";

const struct arg_option celery_options[] = {
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_DOUBLE("forget", 0, "SECS", "watch: seconds a silent Celery worker stays listed (default 600)", 10, 86400, "s"),
    OPT_LIST("worker", 0, "NAME", "remote control: the worker (celery@host) to ask; repeat for more (default all)"),
    OPT_DOUBLE("wait", 0, "SECS", "remote control: seconds to collect replies (default 2)", 0.1, 60, "s"),
    OPT_FLAG("terminate", 0, "revoke: also terminate the task if it is running"),
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

static void print_celery_json(const struct fleet_table *t, const struct latency_table *lt, double now)
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
    print_json(root);
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
        print_celery_json(t, &lt, now);
    else
        print_table(t, &lt, now);
    latency_table_free(&lt);
    free(reports);
    fleet_table_free(t);
    return EXIT_OK;
}

/* A remote-control verb: its pidbox method and the words it takes. */
struct control_verb {
    const char *verb, *method;
    int nargs;                /* words after the verb */
    const char *arg_names[2]; /* the arguments' names in Celery's control.py */
    bool numeric;             /* the (only) word is a count */
};

static const struct control_verb control_verbs[] = {
    {"ping", "ping", 0, {NULL, NULL}, false},
    {"rate-limit", "rate_limit", 2, {"task_name", "rate_limit"}, false},
    {"pool-grow", "pool_grow", 1, {"n", NULL}, true},
    {"pool-shrink", "pool_shrink", 1, {"n", NULL}, true},
    {"add-consumer", "add_consumer", 1, {"queue", NULL}, false},
    {"cancel-consumer", "cancel_consumer", 1, {"queue", NULL}, false},
    {"revoke", "revoke", 1, {"task_id", NULL}, false},
    {"shutdown", "shutdown", 0, {NULL, NULL}, false},
    {"enable-events", "enable_events", 0, {NULL, NULL}, false},
};

static void print_replies(const cJSON *replies)
{
    printf("%-32s %s\n", "WORKER", "REPLY");
    const cJSON *r;
    cJSON_ArrayForEach(r, replies) {
        const cJSON *ok = cJSON_GetObjectItemCaseSensitive(r, "ok"), *error = cJSON_GetObjectItemCaseSensitive(r, "error");
        char *text = cJSON_IsString(ok) ? NULL : cJSON_IsString(error) ? NULL : cJSON_PrintUnformatted(r);
        if (cJSON_IsString(ok))
            printf("%-32s ok: %s\n", r->string, ok->valuestring);
        else if (cJSON_IsString(error))
            printf("%-32s error: %s\n", r->string, error->valuestring);
        else
            printf("%-32s %.200s\n", r->string, text ? text : "?");
        free(text);
    }
}

static int celery_control(struct app *app, const struct args *a, const struct control_verb *v)
{
    const char *verb = v->verb;
    size_t nworkers = 0;
    char **workers = args_list(a, "worker", &nworkers);
    if (strcmp(verb, "shutdown") == 0) {
        if (a->nwords != 3)
            return fail(EXIT_USAGE, "usage: qdeck celery shutdown WORKER (one worker by name, e.g. celery@host)");
        workers = &a->words[2];
        nworkers = 1;
    } else if (a->nwords != (size_t)v->nargs + 2) {
        return fail(EXIT_USAGE, "celery %s: wants %d argument%s (qdeck celery --help)", verb, v->nargs,
                    v->nargs == 1 ? "" : "s");
    }
    cJSON *args = cJSON_CreateObject();
    for (int i = 0; i < v->nargs && strcmp(verb, "shutdown") != 0; i++) {
        const char *word = a->words[2 + i];
        if (v->numeric) {
            char *end;
            long n = strtol(word, &end, 10);
            if (*end || n < 1 || n > 10000) {
                cJSON_Delete(args);
                return fail(EXIT_USAGE, "celery %s: %s is not a count from 1 to 10000", verb, word);
            }
            cJSON_AddNumberToObject(args, v->arg_names[i], (double)n);
        } else {
            cJSON_AddStringToObject(args, v->arg_names[i], word);
        }
    }
    if (strcmp(verb, "revoke") == 0 && args_flag(a, "terminate"))
        cJSON_AddTrueToObject(args, "terminate");
    char target[512] = "", *argtext = cJSON_PrintUnformatted(args);
    for (size_t i = 0; i < nworkers; i++)
        snprintf(target + strlen(target), sizeof target - strlen(target), "%s%s", i ? "," : "", workers[i]);
    if (!target[0])
        snprintf(target, sizeof target, "all workers");
    char action[64];
    snprintf(action, sizeof action, "celery.%s", v->method);
    bool mutating = strcmp(verb, "ping") != 0;
    if (mutating && control_read_only(app)) {
        cJSON_Delete(args);
        int rc = control_refuse(app, action, target, argtext);
        free(argtext);
        return rc;
    }
    const struct context_config *ctx = app->ctx;
    const char *url = ctx ? (ctx->amqp ? ctx->amqp : ctx->redis) : NULL;
    if (!url) {
        cJSON_Delete(args);
        free(argtext);
        return fail(EXIT_USAGE, "Celery's remote control goes through its broker: give --amqp URL or --redis URL");
    }
    struct celery_pidbox_request req = {.method = v->method, .arguments = args,
                                        .destination = (const char *const *)workers, .ndestination = nworkers,
                                        .wait = args_double(a, "wait", 2)};
    cJSON *replies = NULL;
    char err[300];
    int rc = celery_pidbox_call(url, &ctx->tls, ctx->timeout, &req, &replies, err, sizeof err);
    cJSON_Delete(args);
    char result[320];
    if (rc == 0)
        snprintf(result, sizeof result, "%d replies", cJSON_GetArraySize(replies));
    if (mutating) {
        struct audit_entry e = {.action = action, .target = target, .new_value = argtext, .result = rc == 0 ? result : err};
        char aerr[300];
        if (audit_record(&app->cfg, ctx->name, NULL, &e, aerr, sizeof aerr) < 0)
            fprintf(stderr, "qdeck: warning: %s\n", aerr);
    }
    free(argtext);
    if (rc < 0)
        return fail(EXIT_UNREACHABLE, "%s", err);
    if (args_flag(a, "json")) {
        char *text = cJSON_Print(replies);
        printf("%s\n", text);
        free(text);
    } else {
        print_replies(replies);
    }
    int n = cJSON_GetArraySize(replies);
    cJSON_Delete(replies);
    if (n == 0 && strcmp(verb, "shutdown") != 0)
        return fail(EXIT_FAILED, "no Celery worker answered %s within %.1f s", v->method, req.wait);
    return EXIT_OK;
}

int cmd_celery(struct app *app, const struct args *a)
{
    const char *verb = a->nwords > 1 ? a->words[1] : "";
    if (strcmp(verb, "watch") == 0)
        return celery_watch(app, a);
    if (strcmp(verb, "workers") == 0)
        return celery_workers(app, a);
    for (size_t i = 0; i < sizeof control_verbs / sizeof control_verbs[0]; i++)
        if (strcmp(verb, control_verbs[i].verb) == 0)
            return celery_control(app, a, &control_verbs[i]);
    return fail(EXIT_USAGE, "celery: %s%s (qdeck celery --help lists them)",
                verb[0] ? "unknown subcommand " : "no subcommand", verb);
}
