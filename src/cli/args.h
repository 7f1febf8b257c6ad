/* One argument parser for every qdeck command, driven by tables of options
 * (tmux's args and cmd_entry): each option has a name, an optional short
 * letter, whether and what value it takes, and its help line. The parser,
 * each command's --help and its errors ("unknown option", "missing value",
 * "not a number") all come from the tables. Options may stand anywhere on
 * the line, before or after the words; "--" ends them; --name=value and
 * grouped short flags (-vv) work as getopt's do. */
#ifndef QDECK_CLI_ARGS_H
#define QDECK_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum arg_kind {
    ARG_FLAG,       /* --json */
    ARG_COUNT,      /* -v -v: how many times */
    ARG_STRING,     /* --to QUEUE; the last one given counts */
    ARG_LIST,       /* --set K=V, repeatable: every one, in order */
    ARG_WORDS,      /* --id A B C: every following word up to the next option */
    ARG_LONG,       /* a whole number from min to max */
    ARG_DOUBLE,     /* a number from min to max */
};

struct arg_option {
    const char *name;       /* "limit" for --limit; NULL ends a table */
    char letter;            /* 'n' for -n, or 0 */
    enum arg_kind kind;
    const char *value;      /* the value's name in help: "N", "QUEUE" */
    const char *help;
    double min, max;        /* ARG_LONG, ARG_DOUBLE */
    const char *unit;       /* ARG_DOUBLE, in its error: "messages per second", or NULL */
};

struct arg_value {
    int given;              /* times on the line */
    const char *text;       /* the last value */
    long whole;             /* ARG_LONG */
    double number;          /* ARG_DOUBLE */
    char **list;            /* ARG_LIST, ARG_WORDS */
    size_t n;
};

struct args {
    char **words;           /* what is not an option, in order */
    size_t nwords;
    const struct arg_option **opts;   /* every table's options, in order */
    struct arg_value *values;         /* one per option */
    size_t nopts;
    bool help;              /* --help or -h was given */
};

/* Table rows, so that a table reads as a list of options. */
#define OPT_FLAG(name, letter, help) {(name), (letter), ARG_FLAG, NULL, (help), 0, 0, NULL}
#define OPT_COUNT(name, letter, help) {(name), (letter), ARG_COUNT, NULL, (help), 0, 0, NULL}
#define OPT_STRING(name, letter, value, help) {(name), (letter), ARG_STRING, (value), (help), 0, 0, NULL}
#define OPT_LIST(name, letter, value, help) {(name), (letter), ARG_LIST, (value), (help), 0, 0, NULL}
#define OPT_WORDS(name, letter, value, help) {(name), (letter), ARG_WORDS, (value), (help), 0, 0, NULL}
#define OPT_LONG(name, letter, value, help, min, max) {(name), (letter), ARG_LONG, (value), (help), (min), (max), NULL}
#define OPT_DOUBLE(name, letter, value, help, min, max, unit) \
    {(name), (letter), ARG_DOUBLE, (value), (help), (min), (max), (unit)}
#define OPT_END {NULL, 0, ARG_FLAG, NULL, NULL, 0, 0, NULL}

/* Parses argv[0..argc) against the tables (NULL-ended list of tables,
 * each ended by a NULL name). 0, or -1 with one line in err naming what is
 * wrong: "unknown option '--frob'", "--to needs a value", "--limit wants a
 * whole number from 0 to 1000000000, got '1e3'". Free with args_free, in
 * both cases. */
int args_parse(const struct arg_option *const *tables, int argc, char **argv, struct args *out, char *err,
               size_t errlen);
void args_free(struct args *a);

/* The option's value, or NULL when no table has it (for code shared by
 * commands with different tables). */
const struct arg_value *args_value(const struct args *a, const char *name);
/* By option name; an unknown name is a bug in the caller (aborts). */
bool args_flag(const struct args *a, const char *name);
int args_times(const struct args *a, const char *name);
const char *args_string(const struct args *a, const char *name);
long args_long(const struct args *a, const char *name, long fallback);
double args_double(const struct args *a, const char *name, double fallback);
char **args_list(const struct args *a, const char *name, size_t *n);

/* Whether the option named (--name or -l, "=value" ignored) by text takes a
 * value, in any of the tables: for finding a subcommand word. */
bool args_takes_value(const struct arg_option *const *tables, const char *text);

/* One line per option of table: "  --limit N, -n N   help". */
void args_print_options(FILE *out, const struct arg_option *table);

#endif
