/* View 6, DLQ: pick a dead-letter queue (every queue whose name ends in
 * .dlq or :dlq in the sources' snapshots), page through its messages (id,
 * type, reason, deaths, attempts, last error), open one (properties,
 * headers, body pretty-printed when JSON, escaped text or a hex dump when
 * not, cut to the screen only), mark with space, replay with r, edit the
 * body in $EDITOR and replay it with e; capitals
 * for bulk and destructive actions (R replay all, P purge, D delete marked)
 * after the queue's name is typed back. `/` searches headers and bodies
 * across the whole DLQ.
 *
 * Pages are read on the DLQ page thread (console/dlq-jobs.h); replays,
 * purges and deletes are jobs on the console's write queue
 * (console/dlq-writes.h), whose status line shows their progress and the
 * line naming what was done; the page reloads when one ends. This file
 * only submits and draws. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "control/keys.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "console/dlq-jobs.h"
#include "console/dlq-writes.h"
#include "ui/confirm.h"
#include "ui/crt.h"
#include "ui/dlq-edit.h"
#include "ui/dlq-tables.h"
#include "ui/dlq-text.h"
#include "ui/screen.h"

#define PAGE_SIZE 200
#define PAGE_REFRESH 5.0            /* seconds between reloads of the page shown */
#define KEY_ESC 27

enum dlq_mode { MODE_PICK, MODE_LIST, MODE_DETAIL };

/* The view's state (view_ops.init): the picker's list, the page's list
 * (its marks are the marked messages), the page, the confirmation. */
struct dlq_state {
    struct dlq_jobs *worker;
    enum dlq_mode mode;
    /* picker */
    struct dlq_picks dlqs;          /* dlq-tables.h */
    struct list picks;
    /* list */
    char queue[1024];
    struct dlq_page *page;
    unsigned long waiting_seq;      /* 0: nothing requested */
    unsigned long write_ticket;     /* a replay/purge/delete queued (console/writes.h), or 0 */
    double page_at;                 /* clock_mono when the page came */
    size_t offset;
    struct list msgs;
    char grep[256];                 /* filter the current page was asked with */
    /* detail */
    int detail_top;
};

static void dlq_free(void *state)
{
    struct dlq_state *st = state;
    dlq_jobs_stop(st->worker);
    st->worker = NULL;
    dlq_page_free(st->page);
    st->page = NULL;
    list_free(&st->msgs);
    list_free(&st->picks);
    dlq_picks_free(&st->dlqs);
    free(st);
}

static bool read_only(const struct ui *ui)
{
    return ui->opt->ctx && ui->opt->ctx->read_only;
}

static void ensure_worker(struct ui *ui, struct dlq_state *st)
{
    if (st->worker || !ui->opt->ctx)
        return;
    int fd = ui->opt->nsources ? ui->opt->sources[0]->feed.notify_fd : -1;
    st->worker = dlq_jobs_start(ui->opt->cfg, ui->opt->ctx, fd);
}

/* The selected message of the page, or NULL. */
static const struct dlq_message *selected_msg(const struct dlq_state *st)
{
    size_t row;
    return st->page && st->page->ok && list_selected(&st->msgs, &row) ? st->page->msgs[row] : NULL;
}

/* ---- jobs ---- */

static void request_page(struct ui *ui, struct dlq_state *st)
{
    ensure_worker(ui, st);
    if (!st->worker)
        return;
    snprintf(st->grep, sizeof st->grep, "%s", st->msgs.filter);
    struct dlq_job job = {.kind = DLQ_JOB_PAGE, .queue = st->queue, .offset = st->offset, .limit = PAGE_SIZE,
                          .grep = st->grep[0] ? st->grep : NULL};
    st->waiting_seq = dlq_jobs_submit(st->worker, &job);
}

