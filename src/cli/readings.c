/* What several view commands read once: every source in parallel (each
 * on a thread and connection of its own, so a hung broker costs one
 * timeout, not one per source), and the control plane's fleet table and
 * guardrails. */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "broker/source-kinds.h"
#include "broker/source.h"
#include "cli/app.h"
#include "control/fleet.h"
#include "control/policy-store.h"
#include "core/clock.h"
#include "core/xalloc.h"

static void *collect_thread(void *arg)
{
    source_collect_once(arg);
    return NULL;
}

void sources_collect_parallel(struct source **srcs, size_t n)
{
    /* a thread that could not be made: its source is read here, after the others */
    pthread_t *threads = xcalloc(n ? n : 1, sizeof *threads);
    bool *threaded = xcalloc(n ? n : 1, sizeof *threaded);
    for (size_t i = 0; i < n; i++)
        srcs[i]->single_pass = true;
    for (size_t i = 0; i < n; i++)
        threaded[i] = pthread_create(&threads[i], NULL, collect_thread, srcs[i]) == 0;
    for (size_t i = 0; i < n; i++) {
        if (threaded[i])
            pthread_join(threads[i], NULL);
        else
            collect_thread(srcs[i]);
    }
    free(threads);
    free(threaded);
}

int cli_read_control(struct app *app, struct fleet_table **fleet, struct policy **policy)
{
    if (!app->ctx->redis)
        return EXIT_OK;
    redisContext *c;
    int rc = control_connect(app, &c);
    if (rc != EXIT_OK)
        return rc;
    char err[512];
    struct policy_entry *pairs = NULL;
    size_t n = 0;
    if (fleet_read(c, NULL, clock_wall(), fleet, err, sizeof err) < 0 ||
        policy_values_fetch(c, &pairs, &n, err, sizeof err) < 0) {
        if (*fleet)
            fleet_table_free(*fleet);
        *fleet = NULL;
        redisFree(c);
        return fail(EXIT_UNREACHABLE, "control plane: %s", err);
    }
    *policy = policy_build(pairs, n, NULL, 0, 1);
    policy_entries_free(pairs, n);
    redisFree(c);
    return EXIT_OK;
}

int cli_open_sources(struct app *app, struct source ***srcs, size_t *n)
{
    int rc = app_require_sources(app);
    if (rc != EXIT_OK)
        return rc;
    char err[512];
    if (sources_from_context(app->ctx, app->cfg.refresh, -1, srcs, n, err, sizeof err) < 0)
        return fail(EXIT_USAGE, "%s", err);
    return EXIT_OK;
}
