/* `qdeck events [--json] [--follow] [--limit N]`: the Events view (9) as a
 * command — breaker transitions, workers joining and lost, alerts (stream
 * qdeck:events) interleaved with the operator actions of the audit trail
 * (qdeck:audit), parsed as the view parses them (console/board.h).
 *
 * Without --follow: the newest N of both, newest first, as the view lists
 * them (--json: one array). With --follow: the newest N oldest first, then
 * every new entry as it is written, until Ctrl-C (--json: one object a
 * line). Following blocks in Redis (XREAD BLOCK, a second at a time, so a
 * Ctrl-C is seen within one); nothing polls. Exit 3 when Redis cannot be
 * reached or goes away while following. */
#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/app.h"
#include "console/board.h"
#include "control/keys.h"
#include "core/xalloc.h"

#define EVENTS_DEFAULT 200
#define FOLLOW_BLOCK_MS 1000

const struct arg_option events_options[] = {
    OPT_FLAG("json", 0, "JSON on stdout (with --follow: one object a line)"),
    OPT_FLAG("follow", 'f', "keep printing new events until Ctrl-C"),
    OPT_LONG("limit", 0, "N", "how many of the newest events (default 200)", 1, 100000),
    OPT_END,
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static cJSON *event_json(const struct board_event *e)
{
    cJSON *o = cJSON_CreateObject();
    char when[40];
    time_t t = (time_t)e->at;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddNumberToObject(o, "at", e->at);
    cJSON_AddStringToObject(o, "time", when);
    cJSON_AddStringToObject(o, "from", e->audit ? "audit" : "fleet");
    cJSON_AddStringToObject(o, "kind", e->kind);
    cJSON_AddStringToObject(o, "text", e->text);
    return o;
}

static void print_line(const struct board_event *e, bool json)
{
    if (json) {
        cJSON *o = event_json(e);
        char *text = cJSON_PrintUnformatted(o);
        puts(text);
        cJSON_free(text);
        cJSON_Delete(o);
    } else {
        char when[16];
        time_t t = (time_t)e->at;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%H:%M:%S", &tm);
        printf("%-8s %-6s %-20s %s\n", when, e->audit ? "audit" : "fleet", e->kind, e->text);
    }
    fflush(stdout);
}

/* The id of a stream reply's first entry (XREVRANGE: the newest), or NULL. */
static const char *first_id(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || !r->elements || r->element[0]->type != REDIS_REPLY_ARRAY ||
        !r->element[0]->elements || r->element[0]->element[0]->type != REDIS_REPLY_STRING)
        return NULL;
    return r->element[0]->element[0]->str;
}

static int redis_lost(redisContext *c)
{
    return fail(EXIT_UNREACHABLE, "redis: %s", c->errstr[0] ? c->errstr : "connection lost");
}

/* New entries of both streams after last[0] (events) and last[1] (audit),
 * printed oldest first, until a signal. */
static int follow(redisContext *c, char last[2][64], bool json)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!stop) {
        redisReply *r = redisCommand(c, "XREAD COUNT 500 BLOCK %d STREAMS %s %s %s %s", FOLLOW_BLOCK_MS, KEY_EVENTS,
                                     KEY_AUDIT, last[0], last[1]);
        if (!r)
            return stop ? EXIT_OK : redis_lost(c);
        if (r->type == REDIS_REPLY_ERROR) {
            int rc = fail(EXIT_FAILED, "redis: %s", r->str);
            freeReplyObject(r);
            return rc;
        }
        struct board_event *events = NULL;
        size_t n = 0;
        for (size_t s = 0; r->type == REDIS_REPLY_ARRAY && s < r->elements; s++) {
            const redisReply *stream = r->element[s];
            if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
                stream->element[0]->type != REDIS_REPLY_STRING)
                continue;
            bool audit = strcmp(stream->element[0]->str, KEY_AUDIT) == 0;
            const redisReply *entries = stream->element[1];
            if (entries->type == REDIS_REPLY_ARRAY && entries->elements) {
                const redisReply *newest = entries->element[entries->elements - 1];
                if (newest->type == REDIS_REPLY_ARRAY && newest->elements &&
                    newest->element[0]->type == REDIS_REPLY_STRING)
                    snprintf(last[audit], sizeof last[audit], "%s", newest->element[0]->str);
            }
            board_events_parse(entries, audit, &events, &n);
        }
        freeReplyObject(r);
        board_events_sort(events, n);
        for (size_t i = n; i-- > 0;)
            print_line(&events[i], json);
        board_events_free(events, n);
    }
    return EXIT_OK;
}

int cmd_events(struct app *app, const struct args *a)
{
    if (a->nwords > 1)
        return fail(EXIT_USAGE, "events: unknown argument '%s' (usage: qdeck events [--json] [--follow] [--limit N])",
                    a->words[1]);
    bool json = args_flag(a, "json"), following = args_flag(a, "follow");
    long limit = args_long(a, "limit", EVENTS_DEFAULT);
    redisContext *c;
    int rc = control_connect(app, &c);
    if (rc != EXIT_OK)
        return rc;
    struct board_event *events = NULL;
    size_t n = 0;
    char last[2][64] = {"0-0", "0-0"};
    redisAppendCommand(c, "XREVRANGE %s + - COUNT %ld", KEY_EVENTS, limit);
    redisAppendCommand(c, "XREVRANGE %s + - COUNT %ld", KEY_AUDIT, limit);
    for (int i = 0; i < 2; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            rc = redis_lost(c);
            board_events_free(events, n);
            redisFree(c);
            return rc;
        }
        if (first_id(r))
            snprintf(last[i], sizeof last[i], "%s", first_id(r));
        board_events_parse(r, i == 1, &events, &n);
        freeReplyObject(r);
    }
    board_events_sort(events, n);
    size_t total = n;                 /* both streams: twice the limit at most */
    if ((size_t)limit < n)
        n = (size_t)limit;
    if (following) {
        for (size_t i = n; i-- > 0;)
            print_line(&events[i], json);
    } else if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, event_json(&events[i]));
        print_json(arr);
    } else if (!n) {
        fprintf(stderr, "no events yet\n");
    } else {
        printf("%-8s %-6s %-20s %s\n", "TIME", "FROM", "KIND", "DETAIL");
        for (size_t i = 0; i < n; i++)
            print_line(&events[i], false);
    }
    board_events_free(events, total);
    if (following)
        rc = follow(c, last, json);
    redisFree(c);
    return rc;
}
