/* Alerts: the [alerts] thresholds of the config checked against what the
 * console sees — queue depth, the oldest message's age, how fast a
 * dead-letter queue grows; and from the workers' heartbeats, open
 * breakers, end-to-end p99 and the fleet's error rate — after every
 * refresh. Alerts are highlighted on
 * the Overview and counted in the header; a new one rings the terminal
 * bell when [alerts] bell = true. Nothing is written anywhere: a console
 * that watches is not an actor. */
#ifndef QDECK_ALERTS_H
#define QDECK_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/fleet.h"
#include "core/config.h"
#include "core/feed.h"
#include "ui/history.h"

struct alert {
    char key[300];        /* what it is about, stable across refreshes: "depth amqp:orders" */
    char text[300];       /* one line for the screen */
};

struct alert_set {
    struct alert *items;
    size_t n, cap;
};

/* What alerts are measured from: the thresholds, the sources' latest
 * snapshots, the queues' history, and the fleet's table (NULL when there
 * is no fleet or its read failed). */
struct alert_input {
    const struct alerts_config *thresholds;
    const struct feed_view *feeds;
    size_t nfeeds;
    const struct history *history;
    const struct fleet_table *fleet;
};

/* The fleet readings the error rate is measured from, kept between
 * evaluations: `prev` is 5-10 s old, `next` becomes it. */
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
/* Whether address names a dead-letter queue (".dlq" or ":dlq" at the end). */
bool queue_is_dlq(const char *addr);

#endif
