/* The documents written from the tables (cli/docs-*.c) without a broker:
 * roff escaping of what a table may hold (a leading dot, a backslash,
 * dashes, non-ASCII text), hidden commands left out of the man page and the
 * completions, a new row showing up in both, and the first word of a usage
 * line (literal subcommands, QUEUE, FILE, none). */
#include "cli/docs.h"   /* before cmocka.h, whose fail() macro would rename cli/app.h's */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run_nothing(struct app *app, const struct args *a)
{
    (void)app;
    (void)a;
    return 0;
}

static const struct arg_option globals[] = {
    OPT_STRING("theme", 0, "NAME", "colour theme"),
    OPT_FLAG("read-only", 0, "refuse every change"),
    OPT_END,
};

static const struct arg_option frob_options[] = {
    OPT_FLAG("dry-run", 0, ".starts with a dot, has a \\ and caf\xc3\xa9 \xe2\x80\x94 text"),
    OPT_STRING("out", 0, "FILE", "where"),
    OPT_LONG("limit", 'n', "N", "at most", 0, 10),
    OPT_END,
};

static const struct command subs[] = {
    {.name = "list", .synopsis = "usage: qdeck box list QUEUE [--json]", .run = run_nothing},
    {.name = "import", .synopsis = "usage: qdeck box import FILE", .run = run_nothing},
    {.name = NULL},
};

static const struct command commands[] = {
    {.name = "_secret", .usage = "_secret", .help = "hidden", .hidden = true, .run = run_nothing},
    {.name = "frob", .usage = "frob QUEUE [--dry-run]", .help = "frobs a queue", .options = frob_options,
     .synopsis = "usage: qdeck frob QUEUE [--dry-run]\n  indented second line", .run = run_nothing},
    {.name = "knob", .usage = "knob list|turn NAME", .help = "knobs", .synopsis = "usage: qdeck knob", .run = run_nothing},
    {.name = "box", .usage = "box list|import", .help = "boxes", .synopsis = "usage: qdeck box", .subs = subs,
     .run = run_nothing},
};

static const struct cli_tables tables = {globals, commands, sizeof commands / sizeof commands[0]};

/* What fn writes, as a string the caller frees. */
static char *written(int (*fn)(FILE *, const struct cli_tables *))
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(fn(out, &tables), 0);
    fclose(out);
    return text;
}

static void man_escapes_what_tables_hold(void **state)
{
    (void)state;
    char *man = written(docs_man1);
    assert_non_null(strstr(man, "\n\\&.starts with a dot, has a \\e and caf\\[u00E9] \\[u2014] text"));
    assert_non_null(strstr(man, "\\fB\\-\\-dry\\-run\\fR"));
    assert_non_null(strstr(man, "\\fB\\-\\-limit\\fR \\fIN\\fR, \\fB\\-n\\fR \\fIN\\fR"));
    assert_non_null(strstr(man, ".nf\nusage: qdeck frob QUEUE [\\-\\-dry\\-run]\n  indented second line\n.fi"));
    assert_non_null(strstr(man, ".SS \"box list\""));
    for (const char *p = man; *p; p++)
        assert_true((unsigned char)*p < 0x80);   /* groff reads it in any locale */
    free(man);
}

static void hidden_commands_stay_out(void **state)
{
    (void)state;
    char *docs[] = {written(docs_man1), written(docs_bash), written(docs_zsh)};
    for (size_t i = 0; i < 3; i++) {
        assert_null(strstr(docs[i], "_secret"));
        assert_non_null(strstr(docs[i], "frob"));
        assert_non_null(strstr(docs[i], "knob"));
        free(docs[i]);
    }
}

static void completions_come_from_the_rows(void **state)
{
    (void)state;
    char *bash = written(docs_bash);
    assert_non_null(strstr(bash, "compgen -W 'frob knob box'"));
    assert_non_null(strstr(bash, "frob) opts+=' --dry-run --out --limit -n'"));
    assert_non_null(strstr(bash, "--out) COMPREPLY=($(compgen -f"));
    assert_non_null(strstr(bash, "list) want=QUEUE ;;"));
    assert_non_null(strstr(bash, "import) want=FILE ;;"));
    assert_non_null(strstr(bash, "want='list turn'"));
    free(bash);
    char *zsh = written(docs_zsh);
    assert_non_null(strstr(zsh, "'--dry-run[.starts with a dot, has a \\\\ and caf"));
    assert_non_null(strstr(zsh, "'--out[where]:FILE:_files'"));
    assert_non_null(strstr(zsh, "'--theme[colour theme]:NAME:_qdeck_themes'"));
    assert_non_null(strstr(zsh, "'1:queue:_qdeck_queues'"));
    free(zsh);
}

static void first_word_of_a_usage(void **state)
{
    (void)state;
    char w[128];
    docs_first_word(&commands[1], NULL, w, sizeof w);
    assert_string_equal(w, "QUEUE");
    docs_first_word(&commands[2], NULL, w, sizeof w);
    assert_string_equal(w, "list turn");
    docs_first_word(&commands[3], NULL, w, sizeof w);
    assert_string_equal(w, "list import");
    docs_first_word(&subs[0], "box", w, sizeof w);
    assert_string_equal(w, "QUEUE");
    docs_first_word(&subs[1], "box", w, sizeof w);
    assert_string_equal(w, "FILE");
    const struct command none = {.name = "status", .usage = "status [--json]"};
    docs_first_word(&none, NULL, w, sizeof w);
    assert_string_equal(w, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(man_escapes_what_tables_hold),
        cmocka_unit_test(hidden_commands_stay_out),
        cmocka_unit_test(completions_come_from_the_rows),
        cmocka_unit_test(first_word_of_a_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
