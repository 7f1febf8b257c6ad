/* amqp-fill: sets up RabbitMQ state for tests and benchmarks, fast, with
 * rabbitmq-c alone (no qdeck code), so a test's fixtures never depend on the
 * code under test. Queue names are passed through as bytes: spaces, `/`, `:`
 * and UTF-8 work.
 *
 *   amqp-fill URL declare QUEUE [--dlx EXCHANGE] [--dlrk KEY]   durable classic queue
 *   amqp-fill URL declare-many PREFIX N         queues PREFIX0000 ... PREFIX(N-1)
 *   amqp-fill URL publish QUEUE COUNT [--size BYTES] [--timestamp] [--dead]
 *   amqp-fill URL purge QUEUE
 *   amqp-fill URL delete QUEUE
 *   amqp-fill URL depth QUEUE                   prints "READY CONSUMERS" (exact,
 *                                               passive declare, no stats lag)
 *
 * URL is parsed by rabbitmq-c's amqp_parse_url (amqp://user:pass@host:port/vhost).
 * publish sends persistent JSON messages to the default exchange with routing
 * key QUEUE, mandatory (a missing queue is an error, not a silent drop), with
 * publisher confirms in windows of 500: rabbitmq-c 0.11 has no
 * amqp_publisher_confirm_wait, so basic.ack frames are read by hand (an ack
 * with `multiple` confirms every tag up to its delivery tag). --dead makes
 * them look like qdeck's worker's dead letters: headers x-qdeck-reason
 * "failed", x-qdeck-dead-at (milliseconds, one apart per message) and, for
 * a QUEUE named X.dlq, x-qdeck-original-queue X.
 * Exit 0 on success; 1 with one line on stderr otherwise. */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONFIRM_WINDOW 500
#define MAX_BODY (64L * 1024 * 1024)

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("amqp-fill: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
    die("usage: amqp-fill URL declare QUEUE [--dlx EXCHANGE] [--dlrk KEY] | declare-many PREFIX N |"
        " publish QUEUE COUNT [--size BYTES] [--timestamp] [--dead] | purge QUEUE | delete QUEUE | depth QUEUE");
}

static long parse_count(const char *what, const char *s, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max)
        die("%s: '%s' is not a number from 0 to %ld", what, s, max);
    return v;
}

/* Dies with the broker's reason when the last RPC did not succeed. */
static void check_reply(amqp_rpc_reply_t r, const char *what)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *c = r.reply.decoded;
            die("%s: %.*s", what, (int)c->reply_text.len, (char *)c->reply_text.bytes);
        }
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *c = r.reply.decoded;
            die("%s: %.*s", what, (int)c->reply_text.len, (char *)c->reply_text.bytes);
        }
        die("%s: server exception (method 0x%08x)", what, (unsigned)r.reply.id);
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        die("%s: %s", what, amqp_error_string2(r.library_error));
    default:
        die("%s: no reply", what);
    }
}

static amqp_connection_state_t connect_url(const char *url_text)
{
    char *copy = strdup(url_text);
    if (!copy)
        die("out of memory");
    struct amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (amqp_parse_url(copy, &info) != AMQP_STATUS_OK)
        die("cannot parse URL (want amqp://USER:PASS@HOST:PORT/VHOST)");
    if (info.ssl)
        die("amqps:// is not supported by this tool");
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(conn);
    if (!sock)
        die("cannot create a socket");
    int st = amqp_socket_open(sock, info.host, info.port);
    if (st != AMQP_STATUS_OK)
        die("cannot connect to %s:%d: %s", info.host, info.port, amqp_error_string2(st));
    amqp_rpc_reply_t r =
        amqp_login(conn, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_SOCKET_CLOSED)
        die("login to %s:%d vhost '%s' refused (wrong user or password?)", info.host, info.port, info.vhost);
    check_reply(r, "login");
    amqp_channel_open(conn, 1);
    check_reply(amqp_get_rpc_reply(conn), "channel.open");
    free(copy);
    return conn;
}

