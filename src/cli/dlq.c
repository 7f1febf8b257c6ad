/* `qdeck dlq list|show|replay|purge|export|import`: the DLQ operations of
 * src/dlq/ as scriptable commands. Every mutating one is refused under
 * --read-only (or a read_only context) and written to the audit log, refusal
 * included. Long scans and replays draw a progress bar on stderr when it is
 * a terminal; replay always ends with "moved N, failed N, skipped N".
 * Exit codes: 0 ok, 1 something was not done (failed, returned, in doubt,
 * refused), 2 usage, 3 a broker could not be reached. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/app.h"
#include "control/audit.h"
#include "core/clock.h"
#include "core/number.h"
#include "core/xalloc.h"
#include "dlq/dlq.h"
#include "dlq/sched-replay.h"

#define DEFAULT_LIST_LIMIT 100

struct dlq_args {
    const char *queue, *id, *file, *grep, *to, *out;
    char **ids;
    size_t nids;
    char **sets;
    size_t nsets;
    long limit;
    double rate;
    bool all, json, dry_run, yes, limit_given;
};

const char dlq_usage[] =
    "usage: qdeck dlq list QUEUE [--grep S] [--limit N] [--json]\n"
    "       qdeck dlq show QUEUE ID [--json]\n"
    "       qdeck dlq replay QUEUE (--id ID... | --grep S | --all) [--limit N] [--rate N] [--dry-run]\n"
    "                              [--to QUEUE] [--set payload.KEY=VALUE | --set header:KEY=VALUE]...\n"
    "       qdeck dlq purge QUEUE (--id ID... | --all) --yes [--json]\n"
    "       qdeck dlq export QUEUE [--out FILE]\n"
    "       qdeck dlq import FILE [--to QUEUE] [--json]\n"
    "QUEUE: amqp:NAME, redis:KEY or stream:KEY (a bare name when only one broker is configured)";

static int usage_error(const char *fmt, const char *arg)
{
    fputs("qdeck: dlq: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s\n", dlq_usage);
    return EXIT_USAGE;
}

static int parse_args(int argc, char **argv, int positional, struct dlq_args *a)
{
    const char **pos[] = {&a->queue, &a->id};
    int npos = 0;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(s, "--json")) a->json = true;
        else if (!strcmp(s, "--all")) a->all = true;
        else if (!strcmp(s, "--dry-run")) a->dry_run = true;
        else if (!strcmp(s, "--yes")) a->yes = true;
        else if (!strcmp(s, "--grep") && more) a->grep = argv[++i];
        else if (!strcmp(s, "--to") && more) a->to = argv[++i];
        else if (!strcmp(s, "--out") && more) a->out = argv[++i];
        else if (!strcmp(s, "--set") && more) {
            a->sets = xrealloc(a->sets, (a->nsets + 1) * sizeof *a->sets);
            a->sets[a->nsets++] = argv[++i];
        } else if (!strcmp(s, "--id") && more) {
            /* --id A [B C ...]: every following word up to the next flag */
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                a->ids = xrealloc(a->ids, (a->nids + 1) * sizeof *a->ids);
                a->ids[a->nids++] = argv[++i];
            }
        } else if (!strcmp(s, "--limit") && more) {
            char why[200];
            if (number_parse_flag("--limit", argv[++i], 0, 1000000000, &a->limit, why, sizeof why) < 0)
                return usage_error("%s", why);
            a->limit_given = true;
        } else if (!strcmp(s, "--rate") && more) {
            char *end;
            double v = strtod(argv[++i], &end);
            if (*end || end == argv[i] || !(v >= 0 && v <= 1e9))
                return usage_error("--rate wants a number of messages per second from 0 to 1e9, got '%s'", argv[i]);
            a->rate = v;
        } else if (s[0] == '-' && s[1] == '-') {
            return usage_error("unknown or incomplete option '%s'", s);
        } else if (npos < positional) {
            *pos[npos++] = s;
        } else {
            return usage_error("unexpected argument '%s'", s);
        }
    }
    if (npos < positional)
        return usage_error("%s", positional == 2 ? "QUEUE and ID are needed" : "QUEUE is needed");
    return EXIT_OK;
}

