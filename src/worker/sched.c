/* The scheduler (see the header): two threads. The keeper takes and
 * renews the lease on its own connection; a Redis failure there drops
 * leadership (a leader that cannot reach Redis cannot know it still leads).
 * The job thread, every TICK seconds, as leader reads each job's hash and
 * claims and runs what is due, and every few seconds reads the fleet to
 * report workers that went silent. */
#include "worker/sched.h"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/events.h"
#include "control/fleet.h"
#include "control/keys.h"
#include "control/redis-connect.h"
#include "core/address.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/url.h"
#include "core/xalloc.h"
#include "net/redis-open.h"
#include "worker/amqp-link.h"
#include "worker/cron.h"
#include "worker/task.h"

#define TICK 0.2             /* seconds between looks at the jobs */
#define FLEET_EVERY 2.0      /* seconds between fleet reads for lost workers */
#define FLEET_JUST_LOST 10.0 /* a new leader reports workers lost this recently */
#define TRIM_DEFAULT_LIMIT 1000

/* Extends the lease only while it holds our id: 1, or 0 when it is not ours. */
static const char renew_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
/* Deletes the lease only when it holds our id. */
static const char release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
/* Claims one run: still the leader (else -1), next_run still what we read
 * (else 0: someone else moved it); then moves next_run on and clears a
 * run request. KEYS: leader, job. ARGV: id, expected next_run ("" none),
 * new next_run. */
