/* One external dependency as the worker calls it: circuit breaker, rate
 * limiter, bulkhead and declared fallback from its [dependency NAME]
 * section, with the live guardrails (dep.<name>.rate, dep.<name>.fallback,
 * breaker commands) applied on top. The worker wraps each handler call in
 * dependency_begin / dependency_end:
 *
 *   struct dependency_call call;
 *   switch (dependency_begin(dep, redis, task_start, flags, &call, &retry_after)) {
 *   case DEP_CALL:          run the handler; dependency_end(&call, outcome, run_time)
 *   case DEP_FALLBACK:      complete the task with dep->fallback (no call made)
 *   case DEP_OPEN:          breaker open, no fallback: retry later, fail fast
 *   case DEP_THROTTLED:     rate limit: wait for a permit (DEP_RATE_QUEUED: reserve one
 *                           through ratelimit_reserve, then begin again with
 *                           DEP_RATE_GRANTED), or delay the task by retry_after;
 *                           not an attempt either way
 *   case DEP_FULL:          bulkhead full: delay briefly, not an attempt
 *   }
 *
 * The order is Resilience4j's: breaker, then rate limiter, then bulkhead.
 * A permit the breaker gave is released (not counted) when the rate limiter
 * or the bulkhead then refuses, so a half-open probe slot is never lost.
 * dependency_end must be called exactly once for every DEP_CALL, on every
 * path: success, error, timeout (an error), watchdog kill (an error) or
 * shutdown (BREAKER_RELEASE: the call did not finish, nothing is counted). */
#ifndef QDECK_DEPENDENCY_H
#define QDECK_DEPENDENCY_H

#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/config.h"
#include "resilience/breaker.h"
#include "resilience/bulkhead.h"
#include "resilience/ratelimit.h"

struct dependency {
    char *name;
    struct breaker *breaker;
    struct ratelimit rate;
    struct bulkhead bulkhead;
    char *fallback;                  /* JSON result, or NULL when none is declared */
    double configured_rate;          /* the config's rate, restored when the guardrail is off */
    _Atomic bool fallback_forced;    /* dep.<name>.fallback = true */
    _Atomic uint64_t fallbacks;      /* calls answered by the fallback */
};

struct dependency_set {
    struct dependency *deps;
    size_t n;
};

enum dependency_verdict { DEP_CALL, DEP_FALLBACK, DEP_OPEN, DEP_THROTTLED, DEP_FULL };

/* dependency_begin flags */
#define DEP_RATE_QUEUED  1u   /* the caller waits for reserved rate permits: no acquisition here */
#define DEP_RATE_GRANTED 2u   /* this call's rate permit was reserved already */

struct dependency_call {
    struct dependency *dep;
    struct breaker_permit permit;
};

/* Every [dependency NAME] of cfg; listener gets every breaker transition.
 * 0, or -1 with err (a section the breaker refuses). */
int dependency_set_init(struct dependency_set *s, const struct config *cfg, const struct breaker_clock *clock,
                        breaker_listener listener, void *listener_ctx, char *err, size_t errlen);
void dependency_set_fini(struct dependency_set *s);
struct dependency *dependency_find(const struct dependency_set *s, const char *name);

/* now: the task's start on the breaker's clock (clock_mono by default).
 * redis: the calling thread's connection for a fleet rate, or NULL.
 * flags: DEP_RATE_QUEUED, DEP_RATE_GRANTED or 0. */
enum dependency_verdict dependency_begin(struct dependency *d, redisContext *redis, double now, unsigned flags,
                                         struct dependency_call *call, double *retry_after);
/* A rate limit is in force (the config's or the dep.<name>.rate guardrail). */
bool dependency_rate_limited(struct dependency *d);
/* outcome and the call's run time in seconds (negative: measured now). */
void dependency_end(struct dependency_call *call, enum breaker_outcome outcome, double duration);
const char *dependency_verdict_name(enum dependency_verdict v);

/* Heartbeat "breakers" object: {"<dep>": breaker_stats_json + "rate",
 * "burst", "tokens", "throttled", "fleet", "in_use", "max_concurrent",
 * "bulkhead_rejected", "fallback", "fallbacks"}. */
struct cJSON *dependency_set_json(const struct dependency_set *s);

#endif
