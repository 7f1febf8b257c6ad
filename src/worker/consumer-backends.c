/* Consumer backends by kind of queue address: RabbitMQ queues
 * (consumer-amqp.c), Redis lists (consumer-list.c), Redis streams
 * (consumer-stream.c). Adding a backend is a file and a row here. */
#include "worker/consumer-backends.h"

#include <stddef.h>

static const struct {
    enum queue_kind kind;
    const struct consumer_ops *ops;
} backends[] = {
    {QUEUE_AMQP, &consumer_amqp_ops},
    {QUEUE_REDIS_LIST, &consumer_list_ops},
    {QUEUE_STREAM, &consumer_stream_ops},
};

const struct consumer_ops *consumer_backend(enum queue_kind kind)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (backends[i].kind == kind)
            return backends[i].ops;
    return &consumer_stream_ops;
}
