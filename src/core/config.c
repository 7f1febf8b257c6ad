/* Configuration from an INI file (inih), the environment and flags.
 *
 * The option table below is the only place a key is defined. Sections:
 *   [qdeck]            global settings
 *   [context NAME]     one broker set: amqp, mgmt, redis URLs and options
 *   [worker]           the worker pool; [task TYPE] how a task type runs
 *   [dependency NAME]  breaker, rate limit, bulkhead, fallback
 *   [schedule NAME]    periodic jobs; [alerts] thresholds
 * A file that names a key or section the table does not know is refused
 * with file:line: the key, so a typo never silently means "default". */
#include "core/config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/number.h"
#include "core/url.h"
#include "core/xalloc.h"

enum option_type { OPT_STRING, OPT_BOOL, OPT_INT, OPT_DOUBLE, OPT_LONG };
enum option_scope { SCOPE_GLOBAL, SCOPE_CONTEXT, SCOPE_WORKER, SCOPE_ALERTS,
                    SCOPE_TASK, SCOPE_DEPENDENCY, SCOPE_SCHEDULE, NSCOPES };

/* Where a section's struct lives in struct config. Named sections ("[task
 * NAME]") are arrays whose element starts with `char *name`. */
struct scope_def {
    const char *section;      /* "qdeck", "worker", or the prefix of "task NAME" */
    bool named;
    size_t size;              /* of one element */
    size_t offset;            /* the struct (single) or the array pointer (named) */
    size_t count_offset;      /* named: the element count */
};

static const struct scope_def scopes[NSCOPES] = {
    [SCOPE_GLOBAL] = {"qdeck", false, sizeof(struct config), 0, 0},
    [SCOPE_CONTEXT] = {"context", true, sizeof(struct context_config),
                       offsetof(struct config, contexts), offsetof(struct config, ncontexts)},
    [SCOPE_WORKER] = {"worker", false, sizeof(struct worker_config), offsetof(struct config, worker), 0},
    [SCOPE_ALERTS] = {"alerts", false, sizeof(struct alerts_config), offsetof(struct config, alerts), 0},
    [SCOPE_TASK] = {"task", true, sizeof(struct task_config),
                    offsetof(struct config, tasks), offsetof(struct config, ntasks)},
    [SCOPE_DEPENDENCY] = {"dependency", true, sizeof(struct dependency_config),
                          offsetof(struct config, dependencies), offsetof(struct config, ndependencies)},
    [SCOPE_SCHEDULE] = {"schedule", true, sizeof(struct schedule_config),
                        offsetof(struct config, schedules), offsetof(struct config, nschedules)},
};

struct option_def {
    enum option_scope scope;
    const char *key;
    enum option_type type;
    size_t offset;
    const char *fallback;
    double min, max;          /* for numbers */
    const char *help;
};

#define W(field) offsetof(struct worker_config, field)
#define T(field) offsetof(struct task_config, field)
#define D(field) offsetof(struct dependency_config, field)
#define S(field) offsetof(struct schedule_config, field)
#define A(field) offsetof(struct alerts_config, field)

