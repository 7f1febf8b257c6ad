/* The Celery events collector thread (see the header). Its loop: wait at
 * most 250 ms for a message, fold it in, and once a second expire silent
 * workers and, while it holds the writer's lease, write every worker's
 * report in one pipelined round trip (SET qdeck:worker:<hostname> EX
 * forget_after, ZADD to the registry). The state is the thread's own;
 * only the status counters are shared. */
#include "console/celery-collector.h"
#include "console/celery-failures.h"

#include <hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "celery/event.h"
#include "celery/pidbox.h"
#include "celery/receiver.h"
#include "control/keys.h"
#include "control/lease.h"
#include "control/policy-store.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/identity.h"
#include "core/log.h"
#include "core/url.h"
#include "core/xalloc.h"
#include "net/redis-open.h"

#define READ_WAIT 0.25
#define PUBLISH_EVERY 1.0
#define LEASE_SECONDS 3.0   /* renewed every PUBLISH_EVERY: two missed renewals hand it over */

#define MAX_RATES 64

/* A task.<name>.rate guardrail as last sent to the fleet. */
struct sent_rate {
    char task[200];
    char value[32];           /* canonical "5/s", or "off" */
};

struct celery_collector {
    struct sent_rate rates[MAX_RATES];
    size_t nrates;
    bool restored;                    /* the reports in Redis were read back (since the lease was taken) */
    char *source;                     /* the events source (redacted URL), in each report it writes */
    char *lease_key, lease_id[300];   /* the writer's lease for this events source, and our claim */
    bool writer;                      /* we hold it: we write the reports and steer the workers */
    struct celery_collector_options o;
    char *events_url, *redis_url;
    struct tls_options tls;
    pthread_t thread;
    pthread_mutex_t lock;             /* guards status, receiver (for interrupt) and stop */
    pthread_cond_t wake;
    bool stop;
    bool ready;                       /* the read-back at start is done (or failed) */
    struct celery_receiver *receiver;
    struct celery_collector_status status;
    struct celery_state *state;
    struct celery_failures failures;  /* task-failed events of this round, for qdeck:events */
    redisContext *redis;
    struct retry_timer reconnect;
};

static void on_event(const struct celery_event *ev, void *arg)
{
    struct celery_collector *cc = arg;
    if (ev->type == CELERY_TASK_FAILED && ev->uuid && ev->uuid[0])
        celery_failures_note(&cc->failures, ev, celery_state_task_name(cc->state, ev->uuid));
    celery_state_apply(cc->state, ev, clock_wall());
}

static void set_error(struct celery_collector *cc, const char *err)
{
    pthread_mutex_lock(&cc->lock);
    snprintf(cc->status.error, sizeof cc->status.error, "%s", err);
    cc->status.connected = 0;
    pthread_mutex_unlock(&cc->lock);
}

static const cJSON *reply_of(const cJSON *replies, const char *host)
{
    return replies ? cJSON_GetObjectItemCaseSensitive(replies, host) : NULL;
}

static void send_rate(struct celery_collector *cc, const char *task, const char *value, const char *const *hosts,
                      size_t nhosts);

#define STATS_BATCH 64

/* Workers first seen: their concurrency from one `stats` and their queues
 * from one `active_queues` (pidbox), asked once and never polled, all the
 * new ones in one request each (a reply per worker ends the wait early,
 * so a flood of new names costs the event loop one wait, not one each);
 * then the task rates in force (task.<name>.rate) are sent to them. */
