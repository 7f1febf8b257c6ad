/* The rate waiting room (see ratewait.h).
 *
 * The thread's loop, under the room's lock: hand out the slots that have
 * begun, one waiting task each (FIFO); reserve slots for tasks that have
 * none once the slots already held come within RESERVE_LEAD (so tasks that
 * arrive one by one are reserved for together); otherwise sleep until the
 * next slot, the next reservation, or the earliest deadline of a waiting
 * task, whichever comes first. Waits use a monotonic condition variable;
 * an enter or a stop signals it. */
#include "worker/ratewait.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "net/redis-open.h"
#include "resilience/dependency.h"
#include "worker/pool.h"
#include "worker/task.h"

#define RESERVE_LEAD 0.25        /* reserve more once held slots reach no further ahead than this */
#define RECONNECT_WAIT 1.0       /* seconds (plus jitter) between Redis connection attempts */

struct ratewait {
    struct worker *w;
    struct dependency *dep;
    char *redis_url;
    redisContext *redis;
    double reconnect_at;
    unsigned seed;

    pthread_mutex_t lock;
    pthread_cond_t cond;         /* CLOCK_MONOTONIC */
    struct task *head, *tail;    /* waiting for a rate permit, linked by next, oldest first */
    int len;
    struct task *bh_head, *bh_tail;   /* waiting for a bulkhead place */
    int bh_len;
    struct slot {
        double at, until;        /* clock_mono: the permit's start, and when it lapses */
    } slots[RATEWAIT_MAX];       /* granted, a ring, earliest first */
    int slot_head, nslots;
    double reserve_at;           /* no reservation before this (refused: the fleet is booked past the horizon) */
    bool stopped, quit;
    pthread_t thread;
    bool started;
    _Atomic uint64_t lapsed;
};

struct ratewait *ratewait_new(struct worker *w, struct dependency *dep, const char *redis_url)
{
    struct ratewait *r = xcalloc(1, sizeof *r);
    r->w = w;
    r->dep = dep;
    r->redis_url = redis_url ? xstrdup(redis_url) : NULL;
    r->seed = (unsigned)getpid() ^ (unsigned)(uintptr_t)r;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    return r;
}

static double jitter(struct ratewait *r, double upto) { return upto * (double)rand_r(&r->seed) / ((double)RAND_MAX + 1.0); }