static const struct option_def options[] = {
    {SCOPE_GLOBAL, "context", OPT_STRING, offsetof(struct config, context), NULL, 0, 0,
     "context used when --context is not given"},
    {SCOPE_GLOBAL, "theme", OPT_STRING, offsetof(struct config, theme), "dark", 0, 0,
     "colour theme: a file themes/NAME.theme"},
    {SCOPE_GLOBAL, "refresh", OPT_DOUBLE, offsetof(struct config, refresh), "1", 0.1, 3600,
     "seconds between refreshes of every source"},
    {SCOPE_GLOBAL, "history", OPT_INT, offsetof(struct config, history), "60", 2, 3600,
     "samples kept per queue for sparklines"},
    {SCOPE_GLOBAL, "audit_log", OPT_STRING, offsetof(struct config, audit_log), "", 0, 0,
     "local JSONL audit file (\"\": $XDG_STATE_HOME/qdeck/audit.jsonl)"},
    {SCOPE_CONTEXT, "amqp", OPT_STRING, offsetof(struct context_config, amqp), NULL, 0, 0,
     "RabbitMQ AMQP URL, amqp[s]://user:pass@host:port/vhost"},
    {SCOPE_CONTEXT, "mgmt", OPT_STRING, offsetof(struct context_config, mgmt), NULL, 0, 0,
     "RabbitMQ management API URL (default: the amqp host, port 15672, same user)"},
    {SCOPE_CONTEXT, "redis", OPT_STRING, offsetof(struct context_config, redis), NULL, 0, 0,
     "Redis URL, redis://[:pass@]host:port/db or unix:///path/redis.sock?db=N"},
    {SCOPE_CONTEXT, "read_only", OPT_BOOL, offsetof(struct context_config, read_only), "false", 0, 0,
     "refuse every mutating action in this context"},
    {SCOPE_CONTEXT, "celery_events", OPT_STRING, offsetof(struct context_config, celery_events), "auto", 0, 0,
     "where the console reads Celery's events: auto (amqp if set, else redis), amqp, redis, off"},
    {SCOPE_CONTEXT, "celery_forget", OPT_DOUBLE, offsetof(struct context_config, celery_forget), "600", 10, 86400,
     "seconds a silent Celery worker stays listed (as lost) before it is forgotten"},
    {SCOPE_CONTEXT, "redis_keys", OPT_STRING, offsetof(struct context_config, redis_keys), "*", 0, 0,
     "comma-separated SCAN patterns for Redis lists and streams to watch"},
    {SCOPE_CONTEXT, "redis_exclude", OPT_STRING, offsetof(struct context_config, redis_exclude),
     "qdeck:*,_kombu.*,unacked*", 0, 0, "comma-separated patterns of Redis keys never shown"},
    {SCOPE_CONTEXT, "redis_watch", OPT_STRING, offsetof(struct context_config, redis_watch), NULL, 0, 0,
     "comma-separated Redis list keys always shown (at depth 0 while empty or missing)"},
    {SCOPE_CONTEXT, "redis_scan_cap", OPT_INT, offsetof(struct context_config, redis_scan_cap),
     "10000", 1, 1000000, "most Redis keys discovered per source"},
    {SCOPE_CONTEXT, "mgmt_interval", OPT_DOUBLE, offsetof(struct context_config, mgmt_interval), "5", 1, 3600,
     "seconds between polls of RabbitMQ's management API: its collect_statistics_interval"},
    {SCOPE_CONTEXT, "redis_scan_rate", OPT_INT, offsetof(struct context_config, redis_scan_rate),
     "2000", 100, 1000000, "keys the console's background discovery lets SCAN look at per second"},
    {SCOPE_CONTEXT, "timeout", OPT_DOUBLE, offsetof(struct context_config, timeout), "5", 0.1, 300,
     "seconds a broker may take to answer before it counts as hung"},
    {SCOPE_CONTEXT, "tls_ca", OPT_STRING, offsetof(struct context_config, tls.ca), NULL, 0, 0,
     "PEM file of the CA that signed the broker's certificate, for amqps:// and https:// (default: the system's CAs)"},
    {SCOPE_CONTEXT, "tls_cert", OPT_STRING, offsetof(struct context_config, tls.cert), NULL, 0, 0,
     "PEM client certificate shown to amqps:// and https:// brokers that ask for one (with tls_key)"},
    {SCOPE_CONTEXT, "tls_key", OPT_STRING, offsetof(struct context_config, tls.key), NULL, 0, 0,
     "PEM private key of tls_cert, unencrypted (default: the tls_cert file itself)"},
    {SCOPE_CONTEXT, "tls_verify", OPT_BOOL, offsetof(struct context_config, tls.verify), "true", 0, 0,
     "check the broker's certificate and host name; false accepts any (testing only)"},

    {SCOPE_WORKER, "queues", OPT_STRING, W(queues), NULL, 0, 0,
     "queues to consume: amqp:NAME, redis:KEY, stream:KEY#GROUP, comma-separated"},
    {SCOPE_WORKER, "concurrency", OPT_INT, W(concurrency), "8", 1, 4096, "task slots per process"},
    {SCOPE_WORKER, "prefetch", OPT_INT, W(prefetch), "0", 0, 65535,
     "AMQP basic.qos prefetch per consumer (0: concurrency)"},
    {SCOPE_WORKER, "plugin_dir", OPT_STRING, W(plugin_dir), "", 0, 0,
     "directory of handler plugins (\"\": plugins/ next to the qdeck binary, else the installed ones)"},
    {SCOPE_WORKER, "shutdown_timeout", OPT_DOUBLE, W(shutdown_timeout), "30", 0, 3600,
     "seconds in-flight tasks get to finish after SIGTERM"},
    {SCOPE_WORKER, "heartbeat", OPT_DOUBLE, W(heartbeat), "1", 0.1, 60,
     "seconds between heartbeats to the control plane"},
    {SCOPE_WORKER, "results", OPT_BOOL, W(results), "true", 0, 0,
     "keep task records qdeck:task:<id> in Redis"},
    {SCOPE_WORKER, "result_ttl", OPT_DOUBLE, W(result_ttl), "86400", 1, 31536000,
     "seconds a task record lives"},
    {SCOPE_WORKER, "idempotency", OPT_BOOL, W(idempotency), "true", 0, 0,
     "skip tasks whose idempotency key is already done (needs Redis)"},
    {SCOPE_WORKER, "idempotency_ttl", OPT_DOUBLE, W(idempotency_ttl), "86400", 1, 31536000,
     "seconds an idempotency key is remembered"},
    {SCOPE_WORKER, "trace_max", OPT_LONG, W(trace_max), "100000", 0, 1e9,
     "records kept in the qdeck:trace stream, one per finished attempt (0: no trace)"},
    {SCOPE_WORKER, "retry_base", OPT_DOUBLE, W(retry_base), "1", 0.001, 3600,
     "retry backoff base, seconds: delay = U(0, min(cap, base*2^attempt))"},
    {SCOPE_WORKER, "retry_cap", OPT_DOUBLE, W(retry_cap), "300", 0.001, 86400, "retry backoff cap, seconds"},
    {SCOPE_WORKER, "max_attempts", OPT_INT, W(max_attempts), "5", 1, 1000,
     "attempts before a task is dead-lettered"},
    {SCOPE_WORKER, "claim_idle", OPT_DOUBLE, W(claim_idle), "60", 1, 86400,
     "streams: seconds before a pending entry is claimed from a silent consumer"},
    {SCOPE_WORKER, "reap_after", OPT_DOUBLE, W(reap_after), "10", 1, 86400,
     "lists: seconds without heartbeat before a worker's processing list is returned"},
    {SCOPE_WORKER, "metrics_addr", OPT_STRING, W(metrics_addr), NULL, 0, 0,
     "host:port serving /healthz /readyz /metrics"},
    {SCOPE_WORKER, "log_format", OPT_STRING, W(log_format), "text", 0, 0, "worker log lines: text or json"},
    {SCOPE_WORKER, "shed_target", OPT_DOUBLE, W(shed_target), "0.5", 0.001, 3600,
     "shed.auto: minimum queue wait (seconds, over 100 ms intervals) above which sheddable work is parked"},
    {SCOPE_WORKER, "shed_priority", OPT_INT, W(shed_priority), "5", 0, 256,
     "shed.auto: tasks with a priority below this are sheddable"},

    {SCOPE_TASK, "handler", OPT_STRING, T(handler), NULL, 0, 0, "handler plugin (default: the task type)"},
    {SCOPE_TASK, "args", OPT_STRING, T(args), NULL, 0, 0, "plugin arguments, k=v,k=v"},
    {SCOPE_TASK, "timeout", OPT_DOUBLE, T(timeout), "300", 0.001, 86400,
     "watchdog: seconds before the task is cancelled"},
    {SCOPE_TASK, "max_attempts", OPT_INT, T(max_attempts), "0", 0, 1000, "0: the [worker] value"},
    {SCOPE_TASK, "dependency", OPT_STRING, T(dependency), NULL, 0, 0, "[dependency NAME] its calls go through"},
    {SCOPE_TASK, "priority", OPT_INT, T(priority), "5", 0, 255, "default priority for qdeck publish"},
    {SCOPE_TASK, "price_in", OPT_DOUBLE, T(price_in), "0", 0, 1e9, "price per million input tokens"},
    {SCOPE_TASK, "price_out", OPT_DOUBLE, T(price_out), "0", 0, 1e9, "price per million output tokens"},

    {SCOPE_DEPENDENCY, "window_type", OPT_STRING, D(window_type), "count", 0, 0, "breaker window: count or time"},
    {SCOPE_DEPENDENCY, "window_size", OPT_INT, D(window_size), "100", 1, 100000, "calls (count) or seconds (time)"},
    {SCOPE_DEPENDENCY, "minimum_calls", OPT_INT, D(minimum_calls), "20", 1, 100000,
     "calls in the window before the breaker may trip"},
    {SCOPE_DEPENDENCY, "failure_rate", OPT_DOUBLE, D(failure_rate), "50", 0, 100, "percent failures that trip"},
    {SCOPE_DEPENDENCY, "slow_rate", OPT_DOUBLE, D(slow_rate), "100", 0, 100, "percent slow calls that trip"},
    {SCOPE_DEPENDENCY, "slow_call", OPT_DOUBLE, D(slow_call), "10", 0.001, 3600, "seconds that make a call slow"},
    {SCOPE_DEPENDENCY, "open_wait", OPT_DOUBLE, D(open_wait), "30", 0.001, 86400, "seconds OPEN before HALF_OPEN"},
    {SCOPE_DEPENDENCY, "half_open_calls", OPT_INT, D(half_open_calls), "5", 1, 10000, "probe calls in HALF_OPEN"},
    {SCOPE_DEPENDENCY, "rate", OPT_DOUBLE, D(rate), "0", 0, 1e9, "calls per second (0: unlimited)"},
    {SCOPE_DEPENDENCY, "burst", OPT_INT, D(burst), "0", 0, 1000000, "token bucket size (0: max(1, rate))"},
    {SCOPE_DEPENDENCY, "fleet_rate", OPT_BOOL, D(fleet_rate), "false", 0, 0,
     "share the rate across every worker through Redis (GCRA)"},
    {SCOPE_DEPENDENCY, "max_concurrent", OPT_INT, D(max_concurrent), "0", 0, 1000000, "bulkhead (0: unlimited)"},
    {SCOPE_DEPENDENCY, "fallback", OPT_STRING, D(fallback), NULL, 0, 0,
     "JSON result used while the breaker is open or the fallback guardrail is on"},

    {SCOPE_SCHEDULE, "cron", OPT_STRING, S(cron), NULL, 0, 0, "five-field cron expression"},
    {SCOPE_SCHEDULE, "every", OPT_DOUBLE, S(every), "0", 0, 31536000, "interval in seconds (instead of cron)"},
    {SCOPE_SCHEDULE, "action", OPT_STRING, S(action), "publish", 0, 0, "publish | replay | trim | probe"},
    {SCOPE_SCHEDULE, "queue", OPT_STRING, S(queue), NULL, 0, 0, "publish/replay: queue address"},
    {SCOPE_SCHEDULE, "type", OPT_STRING, S(type), NULL, 0, 0, "publish: task type"},
    {SCOPE_SCHEDULE, "payload", OPT_STRING, S(payload), "{}", 0, 0, "publish: JSON payload"},
    {SCOPE_SCHEDULE, "limit", OPT_INT, S(limit), "100", 1, 10000000, "replay/trim: most items per run"},
    {SCOPE_SCHEDULE, "rate", OPT_DOUBLE, S(rate), "0", 0, 1e9, "replay: messages per second (0: unpaced)"},
    {SCOPE_SCHEDULE, "pattern", OPT_STRING, S(pattern), "qdeck:task:*", 0, 0, "trim: key pattern"},
    {SCOPE_SCHEDULE, "paused", OPT_BOOL, S(paused), "false", 0, 0, "start paused"},

    {SCOPE_ALERTS, "depth", OPT_LONG, A(depth), "0", 0, 1e15, "alert when a queue is deeper (0: off)"},
    {SCOPE_ALERTS, "age", OPT_DOUBLE, A(age), "0", 0, 1e9, "alert when the oldest message is older, seconds"},
    {SCOPE_ALERTS, "error_rate", OPT_DOUBLE, A(error_rate), "0", 0, 100, "alert above this percent of failing tasks"},
    {SCOPE_ALERTS, "p99", OPT_DOUBLE, A(p99), "0", 0, 1e9, "alert when end-to-end p99 exceeds it, seconds"},
    {SCOPE_ALERTS, "breaker_open", OPT_BOOL, A(breaker_open), "true", 0, 0, "alert while a breaker is open"},
    {SCOPE_ALERTS, "dlq_growth", OPT_LONG, A(dlq_growth), "0", 0, 1e15, "alert when a DLQ grows faster, per minute"},
    {SCOPE_ALERTS, "bell", OPT_BOOL, A(bell), "false", 0, 0, "ring the terminal bell on a new alert"},
};

