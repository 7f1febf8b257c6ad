/* The DLQ view's tables (see dlq-tables.h). */
#include "ui/dlq-tables.h"

#include <stdlib.h>
#include <string.h>

#include "control/keys.h"
#include "core/xalloc.h"

bool dlq_is_name(const char *addr)
{
    size_t n = strlen(addr);
    const char *hash = strrchr(addr, '#');
    if (strncmp(addr, "stream:", 7) == 0 && hash)
        n = (size_t)(hash - addr);
    return (n > 4 && (strncmp(addr + n - 4, DLQ_SUFFIX_AMQP, 4) == 0 || strncmp(addr + n - 4, DLQ_SUFFIX_REDIS, 4) == 0));
}

void dlq_picks_free(struct dlq_picks *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->names[i]);
    free(p->names);
    p->names = NULL;
    p->n = 0;
}

void dlq_picks_collect(struct ui *ui, struct dlq_picks *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->names[i]);
    p->n = 0;
    for (size_t s = 0; s < ui->opt->nsources; s++) {
        const struct snapshot *snap = ui->feeds[s].snap;
        for (size_t i = 0; snap && i < snap->nqueues; i++) {
            const char *addr = snap->queues[i].addr;
            if (!dlq_is_name(addr))
                continue;
            char *name = xstrdup(addr);
            if (strncmp(name, "stream:", 7) == 0 && strrchr(name, '#'))
                *strrchr(name, '#') = '\0';       /* a DLQ stream is read whole, not by group */
            bool dup = false;
            for (size_t k = 0; k < p->n && !dup; k++)
                dup = strcmp(p->names[k], name) == 0;
            if (dup) {
                free(name);
                continue;
            }
            p->names = xrealloc(p->names, (p->n + 1) * sizeof *p->names);
            p->names[p->n++] = name;
        }
    }
}

const struct queue_stat *dlq_find_stat(struct ui *ui, const char *addr)
{
    for (size_t s = 0; s < ui->opt->nsources; s++) {
        const struct snapshot *snap = ui->feeds[s].snap;
        for (size_t i = 0; snap && i < snap->nqueues; i++)
            if (strncmp(snap->queues[i].addr, addr, strlen(addr)) == 0)
                return &snap->queues[i];
    }
    return NULL;
}

static double pick_depth(struct dlq_picks *p, size_t i)
{
    const struct queue_stat *q = dlq_find_stat(p->ui, p->names[i]);
    return q ? (double)(q->total >= 0 ? q->total : q->ready) : -1;
}

const struct list_column dlq_pick_columns[PS_NCOLUMNS] = {{"name queue", false}, {"depth", true}};
static size_t pick_count(void *ctx) { return ((struct dlq_picks *)ctx)->n; }
static const char *pick_key(void *ctx, size_t i) { return ((struct dlq_picks *)ctx)->names[i]; }
static bool pick_matches(void *ctx, size_t i, const char *filter)
{
    return strcasestr(((struct dlq_picks *)ctx)->names[i], filter) != NULL;
}
static int pick_compare(void *ctx, size_t a, size_t b, int column)
{
    struct dlq_picks *p = ctx;
    if (column == PS_NAME)
        return strcmp(p->names[a], p->names[b]);
    double x = pick_depth(p, a), y = pick_depth(p, b);
    return (x > y) - (x < y);
}
const struct list_model dlq_pick_model = {pick_count, pick_key, pick_matches, pick_compare};

const struct list_column dlq_msg_columns[MS_NCOLUMNS] = {
    {"id", false}, {"type", false}, {"reason", false}, {"deaths", true}, {"attempts att", true},
    {"last-death when", true},
};
static const struct dlq_page *page_of(void *ctx) { return *(struct dlq_page **)ctx; }
static size_t msg_count(void *ctx)
{
    const struct dlq_page *p = page_of(ctx);
    return p && p->ok ? p->n : 0;
}
static const char *msg_key(void *ctx, size_t i) { return page_of(ctx)->msgs[i]->info.id; }
static int msg_compare(void *ctx, size_t a, size_t b, int column)
{
    const struct dlq_info *x = &page_of(ctx)->msgs[a]->info, *y = &page_of(ctx)->msgs[b]->info;
    double vx = 0, vy = 0;
    switch (column) {
    case MS_ID: return strcmp(x->id, y->id);
    case MS_TYPE: return strcmp(x->type, y->type);
    case MS_REASON: return strcmp(x->reason, y->reason);
    case MS_DEATHS: vx = (double)x->deaths, vy = (double)y->deaths; break;
    case MS_ATTEMPTS: vx = (double)x->attempts, vy = (double)y->attempts; break;
    case MS_WHEN: vx = x->last_death, vy = y->last_death; break;
    }
    return (vx > vy) - (vx < vy);
}
const struct list_model dlq_msg_model = {msg_count, msg_key, NULL, msg_compare};
