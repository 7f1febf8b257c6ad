/* The screen loop (screen.c) and the drawing helpers it shares with the
 * views. The console's state and the view contract are ui/state.h; the
 * table of views is views.c, which hands it to screen_run. */
#ifndef QDECK_SCREEN_H
#define QDECK_SCREEN_H

#include <stdbool.h>
#include <stddef.h>

#include "ui/format.h"
#include "ui/queue-rows.h"
#include "ui/state.h"

/* Runs the console over the views (tab order; keys '1'... as each says)
 * until the user quits; ui_run's exit code. */
int screen_run(const struct ui_options *opt, const struct view_ops *const *views, size_t nviews);
/* Calls fn for every key the help overlay lists: each view's key, then the
 * key table the dispatcher reads (for the generated qdeck(1)). */
void screen_each_key(const struct view_ops *const *view_table, size_t count,
                     void (*fn)(const char *label, const char *help, void *arg), void *arg);
/* Draws a sparkline of addr's series into `width` columns. */
void draw_sparkline(struct ui *ui, int y, int x, int width, const char *addr, enum history_series s,
                    enum theme_slot slot);

#endif
