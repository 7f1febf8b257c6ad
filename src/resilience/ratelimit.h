/* Rate limiter per dependency: a local token bucket, and a fleet-wide GCRA
 * shared through Redis.
 *
 * Local: `burst` tokens at most, refilled at `rate` per second; a call takes
 * one token or is throttled with the time until the next one.
 *
 * Fleet (GCRA, the generic cell rate algorithm): one key qdeck:rate:<dep>
 * holds the theoretical arrival time (TAT) in microseconds of Redis' own
 * clock (`TIME`, so the workers' clocks do not matter). One Lua script
 * reads it, admits a call when now >= TAT - tolerance and moves TAT one
 * interval (1/rate) on; otherwise it answers with the wait.
 * tolerance = (burst - 1) intervals: with burst 1 calls are spaced exactly
 * 1/rate apart, so no one-second window holds more than `rate` calls; with
 * burst b, any one-second window holds at most rate + b - 1 (the burst is
 * spent once, typically in the first second). When Redis cannot be reached
 * the limiter falls back to its local bucket rather than stalling work.
 *
 * Reservations (ratelimit_reserve) are how the worker waits without
 * bouncing: one atomic step grants up to N future slots and moves TAT past
 * them, so the caller knows exactly when each call may go and nobody asks
 * again to find out. Slots are granted no further ahead than a horizon;
 * a caller refused for that is told when the first slot comes within it. */
#ifndef QDECK_RATELIMIT_H
#define QDECK_RATELIMIT_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct ratelimit_clock {
    double (*now)(void *ctx);   /* monotonic seconds; NULL: clock_mono */
    void *ctx;
};

struct ratelimit {
    pthread_mutex_t lock;
    char *name;
    double rate;                /* per second; 0: unlimited */
    double burst;               /* bucket size */
    int configured_burst;       /* 0: follow the rate */
    bool fleet;
    double tokens, last;
    uint64_t allowed, throttled, fleet_errors;
    struct ratelimit_clock clock;
};

struct ratelimit_stats {
    double rate, burst, tokens;
    bool fleet;
    uint64_t allowed, throttled, fleet_errors;
};

/* From [dependency NAME] rate, burst, fleet_rate. */
void ratelimit_init(struct ratelimit *rl, const struct dependency_config *cfg, const struct ratelimit_clock *clock);
void ratelimit_fini(struct ratelimit *rl);
/* The dep.<name>.rate guardrail: a new rate (0: unlimited). The bucket
 * keeps what it holds, capped at the new size. */
void ratelimit_set_rate(struct ratelimit *rl, double rate);

/* Local bucket only: 0 when allowed, -1 when throttled with the seconds
 * until a token is there in *retry_after (may be NULL). */
int ratelimit_try(struct ratelimit *rl, double *retry_after);
/* The configured mode: the fleet GCRA through redis (a connection the
 * calling thread owns) when fleet_rate is on and redis is not NULL, else the
 * local bucket. Same return as ratelimit_try. */
int ratelimit_acquire(struct ratelimit *rl, redisContext *redis, double *retry_after);
void ratelimit_stats(struct ratelimit *rl, struct ratelimit_stats *out);

/* Up to `wanted` calls reserved: call i (0-based, i < granted) may start
 * first + i * interval seconds from now (first <= 0: at once), and no
 * later than `window` seconds after that: a permit used late would bunch
 * calls together, so it lapses instead. granted 0: nothing within the
 * horizon; ask again in retry_after seconds. */
struct ratelimit_grant {
    int granted;
    double first, interval, window, retry_after;
    int64_t server_us;   /* fleet: Redis TIME at the decision (µs), else 0 */
};

/* The configured mode, like ratelimit_acquire: the fleet GCRA through redis
 * (a connection the calling thread owns; NULL or a failure: the local
 * bucket). horizon: seconds ahead at most. An unlimited rate grants all. */
void ratelimit_reserve(struct ratelimit *rl, redisContext *redis, int wanted, double horizon,
                       struct ratelimit_grant *g);
/* One fleet reservation for dependency dep; 0, or -1 with err. */
int ratelimit_gcra_reserve(redisContext *redis, const char *dep, double rate, int burst, int wanted, double horizon,
                           struct ratelimit_grant *g, char *err, size_t errlen);

#endif
