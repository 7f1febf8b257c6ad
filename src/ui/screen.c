/* The console loop (screen_run, called by ui_run in views.c): poll() on
 * the keyboard, the collectors' notify pipe and a signal self-pipe, take
 * the feeds' latest snapshots, record history, draw. Nothing here touches the network, so a hung broker
 * never freezes a key.
 *
 * Signals (signals.c) wake the poll() through a pipe of their own.
 *
 * Keys are tables: the shown view's own (view_ops.keys), the table keys
 * every list view shares (table_bindings[], acting on the shown view's
 * list only), and the console's (key_bindings[]). The dispatcher and the
 * help overlay both read them, so help can never drift from what the keys
 * do. The views are the table views.c hands to screen_run. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <wchar.h>

#include "console/fleet-source.h"
#include "console/queue-join.h"
#include "console/writes.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "console/alerts.h"
#include "ui/command-set.h"
#include "ui/confirm.h"
#include "ui/crt.h"
#include "ui/panel.h"
#include "ui/prompt.h"
#include "ui/screen.h"
#include "ui/signals.h"
#include "ui/sparkline.h"

#define MIN_COLS 60
#define MIN_LINES 12
#define KEY_ESC 27
#define KEY_CTRL_C 3
/* A ring not refreshed for this long belongs to a queue that is gone. */
#define HISTORY_KEEP_SECONDS 600.0

/* The view table screen_run was given (views.c): the loop knows views
 * only through it. */
static const struct view_ops *const *views;
static size_t nviews;

void draw_sparkline(struct ui *ui, int y, int x, int width, const char *addr, enum history_series s,
                    enum theme_slot slot)
{
    double values[512];
    size_t n = history_series(history_get(&ui->history, addr), s, values, sizeof values / sizeof values[0]);
    char line[4096];
    sparkline_render(values, n, width, crt_utf8(), line, sizeof line);
    crt_put(y, x, width, ALIGN_LEFT, slot, line);
}

/* ---- feeds ---- */

/* Samples a dead-letter queue's growth is measured over, for its alert. */
#define DLQ_GROWTH_SAMPLES 10

static double dlq_growth(void *ctx, const char *addr)
{
    return history_growth(history_get(ctx, addr), DLQ_GROWTH_SAMPLES);
}


static void pull_feeds(struct ui *ui)
{
    bool changed = false;
    double now = clock_wall();
    if (now - ui->pruned_at > 60) {
        history_prune(&ui->history, now - HISTORY_KEEP_SECONDS);
        ui->pruned_at = now;
    }
    if (ui->opt->board) {
        board_release(ui->board);
        ui->board = board_get(ui->opt->board, &ui->board_status, ui->board_message, sizeof ui->board_message);
    }
    char written[1024];
    bool failed;
    while (writes_take(ui->writes, written, sizeof written, &failed))
        failed ? ui_error(ui, "%s", written) : ui_message(ui, "%s", written);
    if (ui->opt->fleet) {
        feed_view_release(&ui->fleet);
        feed_get(&ui->opt->fleet->feed, &ui->fleet);
        if (ui->fleet.generation != ui->fleet_seen) {
            ui->fleet_seen = ui->fleet.generation;
            changed = true;
            if (ui->fleet.status == SOURCE_OK && ui->fleet.snap)
                type_series_record(&ui->types, fleet_table_of(ui->fleet.snap), fleet_latency_of(ui->fleet.snap, NULL));
        }
    }
    /* the queue rows joined with the fleet and the guardrails: consumers
     * and out rate of Redis queues, the workers consuming, PAUSED / SHED */
    const struct fleet_table *fleet = ui->opt->fleet && ui->fleet.snap ? fleet_table_of(ui->fleet.snap) : NULL;
    struct policy *policy = board_policy(ui->board);
    struct queue_fleet by_queue;
    queue_fleet_build(fleet, &by_queue);
    for (size_t s = 0; s < ui->opt->nsources; s++) {
        struct source *src = ui->opt->sources[s];
        feed_view_release(&ui->feeds[s]);
        feed_get(&src->feed, &ui->feeds[s]);
        if (ui->feeds[s].snap && (fleet || policy)) {
            struct snapshot *joined = queue_join(ui->feeds[s].snap, fleet ? &by_queue : NULL, policy);
            snapshot_unref(ui->feeds[s].snap);
            ui->feeds[s].snap = joined;
        }
        if (ui->feeds[s].generation != ui->recorded[s] && ui->feeds[s].status == SOURCE_OK &&
            ui->feeds[s].snap) {
            history_record(&ui->history, src->ops->kind, ui->feeds[s].snap);
            ui->recorded[s] = ui->feeds[s].generation;
            changed = true;
        }
    }
    queue_fleet_free(&by_queue);
    if (changed) {
        struct alert_input in = {
            .thresholds = &ui->opt->cfg->alerts,
            .feeds = ui->feeds,
            .nfeeds = ui->opt->nsources,
            .fleet = ui->opt->fleet && ui->fleet.status == SOURCE_OK ? fleet_table_of(ui->fleet.snap) : NULL,
            .policy = policy,
            .dlq_growth = dlq_growth,
            .growth_ctx = &ui->history,
        };
        if (alerts_evaluate(&in, &ui->alert_rate, &ui->alerts) && ui->opt->cfg->alerts.bell)
            beep();
    }
    if (policy)
        policy_release(policy);
}

