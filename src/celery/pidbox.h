/* Celery's remote control (kombu's pidbox, as celery/app/control.py uses
 * it): a request {method, arguments, destination, pattern, matcher,
 * ticket, reply_to} to the fanout exchange `celery.pidbox`; every worker
 * the destination names (all when none) answers {hostname: reply} on the
 * direct exchange `reply.celery.pidbox` with a "ticket" header, routed by
 * the reply_to routing key into a reply queue of qdeck's own, read until
 * the expected count or the wait runs out.
 *
 *   - RabbitMQ: the reply queue "<oid>.reply.celery.pidbox" is exclusive
 *     and auto-delete, bound with routing key <oid>; both exchanges are
 *     declared as kombu declares them (transient, not auto-delete).
 *   - Redis (kombu's virtual transport): the request is a PUBLISH on
 *     "/{db}.celery.pidbox" in kombu's envelope (base64 body); the reply
 *     queue is a list, bound by adding "<oid>\x06\x16\x06\x16<queue>" to
 *     the set "_kombu.binding.reply.celery.pidbox", read with BRPOP,
 *     unbound and deleted afterwards. */
#ifndef QDECK_CELERY_PIDBOX_H
#define QDECK_CELERY_PIDBOX_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "core/config.h"

struct celery_pidbox_request {
    const char *method;            /* "ping", "rate_limit", "stats", ... */
    const cJSON *arguments;        /* an object; NULL: {} */
    const char *const *destination;   /* worker hostnames; NULL/0: every worker */
    size_t ndestination;
    double wait;                   /* seconds to collect replies */
    size_t expect;                 /* stop after this many replies; 0: the destinations' count, or wait it out */
};

/* Sends the request to the Celery fleet on url (amqp[s]:// or redis://)
 * and collects replies into *replies: an object hostname -> reply (empty
 * when nobody answered). 0, or -1 with one line in err. */
int celery_pidbox_call(const char *url, const struct tls_options *tls, double timeout,
                       const struct celery_pidbox_request *req, cJSON **replies, char *err, size_t errlen);

#endif
