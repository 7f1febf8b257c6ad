/* Allocation that cannot fail: out of memory restores the terminal (through
 * the hook the UI installs) and aborts with a message, as htop's fail() does.
 * Every other module allocates through these. */
#ifndef QDECK_XALLOC_H
#define QDECK_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Called before abort() on out-of-memory; the UI sets it to endwin(). */
void xalloc_set_fatal_hook(void (*hook)(void));

#endif
