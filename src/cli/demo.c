/* `qdeck demo`: the console over a live system that needs nothing of the
 * user's. It starts
 *   - a private redis-server child on a unix socket (demo/redis-child.c),
 *   - a flaky upstream on 127.0.0.1: an "LLM API" failing in waves and a
 *     slow transcoder (demo/upstream.c),
 *   - the embedded worker pool, configured by the INI text below, whose
 *     http tasks call that upstream through the llm-api dependency, with
 *     its control plane: heartbeat (view 3) and scheduler (view 8),
 *   - two `qdeck worker` children on the same config (demo/worker-children.c),
 *     so the console shows a fleet of three,
 *   - synthetic producers with waves and bursts (demo/workload.c),
 * and opens the console on it. Everything is torn down on exit. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/app.h"
#include "worker/plane.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "demo/redis-child.h"
#include "demo/upstream.h"
#include "demo/worker-children.h"
#include "demo/workload.h"
#include "dlq/sched-replay.h"
#include "worker/worker.h"

/* %1$s: the upstream's base URL. Short retries and breaker waits, so a
 * newcomer sees the whole story within a minute. */
static const char demo_config[] =
    "[worker]\n"
    "queues = redis:llm.summarize, redis:media.transcode, redis:email.send, stream:events#indexers\n"
    "concurrency = 8\n"
    "retry_base = 0.5\n"
    "retry_cap = 8\n"
    "max_attempts = 4\n"
    "shutdown_timeout = 3\n"
    "reap_after = 5\n"
    "[task llm.summarize]\n"
    "handler = http\n"
    "args = url=%1$s/llm,timeout=4\n"
    "timeout = 6\n"
    "dependency = llm-api\n"
    "[task media.transcode]\n"
    "handler = http\n"
    "args = url=%1$s/transcode,timeout=4\n"
    "timeout = 6\n"
    "[task email.send]\n"
    "handler = sleep\n"
    "args = ms=40\n"
    "[task index.doc]\n"
    "handler = sleep\n"
    "args = ms=25\n"
    "[schedule digest]\n"
    "every = 15\n"
    "action = publish\n"
    "queue = redis:email.send\n"
    "type = email.send\n"
    "payload = {\"to\":\"oncall@example.com\",\"template\":\"digest\"}\n"
    "[schedule trim-results]\n"
    "cron = */5 * * * *\n"
    "action = trim\n"
    "pattern = qdeck:task:*\n"
    "limit = 1000\n"
    "[schedule redrive-summaries]\n"
    "every = 30\n"
    "action = replay\n"
    "queue = redis:llm.summarize:dlq\n"
    "limit = 50\n"
    "rate = 20\n"
    "[schedule health]\n"
    "every = 5\n"
    "action = probe\n"
    "[dependency llm-api]\n"
    "window_size = 40\n"
    "minimum_calls = 10\n"
    "failure_rate = 50\n"
    "open_wait = 6\n"
    "half_open_calls = 3\n"
    "[alerts]\n"
    "depth = 600\n"
    "dlq_growth = 60\n";

struct demo {
    struct redis_child redis;
    struct demo_upstream *upstream;
    struct config cfg;
    struct context_config ctx;
    struct worker *worker;
    struct control_plane *plane;      /* heartbeat, scheduler */
    struct dlq_sched_context replay;  /* for the scheduler's replay jobs */
    pthread_t worker_thread;
    bool worker_running;
    struct workload *traffic;
    struct worker_children children;  /* two more workers: a fleet */
};

static void *run_worker(void *arg)
{
    struct demo *d = arg;
    if (worker_run(d->worker) < 0)
        log_error("demo: the embedded worker could not start");
    return NULL;
}

/* The demo's config: the user's global settings (theme, refresh...) plus
 * the built-in worker, task and dependency sections. */
static int demo_config_load(struct demo *d, const struct config *user, const char *upstream, char *err,
                            size_t errlen)
{
    config_defaults(&d->cfg);
    free(d->cfg.theme);
    d->cfg.theme = xstrdup(user->theme);
    d->cfg.refresh = user->refresh;
    d->cfg.history = user->history;
    if (user->audit_log) {
        free(d->cfg.audit_log);
        d->cfg.audit_log = xstrdup(user->audit_log);
    }
    char *text = xasprintf(demo_config, upstream);
    int rc = config_parse_string(text, "demo config", &d->cfg, err, errlen);
    free(text);
    return rc;
}

static void demo_stop(struct demo *d)
{
    workload_stop(d->traffic);
    worker_children_stop(&d->children);
    if (d->worker_running) {
        worker_stop(d->worker, false);
        pthread_join(d->worker_thread, NULL);
    }
    control_plane_stop(d->plane);
    worker_destroy(d->worker);
    demo_upstream_stop(d->upstream);
    redis_child_stop(&d->redis);
    config_context_free(&d->ctx);
    config_free(&d->cfg);
}

static int demo_start(struct demo *d, const struct config *user, char *err, size_t errlen)
{
    char upstream[128];
    if (redis_child_start(&d->redis, err, errlen) < 0)
        return -1;
    if (!(d->upstream = demo_upstream_start(upstream, sizeof upstream, err, errlen)))
        return -1;
    if (demo_config_load(d, user, upstream, err, errlen) < 0)
        return -1;
    config_context_init(&d->ctx, "demo");
    d->ctx.redis = xstrdup(d->redis.url);
    d->ctx.redis_watch = xstrdup("llm.summarize, llm.summarize:dlq, media.transcode, media.transcode:dlq, "
                                 "email.send, email.send:dlq");

    struct worker_options wo = {.cfg = &d->cfg, .ctx = &d->ctx};
    if (!(d->worker = worker_create(&wo, err, errlen)))
        return -1;
    d->replay = (struct dlq_sched_context){.cfg = &d->cfg, .ctx = &d->ctx};
    struct control_plane_options cpo = {.cfg = &d->cfg, .ctx = &d->ctx, .worker = d->worker,
                                        .version = QDECK_VERSION, .replay = dlq_sched_replay,
                                        .hook_ctx = &d->replay};
    if (!(d->plane = control_plane_start(&cpo, err, errlen)))
        return -1;
    if (pthread_create(&d->worker_thread, NULL, run_worker, d) != 0) {
        snprintf(err, errlen, "cannot start the embedded worker thread");
        return -1;
    }
    d->worker_running = true;
    char *text = xasprintf(demo_config, upstream);
    int rc = worker_children_start(&d->children, d->redis.dir, d->redis.url, text, err, errlen);
    free(text);
    if (rc < 0)
        return -1;
    if (!(d->traffic = workload_start(d->redis.url, err, (unsigned)errlen)))
        return -1;
    return 0;
}

int cmd_demo(struct app *app, const struct args *a)
{
    if (a->nwords > 1)
        return fail(EXIT_USAGE, "demo takes no arguments");
    char err[512];
    struct demo d;
    memset(&d, 0, sizeof d);
    if (demo_start(&d, &app->cfg, err, sizeof err) < 0) {
        demo_stop(&d);
        return fail(EXIT_FAILED, "%s", err);
    }
    struct config user = app->cfg;
    const struct context_config *user_ctx = app->ctx;
    app->cfg = d.cfg;
    app->ctx = &d.ctx;
    int rc = console_run(app, "demo");
    d.cfg = app->cfg;
    app->cfg = user;
    app->ctx = user_ctx;
    demo_stop(&d);
    return rc;
}
