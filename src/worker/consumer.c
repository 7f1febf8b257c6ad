/* The loop every consumer backend runs on its own thread (see consumer.h):
 * connect with capped, jittered backoff; apply settlements queued by slot
 * threads; receive; tick; and on stop, drain, give back, disconnect. */
#include "worker/consumer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "worker/pool.h"

#define TICK_INTERVAL 0.1
#define RECEIVE_WAIT 0.05
#define GUARDRAILS_WAIT 3.0   /* seconds to wait for the guardrails before receiving anyway */

struct consumer *consumer_new(struct worker *w, const struct queue_address *addr, int prefetch,
                              const struct consumer_ops *ops)
{
    struct consumer *c = xcalloc(1, sizeof *c);
    atomic_init(&c->paused, false);
    atomic_init(&c->done, 0);
    atomic_init(&c->shed_priority_below, -1);
    atomic_init(&c->max_depth, -1);
    atomic_init(&c->auto_shed, false);
    atomic_init(&c->depth, -1);
    c->w = w;
    c->addr.kind = addr->kind;
    c->addr.name = xstrdup(addr->name);
    c->addr.group = addr->group ? xstrdup(addr->group) : NULL;
    c->label = queue_address_format(addr);
    c->prefetch = prefetch;
    c->ops = ops;
    if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        log_error("consumer %s: pipe: %s", c->label, strerror(errno));
        abort();
    }
    atomic_init(&c->settle_stack, NULL);
    pthread_mutex_init(&c->health_lock, NULL);
    snprintf(c->health, sizeof c->health, "%s: connecting", c->ops->kind);
    return c;
}

void consumer_free(struct consumer *c)
{
    if (!c)
        return;
    if (c->ops->destroy)
        c->ops->destroy(c);
    for (struct task *t = c->settle_backlog, *n; t; t = n) {
        n = t->next;
        task_unref(t);
    }
    for (struct task *t = atomic_load(&c->settle_stack), *n; t; t = n) {
        n = t->next;
        task_unref(t);
    }
    close(c->wake[0]);
    close(c->wake[1]);
    queue_address_free(&c->addr);
    pthread_mutex_destroy(&c->health_lock);
    free(c->label);
    free(c);
}

/* A push onto a Treiber stack. The consumer thread only ever takes the
 * whole stack at once (atomic exchange), so there is no ABA to fear. */
void consumer_settle_later(struct consumer *c, struct task *t)
{
    struct task *head = atomic_load_explicit(&c->settle_stack, memory_order_relaxed);
    do
        t->next = head;
    while (!atomic_compare_exchange_weak_explicit(&c->settle_stack, &head, t, memory_order_release,
                                                  memory_order_relaxed));
    if (atomic_exchange(&c->wake_pending, 1) == 0) {
        char b = 1;
        ssize_t n = write(c->wake[1], &b, 1);
        (void)n;
    }
}

void consumer_drain_wake(struct consumer *c)
{
    char buf[64];
    atomic_store(&c->wake_pending, 0);
    while (read(c->wake[0], buf, sizeof buf) > 0) {
    }
}

void consumer_deliver(struct consumer *c, struct task *t)
{
    t->consumer = c;
    t->queue_label = c->label;
    t->generation = c->generation;
    t->received_mono = clock_mono();
    atomic_fetch_add(&c->in_flight, 1);
    worker_note_received(c->w);
    t->next = NULL;
    if (c->batch_tail)
        c->batch_tail->next = t;
    else
        c->batch_head = t;
    c->batch_tail = t;
    c->batch_len++;
}

void consumer_hand_over(struct consumer *c)
{
    pool_submit(c->w, c->batch_head, c->batch_tail, c->batch_len);
    c->batch_head = c->batch_tail = NULL;
    c->batch_len = 0;
}

static void settled(struct consumer *c, struct task *t)
{
    atomic_fetch_sub(&c->in_flight, 1);
    worker_note_settled(c->w);
    task_unref(t);
}

static int apply_batch(struct consumer *c, struct task **batch, int n)
{
    if (n == 0 || c->ops->settle_batch)
        return n ? c->ops->settle_batch(c, batch, n) : 0;
    int i = 0;
    while (i < n && c->ops->settle(c, batch[i]) == 0)
        i++;
    return i;
}

/* Applies every queued settlement; -1 when the connection broke (the rest
 * stays queued). */
static int apply_settlements(struct consumer *c)
{
    /* taking the queue answers every wake-up so far; settlements queued
     * after this point set the flag (and write the pipe) again */
    consumer_drain_wake(c);
    struct task *stack = atomic_exchange_explicit(&c->settle_stack, NULL, memory_order_acquire), *fresh = NULL;
    while (stack) {   /* newest first: reverse into the order they were queued */
        struct task *t = stack;
        stack = t->next;
        t->next = fresh;
        fresh = t;
    }
    struct task **end = &c->settle_backlog;
    while (*end)
        end = &(*end)->next;
    *end = fresh;
    struct task *list = c->settle_backlog;
    c->settle_backlog = NULL;
    int rc = 0;
    while (list && rc == 0) {
        struct task *batch[SETTLE_BATCH_MAX];
        int n = 0;
        while (list && n < SETTLE_BATCH_MAX) {
            struct task *t = list;
            list = t->next;
            t->next = NULL;
            if (t->settle == SETTLE_RETURN ||
                (c->ops->redelivers_on_reconnect && t->generation != c->generation))
                settled(c, t);   /* the broker gets it back by itself */
            else
                batch[n++] = t;
        }
        int applied = c->connected ? apply_batch(c, batch, n) : 0;
        for (int i = 0; i < applied; i++)
            settled(c, batch[i]);
        if (applied < n) {
            /* keep the rest, in order, for after the reconnect */
            for (int i = n - 1; i >= applied; i--) {
                batch[i]->next = list;
                list = batch[i];
            }
            rc = -1;
        }
    }
    c->settle_backlog = list;   /* what is left waits for the reconnect */
    if (rc == 0 && c->connected && c->ops->flush(c) < 0)
        rc = -1;
    return rc;
}

