/* The background-thread skeleton (see loop.h). */
#include "core/loop.h"

#include "core/clock.h"

#include <errno.h>

void loop_init(struct loop *l)
{
    *l = (struct loop){0};
    pthread_mutex_init(&l->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&l->stopping, false);
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    l->body(l, l->arg);
    return NULL;
}

int loop_start(struct loop *l, void (*body)(struct loop *l, void *arg), void *arg)
{
    l->body = body;
    l->arg = arg;
    atomic_store(&l->stopping, false);
    if (pthread_create(&l->thread, NULL, loop_main, l) != 0)
        return -1;
    l->started = true;
    return 0;
}

void loop_stop(struct loop *l)
{
    pthread_mutex_lock(&l->lock);
    atomic_store(&l->stopping, true);
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    if (l->started) {
        pthread_join(l->thread, NULL);
        l->started = false;
    }
}

void loop_destroy(struct loop *l)
{
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
}

void loop_wake(struct loop *l)
{
    pthread_mutex_lock(&l->lock);
    l->woken = true;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

bool loop_stopping(struct loop *l)
{
    return atomic_load(&l->stopping);
}

/* The CLOCK_MONOTONIC instant of a clock_mono() deadline. */
static struct timespec mono_timespec(double deadline)
{
    if (deadline > 1e15)
        deadline = 1e15;
    struct timespec ts;
    ts.tv_sec = (time_t)deadline;
    ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    if (ts.tv_nsec < 0)
        ts.tv_nsec = 0;
    return ts;
}

bool loop_sleep_until(struct loop *l, double deadline)
{
    pthread_mutex_lock(&l->lock);
    while (!atomic_load(&l->stopping) && !l->woken && clock_mono() < deadline) {
        struct timespec ts = mono_timespec(deadline);
        int rc = pthread_cond_timedwait(&l->cond, &l->lock, &ts);
        if (rc == ETIMEDOUT)
            break;
    }
    l->woken = false;
    bool stopping = atomic_load(&l->stopping);
    pthread_mutex_unlock(&l->lock);
    return stopping;
}

bool loop_sleep(struct loop *l, double seconds)
{
    return loop_sleep_until(l, clock_mono() + seconds);
}
