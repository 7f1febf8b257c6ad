/* View 2, Queues: every queue of every source in one sortable, filterable
 * table with a depth sparkline, and a detail pane for the selected queue.
 * Columns that do not fit a narrow terminal are dropped by priority; the
 * name column is as wide as the longest name and the dead-letter target
 * (last) takes what is left. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "ui/crt.h"
#include "ui/screen.h"
#include "ui/sparkline.h"

/* The view's state: its table over ui->rows, and the detail pane. */
struct queues_state {
    struct list list;
    bool detail;
};

enum column_id { COL_READY, COL_UNACKED, COL_TOTAL, COL_CONSUMERS, COL_UTIL, COL_IN, COL_OUT, COL_ACK,
                 COL_AGE, COL_GROWTH, COL_SPARK, COL_DLX, COL_COUNT };

struct column {
    const char *title;
    int width;
    int sort;            /* the sort_column it shows, or -1 */
    int priority;        /* 1 = shown first; lower priority is dropped first */
};

/* In the order drawn. */
static const struct column columns[COL_COUNT] = {
    [COL_READY] = {"READY", 8, SORT_READY, 1},
    [COL_UNACKED] = {"UNACK", 7, SORT_UNACKED, 3},
    [COL_TOTAL] = {"TOTAL", 8, SORT_TOTAL, 6},
    [COL_CONSUMERS] = {"CONS", 5, SORT_CONSUMERS, 4},
    [COL_UTIL] = {"UTIL%", 5, -1, 11},
    [COL_IN] = {"IN/s", 7, SORT_IN, 5},
    [COL_OUT] = {"OUT/s", 7, SORT_OUT, 7},
    [COL_ACK] = {"ACK/s", 7, -1, 12},
    [COL_AGE] = {"AGE", 8, SORT_AGE, 2},
    [COL_GROWTH] = {"GROW/s", 8, SORT_GROWTH, 9},
    [COL_SPARK] = {"DEPTH", 16, -1, 8},
    [COL_DLX] = {"DLX→", 16, -1, 10},
};

#define NAME_MIN 28

/* Which columns fit: by priority, each only if the name keeps NAME_MIN. */
static void visible_columns(bool shown[COL_COUNT], int *name_width)
{
    int used = 0;
    memset(shown, 0, COL_COUNT * sizeof shown[0]);
    for (int p = 1; p <= COL_COUNT; p++)
        for (int c = 0; c < COL_COUNT; c++)
            if (columns[c].priority == p && NAME_MIN + used + columns[c].width + 1 <= COLS) {
                shown[c] = true;
                used += columns[c].width + 1;
            }
    *name_width = COLS - used;
}

static void cell_text(const struct ui_row *r, enum column_id c, char *buf, size_t len)
{
    const struct queue_stat *q = r->q;
    switch (c) {
    case COL_READY: fmt_count(buf, len, q->ready); break;
    case COL_UNACKED: fmt_count(buf, len, q->unacked); break;
    case COL_TOTAL: fmt_count(buf, len, q->total); break;
    case COL_CONSUMERS: fmt_count(buf, len, q->consumers); break;
    case COL_UTIL:
        if (isnan(q->utilisation)) snprintf(buf, len, "-");
        else snprintf(buf, len, "%.0f%%", q->utilisation * 100);
        break;
    case COL_IN: fmt_rate(buf, len, q->rate_in); break;
    case COL_OUT: fmt_rate(buf, len, q->rate_out); break;
    case COL_ACK: fmt_rate(buf, len, q->rate_ack); break;
    case COL_AGE: fmt_age(buf, len, q->head_age, q->head_age_at_least); break;
    case COL_GROWTH:
        if (isnan(r->growth)) snprintf(buf, len, "-");
        else snprintf(buf, len, "%+.1f", r->growth);
        break;
    case COL_DLX: snprintf(buf, len, "%s", q->dead_letter_to ? q->dead_letter_to : ""); break;
    case COL_SPARK:
    case COL_COUNT: buf[0] = '\0'; break;
    }
}

