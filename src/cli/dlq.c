/* `qdeck dlq list|show|replay|purge|export|import`: the DLQ operations of
 * src/dlq/ as scriptable commands, one file per subcommand (dlq-cli.h);
 * here what they share (the table of subcommands is dlq-commands.c, so
 * that this file calls none of them). Every mutating one is
 * refused under --read-only (or a read_only context) and written to the
 * audit log, refusal included. Long scans and replays draw a progress bar
 * on stderr when it is a terminal; replay always ends with "moved N,
 * failed N, skipped N". Exit codes: 0 ok, 1 something was not done
 * (failed, returned, in doubt, refused), 2 usage, 3 a broker could not be
 * reached. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/dlq-cli.h"
#include "control/audit.h"
#include "core/xalloc.h"

const char dlq_usage[] =
    "usage: qdeck dlq list QUEUE [--grep S] [--limit N] [--json]\n"
    "       qdeck dlq show QUEUE ID [--json]\n"
    "       qdeck dlq replay QUEUE (--id ID... | --grep S | --all) [--limit N] [--rate N] [--dry-run]\n"
    "                              [--to QUEUE] [--set payload.KEY=VALUE | --set header:KEY=VALUE]...\n"
    "       qdeck dlq purge QUEUE (--id ID... | --all) --yes [--json]\n"
    "       qdeck dlq export QUEUE [--out FILE]\n"
    "       qdeck dlq import FILE [--to QUEUE] [--json]\n"
    "QUEUE: amqp:NAME, redis:KEY or stream:KEY (a bare name when only one broker is configured)";

int dlq_cli_usage_error(const char *fmt, const char *arg)
{
    fputs("qdeck: dlq: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s\n", dlq_usage);
    return EXIT_USAGE;
}

static const char *string_option(const struct args *a, const char *name)
{
    const struct arg_value *v = args_value(a, name);
    return v ? v->text : NULL;
}

static bool flag_option(const struct args *a, const char *name)
{
    const struct arg_value *v = args_value(a, name);
    return v && v->given;
}

static char **list_option(const struct args *a, const char *name, size_t *n)
{
    const struct arg_value *v = args_value(a, name);
    *n = v ? v->n : 0;
    return v ? v->list : NULL;
}

int dlq_cli_args(struct app *app, const struct args *a, int positional, struct dlq_args *out)
{
    memset(out, 0, sizeof *out);
    out->grep = string_option(a, "grep");
    out->to = string_option(a, "to");
    out->out = string_option(a, "out");
    out->ids = list_option(a, "id", &out->nids);
    out->sets = list_option(a, "set", &out->nsets);
    out->all = flag_option(a, "all");
    out->json = flag_option(a, "json");
    out->dry_run = flag_option(a, "dry-run");
    out->yes = flag_option(a, "yes");
    const struct arg_value *limit = args_value(a, "limit"), *rate = args_value(a, "rate");
    if (limit && limit->given) {
        out->limit = limit->whole;
        out->limit_given = true;
    }
    if (rate && rate->given)
        out->rate = rate->number;
    /* words: dlq SUB QUEUE [ID] */
    if (a->nwords > 2)
        out->queue = a->words[2];
    if (a->nwords > 3)
        out->id = a->words[3];
    if (a->nwords > 2 + (size_t)positional)
        return dlq_cli_usage_error("unexpected argument '%s'", a->words[2 + positional]);
    if (a->nwords < 2 + (size_t)positional)
        return dlq_cli_usage_error("%s", positional == 2 ? "QUEUE and ID are needed" : "QUEUE is needed");
    return app_require_sources(app);
}

bool dlq_cli_read_only(const struct app *app)
{
    return app->ov.read_only || (app->ctx && app->ctx->read_only);
}

void dlq_cli_audit(const struct app *app, const char *action, const char *target, const char *what, const char *result)
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

int dlq_cli_refuse_read_only(const struct app *app, const char *action, const char *target, const char *what)
{
    dlq_cli_audit(app, action, target, what, "refused: read-only");
    return fail(EXIT_FAILED, "%s %s refused: read-only (--read-only or read_only = true in the context)", action,
                target);
}

int dlq_cli_open_queue(const struct app *app, const char *address, struct dlq **out)
{
    char err[512];
    int rc = dlq_open(address, app->ctx, out, err, sizeof err);
    if (rc == 0)
        return EXIT_OK;
    return fail(rc == -3 ? EXIT_UNREACHABLE : rc == -2 ? EXIT_USAGE : EXIT_FAILED, "%s", err);
}

int dlq_cli_failure_code(const struct dlq *d)
{
    switch (d->failure) {
    case DLQ_FAIL_UNREACHABLE: return EXIT_UNREACHABLE;
    case DLQ_FAIL_USAGE: return EXIT_USAGE;
    default: return EXIT_FAILED;
    }
}

/* ---- progress on a terminal ---- */

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void dlq_cli_progress_draw(struct progress *p, long done, long total, const char *extra, bool force)
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

void dlq_cli_progress_end(struct progress *p)
{
    if (p->tty)
        fprintf(stderr, "\r\033[K");
}
char *dlq_cli_describe(const struct dlq_args *a)
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

int cmd_dlq(struct app *app, const struct args *a)
{
    (void)app;
    if (a->nwords < 2) {
        fprintf(stderr, "%s\n", dlq_usage);
        return EXIT_USAGE;
    }
    return dlq_cli_usage_error("unknown subcommand '%s'", a->words[1]);
}
