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
 * All broker work happens on the DLQ worker thread (console/dlq-jobs.h); this
 * file only submits jobs and draws the pages the worker hands back. The
 * view's state is file-local: there is one console per process. */
#include <ctype.h>
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
#include "ui/crt.h"
#include "ui/dlq-text.h"
#include "ui/screen.h"

#define PAGE_SIZE 200
#define KEY_ESC 27

enum dlq_mode { MODE_PICK, MODE_LIST, MODE_DETAIL };
enum confirm_action { CONFIRM_NONE, CONFIRM_REPLAY_ALL, CONFIRM_PURGE, CONFIRM_DELETE };

static struct {
    struct dlq_jobs *worker;
    enum dlq_mode mode;
    /* picker */
    char **dlqs;
    size_t ndlqs;
    int pick, pick_top;
    /* list */
    char queue[1024];
    struct dlq_page *page;
    unsigned long waiting_seq;      /* 0: nothing requested */
    size_t offset;
    int sel, top;
    char **marks;                   /* ids */
    size_t nmarks;
    char grep[256];                 /* filter the current page was asked with */
    /* detail */
    int detail_top;
    /* typed confirmation */
    enum confirm_action confirm;
    char typed[256];
    char last_action[2048];
} st;

static void stop_worker(void)
{
    dlq_jobs_stop(st.worker);
    st.worker = NULL;
    dlq_page_free(st.page);
    st.page = NULL;
    for (size_t i = 0; i < st.nmarks; i++)
        free(st.marks[i]);
    free(st.marks);
    st.marks = NULL;
    st.nmarks = 0;
    for (size_t i = 0; i < st.ndlqs; i++)
        free(st.dlqs[i]);
    free(st.dlqs);
    st.dlqs = NULL;
    st.ndlqs = 0;
}

static bool view_dlq_interrupt(char *result, size_t len)
{
    return dlq_jobs_interrupt(st.worker, result, len);
}

static bool read_only(const struct ui *ui)
{
    return ui->opt->ctx && ui->opt->ctx->read_only;
}

static void ensure_worker(struct ui *ui)
{
    if (st.worker || !ui->opt->ctx)
        return;
    int fd = ui->opt->nsources ? ui->opt->sources[0]->feed.notify_fd : -1;
    st.worker = dlq_jobs_start(ui->opt->cfg, ui->opt->ctx, fd);
    if (st.worker)
        atexit(stop_worker);
}

/* ---- marks ---- */

static long mark_index(const char *id)
{
    for (size_t i = 0; i < st.nmarks; i++)
        if (strcmp(st.marks[i], id) == 0)
            return (long)i;
    return -1;
}

static void toggle_mark(const char *id)
{
    long i = mark_index(id);
    if (i >= 0) {
        free(st.marks[i]);
        st.marks[i] = st.marks[--st.nmarks];
        return;
    }
    st.marks = xrealloc(st.marks, (st.nmarks + 1) * sizeof *st.marks);
    st.marks[st.nmarks++] = xstrdup(id);
}

static void clear_marks(void)
{
    for (size_t i = 0; i < st.nmarks; i++)
        free(st.marks[i]);
    st.nmarks = 0;
}

/* ---- jobs ---- */

static void request_page(struct ui *ui)
{
    ensure_worker(ui);
    if (!st.worker)
        return;
    snprintf(st.grep, sizeof st.grep, "%s", ui->filter);
    struct dlq_job job = {.kind = DLQ_JOB_PAGE, .queue = st.queue, .offset = st.offset, .limit = PAGE_SIZE,
                          .grep = st.grep[0] ? st.grep : NULL};
    st.waiting_seq = dlq_jobs_submit(st.worker, &job);
}

static void request_action(struct ui *ui, enum dlq_job_kind kind, char **ids, size_t nids,
                           const struct dlq_bytes *body)
{
    ensure_worker(ui);
    if (!st.worker)
        return;
    struct dlq_job job = {.kind = kind, .queue = st.queue, .offset = st.offset, .limit = PAGE_SIZE,
                          .grep = st.grep[0] ? st.grep : NULL, .ids = ids, .nids = nids, .body = body};
    st.waiting_seq = dlq_jobs_submit(st.worker, &job);
}