static bool read_only(const struct app *app)
{
    return app->ov.read_only || (app->ctx && app->ctx->read_only);
}

/* Audit trail; a failure to write it is said on stderr, never hidden. */
static void audit(const struct app *app, const char *action, const char *target, const char *what, const char *result)
{
    char err[512];
    redisContext *redis = NULL;
    if (app->ctx && app->ctx->redis)
        redis = dlq_redis_connect(app->ctx->redis, app->ctx->timeout, err, sizeof err);
    struct audit_entry e = {.action = action, .target = target, .new_value = what, .result = result};
    if (audit_record(&app->cfg, app->ctx ? app->ctx->name : NULL, redis, &e, err, sizeof err) < 0)
        fprintf(stderr, "qdeck: warning: %s\n", err);
    if (redis)
        redisFree(redis);
}

static int refuse_read_only(const struct app *app, const char *action, const char *target, const char *what)
{
    audit(app, action, target, what, "refused: read-only");
    return fail(EXIT_FAILED, "%s %s refused: read-only (--read-only or read_only = true in the context)", action,
                target);
}

static int open_queue(const struct app *app, const char *address, struct dlq **out)
{
    char err[512];
    int rc = dlq_open(address, app->ctx, out, err, sizeof err);
    if (rc == 0)
        return EXIT_OK;
    return fail(rc == -3 ? EXIT_UNREACHABLE : rc == -2 ? EXIT_USAGE : EXIT_FAILED, "%s", err);
}

static int failure_code(const struct dlq *d)
{
    switch (d->failure) {
    case DLQ_FAIL_UNREACHABLE: return EXIT_UNREACHABLE;
    case DLQ_FAIL_USAGE: return EXIT_USAGE;
    default: return EXIT_FAILED;
    }
}

/* ---- progress on a terminal ---- */