#undef W
#undef T
#undef D
#undef S
#undef A

static const size_t noptions = sizeof options / sizeof options[0];

/* The struct a single section's keys live in. */
static void *scope_base(enum option_scope scope, struct config *cfg)
{
    return (char *)cfg + scopes[scope].offset;
}

static void *option_field(const struct option_def *o, void *base)
{
    return (char *)base + o->offset;
}

static const struct option_def *find_option(enum option_scope scope, const char *key)
{
    for (size_t i = 0; i < noptions; i++)
        if (options[i].scope == scope && strcmp(options[i].key, key) == 0)
            return &options[i];
    return NULL;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) { *out = true; return 0; }
        if (strcasecmp(v, no[i]) == 0) { *out = false; return 0; }
    }
    return -1;
}

/* Stores value into the option's field; -1 with a reason when it does not fit. */
static int option_set(const struct option_def *o, void *field, const char *value, char *why, size_t whylen)
{
    char *end;
    switch (o->type) {
    case OPT_STRING:
        free(*(char **)field);
        *(char **)field = value ? xstrdup(value) : NULL;
        return 0;
    case OPT_BOOL:
        if (parse_bool(value, field) == 0)
            return 0;
        snprintf(why, whylen, "'%s' is not a boolean (true/false)", value);
        return -1;
    case OPT_INT:
    case OPT_LONG: {
        long v;
        if (number_parse_long(value, (long)o->min, (long)o->max, &v) < 0) {
            snprintf(why, whylen, "'%s' is not a whole number from %g to %g", value, o->min, o->max);
            return -1;
        }
        if (o->type == OPT_INT)
            *(int *)field = (int)v;
        else
            *(long *)field = v;
        return 0;
    }
    case OPT_DOUBLE: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end || !(v >= o->min && v <= o->max)) {
            snprintf(why, whylen, "'%s' is not a number from %g to %g", value, o->min, o->max);
            return -1;
        }
        *(double *)field = v;
        return 0;
    }
    }
    return -1;
}

