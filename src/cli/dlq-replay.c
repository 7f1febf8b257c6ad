/* `qdeck dlq replay QUEUE`: moves dead messages back (to their original
 * queue, or --to), with --set edits, --rate pacing and --dry-run; SIGINT
 * or SIGTERM stops taking messages and settles what is in flight. Always
 * ends with "moved N, failed N, skipped N". */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/dlq-cli.h"
#include "core/xalloc.h"
#include "dlq/sched-replay.h"

const struct arg_option dlq_replay_options[] = {
    OPT_WORDS("id", 0, "ID...", "these messages (every word up to the next option)"),
    OPT_STRING("grep", 0, "S", "messages holding S (case-insensitive, headers and body)"),
    OPT_FLAG("all", 0, "every message"),
    OPT_LONG("limit", 0, "N", "at most N messages", 0, 1000000000),
    OPT_DOUBLE("rate", 0, "N", "at most N messages per second (0: as fast as confirms allow)", 0, 1e9,
               "messages per second"),
    OPT_FLAG("dry-run", 0, "say what would move, move nothing"),
    OPT_STRING("to", 0, "QUEUE", "replay into QUEUE instead of the original queue"),
    OPT_LIST("set", 0, "EDIT", "payload.KEY=VALUE or header:KEY=VALUE, applied to each (repeatable)"),
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_END,
};

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
    dlq_cli_progress_draw(&v->prog, t->seen, t->total, extra, false);
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
    print_json(o);
}

static int run_replay(struct app *app, const struct dlq_args *a)
{
    if (!a->all && !a->nids && !a->grep)
        return dlq_cli_usage_error("%s", "replay needs --id ID..., --grep S or --all");
    struct dlq *d;
    int rc = dlq_cli_open_queue(app, a->queue, &d);
    if (rc != EXIT_OK)
        return rc;
    char *what = dlq_cli_describe(a);
    if (dlq_cli_read_only(app) && !a->dry_run) {
        rc = dlq_cli_refuse_read_only(app, "dlq.replay", d->display, what);
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
    dlq_cli_progress_end(&view.prog);
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
        dlq_cli_audit(app, "dlq.replay", d->display, what, result);
    free(what);
    if (r < 0)
        rc = fail(dlq_cli_failure_code(d), "%s", d->err);
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

int cmd_dlq_replay(struct app *app, const struct args *args)
{
    struct dlq_args a;
    int rc = dlq_cli_args(app, args, 1, &a);
    return rc == EXIT_OK ? run_replay(app, &a) : rc;
}
