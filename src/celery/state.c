/* The bounded Celery state (see the header). Workers and series are small
 * arrays searched linearly (their caps are in the hundreds, and the last
 * hit is cached); tasks in flight are an open-addressing hash on the uuid
 * with linear probing and backward-shift deletion, twice the cap in slots.
 * When the table is full, the entry under a rotating cursor is evicted and
 * counted: an event stream that never says "done" cannot grow memory. */
#include "celery/state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/histogram.h"
#include "core/xalloc.h"

enum outcome { OUT_SUCCEEDED, OUT_FAILED, OUT_RETRIED, OUT_REJECTED, OUT_REVOKED, OUTCOMES };
static const char *const outcome_names[OUTCOMES] = {"succeeded", "failed", "retried", "rejected", "revoked"};
enum lat { LAT_RUN, LAT_PREFETCH, LAT_BROKER, LAT_QUEUE, LAT_E2E, LATS };
static const char *const lat_names[LATS] = {"run", "prefetch_wait", "broker_wait", "queue_wait", "e2e"};

struct exception_count {
    char name[64];
    uint64_t n;
};

struct minute_slot {
    int64_t second;
    uint32_t n[OUTCOMES];
};

struct series {
    size_t worker;                    /* index into workers */
    char *task;
    struct histogram *h[LATS];        /* allocated on first value */
    uint64_t outcomes[OUTCOMES];
    uint64_t skewed;
    struct minute_slot minute[60];
    struct exception_count top[CELERY_TOP_EXCEPTIONS];
};

struct worker {
    char *hostname;
    char sw_ver[32], sw_ident[32];
    long pid, active, processed, concurrency;
    uint64_t failed;
    double loadavg[3], freq, last_recv, first_seen;
    double clock_offset, offset_since;   /* qdeck's clock - its own: the least over a minute of heartbeats */
    bool offline, stats_asked;
    char *queues, *paused;
};

struct inflight {
    char uuid[40];                    /* "" free */
    char name[96];
    double sent, received, started;   /* the senders' clocks; NAN unknown */
    char worker[80];
};

struct celery_state {
    struct celery_limits lim;
    struct worker *workers;
    size_t nworkers;
    struct series *series;
    size_t nseries, last_series;
    struct inflight *slots;
    size_t nslots, ninflight, cursor;
    struct celery_counters c;
};

struct celery_state *celery_state_new(const struct celery_limits *limits)
{
    struct celery_state *st = xcalloc(1, sizeof *st);
    st->lim = (struct celery_limits){.max_workers = 1024, .max_series = 256, .max_inflight = 20000,
                                     .forget_after = 600};
    if (limits) {
        if (limits->max_workers)
            st->lim.max_workers = limits->max_workers;
        if (limits->max_series)
            st->lim.max_series = limits->max_series;
        if (limits->max_inflight)
            st->lim.max_inflight = limits->max_inflight;
        if (limits->forget_after > 0)
            st->lim.forget_after = limits->forget_after;
    }
    st->workers = xcalloc(st->lim.max_workers, sizeof *st->workers);
    st->series = xcalloc(st->lim.max_series, sizeof *st->series);
    st->nslots = st->lim.max_inflight * 2;
    st->slots = xcalloc(st->nslots, sizeof *st->slots);
    return st;
}

static void series_free(struct series *s)
{
    free(s->task);
    for (int k = 0; k < LATS; k++)
        histogram_free(s->h[k]);
}

void celery_state_free(struct celery_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nworkers; i++) {
        free(st->workers[i].hostname);
        free(st->workers[i].queues);
        free(st->workers[i].paused);
    }
    for (size_t i = 0; i < st->nseries; i++)
        series_free(&st->series[i]);
    free(st->workers);
    free(st->series);
    free(st->slots);
    free(st);
}

/* ---- tasks in flight ---- */

