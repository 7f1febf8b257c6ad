/* Guardrails: validation, immutable snapshots, the Redis reads and writes,
 * and the watcher thread (see policy.h).
 *
 * The watcher's thread owns two connections: `sub` is SUBSCRIBEd and only
 * read when poll() says it has bytes (redisBufferRead +
 * redisGetReplyFromReader, so a quiet channel never trips a socket timeout
 * that would poison the context); `cmd` does the HGETALLs. A self-pipe wakes
 * poll() for shutdown. Each reload builds a new snapshot and swaps it in
 * only when something differs, bumping the version. */
#include "control/policy.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "control/keys.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "net/redis-open.h"

#define BREAKER_CHANNEL_PREFIX "breaker:"

/* ------------------------------------------------------------ validation */

const struct policy_global policy_globals[] = {
    {"shed.priority_below", POLICY_INT_OFF, "off", "park work whose priority is below this"},
    {"shed.auto", POLICY_BOOL, "false", "CoDel: shed sheddable work while queue wait stays above target"},
    {"budget.max_response_tokens", POLICY_INT_OFF, "off", "response token budget passed to handlers"},
};
const size_t policy_nglobals = sizeof policy_globals / sizeof policy_globals[0];

/* Per-name guardrails: PREFIX<name>SUFFIX. */
static const struct {
    const char *prefix, *suffix;
    enum policy_type type;
    const char *fallback;
} scoped[] = {
    {"queue.", ".max_depth", POLICY_INT_OFF, "off"},
    {"queue.", ".paused", POLICY_BOOL, "false"},
    {"dep.", ".rate", POLICY_RATE, "off"},
    {"dep.", ".fallback", POLICY_BOOL, "false"},
    {"task.", ".max_runtime_ms", POLICY_INT_OFF, "off"},
};
#define NSCOPED (sizeof scoped / sizeof scoped[0])

static const char known_names[] =
    "shed.priority_below, shed.auto, budget.max_response_tokens, queue.<name>.max_depth, queue.<name>.paused, "
    "dep.<name>.rate, dep.<name>.fallback, task.<type>.max_runtime_ms";

/* Index into scoped[] of a per-name guardrail and the span of its <name>,
 * or -1. */
static int match_scoped(const char *name, const char **inner, size_t *inner_len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < NSCOPED; i++) {
        size_t p = strlen(scoped[i].prefix), s = strlen(scoped[i].suffix);
        if (n > p + s && strncmp(name, scoped[i].prefix, p) == 0 && strcmp(name + n - s, scoped[i].suffix) == 0) {
            if (inner) {
                *inner = name + p;
                *inner_len = n - p - s;
            }
            return (int)i;
        }
    }
    return -1;
}

static bool printable_name(const char *s)
{
    if (!*s || strlen(s) > 400)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    return true;
}

int policy_check_name(const char *name, enum policy_type *type, char *err, size_t errlen)
{
    if (name && printable_name(name)) {
        for (size_t i = 0; i < policy_nglobals; i++)
            if (strcmp(name, policy_globals[i].name) == 0) {
                if (type)
                    *type = policy_globals[i].type;
                return 0;
            }
        int k = match_scoped(name, NULL, NULL);
        if (k >= 0) {
            if (type)
                *type = scoped[k].type;
            return 0;
        }
    }
    snprintf(err, errlen, "unknown guardrail '%s' (known: %s)", name ? name : "", known_names);
    return -1;
}

const char *policy_default(const char *name)
{
    for (size_t i = 0; i < policy_nglobals; i++)
        if (strcmp(name, policy_globals[i].name) == 0)
            return policy_globals[i].fallback;
    int k = match_scoped(name, NULL, NULL);
    return k >= 0 ? scoped[k].fallback : NULL;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"true", "on", "yes", "1"}, *no[] = {"false", "off", "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return *out = true, 0;
        if (strcasecmp(v, no[i]) == 0)
            return *out = false, 0;
    }
    return -1;
}

/* A non-negative decimal integer that fits a long; "off" gives -1. */
static int parse_int_off(const char *v, long *out)
{
    if (strcasecmp(v, "off") == 0)
        return *out = -1, 0;
    if (!isdigit((unsigned char)*v))
        return -1;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < 0)
        return -1;
    *out = n;
    return 0;
}