/* ---- actions bound to keys ---- */

static void act_quit(struct ui *ui) { ui->quit = true; }
static void act_help(struct ui *ui) { ui->help = !ui->help; ui->help_top = 0; }
static void act_next_view(struct ui *ui) { ui->view = (ui->view + 1) % nviews; }
static void act_prev_view(struct ui *ui) { ui->view = (ui->view + nviews - 1) % nviews; }
static void act_command(struct ui *ui) { prompt_open_command(ui, ""); }
static void act_escape(struct ui *ui) { ui->help = false; }

struct key_binding {
    int keys[4];              /* 0-terminated */
    const char *label;        /* as shown in help */
    const char *help;
    void (*run)(struct ui *ui);
};

/* The view keys (1, 2, ...) come from the view table, not from here. */
static const struct key_binding key_bindings[] = {
    {{'\t'}, "Tab", "next view", act_next_view},
    {{KEY_BTAB}, "Shift-Tab", "previous view", act_prev_view},
    {{KEY_ESC}, "Esc", "close help", act_escape},
    {{':'}, ":", "command (Tab completes, Up/Down history, Ctrl-U clears): theme NAME, sort COLUMN, "
                 "filter TEXT, set GUARDRAIL VALUE, a view name, quit", act_command},
    {{'?', KEY_F(1)}, "? F1", "this help", act_help},
    {{'q', KEY_CTRL_C}, "q Ctrl-C", "quit", act_quit},
};
#define NBINDINGS (sizeof key_bindings / sizeof key_bindings[0])

/* The keys of every table (list.h), acting on the shown view's table only. */
enum table_action { TA_MOVE, TA_FILTER, TA_SORT_NEXT, TA_SORT_PREV, TA_INVERT };
struct table_binding {
    int keys[4];
    const char *label;
    const char *help;
    enum table_action action;
};
static const struct table_binding table_bindings[] = {
    {{KEY_DOWN, 'j'}, "Down j", "select the next row", TA_MOVE},
    {{KEY_UP, 'k'}, "Up k", "select the previous row", TA_MOVE},
    {{KEY_NPAGE}, "PgDn", "page down", TA_MOVE},
    {{KEY_PPAGE}, "PgUp", "page up", TA_MOVE},
    {{KEY_HOME, 'g'}, "Home g", "first row", TA_MOVE},
    {{KEY_END, 'G'}, "End G", "last row", TA_MOVE},
    {{'/'}, "/", "filter this table (Enter keeps, Esc clears)", TA_FILTER},
    {{'s', '>'}, "s >", "sort by the next column", TA_SORT_NEXT},
    {{'<'}, "<", "sort by the previous column", TA_SORT_PREV},
    {{'i'}, "i", "invert the sort order", TA_INVERT},
};
#define NTABLE (sizeof table_bindings / sizeof table_bindings[0])

