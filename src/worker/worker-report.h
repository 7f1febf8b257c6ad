/* What a running worker tells the control plane and Prometheus, built from
 * worker_stats() (worker/worker.h), so `qdeck worker` and the demo wire the
 * heartbeat and /metrics with two callbacks:
 *
 *   heartbeat_options.report = worker_report,  .ctx = worker
 *   metrics_options.collect  = worker_metrics, .ctx = worker
 *
 * The report carries the fields control/heartbeat.h lists (queues,
 * slots_busy, slots_total, in_flight, processed, failed, retried,
 * dead_lettered, parked, skipped; worker_report adds "health": "ok" or why
 * a consumer is not connected, e.g. "amqp: login refused") and per task type the three latency histograms
 * in core/histogram.h's text encoding: latency.<type>.{queue_wait,run,e2e}.
 * The caller may add breakers, limiters and policy to the object. */
#ifndef QDECK_WORKER_REPORT_H
#define QDECK_WORKER_REPORT_H

#include <cjson/cJSON.h>

#include "net/metrics.h"
#include "worker/worker.h"

/* From a stats copy; queues is the comma-separated list (may be NULL). */
cJSON *worker_report_from_stats(const struct worker_stats *s, const char *queues);
void worker_metrics_from_stats(const struct worker_stats *s, struct metrics_text *out);

/* The callbacks: ctx is the struct worker *. */
cJSON *worker_report(void *worker);
void worker_metrics(void *worker, struct metrics_text *out);

#endif
