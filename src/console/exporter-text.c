/* The exporter's metrics and index page from one round (see the header).
 * Each family is written whole before the next (the text format wants a
 * family's samples together), and only when it has a sample, so a
 * deployment without streams or breakers shows no empty families. Queue
 * series come from tables of getters: one row per metric. */
#include "console/exporter-text.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control/policy.h"
#include "core/xalloc.h"
#include "resilience/fleet-report.h"

/* A family written on its first sample. */
struct family {
    const char *name, *type, *help;
    bool opened;
};

static void emit(struct metrics_text *out, struct family *f, const char *const *labels, double value)
{
    if (!f->opened) {
        metrics_family(out, f->name, f->type, f->help);
        f->opened = true;
    }
    metrics_sample(out, f->name, labels, value);
}

/* ---------------------------------------------------------- sources */

static void render_sources(const struct exporter_round *r, struct metrics_text *out)
{
    struct family up = {"qdeck_source_up", "gauge",
                        "1 when the source (a broker the console reads) answered its last read, else 0", false};
    for (size_t i = 0; i < r->nsources; i++) {
        const char *labels[] = {"source", r->sources[i].name, "url", r->sources[i].url, NULL};
        emit(out, &up, labels, r->sources[i].up ? 1 : 0);
    }
    struct family took = {"qdeck_source_collect_duration_seconds", "gauge", "how long the source's last read took", false};
    for (size_t i = 0; i < r->nsources; i++) {
        const char *labels[] = {"source", r->sources[i].name, NULL};
        if (!isnan(r->sources[i].collect_seconds))
            emit(out, &took, labels, r->sources[i].collect_seconds);
    }
    struct family ok = {"qdeck_source_last_success_timestamp_seconds", "gauge",
                        "when the source last answered (Unix time)", false};
    for (size_t i = 0; i < r->nsources; i++) {
        const char *labels[] = {"source", r->sources[i].name, NULL};
        if (!isnan(r->sources[i].last_ok))
            emit(out, &ok, labels, r->sources[i].last_ok);
    }
}

/* ---------------------------------------------------------- queues */

typedef bool (*queue_getter)(const struct queue_stat *q, double *v);

static bool get_ready(const struct queue_stat *q, double *v) { return *v = (double)q->ready, q->ready >= 0; }
static bool get_unacked(const struct queue_stat *q, double *v) { return *v = (double)q->unacked, q->unacked >= 0; }
static bool get_length(const struct queue_stat *q, double *v) { return *v = (double)q->length, q->length >= 0; }
static bool get_consumers(const struct queue_stat *q, double *v) { return *v = q->consumers, q->consumers >= 0; }
static bool get_utilisation(const struct queue_stat *q, double *v) { return *v = q->utilisation, !isnan(*v); }
static bool get_head_age(const struct queue_stat *q, double *v) { return *v = q->head_age, !isnan(*v); }
static bool get_pending_idle(const struct queue_stat *q, double *v) { return *v = q->pending_idle, !isnan(*v); }
static bool get_rate_in(const struct queue_stat *q, double *v) { return *v = q->rate_in, !isnan(*v); }
static bool get_rate_out(const struct queue_stat *q, double *v) { return *v = q->rate_out, !isnan(*v); }
static bool get_rate_ack(const struct queue_stat *q, double *v) { return *v = q->rate_ack, !isnan(*v); }
static bool get_rate_redeliver(const struct queue_stat *q, double *v) { return *v = q->rate_redeliver, !isnan(*v); }

static const struct {
    const char *name, *help;
    queue_getter get;
} queue_gauges[] = {
    {"qdeck_queue_consumers", "consumers attached to the queue", get_consumers},
    {"qdeck_queue_consumer_utilisation_ratio", "share of time the queue could deliver to its consumers at once (0..1)",
     get_utilisation},
    {"qdeck_queue_oldest_message_age_seconds", "how long the oldest waiting message has waited", get_head_age},
    {"qdeck_queue_stream_entries", "entries in the stream (XLEN), acknowledged ones included", get_length},
    {"qdeck_queue_pending_idle_seconds", "stream: how long the oldest delivered, unacknowledged entry has been idle",
     get_pending_idle},
    {"qdeck_queue_messages_in_per_second", "messages published to the queue per second, as the broker measures",
     get_rate_in},
    {"qdeck_queue_messages_out_per_second", "messages delivered from the queue per second, as the broker measures",
     get_rate_out},
    {"qdeck_queue_messages_acked_per_second", "deliveries acknowledged per second", get_rate_ack},
    {"qdeck_queue_messages_redelivered_per_second", "messages delivered again per second", get_rate_redeliver},
};

