/* Snapshot tables: built by one thread, sealed, then shared read-only. */
#include "core/snapshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

struct snapshot *snapshot_new(size_t capacity_hint)
{
    struct snapshot *s = xcalloc(1, sizeof *s);
    s->refs = 1;
    s->capacity = capacity_hint ? capacity_hint : 16;
    s->queues = xcalloc(s->capacity, sizeof *s->queues);
    s->taken_at = NAN;
    s->collect_seconds = NAN;
    return s;
}

const char *queue_kind_scheme(enum queue_kind kind)
{
    switch (kind) {
    case QUEUE_AMQP: return "amqp";
    case QUEUE_REDIS_LIST: return "redis";
    case QUEUE_STREAM: return "stream";
    }
    return "?";
}

struct queue_stat *snapshot_add(struct snapshot *s, enum queue_kind kind, const char *name)
{
    if (s->nqueues == s->capacity) {
        s->capacity *= 2;
        s->queues = xrealloc(s->queues, s->capacity * sizeof *s->queues);
    }
    struct queue_stat *q = &s->queues[s->nqueues++];
    memset(q, 0, sizeof *q);
    q->kind = kind;
    q->name = xstrdup(name);
    q->addr = xasprintf("%s:%s", queue_kind_scheme(kind), name);
    q->ready = q->unacked = q->total = q->length = -1;
    q->consumers = -1;
    q->utilisation = q->rate_in = q->rate_out = q->rate_ack = q->rate_redeliver = NAN;
    q->head_age = q->pending_idle = q->head_seen_at = NAN;
    return q;
}

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

struct snapshot *snapshot_copy_rows(const struct snapshot *from)
{
    struct snapshot *s = snapshot_new(from && from->nqueues ? from->nqueues : 16);
    for (size_t i = 0; from && i < from->nqueues; i++) {
        const struct queue_stat *src = &from->queues[i];
        struct queue_stat *q = &s->queues[s->nqueues++];
        *q = *src;
        q->addr = xstrdup(src->addr);
        q->name = xstrdup(src->name);
        q->head_id = dup_or_null(src->head_id);
        q->dead_letter_to = dup_or_null(src->dead_letter_to);
        q->state = dup_or_null(src->state);
        q->workers = dup_or_null(src->workers);
        q->shed = dup_or_null(src->shed);
    }
    return s;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
    if (s)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    return s;
}

static void queue_stat_free(struct queue_stat *q)
{
    free(q->addr);
    free(q->name);
    free(q->head_id);
    free(q->dead_letter_to);
    free(q->state);
    free(q->workers);
    free(q->shed);
}

void snapshot_unref(struct snapshot *s)
{
    if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < s->nqueues; i++)
        queue_stat_free(&s->queues[i]);
    free(s->queues);
    free(s->server);
    free(s->discovery);
    if (s->extra && s->extra_free)
        s->extra_free(s->extra);
    free(s);
}

static int compare_addr(const void *a, const void *b)
{
    return strcmp(((const struct queue_stat *)a)->addr, ((const struct queue_stat *)b)->addr);
}

void snapshot_seal(struct snapshot *s)
{
    qsort(s->queues, s->nqueues, sizeof *s->queues, compare_addr);
}

const struct queue_stat *snapshot_find(const struct snapshot *s, const char *addr)
{
    if (!s)
        return NULL;
    struct queue_stat key = {.addr = (char *)addr};
    return bsearch(&key, s->queues, s->nqueues, sizeof *s->queues, compare_addr);
}
