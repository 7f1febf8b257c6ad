/* rabbitmq-c connection, error and confirm helpers (see amqp-link.h). */
#include "worker/amqp-link.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "net/amqp-confirm.h"
#include "net/amqp-login.h"

int amqp_link_check(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return 0;
    case AMQP_RESPONSE_NONE:
        snprintf(err, errlen, "%s: no reply from the broker", what);
        return -1;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(err, errlen, "%s: %s", what, amqp_error_string2(r.library_error));
        return -1;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = r.reply.decoded;
            snprintf(err, errlen, "%s: %.*s", what, (int)m->reply_text.len, (char *)m->reply_text.bytes);
        } else if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *m = r.reply.decoded;
            snprintf(err, errlen, "%s: %.*s", what, (int)m->reply_text.len, (char *)m->reply_text.bytes);
        } else {
            snprintf(err, errlen, "%s: broker exception (method 0x%08x)", what, (unsigned)r.reply.id);
        }
        return -1;
    }
    snprintf(err, errlen, "%s: unknown reply", what);
    return -1;
}

const char *amqp_link_fault_name(enum amqp_link_fault fault)
{
    switch (fault) {
    case AMQP_LINK_FAULT_NONE: return "";
    case AMQP_LINK_FAULT_URL: return "bad URL";
    case AMQP_LINK_FAULT_UNREACHABLE: return "unreachable";
    case AMQP_LINK_FAULT_LOGIN: return "login refused";
    case AMQP_LINK_FAULT_TLS: return "TLS refused";
    case AMQP_LINK_FAULT_OTHER: break;
    }
    return "not connected";
}

amqp_connection_state_t amqp_link_open(const char *url, const struct tls_options *tls, int heartbeat, bool confirms,
                                       double timeout, char *err, size_t errlen)
{
    return amqp_link_connect(url, tls, heartbeat, confirms, timeout, NULL, err, errlen);
}

static enum amqp_link_fault fault_of(enum amqp_login_failure why)
{
    switch (why) {
    case AMQP_LOGIN_BAD_URL: return AMQP_LINK_FAULT_URL;
    case AMQP_LOGIN_UNREACHABLE: return AMQP_LINK_FAULT_UNREACHABLE;
    case AMQP_LOGIN_REFUSED: return AMQP_LINK_FAULT_LOGIN;
    case AMQP_LOGIN_TLS: return AMQP_LINK_FAULT_TLS;
    case AMQP_LOGIN_NOT_AMQP:
    case AMQP_LOGIN_BROKEN: break;
    }
    return AMQP_LINK_FAULT_OTHER;
}

amqp_connection_state_t amqp_link_connect(const char *url, const struct tls_options *tls, int heartbeat,
                                          bool confirms, double timeout, enum amqp_link_fault *fault, char *err,
                                          size_t errlen)
{
    enum amqp_link_fault unused;
    if (!fault)
        fault = &unused;
    enum amqp_login_failure why;
    amqp_connection_state_t conn = amqp_connect_login(url, tls, heartbeat, timeout, &why, err, errlen);
    if (!conn) {
        *fault = fault_of(why);
        return NULL;
    }
    *fault = AMQP_LINK_FAULT_OTHER;
    amqp_channel_open(conn, AMQP_LINK_CHANNEL);
    if (amqp_link_check(amqp_get_rpc_reply(conn), "channel.open", err, errlen) < 0)
        goto fail;
    if (confirms) {
        amqp_confirm_select(conn, AMQP_LINK_CHANNEL);
        if (amqp_link_check(amqp_get_rpc_reply(conn), "confirm.select", err, errlen) < 0)
            goto fail;
    }
    *fault = AMQP_LINK_FAULT_NONE;
    return conn;
fail:
    amqp_destroy_connection(conn);
    return NULL;
}

void amqp_link_close(amqp_connection_state_t conn)
{
    if (!conn)
        return;
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
}

