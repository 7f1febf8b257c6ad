/* `qdeck publish`: puts tasks on a queue with the task envelope
 * (docs/envelope.md).
 *
 *   qdeck publish QUEUE --type T --payload JSON [--count N] [--priority P]
 *                 [--max-attempts N] [--idempotency-key K] [--deadline SECS]
 *                 [--declare] [--yes] [--json]
 *   qdeck publish QUEUE --body-file FILE [--count N]     raw bytes, no envelope
 *
 * RabbitMQ: default exchange, routing key QUEUE, mandatory, persistent, with
 * message_id, timestamp and content_type, and publisher confirms in windows
 * of 500 (exit 1 unless every message is confirmed). A queue that does not
 * exist (passive queue.declare) is refused unless --declare asks to declare
 * it with the worker's topology. More than PUBLISH_ASK_ABOVE messages need
 * --yes. SIGINT or SIGTERM stops taking new messages, settles the confirms
 * in flight and prints "published N of M"; the exit code is then 128 + the
 * signal. Redis lists: LPUSH
 * (workers take from the right). Streams: XADD KEY * body ENVELOPE. When
 * Redis is configured and [worker] results is on, each task's record
 * qdeck:task:<id> starts as PENDING. Prints each task id on stdout (with
 * --json, one object holding them and the counts); the summary goes to
 * stderr.
 *
 * The queue.<name>.max_depth guardrail (read from Redis when configured) is
 * honoured: a queue already holding max_depth messages or more takes
 * nothing (exit 1, saying so). A stream's depth is the work waiting, not
 * XLEN (see broker/stream-depth.h): the lag of GROUP for stream:KEY#GROUP,
 * the largest lag of KEY's groups for stream:KEY (XLEN when it has none). */
#include <cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/stream-depth.h"
#include "cli/app.h"
#include "control/policy.h"
#include "control/policy-store.h"
#include "core/address.h"
#include "core/clock.h"
#include "core/number.h"
#include "core/xalloc.h"
#include "net/redis-open.h"
#include "resilience/shed.h"
#include "worker/amqp-link.h"
#include "worker/redis-link.h"
#include "worker/results.h"
#include "worker/task.h"
#include "worker/topology.h"

#define CONFIRM_WINDOW 500
#define REDIS_BATCH 1000
#define PUBLISH_ASK_ABOVE 100000L      /* more messages than this need --yes */
#define PUBLISH_MAX 1000000000L

const char publish_usage[] =
    "usage: qdeck publish QUEUE --type T [--payload JSON] [--count N] [--priority P] [--max-attempts N]\n"
    "                     [--idempotency-key K] [--deadline SECS] [--declare] [--yes] [--json]\n"
    "       qdeck publish QUEUE --body-file FILE [--count N] [--declare] [--yes] [--json]\n"
    "QUEUE: amqp:NAME, redis:KEY or stream:KEY[#GROUP]. --declare declares a missing RabbitMQ queue\n"
    "(durable, dead letters to NAME.dlq); --yes is needed above 100000 messages.";

struct pub {
    const char *type, *payload, *idem;
    int priority, max_attempts;
    double deadline;
    char *raw;          /* --body-file contents */
    size_t raw_len;
    bool declare;
    cJSON *ids;         /* --json: the ids published, else NULL (printed one a line) */
};

/* What a publish run did, for the summary line and --json. */
struct pub_outcome {
    long sent, confirmed;
    bool declared;
};

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

/* SIGINT/SIGTERM end the loop between messages rather than the process,
 * so what is in flight is settled and counted. No SA_RESTART: a wait on
 * the socket wakes up. */
