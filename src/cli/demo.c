/* `qdeck demo`: the console over a live system that needs nothing of the
 * user's: a private redis-server child on a unix socket and synthetic,
 * flaky traffic, torn down on exit. */
#include <stdio.h>

#include "cli/app.h"
#include "core/xalloc.h"
#include "demo/redis-child.h"
#include "demo/workload.h"

int cmd_demo(struct app *app, int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return fail(EXIT_USAGE, "demo takes no arguments");
    char err[512];
    struct redis_child child;
    if (redis_child_start(&child, err, sizeof err) < 0)
        return fail(EXIT_FAILED, "%s", err);
    struct workload *traffic = workload_start(child.url, err, sizeof err);
    if (!traffic) {
        redis_child_stop(&child);
        return fail(EXIT_FAILED, "%s", err);
    }

    struct context_config demo;
    config_context_init(&demo, "demo");
    demo.redis = xstrdup(child.url);
    app->ctx = &demo;
    int rc = console_run(app, "demo");

    workload_stop(traffic);
    redis_child_stop(&child);
    config_context_free(&demo);
    app->ctx = NULL;
    return rc;
}
