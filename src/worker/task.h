/* One delivery on its way through the worker: the bytes as the broker gave
 * them, what the envelope says (docs/envelope.md), the run, and the
 * settlement the slot decided and the consumer thread applies.
 *
 * A task is created by its consumer thread, run on a slot (or by an async
 * plugin), and freed by the consumer thread after settling. When the
 * watchdog abandons a blocking handler that ignores cancellation, the
 * handler still holds the task's strings: a reference count keeps the task
 * alive until both sides let go. */
#ifndef QDECK_WORKER_TASK_H
#define QDECK_WORKER_TASK_H

#include <cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qdeck-plugin.h"
#include "resilience/dependency.h"

#define TASK_MAX_BODY (10u * 1024 * 1024)   /* larger bodies are poison */

struct consumer;
struct handler;

enum settle_kind {
    SETTLE_ACK,      /* finished (or already done): remove from the broker */
    SETTLE_RETRY,    /* delayed retry: annotated copy to the delay queue/ZSET, then remove */
    SETTLE_DEAD,     /* annotated copy to the DLQ, then remove */
    SETTLE_RETURN,   /* never ran to the end (shutdown): give back, ack nothing */
};

enum task_state { TASK_QUEUED, TASK_RUNNING, TASK_FINISHED, TASK_ABANDONED };

/* The most settlements a consumer applies in one round. */
#define SETTLE_BATCH_MAX 128

struct task {
    struct task *next;             /* run queue, settle queue */
    struct task *wd_prev, *wd_next;   /* watchdog's list of running tasks */
    struct consumer *consumer;
    const char *queue_label;       /* its consumer's label ("amqp:orders"), set on delivery */
    unsigned generation;           /* consumer connection it came on */

    /* the delivery */
    char *body;                    /* bytes as received, NUL-terminated copy */
    size_t len;
    uint64_t tag;                  /* AMQP delivery tag */
    char *entry_id;                /* stream entry ID */
    long queue_depth;              /* the queue's depth when it was taken, itself included;
                                      -1: unknown (shed() uses the consumer's last look) */

    /* the envelope */
    cJSON *env;                    /* parsed object, or NULL when not qdeck JSON */
    char id[96];
    char type[128];
    char *payload;                 /* JSON text handed to the handler */
    int attempt;                   /* this run's attempt number, 1-based */
    int max_attempts;
    int priority;
    double created_at;             /* wall seconds, 0: unknown */
    double deadline;
    char idem_key[160];            /* idempotency key: envelope's, else the id */
    char replay_token[40];         /* AMQP x-qdeck-replay of the delivery, carried to its dead letter */

    /* the run */
    const char *poison;            /* why it cannot run (not JSON, too big...), or NULL */
    struct handler *handler;
    struct qdeck_task qt;          /* what the handler sees; lives as long as the task */
    atomic_int cancelled;          /* set by the watchdog or the drain, read by the handler (plugin ABI) */
    bool timed_out;                /* the watchdog cancelled it */
    bool shutdown_cancel;          /* the drain deadline cancelled it: give back, do not retry */
    _Atomic int state;             /* enum task_state */
    _Atomic int refs;
    double received_mono, started_mono, timeout_at;
    double started_wall;           /* the PROCESSING record's started_at */
    double finished_wall;          /* its fate decided (the trace record's end) */
    struct qdeck_usage usage;      /* tokens the handler reported (ABI 3) */
    bool idem_done;                /* the batched idempotency check found its done key */
    void *results_pending;         /* its PROCESSING write, still queued in the results batcher */
    struct qdeck_result result;
    double timeout;                /* seconds: [task TYPE] timeout or task.<type>.max_runtime_ms */
    struct dependency_call dep_call;   /* the permit of its [dependency], when dep_held */
    bool dep_held;                 /* a permit to end exactly once (finish or the watchdog) */
    bool submit_refused;           /* the async plugin never took it: the permit is released */
    bool park;                     /* SETTLE_DEAD means: move aside to the parked list/queue/stream */
    bool shed;                     /* parked or dead-lettered by a shedding guardrail: not a failure */
    bool deferred;                 /* throttled / bulkhead full: retry_delay preset, not a failure */
    bool rate_granted;             /* its rate permit was reserved by the waiting room (ratewait.h) */
    double rate_until;             /* clock_mono after which that permit has lapsed */

    /* the settlement */
    enum settle_kind settle;
    const char *dead_reason;       /* poison | max_attempts | failed | shed */
    char error[256];
    double retry_delay;            /* seconds */
};

/* A task over a copy of body (len bytes). Parses the envelope; sets poison
 * when the body cannot be a task. Never fails. */
struct task *task_new(struct consumer *c, const char *body, size_t len, int default_max_attempts);
void task_unref(struct task *t);

/* The body to send when retrying or dead-lettering: the envelope with
 * attempt, last_error (and dead_reason) set; the original bytes when the
 * body is not a JSON object. *out is malloc'd. */
/* Wall time in whole milliseconds, the dead_at stamp of a dead letter. */
double task_dead_at_ms(void);
void task_annotated_body(const struct task *t, bool dead, char **out, size_t *outlen);

/* The dead letter for a Redis list: the annotated envelope, or, when the
 * body is not a JSON object, a JSON wrapper that keeps the bytes:
 * {"dead_reason","last_error","attempt","original_queue","raw_base64"}. */
void task_dead_item(const struct task *t, const char *queue, char **out, size_t *outlen);

/* A fresh envelope (docs/envelope.md); malloc'd JSON. id is written to
 * id_out (at least 40 bytes). */
char *envelope_build(const char *type, const char *payload_json, int priority, int max_attempts,
                     double deadline, const char *idempotency_key, char *id_out);
/* A random UUIDv4 into out (37 bytes). */
void task_uuid(char *out);

#endif
