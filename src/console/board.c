/* Control-plane collector for the console (see board.h). One refresh is
 * one pipelined round trip: HGETALL of the policy, its meta and the breaker
 * commands come from policy_fetch/policy_breaker_fetch, then XREVRANGE of
 * the newest 200 events and 200 audit records. The thread is a core/loop.h
 * loop: it sleeps for the refresh (or a backoff while Redis is away). */
#include "console/board.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/keys.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/loop.h"
#include "core/xalloc.h"

#define BOARD_EVENTS 200

struct board_feed {
    struct loop loop;
    pthread_mutex_t lock;             /* guards what follows, not the loop */
    int notify_fd;
    const struct config *cfg;
    const struct context_config *ctx;
    double refresh;
    struct board *cur;
    enum source_status status;
    char message[256];
};

void board_release(struct board *b)
{
    if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    policy_items_free(b->guardrails, b->nguardrails);
    policy_entries_free(b->breakers, b->nbreakers);
    board_events_free(b->events, b->nevents);
    free(b);
}

static void notify(struct board_feed *f)
{
    ssize_t n = write(f->notify_fd, "b", 1);
    (void)n;   /* a full pipe already wakes the UI */
}

/* "1764050000123-0" -> seconds */
static double entry_time(const char *id)
{
    return strtod(id, NULL) / 1000.0;
}

static const char *const kind_fields[] = {"type", "event", "kind", "action"};

void board_events_parse(const redisReply *r, bool audit, struct board_event **events, size_t *n)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return;
    *events = xrealloc(*events, (*n + r->elements) * sizeof **events);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        redisReply *kv = e->element[1];
        const char *kind = NULL;
        size_t kind_at = kv->elements;
        for (size_t k = 0; k < sizeof kind_fields / sizeof kind_fields[0] && !kind; k++)
            for (size_t j = 0; j + 1 < kv->elements; j += 2)
                if (kv->element[j]->type == REDIS_REPLY_STRING && strcmp(kv->element[j]->str, kind_fields[k]) == 0) {
                    kind = kv->element[j + 1]->str;
                    kind_at = j;
                    break;
                }
        char text[512] = "";
        size_t used = 0;
        bool sentence = false;   /* fleet events carry their own; audit records are fields */
        for (size_t j = 0; j + 1 < kv->elements && !audit && !sentence; j += 2)
            if (kv->element[j]->type == REDIS_REPLY_STRING && strcmp(kv->element[j]->str, "text") == 0 &&
                kv->element[j + 1]->type == REDIS_REPLY_STRING) {
                snprintf(text, sizeof text, "%s", kv->element[j + 1]->str);
                sentence = true;
            }
        for (size_t j = 0; j + 1 < kv->elements && !sentence; j += 2) {
            if (j == kind_at || kv->element[j + 1]->type != REDIS_REPLY_STRING || !kv->element[j + 1]->len)
                continue;
            if (audit && strcmp(kv->element[j]->str, "time") == 0)
                continue;   /* the entry id says it already */
            int w = snprintf(text + used, sizeof text - used, "%s%s=%s", used ? " " : "", kv->element[j]->str,
                             kv->element[j + 1]->str);
            if (w < 0 || (size_t)w >= sizeof text - used)
                break;
            used += (size_t)w;
        }
        struct board_event *ev = &(*events)[(*n)++];
        ev->at = entry_time(e->element[0]->str);
        ev->audit = audit;
        ev->kind = xstrdup(kind ? kind : (audit ? "audit" : "event"));
        ev->text = xstrdup(text);
    }
}

static int by_time_desc(const void *a, const void *b)
{
    double x = ((const struct board_event *)a)->at, y = ((const struct board_event *)b)->at;
    return x < y ? 1 : x > y ? -1 : 0;
}

void board_events_sort(struct board_event *events, size_t n)
{
    if (n > 1)
        qsort(events, n, sizeof *events, by_time_desc);
}

void board_events_free(struct board_event *events, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(events[i].kind);
        free(events[i].text);
    }
    free(events);
}

