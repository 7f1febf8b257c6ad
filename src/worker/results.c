/* Result store and idempotency keys; see results.h. */
#include "worker/results.h"

#include <stdio.h>
#include <string.h>

#include "control/keys.h"
#include "core/clock.h"
#include "core/log.h"
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
    r->c = redis_link_open(r->url, CONNECT_TIMEOUT, READ_TIMEOUT, err, sizeof err);
    if (!r->c) {
        r->next_try = clock_mono() + RECONNECT_PAUSE;
        log_debug("result store: %s", err);
        return -1;
    }
    return 0;
}

static int broken(struct results *r, const char *why)
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

int results_is_done(struct results *r, const struct task *t, bool *done)
{
    *done = false;
    if (!r->url || !r->idempotency)
        return 0;
    if (ensure(r) < 0)
        return -1;
    redisReply *rep = redisCommand(r->c, "EXISTS " KEY_DONE_PREFIX "%s", t->idem_key);
    if (!rep)
        return broken(r, r->c->errstr);
    *done = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
    freeReplyObject(rep);
    return 0;
}

static char *ms_text(double seconds, char *buf, size_t len)
{
    snprintf(buf, len, "%lld", (long long)(seconds * 1000));
    return buf;
}

/* Appends HSET key field value ... + PEXPIRE; returns replies to read. */
static int append_record(struct results *r, const struct task *t, int nfields, const char **fields)
{
    const char *argv[32];
    size_t n = 0;
    char key[256];
    snprintf(key, sizeof key, KEY_TASK_PREFIX "%s", t->id);
    argv[n++] = "HSET";
    argv[n++] = key;
    for (int i = 0; i < nfields * 2 && n < 30; i++)
        argv[n++] = fields[i];
    redisAppendCommandArgv(r->c, (int)n, argv, NULL);
    char ttl[32];
    redisAppendCommand(r->c, "PEXPIRE %s %s", key, ms_text(r->result_ttl, ttl, sizeof ttl));
    return 2;
}

static int finish_pipeline(struct results *r, int n)
{
    char err[300];
    if (redis_link_drain(r->c, n, err, sizeof err) < 0)
        return broken(r, err);
    return 0;
}

int results_processing(struct results *r, const struct task *t, const char *queue)
{
    if (!r->url || !r->store)
        return 0;
    if (ensure(r) < 0)
        return -1;
    char now[32], attempt[16];
    snprintf(now, sizeof now, "%.3f", clock_wall());
    snprintf(attempt, sizeof attempt, "%d", t->attempt);
    const char *f[] = {"status", "PROCESSING", "type", t->type, "queue", queue, "attempt", attempt,
                       "started_at", now, "worker", r->worker_id};
    return finish_pipeline(r, append_record(r, t, 6, f));
}

int results_completed(struct results *r, const struct task *t)
{
    if (!r->url || (!r->store && !r->idempotency))
        return 0;
    if (ensure(r) < 0)
        return -1;
    int n = 0;
    if (r->idempotency) {
        char ttl[32];
        redisAppendCommand(r->c, "SET " KEY_DONE_PREFIX "%s %s NX PX %s", t->idem_key, t->id,
                           ms_text(r->idempotency_ttl, ttl, sizeof ttl));
        n++;
    }
    if (r->store) {
        char now[32];
        snprintf(now, sizeof now, "%.3f", clock_wall());
        const char *f[] = {"status", "COMPLETED", "finished_at", now, "result",
                           t->result.result ? t->result.result : "null", "error", ""};
        n += append_record(r, t, 4, f);
    }
    return finish_pipeline(r, n);
}

int results_failed(struct results *r, const struct task *t, bool final)
{
    if (!r->url || !r->store)
        return 0;
    if (ensure(r) < 0)
        return -1;
    char now[32], attempt[16];
    snprintf(now, sizeof now, "%.3f", clock_wall());
    snprintf(attempt, sizeof attempt, "%d", t->attempt);
    const char *f[] = {"status", final ? "FAILED" : "PENDING", "error", t->error, "attempt", attempt,
                       final ? "finished_at" : "failed_at", now, "dead_reason",
                       final && t->dead_reason ? t->dead_reason : ""};
    return finish_pipeline(r, append_record(r, t, 5, f));
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
