/* View 7, Guardrails: every switch the fleet obeys, its current value, its
 * default, and who set it when. The fleet-wide ones are always listed; the
 * per-dependency and per-task ones for every [dependency] and [task] in the
 * config; per-queue ones once set (`:set queue.NAME.paused true` sets any).
 * Enter flips a boolean or opens the command line with the value to edit;
 * `o` turns a guardrail off (back to its default). Changes go through the
 * control-plane thread, which validates, writes, audits and reports back;
 * --read-only refuses them here. A guardrail on a queue, dependency or task
 * type that no live worker, watched queue, config section or existing row
 * knows waits for a second key (y) before it is written: no phantom rows
 * from a typo. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "console/board.h"
#include "console/fleet-source.h"
#include "control/names.h"
#include "core/clock.h"
#include "core/envelope.h"
#include "core/xalloc.h"
#include "ui/command-set.h"
#include "ui/crt.h"
#include "ui/prompt.h"
#include "ui/screen.h"

struct guardrail_row {
    char name[256];
    const char *value;          /* set value, or NULL */
    const char *fallback;
    const struct policy_item *item;
};

/* The view's state: the rows of the last draw (kept for the keys) and
 * the list over them. Unsorted, fleet-wide rows come first. */
struct guardrails_state {
    struct guardrail_row *rows;
    size_t n;
    struct list list;
};

enum { GS_NAME, GS_VALUE, GS_BY, GS_WHEN, GS_NCOLUMNS };
static const struct list_column sort_columns[GS_NCOLUMNS] = {
    [GS_NAME] = {"guardrail name", false}, [GS_VALUE] = {"value", false}, [GS_BY] = {"set-by by", false},
    [GS_WHEN] = {"when", false},
};

static const char *shown_value(const struct guardrail_row *r)
{
    return r->value ? r->value : r->fallback ? r->fallback : "?";
}

static size_t gr_count(void *ctx) { return ((struct guardrails_state *)ctx)->n; }
static const char *gr_key(void *ctx, size_t i) { return ((struct guardrails_state *)ctx)->rows[i].name; }
static bool gr_matches(void *ctx, size_t i, const char *filter)
{
    const struct guardrail_row *r = &((struct guardrails_state *)ctx)->rows[i];
    return strcasestr(r->name, filter) || strcasestr(shown_value(r), filter) ||
           (r->item && r->item->by && strcasestr(r->item->by, filter));
}
static int gr_compare(void *ctx, size_t a, size_t b, int column)
{
    const struct guardrail_row *x = &((struct guardrails_state *)ctx)->rows[a];
    const struct guardrail_row *y = &((struct guardrails_state *)ctx)->rows[b];
    const char *vx = "", *vy = "";
    switch (column) {
    case GS_NAME: vx = x->name, vy = y->name; break;
    case GS_VALUE: vx = shown_value(x), vy = shown_value(y); break;
    case GS_BY: vx = x->item && x->item->by ? x->item->by : "", vy = y->item && y->item->by ? y->item->by : ""; break;
    case GS_WHEN: vx = x->item && x->item->at ? x->item->at : "", vy = y->item && y->item->at ? y->item->at : ""; break;
    }
    return strcmp(vx, vy);
}
static const struct list_model gr_model = {gr_count, gr_key, gr_matches, gr_compare};

static bool has_row(const struct guardrail_row *rows, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].name, name) == 0)
            return true;
    return false;
}

static void add_row(struct guardrail_row **rows, size_t *n, size_t *cap, const struct board *b, const char *name)
{
    if (has_row(*rows, *n, name))
        return;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        *rows = xrealloc(*rows, *cap * sizeof **rows);
    }
    struct guardrail_row *r = &(*rows)[(*n)++];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->item = board_guardrail(b, name);
    r->value = r->item ? r->item->value : NULL;
    r->fallback = policy_default(name);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct guardrail_row *)a)->name, ((const struct guardrail_row *)b)->name);
}

