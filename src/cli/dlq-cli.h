/* What the `qdeck dlq` subcommands share (cli/dlq.c); one file per
 * subcommand: dlq-list.c, dlq-show.c, dlq-replay.c, dlq-purge.c,
 * dlq-export.c, dlq-import.c, each with its table of options. */
#ifndef QDECK_CLI_DLQ_CLI_H
#define QDECK_CLI_DLQ_CLI_H

#include <stdbool.h>

#include "cli/app.h"
#include "cli/args.h"
#include "dlq/dlq.h"

/* The options of a dlq subcommand, read from the parsed line; what the
 * subcommand's table does not have stays unset. */
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

/* Fills out from a (a->words[2..]: QUEUE, or QUEUE and ID when positional
 * is 2) and checks a source is configured; an exit code. */
int dlq_cli_args(struct app *app, const struct args *a, int positional, struct dlq_args *out);
/* "qdeck: dlq: <what>" and the usage on stderr; EXIT_USAGE. */
int dlq_cli_usage_error(const char *fmt, const char *arg);

bool dlq_cli_read_only(const struct app *app);
/* Audit trail; a failure to write it is said on stderr, never hidden. */
void dlq_cli_audit(const struct app *app, const char *action, const char *target, const char *what,
                   const char *result);
int dlq_cli_refuse_read_only(const struct app *app, const char *action, const char *target, const char *what);
int dlq_cli_open_queue(const struct app *app, const char *address, struct dlq **out);
int dlq_cli_failure_code(const struct dlq *d);
/* The selection and edits of a replay or purge, as the audit log says them. */
char *dlq_cli_describe(const struct dlq_args *a);

/* ---- progress on a terminal ---- */
struct progress {
    bool tty;
    const char *verb;
    double last;
};

void dlq_cli_progress_draw(struct progress *p, long done, long total, const char *extra, bool force);
void dlq_cli_progress_end(struct progress *p);

extern const struct arg_option dlq_list_options[], dlq_show_options[], dlq_replay_options[], dlq_purge_options[],
    dlq_export_options[], dlq_import_options[];
int cmd_dlq_list(struct app *app, const struct args *a);
int cmd_dlq_show(struct app *app, const struct args *a);
int cmd_dlq_replay(struct app *app, const struct args *a);
int cmd_dlq_purge(struct app *app, const struct args *a);
int cmd_dlq_export(struct app *app, const struct args *a);
int cmd_dlq_import(struct app *app, const struct args *a);

#endif
