/* Configuration from an INI file (inih), the environment and flags.
 *
 * The option table below is the only place a key is defined. Sections:
 *   [qdeck]          global settings
 *   [context NAME]   one broker set: amqp, mgmt, redis URLs and options
 * A file that names a key or section the table does not know is refused
 * with file:line: the key, so a typo never silently means "default". */
#include "core/config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xalloc.h"

enum option_type { OPT_STRING, OPT_BOOL, OPT_INT, OPT_DOUBLE };
enum option_scope { SCOPE_GLOBAL, SCOPE_CONTEXT };

struct option_def {
    enum option_scope scope;
    const char *key;
    enum option_type type;
    size_t offset;
    const char *fallback;
    double min, max;          /* for numbers */
    const char *help;
};

static const struct option_def options[] = {
    {SCOPE_GLOBAL, "context", OPT_STRING, offsetof(struct config, context), NULL, 0, 0,
     "context used when --context is not given"},
    {SCOPE_GLOBAL, "theme", OPT_STRING, offsetof(struct config, theme), "dark", 0, 0,
     "colour theme: a file themes/NAME.theme"},
    {SCOPE_GLOBAL, "refresh", OPT_DOUBLE, offsetof(struct config, refresh), "1", 0.1, 3600,
     "seconds between refreshes of every source"},
    {SCOPE_GLOBAL, "history", OPT_INT, offsetof(struct config, history), "60", 2, 3600,
     "samples kept per queue for sparklines"},
    {SCOPE_CONTEXT, "amqp", OPT_STRING, offsetof(struct context_config, amqp), NULL, 0, 0,
     "RabbitMQ AMQP URL, amqp[s]://user:pass@host:port/vhost"},
    {SCOPE_CONTEXT, "mgmt", OPT_STRING, offsetof(struct context_config, mgmt), NULL, 0, 0,
     "RabbitMQ management API URL (default: the amqp host, port 15672, same user)"},
    {SCOPE_CONTEXT, "redis", OPT_STRING, offsetof(struct context_config, redis), NULL, 0, 0,
     "Redis URL, redis://[:pass@]host:port/db or unix:///path/redis.sock?db=N"},
    {SCOPE_CONTEXT, "read_only", OPT_BOOL, offsetof(struct context_config, read_only), "false", 0, 0,
     "refuse every mutating action in this context"},
    {SCOPE_CONTEXT, "redis_keys", OPT_STRING, offsetof(struct context_config, redis_keys), "*", 0, 0,
     "comma-separated SCAN patterns for Redis lists and streams to watch"},
    {SCOPE_CONTEXT, "redis_exclude", OPT_STRING, offsetof(struct context_config, redis_exclude),
     "qdeck:*,_kombu.*,unacked*", 0, 0, "comma-separated patterns of Redis keys never shown"},
    {SCOPE_CONTEXT, "redis_scan_cap", OPT_INT, offsetof(struct context_config, redis_scan_cap),
     "10000", 1, 1000000, "most Redis keys discovered per source"},
    {SCOPE_CONTEXT, "timeout", OPT_DOUBLE, offsetof(struct context_config, timeout), "5", 0.1, 300,
     "seconds a broker may take to answer before it counts as hung"},
};

static const size_t noptions = sizeof options / sizeof options[0];

static void *option_field(const struct option_def *o, struct config *cfg, struct context_config *ctx)
{
    char *base = o->scope == SCOPE_GLOBAL ? (char *)cfg : (char *)ctx;
    return base + o->offset;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) { *out = true; return 0; }
        if (strcasecmp(v, no[i]) == 0) { *out = false; return 0; }
    }
    return -1;
}

/* Stores value into the option's field; -1 with a reason when it does not fit. */
static int option_set(const struct option_def *o, void *field, const char *value, char *why, size_t whylen)
{
    char *end;
    switch (o->type) {
    case OPT_STRING:
        free(*(char **)field);
        *(char **)field = value ? xstrdup(value) : NULL;
        return 0;
    case OPT_BOOL:
        if (parse_bool(value, field) == 0)
            return 0;
        snprintf(why, whylen, "'%s' is not a boolean (true/false)", value);
        return -1;
    case OPT_INT: {
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < o->min || v > o->max) {
            snprintf(why, whylen, "'%s' is not a whole number from %g to %g", value, o->min, o->max);
            return -1;
        }
        *(int *)field = (int)v;
        return 0;
    }
    case OPT_DOUBLE: {
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end || !(v >= o->min && v <= o->max)) {
            snprintf(why, whylen, "'%s' is not a number from %g to %g", value, o->min, o->max);
            return -1;
        }
        *(double *)field = v;
        return 0;
    }
    }
    return -1;
}