static void render_queues(const struct exporter_round *r, struct metrics_text *out)
{
    static const struct {
        const char *state;
        queue_getter get;
    } states[] = {{"ready", get_ready}, {"unacked", get_unacked}};
    struct family depth = {"qdeck_queue_messages", "gauge",
                           "messages in the queue by state: ready (waiting; a stream group's lag) and unacked "
                           "(delivered, not yet acknowledged; a stream group's pending)", false};
    for (size_t s = 0; s < r->nqueues; s++)
        for (size_t i = 0; i < r->queues[s]->nqueues; i++)
            for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
                const struct queue_stat *q = &r->queues[s]->queues[i];
                const char *labels[] = {"queue", q->addr, "state", states[k].state, NULL};
                double v;
                if (states[k].get(q, &v))
                    emit(out, &depth, labels, v);
            }
    for (size_t g = 0; g < sizeof queue_gauges / sizeof queue_gauges[0]; g++) {
        struct family f = {queue_gauges[g].name, "gauge", queue_gauges[g].help, false};
        for (size_t s = 0; s < r->nqueues; s++)
            for (size_t i = 0; i < r->queues[s]->nqueues; i++) {
                const struct queue_stat *q = &r->queues[s]->queues[i];
                const char *labels[] = {"queue", q->addr, NULL};
                double v;
                if (queue_gauges[g].get(q, &v))
                    emit(out, &f, labels, v);
            }
    }
}

/* ---------------------------------------------------------- workers */

/* A worker whose numbers are its own (not a remembered, vanished one). */
static bool reports(const struct fleet_worker *w) { return !w->vanished && w->report; }

typedef double (*worker_getter)(const struct fleet_worker *w);

static double w_slots(const struct fleet_worker *w) { return (double)w->slots_total; }
static double w_busy(const struct fleet_worker *w) { return (double)w->slots_busy; }
static double w_in_flight(const struct fleet_worker *w) { return (double)w->in_flight; }
static double w_processed(const struct fleet_worker *w) { return (double)w->processed; }
static double w_failed(const struct fleet_worker *w) { return (double)w->failed; }
static double w_retried(const struct fleet_worker *w) { return (double)w->retried; }
static double w_dead(const struct fleet_worker *w) { return (double)w->dead_lettered; }
static double w_parked(const struct fleet_worker *w) { return (double)w->parked; }

static const struct {
    const char *name, *type, *help;
    worker_getter get;
} worker_series[] = {
    {"qdeck_worker_slots", "gauge", "task slots of the worker (its concurrency)", w_slots},
    {"qdeck_worker_slots_busy", "gauge", "task slots running a handler", w_busy},
    {"qdeck_worker_tasks_in_flight", "gauge", "tasks received and not yet settled", w_in_flight},
    {"qdeck_worker_tasks_processed_total", "counter", "tasks the worker completed", w_processed},
    {"qdeck_worker_tasks_failed_total", "counter", "handler runs that did not succeed", w_failed},
    {"qdeck_worker_tasks_retried_total", "counter", "tasks sent to a delayed retry", w_retried},
    {"qdeck_worker_tasks_dead_lettered_total", "counter", "tasks sent to a dead-letter queue", w_dead},
    {"qdeck_worker_tasks_parked_total", "counter", "tasks shed by priority into a parked queue", w_parked},
};

