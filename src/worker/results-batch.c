/* Per-task Redis work in batches (issue 11). One thread per worker owns one
 * Redis connection (hiredis is not thread-safe). Slot threads, the watchdog
 * and consumers queue requests; the thread takes everything queued since
 * its last round trip, appends it all as one MULTI ... EXEC pipeline
 * (redisAppendCommand), reads the replies in order and hands each task back
 * to the pool. A round trip carries as many tasks as arrived during the
 * previous one, so round trips grow with time, not with tasks. MULTI/EXEC
 * because a pipeline this long takes several write()s: a worker killed
 * between two of them must not leave a done key without its COMPLETED
 * record, or the reverse; Redis applies a transaction whole or not at all.
 *
 * One FIFO keeps the order the guarantees need (check, run, mark, ack):
 *   check       EXISTS qdeck:done:<key> for every task received, before it
 *               enters the run queue; start() acts on t->idem_done before
 *               the handler runs. Redis away: answered "not done" at once,
 *               as the synchronous check did (the task runs; it is not
 *               acked until its mark is stored).
 *   PROCESSING  queued by start(), fire and forget. Folded: when the task's
 *               outcome is queued before this record went out (a task that
 *               ran quicker than a round trip), it is not sent; the outcome's
 *               record carries its fields (type, queue, attempt, started_at,
 *               worker) in the same HSET. A reader then sees PENDING until
 *               COMPLETED/FAILED lands one round trip later, never a record
 *               missing a field; a task slower than a round trip shows
 *               PROCESSING as before. Lost writes are not retried (as before).
 *   completed   SET NX PX the done key and the COMPLETED record. The task
 *               goes back for its ack (settle_completed) only when every reply
 *               is in and none is an error. Otherwise it waits here and goes
 *               out again on a timer (RETRY_PAUSE plus jitter, never a spin);
 *               once the drain deadline passes, on a fast stop, or when the
 *               batcher stops, it is given back unacked.
 *   failed      the PENDING (retry waits) or FAILED record, best effort as
 *               before, then the retry / dead letter is settled.
 *   trace       each outcome (completed, failed) also appends its attempt's
 *               qdeck:trace record (XADD MAXLEN ~, results_append_trace):
 *               one command more in the same transaction, no round trip
 *               more. Best effort: a refused XADD is logged, never holds an
 *               ack; a record Redis took is not sent again when the marks
 *               go out again.
 *   return      no command: a task given back waits for the writes queued
 *               before it, which may still point at it.
 * A crash anywhere loses nothing: no ack is sent before its mark is stored,
 * and a mark stored without its ack makes the redelivery a skip. */
#include "worker/results-batch.h"
#include "worker/settle.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "worker/consumer.h"
#include "worker/pool.h"

#define RETRY_PAUSE 0.2    /* seconds between tries to store marks while Redis is away */
#define RETRY_JITTER 0.1

enum batch_op { OP_CHECK, OP_PROCESSING, OP_COMPLETED, OP_FAILED, OP_RETURN };

struct batch_req {
    struct batch_req *next;
    enum batch_op op;
    struct task *t;        /* OP_CHECK: the first of n, linked by next */
    int n;
    bool folded;           /* PROCESSING: not sent; an outcome: its record carries the start */
    int replies;           /* appended to this round trip's pipeline */
    int traced;            /* of which the last (0 or 1) is the qdeck:trace record: best effort */
    bool trace_stored;     /* Redis took the trace record: a retry of the marks sends it no more */
    bool stored;           /* every reply read and none an error */
};

struct results_batch {
    struct worker *w;
    struct results redis;          /* the batcher thread's connection */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct batch_req *head, *tail; /* queued, oldest first */
    bool sleeping, exit, stopped;
    struct batch_req *waiting;     /* batcher thread: marks not stored yet, oldest first */
    double retry_at;
    unsigned seed;
    unsigned long long round_trips, tasks;
};

