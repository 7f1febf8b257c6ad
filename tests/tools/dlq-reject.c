/* dlq-reject: dead-letters messages the way a failing consumer does, with
 * rabbitmq-c alone (no qdeck code), so DLQ tests start from messages the
 * broker itself dead-lettered (x-death headers and all).
 *
 *   dlq-reject URL QUEUE COUNT     consume COUNT messages from QUEUE and
 *                                  basic.reject(requeue=false) each
 *
 * QUEUE should have x-dead-letter-exchange set. Exit 0 when COUNT messages
 * were rejected; 1 with one line on stderr otherwise. */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what)
{
    fprintf(stderr, "dlq-reject: %s\n", what);
    exit(1);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);   /* a broker that goes away is an error to report, as in qdeck */
    if (argc != 4)
        die("usage: dlq-reject URL QUEUE COUNT");
    long count = strtol(argv[3], NULL, 10);
    struct amqp_connection_info info;
    char *url = strdup(argv[1]);
    amqp_default_connection_info(&info);
    if (amqp_parse_url(url, &info) != AMQP_STATUS_OK)
        die("cannot parse URL");
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(conn);
    if (amqp_socket_open(sock, info.host, info.port) != AMQP_STATUS_OK)
        die("cannot connect");
    if (amqp_login(conn, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password).reply_type !=
        AMQP_RESPONSE_NORMAL)
        die("login refused");
    amqp_channel_open(conn, 1);
    amqp_basic_qos(conn, 1, 0, 500, 0);
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(argv[2]), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    if (amqp_get_rpc_reply(conn).reply_type != AMQP_RESPONSE_NORMAL)
        die("basic.consume failed (no such queue?)");
    for (long n = 0; n < count; n++) {
        amqp_envelope_t env;
        struct timeval tv = {.tv_sec = 10};
        amqp_maybe_release_buffers(conn);
        amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &tv, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL)
            die("fewer messages than asked for, or the connection failed");
        amqp_basic_reject(conn, 1, env.delivery_tag, 0);
        amqp_destroy_envelope(&env);
    }
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    free(url);
    return 0;
}
