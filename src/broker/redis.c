/* Redis lists and streams as queues (hiredis).
 *
 * Discovery is a background job with a budget, because SCAN costs Redis
 * in proportion to every key it holds, queues or not (a Celery result
 * backend alone keeps a million keys). Each refresh spends at most the
 * SCAN steps the budget has saved up (redis_scan_rate keys looked at per
 * second, SCAN_COUNT a step, a small burst so that a small keyspace is
 * walked at once), carrying the cursors over to the next refresh. Every
 * glob pattern is walked twice side by side, TYPE list and TYPE stream;
 * a pattern without glob characters is one key, asked with TYPE. What a
 * walk finds is remembered and shown at once. A finished cycle starts
 * again DISCOVERY_RESTART seconds later, to find new keys; a key no cycle
 * found and no refresh saw holding anything for FORGET_AFTER is dropped.
 * The snapshot says how far discovery has come, from DBSIZE. `qdeck
 * status` (single_pass) walks it all in its one refresh instead.
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
#include <errno.h>
#include <fnmatch.h>
#include <hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/envelope.h"
#include "broker/source.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "net/redis-open.h"

#define DISCOVERY_RESTART 10.0   /* seconds from the end of a discovery cycle to the next */
/* Redis deletes a list when it drains: keep showing it (at 0) this long. */
#define FORGET_AFTER 600.0
#define SCAN_COUNT 200            /* keys one SCAN step looks at: short steps keep Redis responsive */
#define SCAN_BURST 10.0           /* steps the budget saves up at most */
#define DEFAULT_SCAN_RATE 2000
#define DBSIZE_EVERY 5.0

enum redis_key_type { KEY_LIST, KEY_STREAM };

struct stream_group {
    char *name;
    char *last_delivered;
};

struct redis_key {
    char *key;
    enum redis_key_type type;
    double last_seen;              /* monotonic time discovery found it or a refresh saw it non-empty */
    bool watched;                  /* redis_watch: shown always, never forgotten */
    struct stream_group *groups;   /* from the last XINFO GROUPS */
    size_t ngroups;
};

/* Where the background discovery stands: a cycle walks every glob pattern
 * in turn, each with two cursors (TYPE list, TYPE stream). */
struct discovery {
    bool walking;                  /* a cycle is under way */
    bool complete_once;            /* some cycle has finished */
    size_t pattern;                /* the glob pattern being walked */
    char cursor[2][32];            /* list, stream */
    bool walk_done[2];
    unsigned long steps[2];        /* SCAN steps taken in each walk of this pattern */
    double cycle_started;          /* monotonic */
    double cycle_done_at;          /* monotonic; -inf: start at once */
    double tokens, tokens_at;      /* the step budget and when it was last topped up */
    long long dbsize;              /* -1 unknown */
    double dbsize_at;
};

struct redis_src {
    redisContext *ctx;
    struct redis_interrupt interrupt;   /* the socket, for redis_interrupt() from any thread */
    char **patterns, **exclude, **watch;
    size_t npatterns, nexclude, nwatch;   /* watch: list keys shown even when empty */
    char **globs, **exact;                /* the patterns split: walked with SCAN, asked with TYPE */
    size_t nglobs, nexact;
    int scan_cap;
    double steps_per_second;              /* the SCAN budget */
    double timeout;
    struct redis_key *keys;
    size_t nkeys;
    bool truncated;
    struct discovery disc;
    char *server;
};

static void free_groups(struct redis_key *k)
{
    for (size_t i = 0; i < k->ngroups; i++) {
        free(k->groups[i].name);
        free(k->groups[i].last_delivered);
    }
    free(k->groups);
    k->groups = NULL;
    k->ngroups = 0;
}

static void free_keys(struct redis_src *r)
{
    for (size_t i = 0; i < r->nkeys; i++) {
        free(r->keys[i].key);
        free_groups(&r->keys[i]);
    }
    free(r->keys);
    r->keys = NULL;
    r->nkeys = 0;
}

