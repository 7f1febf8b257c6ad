/* The console's one confirmation policy. Every mutation that touches more
 * than one message or the whole fleet asks the same way, in a box that
 * says what it will touch and how many: y confirms, any other key cancels.
 * The destructive ones (purge, delete, replay of a whole DLQ) want the
 * name typed back instead, then Enter; Esc cancels. While a question is
 * open it takes every key. */
#ifndef QDECK_UI_CONFIRM_H
#define QDECK_UI_CONFIRM_H

#include <stdbool.h>

#include "ui/state.h"

/* Asks: run(ui, arg) once confirmed. typed_name NULL: y/n; else the
 * name to type. cancelled: what the status line says on a cancel (NULL:
 * "cancelled"). what: the question, e.g. "replay 5 marked messages of
 * amqp:orders.dlq to where they died".
 * With drop, the question owns arg (what the action will do, allocated by
 * the asker): run takes it over on a yes; drop frees it on a cancel, when
 * another question replaces this one, or when the console ends. Without
 * drop, arg is borrowed (a view's own state). */
void confirm_ask(struct ui *ui, const char *typed_name, const char *cancelled, void (*run)(struct ui *ui, void *arg),
                 void *arg, void (*drop)(void *arg), const char *what_fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Drops the open question, if any, without asking (the console ends). */
void confirm_free(struct ui *ui);
/* A key while a question is open: true (taken). false when none is open. */
bool confirm_key(struct ui *ui, int key);
/* Draws the open question, if any, over the view. */
void confirm_draw(struct ui *ui, int top, int height);
bool confirm_open(const struct ui *ui);

#endif