/* false (and says why) when the write queue is full */
static bool request_action(struct ui *ui, struct dlq_state *st, enum dlq_job_kind kind, char **ids, size_t nids,
                           const struct dlq_bytes *body)
{
    if (!ui->opt->ctx)
        return false;
    struct dlq_job job = {.kind = kind, .queue = st->queue, .ids = ids, .nids = nids, .body = body};
    unsigned long ticket = dlq_write_submit(ui->writes, ui->opt->cfg, ui->opt->ctx, &job);
    if (!ticket) {
        ui_write_refused(ui);
        return false;
    }
    st->write_ticket = ticket;
    return true;
}

static void take_page(struct dlq_state *st)
{
    if (!st->worker)
        return;
    struct dlq_page *p = dlq_jobs_take(st->worker);
    if (!p)
        return;
    if (strcmp(p->queue, st->queue) != 0) {
        dlq_page_free(p);
        return;
    }
    dlq_page_free(st->page);
    st->page = p;
    st->page_at = clock_mono();
    if (p->seq == st->waiting_seq)
        st->waiting_seq = 0;
    list_build(&st->msgs, &dlq_msg_model, &st->page);
}

/* ---- the picker ---- */

static void draw_pick(struct ui *ui, struct dlq_state *st, int top, int height)
{
    struct list *l = &st->picks;
    dlq_picks_collect(ui, &st->dlqs);
    list_build(l, &dlq_pick_model, &st->dlqs);
    crt_fill(top, 0, COLS, SLOT_COLUMN);
    char title[64];
    snprintf(title, sizeof title, "%sDEAD-LETTER QUEUE", list_arrow(l, PS_NAME));
    crt_put(top, 0, 50, ALIGN_LEFT, SLOT_COLUMN, title);
    snprintf(title, sizeof title, "%sDEPTH", list_arrow(l, PS_DEPTH));
    crt_put(top, 50, 9, ALIGN_RIGHT, SLOT_COLUMN, title);
    crt_put(top, 60, COLS - 60, ALIGN_LEFT, SLOT_COLUMN, "  (Enter opens)");
    if (!l->n) {
        crt_put(top + 2, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                l->filter[0] ? "no dead-letter queue matches the filter (/ then Esc clears it)"
                : "no dead-letter queues yet (queues named *.dlq or *:dlq); `qdeck dlq list QUEUE` reads any queue");
        return;
    }
    int rows = height - 1;
    list_scroll(l, rows);
    for (int i = 0; i < rows && l->top + i < (int)l->n; i++) {
        size_t idx = list_row(l, (size_t)(l->top + i));
        enum theme_slot slot = l->top + i == l->selected ? SLOT_SELECTION : SLOT_DEFAULT;
        const struct queue_stat *q = dlq_find_stat(ui, st->dlqs.names[idx]);
        char depth[32];
        fmt_count(depth, sizeof depth, q ? (q->total >= 0 ? q->total : q->ready) : -1);
        crt_fill(top + 1 + i, 0, COLS, slot);
        crt_put(top + 1 + i, 0, 50, ALIGN_LEFT, slot, st->dlqs.names[idx]);
        crt_put(top + 1 + i, 50, 9, ALIGN_RIGHT, slot, depth);
    }
}

/* ---- the list ---- */


static void flatten(const char *s, char *out, size_t len)
{
    size_t o = 0;
    for (; s && *s && o + 1 < len; s++)
        out[o++] = (*s == '\n' || *s == '\r' || *s == '\t') ? ' ' : *s;
    out[o] = '\0';
}

