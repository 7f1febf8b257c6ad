/* View 1, Overview: per source its health, totals and a sparkline of total
 * depth; then across all sources the queues deepest now and growing fastest
 * (depth change per second over the last ten samples). Alerts, when any
 * threshold of [alerts] is crossed, come first. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "ui/crt.h"
#include "ui/screen.h"

#define TOP_N 5

static int draw_source(struct ui *ui, size_t s, int y, int bottom)
{
    const struct source *src = ui->opt->sources[s];
    const struct feed_view *v = &ui->feeds[s];
    const struct snapshot *snap = v->snap;
    bool ok = v->status == SOURCE_OK;
    char line[1024], a[64], b[64], c[64], d[64];

    snprintf(line, sizeof line, "%s  %s", src->ops->kind, src->display_url);
    int x = crt_put(y, 1, crt_width(line) < COLS / 2 ? crt_width(line) : COLS / 2, ALIGN_LEFT, SLOT_TITLE, line);
    fmt_source_status(v, a, sizeof a);
    if (ok && !isnan(v->last_ok))
        snprintf(line, sizeof line, "  %s  %s · refreshed %.1fs ago%s%s", snap && snap->server ? snap->server : "",
                 a, clock_wall() - v->last_ok, snap && snap->discovery ? " · " : "",
                 snap && snap->discovery ? snap->discovery : "");
    else
        snprintf(line, sizeof line, "  %s: %s", a, v->message);
    crt_put(y, x + 1, COLS - x - 2, ALIGN_LEFT, ok ? SLOT_OK : SLOT_CRIT, line);
    if (++y >= bottom)
        return y;

    enum theme_slot vs = ok ? SLOT_VALUE : SLOT_STALE;
    if (!snap) {
        crt_put(y++, 3, COLS - 4, ALIGN_LEFT, SLOT_DIM, "no data yet");
        return y + 1;
    }
    int64_t ready = 0, unacked = 0, consumers = 0;
    double in = NAN, out = NAN;
    for (size_t i = 0; i < snap->nqueues; i++) {
        const struct queue_stat *q = &snap->queues[i];
        ready += q->ready > 0 ? q->ready : 0;
        unacked += q->unacked > 0 ? q->unacked : 0;
        consumers += q->consumers > 0 ? q->consumers : 0;
        if (!isnan(q->rate_in)) in = (isnan(in) ? 0 : in) + q->rate_in;
        if (!isnan(q->rate_out)) out = (isnan(out) ? 0 : out) + q->rate_out;
    }
    fmt_count(a, sizeof a, ready);
    fmt_count(b, sizeof b, unacked);
    /* Redis reports no rates: leave them out rather than print a row of "-" */
    char rates[160] = "";
    if (!isnan(in) || !isnan(out)) {
        fmt_rate(c, sizeof c, in);
        fmt_rate(d, sizeof d, out);
        snprintf(rates, sizeof rates, "   in %s/s   out %s/s", c, d);
    }
    snprintf(line, sizeof line, "queues %zu%s   ready %s   unacked %s   consumers %lld%s", snap->nqueues,
             snap->truncated ? " (capped)" : "", a, b, (long long)consumers, rates);
    crt_put(y++, 3, COLS - 4, ALIGN_LEFT, vs, line);
    if (!ok && !isnan(v->last_ok)) {
        char age[32];
        format_duration(clock_wall() - v->last_ok, age, sizeof age);
        snprintf(line, sizeof line, "last known data, %s old", age);
        crt_put(y++, 3, COLS - 4, ALIGN_LEFT, SLOT_STALE, line);
    }
    if (y < bottom) {
        char total[64];
        snprintf(total, sizeof total, "@%s", src->ops->kind);
        crt_put(y, 3, 12, ALIGN_LEFT, SLOT_LABEL, "total depth");
        draw_sparkline(ui, y++, 16, COLS - 20 > 60 ? 60 : COLS - 20, total, SERIES_DEPTH,
                       ok ? SLOT_SPARK : SLOT_STALE);
    }
    return y + 1;
}

