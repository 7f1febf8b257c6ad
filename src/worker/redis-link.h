/* hiredis helpers for the worker and `qdeck publish`: turn replies into
 * 0/-1 with one readable line, drain and settle pipelines. Connections are
 * opened with net/redis-open.h. A context belongs to one thread. */
#ifndef QDECK_WORKER_REDIS_LINK_H
#define QDECK_WORKER_REDIS_LINK_H

#include <hiredis.h>
#include <stddef.h>

struct consumer;
struct task;

/* Runs a command; 0 unless the reply is missing or an error (reason in err).
 * The reply is stored in *out when out is non-NULL (free it), else freed. */
int redis_link_cmd(redisContext *c, redisReply **out, char *err, size_t errlen, int argc, const char **argv,
                   const size_t *argvlen);
/* Reads n pipelined replies; 0 when none failed at the connection level.
 * Error replies are reported in err but still counted as read. */
int redis_link_drain(redisContext *c, int n, char *err, size_t errlen);
/* Settles tasks[0..n) (n <= SETTLE_BATCH_MAX) in one pipeline: append()
 * writes one task's commands and returns how many replies they get; the
 * replies are read after all are written. Returns n, or 0 when the
 * connection broke: then all are applied again after the reconnect, which
 * is safe because each settlement is idempotent (LREM/XACK of what is gone
 * is a no-op). A refused command is logged with its task and the
 * consumer's label; c is only handed to append(). */
int redis_link_settle(redisContext *rc, struct consumer *c, const char *label, struct task **tasks, int n,
                      int (*append)(struct consumer *c, struct task *t));

#endif
