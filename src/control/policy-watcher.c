/* The policy watcher (see policy-watcher.h).
 *
 * The watcher's thread owns two connections: `sub` is SUBSCRIBEd and only
 * read when poll() says it has bytes (redisBufferRead +
 * redisGetReplyFromReader, so a quiet channel never trips a socket timeout
 * that would poison the context); `cmd` does the HGETALLs. Stopping sets an
 * atomic flag and writes to a self-pipe that wakes poll() (core/loop.h's
 * condition variable cannot wait on a socket). Each reload builds a new snapshot and swaps it in
 * only when something differs, bumping the version. */
#include "control/policy-watcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/keys.h"
#include "control/policy-store.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"

/* ------------------------------------------------------------ watcher */

struct generation {
    char *dep, *command;
    uint64_t generation;
};

struct policy_watcher {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct policy *current;
    _Atomic uint64_t version;
    char *url;
    double timeout;
    int wake[2];
    atomic_bool stopping;
    redisContext *sub, *cmd;
    /* breaker command generations, owned by the thread */
    struct generation *gens;
    size_t ngens;
    uint64_t next_generation;
    char **bumped;            /* deps named by a breaker:<dep> message since the last reload */
    size_t nbumped;
    /* the log says each problem once, then every 30 s, not every second */
    char last_warning[512];
    double last_warning_at;
    size_t last_skipped;
};

