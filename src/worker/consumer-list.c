/* Redis list consumer backend: a reliable queue in the RPOPLPUSH pattern.
 *
 * Producers LPUSH; this worker moves items with LMOVE/BLMOVE from the list's
 * right end into its own processing list, qdeck:processing:<worker-id>:<key>,
 * so an item is always in exactly one list. On settlement:
 *   done   LREM processing 1 item
 *   retry  MULTI  ZADD qdeck:delayed:<key> <due ms> <annotated item>
 *                 LREM processing 1 item  EXEC
 *   dead   MULTI  LPUSH <key>:dlq <annotated item>  LREM processing 1 item  EXEC
 * so a retry or a dead letter is written in the same transaction that
 * removes the original. The settlements waiting are sent in one pipeline
 * and their replies read together: replies lost with the connection mean
 * they are applied again after the reconnect (LREM of an item that is gone
 * is a harmless 0).
 *
 * Every tick the delayed-retry mover runs one Lua script that moves due
 * members of the ZSET back to the list's consuming end (ZREM and RPUSH in
 * one atomic step: nothing lost, nothing doubled), and about once a second
 * the reaper looks for processing lists of workers whose heartbeat key
 * qdeck:worker:<id> has been missing for reap_after seconds and moves their
 * items back (each LMOVE is atomic; several reapers racing cannot duplicate).
 * On shutdown the worker's own processing list goes back the same way.
 *
 * The reaper finds the processing lists in a registry, not by walking the
 * keyspace: qdeck:registry:processing:<key> is the set of worker ids that
 * hold (or held) a processing list of <key>. A worker adds itself before
 * its first LMOVE and again at every reap (so nothing can take it out while
 * it lives); the id leaves the set only once its list is empty: after a
 * reaper moved a dead worker's items back, or after a clean stop. A dead
 * worker's id stays there however long its heartbeat key has been gone,
 * so its tasks are found whenever a reaper next runs. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/keys.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "net/redis-open.h"
#include "worker/consumer.h"
#include "worker/delayed.h"
#include "worker/parked.h"
#include "worker/pool.h"
#include "worker/redis-link.h"
#include "worker/stats.h"

#define CONNECT_TIMEOUT 5.0
#define READ_TIMEOUT 10.0
#define PIPELINE_MAX 64
#define BLOCK_SECONDS "0.05"
#define REAP_INTERVAL 1.0
#define MAX_SUSPECTS 256

struct suspect {
    char *id;                 /* a registered worker whose heartbeat key is missing */
    double missing_since;
    bool seen;                /* still registered and missing at the last reap */
};

struct list_consumer {
    redisContext *c;
    char *processing, *delayed, *dlq, *registry, *parked;
    double next_reap, next_parked;
    struct delayed_timer delayed_timer;
    struct suspect suspects[MAX_SUSPECTS];
    size_t nsuspects;
};

static void list_disconnect(struct consumer *c)
{
    struct list_consumer *l = c->priv;
    if (l && l->c) {
        redisFree(l->c);
        l->c = NULL;
    }
}

static int list_connect(struct consumer *c, char *err, size_t errlen)
{
    struct list_consumer *l = c->priv;
    if (!l) {
        l = c->priv = xcalloc(1, sizeof *l);
        l->processing = xasprintf(KEY_PROCESSING_PREFIX "%s:%s", worker_id(c->w), c->addr.name);
        l->delayed = xasprintf(KEY_DELAYED_PREFIX "%s", c->addr.name);
        l->dlq = xasprintf("%s" DLQ_SUFFIX_REDIS, c->addr.name);
        l->parked = xasprintf("%s" PARKED_SUFFIX_REDIS, c->addr.name);
        l->registry = xasprintf(KEY_PROCESSING_REGISTRY ":%s", c->addr.name);
    }
    l->c = redis_open(worker_context(c->w)->redis, CONNECT_TIMEOUT, READ_TIMEOUT, err, errlen);
    if (!l->c)
        return -1;
    /* registered before the first LMOVE: a crash from here on is found */
    const char *argv[] = {"SADD", l->registry, worker_id(c->w)};
    if (redis_link_cmd(l->c, NULL, err, errlen, 3, argv, NULL) < 0) {
        list_disconnect(c);
        return -1;
    }
    return 0;
}

