/* The rows of the Queues list, shared by the key bindings of the screen
 * (select, sort, filter work from any view), the Overview and the Queues
 * view: built from the feeds' snapshots on every draw, so they point into
 * the snapshots the screen holds. */
#ifndef QDECK_QUEUE_ROWS_H
#define QDECK_QUEUE_ROWS_H

#include "ui/state.h"

/* Rebuilds ui->rows: every queue of every source, filtered and sorted. */
void ui_build_rows(struct ui *ui);
const char *sort_column_name(enum sort_column c);
/* Sorts by c (names A->Z, numbers largest first) and says so. */
void queue_rows_sort_by(struct ui *ui, enum sort_column c);
/* Flips the sort order and says so. */
void queue_rows_invert(struct ui *ui);
/* Moves the selection by delta rows (clamped) and remembers its queue. */
void queue_rows_move(struct ui *ui, int delta);

#endif