static void apply_defaults(enum option_scope scope, struct config *cfg, struct context_config *ctx)
{
    char why[128];
    for (size_t i = 0; i < noptions; i++)
        if (options[i].scope == scope && options[i].fallback)
            option_set(&options[i], option_field(&options[i], cfg, ctx), options[i].fallback, why, sizeof why);
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    apply_defaults(SCOPE_GLOBAL, cfg, NULL);
}

void config_context_init(struct context_config *ctx, const char *name)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->name = xstrdup(name);
    apply_defaults(SCOPE_CONTEXT, NULL, ctx);
}

void config_context_free(struct context_config *ctx)
{
    for (size_t j = 0; j < noptions; j++)
        if (options[j].scope == SCOPE_CONTEXT && options[j].type == OPT_STRING)
            free(*(char **)option_field(&options[j], NULL, ctx));
    free(ctx->name);
    memset(ctx, 0, sizeof *ctx);
}

static struct context_config *context_add(struct config *cfg, const char *name)
{
    cfg->contexts = xrealloc(cfg->contexts, (cfg->ncontexts + 1) * sizeof *cfg->contexts);
    struct context_config *ctx = &cfg->contexts[cfg->ncontexts++];
    config_context_init(ctx, name);
    return ctx;
}

static struct context_config *context_find(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ncontexts; i++)
        if (strcmp(cfg->contexts[i].name, name) == 0)
            return &cfg->contexts[i];
    return NULL;
}

struct parse_state {
    struct config *cfg;
    char section[128];              /* last section seen, to spot new ones */
    struct context_config *ctx;     /* current [context NAME], if any */
    char error[256];                /* first error, without file:line */
};

static bool section_is_context(const char *section, const char **name)
{
    if (strncmp(section, "context ", 8) != 0)
        return false;
    *name = section + 8;
    while (**name == ' ')
        (*name)++;
    return **name != '\0';
}

static int on_ini_entry(void *user, const char *section, const char *key, const char *value)
{
    struct parse_state *st = user;
    const char *ctx_name = NULL;
    enum option_scope scope;

    if (strcmp(section, "qdeck") == 0 || section[0] == '\0') {
        scope = SCOPE_GLOBAL;
    } else if (section_is_context(section, &ctx_name)) {
        scope = SCOPE_CONTEXT;
        if (strcmp(st->section, section) != 0) {
            if (context_find(st->cfg, ctx_name)) {
                if (!st->error[0])
                    snprintf(st->error, sizeof st->error, "context '%s' is defined twice", ctx_name);
                return 0;
            }
            st->ctx = context_add(st->cfg, ctx_name);
        }
    } else {
        if (!st->error[0])
            snprintf(st->error, sizeof st->error, "unknown section [%s]", section);
        return 0;
    }
    snprintf(st->section, sizeof st->section, "%s", section);

    for (size_t i = 0; i < noptions; i++) {
        if (options[i].scope != scope || strcmp(options[i].key, key) != 0)
            continue;
        char why[200];
        if (option_set(&options[i], option_field(&options[i], st->cfg, st->ctx), value, why, sizeof why) == 0)
            return 1;
        if (!st->error[0])
            snprintf(st->error, sizeof st->error, "%s: %s", key, why);
        return 0;
    }
    if (!st->error[0])
        snprintf(st->error, sizeof st->error, "unknown key '%s' in [%s]", key,
                 section[0] ? section : "qdeck");
    return 0;
}

