/* View 4, Latency: per task type, p50 p90 p95 p99 p99.9 and max of queue
 * wait, run time and end-to-end, from every live worker's heartbeat
 * histograms merged bucket by bucket (resilience/fleet-report.h): the
 * percentiles are read from the merge, never averaged across workers.
 * The three counts differ because each is taken at a different moment
 * (worker/slots.c, worker/settle.c): wait when a task starts and carries
 * its send time, run when it finishes running, e2e when it is settled
 * (done, retried or dead-lettered, even unrun) and carries its send time;
 * a line above the table says so. Below the table, the selected type's
 * last 10 minutes (ui/type-series.h) as charts of done/s, failed/s and
 * p99, then a bar chart of its distribution (c cycles wait / run /
 * end-to-end for the p99 chart and the bars). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/fleet-source.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "resilience/fleet-report.h"
#include "ui/chart-draw.h"
#include "ui/crt.h"
#include "ui/screen.h"

/* The view's state: the table of the last draw (the fleet snapshot's,
 * merged on the collector's thread; the snapshot is held until the next
 * draw, for the keys), the list over its task types, and the chart's kind. */
struct latency_state {
    const struct latency_table *lt;
    struct snapshot *snap;
    struct list list;
    int chart_kind;
};

static const struct latency_table no_latency;

enum { LS_TYPE, LS_COUNT, LS_P50, LS_P99, LS_MAX, LS_NCOLUMNS };
static const struct list_column sort_columns[LS_NCOLUMNS] = {
    [LS_TYPE] = {"type task name", false}, [LS_COUNT] = {"count", true}, [LS_P50] = {"p50", true},
    [LS_P99] = {"p99", true}, [LS_MAX] = {"max", true},
};

static size_t type_count(void *ctx) { return ((struct latency_state *)ctx)->lt->n; }
static const char *type_key(void *ctx, size_t i) { return ((struct latency_state *)ctx)->lt->rows[i].type; }
static bool type_matches(void *ctx, size_t i, const char *filter)
{
    return strcasestr(((struct latency_state *)ctx)->lt->rows[i].type, filter) != NULL;
}
/* Numbers compare the chart's kind (c): run time unless changed. */
static int type_compare(void *ctx, size_t a, size_t b, int column)
{
    const struct latency_state *st = ctx;
    const struct histogram_summary *x = &st->lt->rows[a].summary[st->chart_kind];
    const struct histogram_summary *y = &st->lt->rows[b].summary[st->chart_kind];
    uint64_t vx = 0, vy = 0;
    switch (column) {
    case LS_TYPE: return strcmp(st->lt->rows[a].type, st->lt->rows[b].type);
    case LS_COUNT: vx = x->count, vy = y->count; break;
    case LS_P50: vx = x->p50, vy = y->p50; break;
    case LS_P99: vx = x->p99, vy = y->p99; break;
    case LS_MAX: vx = x->max, vy = y->max; break;
    }
    return (vx > vy) - (vx < vy);
}
static const struct list_model type_model = {type_count, type_key, type_matches, type_compare};

static const char *const kind_titles[LATENCY_KINDS] = {"wait", "run", "e2e"};
static const char *const kind_names[LATENCY_KINDS] = {"queue wait", "run time", "end-to-end"};

static void fmt_chart_us(double us, char *buf, size_t len) { format_latency_us(us > 0 ? (uint64_t)us : 0, true, buf, len); }

/* The selected type's last 10 minutes: done/s, failed/s and the p99 of the
 * chart's kind, side by side. */
