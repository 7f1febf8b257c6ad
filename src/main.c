/* qdeck: command-line parsing and dispatch only. The command (and, for dlq,
 * its subcommand) is the first word; every option, global or the
 * command's, is parsed in one pass by cli/args.c from the tables here and
 * in each command's file, anywhere on the line. No command opens the
 * console. */
#include <curl/curl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/app.h"
#include "cli/args.h"
#include "cli/docs.h"
#include "core/log.h"
#include "core/xalloc.h"

static const struct arg_option global_options[] = {
    OPT_STRING("config", 0, "FILE", "config file (default ./qdeck.conf, then $XDG_CONFIG_HOME/qdeck/qdeck.conf)"),
    OPT_STRING("context", 0, "NAME", "which [context NAME] of the config to use"),
    OPT_STRING("amqp", 0, "URL", "RabbitMQ AMQP URL            (env QDECK_AMQP_URL)"),
    OPT_STRING("mgmt", 0, "URL", "RabbitMQ management API URL  (env QDECK_MGMT_URL)"),
    OPT_STRING("redis", 0, "URL", "Redis URL                    (env QDECK_REDIS_URL)"),
    OPT_STRING("tls-ca", 0, "FILE", "CA of amqps/https brokers    (env QDECK_TLS_CA)"),
    OPT_STRING("tls-cert", 0, "FILE", "TLS client certificate       (env QDECK_TLS_CERT)"),
    OPT_STRING("tls-key", 0, "FILE", "TLS client key               (env QDECK_TLS_KEY)"),
    OPT_STRING("tls-verify", 0, "BOOL", "check brokers' certificates (env QDECK_TLS_VERIFY; default true)"),
    OPT_FLAG("read-only", 0, "refuse every mutating action"),
    OPT_STRING("theme", 0, "NAME", "colour theme (themes/NAME.theme)"),
    OPT_DOUBLE("refresh", 0, "SECS", "seconds between refreshes (default 1)", 0.1, 3600, NULL),
    OPT_LONG("iterations", 'n', "N", "console: exit after N refreshes", 1, 1000000000),
    OPT_STRING("log", 0, "FILE", "write the log to FILE"),
    OPT_COUNT("verbose", 'v', "more log detail (repeat for debug)"),
    OPT_FLAG("help-config", 0, "list every config key"),
    OPT_FLAG("version", 0, "the version"),
    OPT_END,
};

