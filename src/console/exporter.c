/* The exporter's collector thread and the text it hands to scrapes (see
 * the header). One round: each reader whose retry time has come reads
 * once, all of them side by side on threads of the round (queue sources
 * and the fleet through source_collect_once, which publishes into their
 * feeds; the guardrails with two HGETALLs on a connection of our own);
 * then the round is rendered from the feeds and swapped in, and the loop
 * sleeps until one interval after the round began. */
#include "console/exporter.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/source-kinds.h"
#include "broker/source.h"
#include "console/exporter-text.h"
#include "console/fleet-source.h"
#include "control/policy-store.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/url.h"
#include "core/xalloc.h"

/* When a reader may read next, and how its last read went. */
struct reader {
    struct retry_timer retry;
    double collect_seconds;    /* NAN before the first read */
    bool was_up;               /* for logging changes only */
};

/* The guardrails and breaker commands, read with a connection of ours. */
struct guardrails {
    const char *url;
    char *shown;
    double timeout;
    redisContext *c;
    pthread_mutex_t fd_lock;   /* guards fd, for the interrupt */
    int fd;
    struct policy_item *items;
    size_t nitems;
    struct policy_entry *commands;
    size_t ncommands;
    bool up;
    char message[256];
    double last_ok;
};

struct exporter {
    struct loop loop;
    double interval;
    struct source **queues;    /* sources_from_context */
    size_t nqueues;
    struct source *fleet;      /* NULL without Redis */
    struct guardrails guard;   /* url NULL without Redis */
    struct reader *readers;    /* queues, then the fleet, then the guardrails */
    uint64_t rounds;
    pthread_mutex_t lock;      /* guards what follows */
    char *text;                /* the last round's metrics, NULL before the first */
    char *index;               /* the last round's "/" page */
    _Atomic unsigned long long scrapes;
};

/* ---------------------------------------------------------- guardrails */

static void guard_disconnect(struct guardrails *g)
{
    pthread_mutex_lock(&g->fd_lock);
    g->fd = -1;
    pthread_mutex_unlock(&g->fd_lock);
    if (g->c)
        redisFree(g->c);
    g->c = NULL;
}

static void guard_interrupt(struct guardrails *g)
{
    pthread_mutex_lock(&g->fd_lock);
    if (g->fd >= 0)
        shutdown(g->fd, SHUT_RDWR);
    pthread_mutex_unlock(&g->fd_lock);
}

/* 0, or -1 with g->message set and the connection dropped. */
static int guard_read(struct guardrails *g)
{
    char err[256] = "";
    if (!g->c && !(g->c = policy_connect(g->url, g->timeout, err, sizeof err))) {
        g->up = false;
        snprintf(g->message, sizeof g->message, "%s", err);
        return -1;
    }
    pthread_mutex_lock(&g->fd_lock);
    g->fd = g->c->fd;
    pthread_mutex_unlock(&g->fd_lock);
    struct policy_item *items = NULL;
    struct policy_entry *commands = NULL;
    size_t nitems = 0, ncommands = 0;
    if (policy_fetch(g->c, &items, &nitems, err, sizeof err) < 0 ||
        policy_breaker_fetch(g->c, &commands, &ncommands, err, sizeof err) < 0) {
        policy_items_free(items, nitems);
        guard_disconnect(g);
        g->up = false;
        snprintf(g->message, sizeof g->message, "%s", err);
        return -1;
    }
    policy_items_free(g->items, g->nitems);
    policy_entries_free(g->commands, g->ncommands);
    g->items = items;
    g->nitems = nitems;
    g->commands = commands;
    g->ncommands = ncommands;
    g->up = true;
    g->message[0] = '\0';
    g->last_ok = clock_wall();
    return 0;
}

/* ---------------------------------------------------------- one round */

static size_t nreaders(const struct exporter *ex) { return ex->nqueues + (ex->fleet ? 1 : 0) + (ex->guard.url ? 1 : 0); }

static struct source *reader_source(struct exporter *ex, size_t i)
{
    return i < ex->nqueues ? ex->queues[i] : i == ex->nqueues && ex->fleet ? ex->fleet : NULL;
}

static void log_change(struct reader *r, const char *name, const char *url, bool up, const char *message)
{
    if (up == r->was_up)
        return;
    r->was_up = up;
    if (up)
        log_info("exporter: %s %s: answers", name, url);
    else
        log_warn("exporter: %s %s: %s", name, url, message);
}

/* One read of reader i; on failure it waits its backoff, never less than
 * the interval. Touches only that reader's state and connection, so the
 * reads of one round run side by side. */
