/* The scheduler's lease keeper (see the header): one core/loop.h thread
 * that takes or renews the lease, then sleeps lease/3 as leader, or
 * KEEPER_TRY while another process leads. */
#include "worker/sched-lease.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control/events.h"
#include "control/keys.h"
#include "control/lease.h"
#include "net/redis-open.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/log.h"

#define KEEPER_TRY 0.5   /* seconds between attempts to take a free lease */

static void set_leader(struct sched_lease *l, bool leader, redisContext *conn)
{
    pthread_mutex_lock(&l->lock);
    bool was = l->leader;
    l->leader = leader;
    pthread_mutex_unlock(&l->lock);
    if (was == leader)
        return;
    if (leader) {
        log_info("scheduler: %s is now the leader", l->id);
        char text[400], err[256];
        snprintf(text, sizeof text, "%s became the scheduler leader", l->id);
        if (conn && events_append(conn, "sched.leader", l->id, text, err, sizeof err) < 0)
            log_warn("scheduler: %s", err);
    } else {
        log_info("scheduler: %s is no longer the leader", l->id);
    }
}

bool sched_lease_is_leader(struct sched_lease *l)
{
    pthread_mutex_lock(&l->lock);
    bool leader = l->leader;
    pthread_mutex_unlock(&l->lock);
    return leader;
}

bool sched_lease_fresh(struct sched_lease *l)
{
    pthread_mutex_lock(&l->lock);
    bool fresh = l->leader && clock_mono() - l->renewed_at < l->seconds * 0.8;
    pthread_mutex_unlock(&l->lock);
    return fresh;
}

void sched_lease_lost(struct sched_lease *l) { set_leader(l, false, NULL); }

/* Takes the lease when free, or renews ours. -1 when Redis failed (the
 * connection is dropped and leadership with it). */
static int keep_lease(struct sched_lease *l)
{
    char err[256];
    double now = clock_mono();
    int ours = lease_keep(l->redis, KEY_SCHED_LEADER, l->id, l->seconds, sched_lease_is_leader(l), err, sizeof err);
    if (ours < 0) {
        log_warn("scheduler lease: %s", err);
        redisFree(l->redis);
        l->redis = NULL;
        set_leader(l, false, NULL);
        return -1;
    }
    if (ours) {
        pthread_mutex_lock(&l->lock);
        l->renewed_at = now;
        pthread_mutex_unlock(&l->lock);
    }
    set_leader(l, ours, l->redis);
    return 0;
}

static void keeper_main(struct loop *lp, void *arg)
{
    struct sched_lease *l = arg;
    struct retry_timer reconnect;
    retry_timer_init(&reconnect, 0.5, 10, (unsigned)getpid() ^ 0x1ea5e);
    for (;;) {
        double started = clock_mono();
        if (!l->redis && retry_timer_due(&reconnect, started)) {
            char err[256];
            /* replies must come well within the lease, or it lapses while we wait */
            l->redis = redis_open(l->url, l->seconds / 3, 0, err, sizeof err);
            if (l->redis)
                retry_timer_succeeded(&reconnect);
            else
                retry_timer_failed(&reconnect, started, 0);
        }
        if (l->redis && keep_lease(l) < 0)
            retry_timer_failed(&reconnect, clock_mono(), 0);
        if (!l->redis && sched_lease_is_leader(l))
            set_leader(l, false, NULL);
        if (loop_sleep_until(lp, started + (sched_lease_is_leader(l) ? l->seconds / 3 : KEEPER_TRY)))
            break;
    }
    /* a clean stop hands the lease over at once */
    if (l->redis && sched_lease_is_leader(l))
        lease_release(l->redis, KEY_SCHED_LEADER, l->id);
    set_leader(l, false, NULL);
    if (l->redis)
        redisFree(l->redis);
    l->redis = NULL;
}

int sched_lease_start(struct sched_lease *l, const char *url, const char *id, double seconds)
{
    memset(l, 0, sizeof *l);
    l->url = url;
    l->id = id;
    l->seconds = seconds;
    pthread_mutex_init(&l->lock, NULL);
    loop_init(&l->loop);
    return loop_start(&l->loop, keeper_main, l);
}

void sched_lease_stop(struct sched_lease *l)
{
    loop_stop(&l->loop);
    loop_destroy(&l->loop);
    pthread_mutex_destroy(&l->lock);
}
