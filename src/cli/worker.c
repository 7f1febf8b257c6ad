/* `qdeck worker`: the headless worker (docs/envelope.md).
 *
 *   qdeck worker [--queues a,b] [--concurrency N] [--prefetch N] [--declare]
 *                [--metrics-addr HOST:PORT] [--plugin-dir DIR]
 *
 * Logs structured lines to stderr (text, or JSON with [worker] log_format =
 * json). SIGTERM/SIGINT drain: no new tasks, in-flight ones get
 * shutdown_timeout, unfinished ones go back; a second signal stops at once,
 * still acking nothing unfinished. --declare declares the RabbitMQ topology
 * (queue with its DLX wiring, qdeck.dlx, <queue>.dlq) before consuming.
 *
 * Alongside runs the control plane (src/worker/plane.h): the heartbeat to
 * qdeck:worker:<id> every [worker] heartbeat seconds (other workers'
 * reapers use it to tell a live worker from a dead one), the scheduler, and
 * /healthz /readyz /metrics on --metrics-addr; /readyz also wants every
 * consumer connected. A RabbitMQ that refuses the login at start ends the
 * worker at once with exit 3; one that refuses it later (a rotated
 * password) shows in the heartbeat's "health" and fails /readyz while the
 * consumer keeps retrying. */
#include <cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/app.h"
#include "control/keys.h"
#include "worker/plane.h"
#include "core/address.h"
#include "core/log.h"
#include "core/number.h"
#include "core/xalloc.h"
#include "dlq/sched-replay.h"
#include "worker/amqp-link.h"
#include "worker/redis-link.h"
#include "worker/topology.h"
#include "worker/worker.h"

/* Seconds the start-up login check waits at most for the broker. */
#define LOGIN_CHECK_TIMEOUT 4.0

static struct worker *running_worker;

static void on_signal(int sig)
{
    (void)sig;
    if (running_worker)
        worker_stop(running_worker, false);
}

static bool consumers_ready(void *arg, char *reason, size_t len) { return worker_ready(arg, reason, len); }

static int declare_topology(const struct app *app, const char *queues)
{
    char **items;
    size_t n = split_list(queues, &items);
    int rc = EXIT_OK;
    amqp_connection_state_t conn = NULL;
    for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
        struct queue_address a;
        char err[400];
        if (queue_address_parse(items[i], app->ctx, &a, err, sizeof err) < 0) {
            rc = fail(EXIT_USAGE, "%s", err);
            break;
        }
        if (a.kind == QUEUE_AMQP) {
            if (!conn &&
                !(conn = amqp_link_open(app->ctx->amqp, &app->ctx->tls, 0, false, app->ctx->timeout, err, sizeof err)))
                rc = fail(EXIT_UNREACHABLE, "%s", err);
            else if (topology_declare_queue(conn, a.name, err, sizeof err) < 0)
                rc = fail(EXIT_FAILED, "declaring %s: %s", items[i], err);
            else
                log_info("declared amqp:%s with dead letters to %s%s", a.name, a.name, ".dlq");
        }
        queue_address_free(&a);
    }
    amqp_link_close(conn);
    free_list(items, n);
    return rc;
}

/* A refused login or a failed certificate check is a configuration error
 * that no retry fixes: found before anything starts, it ends the worker
 * with one line and exit 3. A broker that is merely away is left to the
 * consumers, which keep trying. */
