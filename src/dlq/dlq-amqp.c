/* RabbitMQ DLQs over AMQP 0-9-1 (rabbitmq-c). AMQP has no browse, so every
 * read is a consume with acks on, on a channel of its own:
 *
 *  - The reader opens a channel, counts the queue (passive declare), and
 *    consumes. What it reads stays unacknowledged; closing the channel gives
 *    all of it back, and RabbitMQ puts requeued messages back at their
 *    original positions, headers untouched (tests/integration/
 *    test_dlq_browse.sh checks order and headers of 1,000 messages). The
 *    prefetch window grows as the reader goes (basic.qos) up to AMQP's
 *    65,535; past that the reader continues with basic.get, which no
 *    prefetch limits, so a DLQ of any size is scanned without loading it.
 *    The reader stops at the depth it counted at the start.
 *
 *  - Replay uses a second connection to publish (each connection's frames
 *    then belong to one job): batches of up to CONFIRM_WINDOW messages are
 *    published mandatory through the default exchange (routing key = the
 *    target queue, so queues bound to the original exchange get no second
 *    copy), the batch's confirms are awaited, and only then are the DLQ
 *    copies acked. A basic.return or basic.nack leaves the DLQ copy to be
 *    given back when the channel closes, and counts as failed. If a
 *    connection is lost, at most the batch in flight and the batch acked
 *    just before can exist in both queues: reported as "in doubt".
 *
 * Heartbeats are off: these connections are busy while they live, and a
 * dead broker shows as a socket error. */
#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/amqp-login.h"
#include "core/url.h"
#include "core/xalloc.h"
#include "dlq/amqp-table.h"
#include "dlq/dlq.h"
#include "dlq/journal.h"

#define CONFIRM_WINDOW 500
#define PREFETCH_MAX 65535
#define PREFETCH_STEP 2000

struct amqp_dlq {
    amqp_connection_state_t conn;   /* reading the DLQ */
    amqp_connection_state_t pub;    /* publishing (replay, import), opened when needed */
    amqp_channel_t next_channel;
    double timeout;
};

/* ---- connections ---- */

static void reply_text(amqp_rpc_reply_t r, char *buf, size_t len)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL: snprintf(buf, len, "ok"); return;
    case AMQP_RESPONSE_NONE: snprintf(buf, len, "no reply"); return;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: snprintf(buf, len, "%s", amqp_error_string2(r.library_error)); return;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *c = r.reply.decoded;
            snprintf(buf, len, "%.*s", (int)c->reply_text.len, (char *)c->reply_text.bytes);
        } else if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *c = r.reply.decoded;
            snprintf(buf, len, "%.*s", (int)c->reply_text.len, (char *)c->reply_text.bytes);
        } else {
            snprintf(buf, len, "server exception 0x%08x", (unsigned)r.reply.id);
        }
        return;
    }
}

/* -1 with d->err set; UNREACHABLE for transport errors, OPERATION for the
 * broker refusing. */
static int rpc_check(struct dlq *d, amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    char text[256];
    reply_text(r, text, sizeof text);
    return dlq_fail(d, r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION ? DLQ_FAIL_OPERATION : DLQ_FAIL_UNREACHABLE,
                    "%s: %s: %s", d->display, what, text);
}

static int connect_amqp(struct dlq *d, amqp_connection_state_t *out)
{
    const char *url = d->ctx ? d->ctx->amqp : NULL;
    if (!url)
        return dlq_fail(d, DLQ_FAIL_USAGE, "%s: no RabbitMQ AMQP URL (give --amqp or set amqp in the context)",
                        d->display);
    struct amqp_dlq *a = d->priv;
    char err[512];
    enum amqp_login_failure why;
    amqp_connection_state_t conn = amqp_connect_login(url, 0, a->timeout, &why, err, sizeof err);
    if (!conn)
        return dlq_fail(d, why == AMQP_LOGIN_BAD_URL ? DLQ_FAIL_USAGE : DLQ_FAIL_UNREACHABLE, "%s", err);
    /* a broker busy dead-lettering or recovering answers slowly: RPCs get
     * longer than the connect */
    struct timeval rpc = {.tv_sec = (time_t)(a->timeout * 4 < 20 ? 20 : a->timeout * 4)};
    amqp_set_rpc_timeout(conn, &rpc);
    *out = conn;
    return 0;
}