static void apply_defaults(enum option_scope scope, void *base)
{
    char why[128];
    for (size_t i = 0; i < noptions; i++)
        if (options[i].scope == scope && options[i].fallback)
            option_set(&options[i], option_field(&options[i], base), options[i].fallback, why, sizeof why);
}

static void section_init(enum option_scope scope, void *base, const char *name)
{
    memset(base, 0, scopes[scope].size);
    if (scopes[scope].named)
        *(char **)base = xstrdup(name);
    apply_defaults(scope, base);
}

static void section_free(enum option_scope scope, void *base)
{
    for (size_t j = 0; j < noptions; j++)
        if (options[j].scope == scope && options[j].type == OPT_STRING)
            free(*(char **)option_field(&options[j], base));
    if (scopes[scope].named)
        free(*(char **)base);
    memset(base, 0, scopes[scope].size);
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    apply_defaults(SCOPE_GLOBAL, cfg);
    apply_defaults(SCOPE_WORKER, &cfg->worker);
    apply_defaults(SCOPE_ALERTS, &cfg->alerts);
}

void config_context_init(struct context_config *ctx, const char *name) { section_init(SCOPE_CONTEXT, ctx, name); }
void config_task_init(struct task_config *t, const char *name) { section_init(SCOPE_TASK, t, name); }
void config_dependency_init(struct dependency_config *d, const char *name) { section_init(SCOPE_DEPENDENCY, d, name); }
void config_schedule_init(struct schedule_config *s, const char *name) { section_init(SCOPE_SCHEDULE, s, name); }
void config_context_free(struct context_config *ctx) { section_free(SCOPE_CONTEXT, ctx); }