static void render_workers(const struct fleet_table *t, double now, struct metrics_text *out)
{
    static const enum fleet_state states[] = {FLEET_RUNNING, FLEET_STOPPED, FLEET_LOST};
    struct family count = {"qdeck_workers", "gauge", "workers of the fleet by state (running, stopped, lost)", false};
    for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
        const char *labels[] = {"state", fleet_state_name(states[k]), NULL};
        size_t n = states[k] == FLEET_RUNNING ? t->running : states[k] == FLEET_STOPPED ? t->stopped : t->lost;
        emit(out, &count, labels, (double)n);
    }
    struct family state = {"qdeck_worker_state", "gauge", "1 for the worker's state (running, stopped, lost), else 0", false};
    for (size_t i = 0; i < t->n; i++)
        for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
            const char *labels[] = {"worker", t->workers[i].id, "state", fleet_state_name(states[k]), NULL};
            emit(out, &state, labels, t->workers[i].state == states[k] ? 1 : 0);
        }
    struct family age = {"qdeck_worker_heartbeat_age_seconds", "gauge", "time since the worker's last heartbeat", false};
    for (size_t i = 0; i < t->n; i++) {
        const char *labels[] = {"worker", t->workers[i].id, NULL};
        emit(out, &age, labels, fmax(0, now - t->workers[i].last_beat));
    }
    struct family healthy = {"qdeck_worker_healthy", "gauge",
                             "1 while every consumer of the worker is connected (its heartbeat's health)", false};
    for (size_t i = 0; i < t->n; i++) {
        const char *labels[] = {"worker", t->workers[i].id, NULL};
        if (reports(&t->workers[i]) && t->workers[i].state == FLEET_RUNNING)
            emit(out, &healthy, labels, fleet_worker_unhealthy(&t->workers[i]) ? 0 : 1);
    }
    for (size_t s = 0; s < sizeof worker_series / sizeof worker_series[0]; s++) {
        struct family f = {worker_series[s].name, worker_series[s].type, worker_series[s].help, false};
        for (size_t i = 0; i < t->n; i++) {
            const char *labels[] = {"worker", t->workers[i].id, NULL};
            double v = worker_series[s].get(&t->workers[i]);
            if (reports(&t->workers[i]) && v >= 0)
                emit(out, &f, labels, v);
        }
    }
}

/* ---------------------------------------------------------- task types */

/* Heartbeats of the workers still alive: a lost worker's numbers are old. */
static size_t live_reports(const struct fleet_table *t, const cJSON **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n && n < cap; i++)
        if (t->workers[i].state != FLEET_LOST && t->workers[i].report)
            out[n++] = t->workers[i].report;
    return n;
}

/* The per-type "processed" or "failed" summed over the reports. */
static double type_total(const cJSON *const *reports, size_t n, const char *type, const char *field)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *lat = cJSON_GetObjectItemCaseSensitive(reports[i], "latency");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lat, type), field);
        if (cJSON_IsNumber(v) && v->valuedouble > 0)
            sum += v->valuedouble;
    }
    return sum;
}

static void render_types(const cJSON *const *reports, size_t n, struct metrics_text *out)
{
    struct latency_table lt;
    latency_table_build(reports, n, &lt);
    static const struct {
        const char *name, *field, *help;
    } totals[] = {
        {"qdeck_fleet_task_processed_total", "processed", "tasks completed, by type, summed over the live workers"},
        {"qdeck_fleet_task_failed_total", "failed", "handler runs that did not succeed, by type, summed over the "
                                                    "live workers"},
    };
    for (size_t k = 0; k < sizeof totals / sizeof totals[0]; k++) {
        struct family f = {totals[k].name, "counter", totals[k].help, false};
        for (size_t i = 0; i < lt.n; i++) {
            const char *labels[] = {"type", lt.rows[i].type, NULL};
            emit(out, &f, labels, type_total(reports, n, lt.rows[i].type, totals[k].field));
        }
    }
    static const char *const names[LATENCY_KINDS] = {"qdeck_fleet_task_queue_wait_seconds",
                                                     "qdeck_fleet_task_run_seconds",
                                                     "qdeck_fleet_task_end_to_end_seconds"};
    static const char *const helps[LATENCY_KINDS] = {
        "time from enqueue to start, by type, merged over the live workers' histograms",
        "handler run time, by type, merged over the live workers' histograms",
        "time from enqueue to settlement, by type, merged over the live workers' histograms"};
    for (size_t k = 0; k < LATENCY_KINDS; k++) {
        bool opened = false;
        for (size_t i = 0; i < lt.n; i++) {
            if (!lt.rows[i].merged[k])
                continue;
            if (!opened)
                metrics_family(out, names[k], "histogram", helps[k]);
            opened = true;
            const char *labels[] = {"type", lt.rows[i].type, NULL};
            metrics_latency_histogram(out, names[k], labels, lt.rows[i].merged[k]);
        }
    }
    latency_table_free(&lt);
}

