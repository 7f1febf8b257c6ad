/* RabbitMQ consumer backend (rabbitmq-c).
 *
 * Two connections, both owned by this consumer's thread alone:
 *  - the consume link: basic.qos(prefetch) + basic.consume, no auto-ack.
 *    The thread poll()s the socket and the settle wake pipe together, then
 *    reads with a 1 µs timeout, so it is never inside a long library call
 *    and is woken at once when a slot finishes; rabbitmq-c sends heartbeats
 *    from those calls, so heartbeats flow however long handlers run.
 *  - the publish link, in confirm mode, opened the first time a retry or a
 *    dead letter is sent. Retries and dead letters are "publish an annotated
 *    copy, wait for its confirm, then ack the original": nothing is lost if
 *    we die in between (the original is redelivered, idempotency skips it
 *    when it had completed), and the reason, attempts and last error travel
 *    on the message (x-qdeck-* headers and the envelope's dead_reason /
 *    last_error).
 *
 * The publish link also serves the guardrails, from the tick: while
 * queue.<name>.max_depth is on, a passive queue.declare reads the queue's
 * depth every 0.5 s; once no shedding guardrail is on, parked messages move
 * from <queue>.parked back to <queue> (basic.get, publish, confirm, ack).
 * queue.<name>.paused cancels the consumer (basic.cancel) and consumes
 * again when it is lifted, so a paused queue shows no consumer and its
 * messages stay Ready.
 *
 * Acks are batched: deliveries are kept in tag order; the finished prefix is
 * acked with one basic.ack(multiple) per loop; when the oldest delivery has
 * been running a while (a slow task), finished ones behind it are acked
 * one by one so the prefetch window keeps moving. */
#include <amqp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/keys.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "worker/amqp-link.h"
#include "worker/consumer.h"
#include "worker/parked.h"
#include "worker/pool.h"
#include "worker/retry.h"
#include "worker/topology.h"

#define REPLAY_TOKEN_HEADER "x-qdeck-replay"   /* set by `qdeck dlq replay` (src/dlq/journal.h) */
#define HEARTBEAT_SECS 10
#define CONNECT_TIMEOUT 5.0
#define CONFIRM_TIMEOUT 10.0
#define MAX_RECEIVE_BATCH 256
#define HAND_OVER_EVERY 16
#define SPIN_YIELDS 8
#define STUCK_AFTER 0.05      /* seconds before acks stop waiting for the oldest delivery */
#define PARKED_INTERVAL 0.5   /* seconds between looks at <queue>.parked while releasing */
#define PARKED_IDLE 5.0       /* <queue>.parked empty: look again this late (a release cut off elsewhere) */
#define PARKED_MISSING 60.0   /* no <queue>.parked: look again this late (or when shedding ends) */
#define PARKED_BATCH_BYTES (4u << 20)   /* stop getting parked messages past this much body */
#define DEPTH_INTERVAL 0.5    /* seconds between depth looks while max_depth is on */

struct pending_ack {
    uint64_t tag;
    int done;                 /* 0 running, 1 finished: to ack */
};

struct amqp_consumer {
    amqp_connection_state_t conn, pub;
    uint64_t pub_tag, pub_acked;
    bool dead_declared, parked_declared;
    unsigned retry_declared;  /* bit i: tier i declared */
    bool receiving;
    char *consumer_tag;
    uint64_t blocked_tag;     /* oldest unfinished delivery when flush last looked */
    double blocked_since;
    bool paused;              /* queue.<name>.paused in force: consumer cancelled */
    bool may_release;         /* parked_may_release() at the last tick */
    double next_parked;       /* when to look at <queue>.parked again */
    char *parked;             /* "<queue>.parked" */
    struct pending_ack *pending;
    size_t head, len, cap;
};

static void amqp_disconnect(struct consumer *c)
{
    struct amqp_consumer *a = c->priv;
    if (!a)
        return;
    amqp_link_close(a->conn);
    amqp_link_close(a->pub);
    a->conn = a->pub = NULL;
    a->dead_declared = false;
    a->parked_declared = false;
    a->retry_declared = 0;
    a->head = a->len = 0;
}

