/* The scheduler's engine (see the header): two core/loop.h threads. The
 * keeper (worker/sched-lease.c) takes and renews the lease on its own
 * connection. The job thread, every TICK seconds, as leader reads each job's hash and
 * claims and runs what is due, and every few seconds reads the fleet to
 * report workers that went silent. */
#include "worker/sched.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/events.h"
#include "control/fleet.h"
#include "control/keys.h"
#include "control/redis-connect.h"
#include "control/sched-state.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/log.h"
#include "net/redis-open.h"
#include "core/loop.h"
#include "core/xalloc.h"
#include "worker/cron.h"
#include "worker/sched-actions.h"
#include "worker/sched-lease.h"

#define TICK 0.2             /* seconds between looks at the jobs */
#define FLEET_EVERY 2.0      /* seconds between fleet reads for lost workers */
#define FLEET_JUST_LOST 10.0 /* a new leader reports workers lost this recently */

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
    struct job *jobs;
    size_t njobs;
    struct context_config *ctx;   /* copy of the context (URLs, TLS) for probes and publishes, or NULL */
    sched_publish_fn publish;
    sched_replay_fn replay;
    void *hook_ctx;

    struct loop loop;             /* the job thread */
    struct sched_lease lease;     /* the keeper thread, so a slow job never lets the lease lapse */
    redisContext *redis;          /* job thread only */
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
    sched_job_key(cfg->name, j->key, sizeof j->key);
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

/* ---------------------------------------------------------- leadership */

bool sched_is_leader(struct sched *s) { return s && sched_lease_is_leader(&s->lease); }

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

/* ---------------------------------------------------------- jobs */

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
    if (!sched_lease_fresh(&s->lease))
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
    sched_format_time(new_next, new_text, sizeof new_text);
    r = control_redis_command(s->redis, err, sizeof err, "EVAL %s 2 %s %s %s %s %s", claim_script,
                              KEY_SCHED_LEADER, j->key, s->id, expected, new_text);
    if (!r) {
        drop_connection(s, err);
        return -1;
    }
    long long claimed = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    if (claimed < 0) {
        sched_lease_lost(&s->lease);   /* the lease is someone else's; the keeper sees it too */
        return 0;
    }
    if (claimed == 0 || !due)
        return 0;
    char result[512];
    struct sched_action_env env = {.redis = s->redis, .control_url = s->url, .ctx = s->ctx,
                                   .publish = s->publish, .replay = s->replay, .hook_ctx = s->hook_ctx};
    if (!j->valid)
        snprintf(result, sizeof result, "%s", j->error);
    else
        sched_run_action(&env, &j->cfg, requested || !has_next ? new_text : expected, result, sizeof result);
    if (!s->redis)
        return -1;
    log_info("schedule %s: %s", j->cfg.name, result);
    char last[64];
    sched_format_time(clock_wall(), last, sizeof last);
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

static void sched_main(struct loop *l, void *arg)
{
    struct sched *s = arg;
    struct retry_timer reconnect;
    retry_timer_init(&reconnect, 0.5, 10, (unsigned)getpid() ^ 0x5ced);
    for (;;) {
        double started = clock_mono();
        if (!s->redis && retry_timer_due(&reconnect, started)) {
            char err[256];
            s->redis = redis_open(s->url, s->lease.seconds / 2, 0, err, sizeof err);
            if (s->redis) {
                retry_timer_succeeded(&reconnect);
            } else {
                log_warn("scheduler: %s", err);
                retry_timer_failed(&reconnect, started, 0);
            }
        }
        if (s->redis) {
            double now = clock_wall();
            if (sched_is_leader(s))
                register_jobs(s);
            for (size_t i = 0; i < s->njobs && s->redis && !loop_stopping(l) && sched_is_leader(s); i++)
                tend_job(s, &s->jobs[i], now);
            /* every node follows the fleet, so a new leader remembers who was there */
            if (s->redis && started - s->fleet_read_at >= FLEET_EVERY) {
                s->fleet_read_at = started;
                follow_fleet(s, sched_is_leader(s));
            }
        }
        if (!s->redis && retry_timer_due(&reconnect, clock_mono()))
            retry_timer_failed(&reconnect, clock_mono(), 0);
        if (loop_sleep_until(l, started + TICK))
            break;
    }
    if (s->redis)
        redisFree(s->redis);
    s->redis = NULL;
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
    s->publish = opt->publish;
    s->replay = opt->replay;
    s->hook_ctx = opt->hook_ctx;
    s->fleet_read_at = -INFINITY;
    if (opt->ctx) {
        s->ctx = xcalloc(1, sizeof *s->ctx);
        config_context_copy(s->ctx, opt->ctx);
    }
    s->jobs = xcalloc(opt->njobs ? opt->njobs : 1, sizeof *s->jobs);
    s->njobs = opt->njobs;
    for (size_t i = 0; i < opt->njobs; i++)
        prepare_job(&s->jobs[i], &opt->jobs[i]);
    loop_init(&s->loop);
    if (sched_lease_start(&s->lease, s->url, s->id, opt->lease > 0 ? opt->lease : 3) < 0 ||
        loop_start(&s->loop, sched_main, s) < 0) {
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
    /* jobs first (a job in progress finishes under a lease still held), then the lease */
    loop_stop(&s->loop);
    loop_destroy(&s->loop);
    sched_lease_stop(&s->lease);
    for (size_t i = 0; i < s->njobs; i++)
        free_schedule(&s->jobs[i].cfg);
    free(s->jobs);
    if (s->ctx) {
        config_context_free(s->ctx);
        free(s->ctx);
    }
    fleet_table_free(s->fleet);
    free(s->url);
    free(s->id);
    free(s);
}
