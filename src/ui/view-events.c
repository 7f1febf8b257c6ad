/* View 9, Events: what happened in the fleet, newest first — breaker
 * transitions, workers joining and getting lost, alerts (stream
 * qdeck:events) — interleaved with every operator action from the audit
 * trail (qdeck:audit). `/` filters on kind and text; Up/Down scroll. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "console/board.h"
#include "core/xalloc.h"
#include "ui/crt.h"
#include "ui/screen.h"

/* The view's state: the events of the last draw (the board the screen
 * holds until the next), a key per event, the list over them, and the
 * detail pane. */
struct events_state {
    const struct board *board;
    char (*keys)[48];
    size_t nkeys_cap;
    struct list list;
    bool detail;
};

enum { ES_TIME, ES_KIND, ES_FROM, ES_NCOLUMNS };
static const struct list_column sort_columns[ES_NCOLUMNS] = {
    [ES_TIME] = {"time", true}, [ES_KIND] = {"kind", false}, [ES_FROM] = {"from", false},
};

static size_t ev_count(void *ctx)
{
    const struct events_state *st = ctx;
    return st->board ? st->board->nevents : 0;
}
static const char *ev_key(void *ctx, size_t i) { return ((struct events_state *)ctx)->keys[i]; }
static bool ev_matches(void *ctx, size_t i, const char *filter)
{
    const struct board_event *e = &((struct events_state *)ctx)->board->events[i];
    return strcasestr(e->kind, filter) || strcasestr(e->text, filter);
}
static int ev_compare(void *ctx, size_t a, size_t b, int column)
{
    const struct board_event *x = &((struct events_state *)ctx)->board->events[a];
    const struct board_event *y = &((struct events_state *)ctx)->board->events[b];
    switch (column) {
    case ES_KIND: return strcmp(x->kind, y->kind);
    case ES_FROM: return (int)x->audit - (int)y->audit;
    default: return (x->at > y->at) - (x->at < y->at);
    }
}
static const struct list_model ev_model = {ev_count, ev_key, ev_matches, ev_compare};

static void build(struct ui *ui, struct events_state *st)
{
    st->board = ui->board;
    size_t n = ev_count(st);
    if (n > st->nkeys_cap) {
        st->nkeys_cap = n + 64;
        st->keys = xrealloc(st->keys, st->nkeys_cap * sizeof *st->keys);
    }
    for (size_t i = 0; i < n; i++)
        snprintf(st->keys[i], sizeof st->keys[i], "%.6f %.30s", st->board->events[i].at, st->board->events[i].kind);
    list_build(&st->list, &ev_model, st);
}

/* The selected event whole, wrapped to the width. */
static void draw_detail(const struct board_event *e, int top, int height)
{
    for (int y = top; y < top + height; y++)
        crt_fill(y, 0, COLS, SLOT_DEFAULT);
    char title[300];
    snprintf(title, sizeof title, " %s event   (Esc closes)", e->kind);
    crt_fill(top, 0, COLS, SLOT_COLUMN);
    crt_put(top, 0, COLS, ALIGN_LEFT, SLOT_COLUMN, title);
    int w = COLS - 4;
    const char *p = e->text;
    for (int y = top + 1; *p && y < top + height && w > 10; y++) {
        size_t len = strlen(p), take = len;
        if ((int)len > w) {     /* break at the last space that fits */
            take = (size_t)w;
            while (take > (size_t)w / 2 && p[take] != ' ')
                take--;
            if (p[take] != ' ')
                take = (size_t)w;
        }
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)take, p);
        crt_put(y, 2, w, ALIGN_LEFT, SLOT_VALUE, line);
        p += take;
        while (*p == ' ')
            p++;
    }
}

static enum theme_slot event_slot(const struct board_event *e)
{
    if (e->audit)
        return SLOT_VALUE;
    if (strstr(e->kind, "lost") || strstr(e->text, "OPEN") || strstr(e->kind, "alert"))
        return strstr(e->text, "HALF_OPEN") ? SLOT_WARN : SLOT_CRIT;
    if (strstr(e->text, "CLOSED") || strstr(e->kind, "join"))
        return SLOT_OK;
    return SLOT_DEFAULT;
}

