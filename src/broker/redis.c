/* Redis lists and streams as queues (hiredis).
 *
 * Key discovery (a background job with a SCAN budget) is redis-discovery.c.
 *
 * Refresh: one pipelined round trip for the known keys only, so its cost
 * grows with the queues and not with the keyspace —
 *   list:   LLEN, LINDEX key -1 (the oldest item: producers LPUSH)
 *   stream: XLEN, XINFO GROUPS, and for each group seen last time
 *           XPENDING key group - + 1 (oldest pending: its idle time) and
 *           XRANGE key (last-delivered-id + COUNT 1 (oldest undelivered entry:
 *           its ID is its enqueue time)
 * No Lua, nothing that blocks Redis for the sake of monitoring.
 *
 * Age of a list's oldest item comes from its envelope (qdeck `created_at`).
 * When the item carries no time (Celery's kombu envelope has none) the age
 * is a lower bound: how long the same item has been at the head. */
#include <cJSON.h>
#include <hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/redis-discovery.h"
#include "broker/source.h"
#include "core/clock.h"
#include "core/envelope.h"
#include "core/xalloc.h"
#include "net/redis-open.h"

static int redis_init(struct source *src, char *err, size_t errlen)
{
    struct broker_url url;
    if (redis_url_parse(src->url, &url, err, errlen) < 0)
        return -1;
    broker_url_free(&url);   /* checked here, without network; redis_connect opens it */
    struct redis_src *r = xcalloc(1, sizeof *r);
    redis_interrupt_init(&r->interrupt);
    r->timeout = src->ctx ? src->ctx->timeout : 5;
    redis_discovery_init(r, src->ctx);
    src->priv = r;
    return 0;
}

static void redis_disconnect(struct source *src)
{
    struct redis_src *r = src->priv;
    redis_interrupt_disarm(&r->interrupt);
    if (r->ctx)
        redisFree(r->ctx);
    r->ctx = NULL;
    free(r->server);
    r->server = NULL;
    redis_discovery_restart(r);   /* maybe another server now */
}

static void redis_interrupt(struct source *src)
{
    struct redis_src *r = src->priv;
    redis_interrupt_fire(&r->interrupt);
}

static void redis_fini(struct source *src)
{
    struct redis_src *r = src->priv;
    redis_disconnect(src);
    redis_discovery_fini(r);
    redis_interrupt_destroy(&r->interrupt);
    free(r);
    src->priv = NULL;
}

static char *info_field(const char *info, const char *field)
{
    const char *p = strstr(info, field);
    if (!p)
        return NULL;
    p += strlen(field);
    size_t n = strcspn(p, "\r\n");
    return xstrndup(p, n);
}

/* The source status of a connection that could not be opened. */
static enum source_status open_failure_status(enum redis_open_failure why)
{
    switch (why) {
    case REDIS_OPEN_TIMEOUT: return SOURCE_TIMEOUT;
    case REDIS_OPEN_AUTH: return SOURCE_AUTH_FAILED;
    case REDIS_OPEN_REFUSED: return SOURCE_BAD_RESPONSE;
    case REDIS_OPEN_BAD_URL:
    case REDIS_OPEN_UNREACHABLE:
    case REDIS_OPEN_LOST: break;
    }
    return SOURCE_DOWN;
}

static enum source_status redis_connect(struct source *src, char *err, size_t errlen)
{
    struct redis_src *r = src->priv;
    struct redis_open_options o = {.connect_timeout = r->timeout, .read_timeout = r->timeout,
                                   .interrupt = &r->interrupt};
    enum redis_open_failure why;
    r->ctx = redis_open_with(src->url, &o, &why, err, errlen);
    if (!r->ctx)
        return open_failure_status(why);
    redisReply *rep = NULL;
    enum source_status st;
    const char *argv[2] = {"INFO", "server"};
    if ((st = redis_run_command(r, &rep, "INFO", err, errlen, 2, argv)) != SOURCE_OK)
        return st;
    char *version = rep->type == REDIS_REPLY_STRING ? info_field(rep->str, "redis_version:") : NULL;
    freeReplyObject(rep);
    r->server = xasprintf("Redis %s", version ? version : "?");
    free(version);
    return SOURCE_OK;
}

/* Stream IDs are "<ms>-<seq>": the entry's enqueue time. */
static double stream_id_time(const char *id)
{
    char *end;
    double ms = strtod(id, &end);
    return end != id && *end == '-' ? ms / 1000.0 : NAN;
}

static int64_t reply_integer(const redisReply *rep)
{
    return rep && rep->type == REDIS_REPLY_INTEGER ? (int64_t)rep->integer : -1;
}