static int cmd_doc(struct app *app, const struct args *a);
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* The hidden ones (_doc, _complete) serve make and the shell completions. */
static const struct command commands[] = {
    {.name = "_doc", .usage = "_doc man1|man5|bash|zsh", .hidden = true, .before_config = true, .run = cmd_doc,
     .help = "writes qdeck(1), qdeck.conf(5) or a completion from these tables (make does)",
     .synopsis = "usage: qdeck _doc man1|man5|bash|zsh"},
    {.name = "_complete", .usage = "_complete contexts|themes", .hidden = true, .run = docs_complete,
     .help = "names for the shell completions", .synopsis = "usage: qdeck _complete contexts|themes"},
    {.name = "status", .usage = "status [--json]", .help = "one snapshot of every queue of every source",
     .run = cmd_status, .options = status_options,
     .synopsis = "usage: qdeck status [--json]\n"
                 "One refresh of every configured source: the queues as a table on stdout (--json: one object),\n"
                 "each source's health on stderr. Exit 3 when a source could not be read."},
    {.name = "demo", .usage = "demo", .help = "private redis-server + synthetic flaky workload + console",
     .run = cmd_demo,
     .synopsis = "usage: qdeck demo\n"
                 "Starts a private redis-server, a flaky upstream, the worker pool and producers, and opens the "
                 "console."},
    {.name = "worker", .usage = "worker [--queues a,b] [--concurrency N] [--declare]",
     .help = "headless worker: consume and run tasks", .run = cmd_worker, .options = worker_options,
     .synopsis = "usage: qdeck worker [--queues a,b] [--concurrency N] [--prefetch N] [--declare]\n"
                 "                    [--metrics-addr HOST:PORT] [--plugin-dir DIR]"},
    {.name = "publish", .usage = "publish QUEUE --type T --payload JSON [--count N]", .help = "put tasks on a queue",
     .run = cmd_publish, .options = publish_options, .synopsis = publish_usage},
    {.name = "policy", .usage = "policy list|get|set|unset",
     .help = "guardrails: list, get NAME, set NAME VALUE, unset NAME (--json)", .run = cmd_policy,
     .options = policy_options, .synopsis = policy_usage},
    {.name = "breaker", .usage = "breaker list|open|close|reset|forget",
     .help = "breakers across the fleet; force open/closed, reset, forget", .run = cmd_breaker,
     .options = breaker_options, .synopsis = breaker_usage},
    {.name = "sched", .usage = "sched list|run|pause|resume [NAME]",
     .help = "the fleet's periodic jobs: state, run now, pause, resume", .run = cmd_sched, .options = sched_options,
     .synopsis = sched_usage},
    {.name = "dlq", .usage = "dlq list|show|replay|purge|export|import",
     .help = "dead-letter queues: browse, replay, purge, export (dlq --help)", .run = cmd_dlq, .subs = dlq_commands,
     .synopsis = dlq_usage},
    {.name = "workers", .usage = "workers [--json]", .help = "the fleet's workers, as the Workers view shows them",
     .run = cmd_workers, .options = view_options,
     .synopsis = "usage: qdeck workers [--json]\n"
                 "Every worker in the registry: kind, state, host:pid, slots, counters, last beat, queues.\n"
                 "Exit 3 when Redis cannot be reached."},
    {.name = "latency", .usage = "latency [--json]", .help = "per task type p50..max of wait, run, end-to-end",
     .run = cmd_latency, .options = view_options,
     .synopsis = "usage: qdeck latency [--json]\n"
                 "The live workers' histograms merged per task type (never averaged); --json in microseconds.\n"
                 "Exit 3 when Redis cannot be reached."},
    {.name = "breakers", .usage = "breakers [--json]", .help = "every dependency's breaker (as breaker list)",
     .run = cmd_breakers, .options = view_options,
     .synopsis = "usage: qdeck breakers [--json]\n"
                 "The same table as `qdeck breaker list`. Exit 3 when Redis cannot be reached."},
    {.name = "events", .usage = "events [--follow] [--json]", .help = "fleet events and the audit trail, newest first",
     .run = cmd_events, .options = events_options,
     .synopsis = "usage: qdeck events [--json] [--follow] [--limit N]\n"
                 "The newest events and audit records; --follow prints new ones until Ctrl-C (--json: JSON Lines).\n"
                 "Exit 3 when Redis cannot be reached."},
    {.name = "alerts", .usage = "alerts [--json]", .help = "the alerts the Overview shows, from one reading",
     .run = cmd_alerts, .options = view_options,
     .synopsis = "usage: qdeck alerts [--json]\n"
                 "The [alerts] thresholds checked against one reading of every source, the fleet and the\n"
                 "guardrails (a paused queue raises no depth alert). Error rate and DLQ growth need two readings:\n"
                 "the console shows them. Exit 3 when a source or the control plane could not be read."},
    {.name = "exporter", .usage = "exporter --listen ADDR",
     .help = "Prometheus metrics of every queue, worker, task type, breaker, guardrail", .run = cmd_exporter,
     .options = exporter_options, .synopsis = exporter_usage},
    {.name = "celery", .usage = "celery watch|workers|ping|rate-limit|...",
     .help = "a Celery fleet: its events, its remote control (celery --help)",
     .run = cmd_celery, .options = celery_options, .synopsis = celery_usage},
    {.name = "task", .usage = "task ID [--json]", .help = "one task from Celery's result backend or qdeck's store",
     .run = cmd_task, .options = task_options, .synopsis = task_usage},
    {.name = "sim", .usage = "sim TRACE [--variants FILE] [--json]",
     .help = "simulate a trace through the fleet's settings: a decision table per variant", .run = cmd_sim,
     .options = sim_options, .synopsis = sim_usage},
    {.name = "trace", .usage = "trace export|replay", .help = "recorded traffic: export it as JSONL, replay it as load",
     .run = cmd_trace, .subs = trace_commands, .synopsis = trace_usage},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: qdeck [global options] [command [args]]\n"
            "\n"
            "With no command, opens the console.\n"
            "\n"
            "global options (anywhere on the line):\n");
    args_print_options(out, global_options);
    fprintf(out, "\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!commands[i].hidden)
            fprintf(out, "  %-24s %s\n", commands[i].usage, commands[i].help);
    fprintf(out, "\nexit codes:");
    for (const struct exit_code_doc *e = exit_codes; e->meaning; e++)
        fprintf(out, "%s %d %s", e == exit_codes ? "" : ",", e->code, e->meaning);
    fprintf(out, "\n");
}

/* The word after the command that names a subcommand of cmd (dlq list),
 * skipping options and their values, or NULL. */
static const struct command *find_sub(const struct command *cmd, int argc, char **argv, int from)
{
    if (!cmd->subs)
        return NULL;
    const struct arg_option *tables[16] = {global_options, cmd->options};
    size_t n = 2;
    for (const struct command *s = cmd->subs; s->name && n + 1 < sizeof tables / sizeof tables[0]; s++)
        tables[n++] = s->options;
    for (int i = from; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            from = i + 1;
            break;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            i += args_takes_value(tables, argv[i]);
            continue;
        }
        from = i;
        break;
    }
    for (const struct command *s = cmd->subs; from < argc && s->name; s++)
        if (strcmp(s->name, argv[from]) == 0)
            return s;
    return NULL;
}

/* The command: the first word that is not an option or an option's value. */
static const struct command *find_command(int argc, char **argv, int *at)
{
    const struct arg_option *tables[] = {global_options, NULL};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return NULL;
        if (argv[i][0] == '-' && argv[i][1]) {
            i += args_takes_value(tables, argv[i]);
            continue;
        }
        *at = i;
        for (size_t k = 0; k < NCOMMANDS; k++)
            if (strcmp(commands[k].name, argv[i]) == 0)
                return &commands[k];
        return NULL;
    }
    return NULL;
}