static int amqp_connect(struct consumer *c, char *err, size_t errlen)
{
    struct amqp_consumer *a = c->priv;
    if (!a) {
        a = c->priv = xcalloc(1, sizeof *a);
        a->cap = (size_t)c->prefetch * 2 + 16;
        a->pending = xcalloc(a->cap, sizeof *a->pending);
        a->parked = xasprintf("%s" PARKED_SUFFIX_AMQP, c->addr.name);
    }
    const struct context_config *ctx = worker_context(c->w);
    enum amqp_link_fault fault;
    a->conn = amqp_link_connect(ctx->amqp, &ctx->tls, HEARTBEAT_SECS, false, CONNECT_TIMEOUT, &fault, err, errlen);
    if (!a->conn) {
        c->connect_fault = amqp_link_fault_name(fault);
        return -1;
    }
    amqp_basic_qos(a->conn, AMQP_LINK_CHANNEL, 0, (uint16_t)(c->prefetch > 65535 ? 65535 : c->prefetch), 0);
    if (amqp_link_check(amqp_get_rpc_reply(a->conn), "basic.qos", err, errlen) < 0)
        goto fail;
    a->head = a->len = 0;
    a->paused = atomic_load(&c->paused);
    if (a->paused) {
        a->receiving = false;   /* queue.<name>.paused: amqp_pause consumes once it is lifted */
        return 0;
    }
    amqp_basic_consume_ok_t *ok = amqp_basic_consume(a->conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(c->addr.name),
                                                     amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    if (amqp_link_check(amqp_get_rpc_reply(a->conn), "basic.consume", err, errlen) < 0 || !ok)
        goto fail;
    free(a->consumer_tag);
    a->consumer_tag = xstrndup(ok->consumer_tag.bytes, ok->consumer_tag.len);
    a->receiving = true;
    a->head = a->len = 0;
    return 0;
fail:
    amqp_disconnect(c);
    return -1;
}

static void amqp_stop_receiving(struct consumer *c)
{
    struct amqp_consumer *a = c->priv;
    if (!a || !a->conn || !a->receiving)
        return;
    a->receiving = false;
    amqp_basic_cancel(a->conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(a->consumer_tag));
    char err[200];
    if (amqp_link_check(amqp_get_rpc_reply(a->conn), "basic.cancel", err, sizeof err) < 0)
        log_warn("consumer %s: %s", c->label, err);
}

static void track(struct amqp_consumer *a, uint64_t tag)
{
    if (a->head > 0 && (a->head >= a->len || a->len == a->cap)) {
        memmove(a->pending, a->pending + a->head, (a->len - a->head) * sizeof *a->pending);
        a->len -= a->head;
        a->head = 0;
    }
    if (a->len == a->cap) {
        a->cap *= 2;
        a->pending = xrealloc(a->pending, a->cap * sizeof *a->pending);
    }
    a->pending[a->len++] = (struct pending_ack){.tag = tag, .done = 0};
}

static struct pending_ack *find_pending(struct amqp_consumer *a, uint64_t tag)
{
    size_t lo = a->head, hi = a->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->pending[mid].tag < tag)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->len && a->pending[lo].tag == tag ? &a->pending[lo] : NULL;
}

/* A non-delivery frame is waiting: read it; -1 when the link is gone. */
static int handle_other_frame(struct consumer *c, struct amqp_consumer *a)
{
    amqp_frame_t f;
    struct timeval tv = {0, 1};
    int st = amqp_simple_wait_frame_noblock(a->conn, &f, &tv);
    if (st == AMQP_STATUS_TIMEOUT)
        return 0;
    if (st != AMQP_STATUS_OK) {
        log_warn("consumer %s: %s", c->label, amqp_error_string2(st));
        return -1;
    }
    if (f.frame_type != AMQP_FRAME_METHOD)
        return 0;
    switch (f.payload.method.id) {
    case AMQP_CHANNEL_CLOSE_METHOD: {
        amqp_channel_close_t *m = f.payload.method.decoded;
        log_warn("consumer %s: channel closed by the broker: %.*s", c->label, (int)m->reply_text.len,
                 (char *)m->reply_text.bytes);
        return -1;
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
        amqp_connection_close_t *m = f.payload.method.decoded;
        log_warn("consumer %s: connection closed by the broker: %.*s", c->label, (int)m->reply_text.len,
                 (char *)m->reply_text.bytes);
        return -1;
    }
    case AMQP_BASIC_CANCEL_METHOD:
        log_warn("consumer %s: the broker cancelled the consumer (queue deleted?)", c->label);
        return -1;
    default:
        return 0;
    }
}

