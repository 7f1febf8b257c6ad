/* The guardrails in Redis (see policy-store.h): the reads, and the writes
 * that change a value, its meta and announce it in one MULTI/EXEC. */
#include "control/policy-store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/keys.h"
#include "control/redis-connect.h"
#include "core/xalloc.h"
#include "net/redis-open.h"

/* ------------------------------------------------------------ Redis */

redisContext *policy_connect(const char *url, double timeout, char *err, size_t errlen)
{
    if (!url || !*url) {
        snprintf(err, errlen, "no Redis configured: the control plane needs --redis URL or a context with redis =");
        return NULL;
    }
    return redis_open(url, timeout, 0, err, errlen);
}

static int reply_error(redisContext *c, redisReply *r, const char *doing, char *err, size_t errlen)
{
    snprintf(err, errlen, "Redis %s: %s", doing,
             r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr[0] ? c->errstr : "unexpected reply");
    if (r)
        freeReplyObject(r);
    return -1;
}

/* HGETALL into name/value pairs. */
static int hgetall(redisContext *c, const char *key, struct policy_entry **out, size_t *n, char *err, size_t errlen)
{
    redisReply *r = redisCommand(c, "HGETALL %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2)
        return reply_error(c, r, "HGETALL", err, errlen);
    *n = r->elements / 2;
    *out = xcalloc(*n ? *n : 1, sizeof **out);
    for (size_t i = 0; i < *n; i++) {
        redisReply *k = r->element[2 * i], *v = r->element[2 * i + 1];
        (*out)[i].name = xstrndup(k->str ? k->str : "", k->str ? k->len : 0);
        (*out)[i].value = xstrndup(v->str ? v->str : "", v->str ? v->len : 0);
    }
    freeReplyObject(r);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, policy_entry_compare);
    return 0;
}

void policy_entries_free(struct policy_entry *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].name);
        free(items[i].value);
    }
    free(items);
}

int policy_values_fetch(redisContext *c, struct policy_entry **items, size_t *n, char *err, size_t errlen)
{
    return hgetall(c, KEY_POLICY, items, n, err, errlen);
}

int policy_fetch(redisContext *c, struct policy_item **items, size_t *n, char *err, size_t errlen)
{
    struct policy_entry *vals, *meta;
    size_t nv, nm;
    if (hgetall(c, KEY_POLICY, &vals, &nv, err, errlen) < 0)
        return -1;
    if (hgetall(c, KEY_POLICY_META, &meta, &nm, err, errlen) < 0) {
        policy_entries_free(vals, nv);
        return -1;
    }
    *items = xcalloc(nv ? nv : 1, sizeof **items);
    *n = nv;
    for (size_t i = 0; i < nv; i++) {
        struct policy_item *it = &(*items)[i];
        it->name = vals[i].name;
        it->value = vals[i].value;
        struct policy_entry key = {.name = it->name};
        struct policy_entry *m = nm ? bsearch(&key, meta, nm, sizeof key, policy_entry_compare) : NULL;
        cJSON *j = m ? cJSON_Parse(m->value) : NULL;
        const cJSON *by = cJSON_GetObjectItemCaseSensitive(j, "by"), *at = cJSON_GetObjectItemCaseSensitive(j, "at");
        it->by = cJSON_IsString(by) ? xstrdup(by->valuestring) : NULL;
        it->at = cJSON_IsString(at) ? xstrdup(at->valuestring) : NULL;
        cJSON_Delete(j);
    }
    free(vals);   /* the strings moved into items */
    policy_entries_free(meta, nm);
    return 0;
}

void policy_items_free(struct policy_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].name);
        free(items[i].value);
        free(items[i].by);
        free(items[i].at);
    }
    free(items);
}