static int redis_init(struct source *src, char *err, size_t errlen)
{
    struct broker_url url;
    if (redis_url_parse(src->url, &url, err, errlen) < 0)
        return -1;
    broker_url_free(&url);   /* checked here, without network; redis_connect opens it */
    struct redis_src *r = xcalloc(1, sizeof *r);
    redis_interrupt_init(&r->interrupt);
    r->npatterns = split_list(src->ctx && src->ctx->redis_keys ? src->ctx->redis_keys : "*", &r->patterns);
    r->nexclude = split_list(src->ctx ? src->ctx->redis_exclude : NULL, &r->exclude);
    r->nwatch = split_list(src->ctx ? src->ctx->redis_watch : NULL, &r->watch);
    r->scan_cap = src->ctx && src->ctx->redis_scan_cap > 0 ? src->ctx->redis_scan_cap : 10000;
    int rate = src->ctx && src->ctx->redis_scan_rate > 0 ? src->ctx->redis_scan_rate : DEFAULT_SCAN_RATE;
    r->steps_per_second = (double)rate / SCAN_COUNT;
    r->timeout = src->ctx ? src->ctx->timeout : 5;
    for (size_t i = 0; i < r->npatterns; i++) {
        bool glob = strpbrk(r->patterns[i], "*?[\\") != NULL;
        char ***to = glob ? &r->globs : &r->exact;
        size_t *n = glob ? &r->nglobs : &r->nexact;
        *to = xrealloc(*to, (*n + 1) * sizeof **to);
        (*to)[(*n)++] = r->patterns[i];   /* borrowed from patterns */
    }
    r->disc.cycle_done_at = -INFINITY;
    r->disc.tokens = SCAN_BURST;
    r->disc.tokens_at = clock_mono();
    r->disc.dbsize = -1;
    r->disc.dbsize_at = -INFINITY;
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
    /* maybe another server now: walk again from the start, at once */
    r->disc.walking = false;
    r->disc.cycle_done_at = -INFINITY;
    r->disc.dbsize_at = -INFINITY;
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
    free_keys(r);
    free_list(r->patterns, r->npatterns);
    free_list(r->exclude, r->nexclude);
    free_list(r->watch, r->nwatch);
    free(r->globs);
    free(r->exact);
    redis_interrupt_destroy(&r->interrupt);
    free(r);
    src->priv = NULL;
}

/* Classifies a hiredis context error. */
static enum source_status context_failure(redisContext *c, const char *doing, char *err, size_t errlen)
{
    bool timed_out = c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    if (timed_out || (c->err == REDIS_ERR_IO && strstr(c->errstr, "temporarily unavailable"))) {
        snprintf(err, errlen, "Redis did not answer %s", doing);
        return SOURCE_TIMEOUT;
    }
    if (c->err == REDIS_ERR_EOF) {
        snprintf(err, errlen, "Redis closed the connection %s", doing);
        return SOURCE_DOWN;
    }
    snprintf(err, errlen, "Redis %s: %s", doing, c->errstr[0] ? c->errstr : "connection lost");
    return SOURCE_DOWN;
}

static enum source_status reply_failure(const redisReply *rep, const char *doing, char *err, size_t errlen)
{
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        bool auth = strncmp(rep->str, "NOAUTH", 6) == 0 || strncmp(rep->str, "WRONGPASS", 9) == 0 ||
                    strstr(rep->str, "invalid password") || strstr(rep->str, "invalid username");
        snprintf(err, errlen, "Redis refused %s: %s", doing, rep->str);
        return auth ? SOURCE_AUTH_FAILED : SOURCE_BAD_RESPONSE;
    }
    snprintf(err, errlen, "unexpected Redis reply to %s", doing);
    return SOURCE_BAD_RESPONSE;
}

static enum source_status run_command(struct redis_src *r, redisReply **out, const char *doing,
                                      char *err, size_t errlen, int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(r->ctx, argc, argv, NULL);
    if (!rep)
        return context_failure(r->ctx, doing, err, errlen);
    if (rep->type == REDIS_REPLY_ERROR) {
        enum source_status st = reply_failure(rep, doing, err, errlen);
        freeReplyObject(rep);
        return st;
    }
    *out = rep;
    return SOURCE_OK;
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
    if ((st = run_command(r, &rep, "INFO", err, errlen, 2, argv)) != SOURCE_OK)
        return st;
    char *version = rep->type == REDIS_REPLY_STRING ? info_field(rep->str, "redis_version:") : NULL;
    freeReplyObject(rep);
    r->server = xasprintf("Redis %s", version ? version : "?");
    free(version);
    return SOURCE_OK;
}

static bool excluded(const struct redis_src *r, const char *key)
{
    for (size_t i = 0; i < r->nexclude; i++)
        if (fnmatch(r->exclude[i], key, 0) == 0)
            return true;
    return false;
}

static struct redis_key *key_find(struct redis_src *r, const char *key)
{
    for (size_t i = 0; i < r->nkeys; i++)
        if (strcmp(r->keys[i].key, key) == 0)
            return &r->keys[i];
    return NULL;
}