/* The rows, built from the board and the config; caller frees. */
static struct guardrail_row *guardrail_rows(const struct ui *ui, size_t *n)
{
    struct guardrail_row *rows = NULL;
    size_t cap = 0;
    *n = 0;
    const struct board *b = ui->board;
    const struct config *cfg = ui->opt->cfg;
    char name[256];
    for (size_t i = 0; i < policy_nglobals; i++)
        add_row(&rows, n, &cap, b, policy_globals[i].name);
    for (size_t i = 0; i < cfg->ndependencies; i++) {
        snprintf(name, sizeof name, "dep.%s.rate", cfg->dependencies[i].name);
        add_row(&rows, n, &cap, b, name);
        snprintf(name, sizeof name, "dep.%s.fallback", cfg->dependencies[i].name);
        add_row(&rows, n, &cap, b, name);
    }
    for (size_t i = 0; i < cfg->ntasks; i++) {
        snprintf(name, sizeof name, "task.%s.max_runtime_ms", cfg->tasks[i].name);
        add_row(&rows, n, &cap, b, name);
    }
    for (size_t i = 0; b && i < b->nguardrails; i++)
        add_row(&rows, n, &cap, b, b->guardrails[i].name);
    qsort(rows + policy_nglobals, *n - policy_nglobals, sizeof *rows, by_name);
    return rows;
}

static void fmt_when(const char *at, char *out, size_t len)
{
    double t = at ? envelope_parse_time(at) : NAN;
    if (isnan(t)) {
        snprintf(out, len, "%s", at ? at : "");
        return;
    }
    char age[32];
    format_duration(clock_wall() - t, age, sizeof age);
    snprintf(out, len, "%s ago", age);
}

static void draw_guardrails(struct ui *ui, void *state, int top, int height)
{
    struct guardrails_state *st = state;
    struct list *l = &st->list;
    int y = top;
    if (!ui->opt->board) {
        crt_put(y + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                "Guardrails live in Redis: this context has no redis URL.");
        return;
    }
    if (ui->board_status != SOURCE_OK) {
        char line[400];
        snprintf(line, sizeof line, "control plane: %s %s%s", source_status_name(ui->board_status),
                 ui->board_message, ui->board ? " — showing the last known values" : "");
        crt_put(y++, 1, COLS - 2, ALIGN_LEFT, SLOT_CRIT, line);
    }
    free(st->rows);
    st->rows = guardrail_rows(ui, &st->n);
    list_build(l, &gr_model, st);

    int wname = COLS / 2 - 12 > 24 ? COLS / 2 - 12 : 24, wval = 12, wdef = 10, wwhen = 12;
    int wby = COLS - 1 - wname - wval - wdef - wwhen - 4;
    crt_fill(y, 0, COLS, SLOT_COLUMN);
    int x = 1;
    char title[32];
    snprintf(title, sizeof title, "%sGUARDRAIL", list_arrow(l, GS_NAME));
    x += crt_put(y, x, wname, ALIGN_LEFT, SLOT_COLUMN, title) + 1;
    snprintf(title, sizeof title, "%sVALUE", list_arrow(l, GS_VALUE));
    x += crt_put(y, x, wval, ALIGN_LEFT, SLOT_COLUMN, title) + 1;
    x += crt_put(y, x, wdef, ALIGN_LEFT, SLOT_COLUMN, "DEFAULT") + 1;
    snprintf(title, sizeof title, "%sSET BY", list_arrow(l, GS_BY));
    x += crt_put(y, x, wby > 4 ? wby : 4, ALIGN_LEFT, SLOT_COLUMN, title) + 1;
    snprintf(title, sizeof title, "%sWHEN", list_arrow(l, GS_WHEN));
    crt_put(y, x, wwhen, ALIGN_LEFT, SLOT_COLUMN, title);
    y++;

    int visible = top + height - y - 2;
    list_scroll(l, visible);
    bool stale = ui->board_status != SOURCE_OK;
    if (!l->n)
        crt_put(y + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM, "no guardrail matches the filter (/ then Esc clears it)");
    for (int i = l->top; i < (int)l->n && y < top + height - 2; i++, y++) {
        const struct guardrail_row *r = &st->rows[list_row(l, (size_t)i)];
        bool selected = i == l->selected;
        bool changed = r->value && r->fallback && strcmp(r->value, r->fallback) != 0;
        enum theme_slot slot = selected ? SLOT_SELECTION : stale ? SLOT_STALE : changed ? SLOT_WARN : SLOT_DEFAULT;
        if (selected)
            crt_fill(y, 0, COLS, SLOT_SELECTION);
        char when[64];
        fmt_when(r->item ? r->item->at : NULL, when, sizeof when);
        x = 1;
        x += crt_put(y, x, wname, ALIGN_LEFT, slot, r->name) + 1;
        x += crt_put(y, x, wval, ALIGN_LEFT, slot, r->value ? r->value : r->fallback ? r->fallback : "?") + 1;
        x += crt_put(y, x, wdef, ALIGN_LEFT, selected ? slot : SLOT_DIM, r->fallback ? r->fallback : "") + 1;
        x += crt_put(y, x, wby > 4 ? wby : 4, ALIGN_LEFT, selected ? slot : SLOT_DIM,
                     r->item && r->item->by ? r->item->by : "") + 1;
        crt_put(y, x, wwhen, ALIGN_LEFT, selected ? slot : SLOT_DIM, when);
    }
    const char *hint = ui->opt->ctx && ui->opt->ctx->read_only
                           ? "read-only: changes are refused"
                           : "Enter flip/edit   o off   :set NAME VALUE for any queue.NAME.paused|max_depth";
    crt_put(top + height - 1, 1, COLS - 2, ALIGN_LEFT, SLOT_DIM, hint);
}

