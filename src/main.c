/* qdeck: command-line parsing and dispatch only. Global flags come first
 * (getopt_long stops at the first non-option), then a command from the
 * table below; no command opens the console. */
#include <curl/curl.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/app.h"
#include "core/log.h"
#include "core/number.h"
#include "core/xalloc.h"

static const struct command commands[] = {
    {"status", "status [--json]", "one snapshot of every queue of every source", cmd_status,
     "usage: qdeck status [--json]\n"
     "One refresh of every configured source: the queues as a table on stdout (--json: one object),\n"
     "each source's health on stderr. Exit 3 when a source could not be read."},
    {"demo", "demo", "private redis-server + synthetic flaky workload + console", cmd_demo,
     "usage: qdeck demo\n"
     "Starts a private redis-server, a flaky upstream, the worker pool and producers, and opens the console."},
    {"worker", "worker [--queues a,b] [--concurrency N] [--declare]", "headless worker: consume and run tasks",
     cmd_worker,
     "usage: qdeck worker [--queues a,b] [--concurrency N] [--prefetch N] [--declare]\n"
     "                    [--metrics-addr HOST:PORT] [--plugin-dir DIR]"},
    {"publish", "publish QUEUE --type T --payload JSON [--count N]", "put tasks on a queue", cmd_publish,
     publish_usage},
    {"policy", "policy list|get|set|unset", "guardrails: list, get NAME, set NAME VALUE, unset NAME (--json)",
     cmd_policy, policy_usage},
    {"breaker", "breaker list|open|close|reset|forget", "breakers across the fleet; force open/closed, reset, forget",
     cmd_breaker, breaker_usage},
    {"sched", "sched list|run|pause|resume [NAME]", "the fleet's periodic jobs: state, run now, pause, resume",
     cmd_sched, sched_usage},
    {"dlq", "dlq list|show|replay|purge|export|import", "dead-letter queues: browse, replay, purge, export (dlq --help)",
     cmd_dlq, dlq_usage},
};

/* `qdeck CMD ... --help` (or -h) anywhere before a "--": the command's usage
 * on stdout, exit 0, whatever else is on the line. */
static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: qdeck [global options] [command [args]]\n"
            "\n"
            "With no command, opens the console.\n"
            "\n"
            "global options:\n"
            "  --config FILE     config file (default ./qdeck.conf, then $XDG_CONFIG_HOME/qdeck/qdeck.conf)\n"
            "  --context NAME    which [context NAME] of the config to use\n"
            "  --amqp URL        RabbitMQ AMQP URL            (env QDECK_AMQP_URL)\n"
            "  --mgmt URL        RabbitMQ management API URL  (env QDECK_MGMT_URL)\n"
            "  --redis URL       Redis URL                    (env QDECK_REDIS_URL)\n"
            "  --read-only       refuse every mutating action\n"
            "  --theme NAME      colour theme (themes/NAME.theme)\n"
            "  --refresh SECS    seconds between refreshes (default 1)\n"
            "  -n, --iterations N  console: exit after N refreshes\n"
            "  --log FILE        write the log to FILE\n"
            "  -v                more log detail (repeat for debug)\n"
            "  --help-config     list every config key\n"
            "  --version\n"
            "\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-24s %s\n", commands[i].usage, commands[i].help);
    fprintf(out, "\nexit codes: 0 ok, 1 operation failed, 2 usage error, 3 cannot reach a broker\n");
}

static int parse_number(const char *flag, const char *text, double min, double max, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= min && v <= max))
        return fail(EXIT_USAGE, "%s wants a number from %g to %g, got '%s'", flag, min, max, text);
    *out = v;
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    enum { OPT_CONFIG = 256, OPT_CONTEXT, OPT_AMQP, OPT_MGMT, OPT_REDIS, OPT_READ_ONLY, OPT_THEME,
           OPT_REFRESH, OPT_LOG, OPT_HELP_CONFIG, OPT_VERSION };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"context", required_argument, NULL, OPT_CONTEXT},
        {"amqp", required_argument, NULL, OPT_AMQP},
        {"mgmt", required_argument, NULL, OPT_MGMT},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"read-only", no_argument, NULL, OPT_READ_ONLY},
        {"theme", required_argument, NULL, OPT_THEME},
        {"refresh", required_argument, NULL, OPT_REFRESH},
        {"iterations", required_argument, NULL, 'n'},
        {"log", required_argument, NULL, OPT_LOG},
        {"help", no_argument, NULL, 'h'},
        {"help-config", no_argument, NULL, OPT_HELP_CONFIG},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    setlocale(LC_ALL, "");
    signal(SIGPIPE, SIG_IGN);   /* a broker closing a socket is an error to report, not a death */
    stdio_blocking();           /* a closed reader is then EPIPE, which commands take quietly */
    struct app app = {.argv0 = argv[0]};
    const char *log_path = NULL;
    int verbosity = 0, opt, rc;
    long whole;
    char why[200];

    while ((opt = getopt_long(argc, argv, "+hvn:", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_CONFIG: app.ov.config_path = optarg; break;
        case OPT_CONTEXT: app.ov.context = optarg; break;
        case OPT_AMQP: app.ov.amqp = optarg; break;
        case OPT_MGMT: app.ov.mgmt = optarg; break;
        case OPT_REDIS: app.ov.redis = optarg; break;
        case OPT_READ_ONLY: app.ov.read_only = true; break;
        case OPT_THEME: app.ov.theme = optarg; break;
        case OPT_REFRESH:
            if ((rc = parse_number("--refresh", optarg, 0.1, 3600, &app.ov.refresh)) != EXIT_OK)
                return rc;
            break;
        case 'n':
            if (number_parse_flag("--iterations", optarg, 1, 1000000000, &whole, why, sizeof why) < 0)
                return fail(EXIT_USAGE, "%s", why);
            app.iterations = (int)whole;
            break;
        case OPT_LOG: log_path = optarg; break;
        case 'v': verbosity++; break;
        case 'h': usage(stdout); return EXIT_OK;
        case OPT_HELP_CONFIG: config_print_help(); return EXIT_OK;
        case OPT_VERSION: printf("qdeck %s\n", QDECK_VERSION); return EXIT_OK;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; optind < argc && i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, argv[optind]) == 0)
            cmd = &commands[i];
    if (cmd && wants_help(argc - optind, argv + optind)) {
        puts(cmd->synopsis);
        return EXIT_OK;
    }
    log_min_level = verbosity >= 2 ? LOG_DEBUG : verbosity == 1 ? LOG_INFO : LOG_WARN;
    if (log_path && log_open(log_path) < 0)
        return fail(EXIT_USAGE, "cannot open log file %s", log_path);

    char err[512];
    if (config_load(&app.ov, &app.cfg, err, sizeof err) < 0) {
        config_free(&app.cfg);
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
    rc = EXIT_USAGE;
    if (optind >= argc) {
        rc = cmd_console(&app);
    } else {
        if (cmd)
            rc = cmd->run(&app, argc - optind, argv + optind);
        else
            fail(EXIT_USAGE, "unknown command '%s' (try --help)", argv[optind]);
    }
    curl_global_cleanup();
    config_free(&app.cfg);
    log_close();
    return rc;
}