static void take(struct consumer *c, redisReply *r)
{
    consumer_deliver(c, task_new(c, r->str, r->len, worker_default_max_attempts(c->w)));
}

static int list_receive(struct consumer *c, int room, double timeout)
{
    struct list_consumer *l = c->priv;
    if (room <= 0) {
        struct pollfd p = {.fd = c->wake[0], .events = POLLIN};
        poll(&p, 1, (int)(timeout * 1000));
        consumer_drain_wake(c);
        return 0;
    }
    int n = room < PIPELINE_MAX ? room : PIPELINE_MAX, got = 0;
    for (int i = 0; i < n; i++) {
        const char *argv[] = {"LMOVE", c->addr.name, l->processing, "RIGHT", "LEFT"};
        redisAppendCommandArgv(l->c, 5, argv, NULL);
    }
    for (int i = 0; i < n; i++) {
        void *rep;
        if (redisGetReply(l->c, &rep) != REDIS_OK)
            return -1;
        redisReply *r = rep;
        if (r->type == REDIS_REPLY_STRING) {
            take(c, r);
            got++;
        } else if (r->type == REDIS_REPLY_ERROR) {
            log_warn("consumer %s: LMOVE: %s", c->label, r->str);
        }
        freeReplyObject(r);
    }
    if (got)
        return 0;
    /* nothing waiting: block briefly (settlements wait at most this long) */
    const char *argv[] = {"BLMOVE", c->addr.name, l->processing, "RIGHT", "LEFT", BLOCK_SECONDS};
    redisReply *r = redisCommandArgv(l->c, 6, argv, NULL);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_STRING)
        take(c, r);
    else if (r->type == REDIS_REPLY_ERROR)
        log_warn("consumer %s: BLMOVE: %s", c->label, r->str);
    freeReplyObject(r);
    return 0;
}

/* Appends MULTI, one write, LREM of the original, EXEC: 4 replies. */
static int append_transaction(struct list_consumer *l, int argc, const char **argv, const size_t *lens,
                              const struct task *t)
{
    redisAppendCommand(l->c, "MULTI");
    redisAppendCommandArgv(l->c, argc, argv, lens);
    const char *lrem[] = {"LREM", l->processing, "1", t->body};
    size_t lrem_len[] = {4, strlen(l->processing), 1, t->len};
    redisAppendCommandArgv(l->c, 4, lrem, lrem_len);
    redisAppendCommand(l->c, "EXEC");
    return 4;
}

/* Appends one task's settlement to the pipeline (redis_link_settle reads
 * the replies); returns how many replies it gets. */
static int append_settlement(struct consumer *c, struct task *t)
{
    struct list_consumer *l = c->priv;
    if (t->settle == SETTLE_ACK) {
        const char *argv[] = {"LREM", l->processing, "1", t->body};
        size_t lens[] = {4, strlen(l->processing), 1, t->len};
        redisAppendCommandArgv(l->c, 4, argv, lens);
        return 1;
    }
    if (t->park) {
        /* parked as it came: released unchanged when the guardrail is lifted */
        const char *argv[] = {"LPUSH", l->parked, t->body};
        size_t lens[] = {5, strlen(l->parked), t->len};
        return append_transaction(l, 3, argv, lens, t);
    }
    char *item;
    size_t len;
    int replies;
    if (t->settle == SETTLE_RETRY) {
        task_annotated_body(t, false, &item, &len);
        char due[32];
        snprintf(due, sizeof due, "%lld", (long long)((clock_wall() + t->retry_delay) * 1000));
        const char *argv[] = {"ZADD", l->delayed, due, item};
        size_t lens[] = {4, strlen(l->delayed), strlen(due), len};
        delayed_expect(&l->delayed_timer, t->retry_delay);
        replies = append_transaction(l, 4, argv, lens, t);
    } else {
        task_dead_item(t, c->label, &item, &len);
        const char *argv[] = {"LPUSH", l->dlq, item};
        size_t lens[] = {5, strlen(l->dlq), len};
        replies = append_transaction(l, 3, argv, lens, t);
    }
    free(item);   /* hiredis copied it into its output buffer */
    return replies;
}

