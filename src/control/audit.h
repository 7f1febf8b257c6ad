/* The audit trail: every mutating action (guardrail, breaker, DLQ replay,
 * purge, import...) becomes one record with time, user, host, context,
 * action, target, old and new value and result, appended to a local JSONL
 * file and, when a Redis connection is given, to the stream qdeck:audit. */
#ifndef QDECK_AUDIT_H
#define QDECK_AUDIT_H

#include <hiredis/hiredis.h>

#include "control/keys.h"
#include "core/config.h"

#define AUDIT_STREAM KEY_AUDIT

struct audit_entry {
    const char *action;      /* "policy.set", "breaker.open", "dlq.replay", ... */
    const char *target;      /* guardrail name, breaker, queue address */
    const char *old_value;   /* NULL when there is none */
    const char *new_value;
    const char *result;      /* "ok", "refused: read-only", "moved 10, failed 0, skipped 0" */
};

/* The local file: [qdeck] audit_log, else $XDG_STATE_HOME/qdeck/audit.jsonl,
 * else ~/.local/state/qdeck/audit.jsonl. Caller frees. */
char *audit_log_path(const struct config *cfg);
/* Appends e to the file (creating its directory) and, when redis is not
 * NULL, XADDs it to qdeck:audit. 0, or -1 when either write failed (err
 * says which; the other is still attempted). */
int audit_record(const struct config *cfg, const char *context, redisContext *redis,
                 const struct audit_entry *e, char *err, size_t errlen);

#endif