/* "50", "50/s", "2.5/s", "off" (0: unlimited). */
static int parse_rate(const char *v, double *out)
{
    if (strcasecmp(v, "off") == 0)
        return *out = 0, 0;
    if (!isdigit((unsigned char)*v))
        return -1;
    char *end;
    errno = 0;
    double r = strtod(v, &end);
    if (errno || !(r > 0) || r > 1e9 || !isfinite(r))
        return -1;
    if (*end && strcmp(end, "/s") != 0)
        return -1;
    *out = r;
    return 0;
}

int policy_validate(const char *name, const char *value, char *canonical, size_t canlen, char *err, size_t errlen)
{
    enum policy_type type;
    if (policy_check_name(name, &type, err, errlen) < 0)
        return -1;
    if (!value)
        value = "";
    bool b;
    long n;
    double r;
    switch (type) {
    case POLICY_BOOL:
        if (parse_bool(value, &b) < 0) {
            snprintf(err, errlen, "%s wants true or false, got '%s'", name, value);
            return -1;
        }
        snprintf(canonical, canlen, "%s", b ? "true" : "false");
        return 0;
    case POLICY_INT_OFF:
        if (parse_int_off(value, &n) < 0) {
            snprintf(err, errlen, "%s wants an integer >= 0 or off, got '%s'", name, value);
            return -1;
        }
        if (n < 0)
            snprintf(canonical, canlen, "off");
        else
            snprintf(canonical, canlen, "%ld", n);
        return 0;
    case POLICY_RATE:
        if (parse_rate(value, &r) < 0) {
            snprintf(err, errlen, "%s wants a rate like 50/s (calls per second > 0) or off, got '%s'", name, value);
            return -1;
        }
        if (r == 0)
            snprintf(canonical, canlen, "off");
        else
            snprintf(canonical, canlen, "%g/s", r);
        return 0;
    }
    return -1;
}

/* ------------------------------------------------------------ snapshots */

static int compare_entries(const void *a, const void *b)
{
    return strcmp(((const struct policy_entry *)a)->name, ((const struct policy_entry *)b)->name);
}

static struct policy_queue *queue_slot(struct policy *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->nqueues; i++)
        if (strlen(p->queues[i].name) == len && strncmp(p->queues[i].name, name, len) == 0)
            return &p->queues[i];
    p->queues = xrealloc(p->queues, (p->nqueues + 1) * sizeof *p->queues);
    p->queues[p->nqueues] = (struct policy_queue){.name = xstrndup(name, len), .max_depth = -1};
    return &p->queues[p->nqueues++];
}

static struct policy_dep *dep_slot(struct policy *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->ndeps; i++)
        if (strlen(p->deps[i].name) == len && strncmp(p->deps[i].name, name, len) == 0)
            return &p->deps[i];
    p->deps = xrealloc(p->deps, (p->ndeps + 1) * sizeof *p->deps);
    p->deps[p->ndeps] = (struct policy_dep){.name = xstrndup(name, len), .rate = -1};
    return &p->deps[p->ndeps++];
}

static struct policy_task *task_slot(struct policy *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->ntasks; i++)
        if (strlen(p->tasks[i].name) == len && strncmp(p->tasks[i].name, name, len) == 0)
            return &p->tasks[i];
    p->tasks = xrealloc(p->tasks, (p->ntasks + 1) * sizeof *p->tasks);
    p->tasks[p->ntasks] = (struct policy_task){.name = xstrndup(name, len), .max_runtime_ms = -1};
    return &p->tasks[p->ntasks++];
}

static void apply_entry(struct policy *p, const char *name, const char *value)
{
    bool b = false;
    long n = -1;
    double r = 0;
    parse_bool(value, &b);
    parse_int_off(value, &n);
    parse_rate(value, &r);
    if (strcmp(name, "shed.priority_below") == 0) {
        p->shed_priority_below = n > INT32_MAX ? INT32_MAX : (int)n;
        return;
    }
    if (strcmp(name, "shed.auto") == 0) {
        p->shed_auto = b;
        return;
    }
    if (strcmp(name, "budget.max_response_tokens") == 0) {
        p->budget_max_response_tokens = n;
        return;
    }
    const char *inner;
    size_t len;
    switch (match_scoped(name, &inner, &len)) {
    case 0: queue_slot(p, inner, len)->max_depth = n; break;
    case 1: queue_slot(p, inner, len)->paused = b; break;
    case 2: dep_slot(p, inner, len)->rate = r; break;
    case 3: dep_slot(p, inner, len)->fallback = b; break;
    case 4: task_slot(p, inner, len)->max_runtime_ms = n; break;
    default: break;
    }
}