/* Enter/space flips a boolean or opens :set with the value; o: off. */
static bool act(struct ui *ui, struct guardrails_state *st, bool off)
{
    size_t row;
    if (!list_selected(&st->list, &row) || ui_guardrails_read_only(ui))
        return true;
    const struct guardrail_row *r = &st->rows[row];
    const char *cur = r->value ? r->value : r->fallback ? r->fallback : "";
    enum policy_type type;
    char err[256];
    if (policy_check_name(r->name, &type, err, sizeof err) < 0) {
        ui_error(ui, "%s", err);
    } else if (off) {
        ui_flip_guardrail(ui, r->name, cur, type == POLICY_BOOL ? "false" : "off");
    } else if (type == POLICY_BOOL) {
        ui_flip_guardrail(ui, r->name, cur, strcmp(cur, "true") == 0 ? "false" : "true");
    } else {
        char line[256];
        snprintf(line, sizeof line, "set %.180s %.60s", r->name, strcmp(cur, "off") == 0 ? "" : cur);
        prompt_open_command(ui, line);
    }
    return true;
}

static bool key_flip(struct ui *ui, void *state) { return act(ui, state, false); }
static bool key_off(struct ui *ui, void *state) { return act(ui, state, true); }

static const struct view_key guardrail_keys[] = {
    {{'\r', '\n', KEY_ENTER, ' '}, "Enter space", "flip the selected switch, or edit its value on the : line", key_flip},
    {{'o'}, "o", "turn the selected guardrail off (back to its default)", key_off},
};

static void *guardrails_init(struct ui *ui)
{
    (void)ui;
    struct guardrails_state *st = xcalloc(1, sizeof *st);
    list_init(&st->list, sort_columns, GS_NCOLUMNS, -1);
    return st;
}

static void guardrails_free(void *state)
{
    struct guardrails_state *st = state;
    list_free(&st->list);
    free(st->rows);
    free(st);
}

static struct list *guardrails_list(void *state) { return &((struct guardrails_state *)state)->list; }

const struct view_ops guardrails_view = {
    .name = "Guardrails",
    .short_name = "Guard",
    .summary = "fleet switches: Enter flips or edits, o turns off, :set NAME VALUE",
    .key = '7',
    .init = guardrails_init,
    .free = guardrails_free,
    .draw = draw_guardrails,
    .list = guardrails_list,
    .keys = guardrail_keys,
    .nkeys = sizeof guardrail_keys / sizeof guardrail_keys[0],
};
