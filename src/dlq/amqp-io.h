/* The AMQP plumbing of the RabbitMQ DLQ backend (amqp-io.c), so that
 * dlq-amqp.c holds only what the backend does with it: scan, replay,
 * purge and import. */
#ifndef QDECK_DLQ_AMQP_IO_H
#define QDECK_DLQ_AMQP_IO_H

#include <amqp.h>
#include <stdbool.h>
#include <stdint.h>

#include "dlq/dlq.h"
#include "dlq/journal.h"

#define CONFIRM_WINDOW 500
#define PREFETCH_MAX 65535
#define PREFETCH_STEP 2000

struct amqp_dlq {
    amqp_connection_state_t conn;   /* reading the DLQ */
    amqp_connection_state_t pub;    /* publishing (replay, import), opened when needed */
    amqp_channel_t next_channel;
    /* the long-lived channels open now (the reader's, the publisher's):
     * numbers wrap at CHANNEL_WRAP and must not land on one of these */
    amqp_channel_t held[2];
    double timeout;
};

struct amqp_dlq_reader {
    struct dlq *d;
    amqp_connection_state_t conn;
    amqp_channel_t ch;
    long expected, received, acked;
    int prefetch;
    uint64_t tag;              /* delivery tag of the last message read */
    bool acting;               /* replay/purge: stop only between batches, never mid-read */
};

struct amqp_dlq_pending {
    struct dlq_message *orig;      /* the DLQ copy (NULL for imports) */
    struct dlq_message *sent;
    char target[512];
    uint64_t dlq_tag;
    uint64_t seq;
    enum { P_WAITING, P_CONFIRMED, P_FAILED } state;
    char why[256];
    char token[DLQ_TOKEN_LEN];     /* replay token the published copy carries */
    uint64_t identity;             /* of orig, for the journal */
    bool acked;                    /* its DLQ copy's ack was sent */
    bool returned;                 /* came back by basic.return (unroutable) */
};

struct amqp_dlq_publisher {
    struct dlq *d;
    amqp_connection_state_t conn;
    amqp_channel_t ch;
    uint64_t seq;
};

/* -1 with d->err set; UNREACHABLE for transport errors, OPERATION for the
 * broker refusing. */
int amqp_dlq_rpc_check(struct dlq *d, amqp_rpc_reply_t r, const char *what);
/* Logs in to the context's AMQP URL (net/amqp-login.h); -1 with d->err. */
int amqp_dlq_connect(struct dlq *d, amqp_connection_state_t *out);
void amqp_dlq_drop(amqp_connection_state_t *c);
/* A fresh channel on conn; 0 with d->err. A held channel (the reader's,
 * the publisher's) stays open across calls: its number is not given out
 * again until amqp_dlq_channel_release. One-shot channels (a count, a
 * purge) are closed before the call that opened them returns. */
amqp_channel_t amqp_dlq_channel(struct dlq *d, amqp_connection_state_t conn, bool held);
void amqp_dlq_channel_release(struct dlq *d, amqp_channel_t ch);
/* Ready count by passive declare, on its own channel (a 404 closes it). */
int amqp_dlq_count(struct dlq *d, amqp_connection_state_t conn, const char *queue, long *out);

/* The reader: counts the queue and consumes from it without acking. */
int amqp_dlq_reader_open(struct dlq *d, struct amqp_dlq_reader *r);
/* 1 with *out, 0 at the end, -1 on error. */
int amqp_dlq_reader_next(struct amqp_dlq_reader *r, struct dlq_message **out);
int amqp_dlq_reader_ack(struct amqp_dlq_reader *r, uint64_t tag);
/* Closing the channel requeues everything read and not acked, in place. */
int amqp_dlq_reader_close(struct amqp_dlq_reader *r);

/* The publisher: its own connection (d's `pub`), confirms on. */
int amqp_dlq_publisher_open(struct dlq *d, struct amqp_dlq_publisher *p);
void amqp_dlq_publisher_close(struct amqp_dlq_publisher *p);
/* Publishes e->sent mandatory to e->target; e->seq gets its confirm number. */
int amqp_dlq_publish(struct amqp_dlq_publisher *p, struct amqp_dlq_pending *e);
/* Reads confirms and returns into batch (n entries) until every entry of
 * watch (nwatch) is settled; -1 when the connection is lost. */
int amqp_dlq_wait_confirms(struct amqp_dlq_publisher *p, struct amqp_dlq_pending *batch, size_t n,
                           const struct amqp_dlq_pending *watch, size_t nwatch);
/* Frees what the entries hold and zeroes them. */
void amqp_dlq_pending_clear(struct amqp_dlq_pending *batch, size_t n);

#endif