static void draw_header_row(const struct list *l, int y, const bool shown[COL_COUNT], int name_width)
{
    crt_fill(y, 0, COLS, SLOT_COLUMN);
    char title[64];
    const char *arrow = list_arrow(l, SORT_NAME);
    snprintf(title, sizeof title, "QUEUE%s%s", arrow[0] ? " " : "", arrow);
    int x = crt_put(y, 0, name_width, ALIGN_LEFT, SLOT_COLUMN, title);
    for (int c = 0; c < COL_COUNT; c++) {
        if (!shown[c])
            continue;
        snprintf(title, sizeof title, "%s%s", list_arrow(l, columns[c].sort), columns[c].title);
        x += crt_put(y, x, 1, ALIGN_LEFT, SLOT_COLUMN, " ");
        int w = c == COL_DLX ? COLS - x : columns[c].width;   /* the last column takes the rest */
        x += crt_put(y, x, w, c >= COL_SPARK ? ALIGN_LEFT : ALIGN_RIGHT, SLOT_COLUMN, title);
    }
}

static enum theme_slot row_slot(const struct ui_row *r, bool selected)
{
    if (selected)
        return SLOT_SELECTION;
    return r->stale ? SLOT_STALE : SLOT_DEFAULT;
}

static void draw_row(struct ui *ui, int y, const struct ui_row *r, bool selected, const bool shown[COL_COUNT],
                     int name_width)
{
    enum theme_slot slot = row_slot(r, selected);
    crt_fill(y, 0, COLS, slot);
    const char *badge = r->q->paused ? "PAUSED" : r->q->shed ? "SHED" : NULL;   /* guardrails in force */
    int badge_width = badge ? (int)strlen(badge) + 1 : 0;
    int x = crt_put(y, 0, name_width - badge_width, ALIGN_LEFT, slot, r->q->addr);
    if (badge)
        x += crt_put(y, x, badge_width, ALIGN_RIGHT, selected ? slot : SLOT_WARN, badge);
    for (int c = 0; c < COL_COUNT; c++) {
        if (!shown[c])
            continue;
        x += crt_put(y, x, 1, ALIGN_LEFT, slot, " ");
        if (c == COL_SPARK) {
            draw_sparkline(ui, y, x, columns[c].width, r->q->addr, SERIES_DEPTH,
                           selected ? SLOT_SELECTION : (r->stale ? SLOT_STALE : SLOT_SPARK));
            x += columns[c].width;
            continue;
        }
        char text[256];
        cell_text(r, (enum column_id)c, text, sizeof text);
        enum theme_slot s = slot;
        if (!selected && !r->stale && c == COL_GROWTH && !isnan(r->growth) && r->growth > 0)
            s = SLOT_WARN;
        int w = c == COL_DLX ? COLS - x : columns[c].width;
        x += crt_put(y, x, w, c >= COL_SPARK ? ALIGN_LEFT : ALIGN_RIGHT, s, text);
    }
}

struct detail_field {
    const char *label;
    char text[256];
    enum theme_slot slot;
};

#define DETAIL_ROWS 12

struct detail_column {
    struct detail_field fields[DETAIL_ROWS];
    int n;
};

static void add_field(struct detail_column *col, const char *label, enum theme_slot slot, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_field(struct detail_column *col, const char *label, enum theme_slot slot, const char *fmt, ...)
{
    if (col->n >= DETAIL_ROWS)
        return;
    struct detail_field *f = &col->fields[col->n++];
    f->label = label;
    f->slot = slot;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
}

static void series_range(struct ui *ui, const char *addr, enum history_series s, char *buf, size_t len)
{
    double v[512];
    size_t n = history_series(history_get(&ui->history, addr), s, v, 512);
    double lo = NAN, hi = NAN;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) continue;
        lo = isnan(lo) || v[i] < lo ? v[i] : lo;
        hi = isnan(hi) || v[i] > hi ? v[i] : hi;
    }
    if (n == 0)
        snprintf(buf, len, "no samples yet");
    else if (isnan(lo))
        snprintf(buf, len, "unknown (no rates from this broker)");
    else
        snprintf(buf, len, s == SERIES_DEPTH ? "min %.0f  max %.0f  (%zu samples)" : "min %.1f/s  max %.1f/s  (%zu samples)",
                 lo, hi, n);
}

