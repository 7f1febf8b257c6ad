/* Time series per task type, for the charts: done/s, failed/s and the p99
 * of queue wait, run time and end-to-end, one sample per new fleet
 * snapshot (fed on the main thread), over a window of 10 minutes at the
 * refresh rate; and the fleet's done/s and failed/s.
 *
 * Rates come from the counters each worker's heartbeat carries per type
 * ("processed", "failed"): per worker and type, the change between two
 * of its beats over the time between them, summed over the live workers;
 * so beats every few seconds give a steady rate, a worker's restart or
 * arrival is no spike, and Celery workers (whose reports the events
 * collector writes the same way) count too. The p99 is that of the tasks
 * finished since the previous measure (every TYPE_SERIES_P99_EVERY), read from the fleet's merged
 * histogram minus the one of the sample before (a worker joining or
 * leaving the type makes one sample unknown, not a spike of its history);
 * with nothing finished it holds for a while, then is unknown.
 *
 * Memory is bounded: every ring is one flat array of doubles made once;
 * one time ring serves every type; at most TYPE_SERIES_CAP types are kept
 * and a new one takes the place of the one seen longest ago. */
#ifndef QDECK_TYPE_SERIES_H
#define QDECK_TYPE_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "control/fleet.h"
#include "core/histogram.h"
#include "resilience/fleet-report.h"

#define TYPE_SERIES_CAP 64
#define TYPE_SERIES_WINDOW 600.0    /* seconds the rings hold at the refresh rate */
#define TYPE_SERIES_MAX_SLOTS 3600  /* a 0.1 s refresh holds 6 minutes, not 6,000 samples */
/* The p99 windows are measured this often (merging every worker's
 * histograms costs ~2.5 ms per 100 type reports); samples between hold
 * the last. */
#define TYPE_SERIES_P99_EVERY 5.0
/* A p99 with no task finished since is shown this long, then unknown. */
#define TYPE_SERIES_P99_HOLD 30.0

enum type_metric {
    TYPE_DONE,                       /* tasks finished per second */
    TYPE_FAILED,                     /* of which failed, per second */
    TYPE_P99,                        /* + enum latency_kind: p99 in µs of the window */
    TYPE_METRICS = TYPE_P99 + LATENCY_KINDS
};

struct type_ring {
    char name[128];
    double last_seen;                /* wall time it was last in a report; 0: slot free */
    double *values;                  /* TYPE_METRICS rings of `capacity`, metric by metric */
    struct histogram *base[LATENCY_KINDS];   /* the merge at the last p99 sample */
    size_t base_workers[LATENCY_KINDS];
    double p99_at[LATENCY_KINDS];    /* when the held p99 was measured */
    double p99[LATENCY_KINDS];
    double acc_done, acc_failed;     /* summed while a sample is built */
    bool in_sample;
};

struct rate_mark;

struct type_series {
    size_t capacity, count, next;    /* slots; samples held; next slot */
    double *times;                   /* wall time of each sample */
    struct type_ring types[TYPE_SERIES_CAP];
    size_t ntypes;
    struct type_ring fleet;          /* the whole fleet: done/s and failed/s */
    struct rate_mark **marks;        /* per worker and type: the last beat's counters */
    size_t nbuckets, nmarks;
    uint64_t generation;
    double merged_at;                /* when the histograms were last merged */
    struct histogram *scratch;
};

/* refresh: seconds between samples (the rings hold 10 minutes of them). */
void type_series_init(struct type_series *ts, double refresh);
void type_series_free(struct type_series *ts);
/* One sample from a fleet table (NULL: nothing). merged is the latency
 * merged from the same table (the console's fleet collector merges it once
 * per read: console/fleet-source.h), or NULL to merge it here. */
struct latency_table;
void type_series_record(struct type_series *ts, const struct fleet_table *t, const struct latency_table *merged);
/* The rings of a type, or NULL; type_series_fleet is the fleet's. */
const struct type_ring *type_series_find(const struct type_series *ts, const char *type);
const struct type_ring *type_series_fleet(const struct type_series *ts);
/* Copies the last max samples of a metric oldest first; returns how many. */
size_t type_series_values(const struct type_series *ts, const struct type_ring *r, enum type_metric m, double *out,
                          size_t max);
/* The newest sample of a metric (NAN: unknown or none). */
double type_series_latest(const struct type_series *ts, const struct type_ring *r, enum type_metric m);
/* Seconds the held samples span (0 with fewer than 2). */
double type_series_span(const struct type_series *ts);
/* The mean of a metric over the last `seconds` against the `seconds`
 * before: > 0 rising, < 0 falling, as a ratio minus 1; NAN when either
 * half has no known sample. */
double type_series_trend(const struct type_series *ts, const struct type_ring *r, enum type_metric m,
                         double seconds);

#endif
