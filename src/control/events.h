/* The fleet's event stream qdeck:events (keys.h): worker joined / stopped /
 * lost, scheduler leadership, ... — one XADD per event, capped at about
 * 10,000 entries (MAXLEN ~), read by the console's Events view. Fields:
 * type, subject (a worker id, a job, a dependency), text, at (ISO-8601 UTC),
 * host. */
#ifndef QDECK_EVENTS_H
#define QDECK_EVENTS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#define EVENTS_MAXLEN "10000"

/* 0, or -1 with a reason (the connection may be broken: check c->err). */
int events_append(redisContext *c, const char *type, const char *subject, const char *text, char *err,
                  size_t errlen);

#endif
