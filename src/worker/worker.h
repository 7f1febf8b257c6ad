/* The worker: consumers that take tasks from RabbitMQ queues, Redis lists
 * and Redis streams, and a pool of slots that runs them through handler
 * plugins (docs/envelope.md). `qdeck worker` runs one headless; the
 * demo embeds one.
 *
 * Threads: one per consumer (it alone touches its broker connections), the
 * slot threads (handlers run there), a watchdog, the results thread (the
 * per-task Redis writes, batched), and the caller's thread,
 * which sits in worker_run() until a stop is requested. worker_stats() may
 * be called from any thread (heartbeat, /metrics); it and the rest of what
 * a worker tells about itself are in worker/stats.h and worker/guardrails.h,
 * included here. */
#ifndef QDECK_WORKER_H
#define QDECK_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "worker/guardrails.h"
#include "worker/stats.h"

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


#endif