static void read_one(struct exporter *ex, size_t i)
{
    struct reader *r = &ex->readers[i];
    double started = clock_mono();
    struct source *src = reader_source(ex, i);
    bool up;
    if (src) {
        up = source_collect_once(src) == SOURCE_OK;
        struct feed_view v;
        feed_get(&src->feed, &v);
        log_change(r, src->ops->kind, src->display_url, up, v.message);
        feed_view_release(&v);
    } else {
        up = guard_read(&ex->guard) == 0;
        log_change(r, "guardrails", ex->guard.shown, up, ex->guard.message);
    }
    r->collect_seconds = clock_mono() - started;
    if (up)
        retry_timer_succeeded(&r->retry);
    else
        retry_timer_failed(&r->retry, started, ex->interval);
}

struct read_job {
    struct exporter *ex;
    size_t reader;
    pthread_t thread;
    bool threaded;
};

static void *read_thread(void *arg)
{
    struct read_job *job = arg;
    read_one(job->ex, job->reader);
    return NULL;
}

/* Reads every reader whose time has come, each on a thread of its own for
 * the round (as `qdeck status` does), so a hung broker costs the round one
 * timeout, not one per reader; a thread that cannot be made reads here. */
static void read_all(struct exporter *ex)
{
    size_t n = nreaders(ex), due = 0;
    struct read_job *jobs = xcalloc(n ? n : 1, sizeof *jobs);
    double now = clock_mono();
    for (size_t i = 0; i < n; i++)
        if (retry_timer_due(&ex->readers[i].retry, now))
            jobs[due++] = (struct read_job){.ex = ex, .reader = i};
    for (size_t j = 0; j < due; j++)
        jobs[j].threaded = pthread_create(&jobs[j].thread, NULL, read_thread, &jobs[j]) == 0;
    for (size_t j = 0; j < due; j++) {
        if (jobs[j].threaded)
            pthread_join(jobs[j].thread, NULL);
        else if (!loop_stopping(&ex->loop))
            read_one(ex, jobs[j].reader);
    }
    free(jobs);
}

/* Feed views of every source (released by the caller) and the round's
 * description of them. */
static void describe_source(struct source *src, const struct reader *r, struct feed_view *v,
                            struct exporter_source *out)
{
    feed_get(&src->feed, v);
    *out = (struct exporter_source){
        .name = src->ops->kind,
        .url = src->display_url,
        .up = v->status == SOURCE_OK,
        .status = source_status_name(v->status),
        .message = v->message,
        .last_ok = v->last_ok,
        .collect_seconds = r->collect_seconds,
    };
}

static void render_round(struct exporter *ex, double started)
{
    size_t n = nreaders(ex);
    struct exporter_source *sources = xcalloc(n ? n : 1, sizeof *sources);
    struct feed_view *views = xcalloc(n ? n : 1, sizeof *views);
    const struct snapshot **queues = xcalloc(ex->nqueues ? ex->nqueues : 1, sizeof *queues);
    size_t nq = 0;
    struct exporter_round round = {.interval = ex->interval, .rounds = ++ex->rounds};
    for (size_t i = 0; i < n; i++) {
        struct source *src = reader_source(ex, i);
        if (src) {
            describe_source(src, &ex->readers[i], &views[i], &sources[i]);
            if (sources[i].up && i < ex->nqueues && views[i].snap)
                queues[nq++] = views[i].snap;
            else if (sources[i].up && src == ex->fleet)
                round.fleet = fleet_table_of(views[i].snap);
            continue;
        }
        struct guardrails *g = &ex->guard;
        sources[i] = (struct exporter_source){"guardrails", g->shown, g->up, g->up ? "ok" : "disconnected",
                                              g->message, g->last_ok, ex->readers[i].collect_seconds};
        round.guardrails_known = g->up;
        round.guardrails = g->items;
        round.nguardrails = g->nitems;
        round.breaker_commands = g->commands;
        round.nbreaker_commands = g->ncommands;
    }
    round.sources = sources;
    round.nsources = n;
    round.queues = queues;
    round.nqueues = nq;
    round.now = clock_wall();
    round.collect_seconds = clock_mono() - started;

    struct metrics_text text = {0}, index = {0};
    exporter_render(&round, &text);
    exporter_render_index(&round, &index);
    for (size_t i = 0; i < n; i++)
        if (reader_source(ex, i))
            feed_view_release(&views[i]);
    free(views);
    free(sources);
    free(queues);

    pthread_mutex_lock(&ex->lock);
    free(ex->text);
    free(ex->index);
    ex->text = text.buf;
    ex->index = index.buf;
    pthread_mutex_unlock(&ex->lock);
}

