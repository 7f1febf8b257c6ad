/* One way for the control plane (heartbeat, fleet reader, scheduler, sched
 * CLI) to open a hiredis connection from a context's Redis URL:
 * redis://[user:pass@]host:port/db or unix:///path?db=N, parsed by
 * core/url.h, AUTH and SELECT done. Errors never show the password. */
#ifndef QDECK_REDIS_CONNECT_H
#define QDECK_REDIS_CONNECT_H

#include <hiredis/hiredis.h>
#include <stddef.h>

/* timeout bounds both connecting and every reply. NULL with a reason. */
redisContext *control_redis_connect(const char *url, double timeout, char *err, size_t errlen);
/* A command's reply, or NULL with a one-line reason (connection lost or an
 * error reply, which is freed). */
redisReply *control_redis_command(redisContext *c, char *err, size_t errlen, const char *fmt, ...);

#endif
