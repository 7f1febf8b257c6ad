/* View 1, Overview: the on-call answer in one screen — what is wrong and
 * where. A line per source, then panels (ui/panel.h) in priority order:
 * alerts; queues (deepest, fastest growing, oldest message); fleet
 * (workers up/lost, slots busy/total as a bar, done/s, failed/s and, with
 * room, their last 10 minutes as charts); latency (end-to-end p50 and p99
 * of the busiest task types, with the trend of the last half minute against
 * the one before and a sparkline, from the type series of ui/type-series.h);
 * breakers not CLOSED; dead letters (total, growth per minute, which DLQ);
 * guardrails not at their default (who set them, when). Panels grow to fill
 * the terminal and, when it is small, the lower priorities go first: at
 * 80x24 the alerts and the queues remain. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "console/fleet-source.h"
#include "control/policy.h"
#include "core/envelope.h"
#include "core/xalloc.h"
#include "resilience/fleet-report.h"
#include "ui/chart-draw.h"
#include "ui/crt.h"
#include "ui/dlq-tables.h"
#include "ui/panel.h"
#include "ui/screen.h"
#include "ui/sparkline.h"

#define TOP_N 5
/* rows of the fleet panel's charts: title, chart rows, time axis */
#define FLEET_CHART_MIN 4
#define FLEET_CHART_MAX 9

static int draw_source(struct ui *ui, size_t s, int y, int bottom, bool compact)
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
    if (++y >= bottom || compact)
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
    if (y < bottom && !compact) {   /* the last 10 minutes of the source's total depth */
        char total[64], spark[4 * 128 + 1];
        double window[HISTORY_WINDOW_SLOTS];
        snprintf(total, sizeof total, "@%s", src->ops->kind);
        int w = COLS - 22 > HISTORY_WINDOW_SLOTS / 2 ? HISTORY_WINDOW_SLOTS / 2 : COLS - 22;
        size_t n = history_window(history_get(&ui->history, total), window);
        sparkline_render_fit(window, n, w, crt_utf8(), spark, sizeof spark);
        crt_put(y, 3, 16, ALIGN_LEFT, SLOT_LABEL, "depth, last 10m");
        crt_put(y++, 20, w, ALIGN_LEFT, ok ? SLOT_SPARK : SLOT_STALE, spark);
    }
    return y;
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


/* The view's state: the fleet's rate series copied out for drawing. */
struct overview_state {
    double *values;               /* ui->types.capacity samples */
};

