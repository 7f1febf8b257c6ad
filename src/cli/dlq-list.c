/* `qdeck dlq list QUEUE`: one line per dead message (or --json), with
 * --grep scanning the whole DLQ and a progress bar on a terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/dlq-cli.h"
#include "core/clock.h"

#define DEFAULT_LIST_LIMIT 100

const struct arg_option dlq_list_options[] = {
    OPT_STRING("grep", 0, "S", "only messages holding S (case-insensitive, headers and body)"),
    OPT_LONG("limit", 0, "N", "show at most N (default 100; 0: all)", 0, 1000000000),
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_END,
};

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
        dlq_cli_progress_draw(&st->prog, st->seen, st->total, extra, false);
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

static int run_list(struct app *app, const struct dlq_args *a)
{
    struct dlq *d;
    int rc = dlq_cli_open_queue(app, a->queue, &d);
    if (rc != EXIT_OK)
        return rc;
    struct list_state st = {.d = d, .a = a, .prog = {.tty = isatty(STDERR_FILENO), .verb = "grep"}};
    if (d->ops->count(d, &st.total) < 0) {
        rc = fail(dlq_cli_failure_code(d), "%s", d->err);
        dlq_close(d);
        return rc;
    }
    if (a->json)
        st.json = cJSON_CreateArray();
    else
        printf("%-6s %-38s %-24s %-14s %6s %8s  %-19s %-20s %s\n", "POS", "ID", "TYPE", "REASON", "DEATHS",
               "ATTEMPTS", "LAST DEATH (UTC)", "ORIGINAL QUEUE", "LAST ERROR");
    int scan = d->ops->scan(d, 0, list_visit, &st);
    dlq_cli_progress_end(&st.prog);
    if (st.json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "queue", d->display);
        cJSON_AddNumberToObject(root, "total", (double)st.total);
        if (a->grep)
            cJSON_AddStringToObject(root, "grep", a->grep);
        cJSON_AddItemToObject(root, "messages", st.json);
        print_json(root);
    } else {
        fprintf(stderr, "%s: %ld message%s, %ld shown\n", d->display, st.total, st.total == 1 ? "" : "s",
                st.shown);   /* a summary: stdout carries only the table */
    }
    rc = scan < 0 ? fail(dlq_cli_failure_code(d), "%s", d->err) : EXIT_OK;
    dlq_close(d);
    return rc;
}

int cmd_dlq_list(struct app *app, const struct args *args)
{
    struct dlq_args a;
    int rc = dlq_cli_args(app, args, 1, &a);
    return rc == EXIT_OK ? run_list(app, &a) : rc;
}
