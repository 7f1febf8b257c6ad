/* Per-queue history for sparklines and growth: a ring of the last N
 * samples of depth and in/out rates, keyed by queue address in a hash table
 * of our own. Fed on the main thread from each new snapshot generation;
 * sources' totals are kept under the pseudo-address "@KIND". */
#ifndef QDECK_HISTORY_H
#define QDECK_HISTORY_H

#include <stddef.h>

#include "core/snapshot.h"

enum history_series { SERIES_DEPTH, SERIES_IN, SERIES_OUT, SERIES_COUNT };

struct queue_history {
    char *addr;
    double *values[SERIES_COUNT];   /* rings of `capacity` samples */
    double *times;                  /* wall time of each sample */
    size_t capacity, count, next;   /* ring size; samples held; next slot */
    struct queue_history *chain;
};

struct history {
    size_t capacity;                /* samples per ring */
    size_t nbuckets, nentries;
    struct queue_history **buckets;
};

void history_init(struct history *h, size_t capacity);
void history_free(struct history *h);
/* Appends one sample of every queue in the snapshot, plus the totals. */
void history_record(struct history *h, const char *source_kind, const struct snapshot *s);
/* Appends one sample for addr (NAN: unknown). */
void history_add(struct history *h, const char *addr, double t, double depth, double in, double out);
const struct queue_history *history_get(const struct history *h, const char *addr);
/* Copies the series oldest-first into out; returns how many. */
size_t history_series(const struct queue_history *q, enum history_series s, double *out, size_t max);
/* Drops the rings whose newest sample is older than `before` (wall time):
 * queues that were deleted, or temporary reply queues, do not pile up in a
 * console left open for days. Returns how many were dropped. */
size_t history_prune(struct history *h, double before);
/* Depth change per second over the last `samples` samples; NAN if < 2. */
double history_growth(const struct queue_history *q, size_t samples);

#endif