struct policy *policy_build(const struct policy_entry *pairs, size_t n, const struct policy_breaker *breakers,
                            size_t nbreakers, uint64_t version)
{
    struct policy *p = xcalloc(1, sizeof *p);
    atomic_init(&p->refs, 1);
    p->version = version;
    p->shed_priority_below = -1;
    p->budget_max_response_tokens = -1;
    p->entries = xcalloc(n ? n : 1, sizeof *p->entries);
    for (size_t i = 0; i < n; i++) {
        char canonical[128], err[512];
        if (policy_validate(pairs[i].name, pairs[i].value, canonical, sizeof canonical, err, sizeof err) < 0) {
            log_debug("policy: ignoring %s in %s: %s", pairs[i].name, KEY_POLICY, err);
            continue;
        }
        p->entries[p->nentries++] = (struct policy_entry){xstrdup(pairs[i].name), xstrdup(canonical)};
        apply_entry(p, pairs[i].name, canonical);
    }
    if (p->nentries > 1)
        qsort(p->entries, p->nentries, sizeof *p->entries, compare_entries);
    p->breakers = xcalloc(nbreakers ? nbreakers : 1, sizeof *p->breakers);
    for (size_t i = 0; i < nbreakers; i++)
        p->breakers[p->nbreakers++] = (struct policy_breaker){xstrdup(breakers[i].dep), xstrdup(breakers[i].command),
                                                              breakers[i].generation};
    return p;
}

struct policy *policy_ref(struct policy *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void policy_release(struct policy *p)
{
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < p->nqueues; i++)
        free(p->queues[i].name);
    for (size_t i = 0; i < p->ndeps; i++)
        free(p->deps[i].name);
    for (size_t i = 0; i < p->ntasks; i++)
        free(p->tasks[i].name);
    for (size_t i = 0; i < p->nentries; i++) {
        free(p->entries[i].name);
        free(p->entries[i].value);
    }
    for (size_t i = 0; i < p->nbreakers; i++) {
        free(p->breakers[i].dep);
        free(p->breakers[i].command);
    }
    free(p->queues);
    free(p->deps);
    free(p->tasks);
    free(p->entries);
    free(p->breakers);
    free(p);
}

const struct policy_queue *policy_queue(const struct policy *p, const char *queue)
{
    const char *bare = strchr(queue, ':');
    const struct policy_queue *by_bare = NULL;
    for (size_t i = 0; i < p->nqueues; i++) {
        if (strcmp(p->queues[i].name, queue) == 0)
            return &p->queues[i];
        if (bare && strcmp(p->queues[i].name, bare + 1) == 0)
            by_bare = &p->queues[i];
    }
    return by_bare;
}

const struct policy_dep *policy_dep(const struct policy *p, const char *dep)
{
    for (size_t i = 0; i < p->ndeps; i++)
        if (strcmp(p->deps[i].name, dep) == 0)
            return &p->deps[i];
    return NULL;
}

const struct policy_task *policy_task(const struct policy *p, const char *type)
{
    for (size_t i = 0; i < p->ntasks; i++)
        if (strcmp(p->tasks[i].name, type) == 0)
            return &p->tasks[i];
    return NULL;
}

const char *policy_value(const struct policy *p, const char *name)
{
    struct policy_entry key = {.name = (char *)name};
    const struct policy_entry *e = p->nentries ? bsearch(&key, p->entries, p->nentries, sizeof key, compare_entries)
                                               : NULL;
    return e ? e->value : policy_default(name);
}

void policy_shed_guardrails(const struct policy *p, const char *queue, int auto_priority, struct shed_guardrails *out)
{
    const struct policy_queue *q = queue ? policy_queue(p, queue) : NULL;
    *out = (struct shed_guardrails){
        .priority_below = p->shed_priority_below,
        .max_depth = q ? q->max_depth : -1,
        .paused = q && q->paused,
        .auto_shed = p->shed_auto,
        .auto_priority = auto_priority,
    };
}