static bool table_key(struct ui *ui, struct list *l, int key)
{
    for (size_t i = 0; i < NTABLE; i++)
        for (int k = 0; k < 4 && table_bindings[i].keys[k]; k++) {
            if (table_bindings[i].keys[k] != key)
                continue;
            char msg[256];
            switch (table_bindings[i].action) {
            case TA_MOVE: return list_move_key(l, key);
            case TA_FILTER: prompt_open_filter(ui); return true;
            case TA_SORT_NEXT: list_sort_step(l, 1, msg, sizeof msg); break;
            case TA_SORT_PREV: list_sort_step(l, -1, msg, sizeof msg); break;
            case TA_INVERT: list_invert(l, msg, sizeof msg); break;
            }
            ui_message(ui, "%s", msg);
            return true;
        }
    return false;
}

static bool view_key(struct ui *ui, int key)
{
    const struct view_ops *v = views[ui->view];
    for (size_t i = 0; i < v->nkeys; i++)
        for (int k = 0; k < 4 && v->keys[i].keys[k]; k++)
            if (v->keys[i].keys[k] == key && v->keys[i].run(ui, ui->states[ui->view]))
                return true;
    return false;
}

/* `key` is a curses KEY_* code or, below KEY_MIN, a character; characters
 * at or above KEY_MIN never reach here (they would alias KEY_* codes).
 * The shown view's own keys come first, then its table's, then the
 * console's: no key reaches a view that is not on screen. */
static bool dispatch_key(struct ui *ui, int key)
{
    if (confirm_key(ui, key))    /* an open question takes every key */
        return true;
    for (size_t v = 0; v < nviews; v++) {
        if (key == views[v]->key) {
            ui->view = v;
            return true;
        }
    }
    if (view_key(ui, key))
        return true;
    struct list *l = ui_current_list(ui);
    if (l && table_key(ui, l, key))
        return true;
    for (size_t i = 0; i < NBINDINGS; i++)
        for (int k = 0; k < 4 && key_bindings[i].keys[k]; k++)
            if (key_bindings[i].keys[k] == key && key_bindings[i].run) {
                key_bindings[i].run(ui);
                return true;
            }
    return false;
}

void screen_each_key(const struct view_ops *const *view_table, size_t count,
                     void (*fn)(const char *label, const char *help, void *arg), void *arg)
{
    for (size_t v = 0; v < count; v++) {
        char label[8], help[256];
        snprintf(label, sizeof label, "%c", view_table[v]->key);
        snprintf(help, sizeof help, "%s: %s", view_table[v]->name, view_table[v]->summary);
        fn(label, help, arg);
    }
    for (size_t v = 0; v < count; v++)
        for (size_t i = 0; i < view_table[v]->nkeys; i++) {
            char help[300];
            snprintf(help, sizeof help, "%s: %s", view_table[v]->name, view_table[v]->keys[i].help);
            fn(view_table[v]->keys[i].label, help, arg);
        }
    for (size_t i = 0; i < NTABLE; i++)
        fn(table_bindings[i].label, table_bindings[i].help, arg);
    for (size_t i = 0; i < NBINDINGS; i++)
        fn(key_bindings[i].label, key_bindings[i].help, arg);
}

/* ---- drawing ---- */

static void draw_header(struct ui *ui)
{
    crt_fill(0, 0, COLS, SLOT_HEADER);
    char left[256];
    snprintf(left, sizeof left, " qdeck  context %s%s%s ", ui->opt->ctx ? ui->opt->ctx->name : "-",
             ui->opt->title ? "  " : "", ui->opt->title ? ui->opt->title : "");
    int x = crt_put(0, 0, crt_width(left), ALIGN_LEFT, SLOT_HEADER, left);
    for (size_t s = 0; s < ui->opt->nsources && x < COLS - 10; s++) {
        char status[96], chip[160];
        if (s > 0)
            x += crt_put(0, x, 1, ALIGN_LEFT, SLOT_HEADER, "|");
        fmt_source_status(&ui->feeds[s], status, sizeof status);
        snprintf(chip, sizeof chip, " %s %s ", ui->opt->sources[s]->ops->kind, status);
        enum theme_slot slot = ui->feeds[s].status == SOURCE_OK ? SLOT_HEADER : SLOT_CRIT;
        int w = crt_width(chip);
        if (x + w > COLS - 10)
            w = COLS - 10 - x;
        x += crt_put(0, x, w, ALIGN_LEFT, slot, chip);
    }
    if (ui->alerts.n && x < COLS - 22) {
        char chip[48];
        snprintf(chip, sizeof chip, " %zu alert%s ", ui->alerts.n, ui->alerts.n == 1 ? "" : "s");
        x += crt_put(0, x + 1, crt_width(chip), ALIGN_LEFT, SLOT_CRIT, chip);
    }
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char clock_text[16];
    strftime(clock_text, sizeof clock_text, "%H:%M:%S ", &tm);
    crt_put(0, COLS - 9, 9, ALIGN_RIGHT, SLOT_HEADER, clock_text);
}

