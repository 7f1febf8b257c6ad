/* `qdeck trace`: the recorded traffic (the qdeck:trace stream, one record
 * per finished attempt; control/trace-store.h) out to a file, and a file
 * back in as load.
 *
 *   qdeck trace export [--since DUR] [--type T] --out FILE
 *       JSONL, one record a line, sorted by t and with t rebased to the
 *       first record (0), the format `qdeck sim` reads. FILE "-": stdout.
 *   qdeck trace replay FILE --to QUEUE [--speed K] [--scale K] [--json]
 *       A load generator: publishes each record's task (a fresh envelope
 *       with the record's type, priority and payload, {} without one) at
 *       its t × K seconds after the start (--speed 0.5: twice as fast; 0:
 *       as fast as the broker takes them). It sleeps on CLOCK_MONOTONIC
 *       until each due time, never spins. Only a task's first record is
 *       published (attempt 1, first occurrence of its id): retries of a
 *       recorded task are the worker's to make again. --scale K multiplies
 *       the traffic by time-shifted duplication: copy j of the trace is
 *       shifted by j/ceil(K) of the mean gap between arrivals, and a
 *       fractional last copy takes an evenly spread share of the records,
 *       so the mix of types and payloads stays the same. RabbitMQ: publisher
 *       confirms, settled whenever the next task is not due at once. */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/app.h"
#include "control/trace-store.h"
#include "core/address.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "net/redis-open.h"
#include "worker/amqp-link.h"
#include "worker/redis-link.h"
#include "worker/task.h"

#define CONFIRM_WINDOW 500
#define REDIS_BATCH 500
#define REPLAY_MAX_EVENTS 100000000L

const char trace_usage[] =
    "usage: qdeck trace export [--since DUR] [--type T] --out FILE\n"
    "       qdeck trace replay FILE --to QUEUE [--speed K] [--scale K] [--json]\n"
    "export: the qdeck:trace records (DUR: 90s, 15m, 2h, 1d) as JSONL, t rebased to the first record.\n"
    "replay: publishes each record's task at t x K seconds (--speed; 0: at once), --scale K times the traffic.";

/* ------------------------------------------------------------ export */

struct collected {
    cJSON **recs;
    size_t n, cap;
};

static void collect(cJSON *rec, void *arg)
{
    struct collected *c = arg;
    if (c->n == c->cap)
        c->recs = xrealloc(c->recs, (c->cap = c->cap ? c->cap * 2 : 1024) * sizeof *c->recs);
    c->recs[c->n++] = rec;
}

