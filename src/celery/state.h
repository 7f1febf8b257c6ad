/* What qdeck knows about a Celery fleet from its events (celery/event.h),
 * in bounded memory: Flower keeps every task it ever saw and is known for
 * running out of memory and losing history; this keeps
 *
 *   - workers (at most limits.max_workers): the last heartbeat's fields,
 *     received on qdeck's clock; alive while now < received + 2 x freq,
 *     then lost; stopped after worker-offline; forgotten after
 *     limits.forget_after seconds of silence;
 *   - per (worker, task name) series (at most limits.max_series): mergeable
 *     histograms (core/histogram.h) of run time (`runtime`), prefetch wait
 *     (started - received, one worker's clock), broker wait (received -
 *     sent) and end to end (done - sent), the last two only where producers
 *     send task-sent, and only while the clocks agree (a negative wait
 *     beyond CELERY_SKEW_TOLERANCE counts as skew and is not recorded);
 *     outcome counters, the last minute's outcomes, the top exception names;
 *   - a capped table of tasks in flight (uuid -> name, times, worker), with
 *     a counter of the entries evicted to stay under the cap.
 *
 * Single-threaded: the collector thread owns a state; what leaves it is
 * cJSON built by celery_state_report. */
#ifndef QDECK_CELERY_STATE_H
#define QDECK_CELERY_STATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "celery/event.h"

#define CELERY_SKEW_TOLERANCE 1.0   /* seconds a wait may be negative before it counts as clock skew */
#define CELERY_TOP_EXCEPTIONS 5

struct celery_limits {
    size_t max_workers;      /* default 1024 */
    size_t max_series;       /* (worker, task name) pairs; default 256 */
    size_t max_inflight;     /* tasks in flight remembered; default 20000 */
    double forget_after;     /* seconds; default 600 */
};

enum celery_worker_state { CELERY_ALIVE, CELERY_LOST, CELERY_STOPPED };

struct celery_state;

struct celery_state *celery_state_new(const struct celery_limits *limits);   /* NULL limits: defaults */
void celery_state_free(struct celery_state *st);

/* Folds one event in; now is qdeck's wall clock when it was received. */
void celery_state_apply(struct celery_state *st, const struct celery_event *ev, double now);
/* Forgets workers silent for forget_after (and their series). */
void celery_state_expire(struct celery_state *st, double now);

size_t celery_state_nworkers(const struct celery_state *st);
const char *celery_state_hostname(const struct celery_state *st, size_t i);
/* The name of a task in flight (from its task-sent/received), or "". */
const char *celery_state_task_name(struct celery_state *st, const char *uuid);
enum celery_worker_state celery_state_worker_state(const struct celery_state *st, size_t i, double now);
/* Workers first seen and not yet asked for their concurrency: the
 * collector asks each once (pidbox `stats`), then sets it here. */
bool celery_state_wants_stats(const struct celery_state *st, size_t i);
void celery_state_set_stats(struct celery_state *st, const char *hostname, long concurrency, const char *queues);

/* The queues worker i consumed when first seen (active_queues), ", "
 * separated, "" unknown; and the ones qdeck paused on it (cancel_consumer),
 * kept here so an unpause sends add_consumer for exactly those. */
const char *celery_state_queues(const struct celery_state *st, size_t i);
const char *celery_state_paused(const struct celery_state *st, size_t i);
void celery_state_set_paused(struct celery_state *st, size_t i, const char *queues);
/* Whether queue is one of the names in such a list (comma or space
 * separated, as both lists above are). */
bool celery_queue_listed(const char *list, const char *queue);

/* Worker i as a fleet heartbeat report (control/fleet.h reads it): id,
 * kind "celery", host, version, pid, slots_busy/slots_total, processed,
 * failed, at (last receive, qdeck's clock), interval (freq), lost_after
 * (2 x freq), state, loadavg, queues, clock_offset, and "latency": per
 * task name {processed, failed, retried, rejected, revoked, per_minute,
 * exceptions, run, prefetch_wait, broker_wait, queue_wait, e2e, clock_skew}
 * with histograms in their text encoding. */
cJSON *celery_state_report(const struct celery_state *st, size_t i, double now);

/* Takes back what a report of celery_state_report (read from Redis by a
 * collector that just started, or that just took over writing them) held:
 * the worker, as last heard of, its series' counters and histograms, so
 * history survives a restart, and the queues a collector paused on it, so
 * the next one unpauses them. Of a worker already known only those paused
 * queues are taken (when it has none of its own). A report that is not of
 * kind "celery", and one whose last heartbeat is not between now -
 * forget_after and now + 60 s (a clock that cannot be), are left alone. */
void celery_state_restore(struct celery_state *st, const cJSON *report, double now);

struct celery_counters {
    uint64_t events, unknown_types, tasks_unattributed;
    uint64_t inflight_evicted, series_dropped, workers_dropped, skewed;
    size_t inflight, series;
};
void celery_state_counters(const struct celery_state *st, struct celery_counters *out);

#endif
