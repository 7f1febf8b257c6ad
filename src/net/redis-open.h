/* Opening a hiredis connection from a Redis URL, one way for every caller
 * (worker consumers, `qdeck publish`, the control plane, the console's
 * collectors): redis://[user:pass@]host:port/db or unix:///path?db=N, parsed
 * by core/url.h; connected with a timeout; AUTH and SELECT done; every reply
 * then bounded by a read timeout. hiredis here (0.14) has no TLS, so a
 * rediss:// URL is refused with a line that says so. Errors are one line and
 * show the URL with its password as "***".
 *
 * A collector that must be stopped while it waits on Redis hands in a
 * redis_interrupt: the socket is registered in it as soon as it exists, so
 * redis_interrupt_fire() from another thread cuts short the connect's AUTH
 * and SELECT as well as every later command. It shuts the socket down, so a
 * write that follows fails with EPIPE: the process must ignore SIGPIPE, as
 * every qdeck binary does from main(). */
#ifndef QDECK_NET_REDIS_OPEN_H
#define QDECK_NET_REDIS_OPEN_H

#include <hiredis.h>
#include <pthread.h>
#include <stddef.h>

#include "core/url.h"

/* Why a connection could not be opened. */
enum redis_open_failure {
    REDIS_OPEN_BAD_URL,       /* none, unparseable, or not redis:// / unix:// */
    REDIS_OPEN_UNREACHABLE,   /* no connection (refused, no route, connect timeout) */
    REDIS_OPEN_TIMEOUT,       /* connected, but AUTH or SELECT got no answer in time */
    REDIS_OPEN_LOST,          /* connected, then the connection broke */
    REDIS_OPEN_AUTH,          /* Redis refused the AUTH, or wants one (wrong or no password) */
    REDIS_OPEN_REFUSED,       /* Redis refused the SELECT otherwise */
};

/* The socket of a connection another thread may need to cut short. */
struct redis_interrupt {
    pthread_mutex_t lock;
    int fd;                   /* -1: nothing to interrupt */
};

void redis_interrupt_init(struct redis_interrupt *ri);
void redis_interrupt_destroy(struct redis_interrupt *ri);
/* Forgets the socket; call before the context is freed. */
void redis_interrupt_disarm(struct redis_interrupt *ri);
/* From any thread: shuts the registered socket down, so a blocked call on it
 * returns at once (with an error) and later ones fail fast. */
void redis_interrupt_fire(struct redis_interrupt *ri);

struct redis_open_options {
    double connect_timeout;           /* seconds; <= 0: 5 */
    double read_timeout;              /* every reply; <= 0: connect_timeout. Keep it above
                                         any BLMOVE / XREADGROUP block time */
    struct redis_interrupt *interrupt;   /* NULL, or armed with the new socket */
};

/* Parses a Redis URL and checks its scheme (redis, unix); no network.
 * 0, or -1 with one line in err (free u only on 0). */
int redis_url_parse(const char *url, struct broker_url *u, char *err, size_t errlen);

/* Connects, AUTH (when the URL has a password), SELECT (db > 0). The
 * context, or NULL with *why (may be NULL) and one line in err. */
redisContext *redis_open_with(const char *url, const struct redis_open_options *o, enum redis_open_failure *why,
                              char *err, size_t errlen);
/* redis_open_with without an interrupt or a reason. */
redisContext *redis_open(const char *url, double connect_timeout, double read_timeout, char *err, size_t errlen);

#endif
