/* The rows of every queue of every source, shared by the Overview and the
 * Queues view: built from the feeds' snapshots on every draw, so they
 * point into the snapshots the screen holds. The Queues view's table
 * (list.h) sorts and filters them through queue_rows_model. */
#ifndef QDECK_QUEUE_ROWS_H
#define QDECK_QUEUE_ROWS_H

#include "ui/list.h"
#include "ui/state.h"

/* Rebuilds ui->rows: every queue of every source, in source order. */
void ui_build_rows(struct ui *ui);

/* The Queues table's sortable columns, in the order s steps through them. */
enum sort_column {
    SORT_NAME, SORT_READY, SORT_UNACKED, SORT_TOTAL, SORT_CONSUMERS,
    SORT_IN, SORT_OUT, SORT_AGE, SORT_GROWTH, SORT_COUNT
};
extern const struct list_column queue_columns[SORT_COUNT];
/* The model over ui->rows (ctx: the struct ui). */
extern const struct list_model queue_rows_model;

#endif
