/* The worker: consumers that take tasks from RabbitMQ queues, Redis lists
 * and Redis streams, and a pool of slots that runs them through handler
 * plugins (docs/envelope.md). `qdeck worker` runs one headless; the
 * demo embeds one.
 *
 * Threads: one per consumer (it alone touches its broker connections), the
 * slot threads (handlers run there), a watchdog, the results thread (the
 * per-task Redis writes, batched), and the caller's thread,
 * which sits in worker_run() until a stop is requested. worker_stats() may
 * be called from any thread (heartbeat, /metrics). */
#ifndef QDECK_WORKER_H
#define QDECK_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/histogram.h"

struct worker;

struct worker_options {
    const struct config *cfg;           /* [worker] and [task TYPE] sections; outlives the worker */
    const struct context_config *ctx;   /* broker URLs */
    const char *queues;                 /* overrides [worker] queues when non-NULL */
    int concurrency;                    /* 0: [worker] concurrency */
    int prefetch;                       /* 0: [worker] prefetch, then concurrency */
    const char *plugin_dir;             /* NULL: [worker] plugin_dir, then next to the binary */
    /* Called on worker_run()'s thread about every `every` seconds while the
     * worker runs (heartbeats); may be NULL. */
    void (*on_tick)(struct worker *w, void *arg);
    void *tick_arg;
    double every;
};

/* Latency of one task type (seconds recorded as µs). */
struct worker_type_stats {
    char type[128];
    uint64_t processed, failed;
    struct histogram *queue_wait;       /* now - envelope created_at, at start */
    struct histogram *run_time;         /* start to handler done */
    struct histogram *end_to_end;       /* created_at to settlement decided */
};

/* A consistent-enough copy of the counters (each read atomically). The
 * histogram pointers stay valid for the worker's life; read them with the
 * histogram_* functions, which are thread-safe. */
struct worker_stats {
    char id[96];
    uint64_t processed;      /* completed (handler said OK, or already done) */
    uint64_t failed;         /* handler runs that did not succeed */
    uint64_t retried;        /* sent to a delayed retry */
    uint64_t dead_lettered;  /* sent to a DLQ (parked tasks not included) */
    uint64_t parked;         /* shed by priority into <queue>.parked, to run later */
    uint64_t skipped;        /* redelivered but already done (idempotency) */
    int in_flight;           /* received, not yet settled */
    int busy;                /* slots running a handler */
    int slots;               /* concurrency */
    size_t ntypes;
    struct worker_type_stats types[32];
};

/* Builds the worker: parses queue addresses, loads the plugin of each
 * configured task type. NULL with a reason in err. */
struct worker *worker_create(const struct worker_options *opt, char *err, size_t errlen);
/* Starts consumers, slots and watchdog; returns when the worker has stopped
 * (after worker_stop) and everything is given back or settled. 0, or -1 when
 * nothing could start. */
int worker_run(struct worker *w);
/* Async-signal-safe. First call: stop consuming, drain within
 * shutdown_timeout. fast: stop now, nothing unfinished is acked. */
void worker_stop(struct worker *w, bool fast);
void worker_destroy(struct worker *w);

const char *worker_id(const struct worker *w);
void worker_stats(struct worker *w, struct worker_stats *out);
/* True when every consumer is connected to its broker; else false with
 * the first one that is not in reason. Any thread. */
bool worker_ready(struct worker *w, char *reason, size_t len);
/* "ok" when every consumer is connected, else the first one's reason as
 * "<kind>: <why>" ("amqp: login refused"). Any thread. */
void worker_health(struct worker *w, char *out, size_t len);
/* Adds "breakers" (each dependency's breaker, limiter and bulkhead),
 * "limiters", "policy" (the guardrails applied, policy_applied_json), "shed",
 * "fallbacks" and "paused" (queues not read from) to a heartbeat report. */
struct cJSON;
void worker_report_resilience(struct worker *w, struct cJSON *report);
/* Comma-separated queue addresses being consumed (owned by the worker). */
const char *worker_queues(const struct worker *w);

#endif