static void ask_stats(struct celery_collector *cc)
{
    const char *hosts[STATS_BATCH];
    size_t n = 0;
    for (size_t i = 0; i < celery_state_nworkers(cc->state) && n < STATS_BATCH; i++)
        if (celery_state_wants_stats(cc->state, i))
            hosts[n++] = celery_state_hostname(cc->state, i);
    if (n == 0)
        return;
    struct celery_pidbox_request req = {.method = "stats", .destination = hosts, .ndestination = n, .wait = 1.0};
    cJSON *stats = NULL, *queues = NULL;
    char err[256];
    if (celery_pidbox_call(cc->events_url, &cc->tls, cc->o.timeout, &req, &stats, err, sizeof err) < 0)
        log_warn("celery: stats: %s", err);
    req.method = "active_queues";
    if (celery_pidbox_call(cc->events_url, &cc->tls, cc->o.timeout, &req, &queues, err, sizeof err) < 0)
        log_warn("celery: active_queues: %s", err);
    /* copies: set_stats may not move names, but hosts point into the state */
    char *names_of[STATS_BATCH];
    for (size_t h = 0; h < n; h++)
        names_of[h] = xstrdup(hosts[h]);
    for (size_t h = 0; h < n; h++) {
        const char *host = names_of[h];
        const cJSON *pool = cJSON_GetObjectItemCaseSensitive(reply_of(stats, host), "pool");
        const cJSON *max = cJSON_GetObjectItemCaseSensitive(pool, "max-concurrency");
        char names[512] = "";
        const cJSON *q, *list = reply_of(queues, host);
        const cJSON *items = cJSON_IsArray(list) ? list : NULL;
        cJSON_ArrayForEach(q, items) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(q, "name");
            if (cJSON_IsString(name))
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "",
                         name->valuestring);
        }
        celery_state_set_stats(cc->state, host, cJSON_IsNumber(max) ? (long)max->valuedouble : -1,
                               cJSON_IsArray(list) ? names : NULL);
    }
    for (size_t k = 0; k < cc->nrates; k++)
        if (strcmp(cc->rates[k].value, "off") != 0)
            send_rate(cc, cc->rates[k].task, cc->rates[k].value, (const char *const *)names_of, n);
    for (size_t h = 0; h < n; h++)
        free(names_of[h]);
    cJSON_Delete(stats);
    cJSON_Delete(queues);
}

/* Whether the guardrail queue.<name>.paused is true for Celery queue q;
 * <name> may be the bare queue or its address (amqp:q, redis:q). */
static bool queue_paused(const struct policy_entry *items, size_t n, const char *q)
{
    char names[3][300];
    snprintf(names[0], sizeof names[0], "queue.%s.paused", q);
    snprintf(names[1], sizeof names[1], "queue.amqp:%s.paused", q);
    snprintf(names[2], sizeof names[2], "queue.redis:%s.paused", q);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            if (strcmp(items[i].name, names[k]) == 0 && strcmp(items[i].value, "true") == 0)
                return true;
    return false;
}

/* One consumer change on one worker; true when it said ok. */
static bool consumer_call(struct celery_collector *cc, const char *host, const char *method, const char *queue)
{
    const char *dest[] = {host};
    cJSON *args = cJSON_CreateObject(), *replies = NULL;
    cJSON_AddStringToObject(args, "queue", queue);
    struct celery_pidbox_request req = {.method = method, .arguments = args, .destination = dest, .ndestination = 1,
                                        .wait = 2.0};
    char err[256];
    bool ok = false;
    if (celery_pidbox_call(cc->events_url, &cc->tls, cc->o.timeout, &req, &replies, err, sizeof err) < 0)
        log_warn("celery: %s %s on %s: %s", method, queue, host, err);
    else
        ok = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(reply_of(replies, host), "ok"));
    log_info("celery: guardrail queue.%s.paused: %s on %s: %s", queue, method, host, ok ? "ok" : "no ok reply");
    cJSON_Delete(args);
    cJSON_Delete(replies);
    return ok;
}

/* rate_limit for one task on the given workers (none: all alive); "off" is none. */
static void send_rate(struct celery_collector *cc, const char *task, const char *value, const char *const *hosts,
                      size_t nhosts)
{
    size_t alive = 0;
    for (size_t i = 0; i < celery_state_nworkers(cc->state); i++)
        alive += celery_state_worker_state(cc->state, i, clock_wall()) == CELERY_ALIVE;
    cJSON *args = cJSON_CreateObject(), *replies = NULL;
    cJSON_AddStringToObject(args, "task_name", task);
    if (strcmp(value, "off") == 0)
        cJSON_AddNullToObject(args, "rate_limit");
    else
        cJSON_AddStringToObject(args, "rate_limit", value);
    struct celery_pidbox_request req = {.method = "rate_limit", .arguments = args, .destination = hosts,
                                        .ndestination = nhosts, .wait = 1.0, .expect = nhosts ? 0 : alive};
    char err[256];
    if (celery_pidbox_call(cc->events_url, &cc->tls, cc->o.timeout, &req, &replies, err, sizeof err) < 0)
        log_warn("celery: guardrail task.%s.rate: %s", task, err);
    else
        log_info("celery: guardrail task.%s.rate = %s: %d worker(s) answered", task, value,
                 cJSON_GetArraySize(replies));
    cJSON_Delete(args);
    cJSON_Delete(replies);
}