static void draw_list(struct dlq_state *st, int top, int height)
{
    struct list *l = &st->msgs;
    char head[1400], status[200] = "";
    if (st->worker)
        dlq_jobs_status(st->worker, status, sizeof status);
    const struct dlq_page *p = st->page;
    if (p && p->ok && !status[0])       /* how old the page is: it reloads every PAGE_REFRESH s */
        snprintf(status, sizeof status, "read %.0fs ago", clock_mono() - st->page_at);
    if (p && p->ok) {
        size_t last = p->offset + p->n;
        if (p->grep)
            snprintf(head, sizeof head, " %s  %ld messages, %ld match \"%s\"  rows %zu-%zu  marked %zu%s%s", st->queue,
                     p->total, p->matches, p->grep, p->n ? p->offset + 1 : 0, last, st->msgs.nmarks,
                     status[0] ? "  " : "", status);
        else
            snprintf(head, sizeof head, " %s  %ld messages  rows %zu-%zu  marked %zu%s%s", st->queue, p->total,
                     p->n ? p->offset + 1 : 0, last, st->msgs.nmarks, status[0] ? "  " : "", status);
    } else {
        snprintf(head, sizeof head, " %s  %s", st->queue, status[0] ? status : (st->waiting_seq ? "reading…" : ""));
    }
    crt_fill(top, 0, COLS, SLOT_TITLE);
    crt_put(top, 0, COLS, ALIGN_LEFT, SLOT_TITLE, head);
    crt_fill(top + 1, 0, COLS, SLOT_DIM);
    crt_put(top + 1, 0, COLS, ALIGN_LEFT, SLOT_DIM,
            " space mark  r replay marked/selected  e edit+replay  R replay all  P purge  D delete marked  Enter detail  / search  [ ] page  l reload  Esc back");
    int y = top + 2;
    crt_fill(y, 0, COLS, SLOT_COLUMN);
    /* narrow terminals: shorter id/type/reason, no death time */
    int idw = COLS > 120 ? 38 : COLS >= 90 ? 24 : 16, typew = COLS >= 90 ? 21 : 12, reasonw = COLS >= 90 ? 15 : 10;
    bool show_when = COLS >= 110;
    int x = 0;
    char t[40];
    x += crt_put(y, x, 2, ALIGN_LEFT, SLOT_COLUMN, "");
    snprintf(t, sizeof t, "%sID", list_arrow(l, MS_ID));
    x += crt_put(y, x, idw + 1, ALIGN_LEFT, SLOT_COLUMN, t);
    snprintf(t, sizeof t, "%sTYPE", list_arrow(l, MS_TYPE));
    x += crt_put(y, x, typew, ALIGN_LEFT, SLOT_COLUMN, t);
    snprintf(t, sizeof t, "%sREASON", list_arrow(l, MS_REASON));
    x += crt_put(y, x, reasonw, ALIGN_LEFT, SLOT_COLUMN, t);
    snprintf(t, sizeof t, "%sDEATHS", list_arrow(l, MS_DEATHS));
    x += crt_put(y, x, 7, ALIGN_RIGHT, SLOT_COLUMN, t);
    snprintf(t, sizeof t, "%sATT", list_arrow(l, MS_ATTEMPTS));
    x += crt_put(y, x, 5, ALIGN_RIGHT, SLOT_COLUMN, t);
    snprintf(t, sizeof t, "%sLAST DEATH", list_arrow(l, MS_WHEN));
    if (show_when)
        x += crt_put(y, x, 16, ALIGN_RIGHT, SLOT_COLUMN, t);
    if (x + 2 < COLS)
        crt_put(y, x + 2, COLS - x - 2, ALIGN_LEFT, SLOT_COLUMN, "LAST ERROR");
    if (!p) {
        crt_put(y + 2, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM, "reading…");
        return;
    }
    if (!p->ok) {
        crt_put(y + 2, 2, COLS - 4, ALIGN_LEFT, SLOT_CRIT, p->error);
        return;
    }
    if (!p->n) {
        crt_put(y + 2, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM, p->grep ? "no message matches (/ then Esc clears)" : "empty");
        return;
    }
    int rows = height - 3;
    list_scroll(l, rows);
    for (int i = 0; i < rows && l->top + i < (int)l->n; i++) {
        const struct dlq_message *m = p->msgs[list_row(l, (size_t)(l->top + i))];
        int row = y + 1 + i;
        bool marked = list_marked(&st->msgs, m->info.id);
        enum theme_slot slot = l->top + i == l->selected ? SLOT_SELECTION : marked ? SLOT_WARN : SLOT_DEFAULT;
        crt_fill(row, 0, COLS, slot);
        char deaths[16], att[16], when[32], err[300];
        snprintf(deaths, sizeof deaths, m->info.deaths < 0 ? "-" : "%ld", m->info.deaths);
        snprintf(att, sizeof att, m->info.attempts < 0 ? "-" : "%ld", m->info.attempts);
        format_time(m->info.last_death, "%m-%d %H:%M:%S", 0, when, sizeof when);
        flatten(m->info.last_error, err, sizeof err);
        x = 0;
        x += crt_put(row, x, 2, ALIGN_LEFT, slot, marked ? "*" : " ");
        x += crt_put(row, x, idw, ALIGN_LEFT, slot, m->info.id);
        x += crt_put(row, x, 1, ALIGN_LEFT, slot, "");
        x += crt_put(row, x, typew - 1, ALIGN_LEFT, slot, m->info.type[0] ? m->info.type : "-");
        x += crt_put(row, x, 1, ALIGN_LEFT, slot, "");
        x += crt_put(row, x, reasonw - 1, ALIGN_LEFT, slot, m->info.reason[0] ? m->info.reason : "-");
        x += crt_put(row, x, 1, ALIGN_LEFT, slot, "");
        x += crt_put(row, x, 7, ALIGN_RIGHT, slot, deaths);
        x += crt_put(row, x, 5, ALIGN_RIGHT, slot, att);
        if (show_when)
            x += crt_put(row, x, 16, ALIGN_RIGHT, slot, when);
        x += crt_put(row, x, 2, ALIGN_LEFT, slot, "");
        if (x < COLS)
            crt_put(row, x, COLS - x, ALIGN_LEFT, slot == SLOT_DEFAULT ? SLOT_DIM : slot, err);
    }
}

