/* The console's state and the contract between the screen loop
 * (screen.c) and the views (view-*.c): `struct ui`, which the main thread
 * alone reads and writes, and `struct view_ops` (tmux's window modes are
 * the model): a view has its own state (init/free), draws from it, may
 * have a table (list.h), a key table and `:` commands of its own. Listed
 * once in views.c's table; adding a view is adding a file and a row there. */
#ifndef QDECK_UI_STATE_H
#define QDECK_UI_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/feed.h"
#include "console/alerts.h"
#include "ui/history.h"
#include "ui/list.h"
#include "ui/theme.h"
#include "ui/type-series.h"
#include "ui/ui.h"

struct ui_row {
    const struct queue_stat *q;
    size_t source;
    double growth;          /* depth change per second, NAN unknown */
    bool stale;             /* its source is failing: last known data */
};

enum prompt_mode { PROMPT_NONE, PROMPT_FILTER, PROMPT_COMMAND };

struct ui;
struct console_writes;

/* A key of a view's own, in its key table: the dispatcher and the help
 * overlay both read the table. run returns false when the key means
 * nothing in the view's present state (the key then goes on to the table
 * and global keys). */
struct view_key {
    int keys[4];              /* 0-terminated */
    const char *label;        /* as shown in help */
    const char *help;
    bool (*run)(struct ui *ui, void *state);
};

/* A `:` command a view registers: offered by Tab, run with what followed it. */
struct view_command {
    const char *name;
    const char *usage;
    void (*run)(struct ui *ui, void *state, const char *args);
};

struct view_ops {
    const char *name;
    const char *short_name;                     /* the tab at 80 columns */
    const char *summary;                        /* one line for the help */
    int key;                                    /* '1', '2', ... */
    /* The view's own state, made once at start and freed at the end (NULL: none). */
    void *(*init)(struct ui *ui);
    void (*free)(void *state);
    void (*draw)(struct ui *ui, void *state, int top, int height);
    /* The view's table (list.h), which the table keys, / and :sort act on; NULL: none. */
    struct list *(*list)(void *state);
    const struct view_key *keys;
    size_t nkeys;
    const struct view_command *commands;
    size_t ncommands;
    /* Only while it is drawn do sources read a queue exactly (the selected
     * and visible ones). */
    bool shows_selected_queue;
};

#define HISTORY_LINES 32

/* The open question of confirm.h. */
struct ui_confirm {
    bool active, typed;
    char what[1024];
    char name[1024];          /* typed: the name to type back */
    char input[1024];
    char cancelled[256];
    void (*run)(struct ui *ui, void *arg);
    void *arg;
    void (*drop)(void *arg);   /* NULL: arg is borrowed */
};

struct ui {
    const struct ui_options *opt;
    struct feed_view *feeds;        /* per source; snapshot refs held */
    uint64_t *recorded;             /* feed generation last put in history */
    struct history history;
    struct type_series types;       /* per task type rings, fed from each new fleet snapshot */
    struct theme theme;
    size_t view;                    /* index into the view table */
    void **states;                  /* per view: its init's state */
    bool quit, help;
    enum prompt_mode prompt;
    char input[256];
    char typed_lines[HISTORY_LINES][256];   /* `:` history, oldest first */
    int ntyped, typed_at;           /* lines kept; the one Up/Down shows (ntyped: the new line) */
    char message[256];
    double message_until;
    bool message_error;             /* the status line in the crit colour */
    struct ui_row *rows;            /* every queue of every source (queue-rows.h) */
    size_t nrows, rows_cap;
    int help_top;
    double pruned_at;               /* wall time history was last pruned */
    struct board *board;            /* control plane: guardrails, events (ref held) */
    enum source_status board_status;
    char board_message[256];
    struct alert_set alerts;        /* thresholds crossed now */
    uint64_t fleet_seen;            /* fleet feed generation alerts last saw */
    struct alert_baseline alert_rate;   /* the fleet readings the error rate is measured from */
    struct feed_view fleet;         /* the fleet collector's last table (ref held) */
    struct ui_confirm confirm;      /* the question open now (confirm.h) */
    struct console_writes *writes;  /* the write queue (console/writes.h) */
};

/* Shows a line in the footer for a few seconds. */
void ui_message(struct ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same in the error colour: something failed. */
void ui_error(struct ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The write queue refused a job (console/writes.h: full): one wording for
 * every view, in the error colour. */
void ui_write_refused(struct ui *ui);

#endif
