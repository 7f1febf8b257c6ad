/* View 8, Scheduler: the fleet's periodic jobs (worker/sched.h) — every
 * [schedule NAME] of the config and every job with state in Redis — with
 * schedule, action, target, state, next and last run, run count and last
 * result, and who leads the scheduler. Read from the fleet collector's
 * snapshot (control/fleet.h). r asks the leader to run the selected job
 * now, p pauses or resumes it: a job on the console's write queue
 * (console/control-writes.h; the UI never waits on Redis), refused in
 * read-only mode, audited either way; its result shows in the status line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/control-writes.h"
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

/* The view's state: the rows of the last draw (kept for the keys) and the
 * list over them. */
struct sched_state {
    struct sched_row *rows;
    size_t nrows, rows_cap;
    struct list list;
};

static void add_row(struct sched_state *st, const char *name, const struct schedule_config *cfg,
                    const struct fleet_job *state)
{
    if (st->nrows == st->rows_cap) {
        st->rows_cap = st->rows_cap ? st->rows_cap * 2 : 32;
        st->rows = xrealloc(st->rows, st->rows_cap * sizeof *st->rows);
    }
    st->rows[st->nrows++] = (struct sched_row){name, cfg, state};
}

static bool row_paused(const struct sched_row *r)
{
    return r->state && r->state->paused_set ? r->state->paused : (r->cfg && r->cfg->paused);
}

enum { SS_NAME, SS_STATE, SS_NEXT, SS_LAST, SS_RUNS, SS_NCOLUMNS };
static const struct list_column sort_columns[SS_NCOLUMNS] = {
    [SS_NAME] = {"job name", false}, [SS_STATE] = {"state", false}, [SS_NEXT] = {"next", false},
    [SS_LAST] = {"last", true}, [SS_RUNS] = {"runs", true},
};

static size_t job_count(void *ctx) { return ((struct sched_state *)ctx)->nrows; }
static const char *job_key(void *ctx, size_t i) { return ((struct sched_state *)ctx)->rows[i].name; }
static bool job_matches(void *ctx, size_t i, const char *filter)
{
    const struct sched_row *r = &((struct sched_state *)ctx)->rows[i];
    return strcasestr(r->name, filter) || (r->cfg && r->cfg->action && strcasestr(r->cfg->action, filter));
}
static double job_number(const struct sched_row *r, int column)
{
    double v = NAN;
    switch (column) {
    case SS_STATE: return row_paused(r);
    case SS_NEXT: v = r->state ? r->state->next_run : NAN; break;
    case SS_LAST: v = r->state ? r->state->last_run : NAN; break;
    case SS_RUNS: return r->state ? (double)r->state->runs : 0;
    }
    return isnan(v) ? 0 : v;
}
static int job_compare(void *ctx, size_t a, size_t b, int column)
{
    const struct sched_row *x = &((struct sched_state *)ctx)->rows[a], *y = &((struct sched_state *)ctx)->rows[b];
    if (column == SS_NAME)
        return strcmp(x->name, y->name);
    double vx = job_number(x, column), vy = job_number(y, column);
    return (vx > vy) - (vx < vy);
}
static const struct list_model job_model = {job_count, job_key, job_matches, job_compare};

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct sched_row *)a)->name, ((const struct sched_row *)b)->name);
}

