/* Dead-letter queues: browse, inspect, replay, purge, export and import,
 * for RabbitMQ queues, Redis lists and Redis streams behind one table of
 * operations (struct dlq_backend), one file per backend:
 *
 *   dlq-amqp.c    RabbitMQ: no browse in AMQP, so a dedicated channel
 *                 consumes with acks on, holds what it read unacked and
 *                 gives it back by closing the channel (RabbitMQ requeues
 *                 to the original positions); replay publishes with
 *                 confirms + mandatory and acks the DLQ copy after the
 *                 confirm.
 *   dlq-list.c    Redis lists: LRANGE pages; moves are one Lua script each
 *                 (LREM from the DLQ + LPUSH to the target), atomic.
 *   dlq-stream.c  Redis streams: XRANGE pages; XDEL + XADD in one script.
 *
 * A message is kept exactly as read (body bytes, AMQP properties with the
 * headers table in AMQP's own encoding, stream fields), so replay, export
 * and import never change what they do not mean to change. message.c
 * decodes what an operator reads (x-death, qdeck headers and envelope,
 * Celery protocol v2); export.c writes and reads JSON Lines.
 *
 * Everything here does network I/O on the caller's thread: the CLI calls it
 * directly, the console through its DLQ job thread (console/dlq-jobs.c). */
#ifndef QDECK_DLQ_H
#define QDECK_DLQ_H

#include <cJSON.h>
#include <hiredis.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/address.h"
#include "core/config.h"
#include "core/envelope.h"
#include "dlq/bytes.h"

/* AMQP basic properties, owned copies. */
struct dlq_amqp_props {
    struct dlq_bytes content_type, content_encoding, correlation_id, reply_to, expiration, message_id, type,
        user_id, app_id, cluster_id;
    bool has_delivery_mode, has_priority, has_timestamp;
    uint8_t delivery_mode, priority;
    uint64_t timestamp;
    struct dlq_bytes headers;     /* the headers table exactly as AMQP encodes it (amqp_encode_table) */
    struct dlq_bytes exchange, routing_key;   /* where it was last published (not replayed) */
};

struct dlq_field {
    struct dlq_bytes name, value;
};

/* What an operator reads about a dead message, decoded by dlq_decode(). */
struct dlq_info {
    char id[160];
    char type[160];             /* task type / Celery task name */
    char original_queue[512];   /* queue name or Redis key it died in, "" unknown */
    char reason[32];            /* rejected expired maxlen delivery_limit failed shed poison, "" unknown */
    long deaths;                /* -1 unknown */
    double first_death, last_death;   /* wall time, NAN unknown */
    long attempts;              /* -1 unknown */
    long replays;               /* x-qdeck-replays / envelope replays, 0 when never */
    char *last_error;           /* NULL unknown */
    enum envelope_format format;
    bool celery;
    long celery_retries;        /* -1 unknown */
    char *celery_argsrepr, *celery_kwargsrepr;
    cJSON *result;              /* qdeck:task:<id> (or celery-task-meta-<id>) record, or NULL */
};

struct dlq_message {
    size_t position;            /* 0 = the oldest, the next to be consumed */
    struct dlq_bytes body;      /* AMQP body, list item, or the stream field taken as body */
    struct dlq_amqp_props *props;   /* AMQP only */
    char *stream_id;            /* streams only */
    struct dlq_field *fields;   /* streams only */
    size_t nfields;
    long body_field;            /* stream: index of the field `body` copies, -1 none */
    bool redelivered;           /* AMQP: delivered before (browsed, or back after a broker crash) */
    struct dlq_info info;
};

struct dlq_select {
    char **ids;                 /* match dlq_info.id, message_id or stream id */
    size_t nids;
    const char *grep;           /* case-insensitive, in headers, fields and body */
    bool all;
    long limit;                 /* most messages acted on; 0: no limit */
};

struct dlq_tally {
    long moved, failed, skipped;
    long in_doubt;              /* published, but the DLQ copy's fate is unknown (connection lost) */
    long deduped;               /* DLQ copies dropped: their republished twin was confirmed (journal) */
    long doubtful;              /* replayed again though the journal has a confirmed twin of the same
                                   bytes: no death mark tells a crash copy from a new death, so kept */
    long unsettled;             /* replayed again: an earlier replay published a twin and was killed
                                   before it knew whether the broker confirmed it */
    bool interrupted;           /* stopped early (d->cancel): what was in flight was settled */
    char dropped[1024];         /* ids of the dropped copies, space separated; ends "…" when cut */
    long seen;                  /* messages looked at */
    long total;                 /* DLQ depth when the action began, -1 unknown */
    char first_error[256];
};

struct dlq_message;
struct dlq_replay {
    struct dlq_select sel;
    const char *to;             /* target queue name, or NULL: the original queue */
    double rate;                /* messages per second; 0: as fast as confirms allow */
    bool dry_run;
    char **sets;                /* "payload.key=value", "header:key=value" */
    size_t nsets;
    const char *journal;        /* replay journal file (RabbitMQ), or NULL */
    const struct dlq_bytes *body;   /* edited body to send instead (from $EDITOR), or NULL */
    /* Called after each batch, and per message with its outcome. */
    void (*progress)(void *arg, const struct dlq_tally *t);
    void (*each)(void *arg, const struct dlq_message *m, const char *target, const char *outcome);
    void *arg;
};

struct dlq;
typedef int (*dlq_visit_fn)(struct dlq_message *m, void *arg);   /* 1 stops the scan */

