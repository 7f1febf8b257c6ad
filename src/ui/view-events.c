/* View 9, Events: what happened in the fleet, newest first — breaker
 * transitions, workers joining and getting lost, alerts (stream
 * qdeck:events) — interleaved with every operator action from the audit
 * trail (qdeck:audit). `/` filters on kind and text; Up/Down scroll. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "console/board.h"
#include "ui/crt.h"
#include "ui/screen.h"

static bool event_matches(const struct board_event *e, const char *filter)
{
    return !filter[0] || strcasestr(e->kind, filter) || strcasestr(e->text, filter);
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

static void draw_events(struct ui *ui, int top, int height)
{
    int y = top;
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
    crt_put(y, 1, 8, ALIGN_LEFT, SLOT_COLUMN, "TIME");
    crt_put(y, 10, 6, ALIGN_LEFT, SLOT_COLUMN, "FROM");
    crt_put(y, 17, 20, ALIGN_LEFT, SLOT_COLUMN, "KIND");
    crt_put(y, 38, COLS - 39, ALIGN_LEFT, SLOT_COLUMN, "DETAIL");
    y++;
    const struct board *b = ui->board;
    size_t shown = 0, matching = 0;
    for (size_t i = 0; b && i < b->nevents; i++) {
        const struct board_event *e = &b->events[i];
        if (!event_matches(e, ui->filter))
            continue;
        if ((int)matching++ < ui->ev_top || y >= top + height)
            continue;
        char when[16];
        time_t t = (time_t)e->at;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%H:%M:%S", &tm);
        enum theme_slot slot = event_slot(e);
        crt_put(y, 1, 8, ALIGN_LEFT, SLOT_DIM, when);
        crt_put(y, 10, 6, ALIGN_LEFT, SLOT_DIM, e->audit ? "audit" : "fleet");
        crt_put(y, 17, 20, ALIGN_LEFT, slot, e->kind);
        crt_put(y, 38, COLS - 39, ALIGN_LEFT, slot, e->text);
        y++, shown++;
    }
    if (ui->ev_top > 0 && (size_t)ui->ev_top >= matching)
        ui->ev_top = matching ? (int)matching - 1 : 0;
    if (!matching)
        crt_put(y + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                b && b->nevents ? "nothing matches the filter" : "no events yet");
}

static bool events_key(struct ui *ui, int key)
{
    switch (key) {
    case KEY_DOWN: case 'j': ui->ev_top++; return true;
    case KEY_UP: case 'k': if (ui->ev_top > 0) ui->ev_top--; return true;
    case KEY_NPAGE: ui->ev_top += LINES / 2; return true;
    case KEY_PPAGE: ui->ev_top = ui->ev_top > LINES / 2 ? ui->ev_top - LINES / 2 : 0; return true;
    case KEY_HOME: case 'g': ui->ev_top = 0; return true;
    default: return false;
    }
}

const struct view_ops events_view = {
    .name = "Events",
    .summary = "breaker transitions, workers joining and lost, alerts, and the audit trail",
    .key = '9',
    .draw = draw_events,
    .handle_key = events_key,
};
