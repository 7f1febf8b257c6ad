/* The console loop (screen_run, called by ui_run in views.c): poll() on
 * the keyboard, the collectors' notify pipe and a signal self-pipe, take
 * the feeds' latest snapshots, record history, draw. Nothing here touches the network, so a hung broker
 * never freezes a key.
 *
 * Signals (signals.c) wake the poll() through a pipe of their own.
 *
 * Keys are one table (key_bindings[]); the views are the table views.c
 * hands to screen_run. The dispatcher and the help overlay both read the
 * two, so help can never drift from what the keys do. */
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
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "console/alerts.h"
#include "ui/command-set.h"
#include "ui/crt.h"
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
        char result[640];
        if (board_take_result(ui->opt->board, result, sizeof result))
            ui_message(ui, "%s", result);
    }
    if (ui->opt->fleet) {
        feed_view_release(&ui->fleet);
        feed_get(&ui->opt->fleet->feed, &ui->fleet);
        if (ui->fleet.generation != ui->fleet_seen) {
            ui->fleet_seen = ui->fleet.generation;
            changed = true;
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
static void show_view(struct ui *ui, size_t v)
{
    ui->view = v;
    ui->detail = false;
}
static void act_next_view(struct ui *ui) { show_view(ui, (ui->view + 1) % nviews); }
static void act_prev_view(struct ui *ui) { show_view(ui, (ui->view + nviews - 1) % nviews); }
static void act_filter(struct ui *ui)
{
    ui->prompt = PROMPT_FILTER;
    snprintf(ui->input, sizeof ui->input, "%s", ui->filter);
}
static void act_command(struct ui *ui) { ui->prompt = PROMPT_COMMAND; ui->input[0] = '\0'; }
static void act_sort_next(struct ui *ui) { queue_rows_sort_by(ui, (ui->sort + 1) % SORT_COUNT); }
static void act_sort_prev(struct ui *ui) { queue_rows_sort_by(ui, (ui->sort + SORT_COUNT - 1) % SORT_COUNT); }
static void act_invert(struct ui *ui) { queue_rows_invert(ui); }
static int page(void) { return LINES > 8 ? LINES - 6 : 1; }
static void act_down(struct ui *ui) { queue_rows_move(ui, 1); }
static void act_up(struct ui *ui) { queue_rows_move(ui, -1); }
static void act_page_down(struct ui *ui) { queue_rows_move(ui, page()); }
static void act_page_up(struct ui *ui) { queue_rows_move(ui, -page()); }
static void act_home(struct ui *ui) { queue_rows_move(ui, -(int)ui->nrows); }
static void act_end(struct ui *ui) { queue_rows_move(ui, (int)ui->nrows); }
static size_t selected_queue_view(void)
{
    for (size_t v = 0; v < nviews; v++)
        if (views[v]->shows_selected_queue)
            return v;
    return 0;
}
/* From any view Enter shows the selected queue: details live in Queues. */
static void act_details(struct ui *ui)
{
    ui->view = selected_queue_view();
    ui->detail = ui->nrows > 0;
}
static void act_escape(struct ui *ui)
{
    if (ui->help)
        ui->help = false;
    else if (ui->detail)
        ui->detail = false;
}

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
    {{KEY_DOWN, 'j'}, "Down j", "select next queue", act_down},
    {{KEY_UP, 'k'}, "Up k", "select previous queue", act_up},
    {{KEY_NPAGE}, "PgDn", "page down", act_page_down},
    {{KEY_PPAGE}, "PgUp", "page up", act_page_up},
    {{KEY_HOME, 'g'}, "Home g", "first queue", act_home},
    {{KEY_END, 'G'}, "End G", "last queue", act_end},
    {{'\r', '\n', KEY_ENTER}, "Enter", "details of the selected queue", act_details},
    {{KEY_ESC}, "Esc", "close details or help", act_escape},
    {{'/'}, "/", "filter queues by name (Enter keeps, Esc clears)", act_filter},
    {{'s', '>'}, "s >", "sort by the next column", act_sort_next},
    {{'<'}, "<", "sort by the previous column", act_sort_prev},
    {{'i'}, "i", "invert the sort order", act_invert},
    {{':'}, ":", "command: theme NAME, sort COLUMN, filter TEXT, set GUARDRAIL VALUE, a view name, quit", act_command},
    {{'?', KEY_F(1)}, "? F1", "this help", act_help},
    {{'q', KEY_CTRL_C}, "q Ctrl-C", "quit", act_quit},
};

#define NBINDINGS (sizeof key_bindings / sizeof key_bindings[0])

/* `key` is a curses KEY_* code or, below KEY_MIN, a character; characters
 * at or above KEY_MIN never reach here (they would alias KEY_* codes). */
static bool dispatch_key(struct ui *ui, int key)
{
    if (ui_confirm_guardrail_key(ui, key))
        return true;
    if (ui->modal && views[ui->view]->handle_key)
        return views[ui->view]->handle_key(ui, key);
    for (size_t v = 0; v < nviews; v++) {
        if (key == views[v]->key) {
            show_view(ui, v);
            return true;
        }
    }
    if (views[ui->view]->handle_key && views[ui->view]->handle_key(ui, key))
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
    for (size_t i = 0; i < NBINDINGS; i++)
        fn(key_bindings[i].label, key_bindings[i].help, arg);
}

/* ---- commands typed after ':' ---- */

/* Loads first and swaps only on success, so a bad theme file leaves the
 * screen as it was and says why. Without colours (NO_COLOR or the terminal)
 * the attributes-only monochrome theme stays. */
static void switch_theme(struct ui *ui, const char *name)
{
    struct theme t;
    char err[512];
    if (theme_load(name, &t, err, sizeof err) < 0) {
        ui_message(ui, "%s", err);
        return;
    }
    if (!crt_has_colour()) {
        ui_message(ui, "theme %s exists, but colours are off (NO_COLOR or the terminal): monochrome kept",
                   t.name);
        return;
    }
    ui->theme = t;
    crt_apply_theme(&ui->theme);
    ui_message(ui, "theme %s", t.name);
}

static bool show_view_named(struct ui *ui, const char *name)
{
    for (size_t v = 0; v < nviews; v++)
        if (!strcasecmp(name, views[v]->name)) {
            show_view(ui, v);
            return true;
        }
    return false;
}

static void run_command(struct ui *ui, const char *line)
{
    char cmd[64] = "", arg[192] = "";
    sscanf(line, " %63s %191[^\n]", cmd, arg);
    if (!strcmp(cmd, "q") || !strcmp(cmd, "quit")) {
        ui->quit = true;
    } else if (!strcmp(cmd, "theme") && arg[0]) {
        switch_theme(ui, arg);
    } else if (show_view_named(ui, cmd)) {
        return;
    } else if (!strcmp(cmd, "set")) {
        ui_command_set(ui, arg);
    } else if (!strcmp(cmd, "filter")) {
        snprintf(ui->filter, sizeof ui->filter, "%s", arg);
    } else if (!strcmp(cmd, "help")) {
        ui->help = true;
    } else if (!strcmp(cmd, "sort") && arg[0]) {
        for (int c = 0; c < SORT_COUNT; c++)
            if (!strcasecmp(arg, sort_column_name((enum sort_column)c))) {
                queue_rows_sort_by(ui, (enum sort_column)c);
                return;
            }
        ui_message(ui, "no column '%s' (name ready unacked total consumers in out age growth)", arg);
    } else if (cmd[0]) {
        ui_message(ui, "unknown command ':%s' (theme, sort, filter, set, a view name, help, quit)", cmd);
    }
}

/* ---- the prompt line (filter and command) ---- */

static void prompt_key(struct ui *ui, wint_t ch, bool is_key)
{
    size_t len = strlen(ui->input);
    if ((is_key && ch == KEY_ENTER) || ch == '\r' || ch == '\n') {
        if (ui->prompt == PROMPT_COMMAND)
            run_command(ui, ui->input);
        ui->prompt = PROMPT_NONE;
    } else if (!is_key && ch == KEY_ESC) {
        if (ui->prompt == PROMPT_FILTER)
            ui->filter[0] = '\0';
        ui->prompt = PROMPT_NONE;
    } else if ((is_key && ch == KEY_BACKSPACE) || ch == 127 || ch == 8) {
        while (len > 0 && ((unsigned char)ui->input[len - 1] & 0xC0) == 0x80)
            len--;                          /* drop a whole UTF-8 character */
        if (len > 0)
            len--;
        ui->input[len] = '\0';
    } else if (!is_key && ch >= 32) {
        char mb[MB_LEN_MAX];
        mbstate_t st;
        memset(&st, 0, sizeof st);
        size_t n = wcrtomb(mb, (wchar_t)ch, &st);
        if (n != (size_t)-1 && len + n < sizeof ui->input) {
            memcpy(ui->input + len, mb, n);
            ui->input[len + n] = '\0';
        }
    }
    if (ui->prompt == PROMPT_FILTER)
        snprintf(ui->filter, sizeof ui->filter, "%s", ui->input);
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

/* A tab is " 7 Guardrails "; when they do not all fit, the others shrink
 * to their key (" 7 ") and only the current one keeps its name. */
static void tab_label(size_t v, bool full, char *buf, size_t len)
{
    if (full)
        snprintf(buf, len, " %c %s ", views[v]->key, views[v]->name);
    else
        snprintf(buf, len, " %c ", views[v]->key);
}

static void draw_tabs(struct ui *ui)
{
    crt_fill(1, 0, COLS, SLOT_TAB);
    char tab[64];
    int need = 0;
    for (size_t v = 0; v < nviews; v++) {
        tab_label(v, true, tab, sizeof tab);
        need += crt_width(tab) + 1;
    }
    bool roomy = need <= COLS;
    int x = 0;
    for (size_t v = 0; v < nviews && x < COLS; v++) {
        tab_label(v, roomy || v == ui->view, tab, sizeof tab);
        int w = crt_width(tab) < COLS - x ? crt_width(tab) : COLS - x;
        x += crt_put(1, x, w, ALIGN_LEFT, v == ui->view ? SLOT_TAB_ACTIVE : SLOT_TAB, tab);
        if (x < COLS)
            x += crt_put(1, x, 1, ALIGN_LEFT, SLOT_TAB, " ");
    }
    if (ui->filter[0] && x < COLS - 4) {
        char f[300];
        snprintf(f, sizeof f, " filter: %s ", ui->filter);
        crt_put(1, x, COLS - x < crt_width(f) ? COLS - x : crt_width(f), ALIGN_LEFT, SLOT_FILTER, f);
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
    if (ui->message[0] && clock_mono() < ui->message_until) {
        crt_put(y, 0, COLS, ALIGN_LEFT, SLOT_STATUS, ui->message);
        return;
    }
    char view_keys[8];
    snprintf(view_keys, sizeof view_keys, "%c-%c", views[0]->key, views[nviews - 1]->key);
    const char *const hints[][2] = {
        {"?", "help"}, {view_keys, "views"}, {"/", "filter"}, {"s", "sort"}, {"Enter", "details"}, {":", "command"}, {"q", "quit"},
    };
    int x = 0;
    for (size_t i = 0; i < sizeof hints / sizeof hints[0] && x < COLS - 12; i++) {
        x += crt_put(y, x, crt_width(hints[i][0]), ALIGN_LEFT, SLOT_KEY, hints[i][0]);
        char label[32];
        snprintf(label, sizeof label, " %s  ", hints[i][1]);
        x += crt_put(y, x, crt_width(label), ALIGN_LEFT, SLOT_STATUS, label);
    }
}

/* One help line per view (from the view table) and per binding (from the
 * key table): the same tables the dispatcher reads. */
static void help_line(size_t i, char *label, size_t llen, char *help, size_t hlen)
{
    if (i < nviews) {
        snprintf(label, llen, "%c", views[i]->key);
        snprintf(help, hlen, "%s: %s", views[i]->name, views[i]->summary);
    } else {
        snprintf(label, llen, "%s", key_bindings[i - nviews].label);
        snprintf(help, hlen, "%s", key_bindings[i - nviews].help);
    }
}

static void draw_help(struct ui *ui)
{
    int n = (int)(nviews + NBINDINGS);
    int h = n + 4 < LINES - 2 ? n + 4 : LINES - 2;
    int w = COLS - 8 < 90 ? COLS - 8 : 90;
    int top = (LINES - h) / 2, left = (COLS - w) / 2;
    for (int y = top; y < top + h; y++)
        crt_fill(y, left, w, SLOT_HELP);
    attrset(crt_attr(SLOT_BORDER));
    mvhline(top, left, ACS_HLINE, w);
    mvhline(top + h - 1, left, ACS_HLINE, w);
    mvvline(top, left, ACS_VLINE, h);
    mvvline(top, left + w - 1, ACS_VLINE, h);
    mvaddch(top, left, ACS_ULCORNER);
    mvaddch(top, left + w - 1, ACS_URCORNER);
    mvaddch(top + h - 1, left, ACS_LLCORNER);
    mvaddch(top + h - 1, left + w - 1, ACS_LRCORNER);
    static const char title[] = " qdeck keys (Esc, ? or q closes; Up/Down scroll) ";
    crt_put(top, left + 2, crt_width(title) < w - 4 ? crt_width(title) : w - 4, ALIGN_LEFT, SLOT_TITLE, title);
    int rows = h - 3;
    if (ui->help_top > n - rows)
        ui->help_top = n - rows > 0 ? n - rows : 0;
    for (int i = 0; i < rows && ui->help_top + i < n; i++) {
        char label[32], help[256];
        help_line((size_t)(ui->help_top + i), label, sizeof label, help, sizeof help);
        crt_put(top + 2 + i, left + 2, 14, ALIGN_LEFT, SLOT_LABEL, label);
        crt_put(top + 2 + i, left + 16, w - 18, ALIGN_LEFT, SLOT_HELP, help);
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
    views[ui->view]->draw(ui, 2, LINES - 3);
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
    for (size_t s = 0; s < ui->opt->nsources; s++)
        feed_view_release(&ui->feeds[s]);
    feed_view_release(&ui->fleet);
    free(ui->feeds);
    free(ui->recorded);
    free(ui->rows);
    board_release(ui->board);
    alerts_free(&ui->alerts);
    history_free(&ui->history);
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

/* Quitting: any view's background work stops and settles; its line. */
static bool interrupt_views(char *result, size_t len)
{
    for (size_t v = 0; v < nviews; v++)
        if (views[v]->interrupt && views[v]->interrupt(result, len))
            return true;
    return false;
}

int screen_run(const struct ui_options *opt, const struct view_ops *const *table, size_t ntable)
{
    views = table;
    nviews = ntable;
    struct ui ui = {.opt = opt, .sort = SORT_NAME, .sort_ascending = true};
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
    ui.feeds = xcalloc(opt->nsources ? opt->nsources : 1, sizeof *ui.feeds);
    ui.recorded = xcalloc(opt->nsources ? opt->nsources : 1, sizeof *ui.recorded);
    if (!crt_has_colour()) {
        struct theme mono;
        if (theme_load("monochrome", &mono, err, sizeof err) == 0)
            ui.theme = mono;
    }
    crt_apply_theme(&ui.theme);

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
    /* a replay under way stops taking messages, settles and says so */
    char interrupted[2048];
    bool was_running = interrupt_views(interrupted, sizeof interrupted);
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
