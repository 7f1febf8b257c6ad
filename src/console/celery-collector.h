/* The collector of a Celery fleet's events: one thread that receives
 * (celery/receiver.h), parses (celery/event.h) and folds (celery/state.h)
 * every event, and once a second writes each Celery worker it knows into
 * qdeck's worker registry in Redis as a fleet report of kind "celery"
 * (control/keys.h, read by control/fleet.h). So the Workers and Latency
 * views, `qdeck workers` and the exporter list Celery workers beside
 * qdeck's with no code of their own, and what was seen survives a console
 * restart (a report lives forget_after seconds): a collector that starts
 * reads the Celery reports of its own events source (each report names it,
 * "events_source") in the registry back into its state.
 *
 * Guardrails reach Celery: while queue.<name>.paused is true (name: the
 * Celery queue, or its amqp:/redis: address) every live Celery worker that
 * consumes it gets cancel_consumer, one that comes online later too; once
 * it is unpaused, add_consumer goes to the workers this collector paused.
 * task.<name>.rate is sent as rate_limit to every worker when it changes
 * (and to a worker first seen); unset, it is sent as none once.
 *
 * Every console, exporter and `celery watch` of one events source runs a
 * collector, but one at a time writes: the holder of a lease in Redis
 * (qdeck:celery:writer:<source>, 3 s, renewed each second). The others
 * fold the same events and take over within the lease when it lapses.
 *
 * The writer also tells each task-failed event to the fleet's event stream
 * with the task's celery-task-meta-<id> (console/celery-failures.h).
 *
 * The console's fleet collector starts one when its context is not
 * read-only; `qdeck celery watch` runs one headless. A receiver that cannot
 * open (no `celeryev` exchange yet: no Celery worker with events has
 * started) is retried on a jittered backoff, 2 s up to 10 s. */
#ifndef QDECK_CELERY_COLLECTOR_H
#define QDECK_CELERY_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "celery/state.h"
#include "core/config.h"

struct celery_collector;

struct celery_collector_options {
    const char *events_url;     /* amqp[s]:// or redis:// where Celery's events are */
    const char *redis_url;      /* where the fleet reports go */
    const struct tls_options *tls;
    double timeout;             /* connect and reply timeout, seconds */
    struct celery_limits limits;
};

/* Starts the thread; NULL with one line in err (no URL). */
struct celery_collector *celery_collector_start(const struct celery_collector_options *o, char *err, size_t errlen);
/* Stops and joins it, then frees. NULL is fine. */
void celery_collector_stop(struct celery_collector *cc);
/* Until the collector has read back the Celery reports in Redis (its first
 * act), or timeout seconds: the fleet source's first collection waits, so
 * that read is part of it. */
void celery_collector_wait_ready(struct celery_collector *cc, double timeout);

struct celery_collector_status {
    struct celery_counters counters;
    uint64_t bad_messages;      /* bodies that did not parse */
    size_t workers;
    int connected;              /* 1 receiving, 0 not (error says why) */
    bool writer;                /* holds the writer's lease (else another collector writes) */
    char error[256];
};
void celery_collector_status(struct celery_collector *cc, struct celery_collector_status *out);

#endif
