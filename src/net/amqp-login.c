/* AMQP connect + login that recognises a peer which is not a broker (see
 * amqp-login.h). Whether connection.start was read is what
 * amqp_get_server_properties tells: rabbitmq-c fills it from that method. */
#include "net/amqp-login.h"

#include <amqp_tcp_socket.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/url.h"
#include "core/xalloc.h"
#include "net/tls.h"

static struct timeval seconds(double s)
{
    return (struct timeval){.tv_sec = (time_t)s, .tv_usec = (suseconds_t)(fmod(s, 1) * 1e6)};
}

/* The reply's text; *code the connection.close reply code (0: none). */
static void reply_text(amqp_rpc_reply_t r, char *buf, size_t len, int *code)
{
    *code = 0;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
        snprintf(buf, len, "%s", amqp_error_string2(r.library_error));
    } else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *m = r.reply.decoded;
        *code = m->reply_code;
        snprintf(buf, len, "%.*s", (int)m->reply_text.len, (char *)m->reply_text.bytes);
    } else if (r.reply_type == AMQP_RESPONSE_NONE) {
        snprintf(buf, len, "no reply");
    } else {
        snprintf(buf, len, "broker exception (method 0x%08x)", (unsigned)r.reply.id);
    }
}

/* How one attempt ended. */
struct outcome {
    int open_status;          /* of the TCP (and TLS) open */
    bool greeted;             /* connection.start was read */
    amqp_rpc_reply_t reply;   /* of the login (decoded part gone) */
    int close_code;           /* connection.close reply code, 0: none */
    bool tls_config;          /* a TLS file cannot be used: text says which */
    enum tls_failure tls;     /* whether TLS was the cause: text says how */
    char text[512];           /* the reply, or the TLS problem */
};

/* The socket for info's scheme; NULL with o->tls_config when a TLS file
 * cannot be used. */
static amqp_socket_t *new_socket(amqp_connection_state_t conn, const struct amqp_connection_info *info,
                                 const struct tls_options *tls, struct tls_check *check, struct outcome *o)
{
    if (!info->ssl)
        return amqp_tcp_socket_new(conn);
    amqp_socket_t *sock = tls_amqp_socket(conn, tls, check, o->text, sizeof o->text);
    o->tls_config = !sock;
    return sock;
}

/* One attempt: a new connection, open, login with handshake timeout
 * `greeting`. On failure o holds why (read before the connection and its
 * decoded reply go). */
