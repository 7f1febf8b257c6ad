/* Reading publisher confirms, one reader for every publisher (the worker,
 * `qdeck publish`, the scheduler, DLQ replay). rabbitmq-c 0.11 has no
 * amqp_publisher_confirm_wait, so the frames that follow publishes on a
 * confirm-mode channel are read here by hand: basic.ack and basic.nack
 * (a delivery tag, maybe "and all before"), basic.return (with
 * mandatory=1 it comes before the ack of the same message, and carries the
 * message, which is read off the connection here), and the broker closing
 * the channel or the connection.
 *
 * The caller says what it waits for (waiting()) and what an ack, a nack or
 * a return means to it (on_event()); the reader ends when nothing is
 * waited for, when on_event asks it to, or on a timeout or a closed link,
 * and says which. A connection belongs to one thread. */
#ifndef QDECK_NET_AMQP_CONFIRM_H
#define QDECK_NET_AMQP_CONFIRM_H

#include <amqp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum amqp_confirm_kind {
    AMQP_CONFIRM_ACK,
    AMQP_CONFIRM_NACK,
    AMQP_CONFIRM_RETURN,
};

struct amqp_confirm_event {
    enum amqp_confirm_kind kind;
    uint64_t tag;                    /* ack, nack: the delivery tag */
    bool multiple;                   /* ack, nack: every tag up to tag */
    amqp_bytes_t reply_text, exchange, routing_key;   /* return */
    amqp_rpc_reply_t read;           /* return: reading the returned message */
    const amqp_message_t *message;   /* return: the message, NULL when read failed */
};

/* How amqp_confirm_read ended. */
enum amqp_confirm_end {
    AMQP_CONFIRM_SETTLED,            /* waiting() said nothing is waited for */
    AMQP_CONFIRM_STOPPED,            /* on_event() returned -1 */
    AMQP_CONFIRM_TIMEOUT,            /* no frame within idle, or the deadline passed */
    AMQP_CONFIRM_LINK_ERROR,         /* reading failed: status says why */
    AMQP_CONFIRM_CHANNEL_CLOSED,     /* the broker closed the channel: text */
    AMQP_CONFIRM_CONNECTION_CLOSED,  /* the broker closed the connection: text */
};

struct amqp_confirm_result {
    enum amqp_confirm_end end;
    int status;                      /* LINK_ERROR: the rabbitmq-c status */
    char text[256];                  /* *_CLOSED: the broker's reply text */
};

struct amqp_confirm_reader {
    /* true while something is still waited for; checked before each frame */
    bool (*waiting)(void *arg);
    /* an ack, nack or return; 0 to go on, -1 to stop reading */
    int (*on_event)(void *arg, const struct amqp_confirm_event *e);
    void *arg;
    double deadline;                 /* clock_mono() instant to give up; INFINITY: none */
    double idle;                     /* seconds to wait for any one frame; INFINITY: no limit */
};

/* Reads frames on conn until the reader's waiting() is false or one of the
 * other ends; *out says which. 0 when SETTLED, else -1. */
int amqp_confirm_read(amqp_connection_state_t conn, const struct amqp_confirm_reader *r,
                      struct amqp_confirm_result *out);

#endif
