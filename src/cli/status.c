/* `qdeck status [--json]`: one refresh of every source, printed as a table
 * or as JSON (same addresses as the console) on stdout; each source's
 * health goes to stderr (in --json it is part of the object). Sources are collected in
 * parallel, each on its own thread and connection, so a hung broker costs
 * one timeout, not one per source. The management API answering says
 * nothing about AMQP logins, so with an amqp URL a cheap connect and login
 * runs alongside and is reported as a source of its own ("amqp ... ok" or
 * "login refused"). Exit 3 when a source could not be read or the login
 * was refused. With --json and a running worker in Redis, "capacity"
 * carries the Capacity view's figures (console/capacity.h), from two
 * fleet readings one heartbeat interval apart (1 to 3 s). */
#include <cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "broker/source.h"
#include "cli/app.h"
#include "console/queue-join.h"
#include "console/capacity.h"
#include "control/fleet.h"
#include "net/redis-open.h"
#include "core/clock.h"
#include "core/url.h"
#include "core/xalloc.h"
#include "worker/amqp-link.h"

/* Seconds the AMQP login check waits at most. */
#define AMQP_CHECK_TIMEOUT 3.0

/* The AMQP connect+login check, run on its own thread. */
struct amqp_check {
    const char *url;
    const struct tls_options *tls;
    char *shown;                 /* redacted */
    double timeout;
    bool ok;
    const char *status;          /* "ok", "login refused", "unreachable", ... */
    char message[512];
};

static void *amqp_check_thread(void *arg)
{
    struct amqp_check *c = arg;
    enum amqp_link_fault fault;
    amqp_connection_state_t conn = amqp_link_connect(c->url, c->tls, 0, false, c->timeout, &fault, c->message,
                                                     sizeof c->message);
    c->ok = conn != NULL;
    c->status = c->ok ? "ok" : amqp_link_fault_name(fault);
    if (c->ok)
        snprintf(c->message, sizeof c->message, "login accepted");
    amqp_link_close(conn);
    return NULL;
}

static void add_string(cJSON *o, const char *key, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *queue_json(const struct queue_stat *q)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "queue", q->addr);
    cJSON_AddStringToObject(o, "kind", queue_kind_scheme(q->kind));
    json_add_count(o, "ready", q->ready);
    json_add_count(o, "unacked", q->unacked);
    json_add_count(o, "total", q->total);
    json_add_count(o, "length", q->length);
    json_add_count(o, "consumers", q->consumers);
    json_add_real(o, "utilisation", q->utilisation);
    json_add_real(o, "rate_in", q->rate_in);
    json_add_real(o, "rate_out", q->rate_out);
    json_add_real(o, "rate_ack", q->rate_ack);
    json_add_real(o, "rate_redeliver", q->rate_redeliver);
    json_add_real(o, "head_age", q->head_age);
    cJSON_AddBoolToObject(o, "head_age_at_least", q->head_age_at_least);
    json_add_real(o, "pending_idle", q->pending_idle);
    add_string(o, "dead_letter_to", q->dead_letter_to);
    add_string(o, "state", q->state);
    /* joined from the fleet and the guardrails (console/queue-join.h) */
    cJSON *workers = cJSON_AddArrayToObject(o, "workers");
    for (const char *w = q->workers; w && *w;) {
        size_t n = strcspn(w, ",");
        char *id = strndup(w, n);
        cJSON_AddItemToArray(workers, cJSON_CreateString(id));
        free(id);
        w += n;
        w += strspn(w, ", ");
    }
    cJSON_AddBoolToObject(o, "paused", q->paused);
    add_string(o, "shed", q->shed);
    return o;
}

static cJSON *amqp_check_json(const struct amqp_check *c)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "kind", "amqp");
    cJSON_AddStringToObject(s, "url", c->shown);
    cJSON_AddStringToObject(s, "status", c->status);
    cJSON_AddStringToObject(s, "message", c->message);
    cJSON_AddNullToObject(s, "server");
    cJSON_AddBoolToObject(s, "truncated", false);
    cJSON_AddArrayToObject(s, "queues");
    return s;
}

