/* Reading the fleet's heartbeats (see the header). One read is the
 * worker registry (keys.h: a ZSET by last beat, pruned in the same round
 * trip), then every MGET pipelined in chunks, then one pass that parses
 * the JSON reports and merges in the workers the previous table knew but
 * whose keys are gone. Nothing here walks the keyspace: the cost of a read
 * grows with the fleet, not with what else Redis holds. */
#include "control/fleet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/keys.h"
#include "control/redis-connect.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"

#define MGET_CHUNK 256

bool fleet_worker_unhealthy(const struct fleet_worker *w)
{
    return w->state == FLEET_RUNNING && w->health && w->health[0] && strcmp(w->health, "ok") != 0;
}

const char *fleet_state_name(enum fleet_state s)
{
    switch (s) {
    case FLEET_RUNNING: return "running";
    case FLEET_STOPPED: return "stopped";
    case FLEET_LOST: return "lost";
    }
    return "?";
}

void fleet_worker_free(struct fleet_worker *w)
{
    free(w->id);
    free(w->host);
    free(w->version);
    free(w->queues);
    free(w->health);
    cJSON_Delete(w->report);
}

void fleet_table_free(struct fleet_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->njobs; i++) {
        free(t->jobs[i].name);
        free(t->jobs[i].last_result);
        free(t->jobs[i].ran_by);
    }
    free(t->jobs);
    free(t->sched_leader);
    for (size_t i = 0; i < t->n; i++)
        fleet_worker_free(&t->workers[i]);
    free(t->workers);
    free(t);
}

static int compare_id(const void *a, const void *b)
{
    return strcmp(((const struct fleet_worker *)a)->id, ((const struct fleet_worker *)b)->id);
}

const struct fleet_worker *fleet_find(const struct fleet_table *t, const char *id)
{
    if (!t || !id || t->n == 0)
        return NULL;
    struct fleet_worker key = {.id = (char *)id};
    return bsearch(&key, t->workers, t->n, sizeof *t->workers, compare_id);
}

/* A count, or -1 when missing or beyond what an int64_t holds (2^63). */
static int64_t json_count(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9223372036854775808.0
               ? (int64_t)v->valuedouble : -1;
}

static double json_real(const cJSON *o, const char *name, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

static char *json_string(const cJSON *o, const char *name, const char *fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return xstrdup(cJSON_IsString(v) ? v->valuestring : fallback);
}

static char *queues_text(const cJSON *o)
{
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "queues");
    if (cJSON_IsString(q))
        return xstrdup(q->valuestring);
    size_t len = 0, cap = 64;
    char *text = xmalloc(cap);
    text[0] = '\0';
    const cJSON *item;
    const cJSON *list = cJSON_IsArray(q) ? q : NULL;
    cJSON_ArrayForEach(item, list) {
        if (!cJSON_IsString(item))
            continue;
        size_t n = strlen(item->valuestring);
        if (len + n + 3 > cap) {
            cap = (len + n + 3) * 2;
            text = xrealloc(text, cap);
        }
        if (len) {
            memcpy(text + len, ", ", 2);
            len += 2;
        }
        memcpy(text + len, item->valuestring, n + 1);
        len += n;
    }
    return text;
}

bool fleet_parse_report(const char *key_id, const char *json, double now, struct fleet_worker *w)
{
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return false;
    }
    memset(w, 0, sizeof *w);
    w->report = o;
    w->id = json_string(o, "id", key_id);
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    w->kind = cJSON_IsString(kind) && strcmp(kind->valuestring, "celery") == 0 ? "celery" : "qdeck";
    w->host = json_string(o, "host", "?");
    w->version = json_string(o, "version", "?");
    w->queues = queues_text(o);
    w->pid = (long)json_count(o, "pid");
    w->slots_busy = json_count(o, "slots_busy");
    w->slots_total = json_count(o, "slots_total");
    if (w->slots_busy < 0)
        w->slots_busy = json_count(o, "busy");     /* the names of an early worker heartbeat */
    if (w->slots_total < 0)
        w->slots_total = json_count(o, "slots");
    w->in_flight = json_count(o, "in_flight");
    w->processed = json_count(o, "processed");
    w->failed = json_count(o, "failed");
    w->retried = json_count(o, "retried");
    w->dead_lettered = json_count(o, "dead_lettered");
    w->parked = json_count(o, "parked");
    w->health = json_string(o, "health", "");
    w->started_at = json_real(o, "started_at", NAN);
    w->rate = NAN;
    w->last_beat = json_real(o, "at", now);
    w->interval = json_real(o, "interval", 1);
    if (!(w->interval > 0))
        w->interval = 1;
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(o, "state");
    if (cJSON_IsString(state) && strcmp(state->valuestring, "stopped") == 0)
        w->state = FLEET_STOPPED;
    else if (now - w->last_beat > json_real(o, "lost_after", 3 * w->interval))
        w->state = FLEET_LOST;
    else
        w->state = FLEET_RUNNING;
    return true;
}

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

