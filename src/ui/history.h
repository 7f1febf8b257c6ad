/* Per-queue history for sparklines and growth: a ring of the last N
 * samples of depth and in/out rates, keyed by queue address in a hash table
 * of our own. Fed on the main thread from each new snapshot generation;
 * sources' totals are kept under the pseudo-address "@KIND".
 *
 * Beside it, each queue keeps its depth over the last 10 minutes in
 * HISTORY_WINDOW_SLOTS slots of HISTORY_WINDOW_STEP seconds (the last depth
 * seen in each; a slot no sample reached carries the depth before it for up
 * to a minute, then is unknown): 1 KB a queue, so 2,000 queues cost 2 MB,
 * where 10 minutes of every sample at a 1 s refresh would cost 38 MB. */
#ifndef QDECK_HISTORY_H
#define QDECK_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "core/snapshot.h"

enum history_series { SERIES_DEPTH, SERIES_IN, SERIES_OUT, SERIES_COUNT };

#define HISTORY_WINDOW_SLOTS 120
#define HISTORY_WINDOW_STEP 5.0     /* seconds a slot: 120 of them are 10 minutes */
#define HISTORY_WINDOW_CARRY 60.0   /* a depth stands for the slots after it this long */

struct queue_history {
    char *addr;
    double *values[SERIES_COUNT];   /* rings of `capacity` samples */
    double *times;                  /* wall time of each sample */
    size_t capacity, count, next;   /* ring size; samples held; next slot */
    double window[HISTORY_WINDOW_SLOTS];   /* depth per slot, the newest at window_next - 1 */
    size_t window_next;
    int64_t window_slot;            /* number of the newest slot: floor(time / step); -1 none */
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
/* Copies the 10-minute depth window oldest first into out (which holds
 * HISTORY_WINDOW_SLOTS, NAN where unknown); the newest slot is the one of
 * the last sample. Returns the number of slots, 0 for no queue. */
size_t history_window(const struct queue_history *q, double *out);
/* Depth change per second over the last `samples` samples; NAN if < 2. */
double history_growth(const struct queue_history *q, size_t samples);

#endif
