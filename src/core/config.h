/* Configuration: an INI file read with inih, then QDECK_* environment
 * variables, then command-line flags, each overriding the one before.
 *
 * Every key is defined once, in the option table in config.c, with its type,
 * default and help; the parser, `qdeck --help-config` and the README all come
 * from that table. An unknown section or key is an error naming the file, the
 * line and the key. */
#ifndef QDECK_CONFIG_H
#define QDECK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* TLS to the brokers (amqps://, https://): file paths, NULL when not given.
 * Applied by net/tls.h, the one place that configures a TLS connection. */
struct tls_options {
    char *ca;              /* PEM CA bundle that signs the broker's certificate; NULL: the system's */
    char *cert;            /* PEM client certificate (chain), for brokers that ask for one */
    char *key;             /* PEM private key of cert */
    bool verify;           /* check the broker's certificate and host name */
};

struct context_config {
    char *name;
    char *amqp;            /* raw URLs: may hold passwords, never print them */
    char *mgmt;
    char *redis;
    bool read_only;
    char *celery_events;   /* auto | amqp | redis | off: where the console reads Celery's events */
    double celery_forget;  /* seconds a silent Celery worker stays listed */
    char *redis_keys;      /* comma-separated SCAN MATCH patterns */
    char *redis_exclude;   /* comma-separated glob patterns to leave out */
    char *redis_watch;     /* comma-separated list keys always shown, 0 when empty */
    int redis_scan_cap;    /* keys discovery stops at */
    int redis_scan_rate;
    double mgmt_interval;  /* seconds between management API polls (collect_statistics_interval) */   /* keys SCAN may look at per second (the discovery budget) */
    double timeout;        /* seconds a broker may take to answer */
    struct tls_options tls;
};

/* [worker]: the embedded pool and `qdeck worker`. */
struct worker_config {
    char *queues;          /* comma-separated addresses: amqp:NAME, redis:KEY, stream:KEY#GROUP */
    int concurrency;       /* task slots per process */
    int prefetch;          /* basic.qos per AMQP consumer; 0: concurrency */
    char *plugin_dir;      /* where handler plugins (*.so) are; "": next to the binary */
    double shutdown_timeout;   /* seconds in-flight tasks get on SIGTERM */
    double heartbeat;      /* seconds between heartbeats to the control plane */
    bool results;          /* write the qdeck:task:<id> result store */
    double result_ttl;     /* seconds a result record lives */
    bool idempotency;      /* qdeck:done:<key> SET NX before running */
    double idempotency_ttl;
    long trace_max;        /* records kept in qdeck:trace (XADD MAXLEN ~); 0: no trace */
    double retry_base;     /* backoff: delay = U(0, min(cap, base * 2^attempt)) */
    double retry_cap;
    int max_attempts;
    double claim_idle;     /* streams: XAUTOCLAIM entries idle longer than this */
    double reap_after;     /* Redis lists: a dead worker's processing list is returned after this */
    char *metrics_addr;    /* host:port for /healthz /readyz /metrics, or NULL */
    char *log_format;      /* text | json */
    double shed_target;    /* shed.auto: seconds of minimum queue wait above which work is shed */
    int shed_priority;     /* shed.auto: priority below which work is sheddable */
};

/* [task TYPE]: how one task type runs. */
struct task_config {
    char *name;
    char *handler;         /* plugin name; default: the type's own name */
    char *args;            /* handed to the plugin's create(): "k=v,k=v" */
    double timeout;        /* watchdog: seconds before the task is cancelled */
    int max_attempts;      /* 0: the [worker] default */
    char *dependency;      /* [dependency NAME] guarding its calls, or NULL */
    int priority;          /* default priority for `qdeck publish` */
    double price_in;       /* per million input tokens (cost figures, qdeck sim) */
    double price_out;      /* per million output tokens */
};

/* [dependency NAME]: breaker, rate limiter, bulkhead and fallback. */
struct dependency_config {
    char *name;
    char *window_type;     /* count | time */
    int window_size;       /* calls (count) or seconds (time) */
    int minimum_calls;
    double failure_rate;   /* percent */
    double slow_rate;      /* percent */
    double slow_call;      /* seconds */
    double open_wait;      /* seconds OPEN before HALF_OPEN */
    int half_open_calls;
    double rate;           /* calls per second; 0: unlimited */
    int burst;             /* token bucket size; 0: max(1, rate) */
    bool fleet_rate;       /* share the rate across the fleet through Redis (GCRA) */
    int max_concurrent;    /* bulkhead; 0: unlimited */
    char *fallback;        /* JSON result used while OPEN or when the guardrail says so */
};

