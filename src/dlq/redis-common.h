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

/* Where a walk over a Redis DLQ stands: the position of the next item
 * (0 = oldest), and for streams the last entry ID read. */
struct redis_cursor {
    size_t pos;
    char last[80];
};

/* What the shared purge needs to know of a list or a stream. */
struct redis_dlq_kind {
    const char *purge_script;   /* KEYS[1]: deletes the key, returns how many it held */
    int (*count)(struct dlq *d, long *out);
    /* Reads the page at cur (up to REDIS_PAGE) and moves cur past it. */
    int (*read_page)(struct dlq *d, struct redis_cursor *cur, struct dlq_message **out, size_t *n);
    /* Pipelines (redisAppendCommandArgv) the removal of m; its reply is an
     * integer, > 0 when it removed m. */
    void (*append_remove)(struct dlq *d, const struct dlq_message *m);
    const char *remove_what;    /* the command, for errors: "LREM", "XDEL" */
    bool removal_shifts;        /* a list: items behind a removed one move up a position */
};

/* The one purge of the Redis backends: the whole key in one script when
 * everything is selected, else page by page, the selected removals
 * pipelined a page at a time; one gone before its removal is skipped. */
int redis_dlq_purge(struct dlq *d, const struct redis_dlq_kind *k, const struct dlq_select *sel,
                    struct dlq_tally *t);

/* One page of a replay: the messages read, and for the `queued` ones to
 * move, the original, the copy sent, its target and the script's reply. */
struct redis_replay_page {
    struct dlq_message *read[REDIS_PAGE];
    struct dlq_message *orig[REDIS_PAGE], *sent[REDIS_PAGE];
    char targets[REDIS_PAGE][512];
    redisReply *replies[REDIS_PAGE];
    size_t queued;
};

/* Replay, one message of a page (decoded): its index in p when it is to be
 * moved (orig, sent and target set; the caller pipelines the move), or -1
 * when it was settled here — not selected, past the limit, refused by
 * dlq_prepare_replay, or only counted by a dry run — and freed. acted
 * counts the selected ones. */
int redis_dlq_replay_prepare(struct dlq *d, const struct dlq_replay *rq, struct dlq_message *m, long *acted,
                             struct redis_replay_page *p, struct dlq_tally *t);
/* Replay, the end of a page: reads the replies of the pipelined moves,
 * tallies and reports each, frees what the page holds; returns how many
 * left the DLQ, or -1 when the replies could not be read (the moves are
 * counted in doubt). */
long redis_dlq_replay_settle(struct dlq *d, const struct dlq_replay *rq, struct redis_replay_page *p,
                             struct dlq_tally *t);

#endif
