/* The replay journal: why a RabbitMQ replay neither duplicates what a
 * broker crash un-acks nor deletes a task that died again.
 *
 * AMQP gives no confirmation for an ack. RabbitMQ holds acks of persistent
 * messages in memory for a while before its queue index reaches the disk,
 * so a broker killed -9 just after a replay can bring thousands of already
 * replayed messages back into the DLQ (measured: all 3,500 acks of the
 * last 1.5 s). The publisher confirm, on the other hand, is durable. So
 * once the confirms of a batch are in, and before its DLQ copies are
 * acked, one line per copy is appended to this file and fdatasync'ed: the
 * copy's identity, the replay token its republished twin carries
 * (x-qdeck-replay), and whether the broker confirmed that twin.
 *
 * A later replay drops a DLQ copy as "already replayed" only when all of
 * these hold: the broker flags it redelivered (a crash brings un-acked
 * copies back flagged); it carries a death mark, something that changes
 * with every death (x-death time, the worker's dead_at / x-qdeck-dead-at,
 * or the token of the replay it came out of); and its identity (address,
 * headers, message id, timestamp, body: every byte the broker requeues)
 * equals a journal entry whose twin was confirmed. The same task dead
 * again after its replay carries that replay's token and a new death time,
 * so its identity differs, and it is replayed like any other. A copy
 * without a death mark cannot be told from a new death: it is kept and
 * replayed, never deleted. What stays possibly duplicated is what was
 * published and not yet confirmed when the connection broke: at most one
 * confirm window, and reported.
 *
 * Just before each publish a "p" line is written (no fdatasync: it only has
 * to outlive the process). A copy whose publish has no settled line after
 * it was in flight when a replay was killed: the next replay sends it
 * again and reports it as possibly duplicated.
 *
 * Lines are "<hex identity> <unix time> <token> <c|u|p>" (c: confirmed,
 * u: not confirmed, p: being published);
 * lines of any other shape (the older "<identity> <time>") prove nothing
 * and are ignored. Entries older than JOURNAL_KEEP_DAYS are ignored when
 * the file is read, and the file is rewritten without them once it holds
 * mostly old entries, each keeping its time. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "dlq/amqp-table.h"
#include "dlq/journal.h"

#define JOURNAL_KEEP_DAYS 2

struct slot {
    uint64_t key;               /* 0 = empty (identities are never 0) */
    uint32_t confirmed;         /* confirmed twins not yet used up */
    uint32_t published, settled;   /* 'p' lines, and 'c'/'u' lines: more published than
                                      settled means a replay died between the two */
    long long when;             /* the newest line's time: a rewrite keeps it */
    char token[DLQ_TOKEN_LEN];  /* the last confirmed twin's token */
};

struct dlq_journal {
    int fd;
    struct slot *slots;         /* open addressing */
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
        if (m->props->has_timestamp)
            h = fnv(h, &m->props->timestamp, sizeof m->props->timestamp);
        h = fnv(h, "\1", 1);
    }
    h = fnv(h, m->body.data ? m->body.data : "", m->body.len);
    return h ? h : 1;
}

void dlq_message_token(const struct dlq_message *m, char *out, size_t len)
{
    out[0] = '\0';
    if (!m->props || !m->props->headers.set)
        return;
    amqp_pool_t pool;
    init_amqp_pool(&pool, 1024);
    amqp_table_t t;
    if (dlq_table_decode(&m->props->headers, &pool, &t) == 0) {
        const amqp_field_value_t *v = dlq_table_get(&t, DLQ_REPLAY_TOKEN_HEADER);
        if (v && (v->kind == AMQP_FIELD_KIND_UTF8 || v->kind == AMQP_FIELD_KIND_BYTES))
            snprintf(out, len, "%.*s", (int)v->value.bytes.len, (const char *)v->value.bytes.bytes);
    }
    empty_amqp_pool(&pool);
}

bool dlq_message_has_death_mark(const struct dlq_message *m)
{
    if (!isnan(m->info.last_death))
        return true;
    char token[DLQ_TOKEN_LEN];
    dlq_message_token(m, token, sizeof token);
    return token[0] != '\0';
}

uint64_t dlq_token_run(void)
{
    uint64_t run = 0;
    if (getrandom(&run, sizeof run, 0) != (ssize_t)sizeof run) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        run = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
    }
    return run;
}

void dlq_new_token(uint64_t run, unsigned long seq, char *out, size_t len)
{
    snprintf(out, len, "%016llx.%lu", (unsigned long long)run, seq);
}

static struct slot *find(struct dlq_journal *j, uint64_t key)
{
    if (!j || !j->cap)
        return NULL;
    size_t i = key & (j->cap - 1);
    while (j->slots[i].key && j->slots[i].key != key)
        i = (i + 1) & (j->cap - 1);
    return j->slots[i].key ? &j->slots[i] : NULL;
}

static struct slot *slot_for(struct dlq_journal *j, uint64_t key)
{
    if ((j->n + 1) * 2 > j->cap) {
        size_t old = j->cap;
        struct slot *slots = j->slots;
        j->cap = old ? old * 2 : 1024;
        j->slots = xcalloc(j->cap, sizeof *j->slots);
        for (size_t i = 0; i < old; i++) {
            if (!slots[i].key)
                continue;
            size_t k = slots[i].key & (j->cap - 1);
            while (j->slots[k].key)
                k = (k + 1) & (j->cap - 1);
            j->slots[k] = slots[i];
        }
        free(slots);
    }
    size_t i = key & (j->cap - 1);
    while (j->slots[i].key && j->slots[i].key != key)
        i = (i + 1) & (j->cap - 1);
    if (!j->slots[i].key) {
        j->slots[i].key = key;
        j->n++;
    }
    return &j->slots[i];
}

