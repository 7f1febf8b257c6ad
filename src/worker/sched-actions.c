/* What a scheduled job does when it runs (worker/sched.h lists them):
 * publish one task, trim keys, probe the brokers, or hand a replay to the
 * DLQ's hook. Runs on the scheduler's job thread, on its connection. */
#include "worker/sched-actions.h"

#include <amqp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/amqp-login.h"
#include "control/keys.h"
#include "control/redis-connect.h"
#include "net/redis-open.h"
#include "core/address.h"
#include "core/clock.h"
#include "core/url.h"
#include "core/xalloc.h"
#include "worker/amqp-link.h"
#include "worker/task.h"

#define TRIM_DEFAULT_LIMIT 1000

/* Keys trim never deletes, whatever the pattern: the control plane. */
static bool protected_key(const char *key)
{
    static const char *const prefixes[] = {KEY_WORKER_PREFIX, KEY_SCHED_PREFIX, KEY_SCHED_LEADER, KEY_POLICY,
                                           KEY_BREAKER_CMD, KEY_AUDIT, KEY_EVENTS, KEY_REGISTRY_PREFIX};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

static int action_trim(const struct sched_action_env *s, const struct schedule_config *job, char *result, size_t len)
{
    long limit = job->limit > 0 ? job->limit : TRIM_DEFAULT_LIMIT, deleted = 0, kept = 0;
    char cursor[32] = "0", err[256];
    do {
        redisReply *r = control_redis_command(s->redis, err, sizeof err, "SCAN %s MATCH %s COUNT 1000", cursor,
                                              job->pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            snprintf(result, len, "failed after %ld deleted: %s", deleted, r ? "unexpected SCAN reply" : err);
            if (r)
                freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        const char **argv = xmalloc((keys->elements + 1) * sizeof *argv);
        size_t *argl = xmalloc((keys->elements + 1) * sizeof *argl);
        int argc = 1;
        argv[0] = "UNLINK";
        argl[0] = 6;
        for (size_t i = 0; i < keys->elements && deleted + argc - 1 < limit; i++) {
            if (protected_key(keys->element[i]->str)) {
                kept++;
                continue;
            }
            argv[argc] = keys->element[i]->str;
            argl[argc++] = keys->element[i]->len;
        }
        redisReply *u = argc > 1 ? redisCommandArgv(s->redis, argc, argv, argl) : NULL;
        free(argv);
        free(argl);
        freeReplyObject(r);
        if (argc > 1) {
            if (!u || u->type != REDIS_REPLY_INTEGER) {
                snprintf(result, len, "failed after %ld deleted: UNLINK: %s", deleted,
                         u && u->type == REDIS_REPLY_ERROR ? u->str : "connection lost");
                if (u)
                    freeReplyObject(u);
                return -1;
            }
            deleted += (long)u->integer;
            freeReplyObject(u);
        }
    } while (strcmp(cursor, "0") != 0 && deleted < limit);
    snprintf(result, len, "deleted %ld key%s matching %s%s%s", deleted, deleted == 1 ? "" : "s", job->pattern,
             deleted >= limit ? " (limit reached)" : "", kept ? " (control-plane keys left alone)" : "");
    return 0;
}

static int ping_redis(const char *url, double timeout, char *out, size_t len)
{
    char err[256];
    double t0 = clock_mono();
    redisContext *c = redis_open(url, timeout, 0, err, sizeof err);
    redisReply *r = c ? control_redis_command(c, err, sizeof err, "PING") : NULL;
    if (r)
        snprintf(out, len, "redis ok %.1fms", (clock_mono() - t0) * 1000);
    else
        snprintf(out, len, "redis FAILED: %.200s", err);
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
    return r ? 0 : -1;
}

/* Through the shared login (net/amqp-login.h), so a peer that is not a
 * broker is told apart from one that refuses us. */
static int ping_amqp(const char *url, const struct tls_options *tls, double timeout, char *out, size_t len)
{
    struct broker_url u;
    char err[256];
    if (broker_url_parse(url, &u, err, sizeof err) < 0) {
        snprintf(out, len, "rabbitmq FAILED: %.200s", err);
        return -1;
    }
    double t0 = clock_mono();
    enum amqp_login_failure why;
    amqp_connection_state_t conn = amqp_connect_login(url, tls, 0, timeout, &why, err, sizeof err);
    if (conn) {
        amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
        amqp_destroy_connection(conn);
        snprintf(out, len, "rabbitmq ok %.1fms", (clock_mono() - t0) * 1000);
    } else {
        snprintf(out, len, "rabbitmq FAILED (%.80s): %.130s", u.redacted, err);
    }
    broker_url_free(&u);
    return conn ? 0 : -1;
}

static int action_probe(const struct sched_action_env *s, char *result, size_t len)
{
    char a[240] = "", b[240] = "";
    double timeout = s->ctx ? s->ctx->timeout : 5;
    int rc = ping_redis(s->ctx && s->ctx->redis ? s->ctx->redis : s->control_url, timeout, a, sizeof a);
    if (s->ctx && s->ctx->amqp)
        rc |= ping_amqp(s->ctx->amqp, &s->ctx->tls, timeout, b, sizeof b);
    snprintf(result, len, "%.230s%s%.230s", a, b[0] ? ", " : "", b);
    return rc ? -1 : 0;
}

/* One task with the qdeck envelope. Its idempotency key names the job
 * and the run (sched:NAME:DUE), so even a run that happened twice would be
 * processed once by workers with idempotency on. */
static int action_publish(const struct sched_action_env *s, const struct schedule_config *job, const char *due, char *result, size_t len)
{
    struct queue_address a;
    char err[256], key[700], id[48];
    if (queue_address_parse(job->queue, s->ctx, &a, err, sizeof err) < 0) {
        snprintf(result, len, "bad queue %.200s: %.200s", job->queue, err);
        return -1;
    }
    snprintf(key, sizeof key, "sched:%s:%s", job->name, due);
    char *body = envelope_build(job->type && *job->type ? job->type : job->name,
                                job->payload && *job->payload ? job->payload : "{}", 5, 5, 0, key, id);
    size_t blen = strlen(body);
    char *addr = queue_address_format(&a);
    int rc = -1;
    if (a.kind == QUEUE_AMQP) {
        double timeout = s->ctx ? s->ctx->timeout : 5;
        amqp_connection_state_t conn =
            s->ctx && s->ctx->amqp ? amqp_link_open(s->ctx->amqp, &s->ctx->tls, 0, true, timeout, err, sizeof err)
                                   : NULL;
        if (!s->ctx || !s->ctx->amqp)
            snprintf(err, sizeof err, "no RabbitMQ configured");
        uint64_t tag = 0, acked = 0;
        amqp_basic_properties_t props = {
            ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                      AMQP_BASIC_TIMESTAMP_FLAG,
            .content_type = amqp_cstring_bytes("application/json"),
            .delivery_mode = 2,
            .message_id = amqp_cstring_bytes(id),
            .timestamp = (uint64_t)clock_wall(),
        };
        if (conn && amqp_link_publish(conn, "", a.name, &props, body, blen, &tag, err, sizeof err) == 0 &&
            amqp_link_wait_confirms(conn, tag, &acked, timeout, err, sizeof err) == 0)
            rc = 0;
        if (conn)
            amqp_link_close(conn);
    } else {
        const char *argv[5] = {a.kind == QUEUE_STREAM ? "XADD" : "LPUSH", a.name};
        size_t lens[5] = {strlen(argv[0]), strlen(a.name)};
        int argc = 3;
        if (a.kind == QUEUE_STREAM) {
            argv[2] = "*", lens[2] = 1, argv[3] = "body", lens[3] = 4, argv[4] = body, lens[4] = blen;
            argc = 5;
        } else {
            argv[2] = body, lens[2] = blen;
        }
        redisReply *r = redisCommandArgv(s->redis, argc, argv, lens);
        if (r && r->type != REDIS_REPLY_ERROR)
            rc = 0;
        else
            snprintf(err, sizeof err, "%s", r ? r->str : s->redis->errstr);
        if (r)
            freeReplyObject(r);
    }
    if (rc == 0)
        snprintf(result, len, "published task %s to %.300s", id, addr);
    else
        snprintf(result, len, "publish to %.200s failed: %.200s", addr, err);
    free(addr);
    free(body);
    queue_address_free(&a);
    return rc;
}

int sched_run_action(const struct sched_action_env *s, const struct schedule_config *job, const char *due, char *result, size_t len)
{
    const char *a = job->action;
    if (strcmp(a, "trim") == 0)
        return action_trim(s, job, result, len);
    if (strcmp(a, "probe") == 0)
        return action_probe(s, result, len);
    if (strcmp(a, "publish") == 0)
        return s->publish ? s->publish(s->hook_ctx, job, result, len) : action_publish(s, job, due, result, len);
    if (!s->replay) {
        snprintf(result, len, "not available: DLQ replay is not wired into this process");
        return -1;
    }
    return s->replay(s->hook_ctx, job, result, len);
}

