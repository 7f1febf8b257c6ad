/* Theme files: search path, inih parsing, tmux-style style strings.
 *
 * Search order: $QDECK_THEME_DIR, the repository's themes/ next to the
 * binary (build/qdeck -> ../themes), ./themes, $XDG_CONFIG_HOME/qdeck/themes
 * (or ~/.config/qdeck/themes), and last the directory `make install` put
 * them in (QDECK_INSTALL_THEME_DIR, compiled in from DATADIR). Slots a file leaves out keep the built-in
 * style of SLOT_DEFAULT, so a theme only says what it changes. */
#include "ui/theme.h"

#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <unistd.h>

#ifdef QDECK_INSTALL_THEME_DIR
#define INSTALLED_THEMES QDECK_INSTALL_THEME_DIR
#else
#define INSTALLED_THEMES ""
#endif

static const char *const slot_names[] = {
#define SLOT_NAME(id, name) name,
    THEME_SLOTS(SLOT_NAME)
#undef SLOT_NAME
};

const char *theme_slot_name(enum theme_slot slot)
{
    return slot < SLOT_COUNT ? slot_names[slot] : "?";
}

static int parse_colour(const char *word, short *out)
{
    static const char *const names[] = {"black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"};
    if (strcasecmp(word, "default") == 0) {
        *out = -1;
        return 0;
    }
    for (short i = 0; i < 8; i++) {
        if (strcasecmp(word, names[i]) == 0) {
            *out = i;
            return 0;
        }
        if (strncasecmp(word, "bright", 6) == 0 && strcasecmp(word + 6, names[i]) == 0) {
            *out = (short)(i + 8);
            return 0;
        }
    }
    char *end;
    long n = strtol(word, &end, 10);
    if (*word && !*end && n >= 0 && n <= 255) {
        *out = (short)n;
        return 0;
    }
    return -1;
}

int theme_parse_style(const char *text, struct theme_style *out, char *err, size_t errlen)
{
    struct theme_style s = {-1, -1, 0};
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *w = strtok_r(buf, ", \t", &save); w; w = strtok_r(NULL, ", \t", &save)) {
        int rc = 0;
        if (strncmp(w, "fg=", 3) == 0)
            rc = parse_colour(w + 3, &s.fg);
        else if (strncmp(w, "bg=", 3) == 0)
            rc = parse_colour(w + 3, &s.bg);
        else if (strcmp(w, "bold") == 0)
            s.attrs |= THEME_ATTR_BOLD;
        else if (strcmp(w, "dim") == 0)
            s.attrs |= THEME_ATTR_DIM;
        else if (strcmp(w, "reverse") == 0)
            s.attrs |= THEME_ATTR_REVERSE;
        else if (strcmp(w, "underline") == 0)
            s.attrs |= THEME_ATTR_UNDERLINE;
        else if (strcmp(w, "none") != 0)
            rc = -1;
        if (rc < 0) {
            snprintf(err, errlen, "'%s' is not a colour or attribute (fg=COLOUR, bg=COLOUR, bold, dim, "
                                  "reverse, underline)", w);
            return -1;
        }
    }
    *out = s;
    return 0;
}

/* inih calls the handler after reading a line but does not say which one
 * (this build has no INI_HANDLER_LINENO), so the reader counts lines: an
 * error message then names the line it is about, even when an earlier
 * syntax error is what inih reports first. */
struct theme_parse {
    FILE *file;
    int line;
    struct theme *theme;
    bool seen[SLOT_COUNT];
    int error_line;
    char error[256];
};

static char *read_counted_line(char *buf, int size, void *stream)
{
    struct theme_parse *p = stream;
    char *line = fgets(buf, size, p->file);
    if (line)
        p->line++;
    return line;
}

static int parse_error(struct theme_parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int parse_error(struct theme_parse *p, const char *fmt, ...)
{
    if (!p->error_line) {
        p->error_line = p->line;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->error, sizeof p->error, fmt, ap);
        va_end(ap);
    }
    return 0;
}

static int on_theme_entry(void *user, const char *section, const char *key, const char *value)
{
    struct theme_parse *p = user;
    if (section[0])
        return parse_error(p, "themes have no sections ([%s])", section);
    for (int i = 0; i < SLOT_COUNT; i++) {
        if (strcmp(slot_names[i], key) != 0)
            continue;
        char why[200];
        if (!value[0])
            return parse_error(p, "%s: empty style (use 'none' for the terminal's default)", key);
        if (theme_parse_style(value, &p->theme->styles[i], why, sizeof why) < 0)
            return parse_error(p, "%s: %s", key, why);
        p->seen[i] = true;
        return 1;
    }
    return parse_error(p, "unknown slot '%s'", key);
}

