/* The functions every part of the console uses on its state (see
 * state.h): the status line, plain or in the error colour. */
#include "ui/state.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/clock.h"

void ui_message(struct ui *ui, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->message, sizeof ui->message, fmt, ap);
    va_end(ap);
    ui->message_until = clock_mono() + 4;
    ui->message_error = false;
}

void ui_error(struct ui *ui, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->message, sizeof ui->message, fmt, ap);
    va_end(ap);
    ui->message_until = clock_mono() + 6;
    ui->message_error = true;
}

void ui_write_refused(struct ui *ui) { ui_error(ui, "too many writes waiting; try again in a moment"); }
