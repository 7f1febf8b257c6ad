/* View 8, Scheduler: every [schedule NAME] of the config with its schedule,
 * action, state (active / paused / invalid), next and last run, the last
 * result, how many times it ran and the fleet's current leader. `r` asks
 * the leader to run the selected job now, `p` pauses or resumes it; both
 * go through the control-plane thread, are audited, and are refused when
 * read-only. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "control/board.h"
#include "core/clock.h"
#include "ui/crt.h"
#include "ui/screen.h"

static void fmt_when(double t, bool future, char *out, size_t len)
{
    if (isnan(t) || t <= 0) {
        snprintf(out, len, "-");
        return;
    }
    char d[32];
    double delta = future ? t - clock_wall() : clock_wall() - t;
    format_duration(delta > 0 ? delta : 0, d, sizeof d);
    snprintf(out, len, future ? "in %s" : "%s ago", d);
}

static bool job_paused(const struct board_job *j)
{
    return j->read && j->state.paused_set ? j->state.paused : j->config->paused;
}

static void draw_scheduler(struct ui *ui, int top, int height)
{
    int y = top;
    const struct config *cfg = ui->opt->cfg;
    if (!ui->opt->board) {
        crt_put(y + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM, "The scheduler lives in Redis: this context has no redis URL.");
        return;
    }
    const struct board *b = ui->board;
    char line[512];
    if (ui->board_status != SOURCE_OK) {
        snprintf(line, sizeof line, "control plane: %s %s", source_status_name(ui->board_status), ui->board_message);
        crt_put(y++, 1, COLS - 2, ALIGN_LEFT, SLOT_CRIT, line);
    }
    snprintf(line, sizeof line, "leader: %s", b && b->leader[0] ? b->leader : "none (no worker runs the scheduler)");
    crt_put(y++, 1, COLS - 2, ALIGN_LEFT, b && b->leader[0] ? SLOT_LABEL : SLOT_WARN, line);
    if (cfg->nschedules == 0) {
        crt_put(y + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM, "no [schedule NAME] sections in the config");
        return;
    }
    if (ui->sched_selected >= (int)cfg->nschedules)
        ui->sched_selected = (int)cfg->nschedules - 1;

    int wname = 18, wsched = 18, wact = 9, wstate = 8, wnext = 10, wlast = 10, wruns = 6;
    int wres = COLS - 2 - wname - wsched - wact - wstate - wnext - wlast - wruns - 7;
    crt_fill(y, 0, COLS, SLOT_COLUMN);
    int x = 1;
    x += crt_put(y, x, wname, ALIGN_LEFT, SLOT_COLUMN, "JOB") + 1;
    x += crt_put(y, x, wsched, ALIGN_LEFT, SLOT_COLUMN, "SCHEDULE") + 1;
    x += crt_put(y, x, wact, ALIGN_LEFT, SLOT_COLUMN, "ACTION") + 1;
    x += crt_put(y, x, wstate, ALIGN_LEFT, SLOT_COLUMN, "STATE") + 1;
    x += crt_put(y, x, wnext, ALIGN_LEFT, SLOT_COLUMN, "NEXT") + 1;
    x += crt_put(y, x, wlast, ALIGN_LEFT, SLOT_COLUMN, "LAST") + 1;
    x += crt_put(y, x, wruns, ALIGN_RIGHT, SLOT_COLUMN, "RUNS") + 1;
    crt_put(y, x, wres > 6 ? wres : 6, ALIGN_LEFT, SLOT_COLUMN, "LAST RESULT");
    y++;
    for (size_t i = 0; i < cfg->nschedules && y < top + height - 1; i++, y++) {
        const struct schedule_config *job = &cfg->schedules[i];
        const struct board_job *j = b && i < b->njobs ? &b->jobs[i] : NULL;
        char sched[64], next[32], last[32], runs[16];
        bool valid = sched_describe(job, sched, sizeof sched) == 0;
        const char *state = !valid ? "invalid" : j && job_paused(j) ? "paused" : "active";
        fmt_when(j && j->read ? j->state.next_run : NAN, true, next, sizeof next);
        fmt_when(j && j->read ? j->state.last_run : NAN, false, last, sizeof last);
        snprintf(runs, sizeof runs, "%ld", j && j->read ? j->state.runs : 0L);
        bool selected = (int)i == ui->sched_selected;
        enum theme_slot slot = selected ? SLOT_SELECTION : ui->board_status != SOURCE_OK ? SLOT_STALE : SLOT_DEFAULT;
        enum theme_slot state_slot = selected ? slot : !valid ? SLOT_CRIT : strcmp(state, "paused") == 0 ? SLOT_WARN : SLOT_OK;
        if (selected)
            crt_fill(y, 0, COLS, SLOT_SELECTION);
        x = 1;
        x += crt_put(y, x, wname, ALIGN_LEFT, slot, job->name) + 1;
        x += crt_put(y, x, wsched, ALIGN_LEFT, slot, valid ? sched : "-") + 1;
        x += crt_put(y, x, wact, ALIGN_LEFT, slot, job->action ? job->action : "-") + 1;
        x += crt_put(y, x, wstate, ALIGN_LEFT, state_slot, state) + 1;
        x += crt_put(y, x, wnext, ALIGN_LEFT, slot, strcmp(state, "active") == 0 ? next : "-") + 1;
        x += crt_put(y, x, wlast, ALIGN_LEFT, slot, last) + 1;
        x += crt_put(y, x, wruns, ALIGN_RIGHT, slot, runs) + 1;
        crt_put(y, x, wres > 6 ? wres : 6, ALIGN_LEFT, slot, j && j->read ? j->state.last_result : "");
    }
    crt_put(top + height - 1, 1, COLS - 2, ALIGN_LEFT, SLOT_DIM,
            ui->opt->ctx && ui->opt->ctx->read_only ? "read-only: jobs cannot be run or paused from here"
                                                     : "r run now   p pause / resume");
}

static bool scheduler_key(struct ui *ui, int key)
{
    const struct config *cfg = ui->opt->cfg;
    switch (key) {
    case KEY_DOWN: case 'j':
        if (ui->sched_selected + 1 < (int)cfg->nschedules)
            ui->sched_selected++;
        return true;
    case KEY_UP: case 'k':
        if (ui->sched_selected > 0)
            ui->sched_selected--;
        return true;
    case 'r': case 'p':
        break;
    default:
        return false;
    }
    if (!ui->opt->board || cfg->nschedules == 0)
        return true;
    if (ui->opt->ctx && ui->opt->ctx->read_only) {
        ui_message(ui, "read-only: jobs cannot be run or paused from this console");
        return true;
    }
    const char *name = cfg->schedules[ui->sched_selected].name;
    enum board_request kind = BOARD_SCHED_RUN;
    if (key == 'p') {
        const struct board_job *j =
            ui->board && (size_t)ui->sched_selected < ui->board->njobs ? &ui->board->jobs[ui->sched_selected] : NULL;
        kind = j && job_paused(j) ? BOARD_SCHED_RESUME : BOARD_SCHED_PAUSE;
    }
    if (board_request(ui->opt->board, kind, name, NULL))
        ui_message(ui, "%s %s ...", kind == BOARD_SCHED_RUN ? "running" : kind == BOARD_SCHED_PAUSE ? "pausing" : "resuming",
                   name);
    else
        ui_message(ui, "a change is still being written; try again in a moment");
    return true;
}

const struct view_ops scheduler_view = {
    .name = "Scheduler",
    .summary = "periodic jobs: next and last run, last result; r runs now, p pauses/resumes",
    .key = '8',
    .draw = draw_scheduler,
    .handle_key = scheduler_key,
};