struct progress {
    bool tty;
    const char *verb;
    double last;
};

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress_draw(struct progress *p, long done, long total, const char *extra, bool force)
{
    if (!p->tty)
        return;
    double t = now_mono();
    if (!force && t - p->last < 0.1)
        return;
    p->last = t;
    char bar[31];
    int fill = total > 0 ? (int)(30.0 * (double)(done < total ? done : total) / (double)total) : 0;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r%s [%s] %ld/%ld %s\033[K", p->verb, bar, done, total < 0 ? 0 : total, extra ? extra : "");
}

static void progress_end(struct progress *p)
{
    if (p->tty)
        fprintf(stderr, "\r\033[K");
}

/* ---- list / show ---- */


static void one_line(const char *s, char *out, size_t len)
{
    size_t o = 0;
    for (; s && *s && o + 1 < len; s++)
        out[o++] = (*s == '\n' || *s == '\r' || *s == '\t') ? ' ' : *s;
    out[o] = '\0';
}

struct list_state {
    struct dlq *d;
    const struct dlq_args *a;
    struct progress prog;
    long total, seen, shown;
    cJSON *json;
};

static int list_visit(struct dlq_message *m, void *arg)
{
    struct list_state *st = arg;
    st->seen++;
    dlq_decode(st->d, m, false);
    struct dlq_select sel = {.grep = st->a->grep, .all = true};
    bool hit = dlq_select_match(&sel, m);
    if (st->a->grep) {
        char extra[64];
        snprintf(extra, sizeof extra, "scanned, %ld match", st->shown + hit);
        progress_draw(&st->prog, st->seen, st->total, extra, false);
    }
    if (hit) {
        if (st->json) {
            cJSON_AddItemToArray(st->json, dlq_message_json(m, false));
        } else {
            char last[32], err[200];
            format_time(m->info.last_death, "%Y-%m-%d %H:%M:%S", 1, last, sizeof last);
            one_line(m->info.last_error, err, sizeof err);
            char deaths[16], attempts[16];
            snprintf(deaths, sizeof deaths, m->info.deaths < 0 ? "-" : "%ld", m->info.deaths);
            snprintf(attempts, sizeof attempts, m->info.attempts < 0 ? "-" : "%ld", m->info.attempts);
            printf("%-6zu %-38s %-24s %-14s %6s %8s  %-19s %-20s %s\n", m->position, m->info.id,
                   m->info.type[0] ? m->info.type : "-", m->info.reason[0] ? m->info.reason : "-", deaths, attempts,
                   last, m->info.original_queue[0] ? m->info.original_queue : "-", err[0] ? err : "");
        }
        st->shown++;
    }
    dlq_message_free(m);
    long limit = st->a->limit_given ? st->a->limit : DEFAULT_LIST_LIMIT;
    return limit > 0 && st->shown >= limit;
}

static int cmd_list(struct app *app, const struct dlq_args *a)
{
    struct dlq *d;
    int rc = open_queue(app, a->queue, &d);
    if (rc != EXIT_OK)
        return rc;
    struct list_state st = {.d = d, .a = a, .prog = {.tty = isatty(STDERR_FILENO), .verb = "grep"}};
    if (d->ops->count(d, &st.total) < 0) {
        rc = fail(failure_code(d), "%s", d->err);
        dlq_close(d);
        return rc;
    }
    if (a->json)
        st.json = cJSON_CreateArray();
    else
        printf("%-6s %-38s %-24s %-14s %6s %8s  %-19s %-20s %s\n", "POS", "ID", "TYPE", "REASON", "DEATHS",
               "ATTEMPTS", "LAST DEATH (UTC)", "ORIGINAL QUEUE", "LAST ERROR");
    int scan = d->ops->scan(d, 0, list_visit, &st);
    progress_end(&st.prog);
    if (st.json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "queue", d->display);
        cJSON_AddNumberToObject(root, "total", (double)st.total);
        if (a->grep)
            cJSON_AddStringToObject(root, "grep", a->grep);
        cJSON_AddItemToObject(root, "messages", st.json);
        char *text = cJSON_Print(root);
        puts(text);
        cJSON_free(text);
        cJSON_Delete(root);
    } else {
        fprintf(stderr, "%s: %ld message%s, %ld shown\n", d->display, st.total, st.total == 1 ? "" : "s",
                st.shown);   /* a summary: stdout carries only the table */
    }
    rc = scan < 0 ? fail(failure_code(d), "%s", d->err) : EXIT_OK;
    dlq_close(d);
    return rc;
}

struct find_state {
    struct dlq *d;
    const char *id;
    struct dlq_message *found;
};

static int find_visit(struct dlq_message *m, void *arg)
{
    struct find_state *st = arg;
    dlq_decode(st->d, m, false);
    char *ids[] = {(char *)st->id};
    struct dlq_select sel = {.ids = ids, .nids = 1};
    if (dlq_select_match(&sel, m)) {
        st->found = m;
        return 1;
    }
    dlq_message_free(m);
    return 0;
}

static void print_hex(const char *data, size_t len, size_t max)
{
    for (size_t off = 0; off < len && off < max; off += 16) {
        printf("  %08zx  ", off);
        for (size_t i = 0; i < 16; i++)
            if (off + i < len) printf("%02x ", (unsigned char)data[off + i]);
            else printf("   ");
        printf(" |");
        for (size_t i = 0; i < 16 && off + i < len; i++)
            putchar(isprint((unsigned char)data[off + i]) ? data[off + i] : '.');
        printf("|\n");
    }
}

static void print_body(const struct dlq_message *m)
{
    const struct dlq_bytes *b = &m->body;
    cJSON *j = b->len ? cJSON_ParseWithLength(b->data, b->len) : NULL;
    if (j) {
        char *text = cJSON_Print(j);
        printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(j);
    } else if (m->info.format == ENVELOPE_BINARY || !dlq_utf8_valid(b->data, b->len)) {
        printf("(binary, %zu bytes)\n", b->len);
        print_hex(b->data, b->len, SIZE_MAX);
    } else {
        fwrite(b->data, 1, b->len, stdout);
        putchar('\n');
    }
}