void config_context_copy(struct context_config *dst, const struct context_config *src)
{
    *dst = *src;
    dst->name = xstrdup(src->name ? src->name : "default");
    for (size_t i = 0; i < noptions; i++) {
        if (options[i].scope != SCOPE_CONTEXT || options[i].type != OPT_STRING)
            continue;
        char **field = option_field(&options[i], dst);
        if (*field)
            *field = xstrdup(*field);
    }
}
void config_task_free(struct task_config *t) { section_free(SCOPE_TASK, t); }
void config_dependency_free(struct dependency_config *d) { section_free(SCOPE_DEPENDENCY, d); }
void config_schedule_free(struct schedule_config *s) { section_free(SCOPE_SCHEDULE, s); }

/* The array of a named scope, and its count. */
static char **named_array(enum option_scope scope, struct config *cfg, size_t **count)
{
    *count = (size_t *)((char *)cfg + scopes[scope].count_offset);
    return (char **)((char *)cfg + scopes[scope].offset);
}

static void *named_find(enum option_scope scope, const struct config *cfg, const char *name)
{
    size_t *count;
    char **array = named_array(scope, (struct config *)cfg, &count);
    for (size_t i = 0; i < *count; i++) {
        void *el = *array + i * scopes[scope].size;
        if (strcmp(*(char **)el, name) == 0)
            return el;
    }
    return NULL;
}

