/* The console command: starts one collector thread per source, all writing
 * to one notify pipe, and hands the screen to the UI. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "broker/source-kinds.h"
#include "broker/source.h"
#include "cli/app.h"
#include "console/fleet-source.h"
#include "ui/theme.h"
#include "ui/ui.h"

int console_run(struct app *app, const char *title)
{
    char err[512];
    if (theme_check(app->cfg.theme, err, sizeof err) < 0)
        return fail(EXIT_USAGE, "%s", err);
    int rc = app_require_sources(app);
    if (rc != EXIT_OK)
        return rc;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return fail(EXIT_USAGE, "the console needs a terminal (for scripts use `qdeck status --json`)");

    int pipefd[2];
    if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) < 0)
        return fail(EXIT_FAILED, "cannot create notify pipe");
    struct source **srcs;
    size_t n;
    if (sources_from_context(app->ctx, app->cfg.refresh, pipefd[1], &srcs, &n, err, sizeof err) < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return fail(EXIT_USAGE, "%s", err);
    }
    for (size_t i = 0; i < n; i++)
        source_start(srcs[i]);
    struct board_feed *board = board_start(&app->cfg, app->ctx, pipefd[1]);
    /* the Workers view reads the fleet's heartbeats from the context's Redis */
    struct source *fleet = app->ctx->redis
                               ? fleet_source_new(app->ctx->redis, app->ctx, app->cfg.refresh, pipefd[1], err, sizeof err)
                               : NULL;
    if (fleet)
        source_start(fleet);

    struct ui_options opt = {
        .cfg = &app->cfg,
        .ctx = app->ctx,
        .sources = srcs,
        .nsources = n,
        .board = board,
        .fleet = fleet,
        .notify_fd = pipefd[0],
        .iterations = app->iterations,
        .theme = app->cfg.theme,
        .title = title,
    };
    rc = ui_run(&opt);
    board_stop(board);
    fleet_source_free(fleet);
    sources_free(srcs, n);      /* stops and joins the collectors */
    close(pipefd[0]);
    close(pipefd[1]);
    return rc;
}

int cmd_console(struct app *app)
{
    return console_run(app, NULL);
}
