/* The Queues list's model (see queue-rows.h): every queue of every source,
 * filtered by the operator's text, sorted by a column, with a selection
 * that follows the chosen queue across refreshes. */
#include "ui/queue-rows.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "ui/format.h"

#define GROWTH_SAMPLES 10

static const char *const sort_names[SORT_COUNT] = {
    "name", "ready", "unacked", "total", "consumers", "in", "out", "age", "growth",
};

const char *sort_column_name(enum sort_column c) { return sort_names[c]; }

static double known_count(int64_t v) { return v < 0 ? NAN : (double)v; }

/* NAN for unknown (-1 counts too), so unknown values sort together. */
static double sort_key(const struct ui_row *r, enum sort_column c)
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
    case SORT_NAME:
    case SORT_COUNT: break;
    }
    return 0;
}

static int compare_rows(const void *a, const void *b, void *arg)
{
    const struct ui *ui = arg;
    const struct ui_row *x = a, *y = b;
    if (ui->sort == SORT_NAME) {
        int c = strcmp(x->q->addr, y->q->addr);
        return ui->sort_ascending ? c : -c;
    }
    double kx = sort_key(x, ui->sort), ky = sort_key(y, ui->sort);
    int c = 0;
    if (isnan(kx) || isnan(ky))
        c = isnan(kx) - isnan(ky);       /* unknown last whatever the direction */
    else if (kx != ky)
        c = (kx < ky ? -1 : 1) * (ui->sort_ascending ? 1 : -1);
    /* ties read A→Z in either direction, so equal rows do not jump around */
    return c ? c : strcmp(x->q->addr, y->q->addr);
}

/* The selection follows the queue the operator chose (selected_addr) across
 * refreshes and re-sorts; until they choose one, it stays on the row index. */
void ui_build_rows(struct ui *ui)
{
    ui->nrows = 0;
    for (size_t s = 0; s < ui->opt->nsources; s++) {
        const struct snapshot *snap = ui->feeds[s].snap;
        for (size_t i = 0; snap && i < snap->nqueues; i++) {
            const struct queue_stat *q = &snap->queues[i];
            if (ui->filter[0] && !strcasestr(q->addr, ui->filter))
                continue;
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
    if (ui->nrows > 1)
        qsort_r(ui->rows, ui->nrows, sizeof *ui->rows, compare_rows, ui);

    int found = -1;
    for (size_t i = 0; ui->selected_addr[0] && i < ui->nrows; i++)
        if (strcmp(ui->rows[i].q->addr, ui->selected_addr) == 0)
            found = (int)i;
    if (found >= 0)
        ui->selected = found;
    if (ui->selected >= (int)ui->nrows)
        ui->selected = (int)ui->nrows - 1;
    if (ui->selected < 0)
        ui->selected = 0;
}

/* Names sort A→Z by default, numbers largest first; `i` flips either. */
void queue_rows_sort_by(struct ui *ui, enum sort_column c)
{
    ui->sort = c;
    ui->sort_ascending = c == SORT_NAME;
    ui_message(ui, "sorted by %s, %s", sort_names[c], ui->sort_ascending ? "ascending" : "descending");
}

void queue_rows_invert(struct ui *ui)
{
    ui->sort_ascending = !ui->sort_ascending;
    ui_message(ui, "sorted by %s, %s", sort_names[ui->sort], ui->sort_ascending ? "ascending" : "descending");
}

void queue_rows_move(struct ui *ui, int delta)
{
    ui->selected += delta;
    if (ui->selected >= (int)ui->nrows) ui->selected = (int)ui->nrows - 1;
    if (ui->selected < 0) ui->selected = 0;
    if (ui->nrows)
        snprintf(ui->selected_addr, sizeof ui->selected_addr, "%s", ui->rows[ui->selected].q->addr);
}
