/* What one collection of `qdeck exporter` saw, written as Prometheus text
 * (net/metrics.h helpers) and as the HTML page served at "/". Pure: no
 * I/O, no clock; console/exporter.c gathers a round and calls these once
 * per interval, and a scrape only copies the result.
 *
 * Names follow Prometheus' conventions: base units in the name (seconds,
 * ratio), `_total` on counters, labels of low cardinality (queue, worker,
 * type, dependency, guardrail, state; never a task id). A source that does
 * not answer contributes qdeck_source_up 0 and none of its series: its
 * last data is not passed off as current. docs/exporter.md lists every
 * metric. */
#ifndef QDECK_EXPORTER_TEXT_H
#define QDECK_EXPORTER_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/fleet.h"
#include "control/policy-store.h"
#include "core/snapshot.h"
#include "net/metrics.h"

/* One thing the exporter reads: a queue source, the fleet, the guardrails. */
struct exporter_source {
    const char *name;          /* "rabbitmq", "redis", "fleet", "guardrails" */
    const char *url;           /* redacted */
    bool up;                   /* its last read succeeded */
    const char *status;        /* "ok", "disconnected", "auth failed", ... */
    const char *message;       /* one line, redacted; "" */
    double last_ok;            /* wall seconds of the last good read, NAN never */
    double collect_seconds;    /* how long its last read took, NAN unknown */
};

struct exporter_round {
    double now;                          /* wall seconds the round ended */
    double interval;                     /* seconds between rounds */
    double collect_seconds;              /* the whole round */
    uint64_t rounds;                     /* this one included */
    const struct exporter_source *sources;
    size_t nsources;
    const struct snapshot *const *queues;   /* good snapshots of the queue sources that are up */
    size_t nqueues;
    const struct fleet_table *fleet;     /* NULL: no fleet, or it is down */
    const struct policy_item *guardrails;   /* set in qdeck:policy */
    size_t nguardrails;
    bool guardrails_known;               /* false: not read (no Redis, or down) */
    const struct policy_entry *breaker_commands;
    size_t nbreaker_commands;
};

/* Every metric of the round. */
void exporter_render(const struct exporter_round *r, struct metrics_text *out);
/* The "/" page: the endpoints and which sources answer. */
void exporter_render_index(const struct exporter_round *r, struct metrics_text *out);

#endif