static void draw_series(struct ui *ui, const char *type, int chart_kind, int top, int height, bool stale)
{
    const struct type_series *ts = &ui->types;
    const struct type_ring *r = type_series_find(ts, type);
    double *values = xcalloc(ts->capacity, sizeof *values);
    double span = ts->capacity * (ui->opt->cfg->refresh > 0 ? ui->opt->cfg->refresh : 1);
    char p99_title[64], done_title[160];
    snprintf(p99_title, sizeof p99_title, "%s p99", kind_titles[chart_kind]);
    /* the type's name when the chart has room for it and its figures */
    snprintf(done_title, sizeof done_title, "%s%sdone/s", COLS / 3 >= crt_width(type) + 30 ? type : "",
             COLS / 3 >= crt_width(type) + 30 ? " " : "");
    struct chart_box charts[3] = {
        {.title = done_title, .merge = CHART_MEAN, .slot = stale ? SLOT_STALE : SLOT_SPARK},
        {.title = "failed/s", .merge = CHART_MEAN, .slot = stale ? SLOT_STALE : SLOT_WARN},
        {.title = p99_title, .merge = CHART_MAX, .format = fmt_chart_us, .slot = stale ? SLOT_STALE : SLOT_BAR},
    };
    enum type_metric metrics[3] = {TYPE_DONE, TYPE_FAILED, TYPE_P99 + chart_kind};
    int left = 0, width = COLS / 3;
    for (int i = 0; i < 3; i++) {
        charts[i].n = type_series_values(ts, r, metrics[i], values, ts->capacity);
        charts[i].values = values;
        charts[i].slots = ts->capacity;
        charts[i].span = span;
        int w = i == 2 ? COLS - left : width;
        chart_draw(&charts[i], top, left, height, w - 1);
        left += w;
    }
    free(values);
}

/* Reports of the workers still alive: a lost worker's histograms are old. */
#define COLW 9
#define NAME_CAP 48
#define SERIES_H 7
#define SERIES_H_MAX 12
#define DIST_H_MAX 14
static const char *const pct_titles[] = {"P50", "P90", "P95", "P99", "P99.9", "MAX"};

static void draw_row(int y, const struct latency_row *row, int kind, bool first, bool sel, bool stale, int name_w)
{
    enum theme_slot base = sel ? SLOT_SELECTION : stale ? SLOT_STALE : SLOT_DEFAULT;
    crt_fill(y, 0, COLS, base);
    crt_put(y, 0, name_w - 1, ALIGN_LEFT, base, first ? row->type : "");   /* a blank before the kind */
    int x = name_w;
    x += crt_put(y, x, 7, ALIGN_LEFT, sel ? base : SLOT_LABEL, kind_titles[kind]);
    const struct histogram_summary *s = &row->summary[kind];
    char text[32];
    snprintf(text, sizeof text, "%llu", (unsigned long long)s->count);
    x += crt_put(y, x, COLW, ALIGN_RIGHT, base, text);
    uint64_t v[] = {s->p50, s->p90, s->p95, s->p99, s->p999, s->max};
    for (size_t i = 0; i < 6; i++) {
        format_latency_us(v[i], s->count > 0, text, sizeof text);
        enum theme_slot slot = base;
        if (!sel && !stale && i >= 3 && s->count && v[i] >= 10000000)   /* tail above 10 s */
            slot = SLOT_WARN;
        x += crt_put(y, x, COLW, ALIGN_RIGHT, slot, text);
    }
}

static void draw_chart(const struct latency_row *row, int chart_kind, int top, int height, bool stale)
{
    for (int y = top; y < top + height; y++)
        crt_fill(y, 0, COLS, SLOT_DEFAULT);
    const struct histogram *h = row->merged[chart_kind];
    char title[300];
    snprintf(title, sizeof title, " %s · %s distribution · %llu samples (c: wait/run/e2e)", row->type,
             kind_names[chart_kind], (unsigned long long)histogram_count(h));
    crt_fill(top, 0, COLS, SLOT_COLUMN);
    crt_put(top, 0, COLS, ALIGN_LEFT, SLOT_COLUMN, title);
    size_t nbars = (size_t)(height - 1);
    if (nbars > 24)
        nbars = 24;
    if (nbars < 1 || histogram_count(h) == 0) {
        if (height > 1)
            crt_put(top + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM, "no samples yet");
        return;
    }
    uint64_t counts[24], edges[25], most = 0;
    latency_bars(h, nbars, counts, edges);
    for (size_t i = 0; i < nbars; i++)
        if (counts[i] > most)
            most = counts[i];
    int label_w = 22, count_w = 10, bar_w = COLS - label_w - count_w - 2;
    if (bar_w < 4)
        return;
    for (size_t i = 0; i < nbars; i++) {
        int y = top + 1 + (int)i;
        char lo[16], hi[16], label[40], bar[4 * 256 + 1] = "", num[24];
        format_latency_us(edges[i], true, lo, sizeof lo);
        format_latency_us(edges[i + 1], true, hi, sizeof hi);
        snprintf(label, sizeof label, "%8s - %-8s", lo, hi);
        crt_put(y, 1, label_w, ALIGN_LEFT, SLOT_LABEL, label);
        int len = most ? (int)lround((double)bar_w * (double)counts[i] / (double)most) : 0;
        if (counts[i] && len == 0)
            len = 1;
        if (len > 256)
            len = 256;
        for (int k = 0; k < len; k++)
            strcat(bar, crt_utf8() ? "█" : "#");
        crt_put(y, 1 + label_w, bar_w, ALIGN_LEFT, stale ? SLOT_STALE : SLOT_BAR, bar);
        snprintf(num, sizeof num, "%llu", (unsigned long long)counts[i]);
        crt_put(y, 1 + label_w + bar_w, count_w, ALIGN_RIGHT, SLOT_VALUE, num);
    }
}

