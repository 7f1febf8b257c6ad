/* The table of `qdeck dlq` subcommands main.c dispatches to: each one's
 * usage, its table of options and what runs it. The only file that names
 * them all; they share cli/dlq.c, which names none of them. */
#include "cli/dlq-cli.h"

const struct command dlq_commands[] = {
    {.name = "list", .synopsis = "usage: qdeck dlq list QUEUE [--grep S] [--limit N] [--json]",
     .options = dlq_list_options, .run = cmd_dlq_list},
    {.name = "show", .synopsis = "usage: qdeck dlq show QUEUE ID [--json]", .options = dlq_show_options,
     .run = cmd_dlq_show},
    {.name = "replay",
     .synopsis = "usage: qdeck dlq replay QUEUE (--id ID... | --grep S | --all) [--limit N] [--rate N] [--dry-run]\n"
                 "                              [--to QUEUE] [--set payload.KEY=VALUE | --set header:KEY=VALUE]...",
     .options = dlq_replay_options, .run = cmd_dlq_replay},
    {.name = "purge", .synopsis = "usage: qdeck dlq purge QUEUE (--id ID... | --all) --yes [--json]",
     .options = dlq_purge_options, .run = cmd_dlq_purge},
    {.name = "export", .synopsis = "usage: qdeck dlq export QUEUE [--out FILE]", .options = dlq_export_options,
     .run = cmd_dlq_export},
    {.name = "import", .synopsis = "usage: qdeck dlq import FILE [--to QUEUE] [--json]",
     .options = dlq_import_options, .run = cmd_dlq_import},
    {.name = NULL},
};