/* Reads one XINFO GROUPS entry (a flat field/value array) into a row. */
static void read_group_info(const redisReply *g, struct queue_stat *q)
{
    for (size_t f = 0; f + 1 < g->elements; f += 2) {
        const char *field = g->element[f]->str;
        const redisReply *v = g->element[f + 1];
        if (!field)
            continue;
        if (strcmp(field, "consumers") == 0)
            q->consumers = (int)reply_integer(v);
        else if (strcmp(field, "pending") == 0)
            q->unacked = reply_integer(v);
        else if (strcmp(field, "lag") == 0)
            q->ready = reply_integer(v);
    }
}

/* What the n-th reply of the refresh pipeline answers. */
struct pending_reply {
    size_t key_index;
    enum { R_LLEN, R_HEAD, R_XLEN, R_GROUPS, R_XPENDING, R_NEXT } what;
    char *group;             /* for R_XPENDING and R_NEXT; owned */
};

/* Appends one command given as its words. hiredis's printf-style
 * redisAppendCommand parses its format for every command (about 10,000
 * instructions each, measured with callgrind: a fifth of the console's
 * work with 1,000 keys); the argv form costs a few hundred. */
#define MAX_WORDS 6
static void append_words(redisContext *c, int argc, const char *const *argv)
{
    size_t lens[MAX_WORDS];
    for (int i = 0; i < argc && i < MAX_WORDS; i++)
        lens[i] = strlen(argv[i]);
    redisAppendCommandArgv(c, argc < MAX_WORDS ? argc : MAX_WORDS, (const char **)argv, lens);
}

static void append_plan(struct pending_reply **plan, size_t *n, size_t *cap, struct pending_reply p)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *plan = xrealloc(*plan, *cap * sizeof **plan);
    }
    (*plan)[(*n)++] = p;
}

/* Carries the first-seen time of an unchanged head item over from the last
 * snapshot, so an age can be given as "at least" without a timestamp. */
static void track_head(struct queue_stat *q, const char *head_id, const struct snapshot *prev, double now)
{
    q->head_id = xstrdup(head_id);
    const struct queue_stat *old = snapshot_find(prev, q->addr);
    q->head_seen_at = old && old->head_id && strcmp(old->head_id, head_id) == 0 ? old->head_seen_at : now;
}

static void fill_list_head(struct queue_stat *q, const redisReply *rep, const struct snapshot *prev, double now)
{
    if (!rep || rep->type != REDIS_REPLY_STRING || q->ready <= 0)
        return;
    struct envelope_info env;
    envelope_inspect(rep->str, rep->len, &env);
    track_head(q, env.identity, prev, now);
    if (!isnan(env.created_at)) {
        q->head_age = now > env.created_at ? now - env.created_at : 0;
    } else {
        q->head_age = now - q->head_seen_at;
        q->head_age_at_least = true;
    }
}

/* The oldest pending entry's idle time (XPENDING) and the oldest
 * undelivered entry's age (XRANGE after last-delivered-id) for one group,
 * whose row was added to snap at or after index `from`. */
static void fill_group_timing(struct snapshot *snap, size_t from, const char *key,
                              struct pending_reply p, const redisReply *rep, double now)
{
    char *addr = xasprintf("stream:%s#%s", key, p.group);
    struct queue_stat *q = NULL;
    for (size_t i = from; i < snap->nqueues && !q; i++)
        if (strcmp(snap->queues[i].addr, addr) == 0)
            q = &snap->queues[i];
    free(addr);
    if (!q || !rep || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0)
        return;
    const redisReply *entry = rep->element[0];
    if (p.what == R_XPENDING) {
        if (entry->type == REDIS_REPLY_ARRAY && entry->elements >= 3 &&
            entry->element[2]->type == REDIS_REPLY_INTEGER)
            q->pending_idle = (double)entry->element[2]->integer / 1000.0;
    } else if (entry->type == REDIS_REPLY_ARRAY && entry->elements >= 1 &&
               entry->element[0]->type == REDIS_REPLY_STRING) {
        double enqueued = stream_id_time(entry->element[0]->str);
        if (!isnan(enqueued))
            q->head_age = now > enqueued ? now - enqueued : 0;
    }
}

static struct queue_stat *stream_group_row(struct snapshot *snap, const char *key, const char *group)
{
    char *name = xasprintf("%s#%s", key, group);
    struct queue_stat *q = snapshot_add(snap, QUEUE_STREAM, name);
    free(name);
    return q;
}

static enum source_status redis_collect(struct source *src, const struct snapshot *prev,
                                        struct snapshot **out, char *err, size_t errlen)
{
    struct redis_src *r = src->priv;
    double started = clock_mono();
    enum source_status st;
    if (!r->ctx && (st = redis_connect(src, err, errlen)) != SOURCE_OK)
        return st;
    if ((st = redis_discover(src, err, errlen)) != SOURCE_OK)
        return st;
    redis_read_dbsize(r);