static int check_amqp_login(const struct app *app, const char *queues)
{
    if (!queues || !app->ctx->amqp || !*app->ctx->amqp)
        return EXIT_OK;
    char **items;
    size_t n = split_list(queues, &items);
    bool wants_amqp = false;
    for (size_t i = 0; i < n && !wants_amqp; i++) {
        struct queue_address a;
        char err[400];
        if (queue_address_parse(items[i], app->ctx, &a, err, sizeof err) == 0) {
            wants_amqp = a.kind == QUEUE_AMQP;
            queue_address_free(&a);
        }
    }
    free_list(items, n);
    if (!wants_amqp)
        return EXIT_OK;
    double timeout = app->ctx->timeout > 0 && app->ctx->timeout < LOGIN_CHECK_TIMEOUT ? app->ctx->timeout
                                                                                      : LOGIN_CHECK_TIMEOUT;
    enum amqp_link_fault fault;
    char err[512];
    amqp_connection_state_t conn =
        amqp_link_connect(app->ctx->amqp, &app->ctx->tls, 0, false, timeout, &fault, err, sizeof err);
    if (conn) {
        amqp_link_close(conn);
        return EXIT_OK;
    }
    if (fault == AMQP_LINK_FAULT_LOGIN || fault == AMQP_LINK_FAULT_URL || fault == AMQP_LINK_FAULT_TLS)
        return fail(EXIT_UNREACHABLE, "%s", err);
    log_warn("%s (the consumers keep trying)", err);
    return EXIT_OK;
}

const struct arg_option worker_options[] = {
    OPT_STRING("queues", 0, "a,b", "the queues to consume (default: the config's)"),
    OPT_LONG("concurrency", 0, "N", "tasks run at once", 1, 4096),
    OPT_LONG("prefetch", 0, "N", "messages held unacknowledged per consumer", 1, 65535),
    OPT_FLAG("declare", 0, "declare the queues and their dead-letter topology"),
    OPT_STRING("metrics-addr", 0, "HOST:PORT", "serve /healthz, /readyz and /metrics there"),
    OPT_STRING("plugin-dir", 0, "DIR", "load task handler plugins from DIR"),
    OPT_END,
};

int cmd_worker(struct app *app, const struct args *a)
{
    struct worker_options opt = {.cfg = &app->cfg, .ctx = app->ctx};
    opt.queues = args_string(a, "queues");
    opt.concurrency = (int)args_long(a, "concurrency", 0);
    opt.prefetch = (int)args_long(a, "prefetch", 0);
    bool declare = args_flag(a, "declare");
    if (args_string(a, "metrics-addr")) {
        free(app->cfg.worker.metrics_addr);
        app->cfg.worker.metrics_addr = xstrdup(args_string(a, "metrics-addr"));
    }
    opt.plugin_dir = args_string(a, "plugin-dir");
    if (a->nwords > 1)
        return fail(EXIT_USAGE, "worker: unexpected argument '%s'", a->words[1]);
    int rc = app_require_sources(app);
    if (rc != EXIT_OK)
        return rc;
    if (log_min_level > LOG_INFO)
        log_min_level = LOG_INFO;   /* headless: what the worker does is the output */
    log_set_json(app->cfg.worker.log_format && strcmp(app->cfg.worker.log_format, "json") == 0);
    const char *queues = opt.queues ? opt.queues : app->cfg.worker.queues;
    if ((rc = check_amqp_login(app, queues)) != EXIT_OK)
        return rc;
    if (declare && queues && (rc = declare_topology(app, queues)) != EXIT_OK)
        return rc;

    char err[512];
    struct worker *w = worker_create(&opt, err, sizeof err);
    if (!w)
        return fail(EXIT_USAGE, "%s", err);
    struct dlq_sched_context replay = {.cfg = &app->cfg, .ctx = app->ctx};
    struct control_plane_options cpo = {
        .cfg = &app->cfg,
        .ctx = app->ctx,
        .worker = w,
        .version = QDECK_VERSION,
        .ready = consumers_ready,
        .ready_arg = w,
        .replay = dlq_sched_replay,   /* [schedule] action = replay */
        .hook_ctx = &replay,
    };
    struct control_plane *cp = control_plane_start(&cpo, err, sizeof err);
    if (!cp) {
        worker_destroy(w);
        return fail(EXIT_USAGE, "%s", err);
    }

    running_worker = w;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    rc = worker_run(w) == 0 ? EXIT_OK : EXIT_FAILED;
    control_plane_stop(cp);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    running_worker = NULL;
    worker_destroy(w);
    return rc;
}