/* Remembers a key discovery found (or refreshes when it was last seen).
 * true when it is new. */
static bool key_found(struct redis_src *r, const char *key, enum redis_key_type type, double now)
{
    if (excluded(r, key))
        return false;
    struct redis_key *k = key_find(r, key);
    if (k) {
        k->last_seen = now;
        if (k->type != type) {
            k->type = type;
            free_groups(k);
        }
        return false;
    }
    if ((int)r->nkeys >= r->scan_cap) {
        r->truncated = true;
        return false;
    }
    r->keys = xrealloc(r->keys, (r->nkeys + 1) * sizeof *r->keys);
    r->keys[r->nkeys++] = (struct redis_key){.key = xstrdup(key), .type = type, .last_seen = now};
    return true;
}

/* The string value of a field in a flat field/value array reply. */
static const char *field_string(const redisReply *info, const char *name)
{
    for (size_t f = 0; info && info->type == REDIS_REPLY_ARRAY && f + 1 < info->elements; f += 2) {
        const redisReply *k = info->element[f], *v = info->element[f + 1];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0)
            return v->type == REDIS_REPLY_STRING ? v->str : NULL;
    }
    return NULL;
}

/* Replaces a stream key's group list with what XINFO GROUPS says. */
static void set_groups(struct redis_key *k, const redisReply *rep)
{
    free_groups(k);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0)
        return;
    k->groups = xcalloc(rep->elements, sizeof *k->groups);
    for (size_t g = 0; g < rep->elements; g++) {
        const char *name = field_string(rep->element[g], "name");
        const char *last = field_string(rep->element[g], "last-delivered-id");
        if (name)
            k->groups[k->ngroups++] = (struct stream_group){xstrdup(name), last ? xstrdup(last) : NULL};
    }
}

/* After discovery found streams, one pipelined XINFO GROUPS for every
 * stream, so that the next refresh can already ask each group for its
 * timing. */
static enum source_status learn_groups(struct redis_src *r, char *err, size_t errlen)
{
    size_t sent = 0;
    for (size_t i = 0; i < r->nkeys; i++)
        if (r->keys[i].type == KEY_STREAM) {
            redisAppendCommand(r->ctx, "XINFO GROUPS %b", r->keys[i].key, strlen(r->keys[i].key));
            sent++;
        }
    for (size_t i = 0; i < r->nkeys && sent; i++) {
        if (r->keys[i].type != KEY_STREAM)
            continue;
        void *rep = NULL;
        if (redisGetReply(r->ctx, &rep) != REDIS_OK)
            return context_failure(r->ctx, "XINFO GROUPS", err, errlen);
        set_groups(&r->keys[i], rep);
        freeReplyObject(rep);
        sent--;
    }
    return SOURCE_OK;
}

/* The exact keys of redis_keys, one pipelined TYPE each; and the watched
 * lists, which show even before they exist. */
static enum source_status find_exact_keys(struct redis_src *r, bool *new_stream, char *err, size_t errlen)
{
    double now = clock_mono();
    for (size_t i = 0; i < r->nexact; i++)
        redisAppendCommand(r->ctx, "TYPE %s", r->exact[i]);
    for (size_t i = 0; i < r->nexact; i++) {
        void *rep = NULL;
        if (redisGetReply(r->ctx, &rep) != REDIS_OK)
            return context_failure(r->ctx, "TYPE", err, errlen);
        const redisReply *t = rep;
        if (t->type == REDIS_REPLY_STATUS && strcmp(t->str, "list") == 0)
            key_found(r, r->exact[i], KEY_LIST, now);
        else if (t->type == REDIS_REPLY_STATUS && strcmp(t->str, "stream") == 0)
            *new_stream |= key_found(r, r->exact[i], KEY_STREAM, now);
        freeReplyObject(rep);
    }
    for (size_t i = 0; i < r->nwatch; i++) {
        struct redis_key *k = key_find(r, r->watch[i]);
        if (!k && (int)r->nkeys < r->scan_cap) {
            r->keys = xrealloc(r->keys, (r->nkeys + 1) * sizeof *r->keys);
            k = &r->keys[r->nkeys++];
            *k = (struct redis_key){.key = xstrdup(r->watch[i]), .type = KEY_LIST, .last_seen = now};
        }
        if (k)
            k->watched = true;
    }
    return SOURCE_OK;
}

/* A cycle ended: drop the keys that neither this cycle nor any refresh saw
 * for FORGET_AFTER (a queue that drained stays a while, at depth 0). */