static void build_rows(struct ui *ui, struct sched_state *st, const struct fleet_table *t)
{
    st->nrows = 0;
    const struct config *cfg = ui->opt->cfg;
    for (size_t i = 0; i < cfg->nschedules; i++) {
        const struct fleet_job *js = NULL;
        for (size_t j = 0; t && j < t->njobs && !js; j++)
            if (strcmp(t->jobs[j].name, cfg->schedules[i].name) == 0)
                js = &t->jobs[j];
        add_row(st, cfg->schedules[i].name, &cfg->schedules[i], js);
    }
    for (size_t j = 0; t && j < t->njobs; j++)
        if (!config_schedule(cfg, t->jobs[j].name))
            add_row(st, t->jobs[j].name, NULL, &t->jobs[j]);
    if (st->nrows > 1)   /* the model's own order: by name (s sorts by a column) */
        qsort(st->rows, st->nrows, sizeof *st->rows, by_name);
    list_build(&st->list, &job_model, st);
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

static void draw_scheduler(struct ui *ui, void *state, int top, int height)
{
    struct sched_state *st = state;
    struct list *l = &st->list;
    crt_fill(top, 0, COLS, SLOT_DEFAULT);
    if (!ui->opt->fleet) {
        crt_put(top + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                "the scheduler keeps its state in Redis: give this context a Redis URL to see it");
        return;
    }
    const struct feed_view *fv = &ui->fleet;
    const struct fleet_table *t = fleet_table_of(fv->snap);
    bool stale = fv->status != SOURCE_OK;
    build_rows(ui, st, t);
    char line[600], status[96];
    if (stale) {
        fmt_source_status(fv, status, sizeof status);
        snprintf(line, sizeof line, "scheduler: %s%s%s", status, fv->message[0] ? ": " : "", fv->message);
        crt_put(top, 0, COLS, ALIGN_LEFT, fv->status == SOURCE_CONNECTING ? SLOT_DIM : SLOT_CRIT, line);
    } else if (t && t->sched_leader && t->sched_leader[0]) {
        snprintf(line, sizeof line, " leader: %s · %zu job%s · r runs the selected job now, p pauses/resumes it", t->sched_leader,
                 l->n, l->n == 1 ? "" : "s");
        crt_put(top, 0, COLS, ALIGN_LEFT, SLOT_OK, line);
    } else if (t) {
        crt_put(top, 0, COLS, ALIGN_LEFT, SLOT_WARN,
                " no scheduler leader: no worker runs the scheduler now, jobs are not running");
    }
    int y = top + 1, x = 0;
    crt_fill(y, 0, COLS, SLOT_COLUMN);
    char title[32];
    snprintf(title, sizeof title, "JOB%s%s", list_arrow(l, SS_NAME)[0] ? " " : "", list_arrow(l, SS_NAME));
    x += crt_put(y, x, JOB_WIDTH, ALIGN_LEFT, SLOT_COLUMN, title);
    static const int sorts[SC_COUNT] = {-1, -1, -1, SS_STATE, SS_NEXT, SS_LAST, SS_RUNS};
    for (int c = 0; c < SC_COUNT && x + scols[c].width + 1 < COLS - 10; c++) {
        x += crt_put(y, x, 1, ALIGN_LEFT, SLOT_COLUMN, " ");
        snprintf(title, sizeof title, "%s%s", list_arrow(l, sorts[c]), scols[c].title);
        x += crt_put(y, x, scols[c].width, c == SC_RUNS ? ALIGN_RIGHT : ALIGN_LEFT, SLOT_COLUMN, title);
    }
    if (x < COLS - 1)
        crt_put(y, x + 1, COLS - x - 1, ALIGN_LEFT, SLOT_COLUMN, "LAST RESULT");
    if (l->n == 0) {
        crt_put(y + 2, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                l->filter[0] ? "no job matches the filter" : "no [schedule NAME] jobs in the config or in Redis");
        return;
    }
    int list_height = height - 2;
    list_scroll(l, list_height);
    for (int i = 0; i < list_height && l->top + i < (int)l->n; i++) {
        const struct sched_row *r = &st->rows[list_row(l, (size_t)(l->top + i))];
        bool selected = l->top + i == l->selected;
        y = top + 2 + i;
        char when[300], cells[SC_COUNT][320];
        bool valid = !r->cfg || sched_describe(r->cfg, when, sizeof when) == 0;
        if (!r->cfg)
            snprintf(when, sizeof when, "(not in config)");
        bool paused = row_paused(r);
        const char *what = !valid ? "invalid" : r->state && r->state->run_requested ? "requested"
                            : paused ? "paused" : "active";
        snprintf(cells[SC_SCHEDULE], sizeof cells[0], "%s", when);
        snprintf(cells[SC_ACTION], sizeof cells[0], "%s", r->cfg && r->cfg->action ? r->cfg->action : "-");
        snprintf(cells[SC_TARGET], sizeof cells[0], "%s", target_of(r->cfg));
        snprintf(cells[SC_STATE], sizeof cells[0], "%s", what);
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

/* r / p on the selected job: a job on the write queue. */
static void command(struct ui *ui, const struct sched_row *r, const char *verb)
{
    bool refused = ui->opt->ctx && ui->opt->ctx->read_only;
    if (!ui->opt->ctx || !control_write_sched(ui->writes, ui->opt->cfg, ui->opt->ctx, verb, r->name, refused))
        ui_write_refused(ui);
    else if (refused)
        ui_message(ui, "read-only mode: refusing %s %s", verb, r->name);
    else
        ui_message(ui, "%s %s: sent", verb, r->name);
}

static const struct sched_row *selected_job(struct ui *ui, struct sched_state *st)
{
    size_t row;
    return ui->opt->fleet && list_selected(&st->list, &row) ? &st->rows[row] : NULL;
}

static bool key_run(struct ui *ui, void *state)
{
    const struct sched_row *r = selected_job(ui, state);
    if (r)
        command(ui, r, "run");
    return true;
}

static bool key_pause(struct ui *ui, void *state)
{
    const struct sched_row *r = selected_job(ui, state);
    if (r)
        command(ui, r, row_paused(r) ? "resume" : "pause");
    return true;
}

static const struct view_key sched_keys[] = {
    {{'r'}, "r", "run the selected job now (on the leader)", key_run},
    {{'p'}, "p", "pause or resume the selected job", key_pause},
};

static void *sched_init(struct ui *ui)
{
    (void)ui;
    struct sched_state *st = xcalloc(1, sizeof *st);
    list_init(&st->list, sort_columns, SS_NCOLUMNS, -1);
    return st;
}

static void sched_free(void *state)
{
    struct sched_state *st = state;
    list_free(&st->list);
    free(st->rows);
    free(st);
}

static struct list *sched_list(void *state) { return &((struct sched_state *)state)->list; }

const struct view_ops scheduler_view = {
    .name = "Scheduler",
    .short_name = "Sched",
    .summary = "periodic jobs: schedule, next and last run, last result, leader; r run now, p pause/resume",
    .key = '8',
    .init = sched_init,
    .free = sched_free,
    .draw = draw_scheduler,
    .list = sched_list,
    .keys = sched_keys,
    .nkeys = sizeof sched_keys / sizeof sched_keys[0],
};