static void catch_stop_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void emit_id(struct pub *p, const char *id)
{
    if (p->ids)
        cJSON_AddItemToArray(p->ids, cJSON_CreateString(id));
    else
        puts(id);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    char *buf = xmalloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = xrealloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

/* The next message: the envelope (or raw bytes) and its id. */
static char *next_body(const struct pub *p, char *id, size_t *len)
{
    if (p->raw) {
        task_uuid(id);
        *len = p->raw_len;
        char *copy = xmalloc(p->raw_len + 1);
        memcpy(copy, p->raw, p->raw_len);
        return copy;
    }
    char *body = envelope_build(p->type, p->payload, p->priority, p->max_attempts, p->deadline, p->idem, id);
    *len = strlen(body);
    return body;
}

/* queue.<name>.max_depth for this queue, -1 when off or unknown (no Redis). */
static long max_depth_guardrail(const struct app *app, const char *label)
{
    if (!app->ctx->redis)
        return -1;
    char err[300];
    redisContext *c = policy_connect(app->ctx->redis, app->ctx->timeout, err, sizeof err);
    if (!c)
        return -1;
    struct policy_item *items = NULL;
    size_t n = 0;
    long max = -1;
    if (policy_fetch(c, &items, &n, err, sizeof err) == 0) {
        struct policy_entry *pairs = xcalloc(n ? n : 1, sizeof *pairs);
        for (size_t i = 0; i < n; i++)
            pairs[i] = (struct policy_entry){.name = items[i].name, .value = items[i].value};
        struct policy *p = policy_build(pairs, n, NULL, 0, 1);
        struct shed_guardrails g;
        policy_shed_guardrails(p, label, 0, &g);
        max = g.max_depth;
        policy_release(p);
        free(pairs);
        policy_items_free(items, n);
    }
    redisFree(c);
    return max;
}

static int refuse_full(const char *label, long depth, long max)
{
    return fail(EXIT_FAILED, "publish refused: %s holds %ld message%s, at or over its max_depth guardrail %ld "
                             "(queue.%s.max_depth; lift it with `qdeck policy set queue.%s.max_depth off`)",
                label, depth, depth == 1 ? "" : "s", max, label, label);
}

/* A stream's depth is entries not yet delivered to its group(s): say so. */
static int refuse_stream_full(const struct queue_address *a, const char *label, long depth, long max)
{
    return fail(EXIT_FAILED, "publish refused: %s has %ld entr%s waiting for %s%s (consumer group lag), at or over "
                             "its max_depth guardrail %ld (queue.%s.max_depth; lift it with `qdeck policy set "
                             "queue.%s.max_depth off`)",
                label, depth, depth == 1 ? "y" : "ies", a->group ? "group " : "its most-behind group",
                a->group ? a->group : "", max, label, label);
}

/* Makes sure the queue exists: a passive declare says so (and its depth,
 * for the max_depth guardrail). A missing queue is declared only with
 * --declare, as `qdeck worker --declare` would; else refused. Exit code. */
static int ensure_queue(amqp_connection_state_t conn, const struct queue_address *a, const struct pub *p,
                        const char *label, long max_depth, struct pub_outcome *out)
{
    char err[400];
    amqp_channel_open(conn, 2);
    if (amqp_link_check(amqp_get_rpc_reply(conn), "channel.open", err, sizeof err) < 0)
        return fail(EXIT_UNREACHABLE, "%s: %s", label, err);
    amqp_queue_declare_ok_t *declared = amqp_queue_declare(conn, 2, amqp_cstring_bytes(a->name), 1, 0, 0, 0,
                                                         amqp_empty_table);
    amqp_rpc_reply_t rr = amqp_get_rpc_reply(conn);
    if (rr.reply_type == AMQP_RESPONSE_NORMAL) {
        long depth = declared ? (long)declared->message_count : -1;
        amqp_channel_close(conn, 2, AMQP_REPLY_SUCCESS);
        struct shed_guardrails g = {.priority_below = -1, .max_depth = max_depth};
        if (max_depth >= 0 && depth >= 0 && !shed_publish_allowed(&g, depth))
            return refuse_full(label, depth, max_depth);
        return EXIT_OK;
    }
    if (rr.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION || rr.reply.id != AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_link_check(rr, "queue.declare", err, sizeof err);
        return fail(EXIT_UNREACHABLE, "%s: %s", label, err);
    }
    amqp_channel_close_t *closed = rr.reply.decoded;
    bool missing = closed->reply_code == AMQP_NOT_FOUND;
    amqp_channel_close_ok_t ok = {0};
    amqp_send_method(conn, 2, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    if (!missing) {
        amqp_link_check(rr, "queue.declare", err, sizeof err);
        return fail(EXIT_FAILED, "%s: %s", label, err);
    }
    if (!p->declare)
        return fail(EXIT_FAILED, "%s does not exist; publish with --declare to declare it (durable, dead letters "
                                 "to %s.dlq, as `qdeck worker --declare` would)", label, a->name);
    if (topology_declare_queue(conn, a->name, err, sizeof err) < 0)
        return fail(EXIT_FAILED, "%s does not exist and cannot be declared: %s", label, err);
    fprintf(stderr, "qdeck: declared %s (dead letters to %s.dlq)\n", label, a->name);
    out->declared = true;
    return EXIT_OK;
}

static int publish_amqp(const struct app *app, const struct queue_address *a, struct pub *p, long count,
                        redisContext *results, const char *label, long max_depth, struct pub_outcome *out)
{
    char err[400];
    amqp_connection_state_t conn =
        amqp_link_open(app->ctx->amqp, &app->ctx->tls, 0, true, app->ctx->timeout, err, sizeof err);
    if (!conn)
        return fail(EXIT_UNREACHABLE, "%s", err);
    int rc = ensure_queue(conn, a, p, label, max_depth, out);
    if (rc != EXIT_OK) {
        amqp_link_close(conn);
        return rc;
    }
    uint64_t tag = 0, acked = 0;
    long pending_results = 0;
    for (long i = 0; i < count && rc == EXIT_OK && !stop_signal; i++) {
        char id[40];
        size_t len;
        char *body = next_body(p, id, &len);
        amqp_basic_properties_t props = {
            ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                      AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_PRIORITY_FLAG,
            .content_type = amqp_cstring_bytes(p->raw ? "application/octet-stream" : "application/json"),
            .delivery_mode = 2,
            .message_id = amqp_cstring_bytes(id),
            .timestamp = (uint64_t)clock_wall(),
            .priority = (uint8_t)(p->priority > 255 ? 255 : p->priority < 0 ? 0 : p->priority),
        };
        if (results && !p->raw) {
            results_append_pending(results, id, p->type, label, app->cfg.worker.result_ttl);
            pending_results += 2;
        }
        if (amqp_link_publish(conn, "", a->name, &props, body, len, &tag, err, sizeof err) < 0) {
            rc = fail(EXIT_FAILED, "%s", err);
        } else {
            out->sent++;
            emit_id(p, id);
        }
        free(body);
        bool settle = tag - acked >= CONFIRM_WINDOW || i + 1 == count || stop_signal;
        if (rc == EXIT_OK && settle && amqp_link_wait_confirms(conn, tag, &acked, 30, err, sizeof err) < 0)
            rc = fail(EXIT_FAILED, "publishing to %s: %s", label, err);
        out->confirmed = (long)acked;
        if (results && pending_results >= REDIS_BATCH * 2) {
            if (redis_link_drain(results, (int)pending_results, err, sizeof err) < 0)
                fprintf(stderr, "qdeck: warning: result store: %s\n", err);
            pending_results = 0;
        }
    }
    if (results && pending_results && redis_link_drain(results, (int)pending_results, err, sizeof err) < 0)
        fprintf(stderr, "qdeck: warning: result store: %s\n", err);
    amqp_link_close(conn);
    return rc;
}

static int publish_redis(const struct app *app, const struct queue_address *a, struct pub *p, long count,
                         redisContext *r, bool results, const char *label, long max_depth, struct pub_outcome *out)
{
    char err[400];
    long pending = 0;
    if (max_depth >= 0) {
        long depth = 0;
        if (a->kind == QUEUE_STREAM) {
            if (stream_depth(r, a->name, a->group, &depth, err, sizeof err) < 0)
                return fail(EXIT_UNREACHABLE, "%s: %s", label, err);
        } else {
            const char *argv[] = {"LLEN", a->name};
            redisReply *rep;
            if (redis_link_cmd(r, &rep, err, sizeof err, 2, argv, NULL) < 0)
                return fail(EXIT_UNREACHABLE, "%s: %s", label, err);
            depth = rep->type == REDIS_REPLY_INTEGER ? (long)rep->integer : 0;
            freeReplyObject(rep);
        }
        struct shed_guardrails g = {.priority_below = -1, .max_depth = max_depth};
        if (!shed_publish_allowed(&g, depth))
            return a->kind == QUEUE_STREAM ? refuse_stream_full(a, label, depth, max_depth)
                                           : refuse_full(label, depth, max_depth);
    }
    long batch = 0;   /* messages in the pipeline, not yet answered */
    for (long i = 0; i < count; i++) {
        char id[40];
        size_t len;
        char *body = next_body(p, id, &len);
        if (a->kind == QUEUE_STREAM) {
            const char *argv[] = {"XADD", a->name, "*", "body", body};
            size_t lens[] = {4, strlen(a->name), 1, 4, len};
            redisAppendCommandArgv(r, 5, argv, lens);
        } else {
            const char *argv[] = {"LPUSH", a->name, body};
            size_t lens[] = {5, strlen(a->name), len};
            redisAppendCommandArgv(r, 3, argv, lens);
        }
        pending++;
        if (results && !p->raw) {
            results_append_pending(r, id, p->type, label, app->cfg.worker.result_ttl);
            pending += 2;
        }
        emit_id(p, id);
        free(body);
        batch++;
        if (pending >= REDIS_BATCH || i + 1 == count || stop_signal) {
            if (redis_link_drain(r, (int)pending, err, sizeof err) < 0)
                return fail(EXIT_UNREACHABLE, "publishing to %s: %s", label, err);
            out->sent += batch;
            out->confirmed += batch;
            pending = batch = 0;
            if (stop_signal)
                break;
        }
    }
    return EXIT_OK;
}

/* The summary on stderr (and the --json object on stdout). */
static void report(const struct pub *p, const char *label, long count, const struct pub_outcome *out, bool amqp,
                   int rc)
{
    if (p->ids) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "queue", label);
        cJSON_AddNumberToObject(o, "requested", (double)count);
        cJSON_AddNumberToObject(o, "published", (double)out->sent);
        cJSON_AddNumberToObject(o, "confirmed", (double)out->confirmed);
        cJSON_AddBoolToObject(o, "declared", out->declared);
        cJSON_AddBoolToObject(o, "ok", rc == EXIT_OK && !stop_signal);
        if (stop_signal)
            cJSON_AddStringToObject(o, "interrupted", strsignal(stop_signal));
        else
            cJSON_AddNullToObject(o, "interrupted");
        cJSON_AddItemToObject(o, "ids", p->ids);
        char *text = cJSON_Print(o);
        puts(text);
        cJSON_free(text);
        cJSON_DetachItemViaPointer(o, p->ids);
        cJSON_Delete(o);
    }
    if (stop_signal)
        fprintf(stderr, "qdeck: %s: published %ld of %ld to %s (%ld confirmed); stopped\n", strsignal(stop_signal),
                out->sent, count, label, out->confirmed);
    else if (rc == EXIT_OK)
        fprintf(stderr, "qdeck: published %ld task(s) to %s%s\n", count, label, amqp ? ", all confirmed" : "");
    else if (out->sent)
        fprintf(stderr, "qdeck: published %ld of %ld to %s (%ld confirmed)\n", out->sent, count, label,
                out->confirmed);
}