struct dlq_backend {
    enum queue_kind kind;
    int (*open)(struct dlq *d);
    void (*close)(struct dlq *d);
    int (*count)(struct dlq *d, long *out);
    /* Visits messages oldest first from `skip`, until visit returns 1 or the
     * end; gives everything back untouched. */
    int (*scan)(struct dlq *d, size_t skip, dlq_visit_fn visit, void *arg);
    int (*replay)(struct dlq *d, const struct dlq_replay *r, struct dlq_tally *t);
    int (*purge)(struct dlq *d, const struct dlq_select *sel, struct dlq_tally *t);
    /* Import: appends messages (as exported) to the queue named target. */
    int (*append)(struct dlq *d, const char *target, struct dlq_message *const *msgs, size_t n,
                  struct dlq_tally *t);
};

enum dlq_failure { DLQ_FAIL_NONE, DLQ_FAIL_OPERATION, DLQ_FAIL_UNREACHABLE, DLQ_FAIL_USAGE };

struct dlq {
    const struct dlq_backend *ops;
    struct queue_address addr;
    char *display;              /* "amqp:orders.dlq" */
    const struct context_config *ctx;
    void *priv;
    redisContext *store;        /* result store lookups (Redis of the context), or NULL */
    bool store_tried;
    char err[512];              /* last failure, one line, secrets redacted */
    enum dlq_failure failure;
    atomic_int *cancel;         /* set by another thread (or a signal) to stop a long scan/replay */
};

extern const struct dlq_backend dlq_amqp_backend;
extern const struct dlq_backend dlq_list_backend;
extern const struct dlq_backend dlq_stream_backend;

/* Parses the address (stream:KEY without #GROUP accepted) and connects
 * (backends.c).
 * 0; -3 broker unreachable, -2 usage (wrong kind of key, no URL), -1 other. */
int dlq_open(const char *address, const struct context_config *ctx, struct dlq **out, char *err, size_t errlen);
void dlq_close(struct dlq *d);
/* True once d->cancel is set. */
bool dlq_cancelled(const struct dlq *d);
/* Records the failure; returns -1. */
int dlq_fail(struct dlq *d, enum dlq_failure kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Redis of the context (the DLQ's own connection for Redis backends is
 * separate): connects with the context's timeout. NULL with err. */
redisContext *dlq_redis_connect(const char *url, double timeout, char *err, size_t errlen);

/* ---- messages (message.c) ---- */
void dlq_message_free(struct dlq_message *m);
struct dlq_message *dlq_message_clone(const struct dlq_message *m);
/* Fills m->info from headers, envelope and Celery fields; looks up the
 * result store when d->store is available (with_result). */
void dlq_decode(struct dlq *d, struct dlq_message *m, bool with_result);
bool dlq_select_match(const struct dlq_select *sel, const struct dlq_message *m);
bool dlq_select_is_id_only(const struct dlq_select *sel);
/* Headers as plain JSON (AMQP table → object), or NULL when none. */
cJSON *dlq_headers_json(const struct dlq_message *m);
/* The message a replay sends: replay counter + 1, attempts restarted,
 * --set edits applied. target gets the queue name. 0 ready; 1 skip (why
 * says why); -1 a bad --set (why says why). */
int dlq_prepare_replay(const struct dlq *d, const struct dlq_replay *r, const struct dlq_message *m,
                       struct dlq_message **out, char *target, size_t tlen, char *why, size_t whylen);
/* Replay, one selected message (decoded), in replay.c: 1 to send *sent
 * (owned by the caller) to target; 0 when settled here: skipped or refused
 * (tallied, reported through rq->each) or, in a dry run, counted as moved.
 * The caller still owns m. */
int dlq_replay_decide(const struct dlq *d, const struct dlq_replay *rq, const struct dlq_message *m,
                      struct dlq_message **sent, char *target, size_t tlen, struct dlq_tally *t);
/* One line for --json list/show: every decoded field, properties, headers,
 * body (text, or base64 when not UTF-8). */
cJSON *dlq_message_json(const struct dlq_message *m, bool with_body);

/* What may now be in both the DLQ and the target (in doubt, or replayed
 * again without a death mark); why says which. */
long dlq_replay_duplicated(const struct dlq_tally *t, char *why, size_t len);
/* The one line a replay ends with, the CLI's, the console's and the
 * audit's: "moved N, failed F, skipped S[, ...][, dropped D (...): IDS]",
 * or, interrupted, "interrupted: moved N, duplicated D (why), left L".
 * left: DLQ depth afterwards, -1 unknown. */
void dlq_replay_summary(const struct dlq_tally *t, bool dry_run, bool error, long left, char *out, size_t len);
/* Counts a dropped copy and adds its id to t->dropped. */
void dlq_tally_dropped(struct dlq_tally *t, const char *id);

/* ---- pacing (replay.c) ---- */
struct dlq_pacer {
    double rate, started;
    long sent;
};
void dlq_pacer_init(struct dlq_pacer *p, double rate);
void dlq_pace(struct dlq_pacer *p);   /* sleeps until the next message may go */

/* ---- export / import (export.c) ---- */
/* One JSON line (no newline) holding every byte of m; caller frees. */
char *dlq_export_line(const struct dlq *d, const struct dlq_message *m);
/* Parses one exported line. queue gets the address it was exported from
 * (caller frees). -1 with err. */
int dlq_import_line(const char *line, struct dlq_message **out, char **queue, char *err, size_t errlen);
/* Streams: chooses the field that holds the task and copies it to body. */
void dlq_stream_pick_body(struct dlq_message *m);

#endif