static void line(struct panel *p, int *y, enum theme_slot slot, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void line(struct panel *p, int *y, enum theme_slot slot, const char *fmt, ...)
{
    if (*y >= p->top + p->height)
        return;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    crt_put((*y)++, p->left + 1, p->width - 2, ALIGN_LEFT, slot, text);
}

static void queue_row(struct ui *ui, struct panel *p, int *y, const struct ui_row *r, const char *extra,
                      enum theme_slot extra_slot)
{
    if (*y >= p->top + p->height)
        return;
    char depth[32];
    fmt_count(depth, sizeof depth, (int64_t)(isnan(queue_depth(r->q)) ? -1 : queue_depth(r->q)));
    enum theme_slot slot = r->stale ? SLOT_STALE : SLOT_DEFAULT;
    int spark = p->width >= 70 ? 16 : 0;
    int name_w = p->width - 2 - 10 - 12 - (spark ? spark + 1 : 0);
    int x = p->left + 1;
    x += crt_put(*y, x, name_w, ALIGN_LEFT, slot, r->q->addr);
    x += crt_put(*y, x, 10, ALIGN_RIGHT, SLOT_VALUE, depth);
    x += crt_put(*y, x, 12, ALIGN_RIGHT, r->stale ? SLOT_STALE : extra_slot, extra);
    if (spark)
        draw_sparkline(ui, *y, x + 1, spark, r->q->addr, SERIES_DEPTH, r->stale ? SLOT_STALE : SLOT_SPARK);
    (*y)++;
}

static int by_age(const void *a, const void *b)
{
    double x = ((const struct ui_row *)a)->q->head_age, y = ((const struct ui_row *)b)->q->head_age;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return (y > x) - (y < x);
}

/* Deepest, fastest growing, oldest message: as many of each as fit. */
static void draw_queues(struct ui *ui, struct panel p)
{
    int y = p.top, per = (p.height - 3) / 3 > 1 ? (p.height - 3) / 3 : 1;
    struct ui_row *rows = xcalloc(ui->nrows ? ui->nrows : 1, sizeof *rows);
    if (ui->nrows)
        memcpy(rows, ui->rows, ui->nrows * sizeof *rows);
    static const struct { const char *title; int (*order)(const void *, const void *); } parts[] = {
        {"Top by depth", by_depth}, {"Fastest growing (depth change per second, last 10 samples)", by_growth},
        {"Oldest message", by_age}};
    for (size_t k = 0; k < 3 && y < p.top + p.height; k++) {
        crt_put(y++, p.left + 1, p.width - 2, ALIGN_LEFT, SLOT_LABEL, parts[k].title);
        if (ui->nrows)
            qsort(rows, ui->nrows, sizeof *rows, parts[k].order);
        int shown = 0;
        for (size_t i = 0; i < ui->nrows && shown < per; i++) {
            const struct ui_row *r = &rows[i];
            char extra[32] = "";
            enum theme_slot es = SLOT_DIM;
            if (k == 1 && !(r->growth > 0))
                break;
            if (k == 2 && isnan(r->q->head_age))
                break;
            if (k < 2 && !isnan(r->growth))
                snprintf(extra, sizeof extra, "%+.1f/s", r->growth), es = r->growth > 0 ? SLOT_WARN : SLOT_DIM;
            if (k == 2)
                fmt_age(extra, sizeof extra, r->q->head_age, r->q->head_age_at_least);
            queue_row(ui, &p, &y, r, extra, es);
            shown++;
        }
        if (!shown)
            line(&p, &y, SLOT_DIM, "%s", k == 0 ? "no queues" : k == 1 ? "nothing is growing" : "no ages known");
    }
    free(rows);
}

static size_t live_reports(const struct fleet_table *t, const cJSON **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; t && i < t->n && n < cap; i++)
        if (t->workers[i].state != FLEET_LOST && t->workers[i].report)
            out[n++] = t->workers[i].report;
    return n;
}