/* A replayed message's token goes on with its retries and its dead letter,
 * so a replay tells the task dead again from a copy a crash left behind. */
static void take_replay_token(struct task *t, const amqp_basic_properties_t *p)
{
    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
        return;
    for (int i = 0; i < p->headers.num_entries; i++) {
        const amqp_table_entry_t *e = &p->headers.entries[i];
        if (e->key.len == strlen(REPLAY_TOKEN_HEADER) && memcmp(e->key.bytes, REPLAY_TOKEN_HEADER, e->key.len) == 0 &&
            (e->value.kind == AMQP_FIELD_KIND_UTF8 || e->value.kind == AMQP_FIELD_KIND_BYTES) &&
            e->value.value.bytes.len < sizeof t->replay_token) {
            memcpy(t->replay_token, e->value.value.bytes.bytes, e->value.value.bytes.len);
            t->replay_token[e->value.value.bytes.len] = '\0';
            return;
        }
    }
}

static void take(struct consumer *c, struct amqp_consumer *a, amqp_envelope_t *env)
{
    if (a->receiving) {
        /* the delivery tag is set before the pool can see the task */
        struct task *t = task_new(c, env->message.body.bytes, env->message.body.len,
                                  worker_default_max_attempts(c->w));
        t->tag = env->delivery_tag;
        take_replay_token(t, &env->message.properties);
        track(a, env->delivery_tag);
        consumer_deliver(c, t);
    }
    /* after stop_receiving a delivery is left unacked: it goes back when
     * the channel closes; one that arrived while the consumer was being
     * cancelled for a pause goes back now */
    else if (a->paused)
        amqp_basic_reject(a->conn, AMQP_LINK_CHANNEL, env->delivery_tag, 1);
    amqp_destroy_envelope(env);
}

/* One read with a 1 µs timeout: 1 a delivery was taken, 0 nothing ready,
 * -1 link gone. rabbitmq-c sends a due heartbeat from inside this call. */
static int read_one(struct consumer *c, struct amqp_consumer *a)
{
    amqp_maybe_release_buffers(a->conn);
    amqp_envelope_t env;
    struct timeval tv = {0, 1};
    amqp_rpc_reply_t rr = amqp_consume_message(a->conn, &env, &tv, 0);
    if (rr.reply_type == AMQP_RESPONSE_NORMAL) {
        take(c, a, &env);
        return 1;
    }
    if (rr.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
        if (rr.library_error == AMQP_STATUS_TIMEOUT)
            return 0;
        if (rr.library_error == AMQP_STATUS_UNEXPECTED_STATE)
            return handle_other_frame(c, a) < 0 ? -1 : 1;
        log_warn("consumer %s: %s", c->label, amqp_error_string2(rr.library_error));
    }
    return -1;
}

static int amqp_receive(struct consumer *c, int room, double timeout)
{
    struct amqp_consumer *a = c->priv;
    (void)room;   /* the broker enforces the window through basic.qos */
    for (int n = 0; n < MAX_RECEIVE_BATCH; n++) {
        if (!amqp_data_in_buffer(a->conn) && !amqp_frames_enqueued(a->conn)) {
            if (n > 0)
                return 0;   /* drained what was buffered: go settle */
            /* tasks in flight finish in microseconds when handlers are
             * quick: yield a few times before sleeping in poll(), so their
             * acks go out without a wake-up round trip */
            for (int y = 0; y < SPIN_YIELDS && atomic_load(&c->in_flight) > 0 && !atomic_load(&c->wake_pending) &&
                            !amqp_data_in_buffer(a->conn);
                 y++)
                sched_yield();
            if (atomic_load(&c->wake_pending))
                return 0;
            struct pollfd p[2] = {{.fd = amqp_get_sockfd(a->conn), .events = POLLIN},
                                  {.fd = c->wake[0], .events = POLLIN}};
            poll(p, 2, (int)(timeout * 1000));
            if (p[1].revents)
                consumer_drain_wake(c);
        }
        int r = read_one(c, a);
        if (r <= 0)
            return r;
        if (c->batch_len >= HAND_OVER_EVERY) {
            consumer_hand_over(c);   /* slots start while the rest is read */
            if (atomic_load(&c->wake_pending))
                return 0;            /* and finished ones get acked first */
        }
    }
    return 0;
}

