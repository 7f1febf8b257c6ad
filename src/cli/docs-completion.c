/* The bash and zsh completions, written from the command and option
 * tables (main.c's global options and commands, each command's options and
 * subcommands, the first word of each usage line), and `qdeck _complete`,
 * which the completions call for names known only at run time: the
 * contexts of the config and the themes on the search path. Queue
 * addresses come from `qdeck status --json` under a 2 s timeout, so a
 * broker that does not answer quickly costs a Tab nothing but the wait. */
#include "cli/docs.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "ui/theme.h"

/* Options that say which brokers to ask: passed on to the helper calls. */
static const char *const connection_options[] = {"config", "context", "amqp", "mgmt", "redis"};

static bool takes_value(const struct arg_option *o)
{
    return o->kind != ARG_FLAG && o->kind != ARG_COUNT;
}

static bool is_connection_option(const char *name)
{
    for (size_t i = 0; i < sizeof connection_options / sizeof connection_options[0]; i++)
        if (strcmp(name, connection_options[i]) == 0)
            return true;
    return false;
}

void docs_first_word(const struct command *c, const char *prefix, char *words, size_t len)
{
    const char *text = c->subs || !c->synopsis || !prefix ? c->usage : c->synopsis;
    words[0] = '\0';
    if (c->subs) {
        size_t used = 0;
        for (const struct command *s = c->subs; s->name && used < len; s++)
            used += (size_t)snprintf(words + used, len - used, "%s%s", used ? " " : "", s->name);
        return;
    }
    if (!text)
        return;
    size_t line = strcspn(text, "\n");
    char *copy = xstrndup(text, line), *save = NULL;
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (strcmp(w, "usage:") == 0 || strcmp(w, "qdeck") == 0 || strcmp(w, c->name) == 0 ||
            (prefix && strcmp(w, prefix) == 0))
            continue;
        if (w[0] != '-' && w[0] != '[' && w[0] != '(') {
            snprintf(words, len, "%s", w);
            for (char *p = words; *p; p++)
                if (*p == '|')
                    *p = ' ';
        }
        break;
    }
    free(copy);
}

/* ---- bash ---- */

/* The names (--name and -l) of the options in table that pass test, space
 * separated, into out. */
static void option_names(FILE *out, const struct arg_option *table, bool (*test)(const struct arg_option *),
                         const char *sep, bool *first)
{
    for (const struct arg_option *o = table; o && o->name; o++) {
        if (test && !test(o))
            continue;
        fprintf(out, "%s--%s", *first ? "" : sep, o->name);
        *first = false;
        if (o->letter)
            fprintf(out, "%s-%c", sep, o->letter);
    }
}

static bool value_file(const struct arg_option *o) { return takes_value(o) && o->value && !strcmp(o->value, "FILE"); }
static bool value_dir(const struct arg_option *o) { return takes_value(o) && o->value && !strcmp(o->value, "DIR"); }
static bool value_queue(const struct arg_option *o) { return takes_value(o) && o->value && !strcmp(o->value, "QUEUE"); }
static bool value_other(const struct arg_option *o)
{
    return takes_value(o) && !value_file(o) && !value_dir(o) && !value_queue(o) && strcmp(o->name, "theme") != 0 &&
           strcmp(o->name, "context") != 0;
}
static bool value_any(const struct arg_option *o) { return takes_value(o) && !is_connection_option(o->name); }

/* Adds each option of table passing test to the pattern "|a|b|" in seen,
 * once. */
static void add_names(char *seen, size_t len, const struct arg_option *table, bool (*test)(const struct arg_option *))
{
    for (const struct arg_option *o = table; o && o->name; o++) {
        if (!test(o))
            continue;
        char name[80], letter[8] = "";
        snprintf(name, sizeof name, "--%s|", o->name);
        if (o->letter)
            snprintf(letter, sizeof letter, "-%c|", o->letter);
        char key[84];
        snprintf(key, sizeof key, "|%s", name);
        if (strstr(seen, key))
            continue;
        size_t used = strlen(seen);
        snprintf(seen + used, len - used, "%s%s", name, letter);
    }
}

/* A case pattern "--a|--b|-c" of every option in every table passing test
 * (each once); false when none. */