/* ------------------------------------------------------------ the round trip */

static int append(struct results_batch *rb, redisContext *c, struct batch_req *r)
{
    const struct results *cfg = &rb->redis;
    switch (r->op) {
    case OP_CHECK: {
        int n = 0;
        struct task *t = r->t;
        for (int i = 0; i < r->n; i++, t = t->next)
            if (!t->poison)
                n += results_append_check(c, t);
        return n;
    }
    case OP_PROCESSING: return r->folded ? 0 : results_append_processing(cfg, c, r->t);
    case OP_COMPLETED: {
        int n = results_append_completed(cfg, c, r->t, r->folded);
        r->traced = r->trace_stored ? 0 : results_append_trace(cfg, c, r->t, "ok");
        return n + r->traced;
    }
    case OP_FAILED: {
        int n = results_append_failed(cfg, c, r->t, r->t->settle == SETTLE_DEAD, r->folded);
        r->traced = r->trace_stored ? 0 : results_append_trace(cfg, c, r->t, results_trace_outcome(r->t));
        return n + r->traced;
    }
    case OP_RETURN: return 0;
    }
    return 0;
}

/* Reads r's replies from the EXEC reply's elements, from *next on. */
static void read_replies(struct batch_req *r, const redisReply *exec, size_t *next)
{
    struct task *t = r->t;
    bool refused = false;
    for (int k = 0; k < r->replies; k++) {
        if (r->op == OP_CHECK)
            while (t->poison)
                t = t->next;
        const redisReply *reply = *next < exec->elements ? exec->element[*next] : NULL;
        (*next)++;
        bool trace = k >= r->replies - r->traced;
        if (trace && reply && reply->type != REDIS_REPLY_ERROR) {
            r->trace_stored = true;
        } else if (trace && reply) {
            log_warn("trace: task %s: Redis refused its record: %s", t->id, reply->str);
        } else if (!reply || reply->type == REDIS_REPLY_ERROR) {
            refused = true;
            log_warn("result store: task %s: Redis refused a write: %s", t->id, reply ? reply->str : "no reply");
        } else if (r->op == OP_CHECK) {
            t->idem_done = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
        }
        if (r->op == OP_CHECK)
            t = t->next;
    }
    r->stored = !refused;
}

/* Reads MULTI's +OK and one QUEUED per command, then EXEC's reply into
 * *exec (NULL with -1 when the connection failed; an error reply when
 * Redis refused the transaction). */
static int read_transaction(redisContext *c, int queued, redisReply **exec)
{
    *exec = NULL;
    for (int i = 0; i <= queued; i++) {
        void *rep = NULL;
        if (redisGetReply(c, &rep) != REDIS_OK)
            return -1;
        redisReply *reply = rep;
        if (reply->type == REDIS_REPLY_ERROR)
            log_warn("result store: Redis refused a command: %s", reply->str);
        freeReplyObject(reply);
    }
    void *rep = NULL;
    if (redisGetReply(c, &rep) != REDIS_OK)
        return -1;
    *exec = rep;
    return 0;
}

/* One round trip for the whole list, as one MULTI/EXEC (see the top). */
static void round_trip(struct results_batch *rb, struct batch_req *list)
{
    redisContext *c = results_connection(&rb->redis);
    if (!c)
        return;
    redisAppendCommand(c, "MULTI");
    int n = 0;
    for (struct batch_req *r = list; r; r = r->next)
        n += r->replies = append(rb, c, r);
    redisAppendCommand(c, "EXEC");
    rb->round_trips++;
    redisReply *exec;
    if (read_transaction(c, n, &exec) < 0) {
        char why[200];
        snprintf(why, sizeof why, "%s", c->errstr[0] ? c->errstr : "connection lost");
        results_broken(&rb->redis, why);
        return;
    }
    if (exec->type != REDIS_REPLY_ARRAY) {
        log_warn("result store: Redis refused %d write(s): %s", n,
                 exec->type == REDIS_REPLY_ERROR ? exec->str : "EXEC did not answer with an array");
        freeReplyObject(exec);
        return;
    }
    size_t next = 0;
    for (struct batch_req *r = list; r; r = r->next)
        read_replies(r, exec, &next);
    freeReplyObject(exec);
}