static void remember(struct dlq_journal *j, uint64_t key, long long when, const char *token, char state)
{
    struct slot *s = slot_for(j, key);
    if (when > s->when)
        s->when = when;
    if (state == 'p') {
        s->published++;
        return;
    }
    s->settled++;
    if (state == 'c') {
        s->confirmed++;
        snprintf(s->token, sizeof s->token, "%s", token);
    }
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

/* One line; false when it is not of the current shape. strtoull, not
 * sscanf: every replay reads the whole journal, two lines per message
 * replayed in the last JOURNAL_KEEP_DAYS, and sscanf spent ~2,300
 * instructions a line (a third of a 10,000-message replay after a few
 * others, under callgrind). */
static bool parse_line(const char *line, uint64_t *key, long long *when, char *token, char *state)
{
    char *end;
    errno = 0;
    unsigned long long k = strtoull(line, &end, 16);
    if (end == line || *end != ' ' || !k || errno)
        return false;
    const char *p = end + 1;
    long long w = strtoll(p, &end, 10);
    if (end == p || *end != ' ' || errno)
        return false;
    p = end + 1;
    size_t tl = strcspn(p, " \n");
    if (!tl || tl >= DLQ_TOKEN_LEN || p[tl] != ' ')
        return false;
    char st = p[tl + 1];
    if ((st != 'c' && st != 'u' && st != 'p') || (p[tl + 2] != '\n' && p[tl + 2] != '\0'))
        return false;
    *key = k;
    *when = w;
    memcpy(token, p, tl);
    token[tl] = '\0';
    *state = st;
    return true;
}

static int format_entry(char *buf, size_t len, uint64_t key, long long when, const char *token, char state)
{
    return snprintf(buf, len, "%016llx %lld %s %c\n", (unsigned long long)key, when, token[0] ? token : "-", state);
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
        char line[256];
        while (fgets(line, sizeof line, f)) {
            uint64_t key;
            long long when;
            char token[DLQ_TOKEN_LEN], state;
            total++;
            if (parse_line(line, &key, &when, token, &state) && when >= horizon) {
                remember(j, key, when, token, state);
                kept++;
            }
        }
        fclose(f);
    }
    if (total > 10000 && kept < total / 2) {
        /* mostly expired: write the live entries to a new file */
        char *tmp = xasprintf("%s.tmp", path);
        FILE *w = fopen(tmp, "w");
        char line[128];
        for (size_t i = 0; w && i < j->cap; i++) {
            const struct slot *s = &j->slots[i];
            if (!s->key)
                continue;
            for (uint32_t c = 0; c < s->confirmed; c++) {
                format_entry(line, sizeof line, s->key, s->when, s->token, 'c');
                fputs(line, w);
            }
            for (uint32_t p = s->settled; p < s->published; p++) {
                format_entry(line, sizeof line, s->key, s->when, "-", 'p');
                fputs(line, w);
            }
        }
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

bool dlq_journal_take(struct dlq_journal *j, uint64_t identity, char *token, size_t len)
{
    struct slot *s = find(j, identity);
    if (!s || !s->confirmed)
        return false;
    s->confirmed--;
    if (token)
        snprintf(token, len, "%s", s->token);
    return true;
}

bool dlq_journal_take_unsettled(struct dlq_journal *j, uint64_t identity)
{
    struct slot *s = find(j, identity);
    if (!s || s->published <= s->settled)
        return false;
    /* reported once: settle that publish as unconfirmed, here and on disk */
    s->settled++;
    char line[DLQ_TOKEN_LEN + 48];
    int len = format_entry(line, sizeof line, identity, (long long)time(NULL), "-", 'u');
    ssize_t w = write(j->fd, line, (size_t)len);
    (void)w;        /* lost: the next replay reports it once more, never less */
    return true;
}

int dlq_journal_publishing(struct dlq_journal *j, uint64_t identity, const char *token)
{
    if (!j)
        return 0;
    char line[DLQ_TOKEN_LEN + 48];
    int len = format_entry(line, sizeof line, identity, (long long)time(NULL), token, 'p');
    /* no fdatasync: this line only has to outlive the process (a SIGKILL),
     * which the page cache does; a power cut costs only the report */
    return write(j->fd, line, (size_t)len) == len ? 0 : -1;
}

bool dlq_journal_has_confirmed(struct dlq_journal *j, uint64_t identity)
{
    const struct slot *s = find(j, identity);
    return s && s->confirmed;
}

int dlq_journal_append(struct dlq_journal *j, const struct dlq_journal_entry *e, size_t n)
{
    if (!j || !n)
        return 0;
    size_t cap = n * (DLQ_TOKEN_LEN + 48) + 1, len = 0;
    char *buf = xmalloc(cap);
    long long now = (long long)time(NULL);
    for (size_t i = 0; i < n; i++)
        len += (size_t)format_entry(buf + len, cap - len, e[i].identity, now, e[i].token, e[i].confirmed ? 'c' : 'u');
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
    free(j->slots);
    free(j);
}