static int list_settle_batch(struct consumer *c, struct task **tasks, int n)
{
    struct list_consumer *l = c->priv;
    return redis_link_settle(l->c, c, c->label, tasks, n, append_settlement);
}

static int list_flush(struct consumer *c)
{
    (void)c;
    return 0;
}

static void list_stop_receiving(struct consumer *c) { (void)c; }

/* Moves every item of a processing list back to the queue's consuming end,
 * newest first, so the oldest is taken first again. */
static long move_back(struct consumer *c, struct list_consumer *l, const char *from)
{
    long n = 0;
    for (;;) {
        const char *argv[] = {"LMOVE", from, c->addr.name, "LEFT", "RIGHT"};
        redisReply *r = redisCommandArgv(l->c, 5, argv, NULL);
        if (!r)
            return -1;
        bool moved = r->type == REDIS_REPLY_STRING;
        freeReplyObject(r);
        if (!moved)
            return n;
        n++;
    }
}

static struct suspect *find_suspect(struct list_consumer *l, const char *id)
{
    for (size_t s = 0; s < l->nsuspects; s++)
        if (strcmp(l->suspects[s].id, id) == 0)
            return &l->suspects[s];
    return NULL;
}

/* Moves a dead worker's processing list back, then takes its id out of
 * the registry: only now is there nothing left to find. */
static void reap_worker(struct consumer *c, struct list_consumer *l, const char *id)
{
    char *from = xasprintf(KEY_PROCESSING_PREFIX "%s:%s", id, c->addr.name);
    long n = move_back(c, l, from);
    free(from);
    if (n < 0)
        return;
    if (n > 0)
        log_warn("consumer %s: worker %s is gone: %ld in-flight item(s) returned to the queue", c->label, id, n);
    const char *argv[] = {"SREM", l->registry, id};
    char err[300];
    if (redis_link_cmd(l->c, NULL, err, sizeof err, 3, argv, NULL) < 0)
        log_warn("consumer %s: %s", c->label, err);
}

/* Reads the registered ids of this list (registering ours again in the
 * same round trip); their heartbeat keys are then checked with one
 * pipelined EXISTS each. Work grows with the workers of this list only. */
