/* The one argument parser (cli/args.c) without a broker: options anywhere
 * among the words, values inline or next, --id's run of words, grouped
 * short flags, "--", and the one-line errors the tables produce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cli/args.h"

static const struct arg_option global[] = {
    OPT_STRING("redis", 0, "URL", "Redis URL"),
    OPT_COUNT("verbose", 'v', "more"),
    OPT_LONG("iterations", 'n', "N", "refreshes", 1, 1000),
    OPT_END,
};

static const struct arg_option command[] = {
    OPT_WORDS("id", 0, "ID...", "these"),
    OPT_LIST("set", 0, "EDIT", "edits"),
    OPT_FLAG("json", 0, "JSON"),
    OPT_LONG("limit", 0, "N", "at most", 0, 100),
    OPT_DOUBLE("rate", 0, "N", "per second", 0, 1e9, "messages per second"),
    OPT_END,
};

static int parse(struct args *a, char *err, size_t len, int argc, char **argv)
{
    const struct arg_option *tables[] = {global, command, NULL};
    return args_parse(tables, argc, argv, a, err, len);
}

static void options_anywhere_among_words(void **state)
{
    (void)state;
    char *argv[] = {"dlq", "--json", "replay", "--redis", "redis://h", "q", "--limit=5", "-vv", "--rate", "2.5",
                    "--set", "a=1", "--set", "b=2", "--id", "x", "y", "--", "--not-an-option"};
    struct args a;
    char err[200];
    assert_int_equal(parse(&a, err, sizeof err, (int)(sizeof argv / sizeof argv[0]), argv), 0);
    assert_int_equal(a.nwords, 4);
    assert_string_equal(a.words[1], "replay");
    assert_string_equal(a.words[2], "q");
    assert_string_equal(a.words[3], "--not-an-option");
    assert_true(args_flag(&a, "json"));
    assert_string_equal(args_string(&a, "redis"), "redis://h");
    assert_int_equal(args_long(&a, "limit", -1), 5);
    assert_int_equal(args_times(&a, "verbose"), 2);
    assert_true(args_double(&a, "rate", 0) == 2.5);
    size_t n;
    char **sets = args_list(&a, "set", &n);
    assert_int_equal(n, 2);
    assert_string_equal(sets[1], "b=2");
    char **ids = args_list(&a, "id", &n);
    assert_int_equal(n, 2);
    assert_string_equal(ids[1], "y");
    assert_int_equal(args_long(&a, "iterations", 7), 7);
    assert_false(a.help);
    args_free(&a);
}

static void a_value_may_look_like_an_option(void **state)
{
    (void)state;
    char *argv[] = {"publish", "--limit", "-1", "-n5", "-"};
    struct args a;
    char err[200];
    assert_int_equal(parse(&a, err, sizeof err, 5, argv), -1);
    assert_string_equal(err, "--limit wants a whole number from 0 to 100, got '-1'");
    args_free(&a);
    char *argv2[] = {"x", "-n5", "-", "-3"};
    assert_int_equal(parse(&a, err, sizeof err, 4, argv2), 0);
    assert_int_equal(args_long(&a, "iterations", 0), 5);
    assert_int_equal(a.nwords, 3);   /* "-" and "-3" are words */
    args_free(&a);
}

static void errors_name_what_is_wrong(void **state)
{
    (void)state;
    struct {
        char *argv[3];
        int argc;
        const char *err;
    } cases[] = {
        {{"--frob"}, 1, "unknown option '--frob'"},
        {{"-x"}, 1, "unknown option '-x'"},
        {{"--redis"}, 1, "--redis needs a value (URL)"},
        {{"--json=1"}, 1, "--json takes no value, got '1'"},
        {{"--limit", "1e3"}, 2, "--limit wants a whole number from 0 to 100, got '1e3'"},
        {{"--rate", "fast"}, 2, "--rate wants a number of messages per second from 0 to 1e+09, got 'fast'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct args a;
        char err[200] = "";
        assert_int_equal(parse(&a, err, sizeof err, cases[i].argc, cases[i].argv), -1);
        assert_string_equal(err, cases[i].err);
        args_free(&a);
    }
}

static void help_and_value_lookup(void **state)
{
    (void)state;
    char *argv[] = {"status", "-h"};
    struct args a;
    char err[200];
    assert_int_equal(parse(&a, err, sizeof err, 2, argv), 0);
    assert_true(a.help);
    assert_null(args_value(&a, "no-such-option"));
    assert_non_null(args_value(&a, "json"));
    const struct arg_option *tables[] = {global, command, NULL};
    assert_true(args_takes_value(tables, "--redis"));
    assert_true(args_takes_value(tables, "-n"));
    assert_false(args_takes_value(tables, "--redis=x"));
    assert_false(args_takes_value(tables, "--json"));
    args_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(options_anywhere_among_words),
        cmocka_unit_test(a_value_may_look_like_an_option),
        cmocka_unit_test(errors_name_what_is_wrong),
        cmocka_unit_test(help_and_value_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
