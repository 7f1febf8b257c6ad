/* View 5, Breakers: every dependency's circuit breaker across the fleet,
 * from the workers' heartbeats (resilience/fleet-report.h): the most severe
 * state any worker reports, coloured; worst failure and slow-call rates;
 * calls in the windows; time until half-open; rate-limiter tokens and
 * throttled calls; the operator command in force and the states per worker.
 *
 * O forces the selected breaker open fleet-wide, C forces it closed
 * (DISABLED: calls flow, nothing recorded), R resets it to normal
 * operation; each asks y/n first (ui/confirm.h), is refused in read-only
 * mode, and is written (with its audit record) as a job of the console's
 * write queue (console/control-writes.h) with its own Redis connection, so
 * the screen never waits on the network. Workers apply it within 2 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/board.h"
#include "console/fleet-source.h"
#include "console/control-writes.h"
#include "control/audit.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "resilience/fleet-report.h"
#include "ui/confirm.h"
#include "ui/crt.h"
#include "ui/screen.h"

/* The view's state: the table of the last draw (kept for the keys) and the
 * list over its dependencies. */
struct breakers_state {
    struct breaker_table bt;
    bool built;
    struct list list;
};

enum { BS_NAME, BS_STATE, BS_FAIL, BS_SLOW, BS_CALLS, BS_NCOLUMNS };
static const struct list_column sort_columns[BS_NCOLUMNS] = {
    [BS_NAME] = {"dependency name", false}, [BS_STATE] = {"state", true}, [BS_FAIL] = {"fail fail%", true},
    [BS_SLOW] = {"slow slow%", true}, [BS_CALLS] = {"calls", true},
};

static int severity(const struct breaker_row *r)
{
    if (!r->workers)
        return 0;
    switch (r->worst) {
    case BREAKER_OPEN: case BREAKER_FORCED_OPEN: return 4;
    case BREAKER_HALF_OPEN: return 3;
    case BREAKER_DISABLED: return 2;
    case BREAKER_CLOSED: return 1;
    }
    return 0;
}

static size_t dep_count(void *ctx) { return ((struct breakers_state *)ctx)->bt.n; }
static const char *dep_key(void *ctx, size_t i) { return ((struct breakers_state *)ctx)->bt.rows[i].name; }
static bool dep_matches(void *ctx, size_t i, const char *filter)
{
    const struct breaker_row *r = &((struct breakers_state *)ctx)->bt.rows[i];
    return strcasestr(r->name, filter) || (r->workers && strcasestr(breaker_state_name(r->worst), filter));
}
static int dep_compare(void *ctx, size_t a, size_t b, int column)
{
    const struct breakers_state *st = ctx;
    const struct breaker_row *x = &st->bt.rows[a], *y = &st->bt.rows[b];
    double vx = 0, vy = 0;
    switch (column) {
    case BS_NAME: return strcmp(x->name, y->name);
    case BS_STATE: vx = severity(x), vy = severity(y); break;
    case BS_FAIL: vx = x->failure_rate, vy = y->failure_rate; break;
    case BS_SLOW: vx = x->slow_rate, vy = y->slow_rate; break;
    case BS_CALLS: vx = x->calls, vy = y->calls; break;
    }
    return (vx > vy) - (vx < vy);
}
static const struct list_model dep_model = {dep_count, dep_key, dep_matches, dep_compare};

/* A breaker command waiting for y (owned by the question, confirm.h). */
struct breaker_ask {
    char dep[256];
    const char *command;   /* open | disabled | reset */
    size_t workers;        /* reporting the breaker when asked */
};

static void run_write(struct ui *ui, void *arg)
{
    struct breaker_ask *ask = arg;
    ui_message(ui, "breaker %s: sending %s ...", ask->dep, ask->command);
    if (!control_write_breaker(ui->writes, ui->opt->cfg, ui->opt->ctx, ask->dep, ask->command, ask->workers))
        ui_write_refused(ui);
    free(ask);
}

static enum theme_slot state_slot(enum breaker_state s)
{
    switch (s) {
    case BREAKER_OPEN:
    case BREAKER_FORCED_OPEN: return SLOT_BREAKER_OPEN;
    case BREAKER_HALF_OPEN: return SLOT_BREAKER_HALF_OPEN;
    case BREAKER_DISABLED: return SLOT_WARN;
    case BREAKER_CLOSED: return SLOT_BREAKER_CLOSED;
    }
    return SLOT_DEFAULT;
}

struct bcol {
    const char *title;
    int width;
};
enum { BC_STATE, BC_FAIL, BC_SLOW, BC_CALLS, BC_HALF, BC_TOKENS, BC_THROTTLED, BC_COMMAND, BC_COUNT };
static const struct bcol bcols[BC_COUNT] = {
    [BC_STATE] = {"STATE", 12}, [BC_FAIL] = {"FAIL%", 7}, [BC_SLOW] = {"SLOW%", 7}, [BC_CALLS] = {"CALLS", 7},
    [BC_HALF] = {"HALF-OPEN", 10}, [BC_TOKENS] = {"TOKENS", 8}, [BC_THROTTLED] = {"THROTTLED", 10},
    [BC_COMMAND] = {"COMMAND", 9},
};

