/* The table of consumer backends, one row per kind of queue address
 * (worker/consumer-backends.c). Kept apart from consumer.c, which the
 * backends call, so nothing calls in a circle. */
#ifndef QDECK_WORKER_CONSUMER_BACKENDS_H
#define QDECK_WORKER_CONSUMER_BACKENDS_H

#include "core/address.h"
#include "worker/consumer.h"

/* The backend that consumes from an address of this kind. */
const struct consumer_ops *consumer_backend(enum queue_kind kind);

#endif
