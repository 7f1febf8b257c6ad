/* rabbitmq-c plumbing the worker and `qdeck publish` share: open a
 * connection from a URL (amqp:// or amqps://, logged in by net/amqp-login.h),
 * turn RPC replies into one readable line, and publish with publisher
 * confirms (read by net/amqp-confirm.h). Every function uses channel 1, and
 * a connection belongs to exactly one thread. */
#ifndef QDECK_WORKER_AMQP_LINK_H
#define QDECK_WORKER_AMQP_LINK_H

#include <amqp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

#define AMQP_LINK_CHANNEL 1

/* Why a connection could not be opened: callers treat a refused login
 * (wrong user or password, or no access to the vhost) and a failed
 * certificate check as errors that retrying cannot fix, unlike a broker
 * that is away. */
enum amqp_link_fault {
    AMQP_LINK_FAULT_NONE,
    AMQP_LINK_FAULT_URL,          /* not an amqp[s]:// URL, or TLS files that cannot be used */
    AMQP_LINK_FAULT_UNREACHABLE,  /* TCP connect failed or timed out */
    AMQP_LINK_FAULT_TLS,          /* the certificate check or the TLS handshake failed */
    AMQP_LINK_FAULT_LOGIN,        /* the broker refused the login or the vhost */
    AMQP_LINK_FAULT_OTHER,        /* anything after login (channel, confirms...) */
};

/* Connects (TLS as tls says, for amqps://), logs in, opens channel 1, and
 * (confirms) selects confirm mode. heartbeat in seconds (0: none). NULL with
 * a reason in err (no secrets). */
amqp_connection_state_t amqp_link_open(const char *url, const struct tls_options *tls, int heartbeat, bool confirms,
                                       double timeout, char *err, size_t errlen);
/* The same, saying why in *fault (may be NULL). A refused login reads
 * "RabbitMQ at amqp://user:***@host:port/vhost refused the login (wrong
 * user or password)". */
amqp_connection_state_t amqp_link_connect(const char *url, const struct tls_options *tls, int heartbeat,
                                          bool confirms, double timeout, enum amqp_link_fault *fault, char *err,
                                          size_t errlen);
/* "login refused", "unreachable", ... for health lines; "" for NONE. */
const char *amqp_link_fault_name(enum amqp_link_fault fault);
void amqp_link_close(amqp_connection_state_t conn);
/* 0 when r is a normal reply; else -1 with what went wrong in err. */
int amqp_link_check(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen);

/* The broker closed channel 1 (e.g. a passive declare of a missing queue):
 * answers with channel.close-ok and opens it again, in confirm mode when
 * confirms. 0, or -1 with err. */
int amqp_link_reopen_channel(amqp_connection_state_t conn, bool confirms, char *err, size_t errlen);

/* Publishes on a confirm-mode channel; counts the publish in *next_tag. */
int amqp_link_publish(amqp_connection_state_t conn, const char *exchange, const char *routing_key,
                      const amqp_basic_properties_t *props, const void *body, size_t len, uint64_t *next_tag,
                      char *err, size_t errlen);
/* Waits until every publish up to tag `upto` is confirmed (*acked follows
 * the broker). -1 on nack, return (unroutable), timeout or a dead link. */
int amqp_link_wait_confirms(amqp_connection_state_t conn, uint64_t upto, uint64_t *acked, double timeout,
                            char *err, size_t errlen);

#endif
