/* Sparklines: a series drawn as block characters scaled to its own range
 * (▁▂▃▄▅▆▇█), or ASCII (_.-=#) when the terminal is not UTF-8. Unknown
 * samples (NAN) are blanks. */
#ifndef QDECK_SPARKLINE_H
#define QDECK_SPARKLINE_H

#include <stdbool.h>
#include <stddef.h>

/* Renders the last `width` values into out (NUL-terminated UTF-8), right-
 * aligned: a short series leaves blanks on the left. */
void sparkline_render(const double *values, size_t n, int width, bool utf8, char *out, size_t outlen);
/* The same for a window longer than the width: all n values, each cell
 * the largest of the values it covers (NAN if none is known), so a
 * 10-minute window fits any width and a spike stays visible. */
void sparkline_render_fit(const double *values, size_t n, int width, bool utf8, char *out, size_t outlen);

#endif
