/* View 3, Workers: one row per worker of the fleet, from the heartbeats in
 * Redis (control/fleet.h) — host, pid, queues, busy/total slots as a bar,
 * processed, failed, retried, dead-lettered, parked (shed by priority, not
 * dead letters), and how long ago it last beat. A worker gone silent is
 * marked LOST in the crit colour and sorts first; one still beating whose
 * consumers cannot connect (its heartbeat's "health", e.g. "amqp: login
 * refused") is marked ERROR in the crit colour with that reason in place of
 * its queues, and sorts right after;
 * one that said goodbye shows "stopped", dimmed. Enter opens a detail pane
 * with the rest of its report (breakers, limiters, guardrails applied).
 * On a Celery worker, X shuts it down and `:revoke ID` revokes a task
 * (ui/celery-actions.h: typed confirmation, write queue, audit). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "celery/state.h"
#include "console/fleet-source.h"
#include "core/clock.h"
#include "core/histogram.h"
#include "core/xalloc.h"
#include "ui/celery-actions.h"
#include "ui/crt.h"
#include "ui/prompt.h"
#include "ui/screen.h"

enum worker_sort { WS_STATE, WS_HOST, WS_BUSY, WS_PROCESSED, WS_FAILED, WS_BEAT, WS_COUNT };
static const struct list_column sort_columns[WS_COUNT] = {
    [WS_STATE] = {"state", false}, [WS_HOST] = {"host worker name", false}, [WS_BUSY] = {"busy slots", true},
    [WS_PROCESSED] = {"processed proc", true}, [WS_FAILED] = {"failed fail", true},
    [WS_BEAT] = {"last-beat beat", false},
};

#define BAR_WIDTH 10

struct wcol {
    const char *title;
    int width;
    int priority;   /* 1 first; the lowest go when the terminal is narrow */
};

enum { WC_STATE, WC_QUEUES, WC_SLOTS, WC_PROC, WC_FAIL, WC_RETRY, WC_DLQ, WC_PARKED, WC_BEAT, WC_KIND, WC_COUNT };
static const struct wcol wcols[WC_COUNT] = {
    [WC_KIND] = {"KIND", 6, 5},    [WC_STATE] = {"STATE", 7, 1},  [WC_QUEUES] = {"QUEUES", 24, 8}, [WC_SLOTS] = {"SLOTS", BAR_WIDTH + 10, 2},
    [WC_PROC] = {"PROC", 8, 3},    [WC_FAIL] = {"FAIL", 7, 4},      [WC_RETRY] = {"RETRY", 7, 7},
    [WC_DLQ] = {"DLQ", 7, 5},      [WC_PARKED] = {"PARKED", 6, 6},  [WC_BEAT] = {"BEAT", 7, 1},
};
#define NAME_MIN 18

/* The view's state: the rows of the last draw (pointers into ui->fleet's
 * table), the table over them, the detail pane. */
struct workers_state {
    const struct fleet_worker **rows;
    size_t nrows, rows_cap;
    struct list list;
    bool detail;
};

static int state_rank(const struct fleet_worker *w)
{
    return w->state == FLEET_LOST ? 0 : fleet_worker_unhealthy(w) ? 1 : w->state == FLEET_RUNNING ? 2 : 3;
}

static double busy_ratio(const struct fleet_worker *w)
{
    return w->slots_total > 0 && w->slots_busy >= 0 ? (double)w->slots_busy / (double)w->slots_total : -1;
}

static int compare_workers(void *ctx, size_t a, size_t b, int sort)
{
    const struct workers_state *st = ctx;
    const struct fleet_worker *x = st->rows[a], *y = st->rows[b];
    int c = 0;
    switch (sort) {
    case WS_STATE: c = state_rank(x) - state_rank(y); break;
    case WS_BUSY: c = (busy_ratio(x) > busy_ratio(y)) - (busy_ratio(x) < busy_ratio(y)); break;
    case WS_PROCESSED: c = (x->processed > y->processed) - (x->processed < y->processed); break;
    case WS_FAILED: c = (x->failed > y->failed) - (x->failed < y->failed); break;
    case WS_BEAT: c = (x->last_beat > y->last_beat) - (x->last_beat < y->last_beat); break;   /* oldest first */
    default: break;
    }
    if (!c)
        c = strcmp(x->host, y->host);
    return c ? c : (x->pid > y->pid) - (x->pid < y->pid);
}