cJSON *policy_applied_json(const struct policy *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "version", (double)p->version);
    cJSON_AddBoolToObject(o, "loaded", p->loaded);
    cJSON *values = cJSON_AddObjectToObject(o, "values");
    for (size_t i = 0; i < policy_nglobals; i++)
        cJSON_AddStringToObject(values, policy_globals[i].name, policy_value(p, policy_globals[i].name));
    for (size_t i = 0; i < p->nentries; i++)
        if (!cJSON_HasObjectItem(values, p->entries[i].name))
            cJSON_AddStringToObject(values, p->entries[i].name, p->entries[i].value);
    cJSON *br = cJSON_AddObjectToObject(o, "breakers");
    for (size_t i = 0; i < p->nbreakers; i++)
        cJSON_AddStringToObject(br, p->breakers[i].dep, p->breakers[i].command);
    return o;
}

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
        qsort(*out, *n, sizeof **out, compare_entries);
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
        struct policy_entry *m = nm ? bsearch(&key, meta, nm, sizeof key, compare_entries) : NULL;
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
    if (!dep || !printable_name(dep)) {
        snprintf(err, errlen, "breaker name '%s' is empty or holds spaces", dep ? dep : "");
        return -1;
    }
    char *message = xasprintf(BREAKER_CHANNEL_PREFIX "%s", dep);
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
    if (!dep || !printable_name(dep)) {
        snprintf(err, errlen, "breaker name '%s' is empty or holds spaces", dep ? dep : "");
        return -1;
    }
    char *message = xasprintf(BREAKER_CHANNEL_PREFIX "%s", dep);
    int rc = transact_set(c, KEY_BREAKER_CMD, dep, command, NULL, message, old_value, err, errlen);
    free(message);
    return rc;
}

int policy_breaker_fetch(redisContext *c, struct policy_entry **items, size_t *n, char *err, size_t errlen)
{
    return hgetall(c, KEY_BREAKER_CMD, items, n, err, errlen);
}

/* ------------------------------------------------------------ watcher */

struct generation {
    char *dep, *command;
    uint64_t generation;
};

struct policy_watcher {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct policy *current;
    _Atomic uint64_t version;
    char *url;
    double timeout;
    int wake[2];
    redisContext *sub, *cmd;
    /* breaker command generations, owned by the thread */
    struct generation *gens;
    size_t ngens;
    uint64_t next_generation;
    char **bumped;            /* deps named by a breaker:<dep> message since the last reload */
    size_t nbumped;
    /* the log says each problem once, then every 30 s, not every second */
    char last_warning[512];
    double last_warning_at;
    size_t last_skipped;
};