/* Every field of the selected queue, in two columns, then sparklines of
 * its depth and rates with their ranges. */
static void draw_detail(struct ui *ui, struct queues_state *st, int top, int height)
{
    size_t row;
    if (!list_selected(&st->list, &row) || height < 8) {
        st->detail = false;
        return;
    }
    const struct ui_row *r = &ui->rows[row];
    const struct queue_stat *q = r->q;
    const struct source *src = ui->opt->sources[r->source];
    for (int y = top; y < top + height; y++)
        crt_fill(y, 0, COLS, SLOT_DEFAULT);
    char title[1200];
    snprintf(title, sizeof title, " %s   (Esc closes)", q->addr);
    crt_fill(top, 0, COLS, SLOT_COLUMN);
    crt_put(top, 0, COLS, ALIGN_LEFT, SLOT_COLUMN, title);

    enum theme_slot vs = r->stale ? SLOT_STALE : SLOT_VALUE;
    char a[32], b[32], c[32];
    struct detail_column left = {0}, right = {0};
    fmt_count(a, sizeof a, q->ready);
    fmt_count(b, sizeof b, q->unacked);
    fmt_count(c, sizeof c, q->total);
    add_field(&left, "Messages", vs, "%s ready  %s unacked  %s total", a, b, c);
    fmt_count(a, sizeof a, q->consumers);
    if (isnan(q->utilisation)) snprintf(b, sizeof b, "-");
    else snprintf(b, sizeof b, "%.0f%%", q->utilisation * 100);
    add_field(&left, "Consumers", vs, "%s, utilisation %s", a, b);
    fmt_rate(a, sizeof a, q->rate_in);
    fmt_rate(b, sizeof b, q->rate_out);
    fmt_rate(c, sizeof c, q->rate_ack);
    add_field(&left, "Rates", vs, "in %s/s  out %s/s  ack %s/s", a, b, c);
    fmt_rate(a, sizeof a, q->rate_redeliver);
    add_field(&left, "Redelivered", vs, "%s/s", a);
    fmt_age(a, sizeof a, q->head_age, q->head_age_at_least);
    add_field(&left, "Oldest waiting", vs, "%s%s", a, q->head_age_at_least ? " (lower bound)" : "");
    if (isnan(r->growth))
        add_field(&left, "Growth", vs, "-");
    else
        add_field(&left, "Growth", vs, "%+.2f messages/s", r->growth);

    fmt_count(a, sizeof a, q->length);
    add_field(&left, "Stream length", vs, "%s", a);
    fmt_age(a, sizeof a, q->pending_idle, false);
    add_field(&left, "Oldest pending", vs, "idle %s", a);

    add_field(&right, "Name", vs, "%s", q->name ? q->name : "-");
    add_field(&right, "Kind", vs, "%s", queue_kind_scheme(q->kind));
    add_field(&right, "Source", vs, "%s", src->ops->kind);
    add_field(&right, "URL", vs, "%s", src->display_url);
    add_field(&right, "Dead letters to", vs, "%s", q->dead_letter_to ? q->dead_letter_to : "(none)");
    add_field(&right, "State", vs, "%s%s%s%s", q->state ? q->state : "-", q->paused ? ", PAUSED" : "",
              q->shed ? ", SHED " : "", q->shed ? q->shed : "");
    if (q->workers)
        add_field(&right, "qdeck workers", vs, "%s", q->workers);
    if (q->head_id && !isnan(q->head_seen_at)) {
        fmt_age(a, sizeof a, clock_wall() - q->head_seen_at, false);
        add_field(&right, "Head message", vs, "%s, at the head for %s", q->head_id, a);
    } else {
        add_field(&right, "Head message", vs, "%s", q->head_id ? q->head_id : "-");
    }
    if (r->stale) {
        char status[96];
        fmt_source_status(&ui->feeds[r->source], status, sizeof status);
        add_field(&right, "Source state", SLOT_CRIT, "%s (last known data)", status);
    }

    /* two columns side by side, long values wrapped within their column */
    int half = COLS / 2, y = top + 1, end = top + height;       /* the sparklines get what is left */
    for (int i = 0; (i < left.n || i < right.n) && y < end; i++) {
        int used = 1;
        if (i < left.n) {
            crt_put(y, 1, 16, ALIGN_LEFT, SLOT_LABEL, left.fields[i].label);
            used = crt_put_wrapped(y, 17, half - 18, end - y, left.fields[i].slot, left.fields[i].text);
        }
        if (i < right.n) {
            crt_put(y, half, 17, ALIGN_LEFT, SLOT_LABEL, right.fields[i].label);
            int rused = crt_put_wrapped(y, half + 17, COLS - half - 18, end - y, right.fields[i].slot,
                                        right.fields[i].text);
            used = rused > used ? rused : used;
        }
        y += used;
    }
    y++;
    static const struct { const char *label; enum history_series s; } series[] = {
        {"Depth", SERIES_DEPTH}, {"In /s", SERIES_IN}, {"Out /s", SERIES_OUT}};
    for (size_t i = 0; i < 3 && y < top + height; i++, y++) {
        char range[128];
        int w = COLS - 50 > 10 ? COLS - 50 : 10;
        crt_put(y, 1, 10, ALIGN_LEFT, SLOT_LABEL, series[i].label);
        draw_sparkline(ui, y, 11, w, q->addr, series[i].s, SLOT_SPARK);
        series_range(ui, q->addr, series[i].s, range, sizeof range);
        crt_put(y, 12 + w, COLS - 13 - w, ALIGN_LEFT, SLOT_DIM, range);
    }
    if (y < top + height) {   /* the depth's last 10 minutes (ui/history.h) */
        double window[HISTORY_WINDOW_SLOTS];
        char line[4 * 512 + 1];
        int w = COLS - 50 > 10 ? COLS - 50 : 10;
        size_t n = history_window(history_get(&ui->history, q->addr), window);
        sparkline_render_fit(window, n, w, crt_utf8(), line, sizeof line);
        crt_put(y, 1, 10, ALIGN_LEFT, SLOT_LABEL, "Depth 10m");
        crt_put(y, 11, w, ALIGN_LEFT, SLOT_SPARK, line);
    }
}