/* A deep copy; a report may lack any of its strings (health, say). */
static void copy_worker(struct fleet_worker *dst, const struct fleet_worker *src)
{
    *dst = *src;
    dst->id = dup_or_null(src->id);
    dst->host = dup_or_null(src->host);
    dst->version = dup_or_null(src->version);
    dst->queues = dup_or_null(src->queues);
    dst->health = dup_or_null(src->health);
    dst->report = cJSON_Duplicate(src->report, 1);
}

static void table_add(struct fleet_table *t, size_t *cap, const struct fleet_worker *w)
{
    if (t->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        t->workers = xrealloc(t->workers, *cap * sizeof *t->workers);
    }
    t->workers[t->n++] = *w;
}

/* The registry's members of the last FLEET_REMEMBER seconds (pruning the
 * older ones in the same round trip), as heartbeat keys with the score of
 * each: the time of its last beat. */
static int registry_keys(redisContext *c, double now, char ***keys, double **beats, size_t *nkeys, bool *truncated,
                         char *err, size_t errlen)
{
    char oldest[64], limit[32];
    snprintf(oldest, sizeof oldest, "%.3f", now - FLEET_REMEMBER);
    snprintf(limit, sizeof limit, "%d", FLEET_SCAN_CAP + 1);
    redisAppendCommand(c, "ZREMRANGEBYSCORE %s -inf (%s", KEY_WORKER_REGISTRY, oldest);
    redisAppendCommand(c, "ZRANGEBYSCORE %s %s +inf WITHSCORES LIMIT 0 %s", KEY_WORKER_REGISTRY, oldest, limit);
    redisReply *replies[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        if (redisGetReply(c, (void **)&replies[i]) != REDIS_OK) {
            snprintf(err, errlen, "Redis: %s", c->errstr[0] ? c->errstr : "connection lost");
            freeReplyObject(replies[0]);
            return -1;
        }
    }
    const redisReply *r = replies[1];
    int rc = 0;
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, r->type == REDIS_REPLY_ERROR ? "Redis refused to read %s: %s" : "unexpected reply reading %s",
                 KEY_WORKER_REGISTRY, r->type == REDIS_REPLY_ERROR ? r->str : "");
        rc = -1;
    } else {
        size_t n = r->elements / 2;
        *truncated = n > FLEET_SCAN_CAP;
        if (n > FLEET_SCAN_CAP)
            n = FLEET_SCAN_CAP;
        *keys = xcalloc(n ? n : 1, sizeof **keys);
        *beats = xcalloc(n ? n : 1, sizeof **beats);
        for (size_t i = 0; i < n; i++) {
            const redisReply *id = r->element[2 * i], *score = r->element[2 * i + 1];
            (*keys)[i] = xasprintf(KEY_WORKER_PREFIX "%.*s", (int)id->len, id->str ? id->str : "");
            (*beats)[i] = score->str ? atof(score->str) : now;
        }
        *nkeys = n;
    }
    freeReplyObject(replies[0]);
    freeReplyObject(replies[1]);
    return rc;
}

/* The workers the previous read saw whose keys still existed are read
 * again even when the registry no longer names them: a clean stop leaves
 * the registry at once, and its last beat ("stopped") is how the reader
 * learns it was not lost. */
static void add_known_keys(const struct fleet_table *prev, char ***keys, double **beats, size_t *nkeys)
{
    if (!prev || prev->n == 0)
        return;
    size_t prefix = strlen(KEY_WORKER_PREFIX);
    bool *listed = xcalloc(prev->n, sizeof *listed);
    for (size_t k = 0; k < *nkeys; k++) {
        const struct fleet_worker *w = fleet_find(prev, (*keys)[k] + prefix);
        if (w)
            listed[w - prev->workers] = true;
    }
    for (size_t i = 0; i < prev->n; i++) {
        const struct fleet_worker *w = &prev->workers[i];
        if (w->vanished || listed[i])
            continue;
        *keys = xrealloc(*keys, (*nkeys + 1) * sizeof **keys);
        *beats = xrealloc(*beats, (*nkeys + 1) * sizeof **beats);
        (*keys)[*nkeys] = xasprintf(KEY_WORKER_PREFIX "%s", w->id);
        (*beats)[*nkeys] = w->last_beat;
        (*nkeys)++;
    }
    free(listed);
}

/* A registered worker whose heartbeat key is gone and whom no earlier read
 * knew (a console started after it died): lost, known by id alone. */