/* `qdeck CMD [SUB] ... --help`: the usage and the options, from the tables. */
static void command_help(const struct command *cmd, const struct command *sub)
{
    const struct command *c = sub ? sub : cmd;
    puts(c->synopsis);
    bool any = (cmd->options && cmd->options->name) || (sub && sub->options && sub->options->name);
    if (!any)
        return;
    printf("\noptions:\n");
    if (cmd->options)
        args_print_options(stdout, cmd->options);
    if (sub && sub->options)
        args_print_options(stdout, sub->options);
}

/* The global options into app (and log_path, verbosity); an exit code, or
 * -1 to go on. */
static int apply_globals(const struct args *a, struct app *app, const char **log_path)
{
    app->ov.config_path = args_string(a, "config");
    app->ov.context = args_string(a, "context");
    app->ov.amqp = args_string(a, "amqp");
    app->ov.mgmt = args_string(a, "mgmt");
    app->ov.redis = args_string(a, "redis");
    app->ov.tls_ca = args_string(a, "tls-ca");
    app->ov.tls_cert = args_string(a, "tls-cert");
    app->ov.tls_key = args_string(a, "tls-key");
    app->ov.tls_verify = args_string(a, "tls-verify");
    app->ov.read_only = args_flag(a, "read-only");
    app->ov.theme = args_string(a, "theme");
    app->ov.refresh = args_double(a, "refresh", app->ov.refresh);
    app->iterations = (int)args_long(a, "iterations", app->iterations);
    *log_path = args_string(a, "log");
    int verbosity = args_times(a, "verbose");
    log_min_level = verbosity >= 2 ? LOG_DEBUG : verbosity == 1 ? LOG_INFO : LOG_WARN;
    if (args_flag(a, "help-config")) {
        config_print_help();
        return EXIT_OK;
    }
    if (args_flag(a, "version")) {
        printf("qdeck %s\n", QDECK_VERSION);
        return EXIT_OK;
    }
    return -1;
}

static int cmd_doc(struct app *app, const struct args *a)
{
    (void)app;
    const struct cli_tables t = {global_options, commands, NCOMMANDS};
    return docs_run(&t, a);
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    signal(SIGPIPE, SIG_IGN);   /* a broker closing a socket is an error to report, not a death */
    stdio_blocking();           /* a closed reader is then EPIPE, which commands take quietly */
    struct app app = {.argv0 = argv[0]};
    const char *log_path = NULL;
    int rc, at = 0;
    const struct command *cmd = find_command(argc, argv, &at);
    const struct command *sub = cmd ? find_sub(cmd, argc, argv, at + 1) : NULL;
    const struct arg_option *tables[4] = {global_options};
    size_t ntables = 1;
    if (cmd && cmd->options)
        tables[ntables++] = cmd->options;
    if (sub && sub->options)
        tables[ntables++] = sub->options;
    struct args a;
    char err[512];
    if (args_parse(tables, argc - 1, argv + 1, &a, err, sizeof err) < 0) {
        if (cmd)
            fail(EXIT_USAGE, "%s%s%s: %s", cmd->name, sub ? " " : "", sub ? sub->name : "", err);
        else
            fail(EXIT_USAGE, "%s (try --help)", err);
        args_free(&a);
        return EXIT_USAGE;
    }
    if (!cmd && a.nwords) {
        rc = fail(EXIT_USAGE, "unknown command '%s' (try --help)", a.words[0]);
        args_free(&a);
        return rc;
    }
    if (a.help) {
        if (cmd)
            command_help(cmd, sub);
        else
            usage(stdout);
        args_free(&a);
        return EXIT_OK;
    }
    if ((rc = apply_globals(&a, &app, &log_path)) >= 0) {
        args_free(&a);
        return rc;
    }
    if (log_path && log_open(log_path) < 0) {
        args_free(&a);
        return fail(EXIT_USAGE, "cannot open log file %s", log_path);
    }
    if (cmd && cmd->before_config) {
        rc = cmd->run(&app, &a);
        args_free(&a);
        log_close();
        return rc;
    }

    if (config_load(&app.ov, &app.cfg, err, sizeof err) < 0) {
        config_free(&app.cfg);
        args_free(&a);
        return fail(EXIT_USAGE, "%s", err);
    }
    char *warning = config_permission_warning(app.cfg.path, &app.cfg);
    if (warning) {
        fprintf(stderr, "qdeck: warning: %s\n", warning);
        log_warn("%s", warning);
        free(warning);
    }
    app.ctx = config_active_context(&app.cfg);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = app_check_tls(&app);
    if (rc == EXIT_OK && !cmd)
        rc = cmd_console(&app);
    else if (rc == EXIT_OK && sub)
        rc = sub->run(&app, &a);
    else if (rc == EXIT_OK)
        rc = cmd->run(&app, &a);
    curl_global_cleanup();
    config_free(&app.cfg);
    args_free(&a);
    log_close();
    return rc;
}