static size_t hash_uuid(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static struct inflight *inflight_find(struct celery_state *st, const char *uuid)
{
    for (size_t i = hash_uuid(uuid) % st->nslots;; i = (i + 1) % st->nslots) {
        if (!st->slots[i].uuid[0])
            return NULL;
        if (strcmp(st->slots[i].uuid, uuid) == 0)
            return &st->slots[i];
    }
}

static void inflight_remove(struct celery_state *st, struct inflight *e)
{
    size_t hole = (size_t)(e - st->slots);
    st->slots[hole].uuid[0] = '\0';
    st->ninflight--;
    /* backward shift: move up every later entry of the run that probed past the hole */
    for (size_t i = (hole + 1) % st->nslots; st->slots[i].uuid[0]; i = (i + 1) % st->nslots) {
        size_t home = hash_uuid(st->slots[i].uuid) % st->nslots;
        bool movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
        if (movable) {
            st->slots[hole] = st->slots[i];
            st->slots[i].uuid[0] = '\0';
            hole = i;
        }
    }
}

static void inflight_evict_one(struct celery_state *st)
{
    for (size_t n = 0; n < st->nslots; n++) {
        st->cursor = (st->cursor + 1) % st->nslots;
        if (st->slots[st->cursor].uuid[0]) {
            inflight_remove(st, &st->slots[st->cursor]);
            st->c.inflight_evicted++;
            return;
        }
    }
}

static struct inflight *inflight_get(struct celery_state *st, const char *uuid)
{
    if (!uuid[0] || strlen(uuid) >= sizeof st->slots[0].uuid)
        return NULL;
    struct inflight *e = inflight_find(st, uuid);
    if (e)
        return e;
    if (st->ninflight >= st->lim.max_inflight)
        inflight_evict_one(st);
    size_t i = hash_uuid(uuid) % st->nslots;
    while (st->slots[i].uuid[0])
        i = (i + 1) % st->nslots;
    e = &st->slots[i];
    memset(e, 0, sizeof *e);
    snprintf(e->uuid, sizeof e->uuid, "%s", uuid);
    e->sent = e->received = e->started = NAN;
    st->ninflight++;
    return e;
}

/* ---- workers and series ---- */

static ssize_t worker_index(const struct celery_state *st, const char *hostname)
{
    for (size_t i = 0; i < st->nworkers; i++)
        if (strcmp(st->workers[i].hostname, hostname) == 0)
            return (ssize_t)i;
    return -1;
}

static struct worker *worker_get(struct celery_state *st, const char *hostname, double now)
{
    if (!hostname[0])
        return NULL;
    ssize_t i = worker_index(st, hostname);
    if (i >= 0)
        return &st->workers[i];
    if (st->nworkers >= st->lim.max_workers) {
        st->c.workers_dropped++;
        return NULL;
    }
    struct worker *w = &st->workers[st->nworkers++];
    memset(w, 0, sizeof *w);
    w->hostname = xstrdup(hostname);
    w->queues = xstrdup("");
    w->paused = xstrdup("");
    w->pid = w->active = w->processed = w->concurrency = -1;
    w->loadavg[0] = w->loadavg[1] = w->loadavg[2] = NAN;
    w->freq = 2.0;                    /* Celery's default until a worker event says */
    w->first_seen = w->last_recv = now;
    w->clock_offset = NAN;
    return w;
}

static struct series *series_get(struct celery_state *st, const struct worker *w, const char *task)
{
    size_t wi = (size_t)(w - st->workers);
    if (st->last_series < st->nseries && st->series[st->last_series].worker == wi &&
        strcmp(st->series[st->last_series].task, task) == 0)
        return &st->series[st->last_series];
    for (size_t i = 0; i < st->nseries; i++)
        if (st->series[i].worker == wi && strcmp(st->series[i].task, task) == 0) {
            st->last_series = i;
            return &st->series[i];
        }
    if (st->nseries >= st->lim.max_series) {
        st->c.series_dropped++;
        return NULL;
    }
    struct series *s = &st->series[st->nseries];
    memset(s, 0, sizeof *s);
    s->worker = wi;
    s->task = xstrdup(task);
    st->last_series = st->nseries++;
    return s;
}

static void record(struct series *s, enum lat k, double seconds)
{
    if (!s || !isfinite(seconds))
        return;
    if (!s->h[k])
        s->h[k] = histogram_new();
    histogram_record_seconds(s->h[k], seconds);
}

/* A wait across two clocks: recorded when the clocks look sane, else skew. */
static void record_cross_clock(struct celery_state *st, struct series *s, enum lat k, double from, double to)
{
    if (!s || isnan(from) || isnan(to))
        return;
    if (to - from < -CELERY_SKEW_TOLERANCE) {
        s->skewed++;
        st->c.skewed++;
        return;
    }
    record(s, k, to - from > 0 ? to - from : 0);
}

static void count_outcome(struct series *s, enum outcome o, double now)
{
    if (!s)
        return;
    s->outcomes[o]++;
    int64_t sec = (int64_t)now;
    struct minute_slot *m = &s->minute[sec % 60];
    if (m->second != sec) {
        memset(m, 0, sizeof *m);
        m->second = sec;
    }
    m->n[o]++;
}

/* "ValueError('bad')" -> "ValueError", kept among the top names. */
static void count_exception(struct series *s, const char *exception)
{
    if (!s || !exception[0])
        return;
    char name[64];
    size_t n = strcspn(exception, "(:");
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), exception);
    struct exception_count *least = &s->top[0];
    for (int i = 0; i < CELERY_TOP_EXCEPTIONS; i++) {
        if (s->top[i].n && strcmp(s->top[i].name, name) == 0) {
            s->top[i].n++;
            return;
        }
        if (s->top[i].n < least->n)
            least = &s->top[i];
    }
    /* space-saving: the least counted name is replaced, inheriting its count */
    snprintf(least->name, sizeof least->name, "%s", name);
    least->n++;
}

