/* `qdeck dlq purge QUEUE`: deletes dead messages for good (--id ID... or
 * --all, and always --yes), audited. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/dlq-cli.h"

const struct arg_option dlq_purge_options[] = {
    OPT_WORDS("id", 0, "ID...", "these messages (every word up to the next option)"),
    OPT_FLAG("all", 0, "every message"),
    OPT_LONG("limit", 0, "N", "at most N messages", 0, 1000000000),
    OPT_FLAG("yes", 0, "confirm: the messages are gone for good"),
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_END,
};

static int run_purge(struct app *app, const struct dlq_args *a)
{
    if (!a->all && !a->nids)
        return dlq_cli_usage_error("%s", "purge needs --id ID... or --all");
    if (!a->yes)
        return dlq_cli_usage_error("%s", "purge deletes messages for good: add --yes");
    struct dlq *d;
    int rc = dlq_cli_open_queue(app, a->queue, &d);
    if (rc != EXIT_OK)
        return rc;
    char *what = dlq_cli_describe(a);
    if (dlq_cli_read_only(app)) {
        rc = dlq_cli_refuse_read_only(app, "dlq.purge", d->display, what);
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
    dlq_cli_audit(app, a->all && !a->nids ? "dlq.purge" : "dlq.delete", d->display, what, result);
    free(what);
    rc = r < 0 ? fail(dlq_cli_failure_code(d), "%s", d->err) : EXIT_OK;
    if (r == 0 && a->nids && t.moved == 0)
        rc = fail(EXIT_FAILED, "%s: no message with the given id", d->display);
    dlq_close(d);
    return rc;
}

int cmd_dlq_purge(struct app *app, const struct args *args)
{
    struct dlq_args a;
    int rc = dlq_cli_args(app, args, 1, &a);
    return rc == EXIT_OK ? run_purge(app, &a) : rc;
}