/* ---- detail ---- */

static bool is_label(const char *s)
{
    return strcmp(s, "properties") == 0 || strcmp(s, "headers") == 0 || strcmp(s, "fields") == 0 ||
           strcmp(s, "body") == 0;
}

/* The message whole: long lines (a header, a body line) wrap at the
 * screen's width rather than being cut; Up/Down scroll the wrapped lines. */
static void draw_detail(struct dlq_state *st, int top, int height)
{
    const struct dlq_message *m = selected_msg(st);
    if (!m) {
        st->mode = MODE_LIST;
        return;
    }
    struct text_lines l = {0};
    dlq_message_lines(m, &l);

    char title[1200];
    snprintf(title, sizeof title, " %s  message %d of this page   (Up/Down scroll, r replay, Esc back)", st->queue,
             st->msgs.selected + 1);
    crt_fill(top, 0, COLS, SLOT_TITLE);
    crt_put(top, 0, COLS, ALIGN_LEFT, SLOT_TITLE, title);
    int rows = height - 1, width = COLS - 2 > 1 ? COLS - 2 : 1;
    /* the wrapped lines: where each starts, how long, whether a label */
    struct piece { const char *at; size_t len; bool label; } *p = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < l.n; i++) {
        const char *s = l.v[i], *next;
        do {
            size_t len = crt_wrap_line(s, width, &next);
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                p = xrealloc(p, cap * sizeof *p);
            }
            p[n++] = (struct piece){s, len, s == l.v[i] && is_label(s)};
            s = next;
        } while (*s);
    }
    if (st->detail_top > (int)n - rows)
        st->detail_top = (int)n - rows > 0 ? (int)n - rows : 0;
    char line[1024];
    for (int i = 0; i < rows && st->detail_top + i < (int)n; i++) {
        const struct piece *q = &p[st->detail_top + i];
        snprintf(line, sizeof line, "%.*s", (int)q->len, q->at);
        crt_put(top + 1 + i, 1, width, ALIGN_LEFT, q->label ? SLOT_LABEL : SLOT_VALUE, line);
    }
    free(p);
    text_lines_free(&l);
}

/* ---- confirmed actions (confirm.h) ---- */

static long dlq_depth(const struct dlq_state *st)
{
    return st->page && st->page->ok ? st->page->total : -1;
}

