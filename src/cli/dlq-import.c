/* `qdeck dlq import FILE`: appends exported messages (JSON lines, "-"
 * for stdin) to the queue each line names, or --to QUEUE; batches by
 * target. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/dlq-cli.h"
#include "core/xalloc.h"

const struct arg_option dlq_import_options[] = {
    OPT_STRING("to", 0, "QUEUE", "append everything to QUEUE instead of the queue each line names"),
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_END,
};

static int flush_import(struct app *app, const char *target, struct dlq_message **msgs, size_t n,
                        struct dlq_tally *total, int *rc)
{
    if (!n)
        return 0;
    struct dlq *d;
    int orc = dlq_cli_open_queue(app, target, &d);
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
        *rc = dlq_cli_failure_code(d);
    }
    dlq_close(d);
    return r;
}

static int run_import(struct app *app, const struct dlq_args *a)
{
    const char *file = a->queue;
    if (dlq_cli_read_only(app))
        return dlq_cli_refuse_read_only(app, "dlq.import", a->to ? a->to : file, file);
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
    dlq_cli_audit(app, "dlq.import", a->to ? a->to : (target ? target : file), file, result);
    free(target);
    if (rc == EXIT_OK && (t.failed || t.in_doubt))
        rc = fail(EXIT_FAILED, "%ld message%s not imported%s%s", t.failed + t.in_doubt,
                  t.failed + t.in_doubt == 1 ? "" : "s", t.first_error[0] ? ": " : "", t.first_error);
    return rc;
}

int cmd_dlq_import(struct app *app, const struct args *args)
{
    struct dlq_args a;
    int rc = dlq_cli_args(app, args, 1, &a);
    return rc == EXIT_OK ? run_import(app, &a) : rc;
}