static redisReply *registered_workers(struct consumer *c, struct list_consumer *l)
{
    redisAppendCommand(l->c, "SADD %s %s", l->registry, worker_id(c->w));
    redisAppendCommand(l->c, "SMEMBERS %s", l->registry);
    redisReply *r = NULL;
    char err[300];
    if (redis_link_drain(l->c, 1, err, sizeof err) < 0 || redisGetReply(l->c, (void **)&r) != REDIS_OK)
        return NULL;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* One step of the reaper: a registered worker whose heartbeat key has been
 * missing for reap_after seconds has its processing list moved back. */
static void reap(struct consumer *c, struct list_consumer *l)
{
    double now = clock_mono();
    redisReply *ids = registered_workers(c, l);
    if (!ids)
        return;
    size_t asked = 0;
    for (size_t i = 0; i < ids->elements; i++)
        if (ids->element[i]->str && strcmp(ids->element[i]->str, worker_id(c->w)) != 0) {
            redisAppendCommand(l->c, "EXISTS " KEY_WORKER_PREFIX "%b", ids->element[i]->str, ids->element[i]->len);
            asked++;
        }
    /* every reply first: reaping sends commands of its own */
    bool *dead = xcalloc(ids->elements ? ids->elements : 1, sizeof *dead);
    for (size_t i = 0; i < ids->elements && asked; i++) {
        const char *id = ids->element[i]->str;
        if (!id || strcmp(id, worker_id(c->w)) == 0)
            continue;
        asked--;
        redisReply *e = NULL;
        if (redisGetReply(l->c, (void **)&e) != REDIS_OK) {
            free(dead);
            freeReplyObject(ids);
            return;
        }
        dead[i] = e->type == REDIS_REPLY_INTEGER && e->integer == 0;
        freeReplyObject(e);
    }
    for (size_t s = 0; s < l->nsuspects; s++)
        l->suspects[s].seen = false;
    for (size_t i = 0; i < ids->elements; i++) {
        const char *id = ids->element[i]->str;
        if (!dead[i])
            continue;
        struct suspect *s = find_suspect(l, id);
        if (!s && l->nsuspects < MAX_SUSPECTS) {
            l->suspects[l->nsuspects++] = (struct suspect){.id = xstrdup(id), .missing_since = now, .seen = true};
        } else if (s) {
            s->seen = true;
            if (now - s->missing_since >= worker_config(c->w)->worker.reap_after && !l->c->err)
                reap_worker(c, l, id);
        }
    }
    free(dead);
    freeReplyObject(ids);
    /* forget suspects that came back or were reaped (by us or another worker) */
    size_t keep = 0;
    for (size_t s = 0; s < l->nsuspects; s++) {
        if (l->suspects[s].seen)
            l->suspects[keep++] = l->suspects[s];
        else
            free(l->suspects[s].id);
    }
    l->nsuspects = keep;
}

static void list_tick(struct consumer *c)
{
    struct list_consumer *l = c->priv;
    char err[300];
    int moved = delayed_tick(&l->delayed_timer, l->c, l->delayed, c->addr.name, false, err, sizeof err);
    if (moved < 0)
        log_warn("consumer %s: delayed retries: %s", c->label, err);
    else if (moved > 0)
        log_debug("consumer %s: %d delayed retr%s due", c->label, moved, moved == 1 ? "y" : "ies");
    if (clock_mono() >= l->next_parked) {
        l->next_parked = clock_mono() + 0.5;
        if (atomic_load(&c->max_depth) >= 0) {
            const char *argv[] = {"LLEN", c->addr.name};
            redisReply *r;
            if (redis_link_cmd(l->c, &r, err, sizeof err, 2, argv, NULL) == 0) {
                atomic_store(&c->depth, r->type == REDIS_REPLY_INTEGER ? (long)r->integer : -1);
                freeReplyObject(r);
            }
        } else {
            atomic_store(&c->depth, -1);
        }
        int back = parked_may_release(c) ? parked_release(l->c, l->parked, c->addr.name, false, err, sizeof err) : 0;
        if (back < 0)
            log_warn("consumer %s: releasing parked tasks: %s", c->label, err);
        else if (back > 0) {
            log_info("consumer %s: %d parked task(s) released back to the queue", c->label, back);
            l->next_parked = 0;   /* more may wait: next tick again */
        }
    }
    if (clock_mono() >= l->next_reap && !worker_stopping(c->w)) {
        l->next_reap = clock_mono() + REAP_INTERVAL;
        reap(c, l);
    }
}

static void list_give_back(struct consumer *c)
{
    struct list_consumer *l = c->priv;
    long n = move_back(c, l, l->processing);
    if (n > 0)
        log_info("consumer %s: %ld unfinished item(s) moved back to the queue", c->label, n);
    if (n < 0)
        return;
    /* nothing of ours is left in flight: no reaper needs to look for us */
    const char *argv[] = {"SREM", l->registry, worker_id(c->w)};
    char err[300];
    if (redis_link_cmd(l->c, NULL, err, sizeof err, 3, argv, NULL) < 0)
        log_warn("consumer %s: %s", c->label, err);
}

static void list_destroy(struct consumer *c)
{
    struct list_consumer *l = c->priv;
    if (!l)
        return;
    list_disconnect(c);
    for (size_t s = 0; s < l->nsuspects; s++)
        free(l->suspects[s].id);
    free(l->processing);
    free(l->delayed);
    free(l->dlq);
    free(l->parked);
    free(l->registry);
    free(l);
    c->priv = NULL;
}

const struct consumer_ops consumer_list_ops = {
    .kind = "redis",
    .connect = list_connect,
    .disconnect = list_disconnect,
    .receive = list_receive,
    .settle_batch = list_settle_batch,
    .flush = list_flush,
    .stop_receiving = list_stop_receiving,
    .tick = list_tick,
    .give_back = list_give_back,
    .destroy = list_destroy,
    .redelivers_on_reconnect = false,
};
