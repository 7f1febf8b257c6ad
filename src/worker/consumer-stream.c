/* Redis stream consumer backend: a consumer group, one consumer per worker
 * (named by the worker id).
 *
 *   connect  XGROUP CREATE key group 0 MKSTREAM (an existing group is kept)
 *   receive  XREADGROUP GROUP group <worker-id> COUNT n BLOCK 50 STREAMS key >
 *            while queue.<name>.max_depth is on: MULTI  XLEN  XINFO GROUPS
 *            XREADGROUP (not blocking)  EXEC, so the group's lag is read at
 *            the very instant of the read and each entry carries its own
 *            depth (the lag before it, itself included) for shed() in
 *            pool.c, exact across a fleet sharing the group; with nothing
 *            read it waits 50 ms on its wake pipe instead of BLOCKing
 *            the task body is the entry's `body` field (what `qdeck publish`
 *            writes); an entry without one is handed on as a JSON object of
 *            its fields, which has no task type: poison, kept in the DLQ
 *   done     XACK
 *   retry    MULTI  ZADD qdeck:delayed:<key> <due ms> <annotated body>  XACK  EXEC
 *            (the mover, shared with lists, XADDs due ones back as `body`)
 *   dead     MULTI  XADD <key>:dlq * body .. reason .. error .. attempts ..
 *                   original_id .. queue ..  XACK  EXEC
 *   tick     delayed-retry mover; about once a second XAUTOCLAIM of entries
 *            pending longer than claim_idle in other (dead or stuck)
 *            consumers, handed to this worker as deliveries; every 0.5 s
 *            while max_depth is on, the group's lag into c->depth (for
 *            claimed entries, which carry no depth of their own)
 *   stop     unfinished entries stay pending; another worker claims them. */
#include <cJSON.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/stream-depth.h"
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
#define BATCH_MAX 100
#define BLOCK_MS "50"
#define CLAIM_INTERVAL 1.0


struct stream_consumer {
    redisContext *c;
    char *delayed, *dlq, *parked;
    double next_parked;
    char claim_cursor[64];
    double next_claim;
    struct delayed_timer delayed_timer;
};

static void stream_disconnect(struct consumer *c)
{
    struct stream_consumer *s = c->priv;
    if (s && s->c) {
        redisFree(s->c);
        s->c = NULL;
    }
}

static int stream_connect(struct consumer *c, char *err, size_t errlen)
{
    struct stream_consumer *s = c->priv;
    if (!s) {
        s = c->priv = xcalloc(1, sizeof *s);
        s->delayed = xasprintf(KEY_DELAYED_PREFIX "%s", c->addr.name);
        s->dlq = xasprintf("%s" DLQ_SUFFIX_REDIS, c->addr.name);
        s->parked = xasprintf("%s" PARKED_SUFFIX_REDIS, c->addr.name);
        snprintf(s->claim_cursor, sizeof s->claim_cursor, "0-0");
    }
    s->c = redis_open(worker_context(c->w)->redis, CONNECT_TIMEOUT, READ_TIMEOUT, err, errlen);
    if (!s->c)
        return -1;
    const char *argv[] = {"XGROUP", "CREATE", c->addr.name, c->addr.group, "0", "MKSTREAM"};
    redisReply *r = redisCommandArgv(s->c, 6, argv, NULL);
    if (!r) {
        snprintf(err, errlen, "XGROUP CREATE: %s", s->c->errstr);
        stream_disconnect(c);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0) {
        snprintf(err, errlen, "XGROUP CREATE %s %s: %s", c->addr.name, c->addr.group, r->str);
        freeReplyObject(r);
        stream_disconnect(c);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

/* One entry [id, [field, value, ...]] as a delivery; depth: the entries
 * waiting in the group when it was taken, itself included (-1: unknown). */
static void take_entry(struct consumer *c, const redisReply *e, long depth)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING)
        return;
    const redisReply *fields = e->element[1];
    struct task *t = NULL;
    if (fields->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < fields->elements; i += 2)
            if (fields->element[i]->len == 4 && memcmp(fields->element[i]->str, "body", 4) == 0) {
                t = task_new(c, fields->element[i + 1]->str, fields->element[i + 1]->len,
                             worker_default_max_attempts(c->w));
                break;
            }
        if (!t) {
            cJSON *o = cJSON_CreateObject();
            for (size_t i = 0; i + 1 < fields->elements; i += 2)
                cJSON_AddStringToObject(o, fields->element[i]->str, fields->element[i + 1]->str);
            char *text = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
            t = task_new(c, text ? text : "{}", text ? strlen(text) : 2, worker_default_max_attempts(c->w));
            free(text);
        }
    } else {
        /* the entry was deleted while pending: no body left; it goes the
         * poison way, so the DLQ shows it rather than it vanishing */
        t = task_new(c, "", 0, worker_default_max_attempts(c->w));
    }
    t->entry_id = xstrdup(e->element[0]->str);
    t->queue_depth = depth;
    consumer_deliver(c, t);
}

