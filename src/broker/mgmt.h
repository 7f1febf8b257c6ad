/* RabbitMQ management API source: pieces exposed for unit tests and the
 * fuzz targets. The parsers take a response body exactly as the API sent
 * it (bytes, not NUL-terminated) and do no I/O. */
#ifndef QDECK_MGMT_H
#define QDECK_MGMT_H

#include <stddef.h>

#include "core/feed.h"
#include "core/snapshot.h"

struct mgmt_binding_view {
    char *exchange, *queue, *routing_key;
};

/* The address a queue's dead letters reach, or NULL when it has no DLX. */
char *mgmt_dead_letter_target(const char *queue, const char *dlx, const char *dlrk,
                              const struct mgmt_binding_view *bindings, size_t n);

/* One page of GET /api/queues/{vhost}?page=N: adds its queues to snap (now
 * is the wall clock, for message ages) and sets page_count. SOURCE_OK, or
 * SOURCE_BAD_RESPONSE with a reason. */
enum source_status mgmt_parse_queue_page(const char *body, size_t len, double now,
                                         const struct mgmt_binding_view *bindings, size_t nbindings,
                                         struct snapshot *snap, int *page_count, char *err, size_t errlen);
/* GET /api/overview: the server's name, "RabbitMQ 3.10.8" (caller frees). */
enum source_status mgmt_parse_overview(const char *body, size_t len, char **server, char *err, size_t errlen);
/* GET /api/bindings/{vhost}: the bindings to queues from named exchanges. */
enum source_status mgmt_parse_bindings(const char *body, size_t len, struct mgmt_binding_view **bindings,
                                       size_t *n, char *err, size_t errlen);
void mgmt_bindings_free(struct mgmt_binding_view *bindings, size_t n);

#endif