static void draw_fleet(struct ui *ui, struct overview_state *st, struct panel p)
{
    int y = p.top;
    const struct fleet_table *t = fleet_table_of(ui->fleet.snap);
    if (!t) {
        line(&p, &y, SLOT_DIM, "%s", ui->opt->fleet ? "reading the fleet..." : "no Redis: no fleet to show");
        return;
    }
    int64_t busy = 0, total = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct fleet_worker *w = &t->workers[i];
        if (w->state != FLEET_RUNNING)
            continue;
        busy += w->slots_busy > 0 ? w->slots_busy : 0;
        total += w->slots_total > 0 ? w->slots_total : 0;
    }
    const struct type_ring *fleet = type_series_fleet(&ui->types);
    double done = type_series_latest(&ui->types, fleet, TYPE_DONE);
    double failed = type_series_latest(&ui->types, fleet, TYPE_FAILED);
    int x = p.left + 1 + crt_put(y, p.left + 1, 9, ALIGN_LEFT, SLOT_LABEL, "workers");
    char text[160];
    snprintf(text, sizeof text, "%zu up  ", t->running);
    x += crt_put(y, x, crt_width(text), ALIGN_LEFT, SLOT_OK, text);
    snprintf(text, sizeof text, "%zu lost", t->lost);
    crt_put(y++, x, p.width - (x - p.left) - 1, ALIGN_LEFT, t->lost ? SLOT_CRIT : SLOT_DIM, text);
    if (y < p.top + p.height) {
        int bar = p.width - 2 - 9 - 12;
        if (bar > 30)
            bar = 30;
        int filled = total > 0 ? (int)lround((double)bar * (double)busy / (double)total) : 0;
        if (busy > 0 && filled == 0)
            filled = 1;
        char on[4 * 64 + 1] = "", off[4 * 64 + 1] = "";
        for (int i = 0; i < bar && i < 64; i++)
            strcat(i < filled ? on : off, crt_utf8() ? (i < filled ? "█" : "·") : (i < filled ? "#" : "."));
        x = p.left + 1 + crt_put(y, p.left + 1, 9, ALIGN_LEFT, SLOT_LABEL, "slots");
        x += crt_put(y, x, filled, ALIGN_LEFT, total && busy >= total ? SLOT_WARN : SLOT_BAR, on);
        x += crt_put(y, x, bar - filled, ALIGN_LEFT, SLOT_DIM, off);
        snprintf(text, sizeof text, " %lld/%lld busy", (long long)busy, (long long)total);
        crt_put(y++, x, p.width - (x - p.left) - 1, ALIGN_LEFT, SLOT_VALUE, text);
    }
    char a[32], b[32];
    fmt_rate(a, sizeof a, done);
    fmt_rate(b, sizeof b, failed);
    line(&p, &y, failed > 0 ? SLOT_WARN : SLOT_VALUE, "done %s/s   failed %s/s", a, b);
    /* with room: the last 10 minutes of both, side by side */
    int chart_h = p.top + p.height - y;
    if (chart_h < FLEET_CHART_MIN || p.width < 44)
        return;
    if (chart_h > FLEET_CHART_MAX)
        chart_h = FLEET_CHART_MAX;
    const struct type_series *ts = &ui->types;
    double span = ts->capacity * (ui->opt->cfg->refresh > 0 ? ui->opt->cfg->refresh : 1);
    struct chart_box boxes[2] = {
        {.title = "done/s", .merge = CHART_MEAN, .slot = SLOT_SPARK},
        {.title = "failed/s", .merge = CHART_MEAN, .slot = SLOT_WARN},
    };
    enum type_metric metrics[2] = {TYPE_DONE, TYPE_FAILED};
    int w = (p.width - 2) / 2, left = p.left + 1;
    for (int i = 0; i < 2; i++) {
        boxes[i].n = type_series_values(ts, fleet, metrics[i], st->values, ts->capacity);
        boxes[i].values = st->values;
        boxes[i].slots = ts->capacity;
        boxes[i].span = span;
        chart_draw(&boxes[i], y, left, chart_h, i ? p.width - 2 - w : w - 1);
        left += w;
    }
}

static int by_e2e_count(const void *a, const void *b)
{
    uint64_t x = (*(const struct latency_row *const *)a)->summary[LATENCY_E2E].count;
    uint64_t y = (*(const struct latency_row *const *)b)->summary[LATENCY_E2E].count;
    return (y > x) - (y < x);
}

/* The busiest types' end-to-end p50 and p99, and where p99 went since the
 * last look. The merge is the fleet snapshot's (made on its collector's
 * thread); this orders its rows. */
