/* What a running worker tells about itself, from any thread (heartbeat,
 * /metrics, /readyz): its id and queues, a copy of its counters, and the
 * health of its consumers. Part of worker.h's public API; kept apart so
 * the parts of the pool below worker.c can use it (worker/stats.c). */
#ifndef QDECK_WORKER_STATS_H
#define QDECK_WORKER_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/counters.h"

struct worker;

const char *worker_id(const struct worker *w);
/* Comma-separated queue addresses being consumed (owned by the worker). */
const char *worker_queues(const struct worker *w);
void worker_stats(struct worker *w, struct worker_stats *out);
/* True when every consumer is connected to its broker; else false with
 * the first one that is not in reason. Any thread. */
bool worker_ready(struct worker *w, char *reason, size_t len);
/* "ok" when every consumer is connected, else the first one's reason as
 * "<kind>: <why>" ("amqp: login refused"). Any thread. */
void worker_health(struct worker *w, char *out, size_t len);

#endif