/* task.<name>.rate reaches Celery: a change is broadcast once; an unset
 * guardrail sends "off" once and is forgotten. */
static void apply_rates(struct celery_collector *cc, const struct policy_entry *items, size_t n)
{
    static const char prefix[] = "task.", suffix[] = ".rate";
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(items[i].name);
        if (len <= strlen(prefix) + strlen(suffix) || strncmp(items[i].name, prefix, strlen(prefix)) != 0 ||
            strcmp(items[i].name + len - strlen(suffix), suffix) != 0)
            continue;
        char task[200];
        snprintf(task, sizeof task, "%.*s", (int)(len - strlen(prefix) - strlen(suffix)), items[i].name + strlen(prefix));
        struct sent_rate *r = NULL;
        for (size_t k = 0; k < cc->nrates && !r; k++)
            if (strcmp(cc->rates[k].task, task) == 0)
                r = &cc->rates[k];
        if (r && strcmp(r->value, items[i].value) == 0)
            continue;
        if (!r && cc->nrates == MAX_RATES)
            continue;
        if (!r) {
            r = &cc->rates[cc->nrates++];
            snprintf(r->task, sizeof r->task, "%s", task);
        }
        snprintf(r->value, sizeof r->value, "%s", items[i].value);
        send_rate(cc, task, r->value, NULL, 0);
    }
    for (size_t k = cc->nrates; k-- > 0;) {
        char name[220];
        snprintf(name, sizeof name, "%s%s%s", prefix, cc->rates[k].task, suffix);
        bool set = false;
        for (size_t i = 0; i < n && !set; i++)
            set = strcmp(items[i].name, name) == 0;
        if (!set) {
            send_rate(cc, cc->rates[k].task, "off", NULL, 0);
            cc->rates[k] = cc->rates[--cc->nrates];
        }
    }
}

/* queue.<name>.paused reaches Celery: cancel_consumer on every live worker
 * consuming a paused queue (one that comes online later too), add_consumer
 * for the queues this collector paused once they are unpaused. */
static void apply_pauses(struct celery_collector *cc, double now)
{
    struct policy_entry *items = NULL;
    size_t n = 0;
    char err[256];
    if (policy_values_fetch(cc->redis, &items, &n, err, sizeof err) < 0) {
        log_warn("celery: guardrails: %s", err);
        if (cc->redis->err) {
            redisFree(cc->redis);
            cc->redis = NULL;
        }
        return;
    }
    for (size_t i = 0; i < celery_state_nworkers(cc->state); i++) {
        if (celery_state_worker_state(cc->state, i, now) != CELERY_ALIVE || celery_state_wants_stats(cc->state, i))
            continue;
        const char *host = celery_state_hostname(cc->state, i);
        /* the queues it consumes and those paused on it: a worker paused
         * by an earlier writer consumes them no more */
        const char *was = celery_state_paused(cc->state, i);
        const char *queues = celery_state_queues(cc->state, i);
        char paused[512] = "", *list = xasprintf("%s,%s", queues, was), *save = NULL;
        size_t consumed_end = strlen(queues);
        for (char *q = strtok_r(list, ", ", &save); q; q = strtok_r(NULL, ", ", &save)) {
            if ((size_t)(q - list) > consumed_end && celery_queue_listed(queues, q))
                continue;   /* a paused queue it also consumes: seen once */
            bool is_paused = celery_queue_listed(was, q);
            bool want = queue_paused(items, n, q);
            if (want && !is_paused)
                is_paused = consumer_call(cc, host, "cancel_consumer", q);
            else if (!want && is_paused)
                is_paused = !consumer_call(cc, host, "add_consumer", q);
            if (is_paused)
                snprintf(paused + strlen(paused), sizeof paused - strlen(paused), "%s%s", paused[0] ? "," : "", q);
        }
        free(list);
        if (strcmp(paused, was) != 0)
            celery_state_set_paused(cc->state, i, paused);
    }
    apply_rates(cc, items, n);
    policy_entries_free(items, n);
}

#define RESTORE_CAP 1024

/* Once, at start: the Celery workers' reports still in the registry are
 * read back into the state, so a restarted console keeps their history. */