static struct board *collect(redisContext *c, char *err, size_t errlen)
{
    struct board *b = xcalloc(1, sizeof *b);
    atomic_init(&b->refs, 1);
    b->taken_at = clock_wall();
    if (policy_fetch(c, &b->guardrails, &b->nguardrails, err, errlen) < 0 ||
        policy_breaker_fetch(c, &b->breakers, &b->nbreakers, err, errlen) < 0) {
        board_release(b);
        return NULL;
    }
    redisAppendCommand(c, "XREVRANGE %s + - COUNT %d", KEY_EVENTS, BOARD_EVENTS);
    redisAppendCommand(c, "XREVRANGE %s + - COUNT %d", KEY_AUDIT, BOARD_EVENTS);
    for (int i = 0; i < 2; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            snprintf(err, errlen, "redis: %s", c->errstr[0] ? c->errstr : "connection lost");
            board_release(b);
            return NULL;
        }
        board_events_parse(r, i == 1, &b->events, &b->nevents);
        freeReplyObject(r);
    }
    board_events_sort(b->events, b->nevents);
    return b;
}

static void board_body(struct loop *l, void *arg)
{
    struct board_feed *f = arg;
    redisContext *c = NULL;
    struct backoff retry;
    backoff_init(&retry, 0.5, 10, (unsigned)getpid());
    while (!loop_stopping(l)) {
        char err[256] = "";
        if (!c)
            c = policy_connect(f->ctx->redis, f->ctx->timeout, err, sizeof err);
        struct board *b = c ? collect(c, err, sizeof err) : NULL;
        if (!b && c) {
            redisFree(c);
            c = NULL;
        }
        pthread_mutex_lock(&f->lock);
        if (b) {
            board_release(f->cur);
            f->cur = b;
            f->status = SOURCE_OK;
            f->message[0] = '\0';
            backoff_reset(&retry);
        } else {
            f->status = SOURCE_DOWN;
            snprintf(f->message, sizeof f->message, "%s", err);
        }
        notify(f);
        pthread_mutex_unlock(&f->lock);
        double wait = b ? f->refresh : backoff_next(&retry);
        if (loop_sleep(l, wait))
            break;
    }
    if (c)
        redisFree(c);
}

struct board_feed *board_start(const struct config *cfg, const struct context_config *ctx, int notify_fd)
{
    if (!ctx || !ctx->redis)
        return NULL;
    struct board_feed *f = xcalloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    loop_init(&f->loop);
    f->notify_fd = notify_fd;
    f->cfg = cfg;
    f->ctx = ctx;
    f->refresh = cfg->refresh > 0 ? cfg->refresh : 1;
    f->status = SOURCE_CONNECTING;
    if (loop_start(&f->loop, board_body, f) < 0) {
        board_stop(f);          /* stopping an unstarted loop is safe */
        return NULL;
    }
    return f;
}

void board_stop(struct board_feed *f)
{
    if (!f)
        return;
    loop_stop(&f->loop);
    loop_destroy(&f->loop);
    board_release(f->cur);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

struct board *board_get(struct board_feed *f, enum source_status *status, char *message, size_t len)
{
    pthread_mutex_lock(&f->lock);
    struct board *b = f->cur;
    if (b)
        atomic_fetch_add(&b->refs, 1);
    if (status)
        *status = f->status;
    if (message)
        snprintf(message, len, "%s", f->message);
    pthread_mutex_unlock(&f->lock);
    return b;
}

struct policy *board_policy(const struct board *b)
{
    if (!b)
        return NULL;
    struct policy_entry *pairs = xcalloc(b->nguardrails + 1, sizeof *pairs);
    for (size_t i = 0; i < b->nguardrails; i++)
        pairs[i] = (struct policy_entry){b->guardrails[i].name, b->guardrails[i].value};
    struct policy *p = policy_build(pairs, b->nguardrails, NULL, 0, 1);
    free(pairs);
    return p;
}

const struct policy_item *board_guardrail(const struct board *b, const char *name)
{
    for (size_t i = 0; b && i < b->nguardrails; i++)
        if (strcmp(b->guardrails[i].name, name) == 0)
            return &b->guardrails[i];
    return NULL;
}