static void declare(amqp_connection_state_t conn, const char *queue, const char *dlx, const char *dlrk)
{
    amqp_table_entry_t entries[2];
    int n = 0;
    if (dlx) {
        entries[n].key = amqp_cstring_bytes("x-dead-letter-exchange");
        entries[n].value.kind = AMQP_FIELD_KIND_UTF8;
        entries[n].value.value.bytes = amqp_cstring_bytes(dlx);
        n++;
    }
    if (dlrk) {
        entries[n].key = amqp_cstring_bytes("x-dead-letter-routing-key");
        entries[n].value.kind = AMQP_FIELD_KIND_UTF8;
        entries[n].value.value.bytes = amqp_cstring_bytes(dlrk);
        n++;
    }
    amqp_table_t args = {.num_entries = n, .entries = n ? entries : NULL};
    amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, args);
    check_reply(amqp_get_rpc_reply(conn), "queue.declare");
}

/* Reads frames until every delivery tag up to `upto` is confirmed. */
static void wait_confirms(amqp_connection_state_t conn, uint64_t upto, uint64_t *acked, const char *queue)
{
    while (*acked < upto) {
        amqp_frame_t frame;
        int st = amqp_simple_wait_frame(conn, &frame);
        if (st != AMQP_STATUS_OK)
            die("connection lost while waiting for confirms: %s", amqp_error_string2(st));
        if (frame.frame_type != AMQP_FRAME_METHOD)
            continue; /* content of a returned message */
        switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *ack = frame.payload.method.decoded;
            /* confirms on one channel arrive in order: a single ack for tag N
             * follows the confirms of every tag before it */
            if (ack->delivery_tag > *acked)
                *acked = ack->delivery_tag;
            break;
        }
        case AMQP_BASIC_NACK_METHOD:
            die("broker nacked message %llu to '%s'",
                (unsigned long long)((amqp_basic_nack_t *)frame.payload.method.decoded)->delivery_tag, queue);
        case AMQP_BASIC_RETURN_METHOD: {
            amqp_basic_return_t *ret = frame.payload.method.decoded;
            die("message to '%s' returned: %.*s (no such queue?)", queue, (int)ret->reply_text.len,
                (char *)ret->reply_text.bytes);
        }
        case AMQP_CHANNEL_CLOSE_METHOD: {
            amqp_channel_close_t *c = frame.payload.method.decoded;
            die("channel closed by broker while publishing: %.*s", (int)c->reply_text.len,
                (char *)c->reply_text.bytes);
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
            amqp_connection_close_t *c = frame.payload.method.decoded;
            die("connection closed by broker while publishing: %.*s", (int)c->reply_text.len,
                (char *)c->reply_text.bytes);
        }
        default:
            break;
        }
    }
}

