/* The console's state and the contract between the screen loop
 * (screen.c) and the views (view-*.c). A view is a `const struct view_ops`
 * — name, key, draw, optional key handler — listed once in screen.c's
 * view table; adding a view is adding a file and a row there. */
#ifndef QDECK_SCREEN_H
#define QDECK_SCREEN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/feed.h"
#include "ui/alerts.h"
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
};

extern const struct view_ops overview_view;
extern const struct view_ops queues_view;
extern const struct view_ops guardrails_view;
extern const struct view_ops events_view;
extern const struct view_ops workers_view;
extern const struct view_ops latency_view;
extern const struct view_ops breakers_view;
extern const struct view_ops scheduler_view;
extern const struct view_ops dlq_view;
/* Quitting (q, SIGINT, SIGTERM) while the DLQ view's replay or purge runs:
 * stops it, waits until it settled what was in flight and wrote its audit
 * entry; result gets its line. False when none was running. */
bool view_dlq_interrupt(char *result, size_t len);

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
    double alert_prev_at;           /* the fleet reading the error rate is measured from */
    int64_t alert_prev_processed, alert_prev_failed;
    double alert_next_at;           /* the reading that becomes that baseline next */
    int64_t alert_next_processed, alert_next_failed;
    /* Workers view (view-workers.c) */
    struct feed_view fleet;         /* the fleet collector's last table (ref held) */
    int worker_selected, worker_top, worker_sort;
    bool worker_detail;
    char worker_selected_id[256];
    int sched_selected, sched_top;  /* Scheduler view (view-scheduler.c) */
    char confirm_name[192];         /* a :set on an unknown name waiting for y ("" none) */
    char confirm_value[128];
};

/* Rebuilds ui->rows: every queue of every source, filtered and sorted. */
void ui_build_rows(struct ui *ui);
void ui_message(struct ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Validates and queues a guardrail change (refused when read-only). One on
 * a name nothing knows waits for ui_confirm_guardrail_key. */
void ui_set_guardrail(struct ui *ui, const char *name, const char *value);
/* The key after such a :set: y writes it, any other key drops it. false
 * when nothing waits (the key is then dispatched as usual). */
bool ui_confirm_guardrail_key(struct ui *ui, int key);
const char *sort_column_name(enum sort_column c);
/* Depth used for sorting, sparklines and totals: total, else ready. */
double queue_depth(const struct queue_stat *q);
/* Small formatters shared by the views ("-" for unknown). */
void fmt_count(char *buf, size_t len, int64_t v);
void fmt_rate(char *buf, size_t len, double v);
void fmt_age(char *buf, size_t len, double seconds, bool at_least);
/* Status chip text for a source: "ok", "disconnected 12s", ... */
void fmt_source_status(const struct feed_view *v, char *buf, size_t len);
/* The first row to draw of a list of n rows in a window of `rows` rows so
 * that `selected` is on screen: top moves as little as possible, and the
 * window's tail is not left empty while rows are hidden above. */
int scroll_top(int top, int selected, int rows, int n);
/* Draws a sparkline of addr's series into `width` columns. */
void draw_sparkline(struct ui *ui, int y, int x, int width, const char *addr, enum history_series s,
                    enum theme_slot slot);

#endif
