/* The prompt line (see prompt.h): the filter prompt, the command prompt
 * with its history and completion, and the command table. */
#include "ui/prompt.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control/policy.h"
#include "ui/command-set.h"
#include "ui/crt.h"

#define KEY_ESC 27
#define KEY_CTRL_U 21

static const struct view_ops *const *views;
static size_t nviews;

void prompt_set_views(const struct view_ops *const *v, size_t n)
{
    views = v;
    nviews = n;
}

struct list *ui_current_list(struct ui *ui)
{
    const struct view_ops *v = views[ui->view];
    return v->list ? v->list(ui->states[ui->view]) : NULL;
}

/* ---- the console's own commands ---- */

/* Loads first and swaps only on success, so a bad theme file leaves the
 * screen as it was and says why. Without colours (NO_COLOR or the terminal)
 * the attributes-only monochrome theme stays. */
static void cmd_theme(struct ui *ui, void *state, const char *name)
{
    (void)state;
    struct theme t;
    char err[512];
    if (!name[0]) {
        ui_message(ui, "usage: :theme NAME (Tab lists them)");
        return;
    }
    if (theme_load(name, &t, err, sizeof err) < 0) {
        ui_error(ui, "%s", err);
        return;
    }
    if (!crt_has_colour()) {
        ui_message(ui, "theme %s exists, but colours are off (NO_COLOR or the terminal): monochrome kept", t.name);
        return;
    }
    ui->theme = t;
    crt_apply_theme(&ui->theme);
    ui_message(ui, "theme %s", t.name);
}

static void cmd_quit(struct ui *ui, void *state, const char *args)
{
    (void)state, (void)args;
    ui->quit = true;
}

static void cmd_help(struct ui *ui, void *state, const char *args)
{
    (void)state, (void)args;
    ui->help = true;
    ui->help_top = 0;
}

static void cmd_filter(struct ui *ui, void *state, const char *args)
{
    (void)state;
    struct list *l = ui_current_list(ui);
    if (l)
        list_set_filter(l, args);
    else
        ui_message(ui, "%s has no table to filter", views[ui->view]->name);
}

static void cmd_sort(struct ui *ui, void *state, const char *args)
{
    (void)state;
    struct list *l = ui_current_list(ui);
    char msg[256];
    if (!l) {
        ui_message(ui, "%s has no table to sort", views[ui->view]->name);
    } else if (!args[0]) {
        list_sort_said(l, msg, sizeof msg);
        ui_message(ui, "%s (usage: :sort COLUMN, Tab lists them)", msg);
    } else if (list_sort_named(l, args, msg, sizeof msg)) {
        ui_message(ui, "%s", msg);
    } else {
        ui_error(ui, "%s", msg);
    }
}

static void cmd_set(struct ui *ui, void *state, const char *args)
{
    (void)state;
    ui_command_set(ui, args);
}

static const struct view_command commands[] = {
    {"theme", "theme NAME", cmd_theme},
    {"sort", "sort COLUMN", cmd_sort},
    {"filter", "filter TEXT", cmd_filter},
    {"set", "set GUARDRAIL VALUE", cmd_set},
    {"help", "help", cmd_help},
    {"quit", "quit", cmd_quit},
    {"q", "q", cmd_quit},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

void prompt_run_command(struct ui *ui, const char *line)
{
    char cmd[64] = "", arg[192] = "";
    sscanf(line, " %63s %191[^\n]", cmd, arg);
    for (size_t n = strlen(arg); n > 0 && arg[n - 1] == ' '; n--)
        arg[n - 1] = '\0';             /* what Tab left after a completed word */
    if (!cmd[0])
        return;
    const struct view_ops *v = views[ui->view];
    for (size_t i = 0; i < v->ncommands; i++)   /* the shown view's own first */
        if (!strcmp(cmd, v->commands[i].name)) {
            v->commands[i].run(ui, ui->states[ui->view], arg);
            return;
        }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(cmd, commands[i].name)) {
            commands[i].run(ui, NULL, arg);
            return;
        }
    for (size_t i = 0; i < nviews; i++)
        if (!strcasecmp(cmd, views[i]->name) || (views[i]->short_name && !strcasecmp(cmd, views[i]->short_name))) {
            ui->view = i;
            return;
        }
    char known[512];
    size_t used = 0;
    for (size_t i = 0; i < v->ncommands && used < sizeof known; i++)
        used += (size_t)snprintf(known + used, sizeof known - used, "%s, ", v->commands[i].name);
    if (used < sizeof known)
        snprintf(known + used, sizeof known - used, "theme, sort, filter, set, a view name, help, quit");
    ui_error(ui, "unknown command ':%s' (%s)", cmd, known);
}

/* ---- completion ---- */

struct completion {
    const char *head;        /* the line up to the word completed */
    const char *word;        /* its start as typed */
    void (*fn)(const char *line, void *arg);
    void *arg;
};

static void offer(const char *candidate, void *arg)
{
    struct completion *c = arg;
    if (strncasecmp(candidate, c->word, strlen(c->word)) != 0)
        return;
    char line[256];
    snprintf(line, sizeof line, "%s%s", c->head, candidate);
    c->fn(line, c->arg);
}