static void draw_latency(struct ui *ui, void *state, int top, int height)
{
    struct latency_state *st = state;
    struct list *l = &st->list;
    crt_fill(top, 0, COLS, SLOT_DEFAULT);
    if (!ui->opt->fleet) {
        crt_put(top + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                "latency comes from the workers' heartbeats in Redis: give this context a Redis URL");
        return;
    }
    const struct feed_view *fv = &ui->fleet;
    const struct fleet_table *t = fleet_table_of(fv->snap);
    bool stale = fv->status != SOURCE_OK;
    size_t nrep = 0;
    const struct latency_table *merged = fleet_latency_of(fv->snap, &nrep);
    struct snapshot *held = fv->snap ? snapshot_ref(fv->snap) : NULL;
    if (st->snap)
        snapshot_unref(st->snap);
    st->snap = held;
    st->lt = merged ? merged : &no_latency;
    const struct latency_table lt = *st->lt;
    list_build(l, &type_model, st);

    char line[400];
    snprintf(line, sizeof line, " %zu task type%s from %zu worker%s · percentiles of the merged histograms%s%s",
             lt.n, lt.n == 1 ? "" : "s", nrep, nrep == 1 ? "" : "s",
             lt.bad_encodings ? " · some histograms unreadable" : "", stale ? " · last known data" : "");
    crt_fill(top, 0, COLS, stale ? SLOT_STALE : SLOT_VALUE);
    int sx = crt_put(top, 0, crt_width(line), ALIGN_LEFT, stale ? SLOT_STALE : SLOT_VALUE, line);
    uint64_t skew = 0;
    for (size_t i = 0; i < lt.n; i++)
        skew += lt.rows[i].clock_skew;
    if (skew) {   /* Celery waits across a producer's and a worker's clock that came out negative */
        snprintf(line, sizeof line, " · clock skew: %llu wait%s dropped (sender's clock ahead of the worker's)",
                 (unsigned long long)skew, skew == 1 ? "" : "s");
        crt_put(top, sx, COLS - sx, ALIGN_LEFT, SLOT_WARN, line);
    }

    /* the type column as wide as its longest name, up to a cap: the figures sit beside the names */
    int name_w = 11;
    for (size_t i = 0; i < lt.n; i++)
        if (crt_width(lt.rows[i].type) + 2 > name_w)
            name_w = crt_width(lt.rows[i].type) + 2;
    if (name_w > NAME_CAP)
        name_w = NAME_CAP;
    if (name_w > COLS - 7 - COLW * 7)
        name_w = COLS - 7 - COLW * 7 < 8 ? 8 : COLS - 7 - COLW * 7;
    crt_fill(top + 1, 0, COLS, SLOT_DEFAULT);
    crt_put(top + 1, 0, COLS, ALIGN_LEFT, SLOT_DIM,
            " COUNT: wait = started, with a send time · run = finished running · e2e = settled (even unrun), "
            "with a send time");
    top++, height--;
    int list_top = top + 1;
    crt_fill(list_top, 0, COLS, SLOT_COLUMN);
    char title[32];
    snprintf(title, sizeof title, "TASK TYPE%s%s", list_arrow(l, LS_TYPE)[0] ? " " : "", list_arrow(l, LS_TYPE));
    int x = crt_put(list_top, 0, name_w, ALIGN_LEFT, SLOT_COLUMN, title);
    x += crt_put(list_top, x, 7, ALIGN_LEFT, SLOT_COLUMN, "");
    snprintf(title, sizeof title, "%sCOUNT", list_arrow(l, LS_COUNT));
    x += crt_put(list_top, x, COLW, ALIGN_RIGHT, SLOT_COLUMN, title);
    static const int sorts[6] = {LS_P50, -1, -1, LS_P99, -1, LS_MAX};
    for (size_t i = 0; i < 6; i++) {
        snprintf(title, sizeof title, "%s%s", list_arrow(l, sorts[i]), pct_titles[i]);
        x += crt_put(list_top, x, COLW, ALIGN_RIGHT, SLOT_COLUMN, title);
    }
    if (l->n == 0) {
        crt_put(list_top + 2, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                l->filter[0] ? "no task type matches the filter (/ then Esc clears it)"
                : t ? "no task has run yet (workers report latency per task type once they run tasks)"
                    : "reading the fleet...");
        return;
    }
    int selected = l->selected;
    /* below the table: the time series (7 rows), then the distribution (up to 14) */
    int chart_h = height - 2 - (int)l->n * LATENCY_KINDS;
    if (chart_h > SERIES_H_MAX + DIST_H_MAX)
        chart_h = SERIES_H_MAX + DIST_H_MAX;
    if (chart_h < SERIES_H + 4)
        chart_h = height >= 20 ? height / 2 : height >= 12 ? SERIES_H : 0;
    int series_h = chart_h >= SERIES_H ? SERIES_H : 0;
    if (chart_h - series_h > DIST_H_MAX)   /* room beyond the bars: taller series */
        series_h = chart_h - DIST_H_MAX < SERIES_H_MAX ? chart_h - DIST_H_MAX : SERIES_H_MAX;
    int dist_h = chart_h - series_h;
    int rows_h = height - 2 - chart_h;
    list_scroll(l, rows_h / LATENCY_KINDS);
    int y = list_top + 1;
    for (int i = l->top; i < (int)l->n && y + LATENCY_KINDS <= list_top + 1 + rows_h; i++)
        for (int k = 0; k < LATENCY_KINDS; k++)
            draw_row(y++, &lt.rows[list_row(l, (size_t)i)], k, k == 0, i == selected, stale, name_w);
    const struct latency_row *row = &lt.rows[list_row(l, (size_t)selected)];
    if (series_h)
        draw_series(ui, row->type, st->chart_kind, top + height - chart_h, series_h, stale);
    if (dist_h >= 3)
        draw_chart(row, st->chart_kind, top + height - dist_h, dist_h, stale);
}