/* depth_before: the group's lag just before these entries were read, or -1.
 * The i-th entry (from 0) had depth_before - i entries waiting, itself
 * included, since a group reads in ID order. */
static void take_entries(struct consumer *c, const redisReply *entries, long depth_before)
{
    if (entries && entries->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < entries->elements; i++) {
            long depth = -1;
            if (depth_before >= 0)
                depth = depth_before > (long)i ? depth_before - (long)i : 0;
            take_entry(c, entries->element[i], depth);
        }
}

/* The XREADGROUP reply: [[key, [entries]]] or nil. */
static void take_read(struct consumer *c, const redisReply *r, long depth_before)
{
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_ARRAY && r->element[i]->elements == 2)
                take_entries(c, r->element[i]->element[1], depth_before);
}

static void wait_block(struct consumer *c, double seconds)
{
    struct pollfd p = {.fd = c->wake[0], .events = POLLIN};
    poll(&p, 1, (int)(seconds * 1000));
    consumer_drain_wake(c);
}

/* max_depth on: the read in one MULTI with XLEN and XINFO GROUPS (see the
 * top of the file). 0, or -1 when the connection is lost or the group gone. */
static int receive_measured(struct consumer *c, struct stream_consumer *s, const char *count)
{
    const char *xlen[] = {"XLEN", c->addr.name};
    const char *xinfo[] = {"XINFO", "GROUPS", c->addr.name};
    const char *xread[] = {"XREADGROUP", "GROUP", c->addr.group, worker_id(c->w), "COUNT", count,
                           "STREAMS", c->addr.name, ">"};
    redisAppendCommand(s->c, "MULTI");
    redisAppendCommandArgv(s->c, 2, xlen, NULL);
    redisAppendCommandArgv(s->c, 3, xinfo, NULL);
    redisAppendCommandArgv(s->c, 9, xread, NULL);
    redisAppendCommand(s->c, "EXEC");
    redisReply *exec = NULL;
    for (int i = 0; i < 5; i++) {
        void *rep;
        if (redisGetReply(s->c, &rep) != REDIS_OK) {
            freeReplyObject(exec);
            return -1;
        }
        if (i == 4)
            exec = rep;
        else
            freeReplyObject(rep);
    }
    int rc = 0;
    size_t got = 0;
    if (exec->type != REDIS_REPLY_ARRAY || exec->elements != 3) {
        log_warn("consumer %s: MULTI XINFO GROUPS / XREADGROUP: %s", c->label,
                 exec->type == REDIS_REPLY_ERROR ? exec->str : "no EXEC result");
    } else if (exec->element[2]->type == REDIS_REPLY_ERROR) {
        log_warn("consumer %s: XREADGROUP: %s", c->label, exec->element[2]->str);
        rc = strncmp(exec->element[2]->str, "NOGROUP", 7) == 0 ? -1 : 0;
    } else {
        long depth = stream_depth_from_replies(exec->element[0], exec->element[1], c->addr.group);
        const redisReply *r = exec->element[2];
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
            r->element[0]->elements == 2 && r->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
            got = r->element[0]->element[1]->elements;
        if (depth >= 0)   /* what is left waiting, for entries without a depth of their own */
            atomic_store(&c->depth, depth > (long)got ? depth - (long)got : 0);
        take_read(c, r, depth);
    }
    freeReplyObject(exec);
    if (rc == 0 && got == 0)
        wait_block(c, atoi(BLOCK_MS) / 1000.0);
    return rc;
}

