/* The prompt line at the foot of the screen: `/` edits the shown view's
 * filter live, `:` takes a command from one table — the console's own
 * (theme, sort, filter, set, help, quit, a view's name) and those the
 * shown view registers (view_ops.commands). `:` keeps a history (Up/Down),
 * completes with Tab (commands, view names, the view's column names,
 * themes, guardrails) and clears with Ctrl-U. */
#ifndef QDECK_UI_PROMPT_H
#define QDECK_UI_PROMPT_H

#include <stdbool.h>
#include <wchar.h>

#include "ui/state.h"

/* The view table the commands know (screen_run's). */
void prompt_set_views(const struct view_ops *const *views, size_t nviews);
/* `/`: edits the shown view's filter; says so when the view has no table. */
void prompt_open_filter(struct ui *ui);
/* `:` with the line prefilled (may be ""). */
void prompt_open_command(struct ui *ui, const char *prefill);
/* A key while the prompt is open. */
void prompt_key(struct ui *ui, wint_t ch, bool is_key);
/* Runs one command line as if typed after `:`. */
void prompt_run_command(struct ui *ui, const char *line);
/* Every completion of the line as it stands, for tests and Tab: fn once
 * per candidate (the whole line it would become). */
void prompt_completions(struct ui *ui, const char *line, void (*fn)(const char *line, void *arg), void *arg);
/* The shown view's list, or NULL. */
struct list *ui_current_list(struct ui *ui);

#endif
