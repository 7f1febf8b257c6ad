/* Result store and idempotency keys; see results.h. */
#include "worker/results.h"

#include <stdio.h>
#include <string.h>

#include "control/keys.h"
#include "core/clock.h"
#include "core/log.h"
#include "net/redis-open.h"
#include "worker/redis-link.h"

#define CONNECT_TIMEOUT 2.0
#define READ_TIMEOUT 5.0
#define RECONNECT_PAUSE 0.5

static int ensure(struct results *r)
{
    if (r->c)
        return 0;
    if (!r->url || clock_mono() < r->next_try)
        return -1;
    char err[300];
    r->c = redis_open(r->url, CONNECT_TIMEOUT, READ_TIMEOUT, err, sizeof err);
    if (!r->c) {
        r->next_try = clock_mono() + RECONNECT_PAUSE;
        log_debug("result store: %s", err);
        return -1;
    }
    return 0;
}

int results_broken(struct results *r, const char *why)
{
    log_debug("result store: %s", why);
    redisFree(r->c);
    r->c = NULL;
    r->next_try = clock_mono() + RECONNECT_PAUSE;
    return -1;
}

redisContext *results_connection(struct results *r)
{
    return ensure(r) == 0 ? r->c : NULL;
}

void results_close(struct results *r)
{
    redisFree(r->c);
    r->c = NULL;
}

static char *ms_text(double seconds, char *buf, size_t len)
{
    snprintf(buf, len, "%lld", (long long)(seconds * 1000));
    return buf;
}

/* The fields of one HSET, and the text they point into. */
struct record {
    const char *argv[40];
    int n;
    char key[256], now[32], started[32], attempt[16];
};

static void record_init(struct record *rec, const struct task *t)
{
    snprintf(rec->key, sizeof rec->key, KEY_TASK_PREFIX "%s", t->id);
    snprintf(rec->now, sizeof rec->now, "%.3f", clock_wall());
    snprintf(rec->attempt, sizeof rec->attempt, "%d", t->attempt);
    rec->n = 0;
    rec->argv[rec->n++] = "HSET";
    rec->argv[rec->n++] = rec->key;
}

static void record_field(struct record *rec, const char *field, const char *value)
{
    if (rec->n + 2 > (int)(sizeof rec->argv / sizeof rec->argv[0]))
        return;
    rec->argv[rec->n++] = field;
    rec->argv[rec->n++] = value;
}

/* What the PROCESSING record says: who runs which attempt since when. */
static void record_start(struct record *rec, const struct results *r, const struct task *t)
{
    snprintf(rec->started, sizeof rec->started, "%.3f", t->started_wall > 0 ? t->started_wall : clock_wall());
    record_field(rec, "type", t->type);
    record_field(rec, "queue", t->queue_label ? t->queue_label : "");
    record_field(rec, "attempt", rec->attempt);
    record_field(rec, "started_at", rec->started);
    record_field(rec, "worker", r->worker_id);
}

/* The HSET + PEXPIRE result_ttl; returns the replies to read. */
static int record_append(const struct results *r, redisContext *c, struct record *rec)
{
    redisAppendCommandArgv(c, rec->n, rec->argv, NULL);
    char ttl[32];
    redisAppendCommand(c, "PEXPIRE %s %s", rec->key, ms_text(r->result_ttl, ttl, sizeof ttl));
    return 2;
}

const char *results_trace_outcome(const struct task *t)
{
    if (t->settle == SETTLE_ACK)
        return "ok";
    if (t->shed)
        return "shed";
    if (t->settle == SETTLE_DEAD)
        return "dlq";
    return t->timed_out ? "timeout" : "fail";
}

int results_append_trace(const struct results *r, redisContext *c, const struct task *t, const char *outcome)
{
    if (r->trace_max <= 0 || !t->env || t->deferred || !t->type[0])
        return 0;
    double created = t->created_at > 0 ? t->created_at : (t->started_wall > 0 ? t->started_wall : t->finished_wall);
    double start = t->started_wall > 0 ? t->started_wall : t->finished_wall;
    double wait = start - created, service = t->finished_wall - start, e2e = t->finished_wall - created;
    char cap[32], tt[32], prio[16], w[32], sv[32], e[32], att[16], tin[24], tout[24];
    snprintf(cap, sizeof cap, "%ld", r->trace_max);
    snprintf(tt, sizeof tt, "%.6f", created);
    snprintf(prio, sizeof prio, "%d", t->priority);
    snprintf(w, sizeof w, "%.6f", wait > 0 ? wait : 0);
    snprintf(sv, sizeof sv, "%.6f", service > 0 ? service : 0);
    snprintf(e, sizeof e, "%.6f", e2e > 0 ? e2e : 0);
    snprintf(att, sizeof att, "%d", t->attempt);
    snprintf(tin, sizeof tin, "%ld", t->usage.tokens_in);
    snprintf(tout, sizeof tout, "%ld", t->usage.tokens_out);
    const char *argv[40] = {"XADD", KEY_TRACE, "MAXLEN", "~", cap, "*",
                            "id", t->id, "t", tt, "type", t->type, "queue", t->queue_label ? t->queue_label : "",
                            "priority", prio, "wait", w, "service", sv, "e2e", e, "outcome", outcome,
                            "attempt", att, "tokens_in", tin, "tokens_out", tout};
    int n = 30;
    if (t->payload && strlen(t->payload) <= TRACE_PAYLOAD_MAX) {
        argv[n++] = "payload";
        argv[n++] = t->payload;
    }
    redisAppendCommandArgv(c, n, argv, NULL);
    return 1;
}

