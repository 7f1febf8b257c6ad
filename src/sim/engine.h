/* `qdeck sim`'s discrete-event engine: what a fleet of qdeck workers does
 * with a trace's traffic under one set of settings (a variant).
 *
 * It copies the worker's semantics (src/worker/) and reuses the guard
 * modules themselves on a simulated clock: resilience/dependency.h (the
 * breaker, the local token bucket and the bulkhead, in Resilience4j's
 * order), resilience/shed.h (shed_decide, CoDel) and worker/retry.h (full
 * jitter backoff). What it models:
 *   - one FIFO per queue; each worker has a consumer per queue holding at
 *     most `prefetch` unacked tasks (0: concurrency), delivered round robin
 *     among the workers with room, into the worker's one run queue, which
 *     its `concurrency` slots take in order;
 *   - at a slot: the deadline (expired: dead letter), shedding (priority
 *     below, max_depth, CoDel), the dependency (breaker open: back after
 *     the open wait plus up to 1 s jitter, not an attempt; fallback:
 *     completed; throttled: waits for a rate permit without a slot; bulkhead
 *     full: waits for a place without a slot), then the call;
 *   - a call lasts the record's service time (after a token cap, shortened
 *     by the fit's slope), at most the type's timeout; the first attempt
 *     ends as its record did, later ones fail with the type's failure share;
 *     a failure or timeout retries after the worker's backoff until
 *     max_attempts, then dead-letters; `dlq` outcomes dead-letter at once.
 * Events sit in a binary heap ordered by (time, sequence); arrivals stream
 * from the sorted trace beside it. All randomness comes from the seed, so a
 * trace, settings and seed give one answer. */
#ifndef QDECK_SIM_ENGINE_H
#define QDECK_SIM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "sim/fit.h"
#include "sim/trace.h"

/* How one task type runs in a variant. */
struct sim_type_params {
    double timeout;          /* seconds */
    int max_attempts;
    double price_in, price_out;   /* per million tokens */
    int dep;                 /* index into deps, -1: none */
};

/* One variant: the worker settings, guardrails and traffic it runs with. */
struct sim_params {
    char *name;
    int workers, concurrency, prefetch;          /* prefetch 0: concurrency */
    int max_attempts;                            /* [worker] default */
    double retry_base, retry_cap;
    double scale;                                /* arrivals multiplied by this */
    int shed_priority_below;                     /* -1: off */
    bool shed_auto;
    double shed_target;
    int shed_priority;
    long max_depth;                              /* every queue; -1: off */
    long *queue_max_depth;                       /* per trace queue, -1: max_depth */
    long max_response_tokens;                    /* -1: off */
    struct sim_type_params *types;               /* per trace type */
    struct dependency_config *deps;              /* copies; strings shared with the config */
    size_t ndeps;
    unsigned seed;
};

struct sim_result {
    /* every arrival ends as one of completed (fallbacks among them), shed
     * (priority, CoDel, max_depth), dead_lettered (failed, max_attempts)
     * or expired (its deadline passed before it started) */
    size_t arrivals, completed, shed, dead_lettered, expired, fallbacks, attempts;
    double first_arrival, last_arrival, end_time;
    double busy_time;        /* slot-seconds spent in calls */
    int slots;
    long peak_depth;         /* tasks waiting (queues + run queues) at most */
    /* the tasks of priority >= min_priority only: */
    double *waits;           /* arrival to first start */
    size_t nwaits;
    double *e2es;            /* arrival to completion */
    size_t ne2es;
    size_t focus_arrivals;
    double tokens_in, tokens_out, cost;
    double cpu_seconds;      /* the engine's own run */
    size_t events;
};

/* Runs one variant. min_priority: which tasks the latency figures cover.
 * 0, or -1 with err (a dependency section the breaker refuses). */
int sim_run(const struct sim_trace *tr, const struct sim_fit *fits, const struct sim_params *p, int min_priority,
            struct sim_result *out, char *err, size_t errlen);
void sim_result_free(struct sim_result *r);

#endif