/* A tab is " 7 Guardrails "; when they do not all fit (80 columns), every
 * tab takes its short name (" 7 Guard "), and when even those do not fit,
 * only the current one keeps a name. */
static int tab_label(size_t v, int style, char *buf, size_t len)
{
    if (style == 0)
        snprintf(buf, len, " %c %s ", views[v]->key, views[v]->name);
    else if (style == 1)
        snprintf(buf, len, " %c %s ", views[v]->key, views[v]->short_name ? views[v]->short_name : views[v]->name);
    else
        snprintf(buf, len, " %c ", views[v]->key);
    return crt_width(buf);
}

static void draw_tabs(struct ui *ui)
{
    crt_fill(1, 0, COLS, SLOT_TAB);
    char tab[64], f[300] = "";
    /* the view's filter is always shown: the tabs shorten to leave it room */
    struct list *l = ui_current_list(ui);
    if (l && l->filter[0])
        snprintf(f, sizeof f, " filter: %s ", l->filter);
    int room = COLS - (f[0] ? (crt_width(f) + 1 < COLS / 2 ? crt_width(f) + 1 : COLS / 2) : 0);
    int style = 0;
    for (; style < 2; style++) {
        int need = 0;
        for (size_t v = 0; v < nviews; v++)
            need += tab_label(v, style, tab, sizeof tab);
        if (need <= room)
            break;
    }
    int x = 0;
    for (size_t v = 0; v < nviews && x < room; v++) {
        int w = tab_label(v, style == 2 && v == ui->view ? 0 : style, tab, sizeof tab);
        if (w > room - x)
            w = room - x;
        x += crt_put(1, x, w, ALIGN_LEFT, v == ui->view ? SLOT_TAB_ACTIVE : SLOT_TAB, tab);
    }
    if (f[0] && x < COLS - 4) {
        crt_put(1, x + 1, COLS - x - 1 < crt_width(f) ? COLS - x - 1 : crt_width(f), ALIGN_LEFT, SLOT_FILTER, f);
    }
}

static void draw_footer(struct ui *ui)
{
    int y = LINES - 1;
    crt_fill(y, 0, COLS, SLOT_STATUS);
    if (ui->prompt != PROMPT_NONE) {
        char line[300];
        snprintf(line, sizeof line, "%s%s", ui->prompt == PROMPT_FILTER ? "/" : ":", ui->input);
        crt_put(y, 0, COLS, ALIGN_LEFT, SLOT_FILTER, line);
        curs_set(1);
        move(y, crt_width(line) < COLS ? crt_width(line) : COLS - 1);
        return;
    }
    curs_set(0);
    char running[300];
    writes_status(ui->writes, running, sizeof running);
    if (running[0] && !(ui->message[0] && clock_mono() < ui->message_until)) {
        crt_put(y, 0, COLS, ALIGN_LEFT, SLOT_STATUS, running);
        return;
    }
    if (ui->message[0] && clock_mono() < ui->message_until) {
        crt_put(y, 0, COLS, ALIGN_LEFT, ui->message_error ? SLOT_CRIT : SLOT_STATUS, ui->message);
        return;
    }
    /* the shown view's own keys first, then the console's; ? has them all */
    const struct view_ops *v = views[ui->view];
    int x = 0;
    for (size_t i = 0; i <= v->nkeys + 3 && x < COLS - 12; i++) {
        char key[32], label[64];
        if (i < v->nkeys) {
            snprintf(key, sizeof key, "%s", v->keys[i].label);
            snprintf(label, sizeof label, " %.40s  ", v->keys[i].help);
            char *cut = strpbrk(label + 1, ",(:;");   /* the help's first words */
            if (cut)
                snprintf(cut, sizeof label - (size_t)(cut - label), "  ");
        } else {
            static const char *const global[][2] = {{"?", "help"}, {"/", "filter"}, {":", "command"}, {"q", "quit"}};
            if (i - v->nkeys == 1 && !v->list)
                continue;
            snprintf(key, sizeof key, "%s", global[i - v->nkeys][0]);
            snprintf(label, sizeof label, " %s  ", global[i - v->nkeys][1]);
        }
        int need = crt_width(key) + crt_width(label);
        if (x + need > COLS)
            break;
        x += crt_put(y, x, crt_width(key), ALIGN_LEFT, SLOT_KEY, key);
        x += crt_put(y, x, crt_width(label), ALIGN_LEFT, SLOT_STATUS, label);
    }
}