static void *named_add(enum option_scope scope, struct config *cfg, const char *name)
{
    size_t *count;
    char **array = named_array(scope, cfg, &count);
    *array = xrealloc(*array, (*count + 1) * scopes[scope].size);
    void *el = *array + (*count)++ * scopes[scope].size;
    section_init(scope, el, name);
    return el;
}

static struct context_config *context_add(struct config *cfg, const char *name)
{
    return named_add(SCOPE_CONTEXT, cfg, name);
}

static struct context_config *context_find(const struct config *cfg, const char *name)
{
    return named_find(SCOPE_CONTEXT, cfg, name);
}

const struct task_config *config_task(const struct config *cfg, const char *name)
{
    return named_find(SCOPE_TASK, cfg, name);
}

const struct dependency_config *config_dependency(const struct config *cfg, const char *name)
{
    return named_find(SCOPE_DEPENDENCY, cfg, name);
}

const struct schedule_config *config_schedule(const struct config *cfg, const char *name)
{
    return named_find(SCOPE_SCHEDULE, cfg, name);
}

struct parse_state {
    struct config *cfg;
    char section[128];              /* last section seen, to spot new ones */
    void *named;                    /* the current named section's struct */
    char error[256];                /* first error, without file:line */
};

/* Which scope a section header means; *name gets a named section's name. */
static int section_scope(const char *section, const char **name)
{
    if (section[0] == '\0')
        return SCOPE_GLOBAL;
    for (int s = 0; s < NSCOPES; s++) {
        size_t n = strlen(scopes[s].section);
        if (!scopes[s].named) {
            if (strcmp(section, scopes[s].section) == 0)
                return s;
        } else if (strncmp(section, scopes[s].section, n) == 0 && section[n] == ' ') {
            *name = section + n;
            while (**name == ' ')
                (*name)++;
            if (**name)
                return s;
        }
    }
    return -1;
}

static int on_ini_entry(void *user, const char *section, const char *key, const char *value)
{
    struct parse_state *st = user;
    const char *name = NULL;
    int scope = section_scope(section, &name);
    void *base;

    if (scope < 0) {
        if (!st->error[0])
            snprintf(st->error, sizeof st->error, "unknown section [%s]", section);
        return 0;
    }
    if (scopes[scope].named) {
        if (strcmp(st->section, section) != 0) {
            if (named_find(scope, st->cfg, name)) {
                if (!st->error[0])
                    snprintf(st->error, sizeof st->error, "%s '%s' is defined twice", scopes[scope].section, name);
                return 0;
            }
            st->named = named_add(scope, st->cfg, name);
        }
        base = st->named;
    } else {
        base = scope_base(scope, st->cfg);
    }
    snprintf(st->section, sizeof st->section, "%s", section);

    for (size_t i = 0; i < noptions; i++) {
        if ((int)options[i].scope != scope || strcmp(options[i].key, key) != 0)
            continue;
        char why[200];
        if (option_set(&options[i], option_field(&options[i], base), value, why, sizeof why) == 0)
            return 1;
        if (!st->error[0])
            snprintf(st->error, sizeof st->error, "%s: %s", key, why);
        return 0;
    }
    if (!st->error[0])
        snprintf(st->error, sizeof st->error, "unknown key '%s' in [%s]", key,
                 section[0] ? section : "qdeck");
    return 0;
}

