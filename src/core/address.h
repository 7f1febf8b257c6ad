/* Queue addresses as the CLI and the screen write them (docs/formats.md):
 * amqp:NAME, redis:KEY, stream:KEY#GROUP. Split on the first colon
 * only, since names may hold ':' and '/'; a stream's group follows the last
 * '#'. A bare name means amqp: when only RabbitMQ is configured, redis:
 * when only Redis is. */
#ifndef QDECK_ADDRESS_H
#define QDECK_ADDRESS_H

#include <stddef.h>

#include "core/config.h"
#include "core/snapshot.h"

struct queue_address {
    enum queue_kind kind;
    char *name;     /* queue name or Redis key */
    char *group;    /* stream consumer group, or NULL */
};

/* ctx may be NULL (then a bare name is an error). 0, or -1 with err. */
int queue_address_parse(const char *text, const struct context_config *ctx, struct queue_address *out,
                        char *err, size_t errlen);
/* "amqp:NAME", "redis:KEY", "stream:KEY#GROUP"; caller frees. */
char *queue_address_format(const struct queue_address *a);
void queue_address_free(struct queue_address *a);

#endif