static void drop_connection(amqp_connection_state_t *c)
{
    if (!*c)
        return;
    amqp_connection_close(*c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(*c);
    *c = NULL;
}

static amqp_channel_t open_channel(struct dlq *d, amqp_connection_state_t conn)
{
    struct amqp_dlq *a = d->priv;
    amqp_channel_t ch = a->next_channel++;
    if (a->next_channel > 2000)
        a->next_channel = 1;
    amqp_channel_open(conn, ch);
    if (rpc_check(d, amqp_get_rpc_reply(conn), "channel.open") < 0)
        return 0;
    return ch;
}

/* Ready count by passive declare, on its own channel (a 404 closes it). */
static int passive_count(struct dlq *d, amqp_connection_state_t conn, const char *queue, long *out)
{
    amqp_channel_t ch = open_channel(d, conn);
    if (!ch)
        return -1;
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(conn, ch, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
    if (r.reply_type != AMQP_RESPONSE_NORMAL || !ok) {
        char text[256];
        reply_text(r, text, sizeof text);
        return dlq_fail(d, r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION ? DLQ_FAIL_OPERATION : DLQ_FAIL_UNREACHABLE,
                        "queue amqp:%s: %s", queue, text);
    }
    *out = ok->message_count;
    amqp_channel_close(conn, ch, AMQP_REPLY_SUCCESS);
    return rpc_check(d, amqp_get_rpc_reply(conn), "channel.close");
}

static int amqp_open(struct dlq *d)
{
    struct amqp_dlq *a = xcalloc(1, sizeof *a);
    a->next_channel = 1;
    a->timeout = d->ctx && d->ctx->timeout > 0 ? d->ctx->timeout : 5;
    d->priv = a;
    if (connect_amqp(d, &a->conn) < 0)
        return -1;
    long n;
    return passive_count(d, a->conn, d->addr.name, &n);
}

static void amqp_close(struct dlq *d)
{
    struct amqp_dlq *a = d->priv;
    drop_connection(&a->conn);
    drop_connection(&a->pub);
    free(a);
    d->priv = NULL;
}

static int amqp_count(struct dlq *d, long *out)
{
    struct amqp_dlq *a = d->priv;
    return passive_count(d, a->conn, d->addr.name, out);
}

/* ---- properties ---- */

static void bytes_from_amqp(struct dlq_bytes *b, amqp_bytes_t v)
{
    dlq_bytes_set(b, v.bytes, v.len);
}

static struct dlq_message *message_from_amqp(const amqp_message_t *msg, amqp_bytes_t exchange, amqp_bytes_t rkey)
{
    struct dlq_message *m = xcalloc(1, sizeof *m);
    m->body_field = -1;
    dlq_bytes_set(&m->body, msg->body.bytes, msg->body.len);
    struct dlq_amqp_props *p = m->props = xcalloc(1, sizeof *p);
    const amqp_basic_properties_t *in = &msg->properties;
#define TAKE(flag, f) if (in->_flags & flag) bytes_from_amqp(&p->f, in->f);
    TAKE(AMQP_BASIC_CONTENT_TYPE_FLAG, content_type)
    TAKE(AMQP_BASIC_CONTENT_ENCODING_FLAG, content_encoding)
    TAKE(AMQP_BASIC_CORRELATION_ID_FLAG, correlation_id)
    TAKE(AMQP_BASIC_REPLY_TO_FLAG, reply_to)
    TAKE(AMQP_BASIC_EXPIRATION_FLAG, expiration)
    TAKE(AMQP_BASIC_MESSAGE_ID_FLAG, message_id)
    TAKE(AMQP_BASIC_TYPE_FLAG, type)
    TAKE(AMQP_BASIC_USER_ID_FLAG, user_id)
    TAKE(AMQP_BASIC_APP_ID_FLAG, app_id)
    TAKE(AMQP_BASIC_CLUSTER_ID_FLAG, cluster_id)
#undef TAKE
    if (in->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG) {
        p->has_delivery_mode = true;
        p->delivery_mode = in->delivery_mode;
    }
    if (in->_flags & AMQP_BASIC_PRIORITY_FLAG) {
        p->has_priority = true;
        p->priority = in->priority;
    }
    if (in->_flags & AMQP_BASIC_TIMESTAMP_FLAG) {
        p->has_timestamp = true;
        p->timestamp = in->timestamp;
    }
    if (in->_flags & AMQP_BASIC_HEADERS_FLAG)
        dlq_table_encode(&in->headers, &p->headers);
    bytes_from_amqp(&p->exchange, exchange);
    bytes_from_amqp(&p->routing_key, rkey);
    return m;
}

static amqp_bytes_t to_amqp(const struct dlq_bytes *b)
{
    return (amqp_bytes_t){.len = b->len, .bytes = b->data};
}

/* Properties to publish with; headers decoded into pool. */
static int props_to_amqp(const struct dlq_amqp_props *p, amqp_pool_t *pool, amqp_basic_properties_t *out)
{
    memset(out, 0, sizeof *out);
#define PUT(flag, f) if (p->f.set) { out->_flags |= flag; out->f = to_amqp(&p->f); }
    PUT(AMQP_BASIC_CONTENT_TYPE_FLAG, content_type)
    PUT(AMQP_BASIC_CONTENT_ENCODING_FLAG, content_encoding)
    PUT(AMQP_BASIC_CORRELATION_ID_FLAG, correlation_id)
    PUT(AMQP_BASIC_REPLY_TO_FLAG, reply_to)
    PUT(AMQP_BASIC_EXPIRATION_FLAG, expiration)
    PUT(AMQP_BASIC_MESSAGE_ID_FLAG, message_id)
    PUT(AMQP_BASIC_TYPE_FLAG, type)
    PUT(AMQP_BASIC_USER_ID_FLAG, user_id)
    PUT(AMQP_BASIC_APP_ID_FLAG, app_id)
    PUT(AMQP_BASIC_CLUSTER_ID_FLAG, cluster_id)
#undef PUT
    if (p->has_delivery_mode) {
        out->_flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
        out->delivery_mode = p->delivery_mode;
    }
    if (p->has_priority) {
        out->_flags |= AMQP_BASIC_PRIORITY_FLAG;
        out->priority = p->priority;
    }
    if (p->has_timestamp) {
        out->_flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        out->timestamp = p->timestamp;
    }
    if (p->headers.set) {
        if (dlq_table_decode(&p->headers, pool, &out->headers) < 0)
            return -1;
        out->_flags |= AMQP_BASIC_HEADERS_FLAG;
    }
    return 0;
}

/* ---- the reader: consume without acking, give back on close ---- */

struct reader {
    struct dlq *d;
    amqp_connection_state_t conn;
    amqp_channel_t ch;
    long expected, received, acked;
    int prefetch;
    uint64_t tag;              /* delivery tag of the last message read */
    bool acting;               /* replay/purge: stop only between batches, never mid-read */
};

static int set_prefetch(struct reader *r, int n)
{
    /* global (channel-wide) prefetch: RabbitMQ applies a change of it to a
     * running consumer, which a per-consumer prefetch would not */
    amqp_basic_qos(r->conn, r->ch, 0, (uint16_t)n, 1);
    if (rpc_check(r->d, amqp_get_rpc_reply(r->conn), "basic.qos") < 0)
        return -1;
    r->prefetch = n;
    return 0;
}

static int reader_open(struct dlq *d, struct reader *r)
{
    struct amqp_dlq *a = d->priv;
    memset(r, 0, sizeof *r);
    r->d = d;
    r->conn = a->conn;
    if (passive_count(d, a->conn, d->addr.name, &r->expected) < 0)
        return -1;
    if (!(r->ch = open_channel(d, a->conn)))
        return -1;
    if (set_prefetch(r, r->expected + 10 < PREFETCH_STEP ? (int)r->expected + 10 : PREFETCH_STEP) < 0)
        return -1;
    amqp_basic_consume(r->conn, r->ch, amqp_cstring_bytes(d->addr.name), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    return rpc_check(d, amqp_get_rpc_reply(r->conn), "basic.consume");
}

/* 1 with *out, 0 at the end, -1 on error. */
static int reader_next(struct reader *r, struct dlq_message **out)
{
    struct dlq *d = r->d;
    struct amqp_dlq *a = d->priv;
    *out = NULL;
    if (r->received >= r->expected)
        return 0;
    long held = r->received - r->acked;
    if (held + PREFETCH_STEP / 2 > r->prefetch && r->prefetch < PREFETCH_MAX)
        if (set_prefetch(r, held + PREFETCH_STEP < PREFETCH_MAX ? (int)held + PREFETCH_STEP : PREFETCH_MAX) < 0)
            return -1;
    amqp_maybe_release_buffers(r->conn);
    if (held >= PREFETCH_MAX) {
        /* the consumer's window is full of held messages: fetch past it */
        amqp_rpc_reply_t rep = amqp_basic_get(r->conn, r->ch, amqp_cstring_bytes(d->addr.name), 0);
        if (rpc_check(d, rep, "basic.get") < 0)
            return -1;
        if (rep.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
            return 0;
        amqp_basic_get_ok_t *ok = rep.reply.decoded;
        r->tag = ok->delivery_tag;
        bool redelivered = ok->redelivered;
        amqp_bytes_t ex = ok->exchange, rk = ok->routing_key;
        amqp_message_t msg;
        if (rpc_check(d, amqp_read_message(r->conn, r->ch, &msg, 0), "reading a message") < 0)
            return -1;
        *out = message_from_amqp(&msg, ex, rk);
        (*out)->redelivered = redelivered;
        amqp_destroy_message(&msg);
        r->received++;
        return 1;
    }
    for (;;) {
        if (!r->acting && d->cancel && *d->cancel)
            return dlq_fail(d, DLQ_FAIL_OPERATION, "cancelled");
        amqp_frame_t frame;
        double idle = a->timeout > 2 ? a->timeout : 2;
        struct timeval tv = {.tv_sec = (time_t)idle};
        int st = amqp_simple_wait_frame_noblock(r->conn, &frame, &tv);
        if (st == AMQP_STATUS_TIMEOUT)
            return 0;       /* fewer messages than counted: someone else took some */
        if (st != AMQP_STATUS_OK)
            return dlq_fail(d, DLQ_FAIL_UNREACHABLE, "%s: connection lost while reading: %s", d->display,
                            amqp_error_string2(st));
        if (frame.frame_type != AMQP_FRAME_METHOD)
            continue;
        if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
            frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_channel_close_t *c = frame.payload.method.decoded;
            return dlq_fail(d, DLQ_FAIL_OPERATION, "%s: the broker closed the channel: %.*s", d->display,
                            (int)c->reply_text.len, (char *)c->reply_text.bytes);
        }
        if (frame.channel != r->ch || frame.payload.method.id != AMQP_BASIC_DELIVER_METHOD)
            continue;
        amqp_basic_deliver_t *del = frame.payload.method.decoded;
        r->tag = del->delivery_tag;
        bool redelivered = del->redelivered;
        amqp_bytes_t ex = amqp_bytes_malloc_dup(del->exchange), rk = amqp_bytes_malloc_dup(del->routing_key);
        amqp_message_t msg;
        amqp_rpc_reply_t rep = amqp_read_message(r->conn, r->ch, &msg, 0);
        if (rpc_check(d, rep, "reading a message") < 0) {
            amqp_bytes_free(ex);
            amqp_bytes_free(rk);
            return -1;
        }
        *out = message_from_amqp(&msg, ex, rk);
        (*out)->redelivered = redelivered;
        amqp_bytes_free(ex);
        amqp_bytes_free(rk);
        amqp_destroy_message(&msg);
        r->received++;
        return 1;
    }
}

static int reader_ack(struct reader *r, uint64_t tag)
{
    int st = amqp_basic_ack(r->conn, r->ch, tag, 0);
    if (st != AMQP_STATUS_OK)
        return dlq_fail(r->d, DLQ_FAIL_UNREACHABLE, "%s: ack failed: %s", r->d->display, amqp_error_string2(st));
    r->acked++;
    return 0;
}

/* Closing the channel requeues everything read and not acked, in place. */
static int reader_close(struct reader *r)
{
    if (!r->ch)
        return 0;
    amqp_channel_close(r->conn, r->ch, AMQP_REPLY_SUCCESS);
    r->ch = 0;
    amqp_maybe_release_buffers(r->conn);
    return rpc_check(r->d, amqp_get_rpc_reply(r->conn), "channel.close (giving messages back)");
}

static int amqp_scan(struct dlq *d, size_t skip, dlq_visit_fn visit, void *arg)
{
    struct reader r;
    if (reader_open(d, &r) < 0)
        return -1;
    int rc;
    struct dlq_message *m;
    size_t pos = 0;
    while ((rc = reader_next(&r, &m)) == 1) {
        m->position = pos++;
        if (m->position < skip) {
            dlq_message_free(m);
            continue;
        }
        if (visit(m, arg))
            break;
    }
    int closed = reader_close(&r);
    return rc < 0 || closed < 0 ? -1 : 0;
}

/* ---- publishing with confirms ---- */

struct pending {
    struct dlq_message *orig;      /* the DLQ copy (NULL for imports) */
    struct dlq_message *sent;
    char target[512];
    uint64_t dlq_tag;
    uint64_t seq;
    enum { P_WAITING, P_CONFIRMED, P_FAILED } state;
    char why[256];
    char token[DLQ_TOKEN_LEN];     /* replay token the published copy carries */
    uint64_t identity;             /* of orig, for the journal */
    bool acked;                    /* its DLQ copy's ack was sent */
};

struct publisher {
    struct dlq *d;
    amqp_connection_state_t conn;
    amqp_channel_t ch;
    uint64_t seq;
};

static int publisher_open(struct dlq *d, struct publisher *p)
{
    struct amqp_dlq *a = d->priv;
    memset(p, 0, sizeof *p);
    p->d = d;
    if (!a->pub && connect_amqp(d, &a->pub) < 0)
        return -1;
    p->conn = a->pub;
    if (!(p->ch = open_channel(d, a->pub)))
        return -1;
    amqp_confirm_select(p->conn, p->ch);
    return rpc_check(d, amqp_get_rpc_reply(p->conn), "confirm.select");
}

static void publisher_close(struct publisher *p)
{
    struct amqp_dlq *a = p->d->priv;
    if (p->ch && a->pub) {
        amqp_channel_close(p->conn, p->ch, AMQP_REPLY_SUCCESS);
        amqp_maybe_release_buffers(p->conn);
    }
    p->ch = 0;
}

static int publish_one(struct publisher *p, struct pending *e)
{
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_basic_properties_t props;
    if (props_to_amqp(e->sent->props, &pool, &props) < 0) {
        empty_amqp_pool(&pool);
        e->state = P_FAILED;
        snprintf(e->why, sizeof e->why, "headers are not a valid AMQP table");
        return 0;
    }
    amqp_bytes_t body = {.len = e->sent->body.len, .bytes = e->sent->body.data ? e->sent->body.data : ""};
    int st = amqp_basic_publish(p->conn, p->ch, amqp_empty_bytes, amqp_cstring_bytes(e->target), 1, 0, &props, body);
    empty_amqp_pool(&pool);
    if (st != AMQP_STATUS_OK)
        return dlq_fail(p->d, DLQ_FAIL_UNREACHABLE, "publish to amqp:%s failed: %s", e->target, amqp_error_string2(st));
    e->seq = ++p->seq;
    e->state = P_WAITING;
    return 0;
}

static void confirm_upto(struct pending *batch, size_t n, uint64_t tag, bool multiple, bool ok)
{
    for (size_t i = 0; i < n; i++) {
        struct pending *e = &batch[i];
        if (!e->sent || e->state != P_WAITING || !(e->seq == tag || (multiple && e->seq <= tag)))
            continue;
        if (ok && !e->why[0]) {
            e->state = P_CONFIRMED;
        } else {
            e->state = P_FAILED;
            if (!e->why[0])
                snprintf(e->why, sizeof e->why, "nacked by the broker");
        }
    }
}

/* A basic.return names no delivery tag: it belongs to the first waiting
 * message with the same routing key and body. */
static void mark_returned(struct pending *batch, size_t n, amqp_bytes_t rkey, const amqp_message_t *msg,
                          const char *text)
{
    for (size_t i = 0; i < n; i++) {
        struct pending *e = &batch[i];
        if (e->sent && e->state == P_WAITING && !e->why[0] && strlen(e->target) == rkey.len &&
            memcmp(e->target, rkey.bytes, rkey.len) == 0 && e->sent->body.len == msg->body.len &&
            (msg->body.len == 0 || memcmp(e->sent->body.data, msg->body.bytes, msg->body.len) == 0)) {
            snprintf(e->why, sizeof e->why, "returned: %.100s (no queue amqp:%.100s?)", text, e->target);
            return;
        }
    }
}

/* Reads confirms (applied to every entry of batch[0..n)) until no entry
 * of watch[0..nwatch) is waiting. */
static int wait_confirms(struct publisher *p, struct pending *batch, size_t n, const struct pending *watch,
                         size_t nwatch)
{
    struct dlq *d = p->d;
    struct amqp_dlq *a = d->priv;
    for (;;) {
        bool waiting = false;
        for (size_t i = 0; i < nwatch && !waiting; i++)
            waiting = watch[i].state == P_WAITING;
        if (!waiting)
            return 0;
        amqp_frame_t frame;
        struct timeval tv = {.tv_sec = (time_t)(a->timeout * 4 + 5)};
        int st = amqp_simple_wait_frame_noblock(p->conn, &frame, &tv);
        if (st != AMQP_STATUS_OK)
            return dlq_fail(d, DLQ_FAIL_UNREACHABLE, "connection lost while waiting for publisher confirms: %s",
                            st == AMQP_STATUS_TIMEOUT ? "no confirm in time" : amqp_error_string2(st));
        if (frame.frame_type != AMQP_FRAME_METHOD)
            continue;
        switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *ack = frame.payload.method.decoded;
            confirm_upto(batch, n, ack->delivery_tag, ack->multiple, true);
            break;
        }
        case AMQP_BASIC_NACK_METHOD: {
            amqp_basic_nack_t *nack = frame.payload.method.decoded;
            confirm_upto(batch, n, nack->delivery_tag, nack->multiple, false);
            break;
        }
        case AMQP_BASIC_RETURN_METHOD: {
            amqp_basic_return_t *ret = frame.payload.method.decoded;
            char text[128];
            snprintf(text, sizeof text, "%.*s", (int)ret->reply_text.len, (char *)ret->reply_text.bytes);
            amqp_bytes_t rkey = amqp_bytes_malloc_dup(ret->routing_key);
            amqp_message_t msg;
            amqp_rpc_reply_t rep = amqp_read_message(p->conn, frame.channel, &msg, 0);
            if (rep.reply_type == AMQP_RESPONSE_NORMAL) {
                mark_returned(batch, n, rkey, &msg, text);
                amqp_destroy_message(&msg);
            }
            amqp_bytes_free(rkey);
            if (rpc_check(d, rep, "reading a returned message") < 0)
                return -1;
            break;
        }
        case AMQP_CHANNEL_CLOSE_METHOD: {
            amqp_channel_close_t *c = frame.payload.method.decoded;
            return dlq_fail(d, DLQ_FAIL_OPERATION, "the broker closed the publishing channel: %.*s",
                            (int)c->reply_text.len, (char *)c->reply_text.bytes);
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
            amqp_connection_close_t *c = frame.payload.method.decoded;
            return dlq_fail(d, DLQ_FAIL_UNREACHABLE, "the broker closed the connection: %.*s",
                            (int)c->reply_text.len, (char *)c->reply_text.bytes);
        }
        default:
            break;
        }
    }
}

static void pending_clear(struct pending *batch, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dlq_message_free(batch[i].orig);
        dlq_message_free(batch[i].sent);
    }
    memset(batch, 0, n * sizeof *batch);
}

