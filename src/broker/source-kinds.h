/* The table of source backends, and the sources a context names. Backends
 * call the generic source code (source.h); only this table names them, so
 * adding a backend is its file plus one row in source_kinds[]. */
#ifndef QDECK_SOURCE_KINDS_H
#define QDECK_SOURCE_KINDS_H

#include <stddef.h>

#include "broker/source.h"
#include "core/config.h"

extern const struct source_ops mgmt_source_ops;
extern const struct source_ops redis_source_ops;

/* Builds the sources a context names (RabbitMQ via its management API,
 * Redis); -1 with a reason when a URL is bad. */
int sources_from_context(const struct context_config *ctx, double refresh, int notify_fd,
                         struct source ***out, size_t *count, char *err, size_t errlen);

/* The management URL implied by an AMQP URL: same host and credentials,
 * port 15672 (http) or 15671 (https for amqps). New string or NULL. */
char *mgmt_url_from_amqp(const char *amqp_url);

#endif