static int cmd_show(struct app *app, const struct dlq_args *a)
{
    struct dlq *d;
    int rc = open_queue(app, a->queue, &d);
    if (rc != EXIT_OK)
        return rc;
    struct find_state st = {.d = d, .id = a->id};
    if (d->ops->scan(d, 0, find_visit, &st) < 0) {
        rc = fail(failure_code(d), "%s", d->err);
        dlq_close(d);
        return rc;
    }
    if (!st.found) {
        rc = fail(EXIT_FAILED, "%s: no message with id '%s'", d->display, a->id);
        dlq_close(d);
        return rc;
    }
    struct dlq_message *m = st.found;
    dlq_decode(d, m, true);
    cJSON *j = dlq_message_json(m, true);
    if (a->json) {
        cJSON_AddStringToObject(j, "queue", d->display);
        char *text = cJSON_Print(j);
        puts(text);
        cJSON_free(text);
    } else {
        const char *keys[] = {"id", "type", "original_queue", "reason", "deaths", "first_death", "last_death",
                              "attempts", "replays", "last_error", "format", "position", "stream_id", "size"};
        printf("%s\n", d->display);
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
            if (!v)
                continue;
            char *text = cJSON_IsString(v) ? NULL : cJSON_PrintUnformatted(v);
            printf("  %-15s %s\n", keys[i], cJSON_IsString(v) ? v->valuestring : text);
            cJSON_free(text);
        }
        const char *sections[] = {"celery", "result", "properties", "headers", "fields"};
        for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, sections[i]);
            if (!v || cJSON_IsNull(v))
                continue;
            char *text = cJSON_Print(v);
            printf("%s:\n%s\n", sections[i], text);
            cJSON_free(text);
        }
        printf("body:\n");
        print_body(m);
    }
    cJSON_Delete(j);
    dlq_message_free(m);
    dlq_close(d);
    return EXIT_OK;
}

/* ---- replay / purge ---- */

static char *describe(const struct dlq_args *a)
{
    char buf[1024];
    size_t o = 0;
    buf[0] = '\0';
#define ADD(...) o += (size_t)snprintf(buf + o, o < sizeof buf ? sizeof buf - o : 0, __VA_ARGS__)
    if (a->all) ADD("--all ");
    for (size_t i = 0; i < a->nids && o < sizeof buf; i++) ADD("--id %s ", a->ids[i]);
    if (a->grep && o < sizeof buf) ADD("--grep %s ", a->grep);
    if (a->limit_given && o < sizeof buf) ADD("--limit %ld ", a->limit);
    if (a->to && o < sizeof buf) ADD("--to %s ", a->to);
    for (size_t i = 0; i < a->nsets && o < sizeof buf; i++) ADD("--set %s ", a->sets[i]);
    if (a->dry_run && o < sizeof buf) ADD("--dry-run ");
#undef ADD
    o = strlen(buf);
    if (o && buf[o - 1] == ' ')
        buf[o - 1] = '\0';
    return xstrdup(buf);
}

struct replay_view {
    struct progress prog;
    bool dry_run, json;
    long reported;      /* per-message lines written for what did not move */
    char **dropped;     /* ids of the DLQ copies dropped, every one */
    size_t ndropped;
};

static void replay_progress(void *arg, const struct dlq_tally *t)
{
    struct replay_view *v = arg;
    char extra[96];
    snprintf(extra, sizeof extra, "moved %ld, failed %ld, skipped %ld", t->moved, t->failed, t->skipped);
    progress_draw(&v->prog, t->seen, t->total, extra, false);
}

