/* The console's collector of the fleet (see fleet-source.h): behind the
 * ordinary source machinery (broker/source.h: its own thread, backoff,
 * feed), each refresh reads the fleet with control/fleet.c's fleet_read,
 * adds the scheduler's leader and jobs, merges the workers' latency, and
 * publishes both in snap->extra. It only reads: the console's scheduler
 * commands are jobs on its write queue (console/control-writes.h). */
#include "console/fleet-source.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "console/celery-collector.h"
#include "control/keys.h"
#include "control/redis-connect.h"
#include "control/sched-state.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/url.h"
#include "core/xalloc.h"
#include "net/redis-open.h"

static int compare_job(const void *a, const void *b)
{
    return strcmp(((const struct fleet_job *)a)->name, ((const struct fleet_job *)b)->name);
}

#define SCHED_JOBS_CAP 1000

/* The jobs are the members of the job registry (the leader adds its jobs;
 * a pause or run request from the CLI adds the one it names). */
int fleet_read_sched(redisContext *c, struct fleet_table *t, char *err, size_t errlen)
{
    char leader[256];
    if (sched_leader(c, leader, sizeof leader, err, errlen) < 0)
        return -1;
    t->sched_leader = xstrdup(leader);
    redisReply *r = control_redis_command(c, err, errlen, "SMEMBERS %s", KEY_SCHED_REGISTRY);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "unexpected reply to SMEMBERS %s", KEY_SCHED_REGISTRY);
        freeReplyObject(r);
        return -1;
    }
    size_t cap = 0;
    for (size_t i = 0; i < r->elements && t->njobs < SCHED_JOBS_CAP; i++) {
        const char *name = r->element[i]->str;
        struct sched_job_state st;
        if (!name)
            continue;
        if (sched_job_read(c, name, &st, err, errlen) < 0) {
            freeReplyObject(r);
            return -1;
        }
        if (!st.exists)
            continue;
        if (t->njobs == cap) {
            cap = cap ? cap * 2 : 16;
            t->jobs = xrealloc(t->jobs, cap * sizeof *t->jobs);
        }
        t->jobs[t->njobs++] = (struct fleet_job){
            .name = xstrdup(name), .next_run = st.next_run, .last_run = st.last_run,
            .last_result = xstrdup(st.last_result), .paused = st.paused, .paused_set = st.paused_set,
            .runs = st.runs, .ran_by = xstrdup(st.leader), .run_requested = st.run_requested,
        };
    }
    freeReplyObject(r);
    if (t->njobs > 1)
        qsort(t->jobs, t->njobs, sizeof *t->jobs, compare_job);
    return 0;
}

struct fleet_src {
    redisContext *redis;
    pthread_mutex_t fd_lock;       /* guards fd */
    int fd;
    double timeout;
    struct celery_collector *celery;   /* NULL: off, read-only, or nothing to read from */
    bool celery_ready;                 /* its read-back at start was waited for */
};

/* Where the context's Celery events are (its celery_events option), or NULL. */
static const char *celery_events_url(const struct context_config *ctx, const char *redis_url)
{
    const char *mode = ctx->celery_events ? ctx->celery_events : "auto";
    if (strcmp(mode, "amqp") == 0 || (strcmp(mode, "auto") == 0 && ctx->amqp))
        return ctx->amqp;
    if (strcmp(mode, "redis") == 0 || strcmp(mode, "auto") == 0)
        return redis_url;
    if (strcmp(mode, "off") != 0)
        log_warn("console: celery_events = %s: want auto, amqp, redis or off; Celery events not read", mode);
    return NULL;
}

/* The Celery events collector writes the Celery workers into the registry
 * this source reads; a read-only context writes nothing, so has none. */
static void start_celery(struct fleet_src *f, const struct source *src)
{
    const struct context_config *ctx = src->ctx;
    const char *events = ctx && !ctx->read_only ? celery_events_url(ctx, src->url) : NULL;
    if (!events)
        return;
    struct celery_collector_options o = {.events_url = events, .redis_url = src->url, .tls = &ctx->tls,
                                         .timeout = ctx->timeout, .limits = {.forget_after = ctx->celery_forget}};
    char err[300];
    if (!(f->celery = celery_collector_start(&o, err, sizeof err)))
        log_warn("console: %s", err);
}

/* What a fleet snapshot carries: the table and the latency merged from
 * it. Merging decodes every live worker's histograms (100 workers with
 * four task types: 1,200 of them), so it is done once per read here, on
 * the collector's thread, and never by a draw. */
struct fleet_extra {
    struct fleet_table *table;
    struct latency_table latency;
    size_t latency_reports;
};

static void fleet_free_extra(void *extra)
{
    struct fleet_extra *x = extra;
    fleet_table_free(x->table);
    latency_table_free(&x->latency);
    free(x);
}

static struct fleet_extra *fleet_extra_of(const struct snapshot *snap)
{
    return snap && snap->extra_free == fleet_free_extra ? snap->extra : NULL;
}

