/* Time-series charts: a series drawn as a filled area over several rows,
 * in braille (2x4 dots a cell: twice the columns and four levels a row)
 * or, when the terminal is not UTF-8, in ASCII ('#' a full cell, '.' a
 * half). The x axis is a fixed window of `slots` samples (the ring's
 * capacity, e.g. 10 minutes), the newest on the right, so a young series
 * fills the right part only; the y axis runs from 0 to the window's
 * largest sample (a point that averages several stays below it). Pure functions: the caller draws the rows and the labels
 * (chart-draw.h does it with crt). */
#ifndef QDECK_CHART_H
#define QDECK_CHART_H

#include <stdbool.h>
#include <stddef.h>

/* How the samples that share one point are combined: throughput is
 * averaged; a tail latency keeps its worst, so a spike never vanishes. */
enum chart_merge { CHART_MEAN, CHART_MAX };

/* The longest row chart_render writes for `width` cells (with the NUL). */
#define CHART_ROW_BYTES(width) ((size_t)(width) * 3 + 1)

/* Renders the newest n of values (oldest first, NAN unknown: no dots) in
 * a window of `slots` samples into `height` rows of `width` cells; row 0 is
 * the top. rows[i] must hold CHART_ROW_BYTES(width) bytes. Returns the top
 * of the y axis: the largest sample (0 when nothing is known). */
double chart_render(const double *values, size_t n, size_t slots, int width, int height, bool utf8,
                    enum chart_merge merge, char **rows);

/* The y axis label: 0, 0.25, 3.5, 12, 1.2k, 3.4M. */
void chart_format_number(double v, char *buf, size_t len);
/* The x axis label for a span in seconds: 45s, 10m, 1h30m. */
void chart_format_span(double seconds, char *buf, size_t len);

#endif