static void run_replay_all(struct ui *ui, void *arg)
{
    struct dlq_state *st = arg;
    if (request_action(ui, st, DLQ_JOB_REPLAY, NULL, 0, NULL))
        ui_message(ui, "replaying every message of %s…", st->queue);
}

static void run_purge(struct ui *ui, void *arg)
{
    struct dlq_state *st = arg;
    if (request_action(ui, st, DLQ_JOB_PURGE, NULL, 0, NULL))
        ui_message(ui, "purging %s…", st->queue);
}

static void run_delete(struct ui *ui, void *arg)
{
    struct dlq_state *st = arg;
    if (!request_action(ui, st, DLQ_JOB_PURGE, st->msgs.marks, st->msgs.nmarks, NULL))
        return;
    ui_message(ui, "deleting %zu message%s…", st->msgs.nmarks, st->msgs.nmarks == 1 ? "" : "s");
    list_clear_marks(&st->msgs);
}

static void run_replay_marked(struct ui *ui, void *arg)
{
    struct dlq_state *st = arg;
    if (!request_action(ui, st, DLQ_JOB_REPLAY, st->msgs.marks, st->msgs.nmarks, NULL))
        return;
    ui_message(ui, "replaying %zu marked message%s…", st->msgs.nmarks, st->msgs.nmarks == 1 ? "" : "s");
    list_clear_marks(&st->msgs);
}

static bool refused(struct ui *ui)
{
    if (read_only(ui))
        ui_message(ui, "read-only: replay, purge and delete are refused (--read-only or read_only in the context)");
    return read_only(ui);
}

static bool ask_replay_all(struct ui *ui, struct dlq_state *st)
{
    if (!refused(ui))
        confirm_ask(ui, st->queue, NULL, run_replay_all, st, NULL, "replay ALL %ld messages of %s to where they died",
                    dlq_depth(st), st->queue);
    return true;
}

static bool ask_purge(struct ui *ui, struct dlq_state *st)
{
    if (!refused(ui))
        confirm_ask(ui, st->queue, NULL, run_purge, st, NULL, "PURGE (delete for good) all %ld messages of %s",
                    dlq_depth(st), st->queue);
    return true;
}

static bool ask_delete(struct ui *ui, struct dlq_state *st)
{
    if (refused(ui))
        return true;
    if (!st->msgs.nmarks)
        ui_message(ui, "mark messages with space first");
    else
        confirm_ask(ui, st->queue, NULL, run_delete, st, NULL, "DELETE the %zu marked message%s of %s", st->msgs.nmarks,
                    st->msgs.nmarks == 1 ? "" : "s", st->queue);
    return true;
}

/* ---- keys ---- */

static void open_queue(struct ui *ui, struct dlq_state *st, const char *queue)
{
    snprintf(st->queue, sizeof st->queue, "%s", queue);
    dlq_page_free(st->page);
    st->page = NULL;
    st->offset = 0;
    list_reset(&st->msgs);
    list_clear_marks(&st->msgs);
    st->mode = MODE_LIST;
    request_page(ui, st);
}

static void replay_marked(struct ui *ui, struct dlq_state *st)
{
    if (read_only(ui)) {
        ui_message(ui, "read-only: replay refused (--read-only or read_only in the context)");
        return;
    }
    if (st->msgs.nmarks > 1) {
        confirm_ask(ui, NULL, NULL, run_replay_marked, st, NULL, "replay the %zu marked messages of %s to where they died",
                    st->msgs.nmarks, st->queue);
    } else if (st->msgs.nmarks) {
        run_replay_marked(ui, st);
    } else if (selected_msg(st)) {
        char *id = (char *)selected_msg(st)->info.id;
        if (request_action(ui, st, DLQ_JOB_REPLAY, &id, 1, NULL))
            ui_message(ui, "replaying %s…", id);
    }
}

/* e: the selected message's body in $EDITOR (dlq-edit.h); saved and
 * changed, it is replayed with that body. */