/* ---- replay ---- */

/* Settles a batch whose confirms are all in: journal, then DLQ acks for
 * the confirmed, the rest counted failed (their DLQ copies come back when
 * the channel closes). -1 when an ack could not be sent. */
static int settle_batch(struct dlq *d, const struct dlq_replay *rq, struct reader *r, struct dlq_journal *journal,
                        struct pending *batch, size_t n, struct dlq_journal_entry *ids, struct dlq_tally *t,
                        long *acked)
{
    size_t nconfirmed = 0, nlines = 0;
    for (size_t i = 0; i < n; i++) {
        if (!batch[i].identity)
            continue;      /* no "p" line was written for it */
        if (batch[i].state == P_CONFIRMED)
            nconfirmed++;
        struct dlq_journal_entry *e = &ids[nlines++];
        e->identity = batch[i].identity;
        e->confirmed = batch[i].state == P_CONFIRMED;
        snprintf(e->token, sizeof e->token, "%s", batch[i].token);
    }
    /* the confirms are durable, the acks are not: remember what moved
     * before acking (see journal.c) */
    if (journal && dlq_journal_append(journal, ids, nlines) < 0 && !t->first_error[0])
        snprintf(t->first_error, sizeof t->first_error, "could not write the replay journal");
    *acked = 0;
    /* delivery tags on the reader's channel run 1, 2, 3...: when nothing
     * up to the batch's last tag is held back, one multiple-ack does */
    uint64_t last = n ? batch[n - 1].dlq_tag : 0;
    if (nconfirmed == n && n > 1 && last - (uint64_t)r->acked == n) {
        int st = amqp_basic_ack(r->conn, r->ch, last, 1);
        if (st != AMQP_STATUS_OK)   /* the caller counts the batch in doubt */
            return dlq_fail(d, DLQ_FAIL_UNREACHABLE, "%s: ack failed: %s", d->display, amqp_error_string2(st));
        for (size_t i = 0; i < n; i++)
            batch[i].acked = true;
        r->acked += (long)n;
        t->moved += (long)n;
        *acked = (long)n;
        for (size_t i = 0; rq->each && i < n; i++)
            rq->each(rq->arg, batch[i].orig, batch[i].target, "moved");
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct pending *e = &batch[i];
        if (e->state == P_CONFIRMED) {
            if (reader_ack(r, e->dlq_tag) < 0)
                return -1;          /* the caller counts the rest in doubt */
            e->acked = true;
            t->moved++;
            (*acked)++;
            if (rq->each)
                rq->each(rq->arg, e->orig, e->target, "moved");
        } else {
            t->failed++;
            if (!t->first_error[0])
                snprintf(t->first_error, sizeof t->first_error, "%s", e->why);
            if (rq->each)
                rq->each(rq->arg, e->orig, e->target, e->why);
        }
    }
    return 0;
}