/* The help: the shown view's keys first (its key table), then its
 * table's, then the console's and the view keys — the same tables the
 * dispatcher reads. Line i of them, or a section title (label NULL). */
static size_t help_lines(struct ui *ui, size_t i, char *label, size_t llen, char *help, size_t hlen)
{
    const struct view_ops *v = views[ui->view];
    size_t table = v->list ? NTABLE : 0;
    size_t n = 1 + v->nkeys + (table ? 1 + table : 0) + 1 + NBINDINGS + nviews;
    if (i >= n)
        return n;
    label[0] = '\0';
    if (i == 0) {
        snprintf(help, hlen, "%s%s", v->name, v->nkeys ? "" : " (no keys of its own)");
        return n;
    }
    i--;
    if (i < v->nkeys) {
        snprintf(label, llen, "%s", v->keys[i].label);
        snprintf(help, hlen, "%s", v->keys[i].help);
        return n;
    }
    i -= v->nkeys;
    if (table) {
        if (i == 0) {
            snprintf(help, hlen, "Table");
            return n;
        }
        if (i - 1 < table) {
            snprintf(label, llen, "%s", table_bindings[i - 1].label);
            snprintf(help, hlen, "%s", table_bindings[i - 1].help);
            return n;
        }
        i -= 1 + table;
    }
    if (i == 0) {
        snprintf(help, hlen, "Everywhere");
        return n;
    }
    i--;
    if (i < NBINDINGS) {
        snprintf(label, llen, "%s", key_bindings[i].label);
        snprintf(help, hlen, "%s", key_bindings[i].help);
    } else {
        i -= NBINDINGS;
        snprintf(label, llen, "%c", views[i]->key);
        snprintf(help, hlen, "%s: %s", views[i]->name, views[i]->summary);
    }
    return n;
}

static void draw_help(struct ui *ui)
{
    char label[32], help[300];
    int n = (int)help_lines(ui, (size_t)-1, label, sizeof label, help, sizeof help);
    int h = n + 4 < LINES - 2 ? n + 4 : LINES - 2;
    int w = COLS - 8 < 100 ? COLS - 8 : 100;
    int top = (LINES - h) / 2, left = (COLS - w) / 2;
    for (int y = top; y < top + h; y++)
        crt_fill(y, left, w, SLOT_HELP);
    draw_box(top, left, h, w, " qdeck keys (Esc, ? or q closes; Up/Down scroll) ");
    int rows = h - 3;
    if (ui->help_top > n - rows)
        ui->help_top = n - rows > 0 ? n - rows : 0;
    for (int i = 0; i < rows && ui->help_top + i < n; i++) {
        help_lines(ui, (size_t)(ui->help_top + i), label, sizeof label, help, sizeof help);
        if (!label[0]) {
            crt_put(top + 2 + i, left + 2, w - 4, ALIGN_LEFT, SLOT_TITLE, help);
            continue;
        }
        crt_put(top + 2 + i, left + 4, 14, ALIGN_LEFT, SLOT_KEY, label);
        crt_put(top + 2 + i, left + 18, w - 20, ALIGN_LEFT, SLOT_HELP, help);
    }
}

/* Rows are rebuilt on every draw, also when the terminal is too small to
 * show them: the key handlers read ui->rows, which point into the snapshots
 * pull_feeds() just swapped. */