static void fmt_optional(char *buf, size_t len, const char *fmt, double v)
{
    if (v < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, fmt, v);
}

static void draw_breakers(struct ui *ui, void *state, int top, int height)
{
    struct breakers_state *st = state;
    struct list *l = &st->list;
    crt_fill(top, 0, COLS, SLOT_DEFAULT);
    if (!ui->opt->fleet) {
        crt_put(top + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                "breakers are reported by the workers to Redis: give this context a Redis URL");
        return;
    }
    const struct fleet_table *t = fleet_table_of(ui->fleet.snap);
    bool stale = ui->fleet.status != SOURCE_OK;
    const cJSON *reports[4096];
    size_t nrep = 0;
    for (size_t i = 0; t && i < t->n && nrep < 4096; i++)
        if (t->workers[i].state != FLEET_LOST && t->workers[i].report)
            reports[nrep++] = t->workers[i].report;
    struct breaker_table_command *cmds = NULL;
    size_t ncmds = 0;
    if (ui->board) {
        ncmds = ui->board->nbreakers;
        cmds = xcalloc(ncmds ? ncmds : 1, sizeof *cmds);
        for (size_t i = 0; i < ncmds; i++)
            cmds[i] = (struct breaker_table_command){ui->board->breakers[i].name, ui->board->breakers[i].value};
    }
    if (st->built)
        breaker_table_free(&st->bt);
    breaker_table_build(reports, nrep, cmds, ncmds, &st->bt);
    st->built = true;
    free(cmds);
    const struct breaker_table bt = st->bt;
    list_build(l, &dep_model, st);

    size_t open = 0;
    for (size_t i = 0; i < bt.n; i++)
        open += bt.rows[i].workers && (bt.rows[i].worst == BREAKER_OPEN || bt.rows[i].worst == BREAKER_FORCED_OPEN);
    char line[400];
    snprintf(line, sizeof line, " %zu dependenc%s from %zu worker%s, %zu open%s · O open  C close (disable)  "
                 "R reset", bt.n, bt.n == 1 ? "y" : "ies", nrep, nrep == 1 ? "" : "s", open,
                 stale ? " · last known data" : "");
    crt_put(top, 0, COLS, ALIGN_LEFT, open ? SLOT_CRIT : SLOT_VALUE, line);

    int fixed = 0;
    for (int c = 0; c < BC_COUNT; c++)
        fixed += bcols[c].width + 1;
    int name_w = 10;   /* as wide as the longest name, within 12..32: the rest shows the workers' states */
    for (size_t i = 0; i < bt.n; i++)
        if (crt_width(bt.rows[i].name) > name_w)
            name_w = crt_width(bt.rows[i].name);
    name_w = name_w + 2 < 12 ? 12 : name_w + 2 > 32 ? 32 : name_w + 2;
    int states_w = COLS - fixed - name_w;
    int y = top + 1;
    crt_fill(y, 0, COLS, SLOT_COLUMN);
    char title[32];
    snprintf(title, sizeof title, "DEPENDENCY%s%s", list_arrow(l, BS_NAME)[0] ? " " : "", list_arrow(l, BS_NAME));
    int x = crt_put(y, 0, name_w, ALIGN_LEFT, SLOT_COLUMN, title);
    static const int sorts[BC_COUNT] = {BS_STATE, BS_FAIL, BS_SLOW, BS_CALLS, -1, -1, -1, -1};
    for (int c = 0; c < BC_COUNT; c++) {
        x += crt_put(y, x, 1, ALIGN_LEFT, SLOT_COLUMN, " ");
        snprintf(title, sizeof title, "%s%s", list_arrow(l, sorts[c]), bcols[c].title);
        x += crt_put(y, x, bcols[c].width, c == BC_STATE || c == BC_COMMAND ? ALIGN_LEFT : ALIGN_RIGHT, SLOT_COLUMN,
                     title);
    }
    if (states_w > 8)
        crt_put(y, x + 1, states_w - 1, ALIGN_LEFT, SLOT_COLUMN, "WORKERS");
    if (l->n == 0) {
        crt_put(y + 2, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                l->filter[0] ? "no breaker matches the filter (/ then Esc clears it)"
                : t ? "no breakers reported (workers report one per [dependency NAME] of their config)"
                    : "reading the fleet...");
        return;
    }
    list_scroll(l, height - 2);
    for (int i = l->top; i < (int)l->n && y + 1 < top + height; i++) {
        const struct breaker_row *r = &bt.rows[list_row(l, (size_t)i)];
        bool sel = i == l->selected;
        enum theme_slot base = sel ? SLOT_SELECTION : stale ? SLOT_STALE : SLOT_DEFAULT;
        y++;
        crt_fill(y, 0, COLS, base);
        x = crt_put(y, 0, name_w, ALIGN_LEFT, base, r->name);
        char text[600];
        for (int c = 0; c < BC_COUNT; c++) {
            x += crt_put(y, x, 1, ALIGN_LEFT, base, " ");
            enum theme_slot s = base;
            enum crt_align align = ALIGN_RIGHT;
            switch (c) {
            case BC_STATE:
                snprintf(text, sizeof text, "%s", r->workers ? breaker_state_name(r->worst) : "-");
                if (!sel && !stale && r->workers)
                    s = state_slot(r->worst);
                align = ALIGN_LEFT;
                break;
            case BC_FAIL: fmt_optional(text, sizeof text, "%.1f", r->failure_rate); break;
            case BC_SLOW: fmt_optional(text, sizeof text, "%.1f", r->slow_rate); break;
            case BC_CALLS: snprintf(text, sizeof text, "%.0f", r->calls); break;
            case BC_HALF:
                if (r->open_remaining > 0)
                    snprintf(text, sizeof text, "%.1fs", r->open_remaining);
                else if (r->workers && (r->worst == BREAKER_OPEN))
                    snprintf(text, sizeof text, "due");   /* open_wait passed: the next call probes */
                else
                    snprintf(text, sizeof text, "-");
                break;
            case BC_TOKENS: fmt_optional(text, sizeof text, "%.1f", r->tokens); break;
            case BC_THROTTLED: snprintf(text, sizeof text, "%.0f", r->throttled); break;
            case BC_COMMAND:
                snprintf(text, sizeof text, "%s", r->command ? r->command : "-");
                if (!sel && r->command && strcmp(r->command, "reset"))
                    s = SLOT_WARN;
                align = ALIGN_LEFT;
                break;
            }
            x += crt_put(y, x, bcols[c].width, align, s, text);
        }
        if (states_w > 8) {
            breaker_row_states(r, text, sizeof text);
            crt_put(y, x + 1, states_w - 1, ALIGN_LEFT, base, text);
        }
    }
}

