/* The Redis source's state, and its key discovery (used by redis.c, the
 * source itself: connect and refresh).
 *
 * Discovery is a background job with a budget, because SCAN costs Redis
 * in proportion to every key it holds, queues or not (a Celery result
 * backend alone keeps a million keys). Each refresh spends at most the
 * SCAN steps the budget has saved up (redis_scan_rate keys looked at per
 * second, SCAN_COUNT a step, a small burst so that a small keyspace is
 * walked at once), carrying the cursors over to the next refresh. Every
 * glob pattern is walked twice side by side, TYPE list and TYPE stream;
 * a pattern without glob characters is one key, asked with TYPE. What a
 * walk finds is remembered and shown at once. A finished cycle starts
 * again DISCOVERY_RESTART seconds later, to find new keys; a key no cycle
 * found and no refresh saw holding anything for FORGET_AFTER is dropped.
 * The snapshot says how far discovery has come, from DBSIZE. `qdeck
 * status` (single_pass) walks it all in its one refresh instead.
 *
 * A collector thread owns a redis_src; nothing here locks. */
#ifndef QDECK_REDIS_DISCOVERY_H
#define QDECK_REDIS_DISCOVERY_H

#include <hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "broker/source.h"
#include "core/config.h"
#include "net/redis-open.h"

enum redis_key_type { KEY_LIST, KEY_STREAM };

struct stream_group {
    char *name;
    char *last_delivered;
};

struct redis_key {
    char *key;
    enum redis_key_type type;
    double last_seen;              /* monotonic time discovery found it or a refresh saw it non-empty */
    bool watched;                  /* redis_watch: shown always, never forgotten */
    struct stream_group *groups;   /* from the last XINFO GROUPS */
    size_t ngroups;
};

/* Where the background discovery stands: a cycle walks every glob pattern
 * in turn, each with two cursors (TYPE list, TYPE stream). */
struct discovery {
    bool walking;                  /* a cycle is under way */
    bool complete_once;            /* some cycle has finished */
    size_t pattern;                /* the glob pattern being walked */
    char cursor[2][32];            /* list, stream */
    bool walk_done[2];
    unsigned long steps[2];        /* SCAN steps taken in each walk of this pattern */
    double cycle_started;          /* monotonic */
    double cycle_done_at;          /* monotonic; -inf: start at once */
    double tokens, tokens_at;      /* the step budget and when it was last topped up */
    long long dbsize;              /* -1 unknown */
    double dbsize_at;
};

struct redis_src {
    redisContext *ctx;
    struct redis_interrupt interrupt;   /* the socket, for redis_interrupt() from any thread */
    char **patterns, **exclude, **watch;
    size_t npatterns, nexclude, nwatch;   /* watch: list keys shown even when empty */
    char **globs, **exact;                /* the patterns split: walked with SCAN, asked with TYPE */
    size_t nglobs, nexact;
    int scan_cap;
    double steps_per_second;              /* the SCAN budget */
    double timeout;
    struct redis_key *keys;
    size_t nkeys;
    bool truncated;
    struct discovery disc;
    char *server;
};

/* Parses the discovery settings of a context (redis_keys, redis_exclude,
 * redis_watch, redis_scan_cap, redis_scan_rate); no network. */
void redis_discovery_init(struct redis_src *r, const struct context_config *ctx);
/* After a disconnect (maybe another server now): walk again from the
 * start, at once. */
void redis_discovery_restart(struct redis_src *r);
void redis_discovery_fini(struct redis_src *r);

/* Spends what the SCAN budget allows (everything, for a single pass) on
 * the walk, starting a cycle when one is due. */
enum source_status redis_discover(struct source *src, char *err, size_t errlen);
/* "discovery 34% (340k/1.0M keys)", "discovery complete", ... (new string). */
char *redis_discovery_text(struct redis_src *r);
/* DBSIZE now and then, while a walk runs, for redis_discovery_text. */
void redis_read_dbsize(struct redis_src *r);

/* Replaces a stream key's group list with what XINFO GROUPS says. */
void redis_key_set_groups(struct redis_key *k, const redisReply *rep);
/* The string value of a field in a flat field/value array reply. */
const char *redis_field_string(const redisReply *info, const char *name);

/* Classifies a hiredis context error: SOURCE_TIMEOUT or SOURCE_DOWN, with
 * one line naming what was being done. */
enum source_status redis_context_failure(redisContext *c, const char *doing, char *err, size_t errlen);
/* One command on r->ctx; the reply in *out (free it), or the failure
 * status with one line (an error reply that means "log in" is
 * SOURCE_AUTH_FAILED). */
enum source_status redis_run_command(struct redis_src *r, redisReply **out, const char *doing, char *err,
                                     size_t errlen, int argc, const char **argv);

#endif
