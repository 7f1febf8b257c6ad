/* The publisher-confirm reader (see amqp-confirm.h). A basic.return's
 * fields are copied before its message is read, because reading the
 * content frames may reuse the memory the method was decoded into. */
#include "net/amqp-confirm.h"

#include <math.h>
#include <stdio.h>
#include <sys/time.h>

#include "core/clock.h"

static struct timeval seconds_tv(double s)
{
    return (struct timeval){.tv_sec = (time_t)s, .tv_usec = (suseconds_t)((s - (double)(time_t)s) * 1e6)};
}

static int ended(struct amqp_confirm_result *out, enum amqp_confirm_end end)
{
    out->end = end;
    return end == AMQP_CONFIRM_SETTLED ? 0 : -1;
}

static int closed(struct amqp_confirm_result *out, enum amqp_confirm_end end, amqp_bytes_t text)
{
    snprintf(out->text, sizeof out->text, "%.*s", (int)text.len, (char *)text.bytes);
    return ended(out, end);
}

/* A basic.return: its message follows on the same channel. */
static int returned(amqp_connection_state_t conn, const amqp_frame_t *f, const struct amqp_confirm_reader *r)
{
    amqp_basic_return_t *ret = f->payload.method.decoded;
    struct amqp_confirm_event e = {
        .kind = AMQP_CONFIRM_RETURN,
        .reply_text = amqp_bytes_malloc_dup(ret->reply_text),
        .exchange = amqp_bytes_malloc_dup(ret->exchange),
        .routing_key = amqp_bytes_malloc_dup(ret->routing_key),
    };
    amqp_message_t msg;
    e.read = amqp_read_message(conn, f->channel, &msg, 0);
    e.message = e.read.reply_type == AMQP_RESPONSE_NORMAL ? &msg : NULL;
    int rc = r->on_event(r->arg, &e);
    if (e.message)
        amqp_destroy_message(&msg);
    amqp_bytes_free(e.reply_text);
    amqp_bytes_free(e.exchange);
    amqp_bytes_free(e.routing_key);
    return rc;
}

int amqp_confirm_read(amqp_connection_state_t conn, const struct amqp_confirm_reader *r,
                      struct amqp_confirm_result *out)
{
    *out = (struct amqp_confirm_result){0};
    while (r->waiting(r->arg)) {
        double left = r->deadline - clock_mono();
        if (left <= 0)
            return ended(out, AMQP_CONFIRM_TIMEOUT);
        bool by_deadline = left < r->idle;
        double wait = by_deadline ? left : r->idle;
        struct timeval tv = seconds_tv(isfinite(wait) ? wait : 86400.0);
        amqp_frame_t f;
        amqp_maybe_release_buffers(conn);
        int st = amqp_simple_wait_frame_noblock(conn, &f, &tv);
        if (st == AMQP_STATUS_TIMEOUT) {
            if (by_deadline)
                continue;   /* the deadline check above ends it */
            return ended(out, AMQP_CONFIRM_TIMEOUT);
        }
        if (st != AMQP_STATUS_OK) {
            out->status = st;
            return ended(out, AMQP_CONFIRM_LINK_ERROR);
        }
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        struct amqp_confirm_event e = {0};
        switch (f.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *ack = f.payload.method.decoded;
            e = (struct amqp_confirm_event){.kind = AMQP_CONFIRM_ACK, .tag = ack->delivery_tag,
                                            .multiple = ack->multiple};
            if (r->on_event(r->arg, &e) < 0)
                return ended(out, AMQP_CONFIRM_STOPPED);
            break;
        }
        case AMQP_BASIC_NACK_METHOD: {
            amqp_basic_nack_t *nack = f.payload.method.decoded;
            e = (struct amqp_confirm_event){.kind = AMQP_CONFIRM_NACK, .tag = nack->delivery_tag,
                                            .multiple = nack->multiple};
            if (r->on_event(r->arg, &e) < 0)
                return ended(out, AMQP_CONFIRM_STOPPED);
            break;
        }
        case AMQP_BASIC_RETURN_METHOD:
            if (returned(conn, &f, r) < 0)
                return ended(out, AMQP_CONFIRM_STOPPED);
            break;
        case AMQP_CHANNEL_CLOSE_METHOD:
            return closed(out, AMQP_CONFIRM_CHANNEL_CLOSED,
                          ((amqp_channel_close_t *)f.payload.method.decoded)->reply_text);
        case AMQP_CONNECTION_CLOSE_METHOD:
            return closed(out, AMQP_CONFIRM_CONNECTION_CLOSED,
                          ((amqp_connection_close_t *)f.payload.method.decoded)->reply_text);
        default:
            break;
        }
    }
    return ended(out, AMQP_CONFIRM_SETTLED);
}