static void restore(struct celery_collector *cc)
{
    redisReply *ids = redisCommand(cc->redis, "ZRANGE %s 0 %d", KEY_WORKER_REGISTRY, RESTORE_CAP - 1);
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
        log_warn("celery: reading back the fleet: %s", ids && ids->type == REDIS_REPLY_ERROR ? ids->str : cc->redis->errstr);
        freeReplyObject(ids);
        return;
    }
    cc->restored = true;
    if (ids->elements == 0) {
        freeReplyObject(ids);
        return;
    }
    const char **argv = xcalloc(ids->elements + 1, sizeof *argv);
    char **keys = xcalloc(ids->elements, sizeof *keys);
    argv[0] = "MGET";
    for (size_t i = 0; i < ids->elements; i++)
        argv[i + 1] = keys[i] = xasprintf(KEY_WORKER_PREFIX "%s", ids->element[i]->str ? ids->element[i]->str : "");
    redisReply *r = redisCommandArgv(cc->redis, (int)ids->elements + 1, argv, NULL);
    size_t n = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        cJSON *report = cJSON_Parse(r->element[i]->str);
        /* a worker another events source reports (Celery on another broker) is not ours to write */
        const cJSON *source = cJSON_GetObjectItemCaseSensitive(report, "events_source");
        if (!cJSON_IsString(source) || strcmp(source->valuestring, cc->source) != 0) {
            cJSON_Delete(report);
            continue;
        }
        size_t before = celery_state_nworkers(cc->state);
        celery_state_restore(cc->state, report, clock_wall());
        n += celery_state_nworkers(cc->state) - before;
        cJSON_Delete(report);
    }
    if (n)
        log_info("celery: read back %zu Celery worker(s) from the fleet registry", n);
    freeReplyObject(r);
    for (size_t i = 0; i < ids->elements; i++)
        free(keys[i]);
    free(keys);
    free(argv);
    freeReplyObject(ids);
}

/* Whether this collector writes the reports: every collector of one events
 * source (each console, exporter and `celery watch`) folds every event,
 * but only the holder of the lease writes them and sends the workers
 * pidbox commands, so a guardrail reaches each worker once however many
 * consoles are open. Taking it over reads the registry back, which brings
 * the queues the last holder paused, so this one can unpause them. */
static bool keep_lease(struct celery_collector *cc)
{
    if (!cc->redis)
        return false;
    char err[256];
    int ours = lease_keep(cc->redis, cc->lease_key, cc->lease_id, LEASE_SECONDS, cc->writer, err, sizeof err);
    if (ours < 0) {
        log_warn("celery: writer's lease: %s", err);
        redisFree(cc->redis);
        cc->redis = NULL;
    }
    bool was = cc->writer;
    cc->writer = ours == 1;
    if (cc->writer && !was) {
        log_info("celery: this collector writes the Celery fleet's reports (lease %s)", cc->lease_key);
        restore(cc);
    } else if (!cc->writer && was) {
        log_info("celery: another collector writes the Celery fleet's reports now");
    }
    pthread_mutex_lock(&cc->lock);
    cc->status.writer = cc->writer;
    pthread_mutex_unlock(&cc->lock);
    return cc->writer;
}

/* Writes every worker's report; a failure drops the connection (retried next time). */
static void publish(struct celery_collector *cc, double now)
{
    char err[256];
    if (!cc->restored || celery_state_nworkers(cc->state) > 0) {
        if (!cc->redis && !(cc->redis = redis_open(cc->redis_url, cc->o.timeout, cc->o.timeout, err, sizeof err))) {
            log_warn("celery: fleet reports: %s", err);
            return;
        }
    }
    if (!cc->restored)
        restore(cc);
    size_t n = celery_state_nworkers(cc->state);
    if (n == 0 || !keep_lease(cc)) {
        celery_failures_drop(&cc->failures);   /* the writer tells them */
        return;
    }
    long ttl = (long)cc->o.limits.forget_after;
    ask_stats(cc);
    apply_pauses(cc, now);
    if (!cc->redis)
        return;
    for (size_t i = 0; i < n; i++) {
        cJSON *report = celery_state_report(cc->state, i, now);
        cJSON_AddStringToObject(report, "events_source", cc->source);
        char *json = cJSON_PrintUnformatted(report);
        const char *host = celery_state_hostname(cc->state, i);
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(report, "at");
        redisAppendCommand(cc->redis, "SET " KEY_WORKER_PREFIX "%s %s EX %ld", host, json, ttl > 0 ? ttl : 600);
        redisAppendCommand(cc->redis, "ZADD %s %.3f %s", KEY_WORKER_REGISTRY, at->valuedouble, host);
        free(json);
        cJSON_Delete(report);
    }
    for (size_t i = 0; i < 2 * n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(cc->redis, (void **)&r) != REDIS_OK) {
            log_warn("celery: fleet reports: Redis: %s", cc->redis->errstr);
            redisFree(cc->redis);
            cc->redis = NULL;
            return;
        }
        if (r->type == REDIS_REPLY_ERROR)
            log_warn("celery: fleet reports: Redis refused: %s", r->str);
        freeReplyObject(r);
    }
    if (celery_failures_tell(&cc->failures, cc->redis) < 0) {
        redisFree(cc->redis);
        cc->redis = NULL;
    }
}