static void take_page(struct ui *ui)
{
    if (!st.worker)
        return;
    struct dlq_page *p = dlq_jobs_take(st.worker);
    if (!p)
        return;
    if (strcmp(p->queue, st.queue) != 0) {
        dlq_page_free(p);
        return;
    }
    dlq_page_free(st.page);
    st.page = p;
    if (p->seq == st.waiting_seq)
        st.waiting_seq = 0;
    if (p->action[0]) {
        snprintf(st.last_action, sizeof st.last_action, "%s", p->action);
        ui_message(ui, "%s", p->action);
    }
    if (st.sel >= (int)p->n)
        st.sel = p->n ? (int)p->n - 1 : 0;
}

/* ---- the picker ---- */

static bool is_dlq_name(const char *addr)
{
    size_t n = strlen(addr);
    const char *hash = strrchr(addr, '#');
    if (strncmp(addr, "stream:", 7) == 0 && hash)
        n = (size_t)(hash - addr);
    return (n > 4 && (strncmp(addr + n - 4, DLQ_SUFFIX_AMQP, 4) == 0 || strncmp(addr + n - 4, DLQ_SUFFIX_REDIS, 4) == 0));
}

static void collect_dlqs(struct ui *ui)
{
    for (size_t i = 0; i < st.ndlqs; i++)
        free(st.dlqs[i]);
    st.ndlqs = 0;
    for (size_t s = 0; s < ui->opt->nsources; s++) {
        const struct snapshot *snap = ui->feeds[s].snap;
        for (size_t i = 0; snap && i < snap->nqueues; i++) {
            const char *addr = snap->queues[i].addr;
            if (!is_dlq_name(addr))
                continue;
            char *name = xstrdup(addr);
            if (strncmp(name, "stream:", 7) == 0 && strrchr(name, '#'))
                *strrchr(name, '#') = '\0';       /* a DLQ stream is read whole, not by group */
            bool dup = false;
            for (size_t k = 0; k < st.ndlqs && !dup; k++)
                dup = strcmp(st.dlqs[k], name) == 0;
            if (dup) {
                free(name);
                continue;
            }
            st.dlqs = xrealloc(st.dlqs, (st.ndlqs + 1) * sizeof *st.dlqs);
            st.dlqs[st.ndlqs++] = name;
        }
    }
    if (st.pick >= (int)st.ndlqs)
        st.pick = st.ndlqs ? (int)st.ndlqs - 1 : 0;
}

static const struct queue_stat *find_stat(struct ui *ui, const char *addr)
{
    for (size_t s = 0; s < ui->opt->nsources; s++) {
        const struct snapshot *snap = ui->feeds[s].snap;
        for (size_t i = 0; snap && i < snap->nqueues; i++)
            if (strncmp(snap->queues[i].addr, addr, strlen(addr)) == 0)
                return &snap->queues[i];
    }
    return NULL;
}

