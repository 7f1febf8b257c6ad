/* Consumers: one thread per consumed queue, owning that queue's broker
 * connections (rabbitmq-c and hiredis are not thread-safe). A backend is a
 * const struct consumer_ops; the loop that drives every backend lives in
 * consumer.c:
 *
 *   connect (with capped, jittered backoff while the broker is away or
 *   refuses the login; why it is not connected is kept as the consumer's
 *   health, which the heartbeat and /readyz report)
 *   apply the settlements slots queued back   -> ops->settle, ops->flush
 *   receive what is ready, wait briefly        -> ops->receive (hands tasks to the pool)
 *   once per tick: ops->tick (delayed-retry mover, reaper, claims)
 *
 * Nothing is received before the worker has loaded the guardrails (at most
 * GUARDRAILS_WAIT seconds): a worker started during a peak must not take a
 * first batch past a max_depth or a pause it has not seen yet.
 *
 * On stop it stops receiving, keeps settling until nothing is in flight (or
 * the drain deadline / a second signal), then ops->give_back returns what
 * did not finish, and disconnects. */
#ifndef QDECK_WORKER_CONSUMER_H
#define QDECK_WORKER_CONSUMER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/address.h"
#include "worker/task.h"

struct worker;
struct consumer;

struct consumer_ops {
    const char *kind;
    /* Opens the connections and starts consuming. 0, or -1 with err. */
    int (*connect)(struct consumer *c, char *err, size_t errlen);
    void (*disconnect)(struct consumer *c);
    /* Takes what is ready (at most `room` new tasks), waiting at most
     * timeout seconds or until the wake pipe is written. -1: connection lost. */
    int (*receive)(struct consumer *c, int room, double timeout);
    /* Applies one settlement. -1: connection lost (the task is kept and
     * settled again after reconnecting, unless the broker redelivers it). */
    int (*settle)(struct consumer *c, struct task *t);
    /* Or, instead: applies tasks[0..n) together (one pipeline), returns how
     * many from the first were applied; fewer than n when the connection
     * was lost, and the rest are applied again after the reconnect. */
    int (*settle_batch)(struct consumer *c, struct task **tasks, int n);
    /* Sends batched acknowledgements. -1: connection lost. */
    int (*flush)(struct consumer *c);
    /* Stops taking new deliveries (stop requested). */
    void (*stop_receiving)(struct consumer *c);
    /* Periodic housekeeping, about every 100 ms. */
    void (*tick)(struct consumer *c);
    /* Optional: follows queue.<name>.paused itself (called every loop
     * while receiving; cheap when nothing changed) and keeps receive()
     * running while paused, for heartbeats and to give back what still
     * arrives. NULL: the loop stops calling receive() while paused.
     * -1: connection lost. */
    int (*pause)(struct consumer *c, bool paused);
    /* Shutdown: unfinished deliveries back to the broker. */
    void (*give_back)(struct consumer *c);
    void (*destroy)(struct consumer *c);
    /* True when a settlement decided on an older connection is void (the
     * broker has redelivered it already): AMQP. */
    bool redelivers_on_reconnect;
};

extern const struct consumer_ops consumer_amqp_ops, consumer_list_ops, consumer_stream_ops;

struct consumer {
    const struct consumer_ops *ops;
    struct worker *w;
    struct queue_address addr;
    char *label;                   /* "amqp:orders" */
    void *priv;
    pthread_t thread;
    _Atomic bool connected;        /* read by worker_ready() from other threads */
    /* Set by ops->connect when it fails, to a short static reason ("login
     * refused"); NULL: a generic "cannot connect". */
    const char *connect_fault;
    pthread_mutex_t health_lock;   /* guards health */
    char health[200];              /* "" healthy; else "amqp: login refused" (consumer_health) */
    unsigned generation;           /* bumped on each connect */
    int prefetch;
    _Atomic int in_flight;         /* received, not yet settled */
    int wake[2];                   /* self-pipe: a settlement is waiting */
    _Atomic int wake_pending;
    _Atomic(struct task *) settle_stack;   /* lock-free: slot threads push, this thread takes all */
    struct task *settle_backlog;   /* this thread: taken, not yet applied (broker away), in order */
    struct task *batch_head, *batch_tail;   /* received this round, handed over together */
    int batch_len;
    /* guardrails for this queue, set by the worker's control thread */
    _Atomic bool paused;           /* queue.<name>.paused: receive nothing */
    _Atomic uint64_t done;         /* tasks taken from this queue and settled (not returned) */
    uint64_t done_seen;            /* heartbeat thread only: done at its last report */
    double done_seen_at;           /* clock_mono() of that report, 0 none */
    _Atomic int shed_priority_below;   /* shed.priority_below, -1: off */
    _Atomic long max_depth;        /* queue.<name>.max_depth, -1: off */
    _Atomic bool auto_shed;        /* shed.auto */
    _Atomic long depth;            /* the queue's depth when last looked, -1: unknown */
    double next_depth;             /* consumer thread: when to look again */
    double guardrails_deadline;    /* consumer thread: read anyway after this (0: not waiting yet) */
};

/* ops: the backend for addr's kind (consumer-backends.h). */
struct consumer *consumer_new(struct worker *w, const struct queue_address *addr, int prefetch,
                              const struct consumer_ops *ops);
void consumer_free(struct consumer *c);
int consumer_start(struct consumer *c);
void consumer_join(struct consumer *c);
/* Any thread: queue t's settlement for the consumer thread. */
void consumer_settle_later(struct consumer *c, struct task *t);
/* Consumer thread: a task received; handed to the pool with the rest of
 * this round's deliveries when the backend's receive() returns. */
void consumer_deliver(struct consumer *c, struct task *t);
/* Hands this round's deliveries to the pool now (the loop also does it
 * after each receive()). */
void consumer_hand_over(struct consumer *c);
/* Any thread: "" while connected, else why not, as "<kind>: <reason>"
 * ("amqp: login refused", "redis: cannot connect", "amqp: connecting"). */
void consumer_health(struct consumer *c, char *out, size_t len);
/* Clears the wake pipe (backends call it after polling it). */
void consumer_drain_wake(struct consumer *c);

#endif
