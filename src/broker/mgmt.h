/* RabbitMQ management API source: pieces exposed for unit tests. */
#ifndef QDECK_MGMT_H
#define QDECK_MGMT_H

#include <stddef.h>

struct mgmt_binding_view {
    char *exchange, *queue, *routing_key;
};

/* The address a queue's dead letters reach, or NULL when it has no DLX. */
char *mgmt_dead_letter_target(const char *queue, const char *dlx, const char *dlrk,
                              const struct mgmt_binding_view *bindings, size_t n);

#endif
