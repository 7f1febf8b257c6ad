/* What every command shares: the parsed global flags, the loaded config,
 * the active context. Commands live one per file in src/cli/ and are listed
 * in the table in main.c (tmux's cmd_entry). */
#ifndef QDECK_APP_H
#define QDECK_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/args.h"
#include "core/config.h"

#define QDECK_VERSION "0.1.0"

enum exit_code { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

/* What each exit code means, for --help and qdeck(1); ended by a NULL
 * meaning. */
struct exit_code_doc {
    int code;
    const char *meaning;
};
extern const struct exit_code_doc exit_codes[];

struct app {
    struct config_overrides ov;
    struct config cfg;
    const struct context_config *ctx;   /* NULL when nothing is configured */
    int iterations;                     /* --iterations: console refresh ticks */
    const char *argv0;
};

/* A command (tmux's cmd_entry): its line in `qdeck --help`, its full usage,
 * its options (cli/args.h; the global ones are added by main.c), and what
 * runs it. A command with subcommands (dlq) lists them in subs, each with
 * its own options; the word after the command picks one. */
struct command {
    const char *name;
    const char *usage;      /* its line in `qdeck --help` */
    const char *help;
    const char *synopsis;   /* the full usage, printed by `qdeck CMD --help` */
    const struct arg_option *options;   /* NULL: none of its own */
    /* a->words[0] is the command (and a->words[1] the subcommand) */
    int (*run)(struct app *app, const struct args *a);
    const struct command *subs;   /* ended by a NULL name; NULL: none */
    bool hidden;            /* not in --help, the man page or the completions (_doc) */
    bool before_config;     /* runs without loading the config (_doc) */
};

/* Each command's full usage and options, kept next to its code. */
extern const char sim_usage[];
extern const struct arg_option sim_options[];
int cmd_sim(struct app *app, const struct args *a);
extern const char celery_usage[], task_usage[], publish_usage[], policy_usage[], breaker_usage[], sched_usage[], dlq_usage[], exporter_usage[];
extern const struct arg_option celery_options[], task_options[], status_options[], worker_options[], publish_options[], policy_options[],
    breaker_options[], sched_options[], exporter_options[];
extern const struct command dlq_commands[];
extern const char trace_usage[];
extern const struct command trace_commands[];
/* `qdeck trace` (export | replay) without a known subcommand. */
int cmd_trace(struct app *app, const struct args *a);

int cmd_status(struct app *app, const struct args *a);
int cmd_demo(struct app *app, const struct args *a);
int cmd_worker(struct app *app, const struct args *a);
int cmd_publish(struct app *app, const struct args *a);
int cmd_sched(struct app *app, const struct args *a);
int cmd_exporter(struct app *app, const struct args *a);
int cmd_celery(struct app *app, const struct args *a);
int cmd_task(struct app *app, const struct args *a);
/* `qdeck dlq` without a known subcommand: says what is wrong. */
int cmd_dlq(struct app *app, const struct args *a);
int cmd_console(struct app *app);
/* Opens the console over app->ctx; title is shown in the header. */
int console_run(struct app *app, const char *title);

int cmd_policy(struct app *app, const struct args *a);
int cmd_breaker(struct app *app, const struct args *a);
/* The views as commands (one file each in cli/): a table, or --json. */
extern const struct arg_option view_options[], events_options[];
int cmd_alerts(struct app *app, const struct args *a);
int cmd_workers(struct app *app, const struct args *a);
int cmd_latency(struct app *app, const struct args *a);
int cmd_breakers(struct app *app, const struct args *a);
int cmd_events(struct app *app, const struct args *a);
/* The fleet from the worker registry (cli/workers.c): EXIT_OK, or an exit
 * code with the reason said; and a worker's state as the view names it
 * (LOST, ERROR, running, stopped). */
struct fleet_table;
struct fleet_worker;
int cli_read_fleet(struct app *app, struct fleet_table **out);
const char *worker_state_text(const struct fleet_worker *w);
/* The fleet and the guardrails in force, when the context has a Redis
 * (else both stay NULL): EXIT_OK, or EXIT_UNREACHABLE with the reason
 * said. In cli/readings.c. */
struct policy;
int cli_read_control(struct app *app, struct fleet_table **fleet, struct policy **policy);
/* `breaker list` (cli/breaker.c), which `qdeck breakers` also prints. */
struct redisContext;
int breaker_list(struct redisContext *c, bool json);

/* One refresh of every source, each on a thread of its own (a hung
 * broker costs one timeout, not one per source); in cli/readings.c.
 * cli_open_sources makes the context's sources (EXIT_OK, or an exit code
 * with the reason said). */
struct source;
void sources_collect_parallel(struct source **srcs, size_t n);
int cli_open_sources(struct app *app, struct source ***srcs, size_t *n);

/* Shared by the control-plane commands (policy, breaker); in cli/policy.c.
 * control_refuse audits the refused action locally and returns EXIT_FAILED
 * with one clear line; control_connect returns an exit code. */
struct redisContext;
bool control_read_only(const struct app *app);
int control_refuse(struct app *app, const char *action, const char *target, const char *new_value);
int control_connect(struct app *app, struct redisContext **out);
char *control_actor(void);   /* identity_actor(): "user@host", caller frees */
/* A command on a name nobody knows leaves a phantom row: refuses (exit 2,
 * one line naming --force) when no live worker, config section, broker
 * queue or existing row knows the queue/dependency/task that name (a
 * guardrail when guardrail, else a breaker's dependency) refers to; with
 * force, warns on stderr and returns EXIT_OK. */
int control_require_known(struct app *app, struct redisContext *c, const char *name, bool guardrail, bool force);

/* Prints a view command's --json (indented, one document on stdout), then
 * frees it. */
struct cJSON;
void print_json(struct cJSON *o);
/* --json of a mutating command: one object on stdout, {"action", "target",
 * "ok", "result"} added to extra (which it takes; NULL for none). */
void print_result_json(const char *action, const char *target, bool ok, const char *result, struct cJSON *extra);
/* A count (null when negative: not known) and a real (null when NAN,
 * else rounded to 3 decimals), as every view command prints them. */
void json_add_count(struct cJSON *o, const char *key, int64_t v);
void json_add_real(struct cJSON *o, const char *key, double v);

/* Prints "qdeck: <message>" on stderr; returns code. */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A stdout or stderr inherited non-blocking (a pipe some parent set so)
 * makes stdio fail with EAGAIN: both are made blocking for the run, and
 * given back as they came at exit. */
void stdio_blocking(void);

/* Makes sure a context with at least one source is configured. */
int app_require_sources(struct app *app);
/* The active context's TLS files (tls_ca, tls_cert, tls_key) can be used:
 * EXIT_OK, or EXIT_USAGE with one line naming the key and the file. */
int app_check_tls(const struct app *app);

#endif