static bool bash_pattern(FILE *out, const struct cli_tables *t, bool (*test)(const struct arg_option *))
{
    char seen[4096] = "|";
    add_names(seen, sizeof seen, t->globals, test);
    for (size_t i = 0; i < t->ncommands; i++) {
        add_names(seen, sizeof seen, t->commands[i].options, test);
        for (const struct command *s = t->commands[i].subs; s && s->name; s++)
            add_names(seen, sizeof seen, s->options, test);
    }
    size_t len = strlen(seen);
    if (len < 2)
        return false;
    fprintf(out, "%.*s", (int)(len - 2), seen + 1);
    return true;
}

static bool any_option(const struct arg_option *table, bool (*test)(const struct arg_option *))
{
    for (const struct arg_option *o = table; o && o->name; o++)
        if (test(o))
            return true;
    return false;
}

/* "        --a|--b) action ;;" when any option passes test. */
static void bash_value_case(FILE *out, const struct cli_tables *t, bool (*test)(const struct arg_option *),
                            const char *action)
{
    bool any = any_option(t->globals, test);
    for (size_t i = 0; i < t->ncommands && !any; i++) {
        any = any_option(t->commands[i].options, test);
        for (const struct command *s = t->commands[i].subs; s && s->name && !any; s++)
            any = any_option(s->options, test);
    }
    if (!any)
        return;
    fputs("        ", out);
    bash_pattern(out, t, test);
    fprintf(out, ") %s ;;\n", action);
}

static void bash_words_for(FILE *out, const char *want)
{
    if (!strcmp(want, "QUEUE"))
        fputs("QUEUE", out);
    else if (!strcmp(want, "FILE"))
        fputs("FILE", out);
    else if (want[0] >= 'a' && want[0] <= 'z')
        fprintf(out, "'%s'", want);
}

/* The script's start: the queue helper, then the loop over the words
 * before the cursor finding the command, the subcommand, how many words
 * follow it, and the broker options to pass on. */
static void bash_word_loop(FILE *out, const struct cli_tables *t)
{
    fputs("# bash completion for qdeck. Generated by `qdeck _doc bash` from qdeck's option and command\n"
          "# tables; edit those, not this. Contexts and themes come from `qdeck _complete`, queue\n"
          "# addresses from `qdeck status --json` when a broker answers within 2 s.\n\n"
          "_qdeck_queues() {\n"
          "    timeout 2 \"$@\" status --json 2>/dev/null |\n"
          "        sed -n 's/^[[:space:]]*\"queue\":[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p'\n"
          "}\n\n"
          "_qdeck() {\n"
          "    local cur prev words cword\n"
          "    if declare -F _get_comp_words_by_ref >/dev/null; then\n"
          "        _get_comp_words_by_ref -n : cur prev words cword\n"
          "    else\n"
          "        words=(\"${COMP_WORDS[@]}\"); cword=$COMP_CWORD\n"
          "        cur=${words[cword]}; prev=${words[cword-1]}\n"
          "    fi\n"
          "    local -a qdeck=(\"${words[0]}\")\n"
          "    local cmd= sub= w want= i npos=0\n"
          "    for ((i = 1; i < cword; i++)); do\n"
          "        w=${words[i]}\n"
          "        case $w in\n"
          "            ",
          out);
    bool first = true;
    for (const struct arg_option *o = t->globals; o->name; o++)
        if (is_connection_option(o->name) && takes_value(o)) {
            fprintf(out, "%s--%s", first ? "" : "|", o->name);
            first = false;
        }
    fputs(") ((i + 1 < cword)) && qdeck+=(\"$w\" \"${words[i+1]}\"); ((i++)) ;;\n            ", out);
    bash_pattern(out, t, value_any);
    fputs(") ((i++)) ;;\n"
          "            -*) ;;\n"
          "            *) if [[ -z $cmd ]]; then cmd=$w; else [[ $npos == 0 ]] && sub=$w; ((npos++)); fi ;;\n"
          "        esac\n"
          "    done\n",
          out);
}

/* Completing an option's value: themes, contexts, else by the option's
 * value name (FILE, DIR, QUEUE). */