/* ---------------------------------------------------------- breakers */

/* "HALF_OPEN" -> "half_open" */
static void lower_name(const char *in, char *out, size_t len)
{
    size_t i = 0;
    for (; in[i] && i + 1 < len; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

static void render_breakers(const struct exporter_round *r, const cJSON *const *reports, size_t n,
                            struct metrics_text *out)
{
    struct breaker_table_command *cmds = xcalloc(r->nbreaker_commands ? r->nbreaker_commands : 1, sizeof *cmds);
    for (size_t i = 0; i < r->nbreaker_commands; i++)
        cmds[i] = (struct breaker_table_command){r->breaker_commands[i].name, r->breaker_commands[i].value};
    struct breaker_table bt;
    breaker_table_build(reports, n, cmds, r->nbreaker_commands, &bt);
    free(cmds);
    struct family state = {"qdeck_breaker_state", "gauge",
                           "1 for the most severe state any live worker reports for the dependency's breaker "
                           "(closed, open, half_open, forced_open, disabled), else 0", false};
    struct family workers = {"qdeck_breaker_workers", "gauge", "live workers reporting the breaker in each state", false};
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < bt.n; i++)
            for (int s = BREAKER_CLOSED; s <= BREAKER_DISABLED; s++) {
                char name[32];
                lower_name(breaker_state_name((enum breaker_state)s), name, sizeof name);
                const char *labels[] = {"dependency", bt.rows[i].name, "state", name, NULL};
                if (pass == 0 && bt.rows[i].workers)
                    emit(out, &state, labels, bt.rows[i].worst == (enum breaker_state)s ? 1 : 0);
                else if (pass == 1)
                    emit(out, &workers, labels, bt.rows[i].states[s]);
            }
    struct family fail = {"qdeck_breaker_failure_ratio", "gauge",
                          "the worst failure rate in a live worker's breaker window (0..1)", false};
    for (size_t i = 0; i < bt.n; i++) {
        const char *labels[] = {"dependency", bt.rows[i].name, NULL};
        if (bt.rows[i].failure_rate >= 0)
            emit(out, &fail, labels, bt.rows[i].failure_rate / 100);
    }
    struct family slow = {"qdeck_breaker_slow_call_ratio", "gauge",
                          "the worst slow-call rate in a live worker's breaker window (0..1)", false};
    for (size_t i = 0; i < bt.n; i++) {
        const char *labels[] = {"dependency", bt.rows[i].name, NULL};
        if (bt.rows[i].slow_rate >= 0)
            emit(out, &slow, labels, bt.rows[i].slow_rate / 100);
    }
    struct family tokens = {"qdeck_ratelimit_tokens", "gauge",
                            "rate-limiter tokens left, summed over the live workers", false};
    for (size_t i = 0; i < bt.n; i++) {
        const char *labels[] = {"dependency", bt.rows[i].name, NULL};
        if (bt.rows[i].tokens >= 0)
            emit(out, &tokens, labels, bt.rows[i].tokens);
    }
    breaker_table_free(&bt);
}

/* ---------------------------------------------------------- guardrails */

/* A guardrail's value as a number: true 1, false 0, "50/s" 50; false for
 * anything else. */
static bool guardrail_number(const char *value, double *out)
{
    if (strcasecmp(value, "true") == 0 || strcasecmp(value, "false") == 0) {
        *out = strcasecmp(value, "true") == 0;
        return true;
    }
    char *end;
    *out = strtod(value, &end);
    return end != value && (!*end || strcmp(end, "/s") == 0) && isfinite(*out);
}

static bool guardrail_active(const struct policy_item *g)
{
    return strcasecmp(g->value, policy_default(g->name)) != 0;
}

static void render_guardrails(const struct exporter_round *r, struct metrics_text *out)
{
    size_t active = 0;
    for (size_t i = 0; i < r->nguardrails; i++)
        active += guardrail_active(&r->guardrails[i]);
    struct family count = {"qdeck_guardrails_active", "gauge", "guardrails set to something other than their default", false};
    emit(out, &count, NULL, (double)active);
    struct family on = {"qdeck_guardrail_active", "gauge", "1 for each guardrail set to something other than its "
                                                           "default (qdeck policy list)", false};
    for (size_t i = 0; i < r->nguardrails; i++) {
        const char *labels[] = {"guardrail", r->guardrails[i].name, NULL};
        if (guardrail_active(&r->guardrails[i]))
            emit(out, &on, labels, 1);
    }
    struct family value = {"qdeck_guardrail_value", "gauge",
                           "an active guardrail's value when it is a number (true 1, false 0, a rate per second)", false};
    for (size_t i = 0; i < r->nguardrails; i++) {
        const char *labels[] = {"guardrail", r->guardrails[i].name, NULL};
        double v;
        if (guardrail_active(&r->guardrails[i]) && guardrail_number(r->guardrails[i].value, &v))
            emit(out, &value, labels, v);
    }
}

/* ---------------------------------------------------------- the round */

static void render_exporter(const struct exporter_round *r, struct metrics_text *out)
{
    struct family d = {"qdeck_exporter_collect_duration_seconds", "gauge",
                       "how long the last collection of every source took", false};
    emit(out, &d, NULL, r->collect_seconds);
    struct family at = {"qdeck_exporter_last_collect_timestamp_seconds", "gauge",
                        "when the last collection ended (Unix time); scrapes serve it until the next", false};
    emit(out, &at, NULL, r->now);
    struct family n = {"qdeck_exporter_collections_total", "counter", "collections since the exporter started", false};
    emit(out, &n, NULL, (double)r->rounds);
    struct family iv = {"qdeck_exporter_interval_seconds", "gauge", "seconds between collections (--interval)", false};
    emit(out, &iv, NULL, r->interval);
}

void exporter_render(const struct exporter_round *r, struct metrics_text *out)
{
    render_exporter(r, out);
    render_sources(r, out);
    render_queues(r, out);
    if (r->fleet) {
        const cJSON *reports[4096];
        size_t n = live_reports(r->fleet, reports, sizeof reports / sizeof reports[0]);
        render_workers(r->fleet, r->now, out);
        render_types(reports, n, out);
        render_breakers(r, reports, n, out);
    }
    if (r->guardrails_known)
        render_guardrails(r, out);
}

/* ---------------------------------------------------------- index page */

static void html(struct metrics_text *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': metrics_printf(out, "&lt;"); break;
        case '>': metrics_printf(out, "&gt;"); break;
        case '&': metrics_printf(out, "&amp;"); break;
        case '"': metrics_printf(out, "&quot;"); break;
        default: metrics_printf(out, "%c", *s);
        }
    }
}

