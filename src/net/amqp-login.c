/* AMQP connect + login that recognises a peer which is not a broker (see
 * amqp-login.h). Whether connection.start was read is what
 * amqp_get_server_properties tells: rabbitmq-c fills it from that method. */
#include "net/amqp-login.h"

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/url.h"
#include "core/xalloc.h"

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

/* One attempt: a new connection, open, login with handshake timeout
 * `greeting`. *greeted: connection.start was read. On failure text holds
 * the reply (read before the connection and its decoded reply go). */
static amqp_connection_state_t attempt(const struct amqp_connection_info *info, int heartbeat, double timeout,
                                       double greeting, bool *greeted, amqp_rpc_reply_t *reply, int *open_status,
                                       char *text, size_t textlen, int *close_code)
{
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock = info->ssl ? amqp_ssl_socket_new(conn) : amqp_tcp_socket_new(conn);
    struct timeval tv = seconds(timeout), hs = seconds(greeting);
    *open_status = sock ? amqp_socket_open_noblock(sock, info->host, info->port, &tv) : AMQP_STATUS_NO_MEMORY;
    *greeted = false;
    if (*open_status != AMQP_STATUS_OK) {
        amqp_destroy_connection(conn);
        return NULL;
    }
    amqp_set_handshake_timeout(conn, &hs);
    amqp_set_rpc_timeout(conn, &tv);
    *reply = amqp_login(conn, info->vhost, 0, 131072, heartbeat, AMQP_SASL_METHOD_PLAIN, info->user, info->password);
    amqp_table_t *props = amqp_get_server_properties(conn);
    *greeted = props && props->num_entries > 0;
    if (reply->reply_type == AMQP_RESPONSE_NORMAL)
        return conn;
    reply_text(*reply, text, textlen, close_code);
    reply->reply.decoded = NULL;
    amqp_destroy_connection(conn);
    return NULL;
}

amqp_connection_state_t amqp_connect_login(const char *url, int heartbeat, double timeout,
                                           enum amqp_login_failure *why, char *err, size_t errlen)
{
    char *copy = xstrdup(url), *shown = url_redact(url);
    struct amqp_connection_info info;
    amqp_connection_state_t conn = NULL;
    amqp_default_connection_info(&info);
    if (amqp_parse_url(copy, &info) != AMQP_STATUS_OK) {
        snprintf(err, errlen, "AMQP URL %s is not amqp[s]://user:pass@host:port/vhost", shown);
        *why = AMQP_LOGIN_BAD_URL;
        goto out;
    }
    bool greeted;
    amqp_rpc_reply_t reply = {0};
    int open_status, close_code = 0;
    char text[256] = "";
    double greeting = timeout < AMQP_GREETING_TIMEOUT ? timeout : AMQP_GREETING_TIMEOUT;
    conn = attempt(&info, heartbeat, timeout, greeting, &greeted, &reply, &open_status, text, sizeof text, &close_code);
    if (!conn && open_status == AMQP_STATUS_OK && greeted && reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        reply.library_error == AMQP_STATUS_TIMEOUT && greeting < timeout)
        conn = attempt(&info, heartbeat, timeout, timeout, &greeted, &reply, &open_status, text, sizeof text,
                       &close_code);   /* a broker that greeted but was slow */
    if (conn)
        goto out;
    if (open_status != AMQP_STATUS_OK) {
        *why = AMQP_LOGIN_UNREACHABLE;
        snprintf(err, errlen, "cannot connect to RabbitMQ %s: %s", shown, amqp_error_string2(open_status));
    } else if (!greeted) {
        *why = AMQP_LOGIN_NOT_AMQP;
        if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT)
            snprintf(text, sizeof text, "no connection.start within %gs", greeting);
        snprintf(err, errlen, "the peer at %s:%d does not speak AMQP (%s): is %s the RabbitMQ AMQP port?", info.host,
                 info.port, text, shown);
    } else if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION ||
               (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
                reply.library_error == AMQP_STATUS_CONNECTION_CLOSED)) {
        *why = AMQP_LOGIN_REFUSED;
        if (close_code == AMQP_ACCESS_REFUSED)
            snprintf(err, errlen, "RabbitMQ at %s refused the login (wrong user or password)", shown);
        else if (close_code == AMQP_NOT_ALLOWED)
            snprintf(err, errlen, "RabbitMQ at %s refused access to the vhost: %s", shown, text);
        else
            snprintf(err, errlen, "RabbitMQ at %s refused the login: %s", shown, text);
    } else {
        *why = AMQP_LOGIN_BROKEN;
        snprintf(err, errlen, "AMQP login to %s failed: %s", shown, text);
    }
out:
    free(copy);
    free(shown);
    return conn;
}
