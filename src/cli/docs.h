/* Documents generated from the program's own tables, so they cannot drift
 * from what the parser, --help, --help-config and the key dispatcher read:
 * the man pages qdeck(1) and qdeck.conf(5) (roff) and the bash and zsh
 * completions. `make` writes them into build/man/ and build/completion/
 * through the hidden command `qdeck _doc man1|man5|bash|zsh`; the
 * completions ask `qdeck _complete contexts|themes` for the names that
 * only exist at run time. */
#ifndef QDECK_CLI_DOCS_H
#define QDECK_CLI_DOCS_H

#include <stdio.h>

#include "cli/app.h"

/* The command line as main.c defines it. */
struct cli_tables {
    const struct arg_option *globals;
    const struct command *commands;
    size_t ncommands;
};

/* Each writes one document to out; 0, or -1 when out failed. */
int docs_man1(FILE *out, const struct cli_tables *t);
int docs_man5(FILE *out);
int docs_bash(FILE *out, const struct cli_tables *t);
int docs_zsh(FILE *out, const struct cli_tables *t);

/* The first word a command (or subcommand) takes after its name, from its
 * usage line: "list|get|set" gives the literal words into words (space
 * separated), "QUEUE" or "FILE" the placeholder; "" when it takes none. */
void docs_first_word(const struct command *c, const char *prefix, char *words, size_t len);

/* `qdeck _doc WHAT` and `qdeck _complete WHAT`: exit codes. */
int docs_run(const struct cli_tables *t, const struct args *a);
int docs_complete(struct app *app, const struct args *a);

#endif