void exporter_render_index(const struct exporter_round *r, struct metrics_text *out)
{
    metrics_printf(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>qdeck exporter</title></head>\n"
                        "<body><h1>qdeck exporter</h1>\n"
                        "<p><a href=\"/metrics\">/metrics</a> (Prometheus) &middot; <a href=\"/healthz\">/healthz</a>"
                        " &middot; <a href=\"/readyz\">/readyz</a></p>\n"
                        "<p>Collected every %g s, %llu times; the last collection took %.3f s.</p>\n"
                        "<table border=\"1\" cellpadding=\"4\">\n"
                        "<tr><th>source</th><th>url</th><th>answers</th><th>status</th><th>message</th></tr>\n",
                   r->interval, (unsigned long long)r->rounds, r->collect_seconds);
    for (size_t i = 0; i < r->nsources; i++) {
        const struct exporter_source *s = &r->sources[i];
        metrics_printf(out, "<tr><td>");
        html(out, s->name);
        metrics_printf(out, "</td><td>");
        html(out, s->url);
        metrics_printf(out, "</td><td>%s</td><td>", s->up ? "yes" : "NO");
        html(out, s->status);
        metrics_printf(out, "</td><td>");
        html(out, s->message);
        metrics_printf(out, "</td></tr>\n");
    }
    metrics_printf(out, "</table>\n</body></html>\n");
}