static int stream_receive(struct consumer *c, int room, double timeout)
{
    struct stream_consumer *s = c->priv;
    if (room <= 0) {
        wait_block(c, timeout);
        return 0;
    }
    char count[16];
    snprintf(count, sizeof count, "%d", room < BATCH_MAX ? room : BATCH_MAX);
    if (atomic_load(&c->max_depth) >= 0)
        return receive_measured(c, s, count);
    const char *argv[] = {"XREADGROUP", "GROUP", c->addr.group, worker_id(c->w), "COUNT", count,
                          "BLOCK", BLOCK_MS, "STREAMS", c->addr.name, ">"};
    redisReply *r = redisCommandArgv(s->c, 11, argv, NULL);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_ERROR) {
        log_warn("consumer %s: XREADGROUP: %s", c->label, r->str);
        bool gone = strncmp(r->str, "NOGROUP", 7) == 0;
        freeReplyObject(r);
        return gone ? -1 : 0;   /* group deleted: reconnecting creates it again */
    }
    take_read(c, r, -1);
    freeReplyObject(r);
    return 0;
}

/* Appends one task's settlement to the pipeline (redis_link_settle reads
 * the replies); returns how many replies it gets. */
static int append_settlement(struct consumer *c, struct task *t)
{
    struct stream_consumer *s = c->priv;
    const char *xack[] = {"XACK", c->addr.name, c->addr.group, t->entry_id};
    if (t->settle == SETTLE_ACK) {
        redisAppendCommandArgv(s->c, 4, xack, NULL);
        return 1;
    }
    char *body;
    size_t len;
    task_annotated_body(t, t->settle == SETTLE_DEAD, &body, &len);
    redisAppendCommand(s->c, "MULTI");
    if (t->settle == SETTLE_RETRY) {
        char due[32];
        snprintf(due, sizeof due, "%lld", (long long)((clock_wall() + t->retry_delay) * 1000));
        const char *argv[] = {"ZADD", s->delayed, due, body};
        size_t lens[] = {4, strlen(s->delayed), strlen(due), len};
        delayed_expect(&s->delayed_timer, t->retry_delay);
        redisAppendCommandArgv(s->c, 4, argv, lens);
    } else if (t->park) {
        /* parked as it came (its body), released unchanged later */
        const char *argv[] = {"XADD", s->parked, "*", "body", t->body, "reason", t->dead_reason ? t->dead_reason : "shed",
                              "error", t->error, "original_id", t->entry_id, "queue", c->label};
        size_t lens[13];
        for (int i = 0; i < 13; i++)
            lens[i] = i == 4 ? t->len : strlen(argv[i]);
        redisAppendCommandArgv(s->c, 13, argv, lens);
    } else {
        char attempts[16];
        snprintf(attempts, sizeof attempts, "%d", t->attempt);
        const char *argv[] = {"XADD", s->dlq, "*", "body", body, "reason", t->dead_reason ? t->dead_reason : "failed",
                              "error", t->error, "attempts", attempts, "original_id", t->entry_id, "queue", c->label};
        size_t lens[15];
        for (int i = 0; i < 15; i++)
            lens[i] = i == 4 ? len : strlen(argv[i]);
        redisAppendCommandArgv(s->c, 15, argv, lens);
    }
    redisAppendCommandArgv(s->c, 4, xack, NULL);
    redisAppendCommand(s->c, "EXEC");
    free(body);
    return 4;
}