static int ensure_pub(struct consumer *c, struct amqp_consumer *a, char *err, size_t errlen)
{
    if (a->pub)
        return 0;
    /* no heartbeat: this link is idle most of the time and only this thread
     * uses it; a dead link shows up as a failed publish */
    const struct context_config *ctx = worker_context(c->w);
    a->pub = amqp_link_open(ctx->amqp, &ctx->tls, 0, true, CONNECT_TIMEOUT, err, errlen);
    a->pub_tag = a->pub_acked = 0;
    a->dead_declared = false;
    a->parked_declared = false;
    a->retry_declared = 0;
    return a->pub ? 0 : -1;
}

static amqp_table_entry_t header_s(const char *key, const char *value)
{
    return (amqp_table_entry_t){.key = amqp_cstring_bytes(key),
                                .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(value)}};
}

/* Publishes t's annotated copy (retry or dead letter) and waits for the
 * confirm. */
static int publish_copy(struct consumer *c, struct amqp_consumer *a, struct task *t, char *err, size_t errlen)
{
    if (ensure_pub(c, a, err, errlen) < 0)
        return -1;
    const char *exchange = "";
    char *rkey = NULL;
    if (t->park) {
        /* parked: the original body to <queue>.parked (a plain durable queue) */
        rkey = xasprintf("%s" PARKED_SUFFIX_AMQP, c->addr.name);
        if (!a->parked_declared) {
            amqp_queue_declare(a->pub, AMQP_LINK_CHANNEL, amqp_cstring_bytes(rkey), 0, 1, 0, 0, amqp_empty_table);
            if (amqp_link_check(amqp_get_rpc_reply(a->pub), "declaring the parked queue", err, errlen) < 0) {
                free(rkey);
                return -1;
            }
            a->parked_declared = true;
        }
    } else if (t->settle == SETTLE_DEAD) {
        if (!a->dead_declared && topology_declare_dead(a->pub, c->addr.name, err, errlen) < 0)
            return -1;
        a->dead_declared = true;
        exchange = AMQP_DLX;
        rkey = xstrdup(c->addr.name);
    } else {
        unsigned tier = retry_tier_ms(t->retry_delay);
        size_t i = 0;
        while (i < retry_ntiers && retry_tiers_ms[i] != tier)
            i++;
        if (tier && !(a->retry_declared & (1u << i))) {
            if (topology_declare_retry(a->pub, c->addr.name, tier, err, errlen) < 0)
                return -1;
            a->retry_declared |= 1u << i;
        }
        rkey = tier ? topology_retry_queue(c->addr.name, tier) : xstrdup(c->addr.name);
    }
    char *body;
    size_t len;
    if (t->park) {
        body = xmalloc(t->len + 1);
        memcpy(body, t->body, t->len + 1);
        len = t->len;
    } else {
        task_annotated_body(t, t->settle == SETTLE_DEAD, &body, &len);
    }
    amqp_table_entry_t h[6] = {
        header_s("x-qdeck-reason", t->settle == SETTLE_DEAD ? (t->dead_reason ? t->dead_reason : "failed") : "retry"),
        {.key = amqp_cstring_bytes("x-qdeck-attempts"), .value = {.kind = AMQP_FIELD_KIND_I32, .value.i32 = t->attempt}},
        header_s("x-qdeck-error", t->error),
        header_s("x-qdeck-original-queue", c->addr.name),
    };
    int nh = 4;
    if (t->settle == SETTLE_DEAD && !t->park)
        h[nh++] = (amqp_table_entry_t){.key = amqp_cstring_bytes("x-qdeck-dead-at"),
                                       .value = {.kind = AMQP_FIELD_KIND_I64,
                                                 .value.i64 = (int64_t)task_dead_at_ms()}};
    if (t->replay_token[0])
        h[nh++] = header_s(REPLAY_TOKEN_HEADER, t->replay_token);
    amqp_basic_properties_t props = {
        ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG |
                  AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG,
        .content_type = amqp_cstring_bytes(t->env ? "application/json" : "application/octet-stream"),
        .delivery_mode = 2,
        .headers = {.num_entries = nh, .entries = h},
        .message_id = amqp_cstring_bytes(t->id),
        .timestamp = (uint64_t)clock_wall(),
    };
    int rc = amqp_link_publish(a->pub, exchange, rkey, &props, body, len, &a->pub_tag, err, errlen);
    if (rc == 0)
        rc = amqp_link_wait_confirms(a->pub, a->pub_tag, &a->pub_acked, CONFIRM_TIMEOUT, err, errlen);
    free(body);
    free(rkey);
    return rc;
}