static void draw(struct ui *ui)
{
    ui_build_rows(ui);
    erase();
    if (COLS < MIN_COLS || LINES < MIN_LINES) {
        char msg[96];
        snprintf(msg, sizeof msg, "terminal too small (%dx%d, need %dx%d)", COLS, LINES, MIN_COLS, MIN_LINES);
        int w = crt_width(msg) < COLS ? crt_width(msg) : COLS;
        crt_put(LINES / 2, (COLS - w) / 2, w, ALIGN_LEFT, SLOT_WARN, msg);
        wnoutrefresh(stdscr);
        doupdate();
        return;
    }
    draw_header(ui);
    draw_tabs(ui);
    if (!views[ui->view]->shows_selected_queue)   /* no queue on screen: nothing to read exactly */
        for (size_t s = 0; s < ui->opt->nsources; s++)
            source_set_focus(ui->opt->sources[s], NULL, 0);
    views[ui->view]->draw(ui, ui->states[ui->view], 2, LINES - 3);
    confirm_draw(ui, 2, LINES - 3);
    if (ui->help)
        draw_help(ui);
    draw_footer(ui);
    wnoutrefresh(stdscr);
    doupdate();
}

/* ---- input ---- */

static void read_keys(struct ui *ui)
{
    wint_t ch;
    int rc;
    while ((rc = get_wch(&ch)) != ERR) {
        bool is_key = rc == KEY_CODE_YES;
        if (is_key && ch == KEY_RESIZE)
            continue;
        if (ui->prompt != PROMPT_NONE) {
            prompt_key(ui, ch, is_key);
            continue;
        }
        if (ui->help && !is_key && (ch == 'q' || ch == '?' || ch == KEY_ESC)) {
            ui->help = false;
            continue;
        }
        if (ui->help && is_key && (ch == KEY_DOWN || ch == KEY_UP)) {
            ui->help_top += ch == KEY_DOWN ? 1 : (ui->help_top > 0 ? -1 : 0);
            continue;
        }
        if (!is_key && ch >= KEY_MIN)
            continue;                        /* a character, not a curses key code */
        if (!dispatch_key(ui, (int)ch) && !is_key && ch < 128 && isprint((int)ch) && !isdigit((int)ch))
            ui_message(ui, "no key '%c' here (? lists every key)", (int)ch);
    }
}