static void replay_each(void *arg, const struct dlq_message *m, const char *target, const char *outcome)
{
    struct replay_view *v = arg;
    if (v->dry_run) {
        if (!v->json)
            printf("%s %s -> %s%s%s\n", outcome, m->info.id, target ? "" : "(nowhere)", target ? target : "", "");
        return;
    }
    bool dropped = strncmp(outcome, "dropped", 7) == 0;
    if (dropped) {
        v->dropped = xrealloc(v->dropped, (v->ndropped + 1) * sizeof *v->dropped);
        v->dropped[v->ndropped++] = xstrdup(m->info.id);
    }
    /* a dropped copy is always named; other outcomes up to 20 */
    if (strcmp(outcome, "moved") != 0 && (dropped || v->reported++ < 20)) {
        if (v->prog.tty)
            fprintf(stderr, "\r\033[K");
        fprintf(stderr, "qdeck: %s: %s%s\n", m->info.id, outcome,
                !dropped && v->reported == 20 ? " (further ones not listed)" : "");
    }
}

/* SIGINT/SIGTERM during a replay: stop taking messages, settle what is in
 * flight, report. A second signal ends the process the default way
 * (nothing unconfirmed is acked either way). An atomic_int, lock-free
 * here, is what C11 lets a handler write and another thread read. */
static atomic_int replay_stop;

static void on_replay_signal(int sig)
{
    atomic_store(&replay_stop, sig);
}

static void catch_signals(struct sigaction *old_int, struct sigaction *old_term)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_replay_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    atomic_store(&replay_stop, 0);
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
}

static void replay_json(const struct dlq *d, const struct dlq_tally *t, const struct replay_view *v, long left,
                        bool dry_run, const char *error)
{
    char why[400];
    long dup = dlq_replay_duplicated(t, why, sizeof why);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "queue", d->display);
    cJSON_AddBoolToObject(o, "dry_run", dry_run);
    cJSON_AddBoolToObject(o, "interrupted", t->interrupted);
    cJSON_AddNumberToObject(o, "moved", (double)t->moved);
    cJSON_AddNumberToObject(o, "duplicated", (double)dup);
    cJSON_AddStringToObject(o, "duplicated_reason", why);
    cJSON *ids = cJSON_AddArrayToObject(o, "dropped");
    for (size_t i = 0; i < v->ndropped; i++)
        cJSON_AddItemToArray(ids, cJSON_CreateString(v->dropped[i]));
    if (left >= 0)
        cJSON_AddNumberToObject(o, "left", (double)left);
    else
        cJSON_AddNullToObject(o, "left");
    cJSON_AddNumberToObject(o, "failed", (double)t->failed);
    cJSON_AddNumberToObject(o, "skipped", (double)t->skipped);
    cJSON_AddNumberToObject(o, "in_doubt", (double)t->in_doubt);
    if (error)
        cJSON_AddStringToObject(o, "error", error);
    char *text = cJSON_Print(o);
    printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(o);
}

