/* View 8, Scheduler: the fleet's periodic jobs (worker/sched.h) — every
 * [schedule NAME] of the config and every job with state in Redis — with
 * schedule, action, target, state, next and last run, run count and last
 * result, and who leads the scheduler. Read from the fleet collector's
 * snapshot (control/fleet.h). r asks the leader to run the selected job
 * now, p pauses or resumes it: sent to the collector's thread (the UI never
 * waits on Redis), refused in read-only mode, audited either way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/fleet-source.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "ui/crt.h"
#include "ui/screen.h"
#include "worker/sched.h"

struct sched_row {
    const char *name;
    const struct schedule_config *cfg;   /* NULL: only known from Redis */
    const struct fleet_job *state;       /* NULL: no state in Redis yet */
};

static struct sched_row *rows;
static size_t nrows, rows_cap;

static void add_row(const char *name, const struct schedule_config *cfg, const struct fleet_job *state)
{
    if (nrows == rows_cap) {
        rows_cap = rows_cap ? rows_cap * 2 : 32;
        rows = xrealloc(rows, rows_cap * sizeof *rows);
    }
    rows[nrows++] = (struct sched_row){name, cfg, state};
}

static int compare_rows(const void *a, const void *b)
{
    return strcmp(((const struct sched_row *)a)->name, ((const struct sched_row *)b)->name);
}

static void build_rows(struct ui *ui, const struct fleet_table *t)
{
    nrows = 0;
    const struct config *cfg = ui->opt->cfg;
    for (size_t i = 0; i < cfg->nschedules; i++) {
        const struct fleet_job *st = NULL;
        for (size_t j = 0; t && j < t->njobs && !st; j++)
            if (strcmp(t->jobs[j].name, cfg->schedules[i].name) == 0)
                st = &t->jobs[j];
        add_row(cfg->schedules[i].name, &cfg->schedules[i], st);
    }
    for (size_t j = 0; t && j < t->njobs; j++)
        if (!config_schedule(cfg, t->jobs[j].name))
            add_row(t->jobs[j].name, NULL, &t->jobs[j]);
    for (size_t i = 0; ui->filter[0] && i < nrows;)
        if (!strcasestr(rows[i].name, ui->filter))
            rows[i] = rows[--nrows];
        else
            i++;
    if (nrows > 1)
        qsort(rows, nrows, sizeof *rows, compare_rows);
    if (ui->sched_selected >= (int)nrows)
        ui->sched_selected = (int)nrows - 1;
    if (ui->sched_selected < 0)
        ui->sched_selected = 0;
}


static const char *target_of(const struct schedule_config *c)
{
    if (!c || !c->action)
        return "-";
    if (strcmp(c->action, "trim") == 0)
        return c->pattern ? c->pattern : "-";
    if (strcmp(c->action, "probe") == 0)
        return "brokers";
    return c->queue ? c->queue : "-";
}

struct scol {
    const char *title;
    int width;
};
enum { SC_SCHEDULE, SC_ACTION, SC_TARGET, SC_STATE, SC_NEXT, SC_LAST, SC_RUNS, SC_COUNT };
static const struct scol scols[SC_COUNT] = {
    {"SCHEDULE", 16}, {"ACTION", 7}, {"TARGET", 16}, {"STATE", 9}, {"NEXT", 9}, {"LAST", 9}, {"RUNS", 6},
};
#define JOB_WIDTH 16