static int by_depth(const void *a, const void *b)
{
    double x = queue_depth(((const struct ui_row *)a)->q), y = queue_depth(((const struct ui_row *)b)->q);
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return (y > x) - (y < x);
}

static int by_growth(const void *a, const void *b)
{
    double x = ((const struct ui_row *)a)->growth, y = ((const struct ui_row *)b)->growth;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return (y > x) - (y < x);
}

static int draw_top(struct ui *ui, int y, int bottom, const char *title,
                    int (*order)(const void *, const void *), bool growing_only)
{
    if (y >= bottom)
        return y;
    crt_fill(y, 0, COLS, SLOT_COLUMN);
    crt_put(y, 1, COLS - 2, ALIGN_LEFT, SLOT_COLUMN, title);
    y++;
    struct ui_row *rows = malloc((ui->nrows ? ui->nrows : 1) * sizeof *rows);
    if (!rows)
        return y;
    if (ui->nrows) {
        memcpy(rows, ui->rows, ui->nrows * sizeof *rows);
        qsort(rows, ui->nrows, sizeof *rows, order);
    }
    int shown = 0;
    for (size_t i = 0; i < ui->nrows && shown < TOP_N && y < bottom; i++) {
        const struct ui_row *r = &rows[i];
        if (growing_only && !(r->growth > 0))
            break;
        char depth[32], growth[32];
        fmt_count(depth, sizeof depth, (int64_t)(isnan(queue_depth(r->q)) ? -1 : queue_depth(r->q)));
        if (isnan(r->growth)) snprintf(growth, sizeof growth, "-");
        else snprintf(growth, sizeof growth, "%+.1f/s", r->growth);
        enum theme_slot slot = r->stale ? SLOT_STALE : SLOT_DEFAULT;
        int name_w = COLS - 60 > 20 ? COLS - 60 : 20;
        crt_put(y, 2, name_w, ALIGN_LEFT, slot, r->q->addr);
        crt_put(y, 2 + name_w, 10, ALIGN_RIGHT, slot, depth);
        crt_put(y, 13 + name_w, 11, ALIGN_RIGHT, r->growth > 0 && !r->stale ? SLOT_WARN : slot, growth);
        draw_sparkline(ui, y, 26 + name_w, COLS - 28 - name_w, r->q->addr, SERIES_DEPTH,
                       r->stale ? SLOT_STALE : SLOT_SPARK);
        y++;
        shown++;
    }
    if (shown == 0)
        crt_put(y++, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM, growing_only ? "nothing is growing" : "no queues");
    free(rows);
    return y + 1;
}

#define ALERT_LINES 4

static int draw_alerts(struct ui *ui, int y, int bottom)
{
    if (!ui->alerts.n || y >= bottom)
        return y;
    for (size_t i = 0; i < ui->alerts.n && i < ALERT_LINES && y < bottom; i++, y++) {
        crt_put(y, 1, 2, ALIGN_LEFT, SLOT_CRIT, "!");
        crt_put(y, 3, COLS - 4, ALIGN_LEFT, SLOT_CRIT, ui->alerts.items[i].text);
    }
    if (ui->alerts.n > ALERT_LINES && y < bottom) {
        char more[64];
        snprintf(more, sizeof more, "and %zu more", ui->alerts.n - ALERT_LINES);
        crt_put(y++, 3, COLS - 4, ALIGN_LEFT, SLOT_WARN, more);
    }
    return y + 1;
}

static void draw_overview(struct ui *ui, void *state, int top, int height)
{
    (void)state;
    int y = top + 1, bottom = top + height;
    y = draw_alerts(ui, y, bottom);
    for (size_t s = 0; s < ui->opt->nsources && y < bottom; s++)
        y = draw_source(ui, s, y, bottom);
    y = draw_top(ui, y, bottom, "Top by depth", by_depth, false);
    draw_top(ui, y, bottom, "Top growing (depth change per second, last 10 samples)", by_growth, true);
}

const struct view_ops overview_view = {
    .name = "Overview",
    .short_name = "Over",
    .summary = "each source's health and totals; the deepest and growing queues",
    .key = '1',
    .draw = draw_overview,
};
