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

/* Replay, one message of a page (decoded): 1 when it is to be moved (*sent
 * and target are set), 0 when it was settled here — not selected, past
 * the limit, refused by dlq_prepare_replay, or only counted by a dry run —
 * and freed. acted counts the selected ones. */
int redis_dlq_replay_prepare(struct dlq *d, const struct dlq_replay *rq, struct dlq_message *m, long *acted,
                             struct dlq_message **sent, char *target, size_t tlen, struct dlq_tally *t);
/* Replay, the replies of `queued` pipelined move scripts (ok: they were
 * read): tallies and reports each, frees orig and sent; returns how many
 * left the DLQ. */
size_t redis_dlq_replay_settle(const struct dlq_replay *rq, redisReply **replies, bool ok, struct dlq_message **orig,
                               struct dlq_message **sent, char (*targets)[512], size_t queued, struct dlq_tally *t);

#endif
