/* The control plane's hiredis command helper (heartbeat, fleet reader,
 * scheduler, events): a printf-style command whose failure is one line.
 * Connections are opened with net/redis-open.h. */
#ifndef QDECK_REDIS_CONNECT_H
#define QDECK_REDIS_CONNECT_H

#include <hiredis/hiredis.h>
#include <stddef.h>

/* A command's reply, or NULL with a one-line reason (connection lost or an
 * error reply, which is freed). */
redisReply *control_redis_command(redisContext *c, char *err, size_t errlen, const char *fmt, ...);

#endif