static void forget_old_keys(struct redis_src *r)
{
    double now = clock_mono();
    size_t keep = 0;
    for (size_t i = 0; i < r->nkeys; i++) {
        struct redis_key *k = &r->keys[i];
        if (!k->watched && k->last_seen < r->disc.cycle_started && now - k->last_seen > FORGET_AFTER) {
            free(k->key);
            free_groups(k);
            continue;
        }
        r->keys[keep++] = *k;
    }
    r->nkeys = keep;
}

static void start_cycle(struct redis_src *r)
{
    struct discovery *d = &r->disc;
    d->walking = true;
    d->pattern = 0;
    d->cycle_started = clock_mono();
    for (int t = 0; t < 2; t++) {
        snprintf(d->cursor[t], sizeof d->cursor[t], "0");
        d->walk_done[t] = false;
        d->steps[t] = 0;
    }
    r->truncated = (int)r->nkeys >= r->scan_cap;
}

/* One SCAN step of walk t over the current pattern. */
static enum source_status scan_step(struct redis_src *r, int t, bool *new_stream, char *err, size_t errlen)
{
    static const char *const types[] = {"list", "stream"};
    struct discovery *d = &r->disc;
    char count[16];
    snprintf(count, sizeof count, "%d", SCAN_COUNT);
    const char *argv[] = {"SCAN", d->cursor[t], "MATCH", r->globs[d->pattern], "COUNT", count, "TYPE", types[t]};
    redisReply *rep = NULL;
    enum source_status st = run_command(r, &rep, "SCAN", err, errlen, 8, argv);
    if (st != SOURCE_OK)
        return st;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(rep);
        snprintf(err, errlen, "unexpected Redis reply to SCAN");
        return SOURCE_BAD_RESPONSE;
    }
    snprintf(d->cursor[t], sizeof d->cursor[t], "%s", rep->element[0]->str);
    d->steps[t]++;
    d->walk_done[t] = strcmp(d->cursor[t], "0") == 0;
    double now = clock_mono();
    const redisReply *keys = rep->element[1];
    for (size_t i = 0; i < keys->elements; i++)
        if (keys->element[i]->str && key_found(r, keys->element[i]->str, t == 0 ? KEY_LIST : KEY_STREAM, now) &&
            t == 1)
            *new_stream = true;
    freeReplyObject(rep);
    return SOURCE_OK;
}

/* Spends what the budget allows (everything, for a single pass) on the
 * walk, starting a cycle when one is due. */
static enum source_status discover(struct source *src, char *err, size_t errlen)
{
    struct redis_src *r = src->priv;
    struct discovery *d = &r->disc;
    double now = clock_mono();
    d->tokens += (now - d->tokens_at) * r->steps_per_second;
    if (d->tokens > SCAN_BURST)
        d->tokens = SCAN_BURST;
    d->tokens_at = now;
    bool new_stream = false;
    enum source_status st;
    if (!d->walking) {
        if (now - d->cycle_done_at < DISCOVERY_RESTART && !src->single_pass)
            return SOURCE_OK;
        start_cycle(r);
        if ((st = find_exact_keys(r, &new_stream, err, errlen)) != SOURCE_OK)
            return st;
    }
    while (d->walking && !src->stopping && (src->single_pass || d->tokens >= 1)) {
        if (d->pattern >= r->nglobs) {
            d->walking = false;
            d->complete_once = true;
            d->cycle_done_at = clock_mono();
            forget_old_keys(r);
            break;
        }
        /* the two walks of a pattern take turns, so lists and streams both show early */
        int t = d->walk_done[0] ? 1 : d->walk_done[1] ? 0 : (int)((d->steps[0] + d->steps[1]) % 2);
        if ((st = scan_step(r, t, &new_stream, err, errlen)) != SOURCE_OK)
            return st;
        d->tokens -= 1;
        if (d->walk_done[0] && d->walk_done[1]) {
            d->pattern++;
            for (int i = 0; i < 2; i++) {
                snprintf(d->cursor[i], sizeof d->cursor[i], "0");
                d->walk_done[i] = false;
                d->steps[i] = 0;
            }
        }
    }
    return new_stream ? learn_groups(r, err, errlen) : SOURCE_OK;
}

static void human_count(char *buf, size_t len, double n)
{
    if (n >= 1e6)
        snprintf(buf, len, "%.1fM", n / 1e6);
    else if (n >= 1e4)
        snprintf(buf, len, "%.0fk", n / 1e3);
    else
        snprintf(buf, len, "%.0f", n);
}