static bool worker_matches(void *ctx, size_t i, const char *filter)
{
    const struct fleet_worker *w = ((struct workers_state *)ctx)->rows[i];
    return strcasestr(w->id, filter) || strcasestr(w->host, filter) || strcasestr(w->queues, filter) ||
           strcasestr(fleet_state_name(w->state), filter) || strcasestr(w->health, filter);
}

static size_t worker_count(void *ctx) { return ((struct workers_state *)ctx)->nrows; }
static const char *worker_key(void *ctx, size_t i) { return ((struct workers_state *)ctx)->rows[i]->id; }
static const struct list_model worker_model = {worker_count, worker_key, worker_matches, compare_workers};

static void build_rows(struct ui *ui, struct workers_state *st)
{
    const struct fleet_table *t = fleet_table_of(ui->fleet.snap);
    st->nrows = 0;
    for (size_t i = 0; t && i < t->n; i++) {
        if (st->nrows == st->rows_cap) {
            st->rows_cap = st->rows_cap ? st->rows_cap * 2 : 64;
            st->rows = xrealloc(st->rows, st->rows_cap * sizeof *st->rows);
        }
        st->rows[st->nrows++] = &t->workers[i];
    }
    list_build(&st->list, &worker_model, st);
}

static void fmt_beat_age(const struct fleet_worker *w, char *buf, size_t len)
{
    double age = clock_wall() - w->last_beat;
    if (age < 0)
        age = 0;
    if (age < 10)
        snprintf(buf, len, "%.1fs", age);
    else
        format_duration(age, buf, (unsigned)len);
}

static const char *worker_name(const struct fleet_worker *w, char *buf, size_t len)
{
    if (w->pid >= 0)
        snprintf(buf, len, "%s:%ld", w->host, w->pid);
    else
        snprintf(buf, len, "%s", w->id);
    return buf;
}

/* KIND is shown only when the fleet mixes kinds (Celery workers beside qdeck's). */
static void visible_columns(bool shown[WC_COUNT], int *name_width, bool mixed)
{
    int used = 0;
    memset(shown, 0, WC_COUNT * sizeof shown[0]);
    for (int p = 1; p <= WC_COUNT; p++)
        for (int c = 0; c < WC_COUNT; c++)
            if (wcols[c].priority == p && (c != WC_KIND || mixed) && NAME_MIN + used + wcols[c].width + 1 <= COLS) {
                shown[c] = true;
                used += wcols[c].width + 1;
            }
    *name_width = COLS - used;
}

static enum theme_slot state_slot(const struct fleet_worker *w)
{
    return w->state == FLEET_LOST || fleet_worker_unhealthy(w) ? SLOT_CRIT
           : w->state == FLEET_STOPPED                        ? SLOT_DIM
                                                              : SLOT_OK;
}

/* "██████····  6/10" */
static void draw_slots(int y, int x, int width, const struct fleet_worker *w, enum theme_slot base, bool selected)
{
    char text[32];
    if (w->slots_total <= 0 || w->slots_busy < 0) {
        crt_put(y, x, width, ALIGN_RIGHT, base, "-");
        return;
    }
    int filled = (int)lround((double)BAR_WIDTH * (double)w->slots_busy / (double)w->slots_total);
    if (filled > BAR_WIDTH)
        filled = BAR_WIDTH;
    if (w->slots_busy > 0 && filled == 0)
        filled = 1;   /* any work at all shows */
    char bar[BAR_WIDTH * 4 + 1] = "", rest[BAR_WIDTH * 4 + 1] = "";
    const char *on = crt_utf8() ? "█" : "#", *off = crt_utf8() ? "·" : ".";
    for (int i = 0; i < BAR_WIDTH; i++)
        strcat(i < filled ? bar : rest, i < filled ? on : off);
    double ratio = (double)w->slots_busy / (double)w->slots_total;
    enum theme_slot bar_slot = selected ? SLOT_SELECTION
                               : w->state != FLEET_RUNNING ? SLOT_STALE
                               : ratio >= 1 ? SLOT_WARN : SLOT_BAR;
    int used = crt_put(y, x, filled, ALIGN_LEFT, bar_slot, bar);
    used += crt_put(y, x + used, BAR_WIDTH - filled, ALIGN_LEFT, selected ? SLOT_SELECTION : SLOT_DIM, rest);
    snprintf(text, sizeof text, "%lld/%lld", (long long)w->slots_busy, (long long)w->slots_total);
    crt_put(y, x + used, width - used, ALIGN_RIGHT, base, text);
}

