/* Guardrail values: validation of names and values, and the immutable,
 * refcounted snapshots built from them (see policy.h). Reading and writing
 * them in Redis is control/policy-store.c; the thread that keeps a worker's
 * snapshot current is control/policy-watcher.c. */
#include "control/policy.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control/keys.h"
#include "core/log.h"
#include "core/xalloc.h"

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
    {"task.", ".rate", POLICY_RATE, "off"},   /* Celery's rate_limit (console/celery-collector.h) */
};
#define NSCOPED (sizeof scoped / sizeof scoped[0])

static const char known_names[] =
    "shed.priority_below, shed.auto, budget.max_response_tokens, queue.<name>.max_depth, queue.<name>.paused, "
    "dep.<name>.rate, dep.<name>.fallback, task.<type>.max_runtime_ms, task.<type>.rate";

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

bool policy_printable_name(const char *s)
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
    if (name && policy_printable_name(name)) {
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

int policy_entry_compare(const void *a, const void *b)
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
        qsort(p->entries, p->nentries, sizeof *p->entries, policy_entry_compare);
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
    const struct policy_entry *e = p->nentries ? bsearch(&key, p->entries, p->nentries, sizeof key, policy_entry_compare)
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