/* 1: m is a copy of a message whose republished twin the broker confirmed,
 * left in the DLQ by a lost ack (the journal entry is used up); -1: the
 * journal has a confirmed twin of the same bytes, but m has no death mark
 * to tell it from the same task dead again: keep it; 0: nothing known. */
static int dlq_twin_confirmed(struct dlq_journal *journal, const struct dlq *d, const struct dlq_message *m)
{
    uint64_t id = dlq_message_identity(d, m);
    if (!dlq_message_has_death_mark(m))
        return dlq_journal_has_confirmed(journal, id) ? -1 : 0;
    return dlq_journal_take(journal, id, NULL, 0) ? 1 : 0;
}

/* Two batches in flight: batch k+1 is read and published while the
 * confirms of batch k come in, then batch k is settled. At most
 * CONFIRM_WINDOW messages are published and unsettled at any time. */
static int amqp_replay(struct dlq *d, const struct dlq_replay *rq, struct dlq_tally *t)
{
    struct reader r;
    struct publisher p = {0};
    if (reader_open(d, &r) < 0)
        return -1;
    r.acting = true;
    t->total = r.expected;
    if (!rq->dry_run && publisher_open(d, &p) < 0) {
        reader_close(&r);
        return -1;
    }
    size_t window = CONFIRM_WINDOW / 2;
    if (rq->rate > 0 && rq->rate / 10 < window)
        window = rq->rate / 10 >= 1 ? (size_t)(rq->rate / 10) : 1;
    struct dlq_journal *journal = NULL;
    if (rq->journal && !rq->dry_run) {
        char err[512];
        if (dlq_journal_open(rq->journal, &journal, err, sizeof err) < 0) {
            publisher_close(&p);
            reader_close(&r);
            return dlq_fail(d, DLQ_FAIL_OPERATION, "%s", err);
        }
    }
    struct pending *slots = xcalloc(2 * window, sizeof *slots);
    struct dlq_journal_entry *ids = xcalloc(window, sizeof *ids);
    uint64_t run = dlq_token_run();
    unsigned long token_seq = 0;
    struct dlq_pacer pacer;
    dlq_pacer_init(&pacer, rq->rate);
    long acted = 0, last_acked = 0;
    int rc = 0, more = 1;
    size_t pos = 0, cur = 0, prev_n = 0;
    while (rc == 0 && (more == 1 || prev_n)) {
        struct pending *batch = &slots[cur * window], *prev = &slots[(1 - cur) * window];
        size_t n = 0;
        while (more == 1 && n < window && (rq->sel.limit <= 0 || acted < rq->sel.limit)) {
            if (d->cancel && *d->cancel) {
                more = 0;           /* stop reading; what is in flight is settled */
                t->interrupted = true;
                break;
            }
            struct dlq_message *m;
            if ((more = reader_next(&r, &m)) != 1) {
                if (more < 0)
                    rc = -1;
                break;
            }
            m->position = pos++;
            t->seen++;
            dlq_decode(d, m, false);
            if (!dlq_select_match(&rq->sel, m)) {
                dlq_message_free(m);          /* held, given back at the end */
                continue;
            }
            acted++;
            int twin = journal && m->redelivered ? dlq_twin_confirmed(journal, d, m) : 0;
            if (twin > 0) {
                if (reader_ack(&r, r.tag) < 0) {
                    dlq_message_free(m);
                    rc = -1;
                    break;
                }
                dlq_tally_dropped(t, m->info.id);
                if (rq->each)
                    rq->each(rq->arg, m, NULL, "dropped: a copy a broker restart brought back; its replayed twin "
                                               "was confirmed");
                dlq_message_free(m);
                continue;
            }
            if (twin < 0)
                t->doubtful++;
            else if (twin == 0 && journal && dlq_journal_take_unsettled(journal, dlq_message_identity(d, m)))
                t->unsettled++;
            struct pending *e = &batch[n];
            if (!dlq_replay_decide(d, rq, m, &e->sent, e->target, sizeof e->target, t)) {
                dlq_message_free(m);
                continue;
            }
            e->orig = m;
            e->dlq_tag = r.tag;
            if (e->sent->props) {
                dlq_new_token(run, ++token_seq, e->token, sizeof e->token);
                amqp_field_value_t v = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(e->token)};
                dlq_table_set(&e->sent->props->headers, DLQ_REPLAY_TOKEN_HEADER, v);
            }
            dlq_pace(&pacer);
            n++;
            e->identity = dlq_message_identity(d, m);
            if (journal && dlq_journal_publishing(journal, e->identity, e->token) < 0 && !t->first_error[0])
                snprintf(t->first_error, sizeof t->first_error, "could not write the replay journal");
            if (publish_one(&p, e) < 0) {
                rc = -1;
                break;
            }
        }
        if (rq->sel.limit > 0 && acted >= rq->sel.limit && more == 1)
            more = 0;
        if (rc == 0 && prev_n) {
            /* batch k's confirms (batch k+1's may arrive meanwhile) */
            if (wait_confirms(&p, slots, 2 * window, prev, prev_n) < 0 ||
                settle_batch(d, rq, &r, journal, prev, prev_n, ids, t, &last_acked) < 0)
                rc = -1;
            else
                pending_clear(prev, prev_n);
        }
        if (rc < 0) {
            /* lost: whatever was published and not settled may be in the
             * target while its DLQ copy comes back; so may the batch acked
             * just before, if those acks never reached the broker */
            for (size_t i = 0; i < prev_n; i++)
                if (prev[i].orig && (!prev[i].acked || !journal) && (prev[i].state != P_FAILED || !prev[i].why[0]))
                    t->in_doubt++;
            for (size_t i = 0; i < n; i++)
                if (batch[i].state != P_FAILED || !batch[i].why[0])
                    t->in_doubt++;
            if (!journal)           /* with it, a lost ack is caught next time */
                t->in_doubt += last_acked;
            pending_clear(prev, prev_n);
            pending_clear(batch, n);
            break;
        }
        prev_n = rq->dry_run ? 0 : n;
        cur = 1 - cur;
        if (rq->progress)
            rq->progress(rq->arg, t);
    }
    free(slots);
    free(ids);
    dlq_journal_close(journal);
    if (!rq->dry_run)
        publisher_close(&p);
    if (rc == 0)
        rc = reader_close(&r);
    return rc;
}

