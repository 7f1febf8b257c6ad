/* Celery's monitoring events as they arrive on the wire (celery/events/:
 * the dispatcher's JSON bodies on the `celeryev` exchange), parsed into a
 * flat struct qdeck's collector can fold into its state (celery/state.h).
 *
 * A body is one event object, or a JSON array of them: prefork workers
 * buffer task events and send them as one `task.multi` message. On the
 * Redis transport the body comes inside kombu's envelope (a JSON object
 * whose "body" is base64 when properties.body_encoding says so);
 * celery_redis_unwrap takes it out. Everything here is pure: no I/O, no
 * allocation kept past a call, so it is fuzzed as it stands
 * (tests/fuzz/fuzz_celery_events.c). */
#ifndef QDECK_CELERY_EVENT_H
#define QDECK_CELERY_EVENT_H

#include <stdbool.h>
#include <stddef.h>

enum celery_event_type {
    CELERY_WORKER_ONLINE, CELERY_WORKER_HEARTBEAT, CELERY_WORKER_OFFLINE,
    CELERY_TASK_SENT, CELERY_TASK_RECEIVED, CELERY_TASK_STARTED, CELERY_TASK_SUCCEEDED,
    CELERY_TASK_FAILED, CELERY_TASK_RETRIED, CELERY_TASK_REJECTED, CELERY_TASK_REVOKED,
    CELERY_EVENT_OTHER,       /* a type this version does not know: counted, not an error */
};

/* One event. Strings point into the parsed JSON and live only during the
 * callback; absent ones are "" (never NULL). Numbers absent are NAN or -1. */
struct celery_event {
    enum celery_event_type type;
    const char *type_name;    /* as sent ("task-succeeded") */
    const char *hostname;     /* "celery@vm-1" (task-sent: the producer's) */
    const char *uuid;         /* task events */
    const char *name;         /* task-sent / task-received */
    const char *exception;    /* task-failed / task-retried: "ValueError('x')" */
    const char *sw_ver, *sw_ident;
    const char *queue;        /* task-sent: the routing key's queue, "" unknown */
    double timestamp;         /* the sender's wall clock, seconds; NAN absent */
    double utcoffset;         /* hours; 0 absent */
    double runtime;           /* task-succeeded, seconds; NAN absent */
    double freq;              /* worker events, seconds; NAN absent */
    double loadavg[3];        /* NAN absent */
    long pid;                 /* -1 absent */
    long active, processed;   /* worker-heartbeat; -1 absent */
    bool terminated;          /* task-revoked */
};

const char *celery_event_type_name(enum celery_event_type t);

/* Calls fn for each event of a body (one object, or an array of objects:
 * task.multi). Array items that are not events are skipped and counted in
 * *skipped. The number of events delivered, or -1 when the body is not
 * JSON or not an object/array (err says why, one line). */
typedef void (*celery_event_fn)(const struct celery_event *ev, void *arg);
int celery_events_parse(const char *body, size_t len, celery_event_fn fn, void *arg, size_t *skipped, char *err,
                        size_t errlen);

/* kombu's Redis envelope {"body": ..., "properties": {"body_encoding":
 * "base64"}, ...} -> the body bytes (NUL-terminated, *out malloc'd).
 * 0, or -1 with one line in err. */
int celery_redis_unwrap(const char *msg, size_t len, char **out, size_t *outlen, char *err, size_t errlen);

/* base64 (standard alphabet, padding, no line breaks allowed beyond
 * trailing whitespace) -> bytes, NUL-terminated. 0, or -1. */
int celery_base64_decode(const char *text, size_t len, char **out, size_t *outlen);

#endif