static bool stopping(struct celery_collector *cc)
{
    pthread_mutex_lock(&cc->lock);
    bool s = cc->stop;
    pthread_mutex_unlock(&cc->lock);
    return s;
}

/* Opens the receiver when its retry is due; else waits (stoppably) until it is. */
static void try_open(struct celery_collector *cc)
{
    double now = clock_mono();
    if (!retry_timer_due(&cc->reconnect, now)) {
        double left = cc->reconnect.next - now;
        struct timespec until = clock_realtime_after(left < PUBLISH_EVERY ? left : PUBLISH_EVERY);
        pthread_mutex_lock(&cc->lock);
        if (!cc->stop)
            pthread_cond_timedwait(&cc->wake, &cc->lock, &until);
        pthread_mutex_unlock(&cc->lock);
        return;
    }
    char err[256];
    struct celery_receiver *r = celery_receiver_open(cc->events_url, &cc->tls, cc->o.timeout, err, sizeof err);
    if (!r) {
        log_info("celery: %s", err);
        set_error(cc, err);
        retry_timer_failed(&cc->reconnect, clock_mono(), 0);
        return;
    }
    log_info("celery: receiving events from %s", celery_receiver_name(r));
    retry_timer_succeeded(&cc->reconnect);
    pthread_mutex_lock(&cc->lock);
    cc->receiver = r;
    cc->status.connected = 1;
    cc->status.error[0] = '\0';
    pthread_mutex_unlock(&cc->lock);
}

static void drop_receiver(struct celery_collector *cc, const char *err)
{
    log_warn("%s", err);
    set_error(cc, err);
    pthread_mutex_lock(&cc->lock);
    struct celery_receiver *r = cc->receiver;
    cc->receiver = NULL;
    pthread_mutex_unlock(&cc->lock);
    celery_receiver_close(r);
    retry_timer_failed(&cc->reconnect, clock_mono(), 0);
}

/* First of all, the read-back: the fleet source's first collection waits
 * for it (celery_collector_wait_ready), so an idle collector, one that sees
 * no Celery worker, sends Redis nothing after that first collection. */
static void read_back_at_start(struct celery_collector *cc)
{
    char err[256];
    if ((cc->redis = redis_open(cc->redis_url, cc->o.timeout, cc->o.timeout, err, sizeof err)))
        restore(cc);
    else
        log_warn("celery: fleet reports: %s", err);   /* publish() tries again */
    pthread_mutex_lock(&cc->lock);
    cc->ready = true;
    pthread_cond_broadcast(&cc->wake);
    pthread_mutex_unlock(&cc->lock);
}

void celery_collector_wait_ready(struct celery_collector *cc, double timeout)
{
    struct timespec until = clock_realtime_after(timeout);
    pthread_mutex_lock(&cc->lock);
    while (!cc->ready && !cc->stop)
        if (pthread_cond_timedwait(&cc->wake, &cc->lock, &until) != 0)
            break;
    pthread_mutex_unlock(&cc->lock);
}

static void *collector_main(void *arg)
{
    struct celery_collector *cc = arg;
    read_back_at_start(cc);
    double next_publish = clock_mono() + PUBLISH_EVERY;
    while (!stopping(cc)) {
        if (!cc->receiver) {
            try_open(cc);
        } else {
            char *body = NULL, err[256] = "";
            size_t len = 0;
            int rc = celery_receiver_next(cc->receiver, READ_WAIT, &body, &len, err, sizeof err);
            if (rc == 1) {
                size_t skipped = 0;
                if (celery_events_parse(body, len, on_event, cc, &skipped, err, sizeof err) < 0)
                    rc = 2;
            }
            free(body);
            if (rc == 2) {
                pthread_mutex_lock(&cc->lock);
                cc->status.bad_messages++;
                pthread_mutex_unlock(&cc->lock);
            } else if (rc < 0 && !stopping(cc)) {
                drop_receiver(cc, err);
            }
        }
        double now = clock_mono();
        if (now >= next_publish) {
            double wall = clock_wall();
            celery_state_expire(cc->state, wall);
            publish(cc, wall);
            next_publish = now + PUBLISH_EVERY;
            pthread_mutex_lock(&cc->lock);
            celery_state_counters(cc->state, &cc->status.counters);
            cc->status.workers = celery_state_nworkers(cc->state);
            pthread_mutex_unlock(&cc->lock);
        }
    }
    return NULL;
}

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

