/* The Queues list's model (see queue-rows.h): every queue of every source,
 * and how the one list widget filters (by name) and sorts (by a column)
 * them. */
#include "ui/queue-rows.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "ui/format.h"

#define GROWTH_SAMPLES 10

/* What :sort takes: the name said first, then the titles the table shows. */
const struct list_column queue_columns[SORT_COUNT] = {
    [SORT_NAME] = {"name queue", false},       [SORT_READY] = {"ready", true},
    [SORT_UNACKED] = {"unacked unack", true},  [SORT_TOTAL] = {"total depth", true},
    [SORT_CONSUMERS] = {"consumers cons", true}, [SORT_IN] = {"in in/s", true},
    [SORT_OUT] = {"out out/s", true},          [SORT_AGE] = {"age", true},
    [SORT_GROWTH] = {"growth grow grow/s", true},
};

static double known_count(int64_t v) { return v < 0 ? NAN : (double)v; }

/* NAN for unknown (-1 counts too). */
static double sort_key(const struct ui_row *r, int c)
{
    const struct queue_stat *q = r->q;
    switch (c) {
    case SORT_READY: return known_count(q->ready);
    case SORT_UNACKED: return known_count(q->unacked);
    case SORT_TOTAL: return queue_depth(q);
    case SORT_CONSUMERS: return known_count(q->consumers);
    case SORT_IN: return q->rate_in;
    case SORT_OUT: return q->rate_out;
    case SORT_AGE: return q->head_age;
    case SORT_GROWTH: return r->growth;
    default: break;
    }
    return 0;
}

static size_t rows_count(void *ctx) { return ((struct ui *)ctx)->nrows; }
static const char *rows_key(void *ctx, size_t i) { return ((struct ui *)ctx)->rows[i].q->addr; }
static bool rows_match(void *ctx, size_t i, const char *filter)
{
    return strcasestr(((struct ui *)ctx)->rows[i].q->addr, filter) != NULL;
}

/* Unknown values sort below every known one. */
static int rows_compare(void *ctx, size_t a, size_t b, int column)
{
    const struct ui *ui = ctx;
    const struct ui_row *x = &ui->rows[a], *y = &ui->rows[b];
    if (column == SORT_NAME)
        return strcmp(x->q->addr, y->q->addr);
    double kx = sort_key(x, column), ky = sort_key(y, column);
    if (isnan(kx) || isnan(ky))
        return isnan(ky) - isnan(kx);
    return (kx > ky) - (kx < ky);
}

const struct list_model queue_rows_model = {rows_count, rows_key, rows_match, rows_compare};

void ui_build_rows(struct ui *ui)
{
    ui->nrows = 0;
    for (size_t s = 0; s < ui->opt->nsources; s++) {
        const struct snapshot *snap = ui->feeds[s].snap;
        for (size_t i = 0; snap && i < snap->nqueues; i++) {
            const struct queue_stat *q = &snap->queues[i];
            if (ui->nrows == ui->rows_cap) {
                ui->rows_cap = ui->rows_cap ? ui->rows_cap * 2 : 256;
                ui->rows = xrealloc(ui->rows, ui->rows_cap * sizeof *ui->rows);
            }
            ui->rows[ui->nrows++] = (struct ui_row){
                .q = q,
                .source = s,
                .growth = history_growth(history_get(&ui->history, q->addr), GROWTH_SAMPLES),
                .stale = ui->feeds[s].status != SOURCE_OK,
            };
        }
    }
}