static int amqp_settle(struct consumer *c, struct task *t)
{
    struct amqp_consumer *a = c->priv;
    struct pending_ack *p = find_pending(a, t->tag);
    if (!p)
        return 0;   /* not ours on this link (cannot happen: generation checked) */
    if (t->settle == SETTLE_RETRY || t->settle == SETTLE_DEAD) {
        char err[300];
        if (publish_copy(c, a, t, err, sizeof err) < 0) {
            log_warn("consumer %s: task %s: cannot send its %s copy: %s", c->label, t->id,
                     t->settle == SETTLE_DEAD ? "dead-letter" : "retry", err);
            amqp_link_close(a->pub);
            a->pub = NULL;
            return -1;   /* reconnect: the original is redelivered and decided again */
        }
    }
    p->done = 1;
    return 0;
}

static int amqp_flush(struct consumer *c)
{
    struct amqp_consumer *a = c->priv;
    uint64_t last = 0;
    while (a->head < a->len && a->pending[a->head].done) {
        last = a->pending[a->head].tag;
        a->head++;
    }
    if (last && amqp_basic_ack(a->conn, AMQP_LINK_CHANNEL, last, 1) != AMQP_STATUS_OK)
        return -1;
    if (a->head < a->len && a->pending[a->head].tag != a->blocked_tag) {
        a->blocked_tag = a->pending[a->head].tag;
        a->blocked_since = clock_mono();
    }
    if (a->head + 1 < a->len && clock_mono() - a->blocked_since > STUCK_AFTER) {
        size_t keep = a->head + 1;
        for (size_t i = a->head + 1; i < a->len; i++) {
            if (a->pending[i].done) {
                if (amqp_basic_ack(a->conn, AMQP_LINK_CHANNEL, a->pending[i].tag, 0) != AMQP_STATUS_OK)
                    return -1;
            } else {
                a->pending[keep++] = a->pending[i];
            }
        }
        a->len = keep;
    }
    if (a->head == a->len)
        a->head = a->len = 0;
    return 0;
}

/* queue.<name>.paused, followed from the consumer loop: basic.cancel when
 * it turns on (the broker stops sending; what it sent before the cancel-ok
 * is rejected back to the queue as it arrives, see take), basic.consume
 * again when it turns off. Tasks already handed to the pool finish and are
 * acked. -1: the link is gone. */