/* [schedule NAME]: a periodic job run by the fleet's one scheduler leader. */
struct schedule_config {
    char *name;
    char *cron;            /* five-field cron expression, or NULL */
    double every;          /* seconds, when cron is not given */
    char *action;          /* publish | replay | trim | probe */
    char *queue;           /* publish/replay: the queue address */
    char *type;            /* publish: task type */
    char *payload;         /* publish: JSON payload */
    int limit;             /* replay: most messages per run; trim: most keys */
    double rate;           /* replay: messages per second; 0: unpaced */
    char *pattern;         /* trim: key pattern */
    bool paused;
};

/* [alerts]: thresholds that highlight the Overview; 0 turns one off. */
struct alerts_config {
    long depth;
    double age;            /* seconds, oldest message */
    double error_rate;     /* percent of tasks failing */
    double p99;            /* seconds, end-to-end */
    bool breaker_open;
    long dlq_growth;       /* messages per minute */
    bool bell;
};

struct config {
    char *path;            /* file read, or NULL when none was found */
    char *context;         /* [qdeck] context = NAME: the default context */
    char *theme;
    double refresh;        /* seconds between collector refreshes */
    int history;           /* samples kept for sparklines */
    char *audit_log;       /* local JSONL audit file */
    struct context_config *contexts;
    size_t ncontexts;
    struct worker_config worker;
    struct alerts_config alerts;
    struct task_config *tasks;
    size_t ntasks;
    struct dependency_config *dependencies;
    size_t ndependencies;
    struct schedule_config *schedules;
    size_t nschedules;
};

/* What the command line and environment add on top of the file. */
struct config_overrides {
    const char *config_path;   /* --config */
    const char *context;       /* --context */
    const char *amqp, *mgmt, *redis;
    const char *tls_ca, *tls_cert, *tls_key, *tls_verify;   /* --tls-* */
    const char *theme;
    double refresh;            /* 0: not given */
    bool read_only;
};

/* Finds the file (--config, ./qdeck.conf, $XDG_CONFIG_HOME/qdeck/qdeck.conf),
 * parses it, applies environment and overrides. 0, or -1 with a message. */
int config_load(const struct config_overrides *ov, struct config *cfg, char *err, size_t errlen);
/* Parses one file into cfg (defaults already applied by config_defaults). */
int config_parse_file(const char *path, struct config *cfg, char *err, size_t errlen);
/* Parses INI text (the demo's built-in config); name is used in errors. */
int config_parse_string(const char *text, const char *name, struct config *cfg, char *err, size_t errlen);
void config_defaults(struct config *cfg);
void config_free(struct config *cfg);
/* A context with every key at its default, and its release. */
void config_context_init(struct context_config *ctx, const char *name);
void config_context_free(struct context_config *ctx);
/* dst becomes a copy of src that owns its strings (every key, TLS included),
 * for a thread that may outlive the config; free with config_context_free. */
void config_context_copy(struct context_config *dst, const struct context_config *src);

/* The context to use: the named one, the [qdeck] default, the only one, or
 * an implicit one built from flags/environment. NULL when none applies. */
const struct context_config *config_active_context(const struct config *cfg);

/* Checks a file's permissions: a warning string (caller frees) when a
 * config that holds secrets is readable by others, else NULL. */
char *config_permission_warning(const char *path, const struct config *cfg);

/* Named sections by name, or NULL. */
const struct task_config *config_task(const struct config *cfg, const char *name);
const struct dependency_config *config_dependency(const struct config *cfg, const char *name);
const struct schedule_config *config_schedule(const struct config *cfg, const char *name);
/* A section with every key at its default (for names the file does not have). */
void config_task_init(struct task_config *t, const char *name);
void config_dependency_init(struct dependency_config *d, const char *name);
void config_schedule_init(struct schedule_config *s, const char *name);
void config_task_free(struct task_config *t);
void config_dependency_free(struct dependency_config *d);
void config_schedule_free(struct schedule_config *s);

/* Writes the option table as help text. */
void config_print_help(void);

/* One key of the option table, for --help-config and the generated
 * qdeck.conf(5). */
struct config_key_doc {
    const char *section;    /* "qdeck", "context", ... */
    bool named;             /* [context NAME] */
    const char *key;
    const char *type;       /* "string", "bool", "int", "number" */
    const char *fallback;   /* NULL: none */
    const char *help;
    double min, max;
    bool ranged;            /* min and max apply */
};
/* Calls fn for every key of the table, section by section. */
void config_each_key(void (*fn)(const struct config_key_doc *doc, void *arg), void *arg);

/* Splits "a,b , c" into trimmed non-empty items; returns count. */
size_t split_list(const char *text, char ***out);
void free_list(char **items, size_t n);

#endif