static int cmd_replay(struct app *app, const struct dlq_args *a)
{
    if (!a->all && !a->nids && !a->grep)
        return usage_error("%s", "replay needs --id ID..., --grep S or --all");
    struct dlq *d;
    int rc = open_queue(app, a->queue, &d);
    if (rc != EXIT_OK)
        return rc;
    char *what = describe(a);
    if (read_only(app) && !a->dry_run) {
        rc = refuse_read_only(app, "dlq.replay", d->display, what);
        free(what);
        dlq_close(d);
        return rc;
    }
    const char *to = a->to;
    /* --to takes a name or an address of the same kind */
    if (to && strchr(to, ':')) {
        const char *scheme = d->addr.kind == QUEUE_AMQP ? "amqp:" : d->addr.kind == QUEUE_STREAM ? "stream:" : "redis:";
        if (strncmp(to, scheme, strlen(scheme)) != 0 && (strncmp(to, "amqp:", 5) == 0 ||
                                                         strncmp(to, "redis:", 6) == 0 || strncmp(to, "stream:", 7) == 0)) {
            free(what);
            dlq_close(d);
            return fail(EXIT_USAGE, "--to %s: a replay stays on the DLQ's broker (%s...)", to, scheme);
        }
        if (strncmp(to, scheme, strlen(scheme)) == 0)
            to += strlen(scheme);
    }
    struct replay_view view = {.prog = {.tty = isatty(STDERR_FILENO), .verb = a->dry_run ? "dry run" : "replay"},
                               .dry_run = a->dry_run, .json = a->json};
    struct dlq_replay rq = {
        .sel = {.ids = a->ids, .nids = a->nids, .grep = a->grep, .all = a->all, .limit = a->limit},
        .to = to, .rate = a->rate, .dry_run = a->dry_run, .sets = a->sets, .nsets = a->nsets,
        .progress = replay_progress, .each = replay_each, .arg = &view,
    };
    char *journal = dlq_journal_path(&app->cfg);
    rq.journal = journal;
    struct dlq_tally t = {.total = -1};
    struct sigaction old_int, old_term;
    catch_signals(&old_int, &old_term);
    d->cancel = &replay_stop;
    int r = d->ops->replay(d, &rq, &t);
    d->cancel = NULL;
    int sig = atomic_load(&replay_stop);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(journal);
    progress_end(&view.prog);
    /* what stays in the DLQ, counted afresh (an interrupted replay says it) */
    long left = -1;
    if (r == 0 && (t.interrupted || a->json) && d->ops->count(d, &left) < 0)
        left = -1;
    char result[2048];
    dlq_replay_summary(&t, a->dry_run, r < 0, left, result, sizeof result);
    if (a->json)
        replay_json(d, &t, &view, left, a->dry_run, r < 0 ? d->err : NULL);
    else
        printf("%s\n", result);
    fflush(stdout);
    if (t.in_doubt)
        fprintf(stderr, "qdeck: %ld message%s in doubt: published (or acked) when the connection was lost; they may "
                        "now be in both %s and the target (at most the confirm window); replay again to finish\n",
                t.in_doubt, t.in_doubt == 1 ? " is" : "s are", d->display);
    if (!a->dry_run)
        audit(app, "dlq.replay", d->display, what, result);
    free(what);
    if (r < 0)
        rc = fail(failure_code(d), "%s", d->err);
    else if (t.interrupted)
        rc = fail(EXIT_FAILED, "replay of %s interrupted by %s: %ld moved, %ld left", d->display,
                  sig == SIGTERM ? "SIGTERM" : "SIGINT", t.moved, left);
    else if (t.failed || t.in_doubt)
        rc = fail(EXIT_FAILED, "%ld message%s not replayed%s%s", t.failed, t.failed == 1 ? "" : "s",
                  t.first_error[0] ? ": " : "", t.first_error);
    else
        rc = EXIT_OK;
    for (size_t i = 0; i < view.ndropped; i++)
        free(view.dropped[i]);
    free(view.dropped);
    dlq_close(d);
    return rc;
}

static int cmd_purge(struct app *app, const struct dlq_args *a)
{
    if (!a->all && !a->nids)
        return usage_error("%s", "purge needs --id ID... or --all");
    if (!a->yes)
        return usage_error("%s", "purge deletes messages for good: add --yes");
    struct dlq *d;
    int rc = open_queue(app, a->queue, &d);
    if (rc != EXIT_OK)
        return rc;
    char *what = describe(a);
    if (read_only(app)) {
        rc = refuse_read_only(app, "dlq.purge", d->display, what);
        free(what);
        dlq_close(d);
        return rc;
    }
    struct dlq_select sel = {.ids = a->ids, .nids = a->nids, .all = a->all && !a->nids, .limit = a->limit};
    struct dlq_tally t = {.total = -1};
    int r = d->ops->purge(d, &sel, &t);
    char result[256];
    snprintf(result, sizeof result, "%spurged %ld", r < 0 ? "error, " : "", t.moved);
    if (a->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "purged", (double)t.moved);
        print_result_json(a->all && !a->nids ? "dlq.purge" : "dlq.delete", d->display, r == 0, result, o);
    } else {
        printf("%s\n", result);
    }
    audit(app, a->all && !a->nids ? "dlq.purge" : "dlq.delete", d->display, what, result);
    free(what);
    rc = r < 0 ? fail(failure_code(d), "%s", d->err) : EXIT_OK;
    if (r == 0 && a->nids && t.moved == 0)
        rc = fail(EXIT_FAILED, "%s: no message with the given id", d->display);
    dlq_close(d);
    return rc;
}