static void worker_event(struct celery_state *st, const struct celery_event *ev, double now)
{
    struct worker *w = worker_get(st, ev->hostname, now);
    if (!w)
        return;
    w->last_recv = now;
    w->offline = ev->type == CELERY_WORKER_OFFLINE;
    if (ev->pid >= 0)
        w->pid = ev->pid;
    if (ev->freq > 0 && ev->freq < 86400)
        w->freq = ev->freq;
    if (ev->sw_ver[0])
        snprintf(w->sw_ver, sizeof w->sw_ver, "%s", ev->sw_ver);
    if (ev->sw_ident[0])
        snprintf(w->sw_ident, sizeof w->sw_ident, "%s", ev->sw_ident);
    if (ev->active >= 0)
        w->active = ev->active;
    if (ev->processed >= 0)
        w->processed = ev->processed;
    for (int i = 0; i < 3; i++)
        if (!isnan(ev->loadavg[i]))
            w->loadavg[i] = ev->loadavg[i];
    /* receive time - send time = the clocks' offset + the transport's delay:
     * the least seen over a minute is the best guess of the offset */
    double offset = now - ev->timestamp;
    if (!isnan(offset) && (isnan(w->clock_offset) || offset < w->clock_offset || now - w->offset_since > 60)) {
        w->clock_offset = offset;
        w->offset_since = now;
    }
}

/* The end of a task: its series gets the outcome; the entry leaves. */
static void task_done(struct celery_state *st, const struct celery_event *ev, enum outcome o, double now)
{
    struct inflight *e = ev->uuid[0] ? inflight_find(st, ev->uuid) : NULL;
    const char *host = ev->hostname[0] ? ev->hostname : e ? e->worker : "";
    struct worker *w = worker_get(st, host, now);
    if (w && !w->offline)
        w->last_recv = now;
    const char *task = e && e->name[0] ? e->name : ev->name;
    if (!task[0] || !w) {
        st->c.tasks_unattributed++;
    } else {
        struct series *s = series_get(st, w, task);
        count_outcome(s, o, now);
        if (o == OUT_SUCCEEDED && ev->runtime >= 0)
            record(s, LAT_RUN, ev->runtime);
        if (o == OUT_FAILED || o == OUT_RETRIED)
            count_exception(s, ev->exception);
        if (e && o != OUT_RETRIED)
            record_cross_clock(st, s, LAT_E2E, e->sent, ev->timestamp);
    }
    if (o == OUT_FAILED && w)
        w->failed++;
    if (e)
        inflight_remove(st, e);
}