static void draw_events(struct ui *ui, void *state, int top, int height)
{
    struct events_state *st = state;
    struct list *l = &st->list;
    int y = top;
    build(ui, st);
    if (!ui->opt->board) {
        crt_put(y + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM, "Events live in Redis: this context has no redis URL.");
        return;
    }
    if (ui->board_status != SOURCE_OK) {
        char line[400];
        snprintf(line, sizeof line, "control plane: %s %s", source_status_name(ui->board_status), ui->board_message);
        crt_put(y++, 1, COLS - 2, ALIGN_LEFT, SLOT_CRIT, line);
    }
    crt_fill(y, 0, COLS, SLOT_COLUMN);
    char title[32];
    snprintf(title, sizeof title, "%sTIME", list_arrow(l, ES_TIME));
    crt_put(y, 1, 8, ALIGN_LEFT, SLOT_COLUMN, title);
    snprintf(title, sizeof title, "%sFROM", list_arrow(l, ES_FROM));
    crt_put(y, 10, 6, ALIGN_LEFT, SLOT_COLUMN, title);
    snprintf(title, sizeof title, "%sKIND", list_arrow(l, ES_KIND));
    crt_put(y, 17, 20, ALIGN_LEFT, SLOT_COLUMN, title);
    crt_put(y, 38, COLS - 39, ALIGN_LEFT, SLOT_COLUMN, "DETAIL");
    y++;
    int detail_h = st->detail && l->n ? (height / 3 > 8 ? 8 : height / 3) : 0;
    int rows = top + height - y - detail_h;
    list_scroll(l, rows);
    for (int i = l->top; i < (int)l->n && y < top + height - detail_h; i++, y++) {
        const struct board_event *e = &st->board->events[list_row(l, (size_t)i)];
        bool sel = i == l->selected;
        char when[16];
        time_t t = (time_t)e->at;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%H:%M:%S", &tm);
        enum theme_slot slot = sel ? SLOT_SELECTION : event_slot(e);
        if (sel)
            crt_fill(y, 0, COLS, SLOT_SELECTION);
        crt_put(y, 1, 8, ALIGN_LEFT, sel ? slot : SLOT_DIM, when);
        crt_put(y, 10, 6, ALIGN_LEFT, sel ? slot : SLOT_DIM, e->audit ? "audit" : "fleet");
        crt_put(y, 17, 20, ALIGN_LEFT, slot, e->kind);
        crt_put(y, 38, COLS - 39, ALIGN_LEFT, slot, e->text);
    }
    if (!l->n)
        crt_put(y + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                st->board && st->board->nevents ? "nothing matches the filter" : "no events yet");
    size_t sel;
    if (detail_h >= 3 && list_selected(l, &sel))
        draw_detail(&st->board->events[sel], top + height - detail_h, detail_h);
}

static bool key_details(struct ui *ui, void *state)
{
    (void)ui;
    struct events_state *st = state;
    st->detail = st->list.n > 0 && !st->detail;
    return true;
}

static bool key_close(struct ui *ui, void *state)
{
    struct events_state *st = state;
    if (!st->detail || ui->help)
        return false;
    st->detail = false;
    return true;
}

static const struct view_key event_keys[] = {
    {{'\r', '\n', KEY_ENTER}, "Enter", "the selected event whole, wrapped", key_details},
    {{27}, "Esc", "close it", key_close},
};

static void *events_init(struct ui *ui)
{
    (void)ui;
    struct events_state *st = xcalloc(1, sizeof *st);
    list_init(&st->list, sort_columns, ES_NCOLUMNS, ES_TIME);
    return st;
}

static void events_free(void *state)
{
    struct events_state *st = state;
    list_free(&st->list);
    free(st->keys);
    free(st);
}

static struct list *events_list(void *state) { return &((struct events_state *)state)->list; }

const struct view_ops events_view = {
    .name = "Events",
    .short_name = "Evt",
    .summary = "breaker transitions, workers joining and lost, alerts, and the audit trail",
    .key = '9',
    .init = events_init,
    .free = events_free,
    .draw = draw_events,
    .list = events_list,
    .keys = event_keys,
    .nkeys = sizeof event_keys / sizeof event_keys[0],
};
