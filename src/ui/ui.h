/* The console: ncurses on the main thread only. It poll()s stdin and the
 * notify pipe the collectors write to, takes snapshot references from the
 * feeds, and draws. It never does network I/O. */
#ifndef QDECK_UI_H
#define QDECK_UI_H

#include <stddef.h>

#include "broker/source.h"
#include "console/board.h"
#include "core/config.h"

struct ui_options {
    const struct config *cfg;
    const struct context_config *ctx;   /* may be NULL (no context name) */
    struct source **sources;            /* collectors already started */
    struct board_feed *board;           /* control-plane collector, or NULL (no Redis) */
    size_t nsources;
    struct source *fleet;               /* Workers view: fleet collector (console/fleet-source.h), or NULL */
    int notify_fd;                      /* read end of the feeds' pipe */
    int iterations;                     /* > 0: exit after this many refresh ticks */
    const char *theme;                  /* theme name (already validated) */
    const char *title;                  /* shown in the header, e.g. "demo" */
};

/* Runs the console until the user quits; returns the process exit code:
 * 0, or 3 when a counted run (iterations) ended without any source ever
 * read (each one and why on stderr). */
int ui_run(const struct ui_options *opt);
/* Every key of the console with its help line, from the tables the
 * dispatcher and the help overlay read. */
void ui_each_key(void (*fn)(const char *label, const char *help, void *arg), void *arg);

#endif