static void bash_values(FILE *out, const struct cli_tables *t)
{
    fputs("    COMPREPLY=()\n"
          "    case $prev in\n"
          "        --theme) COMPREPLY=($(compgen -W \"$(\"${qdeck[0]}\" _complete themes 2>/dev/null)\" -- \"$cur\")); return ;;\n"
          "        --context) COMPREPLY=($(compgen -W \"$(\"${qdeck[@]}\" _complete contexts 2>/dev/null)\" -- \"$cur\")); return ;;\n",
          out);
    bash_value_case(out, t, value_file, "COMPREPLY=($(compgen -f -- \"$cur\")); return");
    bash_value_case(out, t, value_dir, "COMPREPLY=($(compgen -d -- \"$cur\")); return");
    bash_value_case(out, t, value_queue, "want=QUEUE");
    bash_value_case(out, t, value_other, "return");
}

/* Completing a flag: the global ones, the command's, the subcommand's. */
static void bash_flags(FILE *out, const struct cli_tables *t)
{
    bool first;
    fputs("    esac\n"
          "    if [[ -z $want && $cur == -* ]]; then\n"
          "        local opts='--help ",
          out);
    first = true;
    option_names(out, t->globals, NULL, " ", &first);
    fputs("'\n        case $cmd in\n", out);
    for (size_t i = 0; i < t->ncommands; i++) {
        const struct command *c = &t->commands[i];
        if (c->hidden)
            continue;
        fprintf(out, "            %s) opts+=' ", c->name);
        first = true;
        option_names(out, c->options, NULL, " ", &first);
        fputs("'", out);
        if (c->subs) {
            fputs("\n                case $sub in\n", out);
            for (const struct command *s = c->subs; s->name; s++) {
                fprintf(out, "                    %s) opts+=' ", s->name);
                first = true;
                option_names(out, s->options, NULL, " ", &first);
                fputs("' ;;\n", out);
            }
            fputs("                esac", out);
        }
        fputs(" ;;\n", out);
    }
    fputs("        esac\n"
          "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
          "        return\n"
          "    fi\n"
          "    if [[ -z $want && -z $cmd ]]; then\n"
          "        COMPREPLY=($(compgen -W '",
          out);
}

/* Completing the command, then the first word after a command or a
 * subcommand, from the usage lines. */
static void bash_words(FILE *out, const struct cli_tables *t)
{
    bool first = true;
    for (size_t i = 0; i < t->ncommands; i++)
        if (!t->commands[i].hidden) {
            fprintf(out, "%s%s", first ? "" : " ", t->commands[i].name);
            first = false;
        }
    fputs("' -- \"$cur\"))\n        return\n    fi\n"
          "    [[ -n $want ]] || case $cmd in\n",
          out);
    for (size_t i = 0; i < t->ncommands; i++) {
        const struct command *c = &t->commands[i];
        char words[512];
        docs_first_word(c, NULL, words, sizeof words);
        if (c->hidden || !words[0])
            continue;
        fprintf(out, "        %s)\n            if [[ $npos == 0 ]]; then want=", c->name);
        bash_words_for(out, words);
        fputs("\n", out);
        if (c->subs) {
            fputs("            elif [[ $npos == 1 ]]; then\n                case $sub in\n", out);
            for (const struct command *s = c->subs; s->name; s++) {
                docs_first_word(s, c->name, words, sizeof words);
                if (!words[0])
                    continue;
                fprintf(out, "                    %s) want=", s->name);
                bash_words_for(out, words);
                fputs(" ;;\n", out);
            }
            fputs("                esac\n", out);
        }
        fputs("            fi ;;\n", out);
    }
}

int docs_bash(FILE *out, const struct cli_tables *t)
{
    bash_word_loop(out, t);
    bash_values(out, t);
    bash_flags(out, t);
    bash_words(out, t);
    fputs("    esac\n"
          "    case $want in\n"
          "        QUEUE)\n"
          "            COMPREPLY=($(compgen -W \"$(_qdeck_queues \"${qdeck[@]}\")\" -- \"$cur\"))\n"
          "            if declare -F __ltrim_colon_completions >/dev/null; then __ltrim_colon_completions \"$cur\"; fi ;;\n"
          "        FILE) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
          "        [a-z]*) COMPREPLY=($(compgen -W \"$want\" -- \"$cur\")) ;;\n"
          "    esac\n"
          "}\n"
          "complete -F _qdeck qdeck\n",
          out);
    return ferror(out) ? -1 : 0;
}