static void watcher_warn(struct policy_watcher *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void watcher_warn(struct policy_watcher *w, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    double now = clock_mono();
    if (strcmp(text, w->last_warning) == 0 && now - w->last_warning_at < 30)
        return;
    snprintf(w->last_warning, sizeof w->last_warning, "%s", text);
    w->last_warning_at = now;
    log_warn("policy watcher: %s", text);
}

static void drop_connections(struct policy_watcher *w)
{
    if (w->sub)
        redisFree(w->sub);
    if (w->cmd)
        redisFree(w->cmd);
    w->sub = w->cmd = NULL;
}

static bool was_bumped(struct policy_watcher *w, const char *dep)
{
    for (size_t i = 0; i < w->nbumped; i++)
        if (strcmp(w->bumped[i], dep) == 0)
            return true;
    return false;
}

static uint64_t generation_for(struct policy_watcher *w, const char *dep, const char *command)
{
    for (size_t i = 0; i < w->ngens; i++) {
        struct generation *g = &w->gens[i];
        if (strcmp(g->dep, dep) != 0)
            continue;
        if (strcmp(g->command, command) != 0 || was_bumped(w, dep)) {
            free(g->command);
            g->command = xstrdup(command);
            g->generation = ++w->next_generation;
        }
        return g->generation;
    }
    w->gens = xrealloc(w->gens, (w->ngens + 1) * sizeof *w->gens);
    w->gens[w->ngens] = (struct generation){xstrdup(dep), xstrdup(command), ++w->next_generation};
    return w->gens[w->ngens++].generation;
}

static bool same_policy(const struct policy *a, const struct policy *b)
{
    if (a->loaded != b->loaded || a->nentries != b->nentries || a->nbreakers != b->nbreakers)
        return false;
    for (size_t i = 0; i < a->nentries; i++)
        if (strcmp(a->entries[i].name, b->entries[i].name) || strcmp(a->entries[i].value, b->entries[i].value))
            return false;
    for (size_t i = 0; i < a->nbreakers; i++)
        if (strcmp(a->breakers[i].dep, b->breakers[i].dep) || a->breakers[i].generation != b->breakers[i].generation)
            return false;
    return true;
}

static int reload(struct policy_watcher *w)
{
    char err[512];
    struct policy_entry *vals, *cmds;
    size_t nv, nc;
    if (policy_values_fetch(w->cmd, &vals, &nv, err, sizeof err) < 0) {
        watcher_warn(w, "%s", err);
        return -1;
    }
    if (policy_breaker_fetch(w->cmd, &cmds, &nc, err, sizeof err) < 0) {
        watcher_warn(w, "%s", err);
        policy_entries_free(vals, nv);
        return -1;
    }
    struct policy_breaker *br = xcalloc(nc ? nc : 1, sizeof *br);
    for (size_t i = 0; i < nc; i++)
        br[i] = (struct policy_breaker){cmds[i].name, cmds[i].value, generation_for(w, cmds[i].name, cmds[i].value)};
    for (size_t i = 0; i < w->nbumped; i++)
        free(w->bumped[i]);
    w->nbumped = 0;

    pthread_mutex_lock(&w->lock);
    uint64_t version = w->current->version;
    pthread_mutex_unlock(&w->lock);
    struct policy *next = policy_build(vals, nv, br, nc, version + 1);
    next->loaded = true;
    if (nv - next->nentries != w->last_skipped) {
        w->last_skipped = nv - next->nentries;
        if (w->last_skipped)
            log_warn("policy: %zu entr%s of %s %s not valid guardrails and %s ignored (qdeck policy list shows "
                     "the valid ones)", w->last_skipped, w->last_skipped == 1 ? "y" : "ies", KEY_POLICY,
                     w->last_skipped == 1 ? "is" : "are", w->last_skipped == 1 ? "is" : "are");
    }
    free(br);
    policy_entries_free(vals, nv);
    policy_entries_free(cmds, nc);

    pthread_mutex_lock(&w->lock);
    struct policy *old = w->current;
    if (same_policy(old, next)) {
        pthread_mutex_unlock(&w->lock);
        policy_release(next);
        return 0;
    }
    w->current = next;
    atomic_store_explicit(&w->version, next->version, memory_order_release);
    pthread_cond_broadcast(&w->changed);
    pthread_mutex_unlock(&w->lock);
    log_info("policy: version %llu applied (%zu guardrails, %zu breaker commands)",
             (unsigned long long)next->version, next->nentries, next->nbreakers);
    policy_release(old);
    return 0;
}

static int connect_both(struct policy_watcher *w)
{
    char err[512];
    if (!w->cmd && !(w->cmd = policy_connect(w->url, w->timeout, err, sizeof err)))
        goto fail;
    if (!w->sub) {
        if (!(w->sub = policy_connect(w->url, w->timeout, err, sizeof err)))
            goto fail;
        redisReply *r = redisCommand(w->sub, "SUBSCRIBE %s", CHANNEL_POLICY);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
            snprintf(err, sizeof err, "SUBSCRIBE %s: %s", CHANNEL_POLICY,
                     r && r->type == REDIS_REPLY_ERROR ? r->str : w->sub->errstr);
            if (r)
                freeReplyObject(r);
            goto fail;
        }
        freeReplyObject(r);
    }
    return 0;
fail:
    watcher_warn(w, "%s (retrying)", err);
    drop_connections(w);
    return -1;
}

/* Reads whatever the subscriber has; true when a reload is due. -1 on a
 * broken connection. */
static int drain_messages(struct policy_watcher *w)
{
    if (redisBufferRead(w->sub) != REDIS_OK)
        return -1;
    int due = 0;
    for (;;) {
        redisReply *r = NULL;
        if (redisGetReplyFromReader(w->sub, (void **)&r) != REDIS_OK)
            return -1;
        if (!r)
            break;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[2]->type == REDIS_REPLY_STRING) {
            const char *msg = r->element[2]->str;
            due = 1;
            if (strncmp(msg, POLICY_BREAKER_MESSAGE, strlen(POLICY_BREAKER_MESSAGE)) == 0) {
                w->bumped = xrealloc(w->bumped, (w->nbumped + 1) * sizeof *w->bumped);
                w->bumped[w->nbumped++] = xstrdup(msg + strlen(POLICY_BREAKER_MESSAGE));
            }
        }
        freeReplyObject(r);
    }
    return due;
}

static bool stop_requested(struct policy_watcher *w, int timeout_ms)
{
    struct pollfd p = {.fd = w->wake[0], .events = POLLIN};
    return poll(&p, 1, timeout_ms) > 0 || atomic_load(&w->stopping);
}

