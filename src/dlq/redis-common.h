/* What the Redis list and stream DLQ backends share: the connection, the
 * key's type check, reply helpers and pipelined script calls. */
#ifndef QDECK_DLQ_REDIS_COMMON_H
#define QDECK_DLQ_REDIS_COMMON_H

#include "dlq/dlq.h"

#define REDIS_PAGE 500

struct redis_dlq {
    redisContext *c;
};

/* Connects and checks the key is `type` (or absent). */
int redis_dlq_open(struct dlq *d, const char *type);
void redis_dlq_close(struct dlq *d);
/* Runs a command; NULL (with d->err) on a transport error or an error reply. */
redisReply *redis_dlq_command(struct dlq *d, int argc, const char **argv, const size_t *lens, const char *what);
/* Reads n pipelined replies into out (caller frees each); -1 on transport error. */
int redis_dlq_replies(struct dlq *d, size_t n, redisReply **out, const char *what);

#endif