const struct fleet_table *fleet_table_of(const struct snapshot *snap)
{
    struct fleet_extra *x = fleet_extra_of(snap);
    return x ? x->table : NULL;
}

const struct latency_table *fleet_latency_of(const struct snapshot *snap, size_t *reports)
{
    struct fleet_extra *x = fleet_extra_of(snap);
    if (reports)
        *reports = x ? x->latency_reports : 0;
    return x ? &x->latency : NULL;
}

/* The latency of the workers not lost, merged per task type. */
static void build_latency(struct fleet_extra *x)
{
    const struct fleet_table *t = x->table;
    const cJSON **reports = xcalloc(t->n ? t->n : 1, sizeof *reports);
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->workers[i].state != FLEET_LOST && t->workers[i].report)
            reports[n++] = t->workers[i].report;
    latency_table_build(reports, n, &x->latency);
    x->latency_reports = n;
    free(reports);
}

static int fleet_init(struct source *src, char *err, size_t errlen)
{
    struct broker_url u;
    if (broker_url_parse(src->url, &u, err, (unsigned)errlen) < 0)
        return -1;
    broker_url_free(&u);
    struct fleet_src *f = xcalloc(1, sizeof *f);
    pthread_mutex_init(&f->fd_lock, NULL);
    f->fd = -1;
    f->timeout = src->ctx ? src->ctx->timeout : 5;
    src->priv = f;
    start_celery(f, src);
    return 0;
}

static void fleet_disconnect(struct source *src)
{
    struct fleet_src *f = src->priv;
    pthread_mutex_lock(&f->fd_lock);
    f->fd = -1;
    pthread_mutex_unlock(&f->fd_lock);
    if (f->redis)
        redisFree(f->redis);
    f->redis = NULL;
}

static void fleet_interrupt(struct source *src)
{
    struct fleet_src *f = src->priv;
    pthread_mutex_lock(&f->fd_lock);
    if (f->fd >= 0)
        shutdown(f->fd, SHUT_RDWR);
    pthread_mutex_unlock(&f->fd_lock);
}

static void fleet_fini(struct source *src)
{
    struct fleet_src *f = src->priv;
    celery_collector_stop(f->celery);
    fleet_disconnect(src);
    pthread_mutex_destroy(&f->fd_lock);
    free(f);
    src->priv = NULL;
}

static enum source_status read_failure(const struct fleet_src *f)
{
    bool timed_out = f->redis->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    return timed_out ? SOURCE_TIMEOUT : f->redis->err ? SOURCE_DOWN : SOURCE_BAD_RESPONSE;
}

static enum source_status fleet_collect(struct source *src, const struct snapshot *prev, struct snapshot **out,
                                        char *err, size_t errlen)
{
    struct fleet_src *f = src->priv;
    if (!f->redis) {
        f->redis = redis_open(src->url, f->timeout, 0, err, errlen);
        if (!f->redis)
            return strstr(err, "refused:") ? SOURCE_AUTH_FAILED : SOURCE_DOWN;
        pthread_mutex_lock(&f->fd_lock);
        f->fd = f->redis->fd;
        pthread_mutex_unlock(&f->fd_lock);
    }
    if (f->celery && !f->celery_ready) {
        celery_collector_wait_ready(f->celery, f->timeout);
        f->celery_ready = true;
    }
    double started = clock_mono();
    struct fleet_table *t;
    if (fleet_read(f->redis, fleet_table_of(prev), clock_wall(), &t, err, errlen) < 0)
        return read_failure(f);
    if (fleet_read_sched(f->redis, t, err, errlen) < 0) {
        fleet_table_free(t);
        return read_failure(f);
    }
    struct snapshot *snap = snapshot_new(1);
    snap->taken_at = t->taken_at;
    snap->collect_seconds = clock_mono() - started;
    snap->truncated = t->truncated;
    snap->server = xasprintf("fleet: %zu running, %zu lost", t->running, t->lost);
    struct fleet_extra *x = xcalloc(1, sizeof *x);
    x->table = t;
    build_latency(x);
    snap->extra = x;
    snap->extra_free = fleet_free_extra;
    *out = snap;
    return SOURCE_OK;
}

static const struct source_ops fleet_source_ops = {
    .kind = "fleet",
    .init = fleet_init,
    .collect = fleet_collect,
    .disconnect = fleet_disconnect,
    .interrupt = fleet_interrupt,
    .fini = fleet_fini,
};

struct source *fleet_source_new(const char *redis_url, const struct context_config *ctx, double refresh,
                                int notify_fd, char *err, size_t errlen)
{
    if (!redis_url || !*redis_url) {
        snprintf(err, errlen, "the fleet lives in Redis: no Redis URL configured");
        return NULL;
    }
    return source_new(&fleet_source_ops, redis_url, ctx, refresh > 0 ? refresh : 1, notify_fd, err, errlen);
}

void fleet_source_free(struct source *src)
{
    if (!src)
        return;
    struct source **one = xcalloc(1, sizeof *one);   /* sources_free frees the array too */
    one[0] = src;
    sources_free(one, 1);
}
