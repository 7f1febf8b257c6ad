/* Themes: semantic colour slots (one X-macro, as ncdu does) mapped to
 * styles written like tmux's: "fg=cyan,bg=default,bold". A theme is a file
 * themes/NAME.theme parsed with inih; switching theme is one struct copy
 * and re-initialising the colour pairs (htop's CRT_colors). */
#ifndef QDECK_THEME_H
#define QDECK_THEME_H

#include <stdbool.h>
#include <limits.h>
#include <stddef.h>

#define THEME_SLOTS(X)                          \
    X(SLOT_DEFAULT, "default")                  \
    X(SLOT_HEADER, "header")                    \
    X(SLOT_TAB, "tab")                          \
    X(SLOT_TAB_ACTIVE, "tab.active")            \
    X(SLOT_STATUS, "status")                    \
    X(SLOT_KEY, "key")                          \
    X(SLOT_TITLE, "title")                      \
    X(SLOT_LABEL, "label")                      \
    X(SLOT_VALUE, "value")                      \
    X(SLOT_DIM, "dim")                          \
    X(SLOT_BORDER, "border")                    \
    X(SLOT_STALE, "stale")                      \
    X(SLOT_OK, "ok")                            \
    X(SLOT_WARN, "warn")                        \
    X(SLOT_CRIT, "crit")                        \
    X(SLOT_SELECTION, "selection")              \
    X(SLOT_COLUMN, "column")                    \
    X(SLOT_SPARK, "spark")                      \
    X(SLOT_BAR, "bar")                          \
    X(SLOT_FILTER, "filter")                    \
    X(SLOT_HELP, "help")                        \
    X(SLOT_BREAKER_OPEN, "breaker.open")        \
    X(SLOT_BREAKER_HALF_OPEN, "breaker.half_open") \
    X(SLOT_BREAKER_CLOSED, "breaker.closed")

enum theme_slot {
#define SLOT_ENUM(id, name) id,
    THEME_SLOTS(SLOT_ENUM)
#undef SLOT_ENUM
    SLOT_COUNT
};

enum { THEME_ATTR_BOLD = 1, THEME_ATTR_DIM = 2, THEME_ATTR_REVERSE = 4, THEME_ATTR_UNDERLINE = 8 };

struct theme_style {
    short fg, bg;          /* -1: terminal default */
    unsigned attrs;        /* THEME_ATTR_* */
};

struct theme {
    char name[64];
    struct theme_style styles[SLOT_COUNT];
};

const char *theme_slot_name(enum theme_slot slot);
/* "fg=cyan,bg=default,bold" -> style; -1 with the offending word in err. */
int theme_parse_style(const char *text, struct theme_style *out, char *err, size_t errlen);
/* Reads one theme file; errors name file:line: slot. */
int theme_parse_file(const char *path, struct theme *out, char *err, size_t errlen);
/* Finds themes/NAME.theme on the search path and loads it. */
int theme_load(const char *name, struct theme *out, char *err, size_t errlen);
/* theme_load without keeping the result: for refusing a bad --theme early. */
int theme_check(const char *name, char *err, size_t errlen);
/* Where themes/NAME.theme was found, written to path. */
int theme_find(const char *name, char *path, size_t len);

/* The search path, in order, into dirs; returns how many (at most
 * THEME_MAX_DIRS). */
#define THEME_MAX_DIRS 8
size_t theme_search_dirs(char dirs[][PATH_MAX + 32]);
/* QDECK_INSTALL_THEME_DIR, or NULL when none was compiled in. */
const char *theme_install_dir(void);
/* Calls fn with the name of every NAME.theme on the search path (a name
 * found in two directories comes twice). */
void theme_each_name(void (*fn)(const char *name, void *arg), void *arg);

#endif
