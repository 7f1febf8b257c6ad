/* The console's view of the control plane: the guardrails that are set
 * (with who set them and when), the breaker commands, and the newest
 * events and audit records. A thread with its own Redis connection reads
 * them every refresh into an immutable, refcounted `struct board` and
 * writes one byte to the console's notify pipe; the UI only ever takes a
 * reference. It only reads: changes (a guardrail toggled in view 7) are
 * jobs on the console's write queue (console/control-writes.h). */
#ifndef QDECK_BOARD_H
#define QDECK_BOARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "control/policy-store.h"
#include "core/config.h"
#include "core/feed.h"

struct board_event {
    double at;          /* wall time, from the stream entry id */
    bool audit;         /* from qdeck:audit (else qdeck:events) */
    char *kind;         /* "breaker", "worker.lost", "policy.set", ... */
    char *text;         /* the rest, one line */
};

struct board {
    _Atomic int refs;
    double taken_at;
    struct policy_item *guardrails;   /* set in qdeck:policy, sorted by name */
    size_t nguardrails;
    struct policy_entry *breakers;    /* qdeck:breaker commands */
    size_t nbreakers;
    struct board_event *events;       /* newest first, both streams merged */
    size_t nevents;
};

struct board_feed;

/* Starts the thread for ctx's Redis (NULL when the context has none). */
struct board_feed *board_start(const struct config *cfg, const struct context_config *ctx, int notify_fd);
void board_stop(struct board_feed *f);
/* The newest board (referenced; NULL before the first answer) and the
 * connection status, as the source feeds report it. */
struct board *board_get(struct board_feed *f, enum source_status *status, char *message, size_t len);
void board_release(struct board *b);
/* Appends the entries of one XRANGE/XREVRANGE reply of qdeck:events (or
 * qdeck:audit when audit) to *events, as the Events view shows them: a
 * kind and one line of text. Also what `qdeck events` prints. */
struct redisReply;
void board_events_parse(const struct redisReply *r, bool audit, struct board_event **events, size_t *n);
void board_events_sort(struct board_event *events, size_t n);   /* newest first */
void board_events_free(struct board_event *events, size_t n);
/* The guardrails of b as a policy snapshot (refs 1; policy_release it),
 * for the alerts and the queue rows (paused, shed); NULL when b is. */
struct policy *board_policy(const struct board *b);
/* The value set for name in b, or NULL. */
const struct policy_item *board_guardrail(const struct board *b, const char *name);

#endif
