/* The counters a worker keeps and worker_stats() copies out
 * (worker/stats.h). Types only, so struct worker (worker-internal.h) can
 * hold them without including the functions that read them. */
#ifndef QDECK_WORKER_COUNTERS_H
#define QDECK_WORKER_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/histogram.h"

/* Latency of one task type (seconds recorded as µs). */
struct worker_type_stats {
    char type[128];
    uint64_t processed, failed;
    uint64_t tokens_in, tokens_out;     /* handlers' reported usage (plugin ABI 3) */
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

#endif