const struct arg_option publish_options[] = {
    OPT_STRING("type", 0, "T", "the task type"),
    OPT_STRING("payload", 0, "JSON", "the task's payload (default {})"),
    OPT_LONG("count", 0, "N", "how many tasks (more than 100000 need --yes)", 1, PUBLISH_MAX),
    OPT_LONG("priority", 0, "P", "message priority", 0, 255),
    OPT_LONG("max-attempts", 0, "N", "attempts before the task dead-letters", 1, 1000),
    OPT_STRING("idempotency-key", 0, "KEY", "the task's idempotency key"),
    OPT_STRING("deadline", 0, "SECS", "expires SECS seconds from now"),
    OPT_STRING("body-file", 0, "FILE", "send FILE's bytes as they are (no envelope)"),
    OPT_FLAG("declare", 0, "declare the queue (and its dead-letter topology) first"),
    OPT_FLAG("yes", 0, "confirm a large --count"),
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_END,
};

int cmd_publish(struct app *app, const struct args *args)
{
    struct pub p = {.payload = "{}", .priority = -1, .max_attempts = 0};
    p.type = args_string(args, "type");
    if (args_string(args, "payload"))
        p.payload = args_string(args, "payload");
    long count = args_long(args, "count", 1);
    p.priority = (int)args_long(args, "priority", -1);
    p.max_attempts = (int)args_long(args, "max-attempts", 0);
    p.idem = args_string(args, "idempotency-key");
    const char *deadline = args_string(args, "deadline");
    if (deadline) {
        char *end;
        errno = 0;
        double v = strtod(deadline, &end);
        if (errno || end == deadline || *end || !(v > 0 && v <= 1e9))
            return fail(EXIT_USAGE, "publish: --deadline wants seconds from now (> 0), got '%s'", deadline);
        p.deadline = clock_wall() + v;
    }
    const char *body_file = args_string(args, "body-file");
    p.declare = args_flag(args, "declare");
    bool yes = args_flag(args, "yes"), json = args_flag(args, "json");
    if (args->nwords != 2)
        return fail(EXIT_USAGE, "publish: one QUEUE is needed\n%s", publish_usage);
    if (!body_file && !p.type)
        return fail(EXIT_USAGE, "publish: --type is required (or --body-file for raw bytes)");
    if (p.idem && count > 1)
        return fail(EXIT_USAGE, "publish: --idempotency-key with --count %ld would make them one task", count);
    if (count > PUBLISH_ASK_ABOVE && !yes)
        return fail(EXIT_USAGE, "publish: --count %ld is more than %ld messages: add --yes if you mean it", count,
                    PUBLISH_ASK_ABOVE);
    cJSON *check = cJSON_Parse(p.payload);
    if (!check)
        return fail(EXIT_USAGE, "publish: --payload is not valid JSON: %s", p.payload);
    cJSON_Delete(check);
    int rc = app_require_sources(app);
    if (rc != EXIT_OK)
        return rc;
    struct queue_address a;
    char err[400];
    if (queue_address_parse(args->words[1], app->ctx, &a, err, sizeof err) < 0)
        return fail(EXIT_USAGE, "%s", err);
    char *label = queue_address_format(&a);
    if (p.type) {
        const struct task_config *tc = config_task(&app->cfg, p.type);
        if (p.priority < 0)
            p.priority = tc ? tc->priority : 5;
        if (p.max_attempts <= 0)
            p.max_attempts = tc && tc->max_attempts > 0 ? tc->max_attempts : app->cfg.worker.max_attempts;
    }
    if (body_file && !(p.raw = read_file(body_file, &p.raw_len))) {
        rc = fail(EXIT_USAGE, "cannot read %s: %s", body_file, strerror(errno));
        goto out;
    }
    redisContext *r = NULL;
    bool need_redis = a.kind != QUEUE_AMQP;
    if ((a.kind == QUEUE_AMQP && !app->ctx->amqp) || (need_redis && !app->ctx->redis)) {
        rc = fail(EXIT_USAGE, "%s: no %s URL configured", label, need_redis ? "Redis" : "AMQP");
        goto out;
    }
    if (app->ctx->redis && (need_redis || app->cfg.worker.results)) {
        r = redis_open(app->ctx->redis, app->ctx->timeout, 30, err, sizeof err);
        if (!r && need_redis) {
            rc = fail(EXIT_UNREACHABLE, "%s", err);
            goto out;
        }
        if (!r)
            fprintf(stderr, "qdeck: warning: result store not written: %s\n", err);
    }
    long max_depth = max_depth_guardrail(app, label);
    struct pub_outcome outcome = {0};
    if (json)
        p.ids = cJSON_CreateArray();
    catch_stop_signals();
    if (a.kind == QUEUE_AMQP)
        rc = publish_amqp(app, &a, &p, count, app->cfg.worker.results ? r : NULL, label, max_depth, &outcome);
    else
        rc = publish_redis(app, &a, &p, count, r, app->cfg.worker.results, label, max_depth, &outcome);
    redisFree(r);
    report(&p, label, count, &outcome, a.kind == QUEUE_AMQP, rc);
    if (rc == EXIT_OK && stop_signal)
        rc = 128 + stop_signal;
    cJSON_Delete(p.ids);
out:
    free(p.raw);
    free(label);
    queue_address_free(&a);
    return rc;
}