static void registered_only(struct fleet_worker *w, const char *id, double last_beat)
{
    memset(w, 0, sizeof *w);
    w->id = xstrdup(id);
    w->kind = "qdeck";
    w->host = xstrdup("?");
    w->version = xstrdup("?");
    w->queues = xstrdup("");
    w->health = xstrdup("");
    w->report = cJSON_CreateObject();
    w->pid = -1;
    w->slots_busy = w->slots_total = w->in_flight = -1;
    w->processed = w->failed = w->retried = w->dead_lettered = -1;
    w->started_at = NAN;
    w->rate = NAN;
    w->last_beat = last_beat;
    w->interval = 1;
    w->state = FLEET_LOST;
    w->vanished = true;
}

int fleet_read(redisContext *c, const struct fleet_table *prev, double now, struct fleet_table **out, char *err,
               size_t errlen)
{
    char **keys = NULL;
    double *beats = NULL;
    size_t nkeys = 0;
    bool truncated = false;
    if (registry_keys(c, now, &keys, &beats, &nkeys, &truncated, err, errlen) < 0)
        return -1;
    add_known_keys(prev, &keys, &beats, &nkeys);
    struct fleet_table *t = xcalloc(1, sizeof *t);
    t->taken_at = now;
    t->truncated = truncated;
    size_t cap = 0;
    int rc = 0;
    /* every MGET first, then every reply: one round trip's worth of waiting */
    size_t chunks = (nkeys + MGET_CHUNK - 1) / MGET_CHUNK;
    for (size_t ch = 0; ch < chunks; ch++) {
        size_t from = ch * MGET_CHUNK, count = nkeys - from < MGET_CHUNK ? nkeys - from : MGET_CHUNK;
        const char **argv = xmalloc((count + 1) * sizeof *argv);
        argv[0] = "MGET";
        for (size_t i = 0; i < count; i++)
            argv[i + 1] = keys[from + i];
        redisAppendCommandArgv(c, (int)count + 1, argv, NULL);
        free(argv);
    }
    size_t prefix = strlen(KEY_WORKER_PREFIX);
    for (size_t ch = 0; ch < chunks; ch++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            snprintf(err, errlen, "Redis: %s", c->errstr[0] ? c->errstr : "connection lost");
            rc = -1;
            break;
        }
        size_t from = ch * MGET_CHUNK;
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            const redisReply *v = r->element[i];
            struct fleet_worker w;
            const char *id = keys[from + i] + prefix;
            if (v->type == REDIS_REPLY_STRING && fleet_parse_report(id, v->str, now, &w)) {
                table_add(t, &cap, &w);
            } else if (v->type == REDIS_REPLY_NIL && !fleet_find(prev, id)) {
                registered_only(&w, id, beats[from + i]);
                table_add(t, &cap, &w);
            }
        }
        if (r->type == REDIS_REPLY_ERROR && rc == 0) {
            snprintf(err, errlen, "Redis refused MGET: %s", r->str);
            rc = -1;
        }
        freeReplyObject(r);
    }
    for (size_t i = 0; i < nkeys; i++)
        free(keys[i]);
    free(keys);
    free(beats);
    if (rc < 0) {
        fleet_table_free(t);
        return -1;
    }
    if (t->n > 1)
        qsort(t->workers, t->n, sizeof *t->workers, compare_id);
    /* a worker whose key vanished since the last read: lost, unless its last word was "stopped" */
    size_t present = t->n;
    for (size_t i = 0; prev && i < prev->n; i++) {
        const struct fleet_worker *p = &prev->workers[i];
        struct fleet_worker key = {.id = p->id};
        if (present && bsearch(&key, t->workers, present, sizeof *t->workers, compare_id))
            continue;
        if (now - p->last_beat > FLEET_REMEMBER)
            continue;
        struct fleet_worker w;
        copy_worker(&w, p);
        w.vanished = true;
        w.newly_lost = false;
        if (w.state != FLEET_STOPPED)
            w.state = FLEET_LOST;
        table_add(t, &cap, &w);
    }
    if (t->n > 1)
        qsort(t->workers, t->n, sizeof *t->workers, compare_id);
    for (size_t i = 0; i < t->n; i++) {
        struct fleet_worker *w = &t->workers[i];
        const struct fleet_worker *p = fleet_find(prev, w->id);
        w->newly_lost = w->state == FLEET_LOST && p && p->state != FLEET_LOST;
        if (p && !w->vanished && w->state == FLEET_RUNNING) {
            /* the reader polls faster than workers beat: a beat seen twice keeps the last rate */
            if (w->last_beat > p->last_beat && w->processed >= p->processed && p->processed >= 0)
                w->rate = (double)(w->processed - p->processed) / (w->last_beat - p->last_beat);
            else if (w->last_beat == p->last_beat)
                w->rate = p->rate;
        }
        t->running += w->state == FLEET_RUNNING;
        t->stopped += w->state == FLEET_STOPPED;
        t->lost += w->state == FLEET_LOST;
    }
    *out = t;
    return 0;
}