/* ---- purge ---- */

static int amqp_purge(struct dlq *d, const struct dlq_select *sel, struct dlq_tally *t)
{
    struct amqp_dlq *a = d->priv;
    if (sel->all && !sel->grep && !sel->nids) {
        amqp_channel_t ch = open_channel(d, a->conn);
        if (!ch)
            return -1;
        amqp_queue_purge_ok_t *ok = amqp_queue_purge(a->conn, ch, amqp_cstring_bytes(d->addr.name));
        if (rpc_check(d, amqp_get_rpc_reply(a->conn), "queue.purge") < 0)
            return -1;
        t->moved = ok ? (long)ok->message_count : 0;
        t->total = t->seen = t->moved;
        amqp_channel_close(a->conn, ch, AMQP_REPLY_SUCCESS);
        return rpc_check(d, amqp_get_rpc_reply(a->conn), "channel.close");
    }
    struct reader r;
    if (reader_open(d, &r) < 0)
        return -1;
    t->total = r.expected;
    int rc = 0;
    long acted = 0;
    struct dlq_message *m;
    while ((sel->limit <= 0 || acted < sel->limit) && (rc = reader_next(&r, &m)) == 1) {
        t->seen++;
        dlq_decode(d, m, false);
        if (dlq_select_match(sel, m)) {
            acted++;
            if (reader_ack(&r, r.tag) < 0) {
                dlq_message_free(m);
                rc = -1;
                break;
            }
            t->moved++;
        }
        dlq_message_free(m);
    }
    if (rc > 0)
        rc = 0;
    int closed = reader_close(&r);
    return rc < 0 || closed < 0 ? -1 : 0;
}