static void watcher_warn(struct policy_watcher *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void watcher_warn(struct policy_watcher *w, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    double now = clock_mono();
    if (strcmp(text, w->last_warning) == 0 && now - w->last_warning_at < 30)
        return;
    snprintf(w->last_warning, sizeof w->last_warning, "%s", text);
    w->last_warning_at = now;
    log_warn("policy watcher: %s", text);
}

static void drop_connections(struct policy_watcher *w)
{
    if (w->sub)
        redisFree(w->sub);
    if (w->cmd)
        redisFree(w->cmd);
    w->sub = w->cmd = NULL;
}

static bool was_bumped(struct policy_watcher *w, const char *dep)
{
    for (size_t i = 0; i < w->nbumped; i++)
        if (strcmp(w->bumped[i], dep) == 0)
            return true;
    return false;
}

static uint64_t generation_for(struct policy_watcher *w, const char *dep, const char *command)
{
    for (size_t i = 0; i < w->ngens; i++) {
        struct generation *g = &w->gens[i];
        if (strcmp(g->dep, dep) != 0)
            continue;
        if (strcmp(g->command, command) != 0 || was_bumped(w, dep)) {
            free(g->command);
            g->command = xstrdup(command);
            g->generation = ++w->next_generation;
        }
        return g->generation;
    }
    w->gens = xrealloc(w->gens, (w->ngens + 1) * sizeof *w->gens);
    w->gens[w->ngens] = (struct generation){xstrdup(dep), xstrdup(command), ++w->next_generation};
    return w->gens[w->ngens++].generation;
}

static bool same_policy(const struct policy *a, const struct policy *b)
{
    if (a->loaded != b->loaded || a->nentries != b->nentries || a->nbreakers != b->nbreakers)
        return false;
    for (size_t i = 0; i < a->nentries; i++)
        if (strcmp(a->entries[i].name, b->entries[i].name) || strcmp(a->entries[i].value, b->entries[i].value))
            return false;
    for (size_t i = 0; i < a->nbreakers; i++)
        if (strcmp(a->breakers[i].dep, b->breakers[i].dep) || a->breakers[i].generation != b->breakers[i].generation)
            return false;
    return true;
}

static int reload(struct policy_watcher *w)
{
    char err[512];
    struct policy_entry *vals, *cmds;
    size_t nv, nc;
    if (hgetall(w->cmd, KEY_POLICY, &vals, &nv, err, sizeof err) < 0) {
        watcher_warn(w, "%s", err);
        return -1;
    }
    if (hgetall(w->cmd, KEY_BREAKER_CMD, &cmds, &nc, err, sizeof err) < 0) {
        watcher_warn(w, "%s", err);
        policy_entries_free(vals, nv);
        return -1;
    }
    struct policy_breaker *br = xcalloc(nc ? nc : 1, sizeof *br);
    for (size_t i = 0; i < nc; i++)
        br[i] = (struct policy_breaker){cmds[i].name, cmds[i].value, generation_for(w, cmds[i].name, cmds[i].value)};
    for (size_t i = 0; i < w->nbumped; i++)
        free(w->bumped[i]);
    w->nbumped = 0;

    pthread_mutex_lock(&w->lock);
    uint64_t version = w->current->version;
    pthread_mutex_unlock(&w->lock);
    struct policy *next = policy_build(vals, nv, br, nc, version + 1);
    next->loaded = true;
    if (nv - next->nentries != w->last_skipped) {
        w->last_skipped = nv - next->nentries;
        if (w->last_skipped)
            log_warn("policy: %zu entr%s of %s %s not valid guardrails and %s ignored (qdeck policy list shows "
                     "the valid ones)", w->last_skipped, w->last_skipped == 1 ? "y" : "ies", KEY_POLICY,
                     w->last_skipped == 1 ? "is" : "are", w->last_skipped == 1 ? "is" : "are");
    }
    free(br);
    policy_entries_free(vals, nv);
    policy_entries_free(cmds, nc);

    pthread_mutex_lock(&w->lock);
    struct policy *old = w->current;
    if (same_policy(old, next)) {
        pthread_mutex_unlock(&w->lock);
        policy_release(next);
        return 0;
    }
    w->current = next;
    atomic_store_explicit(&w->version, next->version, memory_order_release);
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
    log_info("policy: version %llu applied (%zu guardrails, %zu breaker commands)",
             (unsigned long long)next->version, next->nentries, next->nbreakers);
    policy_release(old);
    return 0;
}

static int connect_both(struct policy_watcher *w)
{
    char err[512];
    if (!w->cmd && !(w->cmd = policy_connect(w->url, w->timeout, err, sizeof err)))
        goto fail;
    if (!w->sub) {
        if (!(w->sub = policy_connect(w->url, w->timeout, err, sizeof err)))
            goto fail;
        redisReply *r = redisCommand(w->sub, "SUBSCRIBE %s", CHANNEL_POLICY);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            snprintf(err, sizeof err, "SUBSCRIBE %s: %s", CHANNEL_POLICY,
                     r && r->type == REDIS_REPLY_ERROR ? r->str : w->sub->errstr);
            if (r)
                freeReplyObject(r);
            goto fail;
        }
        freeReplyObject(r);
    }
    return 0;
fail:
    watcher_warn(w, "%s (retrying)", err);
    drop_connections(w);
    return -1;
}

/* Reads whatever the subscriber has; true when a reload is due. -1 on a
 * broken connection. */
static int drain_messages(struct policy_watcher *w)
{
    if (redisBufferRead(w->sub) != REDIS_OK)
        return -1;
    int due = 0;
    for (;;) {
        redisReply *r = NULL;
        if (redisGetReplyFromReader(w->sub, (void **)&r) != REDIS_OK)
            return -1;
        if (!r)
            break;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[2]->type == REDIS_REPLY_STRING) {
            const char *msg = r->element[2]->str;
            due = 1;
            if (strncmp(msg, BREAKER_CHANNEL_PREFIX, strlen(BREAKER_CHANNEL_PREFIX)) == 0) {
                w->bumped = xrealloc(w->bumped, (w->nbumped + 1) * sizeof *w->bumped);
                w->bumped[w->nbumped++] = xstrdup(msg + strlen(BREAKER_CHANNEL_PREFIX));
            }
        }
        freeReplyObject(r);
    }
    return due;
}

