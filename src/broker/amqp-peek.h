/* Exact depth of a few RabbitMQ queues over AMQP: a passive queue.declare
 * answers with the queue's ready count and consumer count as the queue
 * process knows them now, where the management API's statistics lag by up
 * to its collection interval. Cheap for the broker (one round trip to the
 * queue process), so the console uses it for the queues on screen only.
 *
 * One connection and one channel, owned by the collector thread that made
 * the peek. A missing queue closes the channel (404): it is reopened. A
 * broken connection is dropped and not retried for PEEK_RETRY seconds. */
#ifndef QDECK_AMQP_PEEK_H
#define QDECK_AMQP_PEEK_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct amqp_peek;

/* No network yet; tls (for amqps://) must outlive the peek. NULL when there
 * is no amqp[s]:// URL (the statistics are used alone). */
struct amqp_peek *amqp_peek_new(const char *amqp_url, const struct tls_options *tls, double timeout);
void amqp_peek_free(struct amqp_peek *p);
/* 0 with the counts; 1 when the queue does not exist; -1 when RabbitMQ
 * cannot be asked now (reason in err). */
int amqp_peek_queue(struct amqp_peek *p, const char *queue, int64_t *ready, int *consumers, char *err,
                    size_t errlen);

#endif
