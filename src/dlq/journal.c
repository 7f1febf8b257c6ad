/* The replay journal: why a RabbitMQ replay does not duplicate what a
 * broker crash un-acks.
 *
 * AMQP gives no confirmation for an ack. RabbitMQ holds acks of persistent
 * messages in memory for a while before its queue index reaches the disk,
 * so a broker killed -9 just after a replay can bring thousands of already
 * replayed messages back into the DLQ (measured: all 3,500 acks of the
 * last 1.5 s). The publisher confirm, on the other hand, is durable. So
 * between the confirm of a batch and the acks of its DLQ copies, the
 * identities of the confirmed messages are appended to this file and
 * fdatasync'ed; a later replay that meets one of them in the DLQ removes
 * that copy instead of publishing it a second time. What stays possibly
 * duplicated is only what was published and not yet confirmed when the
 * connection broke: at most one confirm window, and reported.
 *
 * An identity is a 64-bit FNV-1a hash over the DLQ's address, the headers
 * table, the message_id and the body: the same bytes the broker requeues,
 * and different once a message has been replayed (x-qdeck-replays) and died
 * again. Only a copy the broker flags as redelivered is matched against the
 * journal — a crash brings un-acked copies back flagged, while a fresh
 * message with the same bytes (re-imported, dead-lettered anew) is not, and
 * is replayed like any other. Lines are "<hex identity> <unix time>"; entries older than
 * JOURNAL_KEEP_DAYS are ignored when the file is read, and the file is
 * rewritten without them once it holds mostly old entries. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "dlq/journal.h"

#define JOURNAL_KEEP_DAYS 2

struct dlq_journal {
    int fd;
    uint64_t *keys;      /* open addressing; 0 = empty (identities are never 0) */
    uint32_t *counts;
    size_t cap, n;
};

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t dlq_message_identity(const struct dlq *d, const struct dlq_message *m)
{
    uint64_t h = 14695981039346656037ull;
    h = fnv(h, d->display, strlen(d->display) + 1);
    if (m->props) {
        h = fnv(h, m->props->headers.data ? m->props->headers.data : "", m->props->headers.len);
        h = fnv(h, "\1", 1);
        h = fnv(h, m->props->message_id.data ? m->props->message_id.data : "", m->props->message_id.len);
        h = fnv(h, "\1", 1);
    }
    h = fnv(h, m->body.data ? m->body.data : "", m->body.len);
    return h ? h : 1;
}

static void put(struct dlq_journal *j, uint64_t key)
{
    if ((j->n + 1) * 2 > j->cap) {
        size_t old = j->cap;
        uint64_t *keys = j->keys;
        uint32_t *counts = j->counts;
        j->cap = old ? old * 2 : 1024;
        j->keys = xcalloc(j->cap, sizeof *j->keys);
        j->counts = xcalloc(j->cap, sizeof *j->counts);
        j->n = 0;
        for (size_t i = 0; i < old; i++)
            for (uint32_t c = 0; keys[i] && c < counts[i]; c++)
                put(j, keys[i]);
        free(keys);
        free(counts);
    }
    size_t i = key & (j->cap - 1);
    while (j->keys[i] && j->keys[i] != key)
        i = (i + 1) & (j->cap - 1);
    if (!j->keys[i]) {
        j->keys[i] = key;
        j->n++;
    }
    j->counts[i]++;
}

static void make_dirs(const char *path)
{
    char *dir = xstrdup(path);
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    free(dir);
}

int dlq_journal_open(const char *path, struct dlq_journal **out, char *err, size_t errlen)
{
    *out = NULL;
    make_dirs(path);
    struct dlq_journal *j = xcalloc(1, sizeof *j);
    FILE *f = fopen(path, "r");
    long total = 0, kept = 0;
    time_t horizon = time(NULL) - JOURNAL_KEEP_DAYS * 86400;
    if (f) {
        unsigned long long key;
        long long when;
        while (fscanf(f, "%llx %lld\n", &key, &when) == 2) {
            total++;
            if (when >= horizon && key) {
                put(j, key);
                kept++;
            }
        }
        fclose(f);
    }
    if (total > 10000 && kept < total / 2) {
        /* mostly expired: write the live entries to a new file */
        char *tmp = xasprintf("%s.tmp", path);
        FILE *w = fopen(tmp, "w");
        for (size_t i = 0; w && i < j->cap; i++)
            for (uint32_t c = 0; j->keys[i] && c < j->counts[i]; c++)
                fprintf(w, "%016llx %lld\n", (unsigned long long)j->keys[i], (long long)time(NULL));
        if (w && fclose(w) == 0)
            rename(tmp, path);
        free(tmp);
    }
    j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        snprintf(err, errlen, "replay journal %s: %s", path, strerror(errno));
        dlq_journal_close(j);
        return -1;
    }
    *out = j;
    return 0;
}

bool dlq_journal_take(struct dlq_journal *j, uint64_t key)
{
    if (!j || !j->cap)
        return false;
    size_t i = key & (j->cap - 1);
    while (j->keys[i] && j->keys[i] != key)
        i = (i + 1) & (j->cap - 1);
    if (!j->keys[i] || !j->counts[i])
        return false;
    j->counts[i]--;
    return true;
}

int dlq_journal_append(struct dlq_journal *j, const uint64_t *keys, size_t n)
{
    if (!j || !n)
        return 0;
    char *buf = xmalloc(n * 40 + 1);
    size_t len = 0;
    long long now = (long long)time(NULL);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, 40, "%016llx %lld\n", (unsigned long long)keys[i], now);
    ssize_t w = write(j->fd, buf, len);
    free(buf);
    if (w != (ssize_t)len || fdatasync(j->fd) < 0)
        return -1;
    return 0;
}

void dlq_journal_close(struct dlq_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j->keys);
    free(j->counts);
    free(j);
}