static void edit_and_replay(struct ui *ui, struct dlq_state *st)
{
    if (read_only(ui)) {
        ui_message(ui, "read-only: edit and replay refused");
        return;
    }
    const struct dlq_message *m = selected_msg(st);
    if (!m)
        return;
    struct dlq_bytes body = {0};
    char why[256];
    if (dlq_edit_body(m, &body, why, sizeof why) < 0) {
        ui_message(ui, "%s", why);
        return;
    }
    char *id = (char *)m->info.id;
    if (request_action(ui, st, DLQ_JOB_REPLAY, &id, 1, &body))
        ui_message(ui, "replaying %s with the edited body…", id);
    dlq_bytes_free(&body);
}

static bool key_enter(struct ui *ui, void *state)
{
    struct dlq_state *st = state;
    size_t row;
    if (st->mode == MODE_PICK) {
        if (list_selected(&st->picks, &row))
            open_queue(ui, st, st->dlqs.names[row]);
    } else if (st->mode == MODE_LIST && selected_msg(st)) {
        st->mode = MODE_DETAIL;
        st->detail_top = 0;
    }
    return true;
}

static bool key_back(struct ui *ui, void *state)
{
    struct dlq_state *st = state;
    if (ui->help || st->mode == MODE_PICK)
        return false;
    st->mode = st->mode == MODE_DETAIL ? MODE_LIST : MODE_PICK;
    return true;
}

/* In the message's detail, Up/Down and PgUp/PgDn scroll it. */
static bool key_scroll(struct ui *ui, void *state, int step)
{
    (void)ui;
    struct dlq_state *st = state;
    if (st->mode != MODE_DETAIL)
        return false;
    st->detail_top = st->detail_top + step > 0 ? st->detail_top + step : 0;
    return true;
}
static bool key_down(struct ui *ui, void *state) { return key_scroll(ui, state, 1); }
static bool key_up(struct ui *ui, void *state) { return key_scroll(ui, state, -1); }
static bool key_pgdn(struct ui *ui, void *state) { return key_scroll(ui, state, LINES - 6); }
static bool key_pgup(struct ui *ui, void *state) { return key_scroll(ui, state, -(LINES - 6)); }

static bool in_list(const struct dlq_state *st) { return st->mode == MODE_LIST; }

static bool key_mark(struct ui *ui, void *state)
{
    (void)ui;
    struct dlq_state *st = state;
    const struct dlq_message *m = selected_msg(st);
    if (!in_list(st))
        return false;
    if (m) {
        list_toggle_mark(&st->msgs, m->info.id);
        list_select(&st->msgs, st->msgs.selected + 1);
    }
    return true;
}

static bool next_page(struct ui *ui, struct dlq_state *st, int step)
{
    if (!in_list(st))
        return false;
    const struct dlq_page *p = st->page;
    if (step > 0 && p && p->ok && st->offset + PAGE_SIZE < (size_t)(p->grep ? p->matches : p->total))
        st->offset += PAGE_SIZE;
    else if (step < 0 && st->offset)
        st->offset = st->offset > PAGE_SIZE ? st->offset - PAGE_SIZE : 0;
    else
        return true;
    list_reset(&st->msgs);
    request_page(ui, st);
    return true;
}
static bool key_next_page(struct ui *ui, void *state) { return next_page(ui, state, 1); }
static bool key_prev_page(struct ui *ui, void *state) { return next_page(ui, state, -1); }

static bool key_replay(struct ui *ui, void *state)
{
    struct dlq_state *st = state;
    if (st->mode == MODE_PICK)
        return false;
    replay_marked(ui, st);
    st->mode = MODE_LIST;
    return true;
}

static bool key_edit(struct ui *ui, void *state)
{
    struct dlq_state *st = state;
    if (st->mode == MODE_PICK)
        return false;
    edit_and_replay(ui, st);
    st->mode = MODE_LIST;
    return true;
}

static bool key_replay_all(struct ui *ui, void *state)
{
    return in_list(state) && ask_replay_all(ui, state);
}
static bool key_purge(struct ui *ui, void *state) { return in_list(state) && ask_purge(ui, state); }
static bool key_delete(struct ui *ui, void *state) { return in_list(state) && ask_delete(ui, state); }

