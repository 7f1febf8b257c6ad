/* For the DLQ fuzz targets: whether two messages carry the same bytes in
 * everything an export keeps (body, the ten exported AMQP properties,
 * delivery mode, priority, timestamp, the encoded headers table, stream id
 * and fields). Included by one target each; not a library. */
#ifndef QDECK_FUZZ_DLQ_SAME_H
#define QDECK_FUZZ_DLQ_SAME_H

#include <stdbool.h>
#include <string.h>

#include "dlq/dlq.h"

static bool bytes_same(const struct dlq_bytes *a, const struct dlq_bytes *b)
{
    return a->set == b->set && a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool props_same(const struct dlq_amqp_props *a, const struct dlq_amqp_props *b)
{
    return bytes_same(&a->content_type, &b->content_type) && bytes_same(&a->content_encoding, &b->content_encoding) &&
           bytes_same(&a->correlation_id, &b->correlation_id) && bytes_same(&a->reply_to, &b->reply_to) &&
           bytes_same(&a->expiration, &b->expiration) && bytes_same(&a->message_id, &b->message_id) &&
           bytes_same(&a->type, &b->type) && bytes_same(&a->user_id, &b->user_id) &&
           bytes_same(&a->app_id, &b->app_id) && bytes_same(&a->cluster_id, &b->cluster_id) &&
           bytes_same(&a->headers, &b->headers) && a->has_delivery_mode == b->has_delivery_mode &&
           a->delivery_mode == b->delivery_mode && a->has_priority == b->has_priority &&
           a->priority == b->priority && a->has_timestamp == b->has_timestamp && a->timestamp == b->timestamp;
}

/* A stream message's body is one of its fields: only the fields count. */
static bool dlq_messages_same(const struct dlq_message *a, const struct dlq_message *b)
{
    if (!a->props != !b->props || (a->props && !props_same(a->props, b->props)))
        return false;
    if (!a->stream_id != !b->stream_id)
        return false;
    if (!a->stream_id)
        return bytes_same(&a->body, &b->body);
    if (strcmp(a->stream_id, b->stream_id) != 0 || a->nfields != b->nfields)
        return false;
    for (size_t i = 0; i < a->nfields; i++)
        if (!bytes_same(&a->fields[i].name, &b->fields[i].name) || !bytes_same(&a->fields[i].value, &b->fields[i].value))
            return false;
    return true;
}

#endif
