/* Formatters and small arithmetic shared by the screen, the views and the
 * alerts: counts, rates and ages as the console prints them ("-" for
 * unknown), a source's status chip, a queue's depth, and list scrolling.
 * Nothing here draws or knows the console's state. */
#ifndef QDECK_UI_FORMAT_H
#define QDECK_UI_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/feed.h"
#include "core/snapshot.h"

/* Depth used for sorting, sparklines and totals: total, else ready. */
double queue_depth(const struct queue_stat *q);
/* Small formatters shared by the views ("-" for unknown). */
void fmt_count(char *buf, size_t len, int64_t v);
void fmt_rate(char *buf, size_t len, double v);
void fmt_age(char *buf, size_t len, double seconds, bool at_least);
/* Status chip text for a source: "ok", "disconnected 12s", ... */
void fmt_source_status(const struct feed_view *v, char *buf, size_t len);
/* The first row to draw of a list of n rows in a window of `rows` rows so
 * that `selected` is on screen: top moves as little as possible, and the
 * window's tail is not left empty while rows are hidden above. */
int scroll_top(int top, int selected, int rows, int n);

#endif