int config_parse_file(const char *path, struct config *cfg, char *err, size_t errlen)
{
    struct parse_state st = {.cfg = cfg};
    int rc = ini_parse(path, on_ini_entry, &st);
    if (rc == -1) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (rc == -2) {
        snprintf(err, errlen, "%s: out of memory while parsing", path);
        return -1;
    }
    if (rc > 0) {
        if (st.error[0])
            snprintf(err, errlen, "%s:%d: %s", path, rc, st.error);
        else
            snprintf(err, errlen, "%s:%d: not an INI line (key = value or [section])", path, rc);
        return -1;
    }
    free(cfg->path);
    cfg->path = xstrdup(path);
    return 0;
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static char *find_config_file(const char *explicit_path)
{
    if (explicit_path)
        return xstrdup(explicit_path);
    if (file_exists("qdeck.conf"))
        return xstrdup("qdeck.conf");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char *p = xdg && *xdg ? xasprintf("%s/qdeck/qdeck.conf", xdg)
                          : home ? xasprintf("%s/.config/qdeck/qdeck.conf", home) : NULL;
    if (p && file_exists(p))
        return p;
    free(p);
    return NULL;
}

static const char *first_set(const char *a, const char *b)
{
    return a && *a ? a : (b && *b ? b : NULL);
}

int config_load(const struct config_overrides *ov, struct config *cfg, char *err, size_t errlen)
{
    config_defaults(cfg);
    char *path = find_config_file(ov->config_path);
    if (path) {
        int rc = config_parse_file(path, cfg, err, errlen);
        free(path);
        if (rc < 0)
            return -1;
    }

    const char *amqp = first_set(ov->amqp, getenv("QDECK_AMQP_URL"));
    const char *mgmt = first_set(ov->mgmt, getenv("QDECK_MGMT_URL"));
    const char *redis = first_set(ov->redis, getenv("QDECK_REDIS_URL"));
    const char *want = first_set(ov->context, getenv("QDECK_CONTEXT"));

    if (want) {
        if (!context_find(cfg, want)) {
            snprintf(err, errlen, "no context '%s' in %s", want, cfg->path ? cfg->path : "(no config file)");
            return -1;
        }
        free(cfg->context);
        cfg->context = xstrdup(want);
    } else if (cfg->context && !context_find(cfg, cfg->context)) {
        snprintf(err, errlen, "%s: [qdeck] context = %s names no [context %s] section",
                 cfg->path, cfg->context, cfg->context);
        return -1;
    }

    if (amqp || mgmt || redis) {
        struct context_config *ctx = (struct context_config *)config_active_context(cfg);
        if (!ctx) {
            ctx = context_add(cfg, "default");
            free(cfg->context);
            cfg->context = xstrdup("default");
        }
        if (amqp) { free(ctx->amqp); ctx->amqp = xstrdup(amqp); }
        if (mgmt) { free(ctx->mgmt); ctx->mgmt = xstrdup(mgmt); }
        if (redis) { free(ctx->redis); ctx->redis = xstrdup(redis); }
    }
    if (ov->theme) { free(cfg->theme); cfg->theme = xstrdup(ov->theme); }
    if (ov->refresh > 0)
        cfg->refresh = ov->refresh;
    if (ov->read_only)
        for (size_t i = 0; i < cfg->ncontexts; i++)
            cfg->contexts[i].read_only = true;
    return 0;
}

const struct context_config *config_active_context(const struct config *cfg)
{
    if (cfg->context)
        return context_find(cfg, cfg->context);
    if (cfg->ncontexts == 1)
        return &cfg->contexts[0];
    return NULL;
}

static bool has_secret(const char *url)
{
    if (!url)
        return false;
    const char *at = strchr(url, '@');
    const char *scheme_end = strstr(url, "://");
    return at && scheme_end && memchr(scheme_end + 3, ':', (size_t)(at - scheme_end - 3)) != NULL;
}

char *config_permission_warning(const char *path, const struct config *cfg)
{
    struct stat st;
    if (!path || stat(path, &st) < 0 || !(st.st_mode & (S_IRGRP | S_IROTH)))
        return NULL;
    for (size_t i = 0; i < cfg->ncontexts; i++) {
        const struct context_config *c = &cfg->contexts[i];
        if (has_secret(c->amqp) || has_secret(c->mgmt) || has_secret(c->redis))
            return xasprintf("%s holds passwords and is readable by others (mode %03o); chmod 600 it",
                             path, (unsigned)(st.st_mode & 0777));
    }
    return NULL;
}

void config_print_help(void)
{
    static const char *type_names[] = {"string", "bool", "int", "number"};
    printf("[qdeck]\n");
    for (size_t i = 0; i < noptions; i++)
        if (options[i].scope == SCOPE_GLOBAL)
            printf("  %-16s %-7s default %-10s %s\n", options[i].key, type_names[options[i].type],
                   options[i].fallback ? options[i].fallback : "-", options[i].help);
    printf("[context NAME]\n");
    for (size_t i = 0; i < noptions; i++)
        if (options[i].scope == SCOPE_CONTEXT)
            printf("  %-16s %-7s default %-10s %s\n", options[i].key, type_names[options[i].type],
                   options[i].fallback ? options[i].fallback : "-", options[i].help);
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->ncontexts; i++)
        config_context_free(&cfg->contexts[i]);
    for (size_t j = 0; j < noptions; j++)
        if (options[j].scope == SCOPE_GLOBAL && options[j].type == OPT_STRING)
            free(*(char **)option_field(&options[j], cfg, NULL));
    free(cfg->contexts);
    free(cfg->path);
    memset(cfg, 0, sizeof *cfg);
}

size_t split_list(const char *text, char ***out)
{
    size_t n = 0;
    char **items = NULL;
    const char *p = text ? text : "";
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if (b > a) {
            items = xrealloc(items, (n + 1) * sizeof *items);
            items[n++] = xstrndup(a, (size_t)(b - a));
        }
        p = comma ? comma + 1 : end;
    }
    *out = items;
    return n;
}

void free_list(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}
