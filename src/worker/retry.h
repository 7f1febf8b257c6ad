/* Retry delays (docs/envelope.md): capped exponential backoff with
 * full jitter, delay = U(0, min(cap, base * 2^n)) where n counts the
 * retries before this one (the first retry waits U(0, base)).
 *
 * RabbitMQ has no per-message delay without a plugin, so a retry goes to a
 * delay queue of a fixed tier, `<queue>.retry.<ms>` (x-message-ttl = ms,
 * dead-lettered through the default exchange back to <queue>). The tier is
 * the largest one not above the drawn delay, so a retry never comes back
 * later than the formula allows; a delay below the smallest tier is
 * republished to the queue at once. Redis keeps the exact due time in a
 * ZSET. */
#ifndef QDECK_WORKER_RETRY_H
#define QDECK_WORKER_RETRY_H

#include <stddef.h>

extern const unsigned retry_tiers_ms[];
extern const size_t retry_ntiers;

/* attempts_made >= 1. seed: per-thread state for rand_r. */
double retry_delay(double base, double cap, int attempts_made, unsigned *seed);
/* The ceiling of that draw: min(cap, base * 2^(attempts_made - 1)). */
double retry_ceiling(double base, double cap, int attempts_made);
/* Largest tier <= delay seconds, in ms; 0 when below the smallest. */
unsigned retry_tier_ms(double delay);

#endif