/* ---- zsh ---- */

/* text inside a single-quoted zsh word and an _arguments [description]. */
static void zsh_text(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", out);
        else if (*p == '[' || *p == ']' || *p == ':' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else
            fputc(*p, out);
    }
}

static const char *zsh_action(const struct arg_option *o)
{
    if (!strcmp(o->name, "theme"))
        return "_qdeck_themes";
    if (!strcmp(o->name, "context"))
        return "_qdeck_contexts";
    if (value_file(o))
        return "_files";
    if (value_dir(o))
        return "_files -/";
    if (value_queue(o))
        return "_qdeck_queues";
    return " ";
}

/* One _arguments spec per name of each option, on lines of an array. */
static void zsh_specs(FILE *out, const struct arg_option *table)
{
    for (const struct arg_option *o = table; o && o->name; o++) {
        bool repeat = o->kind == ARG_LIST || o->kind == ARG_WORDS || o->kind == ARG_COUNT;
        for (int form = 0; form < (o->letter ? 2 : 1); form++) {
            fputs("        '", out);
            if (repeat)
                fputc('*', out);
            if (form)
                fprintf(out, "-%c[", o->letter);
            else
                fprintf(out, "--%s[", o->name);
            zsh_text(out, o->help);
            fputc(']', out);
            if (takes_value(o)) {
                fputc(':', out);
                zsh_text(out, o->value ? o->value : "value");
                fprintf(out, ":%s", zsh_action(o));
            }
            fputs("'\n", out);
        }
    }
}

/* The spec of the positional word at position pos from the usage's first word. */
static void zsh_positional(FILE *out, int pos, const char *words)
{
    if (!words[0])
        return;
    if (!strcmp(words, "QUEUE"))
        fprintf(out, " '%d:queue:_qdeck_queues'", pos);
    else if (!strcmp(words, "FILE"))
        fprintf(out, " '%d:file:_files'", pos);
    else if (words[0] >= 'a' && words[0] <= 'z')
        fprintf(out, " '%d:subcommand:(%s)'", pos, words);
}

/* The script's start: the functions that ask qdeck for contexts, themes
 * and queue addresses, with the broker options of the whole line. */
static void zsh_helpers(FILE *out)
{
    fputs("#compdef qdeck\n"
          "# zsh completion for qdeck. Generated by `qdeck _doc zsh` from qdeck's option and command\n"
          "# tables; edit those, not this. Contexts and themes come from `qdeck _complete`, queue\n"
          "# addresses from `qdeck status --json` when a broker answers within 2 s.\n\n"
          "# reply: qdeck with the line's broker options (not the word being completed);\n"
          "# _qdeck_line and _qdeck_cur are the whole line, before _arguments shifts it\n"
          "_qdeck_command() {\n"
          "    local i\n"
          "    reply=(\"${_qdeck_line[1]}\")\n"
          "    for ((i = 2; i + 1 < _qdeck_cur; i++)); do\n"
          "        case $_qdeck_line[i] in\n"
          "            --config|--context|--amqp|--mgmt|--redis) reply+=($_qdeck_line[i] ${(Q)_qdeck_line[i+1]}) ;;\n"
          "        esac\n"
          "    done\n"
          "}\n"
          "_qdeck_themes() { compadd -- ${(f)\"$(\"${_qdeck_line[1]}\" _complete themes 2>/dev/null)\"} }\n"
          "_qdeck_contexts() { local -a reply; _qdeck_command; compadd -- ${(f)\"$($reply _complete contexts 2>/dev/null)\"} }\n"
          "_qdeck_queues() {\n"
          "    local -a reply; _qdeck_command\n"
          "    compadd -- ${(f)\"$(timeout 2 $reply status --json 2>/dev/null |\n"
          "        sed -n 's/^[[:space:]]*\"queue\":[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p')\"}\n"
          "}\n\n",
          out);
}

/* The case of one command after the command word: its options, the
 * global ones, and its first word (a subcommand's, for dlq). */
