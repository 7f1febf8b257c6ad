/* The confirmation policy (see confirm.h): one question at a time, in a
 * panel over the view. */
#include "ui/confirm.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "ui/crt.h"
#include "ui/panel.h"

#define KEY_ESC 27

void confirm_free(struct ui *ui)
{
    struct ui_confirm *c = &ui->confirm;
    if (c->active && c->drop)
        c->drop(c->arg);
    c->active = false;
    c->arg = NULL;
}

void confirm_ask(struct ui *ui, const char *typed_name, const char *cancelled, void (*run)(struct ui *ui, void *arg),
                 void *arg, void (*drop)(void *arg), const char *what_fmt, ...)
{
    struct ui_confirm *c = &ui->confirm;
    confirm_free(ui);   /* a question left unanswered */
    memset(c, 0, sizeof *c);
    va_list ap;
    va_start(ap, what_fmt);
    vsnprintf(c->what, sizeof c->what, what_fmt, ap);
    va_end(ap);
    c->typed = typed_name != NULL;
    snprintf(c->name, sizeof c->name, "%s", typed_name ? typed_name : "");
    snprintf(c->cancelled, sizeof c->cancelled, "%s", cancelled ? cancelled : "cancelled");
    c->run = run;
    c->arg = arg;
    c->drop = drop;
    c->active = true;
}

bool confirm_open(const struct ui *ui) { return ui->confirm.active; }

static void finish(struct ui *ui, bool yes)
{
    struct ui_confirm *c = &ui->confirm;
    if (yes) {
        c->active = false;   /* run owns arg from here */
        c->run(ui, c->arg);
    } else {
        ui_message(ui, "%s", c->cancelled);
        confirm_free(ui);
    }
}

bool confirm_key(struct ui *ui, int key)
{
    struct ui_confirm *c = &ui->confirm;
    if (!c->active)
        return false;
    if (!c->typed) {
        finish(ui, key == 'y' || key == 'Y');
        return true;
    }
    size_t len = strlen(c->input);
    if (key == KEY_ESC) {
        finish(ui, false);
    } else if (key == '\r' || key == '\n' || key == KEY_ENTER) {
        if (strcmp(c->input, c->name) != 0) {
            ui_message(ui, "cancelled: the name typed was not %s", c->name);
            confirm_free(ui);
        } else {
            finish(ui, true);
        }
    } else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
        while (len > 0 && ((unsigned char)c->input[len - 1] & 0xC0) == 0x80)
            len--;
        if (len > 0)
            len--;
        c->input[len] = '\0';
    } else if (key == 21) {          /* Ctrl-U */
        c->input[0] = '\0';
    } else if (key >= 32 && key < KEY_MIN) {
        char mb[MB_LEN_MAX];
        mbstate_t ms;
        memset(&ms, 0, sizeof ms);
        size_t n = wcrtomb(mb, (wchar_t)key, &ms);
        if (n != (size_t)-1 && len + n < sizeof c->input) {
            memcpy(c->input + len, mb, n);
            c->input[len + n] = '\0';
        }
    }
    return true;
}

void confirm_draw(struct ui *ui, int top, int height)
{
    const struct ui_confirm *c = &ui->confirm;
    if (!c->active)
        return;
    int w = COLS - 8 < 110 ? COLS - 8 : 110, h = c->typed ? 7 : 5;
    int y0 = top + (height - h) / 2, x0 = (COLS - w) / 2;
    for (int y = y0; y < y0 + h; y++)
        crt_fill(y, x0, w, SLOT_HELP);
    struct panel in = panel_draw(y0, x0, h, w, c->typed ? " confirm (destructive) " : " confirm ",
                                 c->typed ? SLOT_CRIT : SLOT_WARN);
    char line[1400];
    if (c->typed) {
        snprintf(line, sizeof line, " %s?", c->what);
        crt_put(in.top, in.left, in.width, ALIGN_LEFT, SLOT_CRIT, line);
        snprintf(line, sizeof line, " Type %s to confirm, Enter; Esc cancels.", c->name);
        crt_put(in.top + 2, in.left, in.width, ALIGN_LEFT, SLOT_HELP, line);
        snprintf(line, sizeof line, " > %s", c->input);
        crt_put(in.top + 4, in.left, in.width, ALIGN_LEFT, SLOT_FILTER, line);
    } else {
        snprintf(line, sizeof line, " %s? y to confirm, any other key cancels", c->what);
        crt_put(in.top + 1, in.left, in.width, ALIGN_LEFT, SLOT_WARN, line);
    }
}
