/* The DLQ view's two tables for the list widget (list.h): the dead-letter
 * queues to pick from (every queue whose name ends in .dlq or :dlq in the
 * sources' snapshots, with its depth) and the messages of a page. */
#ifndef QDECK_UI_DLQ_TABLES_H
#define QDECK_UI_DLQ_TABLES_H

#include "console/dlq-jobs.h"
#include "ui/list.h"
#include "ui/state.h"

struct dlq_picks {
    char **names;
    size_t n;
    struct ui *ui;              /* for the depths */
};

/* Is addr a dead-letter queue's (name ends in .dlq or :dlq)? */
bool dlq_is_name(const char *addr);
/* Refills p from the sources' snapshots. */
void dlq_picks_collect(struct ui *ui, struct dlq_picks *p);
void dlq_picks_free(struct dlq_picks *p);
/* The queue of addr (a stream DLQ: any of its groups), or NULL. */
const struct queue_stat *dlq_find_stat(struct ui *ui, const char *addr);

enum { PS_NAME, PS_DEPTH, PS_NCOLUMNS };
extern const struct list_column dlq_pick_columns[PS_NCOLUMNS];
extern const struct list_model dlq_pick_model;     /* ctx: struct dlq_picks * */

/* The page's messages; the search runs in the DLQ job (the filter is its
 * text), so every row of a page matches. */
enum { MS_ID, MS_TYPE, MS_REASON, MS_DEATHS, MS_ATTEMPTS, MS_WHEN, MS_NCOLUMNS };
extern const struct list_column dlq_msg_columns[MS_NCOLUMNS];
extern const struct list_model dlq_msg_model;      /* ctx: struct dlq_page ** */

#endif