/* A failing source gets a line under the table saying why, so the greyed
 * rows are explained without going back to the Overview; a source still
 * discovering its queues says how far it has come, so missing rows are
 * explained too. At most a third of the table goes to these lines. */
static int draw_source_alerts(struct ui *ui, int bottom, int max_lines)
{
    int used = 0;
    for (size_t s = 0; s < ui->opt->nsources && used < max_lines; s++) {
        const struct feed_view *v = &ui->feeds[s];
        const char *discovery = v->snap ? v->snap->discovery : NULL;
        if (v->status == SOURCE_OK && discovery && strncmp(discovery, "discovery complete", 18) != 0) {
            char line[300];
            snprintf(line, sizeof line, "%s %s: more queues may appear", ui->opt->sources[s]->ops->kind, discovery);
            used++;
            crt_put(bottom - used, 0, COLS, ALIGN_LEFT, SLOT_DIM, line);
        }
        if (v->status == SOURCE_OK)
            continue;
        char status[96], line[600];
        fmt_source_status(v, status, sizeof status);
        snprintf(line, sizeof line, "%s %s%s%s%s", ui->opt->sources[s]->ops->kind, status, v->message[0] ? ": " : "",
                 v->message, v->snap ? "  (grey rows: last known data)" : "");
        used++;
        crt_put(bottom - used, 0, COLS, ALIGN_LEFT, SLOT_CRIT, line);
    }
    return used;
}

/* Tells each source which of its queues are on screen, the selected one
 * first, so a source whose bulk figures lag (RabbitMQ's statistics) reads
 * just those exactly, and the selected one every refresh. */