int theme_parse_file(const char *path, struct theme *out, char *err, size_t errlen)
{
    struct theme t = {0};
    struct theme_parse p = {.theme = &t};
    p.file = fopen(path, "r");
    if (!p.file) {
        snprintf(err, errlen, "%s: cannot read theme", path);
        return -1;
    }
    int rc = ini_parse_stream(read_counted_line, &p, on_theme_entry, &p);
    fclose(p.file);
    if (rc < 0) {
        snprintf(err, errlen, "%s: out of memory while parsing", path);
        return -1;
    }
    if (rc > 0) {
        if (p.error_line == rc)
            snprintf(err, errlen, "%s:%d: %s", path, rc, p.error);
        else
            snprintf(err, errlen, "%s:%d: not a 'slot = style' line", path, rc);
        return -1;
    }
    if (!p.seen[SLOT_DEFAULT])
        t.styles[SLOT_DEFAULT] = (struct theme_style){-1, -1, 0};
    for (int i = 1; i < SLOT_COUNT; i++)
        if (!p.seen[i])
            t.styles[i] = t.styles[SLOT_DEFAULT];
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(t.name, sizeof t.name, "%.*s", (int)strcspn(base, "."), base);
    *out = t;
    return 0;
}

/* The directories searched, in order, into dirs[THEME_MAX_DIRS] (each
 * PATH_MAX + 32 bytes); returns how many. */
size_t theme_search_dirs(char dirs[][PATH_MAX + 32])
{
    size_t n = 0;
    const char *env = getenv("QDECK_THEME_DIR");
    if (env && *env)
        snprintf(dirs[n++], PATH_MAX + 32, "%s", env);
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = len > 0 ? (exe[len] = '\0', strrchr(exe, '/')) : NULL;
    if (slash) {
        *slash = '\0';
        snprintf(dirs[n++], PATH_MAX + 32, "%s/../themes", exe);
        snprintf(dirs[n++], PATH_MAX + 32, "%s/../share/qdeck/themes", exe);
    }
    snprintf(dirs[n++], PATH_MAX + 32, "themes");
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(dirs[n++], PATH_MAX + 32, "%s/qdeck/themes", xdg);
    else
        snprintf(dirs[n++], PATH_MAX + 32, "%s/.config/qdeck/themes", home ? home : "");
#ifdef QDECK_INSTALL_THEME_DIR
    snprintf(dirs[n++], PATH_MAX + 32, "%s", QDECK_INSTALL_THEME_DIR);
#endif
    return n;
}

const char *theme_install_dir(void)
{
    return INSTALLED_THEMES[0] ? INSTALLED_THEMES : NULL;
}

int theme_find(const char *name, char *path, size_t len)
{
    if (!name || !*name || strchr(name, '/'))
        return -1;
    char dirs[THEME_MAX_DIRS][PATH_MAX + 32];
    size_t n = theme_search_dirs(dirs);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, len, "%s/%s.theme", dirs[i], name);
        if (access(path, R_OK) == 0)
            return 0;
    }
    return -1;
}

void theme_each_name(void (*fn)(const char *name, void *arg), void *arg)
{
    char dirs[THEME_MAX_DIRS][PATH_MAX + 32];
    size_t n = theme_search_dirs(dirs);
    for (size_t i = 0; i < n; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d)
            continue;
        for (struct dirent *e; (e = readdir(d));) {
            size_t len = strlen(e->d_name);
            if (len > 6 && e->d_name[0] != '.' && strcmp(e->d_name + len - 6, ".theme") == 0) {
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)(len - 6), e->d_name);
                fn(name, arg);
            }
        }
        closedir(d);
    }
}

int theme_load(const char *name, struct theme *out, char *err, size_t errlen)
{
    char path[PATH_MAX + 32];
    if (theme_find(name, path, sizeof path) < 0) {
        snprintf(err, errlen, "no theme '%s' (looked for %s.theme in $QDECK_THEME_DIR, themes/, "
                              "$XDG_CONFIG_HOME/qdeck/themes%s%s)", name ? name : "", name ? name : "",
                 INSTALLED_THEMES[0] ? ", " : "", INSTALLED_THEMES);
        return -1;
    }
    return theme_parse_file(path, out, err, errlen);
}

int theme_check(const char *name, char *err, size_t errlen)
{
    struct theme t;
    return theme_load(name, &t, err, errlen);
}
