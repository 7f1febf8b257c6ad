/* A receiver of Celery's events, on either transport, for one collector
 * thread (celery/event.h parses what it hands back):
 *
 *   - RabbitMQ (amqp://, amqps://): qdeck's own queue
 *     "qdeck.celeryev.<host>.<pid>.<n>", exclusive and auto-delete (RabbitMQ
 *     4.3 refuses transient queues that are not exclusive), with
 *     x-message-ttl 5000 and x-expires 60000 like Celery's own receiver,
 *     bound to the `celeryev` topic exchange with "#", consumed without acks.
 *     The exchange is not declared: until a Celery worker with events has
 *     declared it, opening fails and the caller retries later.
 *   - Redis (redis://, unix://): kombu's fanout is a PUBLISH on
 *     "/{db}.celeryev/<routing key>", so PSUBSCRIBE to that prefix with a "*" after the slash;
 *     each message is kombu's envelope, unwrapped here (base64 body).
 *
 * Nothing is acknowledged or written: events are ephemeral, and a slow
 * receiver loses old events (their TTL) rather than filling a broker. */
#ifndef QDECK_CELERY_RECEIVER_H
#define QDECK_CELERY_RECEIVER_H

#include <stddef.h>

#include "core/config.h"

struct celery_receiver;

/* Opens and subscribes. NULL with one line in err (the URL redacted). */
struct celery_receiver *celery_receiver_open(const char *url, const struct tls_options *tls, double timeout,
                                             char *err, size_t errlen);
/* Waits at most `wait` seconds for one message: 1 with its body in *body
 * (malloc'd, NUL-terminated, *len bytes), 0 when none came, 2 when one
 * came that is not kombu's envelope (err says why; go on), -1 when the
 * connection is gone (err says why; close and reopen). */
int celery_receiver_next(struct celery_receiver *r, double wait, char **body, size_t *len, char *err, size_t errlen);
/* From another thread: makes a blocked celery_receiver_next return at once. */
void celery_receiver_interrupt(struct celery_receiver *r);
void celery_receiver_close(struct celery_receiver *r);
/* The queue (AMQP) or channel pattern (Redis) events come from. */
const char *celery_receiver_name(const struct celery_receiver *r);

#endif
