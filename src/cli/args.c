/* The argument parser of every qdeck command (see args.h). Options are
 * looked up by name in the tables the caller gives, in order, so a global
 * option and a command's own are parsed in one pass and may be mixed with
 * the command's words anywhere on the line. */
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/number.h"
#include "core/xalloc.h"

static bool takes_value(const struct arg_option *o)
{
    return o->kind != ARG_FLAG && o->kind != ARG_COUNT;
}

/* An option by long name (len bytes of name) or by letter (name NULL). */
static long find(const struct args *a, const char *name, size_t len, char letter)
{
    for (size_t i = 0; i < a->nopts; i++) {
        const struct arg_option *o = a->opts[i];
        if (name ? strlen(o->name) == len && strncmp(o->name, name, len) == 0 : o->letter && o->letter == letter)
            return (long)i;
    }
    return -1;
}

static void add_to_list(struct arg_value *v, char *text)
{
    v->list = xrealloc(v->list, (v->n + 1) * sizeof *v->list);
    v->list[v->n++] = text;
}

/* Takes text as the value of option o: checks numbers. */
static int take_value(const struct arg_option *o, struct arg_value *v, char *text, char *err, size_t errlen)
{
    v->text = text;
    if (o->kind == ARG_LIST || o->kind == ARG_WORDS) {
        add_to_list(v, text);
    } else if (o->kind == ARG_LONG) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", o->name);
        if (number_parse_flag(flag, text, (long)o->min, (long)o->max, &v->whole, err, errlen) < 0)
            return -1;
    } else if (o->kind == ARG_DOUBLE) {
        char *end;
        errno = 0;
        double d = strtod(text, &end);
        if (errno || end == text || *end || !(d >= o->min && d <= o->max)) {
            snprintf(err, errlen, "--%s wants a number%s%s from %g to %g, got '%s'", o->name, o->unit ? " of " : "",
                     o->unit ? o->unit : "", o->min, o->max, text);
            return -1;
        }
        v->number = d;
    }
    return 0;
}

static void add_word(struct args *a, char *word)
{
    a->words = xrealloc(a->words, (a->nwords + 1) * sizeof *a->words);
    a->words[a->nwords++] = word;
}

/* One option at argv[*i] (o found): its value from inline (after '=' or
 * the rest of a short group) or the next word. */
static int take_option(struct args *a, long k, char *inline_value, int argc, char **argv, int *i, char *err,
                       size_t errlen)
{
    const struct arg_option *o = a->opts[k];
    struct arg_value *v = &a->values[k];
    v->given++;
    if (!takes_value(o)) {
        if (inline_value) {
            snprintf(err, errlen, "--%s takes no value, got '%s'", o->name, inline_value);
            return -1;
        }
        return 0;
    }
    char *text = inline_value;
    if (!text) {
        if (*i + 1 >= argc) {
            snprintf(err, errlen, "--%s needs a value (%s)", o->name, o->value ? o->value : "a value");
            return -1;
        }
        text = argv[++*i];
    }
    if (take_value(o, v, text, err, errlen) < 0)
        return -1;
    /* --id A B C: every following word up to the next option */
    while (o->kind == ARG_WORDS && !inline_value && *i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0)
        add_to_list(v, argv[++*i]);
    return 0;
}

static bool is_number(const char *s)
{
    char *end;
    strtod(s, &end);
    return end != s && !*end;
}