static void zsh_command_args(FILE *out, const struct command *c)
{
    char words[512];
    docs_first_word(c, NULL, words, sizeof words);
    fprintf(out, "        %s)\n", c->name);
    if (c->subs) {
        fputs("            case $words[2] in\n", out);
        for (const struct command *s = c->subs; s->name; s++) {
            char sw[512];
            docs_first_word(s, c->name, sw, sizeof sw);
            fprintf(out, "            %s)\n                local -a specs=(\n", s->name);
            zsh_specs(out, c->options);
            zsh_specs(out, s->options);
            fputs("                )\n                _arguments -s $globals $specs", out);
            zsh_positional(out, 2, sw);
            fputs(" '*: :_default' && ret=0 ;;\n", out);
        }
        fputs("            *) _arguments -s $globals", out);
        zsh_positional(out, 1, words);
        fputs(" && ret=0 ;;\n            esac ;;\n", out);
        return;
    }
    fputs("            local -a specs=(\n", out);
    zsh_specs(out, c->options);
    fputs("            )\n            _arguments -s $globals $specs", out);
    zsh_positional(out, 1, words);
    fputs(" '*: :_default' && ret=0 ;;\n", out);
}

int docs_zsh(FILE *out, const struct cli_tables *t)
{
    zsh_helpers(out);
    fputs("_qdeck() {\n"
          "    local curcontext=$curcontext state line ret=1\n"
          "    local -a _qdeck_line=(\"${words[@]}\")\n"
          "    local -i _qdeck_cur=$CURRENT\n"
          "    typeset -A opt_args\n"
          "    local -a globals=(\n",
          out);
    zsh_specs(out, t->globals);
    fputs("    )\n"
          "    _arguments -C -s $globals '1: :->command' '*:: :->args' && return 0\n"
          "    case $state in\n"
          "    command)\n"
          "        local -a commands=(\n",
          out);
    for (size_t i = 0; i < t->ncommands; i++) {
        const struct command *c = &t->commands[i];
        if (c->hidden)
            continue;
        fprintf(out, "            '%s:", c->name);
        zsh_text(out, c->help ? c->help : "");
        fputs("'\n", out);
    }
    fputs("        )\n"
          "        _describe -t commands 'qdeck command' commands && ret=0 ;;\n"
          "    args)\n"
          "        case $words[1] in\n",
          out);
    for (size_t i = 0; i < t->ncommands; i++)
        if (!t->commands[i].hidden)
            zsh_command_args(out, &t->commands[i]);
    fputs("        esac ;;\n"
          "    esac\n"
          "    return ret\n"
          "}\n\n"
          "_qdeck \"$@\"\n",
          out);
    return ferror(out) ? -1 : 0;
}

/* ---- the hidden commands ---- */

int docs_run(const struct cli_tables *t, const struct args *a)
{
    const char *what = a->nwords > 1 ? a->words[1] : "";
    int rc;
    if (!strcmp(what, "man1"))
        rc = docs_man1(stdout, t);
    else if (!strcmp(what, "man5"))
        rc = docs_man5(stdout);
    else if (!strcmp(what, "bash"))
        rc = docs_bash(stdout, t);
    else if (!strcmp(what, "zsh"))
        rc = docs_zsh(stdout, t);
    else
        return fail(EXIT_USAGE, "_doc: want man1, man5, bash or zsh, got '%s'", what);
    if (fflush(stdout) != 0 || rc < 0)
        return fail(EXIT_FAILED, "_doc %s: cannot write the output", what);
    return EXIT_OK;
}

/* Prints each theme name once. */
static void print_theme(const char *name, void *arg)
{
    char **seen = arg;
    size_t len = strlen(*seen);
    char key[260];
    snprintf(key, sizeof key, "\n%s\n", name);
    if (strstr(*seen, key))
        return;
    *seen = xrealloc(*seen, len + strlen(name) + 3);
    snprintf(*seen + len, strlen(name) + 3, "\n%s\n", name);
    puts(name);
}

int docs_complete(struct app *app, const struct args *a)
{
    const char *what = a->nwords > 1 ? a->words[1] : "";
    if (!strcmp(what, "contexts")) {
        for (size_t i = 0; i < app->cfg.ncontexts; i++)
            puts(app->cfg.contexts[i].name);
    } else if (!strcmp(what, "themes")) {
        char *seen = xstrdup("");
        theme_each_name(print_theme, &seen);
        free(seen);
    } else {
        return fail(EXIT_USAGE, "_complete: want contexts or themes, got '%s'", what);
    }
    return EXIT_OK;
}