static double rec_number(const cJSON *rec, const char *name, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

/* By t, then by their place in the stream (qsort is not stable). */
struct ordered {
    double t;
    size_t at;
};

static int by_time(const void *a, const void *b)
{
    const struct ordered *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

static int trace_export(struct app *app, const struct args *a)
{
    const char *out_path = args_string(a, "out"), *since_text = args_string(a, "since"), *type = args_string(a, "type");
    if (a->nwords != 2)
        return fail(EXIT_USAGE, "trace export: takes no words, only options\n%s", trace_usage);
    if (!out_path)
        return fail(EXIT_USAGE, "trace export: --out FILE is required (\"-\" for stdout)");
    double since = 0;
    if (since_text && (trace_parse_duration(since_text, &since) < 0 || since <= 0))
        return fail(EXIT_USAGE, "trace export: --since wants a duration such as 90s, 15m, 2h or 1d, got '%s'",
                    since_text);
    if (!app->ctx || !app->ctx->redis)
        return fail(EXIT_USAGE, "trace export: no Redis URL configured (the trace lives in qdeck:trace)");
    char err[400];
    redisContext *c = redis_open(app->ctx->redis, app->ctx->timeout, 30, err, sizeof err);
    if (!c)
        return fail(EXIT_UNREACHABLE, "%s", err);
    struct collected got = {0};
    long n = trace_read(c, since > 0 ? clock_wall() - since : 0, type, collect, &got, err, sizeof err);
    redisFree(c);
    int rc = EXIT_OK;
    if (n < 0) {
        rc = fail(EXIT_UNREACHABLE, "%s", err);
        goto out;
    }
    FILE *f = strcmp(out_path, "-") == 0 ? stdout : fopen(out_path, "w");
    if (!f) {
        rc = fail(EXIT_FAILED, "cannot write %s: %s", out_path, strerror(errno));
        goto out;
    }
    struct ordered *order = xcalloc(got.n ? got.n : 1, sizeof *order);
    for (size_t i = 0; i < got.n; i++)
        order[i] = (struct ordered){rec_number(got.recs[i], "t", 0), i};
    qsort(order, got.n, sizeof *order, by_time);
    double base = got.n ? order[0].t : 0;
    for (size_t i = 0; i < got.n; i++) {
        cJSON *rec = got.recs[order[i].at];
        cJSON_ReplaceItemInObjectCaseSensitive(rec, "t", cJSON_CreateNumber(order[i].t - base));
        char *line = cJSON_PrintUnformatted(rec);
        fprintf(f, "%s\n", line);
        cJSON_free(line);
    }
    free(order);
    bool write_failed = ferror(f) != 0;
    if (f != stdout && fclose(f) != 0)
        write_failed = true;
    if (write_failed)
        rc = fail(EXIT_FAILED, "writing %s: %s", out_path, strerror(errno));
    else
        fprintf(stderr, "qdeck: exported %zu trace record(s) to %s\n", got.n, out_path);
out:
    for (size_t i = 0; i < got.n; i++)
        cJSON_Delete(got.recs[i]);
    free(got.recs);
    return rc;
}

/* ------------------------------------------------------------ replay */

struct replay_task {
    double t;            /* seconds from the trace's start */
    char *type, *payload;
    int priority;        /* -1: the [task] default */
};

struct replay_event {
    double at;           /* seconds from the replay's start, before --speed */
    size_t task;
};

static volatile sig_atomic_t stop_signal;
static void on_stop_signal(int sig) { stop_signal = sig; }

static int by_event_time(const void *a, const void *b)
{
    const struct replay_event *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->task < y->task ? -1 : x->task > y->task;
}

struct seen_id {
    char *id;
    size_t task;
};

static int by_id(const void *a, const void *b)
{
    const struct seen_id *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->task < y->task ? -1 : x->task > y->task);
}

/* The file's tasks in *out (first records only), or an exit code after
 * one line naming the file, the line and what is wrong. */
static int read_tasks(const char *path, struct replay_task **out, size_t *nout)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(EXIT_USAGE, "cannot read %s: %s", path, strerror(errno));
    struct replay_task *tasks = NULL;
    size_t n = 0, cap = 0, nids = 0, idcap = 0;
    struct seen_id *ids = NULL;   /* for tasks recorded twice */
    char *line = NULL;
    size_t linecap = 0;
    long lineno = 0;
    int rc = EXIT_OK;
    while (getline(&line, &linecap, f) > 0) {
        lineno++;
        struct trace_line tl;
        const char *why = NULL;
        int got = trace_parse_line(line, &tl, &why);
        if (got == 0)
            continue;
        if (got < 0) {
            rc = fail(EXIT_USAGE, "%s:%ld: %s; nothing was published", path, lineno, why);
            break;
        }
        if (tl.attempt > 1) {   /* a retry: the worker makes it again */
            trace_line_free(&tl);
            continue;
        }
        if (tl.id) {
            if (nids == idcap)
                ids = xrealloc(ids, (idcap = idcap ? idcap * 2 : 1024) * sizeof *ids);
            ids[nids++] = (struct seen_id){tl.id, n};
            tl.id = NULL;
        }
        if (n == cap)
            tasks = xrealloc(tasks, (cap = cap ? cap * 2 : 1024) * sizeof *tasks);
        tasks[n++] = (struct replay_task){.t = tl.t, .type = tl.type, .payload = tl.payload, .priority = tl.priority};
    }
    free(line);
    fclose(f);
    /* a task recorded twice (parked, then run): only its first record */
    if (nids)
        qsort(ids, nids, sizeof *ids, by_id);
    for (size_t i = 0; i < nids; i++) {
        if (i > 0 && strcmp(ids[i].id, ids[i - 1].id) == 0)
            tasks[ids[i].task].t = -1;   /* dropped */
    }
    for (size_t i = 0; i < nids; i++)
        free(ids[i].id);
    free(ids);
    *out = tasks;
    *nout = n;
    return rc;
}

/* The publishing order: ceil(scale) copies, copy j shifted by j/copies of
 * the mean gap; a fractional last copy keeps an even share of the tasks. */