/* "capacity" for --json, or NULL (no Redis, no running worker). */
static cJSON *capacity_of_fleet(const struct app *app, struct source **srcs, size_t n)
{
    if (!app->ctx->redis)
        return NULL;
    char err[300];
    redisContext *c = redis_open(app->ctx->redis, app->ctx->timeout, app->ctx->timeout, err, sizeof err);
    if (!c)
        return NULL;
    struct capacity_tracker tr = {0};
    struct fleet_table *first = NULL, *second = NULL;
    cJSON *out = NULL;
    if (fleet_read(c, NULL, clock_wall(), &first, err, sizeof err) < 0 || first->running == 0)
        goto done;
    capacity_observe(&tr, first);
    double interval = 1.05;
    for (size_t i = 0; i < first->n; i++)
        if (first->workers[i].interval > interval)
            interval = first->workers[i].interval;
    struct timespec ts = {.tv_sec = (time_t)(interval < 3 ? interval : 3)};
    ts.tv_nsec = (long)(((interval < 3 ? interval : 3) - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
    if (fleet_read(c, first, clock_wall(), &second, err, sizeof err) < 0)
        goto done;
    capacity_observe(&tr, second);
    size_t nq = 0, cap = 0;
    struct capacity_queue *queues = NULL;
    struct feed_view *views = xcalloc(n ? n : 1, sizeof *views);
    for (size_t i = 0; i < n; i++) {
        feed_get(&srcs[i]->feed, &views[i]);
        for (size_t q = 0; views[i].snap && q < views[i].snap->nqueues; q++) {
            const struct queue_stat *qs = &views[i].snap->queues[q];
            if (nq == cap)
                queues = xrealloc(queues, (cap = cap ? cap * 2 : 32) * sizeof *queues);
            queues[nq++] = (struct capacity_queue){.addr = qs->addr, .depth = qs->ready >= 0 ? (double)qs->ready : NAN,
                                                   .rate_in = qs->rate_in, .growth = NAN};
        }
    }
    struct capacity_table ct;
    capacity_build(&tr, second, &app->cfg, queues, nq, CAPACITY_DEFAULT_TARGET, &ct);
    out = capacity_json(&ct);
    capacity_table_free(&ct);
    for (size_t i = 0; i < n; i++)
        feed_view_release(&views[i]);
    free(views);
    free(queues);
done:
    fleet_table_free(first);
    fleet_table_free(second);
    redisFree(c);
    return out;
}

static void print_status_json(const struct app *app, struct source **srcs, size_t n, const struct amqp_check *amqp)
{
    cJSON *root = cJSON_CreateObject();
    add_string(root, "context", app->ctx ? app->ctx->name : NULL);
    cJSON *sources = cJSON_AddArrayToObject(root, "sources");
    for (size_t i = 0; i < n; i++) {
        struct feed_view v;
        feed_get(&srcs[i]->feed, &v);
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "kind", srcs[i]->ops->kind);
        cJSON_AddStringToObject(s, "url", srcs[i]->display_url);
        cJSON_AddStringToObject(s, "status", v.status == SOURCE_OK ? "ok" : source_status_name(v.status));
        cJSON_AddStringToObject(s, "message", v.message);
        add_string(s, "server", v.snap ? v.snap->server : NULL);
        cJSON_AddBoolToObject(s, "truncated", v.snap && v.snap->truncated);
        add_string(s, "discovery", v.snap ? v.snap->discovery : NULL);
        cJSON *queues = cJSON_AddArrayToObject(s, "queues");
        for (size_t q = 0; v.snap && q < v.snap->nqueues; q++)
            cJSON_AddItemToArray(queues, queue_json(&v.snap->queues[q]));
        cJSON_AddItemToArray(sources, s);
        feed_view_release(&v);
    }
    if (amqp)
        cJSON_AddItemToArray(sources, amqp_check_json(amqp));
    cJSON *capacity = capacity_of_fleet(app, srcs, n);
    if (capacity)
        cJSON_AddItemToObject(root, "capacity", capacity);
    print_json(root);
}

static void format_count(char *buf, size_t len, int64_t v)
{
    if (v < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%lld", (long long)v);
}

static void format_rate(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f", v);
}

/* Prints s left-aligned in `width` terminal columns: printf's %-40s counts
 * bytes, which misaligns UTF-8 queue names. */
static void print_padded(const char *s, int width)
{
    wchar_t wide[512];
    size_t n = mbstowcs(wide, s, sizeof wide / sizeof wide[0] - 1);
    int cols = n == (size_t)-1 ? (int)strlen(s) : wcswidth(wide, n);
    if (cols < 0)
        cols = (int)strlen(s);
    printf("%s%*s", s, cols < width ? width - cols : 1, "");
}

/* The queues of every source as one table on stdout; each source's health
 * (the AMQP login's included) is a diagnostic and goes to stderr (the
 * failing ones from cmd_status). */
static void print_table(struct source **srcs, size_t n, const struct amqp_check *amqp)
{
    bool header = false;
    for (size_t i = 0; i < n; i++) {
        struct feed_view v;
        feed_get(&srcs[i]->feed, &v);
        if (v.status == SOURCE_OK)
            fprintf(stderr, "%s %s  %s%s%s  %s\n", srcs[i]->ops->kind, srcs[i]->display_url,
                    source_status_name(v.status), v.message[0] ? ": " : "", v.message,
                    v.snap && v.snap->server ? v.snap->server : "");
        if (v.snap && !header) {
            printf("%-40s %9s %9s %9s %5s %8s %8s %8s  %-6s  %s\n", "QUEUE", "READY", "UNACK", "TOTAL", "CONS",
                   "IN/s", "OUT/s", "AGE", "STATE", "DEAD LETTERS TO");
            header = true;
        }
        for (size_t q = 0; v.snap && q < v.snap->nqueues; q++) {
            const struct queue_stat *s = &v.snap->queues[q];
            char ready[24], unacked[24], total[24], cons[24], in[24], out[24], age[24];
            format_count(ready, sizeof ready, s->ready);
            format_count(unacked, sizeof unacked, s->unacked);
            format_count(total, sizeof total, s->total);
            format_count(cons, sizeof cons, s->consumers);
            format_rate(in, sizeof in, s->rate_in);
            format_rate(out, sizeof out, s->rate_out);
            format_duration(s->head_age, age, sizeof age);
            print_padded(s->addr, 40);
            printf(" %9s %9s %9s %5s %8s %8s %7s%s  %-6s  %s\n", ready, unacked, total, cons, in, out,
                   s->head_age_at_least ? ">" : " ", age, s->paused ? "PAUSED" : s->shed ? "SHED" : "-",
                   s->dead_letter_to ? s->dead_letter_to : "");
        }
        feed_view_release(&v);
    }
    if (amqp)
        fprintf(stderr, "amqp %s  %s%s%s\n", amqp->shown, amqp->status, amqp->ok ? ": " : "",
                amqp->ok ? amqp->message : "");
}

/* Each source's rows joined with the fleet's heartbeats and the guardrails
 * (consumers and out rate of Redis queues, the workers consuming, paused,
 * shed), as the console shows them; a control plane that cannot be read
 * leaves the rows as the brokers told them, with a note on stderr. */
static void join_fleet(struct app *app, struct source **srcs, size_t n)
{
    struct fleet_table *fleet = NULL;
    struct policy *policy = NULL;
    if (!app->ctx->redis || cli_read_control(app, &fleet, &policy) != EXIT_OK)
        return;
    struct queue_fleet by_queue;
    queue_fleet_build(fleet, &by_queue);
    for (size_t i = 0; i < n; i++) {
        struct feed_view v;
        feed_get(&srcs[i]->feed, &v);
        if (v.status == SOURCE_OK && v.snap)
            feed_publish(&srcs[i]->feed, queue_join(v.snap, &by_queue, policy));
        feed_view_release(&v);
    }
    queue_fleet_free(&by_queue);
    fleet_table_free(fleet);
    policy_release(policy);
}

const struct arg_option status_options[] = {
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_END,
};

int cmd_status(struct app *app, const struct args *a)
{
    bool json = args_flag(a, "json");
    if (a->nwords > 1)
        return fail(EXIT_USAGE, "status: unknown argument '%s' (usage: qdeck status [--json])", a->words[1]);
    struct source **srcs;
    size_t n;
    int rc = cli_open_sources(app, &srcs, &n);
    if (rc != EXIT_OK)
        return rc;

    struct amqp_check amqp_check = {.url = app->ctx->amqp, .tls = &app->ctx->tls}, *amqp = NULL;
    pthread_t amqp_thread;
    bool amqp_threaded = false;
    if (app->ctx->amqp && *app->ctx->amqp) {
        amqp = &amqp_check;
        amqp->shown = url_redact(amqp->url);
        amqp->timeout = app->ctx->timeout > 0 && app->ctx->timeout < AMQP_CHECK_TIMEOUT ? app->ctx->timeout
                                                                                        : AMQP_CHECK_TIMEOUT;
        amqp_threaded = pthread_create(&amqp_thread, NULL, amqp_check_thread, amqp) == 0;
    }
    sources_collect_parallel(srcs, n);
    join_fleet(app, srcs, n);
    if (amqp_threaded)
        pthread_join(amqp_thread, NULL);
    else if (amqp)
        amqp_check_thread(amqp);

    if (json)
        print_status_json(app, srcs, n, amqp);
    else
        print_table(srcs, n, amqp);

    rc = EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        struct feed_view v;
        feed_get(&srcs[i]->feed, &v);
        if (v.status != SOURCE_OK) {
            fprintf(stderr, "qdeck: %s %s: %s: %s\n", srcs[i]->ops->kind, srcs[i]->display_url,
                    source_status_name(v.status), v.message);
            rc = EXIT_UNREACHABLE;
        }
        feed_view_release(&v);
    }
    if (amqp && !amqp->ok) {
        fprintf(stderr, "qdeck: amqp: %s: %s\n", amqp->status, amqp->message);
        rc = EXIT_UNREACHABLE;
    }
    if (amqp)
        free(amqp->shown);
    sources_free(srcs, n);
    return rc;
}