static void focus_visible(struct ui *ui, const struct list *l, int list_height)
{
    const char *names[SOURCE_FOCUS_MAX];
    size_t selected;
    const struct ui_row *sel = list_selected(l, &selected) ? &ui->rows[selected] : NULL;
    for (size_t s = 0; s < ui->opt->nsources; s++) {
        size_t n = 0;
        if (sel && sel->source == s && sel->q->kind == QUEUE_AMQP)
            names[n++] = sel->q->name;
        for (int i = 0; i < list_height && l->top + i < (int)l->n && n < SOURCE_FOCUS_MAX; i++) {
            const struct ui_row *r = &ui->rows[list_row(l, (size_t)(l->top + i))];
            if (r->source == s && r->q->kind == QUEUE_AMQP && r != sel)
                names[n++] = r->q->name;
        }
        source_set_focus(ui->opt->sources[s], names, n);
    }
}

static void draw_queues(struct ui *ui, void *state, int top, int height)
{
    struct queues_state *st = state;
    struct list *l = &st->list;
    list_build(l, &queue_rows_model, ui);
    int name_width;
    bool shown[COL_COUNT];
    visible_columns(shown, &name_width);
    /* the name column as wide as the longest name, when dead-letter targets
     * (the last column) can use the rest */
    int longest = NAME_MIN - 2;
    for (size_t i = 0; i < ui->nrows; i++) {
        int w = crt_width(ui->rows[i].q->addr);
        longest = w > longest ? w : longest;
    }
    if (shown[COL_DLX] && name_width > longest + 2)
        name_width = longest + 2;
    int detail_height = st->detail ? (height / 2 > 16 ? 16 : height / 2) : 0;
    int alerts = draw_source_alerts(ui, top + height - detail_height, (height - detail_height) / 3);
    int list_height = height - 1 - detail_height - alerts;
    draw_header_row(l, top, shown, name_width);
    if (l->n == 0) {
        crt_put(top + 2, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                l->filter[0] ? "no queue matches the filter (/ then Esc clears it)" : "no queues yet");
        st->detail = false;
        return;
    }
    list_scroll(l, list_height);
    for (int i = 0; i < list_height && l->top + i < (int)l->n; i++)
        draw_row(ui, top + 1 + i, &ui->rows[list_row(l, (size_t)(l->top + i))], l->top + i == l->selected, shown,
                 name_width);
    focus_visible(ui, l, list_height);
    if (st->detail)
        draw_detail(ui, st, top + height - detail_height, detail_height);
}

static void *queues_init(struct ui *ui)
{
    (void)ui;
    struct queues_state *st = xcalloc(1, sizeof *st);
    list_init(&st->list, queue_columns, SORT_COUNT, SORT_NAME);
    return st;
}

static void queues_free(void *state)
{
    struct queues_state *st = state;
    list_free(&st->list);
    free(st);
}

static struct list *queues_list(void *state) { return &((struct queues_state *)state)->list; }

static bool key_details(struct ui *ui, void *state)
{
    (void)ui;
    struct queues_state *st = state;
    st->detail = st->list.n > 0 && !st->detail;
    return true;
}

static bool key_close(struct ui *ui, void *state)
{
    struct queues_state *st = state;
    if (!st->detail || ui->help)
        return false;
    st->detail = false;
    return true;
}

static const struct view_key queue_keys[] = {
    {{'\r', '\n', KEY_ENTER}, "Enter", "details of the selected queue (rates, sparklines)", key_details},
    {{27}, "Esc", "close the details", key_close},
};

const struct view_ops queues_view = {
    .name = "Queues",
    .short_name = "Queue",
    .summary = "every queue of every source, sortable and filterable, with details",
    .key = '2',
    .init = queues_init,
    .free = queues_free,
    .draw = draw_queues,
    .list = queues_list,
    .keys = queue_keys,
    .nkeys = sizeof queue_keys / sizeof queue_keys[0],
    .shows_selected_queue = true,
};