static amqp_connection_state_t attempt(const struct amqp_connection_info *info, const struct tls_options *tls,
                                       int heartbeat, double timeout, double greeting, struct outcome *o)
{
    *o = (struct outcome){0};
    amqp_connection_state_t conn = amqp_new_connection();
    struct tls_check check = {0};
    amqp_socket_t *sock = new_socket(conn, info, tls, &check, o);
    struct timeval tv = seconds(timeout), hs = seconds(greeting);
    if (o->tls_config) {
        amqp_destroy_connection(conn);
        return NULL;
    }
    o->open_status = sock ? amqp_socket_open_noblock(sock, info->host, info->port, &tv) : AMQP_STATUS_NO_MEMORY;
    if (o->open_status != AMQP_STATUS_OK) {
        if (info->ssl)
            o->tls = tls_amqp_failure(o->open_status, &check, tls, o->text, sizeof o->text);
        amqp_destroy_connection(conn);
        return NULL;
    }
    amqp_set_handshake_timeout(conn, &hs);
    amqp_set_rpc_timeout(conn, &tv);
    o->reply = amqp_login(conn, info->vhost, 0, 131072, heartbeat, AMQP_SASL_METHOD_PLAIN, info->user, info->password);
    amqp_table_t *props = amqp_get_server_properties(conn);
    o->greeted = props && props->num_entries > 0;
    if (o->reply.reply_type == AMQP_RESPONSE_NORMAL)
        return conn;
    if (info->ssl && o->reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        o->tls = tls_amqp_failure(o->reply.library_error, &check, tls, o->text, sizeof o->text);
    if (o->tls == TLS_NOT_THE_CAUSE)
        reply_text(o->reply, o->text, sizeof o->text, &o->close_code);
    o->reply.reply.decoded = NULL;
    amqp_destroy_connection(conn);
    return NULL;
}

/* The failure of the last attempt as *why and one line. */
static void explain(const struct outcome *o, const struct amqp_connection_info *info, const char *shown,
                    double greeting, enum amqp_login_failure *why, char *err, size_t errlen)
{
    const amqp_rpc_reply_t *reply = &o->reply;
    if (o->tls_config) {
        *why = AMQP_LOGIN_BAD_URL;
        snprintf(err, errlen, "%s: %s", shown, o->text);
    } else if (o->tls != TLS_NOT_THE_CAUSE) {
        *why = o->tls == TLS_REFUSED ? AMQP_LOGIN_TLS : AMQP_LOGIN_UNREACHABLE;
        snprintf(err, errlen, "cannot connect to RabbitMQ %s: %s", shown, o->text);
    } else if (o->open_status != AMQP_STATUS_OK) {
        *why = AMQP_LOGIN_UNREACHABLE;
        snprintf(err, errlen, "cannot connect to RabbitMQ %s: %s", shown, amqp_error_string2(o->open_status));
    } else if (!o->greeted) {
        *why = AMQP_LOGIN_NOT_AMQP;
        char text[256];
        if (reply->reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply->library_error == AMQP_STATUS_TIMEOUT)
            snprintf(text, sizeof text, "no connection.start within %gs", greeting);
        else
            snprintf(text, sizeof text, "%.200s", o->text);
        snprintf(err, errlen, "the peer at %s:%d does not speak AMQP (%s): is %s the RabbitMQ AMQP port?", info->host,
                 info->port, text, shown);
    } else if (reply->reply_type == AMQP_RESPONSE_SERVER_EXCEPTION ||
               (reply->reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
                reply->library_error == AMQP_STATUS_CONNECTION_CLOSED)) {
        *why = AMQP_LOGIN_REFUSED;
        if (o->close_code == AMQP_ACCESS_REFUSED)
            snprintf(err, errlen, "RabbitMQ at %s refused the login (wrong user or password)", shown);
        else if (o->close_code == AMQP_NOT_ALLOWED)
            snprintf(err, errlen, "RabbitMQ at %s refused access to the vhost: %s", shown, o->text);
        else
            snprintf(err, errlen, "RabbitMQ at %s refused the login: %s", shown, o->text);
    } else {
        *why = AMQP_LOGIN_BROKEN;
        snprintf(err, errlen, "AMQP login to %s failed: %s", shown, o->text);
    }
}

amqp_connection_state_t amqp_connect_login(const char *url, const struct tls_options *tls, int heartbeat,
                                           double timeout, enum amqp_login_failure *why, char *err, size_t errlen)
{
    static const struct tls_options system_cas = {.verify = true};
    char *copy = xstrdup(url), *shown = url_redact(url);
    struct amqp_connection_info info;
    amqp_connection_state_t conn = NULL;
    amqp_default_connection_info(&info);
    if (!tls)
        tls = &system_cas;
    if (amqp_parse_url(copy, &info) != AMQP_STATUS_OK) {
        snprintf(err, errlen, "AMQP URL %s is not amqp[s]://user:pass@host:port/vhost", shown);
        *why = AMQP_LOGIN_BAD_URL;
        goto out;
    }
    struct outcome o;
    double greeting = timeout < AMQP_GREETING_TIMEOUT ? timeout : AMQP_GREETING_TIMEOUT;
    conn = attempt(&info, tls, heartbeat, timeout, greeting, &o);
    if (!conn && o.open_status == AMQP_STATUS_OK && !o.tls_config && o.tls == TLS_NOT_THE_CAUSE && o.greeted &&
        o.reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && o.reply.library_error == AMQP_STATUS_TIMEOUT &&
        greeting < timeout)
        conn = attempt(&info, tls, heartbeat, timeout, timeout, &o);   /* a broker that greeted but was slow */
    if (!conn)
        explain(&o, &info, shown, greeting, why, err, errlen);
out:
    free(copy);
    free(shown);
    return conn;
}