static void draw_header_row(const struct list *l, int y, const bool shown[WC_COUNT], int name_width)
{
    crt_fill(y, 0, COLS, SLOT_COLUMN);
    char title[64];
    const char *arrow = list_arrow(l, WS_HOST);
    snprintf(title, sizeof title, "WORKER%s%s", arrow[0] ? " " : "", arrow);
    int x = crt_put(y, 0, name_width, ALIGN_LEFT, SLOT_COLUMN, title);
    static const int sorted_by[WC_COUNT] = {[WC_KIND] = -1, [WC_STATE] = WS_STATE, [WC_QUEUES] = -1, [WC_SLOTS] = WS_BUSY,
                                            [WC_PROC] = WS_PROCESSED, [WC_FAIL] = WS_FAILED, [WC_RETRY] = -1,
                                            [WC_DLQ] = -1, [WC_PARKED] = -1, [WC_BEAT] = WS_BEAT};
    for (int c = 0; c < WC_COUNT; c++) {
        if (!shown[c])
            continue;
        snprintf(title, sizeof title, "%s%s", list_arrow(l, sorted_by[c]), wcols[c].title);
        x += crt_put(y, x, 1, ALIGN_LEFT, SLOT_COLUMN, " ");
        bool left = c == WC_QUEUES || c == WC_STATE || c == WC_KIND;
        x += crt_put(y, x, wcols[c].width, left ? ALIGN_LEFT : ALIGN_RIGHT, SLOT_COLUMN, title);
    }
}

static void draw_row(int y, const struct fleet_worker *w, bool selected, bool stale,
                     const bool shown[WC_COUNT], int name_width)
{
    bool unhealthy = fleet_worker_unhealthy(w);
    enum theme_slot base = selected ? SLOT_SELECTION : stale || w->state == FLEET_STOPPED ? SLOT_STALE
                                                   : w->state == FLEET_LOST || unhealthy ? SLOT_CRIT : SLOT_DEFAULT;
    crt_fill(y, 0, COLS, base);
    char text[512];
    int x = crt_put(y, 0, name_width, ALIGN_LEFT, base, worker_name(w, text, sizeof text));
    for (int c = 0; c < WC_COUNT; c++) {
        if (!shown[c])
            continue;
        x += crt_put(y, x, 1, ALIGN_LEFT, base, " ");
        enum theme_slot s = base;
        enum crt_align align = ALIGN_RIGHT;
        switch (c) {
        case WC_KIND:
            snprintf(text, sizeof text, "%s", w->kind ? w->kind : "qdeck");
            align = ALIGN_LEFT;
            break;
        case WC_STATE:
            snprintf(text, sizeof text, "%s", w->state == FLEET_LOST ? "LOST"
                                              : unhealthy            ? "ERROR"
                                                                     : fleet_state_name(w->state));
            s = selected ? base : state_slot(w);
            align = ALIGN_LEFT;
            break;
        case WC_QUEUES:
            snprintf(text, sizeof text, "%s", unhealthy ? w->health : w->queues[0] ? w->queues : "-");
            align = ALIGN_LEFT;
            break;
        case WC_SLOTS:
            draw_slots(y, x, wcols[c].width, w, base, selected);
            x += wcols[c].width;
            continue;
        case WC_PROC: fmt_count(text, sizeof text, w->processed); break;
        case WC_FAIL:
            fmt_count(text, sizeof text, w->failed);
            if (!selected && w->failed > 0 && w->state == FLEET_RUNNING)
                s = SLOT_WARN;
            break;
        case WC_RETRY: fmt_count(text, sizeof text, w->retried); break;
        case WC_DLQ:
            fmt_count(text, sizeof text, w->dead_lettered);
            if (!selected && w->dead_lettered > 0 && w->state == FLEET_RUNNING)
                s = SLOT_WARN;
            break;
        case WC_PARKED: fmt_count(text, sizeof text, w->parked); break;
        case WC_BEAT:
            fmt_beat_age(w, text, sizeof text);
            if (!selected && w->state == FLEET_LOST)
                s = SLOT_CRIT;
            break;
        }
        x += crt_put(y, x, wcols[c].width, align, s, text);
    }
}

