/* What every command shares: the parsed global flags, the loaded config,
 * the active context. Commands live one per file in src/cli/ and are listed
 * in the table in main.c (tmux's cmd_entry). */
#ifndef QDECK_APP_H
#define QDECK_APP_H

#include <stdbool.h>

#include "core/config.h"

enum exit_code { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

struct app {
    struct config_overrides ov;
    struct config cfg;
    const struct context_config *ctx;   /* NULL when nothing is configured */
    int iterations;                     /* --iterations: console refresh ticks */
    const char *argv0;
};

struct command {
    const char *name;
    const char *usage;
    const char *help;
    int (*run)(struct app *app, int argc, char **argv);   /* argv[0] is the command */
};

int cmd_status(struct app *app, int argc, char **argv);
int cmd_demo(struct app *app, int argc, char **argv);
int cmd_dlq(struct app *app, int argc, char **argv);
int cmd_console(struct app *app);
/* Opens the console over app->ctx; title is shown in the header. */
int console_run(struct app *app, const char *title);

/* Prints "qdeck: <message>" on stderr; returns code. */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Makes sure a context with at least one source is configured. */
int app_require_sources(struct app *app);

#endif