static void publish(amqp_connection_state_t conn, const char *queue, long count, size_t size, int stamp, int dead)
{
    amqp_confirm_select(conn, 1);
    check_reply(amqp_get_rpc_reply(conn), "confirm.select");
    size_t cap = size + 64;
    char *body = malloc(cap);
    if (!body)
        die("out of memory for a %zu-byte body", size);
    uint64_t sent = 0, acked = 0;
    size_t qlen = strlen(queue);
    amqp_bytes_t original = {.len = qlen > 4 && strcmp(queue + qlen - 4, ".dlq") == 0 ? qlen - 4 : 0,
                             .bytes = (void *)queue};
    for (long i = 0; i < count; i++) {
        int n = snprintf(body, cap, "{\"n\":%ld}", i);
        size_t len = (size_t)n > size ? (size_t)n : size;
        if (len > (size_t)n)
            memset(body + n, ' ', len - (size_t)n); /* JSON stays valid */
        amqp_basic_properties_t props;
        memset(&props, 0, sizeof props);
        props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
        props.delivery_mode = 2;
        props.content_type = amqp_cstring_bytes("application/json");
        if (stamp) {
            props._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
            props.timestamp = (uint64_t)time(NULL);
        }
        amqp_table_entry_t h[3];
        if (dead) {
            h[0].key = amqp_cstring_bytes("x-qdeck-reason");
            h[0].value.kind = AMQP_FIELD_KIND_UTF8;
            h[0].value.value.bytes = amqp_cstring_bytes("failed");
            h[1].key = amqp_cstring_bytes("x-qdeck-dead-at");
            h[1].value.kind = AMQP_FIELD_KIND_I64;
            h[1].value.value.i64 = (int64_t)time(NULL) * 1000 + i;
            props._flags |= AMQP_BASIC_HEADERS_FLAG;
            props.headers.num_entries = 2;
            props.headers.entries = h;
            if (original.len) {
                h[2].key = amqp_cstring_bytes("x-qdeck-original-queue");
                h[2].value.kind = AMQP_FIELD_KIND_UTF8;
                h[2].value.value.bytes = original;
                props.headers.num_entries = 3;
            }
        }
        amqp_bytes_t bytes = {.len = len, .bytes = body};
        int st = amqp_basic_publish(conn, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), 1, 0, &props, bytes);
        if (st != AMQP_STATUS_OK)
            die("publish to '%s' failed: %s", queue, amqp_error_string2(st));
        sent++;
        if (sent - acked >= CONFIRM_WINDOW)
            wait_confirms(conn, sent - CONFIRM_WINDOW / 2, &acked, queue);
    }
    wait_confirms(conn, sent, &acked, queue);
    free(body);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);   /* a broker that goes away is an error to report, as in qdeck */
    if (argc < 4)
        usage();
    const char *url = argv[1], *cmd = argv[2], *name = argv[3];
    const char *dlx = NULL, *dlrk = NULL;
    long count = 0, many = 0;
    size_t size = 16;
    int stamp = 0, dead = 0;

    /* check the arguments before connecting */
    if (strcmp(cmd, "declare") == 0) {
        for (int i = 4; i < argc; i++) {
            if (strcmp(argv[i], "--dlx") == 0 && i + 1 < argc)
                dlx = argv[++i];
            else if (strcmp(argv[i], "--dlrk") == 0 && i + 1 < argc)
                dlrk = argv[++i];
            else
                die("declare: unknown or incomplete option '%s'", argv[i]);
        }
    } else if (strcmp(cmd, "declare-many") == 0) {
        if (argc != 5)
            usage();
        many = parse_count("declare-many N", argv[4], 100000);
    } else if (strcmp(cmd, "publish") == 0) {
        if (argc < 5)
            usage();
        count = parse_count("publish COUNT", argv[4], 1000000000L);
        for (int i = 5; i < argc; i++) {
            if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
                size = (size_t)parse_count("--size", argv[++i], MAX_BODY);
            else if (strcmp(argv[i], "--timestamp") == 0)
                stamp = 1;
            else if (strcmp(argv[i], "--dead") == 0)
                dead = 1;
            else
                die("publish: unknown or incomplete option '%s'", argv[i]);
        }
    } else if (strcmp(cmd, "purge") != 0 && strcmp(cmd, "delete") != 0 && strcmp(cmd, "depth") != 0) {
        die("unknown command '%s'", cmd);
    } else if (argc != 4) {
        usage();
    }

    amqp_connection_state_t conn = connect_url(url);
    if (strcmp(cmd, "declare") == 0) {
        declare(conn, name, dlx, dlrk);
    } else if (strcmp(cmd, "declare-many") == 0) {
        for (long i = 0; i < many; i++) {
            char qname[512];
            if (snprintf(qname, sizeof qname, "%s%04ld", name, i) >= (int)sizeof qname)
                die("declare-many: prefix too long");
            declare(conn, qname, NULL, NULL);
        }
    } else if (strcmp(cmd, "publish") == 0) {
        publish(conn, name, count, size, stamp, dead);
    } else if (strcmp(cmd, "purge") == 0) {
        amqp_queue_purge(conn, 1, amqp_cstring_bytes(name));
        check_reply(amqp_get_rpc_reply(conn), "queue.purge");
    } else if (strcmp(cmd, "delete") == 0) {
        amqp_queue_delete(conn, 1, amqp_cstring_bytes(name), 0, 0);
        check_reply(amqp_get_rpc_reply(conn), "queue.delete");
    } else { /* depth */
        amqp_queue_declare_ok_t *ok =
            amqp_queue_declare(conn, 1, amqp_cstring_bytes(name), 1, 0, 0, 0, amqp_empty_table);
        check_reply(amqp_get_rpc_reply(conn), "queue.declare (passive)");
        printf("%lu %lu\n", (unsigned long)ok->message_count, (unsigned long)ok->consumer_count);
    }
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    return 0;
}
