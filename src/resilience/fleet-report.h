/* The fleet's latency and breakers as the console's Latency (4) and
 * Breakers (5) views and `qdeck breaker list` show them, computed from the
 * workers' heartbeat reports (control/heartbeat.h fields "latency",
 * "breakers", "limiters").
 *
 * Latency: per task type, the histograms of every worker are merged bucket
 * by bucket and the percentiles read from the merge: percentiles are never
 * averaged. Breakers: per dependency, how many workers report each state,
 * the worst rates, the longest time until half-open, the rate limiter
 * (tokens summed over workers, throttled summed) and the operator command
 * in force. Pure functions over cJSON input; no I/O. */
#ifndef QDECK_FLEET_REPORT_H
#define QDECK_FLEET_REPORT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "core/histogram.h"
#include "resilience/breaker.h"

enum latency_kind { LATENCY_WAIT, LATENCY_RUN, LATENCY_E2E, LATENCY_KINDS };
extern const char *const latency_kind_keys[LATENCY_KINDS];   /* "queue_wait", "run", "e2e" */

struct latency_row {
    char *type;
    size_t workers;                          /* reports that had this type */
    struct histogram *merged[LATENCY_KINDS]; /* for the bar chart */
    struct histogram_summary summary[LATENCY_KINDS];
    uint64_t clock_skew;                     /* waits across two clocks dropped as skew (Celery's), summed */
};

struct latency_table {
    struct latency_row *rows;                /* sorted by type */
    size_t n;
    size_t bad_encodings;                    /* histograms that did not decode: skipped */
};

/* reports: heartbeat objects (NULL entries are skipped). */
void latency_table_build(const cJSON *const *reports, size_t n, struct latency_table *out);
void latency_table_free(struct latency_table *t);

/* A bar chart of h: its range [min, max] split into nbars log-spaced bars;
 * counts[i] values fall in [edges[i], edges[i+1]) (edges has nbars + 1
 * entries, µs). Empty histogram: all zero. */
void latency_bars(const struct histogram *h, size_t nbars, uint64_t *counts, uint64_t *edges);

struct breaker_row {
    char *name;
    char *command;                           /* open | disabled | reset, or NULL */
    size_t workers;
    int states[BREAKER_DISABLED + 1];        /* workers in each state */
    enum breaker_state worst;                /* OPEN > FORCED_OPEN > HALF_OPEN > DISABLED > CLOSED */
    double failure_rate, slow_rate;          /* worst reported; -1 none evaluated */
    double calls;                            /* in the windows, summed */
    double open_remaining;                   /* longest, seconds */
    double rate;                             /* limit per second (per worker; -1 unknown) */
    double tokens;                           /* summed; -1 unknown */
    double throttled;                        /* summed */
};

struct breaker_table {
    struct breaker_row *rows;                /* sorted by name */
    size_t n;
};

/* commands: dependency -> command pairs from qdeck:breaker (may be NULL). */
struct breaker_table_command {
    const char *dep, *command;
};
void breaker_table_build(const cJSON *const *reports, size_t n, const struct breaker_table_command *commands,
                         size_t ncommands, struct breaker_table *out);
/* The same at wall time now: each worker's open_remaining counts down from
 * its heartbeat's "at" (breaker_table_build uses the clock). */
void breaker_table_build_at(const cJSON *const *reports, size_t n, const struct breaker_table_command *commands,
                            size_t ncommands, double now, struct breaker_table *out);
/* Seconds until half-open now, from a heartbeat written at reported_at
 * (wall seconds; NAN or 0: unknown, taken as fresh) that said remaining:
 * the heartbeat's age is gone from the countdown; never below 0. A
 * reported_at in the future (clock skew) counts as fresh. */
double breaker_half_open_in(double remaining, double reported_at, double now);
void breaker_table_free(struct breaker_table *t);
/* "OPEN x2, CLOSED x1" (most severe first), or "(no worker reports it)". */
void breaker_row_states(const struct breaker_row *row, char *buf, size_t len);

#endif
