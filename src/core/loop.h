/* The skeleton every background thread of qdeck shares (heartbeat,
 * scheduler, collectors, watchers): start one thread on a body, sleep until
 * a monotonic deadline or until woken, stop and join. The stop flag is an
 * _Atomic, so a body may read it without the lock; sleeping and waking go
 * through one mutex and condition variable, so a wake is never lost between
 * a body's check and its sleep. Waits that back off use core/backoff.h and
 * loop_sleep(). */
#ifndef QDECK_LOOP_H
#define QDECK_LOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct loop {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_bool stopping;
    bool woken;       /* a wake not yet consumed by a sleep; under lock */
    bool started;
    void (*body)(struct loop *l, void *arg);
    void *arg;
};

/* Prepares l; call once before loop_start (or alone, for a loop that is
 * driven by hand in tests). */
void loop_init(struct loop *l);
/* Runs body(l, arg) on a new thread; the body returns when loop_stopping().
 * 0, or -1 when the thread could not be made (l stays unstarted). */
int loop_start(struct loop *l, void (*body)(struct loop *l, void *arg), void *arg);
/* Asks the body to stop, wakes it, and joins it; safe on an unstarted loop
 * and twice. Then loop_destroy frees what loop_init made. */
void loop_stop(struct loop *l);
void loop_destroy(struct loop *l);
/* Ends the body's current or next sleep early (the body then re-checks its
 * work). */
void loop_wake(struct loop *l);
bool loop_stopping(struct loop *l);
/* Sleeps until the monotonic instant `deadline` (clock_mono), a wake, or a
 * stop; true when stopping. A wake that came before the call ends it at
 * once. */
bool loop_sleep_until(struct loop *l, double deadline);
/* loop_sleep_until(clock_mono() + seconds). */
bool loop_sleep(struct loop *l, double seconds);

#endif
