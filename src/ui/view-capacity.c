/* View 0, Capacity: per task type and per queue, from the workers'
 * heartbeats (console/capacity.h): arrival rate λ, one slot's service rate
 * μ, utilisation ρ, Erlang C's predicted wait for the slots there are, the
 * time to drain the backlog, "+N workers" to hold the target wait, and for
 * types tokens/min, cost/min and cost per successful task ([task T]
 * price_in / price_out). Rates need two fleet readings a second apart.
 * t cycles the target wait. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "console/capacity.h"
#include "core/xalloc.h"
#include "console/fleet-source.h"
#include "ui/crt.h"
#include "ui/screen.h"

#define MAX_QUEUES 512
#define COLW 9

static const double targets[] = {0.1, 0.5, 1, 5, 30};

/* The view's own state: the rates' previous reading and the target wait. */
struct capacity_state {
    struct capacity_tracker tracker;
    size_t target_at;
};

static void *capacity_init(struct ui *ui)
{
    (void)ui;
    struct capacity_state *st = xcalloc(1, sizeof *st);
    st->target_at = 2;   /* 1 s */
    return st;
}

static void fmt_num(char *buf, size_t len, double v, const char *fmt)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (isinf(v))
        snprintf(buf, len, "never");
    else
        snprintf(buf, len, fmt, v);
}

static void fmt_secs(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else if (isinf(v))
        snprintf(buf, len, "never");
    else if (v < 1)
        snprintf(buf, len, "%.1fms", v * 1e3);
    else if (v < 600)
        snprintf(buf, len, "%.1fs", v);
    else
        snprintf(buf, len, "%.0fm", v / 60);
}

static const char *const titles[] = {"λ/s", "μ/s", "SLOTS", "ρ", "WAIT", "DRAIN", "+WORKERS", "TOK/MIN",
                                     "COST/MIN", "COST/OK"};
#define NCOLS (sizeof titles / sizeof titles[0])

static void draw_row(int y, const struct capacity_row *r, int name_w, bool stale)
{
    enum theme_slot base = stale ? SLOT_STALE : SLOT_DEFAULT;
    crt_fill(y, 0, COLS, base);
    char name[200], cell[NCOLS][32];
    snprintf(name, sizeof name, "%s%s", r->queue ? "queue " : "", r->name);
    fmt_num(cell[0], 32, r->lambda, "%.2f");
    fmt_num(cell[1], 32, r->mu, "%.2f");
    snprintf(cell[2], 32, "%d", r->slots);
    fmt_num(cell[3], 32, r->rho, "%.2f");
    fmt_secs(cell[4], 32, r->wait);
    fmt_secs(cell[5], 32, r->drain);
    if (r->slots_needed < 0)
        snprintf(cell[6], 32, "-");
    else
        snprintf(cell[6], 32, "+%d", r->more_workers);
    fmt_num(cell[7], 32, r->tokens_per_min, "%.0f");
    fmt_num(cell[8], 32, r->cost_per_min, "%.4f");
    fmt_num(cell[9], 32, r->cost_per_success, "%.5f");
    int x = crt_put(y, 0, name_w, ALIGN_LEFT, r->queue ? SLOT_LABEL : base, name);
    for (size_t i = 0; i < NCOLS; i++) {
        enum theme_slot slot = base;
        if (!stale && ((i == 3 && r->rho >= 0.9) || (i == 4 && isinf(r->wait)) || (i == 6 && r->more_workers > 0)))
            slot = SLOT_WARN;
        x += crt_put(y, x, COLW, ALIGN_RIGHT, slot, cell[i]);
    }
}

static void draw_capacity(struct ui *ui, void *state, int top, int height)
{
    struct capacity_state *st = state;
    crt_fill(top, 0, COLS, SLOT_DEFAULT);
    if (!ui->opt->fleet) {
        crt_put(top + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                "capacity comes from the workers' heartbeats in Redis: give this context a Redis URL");
        return;
    }
    const struct feed_view *fv = &ui->fleet;
    const struct fleet_table *t = fleet_table_of(fv->snap);
    bool stale = fv->status != SOURCE_OK;
    capacity_observe(&st->tracker, t);
    struct capacity_queue queues[MAX_QUEUES];
    size_t nq = 0;
    for (size_t i = 0; i < ui->nrows && nq < MAX_QUEUES; i++) {
        const struct queue_stat *q = ui->rows[i].q;
        queues[nq++] = (struct capacity_queue){.addr = q->addr, .depth = q->ready >= 0 ? (double)q->ready : NAN,
                                               .rate_in = q->rate_in, .growth = ui->rows[i].growth};
    }
    struct capacity_table ct;
    capacity_build(&st->tracker, t, ui->opt->cfg, queues, nq, targets[st->target_at], &ct);
    char line[300];
    snprintf(line, sizeof line, " Erlang C for the slots there are · +workers to hold a %gs mean wait (t: target)%s",
             targets[st->target_at], stale ? " · last known data" : "");
    crt_put(top, 0, COLS, ALIGN_LEFT, stale ? SLOT_STALE : SLOT_VALUE, line);
    int name_w = COLS - COLW * (int)NCOLS;
    if (name_w < 10)
        name_w = 10;
    crt_fill(top + 1, 0, COLS, SLOT_COLUMN);
    int x = crt_put(top + 1, 0, name_w, ALIGN_LEFT, SLOT_COLUMN, "TYPE / QUEUE");
    for (size_t i = 0; i < NCOLS; i++)
        x += crt_put(top + 1, x, COLW, ALIGN_RIGHT, SLOT_COLUMN, titles[i]);
    int y = top + 2;
    size_t shown = 0;
    for (size_t i = 0; i < ct.n && y < top + height; i++) {
        if (ct.rows[i].queue && ct.rows[i].slots == 0)
            continue;   /* a queue no live worker serves: nothing to predict */
        draw_row(y++, &ct.rows[i], name_w, stale);
        shown++;
    }
    if (!shown)
        crt_put(top + 3, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM,
                t ? "no task has run yet (workers report per-type counts once they run tasks)" : "reading the fleet...");
    else if (st->tracker.at > 0 && y + 1 < top + height && isnan(ct.rows[0].lambda))
        crt_put(y + 1, 2, COLS - 4, ALIGN_LEFT, SLOT_DIM, "rates need a second reading of the fleet...");
    capacity_table_free(&ct);
}

static bool next_target(struct ui *ui, void *state)
{
    (void)ui;
    struct capacity_state *st = state;
    st->target_at = (st->target_at + 1) % (sizeof targets / sizeof targets[0]);
    return true;
}

static const struct view_key capacity_keys[] = {
    {{'t', 0}, "t", "the next target wait (0.1, 0.5, 1, 5, 30 s)", next_target},
};

const struct view_ops capacity_view = {
    .name = "Capacity",
    .summary = "per type and queue: λ, μ, ρ, Erlang C wait, drain time, +workers, tokens and cost (t: target wait)",
    .short_name = "Cap",
    .key = '0',
    .init = capacity_init,
    .free = free,
    .draw = draw_capacity,
    .keys = capacity_keys,
    .nkeys = sizeof capacity_keys / sizeof capacity_keys[0],
};
