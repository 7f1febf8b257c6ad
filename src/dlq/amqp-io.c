/* The AMQP plumbing of the RabbitMQ DLQ backend (dlq-amqp.c): connections
 * and channels, messages to and from AMQP properties, the reader that
 * consumes without acking and gives back by closing its channel, and the
 * publisher with confirms + mandatory. See amqp-io.h. */
#include "dlq/amqp-io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "dlq/amqp-table.h"
#include "dlq/bytes.h"
#include "net/amqp-confirm.h"
#include "net/amqp-login.h"

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
int amqp_dlq_rpc_check(struct dlq *d, amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    char text[256];
    reply_text(r, text, sizeof text);
    return dlq_fail(d, r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION ? DLQ_FAIL_OPERATION : DLQ_FAIL_UNREACHABLE,
                    "%s: %s: %s", d->display, what, text);
}

int amqp_dlq_connect(struct dlq *d, amqp_connection_state_t *out)
{
    const char *url = d->ctx ? d->ctx->amqp : NULL;
    if (!url)
        return dlq_fail(d, DLQ_FAIL_USAGE, "%s: no RabbitMQ AMQP URL (give --amqp or set amqp in the context)",
                        d->display);
    struct amqp_dlq *a = d->priv;
    char err[512];
    enum amqp_login_failure why;
    amqp_connection_state_t conn = amqp_connect_login(url, &d->ctx->tls, 0, a->timeout, &why, err, sizeof err);
    if (!conn)
        return dlq_fail(d, why == AMQP_LOGIN_BAD_URL ? DLQ_FAIL_USAGE : DLQ_FAIL_UNREACHABLE, "%s", err);
    /* a broker busy dead-lettering or recovering answers slowly: RPCs get
     * longer than the connect */
    struct timeval rpc = {.tv_sec = (time_t)(a->timeout * 4 < 20 ? 20 : a->timeout * 4)};
    amqp_set_rpc_timeout(conn, &rpc);
    *out = conn;
    return 0;
}

