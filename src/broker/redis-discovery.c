/* Redis key discovery with a SCAN budget (see redis-discovery.h). */
#include "broker/redis-discovery.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/xalloc.h"

#define DISCOVERY_RESTART 10.0   /* seconds from the end of a discovery cycle to the next */
/* Redis deletes a list when it drains: keep showing it (at 0) this long. */
#define FORGET_AFTER 600.0
#define SCAN_COUNT 200            /* keys one SCAN step looks at: short steps keep Redis responsive */
#define SCAN_BURST 10.0           /* steps the budget saves up at most */
#define DEFAULT_SCAN_RATE 2000
#define DBSIZE_EVERY 5.0

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

void redis_discovery_init(struct redis_src *r, const struct context_config *ctx)
{
    r->npatterns = split_list(ctx && ctx->redis_keys ? ctx->redis_keys : "*", &r->patterns);
    r->nexclude = split_list(ctx ? ctx->redis_exclude : NULL, &r->exclude);
    r->nwatch = split_list(ctx ? ctx->redis_watch : NULL, &r->watch);
    r->scan_cap = ctx && ctx->redis_scan_cap > 0 ? ctx->redis_scan_cap : 10000;
    int rate = ctx && ctx->redis_scan_rate > 0 ? ctx->redis_scan_rate : DEFAULT_SCAN_RATE;
    r->steps_per_second = (double)rate / SCAN_COUNT;
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
}

void redis_discovery_restart(struct redis_src *r)
{
    r->disc.walking = false;
    r->disc.cycle_done_at = -INFINITY;
    r->disc.dbsize_at = -INFINITY;
}

void redis_discovery_fini(struct redis_src *r)
{
    free_keys(r);
    free_list(r->patterns, r->npatterns);
    free_list(r->exclude, r->nexclude);
    free_list(r->watch, r->nwatch);
    free(r->globs);
    free(r->exact);
}

/* Classifies a hiredis context error. */
enum source_status redis_context_failure(redisContext *c, const char *doing, char *err, size_t errlen)
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

enum source_status redis_run_command(struct redis_src *r, redisReply **out, const char *doing,
                                      char *err, size_t errlen, int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(r->ctx, argc, argv, NULL);
    if (!rep)
        return redis_context_failure(r->ctx, doing, err, errlen);
    if (rep->type == REDIS_REPLY_ERROR) {
        enum source_status st = reply_failure(rep, doing, err, errlen);
        freeReplyObject(rep);
        return st;
    }
    *out = rep;
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
const char *redis_field_string(const redisReply *info, const char *name)
{
    for (size_t f = 0; info && info->type == REDIS_REPLY_ARRAY && f + 1 < info->elements; f += 2) {
        const redisReply *k = info->element[f], *v = info->element[f + 1];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0)
            return v->type == REDIS_REPLY_STRING ? v->str : NULL;
    }
    return NULL;
}

/* Replaces a stream key's group list with what XINFO GROUPS says. */
void redis_key_set_groups(struct redis_key *k, const redisReply *rep)
{
    free_groups(k);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0)
        return;
    k->groups = xcalloc(rep->elements, sizeof *k->groups);
    for (size_t g = 0; g < rep->elements; g++) {
        const char *name = redis_field_string(rep->element[g], "name");
        const char *last = redis_field_string(rep->element[g], "last-delivered-id");
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
            return redis_context_failure(r->ctx, "XINFO GROUPS", err, errlen);
        redis_key_set_groups(&r->keys[i], rep);
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
            return redis_context_failure(r->ctx, "TYPE", err, errlen);
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
    enum source_status st = redis_run_command(r, &rep, "SCAN", err, errlen, 8, argv);
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
enum source_status redis_discover(struct source *src, char *err, size_t errlen)
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
    while (d->walking && !source_stopping(src) && (src->single_pass || d->tokens >= 1)) {
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
char *redis_discovery_text(struct redis_src *r)
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
void redis_read_dbsize(struct redis_src *r)
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