static bool settle_queue_empty(struct consumer *c)
{
    return !c->settle_backlog && !atomic_load(&c->settle_stack);
}

void consumer_health(struct consumer *c, char *out, size_t len)
{
    pthread_mutex_lock(&c->health_lock);
    snprintf(out, len, "%s", c->health);
    pthread_mutex_unlock(&c->health_lock);
}

/* why NULL: healthy (connected). */
static void set_health(struct consumer *c, const char *why)
{
    pthread_mutex_lock(&c->health_lock);
    if (why)
        snprintf(c->health, sizeof c->health, "%s: %s", c->ops->kind, why);
    else
        c->health[0] = '\0';
    pthread_mutex_unlock(&c->health_lock);
}

static void wait_wake(struct consumer *c, double seconds)
{
    struct pollfd p = {.fd = c->wake[0], .events = POLLIN};
    poll(&p, 1, (int)(seconds * 1000));
    consumer_drain_wake(c);
}

static void lost(struct consumer *c, const char *why)
{
    if (!c->connected)
        return;
    log_warn("consumer %s: connection lost%s%s; reconnecting", c->label, why ? ": " : "", why ? why : "");
    c->ops->disconnect(c);
    c->connected = false;
    set_health(c, "connection lost");
}

/* False while the guardrails are not loaded yet, for GUARDRAILS_WAIT (not
 * reading the socket that long is safe: heartbeats are 10 s). */
static bool guardrails_known(struct consumer *c)
{
    if (c->guardrails_deadline < 0 || worker_policy_loaded(c->w))
        return true;
    if (c->guardrails_deadline == 0)
        c->guardrails_deadline = clock_mono() + GUARDRAILS_WAIT;
    if (clock_mono() < c->guardrails_deadline)
        return false;
    c->guardrails_deadline = -1;
    log_warn("consumer %s: guardrails not loaded after %.0fs; receiving without them", c->label, GUARDRAILS_WAIT);
    return true;
}

static void *consumer_main(void *arg)
{
    struct consumer *c = arg;
    struct backoff reconnect;
    backoff_init(&reconnect, 0.2, 5.0, (unsigned)(uintptr_t)c ^ (unsigned)getpid());
    double next_try = 0, next_tick = 0;
    bool receiving = true;
    char err[256];

    for (;;) {
        int stopping = worker_stopping(c->w);
        double now = clock_mono();
        if (stopping == 2)
            break;
        if (stopping == 1) {
            if (receiving && c->connected && c->ops->stop_receiving)
                c->ops->stop_receiving(c);
            receiving = false;
            if ((atomic_load(&c->in_flight) == 0 && settle_queue_empty(c)) || now >= worker_drain_deadline(c->w))
                break;
        }
        if (!c->connected) {
            if (now < next_try) {
                wait_wake(c, next_try - now < 0.2 ? next_try - now : 0.2);
                continue;
            }
            c->connect_fault = NULL;
            if (c->ops->connect(c, err, sizeof err) < 0) {
                set_health(c, c->connect_fault ? c->connect_fault : "cannot connect");
                double wait = backoff_next(&reconnect);
                log_warn("consumer %s: %s (retrying in %.1fs)", c->label, err, wait);
                next_try = clock_mono() + wait;
                continue;
            }
            c->connected = true;
            set_health(c, NULL);
            c->generation++;
            backoff_reset(&reconnect);
            log_info("consumer %s: connected", c->label);
            if (!receiving && c->ops->stop_receiving)
                c->ops->stop_receiving(c);
        }
        if (apply_settlements(c) < 0) {
            lost(c, NULL);
            continue;
        }
        int room = c->prefetch - atomic_load(&c->in_flight);
        int received = 0;
        bool paused = atomic_load_explicit(&c->paused, memory_order_relaxed);
        if (receiving && c->ops->pause && c->ops->pause(c, paused) < 0) {
            lost(c, NULL);
            continue;
        }
        if (receiving && !guardrails_known(c))
            wait_wake(c, RECEIVE_WAIT);
        else if (paused && receiving && !c->ops->pause)
            wait_wake(c, RECEIVE_WAIT);   /* queue.<name>.paused: take nothing; in flight finishes */
        else
            received = c->ops->receive(c, receiving ? (room > 0 ? room : 0) : 0, RECEIVE_WAIT);
        consumer_hand_over(c);
        if (received < 0) {
            lost(c, NULL);
            continue;
        }
        if (now >= next_tick && c->connected) {
            c->ops->tick(c);
            next_tick = now + TICK_INTERVAL;
        }
    }
    if (c->connected) {
        apply_settlements(c);
        if (c->connected)
            c->ops->give_back(c);
        c->ops->disconnect(c);
        c->connected = false;
    }
    int left = atomic_load(&c->in_flight);
    if (left)
        log_warn("consumer %s: %d unfinished task(s) given back to the broker", c->label, left);
    log_info("consumer %s: stopped", c->label);
    return NULL;
}

int consumer_start(struct consumer *c)
{
    return pthread_create(&c->thread, NULL, consumer_main, c) == 0 ? 0 : -1;
}

void consumer_join(struct consumer *c) { pthread_join(c->thread, NULL); }