static void drain_pipe(int fd)
{
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

/* Milliseconds until the next refresh tick or the next whole second since
 * the last draw, whichever is first: ages on screen move every second even
 * with a slow refresh. */
static int poll_timeout(double next_tick, double drawn_at)
{
    double due = next_tick < drawn_at + 1 ? next_tick : drawn_at + 1;
    double ms = (due - clock_mono()) * 1000;
    return ms <= 0 ? 0 : (int)ms + 1;
}

static void ui_free(struct ui *ui)
{
    confirm_free(ui);   /* a question still open owns what it would have done */
    writes_stop(ui->writes);
    for (size_t v = 0; v < nviews; v++)
        if (views[v]->free)
            views[v]->free(ui->states[v]);
    free(ui->states);
    for (size_t s = 0; s < ui->opt->nsources; s++)
        feed_view_release(&ui->feeds[s]);
    feed_view_release(&ui->fleet);
    free(ui->feeds);
    free(ui->recorded);
    free(ui->rows);
    board_release(ui->board);
    alerts_free(&ui->alerts);
    history_free(&ui->history);
    type_series_free(&ui->types);
}

static bool any_source_ok(const struct ui *ui)
{
    for (size_t s = 0; s < ui->opt->nsources; s++)
        if (ui->feeds[s].status == SOURCE_OK)
            return true;
    return false;
}

/* After a counted run (-n) in which no source was ever read: one line
 * naming each source and why, on stderr (the screen is released). */
static void report_all_failed(const struct ui *ui, int ticks)
{
    char line[2048];
    size_t used = (size_t)snprintf(line, sizeof line, "no source could be read in %d refresh%s", ticks,
                                   ticks == 1 ? "" : "es");
    for (size_t s = 0; s < ui->opt->nsources && used < sizeof line; s++) {
        const struct source *src = ui->opt->sources[s];
        const struct feed_view *v = &ui->feeds[s];
        used += (size_t)snprintf(line + used, sizeof line - used, "%s %s %s: %s%s%s", s ? ";" : ":",
                                 src->ops->kind, src->display_url, source_status_name(v->status),
                                 v->message[0] ? ": " : "", v->message);
    }
    fprintf(stderr, "qdeck: %s\n", line);
}

int screen_run(const struct ui_options *opt, const struct view_ops *const *table, size_t ntable)
{
    views = table;
    nviews = ntable;
    prompt_set_views(table, ntable);
    struct ui ui = {.opt = opt};
    char err[512];
    if (theme_load(opt->theme, &ui.theme, err, sizeof err) < 0) {
        fprintf(stderr, "qdeck: %s\n", err);
        return 2;
    }
    struct ui_signals saved;
    if (ui_signals_install(&saved) < 0) {
        fprintf(stderr, "qdeck: cannot create the signal pipe: %s\n", strerror(errno));
        return 1;
    }
    if (crt_init(err, sizeof err) < 0) {
        ui_signals_restore(&saved);
        fprintf(stderr, "qdeck: %s\n", err);
        return 1;
    }
    ui_signals_chain_winch();
    history_init(&ui.history, (size_t)(opt->cfg->history > 0 ? opt->cfg->history : 60));
    type_series_init(&ui.types, opt->cfg->refresh);
    ui.feeds = xcalloc(opt->nsources ? opt->nsources : 1, sizeof *ui.feeds);
    ui.recorded = xcalloc(opt->nsources ? opt->nsources : 1, sizeof *ui.recorded);
    if (!crt_has_colour()) {
        struct theme mono;
        if (theme_load("monochrome", &mono, err, sizeof err) == 0)
            ui.theme = mono;
    }
    crt_apply_theme(&ui.theme);
    ui.writes = writes_start(opt->nsources ? opt->sources[0]->feed.notify_fd : -1);
    ui.states = xcalloc(nviews, sizeof *ui.states);
    for (size_t v = 0; v < nviews; v++)
        ui.states[v] = views[v]->init ? views[v]->init(&ui) : NULL;

    double tick = opt->cfg->refresh > 0 ? opt->cfg->refresh : 1;
    double next_tick = clock_mono() + tick;
    int ticks = 0;
    pull_feeds(&ui);
    bool seen_ok = any_source_ok(&ui);
    draw(&ui);
    double drawn_at = clock_mono();
    while (!ui.quit && !ui_signals_quit()) {
        struct pollfd fds[3] = {
            {.fd = STDIN_FILENO, .events = POLLIN},
            {.fd = opt->notify_fd, .events = POLLIN},
            {.fd = ui_signals_fd(), .events = POLLIN},
        };
        int rc = poll(fds, 3, poll_timeout(next_tick, drawn_at));
        if (rc < 0 && errno != EINTR) {
            log_error("console: poll: %s", strerror(errno));
            break;
        }
        if (rc > 0 && (fds[1].revents & POLLIN))
            drain_pipe(opt->notify_fd);
        if (rc > 0 && (fds[2].revents & POLLIN))
            drain_pipe(ui_signals_fd());
        if (ui_signals_quit())
            break;
        read_keys(&ui);   /* also picks up KEY_RESIZE after SIGWINCH */
        if (clock_mono() >= next_tick) {
            next_tick += tick;
            if (next_tick < clock_mono())
                next_tick = clock_mono() + tick;
            ticks++;
        }
        if (ui.quit)
            break;
        pull_feeds(&ui);
        seen_ok = seen_ok || any_source_ok(&ui);
        draw(&ui);
        drawn_at = clock_mono();
        if (opt->iterations > 0 && ticks >= opt->iterations)
            break;
    }
    /* a write under way (a replay) stops taking messages, settles and says so */
    char interrupted[2048];
    bool was_running = writes_interrupt(ui.writes, interrupted, sizeof interrupted);
    crt_release();
    ui_signals_restore(&saved);
    /* a counted run is a check: every source failing on every refresh fails it */
    bool all_failed = opt->iterations > 0 && ticks >= opt->iterations && opt->nsources > 0 && !seen_ok;
    if (all_failed)
        report_all_failed(&ui, ticks);
    ui_free(&ui);
    if (was_running) {
        fprintf(stderr, "qdeck: %s\n", interrupted);
        return 1;
    }
    return all_failed ? 3 : 0;
}