static void draw_pick(struct ui *ui, int top, int height)
{
    collect_dlqs(ui);
    crt_fill(top, 0, COLS, SLOT_COLUMN);
    crt_put(top, 0, COLS, ALIGN_LEFT, SLOT_COLUMN, "DEAD-LETTER QUEUE                                   DEPTH   (Enter opens)");
    if (!st.ndlqs) {
        crt_put(top + 2, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                "no dead-letter queues yet (queues named *.dlq or *:dlq); `qdeck dlq list QUEUE` reads any queue");
        return;
    }
    int rows = height - 1;
    st.pick_top = scroll_top(st.pick_top, st.pick, rows, (int)st.ndlqs);
    for (int i = 0; i < rows && st.pick_top + i < (int)st.ndlqs; i++) {
        int idx = st.pick_top + i;
        enum theme_slot slot = idx == st.pick ? SLOT_SELECTION : SLOT_DEFAULT;
        const struct queue_stat *q = find_stat(ui, st.dlqs[idx]);
        char depth[32];
        fmt_count(depth, sizeof depth, q ? (q->total >= 0 ? q->total : q->ready) : -1);
        crt_fill(top + 1 + i, 0, COLS, slot);
        crt_put(top + 1 + i, 0, 50, ALIGN_LEFT, slot, st.dlqs[idx]);
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

static void draw_list(int top, int height)
{
    char head[1400], status[200] = "";
    if (st.worker)
        dlq_jobs_status(st.worker, status, sizeof status);
    const struct dlq_page *p = st.page;
    if (p && p->ok) {
        size_t last = p->offset + p->n;
        if (p->grep)
            snprintf(head, sizeof head, " %s  %ld messages, %ld match \"%s\"  rows %zu-%zu  marked %zu%s%s", st.queue,
                     p->total, p->matches, p->grep, p->n ? p->offset + 1 : 0, last, st.nmarks,
                     status[0] ? "  " : "", status);
        else
            snprintf(head, sizeof head, " %s  %ld messages  rows %zu-%zu  marked %zu%s%s", st.queue, p->total,
                     p->n ? p->offset + 1 : 0, last, st.nmarks, status[0] ? "  " : "", status);
    } else {
        snprintf(head, sizeof head, " %s  %s", st.queue, status[0] ? status : (st.waiting_seq ? "reading…" : ""));
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
    x += crt_put(y, x, 2, ALIGN_LEFT, SLOT_COLUMN, "");
    x += crt_put(y, x, idw + 1, ALIGN_LEFT, SLOT_COLUMN, "ID");
    x += crt_put(y, x, typew, ALIGN_LEFT, SLOT_COLUMN, "TYPE");
    x += crt_put(y, x, reasonw, ALIGN_LEFT, SLOT_COLUMN, "REASON");
    x += crt_put(y, x, 7, ALIGN_RIGHT, SLOT_COLUMN, "DEATHS");
    x += crt_put(y, x, 5, ALIGN_RIGHT, SLOT_COLUMN, "ATT");
    if (show_when)
        x += crt_put(y, x, 16, ALIGN_RIGHT, SLOT_COLUMN, "LAST DEATH");
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
    st.top = scroll_top(st.top, st.sel, rows, (int)p->n);
    for (int i = 0; i < rows && st.top + i < (int)p->n; i++) {
        const struct dlq_message *m = p->msgs[st.top + i];
        int row = y + 1 + i;
        bool marked = mark_index(m->info.id) >= 0;
        enum theme_slot slot = st.top + i == st.sel ? SLOT_SELECTION : marked ? SLOT_WARN : SLOT_DEFAULT;
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

static void draw_detail(struct ui *ui, int top, int height)
{
    (void)ui;
    if (!st.page || !st.page->ok || st.sel >= (int)st.page->n) {
        st.mode = MODE_LIST;
        return;
    }
    struct text_lines l = {0};
    dlq_message_lines(st.page->msgs[st.sel], &l);

    char title[1200];
    snprintf(title, sizeof title, " %s  message %d of this page   (Up/Down scroll, r replay, Esc back)", st.queue,
             st.sel + 1);
    crt_fill(top, 0, COLS, SLOT_TITLE);
    crt_put(top, 0, COLS, ALIGN_LEFT, SLOT_TITLE, title);
    int rows = height - 1;
    if (st.detail_top > (int)l.n - rows)
        st.detail_top = (int)l.n - rows > 0 ? (int)l.n - rows : 0;
    for (int i = 0; i < rows && st.detail_top + i < (int)l.n; i++) {
        const char *s = l.v[st.detail_top + i];
        bool label = s[0] && !isspace((unsigned char)s[0]) && strchr("{[}]\"", s[0]) == NULL &&
                     (strcmp(s, "properties") == 0 || strcmp(s, "headers") == 0 || strcmp(s, "fields") == 0 ||
                      strcmp(s, "body") == 0);
        crt_put(top + 1 + i, 1, COLS - 2, ALIGN_LEFT, label ? SLOT_LABEL : SLOT_VALUE, s);
    }
    text_lines_free(&l);
}

/* ---- confirmation ---- */

static const char *confirm_name(enum confirm_action a)
{
    switch (a) {
    case CONFIRM_REPLAY_ALL: return "replay ALL messages of";
    case CONFIRM_PURGE: return "PURGE (delete for good) every message of";
    case CONFIRM_DELETE: return "DELETE the marked messages of";
    case CONFIRM_NONE: break;
    }
    return "";
}

static void draw_confirm(int top, int height)
{
    int w = COLS - 8 < 100 ? COLS - 8 : 100, h = 6;
    int y0 = top + (height - h) / 2, x0 = (COLS - w) / 2;
    for (int y = y0; y < y0 + h; y++)
        crt_fill(y, x0, w, SLOT_HELP);
    char line[1400];
    snprintf(line, sizeof line, " %s %s?", confirm_name(st.confirm), st.queue);
    crt_put(y0 + 1, x0 + 1, w - 2, ALIGN_LEFT, SLOT_CRIT, line);
    crt_put(y0 + 2, x0 + 1, w - 2, ALIGN_LEFT, SLOT_HELP, " Type the queue name to confirm, Enter; Esc cancels.");
    snprintf(line, sizeof line, " > %s", st.typed);
    crt_put(y0 + 4, x0 + 1, w - 2, ALIGN_LEFT, SLOT_FILTER, line);
}

static void confirm_done(struct ui *ui)
{
    enum confirm_action a = st.confirm;
    st.confirm = CONFIRM_NONE;
    ui->modal = false;
    if (strcmp(st.typed, st.queue) != 0) {
        ui_message(ui, "cancelled: the name typed was not %s", st.queue);
        return;
    }
    if (a == CONFIRM_REPLAY_ALL) {
        request_action(ui, DLQ_JOB_REPLAY, NULL, 0, NULL);
        ui_message(ui, "replaying every message of %s…", st.queue);
    } else if (a == CONFIRM_PURGE) {
        request_action(ui, DLQ_JOB_PURGE, NULL, 0, NULL);
        ui_message(ui, "purging %s…", st.queue);
    } else if (a == CONFIRM_DELETE) {
        request_action(ui, DLQ_JOB_PURGE, st.marks, st.nmarks, NULL);
        ui_message(ui, "deleting %zu message%s…", st.nmarks, st.nmarks == 1 ? "" : "s");
        clear_marks();
    }
}

static bool confirm_key(struct ui *ui, int key)
{
    size_t len = strlen(st.typed);
    if (key == KEY_ESC) {
        st.confirm = CONFIRM_NONE;
        ui->modal = false;
        ui_message(ui, "cancelled");
    } else if (key == '\r' || key == '\n' || key == KEY_ENTER) {
        confirm_done(ui);
    } else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
        while (len > 0 && ((unsigned char)st.typed[len - 1] & 0xC0) == 0x80)
            len--;
        if (len > 0)
            len--;
        st.typed[len] = '\0';
    } else if (key >= 32 && key < KEY_MIN) {
        char mb[MB_LEN_MAX];
        mbstate_t ms;
        memset(&ms, 0, sizeof ms);
        size_t n = wcrtomb(mb, (wchar_t)key, &ms);
        if (n != (size_t)-1 && len + n < sizeof st.typed) {
            memcpy(st.typed + len, mb, n);
            st.typed[len + n] = '\0';
        }
    }
    return true;
}

static bool start_confirm(struct ui *ui, enum confirm_action a)
{
    if (read_only(ui)) {
        ui_message(ui, "read-only: replay, purge and delete are refused (--read-only or read_only in the context)");
        return true;
    }
    if (a == CONFIRM_DELETE && !st.nmarks) {
        ui_message(ui, "mark messages with space first");
        return true;
    }
    st.confirm = a;
    st.typed[0] = '\0';
    ui->modal = true;
    return true;
}

/* ---- keys ---- */

static void open_queue(struct ui *ui, const char *queue)
{
    snprintf(st.queue, sizeof st.queue, "%s", queue);
    dlq_page_free(st.page);
    st.page = NULL;
    st.offset = 0;
    st.sel = st.top = 0;
    clear_marks();
    st.mode = MODE_LIST;
    request_page(ui);
}

static void replay_marked(struct ui *ui)
{
    if (read_only(ui)) {
        ui_message(ui, "read-only: replay refused (--read-only or read_only in the context)");
        return;
    }
    if (st.nmarks) {
        request_action(ui, DLQ_JOB_REPLAY, st.marks, st.nmarks, NULL);
        ui_message(ui, "replaying %zu marked message%s…", st.nmarks, st.nmarks == 1 ? "" : "s");
        clear_marks();
    } else if (st.page && st.page->ok && st.sel < (int)st.page->n) {
        char *id = st.page->msgs[st.sel]->info.id;
        request_action(ui, DLQ_JOB_REPLAY, &id, 1, NULL);
        ui_message(ui, "replaying %s…", id);
    }
}

/* e: the selected message's body in $EDITOR (then $VISUAL, then vi), on
 * the terminal curses gives back for the while; saved and changed, it is
 * replayed with that body. A JSON body must come back as valid JSON. */
static void edit_and_replay(struct ui *ui)
{
    if (read_only(ui)) {
        ui_message(ui, "read-only: edit and replay refused");
        return;
    }
    if (!st.page || !st.page->ok || st.sel >= (int)st.page->n)
        return;
    const struct dlq_message *m = st.page->msgs[st.sel];
    char path[] = "/tmp/qdeck-edit-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        ui_message(ui, "cannot create a temporary file for the editor");
        return;
    }
    cJSON *j = m->body.len ? cJSON_ParseWithLength(m->body.data, m->body.len) : NULL;
    char *pretty = j ? cJSON_Print(j) : NULL;
    const char *text = pretty ? pretty : m->body.data;
    size_t len = pretty ? strlen(pretty) : m->body.len;
    bool wrote = write(fd, text ? text : "", len) == (ssize_t)len;
    close(fd);
    const char *editor = getenv("EDITOR");
    if (!editor || !*editor)
        editor = getenv("VISUAL");
    if (!editor || !*editor)
        editor = "vi";
    char *cmd = xasprintf("%s '%s'", editor, path);
    def_prog_mode();
    endwin();
    int rc = wrote ? system(cmd) : -1;
    reset_prog_mode();
    refresh();
    free(cmd);
    FILE *f = fopen(path, "r");
    char *edited = NULL;
    size_t elen = 0;
    if (f) {
        size_t cap = 0;
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
            edited = xrealloc(edited, cap = elen + n + 1);
            memcpy(edited + elen, buf, n);
            elen += n;
        }
        (void)cap;
        fclose(f);
    }
    unlink(path);
    cJSON *e = NULL;
    if (rc != 0 || !f) {
        ui_message(ui, "editor failed (%s): nothing replayed", editor);
    } else if (elen == len && (!elen || memcmp(edited, text, len) == 0)) {
        ui_message(ui, "body unchanged: nothing replayed (r replays as is)");
    } else if (j && !(e = cJSON_ParseWithLength(edited ? edited : "", elen))) {
        ui_message(ui, "the edited body is not valid JSON: nothing replayed");
    } else {
        /* JSON goes out compact again, as it came */
        char *compact = e ? cJSON_PrintUnformatted(e) : NULL;
        struct dlq_bytes body = {0};
        dlq_bytes_set(&body, compact ? compact : (edited ? edited : ""), compact ? strlen(compact) : elen);
        char *id = (char *)m->info.id;
        request_action(ui, DLQ_JOB_REPLAY, &id, 1, &body);
        ui_message(ui, "replaying %s with the edited body…", id);
        dlq_bytes_free(&body);
        cJSON_free(compact);
    }
    cJSON_Delete(e);
    free(edited);
    cJSON_free(pretty);
    cJSON_Delete(j);
}

static bool handle_key(struct ui *ui, int key)
{
    if (st.confirm != CONFIRM_NONE)
        return confirm_key(ui, key);
    if (st.mode == MODE_PICK) {
        switch (key) {
        case KEY_DOWN: case 'j': if (st.pick + 1 < (int)st.ndlqs) st.pick++; return true;
        case KEY_UP: case 'k': if (st.pick > 0) st.pick--; return true;
        case '\r': case '\n': case KEY_ENTER:
            if (st.ndlqs)
                open_queue(ui, st.dlqs[st.pick]);
            return true;
        default: return false;
        }
    }
    if (st.mode == MODE_DETAIL) {
        switch (key) {
        case KEY_DOWN: case 'j': st.detail_top++; return true;
        case KEY_UP: case 'k': if (st.detail_top > 0) st.detail_top--; return true;
        case KEY_NPAGE: st.detail_top += LINES - 6; return true;
        case KEY_PPAGE: st.detail_top = st.detail_top > LINES - 6 ? st.detail_top - (LINES - 6) : 0; return true;
        case KEY_ESC: st.mode = MODE_LIST; return true;
        case 'r': replay_marked(ui); st.mode = MODE_LIST; return true;
        case 'e': edit_and_replay(ui); st.mode = MODE_LIST; return true;
        default: return false;
        }
    }
    int n = st.page && st.page->ok ? (int)st.page->n : 0;
    switch (key) {
    case KEY_DOWN: case 'j': if (st.sel + 1 < n) st.sel++; return true;
    case KEY_UP: case 'k': if (st.sel > 0) st.sel--; return true;
    case KEY_NPAGE: st.sel = st.sel + (LINES - 8) < n ? st.sel + (LINES - 8) : (n ? n - 1 : 0); return true;
    case KEY_PPAGE: st.sel = st.sel > LINES - 8 ? st.sel - (LINES - 8) : 0; return true;
    case KEY_HOME: case 'g': st.sel = 0; return true;
    case KEY_END: case 'G': st.sel = n ? n - 1 : 0; return true;
    case ' ':
        if (st.sel < n) {
            toggle_mark(st.page->msgs[st.sel]->info.id);
            if (st.sel + 1 < n)
                st.sel++;
        }
        return true;
    case '\r': case '\n': case KEY_ENTER:
        if (st.sel < n) {
            st.mode = MODE_DETAIL;
            st.detail_top = 0;
        }
        return true;
    case KEY_ESC:
        st.mode = MODE_PICK;
        return true;
    case ']':
        if (st.page && st.page->ok && st.offset + PAGE_SIZE < (size_t)(st.page->grep ? st.page->matches : st.page->total)) {
            st.offset += PAGE_SIZE;
            st.sel = st.top = 0;
            request_page(ui);
        }
        return true;
    case '[':
        if (st.offset) {
            st.offset = st.offset > PAGE_SIZE ? st.offset - PAGE_SIZE : 0;
            st.sel = st.top = 0;
            request_page(ui);
        }
        return true;
    case 'r': replay_marked(ui); return true;
    case 'e': edit_and_replay(ui); return true;
    case 'R': return start_confirm(ui, CONFIRM_REPLAY_ALL);
    case 'P': return start_confirm(ui, CONFIRM_PURGE);
    case 'D': return start_confirm(ui, CONFIRM_DELETE);
    case 'l': request_page(ui); return true;
    default: return false;
    }
}

static void draw(struct ui *ui, int top, int height)
{
    if (!ui->opt->ctx || !(ui->opt->ctx->amqp || ui->opt->ctx->redis)) {
        crt_put(top + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_WARN,
                "the DLQ view reads messages over AMQP or Redis: give --amqp URL (or amqp in the context) or --redis URL");
        return;
    }
    ensure_worker(ui);
    take_page(ui);
    /* a new search once the operator has finished typing it */
    if (st.mode != MODE_PICK && ui->prompt == PROMPT_NONE && strcmp(ui->filter, st.grep) != 0) {
        st.offset = 0;
        st.sel = st.top = 0;
        request_page(ui);
    }
    if (st.mode == MODE_PICK)
        draw_pick(ui, top, height);
    else if (st.mode == MODE_LIST)
        draw_list(top, height);
    else
        draw_detail(ui, top, height);
    if (st.confirm != CONFIRM_NONE)
        draw_confirm(top, height);
}

const struct view_ops dlq_view = {
    .name = "DLQ",
    .summary = "dead letters: browse, search, inspect, replay (r/R), purge (P), delete (D)",
    .key = '6',
    .draw = draw,
    .handle_key = handle_key,
    .interrupt = view_dlq_interrupt,
};