int amqp_link_reopen_channel(amqp_connection_state_t conn, bool confirms, char *err, size_t errlen)
{
    amqp_channel_close_ok_t ok = {0};
    int st = amqp_send_method(conn, AMQP_LINK_CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    if (st != AMQP_STATUS_OK) {
        snprintf(err, errlen, "channel.close-ok: %s", amqp_error_string2(st));
        return -1;
    }
    amqp_maybe_release_buffers_on_channel(conn, AMQP_LINK_CHANNEL);
    amqp_channel_open(conn, AMQP_LINK_CHANNEL);
    if (amqp_link_check(amqp_get_rpc_reply(conn), "channel.open", err, errlen) < 0)
        return -1;
    if (confirms) {
        amqp_confirm_select(conn, AMQP_LINK_CHANNEL);
        if (amqp_link_check(amqp_get_rpc_reply(conn), "confirm.select", err, errlen) < 0)
            return -1;
    }
    return 0;
}

int amqp_link_publish(amqp_connection_state_t conn, const char *exchange, const char *routing_key,
                      const amqp_basic_properties_t *props, const void *body, size_t len, uint64_t *next_tag,
                      char *err, size_t errlen)
{
    amqp_bytes_t b = {.len = len, .bytes = (void *)body};
    int st = amqp_basic_publish(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(exchange), amqp_cstring_bytes(routing_key),
                                1, 0, props, b);
    if (st != AMQP_STATUS_OK) {
        snprintf(err, errlen, "basic.publish: %s", amqp_error_string2(st));
        return -1;
    }
    (*next_tag)++;
    return 0;
}

/* What amqp_link_wait_confirms waits for: every tag up to upto acked. */
struct cumulative {
    uint64_t upto, *acked;
    bool returned;
    char *err;
    size_t errlen;
};

static bool cumulative_waiting(void *arg)
{
    struct cumulative *c = arg;
    return *c->acked < c->upto;
}

static int cumulative_event(void *arg, const struct amqp_confirm_event *e)
{
    struct cumulative *c = arg;
    switch (e->kind) {
    case AMQP_CONFIRM_ACK:
        if (e->tag > *c->acked)
            *c->acked = e->tag;
        return 0;
    case AMQP_CONFIRM_NACK:
        snprintf(c->err, c->errlen, "publisher confirm: the broker refused the message (nack)");
        return -1;
    case AMQP_CONFIRM_RETURN:
        snprintf(c->err, c->errlen, "message returned: %.*s (exchange '%.*s', routing key '%.*s')",
                 (int)e->reply_text.len, (char *)e->reply_text.bytes, (int)e->exchange.len,
                 (char *)e->exchange.bytes, (int)e->routing_key.len, (char *)e->routing_key.bytes);
        c->returned = true;
        return 0;
    }
    return 0;
}

int amqp_link_wait_confirms(amqp_connection_state_t conn, uint64_t upto, uint64_t *acked, double timeout,
                            char *err, size_t errlen)
{
    struct cumulative c = {.upto = upto, .acked = acked, .err = err, .errlen = errlen};
    struct amqp_confirm_reader r = {.waiting = cumulative_waiting, .on_event = cumulative_event, .arg = &c,
                                    .deadline = clock_mono() + timeout, .idle = INFINITY};
    struct amqp_confirm_result res;
    amqp_confirm_read(conn, &r, &res);
    switch (res.end) {
    case AMQP_CONFIRM_SETTLED: return c.returned ? -1 : 0;
    case AMQP_CONFIRM_STOPPED: return -1;
    case AMQP_CONFIRM_TIMEOUT:
        snprintf(err, errlen, "publisher confirm: no answer within %.0fs", timeout);
        return -1;
    case AMQP_CONFIRM_LINK_ERROR:
        snprintf(err, errlen, "publisher confirm: %s", amqp_error_string2(res.status));
        return -1;
    case AMQP_CONFIRM_CHANNEL_CLOSED:
        snprintf(err, errlen, "channel closed: %s", res.text);
        return -1;
    case AMQP_CONFIRM_CONNECTION_CLOSED:
        snprintf(err, errlen, "connection closed: %s", res.text);
        return -1;
    }
    return -1;
}
