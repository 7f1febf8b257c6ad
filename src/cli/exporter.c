/* `qdeck exporter --listen ADDR [--interval SECS]`: serves what the
 * console sees as Prometheus metrics (console/exporter.h) on /metrics,
 * with /healthz, /readyz and a "/" page saying which brokers answer
 * (net/metrics.h). Runs until SIGTERM or SIGINT, which it waits for with
 * sigwait: both are blocked before any thread starts, so every thread
 * inherits the mask and none is interrupted by them. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/app.h"
#include "console/exporter.h"
#include "core/log.h"
#include "net/metrics.h"

#define EXPORTER_DEFAULT_LISTEN "127.0.0.1:9188"
#define EXPORTER_DEFAULT_INTERVAL 5.0

const char exporter_usage[] =
    "usage: qdeck exporter [--listen HOST:PORT] [--interval SECS]\n"
    "Prometheus metrics of every queue, worker, task type, breaker and guardrail the console sees,\n"
    "on http://HOST:PORT/metrics (default " EXPORTER_DEFAULT_LISTEN "), with /healthz, /readyz and a page at /\n"
    "saying which brokers answer. The brokers are read once per interval, however often it is scraped.";

const struct arg_option exporter_options[] = {
    OPT_STRING("listen", 0, "HOST:PORT", "where to serve /metrics (default " EXPORTER_DEFAULT_LISTEN
                                         "; port 0 picks a free one)"),
    OPT_DOUBLE("interval", 0, "SECS", "seconds between collections from the brokers (default 5)", 0.2, 3600, NULL),
    OPT_END,
};

int cmd_exporter(struct app *app, const struct args *a)
{
    if (a->nwords > 1)
        return fail(EXIT_USAGE, "exporter: unknown argument '%s' (usage: qdeck exporter [--listen HOST:PORT])",
                    a->words[1]);
    int rc = app_require_sources(app);
    if (rc != EXIT_OK)
        return rc;
    const char *listen = args_string(a, "listen") ? args_string(a, "listen") : EXPORTER_DEFAULT_LISTEN;
    double interval = args_double(a, "interval", EXPORTER_DEFAULT_INTERVAL);
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || !colon[1])
        return fail(EXIT_USAGE, "exporter: --listen wants HOST:PORT (e.g. " EXPORTER_DEFAULT_LISTEN "), got '%s'",
                    listen);

    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    char err[512];
    struct exporter *ex = exporter_start(app->ctx, interval, err, sizeof err);
    if (!ex)
        return fail(EXIT_USAGE, "exporter: %s", err);
    struct metrics_options mo = {.addr = listen,
                                 .ready = exporter_ready,
                                 .collect = exporter_metrics,
                                 .index = exporter_index,
                                 .ctx = ex};
    struct metrics_server *server = metrics_start(&mo, err, sizeof err);
    if (!server) {
        exporter_stop(ex);
        return fail(EXIT_FAILED, "exporter: %s", err);
    }
    fprintf(stderr, "qdeck: exporter on http://%s/metrics (port %d), collecting every %g s\n", listen,
            metrics_port(server), interval);
    log_info("exporter listening on %s (port %d), interval %g s", listen, metrics_port(server), interval);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    log_info("exporter: signal %d, stopping", sig);
    metrics_stop(server);
    exporter_stop(ex);
    return EXIT_OK;
}