/* inih's return: 0, -1 open failed, -2 out of memory, N the first bad line. */
static int parse_result(int rc, const struct parse_state *st, const char *name, char *err, size_t errlen)
{
    if (rc == -1) {
        snprintf(err, errlen, "%s: cannot open: %s", name, strerror(errno));
        return -1;
    }
    if (rc == -2) {
        snprintf(err, errlen, "%s: out of memory while parsing", name);
        return -1;
    }
    if (rc > 0) {
        if (st->error[0])
            snprintf(err, errlen, "%s:%d: %s", name, rc, st->error);
        else
            snprintf(err, errlen, "%s:%d: not an INI line (key = value or [section])", name, rc);
        return -1;
    }
    return 0;
}

int config_parse_file(const char *path, struct config *cfg, char *err, size_t errlen)
{
    struct parse_state st = {.cfg = cfg};
    if (parse_result(ini_parse(path, on_ini_entry, &st), &st, path, err, errlen) < 0)
        return -1;
    free(cfg->path);
    cfg->path = xstrdup(path);
    return 0;
}

int config_parse_string(const char *text, const char *name, struct config *cfg, char *err, size_t errlen)
{
    struct parse_state st = {.cfg = cfg};
    return parse_result(ini_parse_string(text, on_ini_entry, &st), &st, name, err, errlen);
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static char *find_config_file(const char *explicit_path)
{
    if (explicit_path)
        return xstrdup(explicit_path);
    if (file_exists("qdeck.conf"))
        return xstrdup("qdeck.conf");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char *p = xdg && *xdg ? xasprintf("%s/qdeck/qdeck.conf", xdg)
                          : home ? xasprintf("%s/.config/qdeck/qdeck.conf", home) : NULL;
    if (p && file_exists(p))
        return p;
    free(p);
    return NULL;
}

static const char *first_set(const char *a, const char *b)
{
    return a && *a ? a : (b && *b ? b : NULL);
}

/* Each URL of the context speaks its broker's scheme: an http:// URL given
 * as the AMQP URL is refused here, not found out at the first connect. */
static int check_context_urls(const struct context_config *ctx, char *err, size_t errlen)
{
    const struct {
        const char *url;
        enum url_role role;
    } urls[] = {{ctx->amqp, URL_ROLE_AMQP}, {ctx->mgmt, URL_ROLE_MGMT}, {ctx->redis, URL_ROLE_REDIS}};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++)
        if (urls[i].url && broker_url_check_role(urls[i].url, urls[i].role, err, (unsigned)errlen) < 0)
            return -1;
    return 0;
}