static void draw_scheduler(struct ui *ui, int top, int height)
{
    crt_fill(top, 0, COLS, SLOT_DEFAULT);
    if (!ui->opt->fleet) {
        crt_put(top + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                "the scheduler keeps its state in Redis: give this context a Redis URL to see it");
        return;
    }
    const struct feed_view *fv = &ui->fleet;
    const struct fleet_table *t = fleet_table_of(fv->snap);
    bool stale = fv->status != SOURCE_OK;
    build_rows(ui, t);
    char line[600], status[96];
    /* the outcome of the last command, once */
    static double shown_at;
    double at = 0;
    fleet_source_last_command(ui->opt->fleet, line, sizeof line, &at);
    if (line[0] && at > shown_at) {
        shown_at = at;
        ui_message(ui, "%s", line);
    }
    if (stale) {
        fmt_source_status(fv, status, sizeof status);
        snprintf(line, sizeof line, "scheduler: %s%s%s", status, fv->message[0] ? ": " : "", fv->message);
        crt_put(top, 0, COLS, ALIGN_LEFT, fv->status == SOURCE_CONNECTING ? SLOT_DIM : SLOT_CRIT, line);
    } else if (t && t->sched_leader && t->sched_leader[0]) {
        snprintf(line, sizeof line, " leader: %s · %zu job%s · r runs the selected job now, p pauses/resumes it", t->sched_leader,
                 nrows, nrows == 1 ? "" : "s");
        crt_put(top, 0, COLS, ALIGN_LEFT, SLOT_OK, line);
    } else if (t) {
        crt_put(top, 0, COLS, ALIGN_LEFT, SLOT_WARN,
                " no scheduler leader: no worker runs the scheduler now, jobs are not running");
    }
    int y = top + 1, x = 0;
    crt_fill(y, 0, COLS, SLOT_COLUMN);
    x += crt_put(y, x, JOB_WIDTH, ALIGN_LEFT, SLOT_COLUMN, "JOB");
    for (int c = 0; c < SC_COUNT && x + scols[c].width + 1 < COLS - 10; c++) {
        x += crt_put(y, x, 1, ALIGN_LEFT, SLOT_COLUMN, " ");
        x += crt_put(y, x, scols[c].width, c == SC_RUNS ? ALIGN_RIGHT : ALIGN_LEFT, SLOT_COLUMN, scols[c].title);
    }
    if (x < COLS - 1)
        crt_put(y, x + 1, COLS - x - 1, ALIGN_LEFT, SLOT_COLUMN, "LAST RESULT");
    if (nrows == 0) {
        crt_put(y + 2, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                ui->filter[0] ? "no job matches the filter" : "no [schedule NAME] jobs in the config or in Redis");
        return;
    }
    int list_height = height - 2;
    ui->sched_top = scroll_top(ui->sched_top, ui->sched_selected, list_height, (int)nrows);
    for (int i = 0; i < list_height && ui->sched_top + i < (int)nrows; i++) {
        const struct sched_row *r = &rows[ui->sched_top + i];
        bool selected = ui->sched_top + i == ui->sched_selected;
        y = top + 2 + i;
        char when[300], cells[SC_COUNT][320];
        bool valid = !r->cfg || sched_describe(r->cfg, when, sizeof when) == 0;
        if (!r->cfg)
            snprintf(when, sizeof when, "(not in config)");
        bool paused = r->state && r->state->paused_set ? r->state->paused : (r->cfg && r->cfg->paused);
        const char *state = !valid ? "invalid" : r->state && r->state->run_requested ? "requested"
                            : paused ? "paused" : "active";
        snprintf(cells[SC_SCHEDULE], sizeof cells[0], "%s", when);
        snprintf(cells[SC_ACTION], sizeof cells[0], "%s", r->cfg && r->cfg->action ? r->cfg->action : "-");
        snprintf(cells[SC_TARGET], sizeof cells[0], "%s", target_of(r->cfg));
        snprintf(cells[SC_STATE], sizeof cells[0], "%s", state);
        if (paused || !valid)
            snprintf(cells[SC_NEXT], sizeof cells[0], "-");
        else
            format_relative(r->state ? r->state->next_run : NAN, cells[SC_NEXT], sizeof cells[0]);
        format_relative(r->state ? r->state->last_run : NAN, cells[SC_LAST], sizeof cells[0]);
        snprintf(cells[SC_RUNS], sizeof cells[0], "%ld", r->state ? r->state->runs : 0L);
        const char *result = r->state && r->state->last_result[0] ? r->state->last_result : "-";
        bool failed = strncmp(result, "invalid", 7) == 0 || strstr(result, "FAILED") || strstr(result, "failed") ||
                      strncmp(result, "not available", 13) == 0;
        enum theme_slot base = selected ? SLOT_SELECTION : stale ? SLOT_STALE : SLOT_DEFAULT;
        crt_fill(y, 0, COLS, base);
        x = crt_put(y, 0, JOB_WIDTH, ALIGN_LEFT, base, r->name);
        for (int c = 0; c < SC_COUNT && x + scols[c].width + 1 < COLS - 10; c++) {
            x += crt_put(y, x, 1, ALIGN_LEFT, base, " ");
            enum theme_slot s = base;
            if (!selected && !stale && c == SC_STATE)
                s = !valid ? SLOT_CRIT : paused ? SLOT_WARN : SLOT_OK;
            x += crt_put(y, x, scols[c].width, c == SC_RUNS ? ALIGN_RIGHT : ALIGN_LEFT, s, cells[c]);
        }
        if (x < COLS - 1)
            crt_put(y, x + 1, COLS - x - 1, ALIGN_LEFT, !selected && !stale && failed ? SLOT_CRIT : base, result);
    }
}

/* r / p on the selected job: queued for the fleet collector's thread. */
static void command(struct ui *ui, const char *verb)
{
    if (!ui->opt->fleet || nrows == 0)
        return;
    const struct sched_row *r = &rows[ui->sched_selected];
    bool refused = ui->opt->ctx && ui->opt->ctx->read_only;
    if (fleet_source_command(ui->opt->fleet, ui->opt->cfg, verb, r->name, refused) < 0)
        ui_message(ui, "too many scheduler commands waiting; try again in a second");
    else if (refused)
        ui_message(ui, "read-only mode: refusing %s %s", verb, r->name);
    else
        ui_message(ui, "%s %s: sent", verb, r->name);
}

static bool scheduler_key(struct ui *ui, int key)
{
    switch (key) {
    case 'r': command(ui, "run"); return true;
    case 'p': {
        if (nrows == 0)
            return true;
        const struct sched_row *r = &rows[ui->sched_selected];
        bool paused = r->state && r->state->paused_set ? r->state->paused : (r->cfg && r->cfg->paused);
        command(ui, paused ? "resume" : "pause");
        return true;
    }
    case KEY_DOWN: case 'j': ui->sched_selected++; return true;
    case KEY_UP: case 'k': ui->sched_selected = ui->sched_selected > 0 ? ui->sched_selected - 1 : 0; return true;
    case KEY_HOME: case 'g': ui->sched_selected = 0; return true;
    case KEY_END: case 'G': ui->sched_selected = (int)nrows - 1; return true;
    default: return false;
    }
}

const struct view_ops scheduler_view = {
    .name = "Scheduler",
    .summary = "periodic jobs: schedule, next and last run, last result, leader; r run now, p pause/resume",
    .key = '8',
    .draw = draw_scheduler,
    .handle_key = scheduler_key,
};