/* ---- export / import ---- */

struct export_state {
    struct dlq *d;
    FILE *out;
    long n, total;
    struct progress prog;
    bool write_failed;
    int write_errno;
};

static int export_visit(struct dlq_message *m, void *arg)
{
    struct export_state *st = arg;
    dlq_decode(st->d, m, false);
    char *line = dlq_export_line(st->d, m);
    if (fputs(line, st->out) == EOF || fputc('\n', st->out) == EOF) {
        st->write_failed = true;
        st->write_errno = errno;
    }
    free(line);
    dlq_message_free(m);
    st->n++;
    progress_draw(&st->prog, st->n, st->total, "exported", false);
    return st->write_failed;
}

static int cmd_export(struct app *app, const struct dlq_args *a)
{
    struct dlq *d;
    int rc = open_queue(app, a->queue, &d);
    if (rc != EXIT_OK)
        return rc;
    struct export_state st = {.d = d, .out = stdout, .prog = {.tty = isatty(STDERR_FILENO), .verb = "export"}};
    char *tmp = NULL;
    if (a->out) {
        tmp = xasprintf("%s.tmp.%d", a->out, (int)getpid());
        if (!(st.out = fopen(tmp, "w"))) {
            rc = fail(EXIT_FAILED, "cannot write %s: %s", tmp, strerror(errno));
            free(tmp);
            dlq_close(d);
            return rc;
        }
    }
    d->ops->count(d, &st.total);
    int r = d->ops->scan(d, 0, export_visit, &st);
    progress_end(&st.prog);
    if (a->out) {
        bool bad = fclose(st.out) != 0 || r < 0 || st.write_failed;
        if (!bad && rename(tmp, a->out) < 0)
            bad = true;
        if (bad)
            unlink(tmp);
        free(tmp);
    } else if (!st.write_failed && fflush(stdout) != 0) {
        st.write_failed = true;
        st.write_errno = errno;
    }
    if (r < 0)
        rc = fail(failure_code(d), "%s", d->err);
    else if (st.write_failed && st.write_errno == EPIPE && !a->out)
        rc = EXIT_OK;   /* the reader has what it wanted (| head): not an error */
    else if (st.write_failed)
        rc = fail(EXIT_FAILED, "writing the export failed: %s", strerror(st.write_errno));
    else
        fprintf(stderr, "exported %ld message%s from %s\n", st.n, st.n == 1 ? "" : "s", d->display);
    dlq_close(d);
    return rc;
}

static int flush_import(struct app *app, const char *target, struct dlq_message **msgs, size_t n,
                        struct dlq_tally *total, int *rc)
{
    if (!n)
        return 0;
    struct dlq *d;
    int orc = open_queue(app, target, &d);
    if (orc != EXIT_OK) {
        total->failed += (long)n;
        *rc = orc;
        return -1;
    }
    struct dlq_tally t = {0};
    int r = d->ops->append(d, d->addr.name, msgs, n, &t);
    total->moved += t.moved;
    total->failed += t.failed;
    total->in_doubt += t.in_doubt;
    if (!total->first_error[0] && t.first_error[0])
        snprintf(total->first_error, sizeof total->first_error, "%s", t.first_error);
    if (r < 0) {
        fprintf(stderr, "qdeck: %s\n", d->err);
        *rc = failure_code(d);
    }
    dlq_close(d);
    return r;
}