static const char claim_script[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end "
    "local cur = redis.call('HGET', KEYS[2], 'next_run') "
    "if (cur or '') ~= ARGV[2] then return 0 end "
    "redis.call('HSET', KEYS[2], 'next_run', ARGV[3]) "
    "redis.call('HDEL', KEYS[2], 'run_requested') return 1";

struct job {
    struct schedule_config cfg;   /* deep copy */
    bool valid;
    bool is_cron;
    struct cron_expr cron;
    char error[256];
    char key[512];
};

struct sched {
    char *url, *id;
    double lease;
    struct job *jobs;
    size_t njobs;
    struct context_config *ctx;   /* copy of the URLs needed for probes, or NULL */
    sched_publish_fn publish;
    sched_replay_fn replay;
    void *hook_ctx;

    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    bool leader;                  /* under lock: read by sched_is_leader */

    redisContext *redis;          /* scheduler thread only */
    pthread_t keeper;             /* takes and renews the lease, so a slow job never lets it lapse */
    bool keeper_running, thread_running;
    redisContext *keeper_redis;   /* keeper thread only */
    double renewed_at;            /* under lock: monotonic time of the last successful take/renew */
    double fleet_read_at;
    struct fleet_table *fleet;    /* last read, for loss detection */
    bool reported;                /* the last read was made as leader */
    bool jobs_registered;         /* our job names added to the job registry on this connection */
};

/* ---------------------------------------------------------- schedules */

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

static void copy_schedule(struct schedule_config *dst, const struct schedule_config *src)
{
    *dst = *src;
    dst->name = dup_or_null(src->name);
    dst->cron = dup_or_null(src->cron);
    dst->action = dup_or_null(src->action);
    dst->queue = dup_or_null(src->queue);
    dst->type = dup_or_null(src->type);
    dst->payload = dup_or_null(src->payload);
    dst->pattern = dup_or_null(src->pattern);
}

static void free_schedule(struct schedule_config *s)
{
    free(s->name);
    free(s->cron);
    free(s->action);
    free(s->queue);
    free(s->type);
    free(s->payload);
    free(s->pattern);
}

int sched_describe(const struct schedule_config *job, char *buf, size_t len)
{
    if (job->cron && *job->cron) {
        struct cron_expr e;
        char err[256];
        if (cron_parse(job->cron, &e, err, sizeof err) < 0) {
            snprintf(buf, len, "bad cron: %s", err);
            return -1;
        }
        snprintf(buf, len, "cron %s", job->cron);
        return 0;
    }
    if (job->every > 0) {
        snprintf(buf, len, "every %gs", job->every);
        return 0;
    }
    snprintf(buf, len, "neither cron nor every is set");
    return -1;
}

double sched_next_after(const struct schedule_config *job, double after)
{
    if (job->cron && *job->cron) {
        struct cron_expr e;
        char err[256];
        if (cron_parse(job->cron, &e, err, sizeof err) < 0)
            return -1;
        time_t t = cron_next(&e, (time_t)floor(after));
        return t == (time_t)-1 ? -1 : (double)t;
    }
    return job->every > 0 ? after + job->every : -1;
}

static const char *const actions[] = {"publish", "replay", "trim", "probe"};

static void prepare_job(struct job *j, const struct schedule_config *cfg)
{
    copy_schedule(&j->cfg, cfg);
    snprintf(j->key, sizeof j->key, KEY_SCHED_PREFIX "%s", cfg->name);
    j->valid = true;
    bool known = false;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        known |= cfg->action && strcmp(cfg->action, actions[i]) == 0;
    char what[300];
    if (!known) {
        snprintf(j->error, sizeof j->error, "invalid: action '%s' (publish, replay, trim or probe)",
                 cfg->action ? cfg->action : "");
        j->valid = false;
    } else if (sched_describe(cfg, what, sizeof what) < 0) {
        snprintf(j->error, sizeof j->error, "invalid: %.240s", what);
        j->valid = false;
    } else if (strcmp(cfg->action, "trim") == 0 && (!cfg->pattern || !*cfg->pattern)) {
        snprintf(j->error, sizeof j->error, "invalid: trim needs a pattern");
        j->valid = false;
    } else if ((strcmp(cfg->action, "publish") == 0 || strcmp(cfg->action, "replay") == 0) &&
               (!cfg->queue || !*cfg->queue)) {
        snprintf(j->error, sizeof j->error, "invalid: %s needs a queue", cfg->action);
        j->valid = false;
    }
    j->is_cron = cfg->cron && *cfg->cron;
    if (j->valid && j->is_cron) {
        char err[200];
        cron_parse(cfg->cron, &j->cron, err, sizeof err);
    }
    if (!j->valid)
        log_warn("schedule %s: %s", cfg->name, j->error);
}

/* ---------------------------------------------------------- actions */

/* Keys trim never deletes, whatever the pattern: the control plane. */
static bool protected_key(const char *key)
{
    static const char *const prefixes[] = {KEY_WORKER_PREFIX, KEY_SCHED_PREFIX, KEY_SCHED_LEADER, KEY_POLICY,
                                           KEY_BREAKER_CMD, KEY_AUDIT, KEY_EVENTS, KEY_REGISTRY_PREFIX};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

static int action_trim(struct sched *s, const struct job *j, char *result, size_t len)
{
    long limit = j->cfg.limit > 0 ? j->cfg.limit : TRIM_DEFAULT_LIMIT, deleted = 0, kept = 0;
    char cursor[32] = "0", err[256];
    do {
        redisReply *r = control_redis_command(s->redis, err, sizeof err, "SCAN %s MATCH %s COUNT 1000", cursor,
                                              j->cfg.pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            snprintf(result, len, "failed after %ld deleted: %s", deleted, r ? "unexpected SCAN reply" : err);
            if (r)
                freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        const char **argv = xmalloc((keys->elements + 1) * sizeof *argv);
        size_t *argl = xmalloc((keys->elements + 1) * sizeof *argl);
        int argc = 1;
        argv[0] = "UNLINK";
        argl[0] = 6;
        for (size_t i = 0; i < keys->elements && deleted + argc - 1 < limit; i++) {
            if (protected_key(keys->element[i]->str)) {
                kept++;
                continue;
            }
            argv[argc] = keys->element[i]->str;
            argl[argc++] = keys->element[i]->len;
        }
        redisReply *u = argc > 1 ? redisCommandArgv(s->redis, argc, argv, argl) : NULL;
        free(argv);
        free(argl);
        freeReplyObject(r);
        if (argc > 1) {
            if (!u || u->type != REDIS_REPLY_INTEGER) {
                snprintf(result, len, "failed after %ld deleted: UNLINK: %s", deleted,
                         u && u->type == REDIS_REPLY_ERROR ? u->str : "connection lost");
                if (u)
                    freeReplyObject(u);
                return -1;
            }
            deleted += (long)u->integer;
            freeReplyObject(u);
        }
    } while (strcmp(cursor, "0") != 0 && deleted < limit);
    snprintf(result, len, "deleted %ld key%s matching %s%s%s", deleted, deleted == 1 ? "" : "s", j->cfg.pattern,
             deleted >= limit ? " (limit reached)" : "", kept ? " (control-plane keys left alone)" : "");
    return 0;
}

static int ping_redis(const char *url, double timeout, char *out, size_t len)
{
    char err[256];
    double t0 = clock_mono();
    redisContext *c = redis_open(url, timeout, 0, err, sizeof err);
    redisReply *r = c ? control_redis_command(c, err, sizeof err, "PING") : NULL;
    if (r)
        snprintf(out, len, "redis ok %.1fms", (clock_mono() - t0) * 1000);
    else
        snprintf(out, len, "redis FAILED: %.200s", err);
    if (r)
        freeReplyObject(r);
    if (c)
        redisFree(c);
    return r ? 0 : -1;
}

static int ping_amqp(const char *url, double timeout, char *out, size_t len)
{
    struct broker_url u;
    char err[256];
    if (broker_url_parse(url, &u, err, sizeof err) < 0) {
        snprintf(out, len, "rabbitmq FAILED: %.200s", err);
        return -1;
    }
    double t0 = clock_mono();
    amqp_connection_state_t conn = amqp_new_connection();
    bool tls = strcmp(u.scheme, "amqps") == 0;
    amqp_socket_t *sock = tls ? amqp_ssl_socket_new(conn) : amqp_tcp_socket_new(conn);
    struct timeval tv = {.tv_sec = (time_t)timeout, .tv_usec = (suseconds_t)((timeout - floor(timeout)) * 1e6)};
    int rc = -1;
    const char *why = "cannot create a socket";
    amqp_set_handshake_timeout(conn, &tv);   /* a hung broker costs one timeout, not the default 12 s */
    amqp_set_rpc_timeout(conn, &tv);
    if (sock && amqp_socket_open_noblock(sock, u.host, u.port, &tv) == AMQP_STATUS_OK) {
        amqp_rpc_reply_t r = amqp_login(conn, u.path && *u.path ? u.path : "/", 0, 131072, 0,
                                        AMQP_SASL_METHOD_PLAIN, u.user ? u.user : "guest",
                                        u.password ? u.password : "guest");
        if (r.reply_type == AMQP_RESPONSE_NORMAL) {
            rc = 0;
            amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
        } else {
            why = r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? amqp_error_string2(r.library_error)
                                                                   : "login refused";
        }
    } else if (sock) {
        why = "cannot connect";
    }
    if (rc == 0)
        snprintf(out, len, "rabbitmq ok %.1fms", (clock_mono() - t0) * 1000);
    else
        snprintf(out, len, "rabbitmq FAILED (%s): %s", u.redacted, why);
    amqp_destroy_connection(conn);
    broker_url_free(&u);
    return rc;
}

static int action_probe(struct sched *s, char *result, size_t len)
{
    char a[240] = "", b[240] = "";
    double timeout = s->ctx ? s->ctx->timeout : 5;
    int rc = ping_redis(s->ctx && s->ctx->redis ? s->ctx->redis : s->url, timeout, a, sizeof a);
    if (s->ctx && s->ctx->amqp)
        rc |= ping_amqp(s->ctx->amqp, timeout, b, sizeof b);
    snprintf(result, len, "%.230s%s%.230s", a, b[0] ? ", " : "", b);
    return rc ? -1 : 0;
}

/* One task with the qdeck envelope. Its idempotency key names the job
 * and the run (sched:NAME:DUE), so even a run that happened twice would be
 * processed once by workers with idempotency on. */
static int action_publish(struct sched *s, const struct job *j, const char *due, char *result, size_t len)
{
    struct queue_address a;
    char err[256], key[700], id[48];
    if (queue_address_parse(j->cfg.queue, s->ctx, &a, err, sizeof err) < 0) {
        snprintf(result, len, "bad queue %.200s: %.200s", j->cfg.queue, err);
        return -1;
    }
    snprintf(key, sizeof key, "sched:%s:%s", j->cfg.name, due);
    char *body = envelope_build(j->cfg.type && *j->cfg.type ? j->cfg.type : j->cfg.name,
                                j->cfg.payload && *j->cfg.payload ? j->cfg.payload : "{}", 5, 5, 0, key, id);
    size_t blen = strlen(body);
    char *addr = queue_address_format(&a);
    int rc = -1;
    if (a.kind == QUEUE_AMQP) {
        double timeout = s->ctx ? s->ctx->timeout : 5;
        amqp_connection_state_t conn =
            s->ctx && s->ctx->amqp ? amqp_link_open(s->ctx->amqp, 0, true, timeout, err, sizeof err) : NULL;
        if (!s->ctx || !s->ctx->amqp)
            snprintf(err, sizeof err, "no RabbitMQ configured");
        uint64_t tag = 0, acked = 0;
        amqp_basic_properties_t props = {
            ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                      AMQP_BASIC_TIMESTAMP_FLAG,
            .content_type = amqp_cstring_bytes("application/json"),
            .delivery_mode = 2,
            .message_id = amqp_cstring_bytes(id),
            .timestamp = (uint64_t)clock_wall(),
        };
        if (conn && amqp_link_publish(conn, "", a.name, &props, body, blen, &tag, err, sizeof err) == 0 &&
            amqp_link_wait_confirms(conn, tag, &acked, timeout, err, sizeof err) == 0)
            rc = 0;
        if (conn)
            amqp_link_close(conn);
    } else {
        const char *argv[5] = {a.kind == QUEUE_STREAM ? "XADD" : "LPUSH", a.name};
        size_t lens[5] = {strlen(argv[0]), strlen(a.name)};
        int argc = 3;
        if (a.kind == QUEUE_STREAM) {
            argv[2] = "*", lens[2] = 1, argv[3] = "body", lens[3] = 4, argv[4] = body, lens[4] = blen;
            argc = 5;
        } else {
            argv[2] = body, lens[2] = blen;
        }
        redisReply *r = redisCommandArgv(s->redis, argc, argv, lens);
        if (r && r->type != REDIS_REPLY_ERROR)
            rc = 0;
        else
            snprintf(err, sizeof err, "%s", r ? r->str : s->redis->errstr);
        if (r)
            freeReplyObject(r);
    }
    if (rc == 0)
        snprintf(result, len, "published task %s to %.300s", id, addr);
    else
        snprintf(result, len, "publish to %.200s failed: %.200s", addr, err);
    free(addr);
    free(body);
    queue_address_free(&a);
    return rc;
}

static int run_action(struct sched *s, const struct job *j, const char *due, char *result, size_t len)
{
    const char *a = j->cfg.action;
    if (strcmp(a, "trim") == 0)
        return action_trim(s, j, result, len);
    if (strcmp(a, "probe") == 0)
        return action_probe(s, result, len);
    if (strcmp(a, "publish") == 0)
        return s->publish ? s->publish(s->hook_ctx, &j->cfg, result, len) : action_publish(s, j, due, result, len);
    if (!s->replay) {
        snprintf(result, len, "not available: DLQ replay is not wired into this process");
        return -1;
    }
    return s->replay(s->hook_ctx, &j->cfg, result, len);
}

/* ---------------------------------------------------------- leadership */

static void set_leader(struct sched *s, bool leader, redisContext *conn)
{
    pthread_mutex_lock(&s->lock);
    bool was = s->leader;
    s->leader = leader;
    pthread_mutex_unlock(&s->lock);
    if (was == leader)
        return;
    if (leader) {
        log_info("scheduler: %s is now the leader", s->id);
        char text[400], err[256];
        snprintf(text, sizeof text, "%s became the scheduler leader", s->id);
        if (conn && events_append(conn, "sched.leader", s->id, text, err, sizeof err) < 0)
            log_warn("scheduler: %s", err);
    } else {
        log_info("scheduler: %s is no longer the leader", s->id);
    }
}

bool sched_is_leader(struct sched *s)
{
    if (!s)
        return false;
    pthread_mutex_lock(&s->lock);
    bool l = s->leader;
    pthread_mutex_unlock(&s->lock);
    return l;
}

static void drop_connection(struct sched *s, const char *why)
{
    if (why)
        log_warn("scheduler: %s", why);
    if (s->redis)
        redisFree(s->redis);
    s->redis = NULL;
    s->jobs_registered = false;
}

/* Adds every configured job's name to the job registry (keys.h), once per
 * connection, so consoles find the jobs without walking the keyspace. */
static void register_jobs(struct sched *s)
{
    if (s->jobs_registered || s->njobs == 0)
        return;
    const char **argv = xmalloc((s->njobs + 2) * sizeof *argv);
    argv[0] = "SADD";
    argv[1] = KEY_SCHED_REGISTRY;
    for (size_t i = 0; i < s->njobs; i++)
        argv[i + 2] = s->jobs[i].cfg.name;
    redisReply *r = redisCommandArgv(s->redis, (int)s->njobs + 2, argv, NULL);
    free(argv);
    if (!r) {
        drop_connection(s, "Redis: connection lost registering the jobs");
        return;
    }
    s->jobs_registered = r->type != REDIS_REPLY_ERROR;
    if (r->type == REDIS_REPLY_ERROR)
        log_warn("scheduler: Redis refused to register the jobs: %s", r->str);
    freeReplyObject(r);
}

/* Keeper thread: takes the lease when free, or renews ours. -1 when Redis
 * failed (the connection is dropped and leadership with it). */
static int keep_lease(struct sched *s)
{
    char err[256], ms[32];
    snprintf(ms, sizeof ms, "%lld", (long long)(s->lease * 1000));
    double now = clock_mono();
    bool was = sched_is_leader(s);
    redisReply *r = was ? control_redis_command(s->keeper_redis, err, sizeof err, "EVAL %s 1 %s %s %s", renew_script,
                                                KEY_SCHED_LEADER, s->id, ms)
                        : control_redis_command(s->keeper_redis, err, sizeof err, "SET %s %s NX PX %s",
                                                KEY_SCHED_LEADER, s->id, ms);
    if (!r) {
        log_warn("scheduler lease: %s", err);
        redisFree(s->keeper_redis);
        s->keeper_redis = NULL;
        set_leader(s, false, NULL);
        return -1;
    }
    bool ours = was ? (r->type == REDIS_REPLY_INTEGER && r->integer == 1) : r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (ours) {
        pthread_mutex_lock(&s->lock);
        s->renewed_at = now;
        pthread_mutex_unlock(&s->lock);
    }
    set_leader(s, ours, s->keeper_redis);
    return 0;
}

/* Leadership we can vouch for: renewed within the lease (minus a margin). */
static bool lease_fresh(struct sched *s)
{
    pthread_mutex_lock(&s->lock);
    bool fresh = s->leader && clock_mono() - s->renewed_at < s->lease * 0.8;
    pthread_mutex_unlock(&s->lock);
    return fresh;
}

/* ---------------------------------------------------------- jobs */

static void fmt_time(double t, char *buf, size_t len)
{
    if (t < 0 || isnan(t))
        snprintf(buf, len, "never");
    else
        snprintf(buf, len, "%.3f", t);
}

static void record_invalid(struct sched *s, struct job *j)
{
    char err[256];
    redisReply *r = control_redis_command(s->redis, err, sizeof err, "HSET %s last_result %s next_run never",
                                          j->key, j->error);
    if (r)
        freeReplyObject(r);
}

/* Looks at one job: claims and runs it when due. -1 when Redis failed. */
static int tend_job(struct sched *s, struct job *j, double now)
{
    char err[256];
    redisReply *r = control_redis_command(s->redis, err, sizeof err, "HMGET %s next_run paused run_requested",
                                          j->key);
    if (!r) {
        drop_connection(s, err);
        return -1;
    }
    char expected[64] = "";
    bool has_next = r->element[0]->type == REDIS_REPLY_STRING;
    if (has_next)
        snprintf(expected, sizeof expected, "%s", r->element[0]->str);
    bool paused = r->element[1]->type == REDIS_REPLY_STRING ? strcmp(r->element[1]->str, "1") == 0 : j->cfg.paused;
    bool requested = r->element[2]->type == REDIS_REPLY_STRING;
    freeReplyObject(r);
    double next = has_next ? atof(expected) : NAN;
    if (!j->valid) {
        if (strcmp(expected, "never") != 0)
            record_invalid(s, j);
        if (!requested)
            return 0;
    }
    bool due = requested || (!paused && has_next && strcmp(expected, "never") != 0 && now >= next);
    if (!due && has_next && strcmp(expected, "never") != 0)
        return 0;
    if (!lease_fresh(s))
        return 0;
    /* the new next_run: from the due time for intervals (no drift), from now for cron */
    double new_next;
    if (!has_next || strcmp(expected, "never") == 0 || requested)
        new_next = j->valid ? sched_next_after(&j->cfg, now) : -1;
    else if (j->is_cron)
        new_next = sched_next_after(&j->cfg, now);
    else {
        new_next = next + j->cfg.every;
        if (new_next <= now)
            new_next = now + j->cfg.every;
    }
    if (!has_next && !requested)
        due = false;   /* first sight of this job: schedule it, do not run it */
    char new_text[64];
    fmt_time(new_next, new_text, sizeof new_text);
    r = control_redis_command(s->redis, err, sizeof err, "EVAL %s 2 %s %s %s %s %s", claim_script,
                              KEY_SCHED_LEADER, j->key, s->id, expected, new_text);
    if (!r) {
        drop_connection(s, err);
        return -1;
    }
    long long claimed = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    if (claimed < 0) {
        set_leader(s, false, NULL);   /* the lease is someone else's; the keeper sees it too */
        return 0;
    }
    if (claimed == 0 || !due)
        return 0;
    char result[512];
    if (!j->valid)
        snprintf(result, sizeof result, "%s", j->error);
    else
        run_action(s, j, requested || !has_next ? new_text : expected, result, sizeof result);
    if (!s->redis)
        return -1;
    log_info("schedule %s: %s", j->cfg.name, result);
    char last[64];
    fmt_time(clock_wall(), last, sizeof last);
    redisAppendCommand(s->redis, "HSET %s last_run %s last_result %s leader %s", j->key, last, result, s->id);
    redisAppendCommand(s->redis, "HINCRBY %s runs 1", j->key);
    for (int i = 0; i < 2; i++) {
        redisReply *rr = NULL;
        if (redisGetReply(s->redis, (void **)&rr) != REDIS_OK) {
            drop_connection(s, "Redis: connection lost recording a run");
            return -1;
        }
        freeReplyObject(rr);
    }
    return 0;
}

/* Reads the fleet; as leader (report), appends "worker.lost" for each
 * worker that went silent since the last read. A node that has just become
 * leader also reports the workers lost in the last FLEET_JUST_LOST seconds:
 * as a follower it saw them go but did not say so, and the one that would
 * have may be the leader that died. */
static void follow_fleet(struct sched *s, bool report)
{
    char err[256];
    struct fleet_table *t;
    if (fleet_read(s->redis, s->fleet, clock_wall(), &t, err, sizeof err) < 0) {
        if (s->redis->err)
            drop_connection(s, err);
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct fleet_worker *w = &t->workers[i];
        bool just_lost = w->state == FLEET_LOST && !s->reported && clock_wall() - w->last_beat < FLEET_JUST_LOST;
        if (!report || !(w->newly_lost || just_lost))
            continue;
        char text[600];
        snprintf(text, sizeof text, "worker %s (pid %ld on %s) stopped sending heartbeats", w->id, w->pid, w->host);
        log_warn("scheduler: %s", text);
        if (events_append(s->redis, "worker.lost", w->id, text, err, sizeof err) < 0)
            log_warn("scheduler: %s", err);
    }
    fleet_table_free(s->fleet);
    s->fleet = t;
    s->reported = report;
}

/* ---------------------------------------------------------- thread */

static bool sleep_until(struct sched *s, double deadline)
{
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        double left = deadline - clock_mono();
        if (left <= 0)
            break;
        struct timespec ts = clock_realtime_after(left);
        pthread_cond_timedwait(&s->wake, &s->lock, &ts);
    }
    bool stopping = s->stopping;
    pthread_mutex_unlock(&s->lock);
    return stopping;
}

static void *sched_main(void *arg)
{
    struct sched *s = arg;
    struct backoff bo;
    backoff_init(&bo, 0.5, 10, (unsigned)getpid() ^ 0x5ced);
    double next_connect = 0;
    for (;;) {
        double started = clock_mono();
        if (!s->redis && started >= next_connect) {
            char err[256];
            s->redis = redis_open(s->url, s->lease / 2, 0, err, sizeof err);
            if (s->redis) {
                backoff_reset(&bo);
            } else {
                log_warn("scheduler: %s", err);
                next_connect = started + backoff_next(&bo);
            }
        }
        if (s->redis) {
            double now = clock_wall();
            if (sched_is_leader(s))
                register_jobs(s);
            for (size_t i = 0; i < s->njobs && s->redis && !s->stopping && sched_is_leader(s); i++)
                tend_job(s, &s->jobs[i], now);
            /* every node follows the fleet, so a new leader remembers who was there */
            if (s->redis && started - s->fleet_read_at >= FLEET_EVERY) {
                s->fleet_read_at = started;
                follow_fleet(s, sched_is_leader(s));
            }
        }
        if (!s->redis && next_connect < clock_mono())
            next_connect = clock_mono() + backoff_next(&bo);
        if (sleep_until(s, started + TICK))
            break;
    }
    if (s->redis)
        redisFree(s->redis);
    s->redis = NULL;
    return NULL;
}

#define KEEPER_TRY 0.5   /* seconds between attempts to take a free lease */

static void *keeper_main(void *arg)
{
    struct sched *s = arg;
    struct backoff bo;
    backoff_init(&bo, 0.5, 10, (unsigned)getpid() ^ 0x1ea5e);
    double next_connect = 0;
    for (;;) {
        double started = clock_mono();
        if (!s->keeper_redis && started >= next_connect) {
            char err[256];
            /* replies must come well within the lease, or it lapses while we wait */
            s->keeper_redis = redis_open(s->url, s->lease / 3, 0, err, sizeof err);
            if (s->keeper_redis)
                backoff_reset(&bo);
            else
                next_connect = started + backoff_next(&bo);
        }
        if (s->keeper_redis && keep_lease(s) < 0)
            next_connect = clock_mono() + backoff_next(&bo);
        if (!s->keeper_redis && sched_is_leader(s))
            set_leader(s, false, NULL);
        if (sleep_until(s, started + (sched_is_leader(s) ? s->lease / 3 : KEEPER_TRY)))
            break;
    }
    /* a clean stop hands the lease over at once */
    if (s->keeper_redis && sched_is_leader(s)) {
        char err[256];
        redisReply *r = control_redis_command(s->keeper_redis, err, sizeof err, "EVAL %s 1 %s %s", release_script,
                                              KEY_SCHED_LEADER, s->id);
        if (r)
            freeReplyObject(r);
    }
    set_leader(s, false, NULL);
    if (s->keeper_redis)
        redisFree(s->keeper_redis);
    s->keeper_redis = NULL;
    return NULL;
}

struct sched *sched_start(const struct sched_options *opt, char *err, size_t errlen)
{
    if (!opt->redis_url || !*opt->redis_url || !opt->node_id || !*opt->node_id) {
        snprintf(err, errlen, "the scheduler needs a Redis URL and this process's worker id");
        return NULL;
    }
    struct sched *s = xcalloc(1, sizeof *s);
    s->url = xstrdup(opt->redis_url);
    s->id = xstrdup(opt->node_id);
    s->lease = opt->lease > 0 ? opt->lease : 3;
    s->publish = opt->publish;
    s->replay = opt->replay;
    s->hook_ctx = opt->hook_ctx;
    s->fleet_read_at = -INFINITY;
    if (opt->ctx) {
        s->ctx = xcalloc(1, sizeof *s->ctx);
        config_context_init(s->ctx, opt->ctx->name ? opt->ctx->name : "default");
        s->ctx->amqp = dup_or_null(opt->ctx->amqp);
        s->ctx->redis = dup_or_null(opt->ctx->redis);
        s->ctx->timeout = opt->ctx->timeout;
    }
    s->jobs = xcalloc(opt->njobs ? opt->njobs : 1, sizeof *s->jobs);
    s->njobs = opt->njobs;
    for (size_t i = 0; i < opt->njobs; i++)
        prepare_job(&s->jobs[i], &opt->jobs[i]);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    s->thread_running = pthread_create(&s->thread, NULL, sched_main, s) == 0;
    s->keeper_running = s->thread_running && pthread_create(&s->keeper, NULL, keeper_main, s) == 0;
    if (!s->keeper_running) {
        snprintf(err, errlen, "cannot start the scheduler threads");
        sched_stop(s);
        return NULL;
    }
    return s;
}

void sched_stop(struct sched *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    /* jobs first (a job in progress finishes under a lease still held), then the lease */
    if (s->thread_running)
        pthread_join(s->thread, NULL);
    if (s->keeper_running)
        pthread_join(s->keeper, NULL);
    for (size_t i = 0; i < s->njobs; i++)
        free_schedule(&s->jobs[i].cfg);
    free(s->jobs);
    if (s->ctx) {
        config_context_free(s->ctx);
        free(s->ctx);
    }
    fleet_table_free(s->fleet);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s->url);
    free(s->id);
    free(s);
}

/* ---------------------------------------------------------- CLI side */

int sched_job_read(redisContext *c, const char *name, struct sched_job_state *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->next_run = out->last_run = NAN;
    redisReply *r = control_redis_command(c, err, errlen,
                                          "HMGET " KEY_SCHED_PREFIX "%s next_run last_run last_result paused runs "
                                          "leader run_requested",
                                          name);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 7) {
        snprintf(err, errlen, "unexpected reply to HMGET");
        freeReplyObject(r);
        return -1;
    }
    const char *v[7];
    for (size_t i = 0; i < 7; i++) {
        v[i] = r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : NULL;
        out->exists |= v[i] != NULL;
    }
    if (v[0] && strcmp(v[0], "never") != 0)
        out->next_run = atof(v[0]);
    if (v[1])
        out->last_run = atof(v[1]);
    snprintf(out->last_result, sizeof out->last_result, "%s", v[2] ? v[2] : "");
    out->paused_set = v[3] != NULL;
    out->paused = v[3] && strcmp(v[3], "1") == 0;
    out->runs = v[4] ? atol(v[4]) : 0;
    snprintf(out->leader, sizeof out->leader, "%s", v[5] ? v[5] : "");
    out->run_requested = v[6] != NULL;
    freeReplyObject(r);
    return 0;
}