static void wait_until(struct ratewait *r, double when)
{
    if (!isfinite(when)) {
        pthread_cond_wait(&r->cond, &r->lock);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double left = when - clock_mono();
    if (left <= 0)
        return;
    double whole = floor(left);
    ts.tv_sec += (time_t)whole;
    ts.tv_nsec += (long)((left - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&r->cond, &r->lock, &ts);
}

/* The connection a fleet rate needs, or NULL (then the local bucket
 * answers). Outside the lock. */
static redisContext *fleet_link(struct ratewait *r)
{
    if (!r->redis_url || !r->dep->rate.fleet)
        return NULL;
    if (r->redis && r->redis->err) {
        redisFree(r->redis);
        r->redis = NULL;
        r->reconnect_at = clock_mono() + RECONNECT_WAIT + jitter(r, RECONNECT_WAIT);
    }
    if (!r->redis && clock_mono() >= r->reconnect_at) {
        char err[256];
        r->redis = redis_open(r->redis_url, 2.0, 5.0, err, sizeof err);
        if (!r->redis) {
            log_warn("rate limit %s: %s; using the local bucket until it answers", r->dep->name, err);
            r->reconnect_at = clock_mono() + RECONNECT_WAIT + jitter(r, RECONNECT_WAIT);
        }
    }
    return r->redis;
}

/* Unlinks the task after prev (NULL: the head) from a waiting line. */
static struct task *unlink_after(struct task **head, struct task **tail, int *n, struct task *prev)
{
    struct task *t = prev ? prev->next : *head;
    if (prev)
        prev->next = t->next;
    else
        *head = t->next;
    if (*tail == t)
        *tail = prev;
    t->next = NULL;
    (*n)--;
    return t;
}

static void push(struct task **head, struct task **tail, int *n, struct task *t)
{
    t->next = NULL;
    if (*tail)
        (*tail)->next = t;
    else
        *head = t;
    *tail = t;
    (*n)++;
}

/* Moves the tasks of a waiting line that are to leave now (all when
 * stopped, else those whose deadline passed) to the out list; returns the
 * seconds until the earliest deadline still waiting. */
static double take_expired(struct ratewait *r, struct task **lhead, struct task **ltail, int *ln, double wall,
                           struct task **head, struct task **tail, int *n)
{
    double earliest = INFINITY;
    struct task *prev = NULL;
    for (struct task *t = *lhead; t;) {
        if (r->stopped || (t->deadline > 0 && wall >= t->deadline)) {
            struct task *next = t->next;
            push(head, tail, n, unlink_after(lhead, ltail, ln, prev));
            t = next;
            continue;
        }
        if (t->deadline > 0 && t->deadline - wall < earliest)
            earliest = t->deadline - wall;
        prev = t;
        t = t->next;
    }
    return earliest;
}

/* Takes out what is to go to the run queue now: everything when stopped,
 * else tasks whose deadline passed (no permit), one task per slot that has
 * begun (with its permit), and as many bulkhead waiters as places are
 * free. Returns when the earliest deadline still waiting passes. Under
 * the lock. */
static double take_due(struct ratewait *r, double now, struct task **head, struct task **tail, int *n)
{
    double wall = clock_wall();
    double earliest = take_expired(r, &r->head, &r->tail, &r->len, wall, head, tail, n);
    double bh = take_expired(r, &r->bh_head, &r->bh_tail, &r->bh_len, wall, head, tail, n);
    earliest = bh < earliest ? bh : earliest;
    struct bulkhead *b = &r->dep->bulkhead;
    for (int free_places = b->max - bulkhead_in_use(b); r->bh_head && free_places > 0; free_places--)
        push(head, tail, n, unlink_after(&r->bh_head, &r->bh_tail, &r->bh_len, NULL));
    while (r->head && r->nslots > 0 && r->slots[r->slot_head].at <= now) {
        struct slot s = r->slots[r->slot_head];
        r->slot_head = (r->slot_head + 1) % RATEWAIT_MAX;
        r->nslots--;
        if (now > s.until) {   /* this thread woke too late for it */
            atomic_fetch_add(&r->lapsed, 1);
            continue;
        }
        struct task *t = unlink_after(&r->head, &r->tail, &r->len, NULL);
        t->rate_granted = true;
        t->rate_until = s.until;
        push(head, tail, n, t);
    }
    if (r->nslots > r->len)   /* more slots than tasks left (deadlines, stop): the latest lapse */
        r->nslots = r->len;
    return now + earliest;
}

/* Reserves slots for the waiting tasks that hold none, outside the lock;
 * returns with it held. */
static void reserve(struct ratewait *r, double now, int wanted)
{
    pthread_mutex_unlock(&r->lock);
    struct ratelimit_grant g;
    redisContext *link = fleet_link(r);
    ratelimit_reserve(&r->dep->rate, link, wanted, RATEWAIT_HORIZON, &g);
    double base = clock_mono();
    pthread_mutex_lock(&r->lock);
    int room = RATEWAIT_MAX - r->nslots;
    if (g.granted > room)
        g.granted = room;   /* cannot happen while len <= RATEWAIT_MAX; the excess would lapse */
    for (int i = 0; i < g.granted; i++) {
        double at = base + g.first + i * g.interval;
        at = at > base ? at : base;
        r->slots[(r->slot_head + r->nslots) % RATEWAIT_MAX] = (struct slot){at, at + g.window};
        r->nslots++;
    }
    if (g.granted == 0) {
        /* booked past the horizon, or the local bucket is empty: back when
         * the first slot comes within reach, a little spread so a fleet
         * refused together does not come back together */
        double after = g.retry_after > 0.001 ? g.retry_after : 0.001;
        r->reserve_at = now + after + jitter(r, after / 4 < 0.1 ? after / 4 : 0.1);
    }
}

static void *ratewait_main(void *arg)
{
    struct ratewait *r = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&r->lock);
    while (!r->quit) {
        double now = clock_mono();
        struct task *head = NULL, *tail = NULL;
        int n = 0;
        double wake = take_due(r, now, &head, &tail, &n);
        if (n) {
            pthread_mutex_unlock(&r->lock);
            pool_submit(r->w, head, tail, n);
            pthread_mutex_lock(&r->lock);
            continue;
        }
        if (r->len == 0) {
            r->nslots = 0;
            wait_until(r, wake);   /* an enter, a freed place, a stop, or a bulkhead waiter's deadline */
            continue;
        }
        double last = r->nslots ? r->slots[(r->slot_head + r->nslots - 1) % RATEWAIT_MAX].at : now;
        if (r->len > r->nslots) {
            double at = last - RESERVE_LEAD > r->reserve_at ? last - RESERVE_LEAD : r->reserve_at;
            if (now >= at) {
                reserve(r, now, r->len - r->nslots);
                continue;
            }
            wake = wake < at ? wake : at;
        }
        if (r->nslots && r->slots[r->slot_head].at < wake)
            wake = r->slots[r->slot_head].at;
        wait_until(r, wake);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int ratewait_start(struct ratewait *r)
{
    if (pthread_create(&r->thread, NULL, ratewait_main, r) != 0)
        return -1;
    r->started = true;
    return 0;
}

static int enter(struct ratewait *r, struct task **head, struct task **tail, int *n, struct task *t)
{
    pthread_mutex_lock(&r->lock);
    if (r->stopped || !r->started || r->len + r->bh_len >= RATEWAIT_MAX) {
        pthread_mutex_unlock(&r->lock);
        return -1;
    }
    t->rate_granted = false;
    push(head, tail, n, t);
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

int ratewait_enter(struct ratewait *r, struct task *t) { return enter(r, &r->head, &r->tail, &r->len, t); }
int ratewait_enter_bulkhead(struct ratewait *r, struct task *t) { return enter(r, &r->bh_head, &r->bh_tail, &r->bh_len, t); }

void ratewait_bulkhead_freed(struct ratewait *r)
{
    pthread_mutex_lock(&r->lock);
    if (r->bh_head)
        pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

void ratewait_stop(struct ratewait *r)
{
    pthread_mutex_lock(&r->lock);
    r->stopped = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

void ratewait_free(struct ratewait *r)
{
    if (!r)
        return;
    if (r->started) {
        pthread_mutex_lock(&r->lock);
        r->stopped = r->quit = true;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
    }
    redisFree(r->redis);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r->redis_url);
    free(r);
}

int ratewait_waiting(struct ratewait *r)
{
    pthread_mutex_lock(&r->lock);
    int n = r->len;
    pthread_mutex_unlock(&r->lock);
    return n;
}

int ratewait_waiting_bulkhead(struct ratewait *r)
{
    pthread_mutex_lock(&r->lock);
    int n = r->bh_len;
    pthread_mutex_unlock(&r->lock);
    return n;
}

uint64_t ratewait_lapsed(struct ratewait *r) { return atomic_load(&r->lapsed); }
void ratewait_note_lapsed(struct ratewait *r) { atomic_fetch_add(&r->lapsed, 1); }