static int stream_settle_batch(struct consumer *c, struct task **tasks, int n)
{
    struct stream_consumer *s = c->priv;
    return redis_link_settle(s->c, c, c->label, tasks, n, append_settlement);
}

static int stream_flush(struct consumer *c)
{
    (void)c;
    return 0;
}

static void stream_stop_receiving(struct consumer *c) { (void)c; }

static void claim(struct consumer *c, struct stream_consumer *s)
{
    int room = c->prefetch - atomic_load(&c->in_flight);
    if (room <= 0 || worker_stopping(c->w))
        return;
    char idle[32], count[16];
    snprintf(idle, sizeof idle, "%lld", (long long)(worker_config(c->w)->worker.claim_idle * 1000));
    snprintf(count, sizeof count, "%d", room < BATCH_MAX ? room : BATCH_MAX);
    const char *argv[] = {"XAUTOCLAIM", c->addr.name, c->addr.group, worker_id(c->w), idle, s->claim_cursor,
                          "COUNT", count};
    redisReply *r;
    char err[300];
    if (redis_link_cmd(s->c, &r, err, sizeof err, 8, argv, NULL) < 0) {
        log_warn("consumer %s: %s", c->label, err);
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && r->element[0]->type == REDIS_REPLY_STRING) {
        snprintf(s->claim_cursor, sizeof s->claim_cursor, "%s", r->element[0]->str);
        size_t n = r->element[1]->type == REDIS_REPLY_ARRAY ? r->element[1]->elements : 0;
        if (n)
            log_warn("consumer %s: claimed %zu entr%s idle over %ss from silent consumers", c->label, n,
                     n == 1 ? "y" : "ies", idle);
        take_entries(c, r->element[1], -1);   /* redeliveries: c->depth decides */
    }
    freeReplyObject(r);
}

static void stream_tick(struct consumer *c)
{
    struct stream_consumer *s = c->priv;
    char err[300];
    if (delayed_tick(&s->delayed_timer, s->c, s->delayed, c->addr.name, true, err, sizeof err) < 0)
        log_warn("consumer %s: delayed retries: %s", c->label, err);
    if (clock_mono() >= s->next_claim) {
        s->next_claim = clock_mono() + CLAIM_INTERVAL;
        claim(c, s);
    }
    if (clock_mono() >= s->next_parked) {
        s->next_parked = clock_mono() + 0.5;
        if (atomic_load(&c->max_depth) >= 0) {
            long depth;
            if (stream_depth(s->c, c->addr.name, c->addr.group, &depth, err, sizeof err) == 0)
                atomic_store(&c->depth, depth);
            else
                log_warn("consumer %s: queue depth: %s", c->label, err);
        } else {
            atomic_store(&c->depth, -1);
        }
        int back = parked_may_release(c) ? parked_release(s->c, s->parked, c->addr.name, true, err, sizeof err) : 0;
        if (back < 0)
            log_warn("consumer %s: releasing parked tasks: %s", c->label, err);
        else if (back > 0)
            log_info("consumer %s: %d parked task(s) released back to the stream", c->label, back);
    }
}

/* Unfinished entries stay pending in the group: another worker claims them. */
static void stream_give_back(struct consumer *c) { (void)c; }

static void stream_destroy(struct consumer *c)
{
    struct stream_consumer *s = c->priv;
    if (!s)
        return;
    stream_disconnect(c);
    free(s->delayed);
    free(s->dlq);
    free(s->parked);
    free(s);
    c->priv = NULL;
}

const struct consumer_ops consumer_stream_ops = {
    .kind = "stream",
    .connect = stream_connect,
    .disconnect = stream_disconnect,
    .receive = stream_receive,
    .settle_batch = stream_settle_batch,
    .flush = stream_flush,
    .stop_receiving = stream_stop_receiving,
    .tick = stream_tick,
    .give_back = stream_give_back,
    .destroy = stream_destroy,
    .redelivers_on_reconnect = false,
};