static void task_event(struct celery_state *st, const struct celery_event *ev, double now)
{
    struct inflight *e;
    struct worker *w;
    switch (ev->type) {
    case CELERY_TASK_SENT:
        if ((e = inflight_get(st, ev->uuid))) {
            snprintf(e->name, sizeof e->name, "%s", ev->name);
            e->sent = ev->timestamp;
        }
        break;
    case CELERY_TASK_RECEIVED:
    case CELERY_TASK_STARTED:
        if (!(e = inflight_get(st, ev->uuid)))
            break;
        if (ev->name[0])
            snprintf(e->name, sizeof e->name, "%s", ev->name);
        snprintf(e->worker, sizeof e->worker, "%s", ev->hostname);
        w = worker_get(st, ev->hostname, now);
        if (w && !w->offline)
            w->last_recv = now;
        struct series *s = w && e->name[0] ? series_get(st, w, e->name) : NULL;
        if (ev->type == CELERY_TASK_RECEIVED) {
            e->received = ev->timestamp;
            record_cross_clock(st, s, LAT_BROKER, e->sent, e->received);
        } else {
            e->started = ev->timestamp;
            if (!isnan(e->received))
                record(s, LAT_PREFETCH, e->started - e->received > 0 ? e->started - e->received : 0);
            record_cross_clock(st, s, LAT_QUEUE, e->sent, e->started);
        }
        break;
    case CELERY_TASK_SUCCEEDED: task_done(st, ev, OUT_SUCCEEDED, now); break;
    case CELERY_TASK_FAILED: task_done(st, ev, OUT_FAILED, now); break;
    case CELERY_TASK_RETRIED: task_done(st, ev, OUT_RETRIED, now); break;
    case CELERY_TASK_REJECTED: task_done(st, ev, OUT_REJECTED, now); break;
    case CELERY_TASK_REVOKED: task_done(st, ev, OUT_REVOKED, now); break;
    default: break;
    }
}

const char *celery_state_task_name(struct celery_state *st, const char *uuid)
{
    struct inflight *e = uuid && uuid[0] ? inflight_find(st, uuid) : NULL;
    return e ? e->name : "";
}

void celery_state_apply(struct celery_state *st, const struct celery_event *ev, double now)
{
    st->c.events++;
    switch (ev->type) {
    case CELERY_WORKER_ONLINE:
    case CELERY_WORKER_HEARTBEAT:
    case CELERY_WORKER_OFFLINE:
        worker_event(st, ev, now);
        break;
    case CELERY_EVENT_OTHER:
        st->c.unknown_types++;
        break;
    default:
        task_event(st, ev, now);
        break;
    }
}

void celery_state_expire(struct celery_state *st, double now)
{
    for (size_t i = st->nworkers; i-- > 0;) {
        if (now < st->workers[i].last_recv + st->lim.forget_after)
            continue;
        /* drop its series, then move the last worker into its place */
        size_t last = st->nworkers - 1;
        for (size_t k = st->nseries; k-- > 0;) {
            if (st->series[k].worker == i) {
                series_free(&st->series[k]);
                st->series[k] = st->series[--st->nseries];
            }
        }
        for (size_t k = 0; k < st->nseries; k++)
            if (st->series[k].worker == last)
                st->series[k].worker = i;
        free(st->workers[i].hostname);
        free(st->workers[i].queues);
        free(st->workers[i].paused);
        st->workers[i] = st->workers[last];
        st->nworkers--;
        st->last_series = 0;
    }
}

size_t celery_state_nworkers(const struct celery_state *st) { return st->nworkers; }

const char *celery_state_hostname(const struct celery_state *st, size_t i) { return st->workers[i].hostname; }

enum celery_worker_state celery_state_worker_state(const struct celery_state *st, size_t i, double now)
{
    const struct worker *w = &st->workers[i];
    if (w->offline)
        return CELERY_STOPPED;
    return now < w->last_recv + 2 * w->freq ? CELERY_ALIVE : CELERY_LOST;
}

bool celery_state_wants_stats(const struct celery_state *st, size_t i)
{
    return !st->workers[i].stats_asked && !st->workers[i].offline;
}

void celery_state_set_stats(struct celery_state *st, const char *hostname, long concurrency, const char *queues)
{
    ssize_t i = worker_index(st, hostname);
    if (i < 0)
        return;
    struct worker *w = &st->workers[i];
    w->stats_asked = true;
    if (concurrency > 0)
        w->concurrency = concurrency;
    if (queues) {
        free(w->queues);
        w->queues = xstrdup(queues);
    }
}

const char *celery_state_queues(const struct celery_state *st, size_t i) { return st->workers[i].queues; }