static void draw_latency(struct ui *ui, struct overview_state *st, struct panel p)
{
    int y = p.top;
    const struct latency_table *merged = fleet_latency_of(ui->fleet.snap, NULL);
    size_t n = merged ? merged->n : 0;
    const struct latency_row **order = xcalloc(n ? n : 1, sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = &merged->rows[i];
    if (n > 1)
        qsort(order, n, sizeof *order, by_e2e_count);
    if (!n)
        line(&p, &y, SLOT_DIM, "no task has run yet");
    else if (y < p.top + p.height) {
        crt_put(y, p.left + 1, p.width - 2 - 30, ALIGN_LEFT, SLOT_COLUMN, "TASK TYPE (end-to-end)");
        crt_put(y, p.left + p.width - 31, 9, ALIGN_RIGHT, SLOT_COLUMN, "P50");
        crt_put(y++, p.left + p.width - 22, 9, ALIGN_RIGHT, SLOT_COLUMN, "P99");
    }
    /* with room, the last minutes of each type's end-to-end p99 as a sparkline */
    int spark = p.width >= 72 ? 16 : 0, name_w = p.width - 2 - 30 - (spark ? spark + 1 : 0);
    for (size_t i = 0; i < n && y < p.top + p.height; i++) {
        const struct histogram_summary *s = &order[i]->summary[LATENCY_E2E];
        if (!s->count)
            continue;
        /* the last half minute's p99 against the half minute before */
        const struct type_ring *ring = type_series_find(&ui->types, order[i]->type);
        double change = type_series_trend(&ui->types, ring, TYPE_P99 + LATENCY_E2E, 30);
        const char *trend = isnan(change) ? "" : change > 0.1 ? "↑ rising" : change < -0.1 ? "↓ falling" : "→ steady";
        if (!crt_utf8() && trend[0])
            trend += strlen("↑ ");
        char a[32], b[32];
        format_latency_us(s->p50, true, a, sizeof a);
        format_latency_us(s->p99, true, b, sizeof b);
        crt_put(y, p.left + 1, name_w, ALIGN_LEFT, SLOT_DEFAULT, order[i]->type);
        if (spark) {
            size_t held = type_series_values(&ui->types, ring, TYPE_P99 + LATENCY_E2E, st->values, (size_t)spark);
            char text[4 * 64 + 1];
            sparkline_render(st->values, held, spark, crt_utf8(), text, sizeof text);
            crt_put(y, p.left + 1 + name_w, spark, ALIGN_LEFT, SLOT_SPARK, text);
        }
        crt_put(y, p.left + p.width - 31, 9, ALIGN_RIGHT, SLOT_VALUE, a);
        crt_put(y, p.left + p.width - 22, 9, ALIGN_RIGHT, s->p99 >= 10000000 ? SLOT_WARN : SLOT_VALUE, b);
        crt_put(y++, p.left + p.width - 12, 11, ALIGN_LEFT, strstr(trend, "rising") ? SLOT_WARN : SLOT_DIM,
                trend);
    }
    free(order);
}

static void draw_breakers(struct ui *ui, struct panel p)
{
    int y = p.top;
    const cJSON *reports[1024];
    size_t n = live_reports(fleet_table_of(ui->fleet.snap), reports, 1024);
    struct breaker_table bt;
    breaker_table_build(reports, n, NULL, 0, &bt);
    size_t closed = 0;
    char names[512] = "";
    for (size_t i = 0; i < bt.n; i++) {
        const struct breaker_row *r = &bt.rows[i];
        if (!r->workers || r->worst == BREAKER_CLOSED) {
            size_t used = strlen(names);
            snprintf(names + used, sizeof names - used, "%s%s", closed ? ", " : "", r->name);
            closed++;
            continue;
        }
        char half[32] = "";
        if (r->open_remaining > 0)
            snprintf(half, sizeof half, ", half-open in %.0fs", r->open_remaining);
        line(&p, &y, r->worst == BREAKER_HALF_OPEN ? SLOT_BREAKER_HALF_OPEN : SLOT_BREAKER_OPEN,
             "%-20s %-10s fail %.0f%%%s", r->name, breaker_state_name(r->worst), r->failure_rate, half);
    }
    if (closed)
        line(&p, &y, SLOT_DIM, "%zu closed: %s", closed, names);
    else if (!bt.n)
        line(&p, &y, SLOT_DIM, "no breakers reported");
    breaker_table_free(&bt);
}

static void draw_dlq(struct ui *ui, struct panel p)
{
    int y = p.top;
    double total = 0, growth = 0;
    size_t n = 0;
    for (size_t i = 0; i < ui->nrows; i++)
        if (dlq_is_name(ui->rows[i].q->addr)) {
            double d = queue_depth(ui->rows[i].q);
            total += isnan(d) ? 0 : d;
            growth += isnan(ui->rows[i].growth) ? 0 : ui->rows[i].growth;
            n++;
        }
    line(&p, &y, growth > 0 ? SLOT_WARN : SLOT_VALUE, "%.0f dead letters in %zu DLQ%s, %+.0f/min", total, n,
         n == 1 ? "" : "s", growth * 60);
    for (size_t i = 0; i < ui->nrows && y < p.top + p.height; i++) {
        const struct ui_row *r = &ui->rows[i];
        if (!dlq_is_name(r->q->addr) || !(queue_depth(r->q) > 0))
            continue;
        char extra[32] = "";
        if (!isnan(r->growth))
            snprintf(extra, sizeof extra, "%+.0f/min", r->growth * 60);
        queue_row(ui, &p, &y, r, extra, r->growth > 0 ? SLOT_WARN : SLOT_DIM);
    }
}

static void draw_guardrails(struct ui *ui, struct panel p)
{
    int y = p.top;
    size_t shown = 0;
    for (size_t i = 0; ui->board && i < ui->board->nguardrails; i++) {
        const struct policy_item *g = &ui->board->guardrails[i];
        const char *fallback = policy_default(g->name);
        if (fallback && g->value && !strcmp(fallback, g->value))
            continue;
        char when[48] = "";
        double at = g->at ? envelope_parse_time(g->at) : NAN;
        if (!isnan(at)) {
            format_duration(clock_wall() - at, when, sizeof when);
            strcat(when, " ago");
        }
        line(&p, &y, SLOT_WARN, "%s = %s   %s %s", g->name, g->value ? g->value : "?", g->by ? g->by : "", when);
        shown++;
    }
    if (!shown)
        line(&p, &y, SLOT_DIM, "%s", ui->opt->board ? "every guardrail at its default" : "no Redis: no guardrails");
}

static void draw_alerts(struct ui *ui, struct panel p)
{
    int y = p.top;
    if (!ui->alerts.n)
        line(&p, &y, SLOT_OK, "no alerts");
    for (size_t i = 0; i < ui->alerts.n && y < p.top + p.height; i++) {
        if (y == p.top + p.height - 1 && i + 1 < ui->alerts.n) {
            line(&p, &y, SLOT_WARN, "and %zu more", ui->alerts.n - i);
            break;
        }
        line(&p, &y, SLOT_CRIT, "! %s", ui->alerts.items[i].text);
    }
}

enum panel_id { P_ALERTS, P_QUEUES, P_FLEET, P_LATENCY, P_BREAKERS, P_DLQ, P_GUARDRAILS, P_COUNT };

static void draw_panel(struct ui *ui, struct overview_state *st, enum panel_id id, int top, int left, int h, int w)
{
    static const char *const titles[P_COUNT] = {" Alerts ", " Queues ", " Fleet ", " Latency ", " Breakers not closed ",
                                                " Dead letters ", " Guardrails not at default "};
    enum theme_slot ts = id == P_ALERTS && ui->alerts.n ? SLOT_CRIT : SLOT_TITLE;
    struct panel p = panel_draw(top, left, h, w, titles[id], ts);
    if (p.height <= 0)
        return;
    switch (id) {
    case P_ALERTS: draw_alerts(ui, p); break;
    case P_QUEUES: draw_queues(ui, p); break;
    case P_FLEET: draw_fleet(ui, st, p); break;
    case P_LATENCY: draw_latency(ui, st, p); break;
    case P_BREAKERS: draw_breakers(ui, p); break;
    case P_DLQ: draw_dlq(ui, p); break;
    case P_GUARDRAILS: draw_guardrails(ui, p); break;
    case P_COUNT: break;
    }
}

/* Stacks panels (in priority order) in a column: each gets its wanted
 * height while there is room; ids[grow] takes what is left. */
static void column(struct ui *ui, struct overview_state *st, const enum panel_id *ids, const int *want, size_t n,
                   size_t grow, int top, int bottom, int left, int width)
{
    int h[P_COUNT] = {0}, left_h = bottom - top;
    size_t fit = 0;
    for (; fit < n && left_h >= 3; fit++) {
        h[fit] = want[fit] <= left_h ? want[fit] : left_h;
        left_h -= h[fit];
    }
    if (fit)
        h[grow < fit ? grow : 0] += left_h;
    for (size_t i = 0, y = (size_t)top; i < fit; y += (size_t)h[i], i++)
        draw_panel(ui, st, ids[i], (int)y, left, h[i], width);
}

static void draw_overview(struct ui *ui, void *state, int top, int height)
{
    struct overview_state *st = state;
    int y = top, bottom = top + height;
    bool compact = height < 34 || ui->opt->nsources > 2;
    for (size_t s = 0; s < ui->opt->nsources && y < bottom; s++)
        y = draw_source(ui, s, y, bottom, compact);
    int alerts_h = (ui->alerts.n ? (int)(ui->alerts.n < 4 ? ui->alerts.n : 4) : 1) + 2;
    bool fleet = ui->opt->fleet != NULL;
    if (COLS >= 110) {
        draw_panel(ui, st, P_ALERTS, y, 0, alerts_h, COLS);
        y += alerts_h;
        int half = COLS / 2;
        enum panel_id lids[] = {P_QUEUES, P_DLQ};
        int lwant[] = {14, 6};
        column(ui, st, lids, lwant, 2, 0, y, bottom, 0, half);
        enum panel_id rids[] = {P_FLEET, P_LATENCY, P_BREAKERS, P_GUARDRAILS};
        int rwant[] = {5, 6, 5, 5};
        /* room beyond every panel's want goes first to the fleet's charts, then to latency */
        int spare = bottom - y - (rwant[0] + rwant[1] + rwant[2] + rwant[3]);
        if (spare >= FLEET_CHART_MIN)
            rwant[0] += spare < FLEET_CHART_MAX ? spare : FLEET_CHART_MAX;
        column(ui, st, rids, rwant, fleet ? 4 : 0, 1, y, bottom, half, COLS - half);
        if (!fleet)
            draw_panel(ui, st, P_GUARDRAILS, y, half, bottom - y, COLS - half);
    } else {
        enum panel_id ids[] = {P_ALERTS, P_QUEUES, P_FLEET, P_LATENCY, P_BREAKERS, P_DLQ, P_GUARDRAILS};
        int want[] = {alerts_h, 12, 5, 5, 4, 4, 4};
        /* the alerts keep their height; the queues grow */
        if (alerts_h <= bottom - y) {
            draw_panel(ui, st, P_ALERTS, y, 0, alerts_h, COLS);
            y += alerts_h;
        }
        column(ui, st, ids + 1, want + 1, fleet ? 6 : 1, 0, y, bottom, 0, COLS);
    }
}

static void *overview_init(struct ui *ui)
{
    struct overview_state *st = xcalloc(1, sizeof *st);
    st->values = xcalloc(ui->types.capacity ? ui->types.capacity : 1, sizeof *st->values);
    return st;
}

static void overview_free(void *state)
{
    struct overview_state *st = state;
    free(st->values);
    free(st);
}

const struct view_ops overview_view = {
    .name = "Overview",
    .short_name = "Over",
    .summary = "what is wrong and where: alerts, queues, fleet, latency, breakers, dead letters, guardrails",
    .key = '1',
    .init = overview_init,
    .free = overview_free,
    .draw = draw_overview,
};
