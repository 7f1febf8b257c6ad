/* Parked tasks (docs/control-plane.md: shed work is moved aside, never
 * dropped). A task shed by shed.priority_below or shed.auto is written to
 * <key>:parked (Redis list or stream) or <queue>.parked (RabbitMQ) in the
 * same transaction that removes it from its queue, like a dead letter.
 * When no shedding guardrail is on any more, every worker's consumer moves
 * parked tasks back to their queue's consuming end, oldest first, in
 * batches, each batch one atomic Lua script (several workers may race: an
 * item is moved exactly once). RabbitMQ has no such script: its consumer
 * (consumer-amqp.c) basic.gets a batch from <queue>.parked, republishes it
 * with publisher confirms and only then acks the gets, so a release cut
 * off midway may publish a task twice (idempotency absorbs it) but never
 * loses one. */
#ifndef QDECK_WORKER_PARKED_H
#define QDECK_WORKER_PARKED_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#define PARKED_SUFFIX_REDIS ":parked"
#define PARKED_SUFFIX_AMQP ".parked"
#define PARKED_BATCH 100

/* Moves up to PARKED_BATCH parked items back to target. How many moved, or
 * -1 with err. */
int parked_release(redisContext *c, const char *parked, const char *target, bool stream, char *err, size_t errlen);
/* The consumer may release parked work now (no shedding guardrail on it). */
struct consumer;
bool parked_may_release(struct consumer *c);

#endif