static bool key_reload(struct ui *ui, void *state)
{
    if (!in_list(state))
        return false;
    request_page(ui, state);
    return true;
}

static const struct view_key dlq_keys[] = {
    {{'\r', '\n', KEY_ENTER}, "Enter", "open the selected DLQ, or the selected message", key_enter},
    {{27}, "Esc", "back: from a message to the list, from the list to the DLQs", key_back},
    {{' '}, "space", "mark or unmark the selected message", key_mark},
    {{'r'}, "r", "replay the marked messages (or the selected one) to where they died", key_replay},
    {{'e'}, "e", "edit the selected message's body in $EDITOR, then replay it", key_edit},
    {{'R'}, "R", "replay every message of the DLQ (type its name to confirm)", key_replay_all},
    {{'P'}, "P", "purge: delete every message for good (type its name)", key_purge},
    {{'D'}, "D", "delete the marked messages (type the DLQ's name)", key_delete},
    {{']'}, "]", "next page of 200", key_next_page},
    {{'['}, "[", "previous page", key_prev_page},
    {{'l'}, "l", "reload the page", key_reload},
    {{KEY_DOWN, 'j'}, "Down j", "in a message: scroll", key_down},
    {{KEY_UP, 'k'}, "Up k", "in a message: scroll back", key_up},
    {{KEY_NPAGE}, "PgDn", "in a message: page down", key_pgdn},
    {{KEY_PPAGE}, "PgUp", "in a message: page up", key_pgup},
};

static void draw(struct ui *ui, void *state, int top, int height)
{
    struct dlq_state *st = state;
    if (!ui->opt->ctx || !(ui->opt->ctx->amqp || ui->opt->ctx->redis)) {
        crt_put(top + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_WARN,
                "the DLQ view reads messages over AMQP or Redis: give --amqp URL (or amqp in the context) or --redis URL");
        return;
    }
    ensure_worker(ui, st);
    take_page(st);
    list_build(&st->msgs, &dlq_msg_model, &st->page);
    /* a replay, purge or delete ended: the page as the DLQ now is */
    if (st->write_ticket && writes_finished(ui->writes, st->write_ticket)) {
        st->write_ticket = 0;
        if (st->mode != MODE_PICK)
            request_page(ui, st);
    }
    /* the page reloads while it is shown, so its count does not go stale */
    if (st->mode == MODE_LIST && st->page && !st->waiting_seq && ui->prompt == PROMPT_NONE && !confirm_open(ui) &&
        clock_mono() - st->page_at >= PAGE_REFRESH)
        request_page(ui, st);
    /* a new search once the operator has finished typing it */
    if (st->mode != MODE_PICK && ui->prompt == PROMPT_NONE && strcmp(st->msgs.filter, st->grep) != 0) {
        st->offset = 0;
        request_page(ui, st);
    }
    if (st->mode == MODE_PICK)
        draw_pick(ui, st, top, height);
    else if (st->mode == MODE_LIST)
        draw_list(st, top, height);
    else
        draw_detail(st, top, height);
}

static void *dlq_init(struct ui *ui)
{
    struct dlq_state *st = xcalloc(1, sizeof *st);
    st->dlqs.ui = ui;
    list_init(&st->picks, dlq_pick_columns, PS_NCOLUMNS, PS_NAME);
    list_init(&st->msgs, dlq_msg_columns, MS_NCOLUMNS, -1);
    return st;
}

static struct list *dlq_list(void *state)
{
    struct dlq_state *st = state;
    return st->mode == MODE_PICK ? &st->picks : &st->msgs;
}

const struct view_ops dlq_view = {
    .name = "DLQ",
    .short_name = "DLQ",
    .summary = "dead letters: browse, search, inspect, replay (r/R), purge (P), delete (D)",
    .key = '6',
    .init = dlq_init,
    .free = dlq_free,
    .draw = draw,
    .list = dlq_list,
    .keys = dlq_keys,
    .nkeys = sizeof dlq_keys / sizeof dlq_keys[0],
};