void prompt_completions(struct ui *ui, const char *line, void (*fn)(const char *line, void *arg), void *arg)
{
    char cmd[64] = "";
    const char *space = strchr(line, ' ');
    if (!space) {
        struct completion c = {"", line, fn, arg};
        const struct view_ops *v = views[ui->view];
        for (size_t i = 0; i < v->ncommands; i++)
            offer(v->commands[i].name, &c);
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (strcmp(commands[i].name, "q"))
                offer(commands[i].name, &c);
        for (size_t i = 0; i < nviews; i++) {
            char name[64];
            snprintf(name, sizeof name, "%s", views[i]->name);
            for (char *p = name; *p; p++)
                *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
            offer(name, &c);
        }
        return;
    }
    snprintf(cmd, sizeof cmd, "%.*s", (int)(space - line), line);
    char head[256];
    snprintf(head, sizeof head, "%.*s", (int)(space - line + 1), line);
    struct completion c = {head, space + 1, fn, arg};
    if (!strcmp(cmd, "sort")) {
        struct list *l = ui_current_list(ui);
        if (l)
            list_each_sort_name(l, offer, &c);
    } else if (!strcmp(cmd, "theme")) {
        theme_each_name(offer, &c);
    } else if (!strcmp(cmd, "set") && !strchr(space + 1, ' ')) {
        for (size_t i = 0; i < policy_nglobals; i++)
            offer(policy_globals[i].name, &c);
    }
}

struct candidates {
    char first[256];
    size_t common;           /* length all candidates share */
    int n;
    char shown[200];         /* for the status line */
    size_t shown_len;
};

static void collect(const char *line, void *arg)
{
    struct candidates *c = arg;
    if (c->n && !strcmp(c->first, line))
        return;              /* a theme found in two directories */
    if (!c->n) {
        snprintf(c->first, sizeof c->first, "%s", line);
        c->common = strlen(line);
    } else {
        size_t i = 0;
        while (i < c->common && line[i] && line[i] == c->first[i])
            i++;
        c->common = i;
    }
    c->n++;
    const char *word = strrchr(line, ' ');
    word = word ? word + 1 : line;
    if (c->shown_len < sizeof c->shown)
        c->shown_len += (size_t)snprintf(c->shown + c->shown_len, sizeof c->shown - c->shown_len, "%s%s",
                                         c->shown_len ? " " : "", word);
}

static void complete(struct ui *ui)
{
    struct candidates c = {0};
    prompt_completions(ui, ui->input, collect, &c);
    if (c.n == 0) {
        ui_message(ui, "nothing completes '%s'", ui->input);
    } else if (c.n == 1) {
        snprintf(ui->input, sizeof ui->input, "%.250s ", c.first);
    } else {
        if (c.common > strlen(ui->input))
            snprintf(ui->input, sizeof ui->input, "%.*s", (int)c.common, c.first);
        ui_message(ui, "%s", c.shown);
    }
}

/* ---- the prompt ---- */

void prompt_open_filter(struct ui *ui)
{
    struct list *l = ui_current_list(ui);
    if (!l) {
        ui_message(ui, "%s has no table to filter", views[ui->view]->name);
        return;
    }
    ui->prompt = PROMPT_FILTER;
    snprintf(ui->input, sizeof ui->input, "%s", l->filter);
}

void prompt_open_command(struct ui *ui, const char *prefill)
{
    ui->prompt = PROMPT_COMMAND;
    snprintf(ui->input, sizeof ui->input, "%s", prefill);
    ui->typed_at = ui->ntyped;
}

static void remember(struct ui *ui, const char *line)
{
    if (!line[0] || (ui->ntyped && !strcmp(ui->typed_lines[ui->ntyped - 1], line)))
        return;
    if (ui->ntyped == HISTORY_LINES) {
        memmove(ui->typed_lines[0], ui->typed_lines[1], sizeof ui->typed_lines[0] * (HISTORY_LINES - 1));
        ui->ntyped--;
    }
    snprintf(ui->typed_lines[ui->ntyped++], sizeof ui->typed_lines[0], "%s", line);
}

static void recall(struct ui *ui, int step)
{
    int at = ui->typed_at + step;
    if (at < 0 || at > ui->ntyped)
        return;
    ui->typed_at = at;
    snprintf(ui->input, sizeof ui->input, "%s", at < ui->ntyped ? ui->typed_lines[at] : "");
}

void prompt_key(struct ui *ui, wint_t ch, bool is_key)
{
    size_t len = strlen(ui->input);
    bool command = ui->prompt == PROMPT_COMMAND;
    struct list *l = ui_current_list(ui);
    if ((is_key && ch == KEY_ENTER) || ch == '\r' || ch == '\n') {
        ui->prompt = PROMPT_NONE;
        if (command) {
            char line[256];
            snprintf(line, sizeof line, "%s", ui->input);
            remember(ui, line);
            prompt_run_command(ui, line);
        }
        return;
    }
    if (!is_key && ch == KEY_ESC) {
        ui->prompt = PROMPT_NONE;
        if (!command && l)
            list_set_filter(l, "");
        return;
    }
    if ((is_key && ch == KEY_BACKSPACE) || ch == 127 || ch == 8) {
        while (len > 0 && ((unsigned char)ui->input[len - 1] & 0xC0) == 0x80)
            len--;                          /* drop a whole UTF-8 character */
        if (len > 0)
            len--;
        ui->input[len] = '\0';
    } else if (!is_key && ch == KEY_CTRL_U) {
        ui->input[0] = '\0';
    } else if (command && !is_key && ch == '\t') {
        complete(ui);
    } else if (command && is_key && (ch == KEY_UP || ch == KEY_DOWN)) {
        recall(ui, ch == KEY_UP ? -1 : 1);
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
    if (!command && l)
        list_set_filter(l, ui->input);
}
