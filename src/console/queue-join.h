/* Queue rows joined with the fleet and the guardrails, for the Queues view
 * and `qdeck status`. A Redis list or stream tells its depth and nothing of
 * who reads it; the workers' heartbeats (control/fleet.h) say which queues
 * each consumes ("queues") and how many tasks it finished from each and how
 * fast ("queue_done", "queue_rate"). So a Redis row gets:
 *   consumers   = running qdeck workers consuming it (not those whose
 *                 heartbeat lists it as "paused": they read nothing);
 *   rate_out    = their finished-per-second for it (summed);
 *   utilisation = their busy slots / their slots, when each of them
 *                 consumes that queue only (else the slots are shared and
 *                 it stays unknown).
 * Every row (RabbitMQ's too, whose broker already counts consumers) gets
 * the ids of the qdeck workers consuming it, whether queue.<name>.paused is
 * in force, and why its work is shed (shed.priority_below, or its
 * queue.<name>.max_depth reached; shed.auto is armed, not shedding, so it
 * is not named). Pure functions; no I/O. */
#ifndef QDECK_QUEUE_JOIN_H
#define QDECK_QUEUE_JOIN_H

#include <stddef.h>

#include "control/fleet.h"
#include "control/policy.h"
#include "core/snapshot.h"

struct queue_fleet_row {
    char *addr;
    int consumers;          /* running workers consuming it */
    double rate_out;        /* their finished/s for it; NAN when none reports a rate */
    int64_t busy, slots;    /* their slots; -1 when shared with other queues or unknown */
    char *workers;          /* "w1, w2" */
};

/* The fleet by queue, built once per fleet reading. */
struct queue_fleet {
    struct queue_fleet_row *rows;   /* sorted by addr */
    size_t n;
};

/* t may be NULL (no fleet): every lookup then finds nothing. */
void queue_fleet_build(const struct fleet_table *t, struct queue_fleet *out);
void queue_fleet_free(struct queue_fleet *qf);
const struct queue_fleet_row *queue_fleet_find(const struct queue_fleet *qf, const char *addr);

/* A new snapshot (refs 1) holding s's rows, joined with qf (NULL: no fleet
 * known, Redis rows keep "-") and p (NULL: no guardrails known), and s's
 * server, discovery, times and truncation. */
struct snapshot *queue_join(const struct snapshot *s, const struct queue_fleet *qf, const struct policy *p);

#endif
