/* What every DLQ backend shares: failures, closing, the Redis connection
 * helper the Redis backends and the result-store lookups use, and the tally
 * and summary line of a replay. Calls no backend by name: the table of
 * backends is in backends.c. */
#include "dlq/dlq.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "net/redis-open.h"

int dlq_fail(struct dlq *d, enum dlq_failure kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
    d->failure = kind;
    return -1;
}

bool dlq_cancelled(const struct dlq *d)
{
    return d->cancel && atomic_load(d->cancel);
}

redisContext *dlq_redis_connect(const char *url, double timeout, char *err, size_t errlen)
{
    redisContext *c = redis_open(url, timeout > 0 ? timeout : 5, 0, err, errlen);
    if (c) {
        /* long scripts over big lists: replies may take longer than a connect */
        struct timeval rtv = {.tv_sec = (time_t)(timeout > 0 ? timeout : 5) * 6 + 10};
        redisSetTimeout(c, rtv);
    }
    return c;
}

void dlq_close(struct dlq *d)
{
    if (!d)
        return;
    if (d->ops && d->priv)
        d->ops->close(d);
    if (d->store)
        redisFree(d->store);
    queue_address_free(&d->addr);
    free(d->display);
    free(d);
}

void dlq_tally_dropped(struct dlq_tally *t, const char *id)
{
    t->deduped++;
    size_t used = strlen(t->dropped), need = strlen(id) + (used ? 1 : 0);
    const char *cut = "…";
    if (used >= strlen(cut) && strcmp(t->dropped + used - strlen(cut), cut) == 0)
        return;
    if (used + need + strlen(cut) + 2 < sizeof t->dropped)
        snprintf(t->dropped + used, sizeof t->dropped - used, "%s%s", used ? " " : "", id);
    else
        snprintf(t->dropped + used, sizeof t->dropped - used, "%s%s", used ? " " : "", cut);
}

/* What may now be in both the DLQ and the target, and why. */
long dlq_replay_duplicated(const struct dlq_tally *t, char *why, size_t len)
{
    const char *parts[3];
    size_t n = 0;
    if (t->in_doubt)
        parts[n++] = "published, unconfirmed when the connection was lost";
    if (t->unsettled)
        parts[n++] = "published by an earlier replay that never saw its confirm (killed, or its connection lost), sent again";
    if (t->doubtful)
        parts[n++] = "a confirmed replay of the same bytes is journalled, but no death mark tells a copy from a new "
                     "death: sent again";
    if (!n)
        snprintf(why, len, "every confirm in flight was settled");
    else
        snprintf(why, len, "%s%s%s%s%s", parts[0], n > 1 ? "; " : "", n > 1 ? parts[1] : "", n > 2 ? "; " : "",
                 n > 2 ? parts[2] : "");
    return t->in_doubt + t->unsettled + t->doubtful;
}

void dlq_replay_summary(const struct dlq_tally *t, bool dry_run, bool error, long left, char *out, size_t len)
{
    char why[400];
    long dup = dlq_replay_duplicated(t, why, sizeof why);
    size_t n;
    if (t->interrupted) {
        snprintf(out, len, "%sinterrupted: moved %ld, duplicated %ld (%s), left %ld", error ? "error, " : "",
                 t->moved, dup, why, left);
        n = strlen(out);
        if (t->failed || t->skipped)
            snprintf(out + n, len - n, ", failed %ld, skipped %ld", t->failed, t->skipped);
    } else {
        snprintf(out, len, "%s%smoved %ld, failed %ld, skipped %ld", error ? "error, " : "",
                 dry_run ? "dry run: would have " : "", t->moved, t->failed, t->skipped);
        n = strlen(out);
        if (t->in_doubt)
            snprintf(out + n, len - n, ", in doubt %ld", t->in_doubt);
        n = strlen(out);
        if (t->doubtful || t->unsettled)
            snprintf(out + n, len - n, ", duplicated %ld (%s)", t->doubtful + t->unsettled, why);
    }
    n = strlen(out);
    if (t->deduped)
        snprintf(out + n, len - n, ", dropped %ld (copies whose replayed twin was confirmed): %s", t->deduped,
                 t->dropped);
}