/* ---- import ---- */

static int amqp_append(struct dlq *d, const char *target, struct dlq_message *const *msgs, size_t n,
                       struct dlq_tally *t)
{
    struct publisher p;
    if (publisher_open(d, &p) < 0)
        return -1;
    struct pending *batch = xcalloc(CONFIRM_WINDOW, sizeof *batch);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        size_t k = 0;
        for (; k < CONFIRM_WINDOW && i < n; k++, i++) {
            batch[k].sent = msgs[i];
            snprintf(batch[k].target, sizeof batch[k].target, "%s", target);
            if (!msgs[i]->props) {
                static struct dlq_amqp_props none;
                msgs[i]->props = xcalloc(1, sizeof none);
            }
            if (publish_one(&p, &batch[k]) < 0) {
                rc = -1;
                k++;
                break;
            }
        }
        if (rc == 0 && wait_confirms(&p, batch, k, batch, k) < 0)
            rc = -1;
        for (size_t j = 0; j < k; j++) {
            if (rc < 0)
                t->in_doubt++;
            else if (batch[j].state == P_CONFIRMED)
                t->moved++;
            else {
                t->failed++;
                if (!t->first_error[0])
                    snprintf(t->first_error, sizeof t->first_error, "%s", batch[j].why);
            }
            batch[j].sent = NULL;     /* owned by the caller */
        }
        memset(batch, 0, CONFIRM_WINDOW * sizeof *batch);
    }
    free(batch);
    publisher_close(&p);
    return rc;
}

const struct dlq_backend dlq_amqp_backend = {
    .kind = QUEUE_AMQP,
    .open = amqp_open,
    .close = amqp_close,
    .count = amqp_count,
    .scan = amqp_scan,
    .replay = amqp_replay,
    .purge = amqp_purge,
    .append = amqp_append,
};
