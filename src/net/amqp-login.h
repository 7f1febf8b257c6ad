/* Connecting and logging in to RabbitMQ, shared by every AMQP client in
 * qdeck (worker, publish, DLQ, scheduler, the console's passive declares),
 * TLS included (amqps://), so that a peer that is not a broker is told
 * apart from a broker that refuses the login.
 *
 * An AMQP broker answers the protocol header with connection.start at once.
 * The login is first tried with a short greeting timeout: when nothing came
 * back (a silent peer such as redis-server waits for a newline), or the
 * peer closed or answered bytes that are not AMQP, and no connection.start
 * was ever read, the peer "does not speak AMQP" — said within about a
 * second rather than after the full timeout. A broker that did greet but
 * was slow to finish the login gets one more try with the full timeout. */
#ifndef QDECK_NET_AMQP_LOGIN_H
#define QDECK_NET_AMQP_LOGIN_H

#include <amqp.h>
#include <stddef.h>

#include "core/config.h"

#define AMQP_GREETING_TIMEOUT 1.0   /* seconds for a broker to send connection.start */

enum amqp_login_failure {
    AMQP_LOGIN_BAD_URL,       /* not an amqp[s]:// URL rabbitmq-c can read, or TLS files it cannot use */
    AMQP_LOGIN_UNREACHABLE,   /* no TCP (or TLS) connection */
    AMQP_LOGIN_TLS,           /* the certificate check or the TLS handshake failed: fix the config or certs */
    AMQP_LOGIN_NOT_AMQP,      /* connected, but the peer is not an AMQP broker */
    AMQP_LOGIN_REFUSED,       /* the broker refused the login (credentials, vhost) */
    AMQP_LOGIN_BROKEN,        /* the broker greeted, then the login failed otherwise */
};

/* Connects to url (amqp:// or amqps://, with tls's CA, client certificate
 * and verification: net/tls.h; NULL: verify against the system's CAs) and
 * logs in; heartbeat seconds (0 none); timeout bounds the connect and the
 * login, and is set as the RPC timeout. The connection, or NULL with one
 * line in err naming the (redacted) URL and *why set. */
amqp_connection_state_t amqp_connect_login(const char *url, const struct tls_options *tls, int heartbeat,
                                           double timeout, enum amqp_login_failure *why, char *err, size_t errlen);

#endif
