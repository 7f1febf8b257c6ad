/* Configuration: an INI file read with inih, then QDECK_* environment
 * variables, then command-line flags, each overriding the one before.
 *
 * Every key is defined once, in the option table in config.c, with its type,
 * default and help; the parser, `qdeck --help-config` and the README all come
 * from that table. An unknown section or key is an error naming the file, the
 * line and the key. */
#ifndef QDECK_CONFIG_H
#define QDECK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct context_config {
    char *name;
    char *amqp;            /* raw URLs: may hold passwords, never print them */
    char *mgmt;
    char *redis;
    bool read_only;
    char *redis_keys;      /* comma-separated SCAN MATCH patterns */
    char *redis_exclude;   /* comma-separated glob patterns to leave out */
    int redis_scan_cap;    /* keys discovery stops at */
    double timeout;        /* seconds a broker may take to answer */
};

struct config {
    char *path;            /* file read, or NULL when none was found */
    char *context;         /* [qdeck] context = NAME: the default context */
    char *theme;
    double refresh;        /* seconds between collector refreshes */
    int history;           /* samples kept for sparklines */
    struct context_config *contexts;
    size_t ncontexts;
};

/* What the command line and environment add on top of the file. */
struct config_overrides {
    const char *config_path;   /* --config */
    const char *context;       /* --context */
    const char *amqp, *mgmt, *redis;
    const char *theme;
    double refresh;            /* 0: not given */
    bool read_only;
};

/* Finds the file (--config, ./qdeck.conf, $XDG_CONFIG_HOME/qdeck/qdeck.conf),
 * parses it, applies environment and overrides. 0, or -1 with a message. */
int config_load(const struct config_overrides *ov, struct config *cfg, char *err, size_t errlen);
/* Parses one file into cfg (defaults already applied by config_defaults). */
int config_parse_file(const char *path, struct config *cfg, char *err, size_t errlen);
void config_defaults(struct config *cfg);
void config_free(struct config *cfg);
/* A context with every key at its default, and its release. */
void config_context_init(struct context_config *ctx, const char *name);
void config_context_free(struct context_config *ctx);

/* The context to use: the named one, the [qdeck] default, the only one, or
 * an implicit one built from flags/environment. NULL when none applies. */
const struct context_config *config_active_context(const struct config *cfg);

/* Checks a file's permissions: a warning string (caller frees) when a
 * config that holds secrets is readable by others, else NULL. */
char *config_permission_warning(const char *path, const struct config *cfg);

/* Writes the option table as help text. */
void config_print_help(void);

/* Splits "a,b , c" into trimmed non-empty items; returns count. */
size_t split_list(const char *text, char ***out);
void free_list(char **items, size_t n);

#endif