/* ------------------------------------------------------------ outcomes */

static bool give_up(struct results_batch *rb, bool last)
{
    int stopping = worker_stopping(rb->w);
    return last || stopping == 2 || (stopping == 1 && clock_mono() > worker_drain_deadline(rb->w));
}

/* Each request's task back to the pool; marks not stored stay in
 * rb->waiting (or are given back when it is too late to wait). */
static void answer(struct results_batch *rb, struct batch_req *list, bool last)
{
    struct task *checked = NULL, *checked_tail = NULL;
    int nchecked = 0;
    struct batch_req **wait_end = &rb->waiting;
    while (*wait_end)
        wait_end = &(*wait_end)->next;
    bool was_waiting = rb->waiting != NULL;
    int newly_waiting = 0;
    for (struct batch_req *r = list, *next; r; r = next) {
        next = r->next;
        r->next = NULL;
        struct task *t = r->t;
        switch (r->op) {
        case OP_CHECK: {
            struct task *last_task = t;
            while (last_task->next)
                last_task = last_task->next;
            if (checked_tail)
                checked_tail->next = t;
            else
                checked = t;
            checked_tail = last_task;
            nchecked += r->n;
            break;
        }
        case OP_PROCESSING: break;
        case OP_COMPLETED:
            if (r->stored) {
                rb->tasks++;
                settle_completed(rb->w, t);
            } else if (give_up(rb, last)) {
                log_warn("task %s finished but its result could not be stored: given back", t->id);
                t->settle = SETTLE_RETURN;
                settle_decided(rb->w, t);
            } else {
                r->replies = 0;
                *wait_end = r;
                wait_end = &r->next;
                newly_waiting++;
                continue;   /* kept */
            }
            break;
        case OP_FAILED:
        case OP_RETURN: settle_decided(rb->w, t); break;
        }
        free(r);
    }
    if (newly_waiting) {
        rb->retry_at = clock_mono() + RETRY_PAUSE + RETRY_JITTER * ((double)rand_r(&rb->seed) / RAND_MAX);
        if (!was_waiting)
            log_warn("result store unreachable: %d finished task(s) wait for their done mark before the ack", newly_waiting);
    }
    if (checked)
        pool_checked(rb->w, checked, checked_tail, nchecked);
}

/* ------------------------------------------------------------ the thread */

static void *batch_main(void *arg)
{
    struct results_batch *rb = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&rb->lock);
    for (;;) {
        double now = clock_mono();
        bool retry_due = rb->waiting && now >= rb->retry_at;
        if (!rb->head && !retry_due && !rb->exit) {
            rb->sleeping = true;
            if (rb->waiting) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                double left = rb->retry_at - now;
                ts.tv_sec += (time_t)left;
                ts.tv_nsec += (long)((left - (double)(time_t)left) * 1e9);
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&rb->cond, &rb->lock, &ts);
            } else {
                pthread_cond_wait(&rb->cond, &rb->lock);
            }
            rb->sleeping = false;
            continue;
        }
        struct batch_req *list = rb->head;
        rb->head = rb->tail = NULL;
        for (struct batch_req *r = list; r; r = r->next)
            if (r->op == OP_PROCESSING && !r->folded)
                r->t->results_pending = NULL;   /* going out now: too late to fold */
        bool last = rb->exit;
        pthread_mutex_unlock(&rb->lock);

        if (rb->waiting && (retry_due || last)) {
            struct batch_req **end = &rb->waiting;
            while (*end)
                end = &(*end)->next;
            *end = list;
            list = rb->waiting;
            rb->waiting = NULL;
        }
        round_trip(rb, list);
        answer(rb, list, last);

        pthread_mutex_lock(&rb->lock);
        if (last && !rb->head) {
            rb->stopped = true;
            break;
        }
    }
    pthread_mutex_unlock(&rb->lock);
    results_close(&rb->redis);
    return NULL;
}