/* -vv, -n5, -n 5 */
static int take_short(struct args *a, int argc, char **argv, int *i, char *err, size_t errlen)
{
    char *s = argv[*i] + 1;
    for (; *s; s++) {
        long k = find(a, NULL, 0, *s);
        if (k < 0) {
            snprintf(err, errlen, "unknown option '-%c'", *s);
            return -1;
        }
        if (takes_value(a->opts[k]))
            return take_option(a, k, s[1] ? s + 1 : NULL, argc, argv, i, err, errlen);
        if (take_option(a, k, NULL, argc, argv, i, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int args_parse(const struct arg_option *const *tables, int argc, char **argv, struct args *out, char *err,
               size_t errlen)
{
    memset(out, 0, sizeof *out);
    for (size_t t = 0; tables[t]; t++)
        for (const struct arg_option *o = tables[t]; o->name; o++) {
            out->opts = xrealloc(out->opts, (out->nopts + 1) * sizeof *out->opts);
            out->opts[out->nopts++] = o;
        }
    out->values = xcalloc(out->nopts ? out->nopts : 1, sizeof *out->values);
    bool options = true;
    for (int i = 0; i < argc; i++) {
        char *s = argv[i];
        if (!options || s[0] != '-' || !s[1] || (s[1] != '-' && is_number(s))) {
            add_word(out, s);       /* "-" is a word (stdin), so is "-1" */
            continue;
        }
        if (strcmp(s, "--") == 0) {
            options = false;
            continue;
        }
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            out->help = true;
            continue;
        }
        if (s[1] != '-') {
            if (take_short(out, argc, argv, &i, err, errlen) < 0)
                return -1;
            continue;
        }
        char *name = s + 2, *eq = strchr(name, '=');
        long k = find(out, name, eq ? (size_t)(eq - name) : strlen(name), 0);
        if (k < 0) {
            snprintf(err, errlen, "unknown option '%s'", s);
            return -1;
        }
        if (take_option(out, k, eq ? eq + 1 : NULL, argc, argv, &i, err, errlen) < 0)
            return -1;
    }
    return 0;
}

void args_free(struct args *a)
{
    for (size_t i = 0; i < a->nopts; i++)
        free(a->values[i].list);
    free(a->values);
    free(a->opts);
    free(a->words);
    memset(a, 0, sizeof *a);
}

const struct arg_value *args_value(const struct args *a, const char *name)
{
    long k = find(a, name, strlen(name), 0);
    return k < 0 ? NULL : &a->values[k];
}

static const struct arg_value *value_of(const struct args *a, const char *name)
{
    long k = find(a, name, strlen(name), 0);
    if (k < 0) {
        fprintf(stderr, "qdeck: bug: no option --%s in this command's table\n", name);
        abort();
    }
    return &a->values[k];
}

bool args_flag(const struct args *a, const char *name)
{
    return value_of(a, name)->given > 0;
}

int args_times(const struct args *a, const char *name)
{
    return value_of(a, name)->given;
}

const char *args_string(const struct args *a, const char *name)
{
    return value_of(a, name)->text;
}

long args_long(const struct args *a, const char *name, long fallback)
{
    const struct arg_value *v = value_of(a, name);
    return v->given ? v->whole : fallback;
}

double args_double(const struct args *a, const char *name, double fallback)
{
    const struct arg_value *v = value_of(a, name);
    return v->given ? v->number : fallback;
}

char **args_list(const struct args *a, const char *name, size_t *n)
{
    const struct arg_value *v = value_of(a, name);
    *n = v->n;
    return v->list;
}

bool args_takes_value(const struct arg_option *const *tables, const char *text)
{
    if (text[0] != '-' || !text[1] || strcmp(text, "--") == 0)
        return false;
    const char *name = text[1] == '-' ? text + 2 : NULL;
    size_t len = name ? strcspn(name, "=") : 0;
    if (name && name[len] == '=')
        return false;
    for (size_t t = 0; tables[t]; t++)
        for (const struct arg_option *o = tables[t]; o->name; o++)
            if (name ? strlen(o->name) == len && strncmp(o->name, name, len) == 0
                     : o->letter && o->letter == text[strlen(text) - 1] && strlen(text) == 2)
                return takes_value(o);
    return false;
}

void args_print_options(FILE *out, const struct arg_option *table)
{
    for (const struct arg_option *o = table; o->name; o++) {
        char left[64];
        const char *v = takes_value(o) ? (o->value ? o->value : "VALUE") : NULL;
        if (o->letter)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->letter, o->name, v ? " " : "", v ? v : "");
        else
            snprintf(left, sizeof left, "--%s%s%s", o->name, v ? " " : "", v ? v : "");
        fprintf(out, "  %-22s %s\n", left, o->help);
    }
}
