/* amqp-consume-ack: the bare rabbitmq-c floor for consuming, the baseline the
 * worker benchmark compares `qdeck worker` against (target: qdeck >= 0.7x of
 * this). One connection, one channel, basic.qos prefetch P, basic.consume
 * without auto-ack, and each message acked on its own (no `multiple`) right
 * after it arrives: the same broker work a worker does per noop task, with
 * no task work at all.
 *
 *   amqp-consume-ack URL QUEUE COUNT [--prefetch P] [--idle-timeout SECS]
 *
 * The clock starts at the first delivery and stops at the COUNT-th ack's
 * send, so connecting does not count. Prints one line:
 *   amqp-consume-ack: N messages in S s: R msgs/s
 * Exit 0 when COUNT messages were consumed; 1 with a line on stderr when the
 * queue stayed empty for the idle timeout (default 10 s) or the broker failed. */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("amqp-consume-ack: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static long parse_count(const char *what, const char *s, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > max)
        die("%s: '%s' is not a number from 1 to %ld", what, s, max);
    return v;
}

static void check_reply(amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        die("%s: %s", what, amqp_error_string2(r.library_error));
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *c = r.reply.decoded;
        die("%s: %.*s", what, (int)c->reply_text.len, (char *)c->reply_text.bytes);
    }
    die("%s: failed (reply type %d)", what, (int)r.reply_type);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);   /* a broker that goes away is an error to report, as in qdeck */
    if (argc < 4)
        die("usage: amqp-consume-ack URL QUEUE COUNT [--prefetch P] [--idle-timeout SECS]");
    const char *queue = argv[2];
    long count = parse_count("COUNT", argv[3], 1000000000L);
    long prefetch = 100, idle = 10;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--prefetch") == 0 && i + 1 < argc)
            prefetch = parse_count("--prefetch", argv[++i], 65535);
        else if (strcmp(argv[i], "--idle-timeout") == 0 && i + 1 < argc)
            idle = parse_count("--idle-timeout", argv[++i], 86400);
        else
            die("unknown or incomplete option '%s'", argv[i]);
    }

    char *url = strdup(argv[1]);
    struct amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (!url || amqp_parse_url(url, &info) != AMQP_STATUS_OK || info.ssl)
        die("cannot parse URL (want amqp://USER:PASS@HOST:PORT/VHOST)");
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(conn);
    if (!sock)
        die("cannot create a socket");
    int st = amqp_socket_open(sock, info.host, info.port);
    if (st != AMQP_STATUS_OK)
        die("cannot connect to %s:%d: %s", info.host, info.port, amqp_error_string2(st));
    check_reply(amqp_login(conn, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password),
                "login");
    amqp_channel_open(conn, 1);
    check_reply(amqp_get_rpc_reply(conn), "channel.open");
    amqp_basic_qos(conn, 1, 0, (uint16_t)prefetch, 0);
    check_reply(amqp_get_rpc_reply(conn), "basic.qos");
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(conn), "basic.consume");

    double start = 0, end = 0;
    long got = 0;
    while (got < count) {
        amqp_envelope_t env;
        struct timeval tv = {.tv_sec = idle, .tv_usec = 0};
        amqp_maybe_release_buffers(conn);
        amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
            die("queue '%s' idle for %ld s after %ld of %ld messages", queue, idle, got, count);
        check_reply(r, "basic.consume");
        if (got == 0)
            start = now();
        if (amqp_basic_ack(conn, 1, env.delivery_tag, 0) != AMQP_STATUS_OK)
            die("basic.ack failed");
        amqp_destroy_envelope(&env);
        got++;
    }
    end = now();
    double secs = end - start;
    printf("amqp-consume-ack: %ld messages in %.3f s: %.0f msgs/s\n", got, secs, secs > 0 ? (double)got / secs : 0.0);
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    free(url);
    return 0;
}