static int cmd_import(struct app *app, const struct dlq_args *a)
{
    const char *file = a->queue;
    if (read_only(app))
        return refuse_read_only(app, "dlq.import", a->to ? a->to : file, file);
    FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (!in)
        return fail(EXIT_FAILED, "cannot read %s: %s", file, strerror(errno));
    struct dlq_tally t = {0};
    int rc = EXIT_OK;
    char *line = NULL, *target = NULL;
    size_t cap = 0, n = 0, ncap = 0;
    struct dlq_message **msgs = NULL;
    long lineno = 0;
    ssize_t len;
    bool stop = false;
    while (!stop && (len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        if (len <= 1)
            continue;
        struct dlq_message *m;
        char *queue, err[256];
        if (dlq_import_line(line, &m, &queue, err, sizeof err) < 0) {
            fprintf(stderr, "qdeck: %s:%ld: %s\n", file, lineno, err);
            t.failed++;
            continue;
        }
        if (m->stream_id)
            dlq_stream_pick_body(m);
        const char *dest = a->to ? a->to : queue;
        if (!dest) {
            fprintf(stderr, "qdeck: %s:%ld: no \"queue\" in the line: give --to\n", file, lineno);
            t.failed++;
            dlq_message_free(m);
            continue;
        }
        if (target && (strcmp(target, dest) != 0 || n >= 5000)) {
            if (flush_import(app, target, msgs, n, &t, &rc) < 0 && rc == EXIT_UNREACHABLE)
                stop = true;
            for (size_t i = 0; i < n; i++)
                dlq_message_free(msgs[i]);
            n = 0;
        }
        if (!target || strcmp(target, dest) != 0) {
            free(target);
            target = xstrdup(dest);
        }
        free(queue);
        if (n == ncap) {
            ncap = ncap ? ncap * 2 : 256;
            msgs = xrealloc(msgs, ncap * sizeof *msgs);
        }
        msgs[n++] = m;
    }
    if (!stop)
        flush_import(app, target, msgs, n, &t, &rc);
    for (size_t i = 0; i < n; i++)
        dlq_message_free(msgs[i]);
    free(msgs);
    free(line);
    if (in != stdin)
        fclose(in);
    char result[256];
    snprintf(result, sizeof result, "imported %ld, failed %ld%s", t.moved, t.failed, t.in_doubt ? ", in doubt" : "");
    if (a->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "imported", (double)t.moved);
        cJSON_AddNumberToObject(o, "failed", (double)t.failed);
        cJSON_AddNumberToObject(o, "in_doubt", (double)t.in_doubt);
        print_result_json("dlq.import", a->to ? a->to : (target ? target : file), rc == EXIT_OK && !t.failed &&
                          !t.in_doubt, result, o);
    } else {
        printf("%s\n", result);
    }
    audit(app, "dlq.import", a->to ? a->to : (target ? target : file), file, result);
    free(target);
    if (rc == EXIT_OK && (t.failed || t.in_doubt))
        rc = fail(EXIT_FAILED, "%ld message%s not imported%s%s", t.failed + t.in_doubt,
                  t.failed + t.in_doubt == 1 ? "" : "s", t.first_error[0] ? ": " : "", t.first_error);
    return rc;
}

int cmd_dlq(struct app *app, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout, "%s\n", dlq_usage);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    static const struct {
        const char *name;
        int positional;
        int (*run)(struct app *, const struct dlq_args *);
    } subs[] = {
        {"list", 1, cmd_list}, {"show", 2, cmd_show}, {"replay", 1, cmd_replay},
        {"purge", 1, cmd_purge}, {"export", 1, cmd_export}, {"import", 1, cmd_import},
    };
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(argv[1], subs[i].name) != 0)
            continue;
        struct dlq_args a = {0};
        int rc = parse_args(argc, argv, subs[i].positional, &a);
        if (rc == EXIT_OK && !(rc = app_require_sources(app)))
            rc = subs[i].run(app, &a);
        free(a.ids);
        free(a.sets);
        return rc;
    }
    return usage_error("unknown subcommand '%s'", argv[1]);
}
