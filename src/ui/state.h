/* The console's state and the contract between the screen loop
 * (screen.c) and the views (view-*.c): `struct ui`, which the main thread
 * alone reads and writes, and `struct view_ops`. A view is a
 * `const struct view_ops` — name, key, draw, optional key handler — listed
 * once in views.c's table; adding a view is adding a file and a row there. */
#ifndef QDECK_UI_STATE_H
#define QDECK_UI_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/feed.h"
#include "console/alerts.h"
#include "ui/history.h"
#include "ui/theme.h"
#include "ui/ui.h"

enum sort_column {
    SORT_NAME, SORT_READY, SORT_UNACKED, SORT_TOTAL, SORT_CONSUMERS,
    SORT_IN, SORT_OUT, SORT_AGE, SORT_GROWTH, SORT_COUNT
};

struct ui_row {
    const struct queue_stat *q;
    size_t source;
    double growth;          /* depth change per second, NAN unknown */
    bool stale;             /* its source is failing: last known data */
};

enum prompt_mode { PROMPT_NONE, PROMPT_FILTER, PROMPT_COMMAND };

struct ui;

struct view_ops {
    const char *name;
    const char *summary;                        /* one line for the help */
    int key;                                    /* '1', '2', ... */
    void (*draw)(struct ui *ui, int top, int height);
    bool (*handle_key)(struct ui *ui, int key); /* NULL: no keys of its own */
    /* The view that shows the selected queue: Enter opens its details
     * there, and only while it is drawn do sources read a queue exactly. */
    bool shows_selected_queue;
    /* Quitting (q, SIGINT, SIGTERM) while the view's background work runs:
     * stops it, waits until it settled what was in flight; result gets its
     * line. False when none was running. NULL: nothing to stop. */
    bool (*interrupt)(char *result, size_t len);
};

struct ui {
    const struct ui_options *opt;
    struct feed_view *feeds;        /* per source; snapshot refs held */
    uint64_t *recorded;             /* feed generation last put in history */
    struct history history;
    struct theme theme;
    size_t view;                    /* index into the view table */
    bool quit, help, detail;
    bool modal;                     /* the view takes every key (a typed confirmation) */
    enum prompt_mode prompt;
    char input[256];
    char filter[256];
    enum sort_column sort;
    bool sort_ascending;
    int selected, top;              /* queues view: selected row, first row shown */
    char selected_addr[1024];
    char message[256];
    double message_until;
    struct ui_row *rows;
    size_t nrows, rows_cap;
    int help_top;
    double pruned_at;               /* wall time history was last pruned */
    struct board *board;            /* control plane: guardrails, events (ref held) */
    enum source_status board_status;
    char board_message[256];
    int gr_selected, gr_top;        /* guardrails view */
    int ev_top;                     /* events view: first row shown */
    struct alert_set alerts;        /* thresholds crossed now */
    uint64_t fleet_seen;            /* fleet feed generation alerts last saw */
    struct alert_baseline alert_rate;   /* the fleet readings the error rate is measured from */
    /* Workers view (view-workers.c) */
    struct feed_view fleet;         /* the fleet collector's last table (ref held) */
    int worker_selected, worker_top, worker_sort;
    bool worker_detail;
    char worker_selected_id[256];
    int sched_selected, sched_top;  /* Scheduler view (view-scheduler.c) */
    char confirm_name[192];         /* a :set on an unknown name waiting for y ("" none) */
    char confirm_value[128];
};

/* Shows a line in the footer for a few seconds. */
void ui_message(struct ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
