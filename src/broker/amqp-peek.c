/* Passive declares for exact queue depths (see the header). */
#include "broker/amqp-peek.h"

#include <amqp.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "net/amqp-login.h"

#define PEEK_RETRY 5.0
#define PEEK_CHANNEL 1

struct amqp_peek {
    char *url;
    const struct tls_options *tls;
    double timeout;
    amqp_connection_state_t conn;
    bool channel_open;
    double retry_at;      /* monotonic: no connection attempt before */
};

struct amqp_peek *amqp_peek_new(const char *amqp_url, const struct tls_options *tls, double timeout)
{
    if (!amqp_url || (strncmp(amqp_url, "amqp://", 7) != 0 && strncmp(amqp_url, "amqps://", 8) != 0))
        return NULL;
    struct amqp_peek *p = xcalloc(1, sizeof *p);
    p->url = xstrdup(amqp_url);
    p->tls = tls;
    p->timeout = timeout > 0 ? timeout : 5;
    p->retry_at = -INFINITY;
    return p;
}

static void drop(struct amqp_peek *p)
{
    if (!p->conn)
        return;
    amqp_connection_close(p->conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(p->conn);
    p->conn = NULL;
    p->channel_open = false;
    p->retry_at = clock_mono() + PEEK_RETRY;
}

void amqp_peek_free(struct amqp_peek *p)
{
    if (!p)
        return;
    drop(p);
    free(p->url);
    free(p);
}

static int connect_peek(struct amqp_peek *p, char *err, size_t errlen)
{
    if (clock_mono() < p->retry_at) {
        snprintf(err, errlen, "RabbitMQ AMQP: waiting before the next connection attempt");
        return -1;
    }
    enum amqp_login_failure why;
    char reason[384];
    p->conn = amqp_connect_login(p->url, p->tls, 0, p->timeout, &why, reason, sizeof reason);
    if (!p->conn) {
        snprintf(err, errlen, "RabbitMQ AMQP: %s", reason);
        p->retry_at = clock_mono() + PEEK_RETRY;
        return -1;
    }
    return 0;
}

static int open_channel(struct amqp_peek *p, char *err, size_t errlen)
{
    amqp_channel_open(p->conn, PEEK_CHANNEL);
    if (amqp_get_rpc_reply(p->conn).reply_type != AMQP_RESPONSE_NORMAL) {
        snprintf(err, errlen, "RabbitMQ AMQP: cannot open a channel");
        drop(p);
        return -1;
    }
    p->channel_open = true;
    return 0;
}

int amqp_peek_queue(struct amqp_peek *p, const char *queue, int64_t *ready, int *consumers, char *err,
                    size_t errlen)
{
    if (!p->conn && connect_peek(p, err, errlen) < 0)
        return -1;
    if (!p->channel_open && open_channel(p, err, errlen) < 0)
        return -1;
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(p->conn, PEEK_CHANNEL, amqp_cstring_bytes(queue), 1, 0, 0, 0,
                                                     amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(p->conn);
    if (ok && r.reply_type == AMQP_RESPONSE_NORMAL) {
        *ready = ok->message_count;
        *consumers = (int)ok->consumer_count;
        amqp_maybe_release_buffers(p->conn);
        return 0;
    }
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        /* 404: the queue is gone; the broker closed the channel */
        amqp_channel_close_ok_t close_ok = {0};
        amqp_send_method(p->conn, PEEK_CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
        p->channel_open = false;
        amqp_maybe_release_buffers(p->conn);
        return 1;
    }
    snprintf(err, errlen, "RabbitMQ AMQP: passive declare of a queue failed: the connection is lost");
    drop(p);
    return -1;
}