const char *celery_state_paused(const struct celery_state *st, size_t i) { return st->workers[i].paused; }

bool celery_queue_listed(const char *list, const char *queue)
{
    size_t len = strlen(queue);
    for (const char *p = list; p && *p;) {
        p += strspn(p, ", ");
        size_t n = strcspn(p, ", ");
        if (n == len && len > 0 && memcmp(p, queue, len) == 0)
            return true;
        p += n;
    }
    return false;
}

void celery_state_set_paused(struct celery_state *st, size_t i, const char *queues)
{
    free(st->workers[i].paused);
    st->workers[i].paused = xstrdup(queues);
}

static cJSON *series_json(const struct series *s, double now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "processed", (double)s->outcomes[OUT_SUCCEEDED]);
    for (int k = OUT_FAILED; k < OUTCOMES; k++)
        cJSON_AddNumberToObject(o, outcome_names[k], (double)s->outcomes[k]);
    cJSON *pm = cJSON_AddObjectToObject(o, "per_minute");
    uint32_t sums[OUTCOMES] = {0};
    for (int i = 0; i < 60; i++)
        if (s->minute[i].second > (int64_t)now - 60)
            for (int k = 0; k < OUTCOMES; k++)
                sums[k] += s->minute[i].n[k];
    for (int k = 0; k < OUTCOMES; k++)
        cJSON_AddNumberToObject(pm, outcome_names[k], sums[k]);
    cJSON *ex = cJSON_AddObjectToObject(o, "exceptions");
    for (int i = 0; i < CELERY_TOP_EXCEPTIONS; i++)
        if (s->top[i].n)
            cJSON_AddNumberToObject(ex, s->top[i].name, (double)s->top[i].n);
    for (int k = 0; k < LATS; k++)
        histogram_add_to_json(o, lat_names[k], s->h[k]);
    cJSON_AddNumberToObject(o, "clock_skew", (double)s->skewed);
    return o;
}

static void add_count(cJSON *o, const char *name, long v)
{
    if (v >= 0)
        cJSON_AddNumberToObject(o, name, (double)v);
}

