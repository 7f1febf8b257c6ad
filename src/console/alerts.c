/* Alert evaluation (see alerts.h): runs on the caller's thread over the
 * snapshots it already holds; no I/O. */
#include "console/alerts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "resilience/fleet-report.h"

#define ALERT_RATE_WINDOW 5.0   /* seconds: how often the error rate's baseline moves on */

bool queue_is_dlq(const char *addr)
{
    size_t n = strlen(addr);
    return n > 4 && (strcmp(addr + n - 4, ".dlq") == 0 || strcmp(addr + n - 4, ":dlq") == 0);
}

const char *alert_severity_name(enum alert_severity s)
{
    return s == ALERT_CRITICAL ? "critical" : "warning";
}

/* "-" for unknown, "1.2M" from a million on: as the console prints counts. */
static void count_text(char *buf, size_t len, int64_t v)
{
    if (v < 0)
        snprintf(buf, len, "-");
    else if (v < 1000000)
        snprintf(buf, len, "%lld", (long long)v);
    else
        snprintf(buf, len, "%.1fM", (double)v / 1e6);
}

/* Depth as the views sort by it: total, else ready. */
static double depth_of(const struct queue_stat *q)
{
    if (q->total >= 0)
        return (double)q->total;
    return q->ready >= 0 ? (double)q->ready : NAN;
}

static bool paused(const struct policy *p, const char *addr)
{
    struct shed_guardrails g;
    if (!p)
        return false;
    policy_shed_guardrails(p, addr, -1, &g);
    return g.paused;
}

static void add(struct alert_set *set, const char *kind, enum alert_severity severity, const char *addr,
                const char *text)
{
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 16;
        set->items = xrealloc(set->items, set->cap * sizeof *set->items);
    }
    struct alert *a = &set->items[set->n++];
    snprintf(a->key, sizeof a->key, "%s %s", kind, addr);
    snprintf(a->kind, sizeof a->kind, "%s", kind);
    snprintf(a->subject, sizeof a->subject, "%s", addr);
    a->severity = severity;
    snprintf(a->text, sizeof a->text, "%s", text);
}

static bool had(const struct alert_set *set, const char *key)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->items[i].key, key) == 0)
            return true;
    return false;
}

/* Error rate, end-to-end p99 and open breakers, from the live workers'
 * heartbeats: histograms merged, never percentiles averaged. */