static int amqp_pause(struct consumer *c, bool paused)
{
    struct amqp_consumer *a = c->priv;
    if (paused == a->paused)
        return 0;
    char err[200];
    if (paused) {
        a->paused = true;
        a->receiving = false;
        amqp_basic_cancel(a->conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(a->consumer_tag));
        if (amqp_link_check(amqp_get_rpc_reply(a->conn), "basic.cancel", err, sizeof err) < 0) {
            log_warn("consumer %s: pausing: %s", c->label, err);
            return -1;
        }
        log_info("consumer %s: consumer cancelled while the queue is paused", c->label);
        return 0;
    }
    amqp_basic_consume_ok_t *ok = amqp_basic_consume(a->conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(c->addr.name),
                                                     amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    if (amqp_link_check(amqp_get_rpc_reply(a->conn), "basic.consume", err, sizeof err) < 0 || !ok) {
        log_warn("consumer %s: resuming: %s", c->label, err);
        return -1;
    }
    free(a->consumer_tag);
    a->consumer_tag = xstrndup(ok->consumer_tag.bytes, ok->consumer_tag.len);
    a->paused = false;
    a->receiving = true;
    log_info("consumer %s: consuming again", c->label);
    return 0;
}

/* Passive queue.declare on the publish link: the queue's ready messages
 * (unacked ones not counted) in *ready. 0; 1 when the queue does not exist
 * (the broker closed the channel: it is opened again); -1 with err when the
 * link is unusable. */
static int queue_ready(struct consumer *c, struct amqp_consumer *a, const char *queue, long *ready, char *err,
                       size_t errlen)
{
    if (ensure_pub(c, a, err, errlen) < 0)
        return -1;
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(a->pub, AMQP_LINK_CHANNEL, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(a->pub);
    if (r.reply_type == AMQP_RESPONSE_NORMAL && ok) {
        *ready = (long)ok->message_count;
        return 0;
    }
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD &&
        ((amqp_channel_close_t *)r.reply.decoded)->reply_code == AMQP_NOT_FOUND) {
        if (amqp_link_reopen_channel(a->pub, true, err, errlen) < 0)
            return -1;
        a->pub_tag = a->pub_acked = 0;   /* a new channel counts confirms from 1 */
        return 1;
    }
    amqp_link_check(r, "queue.declare (passive)", err, errlen);
    return -1;
}

/* Moves up to PARKED_BATCH messages (and about PARKED_BATCH_BYTES) from
 * <queue>.parked back to <queue> on the publish link: basic.get them all
 * (not acked yet), then publish each body with its properties to the
 * default exchange, wait for the confirms, and ack the gets with one
 * basic.ack(multiple). The gets come first because rabbitmq-c queues a
 * confirm that arrives during a basic.get and would hand it to the next
 * message read. Killed or cut off midway, the gets were never acked and go
 * back to the parked queue: at worst a task is published twice, which
 * idempotency absorbs; nothing is lost. Several workers may release at
 * once: basic.get hands each message to one of them. How many moved, or
 * -1 with err. */
static int release_parked(struct consumer *c, struct amqp_consumer *a, long ready, char *err, size_t errlen)
{
    amqp_message_t *msgs = xcalloc(PARKED_BATCH, sizeof *msgs);
    uint64_t last_get = 0;
    size_t bytes = 0;
    int n = 0, rc = 0;
    long want = ready < PARKED_BATCH ? ready : PARKED_BATCH;
    while (n < want && bytes < PARKED_BATCH_BYTES) {
        amqp_rpc_reply_t r = amqp_basic_get(a->pub, AMQP_LINK_CHANNEL, amqp_cstring_bytes(a->parked), 0);
        if (amqp_link_check(r, "basic.get", err, errlen) < 0) {
            rc = -1;
            goto out;
        }
        if (r.reply.id != AMQP_BASIC_GET_OK_METHOD)
            break;   /* get-empty: another worker took the rest */
        last_get = ((amqp_basic_get_ok_t *)r.reply.decoded)->delivery_tag;
        r = amqp_read_message(a->pub, AMQP_LINK_CHANNEL, &msgs[n], 0);
        if (amqp_link_check(r, "reading a parked message", err, errlen) < 0) {
            rc = -1;
            goto out;
        }
        bytes += msgs[n].body.len;
        n++;
    }
    for (int i = 0; i < n; i++)
        if (amqp_link_publish(a->pub, "", c->addr.name, &msgs[i].properties, msgs[i].body.bytes, msgs[i].body.len,
                              &a->pub_tag, err, errlen) < 0) {
            rc = -1;
            goto out;
        }
    if (n > 0 && amqp_link_wait_confirms(a->pub, a->pub_tag, &a->pub_acked, CONFIRM_TIMEOUT, err, errlen) < 0) {
        rc = -1;
        goto out;
    }
    if (n > 0) {
        int st = amqp_basic_ack(a->pub, AMQP_LINK_CHANNEL, last_get, 1);
        if (st != AMQP_STATUS_OK) {
            snprintf(err, errlen, "basic.ack of the parked copies: %s", amqp_error_string2(st));
            rc = -1;
            goto out;
        }
    }
    rc = n;
out:
    for (int i = 0; i < n; i++)
        amqp_destroy_message(&msgs[i]);
    free(msgs);
    amqp_maybe_release_buffers(a->pub);
    return rc;
}

/* queue.<name>.max_depth on: the queue's ready count into c->depth, at most
 * every DEPTH_INTERVAL (shed() in pool.c dead-letters while it is over). */
static void look_at_depth(struct consumer *c, struct amqp_consumer *a, double now)
{
    if (atomic_load(&c->max_depth) < 0) {
        atomic_store(&c->depth, -1);
        return;
    }
    if (now < c->next_depth)
        return;
    c->next_depth = now + DEPTH_INTERVAL;
    long ready = -1;
    char err[300];
    int rc = queue_ready(c, a, c->addr.name, &ready, err, sizeof err);
    atomic_store(&c->depth, rc == 0 ? ready : -1);
    if (rc < 0) {
        log_warn("consumer %s: queue depth: %s", c->label, err);
        amqp_link_close(a->pub);
        a->pub = NULL;
    }
}

/* No shedding guardrail any more: parked messages go back to the queue,
 * PARKED_BATCH per tick while there are more. */
static void release_if_due(struct consumer *c, struct amqp_consumer *a, double now)
{
    bool may = parked_may_release(c);
    if (may && !a->may_release)
        a->next_parked = 0;   /* shedding just ended (or the policy came): look at once */
    a->may_release = may;
    if (!may || now < a->next_parked)
        return;
    a->next_parked = now + PARKED_INTERVAL;
    long ready = 0;
    char err[300];
    int rc = queue_ready(c, a, a->parked, &ready, err, sizeof err);
    if (rc == 1) {
        a->next_parked = now + PARKED_MISSING;   /* nothing was ever parked here */
        return;
    }
    if (rc == 0 && ready == 0)
        a->next_parked = now + PARKED_IDLE;   /* parking happens while shedding is on: the
                                                * look when it ends comes at once anyway */
    if (rc == 0 && ready > 0)
        rc = release_parked(c, a, ready, err, sizeof err);
    if (rc < 0) {
        log_warn("consumer %s: releasing parked tasks: %s", c->label, err);
        amqp_link_close(a->pub);
        a->pub = NULL;
        a->next_parked = now + PARKED_IDLE;   /* a broken link: not again at once */
        return;
    }
    if (rc > 0) {
        log_info("consumer %s: %d parked task(s) released back to the queue", c->label, rc);
        a->next_parked = 0;   /* more may wait: next tick again */
    }
}

static void amqp_tick(struct consumer *c)
{
    struct amqp_consumer *a = c->priv;
    double now = clock_mono();
    look_at_depth(c, a, now);
    release_if_due(c, a, now);
}

/* Closing the channel without acking returns every unfinished delivery. */
static void amqp_give_back(struct consumer *c) { (void)c; }

static void amqp_destroy(struct consumer *c)
{
    struct amqp_consumer *a = c->priv;
    if (!a)
        return;
    amqp_disconnect(c);
    free(a->pending);
    free(a->parked);
    free(a->consumer_tag);
    free(a);
    c->priv = NULL;
}

const struct consumer_ops consumer_amqp_ops = {
    .kind = "amqp",
    .connect = amqp_connect,
    .disconnect = amqp_disconnect,
    .receive = amqp_receive,
    .settle = amqp_settle,
    .flush = amqp_flush,
    .stop_receiving = amqp_stop_receiving,
    .tick = amqp_tick,
    .pause = amqp_pause,
    .give_back = amqp_give_back,
    .destroy = amqp_destroy,
    .redelivers_on_reconnect = true,
};
