/* Capacity, live: per task type and per queue, what the fleet's heartbeats
 * (control/heartbeat.h) say about load and room, for the console's
 * Capacity view and `qdeck status --json`.
 *
 *   λ      arrivals per second: per type, the rate of its finished
 *          attempts between two fleet readings (what the workers count);
 *          per queue, the broker's publish rate when it has one, else the
 *          rate its workers finish tasks plus the backlog's growth
 *   μ      completions per second of one slot: 1 / the mean run time of
 *          the merged run-time histograms
 *   ρ      λ / (c μ) for the c slots of the workers that serve it
 *   wait   Erlang C's mean queue wait for those c slots (core/erlang.h)
 *   drain  backlog / (c μ - λ): seconds until the queue is empty
 *   +N     slots (and whole workers of the same size) to add to hold the
 *          target wait (the inverse of Erlang C)
 *   tokens and cost per minute (per type, prices [task T] price_in /
 *          price_out per million tokens) and the cost of one successful task
 *
 * A type's figures treat it as if its workers' slots were its own (the
 * shares are in its queue's row). Pure: no I/O; the tracker keeps the
 * previous reading, so rates need two readings at least a second apart. */
#ifndef QDECK_CAPACITY_H
#define QDECK_CAPACITY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "control/fleet.h"
#include "core/config.h"

#define CAPACITY_MAX_TYPES 64
#define CAPACITY_DEFAULT_TARGET 1.0   /* seconds of mean queue wait */

/* Totals summed over the live workers at one reading, per type. */
struct capacity_type_totals {
    char type[128];
    double attempts, ok, tokens_in, tokens_out;
};

/* The previous reading and the rates derived from it. */
struct capacity_tracker {
    double at;                          /* wall time of the reading the rates end at; 0: none */
    size_t n;
    struct capacity_type_totals last[CAPACITY_MAX_TYPES];
    double lambda[CAPACITY_MAX_TYPES], ok_rate[CAPACITY_MAX_TYPES];
    double tin_rate[CAPACITY_MAX_TYPES], tout_rate[CAPACITY_MAX_TYPES];
    bool rated[CAPACITY_MAX_TYPES];     /* has a rate (two readings seen) */
};

/* Feeds one fleet reading (t->taken_at); readings closer than a second to
 * the last one are ignored. */
void capacity_observe(struct capacity_tracker *tr, const struct fleet_table *t);

/* What the caller knows of a queue from its broker. */
struct capacity_queue {
    const char *addr;                   /* "redis:jobs", as workers list it */
    double depth;                       /* waiting; NAN unknown */
    double rate_in;                     /* publish/s from the broker; NAN unknown */
    double growth;                      /* depth change per second; NAN unknown */
};

struct capacity_row {
    char name[160];
    bool queue;                         /* a queue's row, else a type's */
    double lambda, mu;                  /* NAN unknown */
    int slots, worker_slots;            /* c; slots of one of its workers */
    double rho, wait;                   /* wait: INFINITY when it cannot keep up */
    double depth, drain;                /* NAN unknown; drain INFINITY: never at this rate */
    int slots_needed;                   /* for the target wait; -1 unknown or out of reach */
    int more_slots, more_workers;       /* beyond what it has (0: enough) */
    double tokens_per_min, cost_per_min, cost_per_success;   /* types; NAN unknown */
};

struct capacity_table {
    double target_wait;
    struct capacity_row *rows;          /* types (as the workers report them), then the queues given */
    size_t n;
};

void capacity_build(const struct capacity_tracker *tr, const struct fleet_table *t, const struct config *cfg,
                    const struct capacity_queue *queues, size_t nqueues, double target_wait,
                    struct capacity_table *out);
void capacity_table_free(struct capacity_table *t);
/* The table as {"target_wait", "types": [...], "queues": [...]}, NAN and
 * INFINITY as null. */
cJSON *capacity_json(const struct capacity_table *t);

#endif