struct celery_collector *celery_collector_start(const struct celery_collector_options *o, char *err, size_t errlen)
{
    if (!o->events_url || !*o->events_url || !o->redis_url || !*o->redis_url) {
        snprintf(err, errlen, "celery: needs the broker Celery's events go through and a Redis for the fleet");
        return NULL;
    }
    struct celery_collector *cc = xcalloc(1, sizeof *cc);
    cc->o = *o;
    if (!(cc->o.limits.forget_after > 0))
        cc->o.limits.forget_after = 600;
    if (!(cc->o.timeout > 0))
        cc->o.timeout = 5;
    cc->events_url = xstrdup(o->events_url);
    cc->redis_url = xstrdup(o->redis_url);
    char actor[200];
    cc->source = url_redact(o->events_url);
    cc->lease_key = xasprintf(KEY_CELERY_LEASE_PREFIX "%s", cc->source);
    identity_actor(actor, sizeof actor);
    snprintf(cc->lease_id, sizeof cc->lease_id, "%s:%ld:%08lx", actor, (long)getpid(),
             (unsigned long)(clock_wall() * 1e6) & 0xffffffffUL);
    if (o->tls)
        cc->tls = (struct tls_options){.ca = dup_or_null(o->tls->ca), .cert = dup_or_null(o->tls->cert),
                                       .key = dup_or_null(o->tls->key), .verify = o->tls->verify};
    else
        cc->tls.verify = true;
    cc->state = celery_state_new(&cc->o.limits);
    retry_timer_init(&cc->reconnect, 2, 10, (unsigned)(clock_wall() * 1000));
    pthread_mutex_init(&cc->lock, NULL);
    pthread_cond_init(&cc->wake, NULL);
    if (pthread_create(&cc->thread, NULL, collector_main, cc) != 0) {
        snprintf(err, errlen, "celery: cannot start the collector thread");
        celery_state_free(cc->state);
        free(cc->lease_key);
        free(cc->source);
        free(cc->events_url);
        free(cc->redis_url);
        free(cc->tls.ca);
        free(cc->tls.cert);
        free(cc->tls.key);
        free(cc);
        return NULL;
    }
    return cc;
}

void celery_collector_stop(struct celery_collector *cc)
{
    if (!cc)
        return;
    pthread_mutex_lock(&cc->lock);
    cc->stop = true;
    if (cc->receiver)
        celery_receiver_interrupt(cc->receiver);
    pthread_cond_broadcast(&cc->wake);
    pthread_mutex_unlock(&cc->lock);
    pthread_join(cc->thread, NULL);
    struct celery_counters c;
    celery_state_counters(cc->state, &c);
    log_info("celery: collector stopped: %llu events, %llu unreadable messages, %llu in-flight entries evicted, "
             "%zu in flight",
             (unsigned long long)c.events, (unsigned long long)cc->status.bad_messages,
             (unsigned long long)c.inflight_evicted, c.inflight);
    celery_receiver_close(cc->receiver);
    if (cc->redis) {
        if (cc->writer)
            lease_release(cc->redis, cc->lease_key, cc->lease_id);
        redisFree(cc->redis);
    }
    free(cc->lease_key);
    free(cc->source);
    celery_state_free(cc->state);
    pthread_mutex_destroy(&cc->lock);
    pthread_cond_destroy(&cc->wake);
    free(cc->events_url);
    free(cc->redis_url);
    free(cc->tls.ca);
    free(cc->tls.cert);
    free(cc->tls.key);
    free(cc);
}

void celery_collector_status(struct celery_collector *cc, struct celery_collector_status *out)
{
    pthread_mutex_lock(&cc->lock);
    *out = cc->status;
    pthread_mutex_unlock(&cc->lock);
}