static struct replay_event *plan(const struct replay_task *tasks, size_t n, double scale, size_t *nevents)
{
    double first = -1, last = 0;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (tasks[i].t < 0)
            continue;
        if (first < 0 || tasks[i].t < first)
            first = tasks[i].t;
        if (tasks[i].t > last)
            last = tasks[i].t;
        kept++;
    }
    int copies = (int)ceil(scale - 1e-9);
    double share = scale - (copies - 1);   /* of the last copy, (0, 1] */
    double gap = kept > 1 ? (last - first) / (double)(kept - 1) : 0;
    struct replay_event *ev = xcalloc(kept * (size_t)copies + 1, sizeof *ev);
    size_t m = 0;
    for (int j = 0; j < copies; j++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (tasks[i].t < 0)
                continue;
            k++;
            if (j == copies - 1 && floor((double)k * share) == floor((double)(k - 1) * share))
                continue;   /* not in this fractional copy's share */
            ev[m++] = (struct replay_event){tasks[i].t - first + gap * j / copies, i};
        }
    }
    qsort(ev, m, sizeof *ev, by_event_time);
    *nevents = m;
    return ev;
}

/* Sleeps on CLOCK_MONOTONIC until mono time `due` (or a stop signal). */
static void sleep_until(double due)
{
    struct timespec ts = {.tv_sec = (time_t)due, .tv_nsec = (long)((due - floor(due)) * 1e9)};
    while (!stop_signal && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* Where the tasks go: RabbitMQ with confirms, or a Redis list/stream in
 * pipelines. */
struct sink {
    const struct queue_address *a;
    amqp_connection_state_t amqp;
    redisContext *redis;
    uint64_t tag, acked;
    int pending;             /* Redis replies not read yet */
    char err[400];
};

static int sink_send(struct sink *s, const char *body, const char *id, int priority)
{
    size_t len = strlen(body);
    if (s->amqp) {
        amqp_basic_properties_t props = {
            ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                      AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_PRIORITY_FLAG,
            .content_type = amqp_cstring_bytes("application/json"),
            .delivery_mode = 2,
            .message_id = amqp_cstring_bytes(id),
            .timestamp = (uint64_t)clock_wall(),
            .priority = (uint8_t)(priority > 255 ? 255 : priority < 0 ? 0 : priority),
        };
        return amqp_link_publish(s->amqp, "", s->a->name, &props, body, len, &s->tag, s->err, sizeof s->err);
    }
    if (s->a->kind == QUEUE_STREAM) {
        const char *argv[] = {"XADD", s->a->name, "*", "body", body};
        size_t lens[] = {4, strlen(s->a->name), 1, 4, len};
        redisAppendCommandArgv(s->redis, 5, argv, lens);
    } else {
        const char *argv[] = {"LPUSH", s->a->name, body};
        size_t lens[] = {5, strlen(s->a->name), len};
        redisAppendCommandArgv(s->redis, 3, argv, lens);
    }
    s->pending++;
    return 0;
}

/* Everything sent so far is confirmed / answered. */
static int sink_settle(struct sink *s)
{
    if (s->amqp)
        return s->tag == s->acked ? 0 : amqp_link_wait_confirms(s->amqp, s->tag, &s->acked, 30, s->err, sizeof s->err);
    int n = s->pending;
    s->pending = 0;
    return n ? redis_link_drain(s->redis, n, s->err, sizeof s->err) : 0;
}

static int trace_replay(struct app *app, const struct args *a)
{
    const char *to = args_string(a, "to");
    double speed = args_double(a, "speed", 1), scale = args_double(a, "scale", 1);
    if (a->nwords != 3)
        return fail(EXIT_USAGE, "trace replay: one FILE is needed\n%s", trace_usage);
    if (!to)
        return fail(EXIT_USAGE, "trace replay: --to QUEUE is required");
    if (!(scale > 0))
        return fail(EXIT_USAGE, "trace replay: --scale wants a number above 0, got %g", scale);
    int rc = app_require_sources(app);
    if (rc != EXIT_OK)
        return rc;
    struct queue_address addr;
    char err[400];
    if (queue_address_parse(to, app->ctx, &addr, err, sizeof err) < 0)
        return fail(EXIT_USAGE, "%s", err);
    char *label = queue_address_format(&addr);
    struct replay_task *tasks = NULL;
    size_t ntasks = 0, nev = 0;
    struct replay_event *ev = NULL;
    struct sink s = {.a = &addr};
    rc = read_tasks(a->words[2], &tasks, &ntasks);
    if (rc != EXIT_OK)
        goto out;
    ev = plan(tasks, ntasks, scale, &nev);
    if ((long)nev > REPLAY_MAX_EVENTS) {
        rc = fail(EXIT_USAGE, "trace replay: %zu tasks at --scale %g is more than %ld", nev, scale, REPLAY_MAX_EVENTS);
        goto out;
    }
    if (addr.kind == QUEUE_AMQP) {
        s.amqp = app->ctx->amqp ? amqp_link_open(app->ctx->amqp, &app->ctx->tls, 0, true, app->ctx->timeout, err,
                                                 sizeof err)
                                : NULL;
    } else {
        s.redis = app->ctx->redis ? redis_open(app->ctx->redis, app->ctx->timeout, 30, err, sizeof err) : NULL;
    }
    if (!s.amqp && !s.redis) {
        rc = app->ctx->amqp || app->ctx->redis ? fail(EXIT_UNREACHABLE, "%s", err)
                                               : fail(EXIT_USAGE, "%s: no broker URL configured", label);
        goto out;
    }
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    double start = clock_mono();
    size_t sent = 0;
    for (size_t i = 0; i < nev && !stop_signal; i++) {
        double due = start + ev[i].at * speed;
        if (due > clock_mono()) {
            if (sink_settle(&s) < 0)
                break;
            sleep_until(due);
            if (stop_signal)
                break;
        }
        const struct replay_task *t = &tasks[ev[i].task];
        const struct task_config *tc = config_task(&app->cfg, t->type);
        int priority = t->priority >= 0 ? t->priority : tc ? tc->priority : 5;
        int max_attempts = tc && tc->max_attempts > 0 ? tc->max_attempts : app->cfg.worker.max_attempts;
        char id[40];
        char *body = envelope_build(t->type, t->payload, priority, max_attempts, 0, NULL, id);
        int r = sink_send(&s, body, id, priority);
        free(body);
        if (r < 0)
            break;
        sent++;
        if ((s.amqp && s.tag - s.acked >= CONFIRM_WINDOW) || s.pending >= REDIS_BATCH)
            if (sink_settle(&s) < 0)
                break;
    }
    if (!s.err[0])
        sink_settle(&s);
    double took = clock_mono() - start;
    if (s.err[0])
        rc = fail(EXIT_FAILED, "replaying to %s: %s (published %zu of %zu)", label, s.err, sent, nev);
    else if (stop_signal)
        rc = 128 + stop_signal;
    if (args_flag(a, "json")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "queue", label);
        cJSON_AddNumberToObject(o, "planned", (double)nev);
        cJSON_AddNumberToObject(o, "published", (double)sent);
        cJSON_AddNumberToObject(o, "seconds", took);
        cJSON_AddBoolToObject(o, "ok", rc == EXIT_OK);
        char *text = cJSON_PrintUnformatted(o);
        puts(text);
        cJSON_free(text);
        cJSON_Delete(o);
    }
    fprintf(stderr, "qdeck: replayed %zu of %zu task(s) to %s in %.1fs (speed %g, scale %g)%s\n", sent, nev, label,
            took, speed, scale, stop_signal ? "; stopped" : "");
out:
    if (s.amqp)
        amqp_link_close(s.amqp);
    redisFree(s.redis);
    free(ev);
    for (size_t i = 0; i < ntasks; i++) {
        free(tasks[i].type);
        free(tasks[i].payload);
    }
    free(tasks);
    free(label);
    queue_address_free(&addr);
    return rc;
}

/* ------------------------------------------------------------ the table */

static const struct arg_option export_options[] = {
    OPT_STRING("since", 0, "DUR", "only records written in the last DUR (90s, 15m, 2h, 1d)"),
    OPT_STRING("type", 0, "T", "only records of task type T"),
    OPT_STRING("out", 'o', "FILE", "the JSONL file to write (\"-\": stdout)"),
    OPT_END,
};

static const struct arg_option replay_options[] = {
    OPT_STRING("to", 0, "QUEUE", "where to publish: amqp:NAME, redis:KEY or stream:KEY"),
    OPT_DOUBLE("speed", 0, "K", "publish each task at t x K seconds (default 1; 0: at once)", 0, 1e6, NULL),
    OPT_DOUBLE("scale", 0, "K", "K times the traffic by time-shifted copies (default 1)", 0.001, 1000, NULL),
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_END,
};

const struct command trace_commands[] = {
    {.name = "export", .synopsis = "usage: qdeck trace export [--since DUR] [--type T] --out FILE",
     .options = export_options, .run = trace_export},
    {.name = "replay", .synopsis = "usage: qdeck trace replay FILE --to QUEUE [--speed K] [--scale K] [--json]",
     .options = replay_options, .run = trace_replay},
    {.name = NULL},
};

int cmd_trace(struct app *app, const struct args *a)
{
    (void)app;
    if (a->nwords < 2)
        return fail(EXIT_USAGE, "trace: export or replay?\n%s", trace_usage);
    return fail(EXIT_USAGE, "trace: unknown subcommand '%s'\n%s", a->words[1], trace_usage);
}
