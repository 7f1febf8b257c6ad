/* Celery event receivers over rabbitmq-c and hiredis (see the header).
 * Connections come from net/ (amqp_connect_login, redis_open_with). The
 * Redis side reads replies with hiredis's reader fed by poll(), so a quiet
 * minute is not a read timeout (which would end a hiredis context). */
#include "celery/receiver.h"

#include <amqp.h>
#include <errno.h>
#include <hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "celery/event.h"
#include "core/url.h"
#include "core/xalloc.h"
#include "net/amqp-login.h"
#include "net/redis-open.h"

#define EVENT_EXCHANGE "celeryev"
#define QUEUE_TTL_MS 5000
#define QUEUE_EXPIRES_MS 60000

struct celery_receiver {
    amqp_connection_state_t amqp;
    redisContext *redis;
    struct redis_interrupt ri;
    char name[200];
    _Atomic int fd;
};

static atomic_uint receiver_serial;

static void rpc_error(amqp_rpc_reply_t rr, const char *what, char *err, size_t errlen)
{
    if (rr.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && rr.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const amqp_channel_close_t *c = rr.reply.decoded;
        snprintf(err, errlen, "%s: RabbitMQ said %u %.*s", what, c->reply_code, (int)c->reply_text.len,
                 (const char *)c->reply_text.bytes);
    } else if (rr.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && rr.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const amqp_connection_close_t *c = rr.reply.decoded;
        snprintf(err, errlen, "%s: RabbitMQ closed the connection: %u %.*s", what, c->reply_code,
                 (int)c->reply_text.len, (const char *)c->reply_text.bytes);
    } else if (rr.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
        snprintf(err, errlen, "%s: %s", what, amqp_error_string2(rr.library_error));
    } else {
        snprintf(err, errlen, "%s failed", what);
    }
}

static int open_amqp(struct celery_receiver *r, const char *url, const struct tls_options *tls, double timeout,
                     char *err, size_t errlen)
{
    enum amqp_login_failure why;
    r->amqp = amqp_connect_login(url, tls, 30, timeout, &why, err, errlen);
    if (!r->amqp)
        return -1;
    amqp_channel_open(r->amqp, 1);
    amqp_rpc_reply_t rr = amqp_get_rpc_reply(r->amqp);
    if (rr.reply_type != AMQP_RESPONSE_NORMAL) {
        rpc_error(rr, "celery events: channel.open", err, errlen);
        return -1;
    }
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(r->name, sizeof r->name, "qdeck.celeryev.%s.%ld.%u", host, (long)getpid(),
             atomic_fetch_add(&receiver_serial, 1));
    amqp_table_entry_t args[2] = {
        {.key = amqp_cstring_bytes("x-message-ttl"), .value = {.kind = AMQP_FIELD_KIND_I32, .value.i32 = QUEUE_TTL_MS}},
        {.key = amqp_cstring_bytes("x-expires"), .value = {.kind = AMQP_FIELD_KIND_I32, .value.i32 = QUEUE_EXPIRES_MS}},
    };
    amqp_table_t table = {.num_entries = 2, .entries = args};
    amqp_queue_declare(r->amqp, 1, amqp_cstring_bytes(r->name), 0, 0, 1, 1, table);
    if ((rr = amqp_get_rpc_reply(r->amqp)).reply_type != AMQP_RESPONSE_NORMAL) {
        rpc_error(rr, "celery events: declaring the receiver queue", err, errlen);
        return -1;
    }
    amqp_queue_bind(r->amqp, 1, amqp_cstring_bytes(r->name), amqp_cstring_bytes(EVENT_EXCHANGE),
                    amqp_cstring_bytes("#"), amqp_empty_table);
    if ((rr = amqp_get_rpc_reply(r->amqp)).reply_type != AMQP_RESPONSE_NORMAL) {
        rpc_error(rr, "celery events: binding to exchange " EVENT_EXCHANGE " (has a Celery worker with events started?)",
                  err, errlen);
        return -1;
    }
    amqp_basic_consume(r->amqp, 1, amqp_cstring_bytes(r->name), amqp_empty_bytes, 0, 1, 1, amqp_empty_table);
    if ((rr = amqp_get_rpc_reply(r->amqp)).reply_type != AMQP_RESPONSE_NORMAL) {
        rpc_error(rr, "celery events: basic.consume", err, errlen);
        return -1;
    }
    atomic_store(&r->fd, amqp_get_sockfd(r->amqp));
    return 0;
}

static int open_redis(struct celery_receiver *r, const char *url, double timeout, char *err, size_t errlen)
{
    struct broker_url u;
    if (redis_url_parse(url, &u, err, errlen) < 0)
        return -1;
    int db = u.db;
    broker_url_free(&u);
    struct redis_open_options o = {.connect_timeout = timeout, .read_timeout = timeout, .interrupt = &r->ri};
    r->redis = redis_open_with(url, &o, NULL, err, errlen);
    if (!r->redis)
        return -1;
    snprintf(r->name, sizeof r->name, "/%d." EVENT_EXCHANGE "/*", db);
    redisReply *reply = redisCommand(r->redis, "PSUBSCRIBE %s", r->name);
    bool ok = reply && reply->type == REDIS_REPLY_ARRAY;
    if (!ok)
        snprintf(err, errlen, "celery events: PSUBSCRIBE %s: %s", r->name,
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str : r->redis->errstr[0] ? r->redis->errstr : "refused");
    freeReplyObject(reply);
    if (ok)
        atomic_store(&r->fd, r->redis->fd);
    return ok ? 0 : -1;
}