static bool stop_requested(struct policy_watcher *w, int timeout_ms)
{
    struct pollfd p = {.fd = w->wake[0], .events = POLLIN};
    return poll(&p, 1, timeout_ms) > 0;
}

static void *watcher_main(void *arg)
{
    struct policy_watcher *w = arg;
    double backoff = 0.1;
    double next_reload = 0;
    for (;;) {
        if (!w->sub || !w->cmd) {
            if (connect_both(w) < 0) {
                if (stop_requested(w, (int)(backoff * 1000)))
                    break;
                backoff = backoff * 2 > 1 ? 1 : backoff * 2;   /* the 2 s promise: never wait longer than 1 s */
                continue;
            }
            backoff = 0.1;
            next_reload = 0;   /* subscribed first, then read: no change falls in between */
        }
        double now = clock_mono();
        if (now >= next_reload) {
            if (reload(w) < 0) {
                drop_connections(w);
                continue;
            }
            next_reload = now + 1.0;
        }
        int wait_ms = (int)((next_reload - clock_mono()) * 1000) + 1;
        struct pollfd fds[2] = {{.fd = w->wake[0], .events = POLLIN}, {.fd = w->sub->fd, .events = POLLIN}};
        int n = poll(fds, 2, wait_ms < 1 ? 1 : wait_ms);
        if (n < 0 && errno != EINTR)
            break;
        if (fds[0].revents)
            break;
        if (fds[1].revents) {
            int due = drain_messages(w);
            if (due < 0) {
                watcher_warn(w, "subscription lost: %s (reconnecting)", w->sub->errstr);
                drop_connections(w);
                continue;
            }
            if (due)
                next_reload = 0;
        }
    }
    drop_connections(w);
    return NULL;
}

struct policy_watcher *policy_watcher_start(const char *redis_url, double timeout)
{
    struct policy_watcher *w = xcalloc(1, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->changed, NULL);
    w->current = policy_build(NULL, 0, NULL, 0, 0);
    atomic_init(&w->version, 0);
    w->url = xstrdup(redis_url ? redis_url : "");
    w->timeout = timeout > 0 ? timeout : 2;
    if (pipe2(w->wake, O_CLOEXEC) < 0 || pthread_create(&w->thread, NULL, watcher_main, w) != 0) {
        log_error("policy watcher: cannot start: %s", strerror(errno));
        abort();
    }
    return w;
}

void policy_watcher_stop(struct policy_watcher *w)
{
    if (!w)
        return;
    if (write(w->wake[1], "x", 1) != 1)
        log_error("policy watcher: cannot wake the thread: %s", strerror(errno));
    pthread_join(w->thread, NULL);
    close(w->wake[0]);
    close(w->wake[1]);
    policy_release(w->current);
    for (size_t i = 0; i < w->ngens; i++) {
        free(w->gens[i].dep);
        free(w->gens[i].command);
    }
    free(w->gens);
    for (size_t i = 0; i < w->nbumped; i++)
        free(w->bumped[i]);
    free(w->bumped);
    free(w->url);
    pthread_cond_destroy(&w->changed);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

struct policy *policy_watcher_get(struct policy_watcher *w)
{
    pthread_mutex_lock(&w->lock);
    struct policy *p = policy_ref(w->current);
    pthread_mutex_unlock(&w->lock);
    return p;
}

uint64_t policy_watcher_version(struct policy_watcher *w)
{
    return atomic_load_explicit(&w->version, memory_order_acquire);
}

uint64_t policy_watcher_wait(struct policy_watcher *w, uint64_t after, double timeout)
{
    struct timespec until = clock_realtime_after(timeout);
    pthread_mutex_lock(&w->lock);
    while (w->current->version <= after)
        if (pthread_cond_timedwait(&w->changed, &w->lock, &until) != 0)
            break;
    uint64_t v = w->current->version;
    pthread_mutex_unlock(&w->lock);
    return v;
}
