/* The RabbitMQ topology the worker relies on (docs/envelope.md):
 *   <queue>              durable, x-dead-letter-exchange qdeck.dlx,
 *                        x-dead-letter-routing-key <queue>
 *   qdeck.dlx            durable direct exchange
 *   <queue>.dlq          durable, bound to qdeck.dlx with key <queue>
 *   <queue>.retry.<ms>   durable, x-message-ttl <ms>, dead-lettered through
 *                        the default exchange back to <queue>
 * `qdeck worker --declare` declares the first three; the worker declares the
 * DLQ wiring and retry tiers itself the first time it needs them, so a retry
 * or a dead letter never goes to an exchange or queue that is missing.
 * Declarations are idempotent (same arguments each time). */
#ifndef QDECK_WORKER_TOPOLOGY_H
#define QDECK_WORKER_TOPOLOGY_H

#include <amqp.h>
#include <stddef.h>

int topology_declare_queue(amqp_connection_state_t conn, const char *queue, char *err, size_t errlen);
int topology_declare_dead(amqp_connection_state_t conn, const char *queue, char *err, size_t errlen);
int topology_declare_retry(amqp_connection_state_t conn, const char *queue, unsigned tier_ms, char *err,
                           size_t errlen);
/* "<queue>.retry.<ms>"; caller frees. */
char *topology_retry_queue(const char *queue, unsigned tier_ms);

#endif
