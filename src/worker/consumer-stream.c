/* Redis stream consumer backend (placeholder until the stream consumer
 * lands): refuses to connect with a clear line. */
#include <stdio.h>

#include "worker/consumer.h"

static int stream_connect(struct consumer *c, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: stream consumers are not built yet", c->label);
    return -1;
}
static void stream_noop(struct consumer *c) { (void)c; }
static int stream_receive(struct consumer *c, int room, double timeout) { (void)c; (void)room; (void)timeout; return -1; }
static int stream_settle(struct consumer *c, struct task *t) { (void)c; (void)t; return -1; }
static int stream_flush(struct consumer *c) { (void)c; return 0; }

const struct consumer_ops consumer_stream_ops = {
    .kind = "stream",
    .connect = stream_connect,
    .disconnect = stream_noop,
    .receive = stream_receive,
    .settle = stream_settle,
    .flush = stream_flush,
    .stop_receiving = stream_noop,
    .tick = stream_noop,
    .give_back = stream_noop,
    .destroy = stream_noop,
};