/* "discovery 34% (340k/1.0M keys)" while the first cycle runs, then
 * "discovery complete" (with the progress of a rescan under way). */
static char *discovery_text(struct redis_src *r)
{
    const struct discovery *d = &r->disc;
    if (d->complete_once && !d->walking)
        return xstrdup("discovery complete");
    double fraction = 0;
    if (r->nglobs && d->pattern < r->nglobs) {
        double walks = 0;
        for (int t = 0; t < 2; t++) {
            double f = d->walk_done[t] ? 1 : d->dbsize > 0 ? (double)d->steps[t] * SCAN_COUNT / (double)d->dbsize : 0;
            walks += f < 0.99 || d->walk_done[t] ? (f > 1 ? 1 : f) : 0.99;
        }
        fraction = ((double)d->pattern + walks / 2) / (double)r->nglobs;
    } else if (r->nglobs) {
        fraction = 1;
    }
    int pct = (int)(fraction * 100);
    if (pct > 99)
        pct = 99;
    if (d->complete_once)
        return xasprintf("discovery complete, rescan %d%%", pct);
    if (d->dbsize < 0)
        return xasprintf("discovery %d%%", pct);
    char seen[32], total[32];
    human_count(seen, sizeof seen, fraction * (double)d->dbsize);
    human_count(total, sizeof total, (double)d->dbsize);
    return xasprintf("discovery %d%% (%s/%s keys)", pct, seen, total);
}

/* DBSIZE (O(1)) now and then, for the progress shown while a walk runs. */
static void read_dbsize(struct redis_src *r)
{
    if (!r->disc.walking || clock_mono() - r->disc.dbsize_at < DBSIZE_EVERY)
        return;
    redisReply *rep = redisCommand(r->ctx, "DBSIZE");
    if (rep && rep->type == REDIS_REPLY_INTEGER) {
        r->disc.dbsize = rep->integer;
        r->disc.dbsize_at = clock_mono();
    }
    freeReplyObject(rep);
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
    if ((st = discover(src, err, errlen)) != SOURCE_OK)
        return st;
    read_dbsize(r);

    struct pending_reply *plan = NULL;
    size_t nplan = 0, cap = 0;
    for (size_t i = 0; i < r->nkeys; i++) {
        struct redis_key *k = &r->keys[i];
        const char *key = k->key;
        size_t klen = strlen(key);
        if (k->type == KEY_LIST) {
            redisAppendCommand(r->ctx, "LLEN %b", key, klen);
            redisAppendCommand(r->ctx, "LINDEX %b -1", key, klen);
            append_plan(&plan, &nplan, &cap, (struct pending_reply){i, R_LLEN, NULL});
            append_plan(&plan, &nplan, &cap, (struct pending_reply){i, R_HEAD, NULL});
            continue;
        }
        redisAppendCommand(r->ctx, "XLEN %b", key, klen);
        redisAppendCommand(r->ctx, "XINFO GROUPS %b", key, klen);
        append_plan(&plan, &nplan, &cap, (struct pending_reply){i, R_XLEN, NULL});
        append_plan(&plan, &nplan, &cap, (struct pending_reply){i, R_GROUPS, NULL});
        for (size_t g = 0; g < k->ngroups; g++) {
            const char *group = k->groups[g].name;
            redisAppendCommand(r->ctx, "XPENDING %b %b - + 1", key, klen, group, strlen(group));
            append_plan(&plan, &nplan, &cap, (struct pending_reply){i, R_XPENDING, xstrdup(group)});
            if (k->groups[g].last_delivered) {
                char *from = xasprintf("(%s", k->groups[g].last_delivered);
                redisAppendCommand(r->ctx, "XRANGE %b %s + COUNT 1", key, klen, from);
                free(from);
                append_plan(&plan, &nplan, &cap, (struct pending_reply){i, R_NEXT, xstrdup(group)});
            }
        }
    }

    redisReply **replies = xcalloc(nplan ? nplan : 1, sizeof *replies);
    for (size_t i = 0; i < nplan; i++) {
        void *rep = NULL;
        if (redisGetReply(r->ctx, &rep) != REDIS_OK) {
            st = context_failure(r->ctx, "the refresh pipeline", err, errlen);
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
            set_groups(k, rep);
            if (k->ngroups == 0) {
                row = snapshot_add(snap, QUEUE_STREAM, k->key);
                row->ready = row->total = row->length = xlen;
            }
            for (size_t g = 0; k->ngroups && g < rep->elements; g++) {
                const char *gname = field_string(rep->element[g], "name");
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
    snap->discovery = discovery_text(r);
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