static void *watcher_main(void *arg)
{
    struct policy_watcher *w = arg;
    double backoff = 0.1;
    double next_reload = 0;
    while (!atomic_load(&w->stopping)) {
        if (!w->sub || !w->cmd) {
            if (connect_both(w) < 0) {
                if (stop_requested(w, (int)(backoff * 1000)))
                    break;
                backoff = backoff * 2 > 1 ? 1 : backoff * 2;   /* the 2 s promise: never wait longer than 1 s */
                continue;
            }
            backoff = 0.1;
            next_reload = 0;   /* subscribed first, then read: no change falls in between */
        }
        double now = clock_mono();
        if (now >= next_reload) {
            if (reload(w) < 0) {
                drop_connections(w);
                continue;
            }
            next_reload = now + 1.0;
        }
        int wait_ms = (int)((next_reload - clock_mono()) * 1000) + 1;
        struct pollfd fds[2] = {{.fd = w->wake[0], .events = POLLIN}, {.fd = w->sub->fd, .events = POLLIN}};
        int n = poll(fds, 2, wait_ms < 1 ? 1 : wait_ms);
        if (n < 0 && errno != EINTR)
            break;
        if (fds[0].revents || atomic_load(&w->stopping))
            break;
        if (fds[1].revents) {
            int due = drain_messages(w);
            if (due < 0) {
                watcher_warn(w, "subscription lost: %s (reconnecting)", w->sub->errstr);
                drop_connections(w);
                continue;
            }
            if (due)
                next_reload = 0;
        }
    }
    drop_connections(w);
    return NULL;
}

struct policy_watcher *policy_watcher_start(const char *redis_url, double timeout)
{
    struct policy_watcher *w = xcalloc(1, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->changed, NULL);
    w->current = policy_build(NULL, 0, NULL, 0, 0);
    atomic_init(&w->version, 0);
    atomic_init(&w->stopping, false);
    w->url = xstrdup(redis_url ? redis_url : "");
    w->timeout = timeout > 0 ? timeout : 2;
    if (pipe2(w->wake, O_CLOEXEC) < 0 || pthread_create(&w->thread, NULL, watcher_main, w) != 0) {
        log_error("policy watcher: cannot start: %s", strerror(errno));
        abort();
    }
    return w;
}

void policy_watcher_stop(struct policy_watcher *w)
{
    if (!w)
        return;
    atomic_store(&w->stopping, true);
    if (write(w->wake[1], "x", 1) != 1)
        log_error("policy watcher: cannot wake the thread: %s", strerror(errno));
    pthread_join(w->thread, NULL);
    close(w->wake[0]);
    close(w->wake[1]);
    policy_release(w->current);
    for (size_t i = 0; i < w->ngens; i++) {
        free(w->gens[i].dep);
        free(w->gens[i].command);
    }
    free(w->gens);
    for (size_t i = 0; i < w->nbumped; i++)
        free(w->bumped[i]);
    free(w->bumped);
    free(w->url);
    pthread_cond_destroy(&w->changed);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

struct policy *policy_watcher_get(struct policy_watcher *w)
{
    pthread_mutex_lock(&w->lock);
    struct policy *p = policy_ref(w->current);
    pthread_mutex_unlock(&w->lock);
    return p;
}

uint64_t policy_watcher_version(struct policy_watcher *w)
{
    return atomic_load_explicit(&w->version, memory_order_acquire);
}

uint64_t policy_watcher_wait(struct policy_watcher *w, uint64_t after, double timeout)
{
    struct timespec until = clock_realtime_after(timeout);
    pthread_mutex_lock(&w->lock);
    while (w->current->version <= after)
        if (pthread_cond_timedwait(&w->changed, &w->lock, &until) != 0)
            break;
    uint64_t v = w->current->version;
    pthread_mutex_unlock(&w->lock);
    return v;
}