struct celery_receiver *celery_receiver_open(const char *url, const struct tls_options *tls, double timeout,
                                             char *err, size_t errlen)
{
    struct celery_receiver *r = xcalloc(1, sizeof *r);
    redis_interrupt_init(&r->ri);
    atomic_store(&r->fd, -1);
    bool amqp = url && (strncmp(url, "amqp://", 7) == 0 || strncmp(url, "amqps://", 8) == 0);
    int rc = amqp ? open_amqp(r, url, tls, timeout > 0 ? timeout : 5, err, errlen)
                  : open_redis(r, url, timeout > 0 ? timeout : 5, err, errlen);
    if (rc < 0) {
        celery_receiver_close(r);
        return NULL;
    }
    return r;
}

const char *celery_receiver_name(const struct celery_receiver *r) { return r->name; }

void celery_receiver_interrupt(struct celery_receiver *r)
{
    int fd = atomic_load(&r->fd);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    redis_interrupt_fire(&r->ri);
}

void celery_receiver_close(struct celery_receiver *r)
{
    if (!r)
        return;
    atomic_store(&r->fd, -1);
    if (r->amqp) {
        amqp_connection_close(r->amqp, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection(r->amqp);
    }
    redis_interrupt_disarm(&r->ri);
    if (r->redis)
        redisFree(r->redis);
    redis_interrupt_destroy(&r->ri);
    free(r);
}

static int next_amqp(struct celery_receiver *r, double wait, char **body, size_t *len, char *err, size_t errlen)
{
    for (;;) {
        amqp_maybe_release_buffers(r->amqp);
        amqp_envelope_t env;
        struct timeval tv = {(time_t)wait, (suseconds_t)((wait - (double)(time_t)wait) * 1e6)};
        amqp_rpc_reply_t rr = amqp_consume_message(r->amqp, &env, &tv, 0);
        if (rr.reply_type == AMQP_RESPONSE_NORMAL) {
            *len = env.message.body.len;
            *body = xmalloc(*len + 1);
            memcpy(*body, env.message.body.bytes, *len);
            (*body)[*len] = '\0';
            amqp_destroy_envelope(&env);
            return 1;
        }
        if (rr.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && rr.library_error == AMQP_STATUS_TIMEOUT)
            return 0;
        if (rr.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && rr.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
            amqp_frame_t frame;   /* a heartbeat or a stray method: read it and go on, closes end the link */
            if (amqp_simple_wait_frame(r->amqp, &frame) != AMQP_STATUS_OK ||
                (frame.frame_type == AMQP_FRAME_METHOD && (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                                                           frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD))) {
                snprintf(err, errlen, "celery events: RabbitMQ closed the receiver");
                return -1;
            }
            continue;
        }
        rpc_error(rr, "celery events", err, errlen);
        return -1;
    }
}

/* One pmessage: ["pmessage", pattern, channel, data]. */
static int take_pmessage(redisReply *m, char **body, size_t *len, char *err, size_t errlen)
{
    int rc = 0;
    if (m->type == REDIS_REPLY_ARRAY && m->elements == 4 && m->element[0]->str &&
        strcmp(m->element[0]->str, "pmessage") == 0 && m->element[3]->type == REDIS_REPLY_STRING)
        rc = celery_redis_unwrap(m->element[3]->str, m->element[3]->len, body, len, err, errlen) < 0 ? 2 : 1;
    freeReplyObject(m);
    return rc;
}

static int next_redis(struct celery_receiver *r, double wait, char **body, size_t *len, char *err, size_t errlen)
{
    for (;;) {
        void *m = NULL;
        if (redisGetReplyFromReader(r->redis, &m) != REDIS_OK) {
            snprintf(err, errlen, "celery events: Redis: %s", r->redis->errstr);
            return -1;
        }
        if (m) {
            int rc = take_pmessage(m, body, len, err, errlen);
            if (rc == 1)
                return 1;
            if (rc == 2)
                return 2;   /* a message that is not kombu's: the caller counts it */
            continue;
        }
        struct pollfd p = {.fd = r->redis->fd, .events = POLLIN};
        int n = poll(&p, 1, (int)(wait * 1000));
        if (n == 0)
            return 0;
        if (n < 0 && errno == EINTR)
            return 0;
        if (n < 0 || redisBufferRead(r->redis) != REDIS_OK) {
            snprintf(err, errlen, "celery events: Redis: %s", r->redis->errstr[0] ? r->redis->errstr : "connection lost");
            return -1;
        }
        wait = 0;   /* read what arrived; only the first poll waits */
    }
}

int celery_receiver_next(struct celery_receiver *r, double wait, char **body, size_t *len, char *err, size_t errlen)
{
    if (wait < 0)
        wait = 0;
    return r->amqp ? next_amqp(r, wait, body, len, err, errlen) : next_redis(r, wait, body, len, err, errlen);
}