static bool ask(struct ui *ui, struct breakers_state *st, const char *command, const char *verb)
{
    size_t row;
    if (!list_selected(&st->list, &row)) {
        ui_message(ui, "no breaker selected");
        return true;
    }
    const char *name = st->bt.rows[row].name;
    if (!ui->opt->ctx || !ui->opt->ctx->redis) {
        ui_message(ui, "no control plane: this context has no redis URL");
        return true;
    }
    if (ui->opt->ctx->read_only) {
        ui_message(ui, "read-only: breakers cannot be changed from this console");
        struct audit_entry e = {.action = control_breaker_action(command), .target = name, .new_value = command,
                                .result = "refused: read-only"};
        char err[256];
        audit_record(ui->opt->cfg, ui->opt->ctx->name, NULL, &e, err, sizeof err);
        return true;
    }
    size_t workers = st->bt.rows[row].workers;
    struct breaker_ask *job = xcalloc(1, sizeof *job);
    snprintf(job->dep, sizeof job->dep, "%s", name);
    job->command = command;
    job->workers = workers;
    confirm_ask(ui, NULL, NULL, run_write, job, free, "%zu worker%s report %s. %s breaker %s fleet-wide", workers,
                workers == 1 ? "" : "s", name, verb, name);
    return true;
}

static bool key_open(struct ui *ui, void *state) { return ask(ui, state, "open", "Force OPEN"); }
static bool key_close(struct ui *ui, void *state) { return ask(ui, state, "disabled", "Force CLOSED (disable)"); }
static bool key_reset(struct ui *ui, void *state) { return ask(ui, state, "reset", "Reset"); }

static const struct view_key breaker_keys[] = {
    {{'O'}, "O", "force the selected breaker OPEN fleet-wide (asks y/n)", key_open},
    {{'C'}, "C", "force it CLOSED: disabled, calls flow, nothing recorded (asks y/n)", key_close},
    {{'R'}, "R", "reset it to normal operation (asks y/n)", key_reset},
};

static void *breakers_init(struct ui *ui)
{
    (void)ui;
    struct breakers_state *st = xcalloc(1, sizeof *st);
    list_init(&st->list, sort_columns, BS_NCOLUMNS, BS_NAME);
    return st;
}

static void breakers_free(void *state)
{
    struct breakers_state *st = state;
    if (st->built)
        breaker_table_free(&st->bt);
    list_free(&st->list);
    free(st);
}

static struct list *breakers_list(void *state) { return &((struct breakers_state *)state)->list; }

const struct view_ops breakers_view = {
    .name = "Breakers",
    .short_name = "Brk",
    .summary = "circuit breakers fleet-wide: state, rates, half-open countdown, rate limits (O open, C close, R reset)",
    .key = '5',
    .init = breakers_init,
    .free = breakers_free,
    .draw = draw_breakers,
    .list = breakers_list,
    .keys = breaker_keys,
    .nkeys = sizeof breaker_keys / sizeof breaker_keys[0],
};
