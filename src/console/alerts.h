/* Alerts as a pure function of what the console (or `qdeck alerts`)
 * holds: the [alerts] thresholds of the config checked against the
 * sources' queue snapshots — depth, the oldest message's age, how fast a
 * dead-letter queue grows — and the fleet table's heartbeats — open
 * breakers, end-to-end p99, the fleet's error rate. A queue paused by its
 * guardrail (queue.<name>.paused) raises no depth alert: its backlog is
 * what the operator asked for. No I/O, no drawing: the Overview draws the
 * set (ui/), `qdeck alerts` prints it (cli/alerts.c). Nothing is written
 * anywhere: a console that watches is not an actor. */
#ifndef QDECK_ALERTS_H
#define QDECK_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/fleet.h"
#include "control/policy.h"
#include "core/config.h"
#include "core/feed.h"

enum alert_severity { ALERT_WARNING, ALERT_CRITICAL };

struct alert {
    char key[300];        /* what it is about, stable across refreshes: "depth amqp:orders" */
    char kind[16];        /* "depth", "age", "dlq", "breaker", "p99", "errors" */
    char subject[280];    /* the queue, dependency, task type, or "fleet" */
    enum alert_severity severity;
    char text[300];       /* one line for the screen */
};

struct alert_set {
    struct alert *items;
    size_t n, cap;
};

/* What alerts are measured from: the thresholds, the sources' latest
 * snapshots, the fleet's table (NULL when there is no fleet or its read
 * failed), the guardrails in force (NULL: none known), and a dead-letter
 * queue's growth in messages per second (NULL, or NAN from it: not known
 * yet; the console reads it from its history). */
struct alert_input {
    const struct alerts_config *thresholds;
    const struct feed_view *feeds;
    size_t nfeeds;
    const struct fleet_table *fleet;
    const struct policy *policy;
    double (*dlq_growth)(void *ctx, const char *addr);
    void *growth_ctx;
};

/* The fleet readings the error rate is measured from, kept between
 * evaluations: `prev` is 5-10 s old, `next` becomes it. A caller with one
 * reading only (`qdeck alerts`) gets no error-rate alert. */
struct alert_baseline {
    double prev_at;
    int64_t prev_processed, prev_failed;
    double next_at;
    int64_t next_processed, next_failed;
};

/* Rebuilds *set from in; true when an alert appeared that was not there
 * before. */
bool alerts_evaluate(const struct alert_input *in, struct alert_baseline *rate, struct alert_set *set);
void alerts_free(struct alert_set *set);
const char *alert_severity_name(enum alert_severity s);   /* "warning", "critical" */
/* Whether address names a dead-letter queue (".dlq" or ":dlq" at the end). */
bool queue_is_dlq(const char *addr);

#endif
