/* The terminal: ncurses set-up and tear-down, colour pairs from a theme,
 * and text drawing that measures display width (UTF-8 names, wide
 * characters) so nothing is cut in the middle of a character. Main thread
 * only. */
#ifndef QDECK_CRT_H
#define QDECK_CRT_H

#include <curses.h>
#include <stdbool.h>
#include <stddef.h>

#include "ui/theme.h"

/* Takes the terminal; -1 with a reason in err (e.g. unknown $TERM) and the
 * terminal untouched. */
int crt_init(char *err, size_t errlen);
void crt_done(void);          /* idempotent; safe from the OOM hook */
/* crt_done plus freeing the curses screen; at the very end of the UI. */
void crt_release(void);
void crt_apply_theme(const struct theme *t);
bool crt_has_colour(void);
bool crt_utf8(void);
attr_t crt_attr(enum theme_slot slot);

enum crt_align { ALIGN_LEFT, ALIGN_RIGHT };

/* Draws s in exactly `width` columns at (y, x): padded, or truncated with
 * "…" (or "~" without UTF-8). Returns the columns used (== width). */
int crt_put(int y, int x, int width, enum crt_align align, enum theme_slot slot, const char *s);
/* Display width of a UTF-8 string. */
int crt_width(const char *s);
/* Wrapping: the bytes of s that fill one line of `width` columns, broken
 * after the last space that fits (or inside a word longer than the line);
 * *next: where the next line starts (spaces skipped). 0 at the end. */
size_t crt_wrap_line(const char *s, int width, const char **next);
/* Draws s wrapped into lines of `width` columns from (y, x), at most
 * max_lines of them (the last cut with "…" when more would follow);
 * returns the lines used (at least 1). */
int crt_put_wrapped(int y, int x, int width, int max_lines, enum theme_slot slot, const char *s);
/* Fills a line segment with the slot's background. */
void crt_fill(int y, int x, int width, enum theme_slot slot);

#endif