/* A job hash written from the CLI or console is registered too, as the
 * leader's are, so every reader finds it. */
static int register_job_name(redisContext *c, const char *name, char *err, size_t errlen)
{
    redisReply *r = control_redis_command(c, err, errlen, "SADD %s %s", KEY_SCHED_REGISTRY, name);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

int sched_job_set_paused(redisContext *c, const char *name, bool paused, bool *was, char *err, size_t errlen)
{
    struct sched_job_state st;
    if (sched_job_read(c, name, &st, err, errlen) < 0)
        return -1;
    if (was)
        *was = st.paused;
    redisReply *r = control_redis_command(c, err, errlen, "HSET " KEY_SCHED_PREFIX "%s paused %s", name,
                                          paused ? "1" : "0");
    if (!r)
        return -1;
    freeReplyObject(r);
    return register_job_name(c, name, err, errlen);
}

int sched_job_request_run(redisContext *c, const char *name, char *err, size_t errlen)
{
    char now[64];
    fmt_time(clock_wall(), now, sizeof now);
    redisReply *r = control_redis_command(c, err, errlen, "HSET " KEY_SCHED_PREFIX "%s run_requested %s", name, now);
    if (!r)
        return -1;
    freeReplyObject(r);
    return register_job_name(c, name, err, errlen);
}

int sched_leader(redisContext *c, char *buf, size_t len, char *err, size_t errlen)
{
    redisReply *r = control_redis_command(c, err, errlen, "GET %s", KEY_SCHED_LEADER);
    if (!r)
        return -1;
    snprintf(buf, len, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    return 0;
}
