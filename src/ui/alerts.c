/* Alert evaluation (see alerts.h). Runs on the UI thread over the
 * snapshots it already holds: no I/O. */
#include "ui/alerts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "ui/screen.h"

#define DLQ_GROWTH_SAMPLES 10

bool queue_is_dlq(const char *addr)
{
    size_t n = strlen(addr);
    return n > 4 && (strcmp(addr + n - 4, ".dlq") == 0 || strcmp(addr + n - 4, ":dlq") == 0);
}

static void add(struct alert_set *set, const char *kind, const char *addr, const char *text)
{
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 16;
        set->items = xrealloc(set->items, set->cap * sizeof *set->items);
    }
    struct alert *a = &set->items[set->n++];
    snprintf(a->key, sizeof a->key, "%s %s", kind, addr);
    snprintf(a->text, sizeof a->text, "%s", text);
}

static bool had(const struct alert_set *set, const char *key)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->items[i].key, key) == 0)
            return true;
    return false;
}

bool alerts_evaluate(struct ui *ui)
{
    const struct alerts_config *th = &ui->opt->cfg->alerts;
    struct alert_set next = {0};
    char text[300], a[32], b[32];
    for (size_t s = 0; s < ui->opt->nsources; s++) {
        const struct snapshot *snap = ui->feeds[s].snap;
        if (!snap || ui->feeds[s].status != SOURCE_OK)
            continue;
        for (size_t i = 0; i < snap->nqueues; i++) {
            const struct queue_stat *q = &snap->queues[i];
            double depth = queue_depth(q);
            if (th->depth > 0 && !isnan(depth) && depth > (double)th->depth) {
                fmt_count(a, sizeof a, (int64_t)depth);
                fmt_count(b, sizeof b, th->depth);
                snprintf(text, sizeof text, "%s depth %s (alert above %s)", q->addr, a, b);
                add(&next, "depth", q->addr, text);
            }
            if (th->age > 0 && !isnan(q->head_age) && q->head_age > th->age) {
                format_duration(q->head_age, a, sizeof a);
                format_duration(th->age, b, sizeof b);
                snprintf(text, sizeof text, "%s oldest message waited %s (alert above %s)", q->addr, a, b);
                add(&next, "age", q->addr, text);
            }
            if (th->dlq_growth > 0 && queue_is_dlq(q->addr)) {
                double g = history_growth(history_get(&ui->history, q->addr), DLQ_GROWTH_SAMPLES);
                if (!isnan(g) && g * 60 > (double)th->dlq_growth) {
                    snprintf(text, sizeof text, "%s dead letters growing %.0f/min (alert above %ld/min)", q->addr,
                             g * 60, th->dlq_growth);
                    add(&next, "dlq", q->addr, text);
                }
            }
        }
    }
    bool fresh = false;
    for (size_t i = 0; i < next.n; i++)
        if (!had(&ui->alerts, next.items[i].key))
            fresh = true;
    alerts_free(&ui->alerts);
    ui->alerts = next;
    return fresh;
}

void alerts_free(struct alert_set *set)
{
    free(set->items);
    memset(set, 0, sizeof *set);
}