/* --tls-* flags, else QDECK_TLS_* variables, over the active context's keys. */
static int apply_tls_overrides(const struct config_overrides *ov, struct context_config *ctx, char *err,
                               size_t errlen)
{
    const struct {
        const char *key, *flag_name, *flag, *env;
    } tls[] = {{"tls_ca", "--tls-ca", ov->tls_ca, "QDECK_TLS_CA"},
               {"tls_cert", "--tls-cert", ov->tls_cert, "QDECK_TLS_CERT"},
               {"tls_key", "--tls-key", ov->tls_key, "QDECK_TLS_KEY"},
               {"tls_verify", "--tls-verify", ov->tls_verify, "QDECK_TLS_VERIFY"}};
    for (size_t i = 0; i < sizeof tls / sizeof tls[0]; i++) {
        const char *value = first_set(tls[i].flag, getenv(tls[i].env));
        const struct option_def *o = find_option(SCOPE_CONTEXT, tls[i].key);
        char why[200];
        if (value && option_set(o, option_field(o, ctx), value, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: %s", tls[i].flag ? tls[i].flag_name : tls[i].env, why);
            return -1;
        }
    }
    return 0;
}

int config_load(const struct config_overrides *ov, struct config *cfg, char *err, size_t errlen)
{
    config_defaults(cfg);
    char *path = find_config_file(ov->config_path);
    if (path) {
        int rc = config_parse_file(path, cfg, err, errlen);
        free(path);
        if (rc < 0)
            return -1;
    }

    const char *amqp = first_set(ov->amqp, getenv("QDECK_AMQP_URL"));
    const char *mgmt = first_set(ov->mgmt, getenv("QDECK_MGMT_URL"));
    const char *redis = first_set(ov->redis, getenv("QDECK_REDIS_URL"));
    const char *want = first_set(ov->context, getenv("QDECK_CONTEXT"));

    if (want) {
        if (!context_find(cfg, want)) {
            snprintf(err, errlen, "no context '%s' in %s", want, cfg->path ? cfg->path : "(no config file)");
            return -1;
        }
        free(cfg->context);
        cfg->context = xstrdup(want);
    } else if (cfg->context && !context_find(cfg, cfg->context)) {
        snprintf(err, errlen, "%s: [qdeck] context = %s names no [context %s] section",
                 cfg->path, cfg->context, cfg->context);
        return -1;
    }

    if (amqp || mgmt || redis) {
        struct context_config *ctx = (struct context_config *)config_active_context(cfg);
        if (!ctx) {
            ctx = context_add(cfg, "default");
            free(cfg->context);
            cfg->context = xstrdup("default");
        }
        if (amqp) { free(ctx->amqp); ctx->amqp = xstrdup(amqp); }
        if (mgmt) { free(ctx->mgmt); ctx->mgmt = xstrdup(mgmt); }
        if (redis) { free(ctx->redis); ctx->redis = xstrdup(redis); }
    }
    const struct context_config *active = config_active_context(cfg);
    if (active && apply_tls_overrides(ov, (struct context_config *)active, err, errlen) < 0)
        return -1;
    if (active && check_context_urls(active, err, errlen) < 0)
        return -1;
    if (ov->theme) { free(cfg->theme); cfg->theme = xstrdup(ov->theme); }
    if (ov->refresh > 0)
        cfg->refresh = ov->refresh;
    if (ov->read_only)
        for (size_t i = 0; i < cfg->ncontexts; i++)
            cfg->contexts[i].read_only = true;
    return 0;
}

const struct context_config *config_active_context(const struct config *cfg)
{
    if (cfg->context)
        return context_find(cfg, cfg->context);
    if (cfg->ncontexts == 1)
        return &cfg->contexts[0];
    return NULL;
}

void config_each_key(void (*fn)(const struct config_key_doc *doc, void *arg), void *arg)
{
    static const char *type_names[] = {"string", "bool", "int", "number", "int"};
    for (int sc = 0; sc < NSCOPES; sc++)
        for (size_t i = 0; i < noptions; i++) {
            const struct option_def *o = &options[i];
            if ((int)o->scope != sc)
                continue;
            struct config_key_doc doc = {
                .section = scopes[sc].section, .named = scopes[sc].named, .key = o->key,
                .type = type_names[o->type], .fallback = o->fallback && *o->fallback ? o->fallback : NULL,
                .help = o->help, .min = o->min, .max = o->max,
                .ranged = o->type == OPT_INT || o->type == OPT_LONG || o->type == OPT_DOUBLE,
            };
            fn(&doc, arg);
        }
}

static void print_key_help(const struct config_key_doc *doc, void *arg)
{
    const char **section = arg;
    if (*section != doc->section)
        printf("[%s%s]\n", doc->section, doc->named ? " NAME" : "");
    *section = doc->section;
    printf("  %-16s %-7s default %-10s %s\n", doc->key, doc->type, doc->fallback ? doc->fallback : "-", doc->help);
}

void config_print_help(void)
{
    const char *section = NULL;
    config_each_key(print_key_help, &section);
}

void config_free(struct config *cfg)
{
    for (int sc = 0; sc < NSCOPES; sc++) {
        if (scopes[sc].named) {
            size_t *count;
            char **array = named_array(sc, cfg, &count);
            for (size_t i = 0; i < *count; i++)
                section_free(sc, *array + i * scopes[sc].size);
            free(*array);
        } else if (sc != SCOPE_GLOBAL) {
            section_free(sc, scope_base(sc, cfg));
        }
    }
    for (size_t j = 0; j < noptions; j++)
        if (options[j].scope == SCOPE_GLOBAL && options[j].type == OPT_STRING)
            free(*(char **)option_field(&options[j], cfg));
    free(cfg->path);
    memset(cfg, 0, sizeof *cfg);
}

size_t split_list(const char *text, char ***out)
{
    size_t n = 0;
    char **items = NULL;
    const char *p = text ? text : "";
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if (b > a) {
            items = xrealloc(items, (n + 1) * sizeof *items);
            items[n++] = xstrndup(a, (size_t)(b - a));
        }
        p = comma ? comma + 1 : end;
    }
    *out = items;
    return n;
}

void free_list(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}