cJSON *celery_state_report(const struct celery_state *st, size_t i, double now)
{
    const struct worker *w = &st->workers[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", w->hostname);
    cJSON_AddStringToObject(o, "kind", "celery");
    const char *at = strchr(w->hostname, '@');
    cJSON_AddStringToObject(o, "host", at ? at + 1 : w->hostname);
    char version[80];
    snprintf(version, sizeof version, "%s %s", w->sw_ident[0] ? w->sw_ident : "celery", w->sw_ver[0] ? w->sw_ver : "?");
    cJSON_AddStringToObject(o, "version", version);
    add_count(o, "pid", w->pid);
    add_count(o, "slots_busy", w->active);
    add_count(o, "slots_total", w->concurrency);
    add_count(o, "processed", w->processed);
    cJSON_AddNumberToObject(o, "failed", (double)w->failed);
    cJSON_AddNumberToObject(o, "at", w->last_recv);
    cJSON_AddNumberToObject(o, "started_at", w->first_seen);
    cJSON_AddNumberToObject(o, "interval", w->freq);
    cJSON_AddNumberToObject(o, "lost_after", 2 * w->freq);
    enum celery_worker_state state = celery_state_worker_state(st, i, now);
    cJSON_AddStringToObject(o, "state", state == CELERY_STOPPED ? "stopped" : state == CELERY_LOST ? "lost" : "running");
    cJSON_AddStringToObject(o, "health", state == CELERY_ALIVE ? "ok" : "");
    if (!isnan(w->loadavg[0])) {
        cJSON *load = cJSON_AddArrayToObject(o, "loadavg");
        for (int k = 0; k < 3; k++)
            cJSON_AddItemToArray(load, cJSON_CreateNumber(isnan(w->loadavg[k]) ? 0 : w->loadavg[k]));
    }
    cJSON_AddStringToObject(o, "queues", w->queues);
    if (w->paused[0])
        cJSON_AddStringToObject(o, "paused_queues", w->paused);
    if (!isnan(w->clock_offset))
        cJSON_AddNumberToObject(o, "clock_offset", w->clock_offset);
    cJSON *lat = cJSON_AddObjectToObject(o, "latency");
    for (size_t k = 0; k < st->nseries; k++)
        if (st->series[k].worker == i)
            cJSON_AddItemToObject(lat, st->series[k].task, series_json(&st->series[k], now));
    return o;
}

static double number_of(const cJSON *o, const char *name, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : fallback;
}

/* A count from outside input: a number in [0, 2^53], else fallback. */
static double count_of(const cJSON *o, const char *name, double fallback)
{
    double v = number_of(o, name, fallback);
    return v >= 0 && v <= 9007199254740992.0 ? v : fallback;
}

static void restore_series(struct celery_state *st, struct worker *w, const cJSON *task)
{
    struct series *s = series_get(st, w, task->string);
    if (!s)
        return;
    s->outcomes[OUT_SUCCEEDED] = (uint64_t)count_of(task, "processed", 0);
    for (int k = OUT_FAILED; k < OUTCOMES; k++)
        s->outcomes[k] = (uint64_t)count_of(task, outcome_names[k], 0);
    s->skewed = (uint64_t)count_of(task, "clock_skew", 0);
    for (int k = 0; k < LATS; k++) {
        const cJSON *enc = cJSON_GetObjectItemCaseSensitive(task, lat_names[k]);
        if (!cJSON_IsString(enc))
            continue;
        struct histogram *h = histogram_new();
        if (histogram_decode(h, enc->valuestring) < 0) {
            histogram_free(h);
            continue;
        }
        histogram_free(s->h[k]);
        s->h[k] = h;
    }
    const cJSON *ex;
    int i = 0;
    cJSON_ArrayForEach(ex, cJSON_GetObjectItemCaseSensitive(task, "exceptions")) {
        if (i < CELERY_TOP_EXCEPTIONS && ex->string && cJSON_IsNumber(ex) && ex->valuedouble > 0 &&
            ex->valuedouble <= 9007199254740992.0) {
            snprintf(s->top[i].name, sizeof s->top[i].name, "%s", ex->string);
            s->top[i++].n = (uint64_t)ex->valuedouble;
        }
    }
}

void celery_state_restore(struct celery_state *st, const cJSON *report, double now)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(report, "kind");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(report, "id");
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "celery") != 0 || !cJSON_IsString(id) ||
        !id->valuestring[0])
        return;
    double at = number_of(report, "at", NAN);
    if (!(at >= now - st->lim.forget_after && at <= now + 60))
        return;
    const cJSON *paused = cJSON_GetObjectItemCaseSensitive(report, "paused_queues");
    ssize_t known = worker_index(st, id->valuestring);
    if (known >= 0) {
        if (cJSON_IsString(paused) && !st->workers[known].paused[0])
            celery_state_set_paused(st, (size_t)known, paused->valuestring);
        return;
    }
    struct worker *w = worker_get(st, id->valuestring, at);
    if (!w)
        return;
    if (cJSON_IsString(paused)) {
        free(w->paused);
        w->paused = xstrdup(paused->valuestring);
    }
    w->first_seen = number_of(report, "started_at", at);
    double freq = number_of(report, "interval", 2.0);
    w->freq = freq > 0 && freq < 86400 ? freq : 2.0;
    w->pid = (long)count_of(report, "pid", -1);
    w->processed = (long)count_of(report, "processed", -1);
    w->failed = (uint64_t)count_of(report, "failed", 0);
    w->concurrency = (long)count_of(report, "slots_total", -1);
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(report, "state");
    w->offline = cJSON_IsString(state) && strcmp(state->valuestring, "stopped") == 0;
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(report, "version");
    if (cJSON_IsString(version)) {
        const char *space = strrchr(version->valuestring, ' ');
        snprintf(w->sw_ver, sizeof w->sw_ver, "%s", space ? space + 1 : version->valuestring);
        snprintf(w->sw_ident, sizeof w->sw_ident, "%.*s", space ? (int)(space - version->valuestring) : 0,
                 version->valuestring);
    }
    const cJSON *task;
    cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(report, "latency")) {
        if (cJSON_IsObject(task) && task->string)
            restore_series(st, w, task);
    }
}

void celery_state_counters(const struct celery_state *st, struct celery_counters *out)
{
    *out = st->c;
    out->inflight = st->ninflight;
    out->series = st->nseries;
}