/* Queues r, or answers it at once (as if Redis were away) once the
 * batcher has stopped. */
static void enqueue(struct results_batch *rb, struct batch_req *r)
{
    r->next = NULL;
    pthread_mutex_lock(&rb->lock);
    if (rb->stopped) {
        pthread_mutex_unlock(&rb->lock);
        answer(rb, r, true);
        return;
    }
    struct task *t = r->t;
    if (r->op == OP_PROCESSING) {
        t->results_pending = r;
    } else if (r->op != OP_CHECK && t->results_pending) {
        /* its PROCESSING record has not gone out: this record says it all */
        ((struct batch_req *)t->results_pending)->folded = true;
        r->folded = true;
        t->results_pending = NULL;
    }
    if (rb->tail)
        rb->tail->next = r;
    else
        rb->head = r;
    rb->tail = r;
    if (rb->sleeping)
        pthread_cond_signal(&rb->cond);
    pthread_mutex_unlock(&rb->lock);
}

static void request(struct results_batch *rb, enum batch_op op, struct task *t, int n)
{
    struct batch_req *r = xcalloc(1, sizeof *r);
    r->op = op;
    r->t = t;
    r->n = n;
    enqueue(rb, r);
}

void results_batch_check(struct results_batch *rb, struct task *head, int n)
{
    for (struct task *t = head; t; t = t->next)
        t->idem_done = false;
    request(rb, OP_CHECK, head, n);
}

void results_batch_processing(struct results_batch *rb, struct task *t)
{
    if (rb->redis.store)
        request(rb, OP_PROCESSING, t, 1);
}

void results_batch_completed(struct results_batch *rb, struct task *t) { request(rb, OP_COMPLETED, t, 1); }
void results_batch_failed(struct results_batch *rb, struct task *t) { request(rb, OP_FAILED, t, 1); }
void results_batch_return(struct results_batch *rb, struct task *t) { request(rb, OP_RETURN, t, 1); }

/* ------------------------------------------------------------ life */

struct results_batch *results_batch_start(struct worker *w, const struct results *config, char *err, size_t errlen)
{
    if (!config->url || (!config->store && !config->idempotency && config->trace_max <= 0))
        return NULL;
    struct results_batch *rb = xcalloc(1, sizeof *rb);
    rb->w = w;
    rb->redis = *config;
    rb->redis.c = NULL;
    rb->seed = (unsigned)getpid() ^ (unsigned)(uintptr_t)rb;
    pthread_mutex_init(&rb->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&rb->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&rb->thread, NULL, batch_main, rb) != 0) {
        snprintf(err, errlen, "cannot start the result store's thread");
        pthread_mutex_destroy(&rb->lock);
        pthread_cond_destroy(&rb->cond);
        free(rb);
        return NULL;
    }
    return rb;
}

void results_batch_stop(struct results_batch *rb)
{
    if (!rb)
        return;
    pthread_mutex_lock(&rb->lock);
    bool running = !rb->exit;
    rb->exit = true;
    pthread_cond_signal(&rb->cond);
    pthread_mutex_unlock(&rb->lock);
    if (!running)
        return;
    pthread_join(rb->thread, NULL);
    log_info("result store: %llu task(s) marked completed in %llu round trip(s)", rb->tasks, rb->round_trips);
}

void results_batch_free(struct results_batch *rb)
{
    if (!rb)
        return;
    results_batch_stop(rb);
    pthread_mutex_destroy(&rb->lock);
    pthread_cond_destroy(&rb->cond);
    free(rb);
}