static void fleet_alerts(const struct alert_input *in, struct alert_baseline *rate, struct alert_set *next)
{
    const struct alerts_config *th = in->thresholds;
    const struct fleet_table *t = in->fleet;
    if (!t || t->n == 0)
        return;
    const cJSON **reports = xcalloc(t->n, sizeof *reports);
    size_t n = 0;
    int64_t processed = 0, failed = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct fleet_worker *w = &t->workers[i];
        if (w->state == FLEET_LOST || !w->report)
            continue;
        reports[n++] = w->report;
        processed += w->processed > 0 ? w->processed : 0;
        failed += w->failed > 0 ? w->failed : 0;
    }
    char text[300], a[32], b[32];
    if (th->breaker_open) {
        struct breaker_table bt;
        breaker_table_build(reports, n, NULL, 0, &bt);
        for (size_t i = 0; i < bt.n; i++) {
            const struct breaker_row *r = &bt.rows[i];
            int open = r->states[BREAKER_OPEN] + r->states[BREAKER_FORCED_OPEN];
            if (!open)
                continue;
            snprintf(text, sizeof text, "breaker %s %s on %d of %zu workers", r->name,
                     breaker_state_name(r->worst == BREAKER_FORCED_OPEN ? BREAKER_FORCED_OPEN : BREAKER_OPEN), open,
                     r->workers);
            add(next, "breaker", ALERT_CRITICAL, r->name, text);
        }
        breaker_table_free(&bt);
    }
    if (th->p99 > 0) {
        struct latency_table lt;
        latency_table_build(reports, n, &lt);
        for (size_t i = 0; i < lt.n; i++) {
            double p99 = (double)lt.rows[i].summary[LATENCY_E2E].p99 / 1e6;
            if (lt.rows[i].summary[LATENCY_E2E].count == 0 || p99 <= th->p99)
                continue;
            format_duration(p99, a, sizeof a);
            format_duration(th->p99, b, sizeof b);
            snprintf(text, sizeof text, "%s end-to-end p99 %s (alert above %s)", lt.rows[i].type, a, b);
            add(next, "p99", ALERT_WARNING, lt.rows[i].type, text);
        }
        latency_table_free(&lt);
    }
    /* error rate since a reading 5-10 s old, so an old burst fades out */
    if (th->error_rate > 0 && rate->prev_at > 0 && t->taken_at > rate->prev_at) {
        int64_t dp = processed - rate->prev_processed, df = failed - rate->prev_failed;
        if (dp >= 0 && df > 0 && dp + df > 0) {
            double pct = 100.0 * (double)df / (double)(dp + df);
            if (pct > th->error_rate) {
                snprintf(text, sizeof text, "%.0f%% of task runs failing (alert above %.0f%%)", pct, th->error_rate);
                add(next, "errors", ALERT_CRITICAL, "fleet", text);
            }
        }
    }
    /* the baseline rotates every ALERT_RATE_WINDOW: a burst is measured
     * from a reading taken before it for at least that long, so it stays on
     * screen that long (heartbeats change once a second, readings faster) */
    if (rate->next_at == 0 || t->taken_at - rate->next_at >= ALERT_RATE_WINDOW) {
        if (rate->next_at > 0) {
            rate->prev_at = rate->next_at;
            rate->prev_processed = rate->next_processed;
            rate->prev_failed = rate->next_failed;
        }
        rate->next_at = t->taken_at;
        rate->next_processed = processed;
        rate->next_failed = failed;
    }
    free(reports);
}

bool alerts_evaluate(const struct alert_input *in, struct alert_baseline *rate, struct alert_set *set)
{
    const struct alerts_config *th = in->thresholds;
    struct alert_set next = {0};
    char text[300], a[32], b[32];
    for (size_t s = 0; s < in->nfeeds; s++) {
        const struct snapshot *snap = in->feeds[s].snap;
        if (!snap || in->feeds[s].status != SOURCE_OK)
            continue;
        for (size_t i = 0; i < snap->nqueues; i++) {
            const struct queue_stat *q = &snap->queues[i];
            double depth = depth_of(q);
            if (th->depth > 0 && !isnan(depth) && depth > (double)th->depth && !paused(in->policy, q->addr)) {
                count_text(a, sizeof a, (int64_t)depth);
                count_text(b, sizeof b, th->depth);
                snprintf(text, sizeof text, "%s depth %s (alert above %s)", q->addr, a, b);
                add(&next, "depth", ALERT_WARNING, q->addr, text);
            }
            if (th->age > 0 && !isnan(q->head_age) && q->head_age > th->age) {
                format_duration(q->head_age, a, sizeof a);
                format_duration(th->age, b, sizeof b);
                snprintf(text, sizeof text, "%s oldest message waited %s (alert above %s)", q->addr, a, b);
                add(&next, "age", ALERT_WARNING, q->addr, text);
            }
            if (th->dlq_growth > 0 && in->dlq_growth && queue_is_dlq(q->addr)) {
                double g = in->dlq_growth(in->growth_ctx, q->addr);
                if (!isnan(g) && g * 60 > (double)th->dlq_growth) {
                    snprintf(text, sizeof text, "%s dead letters growing %.0f/min (alert above %ld/min)", q->addr,
                             g * 60, th->dlq_growth);
                    add(&next, "dlq", ALERT_CRITICAL, q->addr, text);
                }
            }
        }
    }
    fleet_alerts(in, rate, &next);
    bool fresh = false;
    for (size_t i = 0; i < next.n; i++)
        if (!had(set, next.items[i].key))
            fresh = true;
    alerts_free(set);
    *set = next;
    return fresh;
}

void alerts_free(struct alert_set *set)
{
    free(set->items);
    memset(set, 0, sizeof *set);
}