static void exporter_body(struct loop *l, void *arg)
{
    struct exporter *ex = arg;
    while (!loop_stopping(l)) {
        double started = clock_mono();
        read_all(ex);
        if (loop_stopping(l))
            break;
        render_round(ex, started);
        loop_sleep_until(l, started + ex->interval);
    }
}

/* ---------------------------------------------------------- life */

struct exporter *exporter_start(const struct context_config *ctx, double interval, char *err, size_t errlen)
{
    struct exporter *ex = xcalloc(1, sizeof *ex);
    ex->interval = interval;
    loop_init(&ex->loop);
    pthread_mutex_init(&ex->lock, NULL);
    pthread_mutex_init(&ex->guard.fd_lock, NULL);
    ex->guard.fd = -1;
    if (sources_from_context(ctx, interval, -1, &ex->queues, &ex->nqueues, err, errlen) < 0) {
        ex->queues = NULL;
        exporter_stop(ex);
        return NULL;
    }
    if (ctx->redis) {
        if (!(ex->fleet = fleet_source_new(ctx->redis, ctx, interval, -1, err, errlen))) {
            exporter_stop(ex);
            return NULL;
        }
        ex->guard.url = ctx->redis;
        ex->guard.shown = url_redact(ctx->redis);
        ex->guard.timeout = ctx->timeout;
        ex->guard.last_ok = NAN;
        snprintf(ex->guard.message, sizeof ex->guard.message, "not read yet");
    }
    ex->readers = xcalloc(nreaders(ex) ? nreaders(ex) : 1, sizeof *ex->readers);
    for (size_t i = 0; i < nreaders(ex); i++) {
        retry_timer_init(&ex->readers[i].retry, 0.5, 30, (unsigned)getpid() ^ (unsigned)(i * 2654435761u));
        ex->readers[i].collect_seconds = NAN;
        ex->readers[i].was_up = true;   /* the first failure is logged */
    }
    if (loop_start(&ex->loop, exporter_body, ex) < 0) {
        snprintf(err, errlen, "exporter: cannot start its collector thread");
        exporter_stop(ex);
        return NULL;
    }
    return ex;
}

void exporter_stop(struct exporter *ex)
{
    if (!ex)
        return;
    /* raised before the interrupts, so the read they cut short is the last */
    atomic_store(&ex->loop.stopping, true);
    for (size_t i = 0; i < ex->nqueues; i++)
        ex->queues[i]->ops->interrupt(ex->queues[i]);
    if (ex->fleet)
        ex->fleet->ops->interrupt(ex->fleet);
    guard_interrupt(&ex->guard);
    loop_stop(&ex->loop);
    loop_destroy(&ex->loop);
    sources_free(ex->queues, ex->nqueues);
    fleet_source_free(ex->fleet);
    guard_disconnect(&ex->guard);
    policy_items_free(ex->guard.items, ex->guard.nitems);
    policy_entries_free(ex->guard.commands, ex->guard.ncommands);
    pthread_mutex_destroy(&ex->guard.fd_lock);
    free(ex->guard.shown);
    free(ex->readers);
    pthread_mutex_destroy(&ex->lock);
    free(ex->text);
    free(ex->index);
    free(ex);
}

/* ---------------------------------------------------------- scrapes */

void exporter_metrics(void *arg, struct metrics_text *out)
{
    struct exporter *ex = arg;
    unsigned long long scrapes = atomic_fetch_add(&ex->scrapes, 1) + 1;
    pthread_mutex_lock(&ex->lock);
    if (ex->text)
        metrics_printf(out, "%s", ex->text);
    pthread_mutex_unlock(&ex->lock);
    metrics_family(out, "qdeck_exporter_scrapes_total", "counter",
                   "scrapes served (each one a copy of the last collection)");
    metrics_sample(out, "qdeck_exporter_scrapes_total", NULL, (double)scrapes);
}

void exporter_index(void *arg, struct metrics_text *out)
{
    struct exporter *ex = arg;
    pthread_mutex_lock(&ex->lock);
    if (ex->index)
        metrics_printf(out, "%s", ex->index);
    else
        metrics_printf(out, "<!DOCTYPE html>\n<html><body><h1>qdeck exporter</h1>"
                            "<p>the first collection is still under way</p></body></html>\n");
    pthread_mutex_unlock(&ex->lock);
}

bool exporter_ready(void *arg, char *reason, size_t len)
{
    struct exporter *ex = arg;
    pthread_mutex_lock(&ex->lock);
    bool ready = ex->text != NULL;
    pthread_mutex_unlock(&ex->lock);
    if (!ready)
        snprintf(reason, len, "the first collection is still under way");
    return ready;
}