static void now_iso(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Reads the `queued` replies of a MULTI ... EXEC whose first queued
 * command is an HGET of the old value: 0 with *old_value (NULL: none), or
 * -1 with err when a command or the transaction failed. */
static int transact_replies(redisContext *c, int queued, const char *key, const char *field, char **old_value,
                            char *err, size_t errlen)
{
    redisReply *r = NULL;
    int rc = 0;
    for (int i = 0; i < queued; i++) {
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return reply_error(c, NULL, "MULTI/EXEC", err, errlen);
        if (i < queued - 1) {
            if (r->type == REDIS_REPLY_ERROR && rc == 0) {
                reply_error(c, r, "MULTI/EXEC", err, errlen);
                rc = -1;
                r = NULL;
            }
            if (r)
                freeReplyObject(r);
            continue;
        }
        if (rc < 0) {
            freeReplyObject(r);
            return -1;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3)
            return reply_error(c, r, "EXEC", err, errlen);
        for (size_t k = 0; k < r->elements; k++)
            if (r->element[k]->type == REDIS_REPLY_ERROR) {
                snprintf(err, errlen, "Redis %s %s: %s", key, field, r->element[k]->str);
                freeReplyObject(r);
                return -1;
            }
        redisReply *old = r->element[0];
        *old_value = old->type == REDIS_REPLY_STRING ? xstrndup(old->str, old->len) : NULL;
        freeReplyObject(r);
    }
    return 0;
}

/* MULTI; HGET key field; HSET key field value; [HSET meta]; PUBLISH; EXEC.
 * The old value comes from the HGET inside the transaction. */
static int transact_set(redisContext *c, const char *key, const char *field, const char *value, const char *meta_json,
                        const char *message, char **old_value, char *err, size_t errlen)
{
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "HGET %s %s", key, field);
    redisAppendCommand(c, "HSET %s %s %s", key, field, value);
    if (meta_json)
        redisAppendCommand(c, "HSET %s %s %s", KEY_POLICY_META, field, meta_json);
    redisAppendCommand(c, "PUBLISH %s %s", CHANNEL_POLICY, message);
    redisAppendCommand(c, "EXEC");
    return transact_replies(c, 5 + (meta_json ? 1 : 0), key, field, old_value, err, errlen);
}

/* MULTI; HGET key field; HDEL key field; [HDEL meta field]; PUBLISH; EXEC:
 * the removal twin of transact_set. *old_value NULL: nothing was there. */
static int transact_del(redisContext *c, const char *key, const char *field, bool meta, const char *message,
                        char **old_value, char *err, size_t errlen)
{
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "HGET %s %s", key, field);
    redisAppendCommand(c, "HDEL %s %s", key, field);
    if (meta)
        redisAppendCommand(c, "HDEL %s %s", KEY_POLICY_META, field);
    redisAppendCommand(c, "PUBLISH %s %s", CHANNEL_POLICY, message);
    redisAppendCommand(c, "EXEC");
    return transact_replies(c, 5 + (meta ? 1 : 0), key, field, old_value, err, errlen);
}

int policy_unset(redisContext *c, const char *name, char **old_value, char *err, size_t errlen)
{
    *old_value = NULL;
    if (policy_check_name(name, NULL, err, errlen) < 0)
        return -1;
    return transact_del(c, KEY_POLICY, name, true, name, old_value, err, errlen);
}

int policy_breaker_forget(redisContext *c, const char *dep, char **old_value, char *err, size_t errlen)
{
    *old_value = NULL;
    if (!dep || !policy_printable_name(dep)) {
        snprintf(err, errlen, "breaker name '%s' is empty or holds spaces", dep ? dep : "");
        return -1;
    }
    char *message = xasprintf(POLICY_BREAKER_MESSAGE "%s", dep);
    int rc = transact_del(c, KEY_BREAKER_CMD, dep, false, message, old_value, err, errlen);
    free(message);
    return rc;
}

int policy_set(redisContext *c, const char *name, const char *value, const char *who, char **old_value,
               char *canonical, size_t canlen, bool *invalid, char *err, size_t errlen)
{
    *old_value = NULL;
    *invalid = false;
    if (policy_validate(name, value, canonical, canlen, err, errlen) < 0) {
        *invalid = true;
        return -1;
    }
    char at[40];
    now_iso(at, sizeof at);
    cJSON *meta = cJSON_CreateObject();
    cJSON_AddStringToObject(meta, "by", who ? who : "unknown");
    cJSON_AddStringToObject(meta, "at", at);
    char *meta_json = cJSON_PrintUnformatted(meta);
    cJSON_Delete(meta);
    int rc = transact_set(c, KEY_POLICY, name, canonical, meta_json, name, old_value, err, errlen);
    cJSON_free(meta_json);
    return rc;
}

int policy_breaker_command(redisContext *c, const char *dep, const char *command, char **old_value, char *err,
                           size_t errlen)
{
    *old_value = NULL;
    if (strcmp(command, "open") != 0 && strcmp(command, "disabled") != 0 && strcmp(command, "reset") != 0) {
        snprintf(err, errlen, "breaker command must be open, disabled or reset, not '%s'", command);
        return -1;
    }
    if (!dep || !policy_printable_name(dep)) {
        snprintf(err, errlen, "breaker name '%s' is empty or holds spaces", dep ? dep : "");
        return -1;
    }
    char *message = xasprintf(POLICY_BREAKER_MESSAGE "%s", dep);
    int rc = transact_set(c, KEY_BREAKER_CMD, dep, command, NULL, message, old_value, err, errlen);
    free(message);
    return rc;
}

int policy_breaker_fetch(redisContext *c, struct policy_entry **items, size_t *n, char *err, size_t errlen)
{
    return hgetall(c, KEY_BREAKER_CMD, items, n, err, errlen);
}
