/* What a collector saw in one refresh of one source: an immutable,
 * refcounted table of queues. A collector builds it on its own thread,
 * hands it over through a feed (feed.h), and never touches it again; the UI
 * and the CLI only read it. Unknown numbers are -1 (counts) or NAN (rates,
 * ages), never 0, so "no data" is never drawn as "empty". */
#ifndef QDECK_SNAPSHOT_H
#define QDECK_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum queue_kind { QUEUE_AMQP, QUEUE_REDIS_LIST, QUEUE_STREAM };

struct queue_stat {
    char *addr;             /* "amqp:orders", "redis:jobs", "stream:ev#workers" */
    char *name;             /* the address without its scheme */
    enum queue_kind kind;
    int64_t ready;          /* waiting: list length, group lag, messages_ready */
    int64_t unacked;        /* delivered, not acked: unacked, stream pending */
    int64_t total;
    int64_t length;         /* stream length (XLEN); -1 for other kinds */
    int consumers;
    double utilisation;     /* 0..1 (consumer_capacity) */
    double rate_in;         /* publish/s */
    double rate_out;        /* deliver_get/s */
    double rate_ack;        /* ack/s */
    double rate_redeliver;  /* redeliver/s */
    double head_age;        /* seconds the oldest waiting message has waited */
    bool head_age_at_least; /* age is a lower bound (head seen since then) */
    double pending_idle;    /* stream: seconds the oldest pending entry is idle */
    char *head_id;          /* identity of the head message, for age tracking */
    double head_seen_at;    /* wall time head_id was first seen at the head */
    char *dead_letter_to;   /* address dead letters go to, or NULL */
    char *state;            /* broker's word for the queue ("running", ...) */
    /* joined from the fleet's heartbeats and the guardrails by the console
     * and `qdeck status` (console/queue-join.h); collectors leave them unset */
    char *workers;          /* qdeck workers consuming it, "w1, w2", or NULL */
    bool paused;            /* queue.<name>.paused is in force */
    char *shed;             /* why its work is shed ("priority<3", "max_depth 100"), or NULL */
};

struct snapshot {
    int refs;                 /* atomic */
    double taken_at;          /* wall clock */
    double collect_seconds;   /* how long the refresh took */
    char *server;             /* "RabbitMQ 3.10.8", "Redis 7.0.15" */
    bool truncated;           /* discovery stopped at its cap */
    char *discovery;          /* how far a background discovery has come
                                 ("discovery 34% (340k/1.0M keys)"), or NULL */
    size_t nqueues;
    size_t capacity;
    struct queue_stat *queues;
    /* What a collector of something other than queues (the fleet reader,
     * ...) hands over with the snapshot; extra_free(extra) runs when the
     * last reference goes. NULL for the queue sources. */
    void *extra;
    void (*extra_free)(void *extra);
};

struct snapshot *snapshot_new(size_t capacity_hint);
/* Appends a zeroed row with every metric "unknown"; the pointer is valid
 * until the next append. */
struct queue_stat *snapshot_add(struct snapshot *s, enum queue_kind kind, const char *name);
/* A new, unsealed snapshot holding deep copies of from's rows (and
 * nothing else); for a collector that refreshes only part of its data. */
struct snapshot *snapshot_copy_rows(const struct snapshot *from);
struct snapshot *snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s);
const struct queue_stat *snapshot_find(const struct snapshot *s, const char *addr);
/* Sorts rows by address so lookups (snapshot_find) are binary searches. */
void snapshot_seal(struct snapshot *s);

const char *queue_kind_scheme(enum queue_kind kind);   /* "amqp", "redis", "stream" */

#endif