    struct pending_reply *plan = NULL;
    size_t nplan = 0, cap = 0;
    for (size_t i = 0; i < r->nkeys; i++) {
        struct redis_key *k = &r->keys[i];
        const char *key = k->key;
        if (k->type == KEY_LIST) {
            append_words(r->ctx, 2, (const char *[]){"LLEN", key});
            append_words(r->ctx, 3, (const char *[]){"LINDEX", key, "-1"});
            append_plan(&plan, &nplan, &cap, (struct pending_reply){i, R_LLEN, NULL});
            append_plan(&plan, &nplan, &cap, (struct pending_reply){i, R_HEAD, NULL});
            continue;
        }
        append_words(r->ctx, 2, (const char *[]){"XLEN", key});
        append_words(r->ctx, 3, (const char *[]){"XINFO", "GROUPS", key});
        append_plan(&plan, &nplan, &cap, (struct pending_reply){i, R_XLEN, NULL});
        append_plan(&plan, &nplan, &cap, (struct pending_reply){i, R_GROUPS, NULL});
        for (size_t g = 0; g < k->ngroups; g++) {
            const char *group = k->groups[g].name;
            append_words(r->ctx, 6, (const char *[]){"XPENDING", key, group, "-", "+", "1"});
            append_plan(&plan, &nplan, &cap, (struct pending_reply){i, R_XPENDING, xstrdup(group)});
            if (k->groups[g].last_delivered) {
                char *from = xasprintf("(%s", k->groups[g].last_delivered);
                append_words(r->ctx, 6, (const char *[]){"XRANGE", key, from, "+", "COUNT", "1"});
                free(from);
                append_plan(&plan, &nplan, &cap, (struct pending_reply){i, R_NEXT, xstrdup(group)});
            }
        }
    }

    redisReply **replies = xcalloc(nplan ? nplan : 1, sizeof *replies);
    for (size_t i = 0; i < nplan; i++) {
        void *rep = NULL;
        if (redisGetReply(r->ctx, &rep) != REDIS_OK) {
            st = redis_context_failure(r->ctx, "the refresh pipeline", err, errlen);
            for (size_t j = 0; j < nplan; j++) {
                if (j < i)
                    freeReplyObject(replies[j]);
                free(plan[j].group);
            }
            free(replies);
            free(plan);
            return st;
        }
        replies[i] = rep;
    }

    struct snapshot *snap = snapshot_new(r->nkeys + 16);
    double now = clock_wall();
    struct queue_stat *row = NULL;       /* the list or group-less stream row */
    int64_t xlen = -1;
    size_t group_rows_from = 0;          /* first row of the current stream's groups */
    for (size_t i = 0; i < nplan; i++) {
        struct redis_key *k = &r->keys[plan[i].key_index];
        const redisReply *rep = replies[i];
        switch (plan[i].what) {
        case R_LLEN:
            row = snapshot_add(snap, QUEUE_REDIS_LIST, k->key);
            row->ready = row->total = reply_integer(rep);
            if (row->ready > 0)
                k->last_seen = clock_mono();
            break;
        case R_HEAD:
            fill_list_head(row, rep, prev, now);
            break;
        case R_XLEN:
            xlen = reply_integer(rep);
            if (xlen > 0)
                k->last_seen = clock_mono();
            break;
        case R_GROUPS:
            group_rows_from = snap->nqueues;
            redis_key_set_groups(k, rep);
            if (k->ngroups == 0) {
                row = snapshot_add(snap, QUEUE_STREAM, k->key);
                row->ready = row->total = row->length = xlen;
            }
            for (size_t g = 0; k->ngroups && g < rep->elements; g++) {
                const char *gname = redis_field_string(rep->element[g], "name");
                if (!gname)
                    continue;
                struct queue_stat *q = stream_group_row(snap, k->key, gname);
                q->length = xlen;
                read_group_info(rep->element[g], q);
                q->total = q->ready >= 0 && q->unacked >= 0 ? q->ready + q->unacked : -1;
            }
            break;
        case R_XPENDING:
        case R_NEXT:
            fill_group_timing(snap, group_rows_from, k->key, plan[i], rep, now);
            break;
        }
    }
    for (size_t i = 0; i < nplan; i++) {
        freeReplyObject(replies[i]);
        free(plan[i].group);
    }
    free(replies);
    free(plan);

    snap->server = xstrdup(r->server ? r->server : "Redis");
    snap->truncated = r->truncated;
    snap->discovery = redis_discovery_text(r);
    snap->taken_at = now;
    snap->collect_seconds = clock_mono() - started;
    snapshot_seal(snap);
    *out = snap;
    return SOURCE_OK;
}

const struct source_ops redis_source_ops = {
    .kind = "redis",
    .init = redis_init,
    .collect = redis_collect,
    .disconnect = redis_disconnect,
    .interrupt = redis_interrupt,
    .fini = redis_fini,
};