int results_append_check(redisContext *c, const struct task *t)
{
    redisAppendCommand(c, "EXISTS " KEY_DONE_PREFIX "%s", t->idem_key);
    return 1;
}

int results_append_processing(const struct results *r, redisContext *c, const struct task *t)
{
    struct record rec;
    record_init(&rec, t);
    record_field(&rec, "status", "PROCESSING");
    record_start(&rec, r, t);
    return record_append(r, c, &rec);
}

int results_append_completed(const struct results *r, redisContext *c, const struct task *t, bool with_start)
{
    int n = 0;
    if (r->idempotency) {
        char ttl[32];
        redisAppendCommand(c, "SET " KEY_DONE_PREFIX "%s %s NX PX %s", t->idem_key, t->id,
                           ms_text(r->idempotency_ttl, ttl, sizeof ttl));
        n++;
    }
    if (r->store) {
        struct record rec;
        record_init(&rec, t);
        record_field(&rec, "status", "COMPLETED");
        record_field(&rec, "finished_at", rec.now);
        record_field(&rec, "result", t->result.result ? t->result.result : "null");
        record_field(&rec, "error", "");
        if (with_start)
            record_start(&rec, r, t);
        n += record_append(r, c, &rec);
    }
    return n;
}

int results_append_failed(const struct results *r, redisContext *c, const struct task *t, bool final, bool with_start)
{
    if (!r->store || t->park)
        return 0;
    struct record rec;
    record_init(&rec, t);
    record_field(&rec, "status", final ? "FAILED" : "PENDING");
    record_field(&rec, "error", t->error);
    if (with_start)
        record_start(&rec, r, t);
    else
        record_field(&rec, "attempt", rec.attempt);
    record_field(&rec, final ? "finished_at" : "failed_at", rec.now);
    record_field(&rec, "dead_reason", final && t->dead_reason ? t->dead_reason : "");
    return record_append(r, c, &rec);
}

int results_is_done(struct results *r, const struct task *t, bool *done)
{
    *done = false;
    if (!r->url || !r->idempotency)
        return 0;
    if (ensure(r) < 0)
        return -1;
    results_append_check(r->c, t);
    void *rep = NULL;
    if (redisGetReply(r->c, &rep) != REDIS_OK)
        return results_broken(r, r->c->errstr);
    redisReply *reply = rep;
    *done = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
    freeReplyObject(reply);
    return 0;
}

static int finish_pipeline(struct results *r, int n)
{
    char err[300];
    if (redis_link_drain(r->c, n, err, sizeof err) < 0)
        return results_broken(r, err);
    return 0;
}

int results_processing(struct results *r, const struct task *t)
{
    if (!r->url || !r->store)
        return 0;
    if (ensure(r) < 0)
        return -1;
    return finish_pipeline(r, results_append_processing(r, r->c, t));
}

int results_completed(struct results *r, const struct task *t)
{
    if (!r->url || (!r->store && !r->idempotency && r->trace_max <= 0))
        return 0;
    if (ensure(r) < 0)
        return -1;
    int n = results_append_completed(r, r->c, t, false);
    return finish_pipeline(r, n + results_append_trace(r, r->c, t, "ok"));
}

int results_failed(struct results *r, const struct task *t, bool final)
{
    if (!r->url || (!r->store && r->trace_max <= 0))
        return 0;
    if (ensure(r) < 0)
        return -1;
    int n = results_append_failed(r, r->c, t, final, false);
    n += results_append_trace(r, r->c, t, results_trace_outcome(t));
    return n ? finish_pipeline(r, n) : 0;
}

void results_append_pending(redisContext *c, const char *id, const char *type, const char *queue, double ttl)
{
    char key[256], now[32], ms[32];
    snprintf(key, sizeof key, KEY_TASK_PREFIX "%s", id);
    snprintf(now, sizeof now, "%.3f", clock_wall());
    snprintf(ms, sizeof ms, "%lld", (long long)(ttl * 1000));
    const char *argv[] = {"HSET", key, "status", "PENDING", "type", type, "queue", queue, "created_at", now,
                          "attempt", "0"};
    redisAppendCommandArgv(c, 12, argv, NULL);
    redisAppendCommand(c, "PEXPIRE %s %s", key, ms);
}