static void *latency_init(struct ui *ui)
{
    (void)ui;
    struct latency_state *st = xcalloc(1, sizeof *st);
    st->lt = &no_latency;
    st->chart_kind = LATENCY_RUN;
    list_init(&st->list, sort_columns, LS_NCOLUMNS, LS_TYPE);
    return st;
}

static void latency_free(void *state)
{
    struct latency_state *st = state;
    if (st->snap)
        snapshot_unref(st->snap);
    list_free(&st->list);
    free(st);
}

static struct list *latency_list(void *state) { return &((struct latency_state *)state)->list; }

static bool key_chart(struct ui *ui, void *state)
{
    struct latency_state *st = state;
    st->chart_kind = (st->chart_kind + 1) % LATENCY_KINDS;
    ui_message(ui, "chart: %s", kind_names[st->chart_kind]);
    return true;
}

static const struct view_key latency_keys[] = {
    {{'c'}, "c", "chart kind: queue wait, run time, end-to-end (the p99 chart, the bars, and what s sorts numbers by)",
     key_chart},
};



const struct view_ops latency_view = {
    .name = "Latency",
    .short_name = "Lat",
    .summary = "p50..p99.9 and max of queue wait, run time, end-to-end per task type, fleet-wide; the selected "
               "type's done/s, failed/s and p99 over 10 minutes (c: chart kind)",
    .key = '4',
    .init = latency_init,
    .free = latency_free,
    .draw = draw_latency,
    .list = latency_list,
    .keys = latency_keys,
    .nkeys = sizeof latency_keys / sizeof latency_keys[0],
};