void amqp_dlq_drop(amqp_connection_state_t *c)
{
    if (!*c)
        return;
    amqp_connection_close(*c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(*c);
    *c = NULL;
}

/* Below RabbitMQ's default channel_max (2047). */
#define CHANNEL_WRAP 2000

static bool channel_held(const struct amqp_dlq *a, amqp_channel_t ch)
{
    return ch == a->held[0] || ch == a->held[1];
}

amqp_channel_t amqp_dlq_channel(struct dlq *d, amqp_connection_state_t conn, bool held)
{
    struct amqp_dlq *a = d->priv;
    amqp_channel_t ch;
    do {
        ch = a->next_channel++;
        if (a->next_channel > CHANNEL_WRAP)
            a->next_channel = 1;
    } while (channel_held(a, ch));
    amqp_channel_open(conn, ch);
    if (amqp_dlq_rpc_check(d, amqp_get_rpc_reply(conn), "channel.open") < 0)
        return 0;
    if (held)
        a->held[a->held[0] ? 1 : 0] = ch;
    return ch;
}

void amqp_dlq_channel_release(struct dlq *d, amqp_channel_t ch)
{
    struct amqp_dlq *a = d->priv;
    for (int i = 0; i < 2; i++)
        if (ch && a->held[i] == ch)
            a->held[i] = 0;
}

/* Ready count by passive declare, on its own channel (a 404 closes it). */
int amqp_dlq_count(struct dlq *d, amqp_connection_state_t conn, const char *queue, long *out)
{
    amqp_channel_t ch = amqp_dlq_channel(d, conn, false);
    if (!ch)
        return -1;
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(conn, ch, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
    if (r.reply_type != AMQP_RESPONSE_NORMAL || !ok) {
        char text[256];
        reply_text(r, text, sizeof text);
        if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_ok_t close_ok = {0};   /* the broker waits for it to free the channel */
            amqp_send_method(conn, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
        }
        return dlq_fail(d, r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION ? DLQ_FAIL_OPERATION : DLQ_FAIL_UNREACHABLE,
                        "queue amqp:%s: %s", queue, text);
    }
    *out = ok->message_count;
    amqp_channel_close(conn, ch, AMQP_REPLY_SUCCESS);
    return amqp_dlq_rpc_check(d, amqp_get_rpc_reply(conn), "channel.close");
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


static int set_prefetch(struct amqp_dlq_reader *r, int n)
{
    /* global (channel-wide) prefetch: RabbitMQ applies a change of it to a
     * running consumer, which a per-consumer prefetch would not */
    amqp_basic_qos(r->conn, r->ch, 0, (uint16_t)n, 1);
    if (amqp_dlq_rpc_check(r->d, amqp_get_rpc_reply(r->conn), "basic.qos") < 0)
        return -1;
    r->prefetch = n;
    return 0;
}

int amqp_dlq_reader_open(struct dlq *d, struct amqp_dlq_reader *r)
{
    struct amqp_dlq *a = d->priv;
    memset(r, 0, sizeof *r);
    r->d = d;
    r->conn = a->conn;
    if (amqp_dlq_count(d, a->conn, d->addr.name, &r->expected) < 0)
        return -1;
    if (!(r->ch = amqp_dlq_channel(d, a->conn, true)))
        return -1;
    if (set_prefetch(r, r->expected + 10 < PREFETCH_STEP ? (int)r->expected + 10 : PREFETCH_STEP) < 0)
        return -1;
    amqp_basic_consume(r->conn, r->ch, amqp_cstring_bytes(d->addr.name), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    return amqp_dlq_rpc_check(d, amqp_get_rpc_reply(r->conn), "basic.consume");
}

/* 1 with *out, 0 at the end, -1 on error. */
int amqp_dlq_reader_next(struct amqp_dlq_reader *r, struct dlq_message **out)
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
        if (amqp_dlq_rpc_check(d, rep, "basic.get") < 0)
            return -1;
        if (rep.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
            return 0;
        amqp_basic_get_ok_t *ok = rep.reply.decoded;
        r->tag = ok->delivery_tag;
        bool redelivered = ok->redelivered;
        amqp_bytes_t ex = ok->exchange, rk = ok->routing_key;
        amqp_message_t msg;
        if (amqp_dlq_rpc_check(d, amqp_read_message(r->conn, r->ch, &msg, 0), "reading a message") < 0)
            return -1;
        *out = message_from_amqp(&msg, ex, rk);
        (*out)->redelivered = redelivered;
        amqp_destroy_message(&msg);
        r->received++;
        return 1;
    }
    for (;;) {
        if (!r->acting && dlq_cancelled(d))
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
        if (amqp_dlq_rpc_check(d, rep, "reading a message") < 0) {
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

int amqp_dlq_reader_ack(struct amqp_dlq_reader *r, uint64_t tag)
{
    int st = amqp_basic_ack(r->conn, r->ch, tag, 0);
    if (st != AMQP_STATUS_OK)
        return dlq_fail(r->d, DLQ_FAIL_UNREACHABLE, "%s: ack failed: %s", r->d->display, amqp_error_string2(st));
    r->acked++;
    return 0;
}

/* Closing the channel requeues everything read and not acked, in place. */
int amqp_dlq_reader_close(struct amqp_dlq_reader *r)
{
    if (!r->ch)
        return 0;
    amqp_channel_close(r->conn, r->ch, AMQP_REPLY_SUCCESS);
    amqp_dlq_channel_release(r->d, r->ch);
    r->ch = 0;
    amqp_maybe_release_buffers(r->conn);
    return amqp_dlq_rpc_check(r->d, amqp_get_rpc_reply(r->conn), "channel.close (giving messages back)");
}

/* ---- publishing with confirms ---- */



int amqp_dlq_publisher_open(struct dlq *d, struct amqp_dlq_publisher *p)
{
    struct amqp_dlq *a = d->priv;
    memset(p, 0, sizeof *p);
    p->d = d;
    if (!a->pub && amqp_dlq_connect(d, &a->pub) < 0)
        return -1;
    p->conn = a->pub;
    if (!(p->ch = amqp_dlq_channel(d, a->pub, true)))
        return -1;
    amqp_confirm_select(p->conn, p->ch);
    return amqp_dlq_rpc_check(d, amqp_get_rpc_reply(p->conn), "confirm.select");
}

void amqp_dlq_publisher_close(struct amqp_dlq_publisher *p)
{
    struct amqp_dlq *a = p->d->priv;
    if (p->ch && a->pub) {
        amqp_channel_close(p->conn, p->ch, AMQP_REPLY_SUCCESS);
        amqp_maybe_release_buffers(p->conn);
    }
    amqp_dlq_channel_release(p->d, p->ch);
    p->ch = 0;
}

int amqp_dlq_publish(struct amqp_dlq_publisher *p, struct amqp_dlq_pending *e)
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

static void confirm_upto(struct amqp_dlq_pending *batch, size_t n, uint64_t tag, bool multiple, bool ok)
{
    for (size_t i = 0; i < n; i++) {
        struct amqp_dlq_pending *e = &batch[i];
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
static void mark_returned(struct amqp_dlq_pending *batch, size_t n, amqp_bytes_t rkey, const amqp_message_t *msg,
                          const char *text)
{
    for (size_t i = 0; i < n; i++) {
        struct amqp_dlq_pending *e = &batch[i];
        if (e->sent && e->state == P_WAITING && !e->why[0] && strlen(e->target) == rkey.len &&
            memcmp(e->target, rkey.bytes, rkey.len) == 0 && e->sent->body.len == msg->body.len &&
            (msg->body.len == 0 || memcmp(e->sent->body.data, msg->body.bytes, msg->body.len) == 0)) {
            snprintf(e->why, sizeof e->why, "returned: %.100s (no queue amqp:%.100s?)", text, e->target);
            e->returned = true;
            return;
        }
    }
}

/* What amqp_dlq_wait_confirms waits for: confirms apply to batch[0..n),
 * and it waits while an entry of watch[0..nwatch) is waiting. */
struct confirm_wait {
    struct dlq *d;
    struct amqp_dlq_pending *batch;
    size_t n;
    const struct amqp_dlq_pending *watch;
    size_t nwatch;
};

static bool watch_waiting(void *arg)
{
    struct confirm_wait *w = arg;
    for (size_t i = 0; i < w->nwatch; i++)
        if (w->watch[i].state == P_WAITING)
            return true;
    return false;
}

static int on_confirm(void *arg, const struct amqp_confirm_event *e)
{
    struct confirm_wait *w = arg;
    switch (e->kind) {
    case AMQP_CONFIRM_ACK:
    case AMQP_CONFIRM_NACK:
        confirm_upto(w->batch, w->n, e->tag, e->multiple, e->kind == AMQP_CONFIRM_ACK);
        return 0;
    case AMQP_CONFIRM_RETURN: {
        char text[128];
        snprintf(text, sizeof text, "%.*s", (int)e->reply_text.len, (char *)e->reply_text.bytes);
        if (e->message)
            mark_returned(w->batch, w->n, e->routing_key, e->message, text);
        return amqp_dlq_rpc_check(w->d, e->read, "reading a returned message");
    }
    }
    return 0;
}

/* Reads confirms (applied to every entry of batch[0..n)) until no entry
 * of watch[0..nwatch) is waiting, through net/amqp-confirm.h. */
int amqp_dlq_wait_confirms(struct amqp_dlq_publisher *p, struct amqp_dlq_pending *batch, size_t n,
                           const struct amqp_dlq_pending *watch, size_t nwatch)
{
    struct dlq *d = p->d;
    struct amqp_dlq *a = d->priv;
    struct confirm_wait w = {.d = d, .batch = batch, .n = n, .watch = watch, .nwatch = nwatch};
    struct amqp_confirm_reader r = {.waiting = watch_waiting, .on_event = on_confirm, .arg = &w,
                                    .deadline = INFINITY, .idle = a->timeout * 4 + 5};
    struct amqp_confirm_result res;
    if (amqp_confirm_read(p->conn, &r, &res) == 0)
        return 0;
    switch (res.end) {
    case AMQP_CONFIRM_TIMEOUT:
    case AMQP_CONFIRM_LINK_ERROR:
        return dlq_fail(d, DLQ_FAIL_UNREACHABLE, "connection lost while waiting for publisher confirms: %s",
                        res.end == AMQP_CONFIRM_TIMEOUT ? "no confirm in time" : amqp_error_string2(res.status));
    case AMQP_CONFIRM_CHANNEL_CLOSED:
        return dlq_fail(d, DLQ_FAIL_OPERATION, "the broker closed the publishing channel: %s", res.text);
    case AMQP_CONFIRM_CONNECTION_CLOSED:
        return dlq_fail(d, DLQ_FAIL_UNREACHABLE, "the broker closed the connection: %s", res.text);
    case AMQP_CONFIRM_SETTLED:
    case AMQP_CONFIRM_STOPPED:
        break;
    }
    return -1;   /* STOPPED: on_confirm has said why */
}

void amqp_dlq_pending_clear(struct amqp_dlq_pending *batch, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dlq_message_free(batch[i].orig);
        dlq_message_free(batch[i].sent);
    }
    memset(batch, 0, n * sizeof *batch);
}
