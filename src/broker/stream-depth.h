/* How deep a Redis stream is for the queue.<name>.max_depth guardrail:
 * the work still waiting, not the stream's length. A stream keeps entries
 * after its groups have read and acked them (until XTRIM / XADD MAXLEN), so
 * XLEN counts finished work; what waits for a consumer group is its lag,
 * the entries added after the group's last-delivered ID (XINFO GROUPS
 * `lag`, Redis 7.0+). Both the worker (src/worker/consumer-stream.c) and
 * `qdeck publish` (src/cli/publish.c) measure depth with this. */
#ifndef QDECK_BROKER_STREAM_DEPTH_H
#define QDECK_BROKER_STREAM_DEPTH_H

#include <hiredis.h>
#include <stddef.h>

/* The depth from the replies of `XLEN key` and `XINFO GROUPS key` (taken in
 * that order, in one round trip or one MULTI): the lag of `group`, or with
 * group NULL the largest lag among the key's groups. A group that does not
 * exist yet, or a key without groups, counts the whole stream (a group
 * created at 0 would read all of it). -1 when xlen is not an integer. */
long stream_depth_from_replies(const redisReply *xlen, const redisReply *groups, const char *group);

/* Pipelines XLEN and XINFO GROUPS on c and applies the above. 0 with
 * *depth set, or -1 with the reason in err (connection lost, wrong type). */
int stream_depth(redisContext *c, const char *key, const char *group, long *depth, char *err, size_t errlen);

#endif
