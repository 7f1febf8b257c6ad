/* A monitored source — a RabbitMQ management API, a Redis server — behind
 * one table of operations (htop's ObjectClass, tmux's cmd_entry). Adding a
 * backend is one file with one `const struct source_ops` and one row in
 * source_kinds[] (source-kinds.c); the collector and the UI do not change.
 * This generic part never names a backend: backends call it, not back.
 *
 * Threading: init/fini run on the caller's thread; collect and disconnect
 * only on the source's collector thread (a core/loop.h loop), which owns
 * every connection; interrupt may be called from any thread to cut a
 * blocking call short. */
#ifndef QDECK_SOURCE_H
#define QDECK_SOURCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/feed.h"
#include "core/loop.h"

struct source;

struct source_ops {
    const char *kind;        /* "rabbitmq", "redis" */
    /* Parses settings, no network. -1 with a reason in err. */
    int (*init)(struct source *src, char *err, size_t errlen);
    /* One refresh: builds *out (sealed) from the broker. prev is the last
     * good snapshot or NULL, for values that need two samples. Returns
     * SOURCE_OK or the failure status with a one-line, redacted reason. */
    enum source_status (*collect)(struct source *src, const struct snapshot *prev,
                                  struct snapshot **out, char *err, size_t errlen);
    /* Drops the connection after a failure; the next collect reconnects. */
    void (*disconnect)(struct source *src);
    /* From any thread: make a blocking collect return soon. */
    void (*interrupt)(struct source *src);
    void (*fini)(struct source *src);
};

struct source {
    const struct source_ops *ops;
    char *url;                  /* raw, secret-bearing; for the backend only */
    char *display_url;          /* redacted, for everything else */
    const struct context_config *ctx;
    void *priv;
    struct feed feed;
    struct loop loop;           /* the collector thread; backends poll source_stopping() */
    pthread_mutex_t focus_lock; /* guards focus */
    double refresh;             /* seconds */
    /* Collected once only (qdeck status): a backend then does in one
     * refresh what it otherwise spreads over many (Redis discovery). */
    bool single_pass;
    /* The queues on screen (names without the scheme), under focus_lock:
     * a backend whose bulk data is slow reads just these exactly. */
    char **focus;
    size_t nfocus;
};

/* A source of the given kind (no network: ops->init only); NULL with a
 * reason in err when init refuses its settings. */
struct source *source_new(const struct source_ops *ops, const char *url, const struct context_config *ctx,
                          double refresh, int notify_fd, char *err, size_t errlen);
/* Stops, finishes and frees each source, then the array. */
void sources_free(struct source **srcs, size_t n);

/* The collector thread: refresh every src->refresh seconds, publish to the
 * feed, back off with jitter while the source fails. */
int source_start(struct source *src);
void source_stop(struct source *src);          /* interrupt + join */
/* True once source_stop has begun: a backend's long collect returns early. */
bool source_stopping(struct source *src);
/* The UI says which queues are on screen (copies; any thread). A backend
 * reads them exactly, on its own schedule, where its bulk data lags (RabbitMQ's
 * management statistics: passive declares over AMQP). The first name is
 * the row the operator has selected. At most SOURCE_FOCUS_MAX are kept. */
#define SOURCE_FOCUS_MAX 100
void source_set_focus(struct source *src, const char *const *names, size_t n);
/* A copy of the focus list in *names (free with free_list); its length. */
size_t source_focus(struct source *src, char ***names);

/* One refresh on the caller's thread (for `qdeck status`). */
enum source_status source_collect_once(struct source *src);

#endif