/* "breakers: llm-api CLOSED, search OPEN" from an object of objects with a "state". */
static void object_states(const cJSON *o, const char *field, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    const cJSON *item;
    const cJSON *obj = cJSON_IsObject(o) ? o : NULL;
    cJSON_ArrayForEach(item, obj) {
        const cJSON *st = cJSON_IsObject(item) ? cJSON_GetObjectItemCaseSensitive(item, field) : item;
        char value[64];
        if (cJSON_IsString(st))
            snprintf(value, sizeof value, "%s", st->valuestring);
        else if (cJSON_IsNumber(st))
            snprintf(value, sizeof value, "%g", st->valuedouble);
        else
            snprintf(value, sizeof value, "?");
        int n = snprintf(buf + used, len - used, "%s%s %s", used ? ", " : "", item->string, value);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
    if (!used)
        snprintf(buf, len, "-");
}

/* 850us, 12.3ms, 4.21s */
static void fmt_micros(uint64_t us, char *buf, size_t len)
{
    if (us < 1000)
        snprintf(buf, len, "%lluus", (unsigned long long)us);
    else if (us < 1000000)
        snprintf(buf, len, "%.1fms", (double)us / 1e3);
    else
        snprintf(buf, len, "%.2fs", (double)us / 1e6);
}

/* One field in the left (col 0) or right column; a long value wraps onto
 * up to 3 lines within room. Returns the lines used. */
static int detail_line(int y, int half, int col, int room, const char *label, enum theme_slot slot, const char *value)
{
    int x = col ? half : 1, w = col ? COLS - half - 1 : half - 2;
    crt_put(y, x, 14, ALIGN_LEFT, SLOT_LABEL, label);
    return crt_put_wrapped(y, x + 14, w - 14, room < 3 ? room : 3, slot, value);
}

/* A Celery worker's clock against qdeck's (its heartbeats'), or NAN. */
static double clock_offset(const struct fleet_worker *w)
{
    const cJSON *o = w->report ? cJSON_GetObjectItemCaseSensitive(w->report, "clock_offset") : NULL;
    return cJSON_IsNumber(o) ? o->valuedouble : NAN;
}

static bool clock_skewed(const struct fleet_worker *w) { return fabs(clock_offset(w)) > CELERY_SKEW_TOLERANCE; }

static void draw_detail(const struct fleet_worker *w, int top, int height, bool stale)
{
    for (int y = top; y < top + height; y++)
        crt_fill(y, 0, COLS, SLOT_DEFAULT);
    char title[600], v[1100], a[32], b[32];
    snprintf(title, sizeof title, " worker %s   (Esc closes)", w->id);
    crt_fill(top, 0, COLS, SLOT_COLUMN);
    crt_put(top, 0, COLS, ALIGN_LEFT, SLOT_COLUMN, title);
    enum theme_slot vs = stale ? SLOT_STALE : SLOT_VALUE;
    int half = COLS / 2, y = top + 1, col = 0, row = 1;   /* row: lines the pair on y takes */
#define LINE(label, slot, ...)                                                             \
    do {                                                                                   \
        snprintf(v, sizeof v, __VA_ARGS__);                                                \
        if (y < top + height) {                                                            \
            int used = detail_line(y, half, col, top + height - y, label, slot, v);        \
            row = used > row ? used : row;                                                 \
        }                                                                                  \
        if (col)                                                                           \
            y += row, row = 1;                                                             \
        col = !col;                                                                        \
    } while (0)
    fmt_beat_age(w, a, sizeof a);
    LINE("State", state_slot(w), "%s%s, last beat %s ago (every %gs)", fleet_state_name(w->state),
         w->vanished ? " (heartbeat key gone)" : "", a, w->interval);
    LINE("Health", fleet_worker_unhealthy(w) ? SLOT_CRIT : vs, "%s", w->health[0] ? w->health : "- (not reported)");
    LINE("Host / pid", vs, "%s / %ld", w->host, w->pid);
    if (isnan(w->started_at))
        snprintf(a, sizeof a, "-");
    else
        format_duration(clock_wall() - w->started_at, a, sizeof a);
    LINE("Version", vs, "%s%s, up %s", w->kind && strcmp(w->kind, "celery") == 0 ? "" : "qdeck ", w->version, a);
    if (!isnan(clock_offset(w)))
        LINE("Clock", clock_skewed(w) ? SLOT_WARN : vs, "%.2fs %s qdeck's%s", fabs(clock_offset(w)),
             clock_offset(w) >= 0 ? "behind" : "ahead of",
             clock_skewed(w) ? ": skewed, its waits across clocks are not trusted" : " (heartbeat delay included)");
    fmt_count(a, sizeof a, w->slots_busy);
    fmt_count(b, sizeof b, w->slots_total);
    LINE("Slots", vs, "%s busy of %s", a, b);
    LINE("Queues", vs, "%s", w->queues[0] ? w->queues : "-");
    fmt_count(a, sizeof a, w->in_flight);
    LINE("In flight", vs, "%s", a);
    fmt_count(a, sizeof a, w->processed);
    fmt_count(b, sizeof b, w->failed);
    if (isnan(w->rate))
        LINE("Processed", vs, "%s, failed %s", a, b);
    else
        LINE("Processed", vs, "%s (%.1f/s), failed %s", a, w->rate, b);
    fmt_count(a, sizeof a, w->retried);
    fmt_count(b, sizeof b, w->dead_lettered);
    char c[32];
    fmt_count(c, sizeof c, w->parked);
    LINE("Retried", vs, "%s, dead-lettered %s, parked %s", a, b, c);
    object_states(cJSON_GetObjectItemCaseSensitive(w->report, "breakers"), "state", v, sizeof v);
    char copy[1024];
    snprintf(copy, sizeof copy, "%.900s", v);
    LINE("Breakers", vs, "%s", copy);
    object_states(cJSON_GetObjectItemCaseSensitive(w->report, "limiters"), "rate", v, sizeof v);
    snprintf(copy, sizeof copy, "%.900s", v);
    LINE("Rate limits", vs, "%s", copy);
    const cJSON *policy = cJSON_GetObjectItemCaseSensitive(w->report, "policy");
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(policy, "version");
    if (cJSON_IsNumber(pv))
        LINE("Guardrails", vs, "policy version %.0f applied", pv->valuedouble);
    else
        LINE("Guardrails", vs, "-");
    const cJSON *leader = cJSON_GetObjectItemCaseSensitive(w->report, "sched_leader");
    LINE("Scheduler", vs, "%s", cJSON_IsTrue(leader) ? "the fleet's leader (runs the periodic jobs)"
                                : cJSON_IsBool(leader) ? "follower" : "not running here");
    if (col)
        col = 0, y += row;
    /* run-time percentiles per task type, decoded from the heartbeat's histograms */
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(w->report, "latency");
    const cJSON *item;
    const cJSON *types = cJSON_IsObject(lat) ? lat : NULL;
    struct histogram *h = types && types->child ? histogram_new() : NULL;
    int shown = 0;
    cJSON_ArrayForEach(item, types) {
        const cJSON *run = cJSON_GetObjectItemCaseSensitive(item, "run");
        if (!cJSON_IsString(run) || histogram_decode(h, run->valuestring) < 0 || histogram_count(h) == 0)
            continue;
        struct histogram_summary sum;
        histogram_summarize(h, &sum);
        char p50[32], p99[32], max[32];
        fmt_micros(sum.p50, p50, sizeof p50);
        fmt_micros(sum.p99, p99, sizeof p99);
        fmt_micros(sum.max, max, sizeof max);
        char label[40];
        snprintf(label, sizeof label, "%s", shown ? "" : "Run time");
        snprintf(v, sizeof v, "%.60s: p50 %s  p99 %s  max %s  (%llu tasks)", item->string, p50, p99, max,
                 (unsigned long long)sum.count);
        if (y < top + height)
            y += detail_line(y, half, col, top + height - y, label, vs, v);
        else
            y++;
        shown++;
    }
    histogram_free(h);
    if (!shown && y < top + height)
        detail_line(y, half, col, top + height - y, "Run time", vs, "- (no task types reported yet)");
#undef LINE
}

static void draw_workers(struct ui *ui, void *state, int top, int height)
{
    struct workers_state *st = state;
    struct list *l = &st->list;
    build_rows(ui, st);
    const struct feed_view *fv = &ui->fleet;
    const struct fleet_table *t = fleet_table_of(fv->snap);
    bool stale = fv->status != SOURCE_OK;
    char line[600], status[96];

    /* summary line: counts, or why there is nothing */
    crt_fill(top, 0, COLS, SLOT_DEFAULT);
    if (!ui->opt->fleet) {
        crt_put(top + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                "the fleet reports to Redis: give this context a Redis URL (--redis URL) to see workers");
        return;
    }
    if (stale) {
        fmt_source_status(fv, status, sizeof status);
        snprintf(line, sizeof line, "fleet: %s%s%s%s", status, fv->message[0] ? ": " : "", fv->message,
                 t ? "  (grey rows: last known data)" : "");
        crt_put(top, 0, COLS, ALIGN_LEFT, fv->status == SOURCE_CONNECTING ? SLOT_DIM : SLOT_CRIT, line);
    } else if (t) {
        int64_t busy = 0, total = 0;
        for (size_t i = 0; i < t->n; i++)
            if (t->workers[i].state == FLEET_RUNNING && t->workers[i].slots_total > 0) {
                busy += t->workers[i].slots_busy > 0 ? t->workers[i].slots_busy : 0;
                total += t->workers[i].slots_total;
            }
        snprintf(line, sizeof line, " %zu worker%s: %zu running, ", t->n, t->n == 1 ? "" : "s", t->running);
        int x = crt_put(top, 0, crt_width(line), ALIGN_LEFT, SLOT_VALUE, line);
        snprintf(line, sizeof line, "%zu lost", t->lost);
        x += crt_put(top, x, crt_width(line), ALIGN_LEFT, t->lost ? SLOT_CRIT : SLOT_VALUE, line);
        snprintf(line, sizeof line, ", %zu stopped", t->stopped);
        x += crt_put(top, x, crt_width(line), ALIGN_LEFT, SLOT_VALUE, line);
        size_t unhealthy = 0;
        for (size_t i = 0; i < t->n; i++)
            unhealthy += fleet_worker_unhealthy(&t->workers[i]);
        if (unhealthy) {
            snprintf(line, sizeof line, ", %zu in error", unhealthy);
            x += crt_put(top, x, crt_width(line), ALIGN_LEFT, SLOT_CRIT, line);
        }
        size_t skewed = 0;
        for (size_t i = 0; i < t->n; i++)
            skewed += t->workers[i].state == FLEET_RUNNING && clock_skewed(&t->workers[i]);
        if (skewed) {
            snprintf(line, sizeof line, ", %zu with clock skew", skewed);
            x += crt_put(top, x, crt_width(line), ALIGN_LEFT, SLOT_WARN, line);
        }
        char sorted[96];
        list_sort_said(l, sorted, sizeof sorted);
        snprintf(line, sizeof line, " · slots %lld/%lld busy · %s (s)%s", (long long)busy, (long long)total,
                 sorted, t->truncated ? " · more workers than shown" : "");
        crt_put(top, x, COLS - x, ALIGN_LEFT, SLOT_VALUE, line);
    }

    bool shown[WC_COUNT], mixed = false;
    for (size_t i = 0; t && i < t->n && !mixed; i++)
        mixed = t->workers[i].kind && strcmp(t->workers[i].kind, "qdeck") != 0;
    int name_width;
    visible_columns(shown, &name_width, mixed);
    int detail_height = st->detail && l->n ? (height / 2 > 14 ? 14 : height / 2) : 0;
    int list_top = top + 1, list_height = height - 2 - detail_height;
    draw_header_row(l, list_top, shown, name_width);
    if (l->n == 0) {
        const char *why = l->filter[0] ? "no worker matches the filter (/ then Esc clears it)"
                          : !t          ? "reading the fleet..."
                                        : "no workers have reported (start one: qdeck worker)";
        crt_put(list_top + 2, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM, why);
        st->detail = false;
        return;
    }
    list_scroll(l, list_height);
    for (int i = 0; i < list_height && l->top + i < (int)l->n; i++)
        draw_row(list_top + 1 + i, st->rows[list_row(l, (size_t)(l->top + i))], l->top + i == l->selected, stale,
                 shown, name_width);
    size_t sel;
    if (detail_height >= 6 && list_selected(l, &sel))
        draw_detail(st->rows[sel], top + height - detail_height, detail_height, stale);
}

static void *workers_init(struct ui *ui)
{
    (void)ui;
    struct workers_state *st = xcalloc(1, sizeof *st);
    list_init(&st->list, sort_columns, WS_COUNT, WS_STATE);
    return st;
}

static void workers_free(void *state)
{
    struct workers_state *st = state;
    list_free(&st->list);
    free(st->rows);
    free(st);
}

static struct list *workers_list(void *state) { return &((struct workers_state *)state)->list; }

static bool key_details(struct ui *ui, void *state)
{
    (void)ui;
    struct workers_state *st = state;
    st->detail = st->list.n > 0 && !st->detail;
    if (st->list.n)
        list_select(&st->list, st->list.selected);
    return true;
}

static bool key_close(struct ui *ui, void *state)
{
    struct workers_state *st = state;
    if (!st->detail || ui->help)
        return false;
    st->detail = false;
    return true;
}

static bool key_shutdown(struct ui *ui, void *state)
{
    struct workers_state *st = state;
    size_t row;
    if (!list_selected(&st->list, &row)) {
        ui_message(ui, "no worker selected");
        return true;
    }
    const struct fleet_worker *w = st->rows[row];
    if (!w->kind || strcmp(w->kind, "celery") != 0) {
        ui_message(ui, "X shuts down Celery workers; %s is qdeck's (stop it with SIGTERM)", w->id);
        return true;
    }
    celery_ask_shutdown(ui, w->id);
    return true;
}

static bool key_revoke(struct ui *ui, void *state)
{
    (void)state;
    prompt_open_command(ui, "revoke ");
    return true;
}

/* :revoke ID [--terminate] */
static void command_revoke(struct ui *ui, void *state, const char *args)
{
    (void)state;
    char id[256] = "", flag[32] = "";
    int n = sscanf(args ? args : "", "%255s %31s", id, flag);
    bool terminate = n == 2 && strcmp(flag, "--terminate") == 0;
    if (n < 1 || (n == 2 && !terminate)) {
        ui_message(ui, "usage: revoke TASK_ID [--terminate]");
        return;
    }
    celery_ask_revoke(ui, id, terminate);
}

static const struct view_key worker_keys[] = {
    {{'\r', '\n', KEY_ENTER}, "Enter", "details of the selected worker (breakers, limits, run times)", key_details},
    {{27}, "Esc", "close the details", key_close},
    {{'X'}, "X", "shut down the selected Celery worker (type its name to confirm)", key_shutdown},
    {{'R'}, "R", "revoke a Celery task by id (:revoke ID [--terminate]; type the id to confirm)", key_revoke},
};

static const struct view_command worker_commands[] = {
    {"revoke", "revoke TASK_ID [--terminate]", command_revoke},
};

const struct view_ops workers_view = {
    .name = "Workers",
    .short_name = "Work",
    .summary = "every worker's heartbeat: slots, counts, last beat; lost workers in red (s sorts, Enter details)",
    .key = '3',
    .init = workers_init,
    .free = workers_free,
    .draw = draw_workers,
    .list = workers_list,
    .keys = worker_keys,
    .nkeys = sizeof worker_keys / sizeof worker_keys[0],
    .commands = worker_commands,
    .ncommands = sizeof worker_commands / sizeof worker_commands[0],
};
