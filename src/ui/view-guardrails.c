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
#include "ui/screen.h"

struct guardrail_row {
    char name[256];
    const char *value;          /* set value, or NULL */
    const char *fallback;
    const struct policy_item *item;
};

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

static void draw_guardrails(struct ui *ui, int top, int height)
{
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
    size_t n;
    struct guardrail_row *rows = guardrail_rows(ui, &n);
    if (ui->gr_selected >= (int)n)
        ui->gr_selected = (int)n - 1;
    if (ui->gr_selected < 0)
        ui->gr_selected = 0;

    int wname = COLS / 2 - 12 > 24 ? COLS / 2 - 12 : 24, wval = 12, wdef = 10, wwhen = 12;
    int wby = COLS - 1 - wname - wval - wdef - wwhen - 4;
    crt_fill(y, 0, COLS, SLOT_COLUMN);
    int x = 1;
    x += crt_put(y, x, wname, ALIGN_LEFT, SLOT_COLUMN, "GUARDRAIL") + 1;
    x += crt_put(y, x, wval, ALIGN_LEFT, SLOT_COLUMN, "VALUE") + 1;
    x += crt_put(y, x, wdef, ALIGN_LEFT, SLOT_COLUMN, "DEFAULT") + 1;
    x += crt_put(y, x, wby > 4 ? wby : 4, ALIGN_LEFT, SLOT_COLUMN, "SET BY") + 1;
    crt_put(y, x, wwhen, ALIGN_LEFT, SLOT_COLUMN, "WHEN");
    y++;

    int visible = top + height - y - 2;
    ui->gr_top = scroll_top(ui->gr_top, ui->gr_selected, visible, (int)n);
    bool stale = ui->board_status != SOURCE_OK;
    for (int i = ui->gr_top; i < (int)n && y < top + height - 2; i++, y++) {
        const struct guardrail_row *r = &rows[i];
        bool selected = i == ui->gr_selected;
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
    free(rows);
}

static bool guardrails_key(struct ui *ui, int key)
{
    size_t n;
    struct guardrail_row *rows;
    switch (key) {
    case KEY_DOWN: case 'j': ui->gr_selected++; return true;
    case KEY_UP: case 'k': if (ui->gr_selected > 0) ui->gr_selected--; return true;
    case KEY_NPAGE: ui->gr_selected += LINES / 2; return true;
    case KEY_PPAGE: ui->gr_selected = ui->gr_selected > LINES / 2 ? ui->gr_selected - LINES / 2 : 0; return true;
    case KEY_HOME: case 'g': ui->gr_selected = 0; return true;
    case '\r': case '\n': case KEY_ENTER: case ' ': case 'o':
        break;
    default:
        return false;
    }
    rows = guardrail_rows(ui, &n);
    if (n == 0 || ui->gr_selected >= (int)n || ui_guardrails_read_only(ui)) {
        free(rows);
        return true;
    }
    const struct guardrail_row *r = &rows[ui->gr_selected];
    const char *cur = r->value ? r->value : r->fallback ? r->fallback : "";
    enum policy_type type;
    char err[256];
    if (policy_check_name(r->name, &type, err, sizeof err) < 0) {
        ui_message(ui, "%s", err);
    } else if (key == 'o') {
        ui_set_guardrail(ui, r->name, type == POLICY_BOOL ? "false" : "off");
    } else if (type == POLICY_BOOL) {
        ui_set_guardrail(ui, r->name, strcmp(cur, "true") == 0 ? "false" : "true");
    } else {
        ui->prompt = PROMPT_COMMAND;
        snprintf(ui->input, sizeof ui->input, "set %.180s %.60s", r->name, strcmp(cur, "off") == 0 ? "" : cur);
    }
    free(rows);
    return true;
}

const struct view_ops guardrails_view = {
    .name = "Guardrails",
    .summary = "fleet switches: Enter flips or edits, o turns off, :set NAME VALUE",
    .key = '7',
    .draw = draw_guardrails,
    .handle_key = guardrails_key,
};
